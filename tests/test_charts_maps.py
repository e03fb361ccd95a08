"""analytics.visual.charts and analytics.visual.maps: figures follow the rules (units, period, missing cells grey, offline)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics.reports import figures, html
from analytics.reports.content import build_report
from analytics.selection import Selection
from analytics.store import Store, catalog
from analytics.visual import charts, layers, maps
from tests.dashboard_helpers import demo_database

SQUARE = json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]})
SQUARE2 = json.dumps({"type": "Polygon", "coordinates": [[[1, 0], [1, 1], [2, 1], [2, 0], [1, 0]]]})


def _values(enough: list[bool]) -> pd.DataFrame:
    # two districts: 'a' with 0.2 (enough frames), 'b' with too few frames (value NaN)
    return pd.DataFrame(
        {
            "district": ["a", "b"], "indicator": "green_view", "value": [0.2 if e else np.nan for e in enough],
            "ci_low": [0.1 if e else np.nan for e in enough], "ci_high": [0.3 if e else np.nan for e in enough],
            "n_frames": [500, 3], "n_clips": [10, 1], "enough": enough,
        }
    )


def _areas() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b"], "name": ["A", "B"], "geometry_geojson": [SQUARE, SQUARE2]})


CAMS = pd.DataFrame({"camera_id": ["c1"], "name": ["Cam"], "lon": [0.5], "lat": [0.5], "n_frames": [500], "value": [0.2]})


def _bar(fig: go.Figure) -> go.Scatter:
    return next(tr for tr in fig.data if tr.marker is not None and tr.marker.showscale)


def test_choropleth_is_offline_and_draws_short_cells_grey_and_hatched() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, False]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "1 Nov – 7 Nov 2026", min_frames=30)
    types = {tr.type for tr in fig.data}
    assert types == {"scatter"}  # no tiles, no internet
    missing = [tr for tr in fig.data if tr.name and "not enough data" in tr.name]
    assert len(missing) == 1 and missing[0].fillpattern.shape == "/" and missing[0].fillcolor == charts.MISSING_COLOR
    title = fig.layout.title.text
    assert "Green view index (%)" in title and "1 Nov – 7 Nov 2026" in title
    bar = _bar(fig)
    assert "(%" in bar.marker.colorbar.title.text and "1 Nov" in bar.marker.colorbar.title.text
    assert "darker green = better" in bar.marker.colorbar.title.text
    assert bar.marker.colorscale[0][1] == "#ffffe5" and bar.marker.colorscale[-1][1] == "#004529"  # YlGn: greener is better
    assert [c for c in fig.data[-1].customdata] == ["camera:c1"]


@pytest.mark.parametrize(
    ("name", "first", "last", "reading"),
    [
        ("green_view", "#ffffe5", "#004529", "darker green = better"),  # more green is good
        ("distress_share", "#ffffcc", "#800026", "darker red = worse"),  # more damage is bad
        ("road_occupancy", "#ffffcc", "#800026", "darker red = worse"),  # more traffic is bad
        ("sky_view", "#f7fbff", "#08306b", "darker = more"),  # a description: neither
    ],
)
def test_one_colour_logic_by_which_way_is_better(name: str, first: str, last: str, reading: str) -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]).assign(indicator=name), "district", name)
    bar = _bar(maps.choropleth(polys, CAMS, name, "p"))
    assert (bar.marker.colorscale[0][1], bar.marker.colorscale[-1][1]) == (first, last)
    assert reading in bar.marker.colorbar.title.text


@pytest.mark.parametrize("name", ["green_view", "distress_share"])
def test_dashboard_and_report_maps_use_the_same_scale(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = Store(demo_database(tmp_path_factory))
    try:
        content = build_report(store, Selection(start=date(2026, 11, 9), end=date(2026, 11, 15), min_frames=30), None, main_indicator=name)
    finally:
        store.close()
    pdf = figures.map_layers(content).scale  # the PDF draws this stack
    html_bar = _bar(html.map_figure(content))
    d = content.districts
    values = pd.DataFrame({"district": d["district_id"], "indicator": name, "value": d["value"], "ci_low": d["value"],
                           "ci_high": d["value"], "n_frames": 100, "n_clips": 1, "enough": d["value"].notna()})
    areas = pd.DataFrame({"id": d["district_id"], "name": d["name"], "geometry_geojson": d["geometry_geojson"]})
    dash_bar = _bar(maps.choropleth(maps.polygons_frame(areas, values, "district", name), CAMS.iloc[:0], name, "p"))
    stops = [list(s) for s in pdf.stops]
    assert [list(s) for s in dash_bar.marker.colorscale] == [list(s) for s in html_bar.marker.colorscale] == stops
    assert pdf.reading and pdf.reading in dash_bar.marker.colorbar.title.text and pdf.reading in html_bar.marker.colorbar.title.text
    assert layers.indicator_scale(name, d["value"]).stops == pdf.stops


def test_choropleth_uses_tiles_only_when_a_tile_url_is_set() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "p", tile_url="http://tiles.example/{z}/{x}/{y}.png")
    assert {tr.type for tr in fig.data} == {"scattermap"}
    assert fig.layout.map.style["sources"]["base"]["tiles"] == ["http://tiles.example/{z}/{x}/{y}.png"]


def test_choropleth_stacks_labels_scale_bar_and_north_arrow_offline_and_on_tiles() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, False]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "p")
    labels = [t for tr in fig.data if tr.mode == "text" for t in tr.text]
    assert sorted(labels) == ["<b>A</b><br>20.0%", "<b>B</b><br>not enough data"]
    bar = fig.layout.shapes[0]
    assert bar.type == "line" and bar.y0 == bar.y1 and bar.x0 < bar.x1 <= fig.layout.xaxis.range[1]
    assert {a.text for a in fig.layout.annotations} == {"50 km", "<b>N</b>"}  # 2.16° with margins at the equator: 240 km
    tiled = maps.choropleth(polys, CAMS, "green_view", "p", tile_url="http://tiles.example/{z}/{x}/{y}.png")
    assert [a.text for a in tiled.layout.annotations] == ["<b>N</b>"]  # a tile map is drawn north up
    assert any(tr.name == "scale bar: 50 km" and tr.mode == "lines" for tr in tiled.data)
    location = maps.camera_location_figure({"name": "Cam", "lon": 0.5, "lat": 0.5}, _areas().rename(columns={"id": "district_id"}))
    assert "<b>N</b>" in {a.text for a in location.layout.annotations} and location.layout.shapes[0].type == "line"


# an L-shaped district whose label sits in its corner: its arms must answer too
ELL = json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 1], [1, 1], [1, 3], [0, 3], [0, 0]]]})


def test_hover_and_click_answer_anywhere_inside_an_area() -> None:
    east = json.dumps({"type": "Polygon", "coordinates": [[[3, 0], [3, 1], [4, 1], [4, 0], [3, 0]]]})
    areas = pd.DataFrame({"id": ["ell", "b"], "name": ["Ell", "B"], "geometry_geojson": [ELL, east]})
    values = _values([True, True]).assign(district=["ell", "b"])
    fig = maps.choropleth(maps.polygons_frame(areas, values, "district", "green_view"), CAMS.iloc[:0], "green_view", "p")
    hits = next(tr for tr in fig.data if tr.customdata is not None and str(tr.customdata[0]).startswith("district:"))
    xy = np.c_[hits.x, hits.y]
    for lon, lat, key in [(2.6, 0.5, "district:ell"), (0.5, 2.6, "district:ell"), (3.5, 0.5, "district:b")]:  # two arms, one square
        nearest = int(np.argmin(np.hypot(xy[:, 0] - lon, xy[:, 1] - lat)))
        assert hits.customdata[nearest] == key and np.hypot(*(xy[nearest] - (lon, lat))) < 0.1
    assert "Ell" in hits.hovertext[0] and hits.marker.opacity == 0  # the area's tooltip, on invisible points


def test_a_selection_outlines_the_area_and_fades_no_label() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "p", selected="a")
    for tr in fig.data:
        if tr.mode == "text":
            assert tr.unselected.textfont.color == tr.textfont.color == tr.selected.textfont.color
    outline = [tr for tr in fig.data if tr.mode == "lines" and tr.line.width == 4]
    assert len(outline) == 1 and max(v for v in outline[0].x if v is not None) == 1  # square 'a' spans lon 0–1
    cams = next(tr for tr in fig.data if tr.customdata is not None and tr.customdata[0] == "camera:c1")
    assert cams.unselected.marker.opacity == cams.marker.opacity


def test_h3_cells_are_named_by_district_and_drawn_under_district_outlines() -> None:
    cell = h3.latlng_to_cell(0.5, 0.5, 7)
    values = pd.DataFrame({"h3": [cell], "indicator": "green_view", "value": [0.2], "ci_low": [0.1], "ci_high": [0.3],
                           "n_frames": [500], "n_clips": [10], "enough": [True]})
    districts = _areas().rename(columns={"id": "district_id"})
    areas = maps.h3_areas(values, districts)
    assert list(areas["name"]) == ["A"]
    fig = maps.choropleth(maps.polygons_frame(areas, values, "h3", "green_view"), CAMS, "green_view", "p", kind="h3",
                          outlines=maps.district_areas(districts))
    hits = next(tr for tr in fig.data if tr.customdata is not None and str(tr.customdata[0]).startswith("h3:"))
    tip = hits.hovertext[0]
    assert tip.startswith("<b>A</b><br>Green view index: 20.0%") and tip.rstrip("</span>").endswith(cell)  # the id last
    assert any(tr.name == "district boundary" for tr in fig.data)
    assert list(maps.h3_areas(values)["name"]) == ["H3 cell"]


def test_area_without_frames_is_missing_not_zero() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]).iloc[:1], "district", "green_view")
    row = polys.set_index("id").loc["b"]
    assert not row["enough"] and row["n_frames"] == 0 and row["text"] == "not enough data"


def test_charts_on_demo_city(tmp_path_factory: pytest.TempPathFactory) -> None:
    path: Path = demo_database(tmp_path_factory)
    store = Store(path)
    try:
        names = ["green_view", "people_per_frame"]
        kpi = charts.kpi_table(names, *catalog.city_values(store, names, Selection(start=date(2026, 11, 9), end=date(2026, 11, 15), min_frames=30)))
        assert kpi["n_frames"].gt(0).all() and kpi["change_text"].notna().all()
        assert kpi.loc[kpi["indicator"] == "green_view", "change_text"].iloc[0].endswith(" points")
        from analytics.indicators import compute

        heat = compute(store, Selection(min_frames=30), by=["hour", "weekday"], indicators=["green_view"]).rename(
            columns={"k_hour": "hour", "k_weekday": "weekday"}
        )
        fig = charts.heatmap_figure(heat, "green_view", "all data")
        green = layers.indicator_scale("green_view", heat["value"])  # the maps' colour logic: more green is better
        assert [list(c) for c in fig.data[1].colorscale] == [[p, c] for p, c in green.stops] and green.name == "YlGn"
        assert (fig.data[1].zmin, fig.data[1].zmax) == (green.vmin, green.vmax)
        assert np.isnan(fig.data[1].z).any()  # night hours: no data, grey
        shares = catalog.class_shares(store, Selection(cameras=["old-town-1"]))
        sums = shares.groupby("t")["share"].sum()
        assert np.allclose(sums, 1.0, atol=1e-9)  # shares of valid pixels add up
        table = charts.readable_table(heat, ["weekday", "hour"])
        assert "ok" in set(table["status"]) and table["value"].max() > 1  # percentages
    finally:
        store.close()


def test_a_clicked_point_reads_the_same_from_a_dict_and_an_attribute_event() -> None:
    from types import SimpleNamespace

    from analytics.visual.clicks import clicked_point

    points = [{"curve_number": 1, "point_index": 0, "customdata": [7]},  # a custom value without a kind: skipped
              {"curve_number": 2, "point_index": 5, "customdata": ["camera:old-town-1", 0.3], "lat": 52.3, "lon": 4.9}]
    as_dict = {"selection": {"points": points}}
    as_object = SimpleNamespace(selection=SimpleNamespace(points=points))
    for event in (as_dict, as_object):
        p = clicked_point(event, needs=("tag",))
        assert p is not None and (p.tag, p.curve, p.index, p.lat, p.lon) == (("camera", "old-town-1"), 2, 5, 52.3, 4.9)
    assert clicked_point(as_dict, curve=0) is None and clicked_point(None) is None  # no point of trace 0; no event


# -- phone width: legends and colour bars under the plot, labels readable on their bars -----------


def _long(values: list[float], indicator: str = "green_view") -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({"district": [f"d{i}" for i in range(n)], "indicator": indicator, "value": values,
                         "ci_low": [v * 0.9 for v in values], "ci_high": [v * 1.1 for v in values], "n_frames": 100,
                         "n_clips": 3, "enough": True, "day": [date(2026, 11, 2)] * n})


def test_chart_legends_sit_under_the_plot_and_titles_take_two_lines() -> None:
    days = pd.date_range("2026-11-02", periods=7).date
    long = pd.concat([_long([0.1, 0.2, 0.3]).assign(day=d) for d in days], ignore_index=True)
    fig = charts.timeseries_figure(long, "district", "green_view", "2 Nov – 8 Nov 2026")
    legend = fig.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0.0, "bottom")
    assert fig.layout.title.text.startswith("Green view index (%) by day<br>") and "2 Nov – 8 Nov 2026" in fig.layout.title.text
    assert fig.layout.xaxis.tickangle is None and list(fig.layout.xaxis.autotickangles) == [0, 30, 90], \
        "crowded date labels turn instead of running into each other"
    assert charts.two_line_title("no separator") == "no separator"


def test_map_colour_bar_lies_under_the_map_and_the_view_fills_the_width() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "1 Nov – 7 Nov 2026")
    bar = _bar(fig).marker.colorbar
    assert bar.orientation == "h" and bar.y < 0 and bar.yanchor == "top", "a colour bar at the side halves a phone's map"
    assert fig.layout.xaxis.constrain == "range" and fig.layout.yaxis.constrain == "range"


def test_a_camera_at_a_districts_label_point_does_not_hide_its_name() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]), "district", "green_view")
    anchor = layers.label_point([np.array([[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]], dtype=float)])
    cams = CAMS.assign(lon=[anchor[0]], lat=[anchor[1]])
    fig = maps.choropleth(polys, cams, "green_view", "p")
    named = [(x, y) for tr in fig.data if tr.mode == "text" for x, y, t in zip(tr.x, tr.y, tr.text, strict=True) if "<b>A</b>" in t]
    assert len(named) == 1 and named[0] != anchor, "the label moved off the camera"


@pytest.mark.parametrize(
    ("values", "pale_ink"),
    [
        ([0.05, 0.06, 0.30], True),  # the lowest values get the palest colours: dark text on them
        ([0.30, 0.31, 0.32], True),  # all close: the scale still starts pale
    ],
)
def test_bar_labels_contrast_with_their_bar(values: list[float], pale_ink: bool) -> None:
    fig = charts.ranked_bars_figure(_long(values), "district", "green_view", "p")
    bar = next(tr for tr in fig.data if tr.type == "bar" and tr.textposition == "inside")
    pairs = list(zip(bar.marker.color, bar.textfont.color, strict=True))
    for fill, ink in pairs:
        assert ink == layers.text_colour(fill), (fill, ink)
    assert (layers.INK in [ink for _, ink in pairs]) is pale_ink, "a pale bar gets dark text, not white"
