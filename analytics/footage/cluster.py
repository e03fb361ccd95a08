"""Scale-out on Ray: many clips segmented by a pool of workers, each clip landed as one Parquet file.

Ray Data reads the clip list; ``map_batches`` hands the clips to a pool of actors (``concurrency``
workers), each holding one ONNX Runtime session (the pipeline's ``Segmenter``, ``threads`` threads,
so that workers x threads <= cores). Each actor runs the local path's own
:func:`~analytics.footage.pipeline.analyse_clip` with a :class:`~analytics.store.parquet.ParquetSink`
as its store: the same decoding, sampling, segmentation and measuring, the same skip of a clip
already there with the same model and settings, and an atomic write of the clip's file into the
cluster layout (``day=``/``camera_id=``)::

    start_ray(None)                                   # a local cluster with this machine's cores
    tasks = [ClipTask("/data/cam-12/0800.mp4", "cam-12")]
    options = AnalysisOptions(sampling=Sampling.parse("0.5"), threads=2)
    outcomes = run_clips(tasks, "/data/pq", settings, options, cameras={"cam-12": row}, workers=2)
    outcomes[0].status                                # "stored", "skipped" or "failed" (with the reason)

Each clip's start time is local time in its camera's zone (the camera's own ``timezone``, else
``options.timezone``, else the settings' city zone, :func:`clip_zone`): a clip without a start reads
its creation tag (UTC) in that zone on the worker. A task with a GPS track (``ClipTask.track``) is
placed by it on the worker (:class:`~analytics.footage.placing.PlacedSink` around the Parquet sink),
so its file holds each frame's position and heading (none outside the track).

A clip that fails (an unreadable file, an exception) is reported with its reason and the others
go on. A worker process that dies mid-clip (killed, out of memory, a native crash) is restarted and
its clip handed to it again, ``retries`` times; then that clip is reported as failed and the others
go on. When the job itself dies (the cluster lost), the clips without an outcome are reported as
failed. Either way no partial clip is visible, and a re-run does only what is missing. Ray is an optional dependency
(``pip install 'urbanlens[cluster]'``) imported when a job starts.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import InputError, quote_value
from analytics.footage.pipeline import AnalysisOptions, analyse_clip, describe_error
from analytics.footage.placing import PlacedSink
from analytics.gpstrack import Track, camera_zone
from analytics.periods import parse_timestamp
from analytics.settings import Settings
from analytics.store.parquet import ParquetSink

__all__ = [
    "CALIBRATION_KEY", "RAY_HINT", "ClipOutcome", "ClipTask", "MANIFEST_LIMITS", "plan_workers", "read_manifest", "resolve_clip_path",
    "require_ray", "run_clips", "start_ray", "clip_zone", "RAY_NOISE", "drop_stderr_lines",
]

RAY_HINT = "the Ray engine needs Ray: pip install 'urbanlens[cluster]'"


@dataclass(frozen=True)
class ClipTask:
    """One clip of a job: its path (as every worker sees it), its camera, its start time if known."""

    path: str
    camera_id: str
    start: datetime | None = None
    track: Track | None = None
    """The GPS track that places the clip's frames (a moving camera), shipped to the workers with the job."""


@dataclass(frozen=True)
class ClipOutcome:
    """What became of one clip: ``stored``, ``skipped`` (already there) or ``failed``, with a message."""

    path: str
    camera_id: str
    status: str
    n_frames: int
    message: str
    seconds: float
    clip_sha256: str = ""
    settings_key: str = ""
    placement: str = ""
    """How many frames the clip's GPS track placed (:meth:`~analytics.gpstrack.Placement.note`); empty without a track."""


MANIFEST_LIMITS = {"bytes": 64 * 1024 * 1024, "value_chars": 4096}
"""What a clip manifest may hold: its size (a local file) and characters in one value."""


_REMOTE = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://")


def resolve_clip_path(clip: str, manifest: str | Path) -> str:
    """A manifest's clip path as the manifest means it: a relative path of a local manifest is read
    from the manifest's folder (not from where the command runs); absolute paths, ``~`` paths and
    URLs stay as written (``~`` expanded).

    >>> resolve_clip_path("day1/a.mp4", "/data/survey/clips.csv"), resolve_clip_path("/x/b.mp4", "/data/clips.csv")
    ('/data/survey/day1/a.mp4', '/x/b.mp4')
    >>> resolve_clip_path("s3://bucket/a.mp4", "/data/clips.csv"), resolve_clip_path("a.mp4", "s3://bucket/clips.csv")
    ('s3://bucket/a.mp4', 'a.mp4')
    """
    if clip.startswith(_REMOTE) or str(manifest).startswith(_REMOTE):
        return clip
    path = Path(clip).expanduser()
    return str(path if path.is_absolute() else Path(manifest).expanduser().absolute().parent / path)


