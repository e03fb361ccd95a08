"""Object detectors: cards, the Detections type, both ONNX detectors on the sample footage, refusals, the mirror."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from analytics.cli import app
from analytics.detection import DETECTION_GROUPS, Detections, detector_card_from_dict
from analytics.errors import ChecksumError, InputError, ModelError
from analytics.models.detect import Detector, box_iou, nms
from analytics.models.fetch import find_in_mirror
from analytics.models.zoo import builtin_detector_cards, install_detector, resolve_detector
from analytics.settings import load_settings

FILES = {"deimv2-femto": "deimv2_hgnetv2_femto_coco.onnx", "yolox-nano": "yolox_nano.onnx"}
VEHICLES = ("car", "bus", "truck")


@pytest.fixture(scope="module")
def detectors(shared_dir: Path) -> dict[str, Detector]:
    cards = builtin_detector_cards()
    return {name: Detector(shared_dir / "models" / "detectors" / f, cards[name]) for name, f in FILES.items()}


def _frames(path: Path, wanted: set[int] | None = None) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out, i = {}, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if wanted is None or i in wanted:
            out[i] = frame
        i += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def car_park(shared_dir: Path) -> dict[int, np.ndarray]:
    return _frames(shared_dir / "samples" / "car-detection.mp4", {225, 345})


@pytest.fixture(scope="module")
def gif(shared_dir: Path) -> dict[int, np.ndarray]:
    return _frames(shared_dir / "samples" / "person-bicycle-car-detection.gif")


def test_builtin_detector_cards() -> None:
    cards = builtin_detector_cards()
    assert set(cards) == {"deimv2-femto", "yolox-nano"}
    for card in cards.values():
        assert card.task == "object-detection" and card.license == "Apache-2.0" and card.input_size == (416, 416)
        assert card.source_url and "/raw/" in card.source_url and card.sha256 and len(card.class_names) == 80
        assert set(card.groups) == set(DETECTION_GROUPS)
    assert cards["deimv2-femto"].output_format == "deimv2" and cards["yolox-nano"].output_format == "yolox"


@pytest.mark.parametrize(("change", "message"), [
    ({"output_format": "ssd"}, "output_format 'ssd'; expected one of deimv2, yolox"),
    ({"task": "semantic-segmentation"}, "task 'semantic-segmentation'"),
    ({"score_threshold": 1.5}, "score_threshold=1.5; expected a number from 0 to 1"),
    ({"groups": {"robot": "person"}}, "'robot' is not a COCO class name"),
    ({"groups": {"car": "vehicle"}}, "car = 'vehicle'; expected one of person"),
    ({"input_height": 8}, "input_height=8"),
    ({"colour": "red"}, "unknown key(s)"),
])
def test_detector_card_refusals(change: dict[str, object], message: str) -> None:
    data = builtin_detector_cards()["yolox-nano"].to_dict() | change
    with pytest.raises((InputError, ValueError)) as info:
        detector_card_from_dict(data)
    assert message in str(info.value) and "\n" not in str(info.value)


def _det(xyxy: object = None, score: object = None, class_id: object = None, group: object = None) -> Detections:
    return Detections(
        np.array([[1, 2, 30, 40]], np.float32) if xyxy is None else xyxy,  # type: ignore[arg-type]
        np.array([0.9], np.float32) if score is None else score,  # type: ignore[arg-type]
        np.array([2], np.int16) if class_id is None else class_id,  # type: ignore[arg-type]
        np.array([2], np.int8) if group is None else group,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"xyxy": np.zeros((1, 3), np.float32)}, "Detections.xyxy: expected float32 [N, 4], got float32 [1, 3]"),
    ({"xyxy": np.zeros((1, 4), np.float64)}, "Detections.xyxy: expected float32 [N, 4], got float64 [1, 4]"),
    ({"xyxy": [[1, 2, 3, 4]]}, "Detections.xyxy: expected float32 [N, 4], got list"),
    ({"score": np.ones(2, np.float32)}, "Detections.score: expected float32 [1], got float32 [2]"),
    ({"class_id": np.array([2], np.int64)}, "Detections.class_id: expected int16 [1], got int64 [1]"),
    ({"group": np.array([2, 2], np.int8)}, "Detections.group: expected int8 [1], got int8 [2]"),
    ({"xyxy": np.array([[30, 2, 1, 40]], np.float32)}, "x1 <= x2"),
    ({"xyxy": np.array([[np.nan, 2, 3, 40]], np.float32)}, "finite"),
    ({"score": np.array([1.5], np.float32)}, "values in [0, 1]"),
    ({"class_id": np.array([80], np.int16)}, "COCO ids 0-79"),
    ({"group": np.array([6], np.int8)}, "codes 0-5"),
])
def test_detections_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        _det(**kwargs)
    assert message in str(info.value)


def test_detections_groups_and_len() -> None:
    d = Detections(np.array([[0, 0, 1, 1], [0, 0, 2, 2], [1, 1, 3, 3]], np.float32), np.array([0.5, 0.6, 0.7], np.float32),
                   np.array([0, 2, 7], np.int16), np.array([0, 2, 5], np.int8))
    assert len(d) == 3 and d.group_names == ["person", "car", "truck"]
    assert d.of_groups("car", "truck").class_id.tolist() == [2, 7] and len(d.of_groups("bus")) == 0
    assert len(Detections.empty()) == 0
    with pytest.raises(InputError, match="group 'cars'"):
        d.of_groups("cars")
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 5  # frozen arrays


def test_nms_is_class_wise() -> None:
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], float)
    assert nms(b, np.array([0.9, 0.8, 0.7]), 0.45, np.array([2, 2, 7])).tolist() == [0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.45).tolist() == []


def _vehicles(d: Detections) -> Detections:
    return d.of_groups(*VEHICLES)


def test_car_park_frames(detectors: dict[str, Detector], car_park: dict[int, np.ndarray]) -> None:
    """Top-down car park (768x432): both find the two cars of frame 225, inside the frame, and agree on them."""
    frame = car_park[225]
    found = {name: d.detect(frame) for name, d in detectors.items()}
    for name, d in found.items():
        v = _vehicles(d)
        assert len(v) >= 1, name
        assert (v.xyxy >= 0).all() and (v.xyxy[:, [0, 2]] <= 768).all() and (v.xyxy[:, [1, 3]] <= 432).all()
        w, h = v.xyxy[:, 2] - v.xyxy[:, 0], v.xyxy[:, 3] - v.xyxy[:, 1]
        assert ((w > 60) & (w < 400) & (h > 60) & (h < 432)).all(), (name, v.xyxy)
    assert len(found["deimv2-femto"].of_groups("car")) == 2
    iou = box_iou(_vehicles(found["yolox-nano"]).xyxy.astype(float), _vehicles(found["deimv2-femto"]).xyxy.astype(float))
    assert (iou.max(axis=1) > 0.5).all(), iou


def test_gif_people_bicycles_cars(detectors: dict[str, Detector], gif: dict[int, np.ndarray]) -> None:
    for name, d in detectors.items():
        seen = {g for frame in gif.values() for g in d.detect(frame).group_names}
        assert {"person", "bicycle", "car"} <= seen, (name, seen)
    first = {name: d.detect(gif[0]).of_groups("person") for name, d in detectors.items()}
    last = {name: d.detect(gif[40]).of_groups("car") for name, d in detectors.items()}
    for pair in (first, last):
        a, b = pair["deimv2-femto"], pair["yolox-nano"]
        assert len(a) >= 1 and len(b) >= 1
        assert box_iou(a.xyxy[:1].astype(float), b.xyxy.astype(float)).max() > 0.5


@pytest.mark.parametrize("shape", [(432, 768, 3), (270, 480, 3), (17, 9, 3)])
def test_blank_frame_gives_no_detections(detectors: dict[str, Detector], shape: tuple[int, int, int]) -> None:
    for d in detectors.values():
        out = d.detect(np.zeros(shape, np.uint8))
        assert isinstance(out, Detections) and len(out) == 0


def test_bad_frames_are_refused(detectors: dict[str, Detector]) -> None:
    d = detectors["deimv2-femto"]
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8), "frame"):
        with pytest.raises(InputError, match="BGR uint8"):
            d.detect(bad)  # type: ignore[arg-type]


def _tiny_onnx(path: Path, inputs: list[tuple[str, list[int]]], out_shape: list[int]) -> Path:
    nodes = [helper.make_node("ReduceMean", [inputs[0][0]], ["output"], keepdims=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_wrong_models_are_refused(tmp_path: Path, shared_dir: Path) -> None:
    cards = builtin_detector_cards()
    segmenter_like = _tiny_onnx(tmp_path / "seg.onnx", [("input", [1, 3, 384, 768])], [1, 1, 1, 1])
    with pytest.raises(ModelError) as info:
        Detector(segmenter_like, cards["deimv2-femto"])
    msg = str(info.value)
    assert "\n" not in msg and "expected inputs images [N, 3, 416, 416], orig_target_sizes [N, 2]" in msg
    assert "found inputs input [1, 3, 384, 768]" in msg
    wrong_out = _tiny_onnx(tmp_path / "y.onnx", [("images", [1, 3, 416, 416])], [1, 1, 1, 1])
    with pytest.raises(ModelError, match=r"outputs \[1, 3549, 85\]; found inputs images \[1, 3, 416, 416\]; outputs output"):
        Detector(wrong_out, cards["yolox-nano"])
    with pytest.raises(ModelError, match="is not a deimv2 detector"):  # the two detectors swapped
        Detector(shared_dir / "models" / "detectors" / FILES["yolox-nano"], cards["deimv2-femto"])
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not an ONNX model"):
        Detector(tmp_path / "junk.onnx", cards["yolox-nano"])
    with pytest.raises(InputError, match="DetectorCard"):
        Detector(wrong_out, object())  # type: ignore[arg-type]


def test_mirror_searches_subfolders(shared_dir: Path, tmp_path: Path) -> None:
    card = builtin_detector_cards()["yolox-nano"]
    found = find_in_mirror(shared_dir / "models", card.weights_file, card.sha256)
    assert found == shared_dir / "models" / "detectors" / "yolox_nano.onnx"
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copyfile(found, flat / card.weights_file)
    assert find_in_mirror(flat, card.weights_file, card.sha256) == flat / card.weights_file
    # several files of that name: the one with the pinned hash wins, wherever it is
    (flat / "a").mkdir()
    (flat / "a" / card.weights_file).write_bytes(b"other")
    (flat / card.weights_file).write_bytes(b"stale")
    shutil.copyfile(found, flat / "a" / "b.onnx")
    (flat / "z").mkdir()
    shutil.copyfile(found, flat / "z" / card.weights_file)
    assert find_in_mirror(flat, card.weights_file, card.sha256) == flat / "z" / card.weights_file
    (flat / "z" / card.weights_file).unlink()
    with pytest.raises(ChecksumError, match="expected 695e750a"):
        find_in_mirror(flat, card.weights_file, card.sha256)
    with pytest.raises(ModelError, match="has no file 'nothing.onnx'"):
        find_in_mirror(flat, "nothing.onnx", None)


def test_install_detector_from_mirror(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "models"))
    settings = load_settings()
    with pytest.raises(ModelError, match="models install deimv2-femto"):
        resolve_detector("deimv2-femto", settings)
    card, path = install_detector("deimv2-femto", settings)
    assert path.is_file() and card.name == "deimv2-femto"
    assert resolve_detector("deimv2-femto", settings) == (card, path)
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "deimv2-femto" in listed.output and "yolox-nano" in listed.output
    shown = runner.invoke(app, ["models", "show", "yolox-nano"])
    assert shown.exit_code == 0 and "object-detection" in shown.output and "Apache-2.0" in shown.output
    installed = runner.invoke(app, ["models", "install", "yolox-nano"])
    assert installed.exit_code == 0 and installed.output.strip().endswith("yolox-nano/model.onnx")
    refused = runner.invoke(app, ["models", "install", "yolox-nano", "--size", "384x768"])
    assert isinstance(refused.exception, InputError) and "416x416 only" in str(refused.exception)
