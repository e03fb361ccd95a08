"""Adapting a model: the head fit, the holdout split, the adapted graph, refusing a worse model, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.evaluation.labelmaps import default_label_map, label_lut
from analytics.evaluation.readers import read_camvid
from analytics.evaluation.run import evaluate
from analytics.models import adapt as adapt_module
from analytics.models.adapt import Head, adapt, fit_head, score_heads, sequence_key, split_holdout
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
    feats = adapt_module.extract_features(base, gt, per_class=50)
    head = fit_head(feats.x, feats.y, gt.class_names)
    lut = label_lut(default_label_map(base.card.class_set, "camvid", gt.class_names), base.card.class_set, gt.class_names)
    frames = [0, 5]
    base_cm, head_cm = score_heads(base, gt, [head], lut, frames=frames)
    card = adapt_module._adapted_card("tiny", base, gt.class_names, gt.groups, {"base_model": base.card.name})
    graph = adapt_module.head_model(adapt_module._load(base.onnx_path), feats.taps, [head], card.input_size)
    (tmp_path / "m.onnx").write_bytes(graph.SerializeToString())
    (tmp_path / "c.json").write_text(card.to_json())
    adapted = add_model(tmp_path / "m.onnx", tmp_path / "c.json", load_settings())
    assert adapted.card.lineage == {"base_model": "espnetv2-s2"} and adapted.card.num_classes == 11
    subset = dataclasses.replace(gt, samples=tuple(gt.samples[i] for i in frames))
    ev = evaluate(adapted, subset)
    assert abs(ev.miou - adapt_module.mean_iou(head_cm[0].sum(axis=0))) < 1e-3
    assert abs(evaluate(base, subset).miou - adapt_module.mean_iou(base_cm.sum(axis=0))) < 1e-3


def test_refuses_to_install_a_worse_model(camvid_few: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    base, gt = camvid_few

    def useless(x: np.ndarray, y: np.ndarray, names: list[str], **_: object) -> Head:
        bias = np.zeros(len(names), np.float32)
        bias[0] = 1.0  # everything is class 0 (Sky)
        return Head(np.zeros((len(names), x.shape[1]), np.float32), bias, tuple(names))

    monkeypatch.setattr(adapt_module, "fit_head", useless)
    result = adapt(base, gt, "worse", load_settings(), per_class=20)
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
