"""Live streams on 127.0.0.1 for the watch tests and bench: an HLS stream encoded live from a sample clip.

:class:`LiveHls` decodes a few seconds of a clip once, then, in a thread, encodes one MPEG-TS segment
(H.264, PyAV) every ``segment_s`` seconds from those frames (looped), with presentation times that run
on from segment to segment as a camera's encoder does, and rewrites a sliding playlist; a
``http.server`` thread serves the folder. Faults on demand: :meth:`pause` (a stall), :meth:`restart`
(the media sequence and the presentation times start again at 0, with no discontinuity tag: a restarted
source; its program date-times, when written, go back ``back_s`` seconds),
:meth:`garbage` (the next segment is random bytes), :meth:`resize` (later segments at another size),
:meth:`down` (the server is gone for a while).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np

__all__ = ["LiveHls", "Published", "clip_frames", "write_clip"]


def clip_frames(clip: Path, n: int, fps: float, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """``n`` RGB frames of ``clip`` taken at ``fps`` (looped when the clip is shorter), resized to ``size`` when given."""
    out: list[np.ndarray] = []
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        next_t = 0.0
        for frame in c.decode(s):
            t = float(frame.time or 0.0)
            if t + 1e-6 >= next_t:
                img = frame.to_ndarray(format="rgb24")
                out.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA) if size is not None else img)
                next_t += 1.0 / fps
            if len(out) >= n:
                break
    while len(out) < n:
        out.extend(out[: n - len(out)])
    return out


def write_clip(frames: list[np.ndarray], path: Path, fps: int, gop: int) -> Path:
    """Encode RGB ``frames`` as an MP4 (H.264) at ``fps`` with a key frame every ``gop`` frames."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w") as out:
        s = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(gop), "keyint_min": str(gop), "bf": "0"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode())
    return path


@dataclass
class Published:
    """One published segment: its epoch (restarts), media sequence number, size, and whether it was garbage."""

    epoch: int
    seq: int
    size: tuple[int, int]
    garbage: bool
    duration: float


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@dataclass
class LiveHls:
    """A live HLS stream from ``clip``: ``size`` frames at ``fps``, ``segment_s`` segments, ``window`` in the playlist."""

    clip: Path
    folder: Path
    size: tuple[int, int] = (320, 180)
    fps: int = 10
    segment_s: float = 1.0
    window: int = 4
    program_date_time: bool = False
    frames: int = 40
    published: list[Published] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._source = clip_frames(self.clip, self.frames, self.fps, self.size)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused_until = 0.0
        self._garbage_next = False
        self._epoch, self._seq, self._frame = 0, 0, 0
        self._listed: list[tuple[str, float, datetime, int]] = []
        self._t0 = datetime.now(UTC).replace(tzinfo=None)
        self._clock_s = 0.0  # stream seconds for the program date-times
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._serve()
        self._thread = threading.Thread(target=self._run, name="live-hls", daemon=True)

    # -- serving -------------------------------------------------------------------------------
    def _serve(self) -> None:
        handler = functools.partial(_Quiet, directory=str(self.folder))
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="live-hls-http", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.m3u8"

    def start(self) -> LiveHls:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- faults --------------------------------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """No new segment for ``seconds`` (the playlist stays as it is)."""
        self._paused_until = time.monotonic() + seconds

    def garbage(self) -> None:
        self._garbage_next = True

    def resize(self, size: tuple[int, int]) -> None:
        with self._lock:
            self.size = size

    def restart(self, back_s: float = 0.0) -> None:
        """The source starts again: sequence 0, presentation times from 0, an empty playlist; its program
        date-times (when written) ``back_s`` seconds behind where they were."""
        with self._lock:
            self._clock_s -= back_s
            self._epoch += 1
            self._seq, self._frame = 0, 0
            self._listed = []

    def down(self, seconds: float) -> None:
        """The server is gone (connections refused) for ``seconds``; segments go on being written."""
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        time.sleep(seconds)
        self._serve()

    # -- writing -------------------------------------------------------------------------------
    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= self._paused_until:
                self._publish()
            next_at += self.segment_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _encode(self, first: int, n: int, size: tuple[int, int]) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, mode="w", format="mpegts") as out:
            s = out.add_stream("libx264", rate=self.fps, options={"preset": "ultrafast", "tune": "zerolatency", "g": str(n)})
            s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
            for i in range(first, first + n):
                img = self._source[i % len(self._source)]
                if (img.shape[1], img.shape[0]) != size:
                    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in s.encode(frame):
                    out.mux(packet)
            for packet in s.encode():
                out.mux(packet)
        return buf.getvalue()

    def _publish(self) -> None:
        with self._lock:
            n = round(self.fps * self.segment_s)
            epoch, seq, size = self._epoch, self._seq, self.size
            garbage, self._garbage_next = self._garbage_next, False
            data = random.Random(seq).randbytes(40_000) if garbage else self._encode(self._frame, n, size)
            name = f"e{epoch}-s{seq}.ts"
            (self.folder / name).write_bytes(data)
            made = self._t0 + timedelta(seconds=self._clock_s)
            self._clock_s += n / self.fps
            self._listed = [*self._listed, (name, n / self.fps, made, seq)][-self.window:]
            self._write_playlist()
            self.published.append(Published(epoch, seq, size, garbage, n / self.fps))
            self._seq, self._frame = seq + 1, self._frame + n

    def _write_playlist(self) -> None:
        first = self._listed[0][3]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(np.ceil(self.segment_s))}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for name, duration, made, _ in self._listed:
            if self.program_date_time:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{made.isoformat()}Z")
            lines += [f"#EXTINF:{duration:.3f},", name]
        tmp = self.folder / "live.m3u8.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / "live.m3u8")

    def __enter__(self) -> LiveHls:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
