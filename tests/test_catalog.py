"""Look-ups behind the Camera and Data pages, on a hand-made store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from analytics.records import Preview
from analytics.store import catalog
from tests.helpers import ROAD, clip_from_pixels, store_with_cameras


def test_camera_lookups(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "c.duckdb"), [("c1", 4.0, 52.0), ("c2", 4.1, 52.1)])
    clip = clip_from_pixels("c1", datetime(2026, 3, 2, 8), [{ROAD: 10}, {ROAD: 12}], label="morning")
    clip.previews.append(Preview(1, b"\xff\xd8jpeg"))
    s.ingest(clip)
    s.set_zones("c2", pd.DataFrame([{"zone": "walk", "role": "sidewalk", "polygon_json": "[[0,0],[1,0],[1,1]]"}]))
    assert catalog.cameras_with_zones(s) == ["c2"]
    clips = catalog.camera_clips(s, "c1", date(2026, 3, 2), date(2026, 3, 2))
    assert clips["label"].tolist() == ["morning"] and clips["flicker"].iloc[0] == 0.1
    assert catalog.camera_clips(s, "c1", date(2026, 3, 3), None).empty  # outside the period
    assert catalog.camera_previews(s, "c1")["image"].iloc[0] == b"\xff\xd8jpeg"
    assert catalog.camera_track(s, "c1").values.tolist() == [[4.0, 52.0]]
    assert catalog.model_run_summary(s).to_dict("records") == [{"model_name": "test-model", "runs": 1, "frames": 2}]
