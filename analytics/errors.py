"""UrbanLens errors: small subclasses of built-in exceptions.

Every error raised on purpose by UrbanLens is one of these, so the CLI and the
dashboard can show one clear line instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "UrbanLensError",
    "InputError",
    "DataFormatError",
    "StoreError",
    "SchemaVersionError",
    "ModelError",
    "ChecksumError",
    "UnsafeFileError",
    "VideoError",
    "Cancelled",
    "quote_value",
]


class UrbanLensError(Exception):
    """Base class of every error UrbanLens raises on purpose."""


class InputError(UrbanLensError, ValueError):
    """A value given by a person (argument, file, setting) is not acceptable."""


class DataFormatError(InputError):
    """A file's content is malformed (CSV, GeoJSON, image, video, checkpoint)."""


class StoreError(UrbanLensError, RuntimeError):
    """The database cannot be opened, upgraded or written."""


class SchemaVersionError(StoreError):
    """The database was written by a newer UrbanLens than this one."""


class ModelError(UrbanLensError, RuntimeError):
    """A model is missing, corrupt, or disagrees with its card."""


class ChecksumError(ModelError):
    """A downloaded or mirrored file does not have the pinned SHA-256."""


class UnsafeFileError(ModelError):
    """A checkpoint asks for something a plain tensor state_dict never needs."""


class VideoError(InputError):
    """A clip cannot be opened or decoded."""


class Cancelled(UrbanLensError):
    """A long-running job was cancelled by its caller."""


_NAMED_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    """One character as it stands between single quotes: printable as itself, the rest escaped."""
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quote_value(value: object, limit: int = 80) -> str:
    r"""A value from a file, a link or an option, quoted for a one-line message.

    Single quotes; every control, format or non-printable character escaped (newlines, NUL,
    text-direction overrides, lone surrogates), so the quotation stays on one line and shows what
    is there; at most ``limit`` characters of escaped text: a longer value is cut there, ends in
    ``…``, and its length follows. Bytes are shown as Latin-1 text with a ``b`` prefix and counted
    in bytes; any other value as its ``str``.

    >>> print(quote_value("abc"))
    'abc'
    >>> print(quote_value("a\nb\x00\u202e'"))
    'a\nb\x00\u202e\''
    >>> print(quote_value("x" * 262_296, limit=3))
    'xxx…' (262,296 characters)
    >>> print(quote_value(b"\x89PNG\r\n", limit=6))
    b'\x89PN…' (6 bytes)
    >>> print(quote_value(float("nan")), quote_value(-1437353))
    'nan' '-1437353'
    """
    is_bytes = isinstance(value, bytes | bytearray)
    text = bytes(value).decode("latin-1") if isinstance(value, bytes | bytearray) else str(value)
    prefix, unit = ("b", "bytes") if is_bytes else ("", "characters")
    out: list[str] = []
    used = 0
    for ch in text:
        piece = _escape(ch)
        if used + len(piece) > limit:
            return f"{prefix}'{''.join(out)}…' ({len(text):,} {unit})"
        out.append(piece)
        used += len(piece)
    return f"{prefix}'{''.join(out)}'"
