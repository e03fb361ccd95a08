"""Live stream sources: HLS playlists read segment by segment, and RTSP, HTTP and local sources through PyAV/FFmpeg.

Two ways in, chosen by :func:`parse_source` from the address:

- **HLS** (``http(s)://...m3u8``): :class:`HlsFollower` reads the playlist itself (``urllib`` with a
  timeout), parses ``EXT-X-MEDIA-SEQUENCE``, ``EXTINF``, ``EXT-X-PROGRAM-DATE-TIME``,
  ``EXT-X-DISCONTINUITY`` and ``EXT-X-ENDLIST`` (:func:`parse_playlist`) and downloads each new
  segment once. It remembers the last media sequence number it read, across reconnects, so a
  reconnect never reads a segment twice; a playlist whose sequence goes back (a restarted source)
  raises a ``restart`` :class:`StreamFault`. FFmpeg's own HLS demuxer is not used because it
  re-reads the last segments after a reconnect and hides restarts.
- **Everything else** (``rtsp://`` over TCP with a socket timeout, ``http(s)://`` MJPEG/MP4/TS, a
  local file or device): :func:`open_av` opens it with PyAV, with open and read timeouts.

Credentials in an address (``user:pass@``) are never printed or stored: :func:`redact`.
"""

from __future__ import annotations

import io
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from analytics.errors import InputError, quote_value

__all__ = [
    "SCHEMES", "FetchedSegment", "HlsFollower", "Playlist", "PlaylistSegment", "StreamFault", "StreamSource", "open_av",
    "parse_playlist", "parse_source", "probe_segment", "redact",
]

SCHEMES = ("rtsp", "rtsps", "http", "https", "file")
"""Address schemes a watch reads (a path without a scheme is a local file or device)."""
FAULT_KINDS = ("stall", "end", "http", "restart", "garbage", "open")
"""What a :class:`StreamFault` says went wrong."""
MAX_PLAYLIST_BYTES = 1 << 20
MAX_SEGMENT_BYTES = 256 << 20


class StreamFault(Exception):
    """The stream cannot go on as it is: ``kind`` is one of :data:`FAULT_KINDS`; the watcher reconnects."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def redact(url: str) -> str:
    """The address with any user name and password replaced by ``***``.

    >>> redact("rtsp://admin:secret@10.0.0.5:554/live"), redact("https://x.org/a.m3u8?t=1")
    ('rtsp://***@10.0.0.5:554/live', 'https://x.org/a.m3u8?t=1')
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class StreamSource:
    """A checked address: ``kind`` ``hls`` (read by :class:`HlsFollower`), ``av`` (a network stream opened by
    PyAV), ``file`` (a local file, read at its own pace) or ``device`` (a local capture device)."""

    url: str
    kind: str

    @property
    def shown(self) -> str:
        """The address as it may be printed and stored (credentials removed)."""
        return redact(self.url)


def parse_source(url: str) -> StreamSource:
    """Check an address before anything starts: a known scheme, a host for network ones, an existing local path.

    >>> parse_source("https://cam.example.org/live/index.m3u8").kind, parse_source("rtsp://u:p@cam/1").shown
    ('hls', 'rtsp://***@cam/1')
    >>> parse_source("ftp://cam/x")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: stream address 'ftp://cam/x' has scheme 'ftp'; expected rtsp, rtsps, http, https, file or a local path
    """
    if not isinstance(url, str) or not url.strip():
        raise InputError("a stream address is needed (--url rtsp://..., https://.../index.m3u8, or a local path)")
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if len(scheme) > 1 and scheme not in SCHEMES:
        raise InputError(f"stream address {quote_value(redact(url), 120)} has scheme {scheme!r}; expected "
                         f"{', '.join(SCHEMES)} or a local path")
    if scheme in ("rtsp", "rtsps", "http", "https"):
        if not parts.hostname:
            raise InputError(f"stream address {quote_value(redact(url), 120)} has no host")
        is_hls = scheme.startswith("http") and parts.path.lower().endswith(".m3u8")
        return StreamSource(url, "hls" if is_hls else "av")
    path = Path(parts.path if scheme == "file" else url).expanduser()
    if not path.exists():
        raise InputError(f"stream source {quote_value(str(path), 200)} does not exist (a local file or device path)")
    return StreamSource(str(path), "device" if str(path).startswith("/dev/") else "file")


