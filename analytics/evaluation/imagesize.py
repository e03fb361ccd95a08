"""Image sizes read from the file's header, so an image too large to decode is refused before decoding.

A PNG states its size in its IHDR chunk, a JPEG in its start-of-frame segment, a BMP in its info
header, a WebP in its VP8/VP8L/VP8X chunk, a TIFF in the width and length tags of its first image.
:func:`decode_image` decodes with OpenCV only an image whose header it has read and whose
``width x height`` is at most :data:`MAX_IMAGE_PIXELS` (8192 x 8192, 67,108,864 pixels; a colour
image of that size decodes to 192 MiB). Anything else is a :class:`~analytics.errors.DataFormatError`
naming the file.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from analytics.errors import DataFormatError
from analytics.untrusted import shown_name

__all__ = ["MAX_IMAGE_PIXELS", "check_image_size", "decode_image", "image_size"]

MAX_IMAGE_PIXELS = 8192 * 8192
"""Most pixels (width x height) an image may have to be decoded."""

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # JPEG start-of-frame markers (not DHT, JPG, DAC)
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack_from(">II", data, 16)
    return w, h


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """Walk the segments from the start of image to the first start-of-frame."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        length = struct.unpack_from(">H", data, at + 2)[0]
        if marker in _SOF:
            if at + 9 > len(data):
                return None
            h, w = struct.unpack_from(">HH", data, at + 5)
            return w, h
        if length < 2:
            return None
        at += 2 + length
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    if struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 core header: 16-bit sizes
        w, h = struct.unpack_from("<HH", data, 18)
        return w, h
    w, h = struct.unpack_from("<ii", data, 18)
    return w, abs(h)


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack_from("<HH", data, 26)
        return w & 0x3FFF, h & 0x3FFF
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    end = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return None
    ifd = struct.unpack_from(end + "I", data, 4)[0]
    if ifd + 2 > len(data):
        return None
    count = struct.unpack_from(end + "H", data, ifd)[0]
    found: dict[int, int] = {}
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(data):
            return None
        tag, kind = struct.unpack_from(end + "HH", data, entry)
        if tag in (_TIFF_WIDTH, _TIFF_LENGTH):
            found[tag] = struct.unpack_from(end + ("H" if kind == 3 else "I"), data, entry + 8)[0]
    if _TIFF_WIDTH in found and _TIFF_LENGTH in found:
        return found[_TIFF_WIDTH], found[_TIFF_LENGTH]
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header; None when the header is not one read here.

    >>> ok, png = cv2.imencode(".png", np.zeros((3, 5), np.uint8)); ok, jpg = cv2.imencode(".jpg", np.zeros((7, 2, 3), np.uint8))
    >>> image_size(png.tobytes()), image_size(jpg.tobytes()), image_size(b"not an image")
    ((5, 3), (2, 7), None)
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:2] == b"BM":
        return _bmp(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    return None


def check_image_size(data: bytes, name: str) -> tuple[int, int]:
    """The image's ``(width, height)`` from its header; DataFormatError when there is none or it is
    larger than :data:`MAX_IMAGE_PIXELS`."""
    size = image_size(data)
    if size is None:
        raise DataFormatError(f"image {shown_name(name)} is not a PNG, JPEG, BMP, WebP or TIFF image whose size can be read")
    w, h = size
    if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
        raise DataFormatError(f"image {shown_name(name)} is {w:,} x {h:,} pixels; at most {MAX_IMAGE_PIXELS:,} pixels "
                              "(8192 x 8192) are decoded")
    return size


def decode_image(data: bytes, name: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode ``data`` with OpenCV (``flags``) after :func:`check_image_size`."""
    check_image_size(data, name)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        image = None
    if image is None:
        raise DataFormatError(f"image {shown_name(name)} is not an image OpenCV can read")
    return image
