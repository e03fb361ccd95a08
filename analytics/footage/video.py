"""Video input: open a clip, read its facts, and yield sampled frames with their true timestamps.

:func:`open_video` returns a :class:`VideoReader` (a context manager) whose iteration yields
:class:`SampledFrame` (frame index in presentation order, timestamp in seconds from the first
frame, BGR ``uint8`` image, upright: the container's rotation is applied).

How frames are chosen (:class:`Sampling`):

- ``fps=f``: for each target time ``k / f`` (k = 0, 1, ...), the first frame whose timestamp is at or
  after it (each frame at most once), so variable frame rates and GIF delays are honoured;
- ``every=n``: frames ``0, n, 2n, ...``;
- ``all``: every frame.

Decoding (measured in bench/pipeline_bench.py, PyAV 18 / OpenCV 4.10 on 2 cores): the packets are
demuxed once first (no decoding; about a millisecond for a 10 s clip) to learn every frame's
timestamp and where the key frames are. Then only what is needed is decoded: where a key frame lies
between the decoder's position and the next wanted frame, the reader seeks to it instead of decoding
the frames in between; packets of unwanted frames that no other frame refers to (most B-frames) are
skipped by the decoder (``skip_frame = NONREF``, for the codecs in :data:`NONREF_SKIP_CODECS`);
frames that are not wanted are not converted to images. On bikes.mp4 at 2 frames a second this
decodes 128 of its 250 frames; on a 720p clip with a key frame every second, at 1 frame a second,
60 of 1500. PyAV is used rather
than OpenCV because it gives the true presentation timestamps, the rotation, the codec's name and
decoding errors one by one (needed to say how much of a truncated file was read); OpenCV's
``grab`` has no key-frame skipping.

Errors (:class:`~analytics.errors.VideoError`, one line each): not a video, no video stream, an
unsupported codec, zero frames, an absurd size, a file that cannot be decoded at all. A truncated
or partly corrupt file yields what decodes; :attr:`VideoReader.problem` then says how much was read.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np

from analytics.errors import InputError, VideoError, quote_value

__all__ = [
    "START_SOURCES", "ClipStart", "Sampling", "VideoInfo", "SampledFrame", "VideoReader", "check_duration", "clip_start",
    "creation_tag", "open_video", "probe", "rotate_upright", "sampling_note", "select_frames", "shape_warning", "tag_to_local", "upload_start",
]

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".gif", ".mpg", ".mpeg", ".ts", ".wmv")
MIN_SIDE = 16
MAX_SIDE = 8192
MAX_PIXELS = 8192 * 4320
TRUNCATION_TOLERANCE = 0.98
"""A clip whose decoded frames fall below this share of the frames its container declares is truncated."""
MIN_RATE = 1 / 3600
"""Lowest sampling rate, frames per second: one frame an hour (a clip is at most an hour by default)."""
MAX_ASPECT = 4.0
"""Frames more than 4 times wider than tall (or taller than wide) are warned about: the model sees
every frame scaled to its input (2:1 for the ESPNetv2 cards), so a 17x4000 strip becomes a smear a
few pixels wide. The widest common footage (32:9 ultra-wide, 2:1 panoramas) stays below 4:1."""
MIN_USEFUL_SIDE = 32
"""Frames whose shorter side is below 32 pixels are warned about: too few pixels for street objects."""


def shape_warning(width: int, height: int) -> str | None:
    """A warning when a ``width`` x ``height`` frame is too elongated (beyond :data:`MAX_ASPECT`)
    or too small (shorter side below :data:`MIN_USEFUL_SIDE`) for its measurements to mean much.

    >>> shape_warning(1920, 1080) is None, shape_warning(17, 4000)
    (True, 'frame size 17x4000 is 235 times taller than wide (more than 4:1): the model cannot see much in it, so its measurements may not mean much')
    """
    if width < 1 or height < 1:
        raise InputError(f"frame size {width}x{height}; expected positive sides")
    ratio = max(width / height, height / width)
    if ratio > MAX_ASPECT:
        how = "wider than tall" if width > height else "taller than wide"
        return (
            f"frame size {width}x{height} is {ratio:.0f} times {how} (more than {MAX_ASPECT:g}:1): "
            "the model cannot see much in it, so its measurements may not mean much"
        )
    if min(width, height) < MIN_USEFUL_SIDE:
        return (
            f"frame size {width}x{height} has a side under {MIN_USEFUL_SIDE} pixels: "
            "too few pixels for street objects, so its measurements may not mean much"
        )
    return None


@dataclass(frozen=True)
class Sampling:
    """Which frames of a clip are analysed: ``fps`` (per second), ``every`` (every n-th) or ``all``.

    >>> Sampling.parse("2").label, Sampling.parse("every=5").label, Sampling.parse("all").label
    ('fps=2', 'every=5', 'all')
    """

    mode: str
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.mode == "fps" and not (math.isfinite(self.value) and MIN_RATE <= self.value <= 240):
            raise InputError(
                f"sampling rate {self.value!r} frames per second; expected a number from {MIN_RATE:.6f} (one frame an hour) to 240"
            )
        if self.mode == "every" and not (float(self.value).is_integer() and self.value >= 1):
            raise InputError(f"every={self.value!r}; expected a whole number of at least 1")
        if self.mode not in ("fps", "every", "all"):
            raise InputError(f"sampling mode {self.mode!r}; expected fps, every or all")

    @property
    def label(self) -> str:
        """Provenance text, e.g. ``fps=2``, ``fps=0.5``, ``every=5``, ``all``."""
        if self.mode == "all":
            return "all"
        v = self.value
        return f"{self.mode}={int(v) if float(v).is_integer() else v:g}"

    @classmethod
    def parse(cls, spec: str | float | int | Sampling) -> Sampling:
        """``2`` / ``"2"`` / ``"fps=2"`` → 2 per second; ``"every=5"``; ``"all"``."""
        if isinstance(spec, Sampling):
            return spec
        if isinstance(spec, bool):
            raise InputError(f"sampling {spec!r}; expected a rate, 'every=N' or 'all'")
        if isinstance(spec, int | float):
            return cls("fps", float(spec))
        text = str(spec).strip().lower()
        if text == "all":
            return cls("all")
        key, _, val = text.rpartition("=")
        key = key or "fps"
        try:
            number = float(val)
        except ValueError:
            raise InputError(f"sampling {spec!r}; expected a rate such as 2, 'fps=2', 'every=5' or 'all'") from None
        if key not in ("fps", "every"):
            raise InputError(f"sampling {spec!r}; expected a rate such as 2, 'fps=2', 'every=5' or 'all'")
        return cls(key, number)


@dataclass(frozen=True)
class VideoInfo:
    """Facts of a clip. ``width`` and ``height`` are those of the upright frames (rotation applied)."""

    path: Path
    container: str
    codec: str
    width: int
    height: int
    fps: float
    n_frames: int
    """Frames present in the file (counted from its packets)."""
    duration_s: float
    rotation: int
    """Degrees clockwise the stored frames are turned to be upright (0, 90, 180 or 270)."""
    declared_frames: int
    """Frames the container's header declares (0 where it does not say)."""


