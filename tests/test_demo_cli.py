"""The demo city and the CLI: believable patterns, one row per district, clear one-line errors."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics import indicators as ind
from analytics.cli import app
from analytics.demo.city import build_demo
from analytics.errors import InputError
from analytics.selection import Selection
from analytics.store import Store, migrate


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo(path, days=14)
    return path


def test_demo_shape_and_synthetic_marking(demo_db: Path) -> None:
    with Store(demo_db) as s:
        stats = s.stats()
        assert stats["districts"] >= 4 and stats["cameras"] >= 16
        assert stats["synthetic_share"] == 1.0
        assert set(s.cameras()["kind"]) == {"fixed", "mobile"}
        days = s.scalar("SELECT count(DISTINCT CAST(ts AS DATE)) FROM frames")
        assert days == 14


def test_demo_patterns(demo_db: Path) -> None:
    with Store(demo_db) as s:
        d = ind.to_wide(ind.compute(s, Selection(min_frames=30), by="district"), ["district"]).set_index("district")
        # greener residential districts
        assert d.loc[["riverside", "northgate"], "green_view"].min() > d.loc[["old-town", "harbour"], "green_view"].max()
        # a district with road damage
        assert d["damage_ratio"].idxmax() == "harbour" and d.loc["harbour", "damage_ratio"] > 3 * d["damage_ratio"].median()
        hour = ind.to_wide(ind.compute(s, Selection(min_frames=30), by=["weekday", "hour"], indicators=["road_occupancy", "pedestrian_share"]),
                           ["weekday", "hour"])
        weekday = hour[hour["weekday"] <= 5].groupby("hour")[["road_occupancy", "pedestrian_share"]].mean()
        # commute peaks in congestion
        assert weekday.loc[8, "road_occupancy"] > 1.4 * weekday.loc[11, "road_occupancy"]
        assert weekday.loc[17, "road_occupancy"] > 1.4 * weekday.loc[21, "road_occupancy"]
        # lunchtime pedestrian peak on weekdays, weekend peak above weekdays in the afternoon
        assert weekday.loc[12, "pedestrian_share"] > weekday.loc[10, "pedestrian_share"]
        weekend = hour[hour["weekday"] >= 6].groupby("hour")["pedestrian_share"].mean()
        assert weekend.loc[15] > weekday.loc[15, "pedestrian_share"]


def test_demo_refuses_to_overwrite(demo_db: Path) -> None:
    with pytest.raises(InputError, match="already exists"):
        build_demo(demo_db)


def test_cli_indicators_csv_one_row_per_district(demo_db: Path) -> None:
    res = CliRunner().invoke(app, ["indicators", "--by", "district", "--format", "csv", "--db", str(demo_db)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(StringIO(res.stdout))
    assert sorted(df["district"]) == ["harbour", "northgate", "old-town", "riverside", "university"]
    for col in ("n_frames", "n_clips", "green_view", "green_view_low", "green_view_high", "road_occupancy", "congestion_level"):
        assert col in df.columns


def test_cli_table_and_window(demo_db: Path) -> None:
    res = CliRunner().invoke(
        app, ["indicators", "--by", "camera", "-i", "green_view", "--from", "2026-11-09", "--to", "2026-11-15", "--db", str(demo_db)]
    )
    assert res.exit_code == 0 and "Green view" in res.stdout


def _run(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "URBANLENS_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "analytics.cli", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["indicators", "--by", "district", "--from", "2026-11-09", "--to", "2026-11-01"], "starts (2026-11-09) after it ends"),
        (["indicators", "--by", "district", "-i", "greenery"], "unknown indicator 'greenery'"),
        (["indicators", "--by", "district", "--from", "9 Nov"], "is not a date"),
    ],
)
def test_cli_errors_are_one_line(demo_db: Path, tmp_path: Path, args: list[str], message: str) -> None:
    res = _run(*args, "--db", str(demo_db), env_home=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_cli_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "x.duckdb"
    bad.write_text("hello")
    res = _run("info", "--db", str(bad), env_home=tmp_path)
    assert res.returncode == 2 and "not a DuckDB database" in res.stderr and "Traceback" not in res.stderr


def test_cli_cameras_import_and_add(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    csv = tmp_path / "cams.csv"
    csv.write_text("camera_id,name,lon,lat\nc1,One,4.9,52.3\n")
    runner = CliRunner()
    assert runner.invoke(app, ["cameras", "import", str(csv), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["cameras", "add", "c2", "--lon", "4.8", "--lat", "52.2", "--db", str(db)]).exit_code == 0
    with Store(db) as s:
        assert s.cameras()["camera_id"].tolist() == ["c1", "c2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("camera_id,lon,lat\nc3,4.9,95\n")
    res = _run("cameras", "import", str(bad), "--db", str(db), env_home=tmp_path)
    assert res.returncode == 2 and "lat '95'" in res.stderr
    with Store(db) as s:
        assert len(s.cameras()) == 2


def test_version_needs_no_command() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("urbanlens ") and "Missing command" not in res.output


def test_report_on_a_newer_or_older_schema_says_what_to_do(demo_db: Path, tmp_path: Path) -> None:
    import shutil

    import duckdb

    newer, older = tmp_path / "newer.duckdb", tmp_path / "older.duckdb"
    shutil.copyfile(demo_db, newer)
    con = duckdb.connect(str(newer))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    res = _run("report", "--city", "--out", str(tmp_path / "r.html"), "--db", str(newer), env_home=tmp_path)
    assert res.returncode == 2 and "upgrade UrbanLens" in res.stderr and "read-write" not in res.stderr
    con = duckdb.connect(str(older))
    migrate(con, target=1)
    con.close()
    res = _run("report", "--city", "--out", str(tmp_path / "r.html"), "--db", str(older), env_home=tmp_path)
    assert res.returncode == 2 and f"urbanlens info --db {older}" in res.stderr
    assert _run("info", "--db", str(older), env_home=tmp_path).returncode == 0  # what the message says does upgrade it
    res = _run("report", "--city", "--out", str(tmp_path / "r.html"), "--db", str(older), env_home=tmp_path)
    assert res.returncode == 0, res.stderr
