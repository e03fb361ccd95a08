"""Hostile archives and images made at test time: zips whose headers lie, PNGs that claim huge sizes.

A deflate stream of ``n`` zero bytes is built from one compressed piece repeated (each piece ends
with a full flush, so pieces join into one valid stream): a gigabyte of zeros is about 1 MB of
stream and takes no time to make.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from analytics.evaluation.cvat import PackageFrame, package_files

__all__ = [
    "ZipEntry",
    "cvat_files",
    "deflated",
    "evaluate_with_label_map",
    "huge_png",
    "import_climbing_member",
    "import_huge_png",
    "import_lying_member",
    "import_many_labels",
    "lying_zeros",
    "png",
    "ray_manifest",
    "write_raw_zip",
    "zero_deflate",
]

_PIECE = 1 << 24

ZipEntry = tuple[str, bytes, int, int, int]
"""(name, stored bytes, method (0 stored, 8 deflate), CRC-32, declared uncompressed size)."""


def _zero_piece(n: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(bytes(n)) + c.flush(zlib.Z_FULL_FLUSH)


def zero_deflate(n: int) -> bytes:
    """A raw deflate stream of ``n`` zero bytes."""
    whole, rest = divmod(n, _PIECE)
    body = _zero_piece(_PIECE) * whole + (_zero_piece(rest) if rest else b"")
    return body + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def _zero_crc(n: int) -> int:
    crc, block = 0, bytes(_PIECE)
    whole, rest = divmod(n, _PIECE)
    for _ in range(whole):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(rest), crc)


def deflated(name: str, data: bytes) -> ZipEntry:
    """An honest deflated member."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), 8, zlib.crc32(data), len(data)


def lying_zeros(name: str, real: int, declared: int) -> ZipEntry:
    """A member that inflates to ``real`` zero bytes but declares ``declared``."""
    return name, zero_deflate(real), 8, _zero_crc(real), declared


def write_raw_zip(path: Path, entries: list[ZipEntry]) -> Path:
    """A zip written field by field, so a member may declare any size."""
    body, directory = bytearray(), bytearray()
    for name, stored, method, crc, size in entries:
        raw = name.encode()
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(stored), size, len(raw), 0) + raw + stored
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(stored), size, len(raw), 0, 0, 0,
                                 0, 0, offset) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(side: int) -> bytes:
    """A valid RGB PNG of ``side`` x ``side`` black pixels (18,500: about 1 MB that decodes to 1 GB)."""
    n = side * (1 + 3 * side)  # each row: its filter byte, then the pixels
    adler = ((n % 65521) << 16) | 1  # Adler-32 of n zero bytes
    idat = b"\x78\xda" + zero_deflate(n) + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def cvat_files(n: int = 2, classes: tuple[str, ...] = ("Road", "Tree")) -> dict[str, bytes]:
    """The files of a small valid CVAT package (``n`` frames of 8 x 12 pixels)."""
    rng = np.random.default_rng(7)
    frames = [PackageFrame(f"f{i}", rng.integers(0, 256, (8, 12, 3)).astype(np.uint8),
                           rng.integers(0, len(classes), (8, 12)).astype(np.uint8)) for i in range(n)]
    colours = [(128, 64, 128), (107, 142, 35), (0, 0, 142)][: len(classes)]
    return package_files(frames, list(classes), colours)


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


# -- builders for the hostile-input table: (folder, database) -> the command's arguments ------------------


def _cvat_zip(folder: Path, entries: list[ZipEntry], name: str = "export.zip") -> str:
    return str(write_raw_zip(folder / name, entries))


def import_lying_member(folder: Path, db: Path) -> list[str]:
    """A CVAT export whose mask inflates to 64 MB while its headers declare 1,000 bytes."""
    files = cvat_files(n=1)
    entries = [deflated(k, v) for k, v in sorted(files.items()) if k != "SegmentationClass/f0.png"]
    entries.append(lying_zeros("SegmentationClass/f0.png", 64 << 20, 1000))
    return ["annotate", "import", _cvat_zip(folder, entries)]


def import_huge_png(folder: Path, db: Path) -> list[str]:
    """A CVAT export whose frame is a 1 MB PNG of 18,500 x 18,500 pixels."""
    files = cvat_files(n=1)
    files["JPEGImages/f0.png"] = huge_png(18_500)
    return ["annotate", "import", _cvat_zip(folder, [deflated(k, v) for k, v in files.items()])]


def import_many_labels(folder: Path, db: Path) -> list[str]:
    """A CVAT export whose labelmap.txt lists 1,100 labels (more than 8-bit class ids hold)."""
    files = cvat_files(n=1)
    files["labelmap.txt"] = ("background:0,0,0::\n" + "\n".join(f"c{i}:{i % 256},{i // 256},7::" for i in range(1_100))).encode()
    return ["annotate", "import", _cvat_zip(folder, [deflated(k, v) for k, v in files.items()])]


def import_climbing_member(folder: Path, db: Path) -> list[str]:
    """A CVAT export with a member named ../../evil.png."""
    files = cvat_files(n=1)
    files["../../evil.png"] = b"x"
    return ["annotate", "import", _cvat_zip(folder, [deflated(k, v) for k, v in files.items()])]


def evaluate_with_label_map(text: bytes) -> Callable[[Path, Path], list[str]]:
    """``evaluate`` of the colour model on a small valid CVAT export with the label map ``text``."""

    def build(folder: Path, db: Path) -> list[str]:
        export = _cvat_zip(folder, [deflated(k, v) for k, v in cvat_files(n=1).items()])
        (folder / "map.json").write_bytes(text)
        return ["evaluate", "--model", "colours", "--road-model", "none", "--format", "cvat-mask", "--masks", export, "--label-map", str(folder / "map.json"),
                "--no-store", "--db", str(db)]

    return build


def ray_manifest(data: bytes) -> Callable[[Path, Path], list[str]]:
    """``ingest --engine ray --manifest`` of a manifest holding ``data``."""

    def build(folder: Path, db: Path) -> list[str]:
        (folder / "clips.csv").write_bytes(data)
        return ["ingest", "--engine", "ray", "--manifest", str(folder / "clips.csv"), "--model", "colours", "--road-model", "none", "--db", str(db)]

    return build
