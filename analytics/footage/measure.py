"""Pure per-frame measurements from a label map: what the store receives for each sampled frame.

Every function takes the *content* of a segmentation (the frame's own pixels at model resolution,
letterbox padding removed; see :class:`analytics.footage.segment.Geometry`) and returns plain numbers.
Pixel counts are model-resolution pixels; object boxes and zone polygons are in frame pixels.
Nothing here draws (see :mod:`analytics.footage.privacy` and :mod:`analytics.footage.overlay`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.footage.geometry import Geometry
from analytics.footage.temporal import flicker
from analytics.records import OBJECT_GROUPS
from analytics.taxonomy import ClassSet

__all__ = [
    "Blob",
    "FrameMeasures",
    "ZoneMask",
    "class_pixels",
    "confidence_stats",
    "curb_length_px",
    "lane_mark_share",
    "find_objects",
    "group_mask",
    "group_mask_u8",
    "measure_frame",
    "min_object_area",
    "vehicle_stationarity",
    "zone_class_pixels",
    "zone_masks",
]

MIN_OBJECT_SHARE = 0.001
"""A blob smaller than this share of the frame's pixels is not counted as an object."""
MIN_OBJECT_PX = 20
"""...and never smaller than this many model pixels."""


def _check_labels(labels: np.ndarray) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        got = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise InputError(f"labels must be a uint8 (height, width) array, got {got}")
    return labels


