"""Counting as a stage of the clip's analysis: detect, track, count crossings and visits, and speeds.

Where a camera (or the zones given with a clip) has count lines or dwell zones
(:func:`~analytics.footage.lines.geometry_from_rows`), :func:`count_plan` builds the clip's
:class:`CountPlan`: the detector (:class:`~analytics.models.detect.Detector`, installed on demand
like the segmenter), the tracking rate ``min(track_fps, clip fps)``, the tracker's thresholds and
the ground calibration. The frame loop (:mod:`analytics.footage.runner`) then decodes the frames of
the tracking cadence besides those of the segmentation sampling, runs the detector on each tracked
frame where it runs the segmenter (an inference slot, on the slot's threads: :func:`slot_detectors`)
and hands the frames, in order, to :class:`CountStage` in the measuring thread, which tracks
(:class:`~analytics.footage.track.Tracker`). At the clip's end the tracks become the clip's
:class:`~analytics.records.CountTables` (:func:`count_tables`): per-track summaries, crossings per
line and visits per dwell zone, a person riding a bicycle counted once as a ``cyclist``
(:func:`~analytics.footage.track.pair_riders`).

Tracker rules for counting (:data:`COUNT_TRACKER`), chosen on the hand-counted sample clip
``car-detection.mp4`` where the default detector scores most cars between 0.12 and 0.5 (a
top-down view it was not trained on): the detector keeps boxes from ``low_score`` 0.1; a box from
``high_score`` 0.2 may start or continue any track, and a track is born after ``min_hits`` 3
consecutive tracked frames (0.3 s at 10 frames/s: a flash of a false box is no track); a track lives
``max_lost_s`` 2 s without a match (cars leave a gap of up to 1.4 s in the detections there).
Duplicate boxes of one object in one gate (a car found as car and as truck) are merged first
(:func:`merge_duplicates`).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.checksums import sha256_file
from analytics.detection import Detections, DetectorCard
from analytics.errors import DataFormatError, InputError, quote_value
from analytics.footage.lines import CountGeometry, geometry_from_rows, geometry_json, line_crossings, zone_visits
from analytics.footage.options import AnalysisOptions
from analytics.footage.segment import Segmentation
from analytics.footage.stages import FrameItem, Partial, StageContext, register_stage
from analytics.footage.track import GATES, Track, Tracker, TrackerOptions, pair_riders
from analytics.models.detect import Detector, nms
from analytics.models.zoo import resolve_detector
from analytics.records import COUNT_COLUMNS, CountTables
from analytics.settings import Settings

__all__ = [
    "COUNT_TRACKER", "MAX_SPEED_KMH", "MIN_SPEED_POINTS", "MIN_SPEED_SPAN_S", "CountPlan", "CountStage", "check_calibration_frame",
    "count_plan", "count_tables",
    "detector_for", "ground_points", "slot_detectors", "merge_duplicates", "parse_homography", "stationary", "track_rate", "track_speed",
]

COUNT_TRACKER = TrackerOptions(high_score=0.15, low_score=0.1, match_iou=0.2, low_match_iou=0.3, min_hits=3, max_lost=20, recover_gate=0.5)
"""The tracker's thresholds for counting (see the module docstring); ``max_lost`` is set per clip
from :attr:`CountPlan.max_lost_s` and the tracking rate."""
MAX_SPEED_KMH = 200.0
MIN_SPEED_SPAN_S = 1.0
MIN_SPEED_POINTS = 5
DUPLICATE_IOU = 0.7
STATIONARY_SHARE = 0.5


def track_rate(track_fps: float, clip_fps: float) -> float:
    """The tracking rate of a clip: ``min(track_fps, clip fps)``.

    >>> track_rate(10.0, 12.5), track_rate(10.0, 5.0)
    (10.0, 5.0)
    """
    return float(min(track_fps, clip_fps)) if clip_fps > 0 else float(track_fps)


def parse_homography(text: object) -> np.ndarray | None:
    """A stored ground calibration (JSON ``[[h11, h12, h13], [h21, ...], [h31, ...]]``) as a 3x3 array; None for none.

    >>> parse_homography("[[1, 0, 0], [0, 1, 0], [0, 0, 1]]").tolist()[2]
    [0.0, 0.0, 1.0]
    >>> parse_homography(None) is None
    True
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    try:
        h = np.asarray(json.loads(str(text)), dtype=np.float64)
    except (ValueError, TypeError):
        raise DataFormatError(f"ground calibration {quote_value(text, 60)} is not JSON; expected a 3x3 list of numbers") from None
    if h.shape != (3, 3) or not np.isfinite(h).all() or abs(float(np.linalg.det(h))) < 1e-12:
        raise DataFormatError(f"ground calibration {quote_value(text, 60)}; expected an invertible 3x3 list of finite numbers")
    return h


