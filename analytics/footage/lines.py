"""Count lines and dwell zones in a clip's own pixels: reading them, crossings, visits and occupancy.

Geometry comes from the camera's zones JSON (``cameras add --zones``), in the pixels of the frames
it was drawn on (x to the right, y down)::

    {"size": [768, 432],
     "zones": [{"name": "mid", "line": [[0, 216], [768, 216]], "in": "northbound", "out": "southbound"},
               {"name": "square", "role": "dwell", "polygon": [[10, 10], [200, 10], [200, 150]]}]}

A bare list of the objects is read too (then ``drawn_size`` or the clip's size stands for
``size``). Objects with another role (``sidewalk``, ...) are segmentation zones and are skipped here.

**Sides and direction.** For a line from ``a = (x1, y1)`` to ``b = (x2, y2)`` the side of a point
``p`` is the sign of the cross product ``s = (bx - ax)(py - ay) - (by - ay)(px - ax)``; on screen
(y down) ``s > 0`` is the *right* of the directed line ``a → b``. A crossing from the right to the
left (``s`` from ``+`` to ``-``) is ``in``, from the left to the right is ``out``: for a horizontal
line drawn left to right, ``in`` is upward on screen.

Pure compute: parsed objects and arrays in, records out; no files, no clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import DataFormatError, InputError, quote_value

__all__ = [
    "GEOMETRY_LIMITS",
    "CountGeometry",
    "CountLine",
    "Crossing",
    "DwellZone",
    "Visit",
    "COUNT_ROLES",
    "geometry_from_rows",
    "geometry_json",
    "geometry_rows",
    "line_crossings",
    "parse_count_geometry",
    "peak_occupancy",
    "points_in_polygon",
    "side_distance",
    "split_count_objects",
    "zone_visits",
]

COUNT_ROLES = ("line", "dwell")
"""Roles of the zones rows that are count geometry: count lines (``polygon_json`` holds the two
ends) and dwell zones; every other role is a segmentation zone."""

GEOMETRY_LIMITS = {"bytes": 1_000_000, "items": 200, "points": 1_000, "name": 80}
"""Most bytes of zones JSON, objects, polygon points and name characters read (nesting deeper than
the JSON parser's recursion limit is refused as not JSON)."""

Point = tuple[float, float]


@dataclass(frozen=True)
class CountLine:
    """A count line from ``start`` to ``end``; ``in_label``/``out_label`` name the two directions."""

    name: str
    start: Point
    end: Point
    in_label: str = "in"
    out_label: str = "out"


@dataclass(frozen=True)
class DwellZone:
    """A polygon (frame pixels, closed implicitly) in which time spent is measured."""

    name: str
    polygon: tuple[Point, ...]


@dataclass(frozen=True)
class CountGeometry:
    """The count lines and dwell zones of one camera, for frames of ``size`` (width, height).

    ``notes`` are accepted oddities worth saying (lines that cross, a zone over the whole frame).
    """

    lines: tuple[CountLine, ...]
    zones: tuple[DwellZone, ...]
    size: tuple[int, int]
    notes: tuple[str, ...] = ()


def _refuse(message: str) -> DataFormatError:
    return DataFormatError(f"count geometry not accepted: {message}")


def _load(source: object) -> object:
    """JSON text or bytes to objects (bounded in size; too deep a nesting is not JSON); objects pass through."""
    if not isinstance(source, str | bytes | bytearray):
        return source
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else bytes(source)
    if len(raw) > GEOMETRY_LIMITS["bytes"]:
        raise _refuse(f"{len(raw):,} bytes of JSON; expected at most {GEOMETRY_LIMITS['bytes']:,}")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise _refuse(f"not JSON ({quote_value(str(e), 60)})") from None


def _size(value: object, what: str) -> tuple[int, int]:
    ok = isinstance(value, list | tuple) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in value)
    if not ok or not isinstance(value, list | tuple):
        raise _refuse(f"{what} {quote_value(value, 40)}; expected [width, height] in whole pixels")
    return int(value[0]), int(value[1])


def _point(p: object, where: str, size: tuple[int, int]) -> Point:
    w, h = size
    ok = isinstance(p, list | tuple) and len(p) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= 1e9 for v in p)  # NaN fails the bound
    if not ok or not isinstance(p, list | tuple):
        raise _refuse(f"{where}: point {quote_value(p, 40)}; expected [x, y] finite pixel numbers")
    x, y = float(p[0]), float(p[1])
    if not (0 <= x <= w and 0 <= y <= h):
        raise _refuse(f"{where}: point [{x:g}, {y:g}] lies outside the {w}x{h} frame")
    return x, y


