"""GPS tracks of moving cameras: read GPX, NMEA or CSV, check them, and place each sampled frame by time.

A dashcam or bike camera records a clip; a GPS logger (or the camera itself) records a track of
(time, lat, lon) points. Each sampled frame at clip time ``t_s`` is taken at the UTC instant
``start_utc + t_s`` and gets the position linearly interpolated in lon/lat between the two track
points around it, and the heading of that segment (:func:`bearing_deg`). A frame before the
track's first point, after its last one, or between two points more than :data:`MAX_GAP_S`
seconds apart gets no position (NaN; stored NULL, so it counts for its camera but for no district or
H3 cell) and is counted (:class:`Placement`).

Readers (:func:`read_track`, format from the content):

- **GPX 1.0 / 1.1** ``<trkpt lat=".." lon=".."><time>..</time></trkpt>``, streamed with
  :func:`xml.etree.ElementTree.iterparse` (memory per point, not per file); a document type
  declaration (``<!DOCTYPE``, the only way to declare entities) is refused, so no entity is ever
  expanded. GPX times are UTC (a time with another offset is converted).
- **NMEA 0183** ``$..RMC`` (time, date, position; status ``V`` skipped) and ``$..GGA`` (time and
  position, dated by the last RMC before it): every sentence's checksum (XOR of the characters
  between ``$`` and ``*``) is checked; a bad or missing one is skipped and counted, and a file
  whose every sentence is bad is refused.
- **CSV** with columns ``time``, ``lat``, ``lon`` (``timestamp``/``latitude``/``longitude``/``lng``
  accepted): ISO times with a zone (``Z``, ``+02:00``); a time without a zone is UTC.

A file over :data:`MAX_TRACK_BYTES` (64 MiB: a day of 1 Hz GPX is about 3 MB) is refused with its
size before it is read. :func:`check_track` refuses, in one line naming the point, a track with
fewer than two points, a NaN or out-of-range coordinate, a time in the future or going backwards,
or a jump faster than :data:`MAX_SPEED_KMH` (haversine distance / time between the points).
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.records import ClipMeasurements

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_GAP_S",
    "MAX_SPEED_KMH",
    "MAX_TRACK_BYTES",
    "TRACK_FORMATS",
    "Placement",
    "Track",
    "bearing_deg",
    "camera_zone",
    "check_track",
    "clip_span_problem",
    "haversine_m",
    "local_times",
    "local_to_utc",
    "place_measurements",
    "positions_at",
    "read_track",
    "utc_to_local",
    "zone",
]

MAX_GAP_S = 30.0
"""Longest time between two track points that a frame between them is interpolated over."""
MAX_SPEED_KMH = 200.0
"""Fastest plausible speed between two track points; a faster jump is a GPS error and refused."""
MAX_TRACK_BYTES = 64 * 1024 * 1024
"""Largest track file read (64 MiB)."""
EARTH_RADIUS_M = 6_371_008.8
"""Mean earth radius (IUGG), metres."""
TRACK_FORMATS = ("gpx", "nmea", "csv")
_FUTURE_SLACK_S = 300.0
_PROLOG_BYTES = 1 << 20
"""A GPX file's root element must start within its first MiB (a DOCTYPE, which must come before it, is looked for there)."""


@dataclass(frozen=True)
class Track:
    """Track points in time order: ``t`` UTC seconds since 1970, ``lon``, ``lat`` degrees; ``n_bad`` sentences skipped."""

    t: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    fmt: str
    n_bad: int = 0

    @property
    def n(self) -> int:
        return int(self.t.shape[0])

    @property
    def span(self) -> tuple[datetime, datetime]:
        """First and last point as UTC datetimes."""
        return _utc(float(self.t[0])), _utc(float(self.t[-1]))


