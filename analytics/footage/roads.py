"""A second opinion on the road: a small road model beside the segmenter, and the fusion rule.

The road model (``road-segmentation-adas-0001``, Intel Open Model Zoo, Apache-2.0) reads each frame
as 4 classes — background, road, curb, lane mark — and reads the road far better than the street
segmenter (CamVid val road IoU 97.4 against 84.5): the segmenter takes much of the pavement for road.

Input: the whole frame stretched to the card's ``W x H`` (896x512, no letterbox), BGR float 0-255,
NHWC ``(1, H, W, 3)``; output: per-pixel probabilities ``(1, H, W, 4)``. :class:`RoadModel` runs it
on the part of the frame the segmenter sees and resizes the probabilities onto that grid.

The fusion (:func:`fuse_road`) on the segmenter's labels ``L`` with the road model's probabilities
``p`` (thresholds chosen on CamVid train, :data:`SIDEWALK_THRESHOLD` and :data:`ROAD_THRESHOLD`):

1. where ``L`` is road and ``p_background + p_curb > t_sidewalk``: sidewalk;
2. then where ``p_road + p_lane_mark > t_road``: road.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analytics.cards import ModelCard
from analytics.errors import InputError, ModelError
from analytics.footage.measure import curb_length_px, lane_mark_share
from analytics.models.roadcard import DEFAULT_ROAD_MODEL, NO_ROAD_MODEL, ROAD_CLASSES, RoadCard, check_road_onnx
from analytics.models.zoo import ResolvedModel

__all__ = [
    "BACKGROUND", "CURB", "DEFAULT_ROAD_MODEL", "LANE_MARK", "NO_ROAD_MODEL", "ROAD", "ROAD_CLASSES", "ROAD_THRESHOLD",
    "SIDEWALK_THRESHOLD", "RoadMarksStage", "RoadModel", "RoadView", "fuse_road", "road_class_ids", "road_disagreement", "road_params",
    "road_view",
]

BACKGROUND, ROAD, CURB, LANE_MARK = 0, 1, 2, 3
SIDEWALK_THRESHOLD = 0.7
"""``t_sidewalk``: segmenter road becomes sidewalk where ``p_background + p_curb`` exceeds it (chosen on CamVid train)."""
ROAD_THRESHOLD = 0.5
"""``t_road``: any pixel becomes road where ``p_road + p_lane_mark`` exceeds it (chosen on CamVid train)."""


def road_class_ids(card: ModelCard) -> tuple[int, int] | None:
    """(road id, sidewalk id) of the segmenter's classes: the first class of indicator group
    ``road`` and of ``sidewalk``; None when the model has no such classes (the road model is then unused).

    >>> from analytics.taxonomy import CITYSCAPES
    >>> road_class_ids(ModelCard("m", CITYSCAPES, 32, 32))
    (0, 1)
    """
    road, sidewalk = card.class_set.class_ids("road"), card.class_set.class_ids("sidewalk")
    if not road or not sidewalk:
        return None
    return road[0], sidewalk[0]


def road_params(model: ResolvedModel) -> dict[str, str]:
    """Provenance of the road model run beside ``model``'s segmenter: its name, the first 12 hex
    digits of its SHA-256 and the fusion's thresholds; empty when none runs, so runs of the
    segmenter alone keep the settings key they always had.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> road_params(ResolvedModel(ModelCard("m", CITYSCAPES, 32, 32), Path("m.onnx"), "0" * 64, 1))
    {}
    """
    if model.road is None:
        return {}
    return {"road_model": model.road.name, "road_sha256": model.road.sha256[:12],
            "road_fusion": f"sidewalk>{SIDEWALK_THRESHOLD},road>{ROAD_THRESHOLD}"}


def fuse_road(
    labels: np.ndarray, off_road: np.ndarray, on_road: np.ndarray, ids: tuple[int, int],
    t_sidewalk: float = SIDEWALK_THRESHOLD, t_road: float = ROAD_THRESHOLD,
) -> np.ndarray:
    """The segmenter's ``labels`` corrected by the road model (a new array).

    ``off_road = p_background + p_curb`` and ``on_road = p_road + p_lane_mark`` are the road model's
    probabilities on the labels' grid, ``ids`` = (road id, sidewalk id) of the segmenter:

    ``L' = sidewalk where L = road and off_road > t_sidewalk``, then ``L' = road where on_road > t_road``.

    >>> labels = np.array([[0, 0, 5, 5]], np.uint8)              # road, road, pole, pole
    >>> off = np.array([[0.9, 0.2, 0.9, 0.1]], np.float32)
    >>> fuse_road(labels, off, 1 - off, (0, 1)).tolist()
    [[1, 0, 5, 0]]
    """
    if labels.shape != off_road.shape or labels.shape != on_road.shape:
        raise InputError(f"labels {labels.shape} and road probabilities {off_road.shape}, {on_road.shape} differ in shape")
    road, sidewalk = ids
    out = labels.copy()
    out[(labels == road) & (off_road > t_sidewalk)] = sidewalk
    out[on_road > t_road] = road
    return out


def road_disagreement(own: np.ndarray, fused: np.ndarray, road_ids: Sequence[int]) -> float:
    """Share of the picture the road model made road where the segmenter read something else:
    ``|{x : fused(x) in R, own(x) not in R}| / |x|`` with ``R`` the segmenter's road classes ``road_ids``
    (``own`` its labels before :func:`fuse_road`, ``fused`` after). On street views the two models agree on
    where the road is and this stays small (the road model moves the road's edges); where the segmenter reads
    the ground as buildings or vehicles, as on a car park seen from above, it is large (docs/trust.md).

    >>> own = np.array([[2, 2, 0, 13]], np.uint8)                # building, building, road, car
    >>> road_disagreement(own, np.array([[0, 2, 0, 0]], np.uint8), [0])
    0.5
    """
    if own.shape != fused.shape:
        raise InputError(f"labels before {own.shape} and after {fused.shape} the fusion differ in shape")
    if own.size == 0:
        return float("nan")
    road = np.zeros(256, bool)
    road[list(road_ids)] = True
    return float((road[fused] & ~road[own]).mean())


class RoadView:
    """The road model's reading of one frame on a grid of ``(h, w)``: ``off_road`` (p_background +
    p_curb), ``on_road`` (p_road + p_lane_mark), float32, and ``classes`` (uint8 arg-max of the 4 classes)."""

    __slots__ = ("classes", "off_road", "on_road")

    def __init__(self, off_road: np.ndarray, on_road: np.ndarray, classes: np.ndarray) -> None:
        self.off_road, self.on_road, self.classes = off_road, on_road, classes


def road_view(probabilities: np.ndarray, height: int, width: int) -> RoadView:
    """:class:`RoadView` of the road model's probabilities ``(H, W, 4)`` resized (bilinear) to ``height x width``.

    >>> p = np.zeros((2, 2, 4), np.float32); p[..., ROAD] = 0.6; p[..., CURB] = 0.4
    >>> v = road_view(p, 4, 4)
    >>> round(float(v.on_road[0, 0]), 3), round(float(v.off_road[0, 0]), 3), int(v.classes[3, 3])
    (0.6, 0.4, 1)
    """
    if probabilities.ndim != 3 or probabilities.shape[2] != len(ROAD_CLASSES):
        raise InputError(f"road probabilities must be (H, W, {len(ROAD_CLASSES)}), got {probabilities.shape}")
    p = probabilities
    if p.shape[:2] != (height, width):
        interp = cv2.INTER_AREA if (height < p.shape[0] and width < p.shape[1]) else cv2.INTER_LINEAR
        p = cv2.resize(p, (width, height), interpolation=interp)
    on = p[..., ROAD] + p[..., LANE_MARK]
    off = p[..., BACKGROUND] + p[..., CURB]
    return RoadView(off, on, np.argmax(p, axis=2).astype(np.uint8))


class RoadModel:
    """An ONNX Runtime session of the road model ``onnx_path`` with its ``card``; ``sess_options`` the
    segmenter's (:func:`analytics.footage.segment.session_options`, same threads)."""

    def __init__(self, onnx_path: str | Path, card: RoadCard, sess_options: Any = None) -> None:
        import onnxruntime as ort  # deferred: ONNX Runtime is heavy and only the analysis needs it

        path = Path(onnx_path)
        if not path.is_file():
            raise ModelError(f"road model {str(path)!r} does not exist; install it with `urbanlens models install {DEFAULT_ROAD_MODEL}`")
        self.onnx_path, self.card = path, card
        self.height, self.width = height, width = card.input_size
        self.input_name = check_road_onnx(path, card)
        try:
            self._session = ort.InferenceSession(str(path), sess_options=sess_options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"{path.name} cannot be loaded by ONNX Runtime: {str(exc).splitlines()[0]}") from None
        self._input = np.empty((1, height, width, 3), np.float32)

    def probabilities(self, image_bgr: np.ndarray) -> np.ndarray:
        """The 4 class probabilities ``(H, W, 4)`` of a BGR ``uint8`` image, stretched to the model's input."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise InputError(f"image must be uint8 (height, width, 3) BGR, got {image_bgr.dtype} {image_bgr.shape}")
        h, w = image_bgr.shape[:2]
        resized = image_bgr if (h, w) == (self.height, self.width) else cv2.resize(
            image_bgr, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        x = self._input
        x[0] = resized
        (p,) = self._session.run(None, {self.input_name: x})
        return np.asarray(p[0], dtype=np.float32)

    def view(self, image_bgr: np.ndarray) -> RoadView:
        """:class:`RoadView` of a BGR image on the image's own grid."""
        return road_view(self.probabilities(image_bgr), image_bgr.shape[0], image_bgr.shape[1])


class RoadMarksStage:
    """The per-frame stage (:class:`analytics.footage.stages.FrameStage`) of the road model's own
    measurements: lane-mark share and curb length of each frame
    (:func:`~analytics.footage.measure.lane_mark_share`, :func:`~analytics.footage.measure.curb_length_px`,
    columns ``lane_mark_share`` and ``curb_length_px``); nothing where no road model ran."""

    def start(self, context: Any) -> None:
        self.lane: list[float] = []
        self.curb: list[float] = []

    def frame(self, item: Any, segmentation: Any) -> None:
        """``item`` a :class:`~analytics.footage.stages.FrameItem`, ``segmentation`` its :class:`~analytics.footage.segment.Segmentation`."""
        if segmentation.road is None:
            return
        g = item.geometry
        y0, y1, x0, x1 = g.content
        road = segmentation.road[y0:y1, x0:x1]
        self.lane.append(lane_mark_share(road, LANE_MARK))
        self.curb.append(curb_length_px(road, g.scale_x, g.scale_y, CURB))

    def finish(self) -> dict[str, Any]:
        return {"lane_mark_share": np.array(self.lane), "curb_length_px": np.array(self.curb)} if self.lane else {}