def _text(z: dict[str, object], key: str, where: str, default: str | None = None) -> str:
    value = z.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value) > GEOMETRY_LIMITS["name"] or not value.isprintable():
        raise _refuse(f"{where}: {key} {quote_value(value, 40)}; expected printable text of 1 to {GEOMETRY_LIMITS['name']} characters")
    return value.strip()


def _line(z: dict[str, object], where: str, size: tuple[int, int]) -> CountLine:
    pts = z["line"]
    if not isinstance(pts, list) or len(pts) != 2:
        raise _refuse(f"{where}: line {quote_value(pts, 40)}; expected [[x1, y1], [x2, y2]]")
    a, b = _point(pts[0], where, size), _point(pts[1], where, size)
    if a == b:
        raise _refuse(f"{where}: the line has zero length (both ends at [{a[0]:g}, {a[1]:g}])")
    name = _text(z, "name", where)
    return CountLine(name, a, b, _text(z, "in", where, "in"), _text(z, "out", where, "out"))


def _zone(z: dict[str, object], where: str, size: tuple[int, int]) -> DwellZone:
    pts = z["polygon"]
    if not isinstance(pts, list) or not 3 <= len(pts) <= GEOMETRY_LIMITS["points"]:
        raise _refuse(f"{where}: polygon must list 3 to {GEOMETRY_LIMITS['points']:,} [x, y] points")
    return DwellZone(_text(z, "name", where), tuple(_point(p, where, size) for p in pts))


def _segments_cross(p: CountLine, q: CountLine) -> bool:
    """Whether two segments properly intersect (signs of the four orientations differ)."""

    def orient(a: Point, b: Point, c: Point) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(p.start, p.end, q.start), orient(p.start, p.end, q.end)
    d3, d4 = orient(q.start, q.end, p.start), orient(q.start, q.end, p.end)
    return d1 * d2 < 0 and d3 * d4 < 0


def _polygon_area(poly: Sequence[Point]) -> float:
    """Shoelace: ``|Σ (x_i y_{i+1} - x_{i+1} y_i)| / 2``."""
    xy = np.asarray(poly, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2)


def _notes(lines: Sequence[CountLine], zones: Sequence[DwellZone], size: tuple[int, int]) -> tuple[str, ...]:
    notes = [f"lines {quote_value(p.name, 40)} and {quote_value(q.name, 40)} cross each other; each counts on its own"
             for i, p in enumerate(lines) for q in lines[i + 1:] if _segments_cross(p, q)]
    notes += [f"zone {quote_value(z.name, 40)} covers the whole frame; every tracked object is in it"
              for z in zones if _polygon_area(z.polygon) >= 0.99 * size[0] * size[1]]
    return tuple(notes)


def parse_count_geometry(source: object, frame_size: tuple[int, int], drawn_size: tuple[int, int] | None = None) -> CountGeometry:
    """Count lines and dwell zones from zones JSON (text, bytes or parsed objects) for a clip of ``frame_size``.

    Refused in one line (:class:`~analytics.errors.DataFormatError`) when the JSON is malformed,
    a point is not a finite ``[x, y]`` or lies outside the frame, a line has zero length, a name
    repeats, or the size the geometry was drawn on (``"size"`` in the JSON, else ``drawn_size``)
    differs from the clip's. Lines that cross each other and a zone over the whole frame are
    accepted with a note.

    >>> g = parse_count_geometry('[{"name": "mid", "line": [[0, 216], [768, 216]], "in": "northbound", "out": "southbound"}]', (768, 432))
    >>> g.lines[0].in_label, g.zones, g.notes
    ('northbound', (), ())
    >>> parse_count_geometry({"size": [640, 360], "zones": []}, (768, 432))
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: count geometry not accepted: drawn on a 640x360 frame but the clip is 768x432; redraw it on this clip
    """
    size = _size(list(frame_size), "clip size")
    data = _load(source)
    if isinstance(data, dict):
        if "size" in data:
            drawn_size = _size(data["size"], "size")
        data = data.get("zones", [])
    drawn = size if drawn_size is None else _size(list(drawn_size), "drawn size")
    if drawn != size:
        raise _refuse(f"drawn on a {drawn[0]}x{drawn[1]} frame but the clip is {size[0]}x{size[1]}; redraw it on this clip")
    if not isinstance(data, list) or len(data) > GEOMETRY_LIMITS["items"]:
        raise _refuse(f"expected a list of at most {GEOMETRY_LIMITS['items']} line and zone objects")
    lines: list[CountLine] = []
    zones: list[DwellZone] = []
    for i, z in enumerate(data):
        where = f"object {i}"
        if not isinstance(z, dict):
            raise _refuse(f"{where} is not an object")
        if "line" in z:
            lines.append(_line(z, where, size))
        elif "polygon" in z and z.get("role") == "dwell":
            zones.append(_zone(z, where, size))
        elif "polygon" not in z:
            raise _refuse(f'{where} has neither "line" nor "polygon"')
    for kind, names in (("line", [x.name for x in lines]), ("zone", [x.name for x in zones])):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _refuse(f"{kind} name {quote_value(repeated[0], 40)} is used twice; names must be unique")
    return CountGeometry(tuple(lines), tuple(zones), size, _notes(lines, zones, size))


