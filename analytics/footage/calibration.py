"""Ground calibration of a fixed camera: a homography from image pixels to ground metres.

A flat road seen by a pinhole camera maps to the image by a plane projective transform (a
homography, Hartley and Zisserman 2004, "Multiple View Geometry", 2nd ed., ch. 4). Four image
points whose ground positions are known fix it. With ground points ``(X, Y)`` in metres and image
points ``(x, y)`` in pixels::

    [X·w, Y·w, w]ᵀ = H · [x, y, 1]ᵀ        (H 3x3, defined up to scale)

solved by the direct linear transform (DLT) on Hartley-normalised points (each set shifted to its
centroid and scaled to a mean distance of √2 from it), then de-normalised. A road marking of known
size gives the four points: the corners of a lane dash (e.g. 3 m long) across a lane of known width
(e.g. 3.5 m), in order around the rectangle (:func:`rectangle_ground_points`).

Pure compute: points in, a matrix out; no files, no database, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analytics.errors import InputError, quote_value

__all__ = [
    "COLLINEAR_TOLERANCE",
    "apply_homography",
    "check_points",
    "homography_from_points",
    "parse_points",
    "rectangle_ground_points",
]

COLLINEAR_TOLERANCE = 1e-3
"""Three points count as collinear when their triangle's area is under this share of the square of
the largest distance between the points (0.1 %: a near-straight set gives a homography that is
mostly noise)."""


def parse_points(text: str, what: str) -> list[tuple[float, float]]:
    """Points typed as ``x,y x,y ...`` (spaces or ``;`` between points).

    >>> parse_points("10,20; 30.5,40", "image points")
    [(10.0, 20.0), (30.5, 40.0)]
    >>> parse_points("10,20 30", "image points")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: image points: '30' is not a point; expected x,y numbers such as 120,400 (four points, separated by spaces)
    """
    out: list[tuple[float, float]] = []
    for part in text.replace(";", " ").split():
        xy = part.split(",")
        try:
            x, y = (float(v) for v in xy) if len(xy) == 2 else (float("nan"), float("nan"))
        except ValueError:
            x = y = float("nan")
        if not (np.isfinite(x) and np.isfinite(y)):
            raise InputError(f"{what}: {quote_value(part, 30)} is not a point; expected x,y numbers such as 120,400 "
                             "(four points, separated by spaces)")
        out.append((x, y))
    return out


def rectangle_ground_points(width_m: float, length_m: float) -> list[tuple[float, float]]:
    """Ground positions (metres) of a rectangle's corners in order: ``(0, 0), (w, 0), (w, l), (0, l)``.

    Image points given in the same order go around the rectangle: from the first to the second is
    across its width, from the second to the third along its length.

    >>> rectangle_ground_points(3.5, 3.0)
    [(0.0, 0.0), (3.5, 0.0), (3.5, 3.0), (0.0, 3.0)]
    """
    for name, v in (("width", width_m), ("length", length_m)):
        if not (np.isfinite(v) and 0 < v <= 10_000):
            raise InputError(f"rectangle {name} {quote_value(v, 30)} m; expected a positive number of metres up to 10,000")
    return [(0.0, 0.0), (float(width_m), 0.0), (float(width_m), float(length_m)), (0.0, float(length_m))]


def check_points(points: Sequence[Sequence[float]], what: str) -> np.ndarray:
    """Four distinct finite points, no three on one line (:data:`COLLINEAR_TOLERANCE`), as a (4, 2) array.

    >>> check_points([(0, 0), (1, 0), (2, 0), (0, 1)], "ground points")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: ground points: points 1, 2 and 3 lie on one line; expected four points, no three on a line (e.g. the corners of a road marking)
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (4, 2) or not np.isfinite(p).all():
        raise InputError(f"{what}: {quote_value(np.asarray(points).tolist(), 60)}; expected four finite [x, y] points")
    for i in range(4):
        for j in range(i + 1, 4):
            if np.allclose(p[i], p[j]):
                raise InputError(f"{what}: points {i + 1} and {j + 1} are the same ({p[i, 0]:g}, {p[i, 1]:g}); expected four distinct points")
    span = max(float(np.linalg.norm(p[i] - p[j])) for i in range(4) for j in range(i + 1, 4))
    for i, j, k in ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
        (ux, uy), (vx, vy) = p[j] - p[i], p[k] - p[i]
        area = abs(float(ux * vy - uy * vx)) / 2
        if area < COLLINEAR_TOLERANCE * span * span:
            raise InputError(f"{what}: points {i + 1}, {j + 1} and {k + 1} lie on one line; "
                             "expected four points, no three on a line (e.g. the corners of a road marking)")
    return p


def _normaliser(p: np.ndarray) -> np.ndarray:
    """Hartley's similarity: centroid to the origin, mean distance from it √2."""
    c = p.mean(axis=0)
    s = np.sqrt(2) / np.mean(np.linalg.norm(p - c, axis=1))
    return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])


def homography_from_points(image_points: Sequence[Sequence[float]], ground_points: Sequence[Sequence[float]]) -> np.ndarray:
    """The 3x3 homography ``H`` mapping image pixels to ground metres, from four point pairs (normalised DLT).

    Each pair gives two rows of ``A h = 0``: ``[-x, -y, -1, 0, 0, 0, X x, X y, X]`` and
    ``[0, 0, 0, -x, -y, -1, Y x, Y y, Y]``; ``h`` is the right singular vector of the smallest
    singular value, scaled so that the third coordinate ``w`` of the four mapped image points is 1 on
    average (``H[2][2] = 1`` would fail where the horizon passes through pixel (0, 0)). Degenerate sets are refused (:func:`check_points`).

    >>> H = homography_from_points([(0, 0), (100, 0), (100, 50), (0, 50)], rectangle_ground_points(2.0, 1.0))
    >>> apply_homography(H, [(50, 25)]).round(6).tolist()
    [[1.0, 0.5]]
    """
    img, gnd = check_points(image_points, "image points"), check_points(ground_points, "ground points")
    ti, tg = _normaliser(img), _normaliser(gnd)
    a = np.c_[img, np.ones(4)] @ ti.T
    b = np.c_[gnd, np.ones(4)] @ tg.T
    rows = []
    for (x, y, _), (gx, gy, _) in zip(a, b, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, gx * x, gx * y, gx])
        rows.append([0, 0, 0, -x, -y, -1, gy * x, gy * y, gy])
    h = np.linalg.svd(np.asarray(rows))[2][-1].reshape(3, 3)
    m = np.linalg.inv(tg) @ h @ ti
    w = np.c_[img, np.ones(4)] @ m[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise InputError("image points: the four points are not in the same order around the shape as the ground points "
                         "(the mapping folds the quadrilateral); list both in the same order around it")
    return np.asarray(m / w.mean())  # scaled so that w = 1 on average over the four points (w > 0 on the road)


def apply_homography(h: np.ndarray | Sequence[Sequence[float]], points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Map ``(n, 2)`` image points through ``H``: ``(X, Y) = (H p)[:2] / (H p)[2]`` with ``p = (x, y, 1)``.

    >>> apply_homography([[2, 0, 0], [0, 2, 0], [0, 0, 1]], [(1, 3)]).tolist()
    [[2.0, 6.0]]
    """
    m = np.asarray(h, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    q = np.c_[p, np.ones(len(p))] @ m.T
    return np.asarray(q[:, :2] / q[:, 2:3])
