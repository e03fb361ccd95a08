"""A camera's zones file as stored rows: segmentation zones, count lines and dwell zones from one JSON.

One file holds all three (``cameras add --zones``, ``cameras zones``)::

    {"size": [768, 432],
     "zones": [{"name": "walk", "role": "sidewalk", "polygon": [[0, 300], [200, 300], [200, 432]]},
               {"name": "mid", "line": [[0, 216], [768, 216]], "in": "northbound", "out": "southbound"},
               {"name": "square", "role": "dwell", "polygon": [[100, 100], [300, 100], [300, 300]]}]}

Segmentation zones are read by :func:`analytics.geo.parse_zones`, count lines and dwell zones by
:func:`analytics.footage.lines.parse_count_geometry`; both refuse in one line. The rows are those of
``camera_zones``: a line is role ``line`` with its two points as ``polygon_json`` and its direction
names, a dwell zone role ``dwell``; both keep the frame size they were drawn on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.footage.lines import CountGeometry, geometry_rows, parse_count_geometry
from analytics.geo import ZONE_LIMITS, is_count_object, parse_zones, read_zones_bytes
from analytics.untrusted import load_json

__all__ = [
    "ZONE_ROW_COLUMNS", "CameraZones", "read_camera_zones", "geometry_from_rows", "merge_drawn",
    "without_zone",
]

ZONE_ROW_COLUMNS = ("zone", "role", "polygon_json", "in_label", "out_label", "drawn_width", "drawn_height")


@dataclass(frozen=True)
class CameraZones:
    """The rows to store (:data:`ZONE_ROW_COLUMNS`), the count geometry read (None without lines or
    dwell zones) and notes on accepted oddities (lines that cross, a zone over the whole frame)."""

    rows: pd.DataFrame
    geometry: CountGeometry | None
    notes: tuple[str, ...] = ()


def geometry_from_rows(zones: pd.DataFrame) -> dict[str, object] | None:
    """Stored ``camera_zones`` rows back to the zones JSON of count lines and dwell zones (None when there are none).

    >>> rows = pd.DataFrame([{"zone": "mid", "role": "line", "polygon_json": "[[0, 5], [10, 5]]", "in_label": "up",
    ...                       "out_label": "down", "drawn_width": 10, "drawn_height": 10}])
    >>> geometry_from_rows(rows)
    {'size': [10, 10], 'zones': [{'name': 'mid', 'line': [[0, 5], [10, 5]], 'in': 'up', 'out': 'down'}]}
    """
    count = zones[zones["role"].isin(["line", "dwell"])] if "role" in zones.columns else zones.iloc[0:0]
    if count.empty:
        return None
    objects: list[dict[str, object]] = []
    for r in count.itertuples(index=False):
        pts = json.loads(str(r.polygon_json))
        if r.role == "line":
            objects.append({"name": str(r.zone), "line": pts, "in": str(r.in_label or "in"), "out": str(r.out_label or "out")})
        else:
            objects.append({"name": str(r.zone), "role": "dwell", "polygon": pts})
    first = count.iloc[0]
    out: dict[str, object] = {"zones": objects}
    if pd.notna(first.get("drawn_width")) and pd.notna(first.get("drawn_height")):
        out = {"size": [int(first["drawn_width"]), int(first["drawn_height"])], **out}
    return out


def _json_size(data: object) -> tuple[int, int] | None:
    size = data.get("size") if isinstance(data, dict) else None
    ok = isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100_000 for v in size)
    if size is not None and not ok:
        raise DataFormatError(f"zones file: size {quote_value(size, 40)}; expected [width, height] in whole pixels")
    return (int(size[0]), int(size[1])) if ok and isinstance(size, list) else None


def read_camera_zones(source: str | bytes | object, clip_size: tuple[int, int] | None = None) -> CameraZones:
    """Read a zones file (path or bytes) into the rows of ``camera_zones``.

    The frame the geometry was drawn on is the file's ``"size"``; ``clip_size`` is the size of the
    camera's clips where it has any. Count lines and dwell zones need one of them, and where both
    are known they must agree (refused naming both sizes). Every point must lie inside that frame;
    a line of zero length, a repeated name (across all zones) or a malformed object is refused in
    one line, and nothing is stored.
    """
    raw = read_zones_bytes(source)  # type: ignore[arg-type]
    data = load_json(raw, "zones file", max_bytes=ZONE_LIMITS["bytes"], max_depth=ZONE_LIMITS["depth"])
    drawn = _json_size(data)
    frame = clip_size or drawn
    segmentation = parse_zones(raw, frame)
    objects = data.get("zones", []) if isinstance(data, dict) else data
    count_objects = [z for z in objects if is_count_object(z)] if isinstance(objects, list) else []
    geometry = None
    if count_objects:
        if frame is None:
            raise DataFormatError('count lines and dwell zones need the size of the frame they were drawn on: '
                                  'add "size": [width, height] to the zones file')
        geometry = parse_count_geometry(objects, frame, drawn)  # the whole list: messages name the file's object numbers
        counted = geometry_rows(geometry)
        clash = sorted(set(counted["zone"]) & set(segmentation["zone"]))
        if clash:
            raise DataFormatError(f"zones not accepted: name {quote_value(clash[0], 40)} is used twice; names must be unique")
        frames = [f for f in (segmentation, counted) if not f.empty]
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    else:
        rows = segmentation
    rows = rows.reindex(columns=list(ZONE_ROW_COLUMNS))
    return CameraZones(rows, geometry, geometry.notes if geometry else ())


def _kind(obj: dict[str, object]) -> str:
    """``line`` for a count line object, ``dwell`` for a dwell zone."""
    return "line" if "line" in obj else "dwell"


def merge_drawn(zones: pd.DataFrame, drawn: dict[str, object], size: tuple[int, int]) -> CameraZones:
    """A camera's stored zones rows with one drawn count line or dwell zone added (JSON object of
    the zones file), for frames of ``size``: what to hand to ``Store.set_zones``.

    A line or zone of the same name and kind is replaced; segmentation zones are kept as they are.
    Refused in one line when the name belongs to a zone of another kind, or as
    :func:`~analytics.footage.lines.parse_count_geometry` refuses (a point outside the frame, a
    zero-length line, the kept lines drawn on a frame of another size).

    >>> rows = read_camera_zones(b'{"size": [10, 10], "zones": [{"name": "a", "line": [[0, 5], [10, 5]]}]}').rows
    >>> merge_drawn(rows, {"name": "a", "line": [[5, 0], [5, 10]], "in": "east"}, (10, 10)).rows["polygon_json"].tolist()
    ['[[5.0, 0.0], [5.0, 10.0]]']
    >>> merge_drawn(rows, {"name": "a", "role": "dwell", "polygon": [[0, 0], [5, 0], [5, 5]]}, (10, 10))
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: count geometry not accepted: name 'a' is already a count line; delete it first or pick another name
    """
    name, kind = str(drawn.get("name", "")).strip(), _kind(drawn)
    known = zones.reindex(columns=list(ZONE_ROW_COLUMNS))
    other = known[known["zone"].astype(str) == name]
    if not other.empty and str(other["role"].iloc[0]) != kind:
        role = str(other["role"].iloc[0])
        what = {"line": "a count line", "dwell": "a dwell zone"}.get(role, f"a {role} zone")
        raise DataFormatError(f"count geometry not accepted: name {quote_value(name, 40)} is already {what}; "
                              "delete it first or pick another name")
    keep = known[known["zone"].astype(str) != name]
    segmentation = keep[~keep["role"].isin(["line", "dwell"])]
    stored = geometry_from_rows(keep) or {}
    listed, at = stored.get("zones", []), stored.get("size", list(size))
    objects = [o for o in listed if isinstance(o, dict)] if isinstance(listed, list) else []
    drawn_size = (int(at[0]), int(at[1])) if isinstance(at, list) else size
    geometry = parse_count_geometry([*objects, drawn], size, drawn_size)
    counted = geometry_rows(geometry)
    frames = [f for f in (segmentation, counted) if not f.empty]
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return CameraZones(rows.reindex(columns=list(ZONE_ROW_COLUMNS)), geometry, geometry.notes)


def without_zone(zones: pd.DataFrame, name: str) -> pd.DataFrame:
    """A camera's stored zones rows without the one called ``name`` (InputError naming the known ones when absent).

    >>> rows = read_camera_zones(b'{"size": [10, 10], "zones": [{"name": "a", "line": [[0, 5], [10, 5]]}]}').rows
    >>> len(without_zone(rows, "a"))
    0
    """
    known = zones.reindex(columns=list(ZONE_ROW_COLUMNS))
    names = known["zone"].astype(str)
    if name not in set(names):
        listed = ", ".join(sorted(names)[:10]) or "none"
        raise InputError(f"zone {quote_value(name, 40)} is not stored for this camera; its zones: {listed}")
    return known[names != name].reset_index(drop=True)
