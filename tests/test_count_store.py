"""Counts travel from :class:`~analytics.records.CountTables` into the store's count tables in the clip's transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pandas as pd
import pytest
from helpers import clip_from_pixels, count_tables, store_with_cameras

from analytics.errors import InputError
from analytics.records import COUNT_COLUMNS, CountTables

START = datetime(2026, 5, 4, 8, 0)


def test_counts_are_stored_with_the_clip_and_times_follow_the_clip_start(tmp_path):
    counts = count_tables(
        crossings=[("mid", 1.5, "car", "in", 1), ("mid", 2.0, "cyclist", "out", 2)],
        visits=[("square", "person", 3, 0.5, 4.5)],
        tracks=[(1, "car", 0.0, 3.0, 30.0), (2, "cyclist", 1.0, 2.5, None), (3, "person", 0.5, 4.5, None)],
    )
    clip = dataclasses.replace(clip_from_pixels("cam", START, [{0: 10}, {0: 10}]), counts=counts)
    with store_with_cameras(str(tmp_path / "c.duckdb"), [("cam", 8.5, 47.3)]) as store:
        [result] = store.ingest([clip])
        assert result.status == "stored"
        rows = store.query_df("SELECT line, ts, class, direction, track_id, run_id FROM crossings ORDER BY ts")
        assert rows["ts"].tolist() == [pd.Timestamp("2026-05-04 08:00:01.5"), pd.Timestamp("2026-05-04 08:00:02")]
        assert rows["direction"].tolist() == ["in", "out"] and set(rows["run_id"]) == {result.run_id}
        visit = store.query_df("SELECT zone, dwell_s, enter_ts, exit_ts FROM zone_visits").iloc[0]
        assert visit["dwell_s"] == 4.0 and visit["exit_ts"] == pd.Timestamp("2026-05-04 08:00:04.5")
        assert store.scalar("SELECT count(*) FROM tracks WHERE speed_kmh IS NULL") == 2
        run = store.query_df("SELECT detector_name, n_tracked_frames, calibrated FROM count_runs").iloc[0]
        assert run["detector_name"] == "test-detector" and run["n_tracked_frames"] == 100 and bool(run["calibrated"])


def test_a_clip_counted_with_nothing_found_has_its_count_run_and_no_crossings(tmp_path):
    clip = dataclasses.replace(clip_from_pixels("cam", START, [{0: 10}]), counts=count_tables())
    with store_with_cameras(str(tmp_path / "c.duckdb"), [("cam", 8.5, 47.3)]) as store:
        store.ingest([clip])
        assert store.scalar("SELECT count(*) FROM count_runs") == 1
        assert store.scalar("SELECT count(*) FROM crossings") == 0


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("crossings", "direction", "sideways", "directions ['sideways']; expected 'in' or 'out'"),
        ("crossings", "class", "horse", "classes ['horse']"),
        ("visits", "class", "dog", "classes ['dog']"),
    ],
)
def test_count_tables_refuse_unknown_classes_and_directions(table, column, value, message):
    good = count_tables(crossings=[("mid", 1.0, "car", "in", 1)], visits=[("sq", "person", 2, 0.0, 1.0)])
    df = getattr(good, table).assign(**{column: value})
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dataclasses.replace(good, **{table: df})


def test_count_tables_name_a_missing_column():
    good = count_tables()
    with pytest.raises(InputError, match="missing columns \\['direction'\\]"):
        dataclasses.replace(good, crossings=good.crossings.drop(columns=["direction"]))
    assert set(COUNT_COLUMNS) == {"tracks", "crossings", "visits"} and CountTables is type(good)


def test_count_lines_keep_their_direction_names_and_drawn_size(tmp_path):
    zones = pd.DataFrame([
        {"zone": "mid", "role": "line", "polygon_json": "[[0, 216], [768, 216]]", "in_label": "northbound",
         "out_label": "southbound", "drawn_width": 768, "drawn_height": 432},
        {"zone": "walk", "role": "sidewalk", "polygon_json": "[[0, 0], [10, 0], [10, 10]]"},
    ])
    with store_with_cameras(str(tmp_path / "c.duckdb"), [("cam", 8.5, 47.3)]) as store:
        store.set_zones("cam", zones)
        got = store.zones("cam").set_index("zone")
        assert got.loc["mid", "in_label"] == "northbound" and got.loc["mid", "drawn_width"] == 768
        assert pd.isna(got.loc["walk", "in_label"]) and got.loc["walk", "role"] == "sidewalk"
