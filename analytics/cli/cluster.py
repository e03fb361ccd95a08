"""The cluster path: ``urbanlens ingest ... --engine ray`` (run by ``ingest``) and ``urbanlens import-parquet DIR``.

``ingest --engine ray`` starts (or joins, ``--ray-address``) a Ray cluster, analyses the clips on
a pool of workers (:mod:`analytics.footage.cluster`) into a Parquet folder (``--out-parquet``, or
``$URBANLENS_HOME/cluster-parquet`` when results go to the database), and without
``--out-parquet`` loads each clip into the DuckDB store in a transaction of its own.
``import-parquet`` loads a folder written earlier, or by another cluster job, the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from analytics.cli._common import DbOption, console, open_db
from analytics.errors import InputError
from analytics.settings import Settings
from analytics.store.ingest import IngestResult
from analytics.store.parquet import clip_written, import_clips

__all__ = ["ingest_on_ray", "register", "staging_dir"]

Row = tuple[str, str, str, str]


def staging_dir(settings: Settings) -> Path:
    """Where a Ray ingest without ``--out-parquet`` writes its Parquet before loading it into the database."""
    return settings.home / "cluster-parquet"


def _is_url(path: str) -> bool:
    """
    >>> _is_url("s3://bucket/a.mp4"), _is_url("/data/a.mp4")
    (True, False)
    """
    return "://" in path


def _tasks(clips: list[Path], camera: str | None, manifest: Path | None, start: datetime | None) -> list[Any]:
    """The job's clips: the manifest's rows, or the PATHS for ``--camera``; paths made absolute (workers run elsewhere),
    URLs refused (the pipeline opens clips as files: on a cluster they are mounted at the same path on every node)."""
    # deferred: the cluster engine loads ONNX Runtime, PyAV and OpenCV, which other commands do not need
    from analytics.footage.cluster import ClipTask, read_manifest

    if manifest is not None:
        if clips or camera or start:
            raise InputError("--manifest lists the clips, their cameras and start times; give no PATHS, --camera or --start with it")
        tasks = read_manifest(manifest)
    else:
        if not camera:
            raise InputError("--camera is needed with PATHS (or give --manifest clips.csv with a camera_id per clip)")
        if start is not None and len(clips) > 1:
            raise InputError("--start with --engine ray applies to one clip; give several clips their start times in --manifest")
        tasks = [ClipTask(str(c), camera, start) for c in clips]
    urls = [t.path for t in tasks if _is_url(t.path)]
    if urls:
        raise InputError(
            f"clip {urls[0]!r} is a URL; the Ray engine reads clips from local or mounted paths every worker sees "
            "(mount the bucket, e.g. with Mountpoint for S3 or gcsfuse; only the manifest itself may be a URL)"
        )
    return [ClipTask(str(Path(t.path).expanduser().resolve()), t.camera_id, t.start) for t in tasks]


def ingest_on_ray(
    clips: list[Path], camera: str | None, settings: Settings, out: Console, *, manifest: Path | None, start: datetime | None,
    out_parquet: Path | None, address: str | None, workers: int | None, threads: int | None, analysis: dict[str, Any],
) -> list[Row]:
    """Run ``ingest --engine ray``; returns the summary rows (clip, status, frames, note) for ``ingest`` to print."""
    # deferred: Ray, ONNX Runtime, PyAV and OpenCV load only when a cluster job runs
    from analytics.footage import cluster

    cluster.require_ray()  # missing Ray: one line saying how to install it, before any work
    tasks = _tasks(clips, camera, manifest, start)
    with open_db(settings.db_path) as store, store.reading():  # unknown camera: one clear error before any work
        cameras = {c: store.camera(c) for c in sorted({t.camera_id for t in tasks})}
        zones = {c: store.zones(c) for c in cameras}
    cores = cluster.start_ray(address)
    n_workers, n_threads = cluster.plan_workers(workers, threads, cores)
    folder = out_parquet.expanduser() if out_parquet is not None else staging_dir(settings)
    out.print(f"Ray: {len(tasks)} clip(s) on {n_workers} worker(s) x {n_threads} thread(s) ({cores} CPUs); Parquet in {folder}",
              markup=False, highlight=False)

    def told(o: Any) -> None:
        out.print(f"  {Path(o.path).name}: {o.status} ({o.seconds:.1f} s)", markup=False, highlight=False)

    outcomes = cluster.run_clips(
        tasks, folder, settings, cameras=cameras, zones=zones, workers=n_workers, threads=n_threads, on_outcome=told, **analysis
    )
    rows = []
    loaded = _load(folder, outcomes, settings) if out_parquet is None else {}
    for o in outcomes:
        name = Path(o.path).name
        if o.status == "failed":
            rows.append((name, "failed", "-", o.message))
            continue
        res = loaded.get(o.path)
        if res is not None:
            rows.append((name, "done" if res.status == "stored" else "skipped", str(res.n_frames or "-"), res.message))
        elif o.status == "stored":
            rows.append((name, "done", str(o.n_frames), f"{o.n_frames / max(o.seconds, 1e-9):.1f} frames/s on a worker; {o.message}"))
        else:
            rows.append((name, o.status, "-", o.message))
    return rows


def _load(folder: Path, outcomes: list[Any], settings: Settings) -> dict[str, IngestResult]:
    """Load the clips written (or found) by the job into the database, one transaction per clip."""
    files = {}
    for o in outcomes:
        path = clip_written(folder, o.clip_sha256, o.settings_key) if o.status != "failed" else None
        if path is not None:
            files[path] = o.path
    if not files:
        return {}
    loaded: dict[str, IngestResult] = {}
    with open_db(settings.db_path) as store:
        import_clips(store, folder, list(files), on_clip=lambda p, res: loaded.__setitem__(files[p], res))
    return loaded


def import_parquet(
    folder: Annotated[Path, typer.Argument(help="Folder written by `ingest --engine ray --out-parquet` (day=/camera_id=/clip-*.parquet).")],
    db: DbOption = None,
) -> None:
    """Load a cluster job's Parquet folder into the database, one transaction per clip (clips already
    stored with the same settings are skipped: importing a folder twice stores nothing new)."""
    with open_db(db) as store:
        results = import_clips(store, folder)
    stored = [r for r in results if r.status == "stored"]
    low = sum(1 for r in stored if r.trust == "low")
    console.print(
        f"Imported {len(stored)} clip(s), {sum(r.n_frames for r in stored):,} sampled frames, from {escape(str(folder))}; "
        f"{len(results) - len(stored)} already stored" + (f"; {low} low-trust clip(s) left out of indicators" if low else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``import-parquet`` to the ``urbanlens`` app (``ingest --engine ray`` is an option of ``ingest``)."""
    app.command("import-parquet")(import_parquet)