@dataclass(frozen=True)
class Placement:
    """How many sampled frames got a position from the track, and why the others did not."""

    placed: int
    outside: int
    in_gap: int

    def note(self) -> str:
        """One line for the ingest output.

        >>> Placement(10, 2, 1).note()
        '10 frames placed by the track; 2 outside its span, 1 in a gap over 30 s: stored without a position (counted for the camera, not for a district)'
        """
        text = f"{self.placed} frame{'' if self.placed == 1 else 's'} placed by the track"
        if self.outside or self.in_gap:
            text += (f"; {self.outside} outside its span, {self.in_gap} in a gap over {MAX_GAP_S:g} s: stored without a position "
                     "(counted for the camera, not for a district)")
        return text


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Zurich``); :class:`InputError` for an unknown one."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"time zone {quote_value(name)} is unknown; expected an IANA name such as Europe/Zurich or UTC") from None


def camera_zone(camera: dict[str, object], city_zone: str) -> str:
    """The time zone of a camera's clips: its own ``timezone`` column when set, else the city's.

    >>> camera_zone({"timezone": None}, "Europe/Zurich"), camera_zone({"timezone": "Europe/London"}, "Europe/Zurich")
    ('Europe/Zurich', 'Europe/London')
    """
    own = camera.get("timezone")
    return str(own) if isinstance(own, str) and own.strip() else city_zone


def local_to_utc(local: datetime, tz: str) -> datetime:
    """A naive local wall-clock time in zone ``tz`` as a naive UTC time (an ambiguous time takes its first occurrence).

    >>> local_to_utc(datetime(2026, 3, 29, 3, 30), "Europe/Zurich")  # summer time began at 02:00 local
    datetime.datetime(2026, 3, 29, 1, 30)
    """
    aware = local.replace(tzinfo=zone(tz)) if local.tzinfo is None else local
    return aware.astimezone(UTC).replace(tzinfo=None)


def utc_to_local(utc: datetime, tz: str) -> datetime:
    """A UTC time (naive or aware) as naive local wall-clock time in zone ``tz``.

    >>> utc_to_local(datetime(2026, 3, 29, 0, 59), "Europe/Zurich"), utc_to_local(datetime(2026, 3, 29, 1, 1), "Europe/Zurich")
    (datetime.datetime(2026, 3, 29, 1, 59), datetime.datetime(2026, 3, 29, 3, 1))
    """
    aware = utc.replace(tzinfo=UTC) if utc.tzinfo is None else utc
    return aware.astimezone(zone(tz)).replace(tzinfo=None)


