"""Every indicator formula on hand-made measurements whose right answer is known."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import indicators as ind
from analytics.errors import InputError
from analytics.selection import FrameSource, Selection
from analytics.stats import ratio_interval
from analytics.store import Store
from tests.helpers import (
    BG,
    BICYCLE,
    BUILDING,
    CAR,
    PERSON,
    RIDER,
    ROAD,
    SIDEWALK,
    SKY,
    TERRAIN,
    VEG,
    clip_from_pixels,
    store_with_cameras,
)

T0 = datetime(2026, 3, 2, 8, 0)  # a Monday

# One frame of 200 pixels: 20 void, so 180 valid.
FRAME = {ROAD: 50, SIDEWALK: 20, BUILDING: 30, VEG: 27, TERRAIN: 9, SKY: 18, PERSON: 6, RIDER: 3, CAR: 12, BICYCLE: 5, BG: 20}


@pytest.fixture
def one_frame_store(tmp_path: Path) -> Store:
    s = store_with_cameras(str(tmp_path / "i.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", T0, [FRAME], stationarity=[0.25], people=[2], zone_person=[6]))
    return s


def _value(df: pd.DataFrame, name: str) -> float:
    return float(df.loc[df["indicator"] == name, "value"].iloc[0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("share_road", 50 / 180),  # road / valid, void left out of the denominator
        ("share_built", 30 / 180),
        ("share_person", 9 / 180),  # person + rider
        ("share_two_wheeler", 5 / 180),
        ("green_view", 27 / 180),  # vegetation / valid
        ("green_space", 36 / 180),  # (vegetation + terrain) / valid
        ("sky_view", 18 / 180),
        ("enclosure", 57 / 180),  # (built + vegetation) / valid
        ("pedestrian_share", 9 / 180),
        ("people_per_frame", 2.0),
        ("pedestrians_on_sidewalk", 6 / 9),  # person pixels in sidewalk zones / person pixels
        ("road_occupancy", 12 / 62),  # vehicle / (vehicle + road)
        ("vehicle_stationarity", 0.25),
        ("mean_confidence", 0.9),
        ("low_confidence_share", 0.05),
    ],
)
def test_formula_on_one_frame(one_frame_store: Store, name: str, expected: float) -> None:
    df = ind.compute(one_frame_store, Selection(min_frames=1), by="city", indicators=[name])
    assert _value(df, name) == pytest.approx(expected)


def test_damage_is_missing_for_a_model_without_damage_classes(one_frame_store: Store) -> None:
    df = ind.compute(one_frame_store, Selection(min_frames=1), by="city", indicators=["damage_ratio", "flicker"])
    assert math.isnan(_value(df, "damage_ratio"))  # not 0: nothing was measured
    assert math.isnan(_value(df, "flicker"))  # first frame of a clip has no flicker


def test_damage_ratio_with_damage_classes(tmp_path: Path) -> None:
    import dataclasses

    from analytics.demo.city import DEMO_CLASS_SET

    s = store_with_cameras(str(tmp_path / "d.duckdb"), [("c1", 4.0, 52.0)])
    clip = clip_from_pixels("c1", T0, [{ROAD: 90}])
    run = dataclasses.replace(clip.run, class_set=DEMO_CLASS_SET)
    cp = np.zeros((1, DEMO_CLASS_SET.num_classes), dtype=np.int64)
    cp[0, 0], cp[0, 19] = 90, 10  # road 90, road damage 10
    s.ingest(dataclasses.replace(clip, run=run, class_pixels=cp))
    df = ind.compute(s, Selection(min_frames=1), by="city", indicators=["damage_ratio"])
    assert _value(df, "damage_ratio") == pytest.approx(10 / 100)


def test_ratio_of_sums_across_frames_and_clips(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "r.duckdb"), [("c1", 4.0, 52.0)])
    # clip A: green 10/100 and 30/100; clip B: 0/200 -> pooled 40/400 = 0.1
    s.ingest(clip_from_pixels("c1", T0, [{VEG: 10, ROAD: 90}, {VEG: 30, ROAD: 70}], label="A"))
    s.ingest(clip_from_pixels("c1", T0.replace(hour=9), [{ROAD: 200}], label="B"))
    df = ind.compute(s, Selection(min_frames=1), by="city", indicators=["green_view"])
    row = df.iloc[0]
    assert row["value"] == pytest.approx(0.1)
    assert (row["n_frames"], row["n_clips"]) == (3, 2)
    r, lo, hi = ratio_interval(np.array([40.0, 0.0]), np.array([200.0, 200.0]))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((max(lo, 0.0), min(hi, 1.0)))  # shares clipped to [0, 1]


def test_interval_missing_with_one_clip_and_narrow_for_identical_clips(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "n.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", T0, [{VEG: 20, ROAD: 80}], label="A"))
    one = ind.compute(s, Selection(min_frames=1), by="city", indicators=["green_view"]).iloc[0]
    assert one["value"] == pytest.approx(0.2) and math.isnan(one["ci_low"])  # one clip: no interval
    s.ingest(clip_from_pixels("c1", T0.replace(hour=10), [{VEG: 20, ROAD: 80}], label="B"))
    two = ind.compute(s, Selection(min_frames=1), by="city", indicators=["green_view"]).iloc[0]
    assert two["ci_low"] == pytest.approx(0.2) and two["ci_high"] == pytest.approx(0.2)


def test_cells_below_min_frames_are_missing(one_frame_store: Store) -> None:
    df = ind.compute(one_frame_store, Selection(min_frames=2), by="camera", indicators=["green_view"])
    row = df.iloc[0]
    assert not row["enough"] and math.isnan(row["value"]) and row["n_frames"] == 1


def test_groupings(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "g.duckdb"), [("c1", 4.0, 52.0), ("c2", 4.5, 52.5)])
    s.ingest(clip_from_pixels("c1", datetime(2026, 3, 2, 8, 0), [{VEG: 10, ROAD: 90}], label="mon8"))
    s.ingest(clip_from_pixels("c2", datetime(2026, 3, 7, 17, 0), [{VEG: 50, ROAD: 50}], label="sat17"))
    by_cam = ind.compute(s, Selection(min_frames=1), by="camera", indicators=["green_view"])
    assert dict(zip(by_cam["camera"], by_cam["value"])) == pytest.approx({"c1": 0.1, "c2": 0.5})
    by_hour = ind.compute(s, Selection(min_frames=1), by="hour", indicators=["green_view"])
    assert by_hour["hour"].tolist() == [8, 17]
    by_wd = ind.compute(s, Selection(min_frames=1), by="weekday", indicators=["green_view"])
    assert by_wd["weekday"].tolist() == [1, 6]  # ISO: Monday 1, Saturday 6
    by_day = ind.compute(s, Selection(min_frames=1), by="day", indicators=["green_view"])
    assert [pd.Timestamp(d).date() for d in by_day["day"]] == [date(2026, 3, 2), date(2026, 3, 7)]
    by_h3 = ind.compute(s, Selection(min_frames=1), by="h3", indicators=["green_view"], h3_resolution=5)
    assert len(by_h3) == 2 and all(len(c) == 15 for c in by_h3["h3"])
    window = ind.compute(s, Selection(start=date(2026, 3, 3), end=date(2026, 3, 7), min_frames=1), by="city", indicators=["green_view"])
    assert window["value"].tolist() == pytest.approx([0.5])
    cross = ind.compute(s, Selection(min_frames=1), by=["camera", "hour"], indicators=["green_view"])
    assert list(zip(cross["camera"], cross["hour"])) == [("c1", 8), ("c2", 17)]


def test_district_grouping_follows_polygons(tmp_path: Path) -> None:
    import json

    s = store_with_cameras(str(tmp_path / "dd.duckdb"), [("in", 4.05, 52.05), ("out", 9.0, 9.0)])
    s.ingest(clip_from_pixels("in", T0, [{VEG: 10, ROAD: 90}], label="a"))
    s.ingest(clip_from_pixels("out", T0, [{VEG: 30, ROAD: 70}], label="b"))
    square = {"type": "Polygon", "coordinates": [[[4, 52], [4.1, 52], [4.1, 52.1], [4, 52.1], [4, 52]]]}
    s.upsert_districts(pd.DataFrame([{"district_id": "sq", "name": "Square", "geometry_geojson": json.dumps(square)}]))
    df = ind.compute(s, Selection(min_frames=1), by="district", indicators=["green_view"])
    assert dict(zip(df["district"], df["value"])) == pytest.approx({"sq": 0.1, "(outside districts)": 0.3})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"by": "borough"}, "unknown grouping 'borough'"),  # not a grouping
        ({"indicators": ["greenness"]}, "unknown indicator 'greenness'"),  # typo'd indicator
        ({"by": "h3", "h3_resolution": 16}, "H3 resolution 16"),
        ({"by": ["camera", "camera"]}, "repeats"),
    ],
)
def test_bad_arguments(one_frame_store: Store, kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ind.compute(one_frame_store, Selection(min_frames=1), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": date(2026, 3, 9), "end": date(2026, 3, 1)}, "starts .* after it ends"),  # dates reversed
        ({"start": "03/09/2026"}, "start date '03/09/2026' is not a date"),  # wrong date format
        ({"hours": (20, 3)}, "hours"),  # a range from before to
        ({"hours": (7, 24)}, "hours"),  # past the last hour
        ({"min_frames": 0}, "min_frames=0 must be at least 1"),  # a cell needs at least one frame
        ({"cameras": "c1"}, "cameras 'c1' is one text"),  # one id where a list belongs
        ({"include_low_trust": "yes"}, "include_low_trust='yes'"),  # not a flag
    ],
)
def test_bad_selection(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Selection(**kwargs)


def test_equal_selections_are_one_cache_key() -> None:
    a = Selection(start="2026-03-02", cameras=["c2", "c1", "c2"], districts=[], min_frames=5)
    b = Selection(start=date(2026, 3, 2), cameras=("c1", "c2"), min_frames=5)
    assert a == b and hash(a) == hash(b) and a.districts is None  # text dates parsed, ids sorted, an empty list no filter
    assert a.with_(min_frames=6) != a and a.with_period(None, None).start is None


def test_a_selection_filters_like_its_fields(one_frame_store: Store) -> None:
    everything = ind.compute(one_frame_store, Selection(min_frames=1), by="camera", indicators=["green_view"])
    other_camera = ind.compute(one_frame_store, Selection(cameras=["nowhere"], min_frames=1), by="camera", indicators=["green_view"])
    assert len(everything) == 1 and other_camera.empty
    assert ind.compute(one_frame_store, Selection(hours=(0, 0), min_frames=1), by="city").empty  # its one frame is at 8:00


def test_stores_are_frame_sources(one_frame_store: Store, tmp_path: Path) -> None:
    from analytics.store.parquet import ParquetStore, export_frames

    export_frames(one_frame_store, tmp_path / "pq")
    assert isinstance(one_frame_store, FrameSource) and isinstance(ParquetStore(tmp_path / "pq"), FrameSource)


def test_wide_table_has_intervals_and_congestion_level(one_frame_store: Store) -> None:
    long = ind.compute(one_frame_store, Selection(min_frames=1), by="camera", indicators=["road_occupancy", "vehicle_stationarity"])
    wide = ind.to_wide(long, ["camera"])
    assert {"road_occupancy_low", "road_occupancy_high", "n_frames", "n_clips", "congestion_level"} <= set(wide.columns)
    assert wide["congestion_level"].tolist() == ["moderate"]  # occupancy 0.19, stationarity 0.25


def test_every_indicator_documents_formula_and_source() -> None:
    for i in ind.INDICATORS.values():
        assert i.formula and i.source and i.label, i.name


def test_short_labels_fit_pickers_and_full_labels_stay() -> None:
    shorts = [i.short_label for i in ind.INDICATORS.values()]
    assert max(len(s) for s in shorts) <= ind.SHORT_LABEL_CHARS and len(set(shorts)) == len(shorts)  # uncut, and distinct
    built = ind.INDICATORS["share_built"]
    assert (built.label, built.short_label) == ("Built (buildings, walls, poles, signs) share", "Built share")
    assert ind.INDICATORS["green_view"].short_label == "Green view index"  # a short label is its own short label
    with pytest.raises(InputError, match="short label 'A very long indicator label indeed' has 34 characters"):
        ind.Indicator(name="x", label="A very long indicator label indeed", unit="%", numerator="1", denominator="1",
                      formula="", source="", theme="form")
