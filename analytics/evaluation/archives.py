"""Zip archives read as untrusted input: what a zip's headers claim is checked before it costs anything.

- The central directory (which Python's ``zipfile`` reads whole when it opens an archive) is at
  most :data:`MAX_DIRECTORY_BYTES`, checked from the end record before ``zipfile`` reads it.
- At most :data:`MAX_MEMBERS` members; none whose path is absolute, names a drive or climbs out
  with ``..``; none declared over :data:`MAX_MEMBER_BYTES`; all together declared at most
  :data:`MAX_TOTAL_BYTES`.
- A member is read as a stream, in pieces of at most 1 MiB, and refused as soon as it has produced
  more than it declared (a member whose header lies about its size), so the bytes produced never
  exceed ``min(declared size, limit)`` whatever the compressed data holds.

Every refusal is a :class:`~analytics.errors.DataFormatError` naming the archive and member.
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from analytics.errors import DataFormatError, quote_value
from analytics.untrusted import shown_name

__all__ = [
    "MAX_DIRECTORY_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "extract_zip",
    "read_member",
    "zip_members",
]

MAX_MEMBER_BYTES = 256 * 1024 * 1024
"""Largest zip member read (bytes produced, uncompressed)."""
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
"""Largest total of the members' declared (uncompressed) sizes."""
MAX_MEMBERS = 50_000
"""Most members (files and folders) an archive may hold."""
MAX_DIRECTORY_BYTES = 16 * 1024 * 1024
"""Largest central directory (the list of members) read."""

_CHUNK = 1 << 20
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError,
              RuntimeError, zlib.error, lzma.LZMAError)
"""What ``zipfile`` and its decompressors raise on damaged, encrypted or unsupported data."""


def _directory_size(path: Path) -> int | None:
    """The central directory's size as the end record (or its zip64 record) declares it; None when
    no end record is found (``zipfile`` then says the file is not a zip)."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        start = max(0, size - _EOCD.size - 0xFFFF)
        f.seek(start)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return None
        directory: int = _EOCD.unpack_from(tail, at)[5]
        loc = at - _LOCATOR.size
        if loc >= 0 and tail[loc:loc + 4] == b"PK\x06\x07":
            f.seek(min(_LOCATOR.unpack_from(tail, loc)[2], size))
            record = f.read(_EOCD64.size)
            if len(record) == _EOCD64.size and record[:4] == b"PK\x06\x06":
                directory = max(directory, _EOCD64.unpack(record)[8])
        return directory


def _refuse(path: Path, why: str) -> DataFormatError:
    return DataFormatError(f"refusing {shown_name(path.name)}: {why}")


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in PurePosixPath(name).parts:
        raise _refuse(path, f"member {quote_value(info.filename)} points outside the archive")
    if info.file_size > MAX_MEMBER_BYTES:
        raise _refuse(path, f"member {quote_value(info.filename)} is {info.file_size / 1e6:,.0f} MB, over the "
                            f"{MAX_MEMBER_BYTES / 1e6:,.0f} MB limit")


def zip_members(path: Path) -> list[zipfile.ZipInfo]:
    """The members of the zip at ``path`` (folders included), every limit of this module checked."""
    try:
        directory = _directory_size(path)
        if directory is not None and directory > MAX_DIRECTORY_BYTES:
            raise _refuse(path, f"its list of members is {directory:,} bytes; at most {MAX_DIRECTORY_BYTES:,} are read")
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except DataFormatError:
        raise
    except _ZIP_ERRORS as exc:
        raise DataFormatError(f"{shown_name(path.name)} is not a readable zip file: {quote_value(exc)}") from None
    if len(infos) > MAX_MEMBERS:
        raise _refuse(path, f"it holds {len(infos):,} members; at most {MAX_MEMBERS:,} are read")
    for info in infos:
        _check_member(path, info)
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise _refuse(path, f"its members add up to {total / 1e9:,.1f} GB; at most {MAX_TOTAL_BYTES / 1e9:,.1f} GB are read")
    return infos


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, limit: int, emit: Callable[[bytes], object]) -> int:
    """Hand ``info``'s bytes to ``emit`` in pieces; the count produced, refused as soon as it passes
    ``min(declared size, limit)``."""
    cap = min(info.file_size, limit)
    got = 0
    with zf.open(info) as f:
        while chunk := f.read(min(_CHUNK, cap + 1 - got)):
            got += len(chunk)
            if got > cap and cap == info.file_size:
                raise _refuse(path, f"member {quote_value(info.filename)} produces more than the {cap:,} bytes it declares")
            if got > cap:
                raise _refuse(path, f"member {quote_value(info.filename)} is over the {limit:,}-byte limit")
            emit(chunk)
    return got


def read_member(path: Path, member: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """The bytes of ``member`` of the zip at ``path``: at most ``limit`` and never more than it declares."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            _check_member(path, info)
            chunks: list[bytes] = []
            _stream(zf, info, path, limit, chunks.append)
    except DataFormatError:
        raise
    except KeyError:
        raise _refuse(path, f"it has no member {quote_value(member)}") from None
    except _ZIP_ERRORS as exc:
        raise DataFormatError(f"{shown_name(path.name)}: member {quote_value(member)} cannot be read (damaged, or its headers "
                              f"lie about its size): {quote_value(exc)}") from None
    return b"".join(chunks)


def extract_zip(path: Path, into: Path) -> Path:
    """Unpack the zip at ``path`` into the folder ``into`` (every limit checked, each member streamed)."""
    infos = zip_members(path)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in infos:
                target = into.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out:
                    _stream(zf, info, path, MAX_MEMBER_BYTES, out.write)
    except DataFormatError:
        raise
    except _ZIP_ERRORS as exc:
        raise DataFormatError(f"{shown_name(path.name)} cannot be unpacked: {quote_value(exc)}") from None
    return into
