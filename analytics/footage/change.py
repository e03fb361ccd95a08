"""The per-frame stage that measures label change along motion (the trust verdict's stability check).

:class:`ChangeStage` keeps the previous sampled frame (grey, at the model's view) and its labels,
and for each frame computes :func:`~analytics.footage.temporal.motion_change` against it: the share
of followed pixels whose class changed once the motion between the two frames is taken out. Its
column ``label_change`` of :class:`~analytics.records.ClipMeasurements` (NaN for the first frame
and where too little of the picture could be followed) is what :func:`analytics.trust.assess_measurements`
judges; the raw ``flicker`` column of the measuring stage is kept as it was.

Cost: two DIS flows at half the view's size per sampled frame, in the measuring thread
(``bench/trust_bench.py`` prints the verdicts, ``bench/pipeline_bench.py`` the pipeline's speed).
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np

from analytics.footage.segment import Segmentation
from analytics.footage.temporal import motion_change

__all__ = ["ChangeStage"]


class _Sampled(Protocol):
    view: np.ndarray


class ChangeStage:
    """Label change along motion between consecutive sampled frames (module docstring)."""

    def start(self, context: Any) -> None:
        self.values: list[float] = []
        self.prev: tuple[np.ndarray, np.ndarray] | None = None

    def frame(self, item: _Sampled, segmentation: Segmentation) -> None:
        labels, _ = segmentation.content()
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
        return {"label_change": np.array(self.values, dtype=np.float64)}