def local_times(start: datetime, t_s: np.ndarray, tz: str | None) -> np.ndarray:
    """Local wall-clock time (``datetime64[us]``) of each instant ``t_s`` seconds after a clip's start:
    ``ts_i = local(utc(start) + t_i)`` in zone ``tz`` (:func:`local_to_utc`, then back), so the frames of a clip that
    runs through a daylight-saving change follow the clocks. ``tz`` None or ``UTC``: ``start + t_i``.

    A start inside the hour the clocks go back (autumn) is ambiguous and read as its first occurrence (summer time);
    frames after the change then repeat that hour of wall-clock time, as the clocks did.

    >>> [str(t) for t in local_times(datetime(2026, 3, 29, 1, 59, 30), np.array([0.0, 60.0]), "Europe/Zurich")]
    ['2026-03-29T01:59:30.000000', '2026-03-29T03:00:30.000000']
    >>> [str(t) for t in local_times(datetime(2026, 10, 25, 2, 59, 30), np.array([0.0, 60.0]), "Europe/Zurich")]
    ['2026-10-25T02:59:30.000000', '2026-10-25T02:00:30.000000']
    """
    offsets = np.round(np.asarray(t_s, dtype=np.float64) * 1e6).astype("timedelta64[us]")
    if tz is None or tz == "UTC":
        return np.asarray(pd.Timestamp(start).as_unit("us").to_datetime64() + offsets)
    utc0 = pd.Timestamp(local_to_utc(start, tz)).as_unit("us").to_datetime64()
    instants = pd.DatetimeIndex(utc0 + offsets).tz_localize("UTC")
    return np.asarray(instants.tz_convert(zone(tz)).tz_localize(None).as_unit("us").to_numpy())


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres: ``2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))``, R = 6371 km.

    >>> round(float(haversine_m(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]))[0]))
    111195
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def bearing_deg(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360):
    ``θ = atan2(sin Δλ cos φ2, cos φ1 sin φ2 − sin φ1 cos φ2 cos Δλ)``; NaN where the points coincide.

    >>> bearing_deg(np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0])).tolist()
    [0.0, 90.0]
    """
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    out = np.degrees(np.arctan2(y, x)) % 360.0
    return np.where((lon1 == lon2) & (lat1 == lat2), np.nan, out)


# -- readers ------------------------------------------------------------------------------------


def read_track(source: str | Path | bytes, fmt: str | None = None) -> Track:
    """A track file (or its bytes) read as GPX, NMEA or CSV (``fmt``, or told from the content), then :func:`check_track`-ed
    for everything but the clock (pass ``now`` to :func:`check_track` for that)."""
    if fmt is not None and fmt not in TRACK_FORMATS:
        raise InputError(f"track format {quote_value(fmt)}; expected one of {', '.join(TRACK_FORMATS)}")
    if isinstance(source, bytes):
        if len(source) > MAX_TRACK_BYTES:
            raise InputError(f"track of {len(source):,} bytes is over the limit of {MAX_TRACK_BYTES:,} bytes")
        return _read(io.BytesIO(source), fmt, "track")
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"track file {quote_value(str(path))} does not exist")
    size = path.stat().st_size
    if size > MAX_TRACK_BYTES:
        raise InputError(f"track file {path.name!r} has {size:,} bytes ({size / 2**20:,.0f} MiB), over the limit of "
                         f"{MAX_TRACK_BYTES / 2**20:.0f} MiB; split it by day")
    with path.open("rb") as f:
        return _read(f, fmt, f"track file {path.name!r}")


def _read(f: IO[bytes], fmt: str | None, what: str) -> Track:
    head = f.read(4096)
    f.seek(0)
    kind = fmt or _sniff(head)
    if kind == "gpx":
        rows, bad = list(_gpx_points(f, what)), 0
    elif kind == "nmea":
        rows, bad = _nmea_points(f, what)
    else:
        rows, bad = _csv_points(f, what), 0
    return check_track(_track(rows, kind, bad, what), what=what)


def _sniff(head: bytes) -> str:
    """``gpx`` for XML, ``nmea`` for a file whose first non-blank character is ``$``, else ``csv``.

    >>> _sniff(b"<?xml version='1.0'?><gpx>"), _sniff(b"\\n$GPRMC,"), _sniff(b"time,lat,lon")
    ('gpx', 'nmea', 'csv')
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return "gpx"
    return "nmea" if text.startswith(b"$") else "csv"


def _track(rows: list[tuple[float, float, float]], fmt: str, bad: int, what: str) -> Track:
    if not rows:
        raise DataFormatError(f"{what}: no track points with a time and a position found ({fmt})")
    arr = np.asarray(rows, dtype=np.float64)
    return Track(arr[:, 0], arr[:, 1], arr[:, 2], fmt, bad)