@dataclass(frozen=True)
class SampledFrame:
    index: int
    """Position of the frame in presentation order (0-based)."""
    t_s: float
    """Presentation time in seconds from the clip's first frame."""
    image: np.ndarray
    """BGR uint8 (height, width, 3), upright."""


def select_frames(times: np.ndarray, sampling: Sampling) -> np.ndarray:
    """Indices of the frames to keep, given every frame's timestamp (sorted, seconds).

    For ``fps=f`` frame i is kept when it is the first frame at or after a target ``k / f``
    (a half-millisecond tolerance absorbs rounding of timestamps).

    >>> t = np.arange(10) / 4.0                     # 4 frames per second
    >>> select_frames(t, Sampling("fps", 2)).tolist(), select_frames(t, Sampling("every", 3)).tolist()
    ([0, 2, 4, 6, 8], [0, 3, 6, 9])
    >>> select_frames(np.array([0.0, 0.1, 1.7, 1.8]), Sampling("fps", 1)).tolist()   # a gap: 1.0 s is served by 1.7 s
    [0, 2]
    """
    n = len(times)
    if sampling.mode == "all":
        return np.arange(n)
    if sampling.mode == "every":
        return np.arange(0, n, int(sampling.value))
    step = 1.0 / sampling.value
    keep: list[int] = []
    target = 0.0
    eps = 5e-4
    for i, t in enumerate(np.asarray(times, dtype=np.float64)):
        if t + eps >= target:
            keep.append(i)
            target = (math.floor((t + eps) / step) + 1) * step
    return np.asarray(keep, dtype=np.int64)


