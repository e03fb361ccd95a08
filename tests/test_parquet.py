"""The cluster path: Parquet partitioned by day and camera gives the same indicators."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics import indicators as ind
from analytics.demo.city import build_demo
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.parquet import ParquetStore, export_frames


def test_same_indicators_from_parquet(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    build_demo(db, days=2)
    with Store(db) as store:
        n = export_frames(store, tmp_path / "pq")
        local = ind.compute(store, Selection(min_frames=30), by=["district", "hour"], indicators=["green_view", "road_occupancy"])
        parts = sorted(p.relative_to(tmp_path / "pq").parts[:2] for p in (tmp_path / "pq").rglob("*.parquet"))
        assert parts[0][0].startswith("day=2026-11-02") and parts[0][1].startswith("camera_id=")
        remote = ind.compute(ParquetStore(tmp_path / "pq", places=store), Selection(min_frames=30), by=["district", "hour"],
                             indicators=["green_view", "road_occupancy"])
    assert n == int(local.groupby(["district", "hour"])["n_frames"].max().sum())
    pd.testing.assert_frame_equal(local.reset_index(drop=True), remote.reset_index(drop=True), check_dtype=False)


def test_missing_folder(tmp_path: Path) -> None:
    from analytics.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        ParquetStore(tmp_path / "nope")
