"""CLI human output in planner words: table headers, counted nouns, whole hours, one number format."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.footage.countzones import read_camera_zones
from tests.helpers import CAR, ROAD, SKY, clip_from_pixels, count_tables, store_with_cameras

T0 = datetime(2026, 11, 9, 8, 0)
ZONES = {"size": [100, 100], "zones": [
    {"name": "mid", "line": [[0, 50], [100, 50]], "in": "northbound", "out": "southbound"},
    {"name": "square", "role": "dwell", "polygon": [[10, 10], [60, 10], [60, 40]]},
]}
RAW = re.compile(r"\b(ci_low|ci_high|n_frames|n_clips|model_name|camera_id|direction_label|mean_dwell_s|p85_dwell_s)\b")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One camera, one counted clip of 4 frames at 08:00: 2 crossings and one visit of a dwell zone."""
    path = tmp_path_factory.mktemp("cli-words") / "w.duckdb"
    counts = count_tables(crossings=[("mid", 0.5, "car", "in", 1), ("mid", 1.0, "person", "out", 2)],
                          visits=[("square", "person", 2, 0.2, 1.9)],
                          tracks=[(1, "car", 0.0, 1.5, None), (2, "person", 0.2, 1.9, None)])
    frames = [{ROAD: 80, CAR: 20, SKY: 100}] * 4
    with store_with_cameras(str(path), [("market-street", 4.0, 52.0)]) as store:
        store.set_zones("market-street", read_camera_zones(json.dumps(ZONES).encode()).rows)
        store.ingest([dataclasses.replace(clip_from_pixels("market-street", T0, frames, people=[1, 2, 3, 2]), counts=counts)])
    return path


def _run(*args: str) -> str:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    return res.output


def test_tables_name_columns_in_planner_words(db: Path) -> None:
    listing = _run("cameras", "list", "--db", str(db))
    assert "┃ camera " in listing and "market-street" in listing
    counts = _run("counts", "--camera", "market-street", "--db", str(db))
    assert "direction" in counts and "mean dwell (s)" in counts and "85th percentile dwell (s)" in counts
    assert "1.7 " in counts  # the dwell, in seconds with one decimal (1.9 - 0.2), as every float cell
    for out in (listing, counts):
        assert not RAW.findall(out), RAW.findall(out)


def test_hours_read_as_whole_numbers_and_values_with_their_unit(db: Path) -> None:
    out = _run("indicators", "--by", "hour", "-i", "people_per_hour", "--db", str(db), "--min-frames", "1")
    row = next(line for line in out.splitlines() if "people/h" in line)
    assert re.search(r"│ 8\s+│", row), row  # hour 8, never "8.0"
    assert "720 people/h" in row  # 2 people a frame x 3600 s / 10 s dwell
    assert not re.search(r"\d\.\d{4,}", out)
