"""Label change along motion (``temporal.motion_change``, ``change.ChangeStage``): a measure of the
model's own instability that does not grow with the time between sampled frames; and the trust
verdict of a real clip that no longer depends on the sampling rate."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics import trust
from analytics.cards import ModelCard
from analytics.errors import InputError
from analytics.footage import stages
from analytics.footage.change import ChangeStage
from analytics.footage.geometry import frame_geometry
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.segment import Segmentation
from analytics.footage.stages import FrameItem, StageContext
from analytics.footage.temporal import MIN_FOLLOWED_SHARE, flicker, motion_change
from analytics.settings import load_settings
from analytics.taxonomy import CITYSCAPES

SHIFT = 2
"""Pixels the pattern moves per frame of the synthetic clip."""


def _world(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured strip (what the camera sees) and its label map (four classes, by brightness band)."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (96, 400), dtype=np.uint8), (11, 11), 0)
    labels = np.digitize(cv2.GaussianBlur(tex, (15, 15), 0), [122, 128, 134]).astype(np.uint8)
    return tex, labels


def _frame(t: int, world: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` of a camera panning ``SHIFT`` pixels a frame over the strip: (image, labels), 96x192."""
    tex, labels = world
    x = SHIFT * t
    return tex[:, x : x + 192], labels[:, x : x + 192]


@pytest.mark.parametrize("gap", [1, 2, 4])
def test_a_moving_pattern_gives_the_same_change_at_every_gap(gap: int) -> None:
    world = _world()
    (a, la), (b, lb) = _frame(0, world), _frame(gap, world)
    change, followed = motion_change(a, b, la, lb, flow_scale=1.0)
    assert followed > 0.7
    assert change < 0.03  # the labels moved with the picture: nothing changed along the motion
    assert flicker(la, lb) > 0.3 + 0.1 * (gap - 1)  # while the raw flicker grows with the gap (32%, 53%, 70%)


def test_a_flickering_model_is_seen_at_every_gap() -> None:
    world = _world()
    rng = np.random.default_rng(1)
    values = []
    for gap in (1, 2, 4):
        (a, la), (b, lb) = _frame(0, world), _frame(gap, world)
        noisy = lb.copy()
        flip = rng.random(lb.shape) < 0.3  # the model reads 30% of pixels at random
        noisy[flip] = rng.integers(0, 4, int(flip.sum()))
        values.append(motion_change(a, b, la, noisy, flow_scale=1.0)[0])
    assert all(0.15 < v < 0.3 for v in values), values  # ~3/4 of 30% are a different class
    assert max(values) - min(values) < 0.05


def test_a_cut_is_not_measured() -> None:
    (a, la), (b, lb) = _frame(0, _world(0)), _frame(0, _world(7))  # another scene altogether
    change, followed = motion_change(a, b, la, lb)
    assert followed < MIN_FOLLOWED_SHARE and math.isnan(change)


def test_bad_input_is_refused() -> None:
    (a, la), (b, lb) = _frame(0, _world()), _frame(1, _world())
    with pytest.raises(InputError, match="label maps differ"):
        motion_change(a, b, la, lb[:, :100])
    with pytest.raises(InputError, match="flow_scale"):
        motion_change(a, b, la, lb, flow_scale=0.0)
    with pytest.raises(InputError, match="uint8"):
        motion_change(a.astype(np.float32), b, la, lb)


class _Keep:
    """A stage that keeps each sampled frame's grey view and labels (for the sparser rates)."""

    kept: list[tuple[np.ndarray, np.ndarray]] = []

    def start(self, context: object) -> None:
        _Keep.kept = []

    def frame(self, item, segmentation) -> None:  # type: ignore[no-untyped-def]
        y0, y1, x0, x1 = segmentation.geometry.content
        own = segmentation.own_labels[y0:y1, x0:x1] if segmentation.own_labels is not None else segmentation.content()[0]
        _Keep.kept.append((cv2.cvtColor(item.view, cv2.COLOR_BGR2GRAY), own.copy()))  # the segmenter's own labels

    def finish(self) -> dict[str, object]:
        return {}


