"""analytics.visual.layers: map layers computed as data, with answers known by construction."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.visual import layers

SQUARE = [np.array([[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]], dtype=float)]
SQUARE2 = [np.array([[1, 0], [1, 1], [2, 1], [2, 0], [1, 0]], dtype=float)]
# an L whose vertex mean (0.9, 0.9) lies outside it: the label must still land inside
ELL = [np.array([[0, 0], [3, 0], [3, 1], [1, 1], [1, 3], [0, 3], [0, 0]], dtype=float)]


def _frame(**extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b"], "name": ["A", "B"], "rings": [SQUARE, SQUARE2], "value": [0.1, 0.3], **extra})


def test_label_point_lies_inside_the_area() -> None:
    lon, lat = layers.label_point(ELL)
    assert (lon < 1 or lat < 1) and 0 < lon < 3 and 0 < lat < 3
    assert all(math.isnan(v) for v in layers.label_point([]))


@pytest.mark.parametrize(
    ("width_km", "expected"),
    [
        (6.6, 2.0),  # a fifth is 1.32 km: the next round step up
        (1.0, 0.2),  # a small district
        (0.2, 0.1),  # below the smallest step: the smallest
        (5.0, 1.0),  # exactly a step
        (10_000.0, 100.0),  # beyond the largest step: the largest
    ],
)
def test_scale_bar_km_is_a_round_fifth_of_the_width(width_km: float, expected: float) -> None:
    assert layers.scale_bar_km(width_km) == expected


def test_scale_bar_is_as_long_as_it_says_and_sits_in_the_lower_right() -> None:
    ext = layers.Extent(10.0, 10.1, 60.0, 60.05)  # at 60° a degree of longitude is half as long
    bar = layers.scale_bar(ext)
    km = (bar.lon1 - bar.lon0) * layers.KM_PER_DEGREE * math.cos(math.radians(ext.lat_mid))
    assert km == pytest.approx(bar.km) and bar.text == f"{bar.km:g} km"
    assert bar.lon1 < ext.lon1 and bar.lon0 > (ext.lon0 + ext.lon1) / 2 and ext.lat0 < bar.lat < ext.lat_mid
    arrow = layers.north_arrow(ext)
    assert ext.contains(arrow.lon, arrow.lat) and arrow.lat > ext.lat_mid and arrow.lon > (ext.lon0 + ext.lon1) / 2


def test_extent_pads_and_keeps_distances_equal() -> None:
    ext = layers.extent_of([np.array([[0.0, 0.0], [1.0, 1.0]])], [np.array([[2.0, 0.5]])], pad=0.0, min_pad=0.0)
    assert (ext.lon0, ext.lon1, ext.lat0, ext.lat1) == (0.0, 2.0, 0.0, 1.0)  # the camera widens it
    assert ext.aspect == pytest.approx(1 / math.cos(math.radians(0.5)))
    assert layers.extent_of([]) == layers.Extent(-1.0, 1.0, -1.0, 1.0)  # nothing to show
    with pytest.raises(InputError, match="lon0 < lon1"):
        layers.Extent(1.0, 1.0, 0.0, 1.0)


def test_colour_scale_spans_the_values_and_leaves_missing_uncoloured() -> None:
    s = layers.colour_scale("YlGn", [0.1, 0.3, float("nan")], factor=100)
    assert (s.vmin, s.vmax) == (10.0, 30.0) and s.colour(0.1) == "#ffffe5" and s.colour(0.3) == "#004529"
    assert s.colour(float("nan")) is None and s.position(0.2) == pytest.approx(0.5)
    flat = layers.colour_scale("Viridis", [0.2, 0.2], factor=100)
    assert (flat.vmin, flat.vmax) == (19.5, 20.5)  # equal values: one colour, no division by zero
    with pytest.raises(InputError, match="unknown colour scale 'nope'"):
        layers.colour_scale("nope", [1.0])


@pytest.mark.parametrize(
    ("extra", "fills"),
    [
        ({}, ["#ffffe5", "#004529"]),  # both with enough frames: coloured
        ({"enough": [True, False]}, ["#ffffe5", layers.MISSING_COLOR]),  # too few frames: grey, never a colour
        ({"focus": [True, False]}, ["#ffffe5", layers.CONTEXT_FILL]),  # a neighbour: context grey
    ],
)
def test_area_fills(extra: dict[str, list[object]], fills: list[str]) -> None:
    scale = layers.colour_scale("YlGn", [0.1, 0.3], factor=100)
    areas = layers.area_layer(_frame(**extra), scale)
    assert [a.fill for a in areas] == fills
    assert areas[0].rings[0].shape == (5, 2) and areas[0].anchor == pytest.approx((0.5, 0.5))


def test_labels_say_when_data_is_short_and_contrast_with_the_fill() -> None:
    scale = layers.colour_scale("Viridis", [0.1, 0.3], factor=100)
    areas = layers.area_layer(_frame(enough=[True, False], text=["10.0%", "not enough data"]), scale)
    labels = layers.label_layer(areas, layers.Extent(-0.1, 2.1, -0.1, 1.1), with_values=True)
    assert [(lb.name, lb.detail) for lb in labels] == [("A", "10.0%"), ("B", "not enough data")]
    assert labels[0].colour == layers.PAPER and labels[1].colour == layers.INK  # dark purple: white; grey: ink
    outside = layers.label_layer(areas, layers.Extent(-0.1, 0.9, -0.1, 1.1))
    assert [lb.name for lb in outside] == ["A"]  # B's anchor (1.5, 0.5) is off the map


def test_cameras_grow_with_their_sample_and_take_the_scale() -> None:
    cams = pd.DataFrame({"camera_id": ["c1", "c2"], "name": ["One", "Two"], "lon": [0.5, 1.5], "lat": [0.5, 0.5],
                         "n_frames": [400, 100], "value": [0.3, float("nan")]})
    scale = layers.colour_scale("YlGn", [0.1, 0.3], factor=100)
    pts = layers.camera_layer(cams, scale, value="value", label="name")
    assert [p.weight for p in pts] == [1.0, 0.5]  # √(100 / 400)
    assert pts[0].fill == "#004529" and pts[1].fill is None and pts[1].label == "Two"
    assert layers.camera_layer(cams.iloc[:0]) == ()


def test_areas_need_their_columns() -> None:
    with pytest.raises(InputError, match="rings missing"):
        layers.area_layer(pd.DataFrame({"id": ["a"], "name": ["A"], "value": [0.1]}), None)


def test_findings_need_parallel_sequences() -> None:
    found = layers.finding_layer([1.0], [2.0], ["rutted"], [False])
    assert found == (layers.Finding(1.0, 2.0, "rutted", False),)
    with pytest.raises(InputError, match="one length"):
        layers.finding_layer([1.0, 2.0], [2.0], ["x"], [True])


# -- labels that give way to cameras ------------------------------------------------------------

WIDE = [np.array([[0, 0], [4, 0], [4, 2], [0, 2], [0, 0]], dtype=float)]


@pytest.mark.parametrize(
    ("avoid", "moves"),
    [
        (np.empty((0, 2)), False),  # no cameras: the label stays at its anchor
        (np.array([[3.8, 1.9]]), False),  # a camera in a far corner: nothing under the label, it stays
        (np.array([[2.0, 1.0]]), True),  # a camera at the anchor: the label moves off it
        (np.array([[2.0, 1.0], [2.1, 0.9], [1.9, 1.1]]), True),  # a cluster at the anchor: moved too
    ],
)
def test_a_district_label_moves_off_the_cameras_it_would_cover(avoid: np.ndarray, moves: bool) -> None:
    extent = layers.Extent(0.0, 4.0, 0.0, 2.0)
    anchor = (2.0, 1.0)
    lon, lat = layers.clear_anchor(WIDE, anchor, avoid, extent)
    assert ((lon, lat) != anchor) is moves
    half_w, half_h = 0.09 * 4, 0.045 * 4  # the label box, in map units
    covered = [p for p in avoid if abs(p[0] - lon) < half_w and abs(p[1] - lat) < half_h]
    assert not covered, f"the label at {(lon, lat)} still covers {covered}"
    assert 0 < lon < 4 and 0 < lat < 2, "the label stays inside its district"


def _camera(lon: float, lat: float, label: str) -> layers.CameraPoint:
    return layers.CameraPoint(label, label, lon, lat, math.nan, None, 0.5, label)


def test_camera_labels_take_a_free_corner_or_are_left_out() -> None:
    extent = layers.Extent(0.0, 1.0, 0.0, 1.0)
    district = layers.Label(0.6, 0.52, "Harbour", "6.3%", True, layers.INK)  # just up and right of the first camera
    cams = [_camera(0.5, 0.5, "1 Dock Road"), _camera(0.9, 0.9, "2 Pier"), _camera(0.1, 0.1, "")]
    places = layers.camera_label_places(cams, [district], extent)
    assert places[0] in layers.CORNERS and places[0] != "top right", "the top right would cover 'Harbour'"
    assert places[1] == "top right", "nothing near: the first corner"
    assert places[2] == "", "no label to place"
    # boxed in: district names on every side leave no corner free, so the label is left out
    around = [layers.Label(0.5 + dx, 0.5 + dy, "Somewhere", "1.0%", True, layers.INK) for dx in (-0.06, 0.06) for dy in (-0.03, 0.03)]
    assert layers.camera_label_places(cams[:1], around, extent) == ("",)
