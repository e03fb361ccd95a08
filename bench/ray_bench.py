"""The Ray engine against the local engine, and indicator queries over generated Parquet.

Prints figures, asserts nothing (see docs/scaling.md for a run's numbers)::

    URBANLENS_HOME=/tmp/x URBANLENS_MODEL_MIRROR=../shared/models/espnetv2 .venv/bin/urbanlens models install espnetv2-s2
    URBANLENS_HOME=/tmp/x .venv/bin/python bench/ray_bench.py [--frames 1000000,3000000] [--fps 2]

1. Frames/s on the sample clips (bikes, car-detection): the local engine (one process, 2 ONNX
   threads), then ``--engine ray`` with 1 worker x 2 threads and 2 workers x 1 thread, each job
   timed whole (actor start included) and by the rate inside the workers (steady state).
2. Bytes per sampled frame: the clip files the job wrote, and a DuckDB store of the same rows.
3. ``indicators --parquet``: median and p95 of the overview queries (all indicators by camera,
   by hour of day, by day) over generated frame rows (~1,000 rows a file, like 30-minute clips at
   0.5 frames/s), and the bytes per frame of those files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics import indicators as ind  # noqa: E402
from analytics.footage.cluster import ClipTask, run_clips, start_ray  # noqa: E402
from analytics.footage.pipeline import AnalysisOptions, analyse_clip  # noqa: E402
from analytics.selection import Selection  # noqa: E402
from analytics.settings import load_settings  # noqa: E402
from analytics.store import Store  # noqa: E402
from analytics.store.parquet import CLIP_SCHEMA, PARTITIONING, ParquetStore, clip_files, import_clips  # noqa: E402
from bench._timing import Timing, measure  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = [SHARED / "samples" / "bikes.mp4", SHARED / "samples" / "car-detection.mp4"]
CAMERA = {"camera_id": "c1", "name": "Bench", "lon": 4.9, "lat": 52.37, "heading": None, "kind": "fixed", "district_id": None}
START = "2024-05-01T08:00:00"


def engines(fps: str, tmp: Path) -> Path:
    """Local engine, then Ray with 1 and 2 workers, on the same clips; returns the last job's folder."""
    settings = load_settings()
    t0 = time.perf_counter()
    n = 0
    for c in CLIPS:
        r = analyse_clip(c, "c1", None, AnalysisOptions.from_flags(fps=fps, start_time=START, keep_previews=0, threads=2), settings)
        n += r.measurements.n if r.measurements is not None else 0
    local_s = time.perf_counter() - t0
    print(f"local engine        {n} frames in {local_s:5.1f} s = {n / local_s:5.2f} frames/s (1 process, 2 ONNX threads)")
    t0 = time.perf_counter()
    cpus = start_ray(None)
    print(f"ray.init            {time.perf_counter() - t0:5.1f} s (local cluster, {cpus} CPUs; paid once per session)")
    tasks = [ClipTask(str(c), "c1", None) for c in CLIPS]
    out = tmp
    for workers, threads in ((1, 2), (2, 1)):
        out = tmp / f"pq-{workers}"
        t0 = time.perf_counter()
        got = run_clips(tasks, out, settings, AnalysisOptions.from_flags(fps=fps, threads=threads), cameras={"c1": CAMERA}, workers=workers)
        wall = time.perf_counter() - t0
        frames = sum(o.n_frames for o in got)
        inside = frames / sum(o.seconds for o in got)
        print(
            f"ray {workers} worker(s) x {threads} thread(s)  {frames} frames: job {wall:5.1f} s = {frames / wall:5.2f} frames/s "
            f"(actor start included; x{(frames / wall) / (n / local_s):.2f} of local); in the worker {inside:5.2f} frames/s per worker "
            f"(x{inside / (n / local_s):.2f} of local)"
        )
    return out


def sizes(folder: Path, tmp: Path) -> None:
    """Bytes per frame of the clip files and of a DuckDB store loaded from them."""
    files = clip_files(folder)
    db = tmp / "sizes.duckdb"
    with Store(db) as s:
        s.upsert_cameras(pd.DataFrame([CAMERA]))
        import_clips(s, folder)
        n = int(s.scalar("SELECT count(*) FROM frames"))
        classes = float(s.scalar("SELECT count(*) FROM frame_class_pixels")) / n
    pq_bytes = sum(f.stat().st_size for f in files)
    print(f"clip files          {pq_bytes / n:8.0f} bytes/frame over {n} frames in {len(files)} files (per-file footer included)")
    print(f"non-zero classes    {classes:8.1f} per frame (rows of frame_class_pixels in the database)")


