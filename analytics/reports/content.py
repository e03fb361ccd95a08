"""What a report says: the content of a district or city report for one period, gathered once.

:func:`build_report` reads the store (through :func:`analytics.indicators.compute` and the
report queries of :mod:`analytics.store.reporting`) and returns a :class:`ReportContent`: plain
data that the PDF and HTML writers lay out without touching the database again. Everything a
person reads is decided here (sentences, caveats, the methods appendix), so both formats say the
same thing.

No SQL here: the gathering steps call store-layer functions; the steps that turn numbers into
words are small pure functions with doctests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics import __version__
from analytics.errors import InputError, UrbanLensError
from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.formatting import (
    format_comparison,
    format_day,
    format_difference,
    format_interval,
    format_part_of,
    format_percent,
    format_period,
    format_previous,
    format_value,
)
from analytics.indicators import (
    CONGESTION_LEVELS,
    HEADLINE,
    INDICATORS,
    OCCUPANCY_THRESHOLDS,
    STATIONARY_JAM,
    compute,
    data_period,
    to_wide,
)
from analytics.models.zoo import builtin_cards
from analytics.periods import check_period, comparison_window, parse_date, period_days, previous_period
from analytics.selection import Selection
from analytics.store import reporting
from analytics.store.catalog import trust_counts
from analytics.store.evaluations import adjusted_indicators, camera_evaluations
from analytics.taxonomy import CITYSCAPES, GROUPS, group_label
from analytics.trust import left_out_note
from analytics.visual.charts import WEEKEND_SHADING_DAYS, WEEKLY_DAYS

__all__ = [
    "ADJUSTED_PARTS_TEXT",
    "CAMERA_INDICATORS",
    "DAMAGE_MODEL_THRESHOLD",
    "DISTRESS_THRESHOLD",
    "GENERAL_WEAKNESSES",
    "INTERVALS_TEXT",
    "LOW_CONFIDENCE_CAMERA",
    "MAX_PREVIEWS_PER_FINDING",
    "PATTERN_INDICATORS",
    "QUALITY_INDICATORS",
    "SHORT_LABELS",
    "SPREAD_INDICATORS",
    "CameraAccuracy",
    "DamageFinding",
    "IndicatorLine",
    "Methods",
    "ModelUsed",
    "PreviewImage",
    "ReportContent",
    "Sources",
    "build_report",
    "camera_columns",
    "damage_finding_text",
    "day_caption",
    "day_heading",
    "district_spread",
    "format_lonlat",
    "hour_ranges",
    "is_damage_finding",
    "key_points",
    "resolve_area",
    "resolve_period",
    "sentence",
]

if TYPE_CHECKING:
    from analytics.store import Store

PATTERN_INDICATORS = ("pedestrian_share", "people_per_frame", "road_occupancy", "vehicle_stationarity")
"""Indicators of the hourly and daily pattern charts (pedestrian use and congestion)."""

QUALITY_INDICATORS = ("mean_confidence", "low_confidence_share", "flicker")

DAMAGE_MODEL_THRESHOLD = 0.01
"""A camera is a road-damage finding when the damage model marks at least 1% of its road pixels ..."""
DISTRESS_THRESHOLD = 0.02
"""... or when the distress heuristic marks at least 2% of its road pixels."""
LOW_CONFIDENCE_CAMERA = 0.75
"""Cameras whose mean model confidence is below this are flagged in the caveats."""
MAX_PREVIEWS_PER_FINDING = 2



# ---------------------------------------------------------------------------------------------
# the content types


@dataclass(frozen=True)
class Sources:
    """What the numbers of the report rest on (within the area and period)."""

    cameras: int
    clips: int
    frames: int
    hours: float
    synthetic_share: float
    first_ts: datetime | None
    last_ts: datetime | None
    synthetic_clips: int = 0

    @property
    def synthetic_text(self) -> str:
        """The true synthetic share, ``1,984 of 1,986 clips synthetic (99.9%)`` (never rounded up to all); "" without clips."""
        return format_part_of(self.synthetic_clips, self.clips, "clips", "synthetic") if self.clips else ""


@dataclass(frozen=True)
class ModelUsed:
    """One model (and run settings) whose measurements enter the report."""

    name: str
    weights_sha256: str
    code_version: str
    sampling: str
    smoothing: str
    class_set: str
    clips: int
    frames: int


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator of the summary, with its comparisons and the sentence that says it."""

    name: str
    label: str
    value: float
    ci_low: float
    ci_high: float
    n_frames: int
    n_clips: int
    enough: bool
    previous: float
    city: float
    heuristic: bool
    text: str

    @property
    def value_text(self) -> str:
        return format_value(self.name, self.value)

    @property
    def interval_text(self) -> str:
        return format_interval(self.name, self.ci_low, self.ci_high, self.value)


