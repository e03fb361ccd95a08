"""Synthetic clips for the tests, written in tmp folders: frames whose content says their index."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

Painter = Callable[[int, int, int], np.ndarray]
W, H = 128, 64
"""Size of :func:`street` clips."""


def index_frame(i: int, width: int = 64, height: int = 48) -> np.ndarray:
    """BGR frame whose left half has grey level ``20 + 7 * (i % 30)`` (read back by :func:`read_index`)."""
    img = np.full((height, width, 3), 128, np.uint8)
    img[:, : width // 2] = 20 + 7 * (i % 30)
    img[: height // 4, width // 2 :] = (0, 0, 255)  # a red corner: top right, to check rotation
    return img


def read_index(image: np.ndarray) -> int:
    """The index (mod 30) painted by :func:`index_frame`."""
    h, w = image.shape[:2]
    v = float(np.median(image[h // 4 : 3 * h // 4, w // 8 : 3 * w // 8]))
    return int(round((v - 20) / 7)) % 30


def write_cv2(path: Path, n: int, fps: float = 10.0, size: tuple[int, int] = (64, 48), fourcc: str = "MJPG",
              paint: Painter | None = None) -> Path:
    """Write ``n`` frames with OpenCV's VideoWriter (``fourcc`` e.g. MJPG for .avi, mp4v for .mp4)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for i in range(n):
        writer.write(paint(i, w, h) if paint else index_frame(i, w, h))
    writer.release()
    return path


def write_av(path: Path, n: int, fps: int = 10, size: tuple[int, int] = (64, 48), codec: str = "libx264",
             gop: int | None = None, rotation: int | None = None, options: dict[str, str] | None = None,
             paint: Painter | None = None, pix_fmt: str = "yuv420p", container_options: dict[str, str] | None = None) -> Path:
    """Write ``n`` frames with PyAV (any codec; key frame every ``gop``; display ``rotation``)."""
    import av

    w, h = size
    with av.open(str(path), "w", options=container_options or {}) as out:
        s = out.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if gop:
            s.codec_context.gop_size = gop
        if options:
            s.codec_context.options = options
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(paint(i, w, h) if paint else index_frame(i, w, h), format="bgr24")
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def street(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Sky on top, road below, a parked car (dark blue) and a person (red) walking right 3 px a frame,
    in the prototype colours of :mod:`tinymodels` (so the colour model's right answer is known)."""
    from tinymodels import bgr

    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 3] = bgr(10)
    img[h // 3 :] = bgr(0)
    img[36:56, 80:120] = bgr(13)
    x = 4 + 3 * i
    img[24:56, x : x + 10] = bgr(11)
    return img
