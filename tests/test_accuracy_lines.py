"""Accuracy beside the numbers: the evaluation that applies to each camera, its line on pages and in reports,
and ``--adjusted`` on a small store whose right answers are known by construction.

The store: cameras ``cam-a`` and ``cam-b`` analysed with ``test-model`` (weights ``W``), ``cam-c`` with other
weights. Stored evaluations: the model on other footage (no camera) with a known confusion, and ``cam-a``'s own
frames (a perfect confusion). So ``cam-a`` -> own, ``cam-b`` -> model, ``cam-c`` -> none.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.evaluation.adjust import accuracy_line, accuracy_table
from analytics.evaluation.apply import adjusted_indicators, camera_evaluations
from analytics.reports import build_report
from analytics.reports.html import render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from analytics.store import EvaluationRow, Store, save_evaluation
from tests.dashboard_helpers import demo_database, shown_text
from tests.helpers import ROAD, SKY, VEG, clip_from_pixels, run_info, sha, store_with_cameras

W = sha("weights")
CLASSES = [{"name": "Road", "group": "road"}, {"name": "Tree", "group": "vegetation"}, {"name": "Sky", "group": "sky"}]
# cm[truth, prediction]: 10 of 90 truly-Tree pixels are read as Road, 20 of 120 truly-Sky pixels as Tree
MODEL_CM = [[90, 0, 0], [10, 80, 0], [0, 20, 100]]
IMAGES = 10
BIAS = {"green_view": {"bias": 1.7, "bias_ci95": [1.2, 2.2], "mae": 2.0, "mae_ci95": [1.5, 2.5], "images": IMAGES}}
FRAMES = [{ROAD: 5000, VEG: 3000, SKY: 2000}] * 4 + [{ROAD: 5200, VEG: 2800, SKY: 2000}] * 4  # two clips' worth


def _metrics(cm: list[list[int]], miou: float) -> str:
    return json.dumps({"miou": miou, "images": IMAGES, "confusion": cm, "classes": CLASSES, "indicator_error_pp": BIAS})


def _evaluation(camera: str | None, cm: list[list[int]], miou: float) -> EvaluationRow:
    return EvaluationRow(model_name="test-model", weights_sha256=W, gt_sha256=sha(f"gt{camera}"), camera_id=camera,
                         dataset_format="camvid", label_map="cityscapes-camvid", n_images=IMAGES, miou=miou, pixel_accuracy=90.0,
                         fw_iou=80.0, metrics_json=_metrics(cm, miou))


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("accuracy") / "small.duckdb"
    store = store_with_cameras(str(path), [("cam-a", 4.90, 52.37), ("cam-b", 4.91, 52.37), ("cam-c", 4.92, 52.37)])
    other = run_info()
    other = type(other)("other-model", sha("other weights"), other.class_set, other.sampling, other.smoothing, other.code_version)
    for cam, run in (("cam-a", None), ("cam-b", None), ("cam-c", other)):
        for hour, frames in ((8, FRAMES[:4]), (9, FRAMES[4:])):
            store.ingest(clip_from_pixels(cam, datetime(2026, 3, 2, hour), frames, label=f"{cam}-{hour}", run=run))
    save_evaluation(store, _evaluation(None, MODEL_CM, 54.5))
    save_evaluation(store, _evaluation("cam-a", [[90, 0, 0], [0, 90, 0], [0, 0, 120]], 100.0))
    store.close()
    return path


# -- the accuracy line --------------------------------------------------------------------------------------------

ROW = {"model_name": "espnetv2-s2", "n_images": 101, "dataset_format": "camvid", "created_at": datetime(2026, 3, 2, 10, 5),
       "miou": 54.5, "bias": 1.7, "bias_low": 1.2, "bias_high": 2.2}


@pytest.mark.parametrize(
    ("row", "name", "expected"),
    [
        # the camera's own annotated frames
        ({**ROW, "source": "camera", "n_images": 12}, "green_view",
         "Accuracy measured on this camera's own annotated frames (12 images, 2 Mar 2026): mIoU 54.5%; "
         "Green view index bias +1.7 points (95% CI +1.2 to +2.2 points)."),
        # the model on other footage, a negative bias below one point
        ({**ROW, "source": "model", "bias": -0.4, "bias_low": -0.9, "bias_high": 0.05}, "sky_view",
         "Accuracy of espnetv2-s2 measured on other footage (101 camvid images, 2 Mar 2026), not on this camera: mIoU 54.5%; "
         "Sky view bias -0.40 points (95% CI -0.90 to +0.05 points)."),
        # an indicator the evaluation does not check
        ({**ROW, "source": "model", "bias": float("nan")}, "people_per_frame",
         "Accuracy of espnetv2-s2 measured on other footage (101 camvid images, 2 Mar 2026), not on this camera: mIoU 54.5%; "
         "People per frame: bias not measured."),
        # a bias without an interval
        ({**ROW, "source": "camera", "bias_low": None, "bias_high": None}, "green_view",
         "Accuracy measured on this camera's own annotated frames (101 images, 2 Mar 2026): mIoU 54.5%; "
         "Green view index bias +1.7 points."),
        # no evaluation of the camera's model
        ({"source": "none", "model_name": "espnetv2-s2"}, "green_view",
         "Accuracy not measured: no evaluation of espnetv2-s2 on annotated frames applies to this camera."),
        # no footage at all
        ({"source": "none", "model_name": float("nan")}, "green_view", "Accuracy not measured: no analysed footage from this camera."),
    ],
)
def test_accuracy_line(row: dict, name: str, expected: str) -> None:
    assert accuracy_line(row, name) == expected


def test_camera_evaluations_own_then_model_then_none(small_db: Path) -> None:
    with Store(small_db, read_only=True) as s:
        ev = camera_evaluations(s, "green_view").set_index("camera_id")
    assert ev["source"].to_dict() == {"cam-a": "camera", "cam-b": "model", "cam-c": "none"}
    assert ev.loc["cam-a", "miou"] == 100.0 and ev.loc["cam-b", "miou"] == 54.5
    assert ev.loc["cam-b", "bias"] == 1.7 and ev.loc["cam-b", "bias_high"] == 2.2
    assert math.isnan(ev.loc["cam-c", "bias"]) and ev.loc["cam-c", "model_name"] == "other-model"
    lines = accuracy_table(ev.reset_index(), "green_view").set_index("camera_id")["accuracy"]
    assert lines["cam-a"].startswith("Accuracy measured on this camera's own annotated frames (10 images")
    assert lines["cam-b"].startswith("Accuracy of test-model measured on other footage (10 camvid images")
    assert lines["cam-c"] == "Accuracy not measured: no evaluation of other-model on annotated frames applies to this camera."


# -- error-adjusted indicators ------------------------------------------------------------------------------------


def _expected_cam_b_green() -> tuple[float, float]:
    """By hand: W = road 0.51, vegetation 0.29, sky 0.20; map-road rows hold 10% reference vegetation, map-Tree 80%."""
    w_road, w_veg = 10_200 / 20_000, 5_800 / 20_000
    p = w_road * 0.1 + w_veg * 0.8
    units = IMAGES / 300  # 300 scored pixels in the confusion = 10 images
    var = w_road**2 * 0.1 * 0.9 / max(100 * units - 1, 1) + w_veg**2 * 0.8 * 0.2 / max(100 * units - 1, 1)
    return p, math.sqrt(var)


def test_adjusted_indicators_by_camera(small_db: Path) -> None:
    with Store(small_db, read_only=True) as s:
        raw = adjusted_indicators(s, Selection(min_frames=1), "camera", ["green_view"])
    got = raw.set_index("camera")
    p, se_acc = _expected_cam_b_green()
    assert got.loc["cam-b", "value"] == pytest.approx(p)
    assert got.loc["cam-b", "adjustment"] == "model"
    assert got.loc["cam-a", "value"] == pytest.approx(0.29)  # a perfect own evaluation changes nothing
    assert got.loc["cam-a", "adjustment"] == "camera"
    assert got.loc["cam-c", "value"] == pytest.approx(0.29) and not got.loc["cam-c", "adjusted"]
    half = got.loc["cam-b", "value"] - got.loc["cam-b", "ci_low"]
    assert half >= 1.959 * se_acc  # the interval includes the accuracy estimate's uncertainty


def test_cli_indicators_adjusted(small_db: Path) -> None:
    runner = CliRunner()
    base = ["indicators", "--db", str(small_db), "-i", "green_view", "-i", "people_per_frame", "--min-frames", "1"]
    res = runner.invoke(app, [*base, "--by", "camera", "--adjusted", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["camera"]: r for r in json.loads(res.stdout)}
    assert rows["cam-b"]["green_view"] == pytest.approx(_expected_cam_b_green()[0])
    assert [rows[c]["green_view_adjustment"] for c in ("cam-a", "cam-b", "cam-c")] == [
        "camera", "model", "not adjusted: no evaluation applies"]
    assert "people_per_frame_adjustment" not in rows["cam-a"]  # never adjusted, no column
    plain = json.loads(runner.invoke(app, [*base, "--by", "camera", "--format", "json"]).stdout)
    assert {r["camera"]: r["green_view"] for r in plain}["cam-b"] == pytest.approx(0.29)  # off by default
    city = runner.invoke(app, [*base, "--by", "city", "--adjusted"])
    assert city.exit_code == 0, city.output
    assert "†" in city.stdout and "cameras with different evaluations" in city.stdout


def test_cli_adjusted_refuses_parquet(small_db: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["indicators", "--db", str(small_db), "--by", "camera", "--adjusted", "--parquet", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "--parquet" in str(res.exception)


# -- reports ------------------------------------------------------------------------------------------------------


def test_reports_carry_the_accuracy_line(small_db: Path) -> None:
    with Store(small_db, read_only=True) as s:
        plain = build_report(s, Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), min_frames=1), None)
        adjusted = build_report(s, Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), min_frames=1), None, adjusted=True)
    assert {a.camera_id: a.source for a in plain.accuracy} == {"cam-a": "camera", "cam-b": "model", "cam-c": "none"}
    html = render_html(plain)
    assert "Accuracy of each camera" in html
    assert "Accuracy of test-model measured on other footage" in html and "Accuracy not measured" in html
    assert not plain.adjusted and plain.adjustment_note == ""
    assert adjusted.adjusted and "Olofsson" in adjusted.adjustment_note
    cams = adjusted.cameras.set_index("camera_id")
    assert cams.loc["cam-b", "green_view"] == pytest.approx(_expected_cam_b_green()[0])
    assert plain.cameras.set_index("camera_id").loc["cam-b", "green_view"] == pytest.approx(0.29)
    pdf = render_pdf(adjusted)
    assert pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Accuracy of each camera" in text and "Accuracy not measured" in " ".join(text.split())


def test_cli_report_adjusted(small_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", "--city", "--db", str(small_db), "--out", str(out), "--adjusted"])
    assert res.exit_code == 0, res.output
    assert "error-adjusted" in out.read_text(encoding="utf-8")


# -- pages --------------------------------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def test_camera_and_explore_pages_show_accuracy_and_adjust(small_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_DB", str(small_db))
    monkeypatch.setenv("URBANLENS_MIN_FRAMES", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/camera.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="camera_pick").set_value("cam-b").run()
    captions = [shown_text(c.value) for c in at.caption]  # captions are escaped Markdown: read them as shown
    assert any(c.startswith("Accuracy of test-model measured on other footage") for c in captions), captions
    at.toggle(key="camera_adjusted").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(c.startswith("Error-adjusted (Olofsson et al. 2014) in") for c in (shown_text(c.value) for c in at.caption))
    at.switch_page("views/explore.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Accuracy of each camera" in e.label for e in at.expander)
    at.toggle(key="explore_adjusted").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_cameras_without_evaluations_say_not_measured(small_db: Path) -> None:
    with Store(small_db, read_only=True) as s:
        table = accuracy_table(camera_evaluations(s, "sky_view"), "sky_view")
    assert len(table) == 3 and table["accuracy"].str.len().gt(0).all()
    assert np.array_equal(table["source"].to_numpy(), np.array(["camera", "model", "none"]))


def test_district_detail_lists_every_camera_accuracy(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The overview's district detail (opened by a click on the map): accuracy of each camera there, and the switch."""
    monkeypatch.setenv("URBANLENS_DB", str(demo_database(tmp_path_factory)))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.session_state["overview_map"] = {"selection": {"points": [{"customdata": "district:old-town"}]}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    box = next(e for e in at.expander if e.label.startswith("Accuracy of the"))
    lines = [m.value for m in box.markdown]
    assert lines and all("Accuracy not measured" in m for m in lines)  # the synthetic demo city has no evaluation
    at.toggle(key="overview_adjusted").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("not adjusted: no evaluation applies" in shown_text(c.value) for c in at.caption)
