"""Watched cameras for people: the health table of ``urbanlens health`` and the dashboard, the JSON
rows for scripts, the line of one camera, and the frames its live view reads.

Input is :func:`analytics.store.health.watch_health` (times naive UTC); what stale means is
:func:`analytics.store.health.health_status`. Times shown to people are local wall-clock times of
the city zone (``URBANLENS_TIMEZONE``) beside how long ago they were.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from analytics.alerts import iso_utc
from analytics.gpstrack import camera_zone, utc_to_local
from analytics.selection import Selection
from analytics.store.database import Store
from analytics.store.health import HEALTH_COLUMNS, watch_health

__all__ = [
    "DEFAULT_STALE_MINUTES",
    "LIVE_INDICATORS",
    "LIVE_REFRESH_S",
    "STATUS_BADGES",
    "TABLE_COLUMNS",
    "ago_text",
    "camera_health",
    "camera_health_line",
    "current_health",
    "health_records",
    "health_summary",
    "health_table",
    "last_hour_selection",
    "local_now",
    "local_text",
    "stale_ids",
    "stale_rows",
    "utc_now",
]

LIVE_REFRESH_S = 5
"""Seconds between two refreshes of a watched camera's live view on the Camera page."""

DEFAULT_STALE_MINUTES = 10.0
"""The dashboard's threshold: a watched camera with no frame for this long is stale (``urbanlens health``'s default)."""

STATUS_BADGES = {"ok": ":green-badge[ok]", "stale": ":red-badge[stale]", "stopped": ":gray-badge[stopped]"}
"""How the dashboard marks each health status (Streamlit Markdown badges)."""

LIVE_INDICATORS = ("green_view", "pedestrian_share", "people_per_frame", "road_occupancy", "congestion")
"""Indicators of a watched camera's last hour on its live view."""

TABLE_COLUMNS = ("camera", "status", "last frame", "ago", "frames last hour", "reconnects", "last error", "chunks", "dropped", "lag")
"""Columns of :func:`health_table`, in order."""


def ago_text(minutes: float | None) -> str:
    """How long ago, for people: under a minute, minutes, hours and minutes, or days.

    >>> [ago_text(m) for m in (None, 0.4, 3.2, 59.9, 125, 60 * 24 * 3 + 5)]
    ['never', 'just now', '3 min ago', '60 min ago', '2 h 5 min ago', '3 days ago']
    """
    if minutes is None or (isinstance(minutes, float) and math.isnan(minutes)):
        return "never"
    if minutes < 1:
        return "just now"
    if minutes < 60.5:
        return f"{round(minutes)} min ago"
    if minutes < 60 * 24:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} h {rest} min ago" if rest else f"{hours} h ago"
    days = round(minutes / (60 * 24))
    return f"{days} day{'s' if days != 1 else ''} ago"


def local_text(utc: Any, zone: str) -> str:
    """A naive UTC time as local wall-clock ``YYYY-MM-DD HH:MM`` in ``zone``; missing: ``—``.

    >>> local_text(datetime(2026, 5, 4, 8, 2), "Europe/Zurich"), local_text(None, "UTC")
    ('2026-05-04 10:02', '—')
    """
    if utc is None or pd.isna(utc):
        return "—"
    return utc_to_local(pd.Timestamp(utc).to_pydatetime(), zone).strftime("%Y-%m-%d %H:%M")


def _lag_text(lag_s: Any) -> str:
    return "—" if lag_s is None or pd.isna(lag_s) else f"{float(lag_s):.0f} s"


def health_table(health: pd.DataFrame, zone: str) -> pd.DataFrame:
    """The health rows as people read them (:data:`TABLE_COLUMNS`): ``last frame`` local time in
    ``zone``, ``ago`` since the last frame (``never`` when none came), lag between capture and store."""
    rows = [
        {
            "camera": r["camera_id"] if r["name"] == r["camera_id"] else f"{r['name']} ({r['camera_id']})",
            "status": r["status"], "last frame": local_text(r["last_frame_time"], zone),
            "ago": ago_text(r["minutes_since_frame"]) if r["last_frame_time"] is not None and not pd.isna(r["last_frame_time"]) else "never",
            "frames last hour": int(r["frames_last_hour"]), "reconnects": int(r["reconnects"]),
            "last error": r["last_error"] if isinstance(r["last_error"], str) else "", "chunks": int(r["chunks_stored"]), "dropped": int(r["frames_dropped"]),
            "lag": _lag_text(r["lag_s"]),
        }
        for r in health.to_dict("records")
    ]
    return pd.DataFrame.from_records(rows, columns=list(TABLE_COLUMNS))


_WHOLE = ("frames_last_hour", "reconnects", "chunks_stored", "frames_stored", "frames_dropped", "width", "height", "pid")
"""Columns that are whole numbers (a column with a missing value reads as floats in pandas)."""


