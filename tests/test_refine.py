"""Label refinement (dense CRF), test-time augmentation and their provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from clips import H, W, street, write_cv2
from tinymodels import colour_card, colour_model

from analytics.cards import CrfParams, card_from_dict
from analytics.errors import DataFormatError, InputError
from analytics.footage.pipeline import AnalysisOptions, AnalysisResult
from analytics.footage.pipeline import analyse_clip as run_clip
from analytics.footage.refine import crf_refine, flip_merge, label_confidence, merge_scales, softmax
from analytics.pages.analyse import AdvancedOptions
from analytics.settings import load_settings
from analytics.store import Store


def _noisy_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image of two flat regions (dark left, bright right with a bright disc on the left), its
    clean labels, and logits that favour the right class weakly with 25% of pixels flipped."""
    rng = np.random.default_rng(seed)
    h, w = 64, 96
    clean = np.zeros((h, w), np.uint8)
    clean[:, 48:] = 1
    yy, xx = np.mgrid[:h, :w]
    clean[(yy - 32) ** 2 + (xx - 20) ** 2 < 100] = 1
    image = np.where(clean[:, :, None] == 1, 200, 40).astype(np.uint8).repeat(3, axis=2)
    noisy = clean.copy()
    flip = rng.random((h, w)) < 0.25
    noisy[flip] = 1 - noisy[flip]
    z = np.zeros((h, w, 2), np.float32)
    z[np.arange(h)[:, None], np.arange(w)[None, :], noisy] = 0.8
    return image, clean, z


def test_crf_recovers_a_noisy_label_map() -> None:
    image, clean, z = _noisy_scene()
    before = (z.argmax(axis=2) == clean).mean()
    refined = crf_refine(z, image, CrfParams(iterations=5, appearance_weight=4.0))
    after = (refined.argmax(axis=2) == clean).mean()
    assert before == pytest.approx(0.75, abs=0.02)
    assert after > 0.97  # the image's edges tell the CRF where the labels change
    np.testing.assert_allclose(refined.sum(axis=2), 1.0, atol=1e-4)  # probabilities


def test_crf_keeps_edges_where_the_image_has_them() -> None:
    """Downsampled filtering still keeps the disc's edge: most errors are fixed, few made."""
    image, clean, z = _noisy_scene(seed=1)
    refined = crf_refine(z, image, CrfParams(iterations=5, appearance_weight=4.0, downsample=2))
    assert (refined.argmax(axis=2) == clean).mean() > 0.95


@pytest.mark.parametrize(
    ("scores", "image", "message"),
    [
        (np.zeros((4, 4)), np.zeros((4, 4, 3), np.uint8), "classes"),  # no class axis
        (np.zeros((4, 4, 2)), np.zeros((4, 4), np.uint8), "BGR uint8"),  # grey image
        (np.zeros((4, 4, 2)), np.zeros((5, 4, 3), np.uint8), "expected the same"),  # sizes differ
    ],
)
def test_crf_rejects_bad_input(scores: np.ndarray, image: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        crf_refine(scores, image)


def test_crf_params_from_a_card() -> None:
    base = colour_card().to_dict()
    card = card_from_dict({**base, "crf": {"iterations": 3}})
    assert card.crf_params == CrfParams(iterations=3)
    assert card_from_dict(card.to_dict()).crf_params.iterations == 3  # round trip
    with pytest.raises((InputError, DataFormatError), match="unknown key"):
        card_from_dict({**base, "crf": {"iteration": 3}})


def test_flip_and_scale_merging() -> None:
    z = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(flip_merge(z, z[:, ::-1]), z)  # a mirrored answer flipped back is the same
    np.testing.assert_allclose(merge_scales([z, z], 4, 6), z)
    labels, conf = label_confidence(z, 2)
    np.testing.assert_array_equal(labels, z.argmax(axis=2))
    np.testing.assert_allclose(conf, softmax(z)[::2, ::2].max(axis=2), rtol=1e-5)


def test_advanced_options_of_the_analyse_page() -> None:
    assert AdvancedOptions("flow", "crf", "flip").temporal(True) == "flow"
    options = AdvancedOptions("flow", "crf", "flip").analysis_options(model="m", fps=2.0, smooth=True)
    assert (options.temporal, options.refine, options.tta, options.keep_previews) == ("flow", "crf", "flip", 20)
    assert AdvancedOptions("flow").analysis_options(model="m", fps=2.0).smoothing == "off"  # the method waits for the toggle
    with pytest.raises(InputError, match="expected one of none, flip"):
        AdvancedOptions(tta="rotate")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"refine": "dense"}, "refine 'dense'"),  # unknown refinement
        ({"tta": "rotate"}, "tta 'rotate'"),  # unknown augmentation
        ({"temporal": "optical"}, "temporal 'optical'"),  # unknown fusion
    ],
)
def test_analysis_options_reject_unknown_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AnalysisOptions(**kwargs)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    path = colour_model(tmp_path_factory.mktemp("tiny") / "colours.onnx", height=32, width=64)
    return (colour_card(32, 64), path)


def test_options_are_provenance_and_a_new_run(tmp_path: Path, tiny: tuple) -> None:
    settings = load_settings()
    store = Store(tmp_path / "t.duckdb")
    store.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]}))
    clip = write_cv2(tmp_path / "street.avi", 12, fps=10, size=(W, H), paint=street)
    common = {"model": tiny, "fps": 5, "start_time": "2024-05-01T08:00:00", "keep_previews": 0}

    def analyse_clip(path: Path, camera_id: str, sink: Store, *, save: bool = True, **flags: Any) -> AnalysisResult:
        return run_clip(path, camera_id, sink, AnalysisOptions.from_flags(**{"road_model": "none", **flags}), settings, save=save)

    plain = analyse_clip(clip, "cam-1", store, **common)
    assert "refine" not in plain.measurements.run.params and "tta" not in plain.measurements.run.params
    keys = {plain.settings_key}
    for extra in ({"refine": "crf"}, {"tta": "flip"}, {"temporal": "flow"}, {"temporal": "ema"}):
        first = analyse_clip(clip, "cam-1", store, **common, **extra)
        assert first.status == "stored", extra  # another option: a new run, not a no-op
        keys.add(first.settings_key)
        again = analyse_clip(clip, "cam-1", store, **common, **extra)
        assert again.status == "skipped"  # the same option again: nothing to do
    assert len(keys) == 5
    crf = analyse_clip(clip, "cam-1", store, **common, refine="crf", save=False)
    assert crf.measurements.run.params["refine"] == "crf"
    assert crf.measurements.run.params["crf"]["iterations"] == CrfParams().iterations
    flow = analyse_clip(clip, "cam-1", store, **common, temporal="flow", save=False)
    assert flow.measurements.run.smoothing == "flow=0.4,sigma=2"