def _cell(value: Any) -> Any:
    """A table cell with pandas' missing values (None, NaN, NA) as None."""
    try:
        return None if value is None or bool(pd.isna(value)) else value
    except (TypeError, ValueError):
        return value


def _row_object(row: dict[Any, Any], size: tuple[int, int]) -> dict[str, object]:
    """One stored zones row as the JSON object :func:`parse_count_geometry` reads; its drawn size checked."""
    name = str(row["zone"])
    w, h = _cell(row.get("drawn_width")), _cell(row.get("drawn_height"))
    if w is not None and h is not None and (int(w), int(h)) != size:
        raise _refuse(f"{row['role']} {quote_value(name, 40)} was drawn on a {int(w)}x{int(h)} frame but the clip is "
                      f"{size[0]}x{size[1]}; redraw it on this clip")
    points = _load(str(row["polygon_json"]))
    if row["role"] == "line":
        return {"name": name, "line": points, "in": _cell(row.get("in_label")) or "in", "out": _cell(row.get("out_label")) or "out"}
    return {"name": name, "role": "dwell", "polygon": points}


def geometry_from_rows(zones: pd.DataFrame | None, frame_size: tuple[int, int]) -> CountGeometry | None:
    """The count lines and dwell zones among a camera's stored zones rows, for a clip of ``frame_size``.

    Rows of role ``line`` (``polygon_json`` = its two ends, ``in_label``/``out_label`` its
    directions) and ``dwell`` count; other roles are segmentation zones. None when there are none.
    Refused in one line, as :func:`parse_count_geometry` refuses (a point outside the frame, a zero
    length, a repeated name), and when a row was drawn (``drawn_width`` x ``drawn_height``) on a
    frame of another size than the clip's, naming both sizes.

    >>> rows = pd.DataFrame({"zone": ["mid"], "role": ["line"], "polygon_json": ["[[0, 216], [768, 216]]"],
    ...                      "in_label": ["north"], "out_label": [None], "drawn_width": [768], "drawn_height": [432]})
    >>> g = geometry_from_rows(rows, (768, 432))
    >>> g.lines[0].in_label, g.lines[0].out_label
    ('north', 'out')
    >>> geometry_from_rows(rows, (640, 360))
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: count geometry not accepted: line 'mid' was drawn on a 768x432 frame but the clip is 640x360; redraw it on this clip
    >>> geometry_from_rows(rows.assign(role="sidewalk"), (768, 432)) is None
    True
    """
    if zones is None or zones.empty or not {"zone", "role", "polygon_json"}.issubset(zones.columns):
        return None
    rows = zones[zones["role"].isin(COUNT_ROLES)]
    if rows.empty:
        return None
    size = _size(list(frame_size), "clip size")
    objects = [_row_object(r, size) for r in rows.to_dict("records")]
    return parse_count_geometry(objects, size)


def geometry_rows(geometry: CountGeometry) -> pd.DataFrame:
    """The zones rows of ``geometry`` (the inverse of :func:`geometry_from_rows`): zone, role,
    polygon_json, in_label, out_label, drawn_width, drawn_height.

    >>> g = parse_count_geometry([{"name": "mid", "line": [[0, 5], [9, 5]]}], (10, 10))
    >>> geometry_rows(g)[["zone", "role", "polygon_json", "drawn_width"]].values.tolist()
    [['mid', 'line', '[[0.0, 5.0], [9.0, 5.0]]', 10]]
    """
    w, h = geometry.size
    rows = [{"zone": ln.name, "role": "line", "polygon_json": json.dumps([list(ln.start), list(ln.end)]),
             "in_label": ln.in_label, "out_label": ln.out_label, "drawn_width": w, "drawn_height": h} for ln in geometry.lines]
    rows += [{"zone": z.name, "role": "dwell", "polygon_json": json.dumps([list(p) for p in z.polygon]),
              "in_label": None, "out_label": None, "drawn_width": w, "drawn_height": h} for z in geometry.zones]
    return pd.DataFrame(rows, columns=["zone", "role", "polygon_json", "in_label", "out_label", "drawn_width", "drawn_height"])


