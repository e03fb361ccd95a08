"""Segment adapter: preprocessing per card, tiny ONNX colour models with known answers, smoothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tinymodels import PROTOTYPES_RGB, bgr, colour_card, colour_model

from analytics.cards import ModelCard
from analytics.errors import InputError, ModelError
from analytics.footage.geometry import frame_geometry
from analytics.footage.refine import flip_merge
from analytics.footage.segment import Segmenter, input_image, model_view, preprocess, session_options
from analytics.footage.temporal import ema_update
from analytics.settings import default_threads, load_settings
from analytics.taxonomy import CITYSCAPES


@pytest.fixture(scope="module")
def colour_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return colour_model(tmp_path_factory.mktemp("models") / "colours.onnx")


def _scene(h: int = 48, w: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A frame of coloured bands and its right labels: sky on top, a person, a car, road below."""
    labels = np.zeros((h, w), np.uint8)
    labels[: h // 3] = 10  # sky
    labels[h // 3 :, : w // 3] = 11  # person
    labels[h // 3 :, w // 3 : 2 * w // 3] = 13  # car
    labels[h // 3 :, 2 * w // 3 :] = 0  # road
    frame = np.zeros((h, w, 3), np.uint8)
    for c in np.unique(labels):
        frame[labels == c] = bgr(int(c))
    return frame, labels


@pytest.mark.parametrize(
    ("frame_hw", "model_hw", "policy", "content"),
    [
        ((272, 640), (384, 768), "letterbox", (29, 355, 0, 768)),  # wide frame: padding above and below
        ((480, 480), (384, 768), "letterbox", (0, 384, 192, 576)),  # square frame: padding left and right
        ((432, 768), (384, 768), "crop", (0, 384, 0, 768)),  # crop fills the input
        ((100, 100), (384, 768), "stretch", (0, 384, 0, 768)),  # stretch fills it too
    ],
)
def test_geometry_per_resize_policy(
    frame_hw: tuple[int, int], model_hw: tuple[int, int], policy: str, content: tuple[int, int, int, int]
) -> None:
    g = frame_geometry(*frame_hw, *model_hw, policy)
    assert g.content == content
    corners = np.array([[0.0, 0.0], [frame_hw[1], frame_hw[0]]])
    np.testing.assert_allclose(g.to_frame(g.to_model(corners)), corners)  # the mapping inverts


def test_crop_keeps_the_centre() -> None:
    frame = np.zeros((40, 120, 3), np.uint8)
    frame[:, 50:70] = 255  # a white stripe in the centre
    view = model_view(frame, frame_geometry(40, 120, 40, 40, "crop"), "crop")
    assert view.shape == (40, 40, 3)
    assert view[:, 10:30].min() == 255 and view[:, :10].max() == 0


def test_preprocess_normalises_per_card_and_pads_with_zero() -> None:
    card = ModelCard("m", CITYSCAPES, 16, 32, channel_order="RGB", scale=1 / 255, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[:] = (255, 0, 255)  # BGR: blue 255, green 0, red 255
    x = preprocess(frame, card)
    assert x.dtype == np.float32 and x.shape == (3, 16, 32)
    np.testing.assert_allclose(x[:, 8, 16], [(1 - 0.5) / 0.5, (0 - 0.5) / 0.25, (1 - 0.5) / 0.5])  # R, G, B
    assert np.all(x[:, :, :8] == 0)  # letterbox padding is the mean colour, i.e. zero
    bgr_card = ModelCard("m", CITYSCAPES, 16, 32, channel_order="BGR", scale=1.0, mean=(0, 0, 0), std=(1, 1, 1))
    assert preprocess(frame, bgr_card)[:, 8, 16].tolist() == [255.0, 0.0, 255.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((4, 4), np.uint8), "shape"),  # grey image
        (np.zeros((4, 4, 3), np.float32), "uint8"),  # float image
        ("frame.png", "numpy array"),  # a path, not pixels
    ],
)
def test_preprocess_refuses_bad_frames(frame: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        preprocess(frame, colour_card())  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["letterbox", "crop", "stretch"])
@pytest.mark.parametrize("opset", [13, 17, 18])
def test_colour_model_gives_the_known_answer(tmp_path: Path, policy: str, opset: int) -> None:
    onnx_path = colour_model(tmp_path / "m.onnx", height=48, width=96, opset=opset)
    seg = Segmenter(onnx_path, colour_card(48, 96, policy), threads=1)
    frame, truth = _scene(48, 96)  # same aspect as the model: every policy maps pixels 1:1
    out = seg.segment(frame)
    labels, conf = out.content()
    assert out.labels.shape == (48, 96) and out.labels.dtype == np.uint8
    assert (labels == truth).mean() > 0.99
    assert conf.min() > 0.9  # nearest prototype by a wide margin


def test_letterbox_padding_lies_outside_the_content(colour_onnx: Path) -> None:
    seg = Segmenter(colour_onnx, colour_card(32, 64), threads=1)
    frame, truth = _scene(32, 32)  # square frame into a 2:1 model
    out = seg.segment(frame)
    labels, _ = out.content()
    assert out.geometry.content == (0, 32, 16, 48)
    assert (labels == truth).mean() > 0.97


def test_confidence_is_the_softmax_maximum(colour_onnx: Path) -> None:
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:] = (128, 128, 128)  # road grey
    frame[:, 32:] = (140, 140, 140)  # between road grey and nothing else close
    seg = Segmenter(colour_onnx, colour_card(), threads=1)
    out = seg.segment(frame)
    # reference: softmax of the raw logits, by numpy
    raw = ort.InferenceSession(str(colour_onnx), sess_options=session_options(1))
    logits = raw.run(None, {"image": preprocess(frame, colour_card())[None]})[0][0]
    e = np.exp(logits - logits.max(0))
    np.testing.assert_allclose(out.confidence, (e / e.sum(0)).max(0), rtol=1e-5)
    np.testing.assert_array_equal(out.labels, logits.argmax(0))


def test_confidence_stride_keeps_the_values_on_its_grid(colour_onnx: Path) -> None:
    frame, _ = _scene(32, 64)
    full = Segmenter(colour_onnx, colour_card(), threads=1).segment(frame)
    coarse = Segmenter(colour_onnx, colour_card(), threads=1, confidence_stride=2).segment(frame)
    np.testing.assert_allclose(coarse.confidence[::2, ::2], full.confidence[::2, ::2], rtol=1e-6)
    np.testing.assert_array_equal(coarse.labels, full.labels)


def test_batches_equal_single_frames(colour_onnx: Path) -> None:
    frames = [_scene(32, 64)[0], _scene(32, 64)[0][:, ::-1].copy(), np.full((20, 30, 3), bgr(8), np.uint8)]
    one = Segmenter(colour_onnx, colour_card(), threads=1)
    many = Segmenter(colour_onnx, colour_card(), threads=1, batch_size=3)
    for a, b in zip(one.segment_many(frames), many.segment_many(frames), strict=True):
        np.testing.assert_array_equal(a.labels, b.labels)
    fixed = Segmenter(colour_model(colour_onnx.parent / "fixed.onnx", dynamic_batch=False), colour_card(), batch_size=3)
    assert fixed.batch_size == 1  # a fixed batch dimension of 1 is honoured
    assert len(fixed.segment_many(frames)) == 3


def test_in_graph_smoothing_matches_the_ema_formula(colour_onnx: Path) -> None:
    frames = [_scene(32, 64)[0], _scene(32, 64)[0][:, ::-1].copy(), _scene(32, 64)[0]]
    alpha = 0.3
    smooth = Segmenter(colour_onnx, colour_card(), threads=1, smoothing_alpha=alpha)
    raw = ort.InferenceSession(str(colour_onnx), sess_options=session_options(1))
    state = None
    for f, out in zip(frames, smooth.segment_many(frames), strict=True):
        z = raw.run(None, {"image": preprocess(f, colour_card())[None]})[0][0]
        state = ema_update(state, z, alpha)
        np.testing.assert_array_equal(out.labels, state.argmax(0))
    smooth.reset()
    first = smooth.segment(frames[1])
    np.testing.assert_array_equal(first.labels, Segmenter(colour_onnx, colour_card(), threads=1).segment(frames[1]).labels)


def test_smoothing_holds_a_class_through_a_one_frame_glitch(colour_onnx: Path) -> None:
    road = np.full((32, 64, 3), bgr(0), np.uint8)
    glitch = road.copy()
    glitch[:, :8] = bgr(13)  # one sampled frame says "car" in a strip
    smooth = Segmenter(colour_onnx, colour_card(), threads=1, smoothing_alpha=0.4)
    outs = smooth.segment_many([road, road, glitch, road])
    assert (outs[2].labels == 0).all()  # smoothed: the strip stays road
    plain = Segmenter(colour_onnx, colour_card(), threads=1).segment(glitch)
    assert (plain.labels[:, :8] == 13).all()


def test_model_errors(tmp_path: Path, colour_onnx: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Segmenter(tmp_path / "none.onnx", colour_card())
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="not a readable ONNX model|cannot be loaded"):
        Segmenter(bad, colour_card())
    with pytest.raises(ModelError, match="card 'colours' says 128x64"):
        Segmenter(colour_onnx, colour_card(64, 128))
    with pytest.raises(InputError, match="alpha"):
        Segmenter(colour_onnx, colour_card(), smoothing_alpha=1.5)


def test_prototypes_cover_the_groups_the_pipeline_counts() -> None:
    groups = {CITYSCAPES.group_of(c) for c in PROTOTYPES_RGB}
    assert {"road", "person", "vehicle", "two_wheeler", "sky", "void"} <= groups


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, False),  # unset: no spinning, the cores stay free for decoding
        ("1", True),
        ("off", False),
        (" TRUE ", True),  # any case, spaces ignored
    ],
)
def test_spinning_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch, env: str | None, expected: bool) -> None:
    if env is None:
        monkeypatch.delenv("URBANLENS_ORT_SPIN", raising=False)
    else:
        monkeypatch.setenv("URBANLENS_ORT_SPIN", env)
    spin = load_settings().ort_spin
    assert spin is expected
    so = session_options(1, spin)
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == ("1" if expected else "0")


