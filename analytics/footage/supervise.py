"""Several live cameras: one ``urbanlens watch`` worker process per camera of a cameras file.

The cameras file (YAML)::

    db: /var/lib/urbanlens/city.duckdb   # optional (--db wins; default $URBANLENS_DB / the settings' default;
                                         # a relative path is beside the cameras file)
    stale_minutes: 10                    # optional: the health check's threshold
    webhook: https://hooks.example.org/urbanlens   # optional: alerts when a camera turns stale or recovers
    cameras:
      - id: gate                         # a camera id of the store
        url: rtsp://10.0.0.5:554/stream1
        fps: 1                           # optional: segmented frames a second
        track_fps: 10                    # optional: tracked frames a second where the camera counts
        chunk_minutes: 1                 # optional: minutes per stored clip
        stall_seconds: 10                # optional: no frame for this long is a stall (reconnect)
        threads: 1                       # optional CPU budget: ONNX Runtime / OpenMP threads of the worker
        cpus: [0]                        # optional: CPU cores the worker may run on (Linux)
        count: true                      # optional: false sends --track-fps 0 (no counting)

What the supervisor does (:func:`supervise`):

- starts one worker per camera (:func:`watch_command`: the command line of the single-camera
  ``urbanlens watch`` with its flags), its threads limited through ``URBANLENS_THREADS`` and
  ``OMP_NUM_THREADS`` (:func:`worker_env`) and its cores through ``os.sched_setaffinity``;
- restarts a worker that exits non-zero after a pause of 1 s doubling to 60 s
  (:func:`restart_delay`; a worker that ran for :data:`STEADY_S` starts the count afresh); a
  worker that exits 0 stopped on purpose and is not restarted;
- on SIGTERM or SIGINT (or ``stop`` set) sends the same signal to every worker, waits for them
  (each finishes or drops its current chunk), kills those still running after ``stop_timeout_s``,
  and returns 0;
- every ``check_every_s``, in a thread of its own, reads the cameras' health (:func:`analytics.store.health.watch_health`)
  and posts the webhook's alerts (:func:`analytics.alerts.send_alerts`); a failed check is one
  line and does not stop anything.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from analytics.alerts import check_webhook_url, send_alerts
from analytics.errors import InputError, UrbanLensError, quote_value
from analytics.settings import load_settings
from analytics.store.database import Store
from analytics.store.health import set_alerted, watch_health

__all__ = [
    "CAMERA_KEYS",
    "CONFIG_KEYS",
    "STEADY_S",
    "CameraConfig",
    "WatchConfig",
    "WorkerCommand",
    "load_config",
    "parse_config",
    "restart_delay",
    "run_config_command",
    "supervise",
    "watch_command",
    "worker_env",
]

CONFIG_KEYS = ("cameras", "db", "stale_minutes", "webhook")
CAMERA_KEYS = ("id", "url", "fps", "track_fps", "chunk_minutes", "stall_seconds", "threads", "cpus", "count")
STEADY_S = 300.0
"""A worker that ran this many seconds before it failed is restarted after the first pause again."""


@dataclass(frozen=True)
class CameraConfig:
    """One camera of the cameras file (None: the ``urbanlens watch`` default)."""

    id: str
    url: str
    fps: float | None = None
    track_fps: float | None = None
    chunk_minutes: float | None = None
    stall_seconds: float | None = None
    threads: int | None = None
    cpus: tuple[int, ...] | None = None
    count: bool = True


@dataclass(frozen=True)
class WatchConfig:
    """A validated cameras file."""

    cameras: tuple[CameraConfig, ...]
    db: Path | None = None
    stale_minutes: float = 10.0
    webhook: str | None = None
    source: str = field(default="cameras file", compare=False)


WorkerCommand = Callable[[CameraConfig, Path], list[str]]
"""Builds a worker's command line from its camera and the database."""


