"""Clip → sampled frames → segmentation → temporal smoothing → measurements → store.

Two public steps, used by the CLI (``urbanlens ingest``) and the dashboard's Analyse page:

- :func:`analyse_clip` analyses one clip and, with ``save=True`` (the CLI), stores it at once;
- :func:`save_analysis` stores a clip analysed with ``save=False`` (the Analyse page saves after
  the person has reviewed it), adding its new camera first when asked.

::

    stop = threading.Event()                      # stop.set() from a "Cancel" button
    def cb(done, total, rate, eta_s): bar.progress(done / total, f"{rate:.1f} frames/s, {eta_s:.0f} s left")
    result = analyse_clip("street.mp4", "cam-12", store, settings=settings, fps=2, progress=cb, cancel=stop)
    result.status          # "stored", "skipped" (already ingested with these settings) or "analysed" (save=False)
    result.warnings        # e.g. how much of a truncated clip was read
    result.previews        # anonymised JPEG previews (kind "frame") and colour overlays of them (kind "overlay")

The arguments that say how a clip is analysed are gathered, validated, in one
:class:`AnalysisOptions`; a new option is one field there (plus its keyword in
:func:`analyse_clip`). Settings (model folder, default model, thresholds, threads) come in as a
:class:`~analytics.settings.Settings` argument; nothing here reads the environment.

Errors are :class:`~analytics.errors.UrbanLensError` subclasses with one-line messages
(``VideoError`` for unreadable clips, ``InputError`` for an unknown camera or bad argument,
``ModelError``, ``Cancelled``); nothing is stored when one is raised.

How it runs (2 CPU cores in mind): a producer thread decodes the sampled frames and preprocesses
them into a bounded queue while the model runs, and a measuring thread measures each segmented
frame (class pixels, zones, objects, stationarity, flicker, distress heuristic, previews) while the
model runs on the next; ONNX Runtime, OpenCV and numpy release the GIL, so they overlap. Where
frames do not depend on each other (no temporal fusion) two consecutive frames are segmented at
once, each in a worker thread on its own session with half the threads (:func:`frame_slots`), and
handed to the measuring thread in order; with temporal fusion the calling thread segments one frame
at a time on all threads. The clip is hashed in a thread of its own while the store is read, the
clip opened and its first frames decoded; the store's read-only connection closes once the first
frames are being segmented, and the store opens for the write while the last ones are. The
decoding and measuring threads run under Linux's idle scheduling policy (a lower priority
elsewhere), and OpenCV runs single-threaded while a clip is analysed, so its work stays in those
threads instead of waking a pool of threads at normal priority that would take the cores from
inference. Where the time goes is measured in ``docs/performance.md``. The progress callback and
the cancellation check run in the calling thread.

Guarantees: the clip's SHA-256 and the run settings are checked against the store *before*
analysis (an already ingested clip is skipped at the cost of hashing it); a clip that fails or is
cancelled writes nothing; everything of one clip is stored in one transaction.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias

import cv2
import numpy as np
import pandas as pd

from analytics import __version__
from analytics.cards import ModelCard
from analytics.checksums import CHUNK_BYTES, sha256_file
from analytics.errors import Cancelled, InputError, ModelError, UrbanLensError, VideoError
from analytics.footage.distress import distress_heuristic
from analytics.footage.geometry import Geometry, frame_geometry
from analytics.footage.measure import FrameMeasures, ZoneMask, group_mask, measure_frame, zone_masks
from analytics.footage.overlay import overlay
from analytics.footage.privacy import PREVIEW_WIDTH, anonymise, preview_jpeg
from analytics.footage.refine import check_refine, check_tta
from analytics.footage.segment import Segmentation, Segmenter, model_view, normalise_into
from analytics.footage.temporal import DEFAULT_ALPHA, FLOW_ALPHA, SMOOTHING_METHODS, smoothing_label
from analytics.footage.video import Sampling, VideoInfo, VideoReader, open_video
from analytics.geo import CAMERA_COLUMNS, parse_zones
from analytics.models import zoo
from analytics.periods import parse_timestamp
from analytics.records import OBJECT_GROUPS, ClipInfo, ClipMeasurements, Preview, RunInfo
from analytics.settings import Settings
from analytics.store import IngestResult, Store, open_store
from analytics.taxonomy import ClassSet
from analytics.trust import TrustVerdict, assess_measurements

__all__ = [
    "TEMPORAL_CHOICES", "AnalysisOptions", "AnalysisResult", "ModelSpec", "ProgressCallback", "ResolvedModel", "ZonesSpec", "analyse_clip",
    "clip_sha256", "describe_error", "resolve_model", "save_analysis",
]

CONFIDENCE_STRIDE = 4
"""Confidence statistics are computed on every 4th row and column (see :mod:`analytics.footage.segment`):
18,000 samples of a 768x384 input, for a mean and a share; a quarter of the cost of stride 2."""
DECODE_THREADS = 1
"""FFmpeg decoding threads: one, in the low-priority decoding thread (frame threads cost about 15%
more CPU, taken from inference; one thread decodes the sample clips several times faster than the model runs)."""
QUEUE_FRAMES = 4
"""Preprocessed frames waiting for the model (bounded: memory stays flat on long clips)."""
DISTRESS_METHOD = "heuristic-blackhat-v1"
MAX_PREVIEWS = 20
MAX_REVIEW_WIDTH = 1920
"""The widest review preview (pixels); review previews are never stored."""
ZONE_COLUMNS = ["zone", "role", "polygon_json"]

ModelSpec: TypeAlias = "str | zoo.InstalledModel | tuple[ModelCard, str | Path]"
"""A model name (installed, or a built-in one installed on first use), an installed model, or a
``(card, onnx_path)`` pair."""
ZonesSpec: TypeAlias = "str | Path | bytes | pd.DataFrame | None"
"""A ZONES.json path, its bytes, or a DataFrame with columns zone, role, polygon_json."""


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, rate: float, eta_s: float) -> None:
        """``done`` of ``total`` sampled frames analysed, ``rate`` frames per second, ``eta_s`` seconds left."""


@dataclass(frozen=True)
class AnalysisOptions:
    """How one clip is analysed; validated when made (an :class:`~analytics.errors.InputError`
    names the bad value). Options that change the numbers are recorded in the run's provenance.

    >>> AnalysisOptions(Sampling.parse(2), smoothing_alpha=0.6).smoothing
    'ema=0.6'
    >>> AnalysisOptions(keep_previews=99)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: keep_previews=99; expected a whole number from 0 to 20
    """

    sampling: Sampling = field(default_factory=lambda: Sampling("fps", 2.0))
    """Which frames are analysed (``Sampling.parse("2")``, ``"every=5"``, ``"all"``)."""
    smoothing_alpha: float | None = None
    """Weight of the newest frame's logits in the temporal fusion, or None for none."""
    smoothing_method: str = "ema"
    """Temporal fusion: ``ema`` (plain average) or ``flow`` (along optical flow), :mod:`analytics.footage.temporal`."""
    refine: str = "none"
    """Label refinement: ``none`` or ``crf`` (dense CRF, parameters from the model card)."""
    tta: str = "none"
    """Test-time augmentation: ``none``, ``flip``, ``scales`` or ``flip+scales`` (:mod:`analytics.footage.refine`)."""
    zones: ZonesSpec = None
    """Zones to measure, saved as the camera's zones with the clip; None: the camera's stored zones."""
    start_time: datetime | str | None = None
    """Time of the first frame (ISO text is parsed; a time zone is dropped); None: from the clip."""
    keep_previews: int = 3
    """Anonymised previews kept (0 to 20), spread over the clip."""
    raw_previews: bool = False
    """Keep previews without blurring people (only when asked for)."""
    review_width: int = 0
    """Also keep larger JPEG previews of the same frames, at most this many pixels wide, for an on-screen review
    (:attr:`AnalysisResult.review_previews`; never stored); 0: none. The stored previews do not change."""
    threads: int | None = None
    """ONNX Runtime intra-op threads; None: ``settings.threads``."""
    max_frames: int | None = None
    """Analyse at most this many sampled frames."""
    label: str | None = None
    """The clip's label in the store; None: the file name."""

    def __post_init__(self) -> None:
        if not isinstance(self.sampling, Sampling):
            raise InputError(f"sampling={self.sampling!r}; expected a Sampling (Sampling.parse('2'), 'every=5' or 'all')")
        if self.smoothing_alpha is not None and not (
            isinstance(self.smoothing_alpha, int | float) and 0.0 < self.smoothing_alpha <= 1.0
        ):
            raise InputError(f"smoothing alpha {self.smoothing_alpha!r}; expected a number in (0, 1]")
        if self.smoothing_method not in SMOOTHING_METHODS:
            raise InputError(f"temporal method {self.smoothing_method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
        check_refine(self.refine)
        check_tta(self.tta)
        if not isinstance(self.zones, str | Path | bytes | pd.DataFrame | None):
            raise InputError(f"zones must be a ZONES.json path, its bytes or a DataFrame, got {type(self.zones).__name__}")
        object.__setattr__(self, "start_time", _parse_start(self.start_time))
        if isinstance(self.keep_previews, bool) or not isinstance(self.keep_previews, int) or not 0 <= self.keep_previews <= MAX_PREVIEWS:
            raise InputError(f"keep_previews={self.keep_previews!r}; expected a whole number from 0 to {MAX_PREVIEWS}")
        if isinstance(self.review_width, bool) or not isinstance(self.review_width, int) or not (
            self.review_width == 0 or PREVIEW_WIDTH <= self.review_width <= MAX_REVIEW_WIDTH
        ):
            raise InputError(f"review_width={self.review_width!r}; expected 0 (none) or a width from {PREVIEW_WIDTH} to "
                             f"{MAX_REVIEW_WIDTH} pixels")
        for name in ("threads", "max_frames"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name}={value!r}; expected a whole number of at least 1 (or None)")

    @property
    def start(self) -> datetime | None:
        """The given start time, parsed (None: taken from the clip when it is analysed)."""
        return self.start_time if isinstance(self.start_time, datetime) else None

    @property
    def smoothing(self) -> str:
        """Provenance text of the smoothing (``off``, ``ema=<alpha>`` or ``flow=<alpha>``)."""
        return smoothing_label(self.smoothing_alpha, self.smoothing_method)

    @property
    def temporal(self) -> str:
        """The temporal fusion by name: ``none``, ``ema`` or ``flow``."""
        return "none" if self.smoothing_alpha is None else self.smoothing_method


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


@dataclass(frozen=True)
class _Hooks:
    """What the calling thread is told and asked while a clip runs."""

    progress: ProgressCallback | Callable[[int, int, float, float], None] | None
    cancelled: Callable[[], bool]
    t_start: float


# -- small helpers --------------------------------------------------------------------------------


def clip_sha256(path: str | Path, chunk: int = CHUNK_BYTES, cancelled: Callable[[], bool] | None = None) -> str:
    """SHA-256 of a clip's bytes (:func:`analytics.checksums.sha256_file`); a cancel stores nothing."""
    try:
        return sha256_file(path, chunk, cancelled)
    except Cancelled as exc:
        raise Cancelled(f"{exc}; nothing was stored") from None


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for a session: its name, card, ONNX file and the file's SHA-256 (provenance)."""

    name: str
    card: ModelCard
    onnx_path: Path
    weights_sha256: str


def resolve_model(model: ModelSpec, settings: Settings) -> ResolvedModel:
    """A model name (installed, or a built-in one installed now), an ``InstalledModel``, or a
    ``(card, onnx_path)`` pair."""
    if isinstance(model, str):
        try:
            inst = zoo.resolve(model, settings)
        except ModelError:
            if model not in zoo.builtin_cards():
                raise
            inst = zoo.install(model, settings)
        return ResolvedModel(inst.card.name, inst.card, Path(inst.onnx_path), inst.weights_sha256)
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], ModelCard):
        card, onnx_path = model
        p = Path(onnx_path)
        if not p.is_file():
            raise ModelError(f"ONNX model {str(p)!r} does not exist")
        return ResolvedModel(card.name, card, p, sha256_file(p))
    if isinstance(model, zoo.InstalledModel):
        return ResolvedModel(model.card.name, model.card, Path(model.onnx_path), str(model.weights_sha256))
    raise InputError(f"model must be a name, an installed model or a (card, onnx_path) pair, got {type(model).__name__}")


