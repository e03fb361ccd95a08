"""``urbanlens export``: GIS layers written with geopandas and read back, their values those of the indicator table."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.geo import read_districts_geojson
from analytics.gis import cell_layer, layer_bytes
from analytics.indicators import compute
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.geodata import export_layer, route_frames
from analytics.visual.drive import drive_figure, route_cells
from analytics.visual.layers import indicator_scale
from tests.helpers import BUILDING, ROAD, VEG, clip_from_pixels, store_with_cameras

WEST = [[4.89, 52.36], [4.90, 52.36], [4.90, 52.38], [4.89, 52.38], [4.89, 52.36]]
EAST = [[4.90, 52.36], [4.91, 52.36], [4.91, 52.38], [4.90, 52.38], [4.90, 52.36]]


@pytest.fixture(scope="module")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two districts; a fixed camera in the west with two clips; a bike whose clip runs from west to east (positions of its own),
    and a later bike clip whose first two frames lie outside its GPS track (no position: NaN, stored NULL)."""
    path = tmp_path_factory.mktemp("export") / "city.duckdb"
    feats = [{"type": "Feature", "properties": {"name": name, "id": did}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
             for did, name, ring in (("west", "West", WEST), ("east", "=HYPERLINK(1)", EAST))]
    with store_with_cameras(str(path), [("cam-1", 4.895, 52.37)]) as s:
        s.upsert_districts(read_districts_geojson(json.dumps({"type": "FeatureCollection", "features": feats}).encode()))
        s.upsert_cameras(pd.DataFrame({"camera_id": ["bike"], "name": ["Bike"], "lon": [4.895], "lat": [52.37], "kind": ["mobile"]}))
        s.ingest(clip_from_pixels("cam-1", datetime(2026, 7, 1, 9), [{ROAD: 60, VEG: 40}] * 4, label="a"))
        s.ingest(clip_from_pixels("cam-1", datetime(2026, 7, 1, 10), [{ROAD: 80, VEG: 20}] * 4, label="b"))
        bike = clip_from_pixels("bike", datetime(2026, 7, 1, 11), [{ROAD: 50, BUILDING: 50}] * 3 + [{VEG: 100}] * 3, label="c")
        s.ingest(dataclasses.replace(bike, lon=np.array([4.898, 4.899, 4.8995, 4.901, 4.902, 4.903]), lat=np.full(6, 52.37),
                                     heading=np.full(6, 90.0)))
        late = clip_from_pixels("bike", datetime(2026, 7, 1, 12), [{ROAD: 50, VEG: 50}] * 4, label="d")
        s.ingest(dataclasses.replace(late, lon=np.array([np.nan, np.nan, 4.8965, 4.8975]), lat=np.array([np.nan, np.nan, 52.37, 52.37]),
                                     heading=np.array([np.nan, np.nan, 90.0, 90.0])))
    return path


@pytest.fixture
def city(tmp_path: Path, _template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "city.duckdb"
    shutil.copyfile(_template, path)
    monkeypatch.setenv("URBANLENS_DB", str(path))
    monkeypatch.setenv("COLUMNS", "400")
    return path


def test_district_layer_holds_the_indicator_table_and_splits_the_drive(city: Path) -> None:
    with Store(city) as s:
        layer = export_layer(s, Selection(), "district", ["green_view"])
        long = compute(s, Selection(), by="district", indicators=["green_view"])
    assert layer.crs.to_epsg() == 4326 and list(layer["district"]) == ["east", "west"]
    assert layer.geometry.geom_type.tolist() == ["Polygon", "Polygon"]
    east = layer.set_index("district").loc["east"]
    assert east["green_view"] == pytest.approx(1.0) and east["n_frames"] == 3 and east["n_clips"] == 1  # the bike's last 3 frames
    expected = long.set_index("district")["value"]
    assert layer.set_index("district")["green_view"].to_dict() == pytest.approx(expected.to_dict())
    assert {"green_view_low", "green_view_high", "green_view_n_frames", "name"} <= set(layer.columns)


@pytest.mark.parametrize(("by", "fmt", "n", "kind"), [("h3", "geojson", None, "Polygon"), ("camera", "geoparquet", 2, "Point"),
                                                      ("frame", "geoparquet", 16, "Point")])
def test_cli_writes_layers_that_geopandas_reads_back(city: Path, tmp_path: Path, by: str, fmt: str, n: int | None, kind: str) -> None:
    out = tmp_path / f"layer.{fmt}"
    result = CliRunner().invoke(app, ["export", "--by", by, "-i", "green_view", "-i", "share_road", "--min-frames", "1",
                                      "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    back = gpd.read_file(out) if fmt == "geojson" else gpd.read_parquet(out)
    assert back.crs.to_epsg() == 4326 and set(back.geometry.geom_type) == {kind}
    assert n is None or len(back) == n
    assert {"green_view", "share_road"} <= set(back.columns)
    if by == "frame":  # the two frames without a position are skipped, and said to be
        bike = back[back["camera_id"] == "bike"].sort_values("ts")
        assert bike.geometry.x.round(4).tolist() == [4.898, 4.899, 4.8995, 4.901, 4.902, 4.903, 4.8965, 4.8975]
        assert bike["green_view"].tolist() == [0.0] * 3 + [1.0] * 3 + [0.5] * 2 and (bike["heading"] == 90.0).all()
        assert "2 frames without a position (outside their GPS track or in a gap) skipped" in result.output
    if by == "h3":  # ... and in no H3 cell
        assert back["n_frames"].sum() == 16 and back.geometry.is_valid.all()
        assert "2 frames without a position (outside their GPS track or in a gap) left out of every H3 cell" in result.output
    if by == "camera":  # they count for their camera
        assert back.set_index("camera")["n_frames"].to_dict() == {"cam-1": 8, "bike": 10}


def test_csv_is_formula_safe_and_the_period_applies(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    result = CliRunner().invoke(app, ["export", "--by", "district", "-i", "green_view", "--format", "csv", "--out", str(out),
                                      "--min-frames", "1", "--from", "2026-07-02"])
    assert result.exit_code == 0, result.output
    assert "0 features" in result.output
    with Store(city) as s:
        text = layer_bytes(export_layer(s, Selection(min_frames=1), "district", ["green_view"]), "csv").decode()
    assert "'=HYPERLINK(1)" in text and "POLYGON" in text


def test_bad_choices_are_refused_in_one_line(city: Path, tmp_path: Path) -> None:
    for args, message in ((["--by", "street"], "--by 'street'"), (["--by", "camera", "--format", "shp"], "--format 'shp'"),
                          (["--by", "camera", "-i", "nope"], "unknown indicator 'nope'")):
        result = CliRunner().invoke(app, ["export", *args, "--out", str(tmp_path / "x")])
        assert isinstance(result.exception, InputError) and message in str(result.exception)
    with pytest.raises(InputError, match="a cell layer by 'frame'"):
        cell_layer(pd.DataFrame(), "frame")


def test_data_page_offers_the_layer_in_every_format(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("URBANLENS_MIN_FRAMES", "1")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/data.py").run()
    at.selectbox(key="data_gis_by").set_value("district").run()
    at.button(key="data_gis_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("2 features by district" in c.value for c in at.caption)
    files = at.session_state["data_gis"][1]
    assert gpd.read_file(io.BytesIO(files["geojson"]))["green_view"].notna().all()
    assert len(gpd.read_parquet(io.BytesIO(files["geoparquet"]))) == 2


def test_drive_map_colours_the_route_by_the_indicator(city: Path) -> None:
    with Store(city) as s:
        route = route_cells(route_frames(s, Selection(cameras=["bike"]), "green_view"), "green_view")
        fig = drive_figure(route, s.districts(), "green_view")
    assert route["lon"].round(4).tolist() == [4.8965, 4.8975, 4.898, 4.899, 4.8995, 4.901, 4.902, 4.903]  # no dot for no position
    assert route["value"].tolist() == [0.5] * 2 + [0.0] * 3 + [1.0] * 3
    dots = next(t for t in fig.data if t.name == "route")
    scale = indicator_scale("green_view", route["value"])
    assert list(dots.marker.color) == [scale.colour(v) for v in [0.5] * 2 + [0.0] * 3 + [1.0] * 3] and scale.name == "YlGn"
    assert any(getattr(t.marker, "showscale", False) for t in fig.data)  # the colour bar
    assert any(a.text == "<b>N</b>" for a in fig.layout.annotations)  # the north arrow, as on every map
