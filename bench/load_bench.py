"""Load test: browser sessions on the dashboard while ingests and a report use the same database.

N browser sessions (Playwright driving Debian's chromium) click through the dashboard's pages for
D seconds while two ``urbanlens ingest`` runs (the real model, clips from ../shared/samples, a few
sampled frames each) and one ``urbanlens report`` run against the same DuckDB file. Prints the
errors (goal 0), the median and 95th percentile page time, and each command's time beside the
same command run alone just before, in the same run. Asserts nothing about speed.

    .venv/bin/python bench/load_bench.py                                  # 8 sessions, 120 s
    .venv/bin/python bench/load_bench.py --sessions 4 --duration 40 --max-frames 4

Without ``--db`` it builds a small database of its own (two cameras and a district near
Amsterdam, two weeks of measured clips), as a user's would be: real footage is never ingested
into the synthetic demo city's database.

A page time runs from the click on the page's link in the sidebar to the end of the page's script
run (its title shown, Streamlit's "running" indicator gone). An error is an exception or error box
on a page, a JavaScript error, a page that did not finish within a minute, or a command that
failed. Needs /usr/bin/chromium and ../shared (models/espnetv2, samples).

:func:`start_dashboard` and :func:`browse` are also used by ``tests/test_concurrency.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import Timing

from analytics.geo import read_districts_geojson
from analytics.records import ClipInfo, ClipMeasurements, RunInfo
from analytics.store import Store
from analytics.taxonomy import CITYSCAPES

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
APP = REPO / "dashboard" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGES = ("City overview", "Explore indicators", "Camera", "Reports", "Analyse footage", "Data")
"""Page titles, as in the sidebar's navigation and as each page's heading."""
RENDER_TIMEOUT_S = 60.0
FIRST_LOAD = "(first load)"
CLIPS = (("bikes.mp4", "old-town-1"), ("car-detection.mp4", "riverside-1"))
"""(clip in ../shared/samples, camera of the load database it is ingested for)."""
CAMERAS = (("old-town-1", "Old town", 4.900, 52.372), ("riverside-1", "Riverside", 4.912, 52.368))
"""(camera id, name, lon, lat) of the database built without ``--db``."""
BASE_START = datetime(2026, 1, 5)
BASE_DAYS = 14
BASE_HOURS = range(7, 19, 2)
BASE_SHARES = {0: 0.35, 1: 0.1, 2: 0.25, 8: 0.15, 10: 0.1, 13: 0.05}
"""Cityscapes class id -> pixel share of every frame of the built database (road, sidewalk, building, vegetation, sky, car)."""
INGEST_START = BASE_START + timedelta(days=BASE_DAYS - 1, hours=12)
"""The start time the ingested sample clips are given: in the built database's last day."""


# -- the dashboard server -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dashboard(db: Path | None, home: Path, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``streamlit run dashboard/app.py`` headless on 127.0.0.1:``port``; returns once it answers its health check.

    ``db``: the database it shows (``URBANLENS_DB``); None: none named, so the dashboard opens
    ``home``'s own ``urbanlens.duckdb`` or its ``demo.duckdb`` and shows the switch between them.
    """
    full_env = {**(env or os.environ), "URBANLENS_HOME": str(home)}
    full_env.pop("URBANLENS_DB", None)
    if db is not None:
        full_env["URBANLENS_DB"] = str(db)
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=str(APP.parent), env=full_env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_process(proc)
    raise RuntimeError("streamlit did not answer within 60 s")


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- browser sessions -----------------------------------------------------------------------------
@dataclass
class Browse:
    """What the sessions saw: page times by page title, errors, and the sidebar's text after each page.

    ``sidebars``: (session, seconds since the start when the page was clicked, sidebar text).
    """

    pages: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    sidebars: list[tuple[int, float, str]] = field(default_factory=list)

    @property
    def visits(self) -> int:
        """Pages clicked (first loads not counted)."""
        return sum(len(v) for k, v in self.pages.items() if k != FIRST_LOAD)

    def timing(self, title: str | None = None) -> Timing:
        """Page times (one page's, or all clicked pages' without the first loads) as a :class:`Timing`;
        browser-side times, so no CPU time of this process applies."""
        wall = [t for k, v in self.pages.items() if (k == title if title else k != FIRST_LOAD) for t in v]
        return Timing(wall, [0.0] * len(wall))


async def _rendered(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``title`` is shown as the page's heading and the script run has ended."""
    await page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=RENDER_TIMEOUT_S * 1000)
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while time.monotonic() < deadline:
        running = await page.locator('[data-testid="stStatusWidget"]').count()
        skeletons = await page.locator('[data-testid="stSkeleton"]').count()
        if not running and not skeletons:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{title}: still running after {RENDER_TIMEOUT_S:.0f} s")


