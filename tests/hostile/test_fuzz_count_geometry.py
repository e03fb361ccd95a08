"""Count lines and dwell zones from a person's zones JSON: a hostile one ends in one clean refusal.

The fuzz tests feed :func:`parse_count_geometry` mutated versions of a valid geometry (byte flips,
truncations, insertions; field-type swaps, NaN, infinities, huge numbers, deep nesting, long
names) with a fixed seed, and accept only a :class:`DataFormatError` of one short line or a
geometry that keeps every promise of a correct read.
"""

from __future__ import annotations

import copy
import json
import math
import random

import pytest

from analytics.errors import DataFormatError
from analytics.footage.lines import GEOMETRY_LIMITS, CountGeometry, parse_count_geometry

SIZE = (768, 432)
VALID = {
    "size": [768, 432],
    "zones": [
        {"name": "mid", "line": [[0, 216], [768, 216]], "in": "northbound", "out": "southbound"},
        {"name": "crossing", "line": [[100, 50], [700.5, 400]]},
        {"name": "square", "role": "dwell", "polygon": [[100, 100], [300, 100], [300, 300], [100, 300]]},
        {"name": "walk", "role": "sidewalk", "polygon": [[0, 400], [768, 400], [768, 432]]},
    ],
}
ODD_VALUES = [None, True, 0, -1, 1e308, 10**400, float("nan"), float("inf"), "", "x" * 5000, "\u202e", [], {}, [[]], [1, 2, 3],
              [[0, 0]] * 2000, {"a": 1}]


def check(outcome: object) -> None:
    """A clean refusal or a correct read: points finite and in the frame, lines of positive length."""
    if isinstance(outcome, DataFormatError):
        text = str(outcome)
        assert "\n" not in text and len(text) <= 300, text
        return
    assert isinstance(outcome, CountGeometry)
    w, h = outcome.size
    points = [p for ln in outcome.lines for p in (ln.start, ln.end)] + [p for z in outcome.zones for p in z.polygon]
    assert all(math.isfinite(x) and math.isfinite(y) and 0 <= x <= w and 0 <= y <= h for x, y in points)
    assert all(ln.start != ln.end for ln in outcome.lines)
    assert all(3 <= len(z.polygon) <= GEOMETRY_LIMITS["points"] for z in outcome.zones)
    names = [ln.name for ln in outcome.lines]
    assert len(set(names)) == len(names) and all(n.strip() for n in names)


def read(source: object) -> object:
    try:
        return parse_count_geometry(source, SIZE)
    except DataFormatError as e:
        return e


def test_the_valid_geometry_reads():
    g = parse_count_geometry(json.dumps(VALID), SIZE)
    assert [ln.name for ln in g.lines] == ["mid", "crossing"] and [z.name for z in g.zones] == ["square"]


def mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(len(data)):]
    elif kind == 2:
        at = rng.randrange(len(data))
        data[at:at] = rng.choice([b"NaN", b"1e999", b"-", b"[", b"{", b'"', b"9" * 400, b"\xff\xfe", b"\x00", b","])
    else:
        at, length = rng.randrange(len(data)), rng.randint(1, 20)
        del data[at:at + length]
    return bytes(data)


def mutate_object(data: dict, rng: random.Random) -> object:
    """Swap one value somewhere in the geometry for an odd one."""
    data = copy.deepcopy(data)
    node: object = data
    parent: object = None
    key: object = None
    for _ in range(rng.randint(1, 5)):
        if isinstance(node, dict) and node:
            parent, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            parent, key = node, rng.randrange(len(node))
        else:
            break
        node = parent[key]  # type: ignore[index]
    if parent is None:
        return rng.choice(ODD_VALUES)
    parent[key] = rng.choice(ODD_VALUES)  # type: ignore[index]
    return data


def test_fuzz_mutated_bytes():
    rng = random.Random(2201)
    raw = json.dumps(VALID).encode()
    for _ in range(1500):
        check(read(mutate_bytes(raw, rng)))


def test_fuzz_swapped_field_types():
    rng = random.Random(2202)
    for _ in range(1500):
        data = mutate_object(VALID, rng)
        check(read(data))
        check(read(json.dumps(data, allow_nan=True)))


@pytest.mark.parametrize(
    "source",
    [
        "[" * 200_000 + "]" * 200_000,  # nesting past the parser's recursion limit
        b" " * (GEOMETRY_LIMITS["bytes"] + 1),  # over the size limit
        '{"size": [768, 432], "zones": [' + ",".join(['{"name": "l' + str(i) + '", "line": [[0, 0], [1, 1]]}' for i in range(201)]) + "]}",
        '[{"name": "l", "line": [[0, 0], [1e400, 1]]}]',
        '[{"name": "l", "line": [[0, 0], [' + "9" * 5000 + ", 1]]}]",  # an integer of 5,000 digits
        "\ud800",  # a lone surrogate
        b"\xef\xbb\xbf[]",  # a byte-order mark
    ],
    ids=["deep", "huge", "too-many", "inf", "long-int", "surrogate", "bom"],
)
def test_hostile_sources_are_refused(source):
    outcome = read(source)
    assert isinstance(outcome, DataFormatError)
    check(outcome)
