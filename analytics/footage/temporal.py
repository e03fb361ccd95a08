"""Temporal consistency across consecutive sampled frames: smoothing and a flicker measure.

Segmentation of a video frame by frame flickers: a pixel on the edge of a car is "car" in one
frame and "road" in the next. Two pure functions:

- :func:`ema_update` smooths class scores with an exponential moving average
  ``s_t = alpha * z_t + (1 - alpha) * s_(t-1)``, ``s_0 = z_0``, where ``z_t`` are the model's
  logits of frame t (``alpha`` the weight of the newest frame). Logits are log-probabilities up
  to a per-pixel constant, so ``softmax(s_t)`` is the normalised weighted geometric mean of the
  frames' class probabilities (log-linear pooling; Genest & Zidek, *Statistical Science* 1986),
  which needs no softmax per frame. The segment adapter runs exactly this formula inside the
  ONNX graph for speed (:class:`analytics.footage.segment.Segmenter` with ``smoothing_alpha``); this
  function is its reference and its test oracle.

  When to use it: a fixed camera sampled densely. With a moving camera or sparse sampling (2
  frames a second of bikes.mp4), smoothing lags behind moving objects and shrinks them (measured:
  person pixels 9.0 % unsmoothed, 5.4 % smoothed on bikes.mp4), so it is off by default and
  recorded in provenance (``RunInfo.smoothing``) when on.
- :func:`flow_update` is the motion-aware variant (``--temporal flow``): the previous state is
  first carried to the current frame along dense optical flow (OpenCV's DIS, Kroeger et al.,
  ECCV 2016), as in video segmentation by feature/score propagation (Zhu et al., *Deep Feature
  Flow*, CVPR 2017; Gadde et al., *NetWarp*, ICCV 2017), then fused where the flow is trustworthy:
  ``s_t = z_t + (1 - alpha) * c_t * (warp(s_(t-1)) - z_t)`` with the consistency
  ``c_t = exp(-e^2 / (2 sigma^2))`` of the forward-backward error ``e`` (pixels), 0 where the flow
  leaves the frame. A moving object's old scores move with it, so it is neither lagged nor shrunk.
- :func:`flicker` is the share of pixels whose class changes between consecutive sampled
  frames, stored per frame so the effect of smoothing is visible. It grows with the time between
  samples: with a moving camera the scene itself changes (bikes.mp4: 38% at 2 frames a second,
  78% at 0.2).
- :func:`motion_change` is the share of pixels whose class changes *along the motion*: the
  previous labels carried onto the current frame by the backward flow, compared only where the
  flow is followed (forward-backward consistency above :data:`FOLLOWED`). What the camera or an
  object moved is not counted, so it measures the model's own instability and does not grow with
  the gap; where less than :data:`MIN_FOLLOWED_SHARE` of the picture can be followed (a cut, a
  view that moved entirely) it is not measured. The trust verdict rests on it
  (:mod:`analytics.trust`, docs/trust.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from analytics.errors import InputError

__all__ = [
    "CHANGE_FLOW_SCALE", "DEFAULT_ALPHA", "FLOW_ALPHA", "FLOW_SIGMA", "FOLLOWED", "MIN_FOLLOWED_SHARE", "SMOOTHING_METHODS",
    "backward_flow", "ema_update", "flicker", "flow_consistency", "flow_update", "motion_change", "smoothing_label", "warp",
]

SMOOTHING_METHODS = ("ema", "flow")
"""Temporal fusion of class scores: the plain average, or the average along optical flow."""
FLOW_SIGMA = 2.0
"""Forward-backward flow error (pixels) at which the previous scores keep exp(-1/2) of their weight."""

DEFAULT_ALPHA = 0.6
"""Weight of the newest frame when ``ema`` smoothing is on."""

FLOW_ALPHA = 0.4
"""Weight of the newest frame for ``flow`` fusion. Lower than :data:`DEFAULT_ALPHA` because the
consistency weight already drops the history wherever the flow fails (new content, occlusions,
cuts). With :data:`FLOW_SIGMA` chosen on a sweep (alpha 0.3-0.6, sigma 1-8 px) over the two sample
clips at 2 and 5 frames a second: the lowest flicker that keeps the person share within 10%
(``bench/refine_bench.py``, docs/models.md)."""


FOLLOWED = 0.5
"""Flow consistency (:func:`flow_consistency`) above which a pixel's motion counts as followed: a
forward-backward error below about 2.4 pixels at :data:`FLOW_SIGMA` (of the flow's grid)."""
MIN_FOLLOWED_SHARE = 0.2
"""Below this share of followed pixels two frames are not compared (a cut or a wholly new view)."""
CHANGE_FLOW_SCALE = 0.5
""":func:`motion_change` computes the flow at this fraction of the frame's size (a quarter of the pixels)."""


def smoothing_label(alpha: float | None, method: str = "ema") -> str:
    """Provenance text of a smoothing setting.

    >>> smoothing_label(None), smoothing_label(0.6), smoothing_label(0.4, "flow")
    ('off', 'ema=0.6', 'flow=0.4,sigma=2')
    """
    if method not in SMOOTHING_METHODS:
        raise InputError(f"temporal method {method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
    if alpha is None:
        return "off"
    if not 0.0 < alpha <= 1.0:
        raise InputError(f"smoothing alpha {alpha!r}; expected a number in (0, 1]")
    return f"flow={alpha:g},sigma={FLOW_SIGMA:g}" if method == "flow" else f"{method}={alpha:g}"


def ema_update(prev: np.ndarray | None, scores: np.ndarray, alpha: float) -> np.ndarray:
    """One step of the exponential moving average of class scores (logits or probabilities).

    ``s_t = alpha * z_t + (1 - alpha) * s_(t-1)``; with no previous state ``s_0 = z_0``.
    Arrays are ``(C, H, W)`` (or any shape, as long as both match).

    >>> ema_update(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25).tolist()
    [0.75, 0.25]
    >>> ema_update(None, np.array([0.25, 0.75]), 0.5).tolist()
    [0.25, 0.75]
    """
    if not 0.0 < alpha <= 1.0:
        raise InputError(f"smoothing alpha {alpha!r}; expected a number in (0, 1]")
    q = np.asarray(scores, dtype=np.float32)
    if prev is None:
        return q.copy()
    p = np.asarray(prev, dtype=np.float32)
    if p.shape != q.shape:
        raise InputError(f"previous scores have shape {p.shape}, new ones {q.shape}; expected the same")
    return q * np.float32(alpha) + p * np.float32(1.0 - alpha)


def flicker(prev_labels: np.ndarray | None, labels: np.ndarray) -> float:
    """Share of pixels whose class differs from the previous sampled frame.

    ``flicker_t = |{x : L_t(x) != L_(t-1)(x)}| / |{x}|``; NaN for the first frame (no previous).

    >>> a = np.array([[0, 0], [1, 1]]); b = np.array([[0, 1], [1, 1]])
    >>> flicker(a, b), flicker(None, b)
    (0.25, nan)
    """
    if prev_labels is None:
        return float("nan")
    if prev_labels.shape != labels.shape:
        raise InputError(f"label maps differ in shape: {prev_labels.shape} then {labels.shape}")
    if labels.size == 0:
        return float("nan")
    return float(np.count_nonzero(prev_labels != labels)) / labels.size


def _gray(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(f"{name} must be a uint8 grey (H, W) or BGR (H, W, 3) image, got {getattr(image, 'shape', None)}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def backward_flow(prev_image: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense flows between two frames with OpenCV's DIS (medium preset): ``(back, fwd)``, each
    ``float32 (H, W, 2)`` in pixels; ``back`` takes a pixel ``x`` of ``image`` to ``x + back(x)`` in
    ``prev_image``, ``fwd`` the other way."""
    a, b = _gray(prev_image, "prev_image"), _gray(image, "image")
    if a.shape != b.shape:
        raise InputError(f"frames differ in size: {a.shape} then {b.shape}")
    if max(a.shape) < 12:
        raise InputError(f"frames of {a.shape[1]}x{a.shape[0]} are too small for optical flow; expected 12 pixels or more on a side")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
    back = dis.calc(b, a, None)
    fwd = dis.calc(a, b, None)
    return back, fwd


def _grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[:, :, 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[:, :, 1]
    return xs, ys


def warp(scores: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``scores`` (``(H, W)`` or ``(H, W, C)``) of the previous frame sampled at ``x + flow(x)``
    (bilinear, edges replicated): the previous scores carried onto the current frame.

    >>> s = np.arange(4, dtype=np.float32).reshape(1, 4); f = np.zeros((1, 4, 2), np.float32); f[..., 0] = 1
    >>> warp(s, f).tolist()
    [[1.0, 2.0, 3.0, 3.0]]
    """
    if flow.shape[:2] != scores.shape[:2] or flow.ndim != 3 or flow.shape[2] != 2:
        raise InputError(f"flow {flow.shape} does not match scores {scores.shape}; expected (H, W, 2) of the same H, W")
    xs, ys = _grid(flow)
    return cv2.remap(np.ascontiguousarray(scores, dtype=np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_consistency(back: np.ndarray, fwd: np.ndarray, sigma: float = FLOW_SIGMA) -> np.ndarray:
    """Trust in the backward flow per pixel, ``c = exp(-e^2 / (2 sigma^2))`` with the forward-backward
    error ``e(x) = |back(x) + fwd(x + back(x))|``; 0 where ``x + back(x)`` leaves the frame.

    >>> z = np.zeros((2, 3, 2), np.float32)
    >>> flow_consistency(z, z).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if sigma <= 0:
        raise InputError(f"sigma={sigma!r}; expected a positive number of pixels")
    h, w = back.shape[:2]
    xs, ys = _grid(back)
    fwd_at = cv2.remap(np.ascontiguousarray(fwd, dtype=np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err2 = ((back + fwd_at) ** 2).sum(axis=2)
    c = np.exp(-err2 / np.float32(2.0 * sigma * sigma)).astype(np.float32)
    c[(xs < 0) | (xs > w - 1) | (ys < 0) | (ys > h - 1)] = 0.0
    return c


def flow_update(
    prev: np.ndarray | None, scores: np.ndarray, prev_image: np.ndarray | None, image: np.ndarray, alpha: float,
    sigma: float = FLOW_SIGMA,
) -> np.ndarray:
    """One step of flow-guided fusion of class scores ``(H, W, C)`` (module doc):
    ``s_t = z_t + (1 - alpha) * c_t * (warp(s_(t-1)) - z_t)``; with no previous state ``s_0 = z_0``.

    With no motion and full consistency this is :func:`ema_update`:

    >>> img = np.zeros((16, 16), np.uint8)
    >>> flow_update(np.ones((16, 16, 1)), np.zeros((16, 16, 1)), img, img, 0.5)[0, 0].tolist()
    [0.5]
    """
    if not 0.0 < alpha <= 1.0:
        raise InputError(f"smoothing alpha {alpha!r}; expected a number in (0, 1]")
    z = np.asarray(scores, dtype=np.float32)
    if prev is None or prev_image is None:
        return z.copy()
    if prev.shape != z.shape:
        raise InputError(f"previous scores have shape {prev.shape}, new ones {z.shape}; expected the same")
    back, fwd = backward_flow(prev_image, image)
    if back.shape[:2] != z.shape[:2]:
        raise InputError(f"frames are {back.shape[1]}x{back.shape[0]}, the scores {z.shape[1]}x{z.shape[0]}; expected the same")
    weight = flow_consistency(back, fwd, sigma) * np.float32(1.0 - alpha)
    warped = warp(prev, back).reshape(z.shape)
    return z + weight.reshape(weight.shape + (1,) * (z.ndim - 2)) * (warped - z)


def motion_change(
    prev_image: np.ndarray, image: np.ndarray, prev_labels: np.ndarray, labels: np.ndarray, flow_scale: float = CHANGE_FLOW_SCALE,
) -> tuple[float, float]:
    """Label change along motion between two frames: ``(change, followed)``.

    With the backward flow ``b`` and consistency ``c`` of :func:`backward_flow` and
    :func:`flow_consistency` (computed on the images scaled by ``flow_scale``, then brought to the
    label grid), the followed pixels ``F = {x : c(x) > FOLLOWED}`` and
    ``change = |{x in F : L_t(x) != L_(t-1)(x + b(x))}| / |F|`` (nearest label),
    ``followed = |F| / |{x}|``. ``change`` is NaN where ``followed < MIN_FOLLOWED_SHARE``.

    A pattern that moves is not a change:

    >>> rng = np.random.default_rng(0)
    >>> tex = cv2.GaussianBlur(rng.integers(0, 255, (64, 160), dtype=np.uint8), (5, 5), 0)
    >>> lab = (tex > 128).astype(np.uint8)
    >>> ch, fo = motion_change(tex[:, :128], tex[:, 6:134], lab[:, :128], lab[:, 6:134], flow_scale=1.0)
    >>> bool(ch < 0.05), bool(fo > 0.8), bool(flicker(lab[:, :128], lab[:, 6:134]) > 0.3)
    (True, True, True)
    """
    if prev_labels.shape != labels.shape:
        raise InputError(f"label maps differ in shape: {prev_labels.shape} then {labels.shape}")
    if not 0.0 < flow_scale <= 1.0:
        raise InputError(f"flow_scale={flow_scale!r}; expected a number in (0, 1]")
    a, b = _gray(prev_image, "prev_image"), _gray(image, "image")
    h, w = labels.shape
    size = (max(12, round(w * flow_scale)), max(12, round(h * flow_scale)))
    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    back, fwd = backward_flow(a, b)
    followed_small = (flow_consistency(back, fwd) > FOLLOWED).astype(np.uint8)
    followed = cv2.resize(followed_small, (w, h), interpolation=cv2.INTER_NEAREST).view(bool)
    share = float(followed.mean()) if followed.size else 0.0
    if share < MIN_FOLLOWED_SHARE:
        return float("nan"), share
    up = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(np.array([w / size[0], h / size[1]]))
    xs, ys = _grid(up)
    carried = cv2.remap(np.ascontiguousarray(prev_labels, dtype=np.uint16), xs, ys, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    changed = np.count_nonzero((carried != labels) & followed)
    return changed / np.count_nonzero(followed), share
