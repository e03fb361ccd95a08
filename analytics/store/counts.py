"""Read-side queries of counts: crossings of count lines, visits to dwell zones, speeds and stops.

Every query reads the count runs of active model runs (``model_runs.active``) under one
:class:`~analytics.selection.Selection` (period, cameras, districts, hours of day); runs judged
low-trust are left out unless the selection includes them, as frames are. A counted clip is a
real zero where nothing crossed: each of its lines gets a row for each direction and class
(:data:`CROSSING_CLASSES`) in each period it covers, with ``count`` 0, so a missing row always
means "not counted". Each period carries ``observed_s``, the seconds of counted footage in it,
which turns counts into rates (counts per hour = ``3600 · count / observed_s``).

Counts live in the DuckDB store; a cluster folder (:class:`~analytics.store.parquet.ParquetStore`)
holds frames only and is refused in one line.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import InputError, quote_value
from analytics.indicators import COUNT_INDICATORS, count_rates
from analytics.records import COUNT_CLASSES
from analytics.selection import Selection
from analytics.store.database import Store
from analytics.store.parquet import ParquetStore

__all__ = [
    "COUNT_BY",
    "CROSSING_CLASSES",
    "VEHICLE_CLASSES",
    "counted_runs",
    "crossing_counts",
    "visit_stats",
    "speed_v85",
    "stationary_share",
    "counting_cameras",
    "peak_concurrent",
    "camera_count_summary",
]

COUNT_BY = ("hour", "day", "clip", "total")
"""Periods counts are grouped by: clock hour, day, clip, or the whole selection (``total``)."""
CROSSING_CLASSES = tuple(c for c in COUNT_CLASSES if c != "bicycle")
"""Classes every counted line reports (a bicycle without a rider is not a cyclist and is not reported)."""
VEHICLE_CLASSES = ("car", "motorcycle", "bus", "truck")


def _check(source: Store | ParquetStore, by: str) -> None:
    if isinstance(source, ParquetStore):
        raise InputError("counts are kept in the DuckDB store only; this is a cluster folder of frames (Parquet): "
                         "ingest the clips with counting into a DuckDB file (`urbanlens ingest --db FILE`)")
    if by not in COUNT_BY:
        raise InputError(f"counts by {quote_value(by, 20)}; expected one of {', '.join(COUNT_BY)}")


def _run_filter(selection: Selection) -> tuple[str, dict[str, Any]]:
    """JOINs and WHERE of the count runs in ``selection`` (active, trusted unless included, its places)."""
    where = ["m.active"]
    params: dict[str, Any] = {}
    if selection.cameras:
        where.append("r.camera_id IN (SELECT unnest($cams))")
        params["cams"] = list(selection.cameras)
    if selection.districts:
        where.append("cam.district_id IN (SELECT unnest($dists))")
        params["dists"] = list(selection.districts)
    if not selection.include_low_trust:
        where.append("m.trust IS DISTINCT FROM 'low'")
    sql = ("FROM count_runs r JOIN model_runs m ON m.run_id = r.run_id JOIN clips c ON c.clip_sha256 = r.clip_sha256 "
           "JOIN cameras cam ON cam.camera_id = r.camera_id WHERE " + " AND ".join(where))
    return sql, params


def _event_window(selection: Selection, column: str) -> tuple[str, dict[str, Any]]:
    """Extra conditions on an event time ``column`` (fixed text): the period's days and hours of day."""
    cond: list[str] = []
    params: dict[str, Any] = {}
    if selection.start is not None:
        cond.append(f"{column} >= $t0")
        params["t0"] = datetime.combine(selection.start, time.min)
    if selection.end is not None:
        cond.append(f"{column} < $t1")
        params["t1"] = datetime.combine(selection.end + timedelta(days=1), time.min)
    if selection.hours is not None:
        cond.append(f"hour({column}) BETWEEN $h0 AND $h1")
        params["h0"], params["h1"] = selection.hours
    return "".join(f" AND {c}" for c in cond), params


def counted_runs(source: Store | ParquetStore, selection: Selection) -> pd.DataFrame:
    """The count runs in ``selection``: run_id, clip_sha256, camera_id, start_time, duration_s,
    geometry_json and the camera's stored zones of roles ``line`` and ``dwell`` (``zones_json``)."""
    _check(source, "total")
    sql, params = _run_filter(selection)
    return source.query_df(
        "SELECT r.run_id, r.clip_sha256, r.camera_id, c.label, c.start_time, c.duration_s, r.geometry_json, "
        "(SELECT to_json(list({'zone': z.zone, 'role': z.role, 'in_label': z.in_label, 'out_label': z.out_label})) "
        "FROM camera_zones z WHERE z.camera_id = r.camera_id AND z.role IN ('line', 'dwell')) AS zones_json "
        f"{sql} ORDER BY c.start_time", params)