def frame_slots(threads: int, sequential: bool) -> tuple[int, int]:
    """(frames segmented at once, ONNX Runtime intra-op threads for each) for ``threads`` threads.

    Two frames at once on ``threads // 2`` threads each where the frames do not depend on each
    other (no temporal fusion) and there are at least two threads; else one frame on all of them.
    Two single-threaded runs side by side do more frames a second than one run on two threads
    (no layer waits for its slowest thread): on a 2-core machine about 1.13x (docs/performance.md).

    >>> frame_slots(2, False), frame_slots(4, False), frame_slots(3, False)
    ((2, 1), (2, 2), (2, 1))
    >>> frame_slots(2, True), frame_slots(1, False)
    ((1, 2), (1, 1))
    """
    if sequential or threads < 2:
        return 1, threads
    return 2, threads // 2


_SEGMENTERS: dict[tuple[Any, ...], tuple[Segmenter, threading.Lock]] = {}
_SEGMENTERS_LOCK = threading.Lock()


def _segmenter(
    m: ResolvedModel, options: AnalysisOptions, threads: int, spin: bool, slot: int = 0
) -> tuple[Segmenter, threading.Lock]:
    """A cached ONNX Runtime session per model, settings and frame slot (building one costs about a second)."""
    alpha, method, refine, tta = options.smoothing_alpha, options.smoothing_method, options.refine, options.tta
    key = (str(m.onnx_path), m.weights_sha256, m.card.to_json(), alpha, method, refine, tta, threads, spin, slot)
    with _SEGMENTERS_LOCK:
        if key not in _SEGMENTERS:
            if len(_SEGMENTERS) >= 8:
                _SEGMENTERS.pop(next(iter(_SEGMENTERS)))
            seg = Segmenter(
                m.onnx_path, m.card, threads, smoothing_alpha=alpha, confidence_stride=CONFIDENCE_STRIDE, spin=spin,
                smoothing_method=method, refine=refine, tta=tta,
            )
            _SEGMENTERS[key] = (seg, threading.Lock())
        return _SEGMENTERS[key]


