"""Clip → sampled frames → segmentation → per-frame stages → measurements → sink: the public face.

Two public steps, used by the CLI (``urbanlens ingest``), the Ray workers and the Analyse page:

- :func:`analyse_clip` analyses one clip and, given a sink (a :class:`~analytics.store.sink.ClipSink`:
  the DuckDB store or a Parquet folder), stores it at once;
- :func:`save_analysis` stores a clip analysed without saving (the Analyse page saves after the
  person has reviewed it), adding its new camera first when asked.

How a clip is analysed is one frozen, validated :class:`AnalysisOptions` (model, sampling,
temporal fusion, refinement, zones, previews, ...), built once by the caller; settings (model
folder, default model, thresholds, threads) come in as a :class:`~analytics.settings.Settings`;
nothing here reads the environment::

    stop = threading.Event()                      # stop.set() from a "Cancel" button
    def cb(done, total, rate, eta_s): bar.progress(done / total, f"{rate:.1f} frames/s, {eta_s:.0f} s left")
    options = AnalysisOptions(sampling=Sampling.parse("2"), temporal="flow")
    result = analyse_clip("street.mp4", "cam-12", store, options, settings, progress=cb, cancel=stop)
    result.status          # "stored", "skipped" (already ingested with these settings) or "analysed" (no sink, or save=False)
    result.warnings        # e.g. how much of a truncated clip was read
    result.previews        # anonymised JPEG previews (kind "frame") and colour overlays of them (kind "overlay")

Errors are :class:`~analytics.errors.UrbanLensError` subclasses with one-line messages
(``VideoError`` for unreadable clips, ``InputError`` for an unknown camera or bad argument,
``ModelError``, ``Cancelled``); nothing is stored when one is raised.

How it runs: the model is resolved by :func:`analytics.models.zoo.resolve`; the clip is hashed
in a thread of its own while the sink is read, the clip opened and its first frames decoded; the
frames then flow through :func:`analytics.footage.runner.run_frames` (decoding thread → segmentation
in the calling thread, two frames at once where they are independent → the per-frame stages of
:mod:`analytics.footage.stages` in the measuring thread) under
:func:`analytics.footage.scheduling.clip_scheduling`. The sink's read unit closes once the first
frames are being segmented, and the sink opens for the write while the last ones are.

Guarantees: the clip's SHA-256 and the run settings are checked against the sink *before*
analysis (an already ingested clip is skipped at the cost of hashing it; one stored under another
camera or start time is refused, :class:`~analytics.store.ingest.StoredElsewhere`, unless
``options.replace_stored`` moves it); a clip that fails or is cancelled writes nothing; everything
of one clip is stored in one transaction. :func:`run_settings_key` and :func:`clip_start_time` give
a clip's settings key and start time without analysing it (a Ray job skips stored clips with them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics import __version__
from analytics.cards import ModelCard
from analytics.checksums import CHUNK_BYTES, sha256_file
from analytics.errors import Cancelled, InputError, ModelError, UrbanLensError
from analytics.footage.counting import CountPlan, count_plan, slot_detectors
from analytics.footage.lines import COUNT_ROLES, geometry_rows, parse_count_geometry, split_count_objects
from analytics.footage.options import TEMPORAL_CHOICES, AnalysisOptions, ModelSpec, ZonesSpec
from analytics.footage.roads import road_params
from analytics.footage.runner import DECODE_THREADS, Cadence, Decoder, FrameRun, Hooks, ProgressCallback, held_segmenters, run_frames
from analytics.footage.scheduling import Scheduling, clip_scheduling
from analytics.footage.stages import CONFIDENCE_STRIDE, StageContext, preview_positions
from analytics.footage.video import Sampling, VideoInfo, VideoReader, open_video, probe, select_frames
from analytics.geo import CAMERA_COLUMNS, parse_zones
from analytics.gpstrack import utc_to_local, zone
from analytics.models import zoo
from analytics.models.zoo import ResolvedModel
from analytics.records import ClipInfo, ClipMeasurements, Preview, RunInfo
from analytics.settings import Settings
from analytics.store.ingest import IngestResult, stored_elsewhere
from analytics.store.sink import ClipSink
from analytics.trust import TrustVerdict, assess_measurements

__all__ = [
    "TEMPORAL_CHOICES", "AnalysisOptions", "AnalysisResult", "ModelSpec", "ProgressCallback", "ZonesSpec", "analyse_clip",
    "clip_sha256", "clip_start_time", "describe_error", "run_settings_key", "save_analysis",
]

DISTRESS_METHOD = "heuristic-blackhat-v1"
ZONE_COLUMNS = ["zone", "role", "polygon_json"]
COUNT_ZONE_COLUMNS = ["in_label", "out_label", "drawn_width", "drawn_height"]
_MEASUREMENT_FIELDS = frozenset(f.name for f in dataclasses.fields(ClipMeasurements))


@dataclass
class AnalysisResult:
    """What :func:`analyse_clip` (and :func:`save_analysis`) did with one clip."""

    path: Path
    status: str
    """``stored``, ``skipped`` (already ingested with the same settings) or ``analysed`` (``save=False``)."""
    message: str
    clip_sha256: str
    settings_key: str
    info: VideoInfo
    measurements: ClipMeasurements | None = None
    """None when skipped."""
    ingest: IngestResult | None = None
    """The store's answer when saved."""
    warnings: list[str] = field(default_factory=list)
    """E.g. how much of a truncated file was read, or where the start time came from."""
    previews: list[Preview] = field(default_factory=list)
    """Anonymised frames (kind ``frame``) and coloured overlays of them (kind ``overlay``)."""
    review_previews: list[Preview] = field(default_factory=list)
    """Larger versions of the same previews for an on-screen review (``review_width``); never stored."""
    seconds: float = 0.0
    frames_per_s: float = 0.0
    new_zones: pd.DataFrame | None = None
    """Zones given for this clip (columns zone, role, polygon_json), saved as the camera's zones with
    it; None when the camera's stored zones (or none) were measured."""

    @property
    def trust(self) -> TrustVerdict | None:
        """The clip's trust verdict (a heuristic, :mod:`analytics.trust`; stored with the run), None when skipped."""
        return assess_measurements(self.measurements) if self.measurements is not None else None

    @property
    def overlays(self) -> list[Preview]:
        return [p for p in self.previews if p.kind == "overlay"]

    @property
    def frames(self) -> list[Preview]:
        """The anonymised previews without colours."""
        return [p for p in self.previews if p.kind == "frame"]


