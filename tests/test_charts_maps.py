"""analytics.visual.charts and analytics.visual.maps: figures follow the rules (units, period, missing cells grey, offline)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.store import Store, catalog
from analytics.visual import charts, maps
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


def test_choropleth_is_offline_and_draws_short_cells_grey_and_hatched() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, False]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "1 Nov – 7 Nov 2026", min_frames=30)
    types = {tr.type for tr in fig.data}
    assert types == {"scatter"}  # no tiles, no internet
    missing = [tr for tr in fig.data if tr.name and "not enough data" in tr.name]
    assert len(missing) == 1 and missing[0].fillpattern.shape == "/" and missing[0].fillcolor == charts.MISSING_COLOR
    title = fig.layout.title.text
    assert "Green view index (%)" in title and "1 Nov – 7 Nov 2026" in title
    bar = next(tr for tr in fig.data if tr.marker is not None and tr.marker.showscale)
    assert "(%" in bar.marker.colorbar.title.text and "1 Nov" in bar.marker.colorbar.title.text
    assert bar.marker.colorscale[0][1] == "#440154"  # viridis
    assert [c for c in fig.data[-1].customdata] == ["camera:c1"]


def test_choropleth_uses_tiles_only_when_a_tile_url_is_set() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "p", tile_url="http://tiles.example/{z}/{x}/{y}.png")
    assert {tr.type for tr in fig.data} == {"scattermap"}
    assert fig.layout.map.style["sources"]["base"]["tiles"] == ["http://tiles.example/{z}/{x}/{y}.png"]


def test_choropleth_stacks_labels_scale_bar_and_north_arrow_offline() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, False]), "district", "green_view")
    fig = maps.choropleth(polys, CAMS, "green_view", "p")
    labels = next(tr for tr in fig.data if tr.mode == "text")
    assert list(labels.text) == ["<b>A</b><br>20.0%", "<b>B</b><br>not enough data"]
    bar = fig.layout.shapes[0]
    assert bar.type == "line" and bar.y0 == bar.y1 and bar.x0 < bar.x1 <= fig.layout.xaxis.range[1]
    assert {a.text for a in fig.layout.annotations} == {"50 km", "<b>N</b>"}  # 2.16° with margins at the equator: 240 km
    tiled = maps.choropleth(polys, CAMS, "green_view", "p", tile_url="http://tiles.example/{z}/{x}/{y}.png")
    assert not tiled.layout.shapes and not tiled.layout.annotations  # the tile map brings its own frame


def test_area_without_frames_is_missing_not_zero() -> None:
    polys = maps.polygons_frame(_areas(), _values([True, True]).iloc[:1], "district", "green_view")
    row = polys.set_index("id").loc["b"]
    assert not row["enough"] and row["n_frames"] == 0 and row["text"] == "not enough data"


def test_charts_on_demo_city(tmp_path_factory: pytest.TempPathFactory) -> None:
    path: Path = demo_database(tmp_path_factory)
    store = Store(path)
    try:
        names = ["green_view", "people_per_frame"]
        kpi = charts.kpi_table(names, *catalog.city_values(store, names, date(2026, 11, 9), date(2026, 11, 15), min_frames=30))
        assert kpi["n_frames"].gt(0).all() and kpi["change_text"].notna().all()
        assert kpi.loc[kpi["indicator"] == "green_view", "change_text"].iloc[0].endswith(" points")
        from analytics.indicators import compute

        heat = compute(store, by=["hour", "weekday"], indicators=["green_view"], min_frames=30).rename(
            columns={"k_hour": "hour", "k_weekday": "weekday"}
        )
        fig = charts.heatmap_figure(heat, "green_view", "all data")
        assert fig.data[1].colorscale[0][1] == "#440154" and np.isnan(fig.data[1].z).any()  # night hours: no data, grey
        shares = catalog.class_shares(store, camera_id="old-town-1")
        sums = shares.groupby("t")["share"].sum()
        assert np.allclose(sums, 1.0, atol=1e-9)  # shares of valid pixels add up
        table = charts.readable_table(heat, ["weekday", "hour"])
        assert "ok" in set(table["status"]) and table["value"].max() > 1  # percentages
    finally:
        store.close()
