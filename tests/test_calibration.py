"""Ground calibration: a homography from four points (or a road marking) that maps image pixels to metres."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.footage.calibration import apply_homography, homography_from_points, parse_points, rectangle_ground_points
from analytics.store import Store

# a camera looking down a road: ground (X across, Y along, metres) -> image pixels, perspective
TRUE_GROUND_TO_IMAGE = np.array([[40.0, -8.0, 384.0], [0.0, -12.0, 420.0], [0.0, 0.03, 1.0]])


def _to_image(ground: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [tuple(p) for p in apply_homography(TRUE_GROUND_TO_IMAGE, ground).tolist()]  # type: ignore[misc]


def test_a_perspective_view_of_a_lane_dash_maps_back_to_metres():
    ground = rectangle_ground_points(3.5, 3.0)
    h = homography_from_points(_to_image(ground), ground)
    far = [(1.0, 20.0), (-2.0, 35.0), (3.0, 0.5)]  # points outside the marking, far down the road too
    assert np.allclose(apply_homography(h, _to_image(far)), far, atol=1e-6)
    # a car moving 10 m along the lane in 1 s is 36 km/h whatever its distance from the camera
    a, b = apply_homography(h, _to_image([(1.7, 12.0), (1.7, 22.0)]))
    assert np.hypot(*(b - a)) * 3.6 == pytest.approx(36.0)


@pytest.mark.parametrize(("image", "ground", "message"), [
    ([(0, 0), (10, 0), (20, 0), (0, 10)], rectangle_ground_points(3.5, 3), "image points: points 1, 2 and 3 lie on one line"),
    ([(0, 0), (10, 0), (10, 10), (0, 0)], rectangle_ground_points(3.5, 3), "points 1 and 4 are the same"),
    ([(0, 0), (10, 0), (0, 10), (10, 10)], rectangle_ground_points(3.5, 3), "not in the same order around the shape"),
    ([(0, 0), (10, 0), (10, 10)], rectangle_ground_points(3.5, 3), "expected four finite"),
])
def test_degenerate_point_sets_are_refused_in_one_line(image, ground, message):
    with pytest.raises(InputError, match=message) as err:
        homography_from_points(image, ground)
    assert "\n" not in str(err.value)


def test_points_are_typed_as_x_comma_y():
    assert parse_points("1,2;3.5,4", "image points") == [(1.0, 2.0), (3.5, 4.0)]
    with pytest.raises(InputError, match="'nan,2' is not a point"):
        parse_points("nan,2", "image points")
    with pytest.raises(InputError, match="rectangle width"):
        rectangle_ground_points(0, 3)


def test_cameras_calibrate_and_zones_store_what_they_read(tmp_path):
    db, runner = str(tmp_path / "c.duckdb"), CliRunner()
    assert runner.invoke(app, ["cameras", "add", "cam", "--lon", "8.5", "--lat", "47.3", "--db", db]).exit_code == 0
    image = " ".join(f"{x:.3f},{y:.3f}" for x, y in _to_image(rectangle_ground_points(3.5, 3.0)))
    res = runner.invoke(app, ["cameras", "calibrate", "cam", "--image-points", image, "--rectangle", "3.5x3", "--size", "768x432", "--db", db])
    assert res.exit_code == 0, res.output
    assert "3.50 m, 3.00 m, 3.50 m, 3.00 m" in " ".join(res.stdout.split())
    zones = tmp_path / "z.json"
    zones.write_text(json.dumps({"size": [768, 432], "zones": [{"name": "mid", "line": [[0, 216], [768, 216]]}]}))
    assert runner.invoke(app, ["cameras", "zones", "cam", str(zones), "--db", db]).exit_code == 0
    bad = runner.invoke(app, ["cameras", "calibrate", "cam", "--image-points", "1,1 900,1 900,300 1,300", "--rectangle", "3x3",
                              "--size", "768x432", "--db", db])
    assert bad.exit_code != 0 and "outside the 768x432 frame" in str(bad.exception)
    with Store(db, read_only=True) as store:
        cal = store.calibration_record("cam")
        assert cal is not None and cal["drawn_size"] == (768, 432) and len(cal["homography"]) == 3
        assert np.allclose(apply_homography(cal["homography"], _to_image([(2.0, 9.0)])), [(2.0, 9.0)], atol=1e-6)
        assert store.zones("cam")["role"].tolist() == ["line"]
    missing = runner.invoke(app, ["cameras", "zones", "nope", str(zones), "--db", db])
    assert missing.exit_code != 0 and "unknown camera 'nope'" in str(missing.exception)
