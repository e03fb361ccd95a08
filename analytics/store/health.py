"""Watched cameras: what each live-stream worker reports, and the health read from it.

A worker (``urbanlens watch``) keeps one row of ``watch_status`` per camera up to date, in short
write transactions of its own (a heartbeat, a stored chunk, a reconnect), and appends what happened
to ``watch_events`` (start, stop, reconnect, error, resize, drop, alert). Readers (``urbanlens
health``, the dashboard) read both with the store's short read-only connections.

Times in these two tables are **UTC instants** (naive ``TIMESTAMP`` read as UTC): they describe this
machine's work, not the street, so they do not follow the store's local-time rule for frames
(docs/time.md). ``frames_last_hour`` is the exception that reads frames, so it compares each
camera's frames with the last hour of *its* local clock.

Status of a watched camera (:func:`health_status`):

- ``stopped``: the worker exited cleanly (state ``stopped``);
- ``stale``: the worker is running or reconnecting and no frame arrived for ``stale_minutes``
  (counted from the last frame, or from the worker's start when none came yet). A worker killed
  without a word leaves state ``running`` and its last frame ages, so it turns stale too;
- ``ok``: otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from analytics.errors import InputError, quote_value
from analytics.gpstrack import camera_zone, utc_to_local
from analytics.store.database import Store

__all__ = [
    "HEALTH_COLUMNS",
    "HEALTH_STATUSES",
    "WATCH_EVENT_KINDS",
    "WATCH_STATES",
    "WatchReport",
    "add_watch_event",
    "health_status",
    "record_watch",
    "set_alerted",
    "watch_events",
    "watch_health",
    "watch_started",
]

WATCH_STATES = ("running", "reconnecting", "stopped")
"""What a worker says it is doing."""
HEALTH_STATUSES = ("ok", "stale", "stopped")
"""What :func:`health_status` reads from a worker's row."""
WATCH_EVENT_KINDS = ("start", "stop", "reconnect", "error", "resize", "drop", "alert")
"""Kinds of ``watch_events`` rows."""
HEALTH_COLUMNS = (
    "camera_id", "name", "source", "state", "status", "last_frame_time", "minutes_since_frame", "frames_last_hour",
    "reconnects", "last_error", "last_error_time", "chunks_stored", "frames_stored", "frames_dropped", "lag_s",
    "width", "height", "started_time", "heartbeat_time", "pid", "alerted",
)
"""Columns of :func:`watch_health`, in order (times UTC)."""


@dataclass(frozen=True)
class WatchReport:
    """One update of a worker's row: counters are *added*, other fields replace when given (None keeps)."""

    state: str | None = None
    last_frame_at: datetime | None = None
    reconnects: int = 0
    chunks: int = 0
    frames: int = 0
    dropped: int = 0
    error: str | None = None
    size: tuple[int, int] | None = None
    lag_s: float | None = None


def health_status(state: str, last_frame_at: datetime | None, started_at: datetime, now: datetime, stale_minutes: float) -> str:
    """Status of one watched camera.

    ``stopped`` when state is ``stopped``; else ``stale`` when ``now - (last_frame_at or started_at)``
    exceeds ``stale_minutes``; else ``ok``.

    >>> t = datetime(2026, 5, 4, 8, 0)
    >>> health_status("running", t, t, t + timedelta(minutes=11), 10), health_status("running", t, t, t, 10)
    ('stale', 'ok')
    >>> health_status("stopped", None, t, t + timedelta(hours=5), 10), health_status("reconnecting", None, t, t + timedelta(minutes=30), 10)
    ('stopped', 'stale')
    """
    if state == "stopped":
        return "stopped"
    since = last_frame_at if last_frame_at is not None else started_at
    return "stale" if (now - since) > timedelta(minutes=stale_minutes) else "ok"


def _check_state(state: str | None) -> None:
    if state is not None and state not in WATCH_STATES:
        raise InputError(f"watch state {quote_value(state, 20)}; expected one of {', '.join(WATCH_STATES)}")


