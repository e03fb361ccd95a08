"""``urbanlens ingest``: files and folders, a summary table, bad clips reported, re-runs skipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from clips import H, W, street, write_cv2
from tinymodels import colour_card, colour_model
from typer.testing import CliRunner

from analytics.cli import app
from analytics.cli.ingest import collect_clips
from analytics.errors import InputError
from analytics.settings import load_settings
from analytics.store import Store


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A camera in a fresh database, the tiny colour model installed as 'colours', a folder of clips."""
    from analytics.models import zoo

    settings = load_settings()
    onnx_path = colour_model(tmp_path / "colours.onnx", height=32, width=64)
    card = tmp_path / "colours.json"
    card.write_text(colour_card(32, 64).to_json())
    zoo.add_model(onnx_path, card, settings)
    with Store(settings.db_path) as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["cam-1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]}))
    clips = tmp_path / "clips"
    (clips / "day2").mkdir(parents=True)
    write_cv2(clips / "a.avi", 20, fps=10, size=(W, H), paint=street)
    write_cv2(clips / "day2" / "b.avi", 10, fps=10, size=(W, H), paint=street)
    (clips / "broken.mp4").write_bytes(b"\x00" * 2000)
    (clips / "notes.txt").write_text("not a clip, not picked up from the folder")
    return clips


def test_folder_batch_reports_done_and_failed_then_skips(setup: Path) -> None:
    runner = CliRunner()
    args = ["ingest", str(setup), "--camera", "cam-1", "--model", "colours", "--road-model", "none", "--start", "2024-05-01T08:00:00"]
    first = runner.invoke(app, args)
    assert first.exit_code == 1, first.output  # a failed clip makes the batch exit 1, and the summary names it
    assert "2 done, 0 skipped (already ingested), 1 failed (broken.mp4)" in first.output
    assert "broken.mp4" in first.output and "not a video file" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "0 done, 2 skipped (already ingested), 1 failed" in again.output
    with Store(load_settings().db_path) as s:
        starts = s.query_df("SELECT label, start_time FROM clips ORDER BY start_time")
    assert starts["label"].tolist() == ["a.avi", "b.avi"]  # the second clip follows on from the first
    assert (starts["start_time"].iloc[1] - starts["start_time"].iloc[0]).total_seconds() == pytest.approx(2.0)


def test_all_failed_exits_1(setup: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(setup / "broken.mp4"), "--camera", "cam-1", "--model", "colours", "--road-model", "none"])
    assert result.exit_code == 1
    assert "0 done, 0 skipped (already ingested), 1 failed" in result.output


def test_unknown_camera_is_a_usage_error(setup: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(setup / "a.avi"), "--camera", "nowhere", "--model", "colours", "--road-model", "none"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError) and "unknown camera" in str(result.exception)


def test_collect_clips(setup: Path, tmp_path: Path) -> None:
    got = [p.name for p in collect_clips([setup, setup / "a.avi"])]
    assert got == ["a.avi", "broken.mp4", "b.avi"]  # sorted, recursive, no duplicates, no .txt
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video files"):
        collect_clips([tmp_path / "empty"])
    with pytest.raises(InputError, match="does not exist"):
        collect_clips([tmp_path / "missing.mp4"])


def test_start_time_source_is_said(setup: Path) -> None:
    """Without --start each clip's time comes from its creation tag or file time, and the output says which."""
    import os

    os.utime(setup / "a.avi", (1_577_934_245, 1_577_934_245))  # 2020-01-02 03:04:05 UTC
    result = CliRunner().invoke(app, ["ingest", str(setup / "a.avi"), "--camera", "cam-1", "--model", "colours", "--road-model", "none"])
    assert result.exit_code == 0, result.output
    assert "a.avi: start time" in result.output and "taken from the file's modification time; pass --start to set it" in result.output
    with Store(load_settings().db_path) as s:
        stored = s.scalar("SELECT start_time FROM clips")
    assert stored == __import__("datetime").datetime.fromtimestamp(1_577_934_245)
