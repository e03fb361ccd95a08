"""``urbanlens dashboard``: run the Streamlit app (building the demo city first when there is no data yet).

Without ``--db`` (and ``URBANLENS_DB``) the dashboard opens the user's database when it holds
data, else the demo city's (``Settings.demo_db_path``, built here first when it is missing), and
its sidebar switches between the two. ``--db`` shows that one file and nothing else.

The Streamlit server runs as a child process in a session of its own; SIGTERM, SIGINT and SIGHUP
sent to this command are passed on to it, this command waits for it to stop, and kills it if it
has not stopped :data:`GRACE_S` seconds after the first signal. No server is left behind.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from analytics.demo.city import build_demo
from analytics.errors import InputError, StoreError
from analytics.settings import Settings, load_settings
from analytics.store import Store

__all__ = ["FORWARDED", "GRACE_S", "PATH_VARIABLES", "absolute_paths", "app_path", "dashboard_env", "holds_data", "register", "run_server", "streamlit_command"]


def app_path() -> Path:
    """``dashboard/app.py`` of the installed ``dashboard`` package (or of this checkout)."""
    spec = importlib.util.find_spec("dashboard")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "app.py"
            if candidate.is_file():
                return candidate
    candidate = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    if candidate.is_file():
        return candidate
    raise InputError("the dashboard package is not installed (dashboard/app.py not found); reinstall UrbanLens")


def streamlit_command(app: Path, host: str, port: int, max_upload_mb: int) -> list[str]:
    """The ``streamlit run`` command line (headless, no usage statistics, no file watcher).

    >>> streamlit_command(Path("app.py"), "127.0.0.1", 8501, 500)[4:7]
    ['app.py', '--server.address', '127.0.0.1']
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max_upload_mb),
    ]


GRACE_S = 10.0
"""Seconds the server has to stop after a signal before it is killed."""
FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


def run_server(cmd: Sequence[str], env: dict[str, str], cwd: str, grace_s: float = GRACE_S) -> int:
    """Run ``cmd`` until it exits, passing on SIGTERM/SIGINT/SIGHUP; returns its exit code.

    The child gets a session of its own, so a Ctrl+C in the terminal reaches it once (through
    this process) rather than twice. After the first signal it has ``grace_s`` seconds to stop,
    then it is killed. Exit code 0 when it stopped because of a signal passed on.
    """
    if grace_s <= 0:
        raise InputError(f"grace_s={grace_s}; expected a positive number of seconds")
    received: list[int] = []
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # installed before the start, so that no signal is missed (handlers can be set from the main thread only)
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED} if main else {}
    try:
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, start_new_session=True)
        children.append(proc)
        if received:  # a signal came while the server was starting
            proc.send_signal(received[0])
        code = _wait(proc, received, grace_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:  # this process is leaving for another reason: take the server along
            if child.poll() is None:
                child.kill()
                child.wait()
    if received and code in (0, -received[0], -signal.SIGKILL):
        return 0
    return code


def _wait(proc: subprocess.Popen[bytes], received: list[int], grace_s: float) -> int:
    """Wait for ``proc``; once a signal has been received, for at most ``grace_s`` more seconds, then kill it."""
    deadline: float | None = None
    while True:
        try:
            return proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if received and deadline is None:
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                return proc.wait()


def holds_data(path: Path) -> bool:
    """Whether the database at ``path`` exists and holds anything (a file it cannot read counts as holding data)."""
    if not path.exists():
        return False
    try:
        with Store(path, read_only=True, lock_timeout_s=0) as store:
            return bool(store.holds())
    except StoreError:
        return True


PATH_VARIABLES = ("URBANLENS_MODEL_MIRROR", "URBANLENS_SAMPLES_MIRROR")
"""Settings that name folders: the server runs in the dashboard's own folder, so a relative one
(``URBANLENS_MODEL_MIRROR=../shared/models`` as the README sets it) is made absolute first."""


def absolute_paths(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """``env`` with each of :data:`PATH_VARIABLES` that is set and relative made absolute against ``cwd``
    (the folder the user started from); ``~`` is expanded.

    >>> absolute_paths({"URBANLENS_MODEL_MIRROR": "../shared/models", "OTHER": "x"}, Path("/work/repo"))
    {'URBANLENS_MODEL_MIRROR': '/work/shared/models', 'OTHER': 'x'}
    """
    out = dict(env)
    for name in PATH_VARIABLES:
        if out.get(name):
            out[name] = os.path.normpath(cwd / Path(out[name]).expanduser())
    return out


def dashboard_env(settings: Settings, named: Path | None) -> dict[str, str]:
    """The server's environment: the named database pinned (``URBANLENS_DB``), else the user's and the demo's
    paths; folders given relative to where the user started made absolute (:func:`absolute_paths`)."""
    env = {**absolute_paths(dict(os.environ), Path.cwd()), "URBANLENS_HOME": str(settings.home.resolve())}
    if named is not None:
        env["URBANLENS_DB"] = str(named.resolve())
    else:
        env.pop("URBANLENS_DB", None)
        env["URBANLENS_DEMO_DB"] = str(settings.demo_db_path.resolve())
    return env


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the CLI."""
    @app.command()
    def dashboard(
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
        host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
        db: Annotated[Path | None, typer.Option(help="Show this database file only (default: $URBANLENS_DB, else your "
                                                "$URBANLENS_HOME/urbanlens.duckdb with a switch to the demo city).")] = None,
        no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not build the demo city when there is no data yet.")] = False,
    ) -> None:
        """Open the dashboard (http://127.0.0.1:8501): your data, or the synthetic demo city (built first) while you have none."""
        settings = load_settings()
        named = db.expanduser().resolve() if db else (settings.db_path if settings.db_pinned else None)
        demo = settings.demo_db_path
        if named is None and not no_demo and not demo.exists() and not holds_data(settings.db_path):
            typer.echo(f"No data yet: building the demo city Lensfield (synthetic data) into {demo} first…")
            summary = build_demo(demo)
            typer.echo(f"Built {summary.frames:,} synthetic frames from {summary.cameras} cameras in {summary.seconds:.1f} s.")
        env = dashboard_env(settings, named)
        app_file = app_path()
        cmd = streamlit_command(app_file, host, port, settings.max_upload_mb)
        shown = f"database {named}" if named is not None else f"your database {settings.db_path}, demo city {demo}"
        typer.echo(f"UrbanLens dashboard on http://{host}:{port} ({shown}); Ctrl+C to stop.")
        # run beside app.py so that Streamlit reads the dashboard's .streamlit/config.toml (theme)
        raise typer.Exit(run_server(cmd, env, str(app_file.parent)))
