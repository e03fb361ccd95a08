"""Previews: people blurred beyond recognition, plates unreadable, small JPEGs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.privacy import PREVIEW_WIDTH, anonymise, pixelate, preview_jpeg, privacy_mask
from analytics.taxonomy import CITYSCAPES

ROAD, PERSON, RIDER, CAR, BICYCLE = 0, 11, 12, 13, 18


def _checker(h: int, w: int, cell: int = 2) -> np.ndarray:
    """Fine detail (like a face or a plate's characters): a 2-pixel checkerboard."""
    yy, xx = np.mgrid[0:h, 0:w]
    return (((yy // cell + xx // cell) % 2) * 255).astype(np.uint8)


def test_person_pixels_lose_their_detail_and_the_rest_keeps_it() -> None:
    h, w = 192, 384
    img = cv2.cvtColor(_checker(h, w), cv2.COLOR_GRAY2BGR)
    labels = np.full((h, w), ROAD, np.uint8)
    labels[40:140, 100:140] = PERSON
    out = anonymise(img, labels, CITYSCAPES)
    person = out[40:140, 100:140].astype(np.float32)
    assert person.std() < 0.1 * img[40:140, 100:140].std()  # the detail is gone
    assert np.array_equal(out[:, 300:], img[:, 300:])  # far from anyone: untouched


def test_a_missed_head_above_the_body_falls_inside_the_grown_box() -> None:
    labels = np.full((200, 200), ROAD, np.uint8)
    labels[80:180, 90:110] = PERSON  # body found; the head at rows 70-80 was not
    mask = privacy_mask(labels, CITYSCAPES)
    assert mask[72:80, 95:105].all()


def test_riders_and_bicycles_are_hidden() -> None:
    labels = np.full((200, 200), ROAD, np.uint8)
    labels[120:160, 60:120] = BICYCLE  # a bicycle; its rider sits above it
    mask = privacy_mask(labels, CITYSCAPES)
    assert mask[90:160, 60:120].all()
    labels[60:100, 20:40] = RIDER
    assert privacy_mask(labels, CITYSCAPES)[60:100, 20:40].all()


def test_plates_are_hidden_on_big_vehicles_and_small_vehicles_entirely() -> None:
    labels = np.full((200, 400), ROAD, np.uint8)
    labels[50:150, 50:250] = CAR  # a big car: lower part (plate) hidden, the roof kept
    labels[20:26, 300:308] = CAR  # a small far car: hidden entirely
    mask = privacy_mask(labels, CITYSCAPES)
    assert mask[140:150, 50:250].all() and not mask[50:80, 50:250].any()
    assert mask[20:26, 300:308].all()


def test_pixelate_only_touches_the_mask() -> None:
    img = cv2.cvtColor(_checker(64, 64), cv2.COLOR_GRAY2BGR)
    mask = np.zeros((64, 64), bool)
    out = pixelate(img, mask)
    assert np.array_equal(out, img)
    with pytest.raises(InputError):
        pixelate(img, np.zeros((10, 10), bool))


def test_preview_jpeg_is_small() -> None:
    img = np.random.default_rng(0).integers(0, 255, (326, 768, 3), dtype=np.uint8)
    data = preview_jpeg(img)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert data[:2] == b"\xff\xd8" and decoded.shape[1] == PREVIEW_WIDTH
    with pytest.raises(InputError):
        preview_jpeg(img, max_width=4)