def _number(value: Any, what: str, where: str, integer: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0 and value == value and value != float("inf")
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        kind = "a whole number of at least 1" if integer else "a number above 0"
        raise InputError(f"{where}: {what} {quote_value(value, 40)}; expected {kind}")
    return int(value) if integer else float(value)


def _cpus(value: Any, where: str) -> tuple[int, ...]:
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if not isinstance(value, list) or not value or not all(isinstance(c, int) and not isinstance(c, bool) and c in usable for c in value):
        raise InputError(f"{where}: cpus {quote_value(value, 60)}; expected a list of CPU numbers among {usable}")
    return tuple(sorted(set(value)))


def _camera(entry: Any, n: int, source: str) -> CameraConfig:
    """One ``cameras`` entry, checked key by key (``n``: its position from 1)."""
    where = f"{source}: camera {n}"
    if not isinstance(entry, dict):
        raise InputError(f"{where}: {quote_value(entry, 60)}; expected a mapping with id and url")
    unknown = [k for k in entry if k not in CAMERA_KEYS]
    if unknown:
        raise InputError(f"{where}: unknown key {quote_value(unknown[0], 40)}; expected keys among {', '.join(CAMERA_KEYS)}")
    cid, url = entry.get("id"), entry.get("url")
    if not isinstance(cid, str | int) or isinstance(cid, bool) or not str(cid).strip():
        raise InputError(f"{where}: id {quote_value(cid, 60)}; expected a camera id (text)")
    where = f"{source}: camera {n} ({quote_value(str(cid), 60)})"
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"{where}: url {'missing' if url is None else quote_value(url, 60)}; expected a stream URL (rtsp://, http(s)://) or a device path")
    count = entry.get("count", True)
    if not isinstance(count, bool):
        raise InputError(f"{where}: count {quote_value(count, 40)}; expected true or false")
    opt = {k: _number(entry[k], k, where, integer=k == "threads") for k in ("fps", "track_fps", "chunk_minutes", "stall_seconds", "threads")
           if entry.get(k) is not None}
    cpus = _cpus(entry["cpus"], where) if entry.get("cpus") is not None else None
    return CameraConfig(id=str(cid).strip(), url=url.strip(), cpus=cpus, count=count, **opt)


def parse_config(data: Any, source: str = "cameras file") -> WatchConfig:
    """A :class:`WatchConfig` from the parsed YAML ``data``; an :class:`InputError` naming the bad
    entry (``source: camera N (id): key value; expected …``) otherwise. Ids must be unique."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with a 'cameras' list; got {quote_value(data, 60)}")
    unknown = [k for k in data if k not in CONFIG_KEYS]
    if unknown:
        raise InputError(f"{source}: unknown key {quote_value(unknown[0], 40)}; expected keys among {', '.join(CONFIG_KEYS)}")
    entries = data.get("cameras")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{source}: cameras {quote_value(entries, 60)}; expected a list of at least one camera (id, url)")
    cameras = tuple(_camera(e, i, source) for i, e in enumerate(entries, start=1))
    ids = [c.id for c in cameras]
    twice = sorted({c for c in ids if ids.count(c) > 1})
    if twice:
        raise InputError(f"{source}: camera id {quote_value(twice[0], 60)} is given twice; expected each camera once")
    db = data.get("db")
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise InputError(f"{source}: db {quote_value(db, 60)}; expected the path of a DuckDB file")
    webhook = data.get("webhook")
    if webhook is not None:
        try:
            check_webhook_url(webhook if isinstance(webhook, str) else "")
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
    stale = _number(data["stale_minutes"], "stale_minutes", source) if data.get("stale_minutes") is not None else 10.0
    return WatchConfig(cameras=cameras, db=Path(db).expanduser() if db else None, stale_minutes=stale, webhook=webhook, source=source)


def load_config(path: Path) -> WatchConfig:
    """Read and check a cameras file (see the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"cameras file {quote_value(str(path), 200)} is not UTF-8 text; expected YAML") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"cameras file {quote_value(str(path), 200)} is not valid YAML{at}; expected a mapping with a 'cameras' list") from None
    config = parse_config(data, str(path))
    if config.db is not None and not config.db.is_absolute():  # a relative db is beside the cameras file, wherever it runs from
        config = dataclasses.replace(config, db=Path(path).parent / config.db)
    return config


