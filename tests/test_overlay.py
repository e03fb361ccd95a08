"""Overlays: colours and legends computed from tiny hand-made label maps."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.overlay import class_palette, colorize, legend_entries, overlay
from analytics.taxonomy import CITYSCAPES, GROUP_COLORS, ClassSet

TOY = ClassSet("toy", ("asphalt", "lane", "tree", "unknown"), ("road", "road", "vegetation", "void"))


def test_group_palette_and_shading() -> None:
    by_group = class_palette(TOY, "group")
    assert by_group[0].tolist() == by_group[1].tolist() == list(GROUP_COLORS["road"])
    by_class = class_palette(TOY, "class")
    assert by_class[0].tolist() == list(GROUP_COLORS["road"])
    assert by_class[1].tolist() != by_class[0].tolist()  # a second road class is told apart


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([[0, 4]], np.uint8), "label 4 is not a class"),  # id beyond the class set
        (np.zeros((2, 2, 2), np.uint8), "2-D array"),  # not a label map
    ],
)
def test_bad_labels(labels: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        colorize(labels, TOY)


def test_legend_leaves_void_out_of_the_denominator() -> None:
    labels = np.array([[0, 0, 2, 3]], np.uint8)
    entries = legend_entries(labels, TOY)
    assert [(e.label, round(e.fraction, 3)) for e in entries] == [("asphalt", 0.667), ("tree", 0.333)]
    groups = legend_entries(labels, TOY, mode="group")
    assert [e.label for e in groups] == ["Road", "Vegetation"]


def test_overlay_keeps_void_pixels_and_adds_a_legend() -> None:
    frame = np.full((4, 6, 3), 100, np.uint8)
    labels = np.zeros((4, 6), np.uint8)
    labels[:, 3:] = 19  # background: void
    out = overlay(frame, labels, CITYSCAPES, alpha=0.5, legend=False)
    assert (out[:, 3:] == 100).all() and not (out[:, :3] == 100).all()
    with_legend = overlay(frame, labels, CITYSCAPES)
    assert with_legend.shape[1] > 6 and with_legend.shape[0] >= 4


def test_overlay_needs_matching_sizes() -> None:
    with pytest.raises(InputError, match="frame's height and width"):
        overlay(np.zeros((4, 6, 3), np.uint8), np.zeros((3, 6), np.uint8), CITYSCAPES)
