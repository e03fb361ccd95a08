"""Drawing count lines and dwell zones by clicking: points to zones rows, replacing, deleting, refusals, the Camera page."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers import clip_from_pixels, store_with_cameras
from streamlit.testing.v1 import AppTest

from analytics.errors import DataFormatError, InputError
from analytics.footage.countzones import merge_drawn, read_camera_zones, without_zone
from analytics.footage.lines import geometry_from_rows
from analytics.store import Store
from analytics.visual.linedraw import add_point, clicked_pixel, draw_figure, drawn_object, undo_point

SIZE = (100, 100)
STORED = read_camera_zones(json.dumps({"size": [100, 100], "zones": [
    {"name": "walk", "role": "sidewalk", "polygon": [[0, 60], [40, 60], [40, 100]]},
    {"name": "mid", "line": [[0, 50], [100, 50]], "in": "northbound", "out": "southbound"},
]}).encode()).rows
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def clicks(mode: str, *pixels: tuple[float, float]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for p in pixels:
        points = add_point(points, p, mode)
    return points


def test_two_clicks_make_a_count_line_whose_in_is_right_to_left():
    points = clicks("line", (0, 30), (50, 30), (100, 30))  # a third click moves the end
    assert points == [(0, 30), (100, 30)] and undo_point(points) == [(0, 30)]
    merged = merge_drawn(STORED, drawn_object("line", " upper ", points, ("up", "")), SIZE)
    rows = merged.rows.set_index("zone")
    assert sorted(rows.index) == ["mid", "upper", "walk"]  # the sidewalk zone and the other line are kept
    assert rows.loc["upper", "role"] == "line" and (rows.loc["upper", "in_label"], rows.loc["upper", "out_label"]) == ("up", "out")
    assert (rows.loc["upper", "drawn_width"], rows.loc["upper", "drawn_height"]) == SIZE
    line = next(ln for ln in geometry_from_rows(merged.rows, SIZE).lines if ln.name == "upper")
    assert (line.start, line.end) == ((0.0, 30.0), (100.0, 30.0))  # left to right: "in" (up) is upward on screen


def test_three_clicks_make_a_dwell_zone_and_a_same_name_replaces():
    zone = drawn_object("dwell", "square", clicks("dwell", (10, 10), (60, 10), (60, 40)))
    first = merge_drawn(STORED, zone, SIZE).rows
    again = merge_drawn(first, {**zone, "polygon": [[0, 0], [20, 0], [20, 20], [0, 20]]}, SIZE).rows
    assert len(again) == 3 and json.loads(again.set_index("zone").loc["square", "polygon_json"]) == [[0, 0], [20, 0], [20, 20], [0, 20]]
    assert sorted(without_zone(again, "square")["zone"]) == ["mid", "walk"]
    with pytest.raises(InputError, match="zone 'gone' is not stored for this camera; its zones: mid, square, walk"):
        without_zone(again, "gone")


@pytest.mark.parametrize(("drawn", "message"), [
    (drawn_object("line", "z", [(5, 5), (5, 5)]), "the line has zero length"),
    (drawn_object("line", "z", [(5, 5), (150, 5)]), r"point \[150, 5\] lies outside the 100x100 frame"),
    (drawn_object("line", "walk", [(0, 5), (9, 5)]), "name 'walk' is already a sidewalk zone"),
    (drawn_object("dwell", "mid", [(0, 0), (9, 0), (9, 9)]), "name 'mid' is already a count line"),
    (drawn_object("line", "", [(0, 5), (9, 5)]), "name ''; expected printable text"),
])
def test_bad_drawings_are_refused_in_one_line(drawn, message):
    with pytest.raises(DataFormatError, match=message) as err:
        merge_drawn(STORED, drawn, SIZE)
    assert "\n" not in str(err.value)


def test_lines_drawn_on_another_frame_size_are_named():
    with pytest.raises(DataFormatError, match="drawn on a 100x100 frame but the clip is 200x100"):
        merge_drawn(STORED, drawn_object("line", "new", [(0, 5), (9, 5)]), (200, 100))
    with pytest.raises(InputError, match="a count line needs 2 points; 1 clicked"):
        drawn_object("line", "x", [(1, 1)])


def test_the_frame_reads_clicks_from_its_grid_and_shows_the_drawing():
    fig = draw_figure(STORED, SIZE, [(0, 30), (100, 30)], "line", labels=("up", "down"))
    assert fig.data[0].name == "click" and max(fig.data[0].x) == 100 and max(fig.data[0].y) == 100
    assert any(a.text == "in: up" for a in fig.layout.annotations)  # the drawn line's arrows with its direction names
    assert clicked_pixel({"selection": {"points": [{"curve_number": 0, "x": 35, "y": 70}]}}) == (35.0, 70.0)


def test_camera_page_saves_and_deletes_a_drawn_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "draw.duckdb"
    with store_with_cameras(str(path), [("cam-1", 4.0, 52.0)]) as store:
        store.ingest(clip_from_pixels("cam-1", datetime(2026, 1, 5, 10), [{0: 50, 8: 30, 10: 20}] * 4))  # a 100x100 clip
    monkeypatch.setenv("URBANLENS_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/camera.py").run()
    at.session_state["camera_draw_points"] = [(0.0, 30.0), (100.0, 30.0)]  # what two clicks on the frame leave
    at.text_input(key="camera_draw_name").set_value("upper")
    at.text_input(key="camera_draw_in").set_value("northbound")
    at.button(key="camera_draw_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Saved upper" in s.value for s in at.success)
    rows = Store(str(path)).zones("cam-1")
    assert rows[["zone", "role", "polygon_json", "in_label", "drawn_width"]].values.tolist() == [
        ["upper", "line", "[[0.0, 30.0], [100.0, 30.0]]", "northbound", 100]]
    at.session_state["camera_draw_points"] = [(5.0, 5.0), (5.0, 5.0)]
    at.button(key="camera_draw_save").click().run()
    assert any("zero length" in e.value for e in at.error)  # refused in one line, nothing stored
    at.selectbox(key="camera_draw_delete").set_value("upper").run()
    at.button(key="camera_draw_delete_go").click().run()
    assert Store(str(path)).zones("cam-1").empty