def class_pixels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Pixels of each class: ``n_c = |{x : L(x) = c}|``, int64 of length ``num_classes``.

    >>> class_pixels(np.array([[0, 2], [2, 2]], np.uint8), 3).tolist()
    [1, 0, 3]
    """
    counts = np.bincount(_check_labels(labels).ravel(), minlength=num_classes)
    if counts.shape[0] > num_classes:
        raise InputError(f"labels hold class id {counts.shape[0] - 1}, beyond the {num_classes} classes of the model")
    return counts.astype(np.int64)


def confidence_stats(confidence: np.ndarray, low: float) -> tuple[float, float]:
    """Mean confidence and share of low-confidence pixels: ``(mean_x p(x), |{x : p(x) < low}| / |{x}|)``.

    >>> confidence_stats(np.array([[0.9, 0.3], [0.8, 0.4]]), 0.5)
    (0.6, 0.5)
    """
    if not 0.0 <= low <= 1.0:
        raise InputError(f"low-confidence threshold {low!r}; expected a number in [0, 1]")
    if confidence.size == 0:
        return float("nan"), float("nan")
    mean = float(np.mean(confidence, dtype=np.float64))
    return round(mean, 12), float(np.count_nonzero(confidence < low)) / confidence.size


def group_mask(labels: np.ndarray, class_ids: tuple[int, ...] | list[int]) -> np.ndarray:
    """Boolean mask of the pixels whose class is one of ``class_ids``.

    >>> group_mask(np.array([[0, 1], [2, 1]], np.uint8), (1, 2)).tolist()
    [[False, True], [True, True]]
    """
    return group_mask_u8(labels, class_ids).view(bool)


def group_mask_u8(labels: np.ndarray, class_ids: tuple[int, ...] | list[int]) -> np.ndarray:
    """:func:`group_mask` as ``uint8`` 0/1 (what OpenCV's connected components take), one
    table look-up (``cv2.LUT``) instead of a numpy gather: several times faster on a frame.

    >>> group_mask_u8(np.array([[0, 1], [2, 1]], np.uint8), (1, 2)).tolist()
    [[0, 1], [1, 1]]
    """
    lut = np.zeros(256, dtype=np.uint8)
    lut[list(class_ids)] = 1
    labels = _check_labels(labels)
    if labels.size == 0:
        return np.zeros(labels.shape, np.uint8)
    return np.asarray(cv2.LUT(labels, lut), dtype=np.uint8).reshape(labels.shape)


def vehicle_stationarity(prev_vehicle: np.ndarray | None, vehicle: np.ndarray) -> float:
    """Share of vehicle pixels that were vehicle pixels in the previous sampled frame too.

    ``s_t = |V_t ∩ V_(t-1)| / |V_t|``; NaN when there is no previous frame, when the previous frame
    had no vehicle pixels, or when this one has none (a jam holds still: s near 1; flowing traffic
    moves its pixels: s low).

    >>> a = np.array([[1, 1, 0, 0]], bool); b = np.array([[0, 1, 1, 0]], bool)
    >>> vehicle_stationarity(a, b), vehicle_stationarity(a, a), vehicle_stationarity(None, a)
    (0.5, 1.0, nan)
    """
    if prev_vehicle is None or not prev_vehicle.any():
        return float("nan")
    if prev_vehicle.shape != vehicle.shape:
        raise InputError(f"vehicle masks differ in shape: {prev_vehicle.shape} then {vehicle.shape}")
    n = int(np.count_nonzero(vehicle))
    if n == 0:
        return float("nan")
    return float(np.count_nonzero(vehicle & prev_vehicle)) / n


def min_object_area(content_pixels: int) -> int:
    """Smallest blob counted as an object: ``max(MIN_OBJECT_PX, MIN_OBJECT_SHARE * pixels)``.

    >>> min_object_area(768 * 326)
    250
    """
    return max(MIN_OBJECT_PX, int(round(MIN_OBJECT_SHARE * content_pixels)))


@dataclass(frozen=True)
class Blob:
    """One connected component of an object group; box ``[x0, x1) x [y0, y1)`` in frame pixels."""

    group: str
    x0: int
    y0: int
    x1: int
    y1: int
    area_px: int
    """Area in frame pixels."""


def _content_to_frame(geometry: Geometry) -> tuple[float, float, float, float]:
    """(ax, bx, ay, by) with ``x_frame = ax * x_content + bx``."""
    cy0, _, cx0, _ = geometry.content
    return (1 / geometry.scale_x, (cx0 - geometry.offset_x) / geometry.scale_x,
            1 / geometry.scale_y, (cy0 - geometry.offset_y) / geometry.scale_y)


def find_objects(
    labels: np.ndarray, class_set: ClassSet, geometry: Geometry, min_area: int | None = None
) -> list[Blob]:
    """Connected components (8-connected) of the person, two-wheeler and vehicle groups with at
    least ``min_area`` model pixels (default :func:`min_object_area`), boxes in frame pixels.

    Touching objects of one group merge into one blob: counts are a lower bound in crowds.
    """
    labels = _check_labels(labels)
    masks = {g: group_mask_u8(labels, class_set.class_ids(g)) for g in OBJECT_GROUPS if class_set.class_ids(g)}
    return _blobs(masks, labels.size, geometry, min_area)


def _blobs(masks: dict[str, np.ndarray], content_pixels: int, geometry: Geometry, min_area: int | None) -> list[Blob]:
    """:func:`find_objects` from the groups' ``uint8`` masks (in :data:`OBJECT_GROUPS` order).

    Components are labelled inside the bounding box of the mask only (its corner moved to even
    coordinates, so OpenCV's 2x2-block labelling visits them in the same order as on the whole
    map): the same blobs, in the same order, for a fraction of the pixels when objects are small.
    """
    if min_area is None:
        min_area = min_object_area(content_pixels)
    ax, bx, ay, by = _content_to_frame(geometry)
    area_scale = ax * ay
    out: list[Blob] = []
    for group, mask in masks.items():
        bx0, by0, bw, bh = cv2.boundingRect(mask)
        if bw == 0 or bh == 0:
            continue
        x0, y0 = bx0 - bx0 % 2, by0 - by0 % 2
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask[y0 : by0 + bh, x0 : bx0 + bw], connectivity=8)
        for x, y, w, h, area in stats[1:n]:
            if area < min_area:
                continue
            x, y = x + x0, y + y0
            out.append(
                Blob(
                    group, int(math.floor(ax * x + bx)), int(math.floor(ay * y + by)),
                    int(math.ceil(ax * (x + w) + bx)), int(math.ceil(ay * (y + h) + by)), int(round(area * area_scale)),
                )
            )
    return out


@dataclass(frozen=True)
class ZoneMask:
    zone: str
    role: str
    mask: np.ndarray
    """bool, the content's shape: True inside the zone."""


def _present_masks(labels: np.ndarray, counts: np.ndarray, class_set: ClassSet) -> dict[str, np.ndarray]:
    """``uint8`` masks of the object groups with at least one pixel (by ``counts``), in :data:`OBJECT_GROUPS` order."""
    out: dict[str, np.ndarray] = {}
    for group in OBJECT_GROUPS:
        ids = class_set.class_ids(group)
        if ids and int(counts[list(ids)].sum()) > 0:
            out[group] = group_mask_u8(labels, ids)
    return out


def zone_masks(zones: pd.DataFrame, geometry: Geometry) -> list[ZoneMask]:
    """Rasterise zone polygons (columns zone, role, polygon_json in frame pixels) at model resolution.

    A vertex ``(x, y)`` of the frame lands at ``geometry.to_model((x, y))`` minus the content's origin.
    """
    need = {"zone", "role", "polygon_json"}
    if not need.issubset(zones.columns):
        raise InputError(f"zones need columns {sorted(need)}, got {list(zones.columns)}")
    cy0, cy1, cx0, cx1 = geometry.content
    out = []
    for zone, role, poly_json in zip(zones["zone"], zones["role"], zones["polygon_json"], strict=True):
        pts = np.asarray(json.loads(poly_json), dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 3 or pts.shape[1] != 2:
            raise InputError(f"zone {zone!r}: polygon must be at least 3 [x, y] points")
        model = geometry.to_model(pts) - np.array([cx0, cy0])
        mask = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
        cv2.fillPoly(mask, [np.round(model * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        out.append(ZoneMask(str(zone), str(role), mask.astype(bool)))
    return out


def zone_class_pixels(labels: np.ndarray, masks: list[ZoneMask], num_classes: int) -> list[tuple[str, str, int, int]]:
    """``(zone, role, class_id, pixels)`` for every class present inside every zone.

    >>> lab = np.array([[0, 1], [1, 1]], np.uint8)
    >>> zone_class_pixels(lab, [ZoneMask("z", "sidewalk", np.array([[True, True], [False, True]]))], 2)
    [('z', 'sidewalk', 0, 1), ('z', 'sidewalk', 1, 2)]
    """
    out: list[tuple[str, str, int, int]] = []
    for zm in masks:
        if zm.mask.shape != labels.shape:
            raise InputError(f"zone {zm.zone!r} mask is {zm.mask.shape}, labels {labels.shape}")
        counts = np.bincount(labels[zm.mask], minlength=num_classes)[:num_classes]
        out.extend((zm.zone, zm.role, int(c), int(counts[c])) for c in np.flatnonzero(counts))
    return out


@dataclass
class FrameMeasures:
    """The numbers of one sampled frame (one row of :class:`analytics.records.ClipMeasurements`)."""

    class_pixels: np.ndarray
    mean_confidence: float
    low_conf_share: float
    flicker: float
    vehicle_stationarity: float
    object_counts: tuple[int, int, int]
    objects: list[Blob] = field(default_factory=list)
    zone_pixels: list[tuple[str, str, int, int]] = field(default_factory=list)
    distress_crack_px: float = float("nan")
    distress_pothole_px: float = float("nan")


def measure_frame(
    labels: np.ndarray,
    confidence: np.ndarray,
    geometry: Geometry,
    class_set: ClassSet,
    *,
    prev_labels: np.ndarray | None = None,
    zones: list[ZoneMask] | None = None,
    low_confidence: float = 0.5,
    min_area: int | None = None,
) -> FrameMeasures:
    """All per-frame measures of one content label map (see the functions above for each formula).

    ``confidence`` may be a regular subsample of the label map's grid (e.g. every 2nd row and
    column): only its mean and low-confidence share are used.

    Speed (the pipeline calls this for every sampled frame, beside the model): the class counts
    come first, and an object group none of whose classes is present gets no mask and no
    connected components; each mask is one table look-up, made once for objects and stationarity.
    """
    labels = _check_labels(labels)
    if confidence.ndim != 2:
        raise InputError(f"confidence must be a 2-D map, got shape {confidence.shape}")
    counts = class_pixels(labels, class_set.num_classes)
    mean, low = confidence_stats(confidence, low_confidence)
    masks = _present_masks(labels, counts, class_set)
    veh_ids = class_set.class_ids("vehicle")
    if prev_labels is not None and prev_labels.shape != labels.shape:
        raise InputError(f"label maps differ in shape: {prev_labels.shape} then {labels.shape}")
    if veh_ids and "vehicle" in masks and prev_labels is not None:
        stat = vehicle_stationarity(group_mask_u8(prev_labels, veh_ids).view(bool), masks["vehicle"].view(bool))
    else:  # no class of the group: no vehicle pixels now (or none before), so NaN
        stat = float("nan")
    blobs = _blobs(masks, labels.size, geometry, min_area)
    n_obj = tuple(sum(1 for b in blobs if b.group == g) for g in OBJECT_GROUPS)
    return FrameMeasures(
        class_pixels=counts,
        mean_confidence=min(1.0, max(0.0, mean)),
        low_conf_share=low,
        flicker=flicker(prev_labels, labels),
        vehicle_stationarity=stat,
        object_counts=(int(n_obj[0]), int(n_obj[1]), int(n_obj[2])),
        objects=blobs,
        zone_pixels=zone_class_pixels(labels, zones, class_set.num_classes) if zones else [],
    )


def lane_mark_share(road_classes: np.ndarray, lane_mark: int = 3) -> float:
    """Share of the frame's pixels that the road model reads as lane marks: ``#(R = lane_mark) / #R``
    over the road model's class map ``R`` of the frame's own pixels (uint8; class ids of
    :data:`analytics.models.roadcard.ROAD_CLASSES`).

    >>> lane_mark_share(np.array([[1, 3], [0, 1]], np.uint8))
    0.25
    """
    if road_classes.size == 0:
        return float("nan")
    return float(np.count_nonzero(road_classes == lane_mark)) / road_classes.size


def curb_length_px(road_classes: np.ndarray, scale_x: float = 1.0, scale_y: float = 1.0, curb: int = 2) -> float:
    """Length of the curbs in the road model's class map ``R`` of the frame's own pixels, in frame pixels
    (a HEURISTIC: curbs drawn as lines, whatever their width).

    ``C`` = runs of curb pixels down the columns (one per column a curb crosses), ``Rr`` = runs along
    the rows; ``length = sqrt((C / scale_x)^2 + (Rr / scale_y)^2)`` with the map's pixels per frame
    pixel ``scale_x, scale_y``. Exact for one straight curb at any angle (a curb at angle ``a`` crosses
    ``L cos a`` columns and ``L sin a`` rows) and for the two mirrored curbs of a street seen from its
    middle; several curbs at other angles are undercounted (by at most ``sqrt(2)``).

    >>> r = np.zeros((20, 40), np.uint8); r[10:12, 5:35] = 2    # a horizontal curb 30 px long, 2 px wide
    >>> round(curb_length_px(r), 1)                               # its width adds sqrt(30^2 + 2^2) - 30
    30.1
    >>> d = np.zeros((40, 40), np.uint8); i = np.arange(30); d[i + 5, i + 5] = 2; d[i + 5, i + 6] = 2   # diagonal
    >>> round(float(curb_length_px(d) / (30 * np.sqrt(2))), 2)   # within the 2 px width of its true length
    1.02
    """
    m = road_classes == curb
    if not m.any():
        return 0.0
    col_runs = int(np.count_nonzero(m[0, :])) + int(np.count_nonzero(m[1:, :] & ~m[:-1, :]))
    row_runs = int(np.count_nonzero(m[:, 0])) + int(np.count_nonzero(m[:, 1:] & ~m[:, :-1]))
    return float(np.hypot(col_runs / scale_x, row_runs / scale_y))
