"""GPS tracks: GPX, NMEA and CSV read to the same points, implausible tracks refused, frames placed by time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.errors import DataFormatError, InputError
from analytics.footage.video import ClipStart, clip_start
from analytics.gpstrack import (
    MAX_GAP_S,
    MAX_TRACK_BYTES,
    Track,
    check_track,
    haversine_m,
    local_times,
    local_to_utc,
    place_measurements,
    positions_at,
    read_track,
    utc_to_local,
)
from analytics.store.parquet import read_clip, write_clip
from tests.helpers import ROAD, VEG, clip_from_pixels, store_with_cameras

T0 = datetime(2026, 3, 29, 0, 59, 50, tzinfo=UTC)  # 10 s before summer time starts in Zurich (02:00 -> 03:00 local)
POINTS = [(0, 8.5400, 47.3700), (10, 8.5410, 47.3700), (20, 8.5420, 47.3702), (30, 8.5430, 47.3704)]


def gpx(points: list[tuple[float, float, float]] = POINTS, version: str = "1.1", times: bool = True) -> bytes:
    ns = "http://www.topografix.com/GPX/1/1" if version == "1.1" else "http://www.topografix.com/GPX/1/0"
    pts = "".join(
        f'<trkpt lat="{lat}" lon="{lon}"><ele>400</ele>'
        + (f"<time>{(T0 + timedelta(seconds=s)).strftime('%Y-%m-%dT%H:%M:%SZ')}</time>" if times else "")
        + "</trkpt>"
        for s, lon, lat in points
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><gpx version="{version}" creator="t" xmlns="{ns}">'
            f"<trk><name>drive</name><trkseg>{pts}</trkseg></trk></gpx>").encode()


def _nmea_sentence(body: str) -> str:
    x = 0
    for ch in body:
        x ^= ord(ch)
    return f"${body}*{x:02X}"


def _ddmm(value: float, width: int) -> str:
    d = int(abs(value))
    return f"{d:0{width}d}{(abs(value) - d) * 60:07.4f}"


def nmea(points: list[tuple[float, float, float]] = POINTS) -> bytes:
    lines = []
    for s, lon, lat in points:
        t = T0 + timedelta(seconds=s)
        hms, dmy = t.strftime("%H%M%S.00"), t.strftime("%d%m%y")
        lines.append(_nmea_sentence(f"GPRMC,{hms},A,{_ddmm(lat, 2)},N,{_ddmm(lon, 3)},E,10.0,90.0,{dmy},,"))
        lines.append(_nmea_sentence(f"GPGGA,{hms},{_ddmm(lat, 2)},N,{_ddmm(lon, 3)},E,1,08,0.9,400.0,M,46.9,M,,"))
    return ("\r\n".join(lines) + "\r\n").encode()


def csv_track(points: list[tuple[float, float, float]] = POINTS) -> bytes:
    rows = [f"{(T0 + timedelta(seconds=s)).isoformat()},{lat},{lon}" for s, lon, lat in points]
    return ("time,lat,lon\n" + "\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("data", [gpx(), gpx(version="1.0"), nmea(), csv_track()], ids=["gpx11", "gpx10", "nmea", "csv"])
def test_every_format_reads_the_same_points(data: bytes) -> None:
    track = read_track(data)
    assert track.n == 4
    assert track.t[0] == T0.timestamp() and np.allclose(np.diff(track.t), 10)
    assert np.allclose(track.lon, [p[1] for p in POINTS], atol=1e-6) and np.allclose(track.lat, [p[2] for p in POINTS], atol=1e-6)


def test_nmea_bad_checksums_are_skipped_and_counted_all_bad_refused() -> None:
    lines = nmea().decode().splitlines()
    lines[2] = lines[2][:-2] + ("00" if not lines[2].endswith("00") else "01")  # the second RMC's checksum broken
    track = read_track("\n".join(lines).encode())
    assert track.n_bad == 1 and track.n == 4  # the GGA of the same second still places it
    all_bad = "\n".join(line[:-2] + "ZZ" for line in lines).encode()
    with pytest.raises(DataFormatError, match="all 8 NMEA sentences have a bad checksum"):
        read_track(all_bad)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gpx(times=False), "track point 1 has no <time>"),  # a GPX without times
        (gpx(POINTS[:1]), "1 point"),  # one point
        (gpx()[:-30], "malformed XML"),  # cut off
        (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx>&a;</gpx>', "document type declaration"),  # entities
        (gpx([(0, 8.54, 47.37), (10, 8.60, 47.37)]), r"point 2 \(47.370000, 8.600000\) is reached at 1,627 km/h"),  # a jump
        (gpx([(0, 8.54, 47.37), (10, 8.54, 97.0)]), "point 2 has lon '8.54', lat '97.0'"),  # out of range
        (csv_track([(0, 8.54, 47.37), (10, float("nan"), 47.37)]), "point 2 has lon 'nan'"),  # NaN
        (b"when,where\n1,2\n", "expected columns time, lat, lon"),  # not a track
    ],
)
def test_implausible_or_malformed_tracks_are_refused_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(DataFormatError, match=message) as exc:
        read_track(data)
    assert "\n" not in str(exc.value)


def test_future_times_and_big_files_are_refused(tmp_path) -> None:
    track = read_track(gpx())
    with pytest.raises(DataFormatError, match="point 1 at 2026-03-29 00:59:50 UTC is in the future"):
        check_track(track, now=datetime(2026, 3, 28, 12, 0))
    assert check_track(track, now=datetime(2026, 3, 30)) is not None
    big = tmp_path / "huge.gpx"
    with big.open("wb") as f:
        f.truncate(MAX_TRACK_BYTES + 1)  # sparse: nothing is written or read
    with pytest.raises(InputError, match=rf"has {MAX_TRACK_BYTES + 1:,} bytes \(64 MiB\), over the limit of 64 MiB"):
        read_track(big)


def test_positions_interpolate_and_count_frames_outside_or_in_gaps() -> None:
    track = Track(np.array([0.0, 10.0, 10.0 + MAX_GAP_S + 1, 50.0]), np.array([8.0, 8.001, 8.002, 8.003]),
                  np.array([47.0, 47.0, 47.0, 47.001]), "csv")
    lon, lat, head, placed = positions_at(track, np.array([-0.5, 0.0, 2.5, 10.0, 20.0, 45.0, 60.0]))
    assert np.allclose(lon[[1, 2, 3]], [8.0, 8.00025, 8.001]) and np.isnan(lon[[0, 4, 6]]).all()
    assert np.allclose(head[[1, 2]], 90.0) and 0 < head[5] < 90  # east along the street, then north-east
    assert (placed.placed, placed.outside, placed.in_gap) == (4, 2, 1)
    metres = haversine_m(track.lon[:1], track.lat[:1], track.lon[1:2], track.lat[1:2])[0]
    assert metres == pytest.approx(75.8, abs=0.2)  # 0.001° of longitude at 47° N


def test_frames_are_placed_across_a_daylight_saving_change(tmp_path) -> None:
    """The clip starts 01:59:55 local (winter time, 00:59:55 UTC); 10 s later it is 03:00:05 local (summer time)."""
    start_local = utc_to_local(T0 + timedelta(seconds=5), "Europe/Zurich")
    assert start_local == datetime(2026, 3, 29, 1, 59, 55)
    assert local_to_utc(datetime(2026, 3, 29, 3, 0, 5), "Europe/Zurich") == datetime(2026, 3, 29, 1, 0, 5)
    m = dataclasses.replace(clip_from_pixels("bike", start_local, [{ROAD: 60, VEG: 40}] * 3), t_s=np.array([0.0, 10.0, 20.0]))
    placed, counts = place_measurements(m, read_track(gpx()), "Europe/Zurich")
    assert counts.placed == 3 and placed.heading is not None
    assert np.allclose(placed.lon, [8.5405, 8.5415, 8.5425], atol=1e-9)  # 5 s after each track point
    with pytest.raises(InputError, match="the track runs 2026-03-29 00:59:50–2026-03-29 01:00:20 UTC but the clip "
                       "2026-03-29 01:59:55–2026-03-29 02:00:15 UTC"):
        place_measurements(m, read_track(gpx()), "UTC")  # the same wall-clock time read as UTC is an hour late
    # stored: each frame at its own local time, ts_i = local(utc(start) + t_i), in the database and in a Ray clip file
    zurich = dataclasses.replace(placed, clip=dataclasses.replace(placed.clip, timezone="Europe/Zurich"))
    after = [datetime(2026, 3, 29, 1, 59, 55), datetime(2026, 3, 29, 3, 0, 5), datetime(2026, 3, 29, 3, 0, 15)]
    with store_with_cameras(":memory:", [("bike", 8.54, 47.37)]) as s:
        s.ingest(zurich)
        assert s.query_df("SELECT ts FROM frames ORDER BY t_s")["ts"].tolist() == after
    back = read_clip(write_clip(tmp_path, zurich, {"lon": 8.54, "lat": 47.37, "district_id": None, "kind": "mobile"}))
    assert back.clip.timezone == "Europe/Zurich" and np.allclose(back.heading, placed.heading)


@pytest.mark.parametrize(
    ("start", "tz", "expected"),
    [
        (datetime(2026, 3, 29, 1, 59, 0), "Europe/Zurich", ["01:59:00", "01:59:59", "03:00:00"]),  # spring: 02:xx never happens
        (datetime(2026, 10, 25, 2, 59, 0), "Europe/Zurich", ["02:59:00", "02:59:59", "02:00:00"]),  # autumn: the first 02:59 (summer
        # time, the ambiguous hour read as its first occurrence), then the clocks go back and 02:xx comes again
        (datetime(2026, 3, 29, 1, 59, 0), "UTC", ["01:59:00", "01:59:59", "02:00:00"]),  # no change: start + offset
        (datetime(2026, 3, 29, 1, 59, 0), None, ["01:59:00", "01:59:59", "02:00:00"]),  # no zone recorded: start + offset
    ],
)
def test_frames_local_times_follow_the_clocks(start: datetime, tz: str | None, expected: list[str]) -> None:
    times = local_times(start, np.array([0.0, 59.0, 60.0]), tz)
    assert [str(t)[11:19] for t in times] == expected


def test_a_clips_creation_tag_is_converted_to_the_cameras_local_time(tmp_path) -> None:
    """The tag is UTC: 01:00:30 UTC on the day summer time starts is 03:00:30 in Zurich, not 02:00:30 (which never happened)."""
    import av

    path = tmp_path / "tagged.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["creation_time"] = "2026-03-29T01:00:30.000000Z"
        stream = out.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode())
    assert clip_start(path, tz="Europe/Zurich") == ClipStart(datetime(2026, 3, 29, 3, 0, 30), "tag")
    assert clip_start(path, tz="UTC").time == datetime(2026, 3, 29, 1, 0, 30)
