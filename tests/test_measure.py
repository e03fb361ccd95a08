"""Per-frame measures on label maps whose right answer is known by construction."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.footage.geometry import frame_geometry
from analytics.footage.measure import (
    class_pixels,
    confidence_stats,
    find_objects,
    measure_frame,
    min_object_area,
    vehicle_stationarity,
    zone_class_pixels,
    zone_masks,
)
from analytics.taxonomy import CITYSCAPES

ROAD, SIDEWALK, PERSON, RIDER, CAR, BICYCLE, VOID = 0, 1, 11, 12, 13, 18, 19


def test_class_pixels_counts_every_class_and_void_separately() -> None:
    labels = np.full((10, 10), ROAD, np.uint8)
    labels[:2] = VOID
    labels[5, 5] = CAR
    counts = class_pixels(labels, 20)
    assert counts[ROAD] == 79 and counts[VOID] == 20 and counts[CAR] == 1 and counts.sum() == 100


def test_class_pixels_refuses_ids_beyond_the_model() -> None:
    with pytest.raises(InputError, match="class id 25"):
        class_pixels(np.full((2, 2), 25, np.uint8), 20)


def test_confidence_stats() -> None:
    conf = np.array([[0.2, 0.4], [0.6, 1.0]], np.float32)
    mean, low = confidence_stats(conf, 0.5)
    assert mean == pytest.approx(0.55) and low == 0.5


def test_objects_are_blobs_above_a_minimum_area_with_frame_boxes() -> None:
    # a 640x320 frame into a 128x64 model: 5 frame pixels per model pixel
    g = frame_geometry(320, 640, 64, 128, "letterbox")
    labels = np.full((64, 128), ROAD, np.uint8)
    labels[10:30, 10:20] = PERSON  # a person, 200 px
    labels[10:30, 20:25] = RIDER  # touching: rider and person merge into one person blob
    labels[40:50, 60:90] = CAR  # a car, 300 px
    labels[40:42, 100:102] = CAR  # a 4-px speck: below the minimum
    labels[50:60, 5:15] = BICYCLE  # a two-wheeler
    blobs = find_objects(labels, CITYSCAPES, g, min_area=20)
    by = {b.group: b for b in blobs}
    assert sorted(b.group for b in blobs) == ["person", "two_wheeler", "vehicle"]
    assert (by["person"].x0, by["person"].y0, by["person"].x1, by["person"].y1) == (50, 50, 125, 150)
    assert by["vehicle"].area_px == 300 * 25  # frame pixels
    assert min_object_area(768 * 326) == 250  # 0.1% of the frame


def test_vehicle_stationarity_cases() -> None:
    still = np.zeros((4, 4), bool)
    still[1:3, 1:3] = True
    moved = np.roll(still, 2, axis=1)
    assert vehicle_stationarity(still, still) == 1.0  # a jam holds still
    assert vehicle_stationarity(still, moved) == 0.0  # flowing traffic moved away
    assert math.isnan(vehicle_stationarity(np.zeros((4, 4), bool), still))  # no vehicle before
    assert math.isnan(vehicle_stationarity(still, np.zeros((4, 4), bool)))  # no vehicle now


def test_zone_polygons_are_rasterised_at_model_resolution() -> None:
    g = frame_geometry(200, 400, 50, 100, "stretch")  # 4 frame pixels per model pixel
    zones = pd.DataFrame(
        {
            "zone": ["left walk", "right lane"],
            "role": ["sidewalk", "lane"],
            "polygon_json": [json.dumps([[0, 0], [200, 0], [200, 200], [0, 200]]), json.dumps([[200, 0], [400, 0], [400, 200], [200, 200]])],
        }
    )
    masks = zone_masks(zones, g)
    assert [m.mask.sum() for m in masks] == pytest.approx([50 * 50, 50 * 50], rel=0.05)
    labels = np.full((50, 100), ROAD, np.uint8)
    labels[:, :25] = PERSON  # people on the left half of the left zone
    rows = zone_class_pixels(labels, masks, 20)
    got = {(z, c): n for z, _, c, n in rows}
    assert got[("left walk", PERSON)] == pytest.approx(25 * 50, rel=0.05)
    assert ("right lane", PERSON) not in got


def test_zone_mask_follows_letterbox_offset() -> None:
    g = frame_geometry(100, 100, 50, 100, "letterbox")  # square frame: content columns 25..75
    zones = pd.DataFrame({"zone": ["z"], "role": ["plaza"], "polygon_json": [json.dumps([[0, 0], [50, 0], [50, 100], [0, 100]])]})
    (m,) = zone_masks(zones, g)
    assert m.mask.shape == (50, 50)
    assert m.mask[:, :24].all() and not m.mask[:, 27:].any()


def test_measure_frame_combines_everything() -> None:
    g = frame_geometry(64, 128, 64, 128, "stretch")
    prev = np.full((64, 128), ROAD, np.uint8)
    prev[40:60, 10:40] = CAR
    now = prev.copy()
    now[40:60, 10:40] = ROAD
    now[40:60, 20:50] = CAR  # the car moved by 10 of its 30 columns
    conf = np.full((32, 64), 0.9, np.float32)  # a stride-2 confidence grid is accepted
    fm = measure_frame(now, conf, g, CITYSCAPES, prev_labels=prev, low_confidence=0.5)
    assert fm.vehicle_stationarity == pytest.approx(20 / 30)
    assert fm.flicker == pytest.approx(2 * 20 * 10 / (64 * 128))
    assert fm.object_counts == (0, 0, 1)
    assert fm.mean_confidence == pytest.approx(0.9) and fm.low_conf_share == 0.0
    first = measure_frame(prev, conf, g, CITYSCAPES)
    assert math.isnan(first.flicker) and math.isnan(first.vehicle_stationarity)


def test_labels_must_be_uint8_maps() -> None:
    with pytest.raises(InputError, match="uint8"):
        class_pixels(np.zeros((2, 2), np.int64), 20)