def analyse_clip(
    path: str | Path,
    camera_id: str,
    sink: ClipSink | None,
    options: AnalysisOptions,
    settings: Settings,
    *,
    progress: ProgressCallback | Callable[[int, int, float, float], None] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
    save: bool = True,
) -> AnalysisResult:
    """Analyse one clip for a camera and store its per-frame measurements in ``sink``.

    ``sink``: where the clip goes (a :class:`~analytics.store.sink.ClipSink`: an open
    :class:`~analytics.store.Store` or a :class:`~analytics.store.parquet.ParquetSink`), or None
    to analyse only. ``options``: how (:class:`AnalysisOptions`; model, sampling, temporal fusion,
    refinement, zones, start time, previews, threads, ...). ``settings``: the
    :class:`~analytics.settings.Settings` to run under (model folder, default model,
    low-confidence threshold, threads, longest clip). ``progress(done, total, rate, eta_s)`` and
    ``cancel`` (an Event or a callable) are used from the calling thread. ``save=False`` reads the
    camera's zones from ``sink`` (the camera need not exist yet) but stores nothing: store the
    result later with :func:`save_analysis`.

    Raises :class:`~analytics.errors.VideoError` (and other InputErrors) for bad input,
    :class:`~analytics.errors.ModelError`, and :class:`~analytics.errors.Cancelled`; nothing is
    stored in any of these cases.
    """
    t_start = time.perf_counter()
    if not isinstance(settings, Settings):
        raise InputError(f"settings must be a Settings (analytics.settings.load_settings()), got {type(settings).__name__}")
    if not isinstance(camera_id, str) or not camera_id.strip():
        raise InputError("a camera id is needed (e.g. --camera demo-cam)")
    if not isinstance(options, AnalysisOptions):
        raise InputError(f"options must be an AnalysisOptions (AnalysisOptions(sampling=..., ...)), got {type(options).__name__}")
    if progress is not None and not callable(progress):
        raise InputError("progress must be a callable progress(done, total, rate, eta_s)")
    if sink is not None:
        _check_sink(sink)
    hooks = Hooks(progress, _cancel_check(cancel), t_start)
    return _ClipRun(Path(path).expanduser(), camera_id, sink, options, settings, hooks, save).run()