def watch_started(store: Store, camera_id: str, source: str, pid: int | None, now: datetime) -> None:
    """A worker starts on ``camera_id`` reading ``source`` (credentials already removed): its row says
    ``running`` from ``now``; counters of earlier runs are kept (they count since the camera was first
    watched); a ``start`` event is logged."""
    with store.transaction() as cur:
        found = cur.execute("SELECT 1 FROM watch_status WHERE camera_id = ?", [camera_id]).fetchall()
        if found:
            cur.execute(
                "UPDATE watch_status SET source = ?, pid = ?, started_at = ?, heartbeat_at = ?, state = 'running' "
                "WHERE camera_id = ?",
                [source, pid, now, now, camera_id],
            )
        else:
            cur.execute(
                "INSERT INTO watch_status (camera_id, source, pid, started_at, heartbeat_at, last_frame_at, state, reconnects, "
                "chunks_stored, frames_stored, frames_dropped) VALUES (?, ?, ?, ?, ?, NULL, 'running', 0, 0, 0, 0)",
                [camera_id, source, pid, now, now],
            )
        cur.execute("INSERT INTO watch_events VALUES (?, ?, 'start', ?)", [camera_id, now, f"reading {source}"])


def record_watch(store: Store, camera_id: str, report: WatchReport, now: datetime) -> None:
    """Apply one :class:`WatchReport` to the camera's row (heartbeat = ``now``); an error is also logged
    as an ``error`` event. The camera must have been started (:func:`watch_started`)."""
    _check_state(report.state)
    width, height = report.size if report.size is not None else (None, None)
    with store.transaction() as cur:
        updated = cur.execute(
            "UPDATE watch_status SET heartbeat_at = $now, state = coalesce($state, state), "
            "last_frame_at = coalesce($frame, last_frame_at), reconnects = reconnects + $reconnects, "
            "chunks_stored = chunks_stored + $chunks, frames_stored = frames_stored + $frames, "
            "frames_dropped = frames_dropped + $dropped, last_error = coalesce($error, last_error), "
            "last_error_at = CASE WHEN $error IS NULL THEN last_error_at ELSE $now END, "
            "width = coalesce($width, width), height = coalesce($height, height), lag_s = coalesce($lag, lag_s) "
            "WHERE camera_id = $camera RETURNING camera_id",
            {
                "now": now, "state": report.state, "frame": report.last_frame_at, "reconnects": int(report.reconnects),
                "chunks": int(report.chunks), "frames": int(report.frames), "dropped": int(report.dropped),
                "error": report.error, "width": width, "height": height, "lag": report.lag_s, "camera": camera_id,
            },
        ).fetchall()
        if not updated:
            raise InputError(f"camera {quote_value(camera_id, 60)} is not being watched; start it first")
        if report.error is not None:
            cur.execute("INSERT INTO watch_events VALUES (?, ?, 'error', ?)", [camera_id, now, report.error])


def add_watch_event(store: Store, camera_id: str, kind: str, detail: str, now: datetime) -> None:
    """Log one event (``kind`` from :data:`WATCH_EVENT_KINDS`) for the camera."""
    if kind not in WATCH_EVENT_KINDS:
        raise InputError(f"watch event kind {quote_value(kind, 20)}; expected one of {', '.join(WATCH_EVENT_KINDS)}")
    with store.transaction() as cur:
        cur.execute("INSERT INTO watch_events VALUES (?, ?, ?, ?)", [camera_id, now, kind, detail])


def set_alerted(store: Store, camera_id: str, status: str, now: datetime) -> None:
    """Remember that an alert for ``status`` was sent (so the next check alerts only on a change) and log it."""
    if status not in HEALTH_STATUSES:
        raise InputError(f"health status {quote_value(status, 20)}; expected one of {', '.join(HEALTH_STATUSES)}")
    with store.transaction() as cur:
        cur.execute("UPDATE watch_status SET alerted = ? WHERE camera_id = ?", [status, camera_id])
        cur.execute("INSERT INTO watch_events VALUES (?, ?, 'alert', ?)", [camera_id, now, f"alert sent: {status}"])