def _objects(run: pd.Series, role: str) -> list[tuple[str, str, str]]:
    """(name, in label, out label) of the run's lines (``role`` line) or dwell zones: from the geometry
    the run was counted with, else the camera's stored zones."""
    try:
        data = json.loads(str(run["geometry_json"]))
    except ValueError:
        data = {}
    objects = data.get("zones", []) if isinstance(data, dict) else data if isinstance(data, list) else []
    if role == "line":
        found = [(str(o["name"]), str(o.get("in", "in")), str(o.get("out", "out")))
                 for o in objects if isinstance(o, dict) and "line" in o and "name" in o]
    else:
        found = [(str(o["name"]), "", "") for o in objects if isinstance(o, dict) and o.get("role") == "dwell" and "name" in o]
    if found or not isinstance(run.get("zones_json"), str):
        return found
    stored = json.loads(str(run["zones_json"])) or []
    return [(str(z["zone"]), str(z.get("in_label") or "in"), str(z.get("out_label") or "out")) for z in stored if z["role"] == role]


def _periods(run: pd.Series, by: str, selection: Selection) -> list[tuple[Any, float]]:
    """The periods a counted clip covers under ``by``, each with the seconds of it observed (within the selection's days and hours)."""
    start = pd.Timestamp(run["start_time"])
    end = start + pd.to_timedelta(float(run["duration_s"]), unit="s")
    edges = list(pd.date_range(start.floor("h"), end, freq="h")) + [end]
    pieces = [(max(a, start), b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > max(a, start)]
    lo = pd.Timestamp(selection.start) if selection.start else None
    hi = pd.Timestamp(selection.end) + pd.Timedelta(days=1) if selection.end else None
    hours = selection.hours or (0, 23)
    kept = [(a, b) for a, b in pieces if (lo is None or a >= lo) and (hi is None or a < hi) and hours[0] <= a.hour <= hours[1]]
    out: dict[Any, float] = {}
    for a, b in kept:
        key = {"hour": a.floor("h"), "day": a.date(), "clip": run["clip_sha256"], "total": "all"}[by]
        out[key] = out.get(key, 0.0) + (b - a).total_seconds()
    return list(out.items())


def _grid(runs: pd.DataFrame, by: str, selection: Selection, role: str, classes: tuple[str, ...]) -> pd.DataFrame:
    """Every (camera, object, period, class) a counted run covers, with ``observed_s`` summed over runs."""
    rows = [{"camera_id": run["camera_id"], "name": name, "in_label": a, "out_label": b, "key": key, "observed_s": seconds}
            for _, run in runs.iterrows() for name, a, b in _objects(run, role) for key, seconds in _periods(run, by, selection)]
    cols = ["camera_id", "name", "in_label", "out_label", "key"]
    if not rows:
        return pd.DataFrame(columns=[*cols, "observed_s", "class"])
    grid = pd.DataFrame(rows).groupby(cols, as_index=False, sort=False)["observed_s"].sum()
    return grid.merge(pd.DataFrame({"class": list(classes)}), how="cross")


def _key_sql(by: str, column: str) -> str:
    return {"hour": f"date_trunc('hour', {column})", "day": f"CAST({column} AS DATE)", "clip": "x.clip_sha256", "total": "'all'"}[by]


def crossing_counts(source: Store | ParquetStore, selection: Selection, by: str = "hour") -> pd.DataFrame:
    """Crossings per camera, line, direction, class and period (``by``: :data:`COUNT_BY`), zeros included.

    Columns: camera_id, line, direction (``in``/``out``), direction_label (the line's name for it),
    class, the period column (``hour``, ``day`` or ``clip``; none for ``total``), count and
    observed_s (seconds of counted footage in the period).
    """
    _check(source, by)
    runs = counted_runs(source, selection)
    sql, params = _run_filter(selection)
    window, wparams = _event_window(selection, "x.ts")
    found = source.query_df(
        f"SELECT x.camera_id, x.line AS name, x.direction, x.class, {_key_sql(by, 'x.ts')} AS key, count(*) AS n "
        f"FROM crossings x WHERE x.run_id IN (SELECT r.run_id {sql}){window} GROUP BY ALL", {**params, **wparams})
    grid = _grid(runs, by, selection, "line", CROSSING_CLASSES)
    both = pd.concat([grid.assign(direction="in", direction_label=grid["in_label"]),
                      grid.assign(direction="out", direction_label=grid["out_label"])], ignore_index=True)
    cols = ["camera_id", "line", "direction", "direction_label", "class", *([by] if by != "total" else []), "count", "observed_s"]
    if both.empty:
        return pd.DataFrame(columns=cols)
    if by == "day" and not found.empty:
        found["key"] = pd.to_datetime(found["key"]).dt.date
    out = both.merge(found, on=["camera_id", "name", "direction", "class", "key"], how="left")
    out["count"] = out["n"].fillna(0).astype(int)
    out = out.rename(columns={"name": "line", "key": by})
    return out[cols].sort_values(cols[: len(cols) - 2], kind="stable").reset_index(drop=True)


def peak_concurrent(enter: np.ndarray, exit_: np.ndarray) -> int:
    """Most intervals ``[enter, exit]`` open at one time (both ends included): a sweep over sorted events.

    >>> peak_concurrent(np.array([0.0, 2, 5]), np.array([5.0, 3, 9]))
    2
    """
    events = sorted([(float(t), 0) for t in enter] + [(float(t), 1) for t in exit_])
    best = now = 0
    for _, kind in events:
        now += 1 if kind == 0 else -1
        best = max(best, now)
    return best


def visit_stats(source: Store | ParquetStore, selection: Selection, by: str = "total") -> pd.DataFrame:
    """Visits per camera, dwell zone, class and period, zeros included.

    Columns: camera_id, zone, class, the period column, count, mean_dwell_s, p85_dwell_s (the 85th
    percentile, linear interpolation), peak_occupancy (most visits of the class open at once),
    censored (visits cut by a clip's start or end: their dwell is a lower bound) and observed_s.
    """
    _check(source, by)
    runs = counted_runs(source, selection)
    sql, params = _run_filter(selection)
    window, wparams = _event_window(selection, "x.enter_ts")
    visits = source.query_df(
        f"SELECT x.camera_id, x.zone AS name, x.class, {_key_sql(by, 'x.enter_ts')} AS key, epoch(x.enter_ts) AS enter_e, epoch(x.exit_ts) AS exit_e, "
        f"x.dwell_s, x.censored FROM zone_visits x WHERE x.run_id IN (SELECT r.run_id {sql}){window}", {**params, **wparams})
    if by == "day" and not visits.empty:
        visits["key"] = pd.to_datetime(visits["key"]).dt.date
    keys = ["camera_id", "name", "class", "key"]
    if visits.empty:
        stats = pd.DataFrame(columns=[*keys, "count", "mean_dwell_s", "p85_dwell_s", "peak_occupancy", "censored"])
    else:
        stats = pd.DataFrame([{
            **dict(zip(keys, k, strict=True)), "count": len(g), "mean_dwell_s": float(g["dwell_s"].mean()),
            "p85_dwell_s": float(g["dwell_s"].quantile(0.85)),
            "peak_occupancy": peak_concurrent(g["enter_e"].to_numpy(), g["exit_e"].to_numpy()),
            "censored": int(g["censored"].sum())} for k, g in visits.groupby(keys, sort=False)])
    grid = _grid(runs, by, selection, "dwell", CROSSING_CLASSES)
    cols = ["camera_id", "zone", "class", *([by] if by != "total" else []), "count", "mean_dwell_s", "p85_dwell_s",
            "peak_occupancy", "censored", "observed_s"]
    if grid.empty:
        return pd.DataFrame(columns=cols)
    out = grid.merge(stats, on=keys, how="left")
    for col in ("count", "peak_occupancy", "censored"):
        out[col] = out[col].fillna(0).astype(int)
    out = out.rename(columns={"name": "zone", "key": by})
    return out[cols].sort_values(cols[:3], kind="stable").reset_index(drop=True)


def speed_v85(source: Store | ParquetStore, selection: Selection, by: str = "hour") -> pd.DataFrame:
    """V85 per camera and period: the 85th percentile (linear interpolation) of tracked vehicles'
    speeds (``tracks.speed_kmh``; classes :data:`VEHICLE_CLASSES`; calibrated cameras only).

    Columns: camera_id, the period column, n_tracks (with a speed), v85_kmh, mean_kmh.
    """
    _check(source, by)
    sql, params = _run_filter(selection)
    window, wparams = _event_window(selection, "x.first_ts")
    df = source.query_df(
        f"SELECT x.camera_id, {_key_sql(by, 'x.first_ts')} AS key, count(*) AS n_tracks, "
        "quantile_cont(x.speed_kmh, 0.85) AS v85_kmh, avg(x.speed_kmh) AS mean_kmh FROM tracks x "
        f"WHERE x.speed_kmh IS NOT NULL AND x.class IN (SELECT unnest($veh)) AND x.run_id IN (SELECT r.run_id {sql}){window} "
        "GROUP BY ALL ORDER BY ALL", {**params, **wparams, "veh": list(VEHICLE_CLASSES)})
    if by == "day" and not df.empty:
        df["key"] = pd.to_datetime(df["key"]).dt.date
    df = df.rename(columns={"key": by})
    return df.drop(columns=["total"]) if by == "total" else df


def stationary_share(source: Store | ParquetStore, selection: Selection) -> pd.DataFrame:
    """Per camera: tracked vehicles (:data:`VEHICLE_CLASSES`), how many were stationary
    (``tracks.stationary``) and their share ``stationary / tracked``. Cameras without tracks have no row."""
    _check(source, "total")
    sql, params = _run_filter(selection)
    window, wparams = _event_window(selection, "x.first_ts")
    return source.query_df(
        "SELECT x.camera_id, count(*) AS n_vehicles, count(*) FILTER (WHERE x.stationary) AS n_stationary, "
        "avg(CASE WHEN x.stationary THEN 1.0 ELSE 0.0 END) AS stationary_share FROM tracks x "
        f"WHERE x.class IN (SELECT unnest($veh)) AND x.run_id IN (SELECT r.run_id {sql}){window} GROUP BY x.camera_id ORDER BY 1",
        {**params, **wparams, "veh": list(VEHICLE_CLASSES)})


def counting_cameras(source: Store | ParquetStore) -> list[str]:
    """Cameras that count: with a count line or dwell zone, or with a stored count run (empty for a cluster folder)."""
    if isinstance(source, ParquetStore):
        return []
    df = source.query_df("SELECT DISTINCT camera_id FROM camera_zones WHERE role IN ('line', 'dwell') "
                         "UNION SELECT DISTINCT camera_id FROM count_runs ORDER BY 1")
    return [str(c) for c in df["camera_id"]]


def camera_count_summary(source: Store | ParquetStore, selection: Selection) -> pd.DataFrame:
    """One row per counting camera in ``selection``: the rate indicators of :data:`~analytics.indicators.COUNT_INDICATORS`
    (``<name>``, ``<name>_low``, ``<name>_high``: per hour counted, Poisson 95% interval), ``hours``
    counted, ``v85`` (km/h, NaN uncalibrated), ``stationary_vehicles`` (share), ``mean_dwell`` (over all
    visits to its dwell zones), ``p85_dwell`` and ``peak_occupancy`` (the largest over its zones and
    classes; NaN without visits), and ``per_hour`` (people, cyclists and vehicles together)."""
    rates = count_rates(crossing_counts(source, selection, "total"), ["camera_id"])
    if rates.empty:
        return pd.DataFrame(columns=["camera_id", "per_hour", "hours"])
    wide = rates.pivot(index="camera_id", columns="indicator", values=["value", "ci_low", "ci_high"])
    out = pd.DataFrame(index=wide.index)
    for name in (n for n, i in COUNT_INDICATORS.items() if i.kind == "rate"):
        out[name], out[f"{name}_low"], out[f"{name}_high"] = wide[("value", name)], wide[("ci_low", name)], wide[("ci_high", name)]
    out["hours"] = rates.groupby("camera_id")["hours"].first()
    out["per_hour"] = out[[n for n, i in COUNT_INDICATORS.items() if i.kind == "rate"]].sum(axis=1)
    out["v85"] = speed_v85(source, selection, "total").set_index("camera_id")["v85_kmh"].reindex(out.index)
    out["stationary_vehicles"] = stationary_share(source, selection).set_index("camera_id")["stationary_share"].reindex(out.index)
    visits = visit_stats(source, selection.with_(cameras=list(out.index)), "total")
    seen = visits[visits["count"] > 0]
    if not seen.empty:
        sums = seen.assign(total=seen["mean_dwell_s"] * seen["count"]).groupby("camera_id")[["total", "count"]].sum()
        out["mean_dwell"] = sums["total"] / sums["count"]
        out["p85_dwell"] = seen.groupby("camera_id")["p85_dwell_s"].max()
        out["peak_occupancy"] = seen.groupby("camera_id")["peak_occupancy"].max()
    return out.reset_index()
