"""``urbanlens watch`` on a live HLS stream served on 127.0.0.1 (tests/streams.py), with its faults.

One module-scoped session follows the stream in this process through a stall, a garbage segment, a
change of frame size, a restarted source and the server gone for a while, while two ``urbanlens
watch`` subprocesses on the same stream are stopped mid-chunk, one by SIGTERM and one by SIGKILL.
After each: no overlapping clips or duplicate frame times, every stored chunk whole, health telling
what happened.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.cli.watch import spool_folder
from analytics.errors import InputError
from analytics.footage.options import AnalysisOptions
from analytics.footage.stream import HlsFollower, StreamFault, parse_playlist, parse_source, redact
from analytics.footage.video import Sampling, select_frames
from analytics.footage.watch import Watcher, WatchOptions, backoff_delay, next_factor
from analytics.settings import Settings, load_settings
from analytics.store import open_store
from analytics.store.catalog import camera_clips
from analytics.store.health import watch_events, watch_health
from tests.streams import LiveHls, clip_frames, write_clip
from tests.tinymodels import install_colour_model

REPO = Path(__file__).resolve().parents[1]
SEGMENT_S = 1.0
STREAM_FPS = 10
SUB_CHUNK_S = 4.0


# -- pure parts --------------------------------------------------------------------------------------------
def test_backoff_doubles_to_the_cap_with_jitter_below_it() -> None:
    plain = [backoff_delay(a, u=0.0) for a in range(9)]
    assert plain == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    jittered = [backoff_delay(3, u=u) for u in np.linspace(0, 0.999, 50)]
    assert min(jittered) > 8 * 0.8 - 1e-9 and max(jittered) <= 8.0
    assert backoff_delay(10**6, u=0.0) == 60.0  # no overflow after a long outage
    with pytest.raises(InputError):
        backoff_delay(-1)


def test_sampling_lowers_when_behind_and_recovers() -> None:
    f = 1.0
    for _ in range(3):  # the analysis takes twice real time: the rate falls, never below the floor
        f = next_factor(f, 2.0 * 60 * f, 60, 0)
    assert 0.1 <= f < 0.5
    for _ in range(20):  # fast again: back to the full rate, never above it
        f = next_factor(f, 10, 60, 0)
    assert f == 1.0


def test_playlist_restart_and_credentials() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n" + "".join(f"#EXTINF:2.0,\ns{i}.ts\n" for i in range(3))
    follower = HlsFollower("http://127.0.0.1:1/x.m3u8", last_seq=41)
    assert [s.seq for s in follower.new_segments(parse_playlist(text.format(40), "http://h/x.m3u8"))] == [42]
    with pytest.raises(StreamFault) as fault:
        follower.new_segments(parse_playlist(text.format(0), "http://h/x.m3u8"))
    assert fault.value.kind == "restart" and follower.last_seq == -1
    assert redact("rtsp://admin:pw@cam.local/1") == "rtsp://***@cam.local/1"
    ended = parse_playlist("#EXTM3U\n#EXTINF:1,\na.ts\n#EXT-X-ENDLIST\n", "http://h/p/x.m3u8")
    assert ended.ended and ended.segments[0].uri == "http://h/p/a.ts"
    with pytest.raises(StreamFault):
        parse_playlist("<html>not a playlist</html>", "http://h/x.m3u8")


# -- the live session ----------------------------------------------------------------------------------------
def _camera_db(path: Path, camera: str) -> None:
    with open_store(path) as store:
        store.upsert_cameras(pd.DataFrame([{"camera_id": camera, "name": camera, "lon": 4.9, "lat": 52.37, "kind": "fixed"}]))


class _Proc:
    """An ``urbanlens watch`` subprocess whose output lines are collected in a thread."""

    def __init__(self, home: Path, db: Path, camera: str, url: str, chunk_s: float) -> None:
        env = {**os.environ, "URBANLENS_HOME": str(home), "PYTHONPATH": str(REPO)}
        args = [sys.executable, "-m", "analytics.cli", "watch", "--camera", camera, "--url", url, "--db", str(db), "--fps", "2",
                "--chunk-minutes", f"{chunk_s / 60:.6f}", "--stall-seconds", "3", "--model", "colours", "--road-model", "none",
                "--no-count", "--keep-previews", "0", "--backoff-max", "0.5"]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        with self.p.stdout:
            for line in self.p.stdout:
                self.lines.append(line.rstrip())

    def stored(self) -> int:
        return sum(line.startswith("stored ") for line in self.lines)


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclasses.dataclass
class Session:
    settings: Settings
    live: LiveHls
    summary: Any
    lines: list[str]
    term: _Proc
    kill: _Proc
    stale: Path


def _signal_mid_chunk(proc: _Proc, sig: signal.Signals, spool: Path) -> threading.Thread:
    """Once the subprocess has stored a chunk, send ``sig`` as soon as it starts recording a new one (a new
    ``.part`` file in its spool): one or two segments into that chunk."""
    def run() -> None:
        _wait(lambda: proc.stored() >= 1 or proc.p.poll() is not None, 60, "the subprocess's first chunk")
        seen = set(spool.glob("*.part"))
        _wait(lambda: bool(set(spool.glob("*.part")) - seen) or proc.p.poll() is not None, 30, "a new chunk")
        if proc.p.poll() is None:
            proc.p.send_signal(sig)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _faults(live: LiveHls, stored: Callable[[], int]) -> None:
    """Play the faults to the in-process watcher."""
    _wait(lambda: stored() >= 1, 30, "a first chunk")
    live.pause(2.5)  # a stall (stall_s 1.2)
    time.sleep(3.0)
    live.garbage()
    time.sleep(2.0)
    live.resize((256, 144))
    time.sleep(2.5)
    live.restart(back_s=3.0)  # and its clock goes back: the chunks that overlap stored ones are dropped
    time.sleep(3.0)
    live.down(2.0)
    n = stored()
    _wait(lambda: stored() >= n + 1, 20, "a chunk after the server came back")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("watch")
    home = root / "home"
    install_colour_model(home)
    settings = dataclasses.replace(load_settings(), home=home, db_path=root / "live.duckdb")
    for name in ("live", "term", "kill"):
        _camera_db(root / f"{name}.duckdb", name)
    spool = spool_folder(home, "live")
    spool.mkdir(parents=True)
    stale = spool / "chunk-20260101T000000000000-000001.ts.part"  # left by a killed worker
    stale.write_bytes(b"x")
    clip = shared_dir / "samples" / "bikes.mp4"
    with LiveHls(clip, root / "hls", fps=STREAM_FPS, segment_s=SEGMENT_S, program_date_time=True) as live, \
            LiveHls(clip, root / "calm", fps=STREAM_FPS, segment_s=SEGMENT_S) as calm:
        term, kill = (_Proc(home, root / f"{n}.duckdb", n, calm.url, SUB_CHUNK_S) for n in ("term", "kill"))
        signals = [_signal_mid_chunk(term, signal.SIGTERM, spool_folder(home, "term")),
                   _signal_mid_chunk(kill, signal.SIGKILL, spool_folder(home, "kill"))]
        lines: list[str] = []
        with open_store(settings.db_path) as store:
            options = AnalysisOptions.from_flags(fps=2, model="colours", road_model="none", count=False, keep_previews=1)
            wo = WatchOptions(spool=spool, chunk_s=2.0, stall_s=1.2, backoff_cap_s=0.5, heartbeat_s=1.0, queue_size=3)
            watcher = Watcher(store, "live", parse_source(live.url), options, settings, wo, say=lines.append)
            thread = threading.Thread(target=watcher.run)
            thread.start()
            try:
                _faults(live, lambda: watcher.summary.stored)
            finally:
                watcher.stop()
                thread.join(timeout=60)
                for t in signals:
                    t.join(timeout=60)
                for proc in (term, kill):
                    try:
                        proc.p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.p.kill()
                        proc.p.wait()
                    proc.reader.join(timeout=10)
        yield Session(settings, live, watcher.summary, lines, term, kill, stale)


def _clips(db: Path, camera: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The camera's clips (oldest first, with their active run's sampling and frame count) and its frames."""
    with open_store(db, read_only=True) as store:
        clips = camera_clips(store, camera).sort_values("start_time").reset_index(drop=True)
        frames = store.query_df("SELECT clip_sha256, ts, t_s FROM frames WHERE camera_id = ? ORDER BY ts", [camera])
    return clips, frames