@dataclass(frozen=True)
class PreviewImage:
    """An anonymised frame (people blurred at ingestion) with where and when it was taken."""

    camera_id: str
    ts: datetime
    lon: float | None
    lat: float | None
    mime: str
    data: bytes
    caption: str


@dataclass(frozen=True)
class DamageFinding:
    """A camera whose road shows damage above the thresholds, where it is and what it looks like."""

    camera_id: str
    camera_name: str
    lon: float
    lat: float
    damage_ratio: float
    distress_share: float
    n_frames: int
    worst_ts: datetime | None
    text: str
    previews: tuple[PreviewImage, ...] = ()


@dataclass(frozen=True)
class CameraAccuracy:
    """Which evaluation applies to one camera of the report and what it says (the accuracy line)."""

    camera_id: str
    camera_name: str
    source: str  # camera, model or none (analytics.evaluation.adjust.SOURCES)
    text: str


@dataclass(frozen=True)
class Methods:
    """The methods appendix."""

    indicators: pd.DataFrame  # name, label, unit, formula, source, heuristic
    groups: pd.DataFrame  # group, label, classes
    sampling: tuple[str, ...]
    smoothing: tuple[str, ...]
    intervals: str
    thresholds: tuple[str, ...]
    weaknesses: tuple[str, ...]


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows, for one area (a district or the city) and one period."""

    title: str
    area_id: str | None
    area_name: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    generated_at: datetime
    has_data: bool
    has_previous: bool
    no_data_reason: str
    sources: Sources
    models: tuple[ModelUsed, ...]
    main_indicator: str
    summary: tuple[IndicatorLine, ...]
    key_points: tuple[str, ...]
    hourly: pd.DataFrame  # by hour 0..23: PATTERN_INDICATORS with _low/_high, n_frames, congestion_level
    daily: pd.DataFrame  # by day of the period, same columns
    cameras: pd.DataFrame  # ranked: rank, camera_id, name, kind, lon, lat, n_frames, indicator columns, congestion_level
    track: pd.DataFrame  # lon, lat of mobile-camera frames in the area (subsampled)
    districts: pd.DataFrame  # district_id, name, geometry_geojson, value (main indicator), n_frames, in_area
    damage: tuple[DamageFinding, ...]
    damage_note: str
    coverage: tuple[str, ...]
    caveats: tuple[str, ...]
    methods: Methods
    min_frames: int
    version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)
    accuracy: tuple[CameraAccuracy, ...] = ()
    adjusted: bool = False
    adjustment_note: str = ""
    include_low_trust: bool = False
    low_trust_left_out: int = 0
    """Clips of the area and period left out as low trust (0 when ``include_low_trust``)."""

    @property
    def low_trust_note(self) -> str:
        """``"2 clips left out as low trust (...)"``, or "" when none was (see :func:`analytics.trust.left_out_note`)."""
        return left_out_note(self.low_trust_left_out)

    @property
    def is_city(self) -> bool:
        return self.area_id is None

    @property
    def period_text(self) -> str:
        return format_period(self.start, self.end, days=True)

    @property
    def comparison_text(self) -> str:
        """What the period is compared with: the previous period with its dates, or ``no earlier data``."""
        return format_comparison((self.previous_start, self.previous_end) if self.has_previous else None, self.days)

    @property
    def comparison_sentence(self) -> str:
        """``Compared with the previous 7 days (…)``, or ``Not compared with an earlier period (no earlier data)``."""
        if self.has_previous:
            return f"Compared with {self.comparison_text}"
        return f"Not compared with an earlier period ({self.comparison_text})"

    @property
    def period_heading(self) -> str:
        """The period with the year of both ends, for title lines and page headers: ``2 Nov 2026 – 15 Nov 2026 (14 days)``."""
        return f"{format_day(self.start)} – {format_day(self.end)} ({self.days} day{'s' if self.days != 1 else ''})"

    @property
    def days(self) -> int:
        return period_days(self.start, self.end)


# ---------------------------------------------------------------------------------------------
# small pure helpers (words and numbers)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _compare(name: str, value: float, low: float, high: float, other: float) -> tuple[str, int]:
    """Direction of ``value`` against ``other``: (size text, -1/0/+1); 0 when ``other`` is inside the interval."""
    if not (_missing(low) or _missing(high)) and low <= other <= high:
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
    if _missing(value):
        if n_frames == 0:
            return f"{label} in {area}: no measurement in this period (no frame here measures it)."
        return f"{label} in {area}: not enough data ({n_frames} frames, fewer than the {min_frames} needed)."
    interval = format_interval(name, low, high, value)
    text = f"{label} in {area} is {format_value(name, value)}" + (f" ({interval})" if interval else "")
    if city is not None and not _missing(city):
        size, sign = _compare(name, value, low, high, city)
        if sign == 0:
            text += f", in line with the city average ({format_value(name, city)})"
        else:
            text += f", {size} {'above' if sign > 0 else 'below'} the city average ({format_value(name, city)})"
    if previous is None:
        text += "."
    elif _missing(previous):
        text += f"; no data for {format_previous(days)}."
    else:
        size, sign = _compare(name, value, low, high, previous)
        if sign == 0:
            text += f"; in line with {format_previous(days)} ({format_value(name, previous)})."
        else:
            text += f"; {size} {'higher' if sign > 0 else 'lower'} than {format_previous(days)} ({format_value(name, previous)})."
    return text


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
    if not _missing(damage_ratio):
        text = f"{camera_name}: the damage model marks {format_value('damage_ratio', damage_ratio)} of the road surface as damaged"
        if not _missing(distress_share):
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
    model = not _missing(damage_ratio) and damage_ratio >= DAMAGE_MODEL_THRESHOLD
    heur = not _missing(distress_share) and distress_share >= DISTRESS_THRESHOLD
    return bool(model or heur)


def format_lonlat(lon: float, lat: float) -> str:
    """A location people can paste into a map.

    >>> format_lonlat(-35.0123, 41.9934)
    '41.99340° N, 35.01230° W'
    """
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


INTERVALS_TEXT = (
    "Each indicator is a ratio of totals over the sampled frames, for example all vegetation pixels divided by all "
    "valid pixels. Frames from the same clip show the same street seconds apart, so they are not independent "
    "observations: the clip, not the frame, is treated as the unit of sampling. The 95% interval comes from how much "
    "the clips disagree with one another (a ratio estimator with clips as clusters, Cochran 1977, Sampling Techniques, "
    "§6.3–6.4), widened with Student's t for the number of clips. Few clips, or clips that disagree, give a wide "
    "interval; with a single clip no interval can be given. A value based on fewer than {min_frames} frames is "
    "reported as 'not enough data' instead of a number. Comparisons with the city average and the previous period "
    "are called 'in line' when the other value lies inside this value's interval. The interval covers sampling "
    "variation between clips only, not errors of the model itself."
)

GENERAL_WEAKNESSES = (
    "Segmentation models trained on dashcam views (such as ESPNetv2 on Cityscapes) are good on street-level footage "
    "and poor on top-down CCTV views (car-park asphalt comes out as car or truck) and on blurred close-ups.",
    "Pixel shares depend on where a camera points: compare a camera with itself over time before comparing two "
    "cameras, and read district values as averages over the cameras that happen to be there.",
    "People and vehicles are counted as connected blobs of pixels: groups that touch count as one, so counts are "
    "lower bounds in crowds and queues.",
    "Night-time and rain lower model confidence; hours with low confidence are less reliable.",
)


# ---------------------------------------------------------------------------------------------
# input checks


def resolve_area(store: Store, district: str | None) -> tuple[str | None, str]:
    """``(district_id, name)`` of a district given by id or name (case-insensitive); ``(None, "the city")`` for None.

    Raises :class:`InputError` naming the known districts when nothing matches.
    """
    if district is None:
        return None, "the city"
    wanted = str(district).strip().casefold()
    if not wanted:
        raise InputError("empty district name; give a district name or id, or ask for the city report")
    df = store.districts()
    for did, name in zip(df["district_id"], df["name"]):
        if wanted in (str(did).casefold(), str(name).casefold()):
            return str(did), str(name)
    known = ", ".join(f"{n} ({d})" for d, n in zip(df["district_id"], df["name"])) or "none (the database has no districts yet)"
    raise InputError(f"unknown district {district!r}; known districts: {known}")


def resolve_period(store: Store, start: date | str | None, end: date | str | None) -> tuple[date, date]:
    """Inclusive period; missing ends default to the data's first/last day (today where there is none)."""
    d0, d1 = parse_date(start, "start date"), parse_date(end, "end date")
    check_period(d0, d1)
    first, last = data_period(store)
    d1 = d1 or last or date.today()
    d0 = d0 or (first if first is not None and first <= d1 else d1)
    if d0 > d1:
        raise InputError(f"the period starts ({d0}) after it ends ({d1}); give --from before --to")
    if (d1 - d0).days > 3660:
        raise InputError(f"the period {d0} to {d1} is longer than ten years; choose a shorter one")
    return d0, d1