def _refuse_missing(tasks: list[ClipTask], where: str) -> None:
    """Refuse a manifest naming local clip files that are not there, before any work (all named, capped)."""
    missing = [t.path for t in tasks if not t.path.startswith(_REMOTE) and not Path(t.path).is_file()]
    if missing:
        shown = ", ".join(quote_value(m, 80) for m in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise InputError(f"{where}: {len(missing)} of {len(tasks)} clip files not found: {shown} "
                         "(relative paths are read from the manifest's folder)")


def _manifest_frame(path: str | Path, where: str) -> pd.DataFrame:
    """The manifest's cells as text; a local file over the size limit is refused before it is read."""
    local = Path(path) if not str(path).startswith(_REMOTE) else None
    if local is not None and local.is_file() and local.stat().st_size > MANIFEST_LIMITS["bytes"]:
        raise InputError(f"{where} is {local.stat().st_size:,} bytes; at most {MANIFEST_LIMITS['bytes']:,} are read")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, ImportError, UnicodeError, csv.Error) as exc:
        raise InputError(f"cannot read {where}: {quote_value(exc)}") from None


def read_manifest(path: str | Path) -> list[ClipTask]:
    """Clips from a CSV with columns ``path``, ``camera_id`` and optionally ``start`` (ISO 8601).

    Any path pandas opens works (a local file or an fsspec URL such as ``s3://bucket/clips.csv``).
    Relative clip paths of a local manifest are read from its folder (:func:`resolve_clip_path`), and
    local clip files that are not there are refused, all named, before any work.
    A message quotes at most 80 characters of any value read (:func:`~analytics.untrusted.quote_value`).
    """
    where = f"manifest {quote_value(str(path))}"
    df = _manifest_frame(path, where)
    columns = [str(c) for c in df.columns]
    missing = [c for c in ("path", "camera_id") if c not in columns]
    foreign = [c for c in columns if c not in ("path", "camera_id", "start")]
    if missing or foreign:
        shown = ", ".join(quote_value(c, 40) for c in columns[:6]) + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")
        raise InputError(f"{where}: columns {shown}; expected path, camera_id and optionally start (ISO 8601)")
    tasks = []
    for i, row in enumerate(df.to_dict("records"), start=2):
        clip, camera, start = (str(row.get(c, "")).strip() for c in ("path", "camera_id", "start"))
        if not clip or not camera:
            raise InputError(f"{where} line {i}: path and camera_id must not be empty")
        long = next((v for v in (clip, camera, start) if len(v) > MANIFEST_LIMITS["value_chars"] or not v.isprintable()), None)
        if long is not None:
            raise InputError(f"{where} line {i}: {quote_value(long)}; expected at most {MANIFEST_LIMITS['value_chars']:,} "
                             "printable characters")
        if len(start) > 64:
            raise InputError(f"{where} line {i}: start {quote_value(start)} is not an ISO time such as 2024-05-01T08:30:00")
        tasks.append(ClipTask(resolve_clip_path(clip, path), camera, parse_timestamp(start, f"start on line {i}") if start else None))
    if not tasks:
        raise InputError(f"{where} lists no clips")
    _refuse_missing(tasks, where)
    return tasks


