"""Watched cameras' rows and events in the store, and the status read from them."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from helpers import clip_from_pixels, store_with_cameras

from analytics.errors import InputError
from analytics.store.health import (
    HEALTH_COLUMNS,
    WatchReport,
    add_watch_event,
    record_watch,
    set_alerted,
    watch_events,
    watch_health,
    watch_started,
)

T0 = datetime(2026, 5, 4, 8, 0)


def test_a_worker_reports_and_goes_stale_when_frames_stop(tmp_path):
    with store_with_cameras(str(tmp_path / "w.duckdb"), [("gate", 8.5, 47.3), ("quay", 8.6, 47.3)]) as store:
        watch_started(store, "gate", "http://127.0.0.1/live.m3u8", 123, T0)
        watch_started(store, "quay", "rtsp://127.0.0.1/cam", 124, T0)
        first = WatchReport(last_frame_at=T0 + timedelta(minutes=1), chunks=1, frames=60, size=(640, 360), lag_s=62.0)
        record_watch(store, "gate", first, T0 + timedelta(minutes=1))
        record_watch(store, "quay", WatchReport(state="reconnecting", reconnects=1, error="no frame for 10 s"), T0 + timedelta(minutes=2))
        record_watch(store, "gate", WatchReport(last_frame_at=T0 + timedelta(minutes=2), chunks=1, frames=60, dropped=3), T0 + timedelta(minutes=2))

        health = watch_health(store, T0 + timedelta(minutes=15), stale_minutes=10)
        assert list(health.columns) == list(HEALTH_COLUMNS)
        by_id = health.set_index("camera_id")
        # quay never sent a frame: stale 15 minutes after its start; gate's last frame is 13 minutes old
        assert by_id.loc["quay", "status"] == "stale" and by_id.loc["quay", "reconnects"] == 1
        assert by_id.loc["quay", "last_error"] == "no frame for 10 s"
        assert by_id.loc["gate", "status"] == "stale" and by_id.loc["gate", "chunks_stored"] == 2
        assert by_id.loc["gate", "frames_dropped"] == 3 and by_id.loc["gate", "width"] == 640
        assert watch_health(store, T0 + timedelta(minutes=5), 10).set_index("camera_id").loc["gate", "status"] == "ok"

        record_watch(store, "gate", WatchReport(state="stopped"), T0 + timedelta(minutes=3))
        assert watch_health(store, T0 + timedelta(hours=3), 10).set_index("camera_id").loc["gate", "status"] == "stopped"
        set_alerted(store, "quay", "stale", T0 + timedelta(minutes=16))
        add_watch_event(store, "quay", "reconnect", "retry in 2.1 s", T0 + timedelta(minutes=17))
        events = watch_events(store, "quay")
        assert events["kind"].tolist() == ["reconnect", "alert", "error", "start"]
        assert watch_health(store, T0, 10).set_index("camera_id").loc["quay", "alerted"] == "stale"


def test_frames_of_the_last_hour_count_by_the_camera_clock(tmp_path):
    # frames are stored in local time (Europe/Zurich, UTC+2 in May); the worker's clock is UTC
    clip = clip_from_pixels("gate", T0, [{0: 10}] * 3)
    with store_with_cameras(str(tmp_path / "w.duckdb"), [("gate", 8.5, 47.3)]) as store:
        store.ingest([clip])
        watch_started(store, "gate", "http://127.0.0.1/live.m3u8", None, T0 - timedelta(hours=2))
        now_utc = T0 - timedelta(hours=2) + timedelta(minutes=30)
        assert watch_health(store, now_utc, 10, city_zone="Europe/Zurich")["frames_last_hour"].tolist() == [3]
        assert watch_health(store, now_utc, 10, city_zone="UTC")["frames_last_hour"].tolist() == [0]


def test_bad_reports_are_refused(tmp_path):
    with store_with_cameras(str(tmp_path / "w.duckdb"), [("gate", 8.5, 47.3)]) as store:
        with pytest.raises(InputError, match="not being watched"):
            record_watch(store, "gate", WatchReport(frames=1), T0)
        watch_started(store, "gate", "x", None, T0)
        with pytest.raises(InputError, match="expected one of running"):
            record_watch(store, "gate", dataclasses.replace(WatchReport(), state="asleep"), T0)
        with pytest.raises(InputError, match="expected one of start"):
            add_watch_event(store, "gate", "party", "", T0)
        with pytest.raises(InputError, match="above 0"):
            watch_health(store, T0, 0)
