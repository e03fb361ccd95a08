"""Several cameras: the cameras file, one worker process per camera, restarts with backoff, signals
forwarded, and the health check with its webhook. The workers are a small Python script standing in
for ``urbanlens watch`` (what is tested is the process management, not the stream)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import store_with_cameras
from test_alerts import Receiver

from analytics.errors import InputError
from analytics.footage.supervise import CameraConfig, load_config, parse_config, run_config_command, supervise, watch_command
from analytics.store import Store
from analytics.store.health import watch_health, watch_started

REPO = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent('''
    """Stand-in worker: logs its start, env and CPUs; fails while <id>.fails says so; on SIGTERM/SIGINT logs it and exits 0."""
    import os, signal, sys, time
    cam, state = sys.argv[1], sys.argv[2]
    log = open(os.path.join(state, cam + ".log"), "a", buffering=1)
    fails = os.path.join(state, cam + ".fails")
    left = int(open(fails).read()) if os.path.exists(fails) else 0
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    log.write(f"start threads={os.environ.get('URBANLENS_THREADS')} omp={os.environ.get('OMP_NUM_THREADS')} cpus={cpus}\\n")
    if left > 0:
        open(fails, "w").write(str(left - 1))
        sys.exit(3)
    def done(signum, frame):
        log.write(f"signal {signum}\\n")
        sys.exit(0)
    signal.signal(signal.SIGTERM, done)
    signal.signal(signal.SIGINT, done)
    while True:
        time.sleep(0.05)
''')


@pytest.fixture()
def worker(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    state = tmp_path / "state"
    state.mkdir()
    return script, state


def _log(state: Path, cam: str) -> list[str]:
    path = state / f"{cam}.log"
    return path.read_text().splitlines() if path.exists() else []


def _wait(condition, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_workers_restart_with_backoff_get_their_cpu_budget_and_stop(tmp_path, worker):
    script, state = worker
    (state / "a.fails").write_text("2")
    config = parse_config({"cameras": [{"id": "a", "url": "rtsp://127.0.0.1/a"},
                                       {"id": "b", "url": "rtsp://127.0.0.1/b", "threads": 1, "cpus": [0]}]})
    stop, lines = threading.Event(), []
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(supervise(
        config, worker_command=lambda cam, db: [sys.executable, str(script), cam.id, str(state)], stop=stop,
        db=tmp_path / "w.duckdb", say=lines.append, first_delay_s=0.1, check_every_s=3600)))
    runner.start()
    _wait(lambda: len(_log(state, "a")) == 3 and len(_log(state, "b")) == 1)
    stop.set()
    runner.join(20)
    assert result == [0]
    a, b = _log(state, "a"), _log(state, "b")
    assert a[:3] == ["start threads=None omp=None cpus=" + str(sorted(os.sched_getaffinity(0)))] * 3 and a[3] == "signal 15"
    assert b == ["start threads=1 omp=1 cpus=[0]", "signal 15"]
    restarts = [line for line in lines if "exited with code 3" in line]
    assert len(restarts) == 2 and "restart in 0 s (failure 1 in a row)" in restarts[0] and "failure 2 in a row" in restarts[1]


def test_sigterm_to_the_supervisor_reaches_every_worker_and_it_exits_0(tmp_path, worker):
    script, state = worker
    code = textwrap.dedent(f'''
        import sys
        from analytics.footage.supervise import parse_config, supervise
        config = parse_config({{"cameras": [{{"id": "a", "url": "u"}}, {{"id": "b", "url": "u"}}]}})
        sys.exit(supervise(config, worker_command=lambda cam, db: [sys.executable, {str(script)!r}, cam.id, {str(state)!r}],
                           db={str(tmp_path / "w.duckdb")!r}, check_every_s=3600))
    ''')
    boss = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
    _wait(lambda: _log(state, "a") and _log(state, "b"))
    boss.send_signal(signal.SIGTERM)
    _, err = boss.communicate(timeout=20)
    assert boss.returncode == 0, err
    assert _log(state, "a")[-1] == _log(state, "b")[-1] == "signal 15"
    assert "stopping 2 worker(s) (SIGTERM)" in err


def test_sigint_in_the_supervising_process_is_forwarded(tmp_path, worker):
    script, state = worker
    config = parse_config({"cameras": [{"id": "a", "url": "u"}]})

    def interrupt() -> None:  # Ctrl-C, as a terminal sends it, once the worker runs
        _wait(lambda: _log(state, "a"))
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    lines: list[str] = []
    assert supervise(config, worker_command=lambda cam, db: [sys.executable, str(script), cam.id, str(state)],
                     db=tmp_path / "w.duckdb", say=lines.append, check_every_s=3600) == 0
    assert _log(state, "a")[-1] == f"signal {int(signal.SIGINT)}" and "stopping 1 worker(s) (SIGINT)" in lines


def test_the_health_check_posts_alerts_while_it_supervises(tmp_path, worker):
    script, state = worker
    db = tmp_path / "w.duckdb"
    with store_with_cameras(str(db), [("a", 8.5, 47.3)]) as store:
        watch_started(store, "a", "rtsp://127.0.0.1/a", None, datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30))
    receiver = Receiver()
    try:
        config = parse_config({"cameras": [{"id": "a", "url": "u"}], "stale_minutes": 10, "webhook": receiver.url()})
        stop, lines = threading.Event(), []
        runner = threading.Thread(target=supervise, args=(config,), kwargs={
            "worker_command": lambda cam, d: [sys.executable, str(script), cam.id, str(state)], "stop": stop, "db": db,
            "say": lines.append, "check_every_s": 0.3})
        runner.start()
        _wait(lambda: receiver.posts and any("stale" in line for line in lines))
        stop.set()
        runner.join(20)
    finally:
        receiver.close()
    assert [a["camera_id"] for _, a in receiver.posts] == ["a"] and receiver.posts[0][1]["status"] == "stale"
    assert "camera a: stale, no frame for 30 min" in lines
    assert watch_health(Store(str(db), read_only=True), datetime.now(UTC).replace(tzinfo=None), 10)["alerted"].tolist() == ["stale"]


def test_watch_command_passes_each_flag(tmp_path):
    cam = CameraConfig("gate", "rtsp://10.0.0.5/s", fps=1.0, track_fps=10.0, chunk_minutes=2.0, stall_seconds=8.0)
    argv = watch_command(cam, tmp_path / "c.duckdb")
    assert argv[1:] == ["-m", "analytics.cli", "watch", "--camera", "gate", "--fps", "1",
                        "--track-fps", "10", "--chunk-minutes", "2", "--stall-seconds", "8", "--db", str(tmp_path / "c.duckdb")]
    uncounted = " ".join(watch_command(CameraConfig("gate", "rtsp://u:secret@cam/s", count=False), tmp_path / "c.duckdb"))
    assert "--no-count" in uncounted and "--track-fps" not in uncounted and "secret" not in uncounted


GOOD = {"id": "gate", "url": "rtsp://127.0.0.1/s"}


@pytest.mark.parametrize(("data", "message"), [
    (["gate"], "expected a mapping with a 'cameras' list"),                       # a list, not a mapping
    ({"camera": [GOOD]}, "unknown key 'camera'; expected keys among cameras, db"),  # a typo at the top
    ({"cameras": []}, "expected a list of at least one camera"),
    ({"cameras": [{"id": "gate"}]}, "camera 1 ('gate'): url missing; expected a stream URL"),
    ({"cameras": [GOOD, {**GOOD, "id": "quay", "fps": 0}]}, "camera 2 ('quay'): fps '0'; expected a number above 0"),
    ({"cameras": [{**GOOD, "threads": 1.5}]}, "threads '1.5'; expected a whole number of at least 1"),
    ({"cameras": [{**GOOD, "cpus": [9999]}]}, "cpus '[9999]'; expected a list of CPU numbers among"),
    ({"cameras": [{**GOOD, "rate": 2}]}, "camera 1: unknown key 'rate'; expected keys among id, url, fps"),
    ({"cameras": [GOOD, GOOD]}, "camera id 'gate' is given twice"),
    ({"cameras": [GOOD], "webhook": "ftp://x/y"}, "expected an http:// or https:// URL"),
    ({"cameras": [{**GOOD, "count": "yes"}]}, "count 'yes'; expected true or false"),
])
def test_bad_cameras_files_are_one_line_errors(data, message):
    with pytest.raises(InputError, match=None) as caught:
        parse_config(data, "cams.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("cams.yaml") and "\n" not in str(caught.value)


def test_a_cameras_file_is_read_from_yaml(tmp_path):
    path = tmp_path / "cams.yaml"
    path.write_text("db: city.duckdb\nwebhook: https://hooks.example.org/x\ncameras:\n  - id: gate\n    url: rtsp://h/s\n    fps: 1\n"
                    "    threads: 1\n")
    config = load_config(path)
    assert config.db == tmp_path / "city.duckdb" and config.cameras[0] == CameraConfig("gate", "rtsp://h/s", fps=1.0, threads=1)
    path.write_text("cameras: [id: gate\n")
    with pytest.raises(InputError, match="is not valid YAML at line"):
        run_config_command(path, None)  # checked before any worker starts
