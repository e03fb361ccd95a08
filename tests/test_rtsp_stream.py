"""The local RTSP test server: PyAV reads a live stream of a real sample clip from 127.0.0.1 over TCP, and ``watch`` stores it."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import av
import numpy as np
import pandas as pd
from rtsp_fixture import RTSP_FPS, RTSP_SIZE, rtsp_url  # noqa: F401 (the fixture)
from tinymodels import install_colour_model

from analytics.footage.options import AnalysisOptions
from analytics.footage.stream import parse_source
from analytics.footage.watch import Watcher, WatchOptions
from analytics.settings import load_settings
from analytics.store.database import open_store
from analytics.store.health import watch_health


def _open(url: str, tries: int = 3) -> av.container.InputContainer:
    """Open the stream over TCP; the server prepares its pipeline at the first request, which on a busy machine
    can answer "Invalid data" once (a watcher reconnects in the same way)."""
    for attempt in range(tries):
        try:
            return av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)
        except av.error.InvalidDataError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def test_pyav_reads_frames_of_the_right_size_from_the_rtsp_server(rtsp_url):  # noqa: F811
    assert rtsp_url.startswith("rtsp://127.0.0.1:")
    with _open(rtsp_url) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append((frame.width, frame.height, frame.time, frame.to_ndarray(format="rgb24")))
            if len(frames) == 6:
                break
    assert {(w, h) for w, h, _, _ in frames} == {RTSP_SIZE}
    times = [t for _, _, t, _ in frames]
    assert np.allclose(np.diff(times), 1 / RTSP_FPS, atol=0.02)  # paced at the stream's rate, in order
    # a real street scene, not a blank or a test pattern: varied pixels, and frames that differ
    assert frames[0][3].std() > 5 and np.abs(frames[0][3].astype(int) - frames[-1][3].astype(int)).mean() > 0.5


def test_watch_follows_the_rtsp_stream_chunk_by_chunk(rtsp_url, tmp_path):  # noqa: F811
    """``urbanlens watch``'s core on the RTSP stream: packets copied into chunk files at key frames, each
    chunk one clip of the stream's size, one after the other with no overlap, and health that says so."""
    install_colour_model(tmp_path / "home")
    settings = dataclasses.replace(load_settings(), home=tmp_path / "home", db_path=tmp_path / "rtsp.duckdb")
    with open_store(settings.db_path) as store:
        store.upsert_cameras(pd.DataFrame([{"camera_id": "gate", "name": "Gate", "lon": 4.9, "lat": 52.37, "kind": "fixed"}]))
        options = AnalysisOptions.from_flags(fps=1, model="colours", road_model="none", count=False, keep_previews=0)
        watcher = Watcher(store, "gate", parse_source(rtsp_url), options, settings,
                          WatchOptions(spool=tmp_path / "spool", chunk_s=2.0, stall_s=5.0, backoff_cap_s=1.0), say=lambda _: None)
        thread = threading.Thread(target=watcher.run)
        thread.start()
        deadline = time.monotonic() + 60
        while watcher.summary.stored + watcher.summary.failed < 2 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.2)
        watcher.stop()
        thread.join(timeout=60)
        clips = store.query_df("SELECT start_time, duration_s, width, height, n_frames FROM clips ORDER BY start_time")
        frames = store.query_df("SELECT f.ts, c.start_time, c.duration_s FROM frames f JOIN clips c USING (clip_sha256) ORDER BY f.ts")
        health = watch_health(store, datetime.now(UTC).replace(tzinfo=None), 10)
    assert not thread.is_alive() and watcher.summary.failed == 0 and len(clips) >= 2
    assert set(zip(clips["width"], clips["height"], strict=True)) == {RTSP_SIZE}
    ends = clips["start_time"] + pd.to_timedelta(clips["duration_s"], unit="s")
    assert (clips["start_time"].iloc[1:].to_numpy() >= ends.iloc[:-1].to_numpy() - np.timedelta64(1, "ms")).all()  # no overlap
    inside = (frames["ts"] >= frames["start_time"]) & (frames["ts"] < frames["start_time"] + pd.to_timedelta(frames["duration_s"], unit="s"))
    assert frames["ts"].is_unique and inside.all()
    assert len(frames) == int(np.ceil(clips["duration_s"] - 1e-6).sum())  # 1 frame a second of each chunk, the last one cut by the stop
    row = health.iloc[0]
    assert row["camera_id"] == "gate" and row["state"] == "stopped" and row["chunks_stored"] == len(clips)
    assert row["source"].startswith("rtsp://127.0.0.1:") and (row["width"], row["height"]) == RTSP_SIZE