def watch_events(store: Store, camera_id: str | None = None, limit: int = 100) -> pd.DataFrame:
    """The latest events (newest first), of one camera or of all: camera_id, event_at (UTC), kind, detail."""
    with store.reading() as s:
        return s.query_df(
            "SELECT camera_id, event_at, kind, detail FROM watch_events WHERE $camera IS NULL OR camera_id = $camera "
            "ORDER BY event_at DESC LIMIT $limit",
            {"camera": camera_id, "limit": int(limit)},
        )


def _frames_last_hour(s: Store, rows: pd.DataFrame, now: datetime, city_zone: str) -> list[int]:
    """Frames stored for each camera with a local time within the hour before ``now`` in its zone."""
    counts = []
    for _, row in rows.iterrows():
        local_now = utc_to_local(now, camera_zone({"timezone": row["timezone"]}, city_zone))
        counts.append(int(s.scalar(
            "SELECT count(*) FROM frames WHERE camera_id = ? AND active AND ts > ? AND ts <= ?",
            [row["camera_id"], local_now - timedelta(hours=1), local_now],
        )))
    return counts


def watch_health(store: Store, now: datetime, stale_minutes: float = 10.0, city_zone: str = "UTC") -> pd.DataFrame:
    """One row per watched camera with :data:`HEALTH_COLUMNS` (times are UTC; ``status`` by
    :func:`health_status`; ``minutes_since_frame`` counts from the last frame, or from the start when
    none came), ordered stale first, then by camera id."""
    if not stale_minutes > 0:
        raise InputError(f"stale minutes {quote_value(stale_minutes, 20)}; expected a number above 0")
    with store.reading() as s:
        rows = s.query_df(
            "SELECT w.*, c.name AS cam_name, c.timezone FROM watch_status w LEFT JOIN cameras c USING (camera_id) "
            "ORDER BY w.camera_id"
        )
        last_hour = _frames_last_hour(s, rows, now, city_zone) if not rows.empty else []
    return _health_frame(rows, last_hour, now, stale_minutes)


def _when(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _health_frame(rows: pd.DataFrame, last_hour: list[int], now: datetime, stale_minutes: float) -> pd.DataFrame:
    records = []
    for (_, row), frames in zip(rows.iterrows(), last_hour, strict=True):
        last, started = _when(row["last_frame_at"]), _when(row["started_at"])
        assert started is not None
        records.append({
            "camera_id": row["camera_id"], "name": row["cam_name"] if isinstance(row["cam_name"], str) else row["camera_id"],
            "source": row["source"], "state": row["state"],
            "status": health_status(row["state"], last, started, now, stale_minutes),
            "last_frame_time": last, "minutes_since_frame": round((now - (last or started)).total_seconds() / 60.0, 1),
            "frames_last_hour": frames, "reconnects": int(row["reconnects"]),
            "last_error": row["last_error"] if isinstance(row["last_error"], str) else None,
            "last_error_time": _when(row["last_error_at"]), "chunks_stored": int(row["chunks_stored"]),
            "frames_stored": int(row["frames_stored"]), "frames_dropped": int(row["frames_dropped"]),
            "lag_s": None if pd.isna(row["lag_s"]) else float(row["lag_s"]),
            "width": None if pd.isna(row["width"]) else int(row["width"]),
            "height": None if pd.isna(row["height"]) else int(row["height"]),
            "started_time": started, "heartbeat_time": _when(row["heartbeat_at"]),
            "pid": None if pd.isna(row["pid"]) else int(row["pid"]),
            "alerted": row["alerted"] if isinstance(row["alerted"], str) else None,
        })
    out = pd.DataFrame.from_records(records, columns=list(HEALTH_COLUMNS))
    order = out["status"].map({"stale": 0, "ok": 1, "stopped": 2}) if not out.empty else out["status"]
    return out.assign(_o=order).sort_values(["_o", "camera_id"], kind="stable").drop(columns="_o").reset_index(drop=True)
