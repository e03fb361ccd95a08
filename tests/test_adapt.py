"""Adapting a model: the head fit, the holdout split, the adapted graph, refusing a worse model, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.evaluation import adapt as adapt_module
from analytics.evaluation.adapt import (
    AdaptOptions,
    adapt,
    adapted_card,
    choose_blend,
    extract_features,
    score_heads,
    sequence_key,
    split_holdout,
)
from analytics.evaluation.graphs import Taps, copy_graph, graph_session, head_model, load_graph, resize_nodes
from analytics.evaluation.heads import Head, base_map_matrix, blend_logits, fit_head
from analytics.evaluation.labelmaps import default_label_map, label_lut
from analytics.evaluation.metrics import mean_iou
from analytics.evaluation.readers import read_camvid
from analytics.evaluation.run import evaluate
from analytics.models.zoo import add_model, install, resolve
from analytics.settings import load_settings


def test_head_recovers_a_known_linear_rule() -> None:
    # three classes separated by known half-planes of two features; a third feature is pure noise
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3000, 3)).astype(np.float32) * [4.0, 4.0, 1.0]
    y = np.where(x[:, 0] > 1, 0, np.where(x[:, 1] > 0, 1, 2))
    head = fit_head(x, y, ["a", "b", "c"], l2=0.0)
    pred = np.argmax(x @ head.weight.T + head.bias, axis=1)
    assert (pred == y).mean() > 0.97
    assert head.weight.shape == (3, 3) and head.class_names == ("a", "b", "c")


def test_head_never_predicts_a_class_without_pixels() -> None:
    x = np.random.default_rng(1).normal(0, 1, (200, 2)).astype(np.float32)
    head = fit_head(x, (x[:, 0] > 0).astype(int), ["a", "b", "empty"])
    assert np.argmax(x @ head.weight.T + head.bias, axis=1).max() < 2


def test_prior_adds_back_the_class_frequencies() -> None:
    # the same fit with a prior: the bias moves by tau * log(pi_c), the weights stay
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (400, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    plain = fit_head(x, y, ["a", "b"])
    shifted = fit_head(x, y, ["a", "b"], prior=np.array([0.9, 0.1]), tau=0.5)
    assert np.allclose(shifted.weight, plain.weight)
    assert np.allclose(shifted.bias - plain.bias, 0.5 * np.log([0.9, 0.1]), atol=1e-5)
    with pytest.raises(InputError, match="class prior"):
        fit_head(x, y, ["a", "b"], prior=np.array([1.0]))


@pytest.mark.parametrize(
    ("x", "y", "names", "match"),
    [
        (np.zeros((0, 2)), np.zeros(0, int), ["a"], "n > 0"),  # no pixels
        (np.zeros((4, 2)), np.array([0, 1, 2, 3]), ["a", "b"], "expected 0..1"),  # a class beyond the names
        (np.zeros((4, 2)), np.zeros(3, int), ["a"], "expected \\(n, D\\)"),  # features and classes disagree
    ],
)
def test_head_bad_input(x: np.ndarray, y: np.ndarray, names: list[str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        fit_head(x, y, names)


def test_holdout_keeps_sequences_apart() -> None:
    names = [f"s{s}_{i:04d}" for s in range(5) for i in range(10)]
    train, held = split_holdout(names, 0.25, seed=2)
    held_seqs = {sequence_key(names[i])[0] for i in held}
    assert not held_seqs & {sequence_key(names[i])[0] for i in train}  # whole sequences held out
    one = [f"cam_{i:05d}" for i in range(40)]
    train, held = split_holdout(one, 0.25)
    assert all(abs(a - b) > 1 for a in train for b in held)  # no neighbours on both sides
    with pytest.raises(InputError, match="at least 4"):
        split_holdout(one[:3], 0.25)
    with pytest.raises(InputError, match="holdout share 1.5"):
        split_holdout(one, 1.5)


@pytest.fixture
def camvid_few(shared_dir: Path, model_mirror: Path) -> tuple[object, object]:
    """The base model and 8 CamVid train frames of two sequences."""
    root = shared_dir / "datasets" / "camvid"
    gt = read_camvid(root / "train", root / "trainannot")
    gt = dataclasses.replace(gt, samples=gt.samples[:4] + gt.samples[70:74])
    return install("espnetv2-s2", load_settings()), gt


def test_adapted_graph_scores_as_evaluate_does(camvid_few: tuple, tmp_path: Path) -> None:
    base, gt = camvid_few
    feats = extract_features(base, gt, per_class=50)
    head = fit_head(feats.x, feats.y, gt.class_names)
    lut = label_lut(default_label_map(base.card.class_set, "camvid", gt.class_names), base.card.class_set, gt.class_names)
    frames = [0, 5]
    base_cm, head_cm = score_heads(base, gt, [head], lut, frames=frames)
    card = adapted_card("tiny", base, gt.class_names, gt.groups, {"base_model": base.card.name})
    graph = head_model(load_graph(base.onnx_path), feats.taps, [head], card.input_size)
    (tmp_path / "m.onnx").write_bytes(graph.SerializeToString())
    (tmp_path / "c.json").write_text(card.to_json())
    adapted = add_model(tmp_path / "m.onnx", tmp_path / "c.json", load_settings())
    assert adapted.card.lineage == {"base_model": "espnetv2-s2"} and adapted.card.num_classes == 11
    subset = dataclasses.replace(gt, samples=tuple(gt.samples[i] for i in frames))
    ev = evaluate(adapted, subset)
    assert abs(ev.miou - mean_iou(head_cm[0].sum(axis=0))) < 1e-3
    assert abs(evaluate(base, subset).miou - mean_iou(base_cm.sum(axis=0))) < 1e-3


def test_refuses_to_install_a_worse_model(camvid_few: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    base, gt = camvid_few

    def useless(x: np.ndarray, y: np.ndarray, names: list[str], **_: object) -> Head:
        bias = np.zeros(len(names), np.float32)
        bias[0] = 1.0  # everything is class 0 (Sky)
        return Head(np.zeros((len(names), x.shape[1]), np.float32), bias, tuple(names))

    monkeypatch.setattr(adapt_module, "fit_head", useless)
    result = adapt(base, gt, "worse", load_settings(), AdaptOptions(per_class=20, blend_weights=(0.0,)))
    assert result.installed is None and result.adapted_miou < result.base_miou
    with pytest.raises(Exception, match="not installed"):
        resolve("worse", load_settings())


def test_adapt_bad_input(camvid_few: tuple) -> None:
    base, gt = camvid_few
    settings = load_settings()
    with pytest.raises(InputError, match="at least 4"):
        adapt(base, dataclasses.replace(gt, samples=gt.samples[:2]), "new", settings)
    with pytest.raises(InputError, match="built-in model"):
        adapt(base, gt, "espnetv2-s1", settings)


def _tiny_base() -> tuple[object, object]:
    """A 3-class base graph on 8x8 images: a stride-2 1x1 convolution (the 4-channel tap ``t0``, 4x4),
    a 1x1 convolution to class scores and the aligned-corners upsampling to 8x8 (``logits``)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.normal(0, 1, (4, 3, 1, 1)).astype(np.float32), "w0"),
             numpy_helper.from_array(rng.normal(0, 1, (3, 4, 1, 1)).astype(np.float32), "w1")]
    nodes = [helper.make_node("Conv", ["image", "w0"], ["t0"], kernel_shape=[1, 1], strides=[2, 2]),
             helper.make_node("Conv", ["t0", "w1"], ["scores"], kernel_shape=[1, 1])]
    rs_nodes, rs_inits = resize_nodes("scores", 3, (8, 8), "logits", "rs")
    graph = helper.make_graph(
        nodes + rs_nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3, 8, 8])], inits + rs_inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model, Taps(("t0",), (4,), (4, 4))