def _check_store(db: Path, camera: str, chunk_s: float) -> pd.DataFrame:
    """No overlapping clips, no duplicate frame times, every clip made of whole segments and holding exactly the
    frames its sampling picks from its length."""
    clips, frames = _clips(db, camera)
    assert not clips.empty
    ends = clips["start_time"] + pd.to_timedelta(clips["duration_s"], unit="s")
    assert (clips["start_time"].iloc[1:].to_numpy() >= ends.iloc[:-1].to_numpy() - np.timedelta64(1, "ms")).all()
    assert frames["ts"].is_unique
    for _, c in clips.iterrows():
        segments = c["duration_s"] / SEGMENT_S
        assert abs(segments - round(segments)) < 1e-6 and 1 <= round(segments) <= chunk_s / SEGMENT_S, c["duration_s"]
        times = np.arange(round(c["duration_s"] * STREAM_FPS)) / STREAM_FPS
        assert c["n_frames"] == len(select_frames(times, Sampling.parse(c["sampling"].split("=")[1]))), (c["label"], c["sampling"])
    return clips


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.slow
def test_faults_never_store_a_frame_twice_and_health_tells(session: Session) -> None:
    clips = _check_store(session.settings.db_path, "live", 2.0)
    assert set(zip(clips["width"], clips["height"], strict=True)) == {(320, 180), (256, 144)}
    good = sum(p.duration for p in session.live.published if not p.garbage)
    assert clips["duration_s"].sum() <= good  # no segment stored twice
    assert len(clips) == session.summary.stored >= 5
    with open_store(session.settings.db_path, read_only=True) as store:
        row = watch_health(store, _now()).iloc[0]
        events = watch_events(store, "live", limit=1000)
    assert row["state"] == "stopped" and row["status"] == "stopped" and row["chunks_stored"] == len(clips)
    assert row["frames_stored"] == clips["n_frames"].sum() and (row["width"], row["height"]) == (256, 144)
    assert row["reconnects"] >= 3 and row["last_frame_time"] is not None
    kinds = set(events["kind"])
    assert {"start", "stop", "reconnect", "resize", "error"} <= kinds
    details = " | ".join(events["detail"])
    assert session.summary.overlapping >= 1
    for said in ("overlaps stored clip", "no new segment", "went back to 0", "holds no readable video", "Connection refused", "320x180 -> 256x144", "retry in"):
        assert said in details, said
    assert not session.stale.exists() and not list(session.stale.parent.iterdir())  # stale file cleaned, chunks deleted
    assert any(line.startswith("stored live ") for line in session.lines)


