"""Object detectors: an ONNX detector with its card, run on one BGR frame at a time.

Two output formats (the card's ``output_format``):

- ``deimv2`` (DEIMv2 exports): inputs ``images`` ``[N, 3, H, W]`` float and ``orig_target_sizes``
  ``[N, 2]`` int64 (``[[width, height]]`` of the frame); outputs ``labels`` (COCO ids), ``boxes``
  (x1, y1, x2, y2 already in frame pixels) and ``scores`` for a fixed number of queries. Kept:
  ``score >= score_threshold``; no NMS (the decoder's queries do not duplicate).
- ``yolox`` (YOLOX exports): input ``images`` ``[1, 3, H, W]``; output ``[1, A, 85]`` with
  ``A = sum((H / s) * (W / s) for s in (8, 16, 32))`` rows of grid-relative ``(dx, dy, log w,
  log h, objectness, 80 class probabilities)``. Decoded as ``cx = (dx + gx) * s``,
  ``cy = (dy + gy) * s``, ``w = exp(log w) * s``, ``h = exp(log h) * s``; score =
  objectness x best class probability; kept ``score >= score_threshold``; then class-wise NMS
  (:func:`nms`, IoU ``nms_iou``).

The frame is fed by the card: ``stretch`` resizes it to the input size, ``letterbox`` scales it
to fit (aspect kept) at the top left and pads the rest with ``pad_value``; channels in
``channel_order``, values ``pixel * scale``. Boxes are mapped back to frame pixels and clipped to
the frame; only COCO classes of the card's ``groups`` are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analytics.detection import Detections, DetectorCard
from analytics.errors import InputError, ModelError

__all__ = ["YOLOX_STRIDES", "Detections", "Detector", "box_iou", "expected_io", "nms"]

YOLOX_STRIDES = (8, 16, 32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``[len(a), len(b)]`` of two sets of ``x1, y1, x2, y2`` boxes: intersection area / union area.

    >>> box_iou(np.array([[0, 0, 2, 2]], float), np.array([[1, 0, 3, 2], [5, 5, 6, 6]], float)).round(3)
    array([[0.333, 0.   ]])
    """
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, classes: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first.

    A box is dropped when its IoU with a kept, higher-scoring box of the same class (all one class
    when ``classes`` is None) exceeds ``iou``.

    >>> b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], float)
    >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.45).tolist()
    [0, 2]
    >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.45, classes=np.array([0, 1, 0])).tolist()
    [0, 1, 2]
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if classes is not None:  # boxes of different classes never overlap once shifted apart
        span = float(np.abs(boxes).max()) + 1.0
        boxes = boxes + (classes.astype(np.float64) * 2 * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i:i + 1], boxes[rest])[0] <= iou]
    return np.array(keep, np.int64)