def rotate_upright(image: np.ndarray, clockwise: int) -> np.ndarray:
    """Turn a frame ``clockwise`` degrees (0, 90, 180, 270).

    >>> img = np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2)
    >>> rotate_upright(img, 90)[:, :, 0].tolist()
    [[3, 0], [4, 1], [5, 2]]
    """
    if clockwise == 0:
        return image
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}.get(clockwise)
    if code is None:
        raise InputError(f"rotation {clockwise!r}; expected 0, 90, 180 or 270")
    return cv2.rotate(image, code)


def _clockwise(display_rotation: float) -> int:
    """FFmpeg's display-matrix angle (counter-clockwise) as the clockwise turn that makes frames upright."""
    return int(round(-display_rotation / 90.0)) % 4 * 90


@dataclass
class _Index:
    pts: np.ndarray  # sorted presentation timestamps (stream time base)
    key_pts: np.ndarray  # sorted pts of key frames
    demux_error: str | None


def _open(path: Path) -> Any:
    import av

    if not path.exists():
        raise InputError(f"clip {str(path)!r} does not exist")
    if not path.is_file():
        raise InputError(f"clip {str(path)!r} is not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path.name} is not a video file FFmpeg can read, or it is damaged ({_ff_reason(exc)})"
        ) from None


NONREF_SKIP_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg"})
"""Codecs whose decoders honour ``skip_frame = NONREF`` safely (GIF and VP8/VP9 are left out: their
frames build on earlier ones in ways a skip would break)."""

SEEK_MIN_SKIP = 8
"""Seek only when it skips at least this many frames (a seek flushes the decoder)."""


def _seek(container: Any, stream: Any, pts: int) -> None:
    """Seek ``stream`` back to the key frame at or before ``pts`` (a failed seek leaves the position as it is)."""
    import av

    try:
        container.seek(pts, stream=stream, backward=True, any_frame=False)
        stream.codec_context.flush_buffers()
    except av.error.FFmpegError:
        pass


def _seek_key(keys: list[int], pts: list[int], last_pts: int | None, target: int) -> int | None:
    """The key frame to seek to before decoding ``target``: the last key frame at or before it,
    when at least :data:`SEEK_MIN_SKIP` frames lie between the decoder's position ``last_pts``
    and it (else ``None``: decode on). ``pts`` are all frames' timestamps, sorted.

    >>> pts = list(range(0, 300, 10))
    >>> _seek_key([0, 100, 200], pts, 10, 150), _seek_key([0, 100, 200], pts, 120, 150), _seek_key([0, 100], pts, 50, 150)
    (100, None, None)
    """
    if last_pts is None:
        return None
    j = bisect.bisect_right(keys, target) - 1
    if j < 0 or keys[j] <= last_pts:
        return None
    skipped = bisect.bisect_left(pts, keys[j]) - bisect.bisect_right(pts, last_pts)
    return keys[j] if skipped >= SEEK_MIN_SKIP else None


def _ff_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[-1].strip() or type(exc).__name__


