"""``urbanlens dashboard``: builds the demo city when there is no database, then runs ``streamlit run`` headless."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.cli import dashboard as cli_dashboard


def test_dashboard_builds_the_demo_then_runs_streamlit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str], str]] = []
    monkeypatch.setattr(cli_dashboard.subprocess, "call", lambda cmd, env, cwd: calls.append((cmd, env, cwd)) or 0)
    db = tmp_path / "city.duckdb"
    result = CliRunner().invoke(app, ["dashboard", "--port", "8765", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert db.exists() and "demo city" in result.output  # the README's first command relies on this
    cmd, env, cwd = calls[0]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"  # this machine only by default
    assert cmd[cmd.index("--server.port") + 1] == "8765" and cmd[cmd.index("--server.headless") + 1] == "true"
    assert Path(cmd[4]).name == "app.py" and Path(cwd) == Path(cmd[4]).parent
    assert env["URBANLENS_DB"] == str(db.resolve())


def test_dashboard_keeps_an_existing_database_and_honours_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(cli_dashboard.subprocess, "call", lambda cmd, env, cwd: calls.append(cmd) or 0)
    db = tmp_path / "empty.duckdb"
    result = CliRunner().invoke(app, ["dashboard", "--db", str(db), "--no-demo", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert not db.exists() and calls[0][calls[0].index("--server.address") + 1] == "0.0.0.0"