def plan_workers(workers: int | None, threads: int | None, cores: int) -> tuple[int, int]:
    """(workers, ONNX Runtime threads per worker) with workers x threads <= cores.

    Default: one worker per two cores, each with two threads (one worker on fewer cores).

    >>> plan_workers(None, None, 2), plan_workers(None, None, 16), plan_workers(2, None, 2), plan_workers(4, None, 16)
    ((1, 2), (8, 2), (2, 1), (4, 4))
    >>> plan_workers(3, 2, 4)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: 3 workers x 2 threads = 6 is more than the 4 cores; lower --workers or --threads
    """
    if cores < 1:
        raise InputError(f"cores={cores}; expected at least 1")
    if workers is not None and workers < 1 or threads is not None and threads < 1:
        raise InputError(f"workers={workers}, threads={threads}; expected at least 1 each")
    if workers is None:
        t = threads or min(2, cores)
        return max(1, cores // t), t
    t = threads or max(1, cores // workers)
    if workers * t > cores:
        raise InputError(f"{workers} workers x {t} threads = {workers * t} is more than the {cores} cores; lower --workers or --threads")
    return workers, t


def require_ray() -> Any:
    """The ``ray`` module; :class:`InputError` saying how to install it where it is missing."""
    try:
        import ray  # deferred: Ray is an optional extra (urbanlens[cluster]), heavy to import
        import ray.data  # deferred: as above
    except ImportError:
        raise InputError(RAY_HINT) from None
    return ray


RAY_NOISE = re.compile(r"core_worker\.cc:\d+: Actor with class name: .*max_restarts > 0")
"""Ray's C++ core, in this (the driver's) process, logs this error line to standard error at each worker start of a
job that restarts its workers (``max_restarts``); it is no failure of the job and :func:`run_clips` does not show it
(``RAY_BACKEND_LOG_LEVEL`` and ``ray.init(log_to_driver=False)`` do not reach it)."""


@contextlib.contextmanager
def drop_stderr_lines(drop: re.Pattern[str]) -> Iterator[None]:
    """While inside, lines written to this process's file descriptor 2 (where native code such as Ray's C++ core
    writes, below ``sys.stderr``) pass through to it unchanged, except those matching ``drop``.

    Rule: fd 2 is pointed at a pipe; a thread copies each line that ``drop`` does not match back to the
    original fd 2; on leaving, fd 2 is restored and the thread copies what is left (waiting at most 2 s).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb") as lines:
            for line in lines:  # ends when the last write end (fd 2 here) is closed
                if not drop.search(line.decode(errors="replace")):
                    with contextlib.suppress(OSError):
                        os.write(saved, line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's write end: the thread reads to the end and stops
        thread.join(timeout=2.0)
        if not thread.is_alive():
            os.close(saved)


def _quiet_rows(ds: Any) -> Iterator[dict[str, Any]]:
    """The rows of a Ray Data job (its actors start as the first is asked for), :data:`RAY_NOISE` kept off standard error."""
    with drop_stderr_lines(RAY_NOISE):
        yield from ds.iter_rows()


def start_ray(address: str | None = None, num_cpus: int | None = None) -> int:
    """Connect to the cluster at ``address``, or start a local one with ``num_cpus`` (default: this
    machine's cores); quiet (no dashboard, workers' logs not copied to this terminal, no progress
    bars). Returns the cluster's CPUs. An already started Ray is used as it is."""
    ray = require_ray()
    if not ray.is_initialized():
        quiet: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "logging_level": logging.ERROR}
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **quiet)
    logging.getLogger("ray").setLevel(logging.ERROR)  # the job's own summary is what the command prints
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # a clip whose worker died is in that summary, not a traceback
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return int(ray.cluster_resources().get("CPU", 1))


def clip_zone(camera: Mapping[str, Any], options: AnalysisOptions, settings: Settings) -> str:
    """The zone a camera's clip start times are local time in: the camera's own ``timezone``, else ``options.timezone``,
    else the settings' city zone (``URBANLENS_TIMEZONE``)."""
    return camera_zone(dict(camera), options.timezone or settings.timezone)


class _ClipWorker:
    """One Ray actor: a Parquet sink and the pipeline; called with a batch of clips, returns their outcomes.

    The ONNX Runtime session is built on the first clip and kept (the pipeline caches it per model
    and settings), so an actor holds one session for the whole job.
    """

    def __init__(
        self, out_dir: str, settings: Settings, cameras: Mapping[str, Mapping[str, Any]], zones: Mapping[str, pd.DataFrame],
        options: AnalysisOptions, fault: Callable[[Path], None] | None = None, tracks: Mapping[str, Track] | None = None,
    ) -> None:
        calibrated = {c: row[CALIBRATION_KEY] for c, row in cameras.items() if row.get(CALIBRATION_KEY) is not None}
        self.sink = ParquetSink(out_dir, cameras, zones, before_rename=fault,
                                calibrations={c: np.asarray(v["homography"], np.float64) for c, v in calibrated.items()},
                                calibration_frames={c: tuple(v["frame"]) for c, v in calibrated.items()})
        self.settings, self.cameras, self.tracks = settings, cameras, dict(tracks or {})
        self.options = dataclasses.replace(options, keep_previews=0)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [self._one(str(p), str(c), str(s)) for p, c, s in zip(batch["path"], batch["camera_id"], batch["start"], strict=True)]
        return {k: np.array([getattr(r, k) for r in rows]) for k in ClipOutcome.__dataclass_fields__}

    def _one(self, path: str, camera_id: str, start: str) -> ClipOutcome:
        t0 = time.perf_counter()
        try:
            tz = clip_zone(self.cameras[camera_id], self.options, self.settings)
            options = dataclasses.replace(self.options, start_time=start or None, timezone=tz)
            track = self.tracks.get(path)
            sink = PlacedSink(self.sink, camera_id, track, tz) if track is not None else None
            r = analyse_clip(path, camera_id, sink or self.sink, options, self.settings)
        except Exception as exc:  # any failure of one clip is its outcome; the others go on
            return ClipOutcome(path, camera_id, "failed", 0, describe_error(exc), time.perf_counter() - t0)
        n = r.measurements.n if r.measurements is not None else 0
        note = sink.placements[-1].note() if sink is not None and sink.placements else ""
        return ClipOutcome(path, camera_id, r.status, n, r.message, time.perf_counter() - t0, r.clip_sha256, r.settings_key, note)


