"""What a report says in words: summary sentences, key points, captions, coverage notes and caveats.

Small pure functions over numbers and the DataFrames :mod:`analytics.reports.content` gathers; no
store, no I/O. Both report formats print these strings as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analytics.formatting import (
    format_count_value,
    format_counted,
    format_difference,
    format_hours,
    format_interval,
    format_percent,
    format_previous,
    format_value,
    levels_note,
)
from analytics.indicators import HEADLINE, INDICATORS
from analytics.reports.parts import IndicatorLine, ModelUsed, ReportContent, Sources
from analytics.visual.charts import WEEKEND_SHADING_DAYS, WEEKLY_DAYS

__all__ = [
    "COUNTS_HEADER",
    "COUNTS_TEXT",
    "count_rows",
    "ADJUSTED_PARTS_TEXT",
    "DAMAGE_MODEL_THRESHOLD",
    "DISTRESS_THRESHOLD",
    "LOW_CONFIDENCE_CAMERA",
    "SHORT_LABELS",
    "SPREAD_INDICATORS",
    "camera_columns",
    "caveats",
    "coverage_notes",
    "damage_finding_text",
    "day_caption",
    "day_heading",
    "district_spread",
    "format_lonlat",
    "hour_ranges",
    "indicator_value",
    "is_damage_finding",
    "is_missing",
    "key_points",
    "main_point",
    "sentence",
]


DAMAGE_MODEL_THRESHOLD = 0.01
"""A camera is a road-damage finding when the damage model marks at least 1% of its road pixels ..."""

DISTRESS_THRESHOLD = 0.02
"""... or when the distress heuristic marks at least 2% of its road pixels."""

LOW_CONFIDENCE_CAMERA = 0.75
"""Cameras whose mean model confidence is below this are flagged in the caveats."""


def is_missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _compare(name: str, value: float, low: float, high: float, other: float) -> tuple[str, int]:
    """Direction of ``value`` against ``other``: (size text, -1/0/+1); 0 when ``other`` is inside the interval."""
    if not (is_missing(low) or is_missing(high)) and low <= other <= high:
        return "", 0
    diff = value - other
    if abs(diff) < 1e-12:
        return "", 0
    return format_difference(name, diff), 1 if diff > 0 else -1


def sentence(
    name: str,
    area: str,
    value: float,
    low: float,
    high: float,
    city: float | None,
    previous: float | None,
    days: int,
    n_frames: int,
    min_frames: int,
) -> str:
    """One summary line in plain words.

    A comparison whose other value lies inside this value's 95% interval is reported as "in line
    with" (the data cannot tell them apart), otherwise by its size and direction.

    >>> sentence("green_view", "Riverside", 0.18, 0.16, 0.20, 0.22, 0.179, 14, 900, 30)
    'Green view index in Riverside is 18.0% (16.0–20.0%), 4.0 points below the city average (22.0%); in line with the previous 14 days (17.9%).'
    >>> sentence("people_per_frame", "the city", 0.95, 0.9, 1.0, None, float("nan"), 7, 900, 30)
    'People per frame in the city is 0.95 people (0.90–1.00); no data for the previous 7 days.'
    >>> sentence("sky_view", "Old Town", 0.12, 0.11, 0.13, 0.125, None, 7, 900, 30)  # no previous period at all: not mentioned
    'Sky view in Old Town is 12.0% (11.0–13.0%), in line with the city average (12.5%).'
    >>> sentence("sky_view", "Harbour", float("nan"), float("nan"), float("nan"), 0.1, 0.1, 7, 12, 30)
    'Sky view in Harbour: not enough data (12 frames, fewer than the 30 needed).'
    >>> sentence("damage_ratio", "Harbour", float("nan"), float("nan"), float("nan"), None, None, 7, 0, 30)
    'Road damage by model in Harbour: no measurement in this period (no frame here measures it).'
    """
    label = INDICATORS[name].label
    if is_missing(value):
        if n_frames == 0:
            return f"{label} in {area}: no measurement in this period (no frame here measures it)."
        return f"{label} in {area}: not enough data ({n_frames} frames, fewer than the {min_frames} needed)."
    interval = format_interval(name, low, high, value)
    text = f"{label} in {area} is {format_value(name, value)}" + (f" ({interval})" if interval else "")
    if city is not None and not is_missing(city):
        size, sign = _compare(name, value, low, high, city)
        if sign == 0:
            text += f", in line with the city average ({format_value(name, city)})"
        else:
            text += f", {size} {'above' if sign > 0 else 'below'} the city average ({format_value(name, city)})"
    if previous is None:
        text += "."
    elif is_missing(previous):
        text += f"; no data for {format_previous(days)}."
    else:
        size, sign = _compare(name, value, low, high, previous)
        if sign == 0:
            text += f"; in line with {format_previous(days)} ({format_value(name, previous)})."
        else:
            text += f"; {size} {'higher' if sign > 0 else 'lower'} than {format_previous(days)} ({format_value(name, previous)})."
    note = levels_note(name)
    return f"{text} {note}" if note else text


def day_heading(content: ReportContent) -> str:
    """Heading of the by-day pattern chart: ``By week`` when it draws weeks (periods over WEEKLY_DAYS days), else ``By day``."""
    return "By week" if content.days > WEEKLY_DAYS else "By day"


def day_caption(content: ReportContent) -> str:
    """Caption of the by-day pattern chart (weekends are shaded only on periods up to WEEKEND_SHADING_DAYS days;
    periods over WEEKLY_DAYS days draw one point per week, :func:`analytics.visual.charts.weekly_rollup`)."""
    if content.days > WEEKLY_DAYS:
        return ("One point per week with footage (dated by its Monday): the days' values weighted by their frames; "
                "lines break where weeks without footage make a gap.")
    shaded = "; weekends shaded" if content.days <= WEEKEND_SHADING_DAYS else ""
    return f"One point per day with footage; lines break where days without footage make a gap{shaded}."


def hour_ranges(hours: Sequence[int]) -> str:
    """Hours of day as compact ranges.

    >>> hour_ranges([0, 1, 2, 3, 4, 5, 23]), hour_ranges([7]), hour_ranges([])
    ('00:00–05:59, 23:00–23:59', '07:00–07:59', '')
    """
    hs = sorted({int(h) for h in hours})
    runs: list[tuple[int, int]] = []
    for h in hs:
        if runs and h == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return ", ".join(f"{a:02d}:00–{b:02d}:59" for a, b in runs)


def damage_finding_text(camera_name: str, damage_ratio: float, distress_share: float) -> str:
    """Why a camera is a road-damage finding, in words.

    >>> damage_finding_text("Dock Road", 0.034, 0.031)
    'Dock Road: the damage model marks 3.4% of the road surface as damaged; the distress heuristic 3.1%.'
    >>> damage_finding_text("Mill Bridge", float("nan"), 0.025)
    'Mill Bridge: the distress heuristic marks 2.5% of the road surface as cracked or holed (no damage model ran here).'
    """
    if not is_missing(damage_ratio):
        text = f"{camera_name}: the damage model marks {format_value('damage_ratio', damage_ratio)} of the road surface as damaged"
        if not is_missing(distress_share):
            text += f"; the distress heuristic {format_value('distress_share', distress_share)}"
        return text + "."
    return (
        f"{camera_name}: the distress heuristic marks {format_value('distress_share', distress_share)} of the road surface "
        "as cracked or holed (no damage model ran here)."
    )


def is_damage_finding(damage_ratio: float, distress_share: float) -> bool:
    """Whether a camera's numbers pass the damage-finding thresholds.

    >>> is_damage_finding(0.034, float("nan")), is_damage_finding(0.004, 0.005), is_damage_finding(float("nan"), 0.021)
    (True, False, True)
    """
    model = not is_missing(damage_ratio) and damage_ratio >= DAMAGE_MODEL_THRESHOLD
    heur = not is_missing(distress_share) and distress_share >= DISTRESS_THRESHOLD
    return bool(model or heur)


def format_lonlat(lon: float, lat: float) -> str:
    """A location people can paste into a map.

    >>> format_lonlat(-35.0123, 41.9934)
    '41.99340° N, 35.01230° W'
    """
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


def indicator_value(long: pd.DataFrame, name: str, col: str = "value") -> float:
    row = long[long["indicator"] == name]
    if row.empty:
        return 0.0 if col in ("n_frames", "n_clips") else math.nan
    v = row.iloc[0][col]
    return math.nan if pd.isna(v) else float(v)


def _key_point(ln: IndicatorLine, is_city: bool) -> tuple[float, str] | None:
    """(relative size, text) of a clear difference from the reference (the city average; the past, for the city), or None."""
    ref, what = (ln.previous, "previous period") if is_city else (ln.city, "city average")
    if not ln.enough or is_missing(ref) or (not is_missing(ln.ci_low) and ln.ci_low <= ref <= ln.ci_high):
        return None
    rel = abs(ln.value - ref) / abs(ref) if ref else math.inf
    direction = "above" if ln.value > ref else "below"
    return rel, (f"{ln.label}: {ln.value_text}, {format_difference(ln.name, ln.value - ref)} {direction} the {what} "
                 f"({format_value(ln.name, ref)}).")


def main_point(ln: IndicatorLine, is_city: bool, min_frames: int = 0) -> str:
    """The key point of the report's main indicator, whatever its size: its value against the reference, or why it has none.

    >>> ln = IndicatorLine("green_view", "Green view index", 0.064, 0.063, 0.065, 4495, 192, True, 0.064, 0.151, False, "")
    >>> main_point(ln, is_city=False)
    'Green view index: 6.4%, 8.7 points below the city average (15.1%).'
    >>> main_point(IndicatorLine("green_view", "Green view index", 0.15, 0.14, 0.16, 900, 40, True, 0.151, 0.15, False, ""), False)
    'Green view index: 15.0%, in line with the city average (15.0%).'
    >>> main_point(IndicatorLine("sky_view", "Sky view", float("nan"), float("nan"), float("nan"), 12, 1, False, 0.1, 0.1, False, ""), False, 30)
    'Sky view: not enough data (12 frames, fewer than the 30 needed).'
    """
    point = _key_point(ln, is_city)
    if point is not None:
        return point[1]
    if not ln.enough:
        need = f", fewer than the {min_frames} needed" if min_frames else ""
        return f"{ln.label}: not enough data ({format_counted(ln.n_frames, 'frame')}{need})."
    ref, what = (ln.previous, "previous period") if is_city else (ln.city, "city average")
    if is_missing(ref):
        return f"{ln.label}: {ln.value_text}."
    return f"{ln.label}: {ln.value_text}, in line with the {what} ({format_value(ln.name, ref)})."


def key_points(lines: Sequence[IndicatorLine], is_city: bool, limit: int = 4, main: str | None = None,
               min_frames: int = 0) -> tuple[str, ...]:
    """The comparisons worth reading first: the ``main`` indicator's (the report's main indicator) always first,
    then clear differences from the city average (the past, for the city), largest first, ``limit`` in all."""
    head = [main_point(ln, is_city, min_frames) for ln in lines if ln.name == main][:1]
    points = [p for ln in lines if ln.name != main and (p := _key_point(ln, is_city)) is not None]
    points.sort(key=lambda t: -t[0])
    return tuple(head + [p for _, p in points[:limit - len(head)]])


SPREAD_INDICATORS = ("green_view", "people_per_frame", "road_occupancy", "damage_ratio", "distress_share")
"""Indicators whose spread across districts the city report points out."""


def district_spread(long: pd.DataFrame, names: dict[str, str], indicators: Sequence[str] = SPREAD_INDICATORS) -> tuple[str, ...]:
    """For the city report: where each indicator is lowest and highest, from ``compute(by="district")`` output.

    >>> df = pd.DataFrame({"district": ["a", "b", "c"], "indicator": "green_view", "value": [0.05, 0.30, float("nan")]})
    >>> district_spread(df, {"a": "Harbour", "b": "Riverside"})
    ('Green view index ranges from 5.0% in Harbour to 30.0% in Riverside.',)
    """
    out = []
    for name in indicators:
        part = long[(long["indicator"] == name) & long["value"].notna()]
        part = part[part["district"].isin(list(names))]
        if len(part) < 2:
            continue
        ordered = part.sort_values("value", kind="stable")
        lo, hi = ordered.iloc[0], ordered.iloc[-1]
        if lo["district"] == hi["district"]:
            continue
        out.append(f"{INDICATORS[name].label} ranges from {format_value(name, float(lo['value']))} in {names[str(lo['district'])]} "
                   f"to {format_value(name, float(hi['value']))} in {names[str(hi['district'])]}.")
    return tuple(out)


SHORT_LABELS = {
    "green_view": "Green view", "sky_view": "Sky view", "enclosure": "Enclosure", "pedestrian_share": "People pixels",
    "people_per_frame": "People / frame", "road_occupancy": "Road occup.", "vehicle_stationarity": "Stationarity †",
    "damage_ratio": "Road damage", "distress_share": "Road distress †",
}
"""Column headers for narrow tables."""

_TABLE_COLUMNS = ("green_view", "pedestrian_share", "people_per_frame", "road_occupancy", "damage_ratio")


def camera_columns(main: str, cameras: pd.DataFrame, limit: int = 5) -> list[str]:
    """Indicators of the ranked camera table: the main one first; road distress where no damage model ran.

    >>> camera_columns("road_occupancy", pd.DataFrame({"damage_ratio": [float("nan")]}))
    ['road_occupancy', 'green_view', 'pedestrian_share', 'people_per_frame', 'distress_share']
    """
    cols = [main] + [n for n in _TABLE_COLUMNS if n != main]
    if cameras.empty or "damage_ratio" not in cameras or cameras["damage_ratio"].isna().all():
        cols = ["distress_share" if n == "damage_ratio" else n for n in cols]
    return cols[:limit]


ADJUSTED_PARTS_TEXT = (
    "Land-cover shares in the summary and the camera table are error-adjusted for the model's confusion where an "
    "evaluation applies (Olofsson et al. 2014, Remote Sensing of Environment 148:42-57); their intervals include the "
    "uncertainty of the accuracy estimate. Patterns and the map are not adjusted."
)


def coverage_notes(
    sources: Sources, hourly: pd.DataFrame, daily: pd.DataFrame, cameras: pd.DataFrame, min_frames: int
) -> tuple[str, ...]:
    out = [
        f"{format_counted(sources.frames, 'sampled frame')} from {format_counted(sources.clips, 'clip')} of "
        f"{format_counted(sources.cameras, 'camera')} ({format_hours(sources.hours)} of footage)."
    ]
    empty_hours = hourly.loc[hourly["n_frames"] == 0, "hour"].tolist()
    thin_hours = hourly.loc[(hourly["n_frames"] > 0) & (hourly["n_frames"] < min_frames), "hour"].tolist()
    if empty_hours:
        out.append(f"No footage at {hour_ranges(empty_hours)}; the report says nothing about those hours.")
    if thin_hours:
        out.append(f"Too little footage (under {min_frames} frames) at {hour_ranges(thin_hours)}; those hours are left blank.")
    empty_days = [d for d, n in zip(daily["day"], daily["n_frames"]) if n == 0]
    if empty_days:
        shown = ", ".join(f"{d:%d %b}" for d in empty_days[:10]) + (" …" if len(empty_days) > 10 else "")
        out.append(f"{len(empty_days)} of {len(daily)} days have no footage: {shown}.")
    if not cameras.empty:
        thin = cameras[cameras["n_frames"] < min_frames]
        if not thin.empty:
            names = ", ".join(f"{n} ({k} frames)" for n, k in zip(thin["name"], thin["n_frames"]))
            out.append(f"Cameras with too little data (under {min_frames} frames), shown as 'not enough data': {names}.")
        mobile = cameras[cameras["kind"] == "mobile"]
        if not mobile.empty:
            out.append(
                "Mobile cameras (" + ", ".join(mobile["name"]) + ") count only the frames taken inside the area; "
                "the map shows their route, not one point."
            )
    return tuple(out)


def caveats(area: pd.DataFrame, cameras: pd.DataFrame, sources: Sources, models: Sequence[ModelUsed]) -> tuple[str, ...]:
    out = []
    if sources.synthetic_clips > 0:
        what = "the numbers describe a made-up city" if sources.synthetic_clips == sources.clips else "city-wide numbers mix made-up and measured footage"
        out.append(
            f"{sources.synthetic_text} (demo data generated by UrbanLens): {what} and must not be used for decisions."
        )
    conf, low = indicator_value(area, "mean_confidence"), indicator_value(area, "low_confidence_share")
    if not is_missing(conf):
        text = f"Mean model confidence is {format_value('mean_confidence', conf)}"
        if not is_missing(low):
            text += f"; {format_value('low_confidence_share', low)} of pixels are below the low-confidence threshold"
        out.append(text + ".")
    if not cameras.empty:
        weak = cameras[cameras["mean_confidence"] < LOW_CONFIDENCE_CAMERA]
        if not weak.empty:
            names = ", ".join(f"{n} ({format_value('mean_confidence', c)})" for n, c in zip(weak["name"], weak["mean_confidence"]))
            out.append(f"Low model confidence (mean below {format_percent(LOW_CONFIDENCE_CAMERA)}) at: {names}; read their numbers with care.")
    heur = [INDICATORS[n].label for n in HEADLINE if INDICATORS[n].heuristic]
    out.append(
        "Heuristics, not calibrated measurements (marked † in tables): " + ", ".join(heur)
        + "; also the congestion levels and the road-damage thresholds (see the methods appendix)."
    )
    if len({m.name for m in models}) > 1:
        out.append("Several models contributed; their class sets differ, so pixel shares mix slightly different definitions.")
    return tuple(out)


COUNTS_HEADER = ("Camera", "Hours counted", "People per hour", "Cyclists per hour", "Vehicles per hour", "V85")
COUNTS_TEXT = (
    "Crossings of count lines by tracked people, cyclists and vehicles, per hour of counted footage, with 95% intervals "
    "for a Poisson count (Byar's approximation to the exact interval: for k crossings in T hours, "
    "k(1 − 1/(9k) − 1.96/(3√k))³ / T to (k+1)(1 − 1/(9(k+1)) + 1.96/(3√(k+1)))³ / T). The interval covers chance "
    "variation of the count only, not detection and tracking errors. V85: 85th percentile of tracked vehicles' "
    "speeds where the camera has a ground calibration."
)
"""How the counts table is made, under it in both formats."""


def count_rows(summary: pd.DataFrame, names: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """Rows of the counts table from :func:`analytics.store.counts.camera_count_summary` (``names``: camera names by id).

    >>> s = pd.DataFrame({"camera_id": ["a"], "hours": [2.0], "people_per_hour_counted": [60.0],
    ...                   "people_per_hour_counted_low": [50.0], "people_per_hour_counted_high": [71.0],
    ...                   "cyclists_per_hour": [0.0], "cyclists_per_hour_low": [0.0], "cyclists_per_hour_high": [1.8],
    ...                   "vehicles_per_hour": [20.0], "vehicles_per_hour_low": [14.0], "vehicles_per_hour_high": [27.0],
    ...                   "v85": [float("nan")]})
    >>> count_rows(s, {"a": "Main St"})
    (('Main St', '2.0', '60 people/h (50–71)', '0 cyclists/h (0–2)', '20 vehicles/h (14–27)', 'not enough data'),)
    """
    out = []
    for r in summary.to_dict("records"):
        rates = [format_count_value(n, r.get(n), r.get(f"{n}_low"), r.get(f"{n}_high"))
                 for n in ("people_per_hour_counted", "cyclists_per_hour", "vehicles_per_hour")]
        out.append((names.get(str(r["camera_id"]), str(r["camera_id"])), f"{float(r['hours']):.1f}", *rates,
                    format_count_value("v85", r.get("v85"))))
    return tuple(out)