# -- HLS playlists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaylistSegment:
    """One media segment of a playlist: its media sequence number, address, length (``EXTINF``), program
    date-time (UTC, naive; None when the playlist gives none) and whether a discontinuity comes before it."""

    seq: int
    uri: str
    duration: float
    pdt: datetime | None = None
    discontinuity: bool = False


@dataclass(frozen=True)
class Playlist:
    """A parsed playlist: its media segments, or (a master playlist) the addresses of its variants."""

    media_sequence: int
    target_duration: float
    segments: tuple[PlaylistSegment, ...] = ()
    ended: bool = False
    variants: tuple[str, ...] = ()


def _pdt(text: str) -> datetime | None:
    """``EXT-X-PROGRAM-DATE-TIME`` as a naive UTC datetime (None when unreadable)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def parse_playlist(text: str, base: str) -> Playlist:
    """Parse an M3U8 playlist; segment addresses are resolved against ``base``. A program date-time
    carries on to the following segments by their ``EXTINF`` lengths (RFC 8216, 4.3.2.6).

    >>> p = parse_playlist("#EXTM3U\\n#EXT-X-TARGETDURATION:2\\n#EXT-X-MEDIA-SEQUENCE:7\\n"
    ...     "#EXT-X-PROGRAM-DATE-TIME:2026-05-04T08:00:00Z\\n#EXTINF:2.0,\\ns7.ts\\n#EXT-X-DISCONTINUITY\\n#EXTINF:1.5,\\ns8.ts\\n",
    ...     "http://h/live/index.m3u8")
    >>> [(s.seq, s.uri.rsplit("/", 1)[1], s.duration, s.pdt.second, s.discontinuity) for s in p.segments], p.ended
    ([(7, 's7.ts', 2.0, 0, False), (8, 's8.ts', 1.5, 2, True)], False)
    """
    if not text.lstrip("\ufeff").startswith("#EXTM3U"):
        raise StreamFault("garbage", "the playlist does not start with #EXTM3U")
    seq, target, ended = 0, 0.0, False
    segments: list[PlaylistSegment] = []
    variants: list[str] = []
    duration: float | None = None
    pdt: datetime | None = None
    disc, variant_next = False, False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-MEDIA-SEQUENCE":
            seq = int(value)
        elif tag == "#EXT-X-TARGETDURATION":
            target = float(value)
        elif tag == "#EXTINF":
            duration = float(value.split(",")[0])
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            pdt = _pdt(value)
        elif tag == "#EXT-X-DISCONTINUITY":
            disc = True
        elif tag == "#EXT-X-ENDLIST":
            ended = True
        elif tag == "#EXT-X-STREAM-INF":
            variant_next = True
        elif not line.startswith("#"):
            if variant_next:
                variants.append(urljoin(base, line))
                variant_next = False
            elif duration is not None:
                segments.append(PlaylistSegment(seq + len(segments), urljoin(base, line), duration, pdt, disc))
                pdt = pdt + timedelta(seconds=duration) if pdt is not None else None
                duration, disc = None, False
    return Playlist(seq, target, tuple(segments), ended, tuple(variants))


@dataclass(frozen=True)
class FetchedSegment:
    """A segment's bytes as downloaded, with ``received`` (UTC, naive) and ``behind_s``: the length of the
    playlist from this segment's start to its end when it was read (the segment began about that long
    before ``received``)."""

    seg: PlaylistSegment
    data: bytes
    received: datetime
    behind_s: float


def _get(url: str, timeout_s: float, limit: int) -> bytes:
    """GET ``url`` (timeout per socket operation); a :class:`StreamFault` ``http`` for an HTTP or network error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (the scheme was checked)
            data = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise StreamFault("http", f"HTTP {exc.code} for {redact(url)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise StreamFault("http", f"cannot read {redact(url)}: {reason}") from None
    if len(data) > limit:
        raise StreamFault("garbage", f"{redact(url)} is larger than {limit >> 20} MiB")
    return bytes(data)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class HlsFollower:
    """Follows a live HLS playlist, yielding each new segment once (:meth:`segments`).

    ``last_seq`` (the last media sequence number read) lives as long as the follower, so a reconnect
    (another call of :meth:`segments` after a fault) goes on after it. Faults raised from
    :meth:`segments`: ``stall`` (no new segment for ``stall_s``), ``end`` (``EXT-X-ENDLIST`` and all
    read), ``http``, ``garbage`` (not a playlist) and ``restart`` (the playlist's sequence went back
    below ``last_seq``; the follower then starts again from that playlist's first segment).
    """

    url: str
    stall_s: float = 10.0
    timeout_s: float = 10.0
    last_seq: int | None = None
    stopped: Callable[[], bool] = field(default=lambda: False)
    _media_url: str | None = None

    def _playlist(self) -> Playlist:
        url = self._media_url or self.url
        text = _get(url, self.timeout_s, MAX_PLAYLIST_BYTES).decode("utf-8", "replace")
        playlist = parse_playlist(text, url)
        if playlist.variants and not playlist.segments:  # a master playlist: its first variant
            self._media_url = playlist.variants[0]
            return self._playlist()
        return playlist

    def new_segments(self, playlist: Playlist) -> list[PlaylistSegment]:
        """The playlist's segments after ``last_seq``; a ``restart`` fault when its sequence went back below it."""
        segs = playlist.segments
        if self.last_seq is not None and segs and segs[-1].seq < self.last_seq:
            first = segs[0].seq
            self.last_seq = first - 1
            raise StreamFault("restart", f"the source restarted: media sequence went back to {first}")
        return [s for s in segs if self.last_seq is None or s.seq > self.last_seq]

    def segments(self) -> Iterator[FetchedSegment]:
        """New segments in order, each downloaded once, until a fault (raised) or ``stopped()``."""
        last_new = time.monotonic()
        while not self.stopped():
            playlist = self._playlist()
            new = self.new_segments(playlist)
            received = _utcnow()
            for i, seg in enumerate(new):
                if self.stopped():
                    return
                data = _get(seg.uri, self.timeout_s, MAX_SEGMENT_BYTES)
                self.last_seq = seg.seq
                yield FetchedSegment(seg, data, received, sum(s.duration for s in new[i:]))
                last_new = time.monotonic()
            if playlist.ended:
                raise StreamFault("end", "the playlist ended (EXT-X-ENDLIST)")
            if time.monotonic() - last_new > self.stall_s:
                raise StreamFault("stall", f"no new segment for {self.stall_s:g} s")
            _pause(max(0.2, min(playlist.target_duration / 2 or 1.0, 2.0)), self.stopped)


def _pause(seconds: float, stopped: Callable[[], bool]) -> None:
    """Sleep up to ``seconds``, waking early when ``stopped()``."""
    end = time.monotonic() + seconds
    while not stopped() and time.monotonic() < end:
        time.sleep(min(0.1, end - time.monotonic()))


def probe_segment(data: bytes) -> tuple[int, int] | None:
    """Frame size (width, height) of a media segment's video, or None when it holds no readable video."""
    import av  # deferred: PyAV loads FFmpeg, which the playlist code does not need

    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.video:
                return None
            cc = container.streams.video[0].codec_context
            w, h = int(cc.width or 0), int(cc.height or 0)
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    return (w, h) if w > 0 and h > 0 else None


# -- PyAV sources --------------------------------------------------------------------------------------

_RTSP = re.compile(r"^rtsps?://", re.IGNORECASE)


def open_av(source: StreamSource, timeout_s: float) -> Any:
    """Open an ``av``, ``file`` or ``device`` source with PyAV: RTSP over TCP with a socket timeout; network
    sources with open and read timeouts of ``timeout_s``. A :class:`StreamFault` ``open`` when it cannot be opened."""
    import av  # deferred: as in probe_segment

    options: dict[str, str] = {}
    fmt = None
    if _RTSP.match(source.url):
        options = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1e6))}
    elif source.kind == "av":
        options = {"rw_timeout": str(int(timeout_s * 1e6))}
    elif source.kind == "device":
        fmt = "v4l2"
    try:
        return av.open(source.url, mode="r", format=fmt, options=options, timeout=(timeout_s, timeout_s), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        text = getattr(exc, "strerror", None) or str(exc)
        raise StreamFault("open", f"cannot open {source.shown}: {str(text).replace(source.url, source.shown)}") from None
