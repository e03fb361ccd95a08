"""Per-frame stages: the work done on each segmented frame, registered with the frame loop.

The loop (:mod:`analytics.footage.runner`) hands every sampled frame, in order, with its
segmentation to each stage of :data:`STAGES` in the measuring thread, then asks each for its part
of the clip's measurements. A stage answers three calls (:class:`FrameStage`):

- ``start(context)`` once before the first frame (:class:`StageContext`: model card, zones,
  thresholds, which frames get previews);
- ``frame(item, segmentation)`` for each frame (:class:`FrameItem`: position, frame index, time,
  the frame as the model saw it);
- ``finish()`` after the last, returning its columns of :class:`~analytics.records.ClipMeasurements`
  by field name (a later stage's column replaces an earlier one's), plus ``review_previews``.

The stages, in order: :class:`MeasureStage` (class pixels, confidence, flicker, stationarity,
object boxes, zone pixels: :func:`~analytics.footage.measure.measure_frame`), :class:`DistressStage`
(the road-distress heuristic where the model has no damage classes) and :class:`PreviewStage`
(anonymised previews and overlays). A new per-frame step (an object detector and tracker, say) is
one class with these three methods and one :func:`register_stage` call; the loop does not change::

    class CountStage:
        def start(self, context): self.n = []
        def frame(self, item, segmentation): self.n.append(int((segmentation.labels == 11).sum()))
        def finish(self): return {}          # or columns for the store

    register_stage(CountStage)

Stages run one frame at a time in one thread, so a stage may keep state from frame to frame
(the previous labels, a tracker's tracks). Where a clip is counted, the loop also decodes the
frames of the tracking cadence (:attr:`FrameItem.tracked`); they reach only the stages that set
``every_frame = True`` (:class:`analytics.footage.counting.CountStage`), with no segmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from analytics.cards import ModelCard
from analytics.footage.change import ChangeStage
from analytics.footage.distress import distress_heuristic
from analytics.footage.geometry import Geometry
from analytics.footage.measure import FrameMeasures, ZoneMask, group_mask, measure_frame, zone_masks
from analytics.footage.overlay import overlay
from analytics.footage.privacy import PREVIEW_WIDTH, anonymise, preview_jpeg
from analytics.footage.roads import LANE_MARK, RoadMarksStage
from analytics.footage.segment import Segmentation
from analytics.records import OBJECT_GROUPS, Preview
from analytics.taxonomy import ClassSet

__all__ = [
    "CONFIDENCE_STRIDE", "STAGES", "DistressStage", "FrameItem", "FrameStage", "MeasureStage", "PreviewStage", "StageContext",
    "StageFactory", "preview_positions", "previews", "register_stage",
]

CONFIDENCE_STRIDE = 4
"""Confidence statistics are computed on every 4th row and column (see :mod:`analytics.footage.segment`):
18,000 samples of a 768x384 input, for a mean and a share; a quarter of the cost of stride 2."""

Partial = dict[str, Any]
"""A stage's columns of the clip's measurements, by :class:`~analytics.records.ClipMeasurements` field name."""


@dataclass
class FrameItem:
    """One decoded, sampled frame: its position among the sampled frames, its frame index and time in
    the clip, the frame as the model sees it (``view``, BGR), the model input ``x`` and its geometry."""

    pos: int
    index: int
    t_s: float
    view: np.ndarray
    x: np.ndarray
    geometry: Geometry
    segmented: bool = True
    """Whether the frame is one of the segmentation sampling (only those reach the stages without ``every_frame``)."""
    tracked: bool = False
    """Whether the frame is one of the tracking cadence (counting)."""
    frame: np.ndarray | None = None
    """The decoded frame (BGR, clip size) where stages need it (counting); None otherwise."""
    detections: Any = None
    """The detector's answer for a tracked frame, found by the frame loop on an inference slot (beside the
    segmenter, at its priority and on its threads); None where the loop has no detector."""


@dataclass(frozen=True)
class StageContext:
    """What stages know of the clip before its first frame."""

    card: ModelCard
    zones: pd.DataFrame | None = None
    """Zones to measure (columns zone, role, polygon_json), or None."""
    low_confidence: float = 0.5
    preview_positions: frozenset[int] = frozenset()
    """Positions of the sampled frames that get previews (:func:`preview_positions`)."""
    raw_previews: bool = False
    review_width: int = 0
    counting: Any = None
    """How the clip is counted (an :class:`analytics.footage.counting.CountPlan`), None: not counted."""

    @property
    def class_set(self) -> ClassSet:
        return self.card.class_set


@runtime_checkable
class FrameStage(Protocol):
    """Per-frame work on segmented frames (see the module docstring)."""

    def start(self, context: StageContext) -> None:
        """Called once before the first frame."""

    def frame(self, item: FrameItem, segmentation: Segmentation) -> None:
        """Called for each sampled frame, in order, in the measuring thread. A stage whose class has
        ``every_frame = True`` is also called for the frames decoded only for tracking
        (``item.segmented`` False), with ``segmentation`` None."""

    def finish(self) -> Partial:
        """Called after the last frame: this stage's columns of the clip's measurements."""


StageFactory = Callable[[], FrameStage]
"""A stage class (or any callable making a fresh stage for one clip)."""


class MeasureStage:
    """Class pixels, confidence, flicker, stationarity, object boxes and zone pixels of each frame
    (:func:`~analytics.footage.measure.measure_frame`)."""

    def start(self, context: StageContext) -> None:
        self.context = context
        self.rows: list[FrameMeasures] = []
        self.objects: list[dict[str, Any]] = []
        self.zone_rows: list[tuple[int, str, str, int, int]] = []
        self.prev_labels: np.ndarray | None = None
        self.zone_masks: list[ZoneMask] | None = None
        self.zone_geometry: Geometry | None = None

    def frame(self, item: FrameItem, segmentation: Segmentation) -> None:
        labels, conf = segmentation.content()
        ctx = self.context
        if ctx.zones is not None and (self.zone_masks is None or self.zone_geometry != item.geometry):
            self.zone_masks = zone_masks(ctx.zones, item.geometry)
            self.zone_geometry = item.geometry
        prev = self.prev_labels if self.prev_labels is not None and self.prev_labels.shape == labels.shape else None
        fm = measure_frame(
            labels, conf[::CONFIDENCE_STRIDE, ::CONFIDENCE_STRIDE], item.geometry, ctx.class_set, prev_labels=prev,
            zones=self.zone_masks, low_confidence=ctx.low_confidence,
        )
        self.prev_labels = labels.copy()
        pos = len(self.rows)
        self.rows.append(fm)
        self.objects.extend(
            {"frame_pos": pos, "group": b.group, "x0": b.x0, "y0": b.y0, "x1": b.x1, "y1": b.y1, "area_px": b.area_px}
            for b in fm.objects
        )
        self.zone_rows.extend((pos, z, r, c, n) for z, r, c, n in fm.zone_pixels)

    def finish(self) -> Partial:
        fms, n = self.rows, len(self.rows)
        return {
            "class_pixels": np.stack([f.class_pixels for f in fms]) if n else np.zeros((0, self.context.class_set.num_classes)),
            "mean_confidence": np.array([f.mean_confidence for f in fms]),
            "low_conf_share": np.array([f.low_conf_share for f in fms]),
            "flicker": np.array([f.flicker for f in fms]),
            "vehicle_stationarity": np.array([f.vehicle_stationarity for f in fms]),
            "object_counts": np.array([f.object_counts for f in fms], np.int64).reshape(n, len(OBJECT_GROUPS)),
            "distress_crack_px": np.array([f.distress_crack_px for f in fms]),
            "distress_pothole_px": np.array([f.distress_pothole_px for f in fms]),
            "objects": pd.DataFrame(self.objects, columns=["frame_pos", "group", "x0", "y0", "x1", "y1", "area_px"]),
            "zone_pixels": (
                pd.DataFrame(self.zone_rows, columns=["frame_pos", "zone", "role", "class_id", "pixels"]) if self.zone_rows else None
            ),
        }


class DistressStage:
    """Crack and pothole pixels of the road (:func:`~analytics.footage.distress.distress_heuristic`)
    where the model has road classes but no damage classes; otherwise it adds nothing."""

    def start(self, context: StageContext) -> None:
        cs = context.class_set
        self.road_ids: tuple[int, ...] = cs.class_ids("road") if not cs.has_damage_classes else ()
        self.crack: list[float] = []
        self.pothole: list[float] = []

    def frame(self, item: FrameItem, segmentation: Segmentation) -> None:
        if not self.road_ids:
            return
        labels, _ = segmentation.content()
        y0, y1, x0, x1 = item.geometry.content
        paint = segmentation.road[y0:y1, x0:x1] == LANE_MARK if segmentation.road is not None else None
        d = distress_heuristic(item.view, group_mask(labels, self.road_ids), paint)
        self.crack.append(float(d.crack_px))
        self.pothole.append(float(d.pothole_px))

    def finish(self) -> Partial:
        if not self.road_ids:
            return {}
        return {"distress_crack_px": np.array(self.crack), "distress_pothole_px": np.array(self.pothole)}


class PreviewStage:
    """Anonymised previews and coloured overlays of the frames at ``context.preview_positions``
    (:func:`previews`); with ``review_width``, larger ones for the review (``review_previews``)."""

    def start(self, context: StageContext) -> None:
        self.context = context
        self.n = 0
        self.kept: list[Preview] = []
        self.review: list[Preview] = []

    def frame(self, item: FrameItem, segmentation: Segmentation) -> None:
        pos, self.n = self.n, self.n + 1
        ctx = self.context
        if item.pos in ctx.preview_positions:
            labels, _ = segmentation.content()
            kept = previews(pos, item.view, labels, ctx.class_set, ctx.raw_previews, ctx.review_width)
            self.kept.extend(kept[:2])
            self.review.extend(kept[2:])

    def finish(self) -> Partial:
        return {"previews": list(self.kept), "review_previews": list(self.review)}


STAGES: list[StageFactory] = [MeasureStage, DistressStage, PreviewStage, ChangeStage, RoadMarksStage]
"""The per-frame stages every clip runs, in order (:func:`register_stage` adds one)."""


def register_stage(factory: StageFactory) -> StageFactory:
    """Run ``factory()``'s stage on every clip from now on, after the stages already registered
    (usable as a class decorator); registering the same factory again does nothing."""
    if factory not in STAGES:
        STAGES.append(factory)
    return factory


def preview_positions(n: int, k: int) -> frozenset[int]:
    """``k`` sampled-frame positions spread evenly over ``n`` frames.

    >>> sorted(preview_positions(10, 3)), sorted(preview_positions(2, 3))
    ([0, 4, 9], [0, 1])
    """
    if k <= 0 or n <= 0:
        return frozenset()
    return frozenset(int(v) for v in np.round(np.linspace(0, n - 1, min(k, n))).astype(int))


def previews(
    pos: int, view: np.ndarray, labels: np.ndarray, class_set: ClassSet, raw: bool, review_width: int = 0
) -> list[Preview]:
    """An anonymised preview of the frame (unblurred when ``raw``) and a coloured overlay of it, both
    :data:`~analytics.footage.privacy.PREVIEW_WIDTH` wide at most; then, when ``review_width``, the same two
    at most ``review_width`` wide (for the review only)."""
    image = view.copy() if raw else anonymise(view, labels, class_set)
    coloured = overlay(image, labels, class_set, alpha=0.45)
    widths = [PREVIEW_WIDTH, *([review_width] if review_width else [])]
    return [Preview(pos, preview_jpeg(img, max_width=w), kind, "image/jpeg") for w in widths
            for img, kind in ((image, "frame"), (coloured, "overlay"))]
