"""`urbanlens models ...` and `urbanlens segment` through typer's test runner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from analytics.cli import models as cli_models
from analytics.errors import DataFormatError, InputError, ModelError
from analytics.evaluation import adapt as adapt_module
from analytics.models.zoo import add_model, install, resolve
from analytics.settings import load_settings
from tests.tinymodels import colour_card, colour_model, install_colour_model

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """UrbanLens (test app)."""

    cli_models.register(app)
    return app


APP = make_app()


@pytest.fixture(scope="module")
def installed_home(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A URBANLENS_HOME with espnetv2-s2 installed from the mirror, shared by this module's tests."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("URBANLENS_HOME", str(home))
        mp.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "models"))
        install("espnetv2-s2", load_settings())
    return home


@pytest.fixture
def home(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("URBANLENS_HOME", str(installed_home))
    return installed_home


def test_list_shows_installed_and_available(home: Path) -> None:
    result = runner.invoke(APP, ["models", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "espnetv2-" in line}
    assert "installed" in lines["espnetv2-s2"] and "MB" in lines["espnetv2-s2"] and "384x768" in lines["espnetv2-s2"]
    assert "available" in lines["espnetv2-s1"] and "MIT" in lines["espnetv2-s1"]


def test_install_prints_path(model_mirror: Path) -> None:
    result = runner.invoke(APP, ["models", "install", "espnetv2-s1", "--size", "256x512"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    assert path == load_settings().model_dir / "espnetv2-s1" / "model.onnx" and path.is_file()


def test_reinstall_says_installed_without_fetching(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed model is not fetched again: an empty mirror (and no network) would fail any fetch."""
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(tmp_path))
    result = runner.invoke(APP, ["models", "install", "espnetv2-s2"])
    assert result.exit_code == 0, result.output
    assert "already installed" in result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == home / "models" / "espnetv2-s2" / "model.onnx"


def test_install_bad_size(model_mirror: Path) -> None:
    result = runner.invoke(APP, ["models", "install", "espnetv2-s1", "--size", "big"])
    assert isinstance(result.exception, InputError)


def test_segment_matches_reference(home: Path, shared_dir: Path, tmp_path: Path) -> None:
    """The acceptance path: install (done by the fixture) then segment a golden image."""
    ref = shared_dir / "reference" / "espnetv2"
    out, over = tmp_path / "labels.png", tmp_path / "overlay.png"
    result = runner.invoke(APP, ["segment", str(ref / "bikes_f140.png"), "--out", str(out), "--overlay", str(over), "--road-model", "none"])
    assert result.exit_code == 0, result.output
    labels = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    golden = cv2.imread(str(ref / "labels_s2.0_bikes_f140.png"), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint8 and labels.shape == (384, 768)
    assert (labels == golden).mean() >= 0.999
    picture = cv2.imread(str(over))
    assert picture.shape[0] == 384 and picture.shape[1] > 768  # the frame plus a legend panel


def test_segment_other_size(home: Path, shared_dir: Path, tmp_path: Path) -> None:
    """A 640x272 frame is letterboxed into 768x384; --keep-size maps labels back to 640x272."""
    cap = cv2.VideoCapture(str(shared_dir / "samples" / "bikes.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 175)
    ok, frame = cap.read()
    cap.release()
    assert ok
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), frame)
    model_size, keep = tmp_path / "model.png", tmp_path / "keep.png"
    assert runner.invoke(APP, ["segment", str(image), "--out", str(model_size)]).exit_code == 0
    assert runner.invoke(APP, ["segment", str(image), "--out", str(keep), "--keep-size"]).exit_code == 0
    a = cv2.imread(str(model_size), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(keep), cv2.IMREAD_UNCHANGED)
    assert a.shape == (384, 768) and b.shape == (272, 640)
    assert (a[:29] == 19).all() and (a[-29:] == 19).all()  # letterbox padding is void
    assert (b != 19).mean() > 0.9  # the frame's own pixels get real classes


@pytest.mark.parametrize(
    ("setup", "error", "message"),
    [
        ("text", DataFormatError, "not an image"),  # a text file named .png
        ("missing", InputError, "does not exist"),  # no such file
        ("jpeg-out", InputError, "expected a .png"),  # labels must be lossless
        ("not-installed", ModelError, "urbanlens models install espnetv2-s1"),  # model not installed
    ],
)
def test_segment_errors(home: Path, shared_dir: Path, tmp_path: Path, setup: str, error: type[Exception], message: str) -> None:
    image = shared_dir / "reference" / "espnetv2" / "bikes_f140.png"
    args = ["--out", str(tmp_path / "labels.png")]
    if setup == "text":
        image = tmp_path / "notes.png"
        image.write_text("hello")
    elif setup == "missing":
        image = tmp_path / "nothing.png"
    elif setup == "jpeg-out":
        args = ["--out", str(tmp_path / "labels.jpg")]
    else:
        args += ["--model", "espnetv2-s1"]
    result = runner.invoke(APP, ["segment", str(image), *args])
    assert isinstance(result.exception, error), result.output
    assert message in str(result.exception)


def test_add_refuses_mismatched_card(home: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    card.write_text('{"name": "mine", "input_height": 512, "input_width": 1024, "class_set": "cityscapes"}')
    onnx_path = home / "models" / "espnetv2-s2" / "model.onnx"
    result = runner.invoke(APP, ["models", "add", str(onnx_path), "--card", str(card)])
    assert isinstance(result.exception, ModelError)
    assert "512, 1024" in str(result.exception)


def test_add_accepts_matching_card(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path / "own-home"))
    card = tmp_path / "card.yaml"
    card.write_text("name: mine\ninput_height: 384\ninput_width: 768\nclass_set: cityscapes\n")
    result = runner.invoke(APP, ["models", "add", str(home / "models" / "espnetv2-s2" / "model.onnx"), "--card", str(card)])
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()) == tmp_path / "own-home" / "models" / "mine" / "model.onnx"


