"""The per-frame stage of the trust verdict's inputs: label change along motion, and the segmenter's
own reading where a road model corrects it.

:class:`ChangeStage` keeps the previous sampled frame (grey, at the model's view) and its labels,
and for each frame computes :func:`~analytics.footage.temporal.motion_change` against it: the share
of followed pixels whose class changed once the motion between the two frames is taken out (on the
segmenter's own labels, before a road model's fusion, so the measure is the segmenter's). Its
column ``label_change`` of :class:`~analytics.records.ClipMeasurements` (NaN for the first frame
and where too little of the picture could be followed) is what :func:`analytics.trust.assess_measurements`
judges; the raw ``flicker`` column of the measuring stage is kept as it was.

Where a road model runs beside the segmenter (:mod:`analytics.footage.roads`), the stage also keeps,
per frame, the pixels of each class in the segmenter's own labels before the fusion
(``segmenter_class_pixels``: the verdict's class-mix checks judge the segmenter's reading, whatever
the road model then corrects) and the share of the picture the road model made road where the
segmenter read something else (``road_disagreement``, :func:`~analytics.footage.roads.road_disagreement`).

Cost: two DIS flows at half the view's size per sampled frame, in the measuring thread, and two
pixel counts where the road model runs (``bench/trust_bench.py`` prints the verdicts,
``bench/pipeline_bench.py`` the pipeline's speed).
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np

from analytics.footage.measure import class_pixels
from analytics.footage.roads import road_disagreement
from analytics.footage.segment import Segmentation
from analytics.footage.temporal import motion_change

__all__ = ["ChangeStage"]


class _Sampled(Protocol):
    view: np.ndarray


class ChangeStage:
    """Label change along motion between consecutive sampled frames, and the segmenter's own reading
    beside a road model (module docstring)."""

    def start(self, context: Any) -> None:
        self.values: list[float] = []
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.num_classes: int = context.class_set.num_classes
        self.road_ids: tuple[int, ...] = context.class_set.class_ids("road")
        self.own: list[np.ndarray] = []
        self.disagreement: list[float] = []

    def frame(self, item: _Sampled, segmentation: Segmentation) -> None:
        fused, _ = segmentation.content()
        labels = fused
        if segmentation.own_labels is not None:
            y0, y1, x0, x1 = segmentation.geometry.content
            labels = segmentation.own_labels[y0:y1, x0:x1]
            self.own.append(class_pixels(labels, self.num_classes))
            self.disagreement.append(road_disagreement(labels, fused, self.road_ids))
        view = item.view
        gray = cv2.cvtColor(view, cv2.COLOR_BGR2GRAY) if view.ndim == 3 else view
        if gray.shape != labels.shape:
            gray = cv2.resize(gray, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_AREA)
        value = float("nan")
        if self.prev is not None and self.prev[1].shape == labels.shape and min(labels.shape) >= 12:
            value = motion_change(self.prev[0], gray, self.prev[1], labels)[0]
        self.values.append(value)
        self.prev = (gray, labels.copy())

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label_change": np.array(self.values, dtype=np.float64)}
        if self.own and len(self.own) == len(self.values):
            out["segmenter_class_pixels"] = np.stack(self.own)
            out["road_disagreement"] = np.array(self.disagreement, dtype=np.float64)
        return out
