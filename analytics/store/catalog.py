"""Look-ups behind the Camera and Data pages: clips, previews, zones, routes and model runs.

Each function takes an open store and returns a DataFrame; SQL is fixed text with bound values.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd

from analytics.store import Store


def _window(start: date | None, end: date | None) -> tuple[datetime, datetime]:
    """Inclusive dates as a half-open timestamp window (open ends become far past / far future)."""
    t0 = datetime.combine(start, time.min) if start else datetime(1970, 1, 1)
    t1 = datetime.combine(end + timedelta(days=1), time.min) if end else datetime(2999, 1, 1)
    return t0, t1


def cameras_with_zones(store: Store) -> list[str]:
    """Ids of cameras that have at least one zone."""
    return [str(c) for c in store.query_df("SELECT DISTINCT camera_id FROM camera_zones ORDER BY 1")["camera_id"]]


def camera_clips(store: Store, camera_id: str, start: date | None = None, end: date | None = None, limit: int = 500) -> pd.DataFrame:
    """A camera's clips in the period with their active run (model, sampling, smoothing) and mean flicker/confidence."""
    t0, t1 = _window(start, end)
    return store.query_df(
        "SELECT c.label, c.start_time, c.duration_s, c.width, c.height, c.source, r.run_id, r.model_name, r.sampling, r.smoothing, "
        "r.n_frames, r.code_version, fl.flicker, fl.confidence "
        "FROM clips c JOIN model_runs r ON r.clip_sha256 = c.clip_sha256 AND r.active "
        "LEFT JOIN (SELECT run_id, avg(flicker) AS flicker, avg(mean_confidence) AS confidence FROM frames "
        "WHERE camera_id = ? AND active AND ts >= ? AND ts < ? GROUP BY run_id) fl ON fl.run_id = r.run_id "
        "WHERE c.camera_id = ? AND c.start_time >= ? AND c.start_time < ? ORDER BY c.start_time DESC LIMIT ?",
        [camera_id, t0, t1, camera_id, t0, t1, limit],
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
    """Where a mobile camera's frames were taken in the period (positions rounded to about 10 m)."""
    t0, t1 = _window(start, end)
    return store.query_df(
        "SELECT DISTINCT round(lon, 4) AS lon, round(lat, 4) AS lat FROM frames WHERE camera_id = ? AND active "
        "AND ts >= ? AND ts < ? LIMIT ?",
        [camera_id, t0, t1, limit],
    )


def model_run_summary(store: Store) -> pd.DataFrame:
    """Models behind the stored (active) measurements, with runs and frames each."""
    return store.query_df(
        "SELECT model_name, count(*) AS runs, sum(n_frames) AS frames FROM model_runs WHERE active GROUP BY 1 ORDER BY 2 DESC"
    )