def _run(model: object, outputs: list[str], x: np.ndarray) -> list[np.ndarray]:
    from onnx import helper

    m = copy_graph(model)
    del m.graph.output[:]
    m.graph.output.extend(helper.make_tensor_value_info(o, 1, None) for o in outputs)
    return graph_session(m, 1).run(outputs, {"image": x})


def test_blended_graph_equals_the_numpy_blend() -> None:
    base, taps = _tiny_base()
    rng = np.random.default_rng(4)
    head = Head(rng.normal(0, 1, (2, 4)).astype(np.float32), np.array([0.3, -0.2], np.float32), ("a", "b"))
    # base classes 0 and 1 are annotation class a; base class 2 maps to nothing, so b gets its probability
    m = base_map_matrix(np.array([0, 0, 255] + [255] * 253, np.uint8), 3, 2)
    assert m.tolist() == [[1, 1, 0], [0, 0, 1]]
    x = rng.normal(0, 1, (2, 3, 8, 8)).astype(np.float32)
    alone = head_model(base, taps, [head], (8, 8))
    (z_head,) = _run(alone, ["logits"], x)
    t0, z_base = _run(base, ["t0", "logits"], x)
    # head alone at the grid corners (aligned corners: the 4x4 grid's corners are the image's)
    at = np.einsum("kd,ndhw->nkhw", head.weight, t0) + head.bias[None, :, None, None]
    assert np.allclose(z_head[:, :, ::7, ::7], at[:, :, ::3, ::3], atol=1e-5)
    for weight in (0.25, 0.6):
        (z,) = _run(head_model(base, taps, [head], (8, 8), blend=[weight], base_map=m), ["logits"], x)
        for n in range(2):
            assert np.allclose(z[n], blend_logits(z_head[n], z_base[n], m, weight), atol=1e-5)
    # weight 0 is the head alone: the very same graph
    zero = head_model(base, taps, [head], (8, 8), blend=[0.0], base_map=m)
    assert zero.SerializeToString() == alone.SerializeToString()
    assert np.array_equal(blend_logits(z_head[0], z_base[0], m, 0.0), z_head[0])
    with pytest.raises(InputError, match="base class map"):
        head_model(base, taps, [head], (8, 8), blend=[0.5])
    with pytest.raises(InputError, match="blend weights"):
        head_model(base, taps, [head], (8, 8), blend=[1.0], base_map=m)


