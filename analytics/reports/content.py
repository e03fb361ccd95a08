"""What a report says: the content of a district or city report for one period, gathered once.

:func:`build_report` reads the store (through :func:`analytics.indicators.compute` and the
report queries of :mod:`analytics.store.reporting`) and returns a :class:`ReportContent`: plain
data that the PDF and HTML writers lay out without touching the database again. Everything a
person reads is decided here (sentences, caveats, the methods appendix), so both formats say the
same thing.

No SQL here: the gathering steps call store-layer functions. The content types are in
:mod:`analytics.reports.parts`; the steps that turn numbers into words are small pure functions
with doctests in :mod:`analytics.reports.wording`, the methods appendix in
:mod:`analytics.reports.methods`. Their public names are importable from here as well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.evaluation.apply import adjusted_indicators, camera_evaluations
from analytics.formatting import (
    format_day,
    format_percent,
    format_sampling,
)
from analytics.indicators import (
    HEADLINE,
    INDICATORS,
    compute,
    congestion_with_tracks,
    count_rates,
    data_period,
    people_per_hour_basis,
    to_wide,
)
from analytics.periods import check_period, comparison_window, parse_date, period_days, previous_period
from analytics.reports.methods import GENERAL_WEAKNESSES, INTERVALS_TEXT, methods_appendix
from analytics.reports.parts import (
    CameraAccuracy,
    DamageFinding,
    IndicatorLine,
    Methods,
    ModelUsed,
    PreviewImage,
    ReportContent,
    Sources,
)
from analytics.reports.wording import (
    ADJUSTED_PARTS_TEXT,
    COUNTS_HEADER,
    COUNTS_TEXT,
    DAMAGE_MODEL_THRESHOLD,
    DISTRESS_THRESHOLD,
    LOW_CONFIDENCE_CAMERA,
    SHORT_LABELS,
    SPREAD_INDICATORS,
    camera_columns,
    caveats,
    count_rows,
    coverage_notes,
    damage_finding_text,
    day_caption,
    day_heading,
    district_spread,
    format_lonlat,
    hour_ranges,
    indicator_value,
    is_damage_finding,
    is_missing,
    key_points,
    sentence,
)
from analytics.selection import Selection
from analytics.store import reporting
from analytics.store.catalog import trust_counts
from analytics.store.counts import camera_count_summary, crossing_counts, stationary_share
from analytics.visual.drive import drive_route

if TYPE_CHECKING:
    from analytics.store import Store

__all__ = [
    "ADJUSTED_PARTS_TEXT",
    "CAMERA_INDICATORS",
    "COUNTS_HEADER",
    "COUNTS_TEXT",
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
    "ROUTE_POINTS",
    "build_report",
    "count_rows",
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

PATTERN_INDICATORS = ("pedestrian_share", "people_per_frame", "road_occupancy", "vehicle_stationarity")
"""Indicators of the hourly and daily pattern charts (pedestrian use and congestion)."""

QUALITY_INDICATORS = ("mean_confidence", "low_confidence_share", "flicker")

MAX_PREVIEWS_PER_FINDING = 2


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
                str(row["model_name"]), str(row["weights_sha256"]), str(row["code_version"]), format_sampling(str(row["sampling"])),
                str(row["smoothing"]), cs_name, int(row["clips"]), int(row["frames"]),
            )
        )
    return tuple(models), class_sets


# ---------------------------------------------------------------------------------------------
# assembling


def _summary(
    area: pd.DataFrame, city: pd.DataFrame | None, prev: pd.DataFrame | None, area_name: str, days: int, min_frames: int,
    names: Sequence[str] = HEADLINE,
) -> tuple[IndicatorLine, ...]:
    lines = []
    for name in names:
        ind = INDICATORS[name]
        v, lo, hi = indicator_value(area, name), indicator_value(area, name, "ci_low"), indicator_value(area, name, "ci_high")
        n, k = int(indicator_value(area, name, "n_frames")), int(indicator_value(area, name, "n_clips"))
        c = indicator_value(city, name) if city is not None else math.nan
        p = indicator_value(prev, name) if prev is not None else math.nan
        text = sentence(name, area_name, v, lo, hi, c if city is not None else None, p if prev is not None else None, days, n,
                        min_frames)
        lines.append(IndicatorLine(name, ind.label, v, lo, hi, n, k, not is_missing(v), p, c, ind.heuristic, text))
    return tuple(lines)


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


def _cameras(store: Store, selection: Selection, main: str, adjusted: bool = False) -> pd.DataFrame:
    long = _indicators(store, selection, "camera", CAMERA_INDICATORS, adjusted=adjusted)
    wide = to_wide(long, ["camera"]).rename(columns={"camera": "camera_id"})
    if wide.empty:
        return pd.DataFrame(columns=["rank", "camera_id", "name", "kind", "lon", "lat", "n_frames", "n_clips",
                                     *CAMERA_INDICATORS, "congestion_level"])
    cams = store.cameras()[["camera_id", "name", "kind", "lon", "lat"]]
    df = wide.merge(cams, on="camera_id", how="left")
    df["name"] = df["name"].fillna(df["camera_id"])
    df = _with_counts(store, selection, df)
    df = df.sort_values([main, "n_frames"], ascending=[False, False], na_position="last", kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.where(df[main].notna(), np.arange(1, len(df) + 1), 0))
    return df


def _with_counts(store: Store, selection: Selection, df: pd.DataFrame) -> pd.DataFrame:
    """Where a camera counts, its people per hour from the counts (``people_per_hour_basis`` 'counted')
    and, where it has tracked vehicles, its congestion level from their stationary share."""
    df = people_per_hour_basis(df, count_rates(crossing_counts(store, selection, "total"), ["camera_id"]))
    tracked = df["camera_id"].map(stationary_share(store, selection).set_index("camera_id")["stationary_share"])
    if tracked.notna().any() and "road_occupancy" in df.columns:
        levels = [congestion_with_tracks(o, s, t) for o, s, t in zip(df["road_occupancy"], df["vehicle_stationarity"], tracked, strict=True)]
        df["congestion_level"] = np.where(tracked.notna(), levels, df["congestion_level"])
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
    """``compute``, or its error-adjusted form (:func:`analytics.evaluation.apply.adjusted_indicators`) when ``adjusted``."""
    if adjusted:
        return adjusted_indicators(store, selection, by, list(names))
    return compute(store, selection, by, list(names))


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


ROUTE_POINTS = 400
"""Most route points a report map draws (pooled per ~10 m; evenly thinned beyond)."""


def _drive(store: Store, sel: Selection, cameras: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """The area's mobile-camera route with ``indicator`` along it (lon, lat, value; :func:`~analytics.visual.drive.drive_route`),
    at most :data:`ROUTE_POINTS` points; plain positions (lon, lat) when the indicator has no frame formula."""
    mobile = cameras.loc[cameras["kind"] == "mobile", "camera_id"].astype(str).tolist() if not cameras.empty else []
    if not mobile or indicator not in INDICATORS:
        return reporting.mobile_track(store, sel, ROUTE_POINTS)
    return drive_route(store, sel.with_(cameras=tuple(mobile)), indicator, ROUTE_POINTS)[["lon", "lat", "value"]]


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
    names = tuple(dict.fromkeys([*HEADLINE, main_indicator]))  # the main indicator is summed up too
    area, city, prev = _headline(store, sel, area_id is None, adjusted=adjusted, names=names)
    summary = _summary(area, city, prev, area_name, period_days(d0, d1), min_frames, names)
    hourly = _pattern(store, "hour", sel)
    daily = _pattern(store, "day", sel)
    cameras = _cameras(store, sel, main_indicator, adjusted)
    damage, damage_note = _damage(store, sel, cameras)
    has_data = sources.frames > 0
    return ReportContent(
        title="City street report" if area_id is None else f"{area_name} street report", area_id=area_id, area_name=area_name,
        start=d0, end=d1, previous_start=p0, previous_end=p1,
        generated_at=generated_at or datetime.now().replace(microsecond=0), has_data=has_data, has_previous=prev is not None,
        no_data_reason="" if has_data else _no_data_reason(store, area_name, d0, d1),
        sources=sources, models=models, main_indicator=main_indicator, summary=summary,
        key_points=key_points(summary, area_id is None, main=main_indicator, min_frames=min_frames) + (_city_spread(store, sel) if area_id is None else ()),
        hourly=hourly, daily=daily, cameras=cameras, track=_drive(store, sel, cameras, main_indicator),
        districts=_districts_geo(store, sel, area_id, main_indicator),
        damage=damage, damage_note=damage_note,
        coverage=coverage_notes(sources, hourly, daily, cameras, min_frames) if has_data else (),
        caveats=caveats(area, cameras, sources, models), methods=methods_appendix(models, class_sets, min_frames),
        min_frames=min_frames, accuracy=_accuracy(store, cameras, main_indicator), adjusted=adjusted,
        adjustment_note=f"{ADJUSTED_PARTS_TEXT} Summary: {adjustment_summary(area)}" if adjusted else "",
        include_low_trust=lt, low_trust_left_out=0 if lt else trust_counts(store, sel)["low"],
        counts=_counts(store, sel),
    )


def _counts(store: Store, selection: Selection) -> tuple[tuple[str, ...], ...]:
    """The counts table of the area's counting cameras (empty where none counts)."""
    summary = camera_count_summary(store, selection)
    if summary.empty:
        return ()
    names = {str(r["camera_id"]): str(r["name"]) for r in store.cameras().to_dict("records")}
    return count_rows(summary, names)


def _headline(
    store: Store, area: Selection, is_city: bool, *, adjusted: bool, names: Sequence[str] = HEADLINE
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The headline and quality indicators of the area; the city's (for a district) and the previous period's, or None.

    The previous period is left out (None) beyond MAX_COMPARISON_DAYS, before the data, or when it holds no frame.
    """
    area_long = _indicators(store, area, "city", list(dict.fromkeys([*names, *QUALITY_INDICATORS])), adjusted=adjusted)
    city = None if is_city else _indicators(store, area.with_(districts=None), "city", names, adjusted=adjusted)
    d0, d1 = area.period
    if d0 is None or d1 is None:
        raise InputError(f"a report needs a closed period, not {d0} to {d1}")
    window = comparison_window(d0, d1, data_period(store)[0])  # none beyond MAX_COMPARISON_DAYS or before the data
    prev = (_indicators(store, area.with_period(*previous_period(d0, d1)), "city", names, adjusted=adjusted)
            if window else pd.DataFrame())
    has_previous = bool(prev["n_frames"].sum() > 0) if not prev.empty else False
    return area_long, city, prev if has_previous else None
