"""The validated record that travels from the analysis pipeline (or the demo city) to the store.

:class:`ClipMeasurements` is a dataclass of parallel numpy arrays, one row per sampled frame,
checked on construction: a wrong shape raises :class:`~analytics.errors.InputError` showing the
expected against the actual shape. Frames and pixels never reach the store, only these numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.taxonomy import ClassSet

__all__ = [
    "SOURCES",
    "OBJECT_GROUPS",
    "ClipInfo",
    "RunInfo",
    "Preview",
    "ClipMeasurements",
    "COUNT_CLASSES",
    "COUNT_COLUMNS",
    "CountTables",
]

SOURCES = ("footage", "synthetic")
OBJECT_GROUPS = ("person", "two_wheeler", "vehicle")
"""Groups whose connected components are counted as objects."""


def _is_absolute_path(text: object) -> bool:
    """``text`` is a non-empty absolute path without NUL characters (on this system).

    >>> _is_absolute_path("/data/clips/a.mp4"), _is_absolute_path("a.mp4"), _is_absolute_path("")
    (True, False, False)
    """
    return isinstance(text, str) and bool(text) and "\x00" not in text and PurePath(text).is_absolute()


@dataclass(frozen=True)
class ClipInfo:
    """One clip file: identified by the SHA-256 of its bytes."""

    sha256: str
    camera_id: str
    start_time: datetime
    duration_s: float
    fps: float
    width: int
    height: int
    n_frames: int
    source: str = "footage"
    label: str = ""
    source_path: str | None = None
    """Absolute path of the clip's file when it was ingested (so its frames can be read again,
    e.g. by ``annotate select --camera``); None when not recorded (an upload's temporary copy)."""
    timezone: str | None = None
    """IANA zone ``start_time`` is wall-clock time in (the camera's, else the city's): frames' local times then follow
    a daylight-saving change inside the clip; None: ``start_time`` plus each frame's offset (a zone without changes)."""

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise InputError(f"clip sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if not self.camera_id:
            raise InputError("clip needs a camera id")
        if self.source not in SOURCES:
            raise InputError(f"clip source {self.source!r}; expected one of {SOURCES}")
        if self.source_path is not None and not _is_absolute_path(self.source_path):
            raise InputError(f"clip source_path {self.source_path!r}; expected an absolute file path or None")
        if not (self.duration_s >= 0 and self.fps > 0 and self.width > 0 and self.height > 0 and self.n_frames >= 0):
            raise InputError(
                f"clip {self.label or self.sha256[:12]}: duration {self.duration_s}, fps {self.fps}, "
                f"size {self.width}x{self.height}, frames {self.n_frames}; expected positive values"
            )


@dataclass(frozen=True)
class RunInfo:
    """How a clip was analysed: the model and every setting that changes the numbers."""

    model_name: str
    weights_sha256: str
    class_set: ClassSet
    sampling: str
    """Sampling rule, e.g. ``"fps=2"``, ``"every=5"``, ``"all"``."""
    smoothing: str = "off"
    """Temporal smoothing, e.g. ``"off"`` or ``"ema=0.6"``."""
    code_version: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def settings_key(self) -> str:
        """SHA-256 over everything that changes the numbers (code version excluded).

        The same clip analysed with the same key is already stored: ingesting it again is a no-op.
        """
        payload = {
            "model": self.model_name,
            "weights": self.weights_sha256,
            "classes": list(zip(self.class_set.class_names, self.class_set.groups)),
            "sampling": self.sampling,
            "smoothing": self.smoothing,
            "params": self.params,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Preview:
    """A small anonymised image of one sampled frame (people blurred), PNG or JPEG bytes."""

    frame_pos: int
    image: bytes
    kind: str = "frame"  # "frame" or "overlay"
    mime: str = "image/jpeg"


COUNT_CLASSES = ("person", "cyclist", "bicycle", "car", "motorcycle", "bus", "truck")
"""Classes of tracked objects: COCO's person, bicycle, car, motorcycle, bus and truck, and a
``cyclist`` (a person riding a bicycle: the pair counts once, as a cyclist)."""

COUNT_COLUMNS = {
    "tracks": ("track_id", "class", "first_t_s", "last_t_s", "n_points", "path_px", "path_m", "speed_kmh", "stationary"),
    "crossings": ("line", "t_s", "class", "direction", "track_id"),
    "visits": ("zone", "class", "track_id", "enter_t_s", "exit_t_s", "dwell_s", "censored"),
}


@dataclass(frozen=True)
class CountTables:
    """What detection and tracking found in one clip: its tracks, their line crossings and zone visits.

    Times are seconds from the clip's start (``t_s``). ``direction`` is ``in`` or ``out`` as the line
    defines them; ``censored`` marks a visit cut by the clip's start or end (its dwell is a lower
    bound). An empty table is a real zero (the clip was counted and nothing crossed), unlike a clip
    without :class:`CountTables` (not counted).
    """

    detector_name: str
    detector_sha256: str
    track_fps: float
    n_tracked_frames: int
    geometry_json: str
    """The count lines and dwell zones used, as JSON (what the counts mean)."""
    tracks: pd.DataFrame
    crossings: pd.DataFrame
    visits: pd.DataFrame
    calibrated: bool = False
    """Whether a ground calibration gave tracks a length in metres and a speed."""
    n_speeds_dropped: int = 0
    """Tracks whose speed was implausible (over 200 km/h, or too short a track) and left out."""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, columns in COUNT_COLUMNS.items():
            df = getattr(self, name)
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise InputError(f"count table {name}: missing columns {missing}; expected {list(columns)}")
            classes = set(df["class"].astype(str)) - set(COUNT_CLASSES)
            if classes:
                raise InputError(f"count table {name}: classes {sorted(classes)}; expected some of {list(COUNT_CLASSES)}")
        bad = set(self.crossings["direction"].astype(str)) - {"in", "out"}
        if bad:
            raise InputError(f"count table crossings: directions {sorted(bad)}; expected 'in' or 'out'")
        if not (self.track_fps > 0 and self.n_tracked_frames >= 0 and self.n_speeds_dropped >= 0):
            raise InputError(
                f"count tables: track fps {self.track_fps}, tracked frames {self.n_tracked_frames}, "
                f"speeds dropped {self.n_speeds_dropped}; expected a positive rate and counts of at least 0"
            )


def _check_1d(name: str, arr: np.ndarray, n: int) -> None:
    if arr.shape != (n,):
        raise InputError(f"{name}: expected shape ({n},), got {arr.shape}")


@dataclass
class ClipMeasurements:
    """Per-sampled-frame measurements of one clip under one run (parallel arrays of length n).

    ``class_pixels[i, c]`` is the number of pixels of class ``c`` in sampled frame ``i``.
    Float arrays use NaN for "not measured" (e.g. flicker of the first frame).
    """

    clip: ClipInfo
    run: RunInfo
    frame_index: np.ndarray
    t_s: np.ndarray
    class_pixels: np.ndarray
    mean_confidence: np.ndarray
    low_conf_share: np.ndarray
    flicker: np.ndarray
    vehicle_stationarity: np.ndarray
    object_counts: np.ndarray
    """(n, 3) counts of person, two_wheeler and vehicle objects."""
    distress_crack_px: np.ndarray | None = None
    distress_pothole_px: np.ndarray | None = None
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    objects: pd.DataFrame | None = None
    """Optional boxes: columns frame_pos, group, x0, y0, x1, y1, area_px."""
    zone_pixels: pd.DataFrame | None = None
    """Optional: columns frame_pos, zone, role, class_id, pixels."""
    previews: list[Preview] = field(default_factory=list)
    counts: CountTables | None = None
    """Tracks, crossings and visits where the clip was counted; None where it was not."""
    label_change: np.ndarray | None = None
    """Optional: per frame, the share of pixels whose class changed along the motion from the previous
    sampled frame (:func:`analytics.footage.temporal.motion_change`; NaN where not measured). The trust
    verdict's stability check; not stored per frame (the verdict is)."""
    heading: np.ndarray | None = None
    """Optional: direction of travel of each frame, degrees clockwise from north (NaN where unknown); from a GPS track."""
    lane_mark_share: np.ndarray | None = None
    """Share of the frame's pixels the road model reads as lane marks; None where no road model ran."""
    curb_length_px: np.ndarray | None = None
    """Length of the curbs the road model finds, in frame pixels; None where no road model ran."""
    segmenter_class_pixels: np.ndarray | None = None
    """Optional: (n, classes) pixels of each class in the segmenter's own labels, before the road model's
    fusion; None where no road model ran (``class_pixels`` are then its own). The trust verdict's class-mix
    checks judge these; not stored per frame (the verdict is)."""
    road_disagreement: np.ndarray | None = None
    """Optional: per frame, the share of the picture the road model reads as road where the segmenter reads
    something else (:func:`analytics.footage.roads.road_disagreement`); None where no road model ran. A trust
    check; not stored per frame (the verdict is)."""

    def __post_init__(self) -> None:
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        n = int(self.frame_index.shape[0]) if self.frame_index.ndim == 1 else -1
        if n < 1:
            raise InputError(f"clip {self.clip.label or self.clip.sha256[:12]}: no sampled frames to store")
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        self.class_pixels = np.asarray(self.class_pixels, dtype=np.int64)
        c = self.run.class_set.num_classes
        if self.class_pixels.shape != (n, c):
            raise InputError(f"class_pixels: expected shape ({n}, {c}), got {self.class_pixels.shape}")
        if (self.class_pixels < 0).any():
            raise InputError("class_pixels: pixel counts must not be negative")
        self.object_counts = np.asarray(self.object_counts, dtype=np.int64)
        if self.object_counts.shape != (n, len(OBJECT_GROUPS)):
            raise InputError(f"object_counts: expected shape ({n}, {len(OBJECT_GROUPS)}), got {self.object_counts.shape}")
        for name in ("mean_confidence", "low_conf_share", "flicker", "vehicle_stationarity"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            _check_1d(name, arr, n)
            setattr(self, name, arr)
        for name in ("distress_crack_px", "distress_pothole_px", "lon", "lat", "label_change", "heading", "lane_mark_share",
                     "curb_length_px", "road_disagreement"):
            val = getattr(self, name)
            if val is not None:
                arr = np.asarray(val, dtype=np.float64)
                _check_1d(name, arr, n)
                setattr(self, name, arr)
        if self.segmenter_class_pixels is not None:
            self.segmenter_class_pixels = np.asarray(self.segmenter_class_pixels, dtype=np.int64)
            if self.segmenter_class_pixels.shape != (n, c):
                raise InputError(f"segmenter_class_pixels: expected shape ({n}, {c}), got {self.segmenter_class_pixels.shape}")
        _check_1d("t_s", self.t_s, n)
        if np.any(np.diff(self.frame_index) <= 0):
            raise InputError("frame_index must be strictly increasing")
        if np.isnan(self.t_s).any() or (self.t_s < 0).any():
            raise InputError("t_s: timestamps must be present and not negative")
        for name in ("mean_confidence", "low_conf_share", "flicker", "vehicle_stationarity"):
            arr = getattr(self, name)
            ok = np.isnan(arr) | ((arr >= 0) & (arr <= 1))
            if not ok.all():
                raise InputError(f"{name}: values must lie in [0, 1] (or be NaN), got {arr[~ok][:3].tolist()}")
        if self.objects is not None:
            need = {"frame_pos", "group", "x0", "y0", "x1", "y1", "area_px"}
            if not need.issubset(self.objects.columns):
                raise InputError(f"objects: expected columns {sorted(need)}, got {list(self.objects.columns)}")
        if self.zone_pixels is not None:
            need = {"frame_pos", "zone", "role", "class_id", "pixels"}
            if not need.issubset(self.zone_pixels.columns):
                raise InputError(f"zone_pixels: expected columns {sorted(need)}, got {list(self.zone_pixels.columns)}")

    @property
    def n(self) -> int:
        """Number of sampled frames."""
        return int(self.frame_index.shape[0])