class VideoReader:
    """An open clip. Iterate it for :class:`SampledFrame` objects; use it as a context manager.

    After iteration, :attr:`decoded` is the number of frames yielded and :attr:`problem` is
    ``None`` or a sentence saying how much of a damaged file could be read.
    """

    def __init__(
        self, path: str | Path, sampling: Sampling | str | float = 2.0, *, max_frames: int | None = None,
        max_duration_s: float | None = None, decode_threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.sampling = Sampling.parse(sampling)
        if max_frames is not None and max_frames < 1:
            raise InputError(f"max_frames={max_frames!r}; expected at least 1")
        if decode_threads is not None and (isinstance(decode_threads, bool) or not isinstance(decode_threads, int) or decode_threads < 1):
            raise InputError(f"decode_threads={decode_threads!r}; expected a whole number of at least 1 (or None: FFmpeg's choice)")
        self.decode_threads = decode_threads
        if max_duration_s is not None and not (math.isfinite(max_duration_s) and max_duration_s > 0):
            raise InputError(f"max_duration_s={max_duration_s!r}; expected a number of seconds above 0")
        self._container = _open(self.path)
        try:
            self.info, self._index = self._probe()
            check_duration(self.info, max_duration_s)
        except BaseException:
            self._container.close()
            raise
        self.notes: list[str] = [n for n in (sampling_note(self.info, self.sampling), shape_warning(self.info.width, self.info.height)) if n]
        """Warnings about how the clip is read (a rate above the clip's own, an odd frame shape)."""
        times = self._times(self._index.pts)
        wanted = select_frames(times, self.sampling)
        if max_frames is not None:
            wanted = wanted[:max_frames]
        self.wanted = wanted
        self.decoded = 0
        self.frames_out = 0  # frames out of the decoder, sampled or not: what seeking saves shows here
        self.decode_errors = 0
        self.problem: str | None = None
        if self._index.demux_error:
            self.problem = self._index.demux_error

    # -- facts --------------------------------------------------------------------------------
    def _probe(self) -> tuple[VideoInfo, _Index]:
        import av

        c = self._container
        name = self.path.name
        if not c.streams.video:
            kinds = ", ".join(sorted({s.type for s in c.streams})) or "nothing"
            raise VideoError(f"{name} has no video stream (it holds {kinds})")
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        cc = s.codec_context
        codec = getattr(cc, "name", None) if cc is not None else None
        if not codec:
            raise VideoError(f"{name}: the video codec is not supported by this FFmpeg build")
        try:
            av.codec.Codec(codec, "r")
        except Exception:
            raise VideoError(f"{name}: codec {codec!r} has no decoder in this FFmpeg build") from None
        w, h = int(cc.width or 0), int(cc.height or 0)
        if w == 0 or h == 0:
            raise VideoError(f"{name}: the video stream has no frame size (not a readable video)")
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE and w * h <= MAX_PIXELS):
            raise VideoError(
                f"{name}: frame size {w}x{h} is outside what UrbanLens analyses ({MIN_SIDE} to {MAX_SIDE} pixels a side, "
                f"at most {MAX_PIXELS // 1_000_000} megapixels)"
            )
        index = self._demux_index(s)
        if len(index.pts) == 0:
            why = f" ({index.demux_error})" if index.demux_error else ""
            raise VideoError(f"{name}: the video stream has zero frames{why}")
        tb = s.time_base or Fraction(1, 1)
        times = (index.pts - index.pts[0]) * float(tb)
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = float(rate) if rate else 0.0
        if len(times) > 1:
            median_step = float(np.median(np.diff(times)))
            if not (fps > 0 and math.isfinite(fps)) and median_step > 0:
                fps = 1.0 / median_step
            frame_dur = 1.0 / fps if fps > 0 else median_step
        else:
            frame_dur = 1.0 / fps if fps > 0 else 0.0
        if not (fps > 0 and math.isfinite(fps)):
            fps = 1.0
        duration = float(times[-1]) + frame_dur
        rotation = self._rotation(s)
        if rotation in (90, 270):
            w, h = h, w
        info = VideoInfo(
            path=self.path, container=str(c.format.name), codec=codec, width=w, height=h, fps=fps,
            n_frames=len(index.pts), duration_s=duration, rotation=rotation, declared_frames=int(s.frames or 0),
        )
        if info.declared_frames and len(index.pts) < TRUNCATION_TOLERANCE * info.declared_frames and not index.demux_error:
            declared_s = info.declared_frames / fps
            index.demux_error = (
                f"truncated: read {duration:.1f} s of {declared_s:.1f} s ({len(index.pts)} of {info.declared_frames} frames "
                "are in the file)"
            )
        return info, index

    def _rotation(self, stream: Any) -> int:
        """Clockwise degrees, from the first frame's display matrix (FFmpeg's own convention)."""
        import av

        try:
            for frame in self._container.decode(stream):
                rot = getattr(frame, "rotation", 0) or 0
                return _clockwise(float(rot))
        except av.error.FFmpegError:
            return 0
        finally:
            self._seek_start(stream)
        return 0

    def _seek_start(self, stream: Any) -> None:
        import av

        with contextlib.suppress(av.error.FFmpegError):
            self._container.seek(0, stream=stream, backward=True, any_frame=False)
        stream.codec_context.flush_buffers()

    def _demux_index(self, stream: Any) -> _Index:
        import av

        pts: list[int] = []
        keys: list[int] = []
        error = None
        try:
            for packet in self._container.demux(stream):
                if packet.size == 0:
                    continue
                p = packet.pts if packet.pts is not None else packet.dts
                if p is None:
                    p = (pts[-1] + 1) if pts else 0
                pts.append(int(p))
                if packet.is_keyframe:
                    keys.append(int(p))
        except av.error.FFmpegError as exc:
            error = f"damaged after {len(pts)} frames ({_ff_reason(exc)})"
        self._seek_start(stream)
        arr = np.unique(np.asarray(pts, dtype=np.int64))
        return _Index(arr, np.unique(np.asarray(keys, dtype=np.int64)), error)

    def _times(self, pts: np.ndarray) -> np.ndarray:
        tb = self._container.streams.video[0].time_base or Fraction(1, 1)
        return (pts - pts[0]).astype(np.float64) * float(tb) if len(pts) else np.zeros(0)

    @property
    def creation_time(self) -> datetime | None:
        """The container's ``creation_time`` tag (naive, as written), if it has a plausible one."""
        return _tag_time(self._container)

    @property
    def n_wanted(self) -> int:
        """How many frames the sampling rule picks (the total for progress bars)."""
        return int(len(self.wanted))

    @property
    def frame_times(self) -> np.ndarray:
        """Timestamp (seconds) of every frame in the file."""
        return self._times(self._index.pts)

    # -- frames -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[SampledFrame]:
        # A container of its own, opened in the iterating thread: FFmpeg's decoding threads are
        # born there and share its scheduling priority (the pipeline runs decoding at a lower one).
        container = _open(self.path)
        try:
            yield from self._frames(container)
        finally:
            container.close()

    def _frames(self, container: Any) -> Iterator[SampledFrame]:
        import av

        s = container.streams.video[0]
        self._set_threads(s)
        pts_all = self._index.pts
        wanted_pts = [int(p) for p in pts_all[self.wanted]]
        wanted_set = {p: int(i) for p, i in zip(wanted_pts, self.wanted, strict=True)}
        keys = [int(k) for k in self._index.key_pts]
        all_pts = [int(p) for p in pts_all]
        t0 = int(pts_all[0])
        tb = float(s.time_base or 1)
        next_i = 0  # position in wanted_pts of the next frame to yield
        last_pts: int | None = None  # pts of the last frame out of the decoder
        sought: set[int] = set()
        cc = s.codec_context
        skip_ok = self.sampling.mode != "all" and self.info.codec in NONREF_SKIP_CODECS
        seek_to: int | None = None
        stopped = False
        while next_i < len(wanted_pts) and not stopped:
            if seek_to is not None:
                _seek(container, s, seek_to)
                seek_to = None
            stopped = True  # unless the loop below breaks out to seek
            try:
                for packet in container.demux(s):
                    if skip_ok:
                        # frames nobody wants and no frame refers to are not decoded at all
                        want = packet.pts is None or int(packet.pts) in wanted_set
                        cc.skip_frame = "DEFAULT" if want else "NONREF"
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:
                        self.decode_errors += 1
                        continue
                    for frame in frames:
                        if frame.pts is None:
                            continue
                        last_pts = int(frame.pts)
                        self.frames_out += 1
                        idx = wanted_set.get(last_pts)
                        if idx is None:
                            continue
                        image = rotate_upright(frame.to_ndarray(format="bgr24"), self.info.rotation)
                        self.decoded += 1
                        yield SampledFrame(idx, (last_pts - t0) * tb, image)
                    while next_i < len(wanted_pts) and last_pts is not None and wanted_pts[next_i] <= last_pts:
                        next_i += 1
                    if next_i >= len(wanted_pts):
                        break
                    key = _seek_key(keys, all_pts, last_pts, wanted_pts[next_i])
                    if key is not None and key not in sought:
                        sought.add(key)  # skip the frames before the key frame instead of decoding them
                        seek_to, stopped = key, False
                        break
            except av.error.FFmpegError as exc:
                self.problem = f"decoding stopped ({_ff_reason(exc)})"
                stopped = True
        self._account(len(wanted_pts), (last_pts - t0) * tb if last_pts is not None else 0.0)

    def _set_threads(self, stream: Any) -> None:
        if self.decode_threads is None:
            stream.thread_type = "AUTO"
        else:
            stream.codec_context.thread_count = self.decode_threads

    def _account(self, n_wanted: int, last_t: float) -> None:
        """Say in :attr:`problem` how much of the sampled frames was decoded when not all; VideoError when none."""
        missing = n_wanted - self.decoded
        if missing > 0 or self.decode_errors:
            pct = 100.0 * self.decoded / max(1, n_wanted)
            detail = f"decoded {self.decoded} of {n_wanted} sampled frames ({pct:.0f}%), up to {last_t:.1f} s"
            if self.decode_errors:
                detail += f"; {self.decode_errors} damaged packets skipped"
            self.problem = f"{self.problem}; {detail}" if self.problem else detail
        if self.decoded == 0:
            raise VideoError(f"{self.path.name}: no frame could be decoded ({self.problem or 'unknown reason'})")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_video(
    path: str | Path, sampling: Sampling | str | float = 2.0, *, max_frames: int | None = None, max_duration_s: float | None = None,
    decode_threads: int | None = None,
) -> VideoReader:
    """Open a clip for sampled reading (see the module doc); raises VideoError for unreadable files
    and for a clip longer than ``max_duration_s`` seconds (None: no bound). ``decode_threads``:
    FFmpeg's decoding threads (None: its own choice, frame and slice threads; the pipeline asks for
    1: beside the model a single decoding thread costs about 15% less CPU and still keeps ahead)."""
    return VideoReader(path, sampling, max_frames=max_frames, max_duration_s=max_duration_s, decode_threads=decode_threads)