def expected_io(card: DetectorCard) -> tuple[dict[str, list[int | str]], list[str]]:
    """The inputs (name -> shape) and outputs (names, or the one shape) a model of ``card``'s format has."""
    h, w = card.input_size
    if card.output_format == "deimv2":
        return {"images": ["N", 3, h, w], "orig_target_sizes": ["N", 2]}, ["labels", "boxes", "scores"]
    anchors = sum((h // s) * (w // s) for s in YOLOX_STRIDES)
    return {"images": [1, 3, h, w]}, [f"[1, {anchors}, {5 + len(card.class_names)}]"]


def _shape_text(shape: list[Any]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "N" for d in shape) + "]"


def _io_mismatch(session: Any, card: DetectorCard) -> str | None:
    """What is wrong with the session's inputs/outputs for ``card`` (None when they fit)."""
    want_in, want_out = expected_io(card)
    got_in = {i.name: list(i.shape) for i in session.get_inputs()}
    outs = session.get_outputs()
    if set(got_in) != set(want_in):
        return "inputs"
    for name, want in want_in.items():
        got = got_in[name]
        if len(got) != len(want) or any(isinstance(g, int) and isinstance(e, int) and g != e for g, e in zip(got, want)):
            return "input shapes"
    if card.output_format == "deimv2":
        return None if [o.name for o in outs] == want_out or len(outs) == 3 else "outputs"
    shape = list(outs[0].shape) if len(outs) == 1 else []
    if len(outs) != 1 or _shape_text(shape) != want_out[0]:
        return "outputs"
    return None


def _describe_io(session: Any) -> str:
    ins = ", ".join(f"{i.name} {_shape_text(list(i.shape))}" for i in session.get_inputs())
    outs = ", ".join(f"{o.name} {_shape_text(list(o.shape))}" for o in session.get_outputs())
    return f"inputs {ins}; outputs {outs}"


def _expected_text(card: DetectorCard) -> str:
    want_in, want_out = expected_io(card)
    ins = ", ".join(f"{k} {_shape_text(v)}" for k, v in want_in.items())
    return f"inputs {ins}; outputs {', '.join(want_out)}"


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort  # deferred: importing analytics.models.detect stays cheap

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads={threads!r}; expected a whole number of at least 1")
    if not path.is_file():
        raise ModelError(f"detector model {str(path)!r} does not exist")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a file that is not a model
        raise ModelError(f"{path.name} is not an ONNX model ONNX Runtime can load ({type(exc).__name__})") from None


class Detector:
    """An ONNX object detector and its card; :meth:`detect` finds the card's groups in one frame.

    The model's inputs and outputs are checked against the card when it is loaded: a file of
    another kind is refused with one :class:`~analytics.errors.ModelError` line naming what was
    expected and what was found.
    """

    def __init__(self, onnx_path: str | Path, card: DetectorCard, threads: int = 1) -> None:
        if not isinstance(card, DetectorCard):
            raise InputError(f"card must be a DetectorCard, got {type(card).__name__}")
        self.card = card
        self.onnx_path = Path(onnx_path)
        self._session = _session(self.onnx_path, threads)
        problem = _io_mismatch(self._session, card)
        if problem is not None:
            raise ModelError(f"{self.onnx_path.name} is not a {card.output_format} detector for card {card.name!r} "
                             f"(its {problem} differ): expected {_expected_text(card)}; found {_describe_io(self._session)}")
        self._groups = card.group_of_class

    def preprocess(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
        """(the input tensor ``[1, 3, H, W]`` float32, x scale, y scale): model pixel = frame pixel x scale."""
        h, w = self.card.input_size
        fh, fw = frame_bgr.shape[:2]
        if self.card.resize == "stretch":
            sx, sy = w / fw, h / fh
            image = cv2.resize(frame_bgr, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            sx = sy = min(w / fw, h / fh)
            nw, nh = max(1, min(w, round(fw * sx))), max(1, min(h, round(fh * sy)))
            image = np.full((h, w, 3), self.card.pad_value, np.uint8)
            image[:nh, :nw] = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if self.card.channel_order == "RGB":
            image = image[:, :, ::-1]
        tensor = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
        if self.card.scale != 1.0:
            tensor *= np.float32(self.card.scale)
        return tensor, sx, sy

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """The detections of the card's groups in a BGR ``uint8 [H, W, 3]`` frame, boxes in its pixels."""
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.dtype != np.uint8 or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 \
                or min(frame_bgr.shape[:2]) < 1:
            got = f"{frame_bgr.dtype} {list(frame_bgr.shape)}" if isinstance(frame_bgr, np.ndarray) else type(frame_bgr).__name__
            raise InputError(f"a frame to detect in must be a BGR uint8 [H, W, 3] image, got {got}")
        tensor, sx, sy = self.preprocess(frame_bgr)
        fh, fw = frame_bgr.shape[:2]
        if self.card.output_format == "deimv2":
            boxes, scores, classes = self._run_deimv2(tensor, fw, fh)
        else:
            boxes, scores, classes = self._run_yolox(tensor, sx, sy)
        boxes = np.clip(boxes, 0, [fw, fh, fw, fh]).astype(np.float32)
        return Detections(boxes, scores.astype(np.float32), classes.astype(np.int16), self._groups[classes])

    def _keep(self, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Rows scoring at least the threshold, of a known COCO class that belongs to a group."""
        known = (classes >= 0) & (classes < len(self._groups))
        ok = np.zeros(len(classes), bool)
        ok[known] = self._groups[classes[known]] >= 0
        return ok & (scores >= self.card.score_threshold) & np.isfinite(scores)

    def _run_deimv2(self, tensor: np.ndarray, fw: int, fh: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = np.array([[fw, fh]], np.int64)
        labels, boxes, scores = self._session.run(None, {"images": tensor, "orig_target_sizes": sizes})[:3]
        labels, boxes, scores = np.asarray(labels)[0].astype(np.int64), np.asarray(boxes)[0], np.asarray(scores)[0]
        keep = self._keep(scores, labels) & np.isfinite(boxes).all(axis=1)
        boxes = boxes[keep]
        boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
        return boxes, scores[keep], labels[keep]

    def _run_yolox(self, tensor: np.ndarray, sx: float, sy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = np.asarray(self._session.run(None, {"images": tensor})[0])[0]
        h, w = self.card.input_size
        grids, strides = [], []
        for s in YOLOX_STRIDES:
            gy, gx = np.mgrid[0:h // s, 0:w // s]
            grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
            strides.append(np.full(gx.size, s))
        grid, stride = np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)[:, None]
        classes = out[:, 5:].argmax(axis=1)
        scores = out[:, 4] * out[np.arange(len(out)), 5 + classes]
        keep = self._keep(scores, classes)
        centre = (out[keep, :2] + grid[keep]) * stride[keep]
        size = np.exp(np.minimum(out[keep, 2:4], 20.0)) * stride[keep]
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / np.array([sx, sy, sx, sy], np.float32)
        scores, classes = scores[keep], classes[keep]
        kept = nms(boxes.astype(np.float64), scores, self.card.nms_iou, classes)
        return boxes[kept], scores[kept], classes[kept]
