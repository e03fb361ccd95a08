"""Pages say how many clips and frames are flagged low trust, and the sidebar switch counts them in."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import BUILDING, ROAD, SKY, VEG, clip_from_pixels, store_with_cameras

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
STREET = {ROAD: 4000, BUILDING: 3000, VEG: 2000, SKY: 1000}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One camera with a good clip of 40 frames and a clip of 61 frames the model was unsure of (low trust)."""
    path = tmp_path / "u.duckdb"
    good = clip_from_pixels("cam-1", datetime(2026, 5, 4, 8, 0), [STREET] * 40, label="good.mp4")
    unsure = clip_from_pixels("cam-1", datetime(2026, 5, 4, 9, 0), [{**STREET, VEG: 6000}] * 61, label="unsure.mp4")
    unsure = dataclasses.replace(unsure, mean_confidence=np.full(61, 0.4), low_conf_share=np.full(61, 0.8))
    with store_with_cameras(str(path), [("cam-1", 8.5, 47.3)]) as store:
        results = store.ingest([good, unsure])
    assert [r.trust for r in results] == ["ok", "low"]
    monkeypatch.setenv("URBANLENS_DB", str(path))
    return path


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_camera_page_names_the_frames_left_out_and_the_switch_counts_them(db: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/camera.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "1 clip (61 frames) flagged low trust is left out of these numbers" in _captions(at)
    at.toggle(key="include_low_trust").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "1 clip (61 frames) flagged low trust is included in these numbers" in _captions(at)
    assert at.query_params.get("low_trust") in ("1", ["1"])
