"""``urbanlens info`` speaks to people by default and to scripts with ``--format json``; ``report --min-frames``."""

from __future__ import annotations

import json
import os
from datetime import datetime

from helpers import clip_from_pixels, store_with_cameras
from typer.testing import CliRunner

from analytics.cli import app
from analytics.cli._common import PIPE_WIDTH, table_width


def _db(tmp_path):
    path = tmp_path / "u.duckdb"
    with store_with_cameras(str(path), [("cam-1", 8.5, 47.3), ("cam-2", 8.6, 47.4)]) as store:
        store.ingest([clip_from_pixels("cam-1", datetime(2026, 5, 4, 8, 30), [{0: 10}] * 1926)])
    return path


def test_info_prints_counts_and_hours_for_people_and_raw_numbers_as_json(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    db = _db(tmp_path)
    text = CliRunner().invoke(app, ["info", "--db", str(db)])
    assert text.exit_code == 0, text.output
    assert "1 clip from 2 cameras, 16 minutes" in text.output  # 1,926 frames at 2 a second
    assert "1,926" in text.output and "2026-05-04 08:30 to 2026-05-04 08:46" in text.output
    raw = CliRunner().invoke(app, ["info", "--db", str(db), "--format", "json"])
    stats = json.loads(raw.output)
    assert stats["frames"] == 1926 and stats["clips"] == 1 and abs(stats["hours"] - 963 / 3600) < 1e-9


def test_report_takes_min_frames(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    db = _db(tmp_path)
    out = tmp_path / "r.html"
    few = CliRunner().invoke(app, ["report", "--city", "--db", str(db), "--out", str(out), "--min-frames", "5000"])
    assert few.exit_code == 0, few.output
    refused = out.read_text().lower().count("not enough data")
    enough = CliRunner().invoke(app, ["report", "--city", "--db", str(db), "--out", str(out), "--min-frames", "10"])
    assert enough.exit_code == 0 and out.read_text().lower().count("not enough data") < refused
    bad = CliRunner().invoke(app, ["report", "--city", "--db", str(db), "--out", str(out), "--min-frames", "0"])
    assert bad.exit_code == 2


def test_tables_are_wide_on_a_pipe_and_fit_a_terminal_or_columns(monkeypatch):
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.delenv("COLUMNS", raising=False)
    assert table_width(Stream(False)) == PIPE_WIDTH and table_width(Stream(True)) is None
    monkeypatch.setenv("COLUMNS", "100")
    assert table_width(Stream(False)) == 100 and table_width(Stream(True)) == 100  # $COLUMNS wins, read at each print


def test_piped_tables_keep_whole_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANLENS_HOME", str(tmp_path))
    long_id = "north-harbour-gate-camera-" + "x" * 30
    path = tmp_path / "u.duckdb"
    store_with_cameras(str(path), [(long_id, 8.5, 47.3)]).close()
    listed = CliRunner().invoke(app, ["cameras", "list", "--db", str(path)])
    assert listed.exit_code == 0
    if not os.environ.get("COLUMNS"):  # the console was made for a pipe, not for a width the environment chose
        assert long_id in listed.output, listed.output