def _check_sink(sink: object) -> None:
    if not isinstance(sink, ClipSink):
        raise InputError(f"sink must be a ClipSink (an open Store or a ParquetSink), or None to analyse only; got {type(sink).__name__}")


def save_analysis(
    sink: ClipSink, result: AnalysisResult, *, new_camera: Mapping[str, Any] | None = None, replace: bool = False,
) -> AnalysisResult:
    """Store a clip analysed with ``save=False`` (or without a sink) in ``sink``: its new camera first (``new_camera``: a mapping
    with the keys camera_id, name, lon, lat, heading, kind), then the zones given for the clip as the
    camera's zones, then its measurements in one transaction.

    Returns the result with ``status`` ``stored`` or ``skipped`` (already ingested with the same
    settings), the store's ``message`` and ``ingest``. :class:`~analytics.errors.InputError` when the
    result holds no measurements or the new camera is not the clip's;
    :class:`~analytics.store.ingest.StoredElsewhere` when the clip is stored under another camera or
    start time, unless ``replace`` (its old rows are then replaced in the same transaction).
    """
    _check_sink(sink)
    m = result.measurements
    if m is None:
        raise InputError(f"{result.path.name} has no measurements to save (status {result.status!r}); analyse it first")
    camera_id = m.clip.camera_id
    if new_camera is not None:
        if str(new_camera.get("camera_id")) != camera_id:
            raise InputError(f"new camera {new_camera.get('camera_id')!r} is not the clip's camera {camera_id!r}")
        sink.upsert_cameras(pd.DataFrame([{k: new_camera.get(k) for k in CAMERA_COLUMNS}]))
    if result.new_zones is not None:
        sink.set_zones(camera_id, result.new_zones)
    ingest = sink.ingest(m, replace=replace)[0]
    return dataclasses.replace(result, status=ingest.status, message=ingest.message, ingest=ingest)