def geometry_json(geometry: CountGeometry) -> str:
    """``geometry`` in the zones JSON format (``{"size", "zones"}``), keys sorted: what a clip's counts mean.

    >>> geometry_json(parse_count_geometry([{"name": "m", "line": [[0, 5], [9, 5]]}], (10, 10)))
    '{"size": [10, 10], "zones": [{"in": "in", "line": [[0.0, 5.0], [9.0, 5.0]], "name": "m", "out": "out"}]}'
    """
    objects: list[dict[str, object]] = [
        {"name": ln.name, "line": [list(ln.start), list(ln.end)], "in": ln.in_label, "out": ln.out_label} for ln in geometry.lines]
    objects += [{"name": z.name, "role": "dwell", "polygon": [list(p) for p in z.polygon]} for z in geometry.zones]
    return json.dumps({"size": list(geometry.size), "zones": objects}, sort_keys=True)


def split_count_objects(source: object) -> tuple[object, list[object]]:
    """Zones JSON split into (the count objects: lines and ``"role": "dwell"`` polygons, with the
    file's ``"size"`` when it has one; the other objects: segmentation zones).

    >>> count, other = split_count_objects('[{"name": "m", "line": [[0, 1], [2, 1]]}, {"name": "s", "role": "sidewalk", "polygon": []}]')
    >>> [o["name"] for o in count], [o["name"] for o in other]
    (['m'], ['s'])
    """
    data = _load(source)
    size = data.get("size") if isinstance(data, dict) else None
    items = data.get("zones", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise _refuse("expected a list of line and zone objects")
    is_count = [isinstance(z, dict) and ("line" in z or z.get("role") == "dwell") for z in items]
    count = [z for z, c in zip(items, is_count, strict=True) if c]
    other = [z for z, c in zip(items, is_count, strict=True) if not c]
    return ({"size": size, "zones": count} if size is not None else count), other


@dataclass(frozen=True)
class Crossing:
    """One crossing of a count line: its time (s, interpolated) and direction (``in`` or ``out``)."""

    line: str
    t: float
    direction: str


def side_distance(points: np.ndarray, line: CountLine) -> np.ndarray:
    """Signed distance (px) of each point ``(n, 2)`` from the line's infinite extension.

    ``d = ((bx - ax)(py - ay) - (by - ay)(px - ax)) / |b - a|``; positive on the right of ``a → b``
    on screen (y down).

    >>> side_distance(np.array([[5.0, 3.0], [5.0, -2.0]]), CountLine("m", (0.0, 0.0), (10.0, 0.0))).tolist()
    [3.0, -2.0]
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    (ax, ay), (bx, by) = line.start, line.end
    return ((bx - ax) * (p[:, 1] - ay) - (by - ay) * (p[:, 0] - ax)) / math.hypot(bx - ax, by - ay)


def _within_extent(p: np.ndarray, q: np.ndarray, dp: float, dq: float, line: CountLine) -> tuple[bool, float]:
    """Whether the step ``p → q`` meets the line between its ends, and the fraction of the step there."""
    f = dp / (dp - dq)
    x = p + f * (q - p)
    a, b = np.asarray(line.start), np.asarray(line.end)
    u = float((x - a) @ (b - a) / ((b - a) @ (b - a)))
    return 0.0 <= u <= 1.0, f


def line_crossings(times: Sequence[float], points: np.ndarray, line: CountLine, hysteresis: float = 3.0) -> list[Crossing]:
    """Crossings of ``line`` by a track's reference points (bottom-centres) at ``times``.

    A point is on a side only when its distance from the line exceeds ``hysteresis`` pixels; a
    crossing is a step from the last point on one side to the next point on the other side whose
    path meets the segment between its ends (the crossing time interpolated linearly). Jitter
    within ``hysteresis`` of the line never changes the side, so it is counted once, and a track
    that touches the line and turns back is not counted; a track crosses again (the other way) only
    after it goes back more than ``hysteresis`` pixels beyond the line. Direction: right to left of
    ``start → end`` is ``in`` (see the module docstring).

    >>> ln = CountLine("mid", (0.0, 50.0), (100.0, 50.0))
    >>> pts = np.array([[50.0, 60], [50, 51], [50, 49], [50, 51], [50, 40]])
    >>> [(c.direction, c.t) for c in line_crossings([0, 1, 2, 3, 4], pts, ln)]
    [('in', 2.0)]
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(t) != len(p):
        raise InputError(f"line crossings: {len(t)} times for {len(p)} points; expected one time per point")
    d = side_distance(p, line)
    out: list[Crossing] = []
    last = -1
    for i in np.flatnonzero(np.abs(d) > hysteresis):
        if last >= 0 and np.sign(d[i]) != np.sign(d[last]):
            inside, f = _within_extent(p[last], p[i], float(d[last]), float(d[i]), line)
            if inside:
                out.append(Crossing(line.name, float(t[last] + f * (t[i] - t[last])), "in" if d[last] > 0 else "out"))
        last = int(i)
    return out


def points_in_polygon(points: np.ndarray, polygon: Sequence[Point]) -> np.ndarray:
    """Even-odd rule: a point is inside when a ray to ``+x`` crosses the polygon's edges an odd number of times.

    Edge ``(x_i, y_i) → (x_j, y_j)`` counts where ``(y_i > py) != (y_j > py)`` and
    ``px < x_i + (py - y_i)(x_j - x_i) / (y_j - y_i)``.

    >>> points_in_polygon(np.array([[1.0, 1.0], [3.0, 1.0]]), [(0, 0), (2, 0), (2, 2), (0, 2)]).tolist()
    [True, False]
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    xi, yi = poly[:, 0][None, :], poly[:, 1][None, :]
    xj, yj = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    px, py = p[:, 0][:, None], p[:, 1][:, None]
    straddles = (yi > py) != (yj > py)
    dy = np.where(yj == yi, 1.0, yj - yi)
    x_cross = xi + (py - yi) * (xj - xi) / dy
    return np.asarray((np.sum(straddles & (px < x_cross), axis=1) % 2) == 1)


@dataclass(frozen=True)
class Visit:
    """One stay of a track in a zone: first and last time inside (s) and ``dwell = exit - enter``."""

    zone: str
    enter: float
    exit: float

    @property
    def dwell(self) -> float:
        return self.exit - self.enter


def zone_visits(times: Sequence[float], points: np.ndarray, zone: DwellZone, merge_gap: float = 1.0) -> list[Visit]:
    """Visits of a track (reference points at ``times``) to ``zone``.

    A visit is a run of consecutive points inside the polygon (:func:`points_in_polygon`); two runs
    are one visit when the last time inside of the first and the first time inside of the next are
    at most ``merge_gap`` seconds apart (a point jittering over the border). ``enter`` is the first
    time inside, ``exit`` the last, so a dwell is measured between samples: it is short of the true stay by less than one sampling interval at each end.

    >>> zone = DwellZone("square", ((0, 0), (10, 0), (10, 10), (0, 10)))
    >>> pts = np.array([[-5.0, 5], [5, 5], [5, 5], [15, 5], [5, 5], [20, 5], [20, 5], [20, 5], [5, 5]])
    >>> [(v.enter, v.exit) for v in zone_visits(range(9), pts, zone, merge_gap=2.5)]
    [(1.0, 4.0), (8.0, 8.0)]
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    inside = points_in_polygon(points, zone.polygon)
    if len(t) != len(inside):
        raise InputError(f"zone visits: {len(t)} times for {len(inside)} points; expected one time per point")
    visits: list[Visit] = []
    idx = np.flatnonzero(inside)
    if len(idx) == 0:
        return visits
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i != prev + 1 and t[i] - t[prev] > merge_gap:
            visits.append(Visit(zone.name, float(t[start]), float(t[prev])))
            start = i
        prev = i
    visits.append(Visit(zone.name, float(t[start]), float(t[prev])))
    return visits


def peak_occupancy(visits: Sequence[Visit]) -> tuple[int, float | None]:
    """Most visits open at once and the first time it happens (a visit is open from enter to exit, both included).

    >>> peak_occupancy([Visit("z", 0, 5), Visit("z", 2, 3), Visit("z", 5, 9)])
    (2, 2.0)
    >>> peak_occupancy([])
    (0, None)
    """
    events = sorted([(v.enter, 0) for v in visits] + [(v.exit, 1) for v in visits])
    best, when, now = 0, None, 0
    for time, kind in events:
        now += 1 if kind == 0 else -1
        if now > best:
            best, when = now, float(time)
    return best, when