def watch_command(camera: CameraConfig, db: Path) -> list[str]:
    """The worker's command line: ``python -m analytics.cli watch --camera ID [--fps F] [--track-fps F |
    --no-count] [--chunk-minutes M] [--stall-seconds S] --db PATH``. The stream's address travels in the
    worker's environment (:func:`worker_env`), not on its command line, where ``ps`` would show its password."""
    argv = [sys.executable, "-m", "analytics.cli", "watch", "--camera", camera.id]
    for flag, value in (("--fps", camera.fps), ("--track-fps", camera.track_fps if camera.count else None),
                        ("--chunk-minutes", camera.chunk_minutes), ("--stall-seconds", camera.stall_seconds)):
        if value is not None:
            argv += [flag, f"{value:g}"]
    return argv + ([] if camera.count else ["--no-count"]) + ["--db", str(db)]


def worker_env(camera: CameraConfig, base: dict[str, str]) -> dict[str, str]:
    """The worker's environment: ``base`` with the stream's address as ``URBANLENS_WATCH_URL`` (read by
    ``urbanlens watch`` when ``--url`` is not given) and its CPU budget (``threads``) as ``URBANLENS_THREADS``
    (ONNX Runtime's threads, :class:`analytics.settings.Settings`) and ``OMP_NUM_THREADS``.

    >>> worker_env(CameraConfig("a", "rtsp://u:p@cam/s", threads=2), {"PATH": "/bin"})
    {'PATH': '/bin', 'URBANLENS_WATCH_URL': 'rtsp://u:p@cam/s', 'URBANLENS_THREADS': '2', 'OMP_NUM_THREADS': '2'}
    """
    env = dict(base)
    env["URBANLENS_WATCH_URL"] = camera.url
    if camera.threads is not None:
        env["URBANLENS_THREADS"] = env["OMP_NUM_THREADS"] = str(camera.threads)
    return env


def restart_delay(failures: int, first_s: float = 1.0, longest_s: float = 60.0) -> float:
    """Pause before restarting a worker after its ``failures``-th failure in a row: ``first_s × 2^(failures-1)``, at most ``longest_s``.

    >>> [restart_delay(n) for n in (1, 2, 3, 7, 8)]
    [1.0, 2.0, 4.0, 60.0, 60.0]
    """
    return min(longest_s, first_s * 2.0 ** max(failures - 1, 0))


@dataclass
class _Worker:
    camera: CameraConfig
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = 0.0  # None: finished cleanly, not restarted


class _Pool:
    """The worker processes and their restarts."""

    def __init__(self, config: WatchConfig, db: Path, command: WorkerCommand, say: Callable[[str], None], first_delay_s: float) -> None:
        self.workers = [_Worker(c) for c in config.cameras]
        self.db, self.command, self.say, self.first_delay_s = db, command, say, first_delay_s

    def start(self, w: _Worker) -> None:
        w.process = subprocess.Popen(self.command(w.camera, self.db), env=worker_env(w.camera, dict(os.environ)), start_new_session=True)
        w.started, w.restart_at = time.monotonic(), None
        if w.camera.cpus and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(w.process.pid, w.camera.cpus)
            except OSError as exc:  # the worker may have exited already
                self.say(f"camera {w.camera.id}: CPUs {list(w.camera.cpus)} not set ({exc.strerror})")
        self.say(f"camera {w.camera.id}: worker started (pid {w.process.pid})")

    def tend(self, now: float) -> None:
        """Start the workers due and note the ones that exited."""
        for w in self.workers:
            if w.process is not None and (rc := w.process.poll()) is not None:
                w.process = None
                if rc == 0:
                    self.say(f"camera {w.camera.id}: worker exited cleanly; not restarted")
                    continue
                w.failures = 1 if now - w.started >= STEADY_S else w.failures + 1
                pause = restart_delay(w.failures, self.first_delay_s)
                w.restart_at = now + pause
                self.say(f"camera {w.camera.id}: worker exited with code {rc}; restart in {pause:.0f} s (failure {w.failures} in a row)")
            if w.process is None and w.restart_at is not None and now >= w.restart_at:
                self.start(w)

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [w.process for w in self.workers if w.process is not None and w.process.poll() is None]

    def stop(self, signum: int, timeout_s: float) -> None:
        """Send ``signum`` to every worker, wait up to ``timeout_s`` for all, then kill the rest."""
        for p in self.running():
            p.send_signal(signum)
        deadline = time.monotonic() + timeout_s
        for p in self.running():
            try:
                p.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                self.say(f"worker pid {p.pid} still running after {timeout_s:.0f} s; killed")
                p.kill()
                p.wait()


