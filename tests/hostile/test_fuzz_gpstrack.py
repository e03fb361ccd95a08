"""GPS tracks from a person's logger: a mutated GPX, NMEA or CSV file is either read correctly or refused in one line.

Each case starts from a valid track, makes a fixed number of mutations with a fixed seed (byte flips,
truncations, insertions of odd text, duplicated or deleted lines) and runs :func:`read_track` on it.
Only an UrbanLens error of one short line or a track that keeps every promise of a correct read
(at least two points, times strictly increasing, finite coordinates in range, no jump over the
speed limit) is accepted.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from analytics.errors import UrbanLensError
from analytics.gpstrack import MAX_SPEED_KMH, Track, haversine_m, read_track
from tests.test_gpstrack import csv_track, gpx, nmea

ODD = [b"<", b">", b"&", b"&a;", b"]]>", b"<!DOCTYPE x>", b"\x00", b"\xff\xfe", b"nan", b"inf", b"1e308", b"-", b",", b"*", b"$",
       b"\n", b"\r\n", b"9" * 40, b"\xe2\x80\xae", b"<trkpt lat='1' lon='2'/>", b"T25:61:61Z", b"+99:00"]
CASES_PER_FORMAT = 300


def check(outcome: object) -> None:
    """A clean refusal or a correct read."""
    if isinstance(outcome, UrbanLensError):
        text = str(outcome)
        assert "\n" not in text and len(text) <= 400, text
        return
    assert isinstance(outcome, Track)
    assert outcome.n >= 2 and np.all(np.diff(outcome.t) > 0)
    assert np.isfinite(outcome.lon).all() and np.isfinite(outcome.lat).all()
    assert (np.abs(outcome.lon) <= 180).all() and (np.abs(outcome.lat) <= 90).all()
    kmh = haversine_m(outcome.lon[:-1], outcome.lat[:-1], outcome.lon[1:], outcome.lat[1:]) / np.diff(outcome.t) * 3.6
    assert (kmh <= MAX_SPEED_KMH).all()


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        at = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif kind == 1:
            del out[at:]
        elif kind == 2:
            out[at:at] = rng.choice(ODD)
        elif kind == 3 and out:
            del out[at:at + rng.randint(1, 20)]
        else:
            lines = bytes(out).split(b"\n")
            j = rng.randrange(len(lines))
            lines.insert(j, lines[j])
            out = bytearray(b"\n".join(lines))
    return bytes(out)


@pytest.mark.parametrize("make", [gpx, nmea, csv_track], ids=["gpx", "nmea", "csv"])
def test_mutated_tracks_are_read_or_refused_cleanly(make) -> None:
    rng = random.Random(24)
    base = make()
    check(read_track(base))
    for _ in range(CASES_PER_FORMAT):
        try:
            outcome: object = read_track(mutate(base, rng))
        except UrbanLensError as e:
            outcome = e
        check(outcome)
