"""Reading text nobody vouches for: capped quotation in messages, JSON bounded in size and nesting.

:func:`quote_value` (from :mod:`analytics.errors`) shows a value a person or a file gave in one
line, at most ``limit`` characters of it (control and non-printable characters escaped), with the
full length stated when it was cut; :func:`shown_name` uses it for names. :func:`load_json`
parses JSON only after checking its size and, with a scan that costs one pass over the bytes, how
deeply it nests (so no parser recursion is ever reached), and rejects ``NaN``
and ``Infinity`` (Python's reader accepts them; JSON does not) and integers too long to convert.
Every refusal is a :class:`~analytics.errors.DataFormatError` naming ``what`` was read.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import DataFormatError, InputError, quote_value

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "json_depth", "load_json", "read_card_data", "shown_name"]

MAX_JSON_BYTES = 16 * 1024 * 1024
"""Default largest JSON text read (bytes)."""
MAX_JSON_DEPTH = 64
"""Default deepest nesting of arrays and objects read."""

_CHUNK = 1 << 22
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def shown_name(name: str) -> str:
    """A file or label name in a message: as it is when short and printable, else :func:`quote_value`.

    >>> print(shown_name("export.zip"), shown_name("a\\u202eb"))
    export.zip 'a\\u202eb'
    """
    return name if name.isprintable() and len(name) <= 80 else quote_value(name)


def json_depth(data: bytes) -> int:
    """How deeply the arrays and objects of JSON text nest (brackets inside strings do not count).

    One pass: strings are dropped, then the running count of ``[{`` less ``]}`` is taken.

    >>> json_depth(b'{"a": [1, [2]], "b": "[[[["}'), json_depth(b"[" * 5000), json_depth(b"1")
    (3, 5000, 0)
    """
    bare = np.frombuffer(_STRING.sub(b"", data), np.uint8)
    deepest, level = 0, 0
    for at in range(0, bare.size, _CHUNK):  # in pieces: the running count never needs the whole text's size in int32
        part = bare[at:at + _CHUNK]
        step = ((part == ord("[")) | (part == ord("{"))).astype(np.int32) - ((part == ord("]")) | (part == ord("}")))
        running = np.cumsum(step) + level
        deepest, level = max(deepest, int(running.max())), int(running[-1])
    return deepest


class _NotANumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in JSON text."""


def _no_constant(name: str) -> Any:
    raise _NotANumber(name)


def load_json(data: str | bytes, what: str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text that is UTF-8, at most ``max_bytes`` long and nested at most ``max_depth`` deep.

    >>> load_json(b'{"car": "Car"}', "label map")
    {'car': 'Car'}
    >>> load_json(b"[" * 100 + b"]" * 100, "label map")
    Traceback (most recent call last):
    ...
    analytics.errors.DataFormatError: label map nests arrays or objects too deeply (100 levels; at most 64 are read)
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise DataFormatError(f"{what} is {len(raw):,} bytes; at most {max_bytes:,} are read")
    try:
        text = data if isinstance(data, str) else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    depth = json_depth(raw)
    if depth > max_depth:
        raise DataFormatError(f"{what} nests arrays or objects too deeply ({depth} levels; at most {max_depth} are read)")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except _NotANumber as exc:
        raise DataFormatError(f"{what}: {exc} is not a number JSON allows; numbers must be finite") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{what} is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # an integer too long to convert; nesting the scan did not see
        raise DataFormatError(f"{what} cannot be read as JSON: {quote_value(exc)}") from None


def read_card_data(path: str | Path, what: str, max_bytes: int) -> Any:
    """The parsed contents of a model card file (``.json``, else TOML) of at most ``max_bytes``:
    :class:`InputError` when it is missing, :class:`DataFormatError` when too large or unparsable,
    each naming ``what`` (``"road card"``, ``"detector card"``) and the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(p)!r} does not exist")
    if p.stat().st_size > max_bytes:
        raise DataFormatError(f"{what} {p.name!r} is {p.stat().st_size:,} bytes; at most {max_bytes:,} are read")
    text = p.read_bytes().decode("utf-8", errors="replace")
    try:
        return json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataFormatError(f"{what} {p.name!r} cannot be parsed: {quote_value(exc, 200)}") from None