def ground_points(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Image pixels ``(n, 2)`` to ground metres by the homography ``H``: ``[X, Y, W] = H [x, y, 1]``, point ``(X / W, Y / W)``.

    >>> ground_points(np.diag([0.1, 0.1, 1.0]), np.array([[10.0, 20.0]])).tolist()
    [[1.0, 2.0]]
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    xyw = np.concatenate([p, np.ones((len(p), 1))], axis=1) @ np.asarray(homography, dtype=np.float64).T
    return xyw[:, :2] / xyw[:, 2:3]


def path_length(points: np.ndarray) -> float:
    """Length of the polyline through ``points`` ``(n, 2)``: ``Σ |p_{i+1} - p_i|``.

    >>> path_length(np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0]]))
    6.0
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return float(np.hypot(*np.diff(p, axis=0).T).sum()) if len(p) > 1 else 0.0


def track_speed(times: np.ndarray, ground: np.ndarray) -> tuple[float, float | None]:
    """(path in metres, speed in km/h or None when implausible) of a track's ground points at ``times``.

    ``path_m = Σ |g_{i+1} - g_i|``; ``speed_kmh = path_m / (t_last - t_first) * 3.6``. The speed is
    None (dropped) when the track spans less than :data:`MIN_SPEED_SPAN_S` (1 s), has fewer than
    :data:`MIN_SPEED_POINTS` (5) points, or gives more than :data:`MAX_SPEED_KMH` (200 km/h).

    >>> track_speed(np.arange(6) * 0.5, np.array([[0.0, 2.0 * k] for k in range(6)]))   # 10 m in 2.5 s
    (10.0, 14.4)
    >>> track_speed(np.arange(3) * 0.5, np.zeros((3, 2)))[1] is None
    True
    """
    t = np.asarray(times, dtype=np.float64)
    path_m = path_length(ground)
    span = float(t[-1] - t[0]) if len(t) else 0.0
    if len(t) < MIN_SPEED_POINTS or span < MIN_SPEED_SPAN_S:
        return path_m, None
    speed = path_m / span * 3.6
    return path_m, (round(speed, 6) if math.isfinite(speed) and speed <= MAX_SPEED_KMH else None)


def stationary(bottoms: np.ndarray, heights: np.ndarray) -> bool:
    """Whether a track stood still: every bottom-centre lies within ``STATIONARY_SHARE`` (0.5) of the
    median box height of the first one, ``max |p_i - p_0| < 0.5 median(h)``.

    >>> stationary(np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([20.0, 20.0])), stationary(np.array([[0.0, 0.0], [30.0, 0.0]]), np.array([20.0, 20.0]))
    (True, False)
    """
    p = np.asarray(bottoms, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        return True
    return bool(np.hypot(*(p - p[0]).T).max() < STATIONARY_SHARE * float(np.median(heights)))


def merge_duplicates(det: Detections, iou: float = DUPLICATE_IOU) -> Detections:
    """One box per object and gate: of boxes in the same gate (:data:`~analytics.footage.track.GATES`)
    overlapping by ``IoU > iou`` (0.7), only the best-scoring is kept (a car found as car and truck is one car).

    >>> d = Detections(np.array([[0, 0, 10, 10], [0, 0, 10, 9]], np.float32), np.array([0.5, 0.3], np.float32),
    ...                np.array([2, 7], np.int16), np.array([2, 5], np.int8))
    >>> merge_duplicates(d).group_names
    ['car']
    """
    if len(det) < 2:
        return det
    gate_codes = {g: i for i, g in enumerate(sorted(set(GATES.values())))}
    gates = np.array([gate_codes[GATES[name]] for name in det.group_names])
    keep = nms(det.xyxy.astype(np.float64), det.score.astype(np.float64), iou, gates)
    return det.select(np.sort(keep))


@dataclass(frozen=True)
class CountPlan:
    """How one clip is counted: geometry, detector, rate, tracker rules and calibration."""

    geometry: CountGeometry
    detector: Detector
    detector_sha256: str
    rate: float
    """Tracked frames per second (:func:`track_rate`)."""
    tracker: TrackerOptions = COUNT_TRACKER
    max_lost_s: float = 2.0
    calibration: np.ndarray | None = None
    """Image pixels -> ground metres (3x3), None when the camera is not calibrated."""
    notes: tuple[str, ...] = field(default=())

    @property
    def tracker_options(self) -> TrackerOptions:
        """The tracker's thresholds with ``max_lost = ceil(max_lost_s * rate)`` frames."""
        return replace(self.tracker, max_lost=max(1, math.ceil(self.max_lost_s * self.rate - 1e-9)))

    def params(self) -> dict[str, Any]:
        """What changes the counts, for the run's provenance (and its settings key)."""
        o = self.tracker_options
        return {
            "detector": self.detector.card.name, "detector_sha256": self.detector_sha256, "track_fps": self.rate,
            "detector_threshold": self.detector.card.score_threshold, "geometry": geometry_json(self.geometry),
            "tracker": {"high": o.high_score, "low": o.low_score, "iou": o.match_iou, "low_iou": o.low_match_iou,
                        "min_hits": o.min_hits, "max_lost": o.max_lost},
            "duplicate_iou": DUPLICATE_IOU, "calibration": None if self.calibration is None else np.round(self.calibration, 9).tolist(),
        }


_DETECTORS: dict[tuple[str, str, float, int, int], Detector] = {}
_DETECTORS_LOCK = threading.Lock()


def detector_for(
    card: DetectorCard, onnx_path: Path, low_score: float = COUNT_TRACKER.low_score, threads: int = 1, slot: int = 0,
) -> Detector:
    """A cached :class:`Detector` on ``threads`` ONNX Runtime threads (one per inference ``slot``) that keeps
    boxes from ``min(card threshold, low_score)`` (the tracker's second association needs the low-score boxes)."""
    card = replace(card, score_threshold=min(card.score_threshold, low_score))
    key = (str(onnx_path), card.to_json(), low_score, threads, slot)
    with _DETECTORS_LOCK:
        if key not in _DETECTORS:
            if len(_DETECTORS) >= 6:
                _DETECTORS.pop(next(iter(_DETECTORS)))
            _DETECTORS[key] = Detector(onnx_path, card, threads=threads)
        return _DETECTORS[key]


def slot_detectors(plan: CountPlan, slots: int, threads: int) -> list[Callable[[np.ndarray], Detections]]:
    """The plan's detector for each of the frame loop's ``slots`` inference slots, each on the ``threads``
    its segmenter has (:func:`~analytics.footage.runner.frame_slots`), duplicates merged (:func:`merge_duplicates`)."""
    card, path = plan.detector.card, plan.detector.onnx_path
    detectors = [detector_for(card, path, threads=threads, slot=k) for k in range(slots)]
    return [functools.partial(_detect, d) for d in detectors]


def _detect(detector: Detector, frame: np.ndarray) -> Detections:
    return merge_duplicates(detector.detect(frame))


def check_calibration_frame(drawn: tuple[int, int] | None, frame_size: tuple[int, int]) -> None:
    """Refuse a ground calibration drawn on a frame of another size than the clip's (a homography maps
    the pixels it was drawn on; rescaling it would silently assume the same view at another resolution).

    >>> check_calibration_frame((768, 432), (768, 432)); check_calibration_frame(None, (768, 432))
    >>> check_calibration_frame((640, 360), (768, 432))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: the camera's ground calibration was drawn on a 640x360 frame but the clip is 768x432; ...
    """
    if drawn is not None and (int(drawn[0]), int(drawn[1])) != (int(frame_size[0]), int(frame_size[1])):
        raise DataFormatError(f"the camera's ground calibration was drawn on a {int(drawn[0])}x{int(drawn[1])} frame but the clip is "
                              f"{int(frame_size[0])}x{int(frame_size[1])}; calibrate it again on a frame of this clip")


_SHA: dict[tuple[str, int, int], str] = {}


def count_plan(
    zones: pd.DataFrame | None, frame_size: tuple[int, int], clip_fps: float, options: AnalysisOptions, settings: Settings,
    calibration: np.ndarray | tuple[np.ndarray, tuple[int, int] | None] | None = None,
) -> CountPlan | None:
    """How a clip of ``frame_size`` (width, height) is counted, or None when it is not: counting is off
    (``options.count``) or the zones rows hold no count line or dwell zone. The geometry is checked against
    the clip (:func:`~analytics.footage.lines.geometry_from_rows`); the detector ``options.detector`` is
    installed on first use (from ``URBANLENS_MODEL_MIRROR`` or its pinned address). ``calibration``: the
    camera's homography, or it with the (width, height) it was drawn on; drawn on another size than the
    clip's it is refused (:func:`check_calibration_frame`), not rescaled."""
    if not options.count:
        return None
    geometry = geometry_from_rows(zones, frame_size)
    if geometry is None:
        return None
    if isinstance(calibration, tuple):
        calibration, drawn = calibration
        check_calibration_frame(drawn, frame_size)
    card, onnx_path = resolve_detector(options.detector, settings, install_missing=True)
    stat = onnx_path.stat()
    key = (str(onnx_path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = card.sha256 or sha256_file(onnx_path)
    return CountPlan(geometry, detector_for(card, onnx_path), _SHA[key], track_rate(options.track_fps, clip_fps),
                     calibration=calibration, notes=geometry.notes)


def _track_row(trk: Track, label: str, calibration: np.ndarray | None) -> tuple[dict[str, Any], bool]:
    """One ``tracks`` row and whether its speed was dropped."""
    t, bottoms, boxes = np.asarray(trk.times), trk.bottoms, trk.boxes
    row: dict[str, Any] = {"track_id": trk.track_id, "class": label, "first_t_s": float(t[0]), "last_t_s": float(t[-1]),
                           "n_points": len(t), "path_px": path_length(bottoms), "path_m": None, "speed_kmh": None,
                           "stationary": stationary(bottoms, boxes[:, 3] - boxes[:, 1])}
    if calibration is None:
        return row, False
    path_m, speed = track_speed(t, ground_points(calibration, bottoms))
    row["path_m"] = path_m if math.isfinite(path_m) else None
    row["speed_kmh"] = speed
    return row, speed is None


def count_tables(tracks: list[Track], plan: CountPlan, times: list[float], detector_name: str) -> CountTables:
    """The clip's :class:`~analytics.records.CountTables` from its confirmed tracks.

    A person track paired with a bicycle track (:func:`~analytics.footage.track.pair_riders`) is one
    ``cyclist`` (the person's track; the bicycle's is left out). Crossings: :func:`~analytics.footage.lines.line_crossings`
    of each line by the bottom-centres. Visits: :func:`~analytics.footage.lines.zone_visits` of each
    dwell zone, ``censored`` when the visit begins at the first tracked frame or ends at the last
    (within half a tracked frame: the stay was cut by the clip). Speeds where calibrated (:func:`track_speed`).
    """
    riders = dict(pair_riders(tracks))
    ridden = set(riders.values())
    t0, t1 = (times[0], times[-1]) if times else (0.0, 0.0)
    half = 0.5 / plan.rate
    rows, crossings, visits, dropped = [], [], [], 0
    for trk in tracks:
        if trk.track_id in ridden:
            continue
        label = "cyclist" if trk.track_id in riders else trk.label
        row, was_dropped = _track_row(trk, label, plan.calibration)
        rows.append(row)
        dropped += was_dropped
        pts = trk.bottoms
        for line in plan.geometry.lines:
            crossings += [{"line": c.line, "t_s": c.t, "class": label, "direction": c.direction, "track_id": trk.track_id}
                          for c in line_crossings(trk.times, pts, line)]
        for zone in plan.geometry.zones:
            visits += [{"zone": v.zone, "class": label, "track_id": trk.track_id, "enter_t_s": v.enter, "exit_t_s": v.exit,
                        "dwell_s": v.dwell, "censored": bool(v.enter <= t0 + half or v.exit >= t1 - half)}
                       for v in zone_visits(trk.times, pts, zone)]
    frames = {name: pd.DataFrame(data, columns=list(COUNT_COLUMNS[name]))
              for name, data in (("tracks", rows), ("crossings", crossings), ("visits", visits))}
    frames["crossings"] = frames["crossings"].sort_values(["t_s", "line"], kind="stable").reset_index(drop=True)
    return CountTables(
        detector_name=detector_name, detector_sha256=plan.detector_sha256, track_fps=plan.rate, n_tracked_frames=len(times),
        geometry_json=geometry_json(plan.geometry), tracks=frames["tracks"], crossings=frames["crossings"], visits=frames["visits"],
        calibrated=plan.calibration is not None, n_speeds_dropped=dropped, params=plan.params(),
    )


class CountStage:
    """Detection and tracking on every tracked frame (``every_frame``: it also sees frames that are
    not segmented), then the clip's ``counts`` (:func:`count_tables`); nothing when the clip is not counted."""

    every_frame = True

    def start(self, context: StageContext) -> None:
        plan = context.counting
        if plan is not None and not isinstance(plan, CountPlan):
            raise InputError(f"counting must be a CountPlan or None, got {type(plan).__name__}")
        self.plan: CountPlan | None = plan
        self.tracker = Tracker(plan.tracker_options) if plan is not None else None
        self.times: list[float] = []

    def frame(self, item: FrameItem, segmentation: Segmentation | None) -> None:
        """Track the detections of a tracked frame (found by the frame loop, else here)."""
        if self.plan is None or self.tracker is None or not item.tracked:
            return
        if item.frame is None:
            raise InputError("a tracked frame came without its image; the decoder must keep frames when counting")
        det = item.detections if item.detections is not None else _detect(self.plan.detector, item.frame)
        self.tracker.update(det.xyxy, det.score, det.group_names, item.t_s)
        self.times.append(item.t_s)

    def finish(self) -> Partial:
        if self.plan is None or self.tracker is None:
            return {}
        return {"counts": count_tables(self.tracker.tracks(), self.plan, self.times, self.plan.detector.card.name)}


register_stage(CountStage)

