"""A batch of clips on either engine: this process (:func:`run_local`) or a Ray cluster (:func:`run_ray`).

Both take one :class:`~analytics.footage.pipeline.AnalysisOptions` for every clip and return a
:class:`BatchResult`: one :class:`BatchOutcome` per clip (``stored``, ``skipped``, ``failed`` or
``cancelled``, with its frames, rate and message) and the counts per status; they format nothing
(``urbanlens ingest`` prints them). One bad clip does not stop the batch; a failed clip stores nothing.
A clip stored already under another camera or start time fails before it is analysed, saying where it
is (``refused``), unless ``options.replace_stored`` moves it::

    with open_store(settings.db_path) as store:
        result = run_local([BatchClip(Path("0800.mp4"), "cam-12")], store, AnalysisOptions(), settings)
    result.counts["stored"], [o.message for o in result.failed]
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.footage import cluster
from analytics.footage.cluster import ClipOutcome, ClipTask
from analytics.footage.pipeline import (
    AnalysisOptions,
    AnalysisResult,
    ProgressCallback,
    analyse_clip,
    clip_sha256,
    clip_start_time,
    describe_error,
    run_settings_key,
)
from analytics.footage.video import clip_start
from analytics.settings import Settings
from analytics.store import Store, open_store
from analytics.store.ingest import IngestResult, StoredElsewhere, stored_elsewhere
from analytics.store.parquet import clip_written, import_clips
from analytics.store.sink import ClipSink

__all__ = ["STATUSES", "BatchClip", "BatchOutcome", "BatchResult", "RayPlan", "run_local", "run_ray", "staging_dir", "stored_before"]

STATUSES = ("stored", "skipped", "failed", "cancelled")


@dataclass(frozen=True)
class BatchClip:
    """One clip of a batch: its file, its camera, the time of its first frame if known."""

    path: Path
    camera_id: str
    start: datetime | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one clip."""

    name: str
    """The clip's file name."""
    status: str
    """``stored``, ``skipped`` (already there with the same settings), ``failed`` or ``cancelled``."""
    n_frames: int | None
    """Sampled frames analysed or stored; None when unknown or none."""
    message: str
    """The store's or the error's one line."""
    frames_per_s: float | None = None
    """Analysis rate, when the clip was analysed here or on a worker and not loaded from one."""
    on_worker: bool = False
    """The rate was measured on a cluster worker."""
    refused: bool = False
    """Failed before analysis because the clip is stored under another camera or start time (``--replace`` moves it)."""


@dataclass
class BatchResult:
    """Every clip's outcome, in order; ``interrupted`` when the batch stopped at a Ctrl-C."""

    outcomes: list[BatchOutcome] = field(default_factory=list)
    interrupted: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Clips per status (every status of :data:`STATUSES`, zero included)."""
        c = Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUSES}

    @property
    def failed(self) -> list[BatchOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> int:
        """Clips stored or skipped."""
        return sum(1 for o in self.outcomes if o.status in ("stored", "skipped"))


ClipProgress = Callable[[BatchClip], AbstractContextManager[ProgressCallback | None]]
"""Made per clip by the caller: a context around the clip's analysis giving its progress callback (a bar)."""


def _local_outcome(name: str, result: AnalysisResult) -> BatchOutcome:
    n = result.measurements.n if result.measurements is not None else None
    rate = result.frames_per_s if result.status == "stored" else None
    return BatchOutcome(name, result.status, n, result.message, rate)


