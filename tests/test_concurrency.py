"""One database, many users: readers never hold the file, a writer waits (bounded) for a busy one.

DuckDB locks the file per process: a process with a read-write connection excludes all others,
read-only processes exclude writers only. The tests hold the file from a second process (a bare
``duckdb`` connection inside a transaction, so that it starts fast) and check what UrbanLens
does meanwhile; the last test runs browser sessions, an ingest and CLI readers together.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.cli import app, main
from analytics.errors import InputError, StoreError
from analytics.formatting import format_count
from analytics.settings import load_settings
from analytics.store import Store
from analytics.store.database import data_version
from tests.helpers import store_with_cameras

REPO = Path(__file__).resolve().parents[1]
HOLDER = textwrap.dedent(
    """
    import pathlib, sys, time
    import duckdb
    db, ready, seconds, camera = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    con = duckdb.connect(db)  # read-write, no waiting: fails at once if anyone holds the file
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO cameras (camera_id, name, lon, lat) VALUES (?, ?, 10.0, 50.0)", [camera, camera])
    pathlib.Path(ready).write_text("1")
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()
    """
)


def _camera(camera_id: str) -> pd.DataFrame:
    return pd.DataFrame([{"camera_id": camera_id, "name": camera_id, "lon": 10.01, "lat": 50.01, "kind": "fixed"}])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "city.duckdb"
    store_with_cameras(str(path), [("cam-1", 10.0, 50.0)]).close()
    return path


@contextmanager
def holding(db: Path, seconds: float, camera: str = "held") -> Iterator[subprocess.Popen[bytes]]:
    """Another process holds ``db`` read-write, mid-transaction, for ``seconds``, then commits ``camera``."""
    ready = db.with_name(f"held-{time.monotonic_ns()}")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(ready), str(seconds), camera], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the holder could not open the file: {proc.stderr.read().decode() if proc.stderr else ''}")
            assert time.monotonic() < deadline, "the holder did not start within 30 s"
            time.sleep(0.02)
        yield proc
    finally:
        if proc.poll() is None:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _writes_at_once(db: Path) -> bool:
    """Whether another process can open ``db`` read-write right now (without waiting)."""
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    return subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True).returncode == 0


# -- writers --------------------------------------------------------------------------------------
def test_a_writer_waits_for_another_writer_then_succeeds(db: Path) -> None:
    told: list[str] = []
    store = Store(db, lock_timeout_s=30, on_wait=told.append)
    with holding(db, 1.5) as other:
        t0 = time.monotonic()
        assert store.upsert_cameras(_camera("cam-2")) == 1
        waited = time.monotonic() - t0
    assert waited > 0.5  # it did wait for the other transaction
    assert len(told) == 1 and f"in use by another process (PID {other.pid})" in told[0] and "waiting up to 30 s to write" in told[0]
    assert set(store.cameras()["camera_id"]) == {"cam-1", "cam-2", "held"}  # both writes are there


def test_a_writer_gives_up_after_the_timeout_with_one_clear_line(db: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db, lock_timeout_s=0.4, on_wait=lambda _m: None)
    csv = db.with_name("cams.csv")
    csv.write_text("camera_id,lon,lat\ncam-3,10.02,50.02\n")
    with holding(db, 20) as other:
        t0 = time.monotonic()
        with pytest.raises(StoreError) as caught:
            store.upsert_cameras(_camera("cam-2"))
        assert 0.4 <= time.monotonic() - t0 < 5
        text = str(caught.value)
        assert "\n" not in text and f"PID {other.pid}" in text and "could not write it within 0.4 s" in text
        assert "URBANLENS_LOCK_TIMEOUT_S" in text  # says which setting waits longer
        # the command line: exit code 2 and one line on stderr, no traceback
        monkeypatch.setenv("URBANLENS_LOCK_TIMEOUT_S", "0.3")
        monkeypatch.setattr(sys, "argv", ["urbanlens", "cameras", "import", str(csv), "--db", str(db)])
        with pytest.raises(SystemExit) as exited:
            main()
        other.kill()
    assert exited.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: database") and "within 0.3 s" in err[0], err


# -- readers --------------------------------------------------------------------------------------
def test_readers_wait_for_a_writer_mid_transaction_then_read(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = Store(db, read_only=True, lock_timeout_s=30)
    before = data_version(db)
    with holding(db, 1.0):
        assert data_version(db) is not None  # answers while the file is held: no lock needed
        t0 = time.monotonic()
        ids = set(reader.cameras()["camera_id"])  # waits for the commit instead of failing
        assert time.monotonic() - t0 > 0.3
    assert ids == {"cam-1", "held"}
    assert data_version(db) != before
    monkeypatch.setenv("URBANLENS_DB", str(db))
    with holding(db, 1.0, camera="held-2"):  # CLI readers too
        info = CliRunner().invoke(app, ["info"])
        listed = CliRunner().invoke(app, ["cameras", "list"])
    assert info.exit_code == 0 and "3 cameras" in info.output, info.output
    assert listed.exit_code == 0 and "cam-1" in listed.output


def test_a_store_holds_no_lock_between_calls(db: Path) -> None:
    store = Store(db)
    store.upsert_cameras(_camera("cam-2"))
    assert len(store.cameras()) == 2
    with store.reading():
        assert len(store.districts()) == 0
        assert not _writes_at_once(db)  # inside a unit of work the file is open (read-only)...
    assert _writes_at_once(db)  # ...and let go of right after it, without closing the store


def test_threads_read_while_another_thread_writes(db: Path) -> None:
    """In one process (the dashboard), read-only and read-write connections take turns instead of failing."""
    store = Store(db, lock_timeout_s=30)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                store.cameras()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(8):
            store.upsert_cameras(_camera(f"cam-w{i}"))
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors[:3]
    assert len(store.cameras()) == 9


def test_a_write_inside_a_reading_block_is_refused(db: Path) -> None:
    store = Store(db)
    with store.reading(), pytest.raises(StoreError, match="cannot start inside a reading"):
        store.upsert_cameras(_camera("cam-2"))


def test_data_version_changes_with_commits_not_with_reads(db: Path) -> None:
    v0 = data_version(db)
    store = Store(db)
    store.cameras()
    Store(db, read_only=True).stats()
    assert data_version(db) == v0
    store.upsert_cameras(_camera("cam-2"))
    assert data_version(db) != v0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", 30.0),  # unset or empty: the default
        ("2.5", 2.5),  # fractions of seconds
        ("0", 0.0),  # 0: try once, do not wait
        ("-1", InputError),  # negative
        ("soon", InputError),  # not a number
        ("inf", InputError),  # waiting for ever is not a bound
    ],
)
def test_lock_timeout_setting(raw: str, expected: float | type[Exception], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_LOCK_TIMEOUT_S", raw)
    if isinstance(expected, float):
        assert load_settings().lock_timeout_s == expected
    else:
        with pytest.raises(expected, match="URBANLENS_LOCK_TIMEOUT_S"):
            load_settings()


# -- the dashboard ------------------------------------------------------------------------------
def test_dashboard_holds_no_lock_and_shows_new_data(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a page is served, another process writes at once; the next rerun shows the new data (no restart, no clearing)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("URBANLENS_DB", str(db))
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception and at.metric[0].value == "1"
    with holding(db, 0.0):  # opens the file read-write without waiting: the dashboard holds nothing
        pass
    at.run()
    assert not at.exception and at.metric[0].value == "2"


# -- everything at once ---------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


def _reader_loop(db: Path, env: dict[str, str], stop: threading.Event, runs: list[tuple[str, int, str]]) -> None:
    """``urbanlens indicators`` and ``urbanlens info`` in turn until ``stop``."""
    commands = (["indicators", "--by", "district", "--format", "csv"], ["info"])
    i = 0
    while not stop.is_set():
        args = commands[i % 2]
        done = subprocess.run([sys.executable, "-m", "analytics.cli", *args, "--db", str(db)], capture_output=True, text=True,
                              env=env, cwd=str(REPO), timeout=120)
        runs.append((args[0], done.returncode, done.stderr[-500:]))
        i += 1
        stop.wait(0.5)  # a person typing the next command; keeps two cores for the others too


@pytest.mark.slow
@pytest.mark.browser
def test_sessions_ingest_and_readers_at_once(tmp_path: Path) -> None:
    """Two browser sessions click through the dashboard while a clip is ingested and CLI readers run:
    no errors anywhere, and every session shows the new clip after the ingest."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (`apt-get install -y chromium`; .ci/run does it)")
    import os
    from datetime import datetime

    from tests.clips import write_cv2
    from tests.helpers import clip_from_pixels
    from tests.tinymodels import bgr, colour_card, colour_model

    sys.path.insert(0, str(REPO / "bench"))
    import load_bench

    db = tmp_path / "city.duckdb"  # footage of one's own: a real clip is never ingested into the demo city's database
    with store_with_cameras(str(db), [("old-town-1", 4.90, 52.37), ("old-town-2", 4.91, 52.37)]) as store:
        store.ingest([clip_from_pixels(cam, datetime(2026, 1, 5 + day, hour), [{0: 50, 8: 30, 10: 20}] * 40)
                      for cam in ("old-town-1", "old-town-2") for day in range(7) for hour in range(7, 19, 2)])
    home = tmp_path / "home"
    card = colour_card(32, 64)
    (home / "models" / card.name).mkdir(parents=True)
    colour_model(home / "models" / card.name / "model.onnx", 32, 64)
    (home / "models" / card.name / "card.json").write_text(card.to_json(), encoding="utf-8")
    clip = write_cv2(tmp_path / "street.mp4", 16, fps=8, size=(64, 32), fourcc="mp4v",
                     paint=lambda i, w, h: __import__("numpy").full((h, w, 3), bgr(8 if i % 2 else 0), "uint8"))
    clips_before = int(Store(db, read_only=True).stats()["clips"])
    expected = f"{format_count(clips_before + 1)} clips"
    env = {**os.environ, "URBANLENS_HOME": str(home), "URBANLENS_DB": str(db)}

    port = load_bench.free_port()
    server = load_bench.start_dashboard(db, home, port, tmp_path / "streamlit.log", env)
    stop_readers = threading.Event()
    reader_runs: list[tuple[str, int, str]] = []
    readers = threading.Thread(target=_reader_loop, args=(db, env, stop_readers, reader_runs))
    ingest = load_bench.Job("ingest", load_bench.urbanlens("ingest", str(clip), "--camera", "old-town-1", "--model", card.name, "--road-model", "none",
                                                           "--max-frames", "4", "--db", str(db)), env, tmp_path / "ingest.log")
    outcome: dict[str, object] = {}

    def run_ingest() -> None:
        outcome["result"] = ingest.start().finish()
        outcome["done_at"] = time.perf_counter()

    writer = threading.Thread(target=run_ingest)

    def start() -> None:  # once both sessions show their first page, with the old data
        outcome["t0"] = time.perf_counter()
        readers.start()
        writer.start()

    def stop(elapsed: float, seen: load_bench.Browse) -> bool:
        """At least 12 s, and each session has shown a page clicked after the ingest ended (at most 60 s)."""
        done_at = outcome.get("done_at")
        if not isinstance(done_at, float):
            return elapsed >= 60
        after = {k for k, clicked, _ in seen.sidebars if clicked > done_at - float(outcome["t0"])}  # type: ignore[arg-type]
        return (elapsed >= 12 and after == {0, 1}) or elapsed >= 60

    try:
        seen = load_bench.browse(f"http://127.0.0.1:{port}", 2, stop, think_s=0.2, on_ready=start)
    finally:
        stop_readers.set()
        for thread in (writer, readers):
            if thread.is_alive():
                thread.join()
        load_bench.stop_process(server)
    code, _seconds, tail = outcome["result"]  # type: ignore[misc]
    assert code == 0 and "1 done" in tail, tail
    assert not seen.errors, seen.errors[:5]
    assert reader_runs and all(rc == 0 for _, rc, _ in reader_runs), [r for r in reader_runs if r[1] != 0][:3]
    assert seen.visits >= 4, seen.pages  # pages clicked after the first loads
    done_at = float(outcome["done_at"]) - float(outcome["t0"])  # type: ignore[arg-type]
    after = {k: text for k, clicked, text in seen.sidebars if clicked > done_at}
    assert set(after) == {0, 1}, "both sessions showed pages after the ingest"
    for k, text in after.items():  # the last page of each session shows the new clip: no restart, no reload
        assert expected in text, (k, text[-300:])
