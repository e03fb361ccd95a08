"""Store benchmark: ingest rate and the dashboard overview's queries at ~1,000,000 frames.

Prints figures; asserts nothing about time (this machine is shared and noisy). Each DuckDB query
is shown beside the same computation in pandas on the same data, measured in the same run, as
a ratio (``x0.25 vs pandas``: DuckDB takes a quarter of pandas' time). Usage::

    .venv/bin/python bench/store_bench.py [--frames 1000000] [--repeat 15] [--db PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import measure

from analytics import indicators as ind
from analytics.demo.city import DEMO_CLASS_SET, DEMO_START, FRAMES_PER_CLIP, build_demo, demo_cameras, demo_clip_measurements
from analytics.records import RunInfo
from analytics.selection import Selection
from analytics.settings import load_settings
from analytics.store import Store


def _pandas_by_district(frames: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """The same ratio-of-sums with per-clip clusters as indicators.compute, for green view and road occupancy."""
    f = frames[(frames["ts"] >= t0) & (frames["ts"] < t1)]
    f = f.assign(
        occ=f["vehicle_px"] / (f["vehicle_px"] + f["road_px"]).replace(0, np.nan),
        occ_d=((f["vehicle_px"] + f["road_px"]) > 0).astype(float),
    )
    clip = f.groupby(["district_id", "clip_sha256"]).agg(y=("vegetation_px", "sum"), x=("valid_px", "sum"), oy=("occ", "sum"),
                                                         ox=("occ_d", "sum"), n=("ts", "size"))
    clip["yy"], clip["xy"], clip["xx"] = clip["y"] ** 2, clip["x"] * clip["y"], clip["x"] ** 2
    cell = clip.groupby("district_id").sum()
    cell["green_view"] = cell["y"] / cell["x"]
    cell["road_occupancy"] = cell["oy"] / cell["ox"]
    return cell


def _pandas_hourly(frames: pd.DataFrame, camera: str) -> pd.DataFrame:
    f = frames[frames["camera_id"] == camera]
    return f.groupby(f["ts"].dt.hour).agg(y=("person_px", "sum"), x=("valid_px", "sum"), n=("ts", "size"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=1_000_000, help="approximate number of frames to generate")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--db", type=Path, default=None, help="reuse/keep the generated database here")
    args = ap.parse_args()

    frames_per_day = 17 * 8.5 * FRAMES_PER_CLIP * 0.97  # cameras x clips a day x frames a clip (dashcam skips weekends)
    days = max(1, round(args.frames / frames_per_day))
    path = args.db or Path(tempfile.mkdtemp()) / "bench.duckdb"
    if not path.exists():
        t0 = time.perf_counter()
        summary = build_demo(path, days=days)
        dt = time.perf_counter() - t0
        print(f"generated + ingested {summary.frames:,} frames ({summary.clips:,} clips, {days} days) in {dt:.1f} s "
              f"-> {summary.frames / dt:,.0f} frames/s end to end (generation included)")
    store = Store(path)
    n = store.scalar("SELECT count(*) FROM frames")
    print(f"database: {path} ({path.stat().st_size / 1e6:.0f} MB, {n:,} frames)")

    # pure ingest rate: measurements already built, one transaction of 400 clips
    rng = np.random.default_rng(1)
    cams = demo_cameras(rng).to_dict("records")
    run = RunInfo("bench", "0" * 64, DEMO_CLASS_SET, "fps=0.5", "off")
    base = datetime(2030, 1, 1) + timedelta(days=int(store.scalar("SELECT count(*) FROM clips")))  # new clips on every run
    batch = [demo_clip_measurements(rng, cams[i % 16], "old-town", base + timedelta(minutes=i), 1.0, run) for i in range(400)]
    t0 = time.perf_counter()
    store.ingest(batch)
    dt = time.perf_counter() - t0
    frames_in = sum(m.n for m in batch)
    print(f"ingest: {frames_in:,} frames in {dt:.2f} s -> {frames_in / dt:,.0f} frames/s (400 clips, one transaction)")
    store.close()
    store = Store(path)

    last = DEMO_START + timedelta(days=days - 1)
    w0 = last - timedelta(days=6)
    cam = "old-town-1"
    mf = load_settings().min_frames
    week = Selection(start=w0, end=last, min_frames=mf)
    q1 = measure(lambda: ind.compute(store, week, by="district"), args.repeat)
    q1h = measure(lambda: ind.compute(store, week, by="district", indicators=list(ind.HEADLINE)), args.repeat)
    q1p = measure(lambda: ind.compute(store, week, by="district", indicators=["green_view", "road_occupancy"]), args.repeat)
    one_camera = Selection(cameras=[cam], min_frames=mf)
    q2 = measure(lambda: ind.compute(store, one_camera, by="hour", indicators=["pedestrian_share", "road_occupancy"]), args.repeat)

    cols = "ts, clip_sha256, camera_id, district_id, vegetation_px, valid_px, vehicle_px, road_px, person_px"
    t0 = time.perf_counter()
    frames = store.query_df(f"SELECT {cols} FROM frames WHERE active")  # noqa: S608 - fixed column list
    load = time.perf_counter() - t0
    t0_ts, t1_ts = pd.Timestamp(w0), pd.Timestamp(last + timedelta(days=1))
    p1 = measure(lambda: _pandas_by_district(frames, t0_ts, t1_ts), args.repeat)
    p2 = measure(lambda: _pandas_hourly(frames, cam), args.repeat)

    print(f"\nqueries on {n:,} frames (repeat {args.repeat}):")
    print(q1p.line("indicators by district, 7-day window, green view + occupancy", p1, baseline_name="pandas", width=58))
    print(q1h.line("indicators by district, 7-day window, 9 headline", width=58))
    print(q1.line(f"indicators by district, 7-day window, all {len(ind.INDICATORS)} indicators", width=58))
    print(q2.line(f"hourly series for one camera ({cam})", p2, baseline_name="pandas", width=58))
    print(p1.line("pandas: by district (green view + occupancy, same sums)", width=58))
    print(p2.line("pandas: hourly series for one camera", width=58))
    print(f"(pandas needed {load:.2f} s to load the frames from DuckDB first; not counted above)")


if __name__ == "__main__":
    main()