async def _problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Text of every exception or error box on the page."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [text.strip().splitlines()[0] if text.strip() else "(empty error box)" for text in await boxes.all_inner_texts()]


async def _open(browser, url: str, k: int, out: Browse):  # type: ignore[no-untyped-def]
    """One person opens the dashboard (its first page, timed as :data:`FIRST_LOAD`); returns the page."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda exc: out.errors.append(f"session {k}: JavaScript error: {exc}"))
    start = time.perf_counter()
    await page.goto(url, wait_until="domcontentloaded")
    await _rendered(page, PAGES[0])
    out.pages.setdefault(FIRST_LOAD, []).append(time.perf_counter() - start)
    return page


async def _click_through(page, k: int, stop: Callable[[float, Browse], bool], t0: float, think_s: float, out: Browse) -> None:  # type: ignore[no-untyped-def]
    """Click through the pages (from the one after page ``k``) until ``stop(seconds since t0, what was seen)``."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    i = k
    while not stop(time.perf_counter() - t0, out):
        i = (i + 1) % len(PAGES)
        title = PAGES[i]
        clicked = time.perf_counter()
        try:
            await page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click(timeout=RENDER_TIMEOUT_S * 1000)
            await _rendered(page, title)
        except Exception as exc:  # a timeout of Playwright or ours: the page did not finish
            out.errors.append(f"session {k}: {title}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        out.pages.setdefault(title, []).append(time.perf_counter() - clicked)
        out.errors.extend(f"session {k}: {title}: {p}" for p in await _problems(page))
        out.sidebars.append((k, clicked - t0, await sidebar.inner_text()))
        await asyncio.sleep(think_s)


async def _browse(url: str, sessions: int, stop: Callable[[float, Browse], bool], think_s: float,
                  on_ready: Callable[[], None] | None) -> Browse:
    # deferred: Playwright is a test dependency; importing this module must not need it
    from playwright.async_api import async_playwright

    out = Browse()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            pages = await asyncio.gather(*(_open(browser, url, k, out) for k in range(sessions)))
            if on_ready is not None:
                on_ready()
            t0 = time.perf_counter()
            await asyncio.gather(*(_click_through(page, k, stop, t0, think_s, out) for k, page in enumerate(pages)))
        finally:
            await browser.close()
    return out


def browse(url: str, sessions: int, stop: Callable[[float, Browse], bool], think_s: float = 0.3,
           on_ready: Callable[[], None] | None = None) -> Browse:
    """``sessions`` browser sessions open the dashboard at ``url``, then ``on_ready()`` is called (e.g. to start
    the commands that run beside them) and they click through its pages until ``stop(seconds since then, what
    was seen so far)``."""
    if sessions < 1:
        raise ValueError(f"sessions={sessions}: run at least one browser session")
    return asyncio.run(_browse(url, sessions, stop, think_s, on_ready))


# -- commands beside the browsers -----------------------------------------------------------------
def urbanlens(*args: str) -> list[str]:
    """The ``urbanlens`` command line run with this Python."""
    return [sys.executable, "-m", "analytics.cli", *args]


@dataclass
class Job:
    """A command running in the background; :meth:`finish` waits and returns (exit code, seconds, output tail).

    Its end is noted by a thread of its own, so jobs that end in any order are timed right.
    """

    name: str
    cmd: Sequence[str]
    env: dict[str, str]
    log: Path
    started: float = 0.0
    ended: float = 0.0
    proc: subprocess.Popen[bytes] | None = None
    _waiter: threading.Thread | None = None

    def start(self) -> Job:
        with self.log.open("wb") as out:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen(list(self.cmd), cwd=str(REPO), env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self._waiter = threading.Thread(target=self._wait, name=f"wait-{self.name}", daemon=True)
        self._waiter.start()
        return self

    def _wait(self) -> None:
        assert self.proc is not None
        self.proc.wait()
        self.ended = time.perf_counter()

    def finish(self) -> tuple[int, float, str]:
        assert self.proc is not None and self._waiter is not None, "start() first"
        self._waiter.join()
        return int(self.proc.returncode), self.ended - self.started, self.log.read_text(errors="replace")[-1500:]

    def lock_waits(self) -> int:
        """How many times the command said it was waiting for the database."""
        return self.log.read_text(errors="replace").count("waiting up to")


def run_alone(job: Job) -> float:
    """Seconds of ``job`` with nothing else running; raises with its output if it fails."""
    code, seconds, tail = job.start().finish()
    if code != 0:
        raise RuntimeError(f"{job.name} failed alone (exit {code}):\n{tail}")
    return seconds


def _jobs(db: Path, out: Path, env: dict[str, str], max_frames: int, tag: str) -> list[Job]:
    """The two ingests and the report, on database ``db``."""
    jobs = [
        Job(f"ingest {clip}", urbanlens("ingest", str(SHARED / "samples" / clip), "--camera", camera, "--db", str(db),
                                         "--max-frames", str(max_frames), "--keep-previews", "1", "--start", INGEST_START.isoformat(timespec="minutes")),
            env, out / f"{tag}-ingest-{i}.log")
        for i, (clip, camera) in enumerate(CLIPS)
    ]
    jobs.append(Job("report (city, PDF)", urbanlens("report", "--city", "--db", str(db), "--out", str(out / f"{tag}-report.pdf")),
                    env, out / f"{tag}-report.log"))
    return jobs


def _measured_clip(camera_id: str, start: datetime, frames: int = 20) -> ClipMeasurements:
    """A 10 s clip of ``frames`` sampled frames at 2 frames/s whose every frame has the class shares :data:`BASE_SHARES`."""
    pixels = np.zeros((frames, CITYSCAPES.num_classes), dtype=np.int64)
    for class_id, share in BASE_SHARES.items():
        pixels[:, class_id] = round(share * 512 * 256)
    sha = hashlib.sha256(f"load-bench {camera_id} {start.isoformat()}".encode()).hexdigest()
    run = RunInfo("load-bench-measurements", hashlib.sha256(b"load-bench").hexdigest(), CITYSCAPES, "fps=2")
    return ClipMeasurements(
        clip=ClipInfo(sha, camera_id, start, frames / 2.0, 25.0, 512, 256, frames * 12),
        run=run, frame_index=np.arange(frames) * 12, t_s=np.arange(frames) / 2.0, class_pixels=pixels,
        mean_confidence=np.full(frames, 0.9), low_conf_share=np.full(frames, 0.05),
        flicker=np.r_[np.nan, np.full(frames - 1, 0.1)], vehicle_stationarity=np.full(frames, np.nan),
        object_counts=np.zeros((frames, 3), dtype=np.int64),
    )


def build_user_database(path: Path) -> int:
    """A small database of one's own at ``path``: :data:`CAMERAS`, a district around them and
    :data:`BASE_DAYS` days of measured clips (one every two hours by day per camera); returns the clips stored."""
    district = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Centre", "district_id": "centre"},
                "geometry": {"type": "Polygon", "coordinates": [[[4.88, 52.36], [4.93, 52.36], [4.93, 52.38], [4.88, 52.38],
                                                                  [4.88, 52.36]]]}}]}
    cameras = pd.DataFrame([{"camera_id": c, "name": n, "lon": lon, "lat": lat, "kind": "fixed"} for c, n, lon, lat in CAMERAS])
    clips = [_measured_clip(c, BASE_START + timedelta(days=d, hours=h)) for c, *_ in CAMERAS for d in range(BASE_DAYS) for h in BASE_HOURS]
    with Store(path) as store:
        store.upsert_districts(read_districts_geojson(json.dumps(district).encode()))
        store.upsert_cameras(cameras)
        store.ingest(clips)
    return len(clips)


