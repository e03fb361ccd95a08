"""Temporal smoothing (EMA) and the flicker measure."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.temporal import ema_update, flicker, flow_consistency, flow_update, smoothing_label


def test_ema_converges_to_a_steady_input() -> None:
    state = None
    target = np.array([0.0, 1.0], np.float32)
    state = ema_update(state, np.array([1.0, 0.0], np.float32), 0.5)
    for _ in range(20):
        state = ema_update(state, target, 0.5)
    np.testing.assert_allclose(state, target, atol=1e-5)


def test_alpha_one_is_no_smoothing() -> None:
    np.testing.assert_array_equal(ema_update(np.ones(3), np.zeros(3), 1.0), np.zeros(3))


@pytest.mark.parametrize(
    ("prev", "new", "alpha", "message"),
    [
        (np.ones(2), np.ones(3), 0.5, "shape"),  # shapes differ
        (None, np.ones(2), 0.0, "alpha"),  # alpha 0 would never update
        (None, np.ones(2), 1.5, "alpha"),  # alpha above 1
    ],
)
def test_ema_refuses_bad_input(prev: np.ndarray | None, new: np.ndarray, alpha: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ema_update(prev, new, alpha)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[0, 0], [0, 0]], [[0, 0], [0, 0]], 0.0),  # nothing changes
        ([[0, 0], [0, 0]], [[1, 1], [1, 1]], 1.0),  # everything changes
        ([[0, 1], [2, 3]], [[0, 1], [2, 4]], 0.25),  # one pixel of four
    ],
)
def test_flicker(a: list[list[int]], b: list[list[int]], expected: float) -> None:
    assert flicker(np.array(a, np.uint8), np.array(b, np.uint8)) == expected


def test_flicker_of_the_first_frame_is_nan_and_shapes_must_match() -> None:
    assert math.isnan(flicker(None, np.zeros((2, 2), np.uint8)))
    with pytest.raises(InputError, match="shape"):
        flicker(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))


def test_smoothing_label() -> None:
    assert smoothing_label(None) == "off"
    assert smoothing_label(0.25) == "ema=0.25"
    with pytest.raises(InputError):
        smoothing_label(0.0)


# -- flow-guided fusion ----------------------------------------------------------------------------


def _square_frames(n: int = 4, step: int = 6, size: int = 20) -> list[tuple[np.ndarray, np.ndarray]]:
    """A bright textured square moving right by ``step`` px a frame over a textured background,
    with logits (H, W, 2) that say "square" (class 1) exactly where it is."""
    rng = np.random.default_rng(0)
    h, w = 64, 128
    background = cv2.GaussianBlur(rng.integers(0, 90, (h, w), dtype=np.uint8), (0, 0), 1.5)
    patch = cv2.GaussianBlur(rng.integers(150, 255, (size, size), dtype=np.uint8), (0, 0), 1.0)
    out = []
    for t in range(n):
        x0 = 20 + t * step
        image = background.copy()
        image[22 : 22 + size, x0 : x0 + size] = patch
        z = np.zeros((h, w, 2), np.float32)
        z[..., 0] = 4.0
        z[22 : 22 + size, x0 : x0 + size] = (0.0, 4.0)
        out.append((image, z))
    return out


def test_flow_fusion_follows_a_moving_square_and_ema_lags() -> None:
    frames = _square_frames()
    ema_state = flow_state = None
    prev_image = None
    for image, z in frames:
        ema_state = ema_update(ema_state, z, 0.4)
        flow_state = flow_update(flow_state, z, prev_image, image, 0.4)
        prev_image = image
    truth = frames[-1][1].argmax(axis=2)
    ema_labels, flow_labels = ema_state.argmax(axis=2), flow_state.argmax(axis=2)
    # the plain average still calls the square's old place "square": a trail behind it (lag)
    assert np.count_nonzero(ema_labels != truth) >= 6 * 20
    # along the flow the fused labels sit where the square is now
    assert np.count_nonzero(flow_labels != truth) <= 0.1 * np.count_nonzero(truth)


def test_flow_consistency_distrusts_disagreeing_flows() -> None:
    back = np.zeros((16, 16, 2), np.float32)
    fwd = np.zeros((16, 16, 2), np.float32)
    fwd[..., 0] = 6.0  # the forward flow does not undo the backward one: 3 sigma off
    assert flow_consistency(back, fwd).max() < 0.05
    back[..., 0] = -30.0  # points leaving the frame on the left
    assert flow_consistency(back, -back)[:, :10].max() == 0.0


def test_flow_update_needs_same_shapes() -> None:
    img = np.zeros((16, 16), np.uint8)
    with pytest.raises(InputError, match="shape"):
        flow_update(np.zeros((16, 16, 2)), np.zeros((16, 16, 3)), img, img, 0.5)
    assert smoothing_label(0.5, "flow") == "flow=0.5,sigma=2"
