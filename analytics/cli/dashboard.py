"""``urbanlens dashboard``: run the Streamlit app (building the demo city first when there is no database)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from analytics.demo import build_demo
from analytics.errors import InputError
from analytics.settings import load_settings


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


def register(app: typer.Typer) -> None:
    """Add the ``dashboard`` command to the CLI."""
    @app.command()
    def dashboard(
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
        host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
        db: Annotated[Path | None, typer.Option(help="Database file (default: $URBANLENS_DB or $URBANLENS_HOME/urbanlens.duckdb).")] = None,
        no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not build the demo city when the database does not exist.")] = False,
    ) -> None:
        """Open the dashboard (http://127.0.0.1:8501); builds the synthetic demo city first if there is no database yet."""
        settings = load_settings()
        db_path = db.expanduser().resolve() if db else settings.db_path
        if not db_path.exists() and not no_demo:

            typer.echo(f"No database at {db_path}: building the demo city Lensfield (synthetic data) first…")
            summary = build_demo(db_path)
            typer.echo(f"Built {summary.frames:,} synthetic frames from {summary.cameras} cameras in {summary.seconds:.1f} s.")
        env = {**os.environ, "URBANLENS_DB": str(db_path.resolve()), "URBANLENS_HOME": str(settings.home.resolve())}
        app_file = app_path()
        cmd = streamlit_command(app_file, host, port, settings.max_upload_mb)
        typer.echo(f"UrbanLens dashboard on http://{host}:{port} (database {db_path}); Ctrl+C to stop.")
        try:
            # run beside app.py so that Streamlit reads the dashboard's .streamlit/config.toml (theme)
            code = subprocess.call(cmd, env=env, cwd=str(app_file.parent))
        except KeyboardInterrupt:
            code = 0
        raise typer.Exit(code)