def _alpha(alpha: float | None, method: str) -> float | None:
    """The weight of the newest frame for temporal ``method``: ``alpha``, else the method's default; None when off.

    >>> _alpha(None, "ema"), _alpha(None, "flow"), _alpha(0.5, "flow"), _alpha(0.5, "none")
    (0.6, 0.4, 0.5, None)
    """
    if method == "none":
        return None
    if alpha is not None:
        return alpha
    return FLOW_ALPHA if method == "flow" else DEFAULT_ALPHA


def _cancel_check(cancel: threading.Event | Callable[[], bool] | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return lambda: bool(cancel.is_set())
    if callable(cancel):
        return lambda: bool(cancel())
    raise InputError(f"cancel must be a threading.Event or a callable returning True to stop, got {type(cancel).__name__}")


def _parse_start(start: datetime | str | None) -> datetime | None:
    """A start time as a naive datetime (a time zone is dropped); None or blank text: None."""
    if isinstance(start, datetime):
        return start.replace(tzinfo=None) if start.tzinfo else start
    if isinstance(start, str):
        if not start.strip():
            return None
        return parse_timestamp(start, "start time")
    if start is not None:
        raise InputError(f"start time must be an ISO string or a datetime, got {type(start).__name__}")
    return None


def _start_time(start: datetime | None, path: Path, reader: VideoReader, warnings: list[str]) -> datetime:
    """The given start time, else the clip's creation_time tag, else the file's modification time (said in warnings)."""
    if start is not None:
        return start
    tag = reader.creation_time
    if tag is not None:
        warnings.append(f"start time taken from the clip's creation_time tag ({tag.isoformat(sep=' ')})")
        return tag
    mtime = datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
    warnings.append(f"start time not given: took the file's modification time {mtime.isoformat(sep=' ')}")
    return mtime


def _zones_for(zones: ZonesSpec, camera_zones: pd.DataFrame | None, info: VideoInfo) -> tuple[pd.DataFrame | None, bool]:
    """(zones to measure, whether they are new for the camera)."""
    if zones is None:
        return (camera_zones if camera_zones is not None and not camera_zones.empty else None), False
    if isinstance(zones, pd.DataFrame):
        if not set(ZONE_COLUMNS).issubset(zones.columns):
            raise InputError(f"zones need columns {sorted(ZONE_COLUMNS)}, got {list(zones.columns)}")
        return zones[ZONE_COLUMNS].reset_index(drop=True), True
    return parse_zones(zones, frame_size=(info.width, info.height)), True


def _zones_key(zones: pd.DataFrame | None) -> str | None:
    if zones is None:
        return None
    rows = sorted(zip(zones["zone"], zones["role"], zones["polygon_json"], strict=True))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _preview_positions(n: int, k: int) -> set[int]:
    """``k`` sampled-frame positions spread evenly over ``n`` frames.

    >>> sorted(_preview_positions(10, 3)), sorted(_preview_positions(2, 3))
    ([0, 4, 9], [0, 1])
    """
    if k <= 0 or n <= 0:
        return set()
    return {int(v) for v in np.round(np.linspace(0, n - 1, min(k, n))).astype(int)}


# -- the three stages ----------------------------------------------------------------------------


@dataclass
class _Item:
    pos: int
    index: int
    t_s: float
    view: np.ndarray
    x: np.ndarray
    geometry: Geometry


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


BACKGROUND_NICE = 10
"""Scheduling priority added to the decoding and measuring threads where the idle policy is not available."""


def _lower_priority() -> None:
    """Run this thread (and the threads it starts) only on CPU time that inference leaves idle.

    ONNX Runtime splits each layer over its threads and the calling thread busy-waits for the
    slowest: a decoding or measuring thread holding one of the two cores stalls the whole layer
    and burns the caller's core meanwhile. Linux's idle policy (``SCHED_IDLE``) hands the core back
    the moment an inference thread wakes; a lower priority (``nice`` 10) lets the background thread
    keep the core for the rest of its time slice (``docs/performance.md``: at nice 10 the inference
    threads spent 20-30 ms more CPU a frame than alone). The idle policy is used only where this
    process may leave it again (:func:`idle_policy_reversible`), so that :class:`_Starvation` can
    rescue the thread on a busy machine; otherwise the thread runs at nice 10; elsewhere (not Linux,
    or not allowed) at normal priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    if idle_policy_reversible():
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread (Linux)


@functools.cache
def idle_policy_reversible() -> bool:
    """Whether a thread of this process may enter Linux's idle policy and leave it again at nice
    :data:`BACKGROUND_NICE` (it needs ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` of at least 10; an
    unprivileged user or a container without ``SYS_NICE`` usually has neither). Probed once on a
    short-lived thread; False off Linux.
    """
    allowed: list[bool] = []

    def probe() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            allowed.append(True)
        except (AttributeError, OSError):
            allowed.append(False)

    t = threading.Thread(target=probe, name="urbanlens-scheduling-probe", daemon=True)
    t.start()
    t.join()
    return bool(allowed and allowed[0])


STARVED_WAITS = 5
"""Waits of 0.1 s in a row on a background thread (no frame decoded, or the measuring queue full)
after which both background threads get normal scheduling back (:class:`_Starvation`)."""


class _Starvation:
    """Gives the background threads normal scheduling (nice :data:`BACKGROUND_NICE`) when the calling
    thread has waited on them :data:`STARVED_WAITS` times in a row: on a machine whose cores other
    processes keep busy, idle-policy threads would get almost no CPU. The idle policy is only used
    where leaving it is allowed (:func:`idle_policy_reversible`)."""

    def __init__(self, *threads: threading.Thread) -> None:
        self.threads = threads
        self.waits = 0

    def waited(self) -> None:
        self.waits += 1
        if self.waits != STARVED_WAITS:
            return
        for t in self.threads:
            if t.native_id is None:
                continue
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, t.native_id, BACKGROUND_NICE)  # first: leaving idle is checked at this nice
                os.sched_setscheduler(t.native_id, os.SCHED_OTHER, os.sched_param(0))

    def served(self) -> None:
        self.waits = 0


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _produce(reader: VideoReader, card: ModelCard, q: queue.Queue[Any], stop: threading.Event) -> None:
    """Decode sampled frames and preprocess them (producer thread)."""
    _lower_priority()
    try:
        geometry: Geometry | None = None
        for pos, frame in enumerate(reader):
            if stop.is_set():
                return
            h, w = frame.image.shape[:2]
            if geometry is None or (geometry.frame_h, geometry.frame_w) != (h, w):
                geometry = frame_geometry(h, w, card.input_height, card.input_width, card.resize)
            view = model_view(frame.image, geometry, card.resize)
            x = normalise_into(view, card, geometry, np.empty((3, card.input_height, card.input_width), np.float32))
            if not _put(q, _Item(pos, frame.index, frame.t_s, view, x, geometry), stop):
                return
        _put(q, _END, stop)
    except BaseException as exc:  # handed to the calling thread, which raises it
        _put(q, _Failure(exc), stop)


class _Decoder:
    """The producer thread (:func:`_produce`) and its bounded queue; started when made."""

    def __init__(self, reader: VideoReader, card: ModelCard) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_produce, args=(reader, card, self.q, self.stop), name="urbanlens-decode", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Measurer:
    """Measures segmented frames in order (third thread) and keeps the per-frame rows."""

    def __init__(
        self, card: ModelCard, zones: pd.DataFrame | None, low_confidence: float, preview_positions: set[int], raw_previews: bool,
        review_width: int = 0,
    ) -> None:
        self.card = card
        self.class_set = card.class_set
        self.zones_df = zones
        self.low_confidence = low_confidence
        self.preview_positions = preview_positions
        self.raw_previews = raw_previews
        self.review_width = review_width
        self.review_previews: list[Preview] = []
        self.stride = CONFIDENCE_STRIDE
        self.rows: list[tuple[int, float, FrameMeasures]] = []
        self.objects: list[dict[str, Any]] = []
        self.zone_rows: list[tuple[int, str, str, int, int]] = []
        self.previews: list[Preview] = []
        self.prev_labels: np.ndarray | None = None
        self.zone_masks: list[ZoneMask] | None = None
        self.zone_geometry: Geometry | None = None
        self.road_ids = self.class_set.class_ids("road")
        self.q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="urbanlens-measure", daemon=True)

    def _run(self) -> None:
        _lower_priority()
        while True:
            got = self.q.get()
            if got is _END:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                self.measure(*got)
            except BaseException as exc:  # raised again in the calling thread
                self.error = exc

    def measure(self, item: _Item, seg: Segmentation) -> None:
        labels, conf = seg.content()
        if self.zones_df is not None and (self.zone_masks is None or self.zone_geometry != item.geometry):
            self.zone_masks = zone_masks(self.zones_df, item.geometry)
            self.zone_geometry = item.geometry
        prev = self.prev_labels if self.prev_labels is not None and self.prev_labels.shape == labels.shape else None
        fm = measure_frame(
            labels, conf[:: self.stride, :: self.stride], item.geometry, self.class_set, prev_labels=prev,
            zones=self.zone_masks, low_confidence=self.low_confidence,
        )
        if not self.class_set.has_damage_classes and self.road_ids:
            d = distress_heuristic(item.view, group_mask(labels, self.road_ids))
            fm.distress_crack_px, fm.distress_pothole_px = float(d.crack_px), float(d.pothole_px)
        self.prev_labels = labels.copy()
        pos = len(self.rows)
        self.rows.append((item.index, item.t_s, fm))
        self.objects.extend(
            {"frame_pos": pos, "group": b.group, "x0": b.x0, "y0": b.y0, "x1": b.x1, "y1": b.y1, "area_px": b.area_px}
            for b in fm.objects
        )
        self.zone_rows.extend((pos, z, r, c, n) for z, r, c, n in fm.zone_pixels)
        if item.pos in self.preview_positions:
            kept = _previews(pos, item.view, labels, self.class_set, self.raw_previews, self.review_width)
            self.previews.extend(kept[:2])
            self.review_previews.extend(kept[2:])


def _previews(
    pos: int, view: np.ndarray, labels: np.ndarray, class_set: ClassSet, raw: bool, review_width: int = 0
) -> list[Preview]:
    """An anonymised preview of the frame (unblurred when ``raw``) and a coloured overlay of it, both
    :data:`~analytics.footage.privacy.PREVIEW_WIDTH` wide at most; then, when ``review_width``, the same two
    at most ``review_width`` wide (for the review only)."""
    image = view.copy() if raw else anonymise(view, labels, class_set)
    coloured = overlay(image, labels, class_set, alpha=0.45)
    widths = [PREVIEW_WIDTH, *([review_width] if review_width else [])]
    return [Preview(pos, preview_jpeg(img, max_width=w), kind, "image/jpeg") for w in widths
            for img, kind in ((image, "frame"), (coloured, "overlay"))]


# -- the public steps ----------------------------------------------------------------------------


def analyse_clip(
    path: str | Path,
    camera_id: str,
    store: Store | None = None,
    *,
    settings: Settings,
    model: ModelSpec | None = None,
    fps: float | str | Sampling = 2.0,
    smooth: bool = False,
    alpha: float | None = None,
    temporal: str | None = None,
    refine: str = "none",
    tta: str = "none",
    zones: ZonesSpec = None,
    start_time: datetime | str | None = None,
    keep_previews: int = 3,
    raw_previews: bool = False,
    review_width: int = 0,
    progress: ProgressCallback | Callable[[int, int, float, float], None] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
    save: bool = True,
    threads: int | None = None,
    max_frames: int | None = None,
    label: str | None = None,
) -> AnalysisResult:
    """Analyse one clip for a camera and store its per-frame measurements.

    ``settings``: the :class:`~analytics.settings.Settings` to run under (model folder, default
    model, low-confidence threshold, threads, and the database when ``store`` is None).
    ``fps``: sampled frames per second (``2.0``), ``"every=N"`` or ``"all"``. ``smooth``: EMA of the
    logits across sampled frames with weight ``alpha`` on the newest (default 0.6 for ``ema``, 0.4 for
    ``flow``; recorded in provenance); off
    by default because with a moving camera or sparse sampling it lags moving objects and shrinks
    them (see :mod:`analytics.footage.temporal`); turn it on for fixed cameras. ``temporal``
    (``none``, ``ema`` or ``flow``) names the fusion instead of ``smooth`` (``flow`` follows moving
    objects along optical flow). ``refine`` (``none`` or ``crf``) and ``tta`` (``none``, ``flip``,
    ``scales``, ``flip+scales``) sharpen the labels (:mod:`analytics.footage.refine`); all three are
    recorded in provenance, so a clip ingested again with another choice is a new run.
    ``zones``: a ZONES.json path/bytes/DataFrame (saved as the camera's zones with the clip);
    default: the camera's stored zones. ``start_time``: ISO text or datetime of the first frame
    (default: the clip's creation_time tag, else the file's modification time; said in warnings).
    ``keep_previews``: anonymised previews to keep (0–20); ``raw_previews=True`` keeps them
    without blurring (only when asked for); ``review_width`` also keeps larger ones for an on-screen review
    (:attr:`AnalysisResult.review_previews`, never stored). ``progress(done, total, rate, eta_s)`` and ``cancel``
    (an Event or a callable) are used from the calling thread. ``save=False`` analyses without
    storing (``store`` may then be None; store it later with :func:`save_analysis`).
    ``model``: a model name (default: the settings' default model), an installed model, or a
    ``(card, onnx_path)`` pair. The analysis options are checked as one :class:`AnalysisOptions`.

    Raises :class:`~analytics.errors.VideoError` (and other InputErrors) for bad input,
    :class:`~analytics.errors.ModelError`, and :class:`~analytics.errors.Cancelled`; nothing is
    stored in any of these cases.
    """
    t_start = time.perf_counter()
    if not isinstance(settings, Settings):
        raise InputError(f"settings must be a Settings (analytics.settings.load_settings()), got {type(settings).__name__}")
    if not isinstance(camera_id, str) or not camera_id.strip():
        raise InputError("a camera id is needed (e.g. --camera demo-cam)")
    method = _temporal_method(temporal, smooth)
    options = AnalysisOptions(
        sampling=Sampling.parse(fps), smoothing_alpha=_alpha(alpha, method),
        smoothing_method=method if method != "none" else "ema", refine=refine, tta=tta, zones=zones, start_time=start_time,
        keep_previews=keep_previews, raw_previews=raw_previews, review_width=review_width, threads=threads, max_frames=max_frames, label=label,
    )
    if progress is not None and not callable(progress):
        raise InputError("progress must be a callable progress(done, total, rate, eta_s)")
    hooks = _Hooks(progress, _cancel_check(cancel), t_start)
    path = Path(path).expanduser()
    if save and store is None:
        with open_store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as own_store:
            return _analyse_and_store(path, camera_id, own_store, model, options, settings, hooks, save)
    if save and not isinstance(store, Store):
        raise InputError(f"store must be an open Store (or None with save=False), got {type(store).__name__}")
    return _analyse_and_store(path, camera_id, store, model, options, settings, hooks, save)


TEMPORAL_CHOICES = ("none", *SMOOTHING_METHODS)
"""``--temporal`` values: no fusion, the plain average of logits, or the average along optical flow."""


def _temporal_method(temporal: str | None, smooth: bool) -> str:
    """The temporal fusion asked for: ``temporal`` by name, else ``ema`` when ``smooth``.

    >>> _temporal_method(None, True), _temporal_method("flow", False), _temporal_method(None, False)
    ('ema', 'flow', 'none')
    """
    if temporal is None:
        return "ema" if smooth else "none"
    if temporal not in TEMPORAL_CHOICES:
        raise InputError(f"temporal {temporal!r}; expected one of {', '.join(TEMPORAL_CHOICES)}")
    if smooth and temporal == "none":
        raise InputError("smoothing was asked for with temporal 'none'; use temporal 'ema' or 'flow'")
    return temporal


def save_analysis(store: Store, result: AnalysisResult, *, new_camera: Mapping[str, Any] | None = None) -> AnalysisResult:
    """Store a clip analysed with ``save=False``: its new camera first (``new_camera``: a mapping
    with the keys camera_id, name, lon, lat, heading, kind), then the zones given for the clip as the
    camera's zones, then its measurements in one transaction.

    Returns the result with ``status`` ``stored`` or ``skipped`` (already ingested with the same
    settings), the store's ``message`` and ``ingest``. :class:`~analytics.errors.InputError` when the
    result holds no measurements or the new camera is not the clip's.
    """
    if not isinstance(store, Store):
        raise InputError(f"store must be an open Store, got {type(store).__name__}")
    m = result.measurements
    if m is None:
        raise InputError(f"{result.path.name} has no measurements to save (status {result.status!r}); analyse it first")
    camera_id = m.clip.camera_id
    if new_camera is not None:
        if str(new_camera.get("camera_id")) != camera_id:
            raise InputError(f"new camera {new_camera.get('camera_id')!r} is not the clip's camera {camera_id!r}")
        store.upsert_cameras(pd.DataFrame([{k: new_camera.get(k) for k in CAMERA_COLUMNS}]))
    if result.new_zones is not None:
        store.set_zones(camera_id, result.new_zones)
    ingest = store.ingest(m)[0]
    return dataclasses.replace(result, status=ingest.status, message=ingest.message, ingest=ingest)


def describe_error(exc: BaseException) -> str:
    """One line for a failed clip (UrbanLens errors as they are; others with their type)."""
    if isinstance(exc, UrbanLensError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# -- one clip, step by step ----------------------------------------------------------------------


def _analyse_and_store(
    path: Path, camera_id: str, store: Store | None, model: ModelSpec | None, options: AnalysisOptions, settings: Settings,
    hooks: _Hooks, save: bool,
) -> AnalysisResult:
    # One read-only connection (opening one costs about 20 ms) for the camera, its zones and the
    # already-ingested check; closed before the analysis starts.
    reading = contextlib.ExitStack()
    if store is not None:
        reading.enter_context(store.reading())
    try:
        return _analyse_reading(path, camera_id, store, model, options, settings, hooks, save, reading)
    finally:
        reading.close()


def _analyse_reading(
    path: Path, camera_id: str, store: Store | None, model: ModelSpec | None, options: AnalysisOptions, settings: Settings,
    hooks: _Hooks, save: bool, reading: contextlib.ExitStack,
) -> AnalysisResult:
    camera_zones = _camera_zones(store, camera_id, check=save)  # an unknown camera fails before any work
    m = _resolve_reading(model or settings.default_model, settings, reading)
    hashing = _Hashing(path)
    try:
        with open_video(
            path, options.sampling, max_frames=options.max_frames, max_duration_s=settings.max_clip_minutes * 60.0,
            decode_threads=DECODE_THREADS,
        ) as reader:
            info = reader.info
            warnings: list[str] = [*reader.notes, *([reader.problem] if reader.problem else [])]
            zones_df, new_zones = _zones_for(options.zones, camera_zones, info)
            if hooks.progress is not None:
                hooks.progress(0, reader.n_wanted, 0.0, float("nan"))
            with _opencv_serial(), _Decoder(reader, m.card) as decoder:  # decoding starts while the hash is checked
                sha = hashing.result(hooks.cancelled)
                run = _run_info(m, options, settings, zones_df)
                key = run.settings_key
                ingested = save and store is not None and store.is_ingested(sha, key)
                if ingested:
                    reading.close()
                    return AnalysisResult(
                        path, "skipped", "already ingested with the same model and settings", sha, key, info,
                        seconds=time.perf_counter() - hooks.t_start,
                    )
                start = _start_time(options.start, path, reader, warnings)
                slots, per_slot = frame_slots(options.threads or settings.threads, options.smoothing_alpha is not None)
                segs = [_segmenter(m, options, per_slot, settings.ort_spin, slot) for slot in range(slots)]
                with contextlib.ExitStack() as held:
                    for seg, seg_lock in segs:  # always in slot order, so two clips never wait on each other's slots
                        held.enter_context(seg_lock)
                        seg.reset()
                    # the read-only connection closes once the first frames are being segmented (closing
                    # takes about 7 ms of the calling thread, which only waits while two frames run)
                    measurer = _analyse(
                        reader, decoder, m.card, [seg for seg, _ in segs], zones_df, settings.low_confidence, options, hooks,
                        store.open_writer_early if save and store is not None else None, reading.close,
                    )
            if reader.problem and reader.problem not in warnings:
                warnings.append(reader.problem)
        measurements = _measurements(measurer, info, sha, camera_id, start, run, options.label or path.name)
        result = AnalysisResult(
            path, "analysed", f"analysed {measurements.n} sampled frames", sha, key, info, measurements, None, warnings,
            list(measurements.previews), list(measurer.review_previews), new_zones=zones_df if new_zones else None,
        )
        if save and store is not None:
            result = save_analysis(store, result)
    finally:
        hashing.stop()
        if store is not None:
            store.drop_early_writer()
    result.seconds = time.perf_counter() - hooks.t_start
    result.frames_per_s = measurements.n / result.seconds if result.seconds > 0 else 0.0
    if warnings and result.status == "stored":
        result.message += f" ({'; '.join(warnings)})"
    return result


def _resolve_reading(model: ModelSpec, settings: Settings, reading: contextlib.ExitStack) -> ResolvedModel:
    """:func:`resolve_model`, letting go of the store's read-only connection first when a model
    name is not installed yet (installing takes a while; writers in other processes would wait)."""
    if isinstance(model, str):
        try:
            model = zoo.resolve(model, settings)
        except ModelError:
            reading.close()
    return resolve_model(model, settings)


def _camera_zones(store: Store | None, camera_id: str, check: bool) -> pd.DataFrame | None:
    """The camera's stored zones, read in one short read-only connection together with the check
    that the camera exists when ``check`` (:class:`~analytics.errors.InputError` for an unknown
    camera); None without a store."""
    if store is None:
        return None
    with store.reading():
        if check:
            store.camera(camera_id)
        return store.zones(camera_id)


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


_OPENCV_LOCK = threading.Lock()
_OPENCV_USERS = [0, 0]
"""Clips being analysed, and OpenCV's thread count from before the first of them."""


@contextlib.contextmanager
def _opencv_serial() -> Any:
    """OpenCV single-threaded while clips are analysed (its former setting back after the last).

    OpenCV would otherwise hand each resize, morphology or labelling of the decoding and measuring
    threads to a pool of threads of its own, at the priority of whichever thread first started it,
    and those take the cores from inference. Results do not depend on OpenCV's thread count.
    """
    with _OPENCV_LOCK:
        if _OPENCV_USERS[0] == 0:
            _OPENCV_USERS[1] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _OPENCV_USERS[0] += 1
    try:
        yield
    finally:
        with _OPENCV_LOCK:
            _OPENCV_USERS[0] -= 1
            if _OPENCV_USERS[0] == 0:
                cv2.setNumThreads(_OPENCV_USERS[1])


def _run_info(m: ResolvedModel, options: AnalysisOptions, settings: Settings, zones: pd.DataFrame | None) -> RunInfo:
    """The run's provenance: model, sampling, smoothing, code version and every parameter that changes the numbers."""
    return RunInfo(
        model_name=m.name, weights_sha256=m.weights_sha256, class_set=m.card.class_set, sampling=options.sampling.label,
        smoothing=options.smoothing, code_version=__version__,
        params={
            "input": f"{m.card.input_height}x{m.card.input_width}", "resize": m.card.resize,
            "confidence_stride": CONFIDENCE_STRIDE, "low_confidence": settings.low_confidence,
            "min_object": "max(20 px, 0.0002 of the frame)", "distress": DISTRESS_METHOD,
            "zones": _zones_key(zones), **({"max_frames": options.max_frames} if options.max_frames else {}),
            **_refinement_params(options, m.card),
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


def _analyse(
    reader: VideoReader, decoder: _Decoder, card: ModelCard, segs: Sequence[Segmenter], zones: pd.DataFrame | None,
    low_confidence: float, options: AnalysisOptions, hooks: _Hooks, on_decoded: Callable[[], None] | None = None,
    on_started: Callable[[], None] | None = None,
) -> _Measurer:
    """Segment the decoded frames in order and hand them to the measuring thread.

    One segmenter: each frame in this thread. Several (:func:`frame_slots`): as many consecutive
    frames at once, frame ``i`` on ``segs[i % len(segs)]`` in a worker thread of its own, handed
    over in order. ``on_decoded`` runs in this thread once the last frame is decoded, while the
    last frames are still segmented or measured (the store opens for the write then);
    ``on_started`` once the first frames are being segmented (before the first one, with one
    segmenter), also when no frame comes.
    """
    total = reader.n_wanted
    progress = hooks.progress
    measurer = _Measurer(card, zones, low_confidence, _preview_positions(total, options.keep_previews), options.raw_previews,
                         options.review_width)
    frames = decoder.q
    measurer.thread.start()
    starved = _Starvation(decoder.thread, measurer.thread)
    t0 = time.perf_counter()
    done = 0
    submitted = 0
    flight: collections.deque[tuple[Any, concurrent.futures.Future[list[Segmentation]]]] = collections.deque()
    pool = concurrent.futures.ThreadPoolExecutor(len(segs), "urbanlens-infer") if len(segs) > 1 else None
    started = on_started

    def start_once() -> None:
        nonlocal started
        if started is not None:
            hook, started = started, None
            hook()

    def hand_over(item: Any, out: Segmentation) -> None:
        nonlocal done
        item.x = np.empty(0, np.float32)  # free the input early
        while True:
            try:
                measurer.q.put((item, out), timeout=0.1)
                break
            except queue.Full:
                starved.waited()
        if measurer.error is not None:
            raise measurer.error
        done += 1
        if progress is not None:
            elapsed = time.perf_counter() - t0
            rate = done / elapsed if elapsed > 0 else 0.0
            total_now = max(total, done)
            progress(done, total_now, rate, (total_now - done) / rate if rate > 0 else float("nan"))

    try:
        while True:
            if hooks.cancelled():
                raise Cancelled(f"{reader.path.name}: cancelled after {done} of {total} sampled frames; nothing was stored")
            try:
                item = frames.get(timeout=0.1)
            except queue.Empty:
                starved.waited()
                continue
            starved.served()
            if item is _END:
                start_once()
                if on_decoded is not None:
                    on_decoded()
                break
            if isinstance(item, _Failure):
                raise item.exc
            if pool is None:
                start_once()
                hand_over(item, segs[0].run(item.x[None], [item.geometry])[0])
                continue
            flight.append((item, pool.submit(segs[submitted % len(segs)].run, item.x[None], [item.geometry])))
            submitted += 1
            if submitted == len(segs) or frames.empty():
                start_once()
            if len(flight) >= len(segs):  # the frames in flight are consecutive, so each has a slot of its own
                first, fut = flight.popleft()
                hand_over(first, fut.result()[0])
        while flight:
            first, fut = flight.popleft()
            hand_over(first, fut.result()[0])
    finally:
        for _, fut in flight:
            fut.cancel()
        if pool is not None:
            pool.shutdown(wait=True)
        decoder.close()
        measurer.q.put(_END)
        measurer.thread.join()
    if measurer.error is not None:
        raise measurer.error
    if not measurer.rows:
        raise VideoError(f"{reader.path.name}: no frame could be analysed")
    if progress is not None and done < total:
        progress(done, done, done / max(1e-9, time.perf_counter() - t0), 0.0)
    return measurer


def _measurements(
    ms: _Measurer, info: VideoInfo, sha: str, camera_id: str, start: datetime, run: RunInfo, label: str
) -> ClipMeasurements:
    n = len(ms.rows)
    fms = [r[2] for r in ms.rows]
    clip = ClipInfo(
        sha256=sha, camera_id=camera_id, start_time=start, duration_s=info.duration_s, fps=info.fps, width=info.width,
        height=info.height, n_frames=info.n_frames, label=label, source_path=str(info.path.resolve()),
    )
    objects = pd.DataFrame(ms.objects, columns=["frame_pos", "group", "x0", "y0", "x1", "y1", "area_px"])
    zone_pixels = (
        pd.DataFrame(ms.zone_rows, columns=["frame_pos", "zone", "role", "class_id", "pixels"]) if ms.zone_rows else None
    )
    return ClipMeasurements(
        clip=clip,
        run=run,
        frame_index=np.array([r[0] for r in ms.rows], np.int64),
        t_s=np.array([r[1] for r in ms.rows], np.float64),
        class_pixels=np.stack([f.class_pixels for f in fms]) if n else np.zeros((0, run.class_set.num_classes)),
        mean_confidence=np.array([f.mean_confidence for f in fms]),
        low_conf_share=np.array([f.low_conf_share for f in fms]),
        flicker=np.array([f.flicker for f in fms]),
        vehicle_stationarity=np.array([f.vehicle_stationarity for f in fms]),
        object_counts=np.array([f.object_counts for f in fms], np.int64).reshape(n, len(OBJECT_GROUPS)),
        distress_crack_px=np.array([f.distress_crack_px for f in fms]),
        distress_pothole_px=np.array([f.distress_pothole_px for f in fms]),
        objects=objects,
        zone_pixels=zone_pixels,
        previews=list(ms.previews),
    )
