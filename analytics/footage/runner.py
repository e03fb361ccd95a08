"""The frame loop of one clip: decode → segment → per-frame stages, in three kinds of thread.

- A decoding thread (:class:`Decoder`) decodes the sampled frames and preprocesses them into a
  bounded queue (:data:`QUEUE_FRAMES`) while the model runs.
- The calling thread segments them (:func:`run_frames`). Where frames do not depend on each other
  (no temporal fusion) two consecutive frames are segmented at once, each in a worker thread on
  its own session with half the threads (:func:`frame_slots`, :func:`held_segmenters`), and handed
  on in order; with temporal fusion one frame at a time on all threads. Where a clip is counted,
  the object detector runs on each tracked frame in the same place (an inference slot, or the
  calling thread), on a session with the slot's threads: inference keeps normal priority and the
  cores the segmenter would otherwise use; the measuring thread only tracks.
- A measuring thread (:class:`StageThread`) runs the registered per-frame stages
  (:data:`analytics.footage.stages.STAGES`) on each segmented frame, in order, while the model
  runs on the next.

ONNX Runtime, OpenCV and numpy release the GIL, so the three overlap. The decoding and measuring
threads run under the scheduling of :func:`analytics.footage.scheduling.clip_scheduling`. The
progress callback and the cancellation check run in the calling thread; a failure in any thread
is raised in the calling thread, and every thread is stopped before :func:`run_frames` returns.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from analytics.cards import ModelCard
from analytics.errors import Cancelled, VideoError
from analytics.footage.geometry import Geometry, frame_geometry
from analytics.footage.options import AnalysisOptions
from analytics.footage.scheduling import Scheduling
from analytics.footage.segment import Segmentation, Segmenter, model_view, normalise_into
from analytics.footage.stages import CONFIDENCE_STRIDE, STAGES, FrameItem, FrameStage, Partial, StageContext
from analytics.footage.video import VideoReader
from analytics.models.zoo import ResolvedModel

__all__ = [
    "DECODE_THREADS", "QUEUE_FRAMES", "Cadence", "Decoder", "Detect", "FrameRun", "Hooks", "ProgressCallback", "StageThread", "frame_slots",
    "held_segmenters", "run_frames",
]

DECODE_THREADS = 1
"""FFmpeg decoding threads: one, in the low-priority decoding thread (frame threads cost about 15%
more CPU, taken from inference; one thread decodes the sample clips several times faster than the model runs)."""
QUEUE_FRAMES = 4
"""Preprocessed frames waiting for the model (bounded: memory stays flat on long clips)."""


Detect = Callable[[np.ndarray], Any]
"""An object detector as the frame loop runs it: a BGR frame in, its detections out."""


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, rate: float, eta_s: float) -> None:
        """``done`` of ``total`` sampled frames analysed, ``rate`` frames per second, ``eta_s`` seconds left."""


@dataclass(frozen=True)
class Hooks:
    """What the calling thread is told and asked while a clip runs."""

    progress: ProgressCallback | Callable[[int, int, float, float], None] | None
    cancelled: Callable[[], bool]
    t_start: float


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


def _segmenter(m: ResolvedModel, options: AnalysisOptions, threads: int, spin: bool, slot: int) -> tuple[Segmenter, threading.Lock]:
    """A cached ONNX Runtime session per model, settings and frame slot (building one costs about a second)."""
    alpha, method, refine, tta = options.smoothing_alpha, options.smoothing_method, options.refine, options.tta
    key = (str(m.onnx_path), m.weights_sha256, m.card.to_json(), alpha, method, refine, tta, threads, spin, slot, m.road)
    with _SEGMENTERS_LOCK:
        if key not in _SEGMENTERS:
            if len(_SEGMENTERS) >= 8:
                _SEGMENTERS.pop(next(iter(_SEGMENTERS)))
            seg = Segmenter(
                m.onnx_path, m.card, threads, smoothing_alpha=alpha, confidence_stride=CONFIDENCE_STRIDE, spin=spin,
                smoothing_method=method, refine=refine, tta=tta,
            ).set_road(m.road)
            _SEGMENTERS[key] = (seg, threading.Lock())
        return _SEGMENTERS[key]


@contextlib.contextmanager
def held_segmenters(m: ResolvedModel, options: AnalysisOptions, threads: int, spin: bool) -> Iterator[list[Segmenter]]:
    """The clip's segmenters (one per frame slot, :func:`frame_slots`), held and reset for it: a
    second clip with the same model and settings waits for them."""
    slots, per_slot = frame_slots(threads, options.smoothing_alpha is not None)
    segs = [_segmenter(m, options, per_slot, spin, slot) for slot in range(slots)]
    with contextlib.ExitStack() as held:
        for seg, seg_lock in segs:  # always in slot order, so two clips never wait on each other's slots
            held.enter_context(seg_lock)
            seg.reset()
        yield [seg for seg, _ in segs]


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


@dataclass(frozen=True)
class Cadence:
    """Which decoded frames (indices in the clip) are segmented and which are tracked, where a clip is
    counted: the reader decodes both sets; without a cadence every decoded frame is segmented."""

    segment: frozenset[int]
    track: frozenset[int]


_NO_INPUT = np.empty(0, np.float32)
_NO_VIEW = np.empty((0, 0, 3), np.uint8)


def _produce(
    reader: VideoReader, card: ModelCard, q: queue.Queue[Any], stop: threading.Event, sched: Scheduling, cadence: Cadence | None,
) -> None:
    """Decode sampled frames and preprocess the segmented ones (decoding thread)."""
    sched.background()
    try:
        geometry: Geometry | None = None
        pos = 0
        for frame in reader:
            if stop.is_set():
                return
            h, w = frame.image.shape[:2]
            if geometry is None or (geometry.frame_h, geometry.frame_w) != (h, w):
                geometry = frame_geometry(h, w, card.input_height, card.input_width, card.resize)
            segmented = cadence is None or frame.index in cadence.segment
            view, x = _NO_VIEW, _NO_INPUT
            if segmented:
                view = model_view(frame.image, geometry, card.resize)
                x = normalise_into(view, card, geometry, np.empty((3, card.input_height, card.input_width), np.float32))
            tracked = cadence is not None and frame.index in cadence.track
            item = FrameItem(pos, frame.index, frame.t_s, view, x, geometry, segmented, tracked, frame.image if cadence else None)
            pos += segmented
            if not _put(q, item, stop):
                return
        _put(q, _END, stop)
    except BaseException as exc:  # handed to the calling thread, which raises it
        _put(q, _Failure(exc), stop)


class Decoder:
    """The decoding thread (:func:`_produce`) and its bounded queue; started when made."""

    def __init__(self, reader: VideoReader, card: ModelCard, sched: Scheduling, cadence: Cadence | None = None) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.stop = threading.Event()
        self.cadence = cadence
        self.thread = threading.Thread(
            target=_produce, args=(reader, card, self.q, self.stop, sched, cadence), name="urbanlens-decode", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class FrameRun:
    """What the loop gathered: each analysed frame's index and time, and the stages' columns (merged in order)."""

    frame_index: list[int] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    parts: Partial = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frame_index)


class StageThread:
    """The measuring thread: runs ``stages`` on each segmented frame in order; not started when made."""

    def __init__(self, stages: Sequence[FrameStage], context: StageContext, sched: Scheduling) -> None:
        self.stages = list(stages)
        for stage in self.stages:
            stage.start(context)
        self.run = FrameRun()
        self.sched = sched
        self.q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="urbanlens-measure", daemon=True)

    def _loop(self) -> None:
        self.sched.background()
        while True:
            got = self.q.get()
            if got is _END:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                self.frame(*got)
            except BaseException as exc:  # raised again in the calling thread
                self.error = exc

    def frame(self, item: FrameItem, seg: Segmentation | None) -> None:
        """Run the stages on one frame (in this thread, or the caller's when not started): every stage on a
        segmented frame, only the ``every_frame`` stages on a frame decoded for tracking alone."""
        for stage in self.stages:
            if item.segmented or getattr(stage, "every_frame", False):
                stage.frame(item, seg)  # type: ignore[arg-type]
        if item.segmented:
            self.run.frame_index.append(item.index)
            self.run.t_s.append(item.t_s)

    def finish(self) -> FrameRun:
        """The frames' rows and every stage's columns, a later stage's column replacing an earlier one's."""
        for stage in self.stages:
            self.run.parts.update(stage.finish())
        return self.run


class _Loop:
    """The calling thread's side of :func:`run_frames`: segment each decoded frame and hand it over in order."""

    def __init__(
        self, reader: VideoReader, decoder: Decoder, segs: Sequence[Segmenter], measurer: StageThread, hooks: Hooks,
        on_started: Callable[[], None] | None, on_decoded: Callable[[], None] | None, detectors: Sequence[Detect] = (),
    ) -> None:
        self.reader, self.decoder, self.segs, self.measurer, self.hooks = reader, decoder, segs, measurer, hooks
        self.detectors = list(detectors)
        self.total = len(decoder.cadence.segment) if decoder.cadence is not None else reader.n_wanted
        self.starved = measurer.sched.guard(decoder.thread, measurer.thread)
        self.t0 = time.perf_counter()
        self.done = 0
        self.on_started, self.on_decoded = on_started, on_decoded

    def started(self) -> None:
        """Run ``on_started`` once."""
        if self.on_started is not None:
            hook, self.on_started = self.on_started, None
            hook()

    def hand_over(self, item: FrameItem, out: Segmentation | None) -> None:
        item.x = _NO_INPUT  # free the input early
        while True:
            try:
                self.measurer.q.put((item, out), timeout=0.1)
                break
            except queue.Full:
                self.starved.waited()
        if self.measurer.error is not None:
            raise self.measurer.error
        if not item.segmented:
            return
        self.done += 1
        progress = self.hooks.progress
        if progress is not None:
            elapsed = time.perf_counter() - self.t0
            rate = self.done / elapsed if elapsed > 0 else 0.0
            total_now = max(self.total, self.done)
            progress(self.done, total_now, rate, (total_now - self.done) / rate if rate > 0 else float("nan"))

    def next_item(self) -> Any:
        """The next decoded frame, :data:`_END`, or a failure raised; cancellation checked while waiting."""
        while True:
            if self.hooks.cancelled():
                raise Cancelled(
                    f"{self.reader.path.name}: cancelled after {self.done} of {self.total} sampled frames; nothing was stored"
                )
            try:
                item = self.decoder.q.get(timeout=0.1)
            except queue.Empty:
                self.starved.waited()
                continue
            self.starved.served()
            if isinstance(item, _Failure):
                raise item.exc
            return item

    def detects(self, item: FrameItem) -> bool:
        """Whether ``item`` is a tracked frame with a detector to run on it."""
        return bool(self.detectors) and item.tracked and item.frame is not None

    def infer(self, slot: int, item: FrameItem) -> Segmentation | None:
        """Inference on one frame in slot ``slot``: the detector where it is tracked (its answer kept on
        ``item.detections``), then the segmenter where it is segmented (its segmentation returned)."""
        if self.detects(item) and item.frame is not None:
            item.detections = self.detectors[slot % len(self.detectors)](item.frame)
        if not item.segmented:
            return None
        return self.segs[slot].run(item.x[None], [item.geometry])[0]

    def serial(self) -> None:
        """One segmenter: each frame in this thread."""
        while (item := self.next_item()) is not _END:
            if item.segmented:
                self.started()
            self.hand_over(item, self.infer(0, item))

    def slotted(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        """Several segmenters: as many consecutive frames at once, frame ``i`` on slot ``i % len(segs)`` (its
        segmenter and detector)."""
        flight: collections.deque[tuple[FrameItem, concurrent.futures.Future[Segmentation | None] | None]] = collections.deque()
        submitted = in_flight = 0
        try:
            while (item := self.next_item()) is not _END:
                if not item.segmented and not self.detects(item):  # handed over in its place among the others
                    flight.append((item, None))
                else:
                    flight.append((item, pool.submit(self.infer, submitted % len(self.segs), item)))
                    submitted += 1
                    in_flight += 1
                    if submitted == len(self.segs) or self.decoder.q.empty():
                        self.started()
                # the frames in flight are consecutive submissions, so each has a slot of its own
                while flight and (flight[0][1] is None or in_flight >= len(self.segs)):
                    first, fut = flight.popleft()
                    in_flight -= fut is not None
                    self.hand_over(first, fut.result() if fut is not None else None)
            self.started()
            self.decoded()
            while flight:
                first, fut = flight.popleft()
                self.hand_over(first, fut.result() if fut is not None else None)
        finally:
            for _, fut in flight:
                if fut is not None:
                    fut.cancel()

    def decoded(self) -> None:
        """Run ``on_decoded`` once."""
        if self.on_decoded is not None:
            hook, self.on_decoded = self.on_decoded, None
            hook()


def run_frames(
    reader: VideoReader, decoder: Decoder, segs: Sequence[Segmenter], context: StageContext, hooks: Hooks, sched: Scheduling,
    on_decoded: Callable[[], None] | None = None, on_started: Callable[[], None] | None = None, detectors: Sequence[Detect] = (),
) -> FrameRun:
    """Segment the decoded frames in order and run the per-frame stages (:data:`~analytics.footage.stages.STAGES`) on them.

    One segmenter: each frame in this thread. Several (:func:`frame_slots`): as many consecutive
    frames at once in worker threads, handed over in order. ``on_decoded`` runs in this thread once
    the last frame is decoded, while the last frames are still segmented or measured (the sink
    opens for the write then); ``on_started`` once the first frames are being segmented (before
    the first one, with one segmenter), also when no frame comes. ``detectors`` (one per slot, or
    one for all): run on each tracked frame in its slot, the answer on :attr:`FrameItem.detections`.
    :class:`~analytics.errors.VideoError` when no frame could be analysed.
    """
    measurer = StageThread([factory() for factory in STAGES], context, sched)
    measurer.thread.start()
    loop = _Loop(reader, decoder, segs, measurer, hooks, on_started, on_decoded, detectors)
    pool = concurrent.futures.ThreadPoolExecutor(len(segs), "urbanlens-infer") if len(segs) > 1 else None
    try:
        if pool is None:
            loop.serial()
            loop.started()
            loop.decoded()
        else:
            loop.slotted(pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        decoder.close()
        measurer.q.put(_END)
        measurer.thread.join()
    if measurer.error is not None:
        raise measurer.error
    if not measurer.run.frame_index:
        raise VideoError(f"{reader.path.name}: no frame could be analysed")
    if hooks.progress is not None and loop.done < loop.total:
        hooks.progress(loop.done, loop.done, loop.done / max(1e-9, time.perf_counter() - loop.t0), 0.0)
    return measurer.finish()