def describe_error(exc: BaseException) -> str:
    """One line for a failed clip (UrbanLens errors as they are; others with their type)."""
    if isinstance(exc, UrbanLensError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def clip_sha256(path: str | Path, chunk: int = CHUNK_BYTES, cancelled: Callable[[], bool] | None = None) -> str:
    """SHA-256 of a clip's bytes (:func:`analytics.checksums.sha256_file`); a cancel stores nothing."""
    try:
        return sha256_file(path, chunk, cancelled)
    except Cancelled as exc:
        raise Cancelled(f"{exc}; nothing was stored") from None


def run_settings_key(
    path: str | Path, options: AnalysisOptions, settings: Settings, *, zones: pd.DataFrame | None = None,
    calibration: tuple[np.ndarray, tuple[int, int] | None] | None = None,
) -> str:
    """The settings key :func:`analyse_clip` would give the run of the clip at ``path`` (without analysing it):
    from the resolved model (a built-in one installed if missing), ``options``, ``settings``, the zones measured
    (``options.zones``, else the camera's ``zones``) and, where the clip is counted, the counting's parameters
    (``calibration``: the camera's homography with the frame size it was drawn on)."""
    spec = options.model or settings.default_model
    m = zoo.resolve(spec, settings, install=isinstance(spec, str) and spec in zoo.builtin_cards())
    info = probe(Path(path).expanduser())
    zones_df, _ = _zones_for(options.zones, zones, info)
    plan = count_plan(zones_df, (info.width, info.height), info.fps, options, settings, calibration)
    return _run_info(m, options, settings, zones_df, plan).settings_key


def clip_start_time(path: str | Path, start: datetime | None = None, tz: str = "UTC") -> datetime:
    """The start time :func:`analyse_clip` gives the clip at ``path``: ``start`` when given, else the clip's
    creation_time tag, else the file's modification time (both as local time in zone ``tz``)."""
    with open_video(Path(path).expanduser(), "all") as reader:
        return _start_time(start, Path(path).expanduser(), reader, [], tz)


def _cancel_check(cancel: threading.Event | Callable[[], bool] | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return lambda: bool(cancel.is_set())
    if callable(cancel):
        return lambda: bool(cancel())
    raise InputError(f"cancel must be a threading.Event or a callable returning True to stop, got {type(cancel).__name__}")


def _start_time(start: datetime | None, path: Path, reader: VideoReader, warnings: list[str], tz: str = "UTC") -> datetime:
    """The given start time, else the clip's creation_time tag (UTC) as local time in zone ``tz``, else the file's
    modification time there (said in warnings)."""
    if start is not None:
        return start
    tag = reader.creation_time
    if tag is not None:
        local = utc_to_local(tag, tz)
        warnings.append(f"start time taken from the clip's creation_time tag ({local.isoformat(sep=' ')}, {tz})")
        return local
    mtime = datetime.fromtimestamp(path.stat().st_mtime, zone(tz)).replace(tzinfo=None, microsecond=0)
    warnings.append(f"start time not given: took the file's modification time {mtime.isoformat(sep=' ')}")
    return mtime


def _zones_for(zones: ZonesSpec, camera_zones: pd.DataFrame | None, info: VideoInfo) -> tuple[pd.DataFrame | None, bool]:
    """(zones to measure, whether they are new for the camera)."""
    if zones is None:
        return (camera_zones if camera_zones is not None and not camera_zones.empty else None), False
    if isinstance(zones, pd.DataFrame):
        if not set(ZONE_COLUMNS).issubset(zones.columns):
            raise InputError(f"zones need columns {sorted(ZONE_COLUMNS)}, got {list(zones.columns)}")
        return zones[[*ZONE_COLUMNS, *[c for c in COUNT_ZONE_COLUMNS if c in zones.columns]]].reset_index(drop=True), True
    return _clip_zones(zones, (info.width, info.height)), True


def _clip_zones(zones: str | Path | bytes, size: tuple[int, int]) -> pd.DataFrame:
    """Zones given with a clip (a ZONES.json path or its bytes): segmentation zones (:func:`~analytics.geo.parse_zones`)
    and count lines and dwell zones (:func:`~analytics.footage.lines.parse_count_geometry`, refused in one line
    when they do not fit the clip), as one table of zones rows."""
    if isinstance(zones, bytes):
        raw = zones
    else:
        if not Path(zones).is_file():
            raise InputError(f"zones file {str(zones)!r} does not exist")
        raw = Path(zones).read_bytes()
    count, other = split_count_objects(raw)
    parts = [parse_zones(json.dumps(other).encode(), frame_size=size)] if other else []
    if (count.get("zones") if isinstance(count, dict) else count):
        parts.append(geometry_rows(parse_count_geometry(count, size)))
    if not parts:
        raise InputError("the zones file lists no zones, count lines or dwell zones")
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _segmentation_zones(zones: pd.DataFrame | None) -> pd.DataFrame | None:
    """The zones whose pixels are measured: every zone but the count lines."""
    if zones is None or "role" not in zones.columns:
        return zones
    kept = zones[zones["role"] != COUNT_ROLES[0]].reset_index(drop=True)
    return kept if not kept.empty else None


def _cadence(reader: VideoReader, plan: CountPlan | None, max_frames: int | None) -> Cadence | None:
    """Where a clip is counted: the segmentation frames and the frames at the tracking rate (up to the last
    segmented frame when ``max_frames`` cuts the clip), decoded together; None when it is not."""
    if plan is None:
        return None
    segment = np.asarray(reader.wanted, dtype=np.int64)
    track = select_frames(reader.frame_times, Sampling("fps", plan.rate))
    if max_frames is not None and len(segment):
        track = track[track <= segment.max()]
    reader.wanted = np.union1d(segment, track)
    return Cadence(frozenset(int(i) for i in segment), frozenset(int(i) for i in track))


def _zones_key(zones: pd.DataFrame | None) -> str | None:
    if zones is None:
        return None
    rows = sorted(zip(zones["zone"], zones["role"], zones["polygon_json"], strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _camera_zones(
    sink: ClipSink | None, camera_id: str, check: bool, count: bool,
) -> tuple[pd.DataFrame | None, tuple[np.ndarray, tuple[int, int] | None] | None]:
    """The camera's stored zones and (when ``count``) its ground calibration with the frame size it was drawn
    on, read in one short read-only connection together with the check that the camera exists when ``check``
    (:class:`~analytics.errors.InputError` for an unknown camera); (None, None) without a sink."""
    if sink is None:
        return None, None
    with sink.reading():
        if check:
            sink.camera(camera_id)
        h = sink.calibration(camera_id) if count else None
        return sink.zones(camera_id), (None if h is None else (h, sink.calibration_frame(camera_id)))


class _Hashing:
    """The clip's SHA-256, computed in a thread of its own (hashlib releases the GIL) while the
    calling thread reads the store, opens the clip and starts decoding."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._sha: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="urbanlens-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._sha = sha256_file(self.path, CHUNK_BYTES, self._stop.is_set)
        except BaseException as exc:  # raised again by result() in the calling thread
            self._error = exc

    def result(self, cancelled: Callable[[], bool]) -> str:
        """Wait for the hash, asking ``cancelled`` (in the calling thread) while waiting."""
        while self._thread.is_alive():
            if cancelled():
                self._stop.set()
                raise Cancelled(f"{self.path.name}: cancelled while reading the file; nothing was stored")
            self._thread.join(timeout=0.05)
        if self._error is not None:
            if isinstance(self._error, Cancelled):
                raise Cancelled(f"{self._error}; nothing was stored") from None
            raise self._error
        assert self._sha is not None
        return self._sha

    def stop(self) -> None:
        self._stop.set()


def _run_info(
    m: ResolvedModel, options: AnalysisOptions, settings: Settings, zones: pd.DataFrame | None, plan: CountPlan | None = None,
) -> RunInfo:
    """The run's provenance: model, sampling, smoothing, code version and every parameter that changes the
    numbers (the counting's, :meth:`CountPlan.params`, where the clip is counted)."""
    return RunInfo(
        model_name=m.name, weights_sha256=m.weights_sha256, class_set=m.card.class_set, sampling=options.sampling.label,
        smoothing=options.smoothing, code_version=__version__,
        params={
            "input": f"{m.card.input_height}x{m.card.input_width}", "resize": m.card.resize,
            "confidence_stride": CONFIDENCE_STRIDE, "low_confidence": settings.low_confidence,
            "min_object": "max(20 px, 0.0002 of the frame)", "distress": DISTRESS_METHOD,
            "zones": _zones_key(zones), **({"max_frames": options.max_frames} if options.max_frames else {}),
            **_refinement_params(options, m.card), **road_params(m), **({"counting": plan.params()} if plan is not None else {}),
        },
    )


def _refinement_params(options: AnalysisOptions, card: ModelCard) -> dict[str, Any]:
    """Provenance of refinement and test-time augmentation; empty when both are off, so runs
    without them keep the settings key they always had.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> card = ModelCard("m", CITYSCAPES, 32, 32)
    >>> _refinement_params(AnalysisOptions(), card), _refinement_params(AnalysisOptions(tta="flip"), card)
    ({}, {'tta': 'flip'})
    >>> _refinement_params(AnalysisOptions(refine="crf"), card)["crf"]["iterations"]
    3
    """
    out: dict[str, Any] = {}
    if options.refine != "none":
        out["refine"] = options.refine
        out["crf"] = card.crf_params.to_dict()
    if options.tta != "none":
        out["tta"] = options.tta
    return out


# -- one clip, step by step ----------------------------------------------------------------------


class _ClipRun:
    """One call of :func:`analyse_clip`: the sink's read unit, the model, the hash, the frames, the save."""

    def __init__(
        self, path: Path, camera_id: str, sink: ClipSink | None, options: AnalysisOptions, settings: Settings, hooks: Hooks,
        save: bool,
    ) -> None:
        self.path, self.camera_id, self.sink, self.options, self.settings, self.hooks = path, camera_id, sink, options, settings, hooks
        self.save = save and sink is not None
        # One read unit of the sink (opening one costs about 20 ms) for the camera, its zones and the
        # already-ingested check; closed before the analysis starts.
        self.reading = contextlib.ExitStack()
        self.warnings: list[str] = []
        self.calibration: tuple[np.ndarray, tuple[int, int] | None] | None = None
        self.tz = options.timezone or settings.timezone
        """The zone of the clip's start time (the options', else the settings' city zone)."""

    def run(self) -> AnalysisResult:
        if self.sink is not None:
            self.reading.enter_context(self.sink.reading())
        try:
            return self._analyse()
        finally:
            self.reading.close()

    def _analyse(self) -> AnalysisResult:
        # an unknown camera fails before any work
        camera_zones, self.calibration = _camera_zones(self.sink, self.camera_id, check=self.save, count=self.options.count)
        m = self._model()
        hashing = _Hashing(self.path)
        try:
            result = self._read(m, hashing, camera_zones)
            if result.status == "skipped":
                return result
            if self.save and self.sink is not None:
                result = save_analysis(self.sink, result, replace=self.options.replace_stored)
        finally:
            hashing.stop()
            if self.sink is not None:
                self.sink.drop_early_writer()
        n = result.measurements.n if result.measurements is not None else 0
        result.seconds = time.perf_counter() - self.hooks.t_start
        result.frames_per_s = n / result.seconds if result.seconds > 0 else 0.0
        if self.warnings and result.status == "stored":
            result.message += f" ({'; '.join(self.warnings)})"
        return result

    def _model(self) -> ResolvedModel:
        """:func:`analytics.models.zoo.resolve`, letting go of the sink's read unit first when a
        built-in model is not installed yet (installing takes a while; writers in other processes would wait)."""
        spec = self.options.model or self.settings.default_model
        try:
            m = zoo.resolve(spec, self.settings)
        except ModelError:
            if not isinstance(spec, str) or spec not in zoo.builtin_cards():
                raise
            self.reading.close()
            m = zoo.resolve(spec, self.settings, install=True)
        try:
            return zoo.with_road(m, self.options.road_model, self.settings, install_missing=False)
        except ModelError:  # a built-in road model not installed yet: installed now, as the segmenter
            self.reading.close()
            return zoo.with_road(m, self.options.road_model, self.settings)

    def _read(self, m: ResolvedModel, hashing: _Hashing, camera_zones: pd.DataFrame | None) -> AnalysisResult:
        """Open the clip and run its frames; a skipped result when the sink holds it already."""
        options, settings, hooks = self.options, self.settings, self.hooks
        with open_video(
            self.path, options.sampling, max_frames=options.max_frames, max_duration_s=settings.max_clip_minutes * 60.0,
            decode_threads=DECODE_THREADS,
        ) as reader:
            info = reader.info
            self.warnings = [*reader.notes, *([reader.problem] if reader.problem else [])]
            zones_df, new_zones = _zones_for(options.zones, camera_zones, info)
            plan = count_plan(zones_df, (info.width, info.height), info.fps, options, settings, self.calibration)
            self.warnings += list(plan.notes) if plan is not None else []
            cadence = _cadence(reader, plan, options.max_frames)
            n_segmented = len(cadence.segment) if cadence is not None else reader.n_wanted
            if hooks.progress is not None:
                hooks.progress(0, n_segmented, 0.0, float("nan"))
            with clip_scheduling() as sched, Decoder(reader, m.card, sched, cadence) as decoder:  # decoding starts while the hash is checked
                sha = hashing.result(hooks.cancelled)
                run = _run_info(m, options, settings, zones_df, plan)
                start = _start_time(options.start, self.path, reader, self.warnings, self.tz)
                if self._stored(sha, run.settings_key, start):
                    self.reading.close()
                    return AnalysisResult(
                        self.path, "skipped", "already ingested with the same model and settings", sha, run.settings_key, info,
                        seconds=time.perf_counter() - hooks.t_start,
                    )
                frames = self._frames(m, (reader, n_segmented), decoder, sched, zones_df, plan)
            if reader.problem and reader.problem not in self.warnings:
                self.warnings.append(reader.problem)
        measurements = _measurements(frames, info, sha, self.camera_id, start, run, options.label or self.path.name, self.tz)
        return AnalysisResult(
            self.path, "analysed", f"analysed {measurements.n} sampled frames", sha, run.settings_key, info, measurements, None,
            self.warnings, list(measurements.previews), list(frames.parts.get("review_previews", [])),
            new_zones=zones_df if new_zones else None,
        )

    def _stored(self, sha: str, settings_key: str, start: datetime) -> bool:
        """Whether the clip is to be skipped: stored with these settings under this camera and start. A clip stored
        under another camera or start time is refused (:class:`~analytics.store.ingest.StoredElsewhere`), or with
        ``options.replace_stored`` analysed again (its old rows are replaced when it is saved)."""
        if not self.save or self.sink is None:
            return False
        where = self.sink.stored_clip(sha)
        moved = stored_elsewhere(self.options.label or self.path.name, where, (self.camera_id, start)) if where is not None else None
        if moved is not None and not self.options.replace_stored:
            raise moved
        return moved is None and self.sink.is_ingested(sha, settings_key)

    def _frames(
        self, m: ResolvedModel, clip: tuple[VideoReader, int], decoder: Decoder, sched: Scheduling, zones: pd.DataFrame | None,
        plan: CountPlan | None,
    ) -> FrameRun:
        """Segment the frames on the clip's segmenters and run the per-frame stages on them (``clip``: the
        reader and its number of segmented frames)."""
        options, settings = self.options, self.settings
        reader, n_segmented = clip
        context = StageContext(
            m.card, _segmentation_zones(zones), settings.low_confidence, preview_positions(n_segmented, options.keep_previews),
            options.raw_previews, options.review_width, plan,
        )
        threads = options.threads or settings.threads
        with held_segmenters(m, options, threads, settings.ort_spin) as segs:
            # the read unit closes once the first frames are being segmented (closing takes about 7 ms
            # of the calling thread, which only waits while two frames run)
            on_decoded = self.sink.open_writer_early if self.save and self.sink is not None else None
            # the detector runs beside the segmenter, on each slot's threads
            detectors = slot_detectors(plan, len(segs), max(1, threads // len(segs))) if plan is not None else []
            return run_frames(reader, decoder, segs, context, self.hooks, sched, on_decoded, self.reading.close, detectors)


def _measurements(
    frames: FrameRun, info: VideoInfo, sha: str, camera_id: str, start: datetime, run: RunInfo, label: str, tz: str | None = None,
) -> ClipMeasurements:
    """The clip's measurements from the frames' rows and the stages' columns (other columns are left out); ``tz``: the
    zone ``start`` is local time in (frames' local times follow a clock change inside the clip)."""
    clip = ClipInfo(
        sha256=sha, camera_id=camera_id, start_time=start, duration_s=info.duration_s, fps=info.fps, width=info.width,
        height=info.height, n_frames=info.n_frames, label=label, source_path=str(info.path.resolve()), timezone=tz,
    )
    parts = {k: v for k, v in frames.parts.items() if k in _MEASUREMENT_FIELDS}
    return ClipMeasurements(
        clip=clip, run=run, frame_index=np.array(frames.frame_index, np.int64), t_s=np.array(frames.t_s, np.float64), **parts,
    )
