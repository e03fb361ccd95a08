"""Cameras CSV, districts GeoJSON and zones: bad files are refused whole, with the row and reason."""

from __future__ import annotations

import ast
import dataclasses
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from analytics import geo
from analytics.errors import DataFormatError, InputError
from analytics.geo import (
    district_index,
    district_of_points,
    h3_boundary_geojson,
    parse_zones,
    polygon_rings,
    read_cameras_csv,
    read_districts_geojson,
)
from analytics.store import Store
from tests.helpers import ROAD, clip_from_pixels

GOOD_CSV = b"camera_id,name,lon,lat,heading,kind\ncam-1,Main St,4.9,52.37,90,fixed\ncam-2,Bus 12,4.91,52.38,,mobile\n"


def test_good_cameras_csv() -> None:
    df = read_cameras_csv(GOOD_CSV)
    assert df["camera_id"].tolist() == ["cam-1", "cam-2"]
    assert df["kind"].tolist() == ["fixed", "mobile"]


@pytest.mark.parametrize(
    ("csv", "match"),
    [
        (b"id,x,y\n1,2,3\n", "missing column"),  # wrong header
        (b"camera_id,lon,lat\nc1,181,10\n", r"row 2 \(c1\): lon '181'"),  # out of range longitude
        (b"camera_id,lon,lat\nc1,10,-91\n", r"lat '-91'"),  # out of range latitude
        (b"camera_id,lon,lat\nc1,,10\n", r"lon \(empty\)"),  # missing coordinate
        (b"camera_id,lon,lat\nc1,east,10\n", "lon 'east'"),  # text instead of a number
        (b"camera_id,lon,lat\nc 1!,1,1\n", "camera_id"),  # odd characters in the id
        (b"camera_id,lon,lat\nc1,1,1\nc1,2,2\n", "duplicate camera_id"),
        (b"camera_id,lon,lat,kind\nc1,1,1,drone\n", "kind 'drone'"),
        (b"camera_id,lon,lat,heading\nc1,1,1,400\n", "heading 400"),
        (b"", "cannot be read"),  # empty file
        (b"camera_id,lon,lat\n", "no cameras"),  # header only
    ],
)
def test_bad_cameras_csv(csv: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_cameras_csv(csv)


def test_bad_csv_changes_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "g.duckdb")
    s.upsert_cameras(read_cameras_csv(GOOD_CSV))
    with pytest.raises(InputError):
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1", "x"], "lon": [1.0, 999.0], "lat": [1.0, 1.0]}))
    assert s.camera("cam-1")["lon"] == pytest.approx(4.9)  # the good row of the bad file did not land either
    assert len(s.cameras()) == 2


