"""Follow one camera's live stream and store it chunk by chunk through the one analysis path (``urbanlens watch``).

Two threads and a bounded queue between them, plus a small thread for the health rows::

    recorder thread:  stream → chunk files in the spool folder (no decoding) → ChunkQueue (at most ``queue_size``)
    calling thread:   ChunkQueue → analyse_clip(chunk, start = capture time) → overlap check → store (one transaction)
    health thread:    heartbeats, reconnects, events → analytics.store.health (short transactions of their own)

- **Chunks without decoding twice.** HLS segments (MPEG-TS) are appended byte for byte to a ``.ts``
  chunk; other sources are remuxed packet by packet (PyAV, no re-encoding) into a ``.mkv`` chunk that
  starts on a key frame. A chunk ends after ``chunk_s`` seconds of stream, at a discontinuity, a gap,
  a fault or a change of frame size (a ``resize`` event).
- **Time.** A chunk's capture time is the UTC instant of its first frame: the HLS program date-time
  where the playlist gives one, else the receive clock (the playlist's length after the segment
  subtracted), carried on by the stream's own durations while segments follow each other; it is
  stored in the camera's local zone (docs/time.md).
- **Never twice.** Segments are read once (media sequence numbers); a chunk whose span overlaps a
  clip the camera has stored already is dropped with a ``drop`` event.
- **Falling behind.** When analysing a chunk took longer than the chunk lasted (or chunks wait), later
  chunks are sampled at a lower rate (:func:`next_factor`; frames left out are counted as dropped);
  when the queue is full the oldest waiting chunk is dropped whole. Nothing is buffered without bound.
- **Faults** (a stall, the end of the stream, HTTP errors, garbage, a restarted source): the chunk
  being recorded is finished, the worker says ``reconnecting`` and waits :func:`backoff_delay`.
- **Stop** (:meth:`Watcher.stop`, from SIGTERM/SIGINT): the chunk being recorded is finished as a
  shorter whole chunk, every queued chunk is analysed and stored, then the worker says ``stopped``.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pandas as pd

from analytics.errors import InputError, UrbanLensError, quote_value
from analytics.footage.options import AnalysisOptions
from analytics.footage.pipeline import analyse_clip, describe_error, save_analysis
from analytics.footage.stream import FetchedSegment, HlsFollower, StreamFault, StreamSource, open_av, probe_segment
from analytics.footage.video import Sampling
from analytics.formatting import format_counted
from analytics.gpstrack import camera_zone, utc_to_local
from analytics.settings import Settings
from analytics.store.catalog import camera_clips
from analytics.store.database import Store
from analytics.store.health import WatchReport, add_watch_event, record_watch, watch_started
from analytics.store.ingest import StoredElsewhere

__all__ = ["Chunk", "ChunkQueue", "WatchOptions", "WatchSummary", "Watcher", "backoff_delay", "next_factor", "overlaps"]

SPOOL_SUFFIXES = (".ts", ".mkv", ".part")
"""Files of the spool folder that a start removes (left by a killed worker)."""


def backoff_delay(attempt: int, base_s: float = 1.0, cap_s: float = 60.0, jitter: float = 0.2, u: float = 0.5) -> float:
    """Seconds to wait before reconnect number ``attempt`` (0 for the first after a good period).

    ``delay = min(cap_s, base_s * 2**attempt) * (1 - jitter * u)`` with ``u`` uniform in [0, 1): 1 s
    doubling to 60 s, each up to ``jitter`` (20 %) shorter, so that cameras that fell over together do
    not reconnect in step.

    >>> [backoff_delay(a, u=0.0) for a in range(8)]
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    >>> backoff_delay(2, u=1.0), backoff_delay(50, cap_s=5, u=0.5)
    (3.2, 4.5)
    """
    if attempt < 0 or not 0 <= u <= 1:
        raise InputError(f"backoff attempt {attempt!r} and u {u!r}; expected attempt >= 0 and u in [0, 1]")
    return min(cap_s, base_s * 2.0 ** min(attempt, 62)) * (1.0 - jitter * u)


def next_factor(factor: float, analysis_s: float, chunk_s: float, queued: int, min_factor: float = 0.1) -> float:
    """The share of the configured sampling rate the next chunk is analysed at.

    ``load = analysis_s / chunk_s`` (the share of real time the last chunk's analysis took at ``factor``).
    Falling behind (``load > 0.9`` or chunks waiting): ``factor * 0.8 / max(load, 0.9)`` (the cost of a
    chunk taken as proportional to its sampled frames, aiming at 80 % of real time), at least
    ``min_factor``. Keeping up easily (``load < 0.6`` and none waiting): ``factor * 1.25``, at most 1.
    Otherwise unchanged. A heuristic, checked in bench/watch_bench.py.

    >>> next_factor(1.0, 30, 60, 0), next_factor(1.0, 120, 60, 0), next_factor(0.4, 10, 60, 0)
    (1.0, 0.4, 0.5)
    >>> next_factor(0.5, 40, 60, 1), next_factor(0.1, 600, 60, 2)
    (0.4444, 0.1)
    """
    load = analysis_s / chunk_s if chunk_s > 0 else math.inf
    if load > 0.9 or queued > 0:
        return round(max(min_factor, factor * 0.8 / max(load, 0.9)), 4)
    if load < 0.6:
        return round(min(1.0, factor * 1.25), 4)
    return factor


def overlaps(span: tuple[datetime, datetime], stored: pd.DataFrame, tolerance_s: float) -> pd.DataFrame:
    """The stored clips (columns start_time, duration_s) whose span overlaps ``span`` by more than ``tolerance_s``.

    >>> t = datetime(2026, 5, 4, 8)
    >>> clips = pd.DataFrame({"start_time": [t, t + timedelta(seconds=60)], "duration_s": [60.0, 60.0]})
    >>> len(overlaps((t + timedelta(seconds=120), t + timedelta(seconds=180)), clips, 0.05))
    0
    >>> overlaps((t + timedelta(seconds=110), t + timedelta(seconds=170)), clips, 0.05)["duration_s"].tolist()
    [60.0]
    """
    if stored.empty:
        return stored
    start = pd.to_datetime(stored["start_time"])
    end = start + pd.to_timedelta(stored["duration_s"], unit="s")
    tol = pd.Timedelta(seconds=tolerance_s)
    hit = (start < pd.Timestamp(span[1]) - tol) & (end > pd.Timestamp(span[0]) + tol)
    return stored[hit.to_numpy()]


@dataclass(frozen=True)
class WatchOptions:
    """How a stream is followed (the analysis itself is an :class:`AnalysisOptions`)."""

    spool: Path
    """Folder of the chunk files being written and waiting (stale ones are removed at start)."""
    chunk_s: float = 60.0
    stall_s: float = 10.0
    """No new frame for this long: a stall (reconnect). Also the network timeout."""
    backoff_cap_s: float = 60.0
    good_s: float = 30.0
    """A connection that delivered frames this long resets the backoff to 1 s."""
    queue_size: int = 2
    heartbeat_s: float = 30.0
    keep_chunks: Path | None = None
    """Move stored chunk files here instead of deleting them."""
    min_factor: float = 0.1

    def __post_init__(self) -> None:
        checks = {"chunk_s": (self.chunk_s, 1.0, 3600.0), "stall_s": (self.stall_s, 0.5, 3600.0),
                  "backoff_cap_s": (self.backoff_cap_s, 0.1, 3600.0), "heartbeat_s": (self.heartbeat_s, 0.1, 3600.0)}
        for name, (value, low, high) in checks.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise InputError(f"{name}={quote_value(value, 20)}; expected seconds from {low:g} to {high:g}")
        if not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise InputError(f"queue_size={quote_value(self.queue_size, 20)}; expected a whole number of at least 1")


@dataclass
class Chunk:
    """A finished chunk file: capture time of its first frame (UTC, naive), stream seconds, frame size."""

    path: Path
    start: datetime
    duration_s: float
    size: tuple[int, int]

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


class ChunkQueue:
    """Finished chunks waiting for analysis, at most ``capacity``: a chunk offered to a full queue pushes
    the oldest waiting one out (returned, to be deleted and reported)."""

    def __init__(self, capacity: int) -> None:
        self._q: queue.Queue[Chunk] = queue.Queue()
        self.capacity = capacity
        self._lock = threading.Lock()

    def offer(self, chunk: Chunk) -> Chunk | None:
        with self._lock:
            dropped = self._q.get_nowait() if self._q.qsize() >= self.capacity else None
            self._q.put(chunk)
            return dropped

    def take(self, timeout_s: float) -> Chunk | None:
        try:
            return self._q.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def qsize(self) -> int:
        return self._q.qsize()


@dataclass
class WatchSummary:
    """What a watch did, in numbers (the CLI prints it at the end)."""

    stored: int = 0
    frames: int = 0
    dropped_frames: int = 0
    dropped_chunks: int = 0
    overlapping: int = 0
    failed: int = 0
    reconnects: int = 0
    lags: list[float] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Health:
    """Writes health rows and events in a thread of its own, so that neither the recorder nor the
    analysis waits for the database; ``say`` prints a line for each event. ``db_lock`` is the worker's
    one turn at the database: the analysis of a chunk holds it, so this process's connections never
    wait for each other (DuckDB refuses a read-only and a read-write connection of one process at once)."""

    def __init__(self, store: Store, camera_id: str, say: Callable[[str], None], db_lock: threading.Lock) -> None:
        self.store, self.camera_id, self.say, self.db_lock = store, camera_id, say, db_lock
        self._q: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="watch-health", daemon=True)
        self._thread.start()

    def report(self, report: WatchReport) -> None:
        self._q.put(("report", report))

    def event(self, kind: str, detail: str) -> None:
        self.say(f"{kind}: {detail}")
        self._q.put(("event", (kind, detail)))

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            what, value = item
            try:
                with self.db_lock:
                    self._write(what, value)
            except UrbanLensError as exc:  # a busy database: the row is left as it was, the worker goes on
                self.say(f"health not recorded: {exc}")

    def _write(self, what: str, value: Any) -> None:
        if what == "report":
            record_watch(self.store, self.camera_id, value, _utcnow())
        else:
            add_watch_event(self.store, self.camera_id, value[0], value[1], _utcnow())

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=60)


class _Open:
    """The chunk being recorded: a ``.part`` file, its capture start (UTC), stream seconds so far and frame size."""

    def __init__(self, path: Path, start: datetime, size: tuple[int, int], suffix: str) -> None:
        self.path, self.start, self.size, self.suffix = path, start, size, suffix
        self.duration = 0.0
        self.file: IO[bytes] | None = None
        self.muxer: Any = None
        self.out_stream: Any = None
        self.t0: float | None = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.muxer is not None:
            with contextlib.suppress(Exception):
                self.muxer.close()


class _Recorder:
    """Follows the source and writes chunk files (the recorder thread of :class:`Watcher`)."""

    def __init__(self, source: StreamSource, opts: WatchOptions, chunks: ChunkQueue, health: _Health,
                 stop: threading.Event, on_dropped: Callable[[Chunk], None]) -> None:
        self.source, self.opts, self.chunks, self.health, self.stop = source, opts, chunks, health, stop
        self.on_dropped = on_dropped
        self.current: _Open | None = None
        self.prev_seq: int | None = None
        self.prev_end: datetime | None = None
        self.size_seen: tuple[int, int] | None = None
        self.follower = HlsFollower(source.url, opts.stall_s, opts.stall_s, stopped=stop.is_set)
        self.last_beat = -math.inf
        self.good_since: float | None = None
        self.reconnecting = False
        self.count = 0
        self.reconnects = 0
        self.done = threading.Event()

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        attempt = 0
        try:
            while not self.stop.is_set():
                try:
                    self._follow_hls() if self.source.kind == "hls" else self._follow_av()
                    if self.source.kind == "file" and not self.stop.is_set():  # a file is read once: its end ends the watch
                        self.health.say(f"end of {self.source.shown}: stopping")
                        self.stop.set()
                    if not self.stop.is_set():
                        raise StreamFault("end", "the stream ended")
                except StreamFault as fault:
                    attempt = self._fault(fault.kind, str(fault), attempt)
                except (OSError, ValueError, RuntimeError) as exc:  # a spool that cannot be written, a broken muxer
                    attempt = self._fault("error", describe_error(exc), attempt)
        finally:
            self._finish()
            self.done.set()

    def _fault(self, kind: str, message: str, attempt: int) -> int:
        """Finish the chunk, say ``reconnecting``, wait the backoff; the next attempt number."""
        self._finish()
        self.prev_seq = None
        if self.good_since is not None and time.monotonic() - self.good_since >= self.opts.good_s:
            attempt = 0
        self.good_since = None
        delay = backoff_delay(attempt, cap_s=self.opts.backoff_cap_s, u=random.random())
        self.reconnecting = True
        self.reconnects += 1
        self.health.report(WatchReport(state="reconnecting", reconnects=1, error=f"{kind}: {message}"))
        self.health.event("reconnect", f"retry in {delay:.1f} s ({kind}: {message})")
        end = time.monotonic() + delay
        while not self.stop.is_set() and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
        return attempt + 1

    def _arrived(self, frame_end: datetime) -> None:
        """Frames came: a heartbeat at least every ``heartbeat_s`` (at once after a reconnect)."""
        now = time.monotonic()
        if self.good_since is None:
            self.good_since = now
        if self.reconnecting or now - self.last_beat >= self.opts.heartbeat_s:
            self.health.report(WatchReport(state="running", last_frame_at=frame_end))
            self.last_beat, self.reconnecting = now, False

    # -- chunk files ------------------------------------------------------------------------------
    def _open(self, start: datetime, size: tuple[int, int], suffix: str) -> _Open:
        if self.size_seen is not None and size != self.size_seen:
            self.health.event("resize", f"frame size {self.size_seen[0]}x{self.size_seen[1]} -> {size[0]}x{size[1]}: a new chunk starts")
        self.size_seen = size
        self.count += 1
        path = self.opts.spool / f"chunk-{start:%Y%m%dT%H%M%S%f}-{self.count:06d}{suffix}.part"
        self.current = _Open(path, start, size, suffix)
        return self.current

    def _finish(self) -> None:
        """Close the chunk being recorded and queue it (an empty one is removed); a full queue drops its oldest."""
        cur, self.current = self.current, None
        if cur is None:
            return
        cur.close()
        if cur.duration <= 0:
            cur.path.unlink(missing_ok=True)
            return
        final = cur.path.with_name(cur.path.name.removesuffix(".part"))
        cur.path.replace(final)
        self.prev_end = max(self.prev_end or cur.start, cur.start + timedelta(seconds=cur.duration))
        dropped = self.chunks.offer(Chunk(final, cur.start, cur.duration, cur.size))
        if dropped is not None:
            dropped.path.unlink(missing_ok=True)
            self.on_dropped(dropped)

    # -- HLS: segments appended to a .ts chunk ------------------------------------------------------
    def _follow_hls(self) -> None:
        for fetched in self.follower.segments():
            self._segment(fetched)

    def _segment_start(self, fetched: FetchedSegment, follows: bool) -> datetime:
        """Capture time of a segment's first frame (UTC): its program date-time, else the previous segment's end when it
        follows on, else the receive clock less the playlist after it (never before the end of the last chunk)."""
        if fetched.seg.pdt is not None:
            return fetched.seg.pdt
        if follows and self.prev_end is not None:
            return self.prev_end
        guess = fetched.received - timedelta(seconds=fetched.behind_s)
        return max(guess, self.prev_end) if self.prev_end is not None else guess

    def _segment(self, fetched: FetchedSegment) -> None:
        seg = fetched.seg
        size = probe_segment(fetched.data)
        if size is None:
            self._finish()
            self.prev_seq = None
            if self.prev_end is not None:  # its time passed all the same: the next segment starts after it
                self.prev_end += timedelta(seconds=seg.duration)
            self.health.event("error", f"segment {seg.seq} holds no readable video ({len(fetched.data)} bytes): skipped")
            return
        follows = self.prev_seq is not None and seg.seq == self.prev_seq + 1 and not seg.discontinuity
        if self.prev_seq is not None and seg.seq > self.prev_seq + 1:
            self.health.event("drop", f"segments {self.prev_seq + 1} to {seg.seq - 1} left the playlist before they were read "
                              "(this machine fell behind the stream)")
        start = self._segment_start(fetched, follows)
        cur = self.current
        if cur is not None and (not follows or size != cur.size or abs((start - self._end(cur)).total_seconds()) > 0.5):
            self._finish()
            cur = None
        if cur is None:
            cur = self._open(start, size, ".ts")
            cur.file = cur.path.open("wb")
        assert cur.file is not None
        cur.file.write(fetched.data)
        cur.duration += seg.duration
        self.prev_seq = seg.seq
        self.prev_end = self._end(cur)
        self._arrived(self._end(cur))
        if cur.duration >= self.opts.chunk_s - 1e-6:
            self._finish()

    @staticmethod
    def _end(cur: _Open) -> datetime:
        return cur.start + timedelta(seconds=cur.duration)

    # -- other sources: packets remuxed into a .mkv chunk ---------------------------------------------
    def _follow_av(self) -> None:
        import av  # deferred: PyAV loads FFmpeg

        container = open_av(self.source, self.opts.stall_s)
        try:
            if not container.streams.video:
                raise StreamFault("garbage", f"{self.source.shown} holds no video stream")
            vs = container.streams.video[0]
            self._remux(container, vs)
        except av.error.FFmpegError as exc:
            kind = "stall" if "exit" in str(exc).lower() or "timed out" in str(exc).lower() else "garbage"
            raise StreamFault(kind, f"reading {self.source.shown}: {getattr(exc, 'strerror', None) or exc}") from None
        finally:
            self._finish()
            container.close()

    def _remux(self, container: Any, vs: Any) -> None:
        """Copy the video packets into chunk files, each starting on a key frame, at the stream's own pace."""
        size = (int(vs.codec_context.width or 0), int(vs.codec_context.height or 0))
        tb = float(vs.time_base)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        step = 1.0 / float(rate) if rate else 0.04
        anchor: tuple[float, datetime, float] | None = None
        for packet in container.demux(vs):
            if self.stop.is_set():
                return
            p = packet.pts if packet.pts is not None else packet.dts
            if p is None or packet.size == 0:
                continue
            t = p * tb
            if anchor is None:
                start = _utcnow()
                anchor = (t, max(start, self.prev_end) if self.prev_end is not None else start, time.monotonic())
            # never ahead of the stream's own clock: a file plays as a camera would, and a burst from a network
            # source (a server's buffer sent at once) is spread out, so no capture time lies in the future
            time.sleep(max(0.0, min(anchor[2] + (t - anchor[0]) - time.monotonic(), self.opts.stall_s)))
            self._packet(packet, vs, size, (t, anchor[1] + timedelta(seconds=t - anchor[0]), step))

    def _packet(self, packet: Any, vs: Any, size: tuple[int, int], when: tuple[float, datetime, float]) -> None:
        import av  # deferred: as in _follow_av

        t, at, step = when
        cur = self.current
        if cur is not None and packet.is_keyframe and cur.duration >= self.opts.chunk_s - 1e-6:
            self._finish()
            cur = None
        if cur is None:
            if not packet.is_keyframe:
                return
            cur = self._open(at, size, ".mkv")
            cur.muxer = av.open(str(cur.path), mode="w", format="matroska")
            cur.out_stream = cur.muxer.add_stream_from_template(vs)
            cur.t0 = t
        assert cur.t0 is not None
        packet.stream = cur.out_stream
        cur.muxer.mux(packet)
        cur.duration = max(cur.duration, t - cur.t0 + step)
        self._arrived(cur.start + timedelta(seconds=cur.duration))


class Watcher:
    """Follows one camera's stream and stores it chunk by chunk (:meth:`run`, in the calling thread, until
    :meth:`stop`). ``analysis.sampling`` must be a rate (frames per second): it is lowered for later chunks
    when the analysis falls behind. ``say`` hears one line per stored chunk and per fault."""

    def __init__(self, store: Store, camera_id: str, source: StreamSource, analysis: AnalysisOptions, settings: Settings,
                 options: WatchOptions, say: Callable[[str], None] = print) -> None:
        if analysis.sampling.mode != "fps":
            raise InputError(f"a watch samples by rate (--fps 1); got {analysis.sampling.label}")
        self.store, self.camera_id, self.source, self.analysis = store, camera_id, source, analysis
        self.settings, self.options, self.say = settings, options, say
        self.base_fps, self.base_track_fps = analysis.sampling.value, analysis.track_fps
        self.factor = 1.0
        self.summary = WatchSummary()
        self._stop = threading.Event()
        self.chunks = ChunkQueue(options.queue_size)
        self.tz = "UTC"
        self.db_lock = threading.Lock()

    def stop(self) -> None:
        """Finish the chunk being recorded, store every waiting chunk, then return from :meth:`run` (thread- and signal-safe)."""
        self._stop.set()

    def _clean_spool(self) -> None:
        spool = self.options.spool
        spool.mkdir(parents=True, exist_ok=True)
        stale = [p for p in spool.iterdir() if p.is_file() and p.name.startswith("chunk-") and p.suffix in SPOOL_SUFFIXES]
        for p in stale:
            p.unlink(missing_ok=True)
        if stale:
            self.say(f"spool: removed {len(stale)} stale chunk file(s) of an earlier run")

    def run(self) -> WatchSummary:
        """Watch until stopped; the camera's health row says ``stopped`` at the end (a ``stop`` event)."""
        self.tz = camera_zone(self.store.camera(self.camera_id), self.settings.timezone)  # an unknown camera: refused here
        self._clean_spool()
        watch_started(self.store, self.camera_id, self.source.shown, os.getpid(), _utcnow())
        health = _Health(self.store, self.camera_id, self.say, self.db_lock)
        recorder = _Recorder(self.source, self.options, self.chunks, health, self._stop, lambda c: self._dropped(health, c))
        thread = threading.Thread(target=recorder.run, name="watch-recorder", daemon=True)
        thread.start()
        try:
            while True:
                chunk = self.chunks.take(0.2)
                if chunk is not None:
                    self._store(health, chunk)
                elif recorder.done.is_set() and self.chunks.qsize() == 0:
                    break
        finally:
            self._stop.set()
            thread.join(timeout=30)
            health.close()
            self.summary.reconnects = recorder.reconnects
            now = _utcnow()
            record_watch(self.store, self.camera_id, WatchReport(state="stopped"), now)
            add_watch_event(self.store, self.camera_id, "stop", f"stopped: {format_counted(self.summary.stored, 'chunk')} stored", now)
        return self.summary

    def _dropped(self, health: _Health, chunk: Chunk) -> None:
        """A whole chunk pushed out of the full queue: its frames count as dropped."""
        frames = round(chunk.duration_s * self.base_fps)
        self.summary.dropped_chunks += 1
        self.summary.dropped_frames += frames
        health.report(WatchReport(dropped=frames))
        health.event("drop", f"analysis behind: chunk of {chunk.duration_s:.1f} s from {chunk.start:%H:%M:%S} UTC dropped whole "
                     f"({frames} frames; queue of {self.options.queue_size} full)")

    def _options(self, chunk: Chunk) -> AnalysisOptions:
        local = utc_to_local(chunk.start, self.tz)
        return self.analysis.replace(
            sampling=Sampling("fps", round(self.base_fps * self.factor, 4)),
            track_fps=max(0.1, round(self.base_track_fps * self.factor, 3)),
            start_time=local, label=f"{self.camera_id} {local:%Y-%m-%d %H:%M:%S.%f}"[:-3],
        )

    def _store(self, health: _Health, chunk: Chunk) -> None:
        """Analyse one chunk and store it, unless it overlaps a stored clip; report it; adjust the sampling."""
        options = self._options(chunk)
        factor, t0 = self.factor, time.monotonic()
        try:
            with self.db_lock:
                self._analyse_and_save(health, chunk, options)
        except StoredElsewhere as exc:  # the very same bytes are stored already (a source that replays): not twice
            self.summary.overlapping += 1
            health.event("drop", f"chunk {options.label} holds the same bytes as a stored clip ({exc}): dropped")
        except UrbanLensError as exc:
            self.summary.failed += 1
            health.event("error", f"chunk {options.label}: {describe_error(exc)}")
        finally:
            self._dispose(chunk)
        self.factor = next_factor(factor, time.monotonic() - t0, chunk.duration_s, self.chunks.qsize(), self.options.min_factor)

    def _analyse_and_save(self, health: _Health, chunk: Chunk, options: AnalysisOptions) -> None:
        """Analyse the chunk (the camera's zones read from the store), drop it when it overlaps a stored clip, else store it."""
        result = analyse_clip(chunk.path, self.camera_id, self.store, options, self.settings, save=False)
        m = result.measurements
        assert m is not None
        span = (m.clip.start_time, m.clip.start_time + timedelta(seconds=m.clip.duration_s))
        with self.store.reading():
            day = span[0].date()
            stored = camera_clips(self.store, self.camera_id, day - timedelta(days=1), day + timedelta(days=1), limit=5000)
        hit = overlaps(span, stored, min(0.25, 0.5 / max(m.clip.fps, 1.0)))
        if not hit.empty:
            self.summary.overlapping += 1
            health.event("drop", f"chunk {options.label} overlaps stored clip {hit.iloc[0]['label']}: dropped")
        else:
            save_analysis(self.store, result)
            self._stored(health, chunk, options, m.n)

    def _stored(self, health: _Health, chunk: Chunk, options: AnalysisOptions, n: int) -> None:
        lag = (_utcnow() - chunk.end).total_seconds()
        fps = options.sampling.value
        dropped = max(0, round(chunk.duration_s * self.base_fps) - n) if fps < self.base_fps else 0
        s = self.summary
        s.stored, s.frames, s.dropped_frames = s.stored + 1, s.frames + n, s.dropped_frames + dropped
        s.lags.append(lag)
        health.report(WatchReport(state="running", last_frame_at=chunk.end, chunks=1, frames=n, dropped=dropped,
                                  size=chunk.size, lag_s=round(lag, 3)))
        if dropped:
            health.event("drop", f"analysis behind real time: sampled {fps:g} instead of {self.base_fps:g} frames/s; "
                         f"{dropped} frames dropped")
        self.say(f"stored {options.label}: {chunk.duration_s:.1f} s, {n} frames at {fps:g}/s, "
                 f"{chunk.size[0]}x{chunk.size[1]}, lag {lag:.1f} s")

    def _dispose(self, chunk: Chunk) -> None:
        keep = self.options.keep_chunks
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.move(str(chunk.path), keep / chunk.path.name)
        else:
            chunk.path.unlink(missing_ok=True)
