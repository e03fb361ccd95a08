"""data/: the example cameras, districts and zones agree with each other and with the readers;
data/label_maps is the package's built-in label maps, loadable by name and by path."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.evaluation.labelmaps import builtin_label_maps, load_label_map
from analytics.geo import district_of_points, parse_zones, read_cameras_csv, read_districts_geojson
from analytics.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = DATA / "examples"


def test_every_example_camera_lies_in_an_example_district() -> None:
    cameras = read_cameras_csv(EXAMPLES / "cameras.csv")
    districts = read_districts_geojson(EXAMPLES / "districts.geojson")
    found = district_of_points(cameras["lon"].to_numpy(), cameras["lat"].to_numpy(), districts)
    assert len(cameras) == 5 and len(districts) == 4
    assert all(isinstance(d, str) and d for d in found), dict(zip(cameras["camera_id"], found, strict=True))
    assert set(found) == set(districts["district_id"])  # every district has a camera


def test_examples_import_into_a_store(tmp_path: Path) -> None:
    with open_store(tmp_path / "x.duckdb") as store:
        store.upsert_districts(read_districts_geojson(EXAMPLES / "districts.geojson"))
        store.upsert_cameras(read_cameras_csv(EXAMPLES / "cameras.csv"))
        cameras = store.cameras()
    assert cameras["district_id"].notna().all() and len(cameras) == 5


def test_example_zones_fit_a_720p_frame() -> None:
    zones = parse_zones(EXAMPLES / "zones.json", frame_size=(1280, 720))
    assert set(zones["role"]) == {"sidewalk", "lane"} and len(zones) == 3


@pytest.mark.parametrize("name", builtin_label_maps())
def test_label_maps_folder_is_the_builtin_maps(name: str) -> None:
    by_path = load_label_map(DATA / "label_maps" / f"{name}.json")
    assert by_path.pairs == load_label_map(name).pairs
    assert sorted(p.stem for p in (DATA / "label_maps").glob("*.json")) == list(builtin_label_maps())