def test_bad_spin_or_threads_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_ORT_SPIN", "sometimes")
    with pytest.raises(InputError, match="URBANLENS_ORT_SPIN='sometimes' is not a flag"):
        load_settings()
    with pytest.raises(InputError, match="threads=0"):
        session_options(0)
    with pytest.raises(InputError, match="spin='1'"):
        session_options(1, "1")  # type: ignore[arg-type]


def test_the_session_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_ORT_SPIN", "1")
    monkeypatch.setenv("URBANLENS_THREADS", "3")
    so = session_options()  # settings come in as arguments; none given: the defaults
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert so.intra_op_num_threads == default_threads()


# -- test-time augmentation and refinement ---------------------------------------------------------


def _asymmetric_model(path: Path, h: int = 32, w: int = 64) -> Path:
    """A 1x3 convolution with lopsided weights: its answer for a mirrored image is not the mirror of its answer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = CITYSCAPES.num_classes
    weights = np.random.default_rng(3).normal(size=(n, 3, 1, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["logits"], pads=[0, 1, 0, 1])], "lopsided",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n, h, w])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_flip_inside_the_graph_matches_the_reference(tmp_path: Path) -> None:
    path = _asymmetric_model(tmp_path / "lopsided.onnx")
    card = colour_card(32, 64)
    x = np.random.default_rng(0).random((1, 3, 32, 64)).astype(np.float32)
    plain = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = plain.run(None, {"image": x})[0][0].transpose(1, 2, 0)
    zf = plain.run(None, {"image": x[:, :, :, ::-1].copy()})[0][0].transpose(1, 2, 0)
    seg = Segmenter(path, card, threads=1, tta="flip", refine="crf")  # the numpy path hands the logits over
    np.testing.assert_allclose(seg._logits(x)[0], flip_merge(z, zf), rtol=1e-4, atol=1e-4)
    fast = Segmenter(path, card, threads=1, tta="flip")  # arg-max inside the graph too
    g = frame_geometry(32, 64, 32, 64, "letterbox")
    np.testing.assert_array_equal(fast.run(x, [g])[0].labels, flip_merge(z, zf).argmax(axis=2))


def test_flip_of_a_symmetric_input_gives_the_same_labels(tmp_path: Path) -> None:
    path = _asymmetric_model(tmp_path / "lopsided.onnx")
    card = colour_card(32, 64)
    half = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    frame = np.concatenate([half, half[:, ::-1]], axis=1)  # mirror-symmetric
    labels = Segmenter(path, card, threads=1, tta="flip").segment(frame).labels
    np.testing.assert_array_equal(labels, labels[:, ::-1])  # its labels are too
    fixed = colour_model(tmp_path / "fixed.onnx", dynamic_batch=False)
    with pytest.raises(ModelError, match="free batch dimension"):
        Segmenter(fixed, colour_card(), threads=1, tta="flip")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tta": "scales"},  # three scales, tiles for 1.25
        {"tta": "flip+scales"},
        {"refine": "crf"},
        {"refine": "crf", "smoothing_alpha": 0.6, "smoothing_method": "ema"},  # ema in numpy
        {"smoothing_alpha": 0.6, "smoothing_method": "flow"},
    ],
)
def test_refinement_paths_keep_clean_labels(colour_onnx: Path, kwargs: dict) -> None:
    """On the colour model's clean scene every option gives the right labels away from band edges."""
    frame, truth = _scene(32, 64)
    seg = Segmenter(colour_onnx, colour_card(32, 64), threads=1, confidence_stride=2, **kwargs)
    for _ in range(2):
        s = seg.segment(frame)
    inner = np.ones(truth.shape, bool)
    inner[:, [20, 21, 22, 42, 43, 44]] = False
    inner[9:12] = False
    assert (s.labels[inner] == truth[inner]).mean() > 0.99
    assert s.confidence.shape == truth.shape and 0.0 < s.confidence.min() <= 1.0


def test_input_image_inverts_preprocessing() -> None:
    card = colour_card(32, 64)
    frame = np.random.default_rng(2).integers(0, 255, (32, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(input_image(preprocess(frame, card), card), frame)
