"""The ESPNetv2 ONNX builder against the reference implementation's golden outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from analytics.errors import InputError, ModelError
from analytics.models.checkpoint import read_state_dict
from analytics.models.espnetv2 import GraphWriter, build_espnetv2, check_input_size

IMAGES = ("bikes_f140", "bikes_f165", "car_detection_f200")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def prep(image_bgr: np.ndarray) -> np.ndarray:
    """The reference preprocessing: BGR -> RGB, /255, ImageNet mean/std, NCHW float32."""
    rgb = image_bgr[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - MEAN) / STD).transpose(2, 0, 1)[None])


def session(model: str | Path | bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def sessions(espnetv2_onnx: dict[str, Path]) -> dict[str, ort.InferenceSession]:
    return {scale: session(path) for scale, path in espnetv2_onnx.items()}


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "espnetv2"


@pytest.fixture(scope="module")
def state_s1(shared_dir: Path) -> dict[str, np.ndarray]:
    return read_state_dict(shared_dir / "models" / "espnetv2" / "espnetv2_s_1.0_city_1024x512.pth")


@pytest.mark.parametrize("scale", ["2.0", "1.0"])
@pytest.mark.parametrize("image", IMAGES)
def test_matches_reference(sessions: dict[str, ort.InferenceSession], reference: Path, scale: str, image: str) -> None:
    x = prep(cv2.imread(str(reference / f"{image}.png")))
    logits = sessions[scale].run(None, {"input": x})[0][0]
    labels = logits.argmax(0)
    golden = cv2.imread(str(reference / f"labels_s{scale}_{image}.png"), cv2.IMREAD_UNCHANGED)
    agreement = float((labels == golden).mean())
    assert agreement >= 0.999, f"labels agree on {agreement:.5%} of pixels"
    golden_logits = np.load(reference / f"logits_s{scale}_{image}_stride8.npy")
    diff = float(np.abs(logits[:, ::8, ::8] - golden_logits).max())
    assert diff <= 1e-2, f"stride-8 logits differ by up to {diff}"


def test_module_outputs_do_not_drift(shared_dir: Path, reference: Path) -> None:
    """Shape, mean and std of every exposed module output match reference.json (s2.0, bikes_f140)."""
    name = "espnetv2_s_2.0_city_1024x512.pth"
    modules = json.loads((reference / "reference.json").read_text())["checkpoints"][name]["images"]["bikes_f140"]["module_outputs"]
    state = read_state_dict(shared_dir / "models" / "espnetv2" / name)
    plain = build_espnetv2(state, 384, 768)
    produced = {out for node in plain.graph.node for out in node.output}
    exposed = tuple(k for k in modules if k in produced)
    assert len(exposed) >= 30  # every level, down-sampler and decoder stage
    model = build_espnetv2(state, 384, 768, debug_outputs=exposed)
    outs = session(model.SerializeToString()).run(list(exposed), {"input": prep(cv2.imread(str(reference / "bikes_f140.png")))})
    for key, out in zip(exposed, outs):
        ref = modules[key]
        assert list(out.shape) == ref["shape"], key
        assert out.mean() == pytest.approx(ref["mean"], abs=1e-3), key
        assert out.std() == pytest.approx(ref["std"], rel=1e-3, abs=1e-4), key


def _adaptive_pool_reference(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """PyTorch's adaptive average pooling, written as loops (windows floor(i*n/m) to ceil((i+1)*n/m))."""
    _, _, h, w = x.shape
    y = np.zeros(x.shape[:2] + (out_h, out_w), np.float64)
    for i in range(out_h):
        h0, h1 = math.floor(i * h / out_h), math.ceil((i + 1) * h / out_h)
        for j in range(out_w):
            w0, w1 = math.floor(j * w / out_w), math.ceil((j + 1) * w / out_w)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def _bilinear_align_corners(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    _, _, h, w = x.shape

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    (y0, y1, fy), (x0, x1, fx) = axis(h, out_h), axis(w, out_w)
    top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
    bottom = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def _run_op(build: object, x: np.ndarray) -> np.ndarray:
    g = GraphWriter(weights={})
    out = build(g, "x")  # type: ignore[operator]
    graph = helper.make_graph(
        g.nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [None] * 4)], initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return session(model.SerializeToString()).run(None, {"x": x})[0]


@pytest.mark.parametrize(
    ("size_in", "size_out"),
    [
        ((36, 72), (24, 48)),  # the 1.5x pyramid stage pooled back (384x768 input, deepest level)
        ((24, 48), (5, 5)),  # the 0.1x stage: ceil(2.4), ceil(4.8) raised to 5
        ((32, 64), (5, 7)),  # the same at 512x1024
        ((192, 384), (20, 39)),  # the 0.1x stage at the last decoder level
        ((23, 40), (5, 5)),  # heights not divisible by much (368x640 input)
        ((35, 60), (23, 40)),  # 1.5x back to an odd size
        ((48, 96), (24, 48)),  # the evenly divisible case (one AveragePool)
        ((4, 4), (5, 5)),  # smaller than the target: windows overlap
    ],
)
def test_adaptive_pool_matches_pytorch_formula(size_in: tuple[int, int], size_out: tuple[int, int]) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, *size_in)).astype(np.float32)
    got = _run_op(lambda g, name: g.adaptive_avg_pool(name, size_in, size_out), x)
    np.testing.assert_allclose(got, _adaptive_pool_reference(x, *size_out), atol=1e-5)