def _plain(name: str, value: Any) -> Any:
    """A cell as JSON: times ISO 8601 UTC with ``Z``, NaN/NaT as null, numpy numbers as Python ones, counts as integers."""
    if isinstance(value, datetime | pd.Timestamp):
        return iso_utc(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    value = value.item() if hasattr(value, "item") else value
    return int(value) if name in _WHOLE else value


def health_records(health: pd.DataFrame) -> list[dict[str, Any]]:
    """The health rows for scripts: one dict per camera with every column of
    :data:`~analytics.store.health.HEALTH_COLUMNS`, times ISO 8601 UTC with ``Z``."""
    return [{c: _plain(c, r[c]) for c in HEALTH_COLUMNS} for r in health.to_dict("records")]


def health_summary(health: pd.DataFrame) -> str:
    """One line: how many cameras are watched and how many are stale, ok or stopped.

    >>> health_summary(pd.DataFrame({"status": ["stale", "ok", "ok"]}))
    '3 watched cameras: 1 stale, 2 ok'
    >>> health_summary(pd.DataFrame({"status": []}))
    'no camera is watched (start one with `urbanlens watch`)'
    """
    if health.empty:
        return "no camera is watched (start one with `urbanlens watch`)"
    counts = health["status"].value_counts()
    parts = [f"{int(counts[s])} {s}" for s in ("stale", "ok", "stopped") if s in counts]
    n = len(health)
    return f"{n} watched camera{'s' if n != 1 else ''}: {', '.join(parts)}"


def stale_ids(health: pd.DataFrame) -> tuple[str, ...]:
    """Ids of the stale cameras."""
    return tuple(str(c) for c in health.loc[health["status"] == "stale", "camera_id"]) if not health.empty else ()


def camera_health_line(row: dict[Any, Any], zone: str) -> str:
    """One camera's health as a sentence: status, last frame (local, how long ago), frames in the
    last hour, reconnects, dropped frames, lag and the last error."""
    last = row.get("last_frame_time")
    seen = (f"last frame {local_text(last, zone)} ({ago_text(row['minutes_since_frame'])})"
            if last is not None and not pd.isna(last) else "no frame yet")
    parts = [f"{row['status']}", seen, f"{int(row['frames_last_hour'])} frames in the last hour",
             f"{int(row['reconnects'])} reconnects", f"{int(row['frames_dropped'])} dropped"]
    if row.get("lag_s") is not None and not pd.isna(row["lag_s"]):
        parts.append(f"lag {float(row['lag_s']):.0f} s")
    if isinstance(row.get("last_error"), str):
        parts.append(f"last error: {row['last_error']}")
    return " · ".join(parts)


def last_hour_selection(camera_id: str, local_now: datetime, min_frames: int = 1) -> tuple[Selection, str]:
    """The frames a live view reads: the camera's today from the start of the previous hour to now
    (local time), with its description. A selection holds whole hours of one day, so this is up to
    two hours (from ``HH-1:00``), and only the current hour just after midnight.

    >>> sel, text = last_hour_selection("gate", datetime(2026, 5, 4, 10, 17))
    >>> sel.hours, sel.start, text
    ((9, 10), datetime.date(2026, 5, 4), 'today from 09:00 to now')
    """
    first = max(local_now.hour - 1, 0)
    day = local_now.date()
    selection = Selection(start=day, end=day, cameras=(camera_id,), hours=(first, local_now.hour), min_frames=min_frames)
    return selection, f"today from {first:02d}:00 to now"


def utc_now() -> datetime:
    """This machine's clock as a naive UTC time (the times of ``watch_status``)."""
    return datetime.now(UTC).replace(tzinfo=None)


def current_health(store: Store, zone: str, stale_minutes: float = DEFAULT_STALE_MINUTES) -> pd.DataFrame:
    """:func:`~analytics.store.health.watch_health` now (``zone``: the city's, for the last hour)."""
    return watch_health(store, utc_now(), stale_minutes, zone)


def camera_health(health: pd.DataFrame, camera_id: str) -> dict[str, Any] | None:
    """The health row of one camera, or None when it is not watched."""
    rows = health[health["camera_id"] == camera_id] if not health.empty else health
    return None if rows.empty else {str(k): v for k, v in rows.iloc[0].to_dict().items()}


def stale_rows(health: pd.DataFrame, cameras: pd.DataFrame, zone: str) -> pd.DataFrame:
    """The stale cameras at their position, for the map: camera_id, name, lon, lat and a hover text
    (``<name>: stale, last frame <local time> (<ago>) · <n> reconnects · last error``)."""
    cols = ["camera_id", "name", "lon", "lat", "text"]
    stale = health[health["status"] == "stale"] if not health.empty else health
    if stale.empty:
        return pd.DataFrame(columns=cols)
    placed = stale.drop(columns=["name"]).merge(cameras[["camera_id", "name", "lon", "lat"]], on="camera_id", how="inner")
    placed["text"] = [f"{r['name']}: {camera_health_line(r, zone)}" for r in placed.to_dict("records")]
    return pd.DataFrame(placed[cols])


def local_now(camera: dict[str, Any], city_zone: str) -> datetime:
    """This instant as the camera's local wall-clock time (its own zone, else the city's): the clock of its frames."""
    return utc_to_local(utc_now(), camera_zone(camera, city_zone))
