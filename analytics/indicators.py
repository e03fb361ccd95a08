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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.stats import t_quantile_975
from analytics.taxonomy import VALID_GROUPS, group_label

if TYPE_CHECKING:
    from analytics.store import Store


@dataclass(frozen=True)
class Indicator:
    """One indicator: ``value = Σ numerator / Σ denominator`` over the frames of a cell."""

    name: str
    label: str
    unit: str  # "%" for shares shown as percentages, otherwise a unit of the mean
    numerator: str
    denominator: str
    formula: str
    source: str
    theme: str
    heuristic: bool = False

    @property
    def is_share(self) -> bool:
        return self.unit == "%"


def _share(name: str, label: str, num: str, formula: str, source: str, theme: str) -> Indicator:
    return Indicator(name, label, "%", num, "valid_px", formula, source, theme)


_LANDCOVER_SOURCE = "Pixel-share street-view metrics as in Gong et al. 2018, Building and Environment 134:155–167"
_INDICATORS: list[Indicator] = [
    _share(f"share_{g}", f"{group_label(g)} share", f"{g}_px", f"{g} pixels / valid pixels", _LANDCOVER_SOURCE, "land cover")
    for g in VALID_GROUPS
    if g != "damage"
]
_INDICATORS += [
    _share(
        "green_view", "Green view index", "vegetation_px", "vegetation pixels / valid pixels",
        "Li et al. 2015, 'Assessing street-level urban greenery using Google Street View and a modified green view index', "
        "Urban Forestry & Urban Greening 14(3):675–685",
        "green",
    ),
    _share(
        "green_space", "Green space", "vegetation_px + terrain_px", "(vegetation + terrain pixels) / valid pixels",
        "Green view index extended with ground cover (terrain), cf. Ye et al. 2019, Landscape and Urban Planning 191",
        "green",
    ),
    _share(
        "sky_view", "Sky view", "sky_px", "sky pixels / valid pixels",
        "Street-view sky view factor, Gong et al. 2018, Building and Environment 134:155–167", "form",
    ),
    _share(
        "enclosure", "Street enclosure", "built_px + vegetation_px", "(built + vegetation pixels) / valid pixels",
        "Ewing & Handy 2009, 'Measuring the unmeasurable', Journal of Urban Design 14(1):65–84; pixel form as in "
        "Ma et al. 2021, Cities 110",
        "form",
    ),
    _share(
        "pedestrian_share", "Pedestrian use (pixel share)", "person_px", "(person + rider pixels) / valid pixels",
        "Pixel share of people; Cityscapes' rider class counts as a person", "pedestrians",
    ),
    Indicator(
        "people_per_frame", "People per frame", "people", "n_person", "1",
        "mean over frames of the number of person blobs (connected components above a minimum area)",
        "Connected-component count of the person mask; undercounts groups that touch", "pedestrians", heuristic=True,
    ),
    Indicator(
        "pedestrians_on_sidewalk", "Pedestrians on sidewalks", "%", "person_sidewalk_px",
        "CASE WHEN person_sidewalk_px IS NOT NULL THEN person_px END",
        "person pixels inside zones with role 'sidewalk' / person pixels (cameras with sidewalk zones only)",
        "Zone statistics over the segmentation mask (cf. supervision PolygonZone)", "pedestrians",
    ),
    Indicator(
        "road_occupancy", "Road occupancy", "%",
        "CAST(vehicle_px AS DOUBLE) / nullif(vehicle_px + road_px, 0)",
        "CASE WHEN vehicle_px + road_px > 0 THEN 1 END",
        "mean over frames of vehicle pixels / (vehicle + road pixels)",
        "Image analogue of detector occupancy (share of roadway covered by vehicles), cf. Highway Capacity Manual",
        "congestion",
    ),
    Indicator(
        "vehicle_stationarity", "Vehicle stationarity", "%", "vehicle_stationarity",
        "CASE WHEN vehicle_stationarity IS NOT NULL THEN 1 END",
        "mean over frames of (vehicle pixels that were vehicle in the previous sampled frame / vehicle pixels)",
        "Frame-differencing of vehicle masks; a jam holds still, flowing traffic does not", "congestion", heuristic=True,
    ),
    Indicator(
        "vehicles_per_frame", "Vehicles per frame", "vehicles", "n_vehicle", "1",
        "mean over frames of the number of vehicle blobs", "Connected-component count of the vehicle mask", "congestion",
        heuristic=True,
    ),
    Indicator(
        "damage_ratio", "Road damage (model)", "%", "damage_px", "CASE WHEN damage_px IS NOT NULL THEN road_px + damage_px END",
        "damage pixels / (road + damage pixels), models with damage classes only",
        "Pixel share of damage classes of a road-damage model", "damage",
    ),
    Indicator(
        "distress_share", "Road distress (heuristic)", "%", "distress_crack_px + distress_pothole_px",
        "CASE WHEN distress_crack_px IS NOT NULL THEN road_px END",
        "(crack-like + pothole-like pixels) / road pixels; an image heuristic over road pixels",
        "Dark thin structures (black-hat morphology) and dark compact blobs on road pixels; checked on synthetic road "
        "textures with drawn cracks and holes only",
        "damage", heuristic=True,
    ),
    Indicator(
        "mean_confidence", "Model confidence", "%", "mean_confidence", "CASE WHEN mean_confidence IS NOT NULL THEN 1 END",
        "mean over frames of the mean per-pixel softmax maximum", "Softmax confidence of the segmentation model", "quality",
    ),
    Indicator(
        "low_confidence_share", "Low-confidence pixels", "%", "low_conf_share",
        "CASE WHEN low_conf_share IS NOT NULL THEN 1 END",
        "mean over frames of the share of pixels whose softmax maximum is below the low-confidence threshold",
        "Softmax confidence of the segmentation model", "quality",
    ),
    Indicator(
        "flicker", "Flicker", "%", "flicker", "CASE WHEN flicker IS NOT NULL THEN 1 END",
        "mean over frames of the share of pixels whose class changed since the previous sampled frame",
        "Temporal consistency of the segmentation", "quality",
    ),
]
INDICATORS: dict[str, Indicator] = {i.name: i for i in _INDICATORS}
"""All indicators by name."""

