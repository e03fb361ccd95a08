"""Webhook alerts: posted to a real HTTP server on 127.0.0.1 when a camera turns stale and when it recovers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import store_with_cameras
from typer.testing import CliRunner

from analytics.alerts import post_alert, send_alerts, shown_url
from analytics.cli import app
from analytics.store import Store
from analytics.store.health import WatchReport, record_watch, watch_events, watch_health, watch_started


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST (path, JSON body) and answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.auth: list[str | None] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((self.path, json.loads(body)))
                receiver.auth.append(self.headers.get("Authorization"))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://alice:s3cret@127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture()
def stale_db(tmp_path, monkeypatch):
    """gate: a frame 20 minutes ago, so stale at 10 minutes; 3 reconnects and an error since."""
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    path = tmp_path / "alerts.duckdb"
    now = _now()
    with store_with_cameras(str(path), [("gate", 8.5, 47.3)]) as store:
        watch_started(store, "gate", "rtsp://127.0.0.1:8554/gate", 11, now - timedelta(minutes=40))
        record_watch(store, "gate", WatchReport(last_frame_at=now - timedelta(minutes=20), reconnects=3,
                                                error="no frame for 10 s"), now - timedelta(minutes=5))
    return path


def test_stale_then_recovered_each_post_once(stale_db, receiver):
    url = receiver.url("/services/T1/secret-path")
    first = CliRunner().invoke(app, ["health", "--db", str(stale_db), "--webhook", url])
    assert first.exit_code == 1, first.output
    assert len(receiver.posts) == 1
    path, alert = receiver.posts[0]
    assert path == "/services/T1/secret-path" and receiver.auth == ["Basic YWxpY2U6czNjcmV0"]  # alice:s3cret
    assert set(alert) == {"camera_id", "status", "previous", "last_frame_time", "minutes_since_frame", "reconnects",
                          "last_error", "database", "sent_at"}
    assert (alert["camera_id"], alert["status"], alert["previous"], alert["reconnects"]) == ("gate", "stale", "ok", 3)
    assert alert["last_error"] == "no frame for 10 s" and alert["database"] == str(stale_db)
    assert alert["last_frame_time"].endswith("Z") and alert["sent_at"].endswith("Z") and 19.5 < alert["minutes_since_frame"] < 21
    assert "s3cret" not in first.output and "secret-path" not in first.output and "alert sent for gate: stale" in first.output

    again = CliRunner().invoke(app, ["health", "--db", str(stale_db), "--webhook", url])
    assert again.exit_code == 1 and len(receiver.posts) == 1  # told once, not at every check

    store = Store(str(stale_db))
    record_watch(store, "gate", WatchReport(last_frame_at=_now()), _now())
    recovered = CliRunner().invoke(app, ["health", "--db", str(stale_db), "--webhook", url])
    assert recovered.exit_code == 0, recovered.output
    assert [(a["status"], a["previous"]) for _, a in receiver.posts] == [("stale", "ok"), ("ok", "stale")]
    assert watch_events(store, "gate")["detail"].tolist()[:2] == ["alert sent: ok", "alert sent: stale"]


def test_a_failed_post_is_one_line_and_retried_at_the_next_check(stale_db, receiver):
    receiver.status = 500
    failed = CliRunner().invoke(app, ["health", "--db", str(stale_db), "--webhook", receiver.url()])
    assert failed.exit_code == 1  # stale, and the check itself did not fail
    assert "alert for gate (stale) not sent: webhook http://127.0.0.1:" in failed.output and "HTTP 500" in failed.output
    assert "s3cret" not in failed.output
    assert watch_health(Store(str(stale_db)), _now(), 10)["alerted"].tolist() == [None]
    receiver.status = 204
    CliRunner().invoke(app, ["health", "--db", str(stale_db), "--webhook", receiver.url()])
    assert [a["status"] for _, a in receiver.posts] == ["stale", "stale"]  # the failed one, then the retry
    assert watch_health(Store(str(stale_db)), _now(), 10)["alerted"].tolist() == ["stale"]


def test_an_unreachable_receiver_times_out_in_one_line(stale_db, receiver):
    receiver.close()  # the port is closed now: the connection is refused
    lines: list[str] = []
    health = watch_health(Store(str(stale_db)), _now(), 10)
    sent = send_alerts(health, receiver.url(), str(stale_db), _now(), on_sent=lambda c, s: lines.append("sent"), say=lines.append,
                       timeout_s=2.0)
    assert sent == 0 and len(lines) == 1 and "not reached" in lines[0] and "s3cret" not in lines[0]
    assert post_alert(receiver.url(), {"x": 1}, timeout_s=1.0) is not None
    assert shown_url(receiver.url("/a/b?token=t")) == f"http://127.0.0.1:{receiver.port}/…"
