"""Webhook alerts for watched cameras: which status changes to tell, the JSON posted, and the post.

A camera is told about when its health status (:func:`analytics.store.health.health_status`) turns
``stale``, and again when it recovers to ``ok`` after a stale alert; the status last told is the
``alerted`` column of ``watch_status``. An alert is remembered (``on_sent``) only after the
receiver answered 2xx, so a failed post is tried again at the next check. Only ``http`` and
``https`` URLs are accepted; credentials in one (``https://user:password@host/…``) are sent as
HTTP basic authentication; a URL is shown without its credentials, path or query
(:func:`shown_url`), since webhook URLs often carry their secret there.

The payload (one JSON object per camera and change)::

    {"camera_id": "gate", "status": "stale", "previous": "ok", "last_frame_time": "2026-05-04T08:02:00Z",
     "minutes_since_frame": 13.0, "reconnects": 4, "last_error": "no frame for 10 s",
     "database": "/var/lib/urbanlens/city.duckdb", "sent_at": "2026-05-04T08:15:00Z"}
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pandas as pd

from analytics.errors import InputError, quote_value

__all__ = [
    "ALERT_TIMEOUT_S",
    "alert_payload",
    "alerts_due",
    "check_webhook_url",
    "iso_utc",
    "post_alert",
    "send_alerts",
    "shown_url",
]

ALERT_TIMEOUT_S = 10.0
"""Seconds a webhook post may take (connect and answer) before it counts as failed."""


def check_webhook_url(url: str) -> str:
    """``url`` when it is an ``http``/``https`` URL with a host; else an :class:`InputError` naming it (credentials hidden).

    >>> check_webhook_url("https://hooks.example.org/T1/abc")
    'https://hooks.example.org/T1/abc'
    >>> check_webhook_url("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: webhook URL 'file://…'; expected an http:// or https:// URL with a host
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook URL {quote_value(shown_url(url), 80)}; expected an http:// or https:// URL with a host")
    return url


def shown_url(url: str) -> str:
    """``url`` as printed: scheme, host and port only; user, password, path and query become ``…``.

    >>> shown_url("https://user:secret@hooks.example.org:8443/services/T1/B2/XYZ?token=k")
    'https://hooks.example.org:8443/…'
    >>> shown_url("http://127.0.0.1:9000"), shown_url("not a url")
    ('http://127.0.0.1:9000', '…')
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return f"{parts.scheme}://…" if parts.scheme.isalpha() else "…"
    netloc = f"[{host}]" if ":" in host else host
    rest = "/…" if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}{rest}"


def iso_utc(value: Any) -> str | None:
    """A naive UTC time (datetime or pandas Timestamp) as ISO 8601 with ``Z``; None or NaT: None.

    >>> iso_utc(datetime(2026, 5, 4, 8, 2, 0, 500000)), iso_utc(None)
    ('2026-05-04T08:02:00Z', None)
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def alerts_due(health: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`~analytics.store.health.watch_health` whose change is to be told.

    Rule: ``status == "stale"`` and ``alerted != "stale"`` (it went stale), or ``status == "ok"``
    and ``alerted == "stale"`` (it recovered). A stopped camera is not alerted (it was stopped on
    purpose); a camera that was never stale is not told that it is fine.

    >>> h = pd.DataFrame({"camera_id": ["a", "b", "c", "d"], "status": ["stale", "ok", "ok", "stale"],
    ...                   "alerted": [None, "stale", None, "stale"]})
    >>> alerts_due(h)["camera_id"].tolist()
    ['a', 'b']
    """
    if health.empty:
        return health
    alerted = health["alerted"].where(health["alerted"].notna(), None)
    due = ((health["status"] == "stale") & (alerted != "stale")) | ((health["status"] == "ok") & (alerted == "stale"))
    return health[due.to_numpy(dtype=bool)]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) or not math.isfinite(float(value)) else float(value)


def alert_payload(row: dict[Any, Any], database: str, sent_at: datetime) -> dict[str, Any]:
    """The JSON object posted for one camera's change (``row``: a :func:`watch_health` row as a dict).

    ``previous`` is the status last told (``"ok"`` when none was); times are ISO 8601 UTC with ``Z``.
    """
    alerted = row.get("alerted")
    error = row.get("last_error")
    return {
        "camera_id": str(row["camera_id"]),
        "status": str(row["status"]),
        "previous": alerted if isinstance(alerted, str) else "ok",
        "last_frame_time": iso_utc(row.get("last_frame_time")),
        "minutes_since_frame": _number(row.get("minutes_since_frame")),
        "reconnects": int(row.get("reconnects") or 0),
        "last_error": error if isinstance(error, str) else None,
        "database": database,
        "sent_at": iso_utc(sent_at),
    }


def _request_target(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its ``user:password@`` and the request headers, with HTTP basic authentication
    for the credentials when the URL carries them.

    >>> _request_target("https://u:p@h.example/x?y=1")
    ('https://h.example/x?y=1', {'Content-Type': 'application/json', 'User-Agent': 'urbanlens-health', 'Authorization': 'Basic dTpw'})
    """
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "urbanlens-health"}
    if parts.username is None:
        return url, headers
    secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    headers["Authorization"] = "Basic " + base64.b64encode(secret).decode("ascii")
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), headers


def post_alert(url: str, payload: dict[str, Any], timeout_s: float = ALERT_TIMEOUT_S) -> str | None:
    """POST ``payload`` as JSON to ``url``; None when the receiver answered 2xx, else why not (one line,
    the URL shown by :func:`shown_url`); it waits at most ``timeout_s`` seconds."""
    target, headers = _request_target(check_webhook_url(url))
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(target, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 (scheme checked above)
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        return f"webhook {shown_url(url)} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"webhook {shown_url(url)} not reached: {str(reason).replace(url, shown_url(url))[:200]}"
    return None if 200 <= status < 300 else f"webhook {shown_url(url)} answered HTTP {status}"


def send_alerts(
    health: pd.DataFrame, url: str, database: str, now: datetime, *,
    on_sent: Callable[[str, str], None], say: Callable[[str], None], timeout_s: float = ALERT_TIMEOUT_S,
) -> int:
    """Post one alert per camera of :func:`alerts_due`; ``on_sent(camera_id, status)`` after each
    2xx answer (the caller remembers it: :func:`analytics.store.health.set_alerted`); each failure is
    one line through ``say`` and is retried at the next check. Returns the number of alerts sent."""
    sent = 0
    for row in alerts_due(health).to_dict("records"):
        payload = alert_payload(row, database, now)
        failure = post_alert(url, payload, timeout_s)
        if failure is not None:
            say(f"alert for {payload['camera_id']} ({payload['status']}) not sent: {failure}; retried at the next check")
            continue
        on_sent(payload["camera_id"], payload["status"])
        sent += 1
    return sent
