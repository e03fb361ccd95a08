"""``urbanlens evaluate``: a table, a JSON file, one stored row per evaluation; bad input stops it
with one line and stores nothing."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaldata import cvat_files, write_camvid, write_png, write_zip
from tinymodels import colour_card, colour_model
from typer.testing import CliRunner

from analytics.cli import app, main
from analytics.errors import UrbanLensError
from analytics.models import zoo
from analytics.settings import load_settings
from analytics.store import Store, list_evaluations

runner = CliRunner()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """The colour model installed as 'colours', a camera in a fresh database, two CamVid-style frames."""
    settings = load_settings()
    onnx_path = colour_model(tmp_path / "colours.onnx", height=32, width=64)
    card = tmp_path / "colours.json"
    card.write_text(colour_card(32, 64).to_json())
    zoo.add_model(onnx_path, card, settings)
    with Store(settings.db_path) as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]}))
    return write_camvid(tmp_path / "gt", n=2)


def _args(images: Path, masks: Path, *extra: str) -> list[str]:
    return ["evaluate", "--model", "colours", "--road-model", "none", "--images", str(images), "--masks", str(masks), "--format", "camvid", *extra]


def _stored() -> int:
    path = load_settings().db_path
    if not path.exists():
        return 0
    with Store(path) as s:
        return len(list_evaluations(s))


def test_prints_the_table_writes_json_and_stores_one_row(setup: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = runner.invoke(app, _args(*setup, "--label-map", "cityscapes-camvid", "--json", str(out)))
    assert result.exit_code == 0, result.output
    assert "mIoU 100.0  pixel accuracy 100.0  fwIoU 100.0" in result.output
    for text in ("Road", "green_view", "pedestrian_share", "bias 95%", "stored evaluation"):
        assert text in result.output
    data = json.loads(out.read_text())
    assert {"miou", "pixel_accuracy", "fw_iou", "iou", "indicator_error_pp", "images"} <= set(data)
    assert data["images"] == 2 and data["indicator_error_pp"]["green_view"]["bias"] == 0.0
    again = runner.invoke(app, _args(*setup))  # the default map for camvid is cityscapes-camvid: the same evaluation
    assert again.exit_code == 0, again.output
    assert "replaced the stored evaluation" in again.output
    assert _stored() == 1
    with Store(load_settings().db_path) as s:
        row = list_evaluations(s).iloc[0]
    assert row["model_name"] == "colours" and row["miou"] == 100.0 and row["n_images"] == 2 and pd.isna(row["camera_id"])
    assert json.loads(row["metrics_json"])["iou"]["Sky"] == 100.0


def test_camera_and_no_store(setup: tuple[Path, Path]) -> None:
    result = runner.invoke(app, _args(*setup, "--no-store"))
    assert result.exit_code == 0, result.output
    assert _stored() == 0
    result = runner.invoke(app, _args(*setup, "--camera", "cam-1"))
    assert result.exit_code == 0, result.output
    with Store(load_settings().db_path) as s:
        assert list_evaluations(s, camera_id="cam-1")["camera_id"].tolist() == ["cam-1"]
    result = runner.invoke(app, _args(*setup, "--camera", "nowhere"))
    assert isinstance(result.exception, UrbanLensError) and "unknown camera 'nowhere'" in str(result.exception)
    assert _stored() == 1


def _break(images: Path, masks: Path, how: str, tmp_path: Path) -> list[str]:
    """Arguments of an evaluate call with one thing wrong."""
    if how == "image without mask":
        (masks / "f1.png").unlink()
    elif how == "mask without image":
        (images / "f1.png").unlink()
    elif how == "mask of another size":
        write_png(masks / "f1.png", np.zeros((16, 64), np.uint8))
    elif how == "unknown class value":
        write_png(masks / "f1.png", np.full((32, 64), 42, np.uint8))
    elif how == "label map naming unknown classes":
        lm = tmp_path / "map.json"
        lm.write_text(json.dumps({"road": "Road", "lamp post": "Pole"}))
        return _args(images, masks, "--label-map", str(lm))
    elif how == "empty folder":
        (tmp_path / "empty").mkdir()
        return _args(tmp_path / "empty", tmp_path / "empty")
    elif how == "zip with .. paths":
        files = cvat_files(n=1)
        files["../../outside.png"] = b"x"
        export = write_zip(tmp_path / "export.zip", files)
        return ["evaluate", "--model", "colours", "--road-model", "none", "--masks", str(export), "--format", "cvat-mask"]
    return _args(images, masks)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("image without mask", r"1 image\(s\) have no mask: f1.png"),
        ("mask without image", r"1 mask\(s\) have no image: f1.png"),
        ("mask of another size", "mask f1.png is 64x16 but its image f1.png is 64x32; expected the same size"),
        ("unknown class value", r"mask f1.png holds unknown class value\(s\) \[42\]"),
        ("label map naming unknown classes", r"names model class\(es\) \['lamp post'\]"),
        ("empty folder", "no images and no masks found"),
        ("zip with .. paths", "refusing export.zip: member '../../outside.png' points outside the archive"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_is_stored(setup: tuple[Path, Path], tmp_path: Path, how: str, message: str) -> None:
    result = runner.invoke(app, _break(*setup, how, tmp_path))
    assert isinstance(result.exception, UrbanLensError), result.output
    assert re.search(message, str(result.exception)), str(result.exception)
    assert _stored() == 0


def test_main_prints_one_line(setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sys, "argv", ["urbanlens", *_args(tmp_path / "empty", tmp_path / "empty")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "no images and no masks found" in lines[0]


def test_bad_label_map_is_refused_before_the_road_model_is_installed(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default analysis runs the road model beside the segmenter; a bad label map is refused before
    the road model is looked for, so nothing is fetched from the mirror (an empty folder here) or the network."""
    images, masks = setup
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(mirror))

    def no_install(*args: object, **kwargs: object) -> None:
        raise AssertionError("the road model was installed before the inputs were checked")

    monkeypatch.setattr(zoo, "install_road", no_install)
    lm = tmp_path / "map.json"
    lm.write_text(json.dumps({"road": "Road", "lamp post": "Pole"}))
    args = ["evaluate", "--model", "colours", "--images", str(images), "--masks", str(masks), "--label-map", str(lm)]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, UrbanLensError), result.output
    assert re.search(r"names model class\(es\) \['lamp post'\]", str(result.exception)), str(result.exception)
    assert sorted(p.name for p in load_settings().model_dir.iterdir()) == ["colours"]
    assert not any(mirror.iterdir()) and _stored() == 0
