"""Trust verdict of a clip: can the model read this footage? (``ok`` / ``low``, a heuristic).

A clip is ``low`` trust when the model is unsure of what it sees or when what it reports cannot be
a street-level view; its frames are then left out of indicators unless asked for. The verdict
rests on what the pipeline already measures for every sampled frame (mean softmax confidence,
share of low-confidence pixels, label change along the motion between sampled frames) and on
plausibility checks of the class mix. Each failed check gives a reason a planner can read; one failed check makes the clip
``low``.

Per-clip statistics (:func:`clip_stats`) over the ``n`` sampled frames ``i``, with group shares
``s_g(i) = pixels of group g / valid pixels`` (void left out); the class-mix shares count only the
frames with at least :data:`MIN_FRAME_PIXELS` valid pixels (``n`` is then their number; none: NaN):

- ``confidence = mean_i mean_confidence(i)``: low below :data:`MIN_MEAN_CONFIDENCE`;
- ``low_conf = mean_i low_conf_share(i)``: low above :data:`MAX_LOW_CONF_SHARE`;
- ``flicker = mean_i change(i)`` over the frames where it was measured, with ``change(i)`` the share of
  followed pixels whose class changed along the optical flow from the previous sampled frame
  (:func:`analytics.footage.temporal.motion_change`; the clip's ``label_change`` column): low above
  :data:`MAX_FLICKER`. Unlike the raw flicker between sampled frames (stored per frame), it does not
  grow with the time between samples; where the motion cannot be followed (a cut, a handheld camera
  sampled seconds apart) a frame is not measured, and a clip with no measured frame fails no
  stability check (docs/trust.md);
- ``vehicles_over_road = |{i : s_vehicle(i) > s_road(i), s_vehicle(i) >= MIN_VEHICLE_SHARE,
  s_sky(i) < MIN_VIEW_SHARE}| / n``, vehicles covering more than the road they stand on with no sky
  in view (a jam seen from the street shows sky above the vehicles; a car park seen from above
  does not): low above :data:`MAX_VEHICLES_OVER_ROAD`;
- ``filled = |{i : max_g s_g(i) >= FILL_SHARE}| / n``, one thing (e.g. "vehicle") read over
  almost the whole picture: low above :data:`MAX_FILLED_FRAMES`;
- ``no_sky_no_built = |{i : s_sky(i) < MIN_VIEW_SHARE, s_built(i) < MIN_VIEW_SHARE}| / n``, a
  street-level view shows sky or buildings: low above :data:`MAX_NO_SKY_NO_BUILT`;
- ``road_disagreement = mean_i d(i)`` where a road model runs beside the segmenter, ``d(i)`` the share
  of frame ``i`` the road model reads as road where the segmenter reads something else
  (:func:`analytics.footage.roads.road_disagreement`): low above :data:`MAX_ROAD_DISAGREEMENT`. Two
  models made for street views agree on where the road is in a street view (they differ at its edges);
  on a view from above the segmenter reads the ground as buildings or vehicles and the road model as
  road. A mean over frames, it does not depend on how many frames show a vehicle or on the rate.

The class-mix shares ``s_g`` are those of the segmenter's own labels (before a road model corrects
them: :attr:`analytics.records.ClipMeasurements.segmenter_class_pixels`), so the class-mix checks
give the same answer with the road model on or off; the road model enters the verdict only through
``road_disagreement``.

Calibration (``bench/trust_calibration.py`` prints this table again; ``espnetv2-s2`` at 384x768,
2 sampled frames per second, low-confidence threshold 0.5, confidence on every 4th pixel as the
pipeline does; the table and its discussion are in docs/evaluation.md):

=====================================  ====  =====  =====  ============  ======  =============  =======
clip                                   conf  low    flick  veh. > road   filled  no sky/built   verdict
=====================================  ====  =====  =====  ============  ======  =============  =======
CamVid val (101 frames, 1 s apart)     90%   5%     8%     0%            0%      0%             ok
bikes.mp4 (street, handheld)           80%   13%    38%    55%           0%      0%             ok
car-detection.mp4 (car park, above)    79%   10%    29%    44%           23%     21%            low
person-bicycle-car-detection.gif       72%   20%    26%    100%          0%      0%             low
=====================================  ====  =====  =====  ============  ======  =============  =======

Confidence does not separate the top-down car park from the street clip (79% against 80%): the
model is sure of its wrong reading, asphalt as "building" and whole frames as "truck". The class
mix does: almost a quarter of its frames are read as one thing over 95% of the picture, which no CamVid
frame and no bikes frame is. The confidence and flicker limits sit well outside every clip seen
(they catch footage the model cannot read at all: night, fog, a covered lens); the vehicles-over-
road limit sits above the street clip's 55% (a van passing close to a handheld camera, walls and
no sky in view). The synthetic demo city passes every check (its rush-hour jams put vehicles over
the road, with sky above them). These are heuristics set on four clips, not a measured error rate.

>>> v = verdict(ClipStats(n_frames=10, confidence=0.85, low_conf=0.07, flicker=0.1, vehicles_over_road=0.0,
...                       filled=0.0, no_sky_no_built=0.0, road_disagreement=0.02))
>>> v.trust, v.reasons
('ok', ())
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.errors import InputError
from analytics.records import ClipMeasurements
from analytics.taxonomy import GROUPS, group_label

__all__ = [
    "FILL_SHARE",
    "MAX_FILLED_FRAMES",
    "MAX_FLICKER",
    "MAX_LOW_CONF_SHARE",
    "MAX_NO_SKY_NO_BUILT",
    "MAX_ROAD_DISAGREEMENT",
    "MAX_VEHICLES_OVER_ROAD",
    "MIN_MEAN_CONFIDENCE",
    "MIN_VEHICLE_SHARE",
    "MIN_VIEW_SHARE",
    "TRUST_LEVELS",
    "ClipStats",
    "TrustVerdict",
    "assess",
    "assess_measurements",
    "clip_stats",
    "left_out_note",
    "verdict",
]

TRUST_LEVELS = ("ok", "low")
"""The verdicts; a clip stored before verdicts existed has none (shown as "not checked", counted as ok)."""

MIN_MEAN_CONFIDENCE = 0.70
"""Mean confidence below this: the model is unsure of the picture (CamVid val 0.90, bikes 0.80)."""
MAX_LOW_CONF_SHARE = 0.30
"""Mean share of low-confidence pixels above this (CamVid val 5%, bikes 13%, the car-park GIF 20%)."""
MAX_FLICKER = 0.50
"""Mean label change along motion above this: the labels jump even where the motion is followed.
Well above every clip measured at 0.2-5 frames a second (CamVid val 7-10%, bikes.mp4 21-22%, the
car-park GIF 16-37%, car-detection.mp4 28-46%; docs/trust.md): it catches footage the model cannot
read at all (night, fog, a covered lens), as the same limit on the raw flicker did at 2 frames a second."""
MIN_VEHICLE_SHARE = 0.05
"""A frame counts for the vehicles-over-road check only when vehicles cover at least this share."""
MAX_VEHICLES_OVER_ROAD = 0.75
"""Share of frames where vehicles cover more than the road with no sky in view, above which the view is
implausible (bikes.mp4, a pedestrian street with a van passing close, 55%; the top-down car-park GIF 100%)."""
FILL_SHARE = 0.95
"""One group covering at least this share of a frame's valid pixels "fills the picture"."""
MAX_FILLED_FRAMES = 0.10
"""Share of frames filled by one group, above which the model cannot make out a scene (car park from above 23%)."""
MIN_FRAME_PIXELS = 1000
"""A frame's class mix is judged only when it has at least this many valid pixels (a model's map has
tens of thousands; hand-made test frames with a few dozen are too small to say what a view shows)."""
MIN_VIEW_SHARE = 0.01
"""Sky or built below this share of a frame counts as absent."""
MAX_NO_SKY_NO_BUILT = 0.50
"""Share of frames with neither sky nor built, above which the clip is not a street-level view."""
MAX_ROAD_DISAGREEMENT = 0.07
"""Mean share of the picture the road model reads as road where the segmenter reads something else, above
which the two models disagree on where the ground is (a heuristic; measured at 0.2-5 frames a second,
docs/trust.md: CamVid val 1%, bikes.mp4 at most 3%, car-detection.mp4 from above 14-15%, the car-park
GIF from above 56-65%; the limit sits about twice above the street clips and twice below the car park)."""