# -- names of new models: checked before any work ------------------------------------------------
@pytest.fixture
def colour_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with the 20-class colour model installed as ``colours`` and again, by its owner, as ``mine``."""
    home = tmp_path / "home"
    monkeypatch.setenv("URBANLENS_HOME", str(home))
    install_colour_model(home)
    card = tmp_path / "mine.json"
    card.write_text(dataclasses.replace(colour_card(), name="mine").to_json(), encoding="utf-8")
    add_model(colour_model(tmp_path / "mine.onnx"), card, load_settings())
    return home


def _adapt_args(name: str, tmp_path: Path, *extra: str) -> list[str]:
    """``models adapt colours --name NAME`` on annotation folders that do not exist: a name refused
    first never gets as far as reading them."""
    return ["models", "adapt", "colours", "--name", name, "--images", str(tmp_path / "no-images"),
            "--masks", str(tmp_path / "no-masks"), "--format", "camvid", *extra]


def test_adapt_keeps_an_installed_model_unless_forced(colour_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fit(*_: object, **__: object) -> None:
        raise AssertionError("the head was fitted although the name is taken")

    monkeypatch.setattr(adapt_module, "fit_head", no_fit)
    before = (colour_home / "models" / "mine" / "model.onnx").read_bytes()
    result = runner.invoke(APP, _adapt_args("mine", tmp_path))
    assert isinstance(result.exception, InputError), result.output
    message = str(result.exception)
    assert "model 'mine' is already installed (32x64, 20 classes)" in message and "--force" in message
    assert "\n" not in message  # refused before the annotations were read or the head fitted (no_fit)
    kept = resolve("mine", load_settings())
    assert kept.card.num_classes == 20 and kept.onnx_path.read_bytes() == before
    # with --force the name passes and the command goes on to read the annotations (absent here)
    forced = runner.invoke(APP, _adapt_args("mine", tmp_path, "--force"))
    assert forced.exception is not None and "already installed" not in str(forced.exception)
    assert resolve("mine", load_settings()).card.num_classes == 20


def test_adapt_api_checks_the_name_first(colour_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapt_module, "fit_head", lambda *a, **k: pytest.fail("fitted"))
    base = resolve("colours", load_settings())
    with pytest.raises(InputError, match="'mine' is already installed"):
        adapt_module.adapt(base, None, "mine", load_settings())  # type: ignore[arg-type]  # never read
    with pytest.raises(InputError, match="is the base itself"):
        adapt_module.adapt(base, None, "colours", load_settings())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        ".",  # the models folder itself
        "..",  # its parent: URBANLENS_HOME would be moved aside
        "../elsewhere",  # a path separator
        "a\\b",  # a Windows path separator
        "",  # empty
        "   ",  # whitespace only
        "two words",  # a space
        "bad\x00name",  # a control character
        "bad\nname",  # a line break
        "\u202eevil",  # a text-direction override
        ".hidden",  # a hidden folder, never listed
        "x" * 65,  # over the 64-character limit
        "x" * 5000,  # far over it: the message quotes 80 characters
    ],
)
def test_adapt_refuses_a_bad_name_before_any_work(colour_home: Path, tmp_path: Path, name: str) -> None:
    listing = sorted(p.name for p in (colour_home / "models").iterdir())
    result = runner.invoke(APP, _adapt_args(name, tmp_path))
    assert isinstance(result.exception, InputError), result.output
    message = str(result.exception)
    assert message.startswith("model name ") and "letters, digits" in message, message
    assert len(message) < 250
    assert sorted(p.name for p in (colour_home / "models").iterdir()) == listing
    assert (colour_home.parent / "home").is_dir()


@pytest.mark.parametrize("name", ["..", "x/y", ""])
def test_install_and_add_use_the_same_name_check(colour_home: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match="^model name "):
        install(name, load_settings())
    with pytest.raises(InputError, match="^model name "):
        resolve(name, load_settings())
    card = tmp_path / "card.json"
    card.write_text(colour_card().to_json().replace('"colours"', json.dumps(name), 1), encoding="utf-8")
    result = runner.invoke(APP, ["models", "add", str(tmp_path / "m.onnx"), "--card", str(card)])
    assert isinstance(result.exception, (InputError, DataFormatError)), result.output


def test_add_keeps_an_installed_model_unless_forced(colour_home: Path, tmp_path: Path) -> None:
    card = tmp_path / "mine2.json"
    card.write_text(dataclasses.replace(colour_card(), name="mine").to_json(), encoding="utf-8")
    onnx_path = colour_model(tmp_path / "other.onnx", temperature=5.0)
    result = runner.invoke(APP, ["models", "add", str(onnx_path), "--card", str(card)])
    assert isinstance(result.exception, InputError) and "use --force" in str(result.exception)
    assert resolve("mine", load_settings()).onnx_path.read_bytes() != onnx_path.read_bytes()
    result = runner.invoke(APP, ["models", "add", str(onnx_path), "--card", str(card), "--force"])
    assert result.exit_code == 0, result.output
    assert resolve("mine", load_settings()).onnx_path.read_bytes() == onnx_path.read_bytes()
