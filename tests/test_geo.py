"""Cameras CSV, districts GeoJSON and zones: bad files are refused whole, with the row and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analytics.errors import DataFormatError, InputError
from analytics.geo import district_of_points, h3_boundary_geojson, parse_zones, read_cameras_csv, read_districts_geojson
from analytics.store import Store

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
        (_fc({"type": "Feature", "properties": {"name": "X"}, "geometry": {"type": "Polygon", "coordinates": [[[4, 52]]]}}), "malformed"),
        (_fc({"type": "Feature", "properties": {"name": "Far"},
              "geometry": {"type": "Polygon", "coordinates": [[[400, 52], [500, 52], [500, 53], [400, 52]]]}}), "lon/lat"),
        (_fc(), "no features"),
        ("é".encode("latin-1"), "not valid JSON"),  # odd bytes
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


def test_h3_boundary_is_closed_ring() -> None:
    import h3

    ring = h3_boundary_geojson(h3.latlng_to_cell(52.0, 4.0, 7))["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7
