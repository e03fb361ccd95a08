"""Checks of a Parquet file before anything in it is converted or stored.

A Parquet file ends in a footer that says how many rows, values and bytes it holds; a reader
allocates by those claims. :func:`open_parquet` bounds them against the file's own size before any
column is read:

- the footer (its length is the 4 bytes before the closing ``PAR1``) is at most
  :data:`MAX_FOOTER_BYTES`, and is parsed with Thrift's string, list and nesting limits set;
- at most :data:`MAX_LEAF_COLUMNS` columns and :data:`MAX_ROW_GROUPS` row groups;
- rows <= min(``max_rows``, file bytes) (every row of a frame file holds at least its own
  frame index, time and pixel counts, so a row costs more than a byte);
- the row groups' rows add up to the file's, and their uncompressed bytes are at most
  min(:data:`MAX_UNCOMPRESSED_BYTES`, :data:`EXPANSION` x file bytes).

Column chunks are not inspected one by one from Python: pyarrow's ``RowGroupMetaData.column``
aborts the whole process (an uncaught C++ exception) on some damaged footers (a size-statistics
histogram of the wrong length), which the readers themselves report as an ordinary error; the
values a column really holds are bounded by the rows checked here and the checks of each value.

Then :func:`check_types` compares every column's Arrow type with the kind a :class:`Rule` expects,
and :func:`check_columns` checks every value against its rule (nulls, NaN, infinity, range) on the
Arrow arrays, before a single value is converted for the store. Every refusal is an
:class:`~analytics.errors.InputError` of one line naming the file, the column, the row and the value
(quoted with :func:`~analytics.errors.quote_value`) and what is accepted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.errors import InputError, quote_value
from analytics.store.schema import GROUP_COLUMNS
from analytics.taxonomy import GROUPS

__all__ = [
    "CLIP_RULES", "EXPANSION", "FRAME_RULES", "MAX_CLIP_ROWS", "MAX_FOOTER_BYTES", "MAX_FRAME_PIXELS", "MAX_LEAF_COLUMNS", "MAX_ROW_GROUPS",
    "MAX_SECONDS", "MAX_SIDE", "MAX_TEXT", "MAX_UNCOMPRESSED_BYTES", "READ_ERRORS", "TIME_RANGE", "Rule",
    "check_clip_lists", "check_clip_meta", "check_columns", "check_types", "check_values", "kind_of", "open_parquet", "pixel_limit",
]

MAX_FOOTER_BYTES = 4 << 20
"""Footer bytes (schema, row groups, statistics, the clip's metadata): a clip file's is about 15 KB."""
MAX_LEAF_COLUMNS = 256
MAX_ROW_GROUPS = 4096
EXPANSION = 1024
MAX_UNCOMPRESSED_BYTES = 4 << 30
MAX_SECONDS = 366 * 86400.0
"""Largest time into a clip (``t_s``) or clip duration accepted: a year."""
MAX_FRAME_PIXELS = 32768 * 32768
"""Largest frame (pixels) a file may describe: 32,768 pixels a side."""
TIME_RANGE = (datetime(1900, 1, 1), datetime(2200, 1, 1))
"""Frame times accepted (``ts``, a clip's start)."""
_EPOCH = datetime(1970, 1, 1)

READ_ERRORS = (OSError, pa.ArrowException, ValueError, MemoryError)
"""What Arrow raises on a damaged file (besides our own checks)."""

_THRIFT_CONTAINER_LIMIT = 100_000
_SCHEMA_DEPTH_LIMIT = 16


def _where(path: Path) -> str:
    return quote_value(path.name, 120)


def _footer_length(path: Path, size: int) -> int:
    """The footer's length from the file's last 8 bytes; refused when the file is not Parquet or the footer is too big."""
    if size < 12:
        raise InputError(f"{_where(path)} is not a Parquet file ({size} bytes); expected a file ending in 'PAR1'")
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(size - 8)
        tail = f.read(8)
    if head != b"PAR1" or tail[4:] != b"PAR1":
        raise InputError(f"{_where(path)} is not a plain Parquet file (no 'PAR1' at its start and end; encrypted files are not read)")
    length = int.from_bytes(tail[:4], "little")
    if length > min(MAX_FOOTER_BYTES, size - 12):
        raise InputError(
            f"{_where(path)}: its footer claims {length:,} bytes in a file of {size:,}; expected at most "
            f"{min(MAX_FOOTER_BYTES, max(size - 12, 0)):,}"
        )
    return length


def open_parquet(path: str | Path, max_rows: int) -> pq.ParquetFile:
    """``path`` opened as Parquet once its footer's claims are bounded (see the module doc); nothing read beyond the footer.

    ``max_rows``: most rows the caller reads from one file.
    """
    path = Path(path)
    try:
        size = os.stat(path).st_size
        _footer_length(path, size)
        pf = pq.ParquetFile(
            path, thrift_string_size_limit=MAX_FOOTER_BYTES, thrift_container_size_limit=_THRIFT_CONTAINER_LIMIT,
            schema_depth_limit=_SCHEMA_DEPTH_LIMIT,
        )
    except InputError:
        raise
    except READ_ERRORS as exc:
        raise InputError(f"{_where(path)} is not a readable Parquet file: {quote_value(exc, 120)}") from None
    _check_claims(path, pf.metadata, size, max_rows)
    return pf


def _check_claims(path: Path, md: pq.FileMetaData, size: int, max_rows: int) -> None:
    """Refuse a footer whose rows, columns, values or bytes are implausible for a file of ``size`` bytes."""
    where = _where(path)
    if md.serialized_size > MAX_FOOTER_BYTES:
        raise InputError(f"{where}: its footer holds {md.serialized_size:,} bytes; expected at most {MAX_FOOTER_BYTES:,}")
    if not 0 < md.num_columns <= MAX_LEAF_COLUMNS or not 0 <= md.num_row_groups <= MAX_ROW_GROUPS:
        raise InputError(f"{where}: its footer claims {md.num_columns:,} columns in {md.num_row_groups:,} row groups; "
                         f"expected 1 to {MAX_LEAF_COLUMNS} columns and at most {MAX_ROW_GROUPS:,} row groups")
    rows_cap = min(max_rows, size)
    if not 0 <= md.num_rows <= rows_cap:
        raise InputError(f"{where}: its footer claims {md.num_rows:,} rows in a file of {size:,} bytes; expected at most "
                         f"{rows_cap:,} (one a byte, at most {max_rows:,})")
    total_rows = 0
    uncompressed = 0
    for i in range(md.num_row_groups):  # row groups only: pyarrow's per-column accessor aborts the process on some damaged footers
        rg = md.row_group(i)
        total_rows += rg.num_rows
        uncompressed += max(rg.total_byte_size, 0)
        if rg.num_rows < 0 or rg.num_columns != md.num_columns or rg.total_byte_size < 0:
            raise InputError(f"{where}: row group {i} claims {rg.num_rows:,} rows, {rg.num_columns:,} columns and "
                             f"{rg.total_byte_size:,} bytes; expected at least 0 rows and bytes, and {md.num_columns} columns")
    cap = min(MAX_UNCOMPRESSED_BYTES, EXPANSION * size)
    if total_rows != md.num_rows or uncompressed > cap:
        raise InputError(f"{where}: its row groups claim {total_rows:,} rows and {uncompressed:,} bytes uncompressed; "
                         f"expected the file's {md.num_rows:,} rows and at most {cap:,} bytes")


# -- types and values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What one column accepts: its kind (``int``, ``float``, ``time``, ``text``, ``bool``), whether
    a row may be empty (null) or NaN, and the range of its values (``hi`` may name a limit given at
    check time: ``area`` the frame's pixels, ``rows`` the file's rows minus one)."""

    kind: str
    nulls: bool = False
    nan: bool = False
    lo: float | None = None
    hi: float | str | None = None
    what: str = ""
    """What the values are, for messages (e.g. ``a pixel count``)."""


_PX = "a pixel count"
FRAME_RULES: dict[str, Rule] = {
    "frame_id": Rule("int", lo=0, what="a frame id"),
    "run_id": Rule("int", lo=0, what="a run id"),
    "clip_sha256": Rule("text", what="a clip's SHA-256"),
    "camera_id": Rule("text", what="a camera id"),
    "district_id": Rule("text", nulls=True, what="a district id"),
    "frame_index": Rule("int", lo=0, hi=2**31 - 1, what="a frame index"),
    "t_s": Rule("float", lo=0, hi=MAX_SECONDS, what="seconds into the clip"),
    "ts": Rule("time", lo=(TIME_RANGE[0] - _EPOCH).total_seconds(), hi=(TIME_RANGE[1] - _EPOCH).total_seconds(), what="a time from 1900 to 2200"),
    "lon": Rule("float", nulls=True, lo=-180, hi=180, what="a longitude"),
    "lat": Rule("float", nulls=True, lo=-90, hi=90, what="a latitude"),
    "active": Rule("bool"),
    "synthetic": Rule("bool"),
    **{c: Rule("int", nulls=True, lo=0, hi="area", what=_PX) for c in GROUP_COLUMNS},
    "valid_px": Rule("int", lo=0, hi="area", what=_PX),
    **{f"n_{g}": Rule("int", lo=0, hi="area", what="an object count") for g in ("person", "two_wheeler", "vehicle")},
    **{c: Rule("float", nulls=True, nan=True, lo=0, hi=1, what="a share")
       for c in ("mean_confidence", "low_conf_share", "flicker", "vehicle_stationarity")},
    **{c: Rule("float", nulls=True, nan=True, lo=0, hi="area", what=_PX) for c in ("distress_crack_px", "distress_pothole_px")},
    "person_sidewalk_px": Rule("int", nulls=True, lo=0, hi="area", what=_PX),
    "lane_mark_share": Rule("float", nulls=True, nan=True, lo=0, hi=1, what="a share"),
    "curb_length_px": Rule("float", nulls=True, nan=True, lo=0, what="a length in pixels"),
    "low_trust": Rule("bool", nulls=True),
    "frame_pos": Rule("int", lo=0, hi="rows", what="a position in the clip"),
    "heading": Rule("float", nulls=True, lo=0, hi=360, what="a heading in degrees"),
}
"""Rules of the frame columns: those of the ``frames`` table, as :func:`export_frames` and clip files write them."""
CLIP_RULES: dict[str, Rule] = {
    **FRAME_RULES,
    "label_change": Rule("float", nulls=True, nan=True, lo=0, hi=1, what="a share"),
    "road_disagreement": Rule("float", nulls=True, nan=True, lo=0, hi=1, what="a share"),
}
"""Rules of a clip file's columns: :data:`FRAME_RULES` and the per-frame trust measurements that only clip
files keep (label change along motion, the road model's disagreement; null where not measured)."""


def kind_of(t: pa.DataType) -> str:
    """The kind of an Arrow type as :class:`Rule` names it (``other`` for lists, structs, ...).

    >>> kind_of(pa.int32()), kind_of(pa.float64()), kind_of(pa.timestamp("us")), kind_of(pa.large_string()), kind_of(pa.bool_())
    ('int', 'float', 'time', 'text', 'bool')
    """
    checks = (("int", pa.types.is_integer), ("float", pa.types.is_floating), ("time", pa.types.is_timestamp),
              ("text", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)), ("bool", pa.types.is_boolean))
    return next((name for name, test in checks if test(t)), "other")


_KIND_WORDS = {"int": "whole numbers", "float": "numbers", "time": "timestamps", "text": "text", "bool": "true/false"}


def check_types(path: Path, schema: pa.Schema, rules: Mapping[str, Rule], exact: Mapping[str, pa.DataType] | None = None) -> None:
    """Refuse a column whose Arrow type is not of its rule's kind (or, for ``exact``, not that type: nested columns).

    A column of Arrow's ``null`` type (every row empty, as DuckDB writes an all-NULL column) is
    accepted where the rule allows empty rows.
    """
    for field in schema:
        rule = rules.get(field.name)
        if rule is not None and kind_of(field.type) != rule.kind and not (rule.nulls and pa.types.is_null(field.type)):
            raise InputError(f"{_where(path)}: column {quote_value(field.name)} is {quote_value(field.type)}; "
                             f"expected {_KIND_WORDS[rule.kind]}" + (f" ({rule.what})" if rule.what else ""))
        want = (exact or {}).get(field.name)
        if want is not None and not _same_type(field.type, want):
            raise InputError(f"{_where(path)}: column {quote_value(field.name)} is {quote_value(field.type)}; expected {want}")
        if rule is not None and rule.kind == "time" and (field.type.unit != "us" or field.type.tz is not None):
            raise InputError(f"{_where(path)}: column {quote_value(field.name)} is {field.type}; expected timestamp[us] without a zone")


def _same_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Equal types, list item names aside (``item`` or ``element``)."""
    if pa.types.is_list(a) and pa.types.is_list(b):
        return _same_type(a.value_type, b.value_type)
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return a.num_fields == b.num_fields and all(
            a.field(i).name == b.field(i).name and _same_type(a.field(i).type, b.field(i).type) for i in range(a.num_fields)
        )
    return bool(a.equals(b))


def check_columns(path: Path, table: pa.Table | pa.RecordBatch, rules: Mapping[str, Rule], limits: Mapping[str, float]) -> None:
    """Check every value of ``table``'s columns that have a rule (see :func:`check_values`)."""
    for name in table.column_names:
        rule = rules.get(name)
        if rule is not None:
            check_values(f"{_where(path)}: column {quote_value(name)}", table.column(name), rule, limits)


def check_values(
    where: str, column: pa.Array | pa.ChunkedArray, rule: Rule, limits: Mapping[str, float], offset: int = 0, unit: str = "row"
) -> None:
    """Refuse a null (unless allowed), a NaN (unless allowed), an infinity, or a value outside the rule's range.

    ``limits``: the values of named bounds (``area``, ``rows``). Messages name the value's ``unit``
    (``row``, or ``entry`` of a list column) and number, plus ``offset``.
    """
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else np.zeros(len(column), bool)
    if nulls.any() and not rule.nulls:
        raise InputError(f"{where} is empty (null) in {unit} {int(np.argmax(nulls)) + offset}; expected {_accepted(rule, limits)}")
    if rule.kind not in ("int", "float", "time") or pa.types.is_null(column.type):
        return
    data = column.cast(pa.int64()) if rule.kind == "time" else column
    values = data.to_numpy(zero_copy_only=False).astype(np.float64)
    if rule.kind == "time":
        values = values / 1e6  # microseconds to seconds since 1970
    bad = ~nulls & ~np.isfinite(values)
    if rule.nan:
        bad &= ~np.isnan(values)
    lo = -np.inf if rule.lo is None else rule.lo
    hi = np.inf if rule.hi is None else limits[rule.hi] if isinstance(rule.hi, str) else rule.hi
    with np.errstate(invalid="ignore"):
        bad |= ~nulls & ((values < lo) | (values > hi))
    if bad.any():
        row = int(np.argmax(bad))
        shown = data.to_pylist()[row] if rule.kind != "time" else values[row]
        raise InputError(f"{where} holds {quote_value(shown)} in {unit} {row + offset}; expected {_accepted(rule, limits)}")


def _accepted(rule: Rule, limits: Mapping[str, float]) -> str:
    """What a rule accepts, in words.

    >>> _accepted(Rule("float", nulls=True, nan=True, lo=0, hi="area", what="a pixel count"), {"area": 10000})
    'a pixel count from 0 to 10,000, or NaN/empty (not measured)'
    """
    if rule.kind == "time":
        return rule.what or "a time"
    if rule.kind not in ("int", "float"):
        return f"{rule.what or _KIND_WORDS[rule.kind]} in every row"
    hi = limits[rule.hi] if isinstance(rule.hi, str) else rule.hi
    span = f" from {_num(rule.lo)} to {_num(hi)}" if rule.lo is not None and hi is not None else ""
    text = f"{rule.what or 'a finite number'}{span}"
    if rule.nan:
        return text + ", or NaN/empty (not measured)"
    return text + (", or empty" if rule.nulls else "")


def _num(x: float) -> str:
    """A bound in messages: whole numbers with thousands separators, others as ``g``.

    >>> _num(10000), _num(0.5), _num(-180)
    ('10,000', '0.5', '-180')
    """
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


# -- clip files: their metadata and list columns ---------------------------------------------------

MAX_CLIP_ROWS = 1_000_000
"""Sampled frames in one clip file (an hour at 30 frames a second is 108,000)."""
MAX_SIDE = 32768
MAX_TEXT = 4096
"""Longest text accepted in a clip's metadata (a label, a path, a model name)."""

_CLIP_FIELDS: dict[str, str] = {
    "sha256": "sha", "camera_id": "text", "start_time": "time", "duration_s": "seconds", "fps": "fps", "width": "side",
    "height": "side", "n_frames": "count", "source": "source", "label": "text", "source_path": "path",
}
_RUN_FIELDS: dict[str, str] = {
    "model_name": "text", "weights_sha256": "text", "class_set": "classes", "sampling": "text", "smoothing": "text",
    "code_version": "text", "params": "params",
}
_ACCEPTS = {
    "sha": "64 lowercase hex digits", "text": f"text of at most {MAX_TEXT:,} characters", "time": "an ISO time from 1900 to 2200",
    "seconds": f"a number of seconds from 0 to {MAX_SECONDS:,.0f}", "fps": "a frame rate above 0 and at most 1,000",
    "side": f"a whole number of pixels from 1 to {MAX_SIDE:,}", "count": "a whole number from 0 to 2,147,483,647",
    "source": "'footage' or 'synthetic'", "path": "an absolute path or null",
    "classes": "an object with a name and 1 to 255 classes, each a name and an indicator group",
    "params": "an object",
}


def _field_ok(kind: str, value: object) -> bool:
    """``value`` is of the metadata field kind ``kind`` (see ``_ACCEPTS`` for each in words)."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    whole = isinstance(value, int) and not isinstance(value, bool)
    checks = {
        "sha": lambda v: isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v),
        "text": lambda v: isinstance(v, str) and len(v) <= MAX_TEXT,
        "time": lambda v: isinstance(v, str) and len(v) <= 64 and _iso_time(v) is not None,
        "seconds": lambda v: number and 0 <= v <= MAX_SECONDS,
        "fps": lambda v: number and 0 < v <= 1000,
        "side": lambda v: whole and 1 <= v <= MAX_SIDE,
        "count": lambda v: whole and 0 <= v <= 2**31 - 1,
        "source": lambda v: v in ("footage", "synthetic"),
        "path": lambda v: v is None or (isinstance(v, str) and 0 < len(v) <= MAX_TEXT),
        "classes": _class_set_ok,
        "params": lambda v: isinstance(v, dict),
    }
    return bool(checks[kind](value))


def _iso_time(text: str) -> datetime | None:
    """``text`` as a time from 1900 to 2200 (ISO 8601), else None.

    >>> _iso_time("2024-05-01T08:00:00"), _iso_time("soon"), _iso_time("9999-01-01")
    (datetime.datetime(2024, 5, 1, 8, 0), None, None)
    """
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if TIME_RANGE[0] <= t.replace(tzinfo=None) < TIME_RANGE[1] else None


def _class_set_ok(v: object) -> bool:
    if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not isinstance(v.get("classes"), list):
        return False
    classes = v["classes"]
    return 0 < len(classes) <= 255 and all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and len(c["name"]) <= 200 and c.get("group") in GROUPS
        for c in classes
    )


def check_clip_meta(path: Path, meta: object, clip_format: str) -> dict[str, object]:
    """A clip file's metadata (``format``, ``settings_key``, ``clip``, ``run``) checked field by field: each of
    the clip's fields present with its type and range, the run's fields with theirs; returned as is."""
    where = _where(path)
    if not isinstance(meta, dict) or meta.get("format") != clip_format or not {"clip", "run", "settings_key"} <= set(meta):
        raise InputError(f"{where}: no {clip_format!r} metadata (clip and run); not written by `urbanlens ingest --engine ray`")
    if not _field_ok("sha", meta["settings_key"]):
        raise InputError(f"{where}: metadata settings_key is {quote_value(meta['settings_key'])}; expected {_ACCEPTS['sha']}")
    for part, fields in (("clip", _CLIP_FIELDS), ("run", _RUN_FIELDS)):
        record = meta[part]
        if not isinstance(record, dict):
            raise InputError(f"{where}: metadata {part} is {quote_value(record)}; expected an object")
        extra = sorted(set(record) - set(fields)) if part == "clip" else []
        if extra:
            raise InputError(f"{where}: metadata clip has unknown field(s) {quote_value(', '.join(map(str, extra)))}; "
                             f"expected {', '.join(fields)}")
        for key, kind in fields.items():
            if key not in record:
                raise InputError(f"{where}: metadata {part} has no {key}; expected {_ACCEPTS[kind]}")
            if not _field_ok(kind, record[key]):
                raise InputError(f"{where}: metadata {part} {key} is {quote_value(record[key])}; expected {_ACCEPTS[kind]}")
    return meta


def pixel_limit(clip: Mapping[str, object], params: Mapping[str, object]) -> int:
    """Most pixels a sampled frame's counts may add up to: the frame's (width x height), or the
    model's input (``params["input"]``, ``HxW``) when larger, as counts are taken on the label map.

    >>> pixel_limit({"width": 100, "height": 100}, {}), pixel_limit({"width": 16, "height": 16}, {"input": "512x1024"})
    (10000, 524288)
    """
    area = int(clip["width"]) * int(clip["height"])  # type: ignore[call-overload]
    model = params.get("input")
    if isinstance(model, str) and "x" in model:
        h, _, w = model.partition("x")
        if h.isdigit() and w.isdigit() and len(h) <= 5 and len(w) <= 5:
            area = max(area, int(h) * int(w))
    return min(area, MAX_FRAME_PIXELS)


def check_clip_lists(path: Path, table: pa.Table, num_classes: int, area: int) -> None:
    """The list columns of a clip file: ``class_pixels`` holds ``num_classes`` counts a row, each from
    0 to ``area`` and together at most ``area``; ``objects`` and ``zone_pixels`` hold entries whose
    groups, classes, boxes and pixels are in range. Nothing empty (null) anywhere."""
    where = _where(path)
    limits = {"area": area, "side": MAX_SIDE, "class": num_classes - 1}
    pixels = _list_column(where, table, "class_pixels")
    _check_per_class(where, "class_pixels", pixels, num_classes, limits)
    sums = pixels.flatten().to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, num_classes).sum(axis=1)
    if (sums > area).any():
        row = int(np.argmax(sums > area))
        raise InputError(f"{where}: column 'class_pixels' adds up to {sums[row]:,.0f} pixels in row {row}; "
                         f"expected at most the frame's {area:,}")
    box = Rule("int", lo=0, hi="side", what="a box coordinate")
    _check_entries(where, "objects", _list_column(where, table, "objects"), {
        "group": Rule("text", what="an object group"), **{k: box for k in ("x0", "y0", "x1", "y1")},
        "area_px": Rule("int", lo=0, hi="area", what=_PX)}, limits)
    groups = pc.unique(_list_column(where, table, "objects").flatten().field("group")).to_pylist()
    unknown = [g for g in groups if g not in ("person", "two_wheeler", "vehicle")]
    if unknown:
        raise InputError(f"{where}: column 'objects' names the group {quote_value(unknown[0])}; expected person, two_wheeler or vehicle")
    if "own_class_pixels" in table.column_names:
        _check_own_pixels(where, table.column("own_class_pixels").combine_chunks(), num_classes, limits)
    _check_entries(where, "zone_pixels", _list_column(where, table, "zone_pixels"), {
        "zone": Rule("text", what="a zone name"), "role": Rule("text", what="a zone role"),
        "class_id": Rule("int", lo=0, hi="class", what="a class id"), "pixels": Rule("int", lo=0, hi="area", what=_PX)}, limits)


def _check_own_pixels(where: str, own: pa.ListArray, num_classes: int, limits: Mapping[str, float]) -> None:
    """``own_class_pixels`` (the segmenter's own pixels per class where a road model ran): null in every row or
    in none, ``num_classes`` counts a row, each a pixel count."""
    if own.null_count == len(own):
        return
    if own.null_count:
        raise InputError(f"{where}: column 'own_class_pixels' is empty (null) in row {int(np.argmax(own.is_null().to_numpy(zero_copy_only=False)))}; "
                         "expected counts in every row or in none")
    _check_per_class(where, "own_class_pixels", own, num_classes, limits)


def _check_per_class(where: str, name: str, pixels: pa.ListArray, num_classes: int, limits: Mapping[str, float]) -> None:
    """A list column of pixels per class: ``num_classes`` counts a row, each from 0 to the frame's pixels."""
    lengths = pc.list_value_length(pixels).to_numpy(zero_copy_only=False)
    if (lengths != num_classes).any():
        row = int(np.argmax(lengths != num_classes))
        raise InputError(f"{where}: column {name!r} holds {int(lengths[row])} counts in row {row}; "
                         f"expected one per class of the run's class set ({num_classes})")
    _check_entries(where, name, pixels, {"": Rule("int", lo=0, hi="area", what=_PX)}, limits)


def _list_column(where: str, table: pa.Table, name: str) -> pa.ListArray:
    arr = table.column(name).combine_chunks()
    if arr.null_count:
        row = int(np.argmax(arr.is_null().to_numpy(zero_copy_only=False)))
        raise InputError(f"{where}: column {name!r} is empty (null) in row {row}; expected a list in every row")
    return arr


def _check_entries(where: str, name: str, lists: pa.ListArray, rules: Mapping[str, Rule], limits: Mapping[str, float]) -> None:
    """Check the entries of a list column (``rules[""]`` for plain values, else one rule per struct field)."""
    flat = lists.flatten()
    if "" in rules:
        check_values(f"{where}: column {name!r}", flat, rules[""], limits, unit="entry")
        return
    if flat.null_count:
        raise InputError(f"{where}: column {name!r} holds an empty (null) entry; expected {', '.join(rules)} in each")
    for key, rule in rules.items():
        check_values(f"{where}: column {name!r} field {key!r}", flat.field(key), rule, limits, unit="entry")