def _prepare(work: Path, db_arg: Path | None, env: dict[str, str]) -> Path:
    """The database under test (a copy of ``--db``, or a small one of its own built now) with the default model installed."""
    db = work / "load.duckdb"
    if db_arg is not None:
        shutil.copyfile(db_arg, db)
    else:
        print("building a small database of one's own…", flush=True)
        print(f"{build_user_database(db)} clips stored", flush=True)
    print("installing espnetv2-s2 from the mirror…", flush=True)
    run_alone(Job("models install", urbanlens("models", "install", "espnetv2-s2"), env, work / "install.log"))
    return db


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=8, help="concurrent browser sessions (default 8)")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds the sessions click through pages (default 120)")
    ap.add_argument("--max-frames", type=int, default=6, help="sampled frames analysed per ingested clip (default 6)")
    ap.add_argument("--think", type=float, default=0.3, help="seconds a session waits between pages (default 0.3)")
    ap.add_argument("--db", type=Path, default=None, help="a database to copy and use (default: build a small one of its own)")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    if not (SHARED / "models" / "espnetv2").is_dir() or not (SHARED / "samples").is_dir():
        print(f"{SHARED} with models/espnetv2 and samples is needed", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="urbanlens-load-"))
    home = work / "home"
    env = {**os.environ, "URBANLENS_HOME": str(home), "URBANLENS_MODEL_MIRROR": str(SHARED / "models" / "espnetv2")}
    env.pop("URBANLENS_DB", None)
    try:
        db = _prepare(work, args.db, env)
        alone_db = work / "alone.duckdb"
        shutil.copyfile(db, alone_db)
        print("timing each command alone…", flush=True)
        alone = {job.name: run_alone(job) for job in _jobs(alone_db, work, env, args.max_frames, "alone")}
        report = _under_load(db, home, work, env, args)
        report.print(alone, args)
        return 0 if not report.errors else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class LoadRun:
    browse: Browse
    jobs: dict[str, tuple[int, float, str]]
    sessions: int
    load: tuple[float, float]
    """1-minute load average of the machine before and after the run (other work on it shows here)."""
    waits: dict[str, int]
    """How often each command (and the dashboard) said it was waiting for the busy database."""

    @property
    def errors(self) -> list[str]:
        failed = [f"{name}: exit {code}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
                  for name, (code, _, tail) in self.jobs.items() if code != 0]
        return self.browse.errors + failed

    def print(self, alone: dict[str, float], args: argparse.Namespace) -> None:
        b = self.browse
        print(f"\n{self.sessions} browser sessions for {args.duration:.0f} s, {b.visits} pages clicked; "
              f"beside them 2 ingests (--max-frames {args.max_frames}) and a report")
        print(f"machine: {os.cpu_count()} cores, load average {self.load[0]:.1f} before the run, {self.load[1]:.1f} after")
        print(f"errors: {len(self.errors)}")
        for e in self.errors[:20]:
            print(f"  {e}")
        if b.visits:
            print(b.timing().line("page time, all pages", unit="s"))
            for title in (*PAGES, FIRST_LOAD):
                if b.pages.get(title):
                    print(b.timing(title).line(f"  {title} ({len(b.pages[title])})", unit="s"))
        for name, (code, seconds, _) in self.jobs.items():
            base = alone[name]
            print(f"{name:<40} {seconds:7.1f} s under load   {base:7.1f} s alone   x{seconds / base:.2f}"
                  + ("" if code == 0 else f"   FAILED (exit {code})"))
        print("waits for the busy database (said once per wait longer than 0.5 s): "
              + ", ".join(f"{name} {n}" for name, n in self.waits.items()))


