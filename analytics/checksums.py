"""SHA-256 of files: one way to hash a file and one way to check it against a pinned value.

Clips are identified by the hash of their bytes, installed models by the hash of their ONNX file,
and fetched weights are checked against the hash their model card pins; all of them go through
:func:`sha256_file`, read in chunks so memory stays flat for a file of any size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from analytics.errors import Cancelled, ChecksumError, InputError

__all__ = ["CHUNK_BYTES", "sha256_file", "verify_sha256"]

CHUNK_BYTES = 1 << 20
"""Bytes read at a time (1 MiB)."""


def sha256_file(path: str | Path, chunk: int = CHUNK_BYTES, cancelled: Callable[[], bool] | None = None) -> str:
    """Hex SHA-256 of a file's bytes, read ``chunk`` bytes at a time.

    ``cancelled`` is asked after every chunk; when it returns True,
    :class:`~analytics.errors.Cancelled` is raised naming the file.

    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    >>> sha256_file(f.name, chunk=0)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: chunk=0: give a positive number of bytes to read at a time
    >>> os.unlink(f.name)
    """
    if not isinstance(chunk, int) or chunk <= 0:
        raise InputError(f"chunk={chunk!r}: give a positive number of bytes to read at a time")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            if cancelled is not None and cancelled():
                raise Cancelled(f"{Path(path).name}: cancelled while reading the file")
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str | None, origin: str) -> Path:
    """Return ``path`` if its SHA-256 is ``expected`` (or nothing is pinned, ``expected=None``).

    Otherwise :class:`~analytics.errors.ChecksumError` names ``origin`` (where the file came
    from) and both hashes.

    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> verify_sha256(f.name, "0" * 64, "mirror file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics.errors.ChecksumError: mirror file: SHA-256 is ba7816bf...ad, expected 000...0; the file is corrupt or not the pinned version
    >>> os.unlink(f.name)
    """
    p = Path(path)
    if expected is None:
        return p
    got = sha256_file(p)
    if got != expected:
        raise ChecksumError(f"{origin}: SHA-256 is {got}, expected {expected}; the file is corrupt or not the pinned version")
    return p