@pytest.mark.parametrize(("size_in", "size_out"), [((24, 48), (48, 96)), ((24, 48), (36, 72)), ((5, 5), (24, 48)), ((20, 39), (192, 384))])
def test_resize_is_bilinear_with_aligned_corners(size_in: tuple[int, int], size_out: tuple[int, int]) -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, *size_in)).astype(np.float32)
    got = _run_op(lambda g, name: g.resize(name, 3, size_out), x)
    np.testing.assert_allclose(got, _bilinear_align_corners(x.astype(np.float64), *size_out), atol=1e-5)


@pytest.mark.parametrize(
    ("height", "width", "ok"),
    [
        (384, 768, True),  # the default
        (512, 1024, True),  # upstream training size
        (272, 640, True),  # bikes.mp4's own size happens to be a multiple of 16
        (360, 640, False),  # 360 is not a multiple of 16
        (48, 768, False),  # below the minimum side
        (384, 8192, False),  # above the maximum side
    ],
)
def test_input_sizes(height: int, width: int, ok: bool) -> None:
    if ok:
        assert check_input_size(height, width) == (height, width)
    else:
        with pytest.raises(InputError, match="multiples of 16"):
            check_input_size(height, width)


def test_other_size_and_batch(state_s1: dict[str, np.ndarray]) -> None:
    """Built at 512x1024 the graph runs, keeps the batch dimension free, and frames don't mix."""
    sess = session(build_espnetv2(state_s1, 512, 1024, scale=1.0).SerializeToString())
    x = np.random.default_rng(2).normal(size=(2, 3, 512, 1024)).astype(np.float32)
    both = sess.run(None, {"input": x})[0]
    assert both.shape == (2, 20, 512, 1024)
    np.testing.assert_allclose(both[1:], sess.run(None, {"input": x[1:]})[0], atol=1e-4)


def test_unseen_frame_is_consistent_across_sizes(shared_dir: Path, sessions: dict[str, ort.InferenceSession],
                                                  state_s1: dict[str, np.ndarray]) -> None:
    """A street frame the reference never saw: sensible classes where they belong, at two sizes."""
    cap = cv2.VideoCapture(str(shared_dir / "samples" / "bikes.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 230)
    ok, frame = cap.read()
    cap.release()
    assert ok
    small = sessions["1.0"].run(None, {"input": prep(cv2.resize(frame, (768, 384)))})[0][0].argmax(0).astype(np.uint8)
    big_sess = session(build_espnetv2(state_s1, 512, 1024).SerializeToString())
    big = big_sess.run(None, {"input": prep(cv2.resize(frame, (1024, 512)))})[0][0].argmax(0).astype(np.uint8)
    big_down = cv2.resize(big, (768, 384), interpolation=cv2.INTER_NEAREST)
    assert (small == big_down).mean() > 0.75
    s2 = sessions["2.0"].run(None, {"input": prep(cv2.resize(frame, (768, 384)))})[0][0].argmax(0)
    assert (small == s2).mean() > 0.75


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sd: sd.pop("bu_dec_l2.stages.3.weight"), "'bu_dec_l2.stages.3.weight' is missing"),
        (lambda sd: sd.__setitem__("base_net.level1.conv.weight", np.zeros((32, 3, 5, 5), np.float32)), r"shape \(32, 3, 5, 5\), expected \(32, 3, 3, 3\)"),
        (lambda sd: sd.__setitem__("extra.weight", np.zeros(3, np.float32)), "unexpected tensor"),
        (lambda sd: sd.pop("base_net.level2_0.act.weight"), "not an ESPNetv2"),
    ],
    ids=["missing", "mis-shaped", "unexpected", "not-espnetv2"],
)
def test_bad_state_dicts(state_s1: dict[str, np.ndarray], change: object, message: str) -> None:
    state = dict(state_s1)
    change(state)  # type: ignore[operator]
    with pytest.raises(ModelError, match=message):
        build_espnetv2(state, 384, 768)


def test_wrong_scale_is_refused(state_s1: dict[str, np.ndarray]) -> None:
    with pytest.raises(ModelError, match="scale 1.0, not at the requested scale 2.0"):
        build_espnetv2(state_s1, 384, 768, scale=2.0)


def test_plain_graph_computes_the_same(state_s1: dict[str, np.ndarray], reference: Path) -> None:
    """The benchmark's baseline (unfolded batch norms, ONNX PRelu) is the same function."""
    x = prep(cv2.imread(str(reference / "bikes_f165.png")))
    fast = session(build_espnetv2(state_s1, 384, 768).SerializeToString()).run(None, {"input": x})[0]
    plain = session(build_espnetv2(state_s1, 384, 768, plain=True).SerializeToString()).run(None, {"input": x})[0]
    np.testing.assert_allclose(fast, plain, atol=2e-3)
