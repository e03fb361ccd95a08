"""Privacy of previews: people blurred beyond recognition, vehicle plates unreadable.

Raw frames are never stored; a clip keeps only a few small previews (JPEG) made here:

- :func:`privacy_mask` marks what must be hidden, from the segmentation of the same image:
  every person and rider pixel, grown by :data:`PERSON_MARGIN` of the image width, plus the box
  of every person blob grown by :data:`PERSON_BOX_GROW` on each side (a head the model missed
  still falls inside its body's box); for two-wheelers the whole box of each blob grown upwards
  by :data:`RIDER_ABOVE` of its height (the model often labels a rider as part of the bicycle);
  for vehicles the lower :data:`PLATE_SHARE` of each blob's box (where plates are), and the
  whole box of blobs smaller than :data:`SMALL_VEHICLE_SHARE` of the image (too small to tell
  where the plate is).

  Limit: a person the model labels as something else entirely (e.g. behind glass, or as part of
  a vehicle) is not found; the blurring follows the segmentation, as everything else does.
- :func:`pixelate` replaces the marked pixels by a coarse mosaic (blocks of :func:`block_size`
  pixels, i.e. a 1/48 of the image width, then a Gaussian blur of the same size): a face a few
  blocks wide is no longer recognisable.
- :func:`preview_jpeg` encodes the result at most :data:`PREVIEW_WIDTH` pixels wide.

Compute (masks) is apart from drawing (pixelate) and from encoding.

Speed (previews are made beside the model, on the same cores): class masks are table look-ups,
and the dilation, the components and the blur run only inside the bounding box of what they
touch (plus the reach of their kernel), which gives the same pixels as on the whole image.
"""

from __future__ import annotations

import cv2
import numpy as np

from analytics.errors import InputError
from analytics.footage.measure import group_mask_u8
from analytics.taxonomy import ClassSet

__all__ = ["PREVIEW_WIDTH", "anonymise", "block_size", "pixelate", "preview_jpeg", "privacy_mask"]

PERSON_MARGIN = 0.01
PERSON_BOX_GROW = 0.15
PLATE_SHARE = 0.45
SMALL_VEHICLE_SHARE = 0.002
RIDER_ABOVE = 1.0
PREVIEW_WIDTH = 480
JPEG_QUALITY = 80