HEADLINE = ("green_view", "sky_view", "enclosure", "pedestrian_share", "people_per_frame", "road_occupancy",
            "vehicle_stationarity", "damage_ratio", "distress_share")
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
"""Groupings and their SQL key expressions (fixed strings; no user text enters SQL)."""

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

CONGESTION_LEVELS = ("free", "moderate", "heavy", "jammed")
OCCUPANCY_THRESHOLDS = (0.12, 0.25, 0.40)
STATIONARY_JAM = 0.50


def congestion_level(occupancy: float, stationarity: float) -> str:
    """Congestion level from road occupancy and vehicle stationarity (a documented heuristic).

    - ``jammed``: occupancy ≥ 0.40 and stationarity ≥ 0.50 (a full road that holds still)
    - ``heavy``: occupancy ≥ 0.40, or occupancy ≥ 0.25 with stationarity ≥ 0.50
    - ``moderate``: occupancy ≥ 0.12
    - ``free``: below that; missing occupancy gives ``"unknown"``

    Thresholds are heuristics set on the demo city's design and sanity-checked on the car-park
    sample footage (parked cars read as high stationarity); they are not calibrated against
    loop-detector counts.

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


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length just before ``[start, end]`` (both inclusive).

    >>> previous_period(date(2026, 3, 8), date(2026, 3, 14))
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 7))
    """
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


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


def _check_args(by: Sequence[str], names: Sequence[str], start: date | None, end: date | None) -> None:
    bad = [b for b in by if b not in GROUPINGS]
    if bad:
        raise InputError(f"unknown grouping {bad[0]!r}; choose from {', '.join(GROUPINGS)}")
    if len(set(by)) != len(by):
        raise InputError(f"grouping {list(by)} repeats a key")
    unknown = [n for n in names if n not in INDICATORS]
    if unknown:
        raise InputError(f"unknown indicator {unknown[0]!r}; choose from {', '.join(INDICATORS)}")
    if start is not None and end is not None and start > end:
        raise InputError(f"the period starts ({start}) after it ends ({end}); give --from before --to")


