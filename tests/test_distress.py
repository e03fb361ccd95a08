"""The road-surface distress HEURISTIC on synthetic road textures with drawn cracks and holes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.distress import distress_heuristic


def _asphalt(h: int = 200, w: int = 400, seed: int = 0) -> np.ndarray:
    """Grey asphalt: mid grey with fine random grain."""
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.normal(120, 9, (h, w)).clip(0, 255).astype(np.uint8), (3, 3), 0)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _crack(img: np.ndarray) -> np.ndarray:
    out = img.copy()
    cv2.polylines(out, [np.array([[30, 40], [80, 60], [130, 50], [190, 90]], np.int32)], False, (50, 50, 50), 2)
    return out


def _hole(img: np.ndarray) -> np.ndarray:
    out = img.copy()
    cv2.ellipse(out, (300, 140), (14, 9), 20, 0, 360, (40, 40, 40), -1)
    return out


ROAD = np.ones((200, 400), bool)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_asphalt_has_no_distress(seed: int) -> None:
    r = distress_heuristic(_asphalt(seed=seed), ROAD)
    assert (r.crack_px, r.pothole_px) == (0, 0)


@pytest.mark.parametrize(
    ("draw", "cracks", "holes"),
    [
        (_crack, True, False),  # a thin dark polyline is a crack, not a pothole
        (_hole, False, True),  # a dark compact ellipse is a pothole, not a crack
        (lambda i: _hole(_crack(i)), True, True),  # both on one road
    ],
)
def test_drawn_distress_is_found_and_told_apart(draw, cracks: bool, holes: bool) -> None:  # type: ignore[no-untyped-def]
    r = distress_heuristic(draw(_asphalt()), ROAD)
    assert (r.crack_px > 100) == cracks
    assert (r.pothole_px > 200) == holes
    if holes:
        assert r.pothole_mask[140, 300]  # the hole's centre is marked
        assert r.pothole_px == pytest.approx(np.pi * 14 * 9, rel=0.35)


def test_only_road_pixels_count() -> None:
    img = _hole(_crack(_asphalt()))
    r = distress_heuristic(img, np.zeros((200, 400), bool))
    assert (r.crack_px, r.pothole_px) == (0, 0)
    half = np.zeros((200, 400), bool)
    half[:, 200:] = True  # the crack is on the left, off the road
    r = distress_heuristic(img, half)
    assert r.crack_px == 0 and r.pothole_px > 200


def test_a_long_thick_shadow_is_neither() -> None:
    img = _asphalt()
    cv2.line(img, (20, 100), (380, 110), (45, 45, 45), 12)  # a pole's shadow: long and thick
    r = distress_heuristic(img, ROAD)
    assert r.pothole_px == 0


def test_inputs_are_checked() -> None:
    with pytest.raises(InputError, match="road mask"):
        distress_heuristic(_asphalt(), np.ones((10, 10), bool))
    with pytest.raises(InputError, match="BGR"):
        distress_heuristic(np.zeros((10, 10), np.uint8), np.ones((10, 10), bool))