def run_local(
    clips: Sequence[BatchClip], sink: ClipSink, options: AnalysisOptions, settings: Settings, *,
    progress: ClipProgress | None = None, on_start_note: Callable[[BatchClip, str], None] | None = None,
) -> BatchResult:
    """Analyse ``clips`` one after another in this process into ``sink``.

    A clip without a start time takes ``options.start_time`` (the first clip; each later one
    follows on after the duration of the last analysed clip), else its creation tag or file time:
    ``on_start_note(clip, note)`` says which before the work. Every camera is checked first (an
    unknown one: :class:`~analytics.errors.InputError`, nothing done). A Ctrl-C marks the clip
    ``cancelled`` and ends the batch with ``interrupted``.
    """
    with sink.reading():
        for camera_id in sorted({c.camera_id for c in clips}):
            sink.camera(camera_id)  # unknown camera: one clear error before any work
    out = BatchResult()
    follow_on = options.start
    for clip in clips:
        start = clip.start or follow_on
        if start is None:
            guess = clip_start(clip.path)
            start = guess.time
            if on_start_note is not None:
                on_start_note(clip, guess.note())
        try:
            with (progress(clip) if progress is not None else nullcontext()) as bar:
                result = analyse_clip(clip.path, clip.camera_id, sink, dataclasses.replace(options, start_time=start), settings,
                                      progress=bar)
        except KeyboardInterrupt:
            out.outcomes.append(BatchOutcome(clip.path.name, "cancelled", None, "interrupted; nothing stored for this clip"))
            out.interrupted = True
            return out
        except StoredElsewhere as exc:
            out.outcomes.append(BatchOutcome(clip.path.name, "failed", None, str(exc), refused=True))
            continue
        except Exception as exc:  # UrbanLens errors and any other: one bad clip must not stop the batch
            out.outcomes.append(BatchOutcome(clip.path.name, "failed", None, describe_error(exc)))
            continue
        out.outcomes.append(_local_outcome(clip.path.name, result))
        if follow_on is not None:
            follow_on = follow_on + timedelta(seconds=result.info.duration_s)
    return out


def staging_dir(settings: Settings) -> Path:
    """Where a Ray batch without its own Parquet folder writes before loading the database."""
    return settings.home / "cluster-parquet"


@dataclass(frozen=True)
class RayPlan:
    """How a Ray batch runs: clips, workers x threads on the cluster's CPUs, the Parquet folder."""

    clips: int
    workers: int
    threads: int
    cpus: int
    folder: Path


def run_ray(
    tasks: Sequence[ClipTask], store: Store, options: AnalysisOptions, settings: Settings, *, out_parquet: Path | None = None,
    address: str | None = None, workers: int | None = None, on_plan: Callable[[RayPlan], None] | None = None,
    on_outcome: Callable[[ClipOutcome], None] | None = None, on_wait: Callable[[str], None] | None = None,
) -> BatchResult:
    """Analyse ``tasks`` on a Ray cluster (joined at ``address``, else a local one started here)
    into Parquet; without ``out_parquet``, each clip is then loaded into ``store`` in a
    transaction of its own. ``options.threads``/``workers`` as :func:`analytics.footage.cluster.plan_workers`
    plans them. ``on_plan`` is told the plan before the job starts, ``on_outcome`` of each clip as
    it finishes on its worker; ``on_wait`` when loading waits for a busy database."""
    cluster.require_ray()  # missing Ray: one line saying how to install it, before any work
    with store.reading():  # unknown camera: one clear error before any work
        cameras = {c: store.camera(c) for c in sorted({t.camera_id for t in tasks})}
        zones = {c: store.zones(c) for c in cameras}
        if options.count:  # ground calibrations travel in the camera rows
            cameras = {c: {**row, cluster.CALIBRATION_KEY: None if (h := store.calibration(c)) is None
                           else {"homography": h.tolist(), "frame": store.calibration_frame(c)}} for c, row in cameras.items()}
    known = stored_before(tasks, store, options, settings, cameras=cameras, zones=zones)
    todo = [t for t in tasks if t.path not in known]
    if not todo:  # every clip is stored already (or refused): Ray is not started
        return BatchResult([known[t.path] for t in tasks])
    cores = cluster.start_ray(address)
    n_workers, n_threads = cluster.plan_workers(workers, options.threads, cores)
    folder = out_parquet.expanduser() if out_parquet is not None else staging_dir(settings)
    if on_plan is not None:
        on_plan(RayPlan(len(todo), n_workers, n_threads, cores, folder))
    outcomes = cluster.run_clips(
        todo, folder, settings, dataclasses.replace(options, threads=n_threads), cameras=cameras, zones=zones,
        workers=n_workers, on_outcome=on_outcome,
    )
    loaded = _load(folder, outcomes, settings, on_wait, options.replace_stored) if out_parquet is None else {}
    ran = {o.path: _ray_outcome(o, loaded.get(o.path)) for o in outcomes}
    return BatchResult([known.get(t.path) or ran[t.path] for t in tasks if t.path in known or t.path in ran])


