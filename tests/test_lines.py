"""Count lines and dwell zones: reading the geometry, crossings, visits and occupancy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics.errors import DataFormatError
from analytics.footage.lines import (
    CountLine,
    DwellZone,
    Visit,
    line_crossings,
    parse_count_geometry,
    peak_occupancy,
    points_in_polygon,
    zone_visits,
)
from analytics.footage.track import track_frames

SIZE = (768, 432)
MID = {"name": "mid", "line": [[0, 216], [768, 216]], "in": "northbound", "out": "southbound"}
SQUARE = {"name": "square", "role": "dwell", "polygon": [[100, 100], [300, 100], [300, 300], [100, 300]]}


# --- reading -------------------------------------------------------------------------------------


def test_reads_lines_and_dwell_zones_and_skips_other_roles():
    sidewalk = {"name": "walk", "role": "sidewalk", "polygon": [[0, 0], [10, 0], [10, 10]]}
    g = parse_count_geometry(json.dumps({"size": [768, 432], "zones": [MID, SQUARE, sidewalk]}), SIZE)
    assert [(ln.name, ln.start, ln.end, ln.in_label, ln.out_label) for ln in g.lines] == [
        ("mid", (0.0, 216.0), (768.0, 216.0), "northbound", "southbound")]
    assert [z.name for z in g.zones] == ["square"] and g.size == SIZE and g.notes == ()


def test_default_direction_names():
    g = parse_count_geometry([{"name": "l", "line": [[0, 0], [10, 10]]}], SIZE)
    assert (g.lines[0].in_label, g.lines[0].out_label) == ("in", "out")


@pytest.mark.parametrize(
    ("data", "drawn", "message"),
    [
        # an end of the line beyond the right edge
        ([{"name": "l", "line": [[0, 10], [800, 10]]}], None, "point [800, 10] lies outside the 768x432 frame"),
        # a zone vertex above the frame
        ([{"name": "z", "role": "dwell", "polygon": [[0, -1], [10, 0], [10, 10]]}], None, "outside the 768x432 frame"),
        ([{"name": "l", "line": [[5, 5], [5, 5]]}], None, "zero length"),
        # drawn on another clip: both sizes named
        ({"size": [640, 360], "zones": [MID]}, None, "drawn on a 640x360 frame but the clip is 768x432"),
        ([MID], (1280, 720), "drawn on a 1280x720 frame but the clip is 768x432"),
        ([MID, MID], None, "line name 'mid' is used twice"),
        ([{"name": "l", "line": [[0, "a"], [5, 5]]}], None, "expected [x, y] finite pixel numbers"),
        ([{"name": "l", "line": [[0, 0]]}], None, "expected [[x1, y1], [x2, y2]]"),
        ([{"name": "", "line": [[0, 0], [5, 5]]}], None, "name ''"),
        ([{"name": "z", "role": "dwell", "polygon": [[0, 0], [1, 1]]}], None, "3 to 1,000"),
        ([{"name": "nothing"}], None, 'neither "line" nor "polygon"'),
        (["mid"], None, "object 0 is not an object"),
        ('{"zones": [', None, "not JSON"),
        ({"size": [0, 5], "zones": []}, None, "size '[0, 5]'"),
    ],
)
def test_refused_in_one_line(data, drawn, message):
    with pytest.raises(DataFormatError) as e:
        parse_count_geometry(data, SIZE, drawn)
    assert message in str(e.value)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_crossing_lines_and_a_whole_frame_zone_are_accepted_with_notes():
    cross = {"name": "diag", "line": [[0, 0], [768, 432]]}
    everything = {"name": "all", "role": "dwell", "polygon": [[0, 0], [768, 0], [768, 432], [0, 432]]}
    g = parse_count_geometry([MID, cross, everything], SIZE)
    assert len(g.lines) == 2 and len(g.zones) == 1
    assert any("'mid' and 'diag' cross" in n for n in g.notes)
    assert any("'all' covers the whole frame" in n for n in g.notes)


# --- crossings -----------------------------------------------------------------------------------

LINE = CountLine("mid", (0.0, 216.0), (768.0, 216.0), "northbound", "southbound")


def path(ys, x=300.0):
    return np.array([[x, y] for y in ys], dtype=float)


def test_crossings_in_both_directions():
    up = line_crossings(range(5), path([300, 260, 220, 180, 140]), LINE)
    down = line_crossings(range(5), path([140, 180, 220, 260, 300]), LINE)
    assert [(c.direction, c.t) for c in up] == [("in", pytest.approx(2.1))]
    assert [(c.direction, c.t) for c in down] == [("out", pytest.approx(1.9))]


def test_jitter_on_the_line_counts_once():
    ys = [260, 230, 218, 214, 217, 215, 218, 213, 190, 150]
    assert [c.direction for c in line_crossings(range(len(ys)), path(ys), LINE)] == ["in"]


def test_touching_the_line_and_turning_back_is_not_counted():
    ys = [300, 250, 218, 215, 217, 250, 300]
    assert line_crossings(range(len(ys)), path(ys), LINE) == []


def test_going_back_well_beyond_the_line_counts_each_way():
    ys = [260, 200, 180, 230, 260, 190]
    assert [c.direction for c in line_crossings(range(len(ys)), path(ys), LINE)] == ["in", "out", "in"]


def test_passing_beyond_the_end_of_a_short_line_is_not_counted():
    short = CountLine("short", (0.0, 216.0), (200.0, 216.0))
    assert line_crossings(range(3), path([300, 216, 100], x=400), short) == []
    assert len(line_crossings(range(3), path([300, 216, 100], x=100), short)) == 1


def test_direction_follows_the_drawn_order_of_the_line():
    reverse = CountLine("rev", (768.0, 216.0), (0.0, 216.0))
    assert [c.direction for c in line_crossings(range(2), path([300, 100]), reverse)] == ["out"]


def test_crossings_of_tracked_bottom_centres():
    # two cars drive up and two down across y = 216, as in the sample clip's hand count
    def car(cx, y0, vy):
        return [[cx - 40, y0 + vy * k - 50, cx + 40, y0 + vy * k] for k in range(30)]

    paths = [car(150, 420, -12), car(350, 400, -10), car(500, 20, 12), car(650, 60, 10)]
    frames = [([p[k] for p in paths], [0.9] * 4, ["car"] * 4, k / 10) for k in range(30)]
    tracks = track_frames(frames)
    directions = sorted(c.direction for t in tracks for c in line_crossings(t.times, t.bottoms, LINE))
    assert len(tracks) == 4 and directions == ["in", "in", "out", "out"]


# --- zones ---------------------------------------------------------------------------------------

ZONE = DwellZone("square", ((100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)))


def test_points_in_polygon_even_odd_concave():
    # a U shape: the notch is outside
    u = [(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)]
    pts = np.array([[5.0, 20], [15, 20], [25, 20], [15, 5], [40, 5]])
    assert points_in_polygon(pts, u).tolist() == [True, False, True, True, False]


def test_dwell_times():
    xs = [50, 150, 200, 200, 200, 250, 350, 350, 200, 200]
    visits = zone_visits(np.arange(10) * 0.5, np.array([[x, 200.0] for x in xs]), ZONE, merge_gap=0.5)
    assert [(v.enter, v.exit, v.dwell) for v in visits] == [(0.5, 2.5, 2.0), (4.0, 4.5, 0.5)]


def test_border_jitter_is_one_visit():
    xs = [150, 200, 99, 200, 200]
    visits = zone_visits(range(5), np.array([[x, 200.0] for x in xs]), ZONE, merge_gap=2.0)
    assert [(v.enter, v.exit) for v in visits] == [(0.0, 4.0)]


def test_no_visit_when_never_inside():
    assert zone_visits(range(3), np.array([[0.0, 0.0]] * 3), ZONE) == []


def test_peak_occupancy():
    visits = [Visit("z", 0, 10), Visit("z", 1, 2), Visit("z", 2, 4), Visit("z", 5, 6)]
    assert peak_occupancy(visits) == (3, 2.0)