@pytest.mark.slow
def test_bikes_verdict_is_the_same_at_half_one_and_two_frames_a_second(  # type: ignore[no-untyped-def]
    espnetv2_model, shared_dir: Path, model_mirror: Path
) -> None:
    """One real analysis at 2 frames a second (25 fps clip: frames 0, 12, 25, 37, 50, ...); 1 and 0.5 frames a
    second sample every 2nd and 4th of those frames (0, 25, 50, ... and 0, 50, 100, ...), judged as such."""
    options = AnalysisOptions.from_flags(fps=2, model=espnetv2_model, keep_previews=0)
    stages.register_stage(_Keep)
    try:
        m = analyse_clip(shared_dir / "samples" / "bikes.mp4", "cam-1", None, options, load_settings(), save=False).measurements
    finally:
        stages.STAGES.remove(_Keep)
    assert m is not None and m.label_change is not None and len(_Keep.kept) == m.n == 20
    assert m.segmenter_class_pixels is not None and m.road_disagreement is not None  # the default analysis: road model on
    verdicts, raw = {2.0: trust.assess_measurements(m)}, {}
    for fps, step in ((1.0, 2), (0.5, 4)):
        pos = np.arange(0, m.n, step)
        assert (m.frame_index[pos] == np.arange(len(pos)) * 25 * step // 2).all()  # what --fps samples
        kept = [_Keep.kept[i] for i in pos]
        change = [math.nan] + [motion_change(a[0], b[0], a[1], b[1])[0] for a, b in zip(kept, kept[1:])]
        raw[fps] = np.nanmean([flicker(a[1], b[1]) for a, b in zip(kept, kept[1:])])
        verdicts[fps] = trust.assess(m.segmenter_class_pixels[pos], m.run.class_set.groups, m.mean_confidence[pos],
                                     m.low_conf_share[pos], np.array(change), m.road_disagreement[pos])
    assert raw[0.5] > trust.MAX_FLICKER  # the raw flicker alone would say "low" at 0.5 frames a second
    assert {v.trust for v in verdicts.values()} == {"ok"}, {f: v.reasons for f, v in verdicts.items()}
    assert 0.05 < verdicts[2.0].stats.flicker < trust.MAX_FLICKER  # at 2 frames a second the handheld motion is followed


def test_change_stage_keeps_the_segmenters_own_reading_beside_the_road_model() -> None:
    """Frames known by construction: the segmenter reads the lower half as building (id 2), the road model's
    fusion made a quarter of the picture road (id 0). The stage counts the segmenter's own classes, the share
    the fusion made road, and measures label change on the segmenter's labels."""
    g = frame_geometry(32, 64, 32, 64, "letterbox")
    own = np.zeros((32, 64), np.uint8)
    own[16:] = 2
    fused = own.copy()
    fused[16:, :32] = 0
    view = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8), (5, 5), 0)
    stage = ChangeStage()
    stage.start(StageContext(card=ModelCard("m", CITYSCAPES, 32, 64)))
    for _ in range(2):
        seg = Segmentation(fused.copy(), np.ones((32, 64), np.float32), g, road=np.zeros((32, 64), np.uint8), own_labels=own.copy())
        stage.frame(FrameItem(0, 0, 0.0, view, np.zeros(1), g), seg)
    out = stage.finish()
    assert out["segmenter_class_pixels"][:, [0, 2]].tolist() == [[1024, 1024]] * 2  # own: half road, half building
    assert out["road_disagreement"].tolist() == [0.25, 0.25]
    assert out["label_change"][1] == pytest.approx(0.0)  # the same own labels twice: nothing changed
    alone = ChangeStage()  # no road model: the labels are the segmenter's own, no extra columns
    alone.start(StageContext(card=ModelCard("m", CITYSCAPES, 32, 64)))
    alone.frame(FrameItem(0, 0, 0.0, view, np.zeros(1), g), Segmentation(own, np.ones((32, 64), np.float32), g))
    assert set(alone.finish()) == {"label_change"}