@pytest.mark.slow
def test_sigterm_stores_the_partial_chunk_and_exits_0(session: Session, tmp_path: Path) -> None:
    term = session.term
    assert term.p.returncode == 0, term.lines
    assert any("SIGTERM" in line for line in term.lines) and term.lines[-1].startswith("stopped: ")
    db = session.settings.db_path.with_name("term.duckdb")
    clips = _check_store(db, "term", SUB_CHUNK_S)
    assert clips["duration_s"].iloc[-1] < SUB_CHUNK_S - 0.5, term.lines  # the chunk being recorded, stored shorter but whole
    with open_store(db, read_only=True) as store:
        row = watch_health(store, _now()).iloc[0]
        events = watch_events(store, "term")
    assert row["state"] == "stopped" and row["chunks_stored"] == len(clips) and events["kind"].iloc[0] == "stop"
    assert "127.0.0.1" in row["source"] and row["pid"] == term.p.pid


@pytest.mark.slow
def test_sigkill_loses_at_most_the_current_chunk(session: Session) -> None:
    kill = session.kill
    assert kill.p.returncode == -signal.SIGKILL
    db = session.settings.db_path.with_name("kill.duckdb")
    clips = _check_store(db, "kill", SUB_CHUNK_S)
    assert len(clips) == kill.stored(), "\n".join(kill.lines)  # only chunks stored before the kill, each whole; the current one lost
    with open_store(db, read_only=True) as store:
        row = watch_health(store, _now() + timedelta(minutes=11)).iloc[0]
    assert row["state"] == "running" and row["status"] == "stale"  # killed without a word: it turns stale