def _parse_time(text: str, what: str) -> float:
    """ISO time as UTC seconds; without a zone it is UTC."""
    raw = text.strip()
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DataFormatError(f"{what}: time {quote_value(raw)} is not an ISO time such as 2026-03-29T08:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _number(text: str | None, what: str) -> float:
    try:
        return float(str(text).strip())
    except ValueError:
        raise DataFormatError(f"{what}: {quote_value(text)} is not a number") from None


def _gpx_points(f: IO[bytes], what: str) -> Iterator[tuple[float, float, float]]:
    """(t, lon, lat) of every ``trkpt`` (GPX 1.0 and 1.1 namespaces, or none); streamed, elements cleared as read."""
    head = f.read(_PROLOG_BYTES).upper()
    f.seek(0)
    root = re.search(rb"<([A-Z_][\w.-]*:)?GPX[\s>/]", head)
    prolog = head[: root.start()] if root else head
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise DataFormatError(f"{what}: a document type declaration (<!DOCTYPE/<!ENTITY) is not accepted in GPX")
    if root is None:
        raise DataFormatError(f"{what}: no <gpx> element in the first {_PROLOG_BYTES:,} bytes; expected a GPX 1.0 or 1.1 file")
    n = 0
    try:
        for _event, elem in ET.iterparse(f, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "trkpt":
                n += 1
                when = next((c.text for c in elem if c.tag.rsplit("}", 1)[-1] == "time"), None)
                if when is None or not when.strip():
                    raise DataFormatError(f"{what}: track point {n} has no <time>; a track needs times to place frames")
                point = f"track point {n}"
                yield (_parse_time(when, f"{what}, {point}"), _number(elem.get("lon"), f"{what}, {point} lon"),
                       _number(elem.get("lat"), f"{what}, {point} lat"))
                elem.clear()
            elif tag in ("trkseg", "trk"):
                elem.clear()
    except (ET.ParseError, LookupError, UnicodeError, ValueError) as exc:  # LookupError: an unknown declared encoding
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{what}: malformed XML ({quote_value(str(exc), 120)}); expected a GPX 1.0 or 1.1 file") from None


_NMEA = re.compile(r"^\$([A-Z]{2})(RMC|GGA),([^*]*)\*([0-9A-Fa-f]{2})\s*$")


def _nmea_checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``.

    >>> f"{_nmea_checksum('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'):02X}"
    '47'
    """
    out = 0
    for ch in body:
        out ^= ord(ch)
    return out


def _nmea_coord(value: str, hemi: str, degrees: int) -> float:
    """``ddmm.mmmm`` (or ``dddmm.mmmm``) and N/S/E/W as signed degrees."""
    if len(value) < degrees + 2 or hemi not in "NSEW" or not hemi:
        raise ValueError(value)
    deg = float(value[:degrees]) + float(value[degrees:]) / 60.0
    return -deg if hemi in "SW" else deg


def _nmea_line(line: str, day: datetime | None) -> tuple[tuple[float, float, float] | None, datetime | None]:
    """One sentence as ((t, lon, lat) or None, the date it sets); ValueError where it cannot be read."""
    m = _NMEA.match(line)
    if m is None or int(m.group(4), 16) != _nmea_checksum(line[1: line.index("*")]):
        raise ValueError(line)
    kind, f = m.group(2), m.group(3).split(",")
    if kind == "RMC":
        if len(f) < 9 or f[1] != "A":
            return None, day
        day = datetime.strptime(f[8], "%d%m%y").replace(tzinfo=UTC)
        lat, lon = _nmea_coord(f[2], f[3], 2), _nmea_coord(f[4], f[5], 3)
    else:
        if len(f) < 6 or f[5] in ("", "0") or day is None:
            return None, day
        lat, lon = _nmea_coord(f[1], f[2], 2), _nmea_coord(f[3], f[4], 3)
    hms = f[0]
    secs = int(hms[0:2]) * 3600 + int(hms[2:4]) * 60 + float(hms[4:])
    if len(hms) < 6 or not 0 <= secs < 86401:
        raise ValueError(hms)
    return ((day + timedelta(seconds=secs)).timestamp(), lon, lat), day


def _nmea_points(f: IO[bytes], what: str) -> tuple[list[tuple[float, float, float]], int]:
    """(t, lon, lat) of RMC and GGA sentences (one per time), and the count of sentences skipped as unreadable."""
    rows: dict[float, tuple[float, float, float]] = {}
    bad = total = 0
    day: datetime | None = None
    for raw in f:
        line = raw.decode("ascii", "replace").strip()
        if not line.startswith("$"):
            continue
        total += 1
        try:
            row, day = _nmea_line(line, day)
        except (ValueError, IndexError, OverflowError):
            bad += 1
            continue
        if row is not None:
            rows.setdefault(row[0], row)
    if total and bad == total:
        raise DataFormatError(f"{what}: all {total:,} NMEA sentences have a bad checksum or cannot be read; expected RMC or GGA "
                              "sentences ending in *hh, the XOR of the characters between $ and *")
    if not rows and total:
        raise DataFormatError(f"{what}: no dated RMC/GGA fix among {total:,} NMEA sentences (GGA needs an RMC before it for the date)")
    return sorted(rows.values()), bad


_CSV_NAMES = {"time": ("time", "timestamp", "datetime"), "lat": ("lat", "latitude"), "lon": ("lon", "lng", "longitude")}


def _csv_points(f: IO[bytes], what: str) -> list[tuple[float, float, float]]:
    text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="")
    try:
        return _csv_rows(csv.reader(text), what)
    except csv.Error as exc:
        raise DataFormatError(f"{what}: CSV cannot be read ({quote_value(str(exc), 120)})") from None
    finally:
        text.detach()  # the caller closes the file


def _csv_rows(reader: Iterator[list[str]], what: str) -> list[tuple[float, float, float]]:
    header = [h.strip().lower() for h in next(reader, [])]
    cols = {k: next((header.index(a) for a in names if a in header), -1) for k, names in _CSV_NAMES.items()}
    if min(cols.values()) < 0:
        raise DataFormatError(f"{what}: CSV header {quote_value(','.join(header))}; expected columns time, lat, lon")
    rows = []
    for i, rec in enumerate(reader, start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) <= max(cols.values()):
            raise DataFormatError(f"{what}: CSV row {i} has {len(rec)} fields; expected time, lat, lon")
        at = f"{what}, CSV row {i}"
        rows.append((_parse_time(rec[cols["time"]], at), _number(rec[cols["lon"]], at), _number(rec[cols["lat"]], at)))
    return rows


# -- checks -------------------------------------------------------------------------------------


def check_track(track: Track, now: datetime | None = None, *, what: str = "track") -> Track:
    """``track`` with repeated times dropped (the first kept), or :class:`DataFormatError` naming the first bad point:
    fewer than two points, a coordinate NaN or outside lon [-180, 180] / lat [-90, 90], a time going backwards,
    a time after ``now`` (UTC; None: not checked), a jump faster than :data:`MAX_SPEED_KMH`
    (``haversine distance / Δt``)."""
    t, lon, lat = track.t, track.lon, track.lat
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90) & np.isfinite(t))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(f"{what}: point {i + 1} has lon {quote_value(lon[i])}, lat {quote_value(lat[i])}; "
                              "expected finite lon in [-180, 180] and lat in [-90, 90]")
    back = np.diff(t) < 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise DataFormatError(f"{what}: point {i + 1} at {_utc(t[i]):%Y-%m-%d %H:%M:%S} UTC is before the point ahead of it; "
                              "expected times in order")
    keep = np.r_[True, np.diff(t) > 0]
    track = replace(track, t=t[keep], lon=lon[keep], lat=lat[keep])
    if track.n < 2:
        raise DataFormatError(f"{what}: only {track.n} point{'' if track.n == 1 else 's'}; a track needs at least two points "
                              "at different times to place frames")
    if now is not None:
        late = track.t > now.replace(tzinfo=UTC).timestamp() + _FUTURE_SLACK_S
        if late.any():
            i = int(np.argmax(late))
            raise DataFormatError(f"{what}: point {i + 1} at {_utc(track.t[i]):%Y-%m-%d %H:%M:%S} UTC is in the future")
    dist = haversine_m(track.lon[:-1], track.lat[:-1], track.lon[1:], track.lat[1:])
    kmh = dist / np.diff(track.t) * 3.6
    fast = kmh > MAX_SPEED_KMH
    if fast.any():
        i = int(np.argmax(fast)) + 1
        raise DataFormatError(f"{what}: point {i + 1} ({track.lat[i]:.6f}, {track.lon[i]:.6f}) is reached at {kmh[i - 1]:,.0f} km/h; "
                              f"a jump faster than {MAX_SPEED_KMH:g} km/h is a GPS error")
    return track


def clip_span_problem(track: Track, start_utc: datetime, duration_s: float) -> str | None:
    """Why a clip of ``duration_s`` from ``start_utc`` (naive UTC) cannot be placed by ``track`` (None when their spans overlap)."""
    t0 = start_utc.replace(tzinfo=UTC).timestamp()
    if t0 <= track.t[-1] and t0 + duration_s >= track.t[0]:
        return None
    a, b = track.span
    c1 = start_utc + timedelta(seconds=duration_s)
    return (f"the track runs {a:%Y-%m-%d %H:%M:%S}–{b:%Y-%m-%d %H:%M:%S} UTC but the clip {start_utc:%Y-%m-%d %H:%M:%S}–"
            f"{c1:%Y-%m-%d %H:%M:%S} UTC; give the clip's --start (or the track of its day)")


# -- placing frames -----------------------------------------------------------------------------


def positions_at(track: Track, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, Placement]:
    """(lon, lat, heading, placement) of instants ``t`` (UTC seconds): for ``t_i <= t <= t_{i+1}`` with
    ``t_{i+1} - t_i <= MAX_GAP_S`` (or ``t`` at a track point), ``p = p_i + (t - t_i) / (t_{i+1} - t_i) · (p_{i+1} - p_i)`` in lon and lat and the heading
    :func:`bearing_deg` of that segment (of the last moving one where the camera stands still); NaN elsewhere.

    >>> tr = Track(np.array([0.0, 10.0, 100.0]), np.array([8.0, 8.001, 8.002]), np.array([47.0, 47.0, 47.0]), "csv")
    >>> lon, lat, head, p = positions_at(tr, np.array([-1.0, 5.0, 50.0]))
    >>> lon.round(5).tolist()[1:2], head.round(1).tolist()[1:2], p
    ([8.0005], [90.0], Placement(placed=1, outside=1, in_gap=1))
    """
    t = np.asarray(t, dtype=np.float64)
    i = np.clip(np.searchsorted(track.t, t, side="right") - 1, 0, track.n - 2)
    t0, t1 = track.t[i], track.t[i + 1]
    outside = (t < track.t[0]) | (t > track.t[-1]) | ~np.isfinite(t)
    long_gap = t1 - t0 > MAX_GAP_S
    gap = ~outside & long_gap & (t != t0) & (t != t1)  # a frame at a track point has that point's position
    ok = ~outside & ~gap
    w = np.where(ok, (t - t0) / (t1 - t0), np.nan)
    lon = track.lon[i] + w * (track.lon[i + 1] - track.lon[i])
    lat = track.lat[i] + w * (track.lat[i + 1] - track.lat[i])
    head = np.where(ok, _segment_headings(track)[i], np.nan)
    return lon, lat, head, Placement(int(ok.sum()), int(outside.sum()), int(gap.sum()))


def _segment_headings(track: Track) -> np.ndarray:
    """Heading of each segment between track points (:func:`bearing_deg`); a segment where the camera stands still or
    that spans a gap over :data:`MAX_GAP_S` takes the heading of the last moving segment before it (else the next one).

    >>> tr = Track(np.array([0.0, 1, 2, 3]), np.array([8.0, 8.0, 8.0, 8.001]), np.array([47.0, 47.001, 47.001, 47.001]), "csv")
    >>> _segment_headings(tr).round(1).tolist()
    [0.0, 0.0, 90.0]
    """
    seg = bearing_deg(track.lon[:-1], track.lat[:-1], track.lon[1:], track.lat[1:])
    seg = np.where(np.diff(track.t) > MAX_GAP_S, np.nan, seg)
    filled = pd.Series(seg).ffill().bfill()
    return filled.to_numpy(dtype=np.float64, na_value=np.nan)


def place_measurements(m: ClipMeasurements, track: Track, tz: str) -> tuple[ClipMeasurements, Placement]:
    """``m`` with ``lon``, ``lat`` and ``heading`` of each sampled frame from ``track``; the clip's start is local time in ``tz``.

    Refused (:class:`InputError`, both spans named) when the clip and the track do not overlap in time.
    """
    start_utc = local_to_utc(m.clip.start_time, tz)
    problem = clip_span_problem(track, start_utc, max(m.clip.duration_s, float(m.t_s[-1])))
    if problem:
        raise InputError(f"clip {m.clip.label or m.clip.sha256[:12]}: {problem}")
    lon, lat, head, placement = positions_at(track, start_utc.replace(tzinfo=UTC).timestamp() + m.t_s)
    return replace(m, lon=lon, lat=lat, heading=head), placement