# ---------------------------------------------------------------------------------------------
# from the store's report queries (analytics.store.reporting) to report types


def _ts(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _sources(store: Store, selection: Selection) -> Sources:
    row = reporting.area_sources(store, selection)
    clips = int(row["clips"])
    return Sources(
        cameras=int(row["cameras"]),
        clips=clips,
        frames=int(row["frames"]),
        hours=float(row["hours"]),
        synthetic_share=float(row["synthetic_clips"]) / clips if clips else 0.0,
        first_ts=_ts(row["first_ts"]),
        last_ts=_ts(row["last_ts"]),
        synthetic_clips=int(row["synthetic_clips"]),
    )


def _models(store: Store, selection: Selection) -> tuple[tuple[ModelUsed, ...], dict[str, str]]:
    df = reporting.area_models(store, selection)
    models, class_sets = [], {}
    for row in df.to_dict("records"):
        try:
            cs = json.loads(row["class_set_json"])
        except (TypeError, ValueError):
            cs = {}
        cs_name = str(cs.get("name", "unknown"))
        class_sets[cs_name] = str(row["class_set_json"])
        models.append(
            ModelUsed(
                str(row["model_name"]), str(row["weights_sha256"]), str(row["code_version"]), str(row["sampling"]),
                str(row["smoothing"]), cs_name, int(row["clips"]), int(row["frames"]),
            )
        )
    return tuple(models), class_sets


# ---------------------------------------------------------------------------------------------
# assembling


def _value(long: pd.DataFrame, name: str, col: str = "value") -> float:
    row = long[long["indicator"] == name]
    if row.empty:
        return 0.0 if col in ("n_frames", "n_clips") else math.nan
    v = row.iloc[0][col]
    return math.nan if pd.isna(v) else float(v)


def _summary(
    area: pd.DataFrame, city: pd.DataFrame | None, prev: pd.DataFrame | None, area_name: str, days: int, min_frames: int
) -> tuple[IndicatorLine, ...]:
    lines = []
    for name in HEADLINE:
        ind = INDICATORS[name]
        v, lo, hi = _value(area, name), _value(area, name, "ci_low"), _value(area, name, "ci_high")
        n, k = int(_value(area, name, "n_frames")), int(_value(area, name, "n_clips"))
        c = _value(city, name) if city is not None else math.nan
        p = _value(prev, name) if prev is not None else math.nan
        text = sentence(name, area_name, v, lo, hi, c if city is not None else None, p if prev is not None else None, days, n,
                        min_frames)
        lines.append(IndicatorLine(name, ind.label, v, lo, hi, n, k, not _missing(v), p, c, ind.heuristic, text))
    return tuple(lines)


def key_points(lines: Sequence[IndicatorLine], is_city: bool, limit: int = 4) -> tuple[str, ...]:
    """The comparisons worth reading first: clear differences from the city average (the past, for the city), largest first."""
    points = []
    for ln in lines:
        if not ln.enough:
            continue
        ref, what = (ln.previous, "previous period") if is_city else (ln.city, "city average")
        if _missing(ref) or (not _missing(ln.ci_low) and ln.ci_low <= ref <= ln.ci_high):
            continue
        rel = abs(ln.value - ref) / abs(ref) if ref else math.inf
        direction = "above" if ln.value > ref else "below"
        points.append((rel, f"{ln.label}: {ln.value_text}, {format_difference(ln.name, ln.value - ref)} {direction} the {what} "
                            f"({format_value(ln.name, ref)})."))
    points.sort(key=lambda t: -t[0])
    return tuple(p for _, p in points[:limit])


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


def _pattern(store: Store, by: str, selection: Selection) -> pd.DataFrame:
    start, end = selection.period
    if start is None or end is None:
        raise InputError(f"a {by} pattern needs a closed period, not {start} to {end}")
    long = compute(store, selection, by, list(PATTERN_INDICATORS))
    wide = to_wide(long, [by])
    if by == "hour":
        full = pd.DataFrame({"hour": np.arange(24)})
    else:
        full = pd.DataFrame({"day": list(pd.date_range(start, end, freq="D").date)})
        if not wide.empty:
            wide = wide.assign(day=pd.to_datetime(wide["day"]).dt.date)
    wide = full.merge(wide, on=by, how="left") if not wide.empty else full
    wide["n_frames"] = wide["n_frames"].fillna(0).astype(int) if "n_frames" in wide.columns else 0
    for name in PATTERN_INDICATORS:
        for suffix in ("", "_low", "_high"):
            if f"{name}{suffix}" not in wide.columns:
                wide[f"{name}{suffix}"] = np.nan
    if "congestion_level" not in wide.columns:
        wide["congestion_level"] = "unknown"
    wide["congestion_level"] = wide["congestion_level"].fillna("unknown")
    return wide


CAMERA_INDICATORS = (*HEADLINE, "mean_confidence", "low_confidence_share")

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


def _cameras(store: Store, selection: Selection, main: str, adjusted: bool = False) -> pd.DataFrame:
    long = _indicators(store, selection, "camera", CAMERA_INDICATORS, adjusted=adjusted)
    wide = to_wide(long, ["camera"]).rename(columns={"camera": "camera_id"})
    if wide.empty:
        return pd.DataFrame(columns=["rank", "camera_id", "name", "kind", "lon", "lat", "n_frames", "n_clips",
                                     *CAMERA_INDICATORS, "congestion_level"])
    cams = store.cameras()[["camera_id", "name", "kind", "lon", "lat"]]
    df = wide.merge(cams, on="camera_id", how="left")
    df["name"] = df["name"].fillna(df["camera_id"])
    df = df.sort_values([main, "n_frames"], ascending=[False, False], na_position="last", kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.where(df[main].notna(), np.arange(1, len(df) + 1), 0))
    return df


def _accuracy(store: Store, cameras: pd.DataFrame, main: str) -> tuple[CameraAccuracy, ...]:
    """The accuracy line of every camera in the ranked table, for the main indicator, in table order."""
    if cameras.empty:
        return ()
    lines = accuracy_table(camera_evaluations(store, main), main).set_index("camera_id")
    out = []
    for cid, name in zip(cameras["camera_id"].astype(str), cameras["name"].astype(str)):
        if cid in lines.index:
            r = lines.loc[cid]
            out.append(CameraAccuracy(cid, name, str(r["source"]), str(r["accuracy"])))
    return tuple(out)


def _indicators(store: Store, selection: Selection, by: str, names: Sequence[str], *, adjusted: bool) -> pd.DataFrame:
    """``compute``, or its error-adjusted form (:func:`analytics.store.evaluations.adjusted_indicators`) when ``adjusted``."""
    if adjusted:
        return adjusted_indicators(store, selection, by, list(names))
    return compute(store, selection, by, list(names))


ADJUSTED_PARTS_TEXT = (
    "Land-cover shares in the summary and the camera table are error-adjusted for the model's confusion where an "
    "evaluation applies (Olofsson et al. 2014, Remote Sensing of Environment 148:42-57); their intervals include the "
    "uncertainty of the accuracy estimate. Patterns and the map are not adjusted."
)


def _districts_geo(store: Store, selection: Selection, district_id: str | None, main: str) -> pd.DataFrame:
    """Every district's value of ``main`` over ``selection`` (all districts), marked ``in_area`` for ``district_id``."""
    geo = store.districts()[["district_id", "name", "geometry_geojson"]]
    long = compute(store, selection.with_(districts=None), "district", [main])
    vals = long.rename(columns={"district": "district_id"})[["district_id", "value", "n_frames"]]
    df = geo.merge(vals, on="district_id", how="left")
    df["n_frames"] = df["n_frames"].fillna(0).astype(int)
    df["in_area"] = True if district_id is None else df["district_id"] == district_id
    return df


def _damage(store: Store, selection: Selection, cameras: pd.DataFrame) -> tuple[tuple[DamageFinding, ...], str]:
    if cameras.empty:
        return (), "No camera in this area recorded frames in this period."
    measured = cameras["damage_ratio"].notna() | cameras["distress_share"].notna()
    if not measured.any():
        return (), "Road damage was not measured here: no camera has enough frames from a model or heuristic that measures it."
    hits = cameras[[is_damage_finding(a, b) for a, b in zip(cameras["damage_ratio"], cameras["distress_share"])]]
    if hits.empty:
        return (), (
            f"No road damage above the thresholds (damage model ≥ {format_percent(DAMAGE_MODEL_THRESHOLD)} or distress heuristic "
            f"≥ {format_percent(DISTRESS_THRESHOLD)} of road pixels) at any camera in this area."
        )
    hits = hits.assign(_key=hits["damage_ratio"].fillna(hits["distress_share"])).sort_values("_key", ascending=False)
    ids = hits["camera_id"].tolist()
    worst = reporting.worst_damage_frames(store, selection, ids).set_index("camera_id")
    prev = reporting.damage_previews(store, selection, ids, MAX_PREVIEWS_PER_FINDING)
    findings = []
    for row in hits.to_dict("records"):
        cid = str(row["camera_id"])
        lon, lat = float(row["lon"]), float(row["lat"])
        wts = None
        if cid in worst.index:
            w = worst.loc[cid]
            wts = _ts(w["ts"])
            if row.get("kind") == "mobile" and not pd.isna(w["lon"]):
                lon, lat = float(w["lon"]), float(w["lat"])
        images = []
        for p in prev[prev["camera_id"] == cid].to_dict("records"):
            ts = pd.Timestamp(p["ts"]).to_pydatetime()
            plon = None if pd.isna(p["lon"]) else float(p["lon"])
            plat = None if pd.isna(p["lat"]) else float(p["lat"])
            where = f", {format_lonlat(plon, plat)}" if plon is not None and plat is not None else ""
            images.append(PreviewImage(cid, ts, plon, plat, str(p["mime"]), bytes(p["image"]),
                                       f"{row['name']}, {ts:%d %b %Y %H:%M}{where} (people blurred)"))
        findings.append(
            DamageFinding(cid, str(row["name"]), lon, lat, float(row["damage_ratio"]), float(row["distress_share"]),
                          int(row["n_frames"]), wts,
                          damage_finding_text(str(row["name"]), float(row["damage_ratio"]), float(row["distress_share"])),
                          tuple(images))
        )
    note = "" if any(f.previews for f in findings) else (
        "No anonymised preview images were stored for these cameras in this period (previews are kept only when "
        "ingestion is asked to keep them)."
    )
    return tuple(findings), note


def _coverage(
    sources: Sources, hourly: pd.DataFrame, daily: pd.DataFrame, cameras: pd.DataFrame, min_frames: int
) -> tuple[str, ...]:
    out = [
        f"{sources.frames:,} sampled frames from {sources.clips:,} clips of {sources.cameras} cameras "
        f"({sources.hours:,.1f} hours of footage)."
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


def _caveats(area: pd.DataFrame, cameras: pd.DataFrame, sources: Sources, models: Sequence[ModelUsed]) -> tuple[str, ...]:
    out = []
    if sources.synthetic_clips > 0:
        what = "the numbers describe a made-up city" if sources.synthetic_clips == sources.clips else "city-wide numbers mix made-up and measured footage"
        out.append(
            f"{sources.synthetic_text} (demo data generated by UrbanLens): {what} and must not be used for decisions."
        )
    conf, low = _value(area, "mean_confidence"), _value(area, "low_confidence_share")
    if not _missing(conf):
        text = f"Mean model confidence is {format_value('mean_confidence', conf)}"
        if not _missing(low):
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


def _class_groups(class_sets: dict[str, str]) -> pd.DataFrame:
    classes: dict[str, list[str]] = {g: [] for g in GROUPS}
    parsed = []
    for text in class_sets.values():
        try:
            parsed.append(json.loads(text))
        except (TypeError, ValueError):
            continue
    if not parsed:
        parsed = [CITYSCAPES.to_dict()]
    for cs in parsed:
        for c in cs.get("classes", []):
            g, n = str(c.get("group")), str(c.get("name"))
            if g in classes and n not in classes[g]:
                classes[g].append(n)
    return pd.DataFrame(
        [{"group": g, "label": group_label(g), "classes": ", ".join(classes[g]) or "(none in the models used)"} for g in GROUPS]
    )


def _card_notes(model_name: str) -> str:
    """The ``notes`` of a built-in model card, when there is one (best effort: a report never fails on it)."""
    try:
        card = builtin_cards().get(model_name)
    except UrbanLensError:  # an unreadable built-in card must not stop a report
        return ""
    return str(getattr(card, "notes", "") or "") if card is not None else ""


def _weaknesses(models: Sequence[ModelUsed]) -> tuple[str, ...]:
    notes: list[str] = []
    for m in models:
        if m.name == "synthetic-demo":
            notes.append("synthetic-demo: not a model; numbers are generated to follow designed patterns (demo city only).")
            continue
        note = _card_notes(m.name)
        if note:
            notes.append(f"{m.name}: {note}")
    return (*notes, *GENERAL_WEAKNESSES)


def _methods(models: Sequence[ModelUsed], class_sets: dict[str, str], min_frames: int) -> Methods:
    ind = pd.DataFrame(
        [{"name": i.name, "label": i.label, "unit": i.unit, "formula": i.formula, "source": i.source, "heuristic": i.heuristic}
         for i in INDICATORS.values()]
    )
    low, mid, high = OCCUPANCY_THRESHOLDS
    thresholds = (
        f"A value needs at least {min_frames} sampled frames; with fewer it is shown as 'not enough data'.",
        f"Congestion levels ({', '.join(CONGESTION_LEVELS)}): jammed when road occupancy ≥ {format_percent(high)} and vehicle "
        f"stationarity ≥ {format_percent(STATIONARY_JAM)}; heavy when occupancy ≥ {format_percent(high)}, or ≥ {format_percent(mid)} with "
        f"stationarity ≥ {format_percent(STATIONARY_JAM)}; moderate when occupancy ≥ {format_percent(low)}; free below. Not calibrated "
        "against loop-detector counts.",
        f"Road-damage findings: cameras where the damage model marks ≥ {format_percent(DAMAGE_MODEL_THRESHOLD)} of road pixels, or "
        f"the distress heuristic ≥ {format_percent(DISTRESS_THRESHOLD)}.",
        f"Cameras with mean model confidence below {format_percent(LOW_CONFIDENCE_CAMERA)} are flagged in the caveats.",
    )
    return Methods(
        indicators=ind,
        groups=_class_groups(class_sets),
        sampling=tuple(sorted({m.sampling for m in models})) or ("(no frames in this period)",),
        smoothing=tuple(sorted({m.smoothing for m in models})) or ("(no frames in this period)",),
        intervals=INTERVALS_TEXT.format(min_frames=min_frames),
        thresholds=thresholds,
        weaknesses=_weaknesses(models),
    )


def _city_spread(store: Store, selection: Selection) -> tuple[str, ...]:
    long = compute(store, selection, "district", list(SPREAD_INDICATORS))
    names = dict(zip(store.districts()["district_id"], store.districts()["name"]))
    return district_spread(long, {str(k): str(v) for k, v in names.items()})


def _no_data_reason(store: Store, area_name: str, start: date, end: date) -> str:
    first, last = data_period(store)
    text = f"No footage was recorded in {area_name} between {format_day(start)} and {format_day(end)}"
    if first is None or last is None:
        return text + "; the database holds no footage at all yet (ingest clips or run `urbanlens demo`)."
    return text + f"; the database holds footage from {format_day(first)} to {format_day(last)}."


def _headline_tables(
    store: Store, area: Selection, is_city: bool, adjusted: bool
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame, bool]:
    """(the area's headline and quality indicators, the city's headline for a district, the area's headline over the
    period compared with (empty when there is none), whether that previous period has frames)."""
    area_long = _indicators(store, area, "city", [*HEADLINE, *QUALITY_INDICATORS], adjusted=adjusted)
    city = None if is_city else _indicators(store, area.with_(districts=None), "city", HEADLINE, adjusted=adjusted)
    d0, d1 = area.period
    if d0 is None or d1 is None:
        raise InputError(f"a report needs a closed period, not {d0} to {d1}")
    window = comparison_window(d0, d1, data_period(store)[0])  # none beyond MAX_COMPARISON_DAYS or before the data
    prev = (_indicators(store, area.with_period(*previous_period(d0, d1)), "city", HEADLINE, adjusted=adjusted)
            if window else pd.DataFrame())
    has_previous = bool(prev["n_frames"].sum() > 0) if not prev.empty else False
    return area_long, city, prev, has_previous


def build_report(
    store: Store,
    selection: Selection,
    district: str | None = None,
    *,
    main_indicator: str = HEADLINE[0],
    generated_at: datetime | None = None,
    adjusted: bool = False,
) -> ReportContent:
    """Gather a report for a district (id or name, case-insensitive) or the city (``None``) over the frames of ``selection``.

    Missing dates of the selection default to the data's first and last day; its districts give way
    to ``district``. A period without footage gives a report that says so (``has_data`` False)
    rather than an error; bad input (unknown district, unknown indicator) raises :class:`InputError`.
    ``selection.min_frames`` is usually ``settings.min_frames``. ``adjusted`` error-adjusts the
    land-cover shares of the summary and the camera table where an evaluation applies; every camera
    gets its accuracy line either way. Clips flagged low trust (a heuristic, :mod:`analytics.trust`)
    are left out unless the selection includes them; the report says how many were.
    """
    if main_indicator not in INDICATORS:
        raise InputError(f"unknown indicator {main_indicator!r}; choose from {', '.join(INDICATORS)}")
    area_id, area_name = resolve_area(store, district)
    d0, d1 = resolve_period(store, selection.start, selection.end)
    p0, p1 = previous_period(d0, d1)
    sel = selection.with_(start=d0, end=d1, districts=[area_id] if area_id else None)
    min_frames, lt = sel.min_frames, sel.include_low_trust

    sources = _sources(store, sel)
    models, class_sets = _models(store, sel)
    area, city, prev, has_previous = _headline_tables(store, sel, area_id is None, adjusted)
    summary = _summary(area, city, prev if has_previous else None, area_name, period_days(d0, d1), min_frames)
    hourly = _pattern(store, "hour", sel)
    daily = _pattern(store, "day", sel)
    cameras = _cameras(store, sel, main_indicator, adjusted)
    damage, damage_note = _damage(store, sel, cameras)
    has_data = sources.frames > 0
    return ReportContent(
        title="City street report" if area_id is None else f"{area_name} street report",
        area_id=area_id, area_name=area_name, start=d0, end=d1, previous_start=p0, previous_end=p1,
        generated_at=generated_at or datetime.now().replace(microsecond=0),
        has_data=has_data, has_previous=has_previous, no_data_reason="" if has_data else _no_data_reason(store, area_name, d0, d1),
        sources=sources, models=models, main_indicator=main_indicator, summary=summary,
        key_points=key_points(summary, area_id is None) + (_city_spread(store, sel) if area_id is None else ()),
        hourly=hourly, daily=daily, cameras=cameras, track=reporting.mobile_track(store, sel),
        districts=_districts_geo(store, sel, area_id, main_indicator),
        damage=damage,
        damage_note=damage_note,
        coverage=_coverage(sources, hourly, daily, cameras, min_frames) if has_data else (),
        caveats=_caveats(area, cameras, sources, models),
        methods=_methods(models, class_sets, min_frames),
        min_frames=min_frames,
        accuracy=_accuracy(store, cameras, main_indicator),
        adjusted=adjusted,
        adjustment_note=f"{ADJUSTED_PARTS_TEXT} Summary: {adjustment_summary(area)}" if adjusted else "",
        include_low_trust=lt,
        low_trust_left_out=0 if lt else trust_counts(store, sel)["low"],
    )
