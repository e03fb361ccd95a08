"""Where a frame lies in a model's input: the pure geometry of the resize policies of model cards.

See :mod:`analytics.footage.segment` for the policies (``letterbox``, ``crop``, ``stretch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.errors import InputError

__all__ = ["Geometry", "frame_geometry", "MAX_FRAME_SIDE"]

MAX_FRAME_SIDE = 16384


@dataclass(frozen=True)
class Geometry:
    """Where a frame lies in the model input: ``x_model = x_frame * scale_x + offset_x`` (same for y).

    ``content`` is ``(y0, y1, x0, x1)``: the rows and columns of the model input that show the
    frame (the whole input for ``crop`` and ``stretch``; inside the padding for ``letterbox``).
    """

    frame_h: int
    frame_w: int
    input_h: int
    input_w: int
    resized_h: int
    resized_w: int
    offset_x: int
    offset_y: int
    content: tuple[int, int, int, int]

    @property
    def scale_x(self) -> float:
        return self.resized_w / self.frame_w

    @property
    def scale_y(self) -> float:
        return self.resized_h / self.frame_h

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """Map frame pixel coordinates ``(n, 2)`` of x, y to model-input coordinates.

        >>> g = frame_geometry(100, 200, 50, 50, "letterbox")
        >>> g.to_model(np.array([[0.0, 0.0], [200.0, 100.0]])).tolist()
        [[0.0, 12.0], [50.0, 37.0]]
        """
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([xy[:, 0] * self.scale_x + self.offset_x, xy[:, 1] * self.scale_y + self.offset_y], axis=1)

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_model`."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([(xy[:, 0] - self.offset_x) / self.scale_x, (xy[:, 1] - self.offset_y) / self.scale_y], axis=1)


def frame_geometry(frame_h: int, frame_w: int, input_h: int, input_w: int, resize: str) -> Geometry:
    """Geometry of a ``frame_w x frame_h`` frame fed to a ``input_w x input_h`` model (see module doc).

    >>> frame_geometry(272, 640, 384, 768, "letterbox").content    # 640x272 -> 768x326, 29 rows of padding above
    (29, 355, 0, 768)
    >>> g = frame_geometry(432, 768, 384, 768, "crop")             # 768x432 stays, 24 rows cut top and bottom
    >>> (g.resized_w, g.resized_h, g.offset_x, g.offset_y)
    (768, 432, 0, -24)
    """
    if frame_h < 1 or frame_w < 1 or frame_h > MAX_FRAME_SIDE or frame_w > MAX_FRAME_SIDE:
        raise InputError(f"frame size {frame_w}x{frame_h}; expected 1 to {MAX_FRAME_SIDE} pixels a side")
    if resize == "stretch":
        return Geometry(frame_h, frame_w, input_h, input_w, input_h, input_w, 0, 0, (0, input_h, 0, input_w))
    if resize == "letterbox":
        s = min(input_w / frame_w, input_h / frame_h)
        rw, rh = max(1, min(input_w, round(frame_w * s))), max(1, min(input_h, round(frame_h * s)))
        ox, oy = (input_w - rw) // 2, (input_h - rh) // 2
        return Geometry(frame_h, frame_w, input_h, input_w, rh, rw, ox, oy, (oy, oy + rh, ox, ox + rw))
    if resize == "crop":
        s = max(input_w / frame_w, input_h / frame_h)
        rw, rh = max(input_w, round(frame_w * s)), max(input_h, round(frame_h * s))
        ox, oy = -((rw - input_w) // 2), -((rh - input_h) // 2)
        return Geometry(frame_h, frame_w, input_h, input_w, rh, rw, ox, oy, (0, input_h, 0, input_w))
    raise InputError(f"resize policy {resize!r}; expected letterbox, crop or stretch")