def _clock(seconds: float) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour).

    >>> _clock(7200), _clock(75.4)
    ('2:00:00', '1:15')
    """
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def check_duration(info: VideoInfo, max_duration_s: float | None) -> None:
    """VideoError when the clip lasts longer than ``max_duration_s`` seconds (None: no bound)."""
    if max_duration_s is not None and info.duration_s > max_duration_s:
        raise VideoError(
            f"{info.path.name} lasts {_clock(info.duration_s)}, longer than the maximum of {_clock(max_duration_s)} a clip "
            f"(about {math.ceil(info.duration_s / 60)} minutes; raise it with --max-duration {math.ceil(info.duration_s / 60)} "
            "or URBANLENS_MAX_CLIP_MINUTES, or split the clip)"
        )


def sampling_note(info: VideoInfo, sampling: Sampling) -> str | None:
    """What a sampling does that its words do not say: a rate above the clip's own frame rate
    (every frame is analysed), or one so low, or a step so long, that only the first frame is.

    >>> info = VideoInfo(Path("a.mp4"), "mp4", "h264", 64, 48, 10.0, 50, 5.0, 0, 50)
    >>> sampling_note(info, Sampling("fps", 2)) is None
    True
    >>> sampling_note(info, Sampling("fps", 0.1))
    '--fps 0.1 samples one frame every 10 s, but a.mp4 lasts 5.00 s: only its first frame is analysed (use --fps 0.2 or more for two)'
    """
    if sampling.mode == "fps" and sampling.value > info.fps * 1.001:
        return (
            f"--fps {sampling.value:g} is above the clip's own {info.fps:.3g} frames a second: every frame is analysed "
            f"({info.fps:.3g} a second)"
        )
    if info.n_frames < 2:
        return None
    if sampling.mode == "fps" and 1.0 / sampling.value >= info.duration_s:
        return (
            f"--fps {sampling.value:g} samples one frame every {1 / sampling.value:g} s, but {info.path.name} lasts "
            f"{info.duration_s:.2f} s: only its first frame is analysed (use --fps {1 / info.duration_s:.2g} or more for two)"
        )
    if sampling.mode == "every" and sampling.value >= info.n_frames:
        return (
            f"every={int(sampling.value)} steps over more frames than {info.path.name} has ({info.n_frames}): only its first "
            f"frame is analysed"
        )
    return None


def probe(path: str | Path) -> VideoInfo:
    """The facts of a clip without decoding its frames."""
    with open_video(path, "all") as reader:
        return reader.info


# -- when a clip starts ------------------------------------------------------------------------------

START_SOURCES = {
    "given": "the time given",
    "tag": "the file's creation tag",
    "mtime": "the file's modification time",
    "upload": "the time of the upload (the file has no creation tag)",
}
"""Where a clip's start time comes from, and how messages name it."""