def generate(folder: Path, n: int, rows_per_file: int = 1000, cameras: int = 50, seed: int = 0) -> None:
    """``n`` frame rows of the indicator columns, ``rows_per_file`` per day and camera."""
    rng = np.random.default_rng(seed)
    days = max(1, n // (rows_per_file * cameras))
    names = [f.name for f in CLIP_SCHEMA if not pa.types.is_list(f.type)]
    chunk = rows_per_file * cameras
    for d in range(days):
        cols: dict[str, object] = {}
        valid = 384 * 768
        shares = rng.dirichlet(np.ones(11), chunk)
        for i, name in enumerate(names):
            f = CLIP_SCHEMA.field(name)
            if name.endswith("_px") and f.type == pa.int64() and name not in ("valid_px", "person_sidewalk_px"):
                cols[name] = (shares[:, i % 11] * valid).astype(np.int64)
            elif name == "valid_px":
                cols[name] = np.full(chunk, valid, np.int64)
            elif name == "ts":
                base = np.datetime64("2024-01-01T00:00:00") + np.timedelta64(d, "D")
                cols[name] = base + (rng.uniform(6, 22, chunk) * 3.6e6).astype("timedelta64[ms]")
            elif name == "run_id":
                cols[name] = np.repeat(np.arange(cameras) + d * cameras, rows_per_file).astype(np.int64)
            elif name in ("clip_sha256", "district_id"):
                cols[name] = np.repeat([f"{d:04d}{c:04d}" for c in range(cameras)], rows_per_file).astype(object)
            elif pa.types.is_boolean(f.type):
                cols[name] = np.full(chunk, name == "active")
            elif pa.types.is_integer(f.type):
                cols[name] = rng.integers(0, 5, chunk).astype(np.int32 if f.type == pa.int32() else np.int64)
            else:
                cols[name] = rng.uniform(0, 1, chunk)
        cols["camera_id"] = np.repeat([f"cam-{c:03d}" for c in range(cameras)], rows_per_file).astype(object)
        cols["day"] = np.full(chunk, f"2024-{1 + d // 28:02d}-{1 + d % 28:02d}", dtype=object)
        table = pa.table(cols)
        ds.write_dataset(table, folder, format="parquet", partitioning=PARTITIONING, existing_data_behavior="overwrite_or_ignore",
                         basename_template=f"clip-{d:05d}-{{i}}.parquet")


def queries(n_frames: list[int], tmp: Path, repeat: int) -> None:
    places = Store(":memory:")
    places.upsert_cameras(pd.DataFrame({"camera_id": [f"cam-{c:03d}" for c in range(50)], "name": "c", "lon": 4.9, "lat": 52.37}))
    for n in n_frames:
        folder = tmp / f"gen-{n}"
        t0 = time.perf_counter()
        generate(folder, n)
        files = [p for p in folder.rglob("*.parquet")]
        size = sum(p.stat().st_size for p in files)
        print(f"generated {n:>10,} frames in {len(files):,} files, {size / n:5.0f} bytes/frame, {time.perf_counter() - t0:5.1f} s")
        db = tmp / f"gen-{n}.duckdb"
        con = duckdb.connect(str(db))
        con.execute("CREATE TABLE frames AS SELECT * FROM read_parquet(?, hive_partitioning = true)", [str(folder / "**" / "*.parquet")])
        con.close()
        print(f"  same rows in DuckDB: {db.stat().st_size / n:5.0f} bytes/frame (frames table only)")
        db.unlink()
        store = ParquetStore(folder, places=places)
        for by in ("camera", "hour", "day"):
            t: Timing = measure(lambda by=by, store=store: ind.compute(store, Selection(min_frames=30), by=by), repeat=repeat, warmup=1)
            print(f"  indicators --parquet --by {by:6s} median {t.median:6.2f} s  p95 {t.p95:6.2f} s  ({repeat} runs)")
        shutil.rmtree(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="1000000,3000000", help="generated frame counts, comma-separated")
    ap.add_argument("--fps", default="2", help="sampling of the engine comparison")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-engines", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_engines:
            sizes(engines(args.fps, tmp), tmp)
        queries([int(x) for x in args.frames.split(",")], tmp, args.repeat)


if __name__ == "__main__":
    main()