CALIBRATION_KEY = "ground_calibration"
"""The key of a camera row (``run_clips(cameras=...)``) holding the camera's ground calibration:
``{"homography": 3x3 list, "frame": [width, height] it was drawn on]}``."""


def run_clips(
    tasks: list[ClipTask], out_dir: str | Path, settings: Settings, options: AnalysisOptions, *,
    cameras: Mapping[str, Mapping[str, Any]], zones: Mapping[str, pd.DataFrame] | None = None, workers: int = 1,
    on_outcome: Callable[[ClipOutcome], None] | None = None, retries: int = 1, fault: Callable[[Path], None] | None = None,
) -> list[ClipOutcome]:
    """Analyse ``tasks`` on the started Ray cluster (:func:`start_ray`) into ``out_dir``; one outcome per task.

    ``options``: how each clip is analysed (:class:`~analytics.footage.pipeline.AnalysisOptions`,
    shipped to the workers as it is; start times and tracks are the tasks', see above; no previews are kept);
    ``options.threads`` (default 1) ONNX Runtime threads per worker, ``workers`` workers.
    ``cameras``/``zones``: the rows and zones of every camera of the tasks (from the database); a row may
    carry its ground calibration under :data:`CALIBRATION_KEY` (``homography``, ``frame``) for speeds, as locally.
    ``on_outcome`` is told of each clip as it finishes.
    ``retries``: how many times a clip whose worker process died (killed, out of memory, a crash in
    native code) is handed to a restarted worker before it is reported as failed; the other clips
    go on either way. ``fault`` is a test hook: called in the worker with the clip's hidden
    temporary file just before it is renamed into place (a test kills the worker there).
    """
    ray = require_ray()
    if not tasks:
        raise InputError("no clips to analyse")
    if retries < 0:
        raise InputError(f"retries={retries}; expected 0 or more")
    unknown = sorted({t.camera_id for t in tasks} - set(cameras))
    if unknown:
        raise InputError(f"unknown camera(s) {', '.join(unknown)}; add them first with `urbanlens cameras add`")
    if not isinstance(options, AnalysisOptions):
        raise InputError(f"options must be an AnalysisOptions, got {type(options).__name__}")
    threads = options.threads or 1
    items = [{"path": t.path, "camera_id": t.camera_id, "start": t.start.isoformat() if t.start else ""} for t in tasks]
    with warnings.catch_warnings():  # Ray 2.60 names no parameter for the retries yet; its ** form warns of a future rename
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _ClipWorker, batch_size=1, batch_format="numpy", num_cpus=threads,
            compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),  # a worker lost loses one clip
            max_restarts=-1, max_task_retries=retries,  # Ray's default retries a clip forever: one that always kills would hang
            fn_constructor_kwargs={
                "out_dir": str(out_dir), "settings": settings, "cameras": dict(cameras), "zones": dict(zones or {}),
                "options": dataclasses.replace(options, threads=threads), "fault": fault, "tracks": {t.path: t.track for t in tasks if t.track is not None},
            },
        )
    ds.context.max_errored_blocks = -1  # a clip whose worker died `retries` + 1 times is dropped here, reported below
    outcomes: list[ClipOutcome] = []

    def tell(o: ClipOutcome) -> None:
        outcomes.append(o)
        if on_outcome is not None:
            on_outcome(o)

    reason = f"its worker process died while analysing it, {retries + 1} time(s) (the cause is in Ray's worker logs)"
    try:
        for row in _quiet_rows(ds):
            tell(ClipOutcome(**{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}))
    except Exception as exc:  # the job itself died (the cluster lost): the rest are failed, a re-run does them
        reason = f"the cluster job stopped before this clip finished: {describe_error(exc).splitlines()[0][:300]}"
    done = {o.path for o in outcomes}
    for t in tasks:
        if t.path not in done:
            tell(ClipOutcome(t.path, t.camera_id, "failed", 0, reason, 0.0))
    return outcomes