def as_date(value: date | datetime | str | None, what: str) -> date | None:
    """A date from a date, a datetime or ``YYYY-MM-DD`` text (None or blank text: no date).

    >>> as_date("2026-11-09", "start"), as_date(" ", "start")
    (datetime.date(2026, 11, 9), None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date; use YYYY-MM-DD") from None


def compute(
    store: Store,
    by: str | Sequence[str] = "district",
    indicators: Sequence[str] | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    cameras: Sequence[str] | None = None,
    districts: Sequence[str] | None = None,
    hours: tuple[int, int] | None = None,
    h3_resolution: int = 8,
    min_frames: int | None = None,
) -> pd.DataFrame:
    """Indicators per cell, long format.

    Returns one row per (cell, indicator) with the grouping keys as columns, then ``indicator``,
    ``value``, ``ci_low``, ``ci_high``, ``n_frames``, ``n_clips`` and ``enough`` (False where the
    cell has fewer than ``min_frames`` frames for that indicator; value and interval are NaN
    there). ``start``/``end`` are inclusive dates; ``hours`` an inclusive hour-of-day range.
    Shares are fractions in [0, 1].
    """
    keys = [by] if isinstance(by, str) else list(by)
    names = list(indicators) if indicators else list(INDICATORS)
    d0, d1 = as_date(start, "start date"), as_date(end, "end date")
    _check_args(keys, names, d0, d1)
    if min_frames is None:
        from analytics.settings import load_settings

        min_frames = load_settings().min_frames
    if hours is not None and not (0 <= hours[0] <= hours[1] <= 23):
        raise InputError(f"hours {hours} must be a range within 0..23 with start <= end")
    window, params = period_filter(d0, d1)
    where = ["f.active", *window]
    if cameras:
        where.append("f.camera_id IN (SELECT unnest($cams))")
        params["cams"] = list(cameras)
    if districts:
        where.append("f.district_id IN (SELECT unnest($dists))")
        params["dists"] = list(districts)
    if hours is not None:
        where.append("hour(f.ts) BETWEEN $h0 AND $h1")
        params["h0"], params["h1"] = hours
    key_sql = [f"{GROUPINGS[k]} AS k_{k}" for k in keys]
    key_cols = [f"k_{k}" for k in keys]
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
    join = ""
    cur = store.cursor()
    try:
        if "h3" in keys:
            pts = cur.execute(
                f"SELECT DISTINCT f.lon, f.lat FROM frames f WHERE {' AND '.join(where)}", params
            ).df()
            from analytics.geo import h3_cells

            pts["cell"] = h3_cells(pts["lon"].to_numpy(), pts["lat"].to_numpy(), h3_resolution)
            cur.register("_h3map", pts)
            join = "JOIN _h3map h3m ON f.lon = h3m.lon AND f.lat = h3m.lat"
        group = ", ".join(key_cols)
        sql = (
            f"WITH base AS (SELECT {', '.join(key_sql)}, f.run_id, {', '.join(parts_base)} "
            f"FROM frames f {join} WHERE {' AND '.join(where)}), "
            f"per_clip AS (SELECT {group}, run_id, {', '.join(parts_clip)} FROM base GROUP BY {group}, run_id) "
            f"SELECT {group}, {', '.join(parts_cell)} FROM per_clip GROUP BY {group} ORDER BY {group}"
        )
        agg = cur.execute(sql, params).df()
    finally:
        cur.close()
    return _finish(agg, keys, names, min_frames)


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


def data_period(store: Store) -> tuple[date | None, date | None]:
    """First and last day with active frames."""
    row = store.query_df("SELECT min(ts) AS a, max(ts) AS b FROM frames WHERE active").iloc[0]
    if pd.isna(row["a"]):
        return None, None
    return pd.Timestamp(row["a"]).date(), pd.Timestamp(row["b"]).date()


def format_value(name: str, value: float, digits: int = 1) -> str:
    """A value for people: shares as percentages, means with their unit.

    Shares below 1% get one more digit so small differences stay visible.

    >>> format_value("green_view", 0.1834), format_value("people_per_frame", 2.345), format_value("sky_view", float("nan"))
    ('18.3%', '2.3 people', 'not enough data')
    >>> format_value("pedestrian_share", 0.00234)
    '0.23%'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not enough data"
    ind = INDICATORS[name]
    if ind.is_share:
        pct = 100 * value
        return f"{pct:.{digits + 1 if abs(pct) < 1 else digits}f}%"
    return f"{value:.{digits}f} {ind.unit}"
