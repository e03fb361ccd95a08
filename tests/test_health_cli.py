"""``urbanlens health``: the table for people, the JSON for scripts, exit 1 when a camera is stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import clip_from_pixels, store_with_cameras
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.gpstrack import utc_to_local
from analytics.pages.live import TABLE_COLUMNS, ago_text, health_table
from analytics.store import Store
from analytics.store.health import HEALTH_COLUMNS, WatchReport, record_watch, watch_health, watch_started


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def watched_db(tmp_path_factory):
    """gate: a frame 2 minutes ago and 3 frames of the last hour stored in Zurich time; quay: started 25
    minutes ago, reconnecting, no frame since. Read only by the tests."""
    path = tmp_path_factory.mktemp("health") / "live.duckdb"
    now = _now()
    with store_with_cameras(str(path), [("gate", 8.5, 47.3), ("quay", 8.6, 47.3)]) as store:
        store.ingest([clip_from_pixels("gate", utc_to_local(now - timedelta(minutes=10), "Europe/Zurich"), [{0: 10}] * 3)])
        watch_started(store, "gate", "rtsp://127.0.0.1:8554/gate", 11, now - timedelta(minutes=30))
        watch_started(store, "quay", "http://127.0.0.1:8080/quay.m3u8", 12, now - timedelta(minutes=25))
        record_watch(store, "gate", WatchReport(last_frame_at=now - timedelta(minutes=2), chunks=3, frames=180, dropped=4,
                                                size=(640, 360), lag_s=61.5), now - timedelta(minutes=2))
        record_watch(store, "quay", WatchReport(state="reconnecting", reconnects=5, error="HTTP 404 on the playlist"),
                     now - timedelta(minutes=1))
    return path


@pytest.fixture()
def watched(watched_db, monkeypatch):
    monkeypatch.setenv("URBANLENS_TIMEZONE", "Europe/Zurich")
    return watched_db


def test_the_table_names_the_stale_camera_and_exits_1(watched):
    result = CliRunner().invoke(app, ["health", "--db", str(watched)])
    assert result.exit_code == 1, result.output
    out = result.output
    for heading in ("camera", "status", "last frame", "frames last hour", "reconnects", "last error", "chunks", "dropped", "lag"):
        assert heading in out
    assert "2 watched cameras: 1 stale, 1 ok" in out and "Europe/Zurich" in out
    quay = next(line for line in out.splitlines() if "quay" in line)
    assert "stale" in quay and "HTTP 404 on the playlist" in quay and "never" in quay
    gate = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("gate"))
    assert "2 min ago" in gate and "62 s" in gate
    # a longer threshold: quay's 25 minutes without a frame are within it
    assert CliRunner().invoke(app, ["health", "--db", str(watched), "--stale-minutes", "30"]).exit_code == 0


def test_json_rows_carry_iso_utc_times_and_the_last_hour_in_city_time(watched):
    result = CliRunner().invoke(app, ["health", "--db", str(watched), "--format", "json"])
    assert result.exit_code == 1, result.output
    rows = {r["camera_id"]: r for r in json.loads(result.output)}
    assert set(rows) == {"gate", "quay"} and all(list(r) == list(HEALTH_COLUMNS) for r in rows.values())
    gate, quay = rows["gate"], rows["quay"]
    assert gate["status"] == "ok" and quay["status"] == "stale" and quay["last_frame_time"] is None
    assert gate["last_frame_time"].endswith("Z")
    seen = datetime.fromisoformat(gate["last_frame_time"].removesuffix("Z"))
    assert abs((_now() - seen) - timedelta(minutes=2)) < timedelta(seconds=30)
    # the 3 frames were stored 10 minutes ago in Zurich wall-clock time; read in UTC they would be 1-2 hours off
    assert gate["frames_last_hour"] == 3 and quay["frames_last_hour"] == 0
    assert (gate["reconnects"], quay["reconnects"], gate["frames_dropped"], gate["width"]) == (0, 5, 4, 640)
    assert isinstance(gate["width"], int) and quay["width"] is None and isinstance(gate["pid"], int)


def test_no_watched_camera_is_exit_0_with_a_line(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    path = tmp_path / "empty.duckdb"
    store_with_cameras(str(path), [("gate", 8.5, 47.3)])
    result = CliRunner().invoke(app, ["health", "--db", str(path)])
    assert result.exit_code == 0 and "no camera is watched" in result.output
    raw = CliRunner().invoke(app, ["health", "--db", str(path), "--format", "json"])
    assert raw.exit_code == 0 and json.loads(raw.stdout) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "yaml"], "expected one of table, json"),
    (["--stale-minutes", "0"], "above 0"),
    (["--webhook", "ftp://hooks.example.org/x"], "expected an http:// or https:// URL"),
])
def test_bad_options_are_one_line_errors(watched, args, message):
    result = CliRunner().invoke(app, ["health", "--db", str(watched), *args])
    assert isinstance(result.exception, InputError) and message in str(result.exception)


def test_health_table_reads_like_the_cli(watched):
    health = watch_health(Store(str(watched), read_only=True), _now(), 10, "Europe/Zurich")
    table = health_table(health, "Europe/Zurich")
    assert tuple(table.columns) == TABLE_COLUMNS and table["status"].tolist() == ["stale", "ok"]
    assert ago_text(health.loc[1, "minutes_since_frame"]) == "2 min ago"