def _fake_scores(best: float | None) -> object:
    """A stand-in for score_heads: base mIoU 1/3, each blend 1/3 except ``best``, which is perfect."""
    good, poor = np.eye(2, dtype=np.int64) * 10, np.full((2, 2), 5, np.int64)

    def score(_model: object, _gt: object, heads: list, _lut: object, *, frames: list, blend: list, **_: object) -> tuple:
        cms = np.stack([np.stack([good if a == best else poor] * len(frames)) for a in blend])
        return np.stack([poor] * len(frames)), cms

    return score


def test_blend_weight_is_the_holdouts_best(monkeypatch: pytest.MonkeyPatch) -> None:
    head = Head(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), ("a", "b"))
    monkeypatch.setattr(adapt_module, "score_heads", _fake_scores(0.5))
    weight, _, cms = choose_blend(None, None, head, np.zeros(256, np.uint8), [0, 1], weights=(0.75, 0.0, 0.5))
    assert weight == 0.5 and cms.shape == (3, 2, 2, 2)
    monkeypatch.setattr(adapt_module, "score_heads", _fake_scores(None))  # all tie: the smallest weight
    assert choose_blend(None, None, head, np.zeros(256, np.uint8), [0], weights=(0.25, 0.5))[0] == 0.25
    with pytest.raises(InputError, match="blend weights"):
        choose_blend(None, None, head, np.zeros(256, np.uint8), [0], weights=())


def test_adapt_installs_the_holdout_blend(camvid_few: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    base, gt = camvid_few

    def score(_model: object, _gt: object, heads: list, _lut: object, *, frames: list, blend: list, **_: object) -> tuple:
        k = len(gt.class_names)
        good, poor = np.eye(k, dtype=np.int64) * 10, np.eye(k, dtype=np.int64) * 10 + 1
        cms = np.stack([np.stack([good if a == 0.25 else poor] * len(frames)) for a in blend])
        return np.stack([poor + 1] * len(frames)), cms

    monkeypatch.setattr(adapt_module, "score_heads", score)
    result = adapt(base, gt, "blended", load_settings(), AdaptOptions(per_class=20))
    assert result.blend == 0.25 and result.installed is not None
    head = result.installed.card.lineage["head"]
    assert head["blend_weight"] == 0.25 and set(head["blend_holdout_miou"]) == {"0.0", "0.25", "0.5", "0.75"}
    assert result.to_dict()["blend"]["weight"] == 0.25


def test_an_adapted_graph_adapts_again() -> None:
    """A head on top of an adapted graph (its own ul_features, ul_head.w, ul_map.* in it) builds and runs."""
    base, taps = _tiny_base()
    rng = np.random.default_rng(5)
    m = base_map_matrix(np.array([0, 0, 1] + [255] * 253, np.uint8), 3, 2)
    first = head_model(base, taps, [Head(rng.normal(0, 1, (2, 4)).astype(np.float32), np.zeros(2, np.float32), ("a", "b"))],
                       (8, 8), blend=[0.5], base_map=m)
    second_head = Head(rng.normal(0, 1, (2, 4)).astype(np.float32), np.array([0.1, 0.0], np.float32), ("a", "b"))
    m2 = base_map_matrix(np.array([0, 1] + [255] * 254, np.uint8), 2, 2)
    second = head_model(first, taps, [second_head], (8, 8), blend=[0.25], base_map=m2)
    names = [o for n in second.graph.node for o in n.output]
    assert len(names) == len(set(names)) and "ul1_features" in names and "ul_features" in names
    x = rng.normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    (z1,) = _run(first, ["logits"], x)
    (z2,) = _run(second, ["logits"], x)
    (t0,) = _run(base, ["t0"], x)
    at = np.einsum("kd,ndhw->nkhw", second_head.weight, t0) + second_head.bias[None, :, None, None]
    assert np.allclose(z2[0], blend_logits(_up(at)[0], z1[0], m2, 0.25), atol=1e-4)


def _up(z: np.ndarray) -> np.ndarray:
    """(N, K, 4, 4) to (N, K, 8, 8), bilinear with aligned corners, as the graphs resize."""
    out = np.empty((*z.shape[:2], 8, 8), np.float32)
    g = np.linspace(0, 3, 8)
    i0 = np.minimum(np.floor(g).astype(int), 2)
    f = g - i0
    for n in range(z.shape[0]):
        for k in range(z.shape[1]):
            a = z[n, k]
            rows = a[i0] * (1 - f)[:, None] + a[i0 + 1] * f[:, None]
            out[n, k] = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
    return out