_ROAD, _VEHICLE, _SKY, _BUILT, _VOID = (GROUPS.index(g) for g in ("road", "vehicle", "sky", "built", "void"))


@dataclass(frozen=True)
class ClipStats:
    """The per-clip statistics a verdict rests on (fractions in [0, 1]; NaN where not measured)."""

    n_frames: int
    confidence: float
    low_conf: float
    flicker: float
    vehicles_over_road: float
    filled: float
    no_sky_no_built: float
    filled_group: str = ""
    """The group that most often fills the picture ("" when none does)."""
    road_disagreement: float = float("nan")
    """Mean share of the picture the road model made road where the segmenter read something else (NaN: no road model ran)."""


@dataclass(frozen=True)
class TrustVerdict:
    """``trust`` is ``ok`` or ``low``; ``reasons`` says, in words, each check that failed."""

    trust: str
    reasons: tuple[str, ...]
    stats: ClipStats

    @property
    def low(self) -> bool:
        return self.trust == "low"

    @property
    def summary(self) -> str:
        """One line: ``ok`` or ``low trust: <reason>; <reason>``."""
        return "ok" if not self.reasons else "low trust (heuristic): " + "; ".join(self.reasons)


def _mean(values: np.ndarray) -> float:
    """Mean of the measured (non-NaN) values; NaN when none was measured."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _frame_shares(class_pixels: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """(m, len(GROUPS)) share of valid pixels of each group in each frame of at least MIN_FRAME_PIXELS valid pixels."""
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise InputError(f"unknown indicator group(s) {unknown}; expected names from {', '.join(GROUPS)}")
    mat = np.zeros((len(groups), len(GROUPS)))
    mat[np.arange(len(groups)), [GROUPS.index(g) for g in groups]] = 1.0
    px = class_pixels.astype(np.float64) @ mat
    valid = px.sum(axis=1) - px[:, _VOID]
    keep = valid >= MIN_FRAME_PIXELS
    return px[keep] / valid[keep, None]


def clip_stats(
    class_pixels: np.ndarray, groups: Sequence[str], mean_confidence: np.ndarray, low_conf_share: np.ndarray,
    flicker: np.ndarray, road_disagreement: np.ndarray | None = None,
) -> ClipStats:
    """The statistics of the module docstring from per-frame arrays.

    ``class_pixels`` is (n, classes) (the segmenter's own labels); ``groups`` names the indicator group
    of each class; the other arrays are length ``n`` (NaN where not measured; ``road_disagreement`` None
    where no road model ran).

    >>> cp = np.array([[500, 400, 100], [100, 900, 0]]) * 10  # classes: road, vehicle, sky
    >>> s = clip_stats(cp, ["road", "vehicle", "sky"], np.array([0.8, 0.6]), np.array([0.1, 0.3]), np.array([np.nan, 0.2]))
    >>> round(s.confidence, 3), round(s.low_conf, 3), s.flicker, s.vehicles_over_road, s.filled, s.no_sky_no_built
    (0.7, 0.2, 0.2, 0.5, 0.0, 0.5)
    """
    cp = np.asarray(class_pixels)
    if cp.ndim != 2 or cp.shape[0] < 1 or cp.shape[1] != len(groups):
        raise InputError(f"class_pixels: expected shape (frames >= 1, {len(groups)}), got {cp.shape}")
    n = cp.shape[0]
    arrays = []
    disagreement = np.full(n, np.nan) if road_disagreement is None else road_disagreement
    for name, arr in (("mean_confidence", mean_confidence), ("low_conf_share", low_conf_share), ("flicker", flicker),
                      ("road_disagreement", disagreement)):
        a = np.asarray(arr, dtype=np.float64)
        if a.shape != (n,):
            raise InputError(f"{name}: expected shape ({n},), got {a.shape}")
        arrays.append(a)
    shares = _frame_shares(cp, groups)
    if shares.shape[0] == 0:
        nan = float("nan")
        return ClipStats(n, _mean(arrays[0]), _mean(arrays[1]), _mean(arrays[2]), nan, nan, nan, road_disagreement=_mean(arrays[3]))
    veh, road = shares[:, _VEHICLE], shares[:, _ROAD]
    no_sky = shares[:, _SKY] < MIN_VIEW_SHARE
    over = (veh > road) & (veh >= MIN_VEHICLE_SHARE) & no_sky
    blind = no_sky & (shares[:, _BUILT] < MIN_VIEW_SHARE)
    filled = shares.max(axis=1) >= FILL_SHARE
    top = np.bincount(shares.argmax(axis=1)[filled], minlength=len(GROUPS))
    return ClipStats(
        n_frames=n, confidence=_mean(arrays[0]), low_conf=_mean(arrays[1]), flicker=_mean(arrays[2]),
        vehicles_over_road=float(over.mean()), filled=float(filled.mean()), no_sky_no_built=float(blind.mean()),
        filled_group=GROUPS[int(top.argmax())] if filled.any() else "", road_disagreement=_mean(arrays[3]),
    )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def verdict(stats: ClipStats) -> TrustVerdict:
    """``low`` with one reason per failed check (thresholds: the module's constants), else ``ok``.

    A statistic that is NaN (not measured) fails no check.

    >>> v = verdict(ClipStats(12, confidence=0.6, low_conf=0.4, flicker=0.05, vehicles_over_road=1.0, filled=0.5,
    ...                       no_sky_no_built=1.0, filled_group="vehicle"))
    >>> v.trust, len(v.reasons)
    ('low', 5)
    >>> v.reasons[0]
    'the model is unsure of what it sees (mean confidence 60%, expected at least 70%)'
    """
    if not isinstance(stats, ClipStats):
        raise InputError(f"verdict needs ClipStats, got {type(stats).__name__}")
    reasons: list[str] = []

    def above(x: float, limit: float) -> bool:
        return not math.isnan(x) and x > limit

    if not math.isnan(stats.confidence) and stats.confidence < MIN_MEAN_CONFIDENCE:
        reasons.append(
            f"the model is unsure of what it sees (mean confidence {_pct(stats.confidence)}, "
            f"expected at least {_pct(MIN_MEAN_CONFIDENCE)})"
        )
    if above(stats.low_conf, MAX_LOW_CONF_SHARE):
        reasons.append(
            f"{_pct(stats.low_conf)} of the picture is read with low confidence (expected at most {_pct(MAX_LOW_CONF_SHARE)})"
        )
    if above(stats.flicker, MAX_FLICKER):
        reasons.append(
            f"the labels jump between frames ({_pct(stats.flicker)} of pixels change class along the motion "
            f"(label change along optical flow), expected at most {_pct(MAX_FLICKER)})"
        )
    if above(stats.vehicles_over_road, MAX_VEHICLES_OVER_ROAD):
        reasons.append(
            f"vehicles cover more of the picture than the road they stand on in {_pct(stats.vehicles_over_road)} of frames "
            "with no sky in view (as in a car park filmed from above, not a street-level view)"
        )
    if above(stats.filled, MAX_FILLED_FRAMES):
        what = group_label(stats.filled_group).lower() if stats.filled_group else "one thing"
        reasons.append(
            f"in {_pct(stats.filled)} of frames the model reads almost the whole picture as {what} "
            "(it cannot make out a street scene; e.g. footage filmed from above)"
        )
    if above(stats.no_sky_no_built, MAX_NO_SKY_NO_BUILT):
        reasons.append(
            f"no sky and no buildings in {_pct(stats.no_sky_no_built)} of frames (a street-level view shows one or the other)"
        )
    if above(stats.road_disagreement, MAX_ROAD_DISAGREEMENT):
        reasons.append(
            f"the road model reads {_pct(stats.road_disagreement)} of the picture as road where the segmenter reads "
            f"something else (expected at most {_pct(MAX_ROAD_DISAGREEMENT)}; e.g. the ground seen from above)"
        )
    return TrustVerdict("low" if reasons else "ok", tuple(reasons), stats)


def assess(
    class_pixels: np.ndarray, groups: Sequence[str], mean_confidence: np.ndarray, low_conf_share: np.ndarray,
    flicker: np.ndarray, road_disagreement: np.ndarray | None = None,
) -> TrustVerdict:
    """:func:`verdict` of :func:`clip_stats` of per-frame arrays."""
    return verdict(clip_stats(class_pixels, groups, mean_confidence, low_conf_share, flicker, road_disagreement))


def assess_measurements(m: ClipMeasurements) -> TrustVerdict:
    """The verdict of one clip's measurements (what ingest stores with the run).

    The stability check judges ``m.label_change`` (label change along motion); measurements without
    it (made by hand, or read back from a Parquet folder, which keeps the raw flicker only) fail no
    stability check rather than being judged on the raw flicker, which grows with the sampling gap.
    The class mix is the segmenter's own (``m.segmenter_class_pixels`` where a road model ran, else
    ``m.class_pixels``); ``m.road_disagreement`` is judged where a road model ran (measurements read back
    from Parquet keep neither: they are judged on the fused class mix, without that check).
    """
    if not isinstance(m, ClipMeasurements):
        raise InputError(f"expected ClipMeasurements, got {type(m).__name__}")
    change = m.label_change if m.label_change is not None else np.full(m.n, np.nan)
    own = m.segmenter_class_pixels if m.segmenter_class_pixels is not None else m.class_pixels
    return assess(own, m.run.class_set.groups, m.mean_confidence, m.low_conf_share, change, m.road_disagreement)


def left_out_note(n_clips: int) -> str:
    """The line every page and report shows under its numbers ("" when no clip was left out).

    >>> left_out_note(2)
    '2 clips left out as low trust (a heuristic; see `urbanlens clips`)'
    >>> left_out_note(1), left_out_note(0)
    ('1 clip left out as low trust (a heuristic; see `urbanlens clips`)', '')
    """
    if isinstance(n_clips, bool) or not isinstance(n_clips, int | np.integer) or n_clips < 0:
        raise InputError(f"clips left out {n_clips!r}; expected a whole number of at least 0")
    if n_clips == 0:
        return ""
    return f"{n_clips} clip{'s' if n_clips != 1 else ''} left out as low trust (a heuristic; see `urbanlens clips`)"