@dataclass(frozen=True)
class ClipStart:
    """A clip's start time (naive, whole seconds) and where it came from (a key of :data:`START_SOURCES`).

    >>> ClipStart(datetime(2018, 4, 19, 8, 0), "tag").note()
    "start time 2018-04-19 08:00 taken from the file's creation tag; pass --start to set it"
    >>> ClipStart(datetime(2018, 4, 19), "guess")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: start time source 'guess'; expected one of given, tag, mtime, upload
    """

    time: datetime
    source: str

    def __post_init__(self) -> None:
        if self.source not in START_SOURCES:
            raise InputError(f"start time source {self.source!r}; expected one of {', '.join(START_SOURCES)}")
        if not isinstance(self.time, datetime):
            raise InputError(f"start time {self.time!r}; expected a datetime")

    @property
    def origin(self) -> str:
        """Where the time came from, in words (``the file's creation tag``)."""
        return START_SOURCES[self.source]

    @property
    def text(self) -> str:
        """The time as ``2018-04-19 08:00`` (seconds shown only when there are any)."""
        return f"{self.time:%Y-%m-%d %H:%M}" + (f":{self.time:%S}" if self.time.second else "")

    def note(self, how_to_set: str = "pass --start to set it") -> str:
        """One line saying the time, where it came from and how to set it."""
        return f"start time {self.text} taken from {self.origin}; {how_to_set}"