def block_size(width: int) -> int:
    """Mosaic block of an image ``width`` pixels wide: ``max(6, width // 48)``.

    >>> block_size(768), block_size(100)
    (16, 6)
    """
    return max(6, width // 48)


def _box(mask: np.ndarray, reach: int) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)``: the bounding box of the mask's nonzero pixels grown by ``reach`` on
    every side and clipped to the mask; None for an empty mask.

    >>> m = np.zeros((10, 10), np.uint8); m[4, 5] = 1
    >>> _box(m, 2), _box(m, 9), _box(np.zeros((3, 3), np.uint8), 1)
    ((2, 7, 3, 8), (0, 10, 0, 10), None)
    """
    x, y, bw, bh = cv2.boundingRect(mask)
    if bw == 0 or bh == 0:
        return None
    h, w = mask.shape[:2]
    return max(0, y - reach), min(h, y + bh + reach), max(0, x - reach), min(w, x + bw + reach)


def _components(mask: np.ndarray) -> np.ndarray:
    """Bounding boxes ``(x, y, w, h)`` of the 8-connected components of a ``uint8`` mask (in the
    mask's coordinates), labelled inside the mask's bounding box only."""
    box = _box(mask, 0)
    if box is None:
        return np.zeros((0, 4), np.int32)
    y0, y1, x0, x1 = box
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask[y0:y1, x0:x1], connectivity=8)
    out = stats[1:n, :4].copy()
    out[:, 0] += x0
    out[:, 1] += y0
    return out


def privacy_mask(labels: np.ndarray, class_set: ClassSet) -> np.ndarray:
    """Boolean mask (labels' shape) of the pixels a preview must hide (see the module doc)."""
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"labels must be uint8 (height, width), got {labels.dtype} {labels.shape}")
    h, w = labels.shape
    out = np.zeros((h, w), np.uint8)
    person = group_mask_u8(labels, class_set.class_ids("person"))
    r = max(2, int(round(PERSON_MARGIN * w)))
    box = _box(person, r)
    if box is not None:  # the dilation reaches r pixels beyond the people: done inside that box only
        y0, y1, x0, x1 = box
        grown = cv2.dilate(person[y0:y1, x0:x1], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        out[y0:y1, x0:x1] |= np.asarray(grown, np.uint8)
        for x, y, bw, bh in _components(person):
            gx, gy = int(PERSON_BOX_GROW * bw) + r, int(PERSON_BOX_GROW * bh) + r
            out[max(0, y - gy) : y + bh + gy, max(0, x - gx) : x + bw + gx] = 1
    for x, y, bw, bh in _components(group_mask_u8(labels, class_set.class_ids("two_wheeler"))):
        out[max(0, y - int(RIDER_ABOVE * bh)) : y + bh, x : x + bw] = 1
    vehicle = group_mask_u8(labels, class_set.class_ids("vehicle"))
    vbox = _box(vehicle, 0)
    if vbox is not None:
        small = SMALL_VEHICLE_SHARE * h * w
        y0, y1, x0, x1 = vbox
        n, _, stats, _ = cv2.connectedComponentsWithStats(vehicle[y0:y1, x0:x1], connectivity=8)
        for x, y, bw, bh, area in stats[1:n]:
            x, y = x + x0, y + y0
            top = y if area < small else y + int(bh * (1.0 - PLATE_SHARE))
            out[top : y + bh, x : x + bw] = 1
    return out.view(bool)


def pixelate(image: np.ndarray, mask: np.ndarray, block: int | None = None) -> np.ndarray:
    """A copy of ``image`` with the ``mask`` pixels replaced by a blurred mosaic of ``block`` pixels."""
    if image.ndim != 3 or image.dtype != np.uint8 or mask.shape != image.shape[:2]:
        raise InputError(f"pixelate needs a uint8 (h, w, 3) image and an (h, w) mask, got {image.shape} and {mask.shape}")
    if not mask.any():
        return image.copy()
    h, w = mask.shape
    b = block or block_size(w)
    small = cv2.resize(image, (max(1, w // b), max(1, h // b)), interpolation=cv2.INTER_AREA)
    mosaic = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    k = b | 1
    # the blur only where it is used: the mask's box grown by the kernel's reach, so every pixel
    # of the box sees the same neighbours (or the same reflected image edge) as on the whole image
    m8 = mask.view(np.uint8) if mask.dtype == bool else mask.astype(bool).view(np.uint8)
    y0, y1, x0, x1 = _box(m8, 0) or (0, h, 0, w)
    gy0, gy1, gx0, gx1 = max(0, y0 - k), min(h, y1 + k), max(0, x0 - k), min(w, x1 + k)
    blurred = cv2.GaussianBlur(mosaic[gy0:gy1, gx0:gx1], (k, k), 0)[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]
    out = image.copy()
    np.copyto(out[y0:y1, x0:x1], blurred, where=m8[y0:y1, x0:x1, None].view(bool))
    return out


def anonymise(image_bgr: np.ndarray, labels: np.ndarray, class_set: ClassSet) -> np.ndarray:
    """``image_bgr`` (same size as ``labels``) with people and plates pixelated."""
    if image_bgr.shape[:2] != labels.shape:
        raise InputError(f"image is {image_bgr.shape[:2]}, labels {labels.shape}; expected the same size")
    return pixelate(image_bgr, privacy_mask(labels, class_set))


def preview_jpeg(image_bgr: np.ndarray, max_width: int = PREVIEW_WIDTH, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an image scaled down to at most ``max_width`` pixels wide."""
    if not 16 <= max_width <= 4096 or not 1 <= quality <= 100:
        raise InputError(f"preview width {max_width} (16–4096) and quality {quality} (1–100) out of range")
    h, w = image_bgr.shape[:2]
    if w > max_width:
        image_bgr = cv2.resize(image_bgr, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InputError("the preview could not be encoded as JPEG")
    return buf.tobytes()
