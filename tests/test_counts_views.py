"""Counts as people read them: zones files with count lines, queries with their zeros, ``urbanlens counts``, indicators."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from helpers import clip_from_pixels, count_tables, store_with_cameras
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import DataFormatError, InputError
from analytics.footage.countzones import geometry_from_rows, read_camera_zones
from analytics.indicators import congestion_with_tracks, count_rates, people_per_hour_basis, poisson_interval
from analytics.reports.content import COUNTS_HEADER, COUNTS_TEXT, build_report
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.counts import counting_cameras, crossing_counts, speed_v85, stationary_share, visit_stats

START = datetime(2026, 5, 4, 8, 50)
GEOMETRY = {"size": [100, 100], "zones": [
    {"name": "walk", "role": "sidewalk", "polygon": [[0, 60], [40, 60], [40, 100]]},
    {"name": "mid", "line": [[0, 50], [100, 50]], "in": "northbound", "out": "southbound"},
    {"name": "square", "role": "dwell", "polygon": [[10, 10], [60, 10], [60, 40]]},
]}


def test_one_zones_file_holds_segmentation_zones_count_lines_and_dwell_zones():
    read = read_camera_zones(json.dumps(GEOMETRY).encode())
    rows = read.rows.set_index("zone")
    assert rows.loc["mid", "role"] == "line" and json.loads(rows.loc["mid", "polygon_json"]) == [[0, 50], [100, 50]]
    assert rows.loc["mid", "in_label"] == "northbound" and rows.loc["square", "drawn_width"] == 100
    assert rows.loc["walk", "role"] == "sidewalk" and pd.isna(rows.loc["walk", "in_label"])
    back = geometry_from_rows(read.rows)
    assert back is not None and back["size"] == [100, 100] and [z["name"] for z in back["zones"]] == ["mid", "square"]


@pytest.mark.parametrize(("change", "clip_size", "message"), [
    ({"line": [[0, 50], [150, 50]]}, None, r"object 1: point \[150, 50\] lies outside the 100x100 frame"),
    ({"line": [[5, 5], [5, 5]]}, None, "the line has zero length"),
    ({"name": "walk"}, None, "name 'walk' is used twice"),
    ({}, (200, 100), "drawn on a 100x100 frame but the clip is 200x100"),  # the camera's clips are another size
])
def test_bad_count_geometry_is_refused_in_one_line(change, clip_size, message):
    data = json.loads(json.dumps(GEOMETRY))
    data["zones"][1].update(change)
    with pytest.raises(DataFormatError, match=message) as err:
        read_camera_zones(json.dumps(data).encode(), clip_size)
    assert "\n" not in str(err.value)


def test_count_lines_without_a_frame_size_are_refused():
    data = {"zones": GEOMETRY["zones"][1:2]}
    with pytest.raises(DataFormatError, match=r'add "size": \[width, height\]'):
        read_camera_zones(json.dumps(data).encode())
    assert read_camera_zones(json.dumps(data).encode(), (100, 100)).geometry is not None  # the camera's clip size stands in


def _clip(minute: int, counts, low: bool = False):  # noqa: ANN001
    """A 10 s clip at START + ``minute`` with the given counts."""
    clip = clip_from_pixels("cam", START.replace(minute=START.minute) + pd.Timedelta(minutes=minute), [{0: 10}] * 20, label=f"m{minute}")
    return dataclasses.replace(clip, counts=counts)


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    """Camera ``cam`` with line ``mid`` and zone ``square``: a clip at 08:50 with crossings and visits,
    one at 09:05 that counted nothing, and camera ``other`` that never counts."""
    path = str(tmp_path_factory.mktemp("counts") / "c.duckdb")
    with store_with_cameras(path, [("cam", 8.5, 47.3), ("other", 8.6, 47.3)]) as store:
        store.set_zones("cam", read_camera_zones(json.dumps(GEOMETRY).encode()).rows)
        busy = count_tables(
            crossings=[("mid", 1.0, "car", "in", 1), ("mid", 2.0, "car", "in", 2), ("mid", 3.0, "person", "out", 3)],
            visits=[("square", "person", 3, 0.0, 4.0), ("square", "person", 4, 2.0, 8.0), ("square", "person", 5, 9.0, 10.0)],
            tracks=[(1, "car", 0.0, 2.0, 30.0), (2, "car", 0.0, 3.0, 50.0), (3, "person", 0.0, 5.0, None)],
        )
        store.ingest([_clip(0, busy), _clip(15, count_tables()), clip_from_pixels("other", START, [{0: 10}] * 4)])
    return path


def test_crossings_are_counted_by_line_class_and_direction_with_real_zeros(counted):
    with Store(counted, read_only=True) as store:
        hourly = crossing_counts(store, Selection(cameras=["cam"]), "hour")
        clips = crossing_counts(store, Selection(cameras=["cam"]), "clip")
    at8 = hourly[hourly["hour"] == pd.Timestamp("2026-05-04 08:00")].set_index(["direction", "class"])["count"]
    assert at8[("in", "car")] == 2 and at8[("out", "person")] == 1 and at8[("out", "car")] == 0
    at9 = hourly[hourly["hour"] == pd.Timestamp("2026-05-04 09:00")]
    assert len(at9) > 0 and at9["count"].sum() == 0  # counted, nothing crossed: zeros, not missing rows
    assert set(hourly["direction_label"]) == {"northbound", "southbound"} and set(hourly["observed_s"]) == {10.0}
    assert clips.groupby("clip")["count"].sum().sort_values().tolist() == [0, 3]
    assert "other" not in set(hourly["camera_id"])


def test_visits_speeds_and_stops(counted):
    with Store(counted, read_only=True) as store:
        visits = visit_stats(store, Selection(cameras=["cam"]), "total").set_index("class")
        v85 = speed_v85(store, Selection(cameras=["cam"]), "hour")
        stops = stationary_share(store, Selection())
        cams = counting_cameras(store)
    person = visits.loc["person"]
    assert person["count"] == 3 and person["mean_dwell_s"] == pytest.approx((4 + 6 + 1) / 3)
    assert person["peak_occupancy"] == 2 and visits.loc["car", "count"] == 0
    assert v85["v85_kmh"].tolist() == [pytest.approx(30 + 0.85 * 20)] and v85["n_tracks"].tolist() == [2]
    assert stops["n_vehicles"].tolist() == [2] and stops["stationary_share"].tolist() == [0.0]
    assert cams == ["cam"]


def test_counts_respect_the_period(counted):
    with Store(counted, read_only=True) as store:
        none = crossing_counts(store, Selection(cameras=["cam"], start="2026-05-05"), "day")
        with pytest.raises(InputError, match="counts by 'week'"):
            crossing_counts(store, Selection(), "week")
    assert none.empty


def test_urbanlens_counts_writes_json_csv_and_a_table(counted):
    runner = CliRunner()
    res = runner.invoke(app, ["counts", "--camera", "cam", "--by", "day", "--format", "json", "--db", counted])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    cars_in = [r for r in data["crossings"] if r["class"] == "car" and r["direction"] == "in"]
    assert cars_in == [{"line": "mid", "direction": "in", "direction_label": "northbound", "class": "car", "day": "2026-05-04",
                        "count": 2, "observed_s": 20.0}]
    assert {"zone", "class", "count", "mean_dwell_s", "day"} <= set(data["visits"][0])
    csv = runner.invoke(app, ["counts", "--camera", "cam", "--by", "clip", "--format", "csv", "--db", counted])
    assert csv.exit_code == 0 and csv.stdout.splitlines()[0].startswith("period_start,period_end,line,direction")
    table = runner.invoke(app, ["counts", "--camera", "cam", "--db", counted])
    assert table.exit_code == 0 and "Crossings" in table.stdout and "mid" in table.stdout


def test_urbanlens_counts_refuses_a_camera_that_does_not_count(counted):
    res = CliRunner().invoke(app, ["counts", "--camera", "other", "--db", counted])
    assert res.exit_code != 0 and "has no count lines or dwell zones" in str(res.exception)


def test_counted_rates_have_poisson_intervals_and_replace_the_estimate_where_a_camera_counts(counted):
    with Store(counted, read_only=True) as store:
        crossings = crossing_counts(store, Selection(), "hour")
    rates = count_rates(crossings).set_index("indicator")
    # 2 cars and 1 person over 20 s of counted footage (two 10 s clips, one line)
    assert rates.loc["vehicles_per_hour", "value"] == pytest.approx(2 * 3600 / 20)
    assert rates.loc["people_per_hour_counted", "hours"] == pytest.approx(20 / 3600)
    low, high = poisson_interval(2)
    assert rates.loc["vehicles_per_hour", "ci_high"] == pytest.approx(float(high) * 3600 / 20)
    assert rates.loc["cyclists_per_hour", "value"] == 0 and rates.loc["cyclists_per_hour", "ci_high"] > 0
    wide = pd.DataFrame({"camera_id": ["cam", "other"], "people_per_hour": [999.0, 50.0]})
    both = people_per_hour_basis(wide, count_rates(crossings)).set_index("camera_id")
    assert both.loc["cam", "people_per_hour"] == pytest.approx(180.0) and both.loc["cam", "people_per_hour_basis"] == "counted"
    assert both.loc["other", "people_per_hour"] == 50.0 and both.loc["other", "people_per_hour_basis"] == "estimated"
    assert congestion_with_tracks(0.45, 0.0, 0.9) == "jammed" and congestion_with_tracks(0.45, 0.0, float("nan")) == "heavy"


def test_reports_carry_a_counts_section_with_intervals(counted):
    with Store(counted, read_only=True) as store:
        content = build_report(store, Selection(min_frames=1))
    [row] = content.counts
    assert row[0] == "cam" and row[4].startswith("360 vehicles/h (") and "Poisson" in COUNTS_TEXT
    assert COUNTS_HEADER[4] == "Vehicles per hour"
    cams = content.cameras.set_index("camera_id")
    assert cams.loc["cam", "people_per_hour_basis"] == "counted" and cams.loc["cam", "people_per_hour"] == pytest.approx(180.0)
    assert cams.loc["other", "people_per_hour_basis"] == "estimated"  # no counts: the estimate stays


def test_counts_of_a_low_trust_clip_are_left_out_with_a_note_and_counted_on_request(tmp_path):
    path = str(tmp_path / "low.duckdb")
    with store_with_cameras(path, [("cam", 8.5, 47.3)]) as store:
        store.set_zones("cam", read_camera_zones(json.dumps(GEOMETRY).encode()).rows)
        clip = _clip(0, count_tables(crossings=[("mid", 1.0, "car", "in", 1)]))
        clip = dataclasses.replace(clip, mean_confidence=np.full(clip.n, 0.3), low_conf_share=np.full(clip.n, 0.9))
        assert store.ingest([clip])[0].trust == "low"
    runner = CliRunner()
    left = runner.invoke(app, ["counts", "--camera", "cam", "--by", "total", "--format", "json", "--db", path])
    assert left.exit_code == 0 and json.loads(left.stdout)["crossings"] == []
    assert "1 counted clip flagged low trust" in left.stderr and "--include-low-trust" in left.stderr
    kept = runner.invoke(app, ["counts", "--camera", "cam", "--by", "total", "--format", "json", "--include-low-trust", "--db", path])
    assert [r["count"] for r in json.loads(kept.stdout)["crossings"] if r["class"] == "car" and r["direction"] == "in"] == [1]