def stored_before(
    tasks: Sequence[ClipTask], store: Store, options: AnalysisOptions, settings: Settings, *,
    cameras: Mapping[str, Mapping[str, Any]], zones: Mapping[str, pd.DataFrame],
) -> dict[str, BatchOutcome]:
    """The outcomes known before a Ray job, by task path: ``skipped`` for a clip the database holds with the
    settings key its worker would use (:func:`~analytics.footage.pipeline.run_settings_key`: same model,
    options, camera zones and counting) under the same camera and start, ``failed`` (``refused``) for one stored
    under another camera or start time unless ``options.replace_stored``. Costs one read of each clip file (its
    SHA-256); the settings key is worked out only for clips the database holds. A clip whose file cannot be
    read here is left to its worker, which reports it."""
    out: dict[str, BatchOutcome] = {}
    for t in tasks:
        name = Path(t.path).name
        try:
            sha = clip_sha256(t.path)
            with store.reading():
                where = store.stored_clip(sha)
            if where is None:
                continue
            tz = cluster.clip_zone(cameras[t.camera_id], options, settings)  # as its worker reads the clip's creation tag
            moved = stored_elsewhere(name, where, (t.camera_id, clip_start_time(t.path, t.start, tz)))
            if moved is not None:
                if not options.replace_stored:
                    out[t.path] = BatchOutcome(name, "failed", None, str(moved), refused=True)
                continue
            key = run_settings_key(t.path, options, settings, zones=zones.get(t.camera_id), calibration=_calibration(cameras[t.camera_id]))
        except Exception:  # an unreadable clip: its worker says what is wrong with it
            continue
        with store.reading():
            if store.is_ingested(sha, key):
                out[t.path] = BatchOutcome(name, "skipped", None, "already stored with the same model and settings")
    return out


def _calibration(camera: Mapping[str, Any]) -> tuple[np.ndarray, tuple[int, int] | None] | None:
    """The ground calibration a camera row carries for the workers (:data:`~analytics.footage.cluster.CALIBRATION_KEY`), if any."""
    cal = camera.get(cluster.CALIBRATION_KEY)
    if cal is None:
        return None
    frame = cal.get("frame")
    return np.asarray(cal["homography"], np.float64), (int(frame[0]), int(frame[1])) if frame is not None else None


def _ray_outcome(o: ClipOutcome, loaded: IngestResult | None) -> BatchOutcome:
    name = Path(o.path).name
    if o.status == "failed":
        return BatchOutcome(name, "failed", None, o.message)
    if loaded is not None:
        message = f"{loaded.message}; {o.placement}" if o.placement and loaded.status == "stored" else loaded.message
        return BatchOutcome(name, "stored" if loaded.status == "stored" else "skipped", loaded.n_frames or None, message)
    if o.status == "stored":
        return BatchOutcome(name, "stored", o.n_frames, o.message, o.n_frames / max(o.seconds, 1e-9), on_worker=True)
    return BatchOutcome(name, o.status, None, o.message)


def _load(
    folder: Path, outcomes: list[ClipOutcome], settings: Settings, on_wait: Callable[[str], None] | None, replace: bool = False,
) -> dict[str, IngestResult]:
    """Load the clips written (or found) by the job into the database, one transaction per clip."""
    files: dict[Path, str] = {}
    for o in outcomes:
        path = clip_written(folder, o.clip_sha256, o.settings_key) if o.status != "failed" else None
        if path is not None:
            files[path] = o.path
    if not files:
        return {}
    loaded: dict[str, IngestResult] = {}

    def told(p: Path, res: IngestResult) -> None:
        loaded[files[p]] = res

    with open_store(settings.db_path, lock_timeout_s=settings.lock_timeout_s, on_wait=on_wait) as store:
        import_clips(store, folder, list(files), on_clip=told, replace=replace)
    return loaded
