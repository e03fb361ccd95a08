"""Look-ups behind the pages and the report queries of the store layer, on hand-made stores."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.indicators import compute
from analytics.records import Preview
from analytics.selection import Selection
from analytics.store import Store, catalog, reporting
from tests.helpers import BG, ROAD, VEG, clip_from_pixels, store_with_cameras


def test_camera_lookups(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "c.duckdb"), [("c1", 4.0, 52.0), ("c2", 4.1, 52.1)])
    clip = clip_from_pixels("c1", datetime(2026, 3, 2, 8), [{ROAD: 10}, {ROAD: 12}], label="morning")
    clip.previews.append(Preview(1, b"\xff\xd8jpeg"))
    s.ingest(clip)
    s.set_zones("c2", pd.DataFrame([{"zone": "walk", "role": "sidewalk", "polygon_json": "[[0,0],[1,0],[1,1]]"}]))
    assert catalog.cameras_with_zones(s) == ["c2"]
    clips = catalog.camera_clips(s, "c1", date(2026, 3, 2), date(2026, 3, 2))
    assert clips["label"].tolist() == ["morning"] and clips["flicker"].iloc[0] == 0.1
    assert catalog.camera_clips(s, "c1", date(2026, 3, 3), None).empty  # outside the period
    assert catalog.camera_previews(s, "c1")["image"].iloc[0] == b"\xff\xd8jpeg"
    assert catalog.camera_track(s, "c1").values.tolist() == [[4.0, 52.0]]
    assert catalog.model_run_summary(s).to_dict("records") == [{"model_name": "test-model", "runs": 1, "frames": 2}]


# -- class shares, KPIs and one unsaved clip ------------------------------------------------------
def test_class_shares_by_day_and_by_frame(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", datetime(2026, 3, 2, 8), [{ROAD: 30, VEG: 10}, {ROAD: 10, VEG: 30}, {BG: 50}], label="a"))
    day = catalog.class_shares(s, Selection(cameras=["c1"])).set_index("group")
    # Σ group pixels / Σ valid pixels over the day: road 40/80, vegetation 40/80; void is in no denominator
    assert day.loc["road", "share"] == 0.5 and day.loc["vegetation", "share"] == 0.5 and day.loc["road", "n_frames"] == 3
    frames = catalog.class_shares(s, Selection(), by="frame")
    road = frames[frames["group"] == "road"]["share"].tolist()
    assert road[:2] == [0.75, 0.25] and np.isnan(road[2])  # an all-void frame has no share
    assert catalog.class_shares(s, Selection(start=date(2026, 3, 3), cameras=["c1"])).empty  # outside the period
    with pytest.raises(InputError, match="class shares by 'hour'; choose from day, frame"):
        catalog.class_shares(s, Selection(), by="hour")


def test_city_values_compare_with_the_period_before(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "k.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", datetime(2026, 3, 1, 8), [{ROAD: 90, VEG: 10}], label="before"))
    s.ingest(clip_from_pixels("c1", datetime(2026, 3, 2, 8), [{ROAD: 70, VEG: 30}], label="now"))
    now, before = catalog.city_values(s, ["green_view"], Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), min_frames=1))
    assert now["value"].tolist() == pytest.approx([0.3]) and before["value"].tolist() == pytest.approx([0.1])
    now, before = catalog.city_values(s, ["green_view"], Selection(start=None, end=None, min_frames=1))  # all data: nothing before it
    assert now["value"].tolist() == pytest.approx([0.2]) and before.empty
    now, before = catalog.city_values(s, ["green_view"], Selection(start=date(2026, 3, 1), end=date(2026, 3, 1), min_frames=1))
    assert before.empty and before.columns.tolist() == now.columns.tolist()  # no data before the first day: no comparison


def test_clip_indicators_match_the_saved_clip(tmp_path: Path) -> None:
    clip = clip_from_pixels("c9", datetime(2026, 3, 2, 8), [{ROAD: 70, VEG: 30}, {ROAD: 50, VEG: 50}], label="new")
    long, shares = catalog.clip_indicators(clip, {"camera_id": "c9", "name": "Nine", "lon": 4.0, "lat": 52.0})
    s = store_with_cameras(str(tmp_path / "u.duckdb"), [("c9", 4.0, 52.0)])
    s.ingest(clip)
    saved = compute(s, Selection(min_frames=1), by="city")
    assert long["value"].tolist() == pytest.approx(saved["value"].tolist(), nan_ok=True)  # same numbers as once saved
    assert shares[shares["group"] == "vegetation"]["share"].tolist() == [0.3, 0.5]  # one step per sampled frame


# -- report queries -------------------------------------------------------------------------------
SQUARE = {"type": "Polygon", "coordinates": [[[3.9, 51.9], [4.1, 51.9], [4.1, 52.1], [3.9, 52.1], [3.9, 51.9]]]}


@pytest.fixture
def report_store(tmp_path: Path) -> Store:
    """c1 (in district 'sq') with a clip on 2 March whose second frame is the most cracked; c2 outside, with a clip on 3 March."""
    s = store_with_cameras(str(tmp_path / "r.duckdb"), [("c1", 4.0, 52.0), ("c2", 5.0, 53.0)])
    s.upsert_districts(pd.DataFrame([{"district_id": "sq", "name": "Square", "geometry_geojson": json.dumps(SQUARE)}]))
    c1 = clip_from_pixels("c1", datetime(2026, 3, 2, 23, 59, 58), [{ROAD: 100}, {ROAD: 100}, {ROAD: 100}], label="late")
    c1 = dataclasses.replace(c1, distress_crack_px=np.array([1.0, 10.0, 2.0]), distress_pothole_px=np.zeros(3))
    c1.previews.extend([Preview(0, b"first"), Preview(1, b"worst")])
    s.ingest(c1)
    s.ingest(clip_from_pixels("c2", datetime(2026, 3, 3, 8), [{ROAD: 100}], label="other"))
    return s


def test_report_queries_for_a_district_and_the_city(report_store: Store) -> None:
    day = Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), districts=["sq"])
    two_days = Selection(start=date(2026, 3, 2), end=date(2026, 3, 3))
    src = reporting.area_sources(report_store, day)
    # the clip starts at 23:59:58 and is sampled every 0.5 s: the frames at 58, 58.5, 59 s fall in 2 March
    assert (src["cameras"], src["clips"], src["frames"], src["synthetic_clips"]) == (1, 1, 3, 0)
    assert reporting.area_sources(report_store, two_days)["frames"] == 4  # the city
    assert reporting.area_sources(report_store, day.with_period(date(2026, 3, 3), date(2026, 3, 3)))["frames"] == 0  # another day
    models = reporting.area_models(report_store, two_days)
    assert models[["model_name", "clips", "frames"]].values.tolist() == [["test-model", 2, 4]]
    assert reporting.mobile_track(report_store, day.with_(districts=None)).empty  # fixed cameras only
    worst = reporting.worst_damage_frames(report_store, day, ["c1"])
    assert worst["ts"].tolist() == [pd.Timestamp("2026-03-02 23:59:58.5")]  # 10 crack pixels of 100
    previews = reporting.damage_previews(report_store, day, ["c1"], per_camera=1)
    assert previews["image"].tolist() == [b"worst"]
    with pytest.raises(InputError, match="previews per camera -1"):
        reporting.damage_previews(report_store, day, ["c1"], per_camera=-1)


def test_every_date_window_is_the_same(report_store: Store) -> None:
    # inclusive dates: [2 March 00:00, 3 March 00:00) for every look-up that takes a period
    day = (date(2026, 3, 2), date(2026, 3, 2))
    assert len(catalog.camera_track(report_store, "c1", *day)) == 1
    assert catalog.camera_clips(report_store, "c1", *day)["label"].tolist() == ["late"]
    assert catalog.class_shares(report_store, Selection(start=day[0], end=day[1], cameras=["c1"]))["n_frames"].iloc[0] == 3
    assert reporting.area_sources(report_store, Selection(start=day[0], end=day[1]))["frames"] == 3
    city = compute(report_store, Selection(start=day[0], end=day[1], min_frames=1), by="city", indicators=["distress_share"])
    assert city["n_frames"].tolist() == [3]
    assert catalog.camera_clips(report_store, "c2", *day).empty  # its clip is on 3 March