SQUARE = {"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [5, 53], [4, 53], [4, 52]]]}


def _fc(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_good_geojson_and_point_in_polygon() -> None:
    df = read_districts_geojson(_fc({"type": "Feature", "properties": {"name": "Centrum"}, "geometry": SQUARE}))
    assert df["district_id"].tolist() == ["centrum"]
    assert district_of_points([4.5, 9.0], [52.5, 9.0], df).tolist() == ["centrum", None]


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"type": "Feature"}).encode(), "FeatureCollection"),
        (_fc({"type": "Feature", "properties": {"name": "P"}, "geometry": {"type": "Point", "coordinates": [4, 52]}}), "'Point'"),
        (_fc({"type": "Feature", "properties": {}, "geometry": SQUARE}), "missing 'name'"),
        (_fc({"type": "Feature", "properties": {"name": "X"}, "geometry": {"type": "Polygon", "coordinates": [[[4, 52]]]}}), "at least 4"),
        (_fc({"type": "Feature", "properties": {"name": "Far"},
              "geometry": {"type": "Polygon", "coordinates": [[[400, 52], [500, 52], [500, 53], [400, 52]]]}}), "lon/lat"),
        (_fc(), "no features"),
        ("é".encode("latin-1"), "not UTF-8"),  # odd bytes
        # NaN inside a ring: refused before GEOS sees it (GEOS raised an exception of its own)
        (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "N"}, "geometry": '
         b'{"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [NaN, 53], [4, 52]]]}}]}', "NaN is not a number"),
        (_fc({"type": "Feature", "properties": {"name": "N"},
              "geometry": {"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [float("nan"), 53], [4, 52]]]}}), "NaN"),
        (_fc({"type": "Feature", "properties": {"name": "Big"},
              "geometry": {"type": "Polygon", "coordinates": [[[4, 52], [10**400, 52], [5, 53], [4, 52]]]}}), "finite"),
        (_fc({"type": "Feature", "properties": {"name": "Flat"},
              "geometry": {"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [6, 52], [4, 52]]]}}), "no area"),
        (_fc({"type": "Feature", "properties": {"name": "a\u202egpj.exe"}, "geometry": SQUARE}), "text-direction"),
        (_fc({"type": "Feature", "properties": {"name": "ok", "id": "=HYPERLINK(1)"}, "geometry": SQUARE}), "district id"),
        (_fc({"type": "Feature", "properties": {"name": "ok", "id": "x" * 65}, "geometry": SQUARE}), "district id"),
        (_fc({"type": "Feature", "properties": "name", "geometry": SQUARE}), "'properties' must be an object"),
        # nested deeply enough to exhaust Python's recursion (json.loads raised RecursionError)
        (b'{"type": "FeatureCollection", "features": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "too deeply"),
    ],
)
def test_bad_geojson(payload: bytes, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        read_districts_geojson(payload)


def test_zones_parse_and_validate() -> None:
    ok = parse_zones(json.dumps([{"name": "north", "role": "sidewalk", "polygon": [[0, 0], [10, 0], [10, 10]]}]).encode(), (20, 20))
    assert ok["role"].tolist() == ["sidewalk"]
    with pytest.raises(DataFormatError, match="role 'moat'"):
        parse_zones(json.dumps([{"name": "a", "role": "moat", "polygon": [[0, 0], [1, 0], [1, 1]]}]).encode())
    with pytest.raises(DataFormatError, match="outside the 20x20 frame"):
        parse_zones(json.dumps([{"name": "a", "role": "lane", "polygon": [[0, 0], [99, 0], [1, 1]]}]).encode(), (20, 20))
    with pytest.raises(DataFormatError, match="at least 3"):
        parse_zones(json.dumps([{"name": "a", "role": "lane", "polygon": [[0, 0]]}]).encode())
    with pytest.raises(DataFormatError, match="too deeply"):
        parse_zones(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(DataFormatError, match="Infinity"):
        parse_zones(b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [Infinity, 0], [1, 1]]}]')
    with pytest.raises(DataFormatError, match="control character"):
        parse_zones(json.dumps([{"name": "a\u0000b", "role": "lane", "polygon": [[0, 0], [1, 0], [1, 1]]}]).encode())


def test_long_names_get_ids_within_the_rule() -> None:
    df = read_districts_geojson(_fc({"type": "Feature", "properties": {"name": "Straße " * 20}, "geometry": SQUARE}))
    assert len(df["district_id"].iloc[0]) <= 64 and df["district_id"].iloc[0].startswith("straße-straße")


def test_camera_names_with_controls_are_refused() -> None:
    bad = "camera_id,lon,lat,name\ncam-1,4.9,52.3,evil\u202egnp.exe\n".encode()
    with pytest.raises(InputError, match="text-direction"):
        read_cameras_csv(bad)


def test_h3_boundary_is_closed_ring() -> None:
    import h3

    ring = h3_boundary_geojson(h3.latlng_to_cell(52.0, 4.0, 7))["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7


# -- point in polygon -----------------------------------------------------------------------------
def _square(x0: float, y0: float, size: float) -> str:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# 'a' covers lon 4..5, 'b' covers lon 4.5..5.5 (they overlap between 4.5 and 5); both lat 52..53
OVERLAPPING = pd.DataFrame({"district_id": ["a", "b"], "geometry_geojson": [_square(4, 52, 1), _square(4.5, 52, 1)]})


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (4.2, 52.5, "a"),  # only in a
        (4.7, 52.5, "a"),  # in both: the first district of the table wins
        (5.2, 52.5, "b"),  # only in b
        (4.0, 52.5, None),  # on a's western border: borders are outside
        (9.0, 9.0, None),  # outside every district
        (float("nan"), 52.5, None),  # no position
    ],
)
def test_district_index_places_points(lon: float, lat: float, expected: str | None) -> None:
    assert district_index(OVERLAPPING).locate([lon], [lat]).tolist() == [expected]


def test_district_index_agrees_with_testing_every_polygon() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(3.8, 5.8, 5000), rng.uniform(51.8, 53.2, 5000)
    naive = np.full(len(lon), None, dtype=object)
    for did, gj in zip(OVERLAPPING["district_id"], OVERLAPPING["geometry_geojson"]):
        inside = shapely.contains_xy(shapely.from_geojson(gj), lon, lat) & (naive == None)  # noqa: E711 - elementwise
        naive[inside] = did
    assert district_of_points(lon, lat, district_index(OVERLAPPING)).tolist() == naive.tolist()
    assert district_of_points(lon, lat, OVERLAPPING).tolist() == naive.tolist()  # the table itself works too


@pytest.mark.parametrize(
    ("districts", "lon", "lat", "error", "match"),
    [
        (OVERLAPPING, [4.2, 4.3], [52.5], InputError, "2 longitudes but 1 latitudes"),  # unpaired coordinates
        (OVERLAPPING[["district_id"]], [4.2], [52.5], InputError, "lacks column.*geometry_geojson"),  # no geometry column
        (pd.DataFrame({"district_id": ["x"], "geometry_geojson": ["{oops"]}), [4.2], [52.5], DataFormatError, "not valid GeoJSON"),
    ],
)
def test_district_look_up_refuses_bad_input(districts: pd.DataFrame, lon: list, lat: list, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        district_of_points(lon, lat, districts)


def test_no_districts_places_nothing() -> None:
    empty = pd.DataFrame({"district_id": [], "geometry_geojson": []})
    assert district_of_points([4.2], [52.5], empty).tolist() == [None]


RING = [[0, 0], [1, 0], [1, 1], [0, 0]]


@pytest.mark.parametrize(
    ("geometry", "shapes"),
    [
        ({"type": "Polygon", "coordinates": [RING, [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.2]]]}, [(4, 2)]),  # holes ignored
        ({"type": "MultiPolygon", "coordinates": [[RING], [RING[:3] + [RING[0]]]]}, [(4, 2), (4, 2)]),  # one ring per part
        ({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [RING]}}, [(4, 2)]),  # a feature
        ({"type": "GeometryCollection", "geometries": [{"type": "Polygon", "coordinates": [RING]},
                                                        {"type": "Point", "coordinates": [0, 0]}]}, [(4, 2)]),  # make_valid output
        ({"type": "Point", "coordinates": [0, 0]}, []),  # nothing to draw
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, []),  # a ring too short to draw
        ("{not json", []),  # unreadable text
    ],
)
def test_polygon_rings(geometry: dict | str, shapes: list[tuple[int, int]]) -> None:
    text = geometry if isinstance(geometry, str) else json.dumps(geometry)
    assert [r.shape for r in polygon_rings(text)] == shapes
    if not isinstance(geometry, str):
        assert [r.shape for r in polygon_rings(geometry)] == shapes  # parsed dicts too


def test_geo_never_imports_the_store() -> None:
    tree = ast.parse(Path(geo.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("analytics.store")]


# -- the store places cameras and frames ----------------------------------------------------------
WEST, EAST = _square(4.0, 52.0, 0.1), _square(4.2, 52.0, 0.1)


def test_store_places_fixed_cameras_and_mobile_frames(tmp_path: Path) -> None:
    s = Store(tmp_path / "p.duckdb")
    s.upsert_cameras(pd.DataFrame({"camera_id": ["post", "bus"], "lon": [4.05, 9.0], "lat": [52.05, 9.0], "kind": ["fixed", "mobile"]}))
    s.ingest(clip_from_pixels("post", datetime(2026, 3, 2, 8), [{ROAD: 10}], label="post"))
    bus = clip_from_pixels("bus", datetime(2026, 3, 2, 9), [{ROAD: 10}, {ROAD: 10}, {ROAD: 10}], label="bus")
    s.ingest(dataclasses.replace(bus, lon=np.array([4.05, 4.25, 7.0]), lat=np.array([52.05, 52.05, 52.05])))

    s.upsert_districts(pd.DataFrame({"district_id": ["west", "east"], "name": ["West", "East"], "geometry_geojson": [WEST, EAST]}))
    frames = s.query_df("SELECT camera_id, coalesce(district_id, '-') AS d FROM frames ORDER BY camera_id, lon")
    assert frames.values.tolist() == [["bus", "west"], ["bus", "east"], ["bus", "-"], ["post", "west"]]  # each frame where it was
    assert s.camera("post")["district_id"] == "west" and s.camera("bus")["district_id"] is None  # the bus depot is outside

    s.upsert_cameras(pd.DataFrame({"camera_id": ["post"], "lon": [4.25], "lat": [52.05]}))  # the post moves east
    assert s.query_df("SELECT district_id FROM frames WHERE camera_id = 'post'")["district_id"].tolist() == ["east"]


def test_a_camera_keeps_its_own_time_zone_and_an_unknown_one_is_refused(tmp_path):
    from analytics.store import Store

    ok = read_cameras_csv(b"camera_id,lon,lat,timezone\nzh,8.5,47.3,Europe/Zurich\nutc,8.6,47.3,\n")
    assert ok["timezone"].tolist() == ["Europe/Zurich", None]
    with Store(str(tmp_path / "t.duckdb")) as store:
        store.upsert_cameras(ok)
        assert store.camera("zh")["timezone"] == "Europe/Zurich" and store.camera("utc")["timezone"] is None
    with pytest.raises(InputError, match="timezone 'Mars/Olympus' is unknown; expected an IANA name"):
        read_cameras_csv(b"camera_id,lon,lat,timezone\nx,8.5,47.3,Mars/Olympus\n")
