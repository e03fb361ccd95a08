"""Road-surface distress HEURISTIC: dark thin structures (cracks) and dark compact blobs (potholes).

This is an image heuristic, not a trained detector, and is named so everywhere it appears
(columns ``distress_crack_px`` / ``distress_pothole_px`` are "heuristic distress pixels"). It runs
only where the model has no damage classes, and only over road pixels:

1. Road mask: pixels of the road group, eroded by :data:`ROAD_ERODE` pixels so the dark borders of
   kerbs, vehicles and shadows along the road's edge are not counted.
2. Darkness: the black-hat transform ``B = close(G) - G`` of the grey image ``G`` with an elliptic
   element of :data:`KERNEL` pixels picks out structures darker than their surroundings and
   narrower than the element (Soille, *Morphological Image Analysis*, 2003, ch. 4.5).
   A pixel is dark when ``B > max(MIN_CONTRAST, K_MAD * 1.4826 * MAD(B over road))``.
3. Each 8-connected dark component of at least :data:`MIN_AREA` pixels is classed by shape:
   thickness ``t = 2 * max(distance to the component's edge)`` and slenderness ``S = A / t^2``
   (A its area; a line of width t and length L has S = L / t, a disc S = pi / 4, so S holds for
   curved and branching cracks where a bounding-box ratio would not).
   *Crack*: ``t <= MAX_CRACK_THICKNESS`` and ``S >= MIN_CRACK_SLENDERNESS``.
   *Pothole*: ``t > MAX_CRACK_THICKNESS`` and ``S < MAX_POTHOLE_SLENDERNESS``.
   Anything else (e.g. a long thick shadow, a small dark dot) is neither.

Known limits: shadows of poles, oil stains, manhole covers, tar-sealed joints and wet patches read
as distress; fresh asphalt that is uniformly dark hides it; motion blur erases thin cracks. Counts
are model-resolution pixels. Use the numbers for ranking streets to inspect, never as a survey.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analytics.errors import InputError

__all__ = ["DistressResult", "KERNEL", "MIN_CONTRAST", "component_shape", "distress_heuristic"]

KERNEL = 21
MIN_CONTRAST = 25.0
K_MAD = 4.0
ROAD_ERODE = 3
MIN_AREA = 12
MAX_CRACK_THICKNESS = 5.0
MIN_CRACK_SLENDERNESS = 4.0
MAX_POTHOLE_SLENDERNESS = 3.0


@dataclass(frozen=True)
class DistressResult:
    """Heuristic distress of one frame: pixel counts and masks (model resolution)."""

    crack_px: int
    pothole_px: int
    crack_mask: np.ndarray
    pothole_mask: np.ndarray
    road_px: int


def component_shape(component: np.ndarray) -> tuple[float, float]:
    """(thickness, slenderness) of one boolean component (see the module doc).

    >>> line = np.zeros((5, 40), bool); line[2, 5:35] = True
    >>> t, s = component_shape(line); (round(t), round(s))
    (2, 8)
    """
    padded = np.pad(component.astype(np.uint8), 1)
    thick = 2.0 * float(cv2.distanceTransform(padded, cv2.DIST_L2, 3).max())
    return thick, float(np.count_nonzero(component)) / (thick * thick)


def _median_of_counts(values: np.ndarray, counts: np.ndarray) -> float:
    """Median of a sample given as ``counts[i]`` copies of ``values[i]`` (``values`` sorted), as
    :func:`numpy.median` takes it: the middle value, or the mean of the two middle ones.

    >>> _median_of_counts(np.array([1.0, 2.0, 7.0]), np.array([1, 2, 1]))
    2.0
    """
    cum = np.cumsum(counts)
    n = int(cum[-1])
    lo = float(values[np.searchsorted(cum, (n - 1) // 2, side="right")])
    hi = float(values[np.searchsorted(cum, n // 2, side="right")])
    return (lo + hi) / 2.0


def _mad_u8(hist: np.ndarray) -> float:
    """Median absolute deviation ``median(|v - median(v)|)`` of uint8 values given by their
    histogram (256 counts): the same number as :func:`numpy.median` on the values, without sorting
    them (the medians of whole numbers are halves, and their deviations quarters: exact in floats).

    >>> v = np.array([3, 9, 4, 4, 250, 0], np.uint8)
    >>> _mad_u8(np.bincount(v, minlength=256)) == float(np.median(np.abs(v - np.median(v))))
    True
    """
    levels = np.arange(256, dtype=np.float64)
    med = _median_of_counts(levels, hist)
    dev = np.abs(levels - med)
    order = np.argsort(dev, kind="stable")
    return _median_of_counts(dev[order], hist[order])


def distress_heuristic(view_bgr: np.ndarray, road: np.ndarray, paint: np.ndarray | None = None) -> DistressResult:
    """Run the distress HEURISTIC (module doc) on a BGR ``uint8`` image and its road mask (same size).

    ``paint`` (bool, same size; the road model's lane marks) is left out of the road with a band of
    ``KERNEL // 2`` pixels around it: the black-hat filter would take the asphalt between two bright
    lines for a dark crack."""
    if not isinstance(view_bgr, np.ndarray) or view_bgr.ndim != 3 or view_bgr.shape[2] != 3 or view_bgr.dtype != np.uint8:
        raise InputError("distress heuristic needs a BGR uint8 (height, width, 3) image")
    if road.shape != view_bgr.shape[:2]:
        raise InputError(f"road mask is {road.shape}, the image {view_bgr.shape[:2]}; expected the same")
    h, w = road.shape
    empty = np.zeros((h, w), bool)
    road_u8 = road.astype(np.uint8)
    if paint is not None and paint.any():
        if paint.shape != road.shape:
            raise InputError(f"lane-mark mask is {paint.shape}, the road mask {road.shape}; expected the same")
        band = cv2.dilate(paint.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (KERNEL | 1, KERNEL | 1)))
        road_u8 = np.where(np.asarray(band) > 0, 0, road_u8).astype(np.uint8)
    if ROAD_ERODE:
        road_u8 = np.asarray(cv2.erode(road_u8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ROAD_ERODE + 1,) * 2)), np.uint8)
    road_in = road_u8.astype(bool)
    n_road = int(np.count_nonzero(road_in))
    if n_road < MIN_AREA * 4:
        return DistressResult(0, 0, empty, empty.copy(), n_road)
    rx, ry, rw, rh = cv2.boundingRect(road_u8)  # the road's bounding box (a pass over the mask, no index arrays)
    pad = KERNEL
    y0, y1 = max(0, ry - pad), min(h, ry + rh + pad)
    x0, x1 = max(0, rx - pad), min(w, rx + rw + pad)
    grey = cv2.cvtColor(view_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (KERNEL, KERNEL))
    black_u8 = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    sub_road = road_in[y0:y1, x0:x1]
    mad = _mad_u8(np.bincount(black_u8[sub_road], minlength=256))
    thr = max(MIN_CONTRAST, K_MAD * 1.4826 * mad)
    dark = ((black_u8 > thr) & sub_road).astype(np.uint8)
    n, cc, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    crack = np.zeros_like(sub_road)
    hole = np.zeros_like(sub_road)
    for i in range(1, n):
        x, y, cw, ch, area = stats[i]
        if area < MIN_AREA:
            continue
        comp = cc[y : y + ch, x : x + cw] == i
        thick, slender = component_shape(comp)
        if thick <= MAX_CRACK_THICKNESS and slender >= MIN_CRACK_SLENDERNESS:
            crack[y : y + ch, x : x + cw] |= comp
        elif thick > MAX_CRACK_THICKNESS and slender < MAX_POTHOLE_SLENDERNESS:
            hole[y : y + ch, x : x + cw] |= comp
    crack_full, hole_full = empty, empty.copy()
    crack_full[y0:y1, x0:x1] = crack
    hole_full[y0:y1, x0:x1] = hole
    return DistressResult(int(crack.sum()), int(hole.sum()), crack_full, hole_full, n_road)
