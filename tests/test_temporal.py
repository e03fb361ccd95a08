"""Temporal smoothing (EMA) and the flicker measure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.temporal import ema_update, flicker, smoothing_label


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
