"""Shared fixtures: where ../shared is, an isolated URBANLENS_HOME, a small demo database."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own URBANLENS_HOME so nothing touches ~/.urbanlens."""
    home = tmp_path / "urbanlens-home"
    monkeypatch.setenv("URBANLENS_HOME", str(home))
    monkeypatch.delenv("URBANLENS_DB", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the repository (skips where it is absent)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture
def model_mirror(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point URBANLENS_MODEL_MIRROR at the upstream ESPNetv2 weights in ../shared."""
    mirror = shared_dir / "models" / "espnetv2"
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(mirror))
    return mirror
