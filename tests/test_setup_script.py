"""``scripts/setup.sh`` runs pip only when pyproject.toml, the extras or Python changed (the dashboard
command used to spend ~18 s on pip at every start)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the script beside a stand-in package, with a .venv python that logs pip calls."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", repo / "scripts" / "setup.sh")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (repo / "analytics").mkdir()
    (repo / "analytics" / "__init__.py").write_text("")
    (repo / ".venv" / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    python = repo / ".venv" / "bin" / "python"
    python.write_text(
        f'#!/usr/bin/env bash\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> {log}; exit 0; fi\n'
        f'cd "{repo}" && exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    return repo, log


def _setup(repo: Path, *args: str) -> str:
    done = subprocess.run(["bash", "scripts/setup.sh", *args], cwd=repo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pip_runs_once_then_only_when_something_changed(tmp_path):
    repo, log = _repo(tmp_path)
    _setup(repo, "--test")
    assert log.read_text().count("install") == 2  # pip itself, then the package with its extras
    assert "pip skipped" in _setup(repo, "--test")
    assert "pip skipped" in _setup(repo)  # a test install covers a plain one
    assert log.read_text().count("install") == 2
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    assert "pip skipped" not in _setup(repo)
    assert log.read_text().count("install") == 4 and log.read_text().splitlines()[-1].endswith("-e .")
