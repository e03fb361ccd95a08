"""Shared fixtures: where ../shared is, an isolated URBANLENS_HOME, a small demo database."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own URBANLENS_HOME so nothing touches ~/.urbanlens, and no $COLUMNS from the shell
    that started pytest: CLI output is written as to a pipe (tables :data:`~analytics.cli._common.PIPE_WIDTH`
    wide) unless a test sets a width itself."""
    home = tmp_path / "urbanlens-home"
    monkeypatch.setenv("URBANLENS_HOME", str(home))
    monkeypatch.delenv("URBANLENS_DB", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the repository (skips where it is absent)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture
def model_mirror(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point URBANLENS_MODEL_MIRROR at ../shared/models (searched with its subfolders: the segmenters'
    weights and the road model installed with them); returns the folder of the ESPNetv2 weights."""
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "models"))
    return shared_dir / "models" / "espnetv2"


ESPNETV2_WEIGHTS = {
    "2.0": "espnetv2_s_2.0_city_1024x512.pth",
    "1.0": "espnetv2_s_1.0_city_1024x512.pth",
}


@pytest.fixture(scope="session")
def espnetv2_onnx(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ESPNetv2 ONNX files at 384x768 for scales "2.0" and "1.0", built once per test session."""
    from analytics.models.checkpoint import read_state_dict
    from analytics.models.espnetv2 import save_espnetv2

    folder = tmp_path_factory.mktemp("espnetv2")
    built = {}
    for scale, name in ESPNETV2_WEIGHTS.items():
        state = read_state_dict(shared_dir / "models" / "espnetv2" / name)
        built[scale] = save_espnetv2(state, folder / f"espnetv2_s{scale}_384x768.onnx", 384, 768)
    return built


@pytest.fixture(scope="session")
def espnetv2_model(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):  # type: ignore[no-untyped-def]
    """espnetv2-s2 installed once per test session from the ../shared mirror (a ``ResolvedModel``)."""
    import dataclasses

    from analytics.models import zoo
    from analytics.settings import load_settings

    home = tmp_path_factory.mktemp("espnetv2-model-home")
    settings = dataclasses.replace(load_settings(), home=home, model_mirror=shared_dir / "models")
    return zoo.install("espnetv2-s2", settings)
