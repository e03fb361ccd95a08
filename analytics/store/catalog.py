"""Look-ups behind the dashboard pages: clips, previews, zones, routes, model runs, class shares, KPIs.

Each function takes an open store and returns a DataFrame (or plain values); SQL is fixed text
with bound values, every date window comes from :func:`analytics.indicators.period_filter` and
the frames of a :class:`~analytics.selection.Selection` from :func:`analytics.indicators.selection_filter`.
:func:`clip_indicators` measures one clip that is not saved yet, in a throw-away in-memory store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.indicators import compute, data_period, period_filter, selection_filter
from analytics.periods import comparison_window
from analytics.records import ClipMeasurements
from analytics.selection import FrameSource, Selection
from analytics.store import Store
from analytics.taxonomy import VALID_GROUPS

__all__ = [
    "SHARE_GROUPS",
    "SHARE_STEPS",
    "TRUST_LABELS",
    "camera_clips",
    "camera_previews",
    "camera_track",
    "cameras_with_zones",
    "city_values",
    "class_shares",
    "clip_indicators",
    "clip_sources",
    "list_clips",
    "model_run_summary",
    "trust_counts",
]

SHARE_GROUPS = (*(g for g in VALID_GROUPS if g != "damage"), "damage")
"""Indicator groups of the class-share charts, damage last (it is NULL where no damage model ran)."""
SHARE_STEPS = ("day", "frame")


def _and(*conditions: str) -> str:
    """Fixed SQL conditions joined with AND (the conditions are code, never user text)."""
    return " AND ".join(conditions)


def cameras_with_zones(store: Store) -> list[str]:
    """Ids of cameras that have at least one zone."""
    return [str(c) for c in store.query_df("SELECT DISTINCT camera_id FROM camera_zones ORDER BY 1")["camera_id"]]


def camera_clips(store: Store, camera_id: str, start: date | None = None, end: date | None = None, limit: int = 500) -> pd.DataFrame:
    """A camera's clips in the period with their active run (model, sampling, smoothing) and mean flicker/confidence."""
    frames_window, params = period_filter(start, end, "ts")
    clips_window, _ = period_filter(start, end, "c.start_time")
    return store.query_df(
        "SELECT c.label, c.start_time, c.duration_s, c.width, c.height, c.source, r.run_id, r.model_name, r.sampling, r.smoothing, "
        "r.n_frames, r.code_version, fl.flicker, fl.confidence, coalesce(r.trust, 'not checked') AS trust "
        "FROM clips c JOIN model_runs r ON r.clip_sha256 = c.clip_sha256 AND r.active "
        "LEFT JOIN (SELECT run_id, avg(flicker) AS flicker, avg(mean_confidence) AS confidence FROM frames "
        f"WHERE {_and('camera_id = $cam', 'active', *frames_window)} GROUP BY run_id) fl ON fl.run_id = r.run_id "
        f"WHERE {_and('c.camera_id = $cam', *clips_window)} ORDER BY c.start_time DESC LIMIT $lim",
        {**params, "cam": camera_id, "lim": limit},
    )


def camera_previews(store: Store, camera_id: str, limit: int = 12) -> pd.DataFrame:
    """The newest anonymised previews of a camera (JPEG bytes, people blurred at ingestion)."""
    return store.query_df(
        "SELECT p.run_id, p.frame_id, p.kind, p.mime, p.image, c.label, c.width, c.height FROM previews p "
        "JOIN model_runs r ON r.run_id = p.run_id JOIN clips c ON c.clip_sha256 = r.clip_sha256 "
        "WHERE c.camera_id = ? ORDER BY r.created_at DESC, p.frame_id LIMIT ?",
        [camera_id, limit],
    )


def camera_track(store: Store, camera_id: str, start: date | None = None, end: date | None = None, limit: int = 5000) -> pd.DataFrame:
    """Where a mobile camera's frames were taken in the period (positions rounded to about 10 m; frames without a position left out)."""
    window, params = period_filter(start, end, "ts")
    return store.query_df(
        "SELECT DISTINCT round(lon, 4) AS lon, round(lat, 4) AS lat FROM frames "
        f"WHERE {_and('camera_id = $cam', 'active', *window, 'lon IS NOT NULL', 'lat IS NOT NULL')} LIMIT $lim",
        {**params, "cam": camera_id, "lim": limit},
    )


def model_run_summary(store: Store) -> pd.DataFrame:
    """Models behind the stored (active) measurements, with runs and frames each."""
    return store.query_df(
        "SELECT model_name, count(*) AS runs, sum(n_frames) AS frames FROM model_runs WHERE active GROUP BY 1 ORDER BY 2 DESC"
    )


def class_shares(
    source: FrameSource, selection: Selection, clip_sha256: str | None = None, by: str = "day",
) -> pd.DataFrame:
    """Share of valid pixels per indicator group, per day (``by='day'``) or per sampled frame (``by='frame'``).

    ``share = Σ group pixels / Σ valid pixels`` over the active frames of ``selection`` (and of one
    clip when ``clip_sha256`` is given) at each step; a missing damage measurement counts as 0, and
    low-trust clips are left out unless the selection includes them. Columns: t, group, share, n_frames.
    """
    if by not in SHARE_STEPS:
        raise InputError(f"class shares by {by!r}; choose from {', '.join(SHARE_STEPS)}")
    where, params = selection_filter(selection)
    if clip_sha256 is not None:
        where.append("f.clip_sha256 = $clip")
        params["clip"] = clip_sha256
    sums = ", ".join(f"sum(coalesce({g}_px, 0)) AS {g}" for g in SHARE_GROUPS)  # column names from the taxonomy
    key = "CAST(ts AS DATE)" if by == "day" else "t_s"
    df = source.query_df(
        f"SELECT {key} AS t, count(*) AS n_frames, sum(valid_px) AS valid, {sums} FROM frames f WHERE {_and(*where)} "
        "GROUP BY 1 ORDER BY 1",
        params,
    )
    if df.empty:
        return pd.DataFrame(columns=["t", "group", "share", "n_frames"])
    long = df.melt(id_vars=["t", "n_frames", "valid"], value_vars=list(SHARE_GROUPS), var_name="group", value_name="px")
    long["share"] = long["px"].astype(float) / long["valid"].replace(0, np.nan).astype(float)
    return long[["t", "group", "share", "n_frames"]]


