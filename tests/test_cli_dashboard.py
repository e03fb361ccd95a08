"""``urbanlens dashboard``: builds the demo city when there is no database, runs ``streamlit run``
headless as a child process, passes SIGTERM/SIGINT on to it and leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.cli import dashboard as cli_dashboard
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def test_dashboard_builds_the_demo_then_runs_streamlit(_isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str], str]] = []
    monkeypatch.setattr(cli_dashboard, "run_server", lambda cmd, env, cwd: calls.append((list(cmd), env, cwd)) or 0)
    result = CliRunner().invoke(app, ["dashboard", "--port", "8765"])
    assert result.exit_code == 0, result.output
    demo, user = _isolated_home / "demo.duckdb", _isolated_home / "urbanlens.duckdb"
    # the README's first command relies on this: the demo city in a database of its own, the user's stays empty
    assert demo.exists() and not user.exists() and "demo city" in result.output
    cmd, env, cwd = calls[0]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"  # this machine only by default
    assert cmd[cmd.index("--server.port") + 1] == "8765" and cmd[cmd.index("--server.headless") + 1] == "true"
    assert Path(cmd[4]).name == "app.py" and Path(cwd) == Path(cmd[4]).parent
    assert "URBANLENS_DB" not in env and env["URBANLENS_DEMO_DB"] == str(demo.resolve())  # the sidebar switches between the two


def test_dashboard_on_a_named_database_builds_no_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, str]] = []
    monkeypatch.setattr(cli_dashboard, "run_server", lambda cmd, env, cwd: calls.append(env) or 0)
    db = tmp_path / "city.duckdb"
    result = CliRunner().invoke(app, ["dashboard", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert not db.exists() and "demo city" not in result.output and calls[0]["URBANLENS_DB"] == str(db.resolve())


def test_dashboard_keeps_an_existing_database_and_honours_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(cli_dashboard, "run_server", lambda cmd, env, cwd: calls.append(list(cmd)) or 0)
    db = tmp_path / "empty.duckdb"
    result = CliRunner().invoke(app, ["dashboard", "--db", str(db), "--no-demo", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert not db.exists() and calls[0][calls[0].index("--server.address") + 1] == "0.0.0.0"


# -- signals, with real processes -----------------------------------------------------------------
def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is gone too


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _wrapper(tmp_path: Path, child_code: str, grace_s: float) -> subprocess.Popen[bytes]:
    """A process that runs :func:`run_server` on a small Python child (``child_code``) and exits with its code."""
    child = tmp_path / "child.py"
    child.write_text(textwrap.dedent(child_code))
    code = (
        "import sys; from analytics.cli.dashboard import run_server; "
        f"sys.exit(run_server([sys.executable, {str(child)!r}], dict(__import__('os').environ), {str(tmp_path)!r}, grace_s={grace_s}))"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=str(REPO))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the child process")
@pytest.mark.parametrize(
    ("sig", "child_code", "grace_s", "expected_code", "ready_name"),
    [
        # a server that stops on SIGINT (as Streamlit does on Ctrl+C): stopped by the signal passed on, exit 0
        (signal.SIGINT, """
            import pathlib, signal, sys, time
            signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
            pathlib.Path("ready").write_text("1")
            time.sleep(60)
            """, 5.0, 0, "ready"),
        # a server that ignores SIGTERM: killed once the grace period has passed, still no process left
        (signal.SIGTERM, """
            import pathlib, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pathlib.Path("ready").write_text("1")
            time.sleep(60)
            """, 0.5, 0, "ready"),
    ],
    ids=["sigint-passed-on", "sigterm-ignored-then-killed"],
)
def test_run_server_passes_signals_on_and_leaves_no_process(
    tmp_path: Path, sig: int, child_code: str, grace_s: float, expected_code: int, ready_name: str
) -> None:
    wrapper = _wrapper(tmp_path, child_code, grace_s)
    try:
        _wait_for(lambda: (tmp_path / ready_name).exists(), 30, "the child to start")
        (child,) = _children(wrapper.pid)
        assert os.getpgid(child) != os.getpgid(wrapper.pid)  # a session of its own: a terminal's Ctrl+C reaches it once
        t0 = time.monotonic()
        wrapper.send_signal(sig)
        assert wrapper.wait(timeout=20) == expected_code
        assert time.monotonic() - t0 < grace_s + 5
        _wait_for(lambda: not _alive(child), 5, "the child to be gone")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the child process")
def test_sigterm_stops_the_real_streamlit_server(tmp_path: Path) -> None:
    """``urbanlens dashboard`` as a person starts it; SIGTERM (systemd, docker stop) stops the server it started."""
    port = _free_port()
    env = {**os.environ, "URBANLENS_HOME": str(tmp_path / "home")}
    log = (tmp_path / "dashboard.log").open("wb")
    cmd = [sys.executable, "-m", "analytics.cli", "dashboard", "--db", str(tmp_path / "none.duckdb"), "--no-demo", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _answers(port) or proc.poll() is not None, 60, "the server to answer")
        assert proc.poll() is None, (tmp_path / "dashboard.log").read_text()[-2000:]
        servers = _children(proc.pid)
        assert len(servers) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _wait_for(lambda: not _alive(servers[0]), 5, "the Streamlit server to be gone")
        assert not _answers(port)
    finally:
        log.close()
        if proc.poll() is None:
            proc.kill()


def test_a_relative_model_mirror_reaches_the_server_as_the_folder_the_user_meant(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", "../models")
    monkeypatch.delenv("URBANLENS_SAMPLES_MIRROR", raising=False)
    env = cli_dashboard.dashboard_env(load_settings(), None)
    assert env["URBANLENS_MODEL_MIRROR"] == str(tmp_path / "models")
    assert "URBANLENS_SAMPLES_MIRROR" not in env  # unset stays unset (settings fall back to the model mirror)
