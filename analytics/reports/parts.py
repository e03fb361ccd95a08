"""What a report holds: the plain data types :func:`analytics.reports.content.build_report` returns.

The PDF and HTML writers lay these out without touching the database; the properties here only
format what the fields already hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from analytics import __version__
from analytics.formatting import format_comparison, format_day, format_interval, format_part_of, format_period, format_value
from analytics.periods import period_days
from analytics.trust import left_out_note

__all__ = ["CameraAccuracy", "DamageFinding", "IndicatorLine", "Methods", "ModelUsed", "PreviewImage", "ReportContent", "Sources"]


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
    glossary: tuple[str, ...] = ()  # "term: plain words" lines


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
    counts: tuple[tuple[str, ...], ...] = ()
    """Rows of the counts table (:func:`analytics.reports.wording.count_rows`): one per counting camera."""

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