def tag_to_local(raw: str, tz: str = "UTC") -> datetime:
    """A ``creation_time`` tag as naive local wall-clock time in zone ``tz``: the tag is UTC (ISO/IEC 14496-12 and
    QuickTime store seconds since 1904 in UTC; FFmpeg writes them as ``...Z``), a tag with another offset is read
    at that offset; InputError where it is no ISO time.

    >>> tag_to_local("2026-03-29T00:59:30.000000Z", "Europe/Zurich"), tag_to_local("2026-03-29T01:00:30Z", "Europe/Zurich")
    (datetime.datetime(2026, 3, 29, 1, 59, 30), datetime.datetime(2026, 3, 29, 3, 0, 30))
    >>> tag_to_local("2018-04-19 08:00:00")
    datetime.datetime(2018, 4, 19, 8, 0)
    """
    try:
        dt = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"creation_time {quote_value(raw)} is not an ISO time") from None
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    try:
        return aware.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"time zone {quote_value(tz)} is unknown; expected an IANA name such as Europe/Zurich") from None


def _tag_time(container: Any, tz: str = "UTC") -> datetime | None:
    """An open container's ``creation_time`` tag (format or first video stream) as local time in ``tz``
    (:func:`tag_to_local`), whole seconds; None when missing, unreadable or before 1990 (cameras with an
    unset clock write 1970 or 1904)."""
    tags = dict(container.metadata or {})
    if container.streams.video:
        tags = {**tags, **dict(container.streams.video[0].metadata or {})}
    raw = tags.get("creation_time")
    if not raw:
        return None
    try:
        dt = tag_to_local(str(raw), tz).replace(microsecond=0)
    except (InputError, OverflowError):
        return None
    return dt if dt.year >= 1990 else None


def creation_tag(source: str | Path | IO[bytes], tz: str = "UTC") -> datetime | None:
    """The ``creation_time`` tag of a clip file (or of its bytes in a file object) as local time in ``tz``, reading only
    its header; None when the file has none or cannot be read (the analysis says why)."""
    import av  # deferred: PyAV is only needed to read clips

    try:
        with av.open(str(source) if isinstance(source, str | Path) else source, mode="r", metadata_errors="ignore") as c:
            return _tag_time(c, tz)
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def clip_start(path: str | Path, given: datetime | None = None, tz: str | None = None) -> ClipStart:
    """A clip file's start time: ``given`` when set, else its creation tag (UTC, converted to ``tz``), else the file's
    modification time (local time in ``tz``; None: this machine's zone), whole seconds."""
    if given is not None:
        return ClipStart(given.replace(microsecond=0), "given")
    path = Path(path)
    tag = creation_tag(path, tz or "UTC")
    if tag is not None:
        return ClipStart(tag, "tag")
    if not path.is_file():
        raise InputError(f"clip {str(path)!r} does not exist")
    mtime = path.stat().st_mtime
    local = datetime.fromtimestamp(mtime, ZoneInfo(tz)).replace(tzinfo=None) if tz else datetime.fromtimestamp(mtime)
    return ClipStart(local.replace(microsecond=0), "mtime")


def upload_start(data: bytes, received: datetime, tz: str = "UTC") -> ClipStart:
    """An uploaded clip's start time: its creation tag (converted to local time in ``tz``), else ``received`` (an upload
    carries no modification time)."""
    tag = creation_tag(io.BytesIO(data), tz) if data else None
    return ClipStart(tag, "tag") if tag is not None else ClipStart(received.replace(microsecond=0), "upload")