def test_a_local_file_is_remuxed_into_whole_chunks_at_key_frames(shared_dir: Path, tmp_path: Path) -> None:
    frames = clip_frames(shared_dir / "samples" / "bikes.mp4", 25, STREAM_FPS, (320, 180))
    clip = write_clip(frames, tmp_path / "street.mp4", STREAM_FPS, gop=10)
    install_colour_model(tmp_path / "home")
    settings = dataclasses.replace(load_settings(), home=tmp_path / "home", db_path=tmp_path / "file.duckdb")
    _camera_db(settings.db_path, "cam")
    options = AnalysisOptions.from_flags(fps=2, model="colours", road_model="none", count=False, keep_previews=0)
    with open_store(settings.db_path) as store:
        summary = Watcher(store, "cam", parse_source(str(clip)), options, settings, WatchOptions(spool=tmp_path / "spool", chunk_s=1.0),
                          say=lambda _: None).run()  # the file's end ends the watch
    clips, frames_df = _clips(settings.db_path, "cam")
    assert summary.stored == 3 and clips["duration_s"].round(6).tolist() == [1.0, 1.0, 0.5]  # cut at key frames; the rest whole
    assert frames_df["ts"].is_unique and clips["n_frames"].tolist() == [2, 2, 1]
    assert (clips["start_time"].iloc[1:].to_numpy() == (clips["start_time"] + pd.to_timedelta(clips["duration_s"], unit="s")).iloc[:-1].to_numpy()).all()


# -- the command's refusals ------------------------------------------------------------------------------------
def test_watch_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "w.duckdb"
    _camera_db(db, "cam")
    cases = {
        ("--camera", "cam", "--url", "ftp://user:secret@host/x"): "scheme 'ftp'",
        ("--camera", "cam", "--url", str(tmp_path / "missing.mp4")): "does not exist",
        ("--camera", "nope", "--url", str(db)): "unknown camera 'nope'",
        ("--camera", "cam", "--url", "http://127.0.0.1:9/x.m3u8", "--chunk-minutes", "0"): "--chunk-minutes",
    }
    for args, said in cases.items():
        result = runner.invoke(app, ["watch", *args, "--db", str(db)])
        assert isinstance(result.exception, InputError), (args, result.output)
        assert said in str(result.exception) and "secret" not in str(result.exception) and "\n" not in str(result.exception)
    missing = runner.invoke(app, ["watch", "--camera", "cam", "--url", str(db), "--db", str(tmp_path / "none.duckdb")])
    assert "does not exist" in str(missing.exception) and not (tmp_path / "none.duckdb").exists()


# -- the real default model ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_watch_with_the_default_model(session: Session, model_mirror: Path, tmp_path: Path) -> None:
    settings = dataclasses.replace(load_settings(), db_path=tmp_path / "real.duckdb")
    _camera_db(settings.db_path, "real")
    options = AnalysisOptions.from_flags(fps=1, road_model="none", count=False, keep_previews=1)
    wo = WatchOptions(spool=tmp_path / "spool", chunk_s=2.0, stall_s=3.0, backoff_cap_s=0.5)
    with open_store(settings.db_path) as store:
        watcher = Watcher(store, "real", parse_source(session.live.url), options, settings, wo, say=lambda _: None)
        thread = threading.Thread(target=watcher.run)
        thread.start()
        try:
            _wait(lambda: watcher.summary.stored + watcher.summary.failed >= 1, 90, "a chunk with the default model")
        finally:
            watcher.stop()
            thread.join(timeout=120)
    clips = _check_store(settings.db_path, "real", 2.0)
    assert (clips["model_name"] == "espnetv2-s2").all() and watcher.summary.failed == 0
    with open_store(settings.db_path, read_only=True) as store:
        shares = store.query_df("SELECT avg(road_px + built_px + sky_px + vegetation_px) / avg(valid_px) AS s FROM frames")
    assert shares["s"].iloc[0] > 0.3  # a street scene: road, buildings, sky and trees make up much of it