def city_values(
    source: FrameSource, names: Sequence[str], selection: Selection
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """City indicator tables (long, as :func:`analytics.indicators.compute`) of ``selection`` and of the same
    selection over the period it is compared with (:func:`analytics.periods.comparison_window`); the second is
    empty, and not queried, when there is none (an open period, one over the longest compared, or no data before it)."""
    names = list(names)
    now = compute(source, selection, by="city", indicators=names)
    start, end = selection.period
    window = comparison_window(start, end, data_period(source)[0]) if start is not None and end is not None else None
    if window is None:
        return now, now.iloc[0:0]
    return now, compute(source, selection.with_period(*window), by="city", indicators=names)


def clip_indicators(
    measurements: ClipMeasurements, camera: dict[str, Any], names: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicators and per-frame class shares of one analysed (not yet saved) clip.

    The clip is ingested into a throw-away in-memory store with its camera, so the numbers are
    exactly those the database will hold once the clip is saved (shown even when the clip is low trust). Returns (long indicator table of
    the clip with ``min_frames=1``, per-frame class shares with columns t, group, share, n_frames).
    """
    with Store(":memory:") as tmp:
        cam = pd.DataFrame([{k: camera.get(k) for k in ("camera_id", "name", "lon", "lat", "heading", "kind")}])
        cam["kind"] = cam["kind"].fillna("fixed")
        tmp.upsert_cameras(cam)
        tmp.ingest(measurements)
        everything = Selection(include_low_trust=True, min_frames=1)
        long = compute(tmp, everything, by="city", indicators=list(names) if names else None)
        shares = class_shares(tmp, everything, by="frame")
    return long, shares


TRUST_LABELS = {"ok": "ok", "low": "low", None: "not checked"}
"""How a run's verdict reads in lists (NULL: stored before verdicts existed, counted as ok)."""


def trust_counts(source: FrameSource, selection: Selection) -> dict[str, int]:
    """Clips behind the active frames of ``selection`` (its trust rule aside): ``clips`` in all, ``low``
    (left out of indicators unless asked for) with their ``low_frames``, and ``not_checked`` (stored before
    verdicts existed; counted as ok).

    Reads only ``frames`` (its ``low_trust`` flag), so it answers on a Parquet store too.
    """
    where, params = selection_filter(selection, trust=False)
    row = source.query_df(
        "SELECT count(DISTINCT f.clip_sha256) AS clips, count(DISTINCT f.clip_sha256) FILTER (WHERE f.low_trust) AS low, "
        "count(DISTINCT f.clip_sha256) FILTER (WHERE f.low_trust IS NULL) AS not_checked, "
        "count(*) FILTER (WHERE f.low_trust) AS low_frames "
        f"FROM frames f WHERE {_and(*where)}",
        params,
    ).iloc[0]
    return {k: int(row[k]) if not pd.isna(row[k]) else 0 for k in ("clips", "low", "not_checked", "low_frames")}


def list_clips(store: Store, camera_id: str | None = None) -> pd.DataFrame:
    """Stored clips with their active run's trust verdict, newest first.

    Columns: clip_sha256, label, camera_id, start_time, duration_s, source, model_name, n_frames,
    trust (``ok``, ``low`` or ``not checked``), reasons (a list of sentences).
    """
    where, params = ["r.active"], {}
    if camera_id is not None:
        where.append("c.camera_id = $cam")
        params["cam"] = camera_id
    df = store.query_df(
        "SELECT c.clip_sha256, c.label, c.camera_id, c.start_time, c.duration_s, c.source, r.model_name, r.n_frames, "
        "r.trust, r.trust_reasons FROM clips c JOIN model_runs r ON r.clip_sha256 = c.clip_sha256 "
        f"WHERE {_and(*where)} ORDER BY c.start_time DESC, c.label",
        params,
    )
    df["reasons"] = [json.loads(r) if isinstance(r, str) and r else [] for r in df.pop("trust_reasons")]
    df["trust"] = [TRUST_LABELS.get(t if isinstance(t, str) else None, str(t)) for t in df["trust"]]
    return df


def clip_sources(store: Store, camera_id: str) -> pd.DataFrame:
    """A camera's clips with an active run: the file each was read from at ingest and the frames that run sampled.

    Columns: clip_sha256, label, start_time, source_path (None: not recorded, e.g. an uploaded clip
    or one stored before paths were recorded), run_id, sampling (e.g. ``fps=2``), frame_index (the
    sampled frames' positions in the clip, ascending). Oldest clip first.
    """
    return store.query_df(
        "SELECT c.clip_sha256, c.label, c.start_time, c.source_path, r.run_id, r.sampling, "
        "list(f.frame_index ORDER BY f.frame_index) AS frame_index "
        "FROM clips c JOIN model_runs r ON r.clip_sha256 = c.clip_sha256 AND r.active "
        "JOIN frames f ON f.run_id = r.run_id "
        "WHERE c.camera_id = ? GROUP BY c.clip_sha256, c.label, c.start_time, c.source_path, r.run_id, r.sampling "
        "ORDER BY c.start_time, c.clip_sha256",
        [camera_id],
    )
