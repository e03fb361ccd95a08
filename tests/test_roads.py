"""The road model beside the segmenter: the fusion rule, installing it, and the fused analysis on real frames."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from tinymodels import colour_card, colour_model, write_colour_street

from analytics.errors import InputError, ModelError
from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import read_camvid
from analytics.evaluation.run import evaluate
from analytics.footage.distress import distress_heuristic
from analytics.footage.measure import curb_length_px, lane_mark_share
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.roads import CURB, LANE_MARK, RoadModel, fuse_road, road_view
from analytics.models.roadcard import DEFAULT_ROAD_MODEL, check_road_onnx
from analytics.models.zoo import builtin_cards, builtin_road_cards, install_road, resolve, resolve_road, with_road
from analytics.settings import load_settings

ROAD_FILE = "road_segmentation_adas_0001.onnx"


def test_fusion_rule_on_hand_made_probabilities() -> None:
    """Road under a confident 'not road' becomes sidewalk; a confident road becomes road whatever the segmenter said."""
    labels = np.array([[0, 0, 0, 8, 8, 1]], np.uint8)  # road x3, vegetation x2, sidewalk
    p = np.zeros((1, 6, 4), np.float32)
    p[0, :, 0] = [0.9, 0.5, 0.05, 0.9, 0.05, 0.05]  # background
    p[0, :, 2] = [0.0, 0.1, 0.0, 0.0, 0.0, 0.0]  # curb
    p[0, :, 1] = 1 - p[0, :, 0] - p[0, :, 2] - 0.05  # road
    p[0, :, 3] = 0.05  # lane mark
    v = road_view(p, 1, 6)
    fused = fuse_road(labels, v.off_road, v.on_road, (0, 1), 0.7, 0.7)
    # 0.9 off road: sidewalk; 0.6 off road: kept; on road 0.95: road; vegetation off road: kept; on road: road; sidewalk on road: road
    assert fused.tolist() == [[1, 0, 0, 8, 0, 0]]
    assert fuse_road(labels, v.off_road, v.on_road, (0, 1), 0.5, 0.99).tolist() == [[1, 1, 0, 8, 8, 1]]
    with pytest.raises(InputError, match="differ in shape"):
        fuse_road(labels, v.off_road[:, :3], v.on_road, (0, 1))


def test_lane_marks_and_curbs_measured_and_paint_left_out_of_distress() -> None:
    road = np.ones((64, 128), np.uint8)
    road[40:44, 10:110] = CURB  # 100 px of curb
    road[5:35, 60:63] = LANE_MARK
    assert lane_mark_share(road) == pytest.approx(90 / road.size)
    assert curb_length_px(road) == pytest.approx(100.0, abs=1.0)
    assert curb_length_px(road, scale_x=0.5, scale_y=0.5) == pytest.approx(200.0, abs=2.0)
    image = np.full((64, 128, 3), 120, np.uint8)
    image[:, 50:53] = 250  # bright paint either side of a strip of asphalt: dark between them for the black-hat filter
    image[:, 56:59] = 250
    mask = np.ones((64, 128), bool)
    paint = np.zeros((64, 128), bool)
    paint[:, 50:53] = paint[:, 56:59] = True
    plain, ignoring_paint = distress_heuristic(image, mask), distress_heuristic(image, mask, paint)
    assert plain.crack_px + plain.pothole_px > 0 and ignoring_paint.crack_px + ignoring_paint.pothole_px == 0


@pytest.fixture
def road_file(shared_dir: Path) -> Path:
    path = shared_dir / "models" / "road" / ROAD_FILE
    if not path.is_file():
        pytest.skip(f"{path} is not in ../shared")
    return path


def test_install_from_a_mirror_folder_and_wrong_shapes_refused(road_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror" / "road"  # found in a subfolder of the mirror
    mirror.mkdir(parents=True)
    shutil.copyfile(road_file, mirror / ROAD_FILE)
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(tmp_path / "mirror"))
    settings = load_settings()
    with pytest.raises(ModelError, match="not installed; run `urbanlens models install road-segmentation-adas-0001`"):
        resolve_road(DEFAULT_ROAD_MODEL, settings)
    installed = install_road(DEFAULT_ROAD_MODEL, settings)
    assert installed.onnx_path == settings.model_dir / DEFAULT_ROAD_MODEL / "model.onnx"
    assert resolve_road(DEFAULT_ROAD_MODEL, settings) == installed and resolve_road("none", settings) is None
    with pytest.raises(InputError, match="road model 'lanes-9000'; expected one of road-segmentation-adas-0001 or 'none'"):
        resolve_road("lanes-9000", settings)
    # an ONNX file of another shape: refused in one line naming what it takes
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["data"], ["out"])], "g",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 512, 896])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 512, 896])])
    wrong = tmp_path / "wrong.onnx"
    onnx.save(helper.make_model(graph), str(wrong))
    card = builtin_road_cards()[DEFAULT_ROAD_MODEL]
    with pytest.raises(ModelError, match=r"^wrong.onnx: input shape \[1, 3, 512, 896\]; road model .* takes \[1, 512, 896, 3\]"):
        check_road_onnx(wrong, card)
    with pytest.raises(ModelError, match="input shape"):
        RoadModel(wrong, card)


def test_settings_key_says_whether_the_road_model_ran(road_file: Path, model_mirror: Path, tmp_path: Path) -> None:
    """A tiny model with road and sidewalk classes on a short clip: the road model is installed on first use,
    its lane-mark and curb columns filled; without it they are absent and the settings key differs."""
    clip = write_colour_street(tmp_path / "street.avi", n=4, w=128, h=64)
    model = (colour_card(64, 128), colour_model(tmp_path / "colours.onnx", height=64, width=128))
    settings = load_settings()
    runs = {}
    for road in (DEFAULT_ROAD_MODEL, "none"):
        options = AnalysisOptions.from_flags(fps="all", model=model, keep_previews=0, max_frames=2, road_model=road)
        runs[road] = analyse_clip(clip, "cam-1", None, options, settings, save=False)
    with_road, alone = runs[DEFAULT_ROAD_MODEL], runs["none"]
    assert with_road.settings_key != alone.settings_key
    assert with_road.measurements is not None and alone.measurements is not None
    assert with_road.measurements.run.params["road_model"] == DEFAULT_ROAD_MODEL and "road_model" not in alone.measurements.run.params
    assert with_road.measurements.lane_mark_share is not None and len(with_road.measurements.lane_mark_share) == 2
    assert alone.measurements.lane_mark_share is None and alone.measurements.curb_length_px is None


def test_fused_analysis_beats_the_segmenter_on_pavement(
    road_file: Path, model_mirror: Path, espnetv2_onnx: dict[str, Path], shared_dir: Path
) -> None:
    """Two CamVid val frames scored as `urbanlens evaluate` does: the road model lifts pavement IoU."""
    camvid = shared_dir / "datasets" / "camvid"
    if not (camvid / "val").is_dir():
        pytest.skip("CamVid is not in ../shared")
    gt = read_camvid(camvid / "val", camvid / "valannot")
    gt = dataclasses.replace(gt, samples=gt.samples[:2])
    settings = load_settings()
    base = resolve((builtin_cards()["espnetv2-s2"], espnetv2_onnx["2.0"]), settings)
    fused = with_road(base, DEFAULT_ROAD_MODEL, settings)
    assert fused.road is not None
    lm = load_label_map("cityscapes-camvid")
    alone, both = (evaluate(m, gt, lm, threads=1, n_boot=10) for m in (base, fused))
    assert both.options == {"road_model": DEFAULT_ROAD_MODEL} and alone.options == {}
    assert both.iou["Pavement"] > alone.iou["Pavement"] + 0.05
    assert both.miou > alone.miou
