"""City indicators: each one a ratio of per-frame sums, with its formula and a source.

Every indicator is defined at frame level by a numerator and a denominator expression over the
``frames`` table and aggregated as a ratio of sums, ``Σ num / Σ den``, over whatever cell the
caller groups by (city, camera, district, H3 cell, hour of day, weekday, day, or several of these)
within a time window. A *share* indicator is a pixel ratio; a *mean* indicator has denominator 1
per frame where it was measured. Every value carries n_frames, n_clips and a 95% interval with
clips as clusters (:mod:`analytics.stats`); cells with fewer than ``min_frames`` frames are missing.

``void`` pixels never enter a denominator: ``valid_px`` is all pixels minus void.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import h3
import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.selection import FrameSource, Selection
from analytics.stats import t_quantile_975
from analytics.taxonomy import VALID_GROUPS, group_label


@dataclass(frozen=True, kw_only=True)
class Indicator:
    """One indicator: ``value = Σ numerator / Σ denominator`` over the frames of a cell.

    ``numerator`` and ``denominator`` are fixed SQL expressions over one row of ``frames``; a frame
    enters an indicator only where its denominator is positive (NULL leaves it out).
    """

    name: str
    label: str  # the full title, in chart titles and reports
    unit: str  # "%" for shares shown as percentages, otherwise a unit of the mean
    numerator: str
    denominator: str
    formula: str
    source: str
    theme: str
    heuristic: bool = False
    guidance: str = ""  # when the indicator applies and how to read it (shown beside its formula)
    digits: int | None = None  # decimals of a displayed mean (None: analytics.formatting.MEAN_DIGITS)
    levels: tuple[str, ...] = ()  # an ordinal indicator: names of the levels 0, 1, 2, ... its value is a mean of
    direction: str = ""  # which way is better: "higher", "lower" or "neutral"; "" takes its theme's (THEME_BETTER)
    short_label: str = ""  # at most SHORT_LABEL_CHARS characters, for pickers and tiles; "" takes ``label`` when that is short

    def __post_init__(self) -> None:
        if self.direction not in ("", *BETTER_DIRECTIONS):
            raise InputError(f"indicator {self.name!r}: direction {self.direction!r}; expected one of {', '.join(BETTER_DIRECTIONS)}")
        short = self.short_label or self.label
        if len(short) > SHORT_LABEL_CHARS:
            raise InputError(f"indicator {self.name!r}: short label {short!r} has {len(short)} characters; pickers and tiles "
                             f"fit {SHORT_LABEL_CHARS} (set short_label)")
        object.__setattr__(self, "short_label", short)

    @property
    def is_share(self) -> bool:
        return self.unit == "%"

    @property
    def better(self) -> str:
        """Which way is better: 'higher' (more green), 'lower' (more damage is worse) or 'neutral' (a description).

        Every map colours by it (:func:`analytics.visual.layers.indicator_scale`).

        >>> INDICATORS["green_view"].better, INDICATORS["distress_share"].better, INDICATORS["sky_view"].better
        ('higher', 'lower', 'neutral')
        """
        return self.direction or THEME_BETTER.get(self.theme, "neutral")

    def level_name(self, value: float) -> str:
        """Name of the level nearest ``value`` for an ordinal indicator (:attr:`levels`); ``""`` otherwise or when missing.

        >>> INDICATORS["congestion"].level_name(1.4), INDICATORS["congestion"].level_name(2.5), INDICATORS["green_view"].level_name(0.3)
        ('moderate', 'jammed', '')
        """
        if not self.levels or value is None or math.isnan(value):
            return ""
        return self.levels[min(len(self.levels) - 1, max(0, math.floor(value + 0.5)))]


BETTER_DIRECTIONS = ("higher", "lower", "neutral")
SHORT_LABEL_CHARS = 22
"""The longest label an indicator picker or tile shows uncut (the overview's narrow column)."""
THEME_BETTER = {"green": "higher", "pedestrians": "higher", "congestion": "lower", "damage": "lower", "quality": "higher",
                "form": "neutral", "land cover": "neutral"}
"""Which way is better for the indicators of a theme, unless an indicator says otherwise (its ``direction``)."""


def _share(*, name: str, label: str, numerator: str, formula: str, source: str, theme: str, short_label: str = "") -> Indicator:
    """A pixel share: ``numerator / valid pixels`` (void left out), shown in percent."""
    return Indicator(name=name, label=label, unit="%", numerator=numerator, denominator="valid_px", formula=formula,
                     source=source, theme=theme, short_label=short_label)


CONGESTION_LEVELS = ("free", "moderate", "heavy", "jammed")
"""Level of service, 0 to 3 (a heuristic, see :func:`congestion_level`)."""
OCCUPANCY_THRESHOLDS = (0.12, 0.25, 0.40)
"""Road occupancy (vehicle / (vehicle + road) pixels) at which moderate, heavy and jammed start."""
STATIONARY_JAM = 0.50
"""Vehicle stationarity from which a full road counts as standing still."""

PEDESTRIAN_DWELL_S = 10.0
"""Assumed seconds a pedestrian stays in view of a fixed camera: about 14 m of footway at 1.4 m/s
(walking speed as in the Highway Capacity Manual, ch. 24). Not measured: the pipeline keeps no tracks."""


def _frame_congestion_sql() -> str:
    """SQL of one frame's congestion level (0 free … 3 jammed): :func:`congestion_level` on that frame's
    occupancy ``vehicle_px / (vehicle_px + road_px)`` and stationarity (NULL, the clip's first frame, as 0).
    Built from the constants above, never from user text."""
    occ = "(CAST(vehicle_px AS DOUBLE) / nullif(vehicle_px + road_px, 0))"
    stat = "coalesce(vehicle_stationarity, 0)"
    low, mid, high = OCCUPANCY_THRESHOLDS
    return (
        f"CASE WHEN {occ} >= {high} AND {stat} >= {STATIONARY_JAM} THEN 3 "
        f"WHEN {occ} >= {high} OR ({occ} >= {mid} AND {stat} >= {STATIONARY_JAM}) THEN 2 "
        f"WHEN {occ} >= {low} THEN 1 ELSE 0 END"
    )


_LANDCOVER_SOURCE = "Pixel-share street-view metrics as in Gong et al. 2018, Building and Environment 134:155–167"
_INDICATORS: list[Indicator] = [
    _share(name=f"share_{g}", label=f"{group_label(g)} share", numerator=f"{g}_px", formula=f"{g} pixels / valid pixels",
           source=_LANDCOVER_SOURCE, theme="land cover", short_label=f"{group_label(g, short=True)} share")
    for g in VALID_GROUPS
    if g != "damage"
]
_INDICATORS += [
    _share(
        name="green_view", label="Green view index", numerator="vegetation_px", formula="vegetation pixels / valid pixels",
        source="Li et al. 2015, 'Assessing street-level urban greenery using Google Street View and a modified green view "
        "index', Urban Forestry & Urban Greening 14(3):675–685",
        theme="green",
    ),
    _share(
        name="green_space", label="Green space", numerator="vegetation_px + terrain_px",
        formula="(vegetation + terrain pixels) / valid pixels",
        source="Green view index extended with ground cover (terrain), cf. Ye et al. 2019, Landscape and Urban Planning 191",
        theme="green",
    ),
    _share(
        name="sky_view", label="Sky view", numerator="sky_px", formula="sky pixels / valid pixels",
        source="Street-view sky view factor, Gong et al. 2018, Building and Environment 134:155–167", theme="form",
    ),
    _share(
        name="enclosure", label="Street enclosure", numerator="built_px + vegetation_px",
        formula="(built + vegetation pixels) / valid pixels",
        source="Ewing & Handy 2009, 'Measuring the unmeasurable', Journal of Urban Design 14(1):65–84; pixel form as in "
        "Ma et al. 2021, Cities 110",
        theme="form",
    ),
    _share(
        name="pedestrian_share", label="Pedestrian pixel share", numerator="person_px",
        formula="(person + rider pixels) / valid pixels",
        source="Pixel share of people; Cityscapes' rider class counts as a person", theme="pedestrians",
    ),
    Indicator(
        name="people_per_frame", label="People per frame", unit="people", numerator="n_person", denominator="1",
        formula="mean over frames of the number of person blobs (connected components above a minimum area)",
        source="Connected-component count of the person mask; undercounts groups that touch", theme="pedestrians",
        heuristic=True,
    ),
    Indicator(
        name="people_per_hour", label="Estimated people per hour", short_label="People per hour", unit="people/h",
        numerator=f"n_person * {3600.0 / PEDESTRIAN_DWELL_S}", denominator="1",
        formula=f"mean people per sampled frame × 3600 s / {PEDESTRIAN_DWELL_S:g} s assumed time a pedestrian stays in view",
        source="Little's law (L = λW: people in view = passes per hour × hours in view) with an assumed dwell time; "
        "not checked against manual counts",
        theme="pedestrians", heuristic=True, digits=0,
        guidance="An estimate of pedestrians passing a fixed camera per hour, for comparing places and hours, not a count. "
        f"It assumes each person stays in view {PEDESTRIAN_DWELL_S:g} s (about 14 m of footway at walking speed): a wider "
        "view or people who stand still make it too high, a narrow view too low. Meaningless for moving (dashcam) cameras.",
    ),
    Indicator(
        name="pedestrians_on_sidewalk", label="Pedestrians on sidewalks", short_label="People on sidewalks", unit="%", numerator="person_sidewalk_px",
        denominator="CASE WHEN person_sidewalk_px IS NOT NULL THEN person_px END",
        formula="person pixels inside zones with role 'sidewalk' / person pixels (cameras with sidewalk zones only)",
        source="Zone statistics over the segmentation mask (cf. supervision PolygonZone)", theme="pedestrians",
    ),
    Indicator(
        name="road_occupancy", label="Road occupancy", unit="%",
        numerator="CAST(vehicle_px AS DOUBLE) / nullif(vehicle_px + road_px, 0)",
        denominator="CASE WHEN vehicle_px + road_px > 0 THEN 1 END",
        formula="mean over frames of vehicle pixels / (vehicle + road pixels)",
        source="Image analogue of detector occupancy (share of roadway covered by vehicles), cf. Highway Capacity Manual",
        theme="congestion",
    ),
    Indicator(
        name="vehicle_stationarity", label="Vehicle stationarity", unit="%", numerator="vehicle_stationarity",
        denominator="CASE WHEN vehicle_stationarity IS NOT NULL THEN 1 END",
        formula="mean over frames of (vehicle pixels that were vehicle in the previous sampled frame / vehicle pixels)",
        source="Frame-differencing of vehicle masks; a jam holds still, flowing traffic does not", theme="congestion",
        heuristic=True,
    ),
    Indicator(
        name="vehicles_per_frame", label="Vehicles per frame", unit="vehicles", numerator="n_vehicle", denominator="1",
        formula="mean over frames of the number of vehicle blobs", source="Connected-component count of the vehicle mask",
        theme="congestion", heuristic=True,
    ),
    Indicator(
        name="congestion", label="Congestion level", unit="0–3",
        numerator=_frame_congestion_sql(), denominator="CASE WHEN vehicle_px + road_px > 0 THEN 1 END",
        formula="mean over frames of the level of service, 0 free, 1 moderate, 2 heavy, 3 jammed; per frame jammed when road "
        f"occupancy ≥ {OCCUPANCY_THRESHOLDS[2]:.0%} and vehicle stationarity ≥ {STATIONARY_JAM:.0%}, heavy when occupancy ≥ "
        f"{OCCUPANCY_THRESHOLDS[2]:.0%} or ≥ {OCCUPANCY_THRESHOLDS[1]:.0%} with stationarity ≥ {STATIONARY_JAM:.0%}, moderate "
        f"when occupancy ≥ {OCCUPANCY_THRESHOLDS[0]:.0%}, else free; the label is the level nearest the mean",
        source="Level-of-service classes after the Highway Capacity Manual, from image occupancy and stationarity; thresholds "
        "set on the demo city's design and looked at on the car-park sample clip only, not calibrated against detector counts",
        theme="congestion", heuristic=True, digits=1, levels=CONGESTION_LEVELS,
        guidance="A heuristic level of service for planners: 0 free to 3 jammed. Parked cars read as standing traffic, so "
        "a kerb lined with parked cars looks heavier than it is.",
    ),
    Indicator(
        name="damage_ratio", label="Road damage by model", unit="%", numerator="damage_px",
        denominator="CASE WHEN damage_px IS NOT NULL THEN road_px + damage_px END",
        formula="damage pixels / (road + damage pixels), models with damage classes only",
        source="Pixel share of damage classes of a road-damage model", theme="damage",
        guidance="Applies only to footage analysed with a model that has damage classes (crack, pothole); it is missing "
        "elsewhere. Prefer it to Road distress where both exist: the model was trained on labelled damage.",
    ),
    Indicator(
        name="distress_share", label="Road distress", unit="%", numerator="distress_crack_px + distress_pothole_px",
        denominator="CASE WHEN distress_crack_px IS NOT NULL THEN road_px END",
        formula="(crack-like + pothole-like pixels) / road pixels; an image heuristic over road pixels",
        source="Dark thin structures (black-hat morphology) and dark compact blobs on road pixels; checked on synthetic road "
        "textures with drawn cracks and holes only",
        theme="damage", heuristic=True,
        guidance="Applies where the model has no damage classes (the default street-scene models): an image measure of dark "
        "thin lines and dark blobs on road pixels. Shadows, stains, manholes and wet patches read as distress; use it to "
        "rank streets to inspect, never as a survey. Where a damage model ran, read Road damage by model instead.",
    ),
    Indicator(
        name="mean_confidence", label="Model confidence", unit="%", numerator="mean_confidence",
        denominator="CASE WHEN mean_confidence IS NOT NULL THEN 1 END",
        formula="mean over frames of the mean per-pixel softmax maximum", source="Softmax confidence of the segmentation model",
        theme="quality",
    ),
    Indicator(
        name="low_confidence_share", label="Low-confidence pixels", unit="%", numerator="low_conf_share",
        denominator="CASE WHEN low_conf_share IS NOT NULL THEN 1 END",
        formula="mean over frames of the share of pixels whose softmax maximum is below the low-confidence threshold",
        source="Softmax confidence of the segmentation model", theme="quality", direction="lower",
    ),
    Indicator(
        name="flicker", label="Flicker", unit="%", numerator="flicker", denominator="CASE WHEN flicker IS NOT NULL THEN 1 END",
        formula="mean over frames of the share of pixels whose class changed since the previous sampled frame",
        source="Temporal consistency of the segmentation", theme="quality", direction="lower",
    ),
]
INDICATORS: dict[str, Indicator] = {i.name: i for i in _INDICATORS}
"""All indicators by name: adding one is one entry in ``_INDICATORS`` above (every face reads this registry)."""

HEADLINE = ("green_view", "sky_view", "enclosure", "pedestrian_share", "people_per_frame", "people_per_hour", "road_occupancy",
            "vehicle_stationarity", "congestion", "damage_ratio", "distress_share")
"""Indicators shown first on the dashboard, in reports and by the CLI."""

GROUPINGS: dict[str, str] = {
    "city": "'city'",
    "camera": "f.camera_id",
    "district": "coalesce(f.district_id, '(outside districts)')",
    "h3": "h3m.cell",
    "hour": "CAST(hour(f.ts) AS INTEGER)",
    "weekday": "CAST(isodow(f.ts) AS INTEGER)",
    "day": "CAST(f.ts AS DATE)",
}
"""Groupings and their SQL key expressions (fixed strings; no user text enters SQL).

Adding a grouping is one entry here: the CLI's ``--by`` choices and the dashboard's export are built from it."""

TRUSTED_FRAMES = "f.low_trust IS NOT TRUE"
"""The condition on ``frames f`` that leaves out the frames of low-trust clips (:mod:`analytics.trust`);
a clip stored before verdicts existed (NULL, "not checked") counts."""

PLACED_FRAMES = "f.lon IS NOT NULL AND f.lat IS NOT NULL"
"""The condition on ``frames f`` of frames with a position: a moving camera's frame outside its GPS track (or in a gap)
has none (NULL) and counts for its camera, hour and day but for no district or H3 cell."""

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

__all__ = [
    "BETTER_DIRECTIONS",
    "CONGESTION_LEVELS",
    "COUNT_INDICATORS",
    "GROUPINGS",
    "HEADLINE",
    "INDICATORS",
    "OCCUPANCY_THRESHOLDS",
    "PEDESTRIAN_DWELL_S",
    "SHORT_LABEL_CHARS",
    "STATIONARY_JAM",
    "THEME_BETTER",
    "TRUSTED_FRAMES",
    "WEEKDAYS",
    "CountIndicator",
    "Indicator",
    "compute",
    "count_rates",
    "congestion_with_tracks",
    "people_per_hour_basis",
    "poisson_interval",
    "congestion_level",
    "data_period",
    "h3_cells",
    "period_filter",
    "selection_filter",
    "to_wide",
    "PLACED_FRAMES",
]


def congestion_level(occupancy: float, stationarity: float) -> str:
    """Congestion level from road occupancy and vehicle stationarity (a documented heuristic).

    - ``jammed``: occupancy ≥ 0.40 and stationarity ≥ 0.50 (a full road that holds still)
    - ``heavy``: occupancy ≥ 0.40, or occupancy ≥ 0.25 with stationarity ≥ 0.50
    - ``moderate``: occupancy ≥ 0.12
    - ``free``: below that; missing occupancy gives ``"unknown"``

    Thresholds are heuristics set on the demo city's design and sanity-checked on the car-park
    sample footage (parked cars read as high stationarity); they are not calibrated against
    loop-detector counts.
    The ``congestion`` indicator applies the same rule to each frame (:func:`_frame_congestion_sql`)
    and averages the levels 0–3.

    >>> congestion_level(0.05, 0.9), congestion_level(0.2, 0.1), congestion_level(0.3, 0.7), congestion_level(0.5, 0.8)
    ('free', 'moderate', 'heavy', 'jammed')
    >>> congestion_level(float('nan'), 0.5)
    'unknown'
    """
    if occupancy is None or math.isnan(occupancy):
        return "unknown"
    stat = 0.0 if stationarity is None or math.isnan(stationarity) else stationarity
    low, mid, high = OCCUPANCY_THRESHOLDS
    if occupancy >= high and stat >= STATIONARY_JAM:
        return "jammed"
    if occupancy >= high or (occupancy >= mid and stat >= STATIONARY_JAM):
        return "heavy"
    if occupancy >= low:
        return "moderate"
    return "free"


def period_filter(start: date | None, end: date | None, column: str = "f.ts") -> tuple[list[str], dict[str, Any]]:
    """SQL conditions and parameters for inclusive dates: ``column >= start 00:00`` and ``column < (end + 1 day) 00:00``.

    ``column`` is a fixed column name chosen by the caller, never user text.

    >>> period_filter(date(2026, 11, 9), None, "ts")
    (['ts >= $t0'], {'t0': datetime.datetime(2026, 11, 9, 0, 0)})
    """
    where: list[str] = []
    params: dict[str, Any] = {}
    if start is not None:
        where.append(f"{column} >= $t0")
        params["t0"] = datetime.combine(start, time.min)
    if end is not None:
        where.append(f"{column} < $t1")
        params["t1"] = datetime.combine(end + timedelta(days=1), time.min)
    return where, params


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> list[str | None]:
    """H3 cell (hex string) of each point at ``resolution`` (0–15), the key of the ``h3`` grouping; None for a point
    without a position (NaN or None: a frame outside its GPS track).

    >>> h3_cells(np.array([4.9, np.nan]), np.array([52.37, np.nan]), 5)
    ['85196953fffffff', None]
    """
    if not isinstance(resolution, int) or not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution {resolution!r} must be a whole number from 0 to 15")
    return [h3.latlng_to_cell(float(la), float(lo), resolution) if _finite(lo) and _finite(la) else None for lo, la in zip(lon, lat)]


def _finite(value: object) -> bool:
    return isinstance(value, int | float | np.number) and math.isfinite(float(value))


def _check_args(by: Sequence[str], names: Sequence[str]) -> None:
    bad = [b for b in by if b not in GROUPINGS]
    if bad:
        raise InputError(f"unknown grouping {bad[0]!r}; choose from {', '.join(GROUPINGS)}")
    if len(set(by)) != len(by):
        raise InputError(f"grouping {list(by)} repeats a key")
    unknown = [n for n in names if n not in INDICATORS]
    if unknown:
        raise InputError(f"unknown indicator {unknown[0]!r}; choose from {', '.join(INDICATORS)}")


def compute(
    source: FrameSource,
    selection: Selection,
    by: str | Sequence[str] = "district",
    indicators: Sequence[str] | None = None,
    h3_resolution: int = 8,
) -> pd.DataFrame:
    """Indicators per cell of the frames of ``selection``, long format.

    Returns one row per (cell, indicator) with the grouping keys as columns, then ``indicator``,
    ``value``, ``ci_low``, ``ci_high``, ``n_frames``, ``n_clips`` and ``enough`` (False where the
    cell has fewer than ``selection.min_frames`` frames for that indicator; value and interval are
    NaN there). The selection's period is inclusive days and its hours an inclusive hour-of-day
    range (:class:`analytics.selection.Selection`). Shares are fractions in [0, 1]. Frames of
    low-trust clips (a heuristic verdict, see :mod:`analytics.trust`) are left out unless the
    selection includes them.
    """
    if not isinstance(selection, Selection):
        raise InputError(f"selection {selection!r} is not a Selection; build one with analytics.selection.Selection(...)")
    keys = [by] if isinstance(by, str) else list(by)
    names = list(indicators) if indicators else list(INDICATORS)
    _check_args(keys, names)
    where, params = selection_filter(selection)
    if {"district", "h3"} & set(keys):  # a frame without a position counts for its camera, not for a place
        where.append(PLACED_FRAMES)
    join = ""
    cur = source.cursor()
    try:
        if "h3" in keys:
            pts = cur.execute(
                f"SELECT DISTINCT f.lon, f.lat FROM frames f WHERE {' AND '.join(where)}", params
            ).df()
            pts["cell"] = h3_cells(pts["lon"].to_numpy(), pts["lat"].to_numpy(), h3_resolution)
            cur.register("_h3map", pts)
            join = "JOIN _h3map h3m ON f.lon = h3m.lon AND f.lat = h3m.lat"
        agg = cur.execute(_cell_sums_sql(keys, names, join, where), params).df()
    finally:
        cur.close()
    return _finish(agg, keys, names, selection.min_frames)


def selection_filter(selection: Selection, *, trust: bool = True) -> tuple[list[str], dict[str, Any]]:
    """The WHERE conditions on ``frames f`` and their parameters for the frames of ``selection``.

    Active frames of days ``start``..``end`` inclusive, of any of its cameras and districts, in
    its hours of day (inclusive), and, unless the selection includes them or ``trust`` is False,
    not of a low-trust clip (:data:`TRUSTED_FRAMES`). The conditions are fixed text; every value
    is a ``$name`` parameter.

    >>> where, params = selection_filter(Selection(start=date(2026, 11, 9), districts=["riverside"], hours=(7, 9)))
    >>> where
    ['f.active', 'f.ts >= $t0', 'f.district_id IN (SELECT unnest($dists))', 'hour(f.ts) BETWEEN $h0 AND $h1', 'f.low_trust IS NOT TRUE']
    >>> params
    {'t0': datetime.datetime(2026, 11, 9, 0, 0), 'dists': ['riverside'], 'h0': 7, 'h1': 9}
    """
    window, params = period_filter(selection.start, selection.end)
    where = ["f.active", *window]
    if selection.cameras:
        where.append("f.camera_id IN (SELECT unnest($cams))")
        params["cams"] = list(selection.cameras)
    if selection.districts:
        where.append("f.district_id IN (SELECT unnest($dists))")
        params["dists"] = list(selection.districts)
    if selection.hours is not None:
        where.append("hour(f.ts) BETWEEN $h0 AND $h1")
        params["h0"], params["h1"] = selection.hours
    if trust and not selection.include_low_trust:
        where.append(TRUSTED_FRAMES)
    return where, params


def _cell_sums_sql(keys: Sequence[str], names: Sequence[str], join: str, where: Sequence[str]) -> str:
    """SQL of the per-cell sums that :func:`_finish` turns into ratio estimates with intervals.

    Frames are summed per clip run first (y, x and frame count per indicator), then per cell:
    n frames, k clips, sums Y, X and the cross-products yy, xy, xx that the linearised variance
    of a ratio estimator needs. The SQL is built from fixed strings (groupings, indicator
    formulas); values enter only as parameters named in ``where``.
    """
    key_sql = [f"{GROUPINGS[k]} AS k_{k}" for k in keys]
    group = ", ".join(f"k_{k}" for k in keys)
    parts_base, parts_clip, parts_cell = [], [], []
    for j, name in enumerate(names):
        ind = INDICATORS[name]
        parts_base.append(f"CAST({ind.numerator} AS DOUBLE) AS y{j}, CAST({ind.denominator} AS DOUBLE) AS x{j}")
        parts_clip.append(
            f"sum(y{j}) FILTER (WHERE x{j} > 0) AS y{j}, sum(x{j}) FILTER (WHERE x{j} > 0) AS x{j}, "
            f"count(*) FILTER (WHERE x{j} > 0) AS f{j}"
        )
        parts_cell.append(
            f"sum(f{j}) AS n{j}, count(*) FILTER (WHERE f{j} > 0) AS k{j}, sum(y{j}) AS Y{j}, sum(x{j}) AS X{j}, "
            f"sum(y{j} * y{j}) AS yy{j}, sum(x{j} * y{j}) AS xy{j}, sum(x{j} * x{j}) AS xx{j}"
        )
    return (
        f"WITH base AS (SELECT {', '.join(key_sql)}, f.run_id, {', '.join(parts_base)} "
        f"FROM frames f {join} WHERE {' AND '.join(where)}), "
        f"per_clip AS (SELECT {group}, run_id, {', '.join(parts_clip)} FROM base GROUP BY {group}, run_id) "
        f"SELECT {group}, {', '.join(parts_cell)} FROM per_clip GROUP BY {group} ORDER BY {group}"
    )


_T_TABLE = np.array([np.nan] + [t_quantile_975(d) for d in range(1, 31)])


def _t975(k: np.ndarray) -> np.ndarray:
    """t quantile for k clusters (k − 1 degrees of freedom); NaN below 2 clusters."""
    df = k - 1
    out = np.where(df > 30, 1.96, _T_TABLE[np.clip(df, 0, 30)])
    return np.where(df >= 1, out, np.nan)


def _finish(agg: pd.DataFrame, keys: list[str], names: list[str], min_frames: int) -> pd.DataFrame:
    """Turn per-cell sums into values and intervals (vectorised form of stats.ratio_interval)."""
    cols = ["indicator", "value", "ci_low", "ci_high", "n_frames", "n_clips", "enough"]
    if not names or agg.empty:
        return pd.DataFrame(columns=[*keys, *cols])
    m = len(agg)
    arr = {c: agg[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in agg.columns if not c.startswith("k_")}
    values, lows, highs, ns, ks, oks = [], [], [], [], [], []
    for j, name in enumerate(names):
        n = np.nan_to_num(arr[f"n{j}"]).astype(np.int64)
        k = np.nan_to_num(arr[f"k{j}"]).astype(np.int64)
        big_y, big_x = arr[f"Y{j}"], arr[f"X{j}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = big_y / big_x
            resid = np.clip(arr[f"yy{j}"] - 2 * r * arr[f"xy{j}"] + r * r * arr[f"xx{j}"], 0, None)
            var = np.where(k >= 2, k / np.maximum(k - 1, 1) * resid / big_x**2, np.nan)
        half = _t975(k) * np.sqrt(var)
        lo, hi = r - half, r + half
        if INDICATORS[name].is_share:
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        elif INDICATORS[name].levels:  # a mean of levels 0..L-1 stays within them
            lo, hi = np.clip(lo, 0.0, len(INDICATORS[name].levels) - 1.0), np.clip(hi, 0.0, len(INDICATORS[name].levels) - 1.0)
        else:
            lo = np.clip(lo, 0.0, None)
        ok = (n >= min_frames) & (np.nan_to_num(big_x) > 0)
        values.append(np.where(ok, r, np.nan))
        lows.append(np.where(ok, lo, np.nan))
        highs.append(np.where(ok, hi, np.nan))
        ns.append(n)
        ks.append(k)
        oks.append(ok)
    out = {key: np.tile(agg[f"k_{key}"].to_numpy(), len(names)) for key in keys}
    out["indicator"] = np.repeat(np.array(names, dtype=object), m)
    out["value"] = np.concatenate(values)
    out["ci_low"] = np.concatenate(lows)
    out["ci_high"] = np.concatenate(highs)
    out["n_frames"] = np.concatenate(ns)
    out["n_clips"] = np.concatenate(ks)
    out["enough"] = np.concatenate(oks)
    res = pd.DataFrame(out)
    return res.sort_values([*keys, "indicator"], kind="stable", ignore_index=True)


def to_wide(long: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per cell: ``<ind>``, ``<ind>_low``, ``<ind>_high``, ``<ind>_n_frames``, then cell n_frames/n_clips.

    Adds ``congestion_level`` where road occupancy was computed.
    """
    keys = list(keys)
    if long.empty:
        return pd.DataFrame(columns=keys)
    names = list(dict.fromkeys(long["indicator"]))
    base = long.groupby(keys, dropna=False, sort=True).agg(n_frames=("n_frames", "max"), n_clips=("n_clips", "max")).reset_index()
    for name in names:
        part = long[long["indicator"] == name].set_index(keys)
        base = base.join(
            part[["value", "ci_low", "ci_high", "n_frames"]].rename(
                columns={"value": name, "ci_low": f"{name}_low", "ci_high": f"{name}_high", "n_frames": f"{name}_n_frames"}
            ),
            on=keys,
        )
    if "road_occupancy" in names:
        stat = base["vehicle_stationarity"] if "vehicle_stationarity" in names else pd.Series(np.nan, index=base.index)
        base["congestion_level"] = [congestion_level(o, s) for o, s in zip(base["road_occupancy"], stat)]
    return base


def data_period(source: FrameSource) -> tuple[date | None, date | None]:
    """First and last day with active frames."""
    row = source.query_df("SELECT min(ts) AS a, max(ts) AS b FROM frames WHERE active").iloc[0]
    if pd.isna(row["a"]):
        return None, None
    return pd.Timestamp(row["a"]).date(), pd.Timestamp(row["b"]).date()


# -- indicators from counts (tracks, line crossings, zone visits) -----------------------------

@dataclass(frozen=True, kw_only=True)
class CountIndicator:
    """One indicator from the count tables (:mod:`analytics.store.counts`), not from frames.

    ``classes`` are the tracked classes a crossing rate sums; ``kind`` says how the value is made:
    ``rate`` (crossings per hour of counted footage, with a Poisson interval), ``dwell_mean``,
    ``dwell_p85``, ``occupancy``, ``v85`` or ``stationary``.
    """

    name: str
    label: str
    unit: str
    kind: str
    formula: str
    source: str
    classes: tuple[str, ...] = ()
    digits: int = 0


_COUNT_SOURCE = ("Line counts by class and direction from tracked detections (ByteTrack-style tracker, docs/counting.md); "
                 "counts per hour as in Telraam's and manual traffic counts")
_POISSON = ("95% interval: Poisson, Byar's approximation to the exact (Garwood) interval for the count k, divided by the "
            "hours counted (Breslow & Day 1987, Statistical Methods in Cancer Research II, p. 69)")
COUNT_INDICATORS: dict[str, CountIndicator] = {i.name: i for i in [
    CountIndicator(name="people_per_hour_counted", label="People per hour (counted)", unit="people/h", kind="rate",
                   classes=("person",), formula="people crossing the camera's count lines / hours of counted footage; " + _POISSON,
                   source=_COUNT_SOURCE),
    CountIndicator(name="cyclists_per_hour", label="Cyclists per hour", unit="cyclists/h", kind="rate", classes=("cyclist",),
                   formula="cyclists (a person riding a bicycle) crossing the count lines / hours counted; " + _POISSON,
                   source=_COUNT_SOURCE),
    CountIndicator(name="vehicles_per_hour", label="Vehicles per hour", unit="vehicles/h", kind="rate",
                   classes=("car", "motorcycle", "bus", "truck"),
                   formula="cars, motorcycles, buses and trucks crossing the count lines / hours counted; " + _POISSON,
                   source=_COUNT_SOURCE),
    CountIndicator(name="mean_dwell", label="Mean dwell time", unit="s", kind="dwell_mean", digits=1,
                   formula="mean of (last − first time inside) over visits to dwell zones; visits cut by a clip's end are lower bounds",
                   source="Zone dwell of tracked objects (cf. supervision PolygonZone with a tracker; Gehl's stationary activities)"),
    CountIndicator(name="p85_dwell", label="85th-percentile dwell", unit="s", kind="dwell_p85", digits=1,
                   formula="85th percentile (linear interpolation) of visit dwell times in dwell zones",
                   source="Zone dwell of tracked objects"),
    CountIndicator(name="peak_occupancy", label="Peak occupancy", unit="people", kind="occupancy",
                   formula="most visits open at once in a dwell zone (enter and exit included)", source="Zone dwell of tracked objects"),
    CountIndicator(name="v85", label="V85 speed", unit="km/h", kind="v85",
                   formula="85th percentile of tracked vehicles' speeds (ground-calibrated cameras; speeds over 200 km/h "
                   "and very short tracks dropped)", source="Operating speed V85 as in road design practice (e.g. FHWA, "
                   "'Speed concepts: informational guide', 2009)"),
    CountIndicator(name="stationary_vehicles", label="Stationary tracked vehicles", unit="%", kind="stationary", digits=1,
                   formula="tracked vehicles that stood still over their track / tracked vehicles", source=_COUNT_SOURCE),
]}
"""Indicators from counts, by name; each face lists them from here beside :data:`INDICATORS`."""


def poisson_interval(k: np.ndarray | float, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of a Poisson mean from a count ``k`` (Byar's approximation to the exact interval).

    ``low = k (1 − 1/(9k) − z/(3√k))³`` (0 for k = 0), ``high = (k+1) (1 − 1/(9(k+1)) + z/(3√(k+1)))³``.
    Checked against the exact interval (chi-square quantiles): k = 10 gives 4.80–18.39 exactly, 0 gives
    0–3.69; against the exact limits for k = 1, 3, 5, 10, 20 the upper limit is within 0.2% and the lower within
    1% from k = 5 up (2.5% low at k = 3; at k = 1 it gives 0.013 where the exact limit is 0.025).

    >>> [round(float(v), 2) for v in poisson_interval(10)]
    [4.79, 18.39]
    >>> [round(float(v), 2) for v in poisson_interval(0)]
    [0.0, 3.67]
    """
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, k * (1 - 1 / (9 * k) - z / (3 * np.sqrt(k))) ** 3, 0.0)
    high = (k + 1) * (1 - 1 / (9 * (k + 1)) + z / (3 * np.sqrt(k + 1))) ** 3
    return np.clip(low, 0, None), high


def count_rates(crossings: pd.DataFrame, keys: Sequence[str] = ("camera_id",)) -> pd.DataFrame:
    """Crossing rates per hour of the ``rate`` indicators (:data:`COUNT_INDICATORS`) per cell of ``keys``.

    ``crossings`` are rows of :func:`analytics.store.counts.crossing_counts` (count and observed_s per
    line, direction, class and period). Per cell: ``value = 3600 · Σ count / T`` with ``T`` the
    seconds counted (each period's ``observed_s`` once, not once per class or direction), and the
    Poisson interval of the summed count scaled the same way. Columns: keys, indicator, value,
    ci_low, ci_high, count, hours.
    """
    keys = list(keys)
    cols = [*keys, "indicator", "value", "ci_low", "ci_high", "count", "hours"]
    if crossings.empty:
        return pd.DataFrame(columns=cols)
    period = [c for c in ("hour", "day", "clip") if c in crossings.columns]
    seconds = crossings.drop_duplicates([*dict.fromkeys(["camera_id", "line", *period, *keys])])
    hours = seconds.groupby(keys)["observed_s"].sum() / 3600.0
    if "line" not in keys:  # several lines count over the same footage
        hours = hours / seconds.groupby(keys)["line"].nunique().clip(lower=1)
    parts = []
    for ind in (i for i in COUNT_INDICATORS.values() if i.kind == "rate"):
        k = crossings[crossings["class"].isin(ind.classes)].groupby(keys)["count"].sum().reindex(hours.index, fill_value=0)
        low, high = poisson_interval(k.to_numpy())
        h = hours.to_numpy()
        parts.append(pd.DataFrame({"indicator": ind.name, "value": k.to_numpy() / h, "ci_low": low / h, "ci_high": high / h,
                                   "count": k.to_numpy(), "hours": h}, index=hours.index).reset_index())
    return pd.concat(parts, ignore_index=True)[cols]


def people_per_hour_basis(wide: pd.DataFrame, counted: pd.DataFrame) -> pd.DataFrame:
    """Per-camera rows (``camera_id``) with ``people_per_hour`` from the counts where the camera counts.

    ``counted`` is :func:`count_rates` by ``camera_id``. Such cameras get the counted rate and its
    interval and ``people_per_hour_basis`` = ``counted``; the others keep the estimate
    (``estimated``, :data:`PEDESTRIAN_DWELL_S`).
    """
    out = wide.copy()
    out["people_per_hour_basis"] = "estimated"
    people = counted[counted["indicator"] == "people_per_hour_counted"].set_index("camera_id") if not counted.empty else None
    if people is None or "camera_id" not in out.columns:
        return out
    hit = out["camera_id"].isin(people.index)
    for col, src in (("people_per_hour", "value"), ("people_per_hour_low", "ci_low"), ("people_per_hour_high", "ci_high")):
        out[col] = np.where(hit, out["camera_id"].map(people[src]), out[col] if col in out.columns else np.nan)
    out.loc[hit, "people_per_hour_basis"] = "counted"
    return out


def congestion_with_tracks(occupancy: float, stationarity: float, stationary_share: float | None) -> str:
    """:func:`congestion_level` with the share of stationary tracked vehicles in place of pixel
    stationarity where tracks exist (``stationary_share`` not None or NaN).

    >>> congestion_with_tracks(0.45, 0.1, 0.8), congestion_with_tracks(0.45, 0.1, None)
    ('jammed', 'heavy')
    """
    if stationary_share is None or math.isnan(stationary_share):
        return congestion_level(occupancy, stationarity)
    return congestion_level(occupancy, stationary_share)
