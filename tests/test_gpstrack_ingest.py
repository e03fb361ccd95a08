"""``urbanlens ingest --track``: a drive across two districts splits between them; the start comes from the track."""

from __future__ import annotations

import json
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clips import H, W, street, write_cv2
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import DataFormatError, InputError
from analytics.geo import read_districts_geojson
from analytics.indicators import compute
from analytics.selection import Selection
from analytics.settings import load_settings
from analytics.store import Store
from analytics.visual.drive import drive_figure, drive_route
from tests.hostile.support import colour_model_home

__all__ = ["colour_model_home"]  # the session fixture, shared with the hostile-input suite

BORDER = 4.9000  # west and east districts meet at this longitude


def _square(name: str, lon0: float, lon1: float) -> dict[str, object]:
    ring = [[lon0, 52.36], [lon1, 52.36], [lon1, 52.38], [lon0, 52.38], [lon0, 52.36]]
    return {"type": "Feature", "properties": {"name": name}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.fixture(scope="module")
def _clip_and_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s clip (20 frames) and a track eastwards over the border, written once."""
    folder = tmp_path_factory.mktemp("drive")
    write_cv2(folder / "drive.avi", 20, fps=10, size=(W, H), paint=street)
    # 14:00:00 UTC = 16:00:00 in Zurich (summer time); 0.0006° of longitude in 2 s is about 73 km/h; the border at 0.95 s
    rows = [f"2026-07-01T14:00:0{s}Z,52.37,{BORDER - 0.000285 + 0.0003 * s:.6f}" for s in range(3)]
    (folder / "drive.csv").write_text("time,lat,lon\n" + "\n".join(rows) + "\n")
    return folder


@pytest.fixture
def drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, colour_model_home: Path, _clip_and_track: Path) -> Path:
    """A database of its own with a fixed camera (west), a mobile one and two districts; the colour model's home."""
    monkeypatch.setenv("URBANLENS_HOME", str(colour_model_home))
    monkeypatch.setenv("URBANLENS_DB", str(tmp_path / "city.duckdb"))
    monkeypatch.setenv("URBANLENS_TIMEZONE", "Europe/Zurich")
    monkeypatch.setenv("COLUMNS", "400")
    districts = {"type": "FeatureCollection", "features": [_square("West", 4.89, BORDER), _square("East", BORDER, 4.91)]}
    with Store(load_settings().db_path) as s:
        s.upsert_districts(read_districts_geojson(json.dumps(districts).encode()))
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1", "bike"], "name": ["Fixed", "Bike"], "lon": [4.895] * 2,
                                       "lat": [52.37] * 2, "kind": ["fixed", "mobile"]}))
    return _clip_and_track