def _check_health(config: WatchConfig, db: Path, say: Callable[[str], None]) -> None:
    """One health check: a line per stale camera, and the webhook's alerts. Never raises for a busy or missing store."""
    now = datetime.now(UTC).replace(tzinfo=None)
    zone = load_settings().timezone
    try:
        store = Store(db, read_only=config.webhook is None, lock_timeout_s=5.0)
        health = watch_health(store, now, config.stale_minutes, zone)
        for row in health[health["status"] == "stale"].itertuples(index=False):
            say(f"camera {row.camera_id}: stale, no frame for {row.minutes_since_frame:.0f} min")
        if config.webhook:
            send_alerts(health, config.webhook, str(db), now, on_sent=lambda c, s: set_alerted(store, c, s, now), say=say)
    except (UrbanLensError, OSError) as exc:
        say(f"health check skipped: {exc}")


def _stop_on_signals(stop: threading.Event, received: list[int]) -> Callable[[], None]:
    """Set ``stop`` on SIGTERM/SIGINT (main thread only) and remember the signal; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def undo() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return undo


def supervise(
    config: WatchConfig, *, worker_command: WorkerCommand = watch_command, stop: threading.Event | None = None,
    db: Path | None = None, say: Callable[[str], None] | None = None, first_delay_s: float = 1.0,
    check_every_s: float = 60.0, stop_timeout_s: float = 60.0,
) -> int:
    """Run one worker per camera until SIGTERM/SIGINT (or ``stop``), restarting failed ones with backoff
    and checking health every ``check_every_s``; forward the signal, wait for the workers, return 0.

    ``db``: the database (default: the file's ``db``, else the settings' default); ``say``: where
    progress lines go (default: stderr); ``worker_command``: the worker's command line."""
    path = db or config.db or load_settings().db_path
    tell = say or (lambda line: print(line, file=sys.stderr, flush=True))
    stop = stop or threading.Event()
    received: list[int] = []
    undo = _stop_on_signals(stop, received)
    pool = _Pool(config, path, worker_command, tell, first_delay_s)
    next_check, checker = time.monotonic() + check_every_s, None
    try:
        while not stop.is_set():
            now = time.monotonic()
            pool.tend(now)
            if now >= next_check and (checker is None or not checker.is_alive()):  # in a thread: a slow webhook holds up nothing
                checker = threading.Thread(target=_check_health, args=(config, path, tell), name="health-check", daemon=True)
                checker.start()
                next_check = now + check_every_s
            stop.wait(0.2)
    finally:
        signum = received[0] if received else signal.SIGTERM
        tell(f"stopping {len(pool.running())} worker(s) ({signal.Signals(signum).name})")
        pool.stop(signum, stop_timeout_s)
        if checker is not None:
            checker.join(5.0)
        undo()
    return 0


def run_config_command(path: Path, db: Path | None) -> int:
    """``urbanlens watch --config FILE [--db PATH]``: check the file, then :func:`supervise` it
    (``--db`` wins over the file's ``db``); returns the exit code."""
    config = load_config(path)
    tell: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    tell(f"watching {len(config.cameras)} camera(s) from {path}: {', '.join(c.id for c in config.cameras)}")
    return supervise(config, db=db.expanduser() if db else None, say=tell)