def _under_load(db: Path, home: Path, work: Path, env: dict[str, str], args: argparse.Namespace) -> LoadRun:
    """Start the dashboard, the sessions and the commands together; wait for all of them."""
    load_before = os.getloadavg()[0]
    port = free_port()
    server = start_dashboard(db, home, port, work / "streamlit.log", env)
    results: dict[str, tuple[int, float, str]] = {}
    try:
        jobs = _jobs(db, work, env, args.max_frames, "load")

        def run_jobs() -> None:
            for job in jobs:
                job.start()
            for job in jobs:
                results[job.name] = job.finish()

        runner = threading.Thread(target=run_jobs, name="load-jobs")
        print(f"{args.sessions} sessions on http://127.0.0.1:{port} for {args.duration:.0f} s…", flush=True)
        seen = browse(f"http://127.0.0.1:{port}", args.sessions, lambda t, _seen: t >= args.duration, think_s=args.think,
                      on_ready=runner.start)  # the commands start once every session shows its first page
        runner.join()
    finally:
        stop_process(server)
    waits = {job.name: job.lock_waits() for job in jobs}
    waits["dashboard"] = (work / "streamlit.log").read_text(errors="replace").count("waiting up to")
    return LoadRun(seen, results, args.sessions, (load_before, os.getloadavg()[0]), waits)


if __name__ == "__main__":
    sys.exit(main())