def test_a_tracked_drive_splits_between_districts_and_starts_at_the_track(drive: Path) -> None:
    """A fixed camera with a track is placed frame by frame too (mobile cameras' frames always were)."""
    args = ["ingest", str(drive / "drive.avi"), "--camera", "cam-1", "--model", "colours", "--road-model", "none", "--fps", "all",
            "--track", str(drive / "drive.csv")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "start time 2026-07-01 16:00:00 (Europe/Zurich) taken from the track's first point" in result.output
    assert "stored 20 sampled frames; 20 frames placed by the track" in result.output
    with Store(load_settings().db_path) as s:
        frames = s.query_df("SELECT t_s, ts, lon, heading, district_id FROM frames ORDER BY t_s")
    assert frames["ts"].iloc[0] == datetime(2026, 7, 1, 16, 0, 0)  # local wall-clock time
    west = frames["lon"] < BORDER
    assert west.sum() == 10 and (frames.loc[west, "district_id"] == "west").all() and (frames.loc[~west, "district_id"] == "east").all()
    assert frames["heading"].round(3).eq(90.0).all()  # due east
    with Store(load_settings().db_path) as s:  # placing the places again keeps the frames where the track put them
        s.upsert_districts(s.districts()[["district_id", "name", "geometry_geojson"]])
        again = s.query_df("SELECT district_id FROM frames ORDER BY t_s")["district_id"]
    assert again.tolist() == frames["district_id"].tolist()


def test_a_mobile_camera_without_a_track_says_it_stays_at_its_point(drive: Path) -> None:
    args = ["ingest", str(drive / "drive.avi"), "--camera", "bike", "--model", "colours", "--road-model", "none", "--start", "2026-07-01T16:00:00"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "camera bike is mobile and no --track was given: its frames sit at the camera's point (52.370000, 4.895000)" in result.output


def test_a_track_of_another_day_names_both_spans(drive: Path) -> None:
    args = ["ingest", str(drive / "drive.avi"), "--camera", "bike", "--model", "colours", "--road-model", "none", "--start", "2026-07-02T16:00:00",
            "--track", str(drive / "drive.csv")]
    result = CliRunner().invoke(app, args)  # refused before the clip is analysed
    assert isinstance(result.exception, InputError)
    assert "the track runs 2026-07-01 14:00:00–2026-07-01 14:00:02 UTC but the clip 2026-07-02 14:00:00" in str(result.exception)
    with Store(load_settings().db_path) as s:
        assert s.scalar("SELECT count(*) FROM frames") == 0


def test_a_track_in_the_future_is_refused(drive: Path) -> None:
    (drive / "later.csv").write_text("time,lat,lon\n2099-01-01T00:00:00Z,52.37,4.9\n2099-01-01T00:00:01Z,52.37,4.9\n")
    args = ["ingest", str(drive / "drive.avi"), "--camera", "bike", "--model", "colours", "--road-model", "none", "--track", str(drive / "later.csv")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, DataFormatError) and "point 1 at 2099-01-01 00:00:00 UTC is in the future" in str(result.exception)


def test_frames_outside_the_track_are_stored_without_a_position_and_count_for_the_camera_only(drive: Path, tmp_path: Path) -> None:
    """The track covers the clip's first second: its other 9 frames have no position, so no district, H3 cell or map dot."""
    rows = [f"2026-07-01T14:00:0{s}Z,52.37,{BORDER - 0.000285 + 0.0003 * s:.6f}" for s in range(2)]
    (tmp_path / "short.csv").write_text("time,lat,lon\n" + "\n".join(rows) + "\n")
    args = ["ingest", str(drive / "drive.avi"), "--camera", "bike", "--model", "colours", "--road-model", "none", "--fps", "all",
            "--track", str(tmp_path / "short.csv")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "11 frames placed by the track; 9 outside its span, 0 in a gap over 30 s: stored without a position" in result.output
    with Store(load_settings().db_path) as s:
        frames = s.query_df("SELECT t_s, lon, lat, heading, district_id FROM frames ORDER BY t_s")
        by = {k: compute(s, Selection(min_frames=1), by=k, indicators=["green_view"]) for k in ("camera", "district", "h3", "hour")}
        s.upsert_districts(s.districts()[["district_id", "name", "geometry_geojson"]])  # placing the places again
        again = s.query_df("SELECT district_id FROM frames ORDER BY t_s")["district_id"]
        route = drive_route(s, Selection(cameras=["bike"]), "green_view")
        fig = drive_figure(route, s.districts(), "green_view")
    late = frames["t_s"] > 1.0
    assert late.sum() == 9 and frames.loc[late, ["lon", "lat", "heading", "district_id"]].isna().all().all()
    assert frames.loc[~late, "lon"].notna().all() and set(frames.loc[~late, "district_id"]) == {"west", "east"}
    assert again.isna().tolist() == late.tolist()
    assert by["camera"]["n_frames"].tolist() == [20] and by["hour"]["n_frames"].tolist() == [20]  # they count for the camera
    assert set(by["district"]["district"]) == {"west", "east"} and by["district"]["n_frames"].sum() == 11  # not for a district
    assert by["h3"]["n_frames"].sum() == 11
    assert route["n_frames"].sum() == 11 and np.isfinite(route[["lon", "lat"]].to_numpy()).all()
    assert sum(len(t.x) for t in fig.data if t.name == "route") == len(route)
    out = tmp_path / "frames.geojson"
    exported = CliRunner().invoke(app, ["export", "--by", "frame", "-i", "green_view", "--format", "geojson", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "11 features by frame" in exported.output and "9 frames without a position (outside their GPS track or in a gap) skipped" in exported.output


def test_a_clip_through_the_spring_clock_change_stores_each_frame_at_its_local_time(drive: Path, tmp_path: Path) -> None:
    """Creation tag 00:59:58 UTC on 29 March 2026 = 01:59:58 in Zurich; 2 s later the clocks read 03:00:00, not 02:00:00."""
    import av

    path = tmp_path / "night.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["creation_time"] = "2026-03-29T00:59:58.000000Z"
        stream = out.add_stream("mpeg4", rate=Fraction(2))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(8):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(street(i), format="bgr24")))
        out.mux(stream.encode())
    args = ["ingest", str(path), "--camera", "cam-1", "--model", "colours", "--road-model", "none", "--fps", "all"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with Store(load_settings().db_path) as s:
        start = s.scalar("SELECT start_time FROM clips")
        frames = s.query_df("SELECT t_s, ts FROM frames ORDER BY t_s")
        hours = compute(s, Selection(min_frames=1), by="hour", indicators=["green_view"])
    assert start == datetime(2026, 3, 29, 1, 59, 58)
    expected = [datetime(2026, 3, 29, 1, 59, 58) + pd.Timedelta(seconds=t) + pd.Timedelta(hours=1 if t >= 2 else 0) for t in frames["t_s"]]
    assert frames["ts"].tolist() == expected and len(expected) == 8
    assert dict(zip(hours["hour"], hours["n_frames"])) == {1: 4, 3: 4}  # no frame at 02:xx, an hour that did not happen
