"""Sharper labels from class scores: dense CRF refinement and test-time augmentation merging.

Pure compute over class scores laid out ``(H, W, C)`` (``float32``; the segment adapter hands
the model's logits over in this layout) and the frame at the model's input size.

- :func:`crf_refine`: a dense conditional random field over the softmax (Krähenbühl & Koltun,
  *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*, NeurIPS 2011; as
  in DeepLab, Chen et al. 2017) with Potts compatibility, solved by mean-field iterations

      Q_0 = softmax(U),   Q_(k+1) = softmax(U + w_a * A(Q_k) + w_s * S(Q_k))

  where ``U`` are the logits (negative unary energies up to a per-pixel constant), ``S`` is the
  smoothness kernel (a Gaussian of ``smoothness_sigma`` px) and ``A`` the appearance kernel.
  The fully connected bilateral appearance kernel is approximated by an edge-aware guided filter
  (He, Sun & Tang, *Guided Image Filtering*, TPAMI 2013) on the frame's intensity, which like the
  bilateral kernel averages over pixels of similar colour and stops at edges, at O(pixels) cost
  with box filters. For the Potts model the message to label ``l`` is
  ``sum_j k(i, j) (1 - Q_j(l)) = const - (k * Q(l))_i``, hence the plus signs above. Filtering
  runs at ``1 / downsample`` of the input size over the classes present in the frame (a class
  whose probability stays below 1e-3 everywhere keeps its unary score); the result is brought
  back to full size by bilinear interpolation of the pairwise term only, so edges stay sharp.
  No maintained CRF package installs from a wheel here (``pydensecrf2`` has none), hence numpy
  and OpenCV.
- :func:`flip_merge` and :func:`merge_scales`: the reference formulas of test-time augmentation,
  the mean of the logits of the augmented views mapped back onto the frame
  ``z = (1 / K) * sum_k T_k^-1(f(T_k(x)))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from analytics.cards import CrfParams
from analytics.errors import InputError

__all__ = [
    "REFINE_METHODS", "SCALES", "TTA_MODES", "check_refine", "check_tta", "crf_refine", "flip_merge", "guided_filter",
    "label_confidence", "merge_scales", "softmax", "tta_scales",
]

REFINE_METHODS = ("none", "crf")
"""Label refinement after the model: none, or the dense CRF of :func:`crf_refine`."""
TTA_MODES = ("none", "flip", "scales", "flip+scales")
"""Test-time augmentation: horizontal flip, the :data:`SCALES`, or both (flip at every scale)."""
SCALES = (0.75, 1.0, 1.25)
"""Input scales averaged by ``--tta scales``."""
PRESENT = 1e-3
"""A class whose probability stays below this everywhere in a frame is left out of the CRF filtering."""


def check_refine(method: str) -> str:
    """``method`` if it is one of :data:`REFINE_METHODS`, else an InputError.

    >>> check_refine("crf")
    'crf'
    """
    if method not in REFINE_METHODS:
        raise InputError(f"refine {method!r}; expected one of {', '.join(REFINE_METHODS)}")
    return method


def check_tta(mode: str) -> str:
    """``mode`` if it is one of :data:`TTA_MODES`, else an InputError.

    >>> check_tta("flip")
    'flip'
    >>> check_tta("rotate")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: tta 'rotate'; expected one of none, flip, scales, flip+scales
    """
    if mode not in TTA_MODES:
        raise InputError(f"tta {mode!r}; expected one of {', '.join(TTA_MODES)}")
    return mode


def tta_scales(mode: str) -> list[float]:
    """The scales a TTA mode runs the model at.

    >>> tta_scales("none"), tta_scales("scales")
    ([1.0], [0.75, 1.0, 1.25])
    """
    return list(SCALES) if "scales" in check_tta(mode) else [1.0]


def _check_scores(scores: np.ndarray) -> np.ndarray:
    if not isinstance(scores, np.ndarray) or scores.ndim != 3 or scores.shape[2] < 2:
        shape = getattr(scores, "shape", None)
        raise InputError(f"class scores must be a (height, width, classes) array with 2 or more classes, got shape {shape}")
    return scores.astype(np.float32, copy=False)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, ``p_c = exp(z_c - max z) / sum_k exp(z_k - max z)``.

    >>> softmax(np.array([[[0.0, np.log(3.0)]]], np.float32)).round(2).tolist()
    [[[0.25, 0.75]]]
    """
    z = np.asarray(scores, dtype=np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def label_confidence(scores: np.ndarray, stride: int = 1, probabilities: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Arg-max labels (``uint8 (H, W)``) and the softmax maximum on every ``stride``-th row and
    column (``float32``); ``probabilities`` says the scores are already probabilities.

    >>> z = np.array([[[2.0, 0.0], [0.0, 0.0]]], np.float32)
    >>> labels, conf = label_confidence(z)
    >>> labels.tolist(), [round(float(c), 2) for c in conf.ravel()]
    ([[0, 0]], [0.88, 0.5])
    """
    z = _check_scores(scores)
    labels = z.argmax(axis=2).astype(np.uint8)
    thin = z[::stride, ::stride]
    conf = thin.max(axis=2) if probabilities else 1.0 / np.exp(thin - thin.max(axis=2, keepdims=True)).sum(axis=2)
    return labels, conf.astype(np.float32)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter of ``src`` (``(H, W)`` or ``(H, W, C)``) with a grey ``guide`` in [0, 1].

    ``a = cov(I, p) / (var(I) + eps)``, ``b = mean(p) - a * mean(I)``, ``q = mean(a) * I + mean(b)``,
    means over ``(2r + 1)^2`` boxes. A flat guide gives the box mean; a step edge in the guide keeps
    a step in the output.

    >>> g = np.zeros((1, 8), np.float32); g[:, 4:] = 1.0
    >>> guided_filter(g, g.copy(), 2, 1e-4).round(2).tolist()
    [[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, size, borderType=cv2.BORDER_REFLECT)

    guide = guide.astype(np.float32, copy=False)
    g = guide[:, :, None] if src.ndim == 3 else guide
    mean_i = box(guide)
    var_i = box(guide * guide) - mean_i * mean_i
    mi = mean_i[:, :, None] if src.ndim == 3 else mean_i
    vi = var_i[:, :, None] if src.ndim == 3 else var_i
    mean_p = box(src)
    a = (box(src * g) - mi * mean_p) / (vi + np.float32(eps))
    b = mean_p - a * mi
    return box(a) * g + box(b)


def _intensity(image_bgr: np.ndarray) -> np.ndarray:
    if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise InputError(f"image must be a BGR uint8 (height, width, 3) array, got {getattr(image_bgr, 'shape', None)}")
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / np.float32(255.0)


def crf_refine(scores: np.ndarray, image_bgr: np.ndarray, params: CrfParams | None = None) -> np.ndarray:
    """Class probabilities ``(H, W, C)`` after dense CRF mean-field refinement of logits ``scores``
    ``(H, W, C)`` with the frame ``image_bgr`` (``uint8 (H, W, 3)``, the model's view); see the module doc.

    A noisy pixel inside a uniform region takes its neighbours' label:

    >>> z = np.zeros((9, 9, 2), np.float32); z[..., 0] = 1.0; z[4, 4] = (0.0, 1.0)
    >>> img = np.full((9, 9, 3), 128, np.uint8)
    >>> crf_refine(z, img, CrfParams(downsample=1, appearance_radius=2)).argmax(axis=2)[4, 4]
    np.int64(0)
    """
    p = params or CrfParams()
    if not isinstance(p, CrfParams):
        raise InputError(f"params must be CrfParams, got {type(p).__name__}")
    z = _check_scores(scores)
    guide = _intensity(image_bgr)
    if guide.shape != z.shape[:2]:
        raise InputError(f"image is {guide.shape[1]}x{guide.shape[0]}, the scores {z.shape[1]}x{z.shape[0]}; expected the same")
    q = softmax(z)
    present = np.flatnonzero(q.reshape(-1, q.shape[2]).max(axis=0) >= PRESENT)
    if present.size < 2:
        return q
    h, w = guide.shape
    ds = p.downsample
    small = (max(1, w // ds), max(1, h // ds))
    g_small = cv2.resize(guide, small, interpolation=cv2.INTER_AREA) if ds > 1 else guide
    u = np.ascontiguousarray(z[:, :, present])
    for _ in range(p.iterations):
        qs = np.ascontiguousarray(q[:, :, present])
        if ds > 1:
            qs = cv2.resize(qs, small, interpolation=cv2.INTER_AREA)
        msg = _pairwise(qs, g_small, p)
        if ds > 1:
            msg = cv2.resize(msg, (w, h), interpolation=cv2.INTER_LINEAR)
        msg = msg.reshape(h, w, present.size)
        q = z.copy()
        q[:, :, present] = u + msg
        q = softmax(q)
    return q


def _pairwise(q: np.ndarray, guide: np.ndarray, p: CrfParams) -> np.ndarray:
    """``w_a * A(Q) + w_s * S(Q)`` for probabilities ``q (h, w, k)``."""
    msg = np.zeros_like(q)
    if p.appearance_weight > 0:
        msg += np.float32(p.appearance_weight) * guided_filter(guide, q, p.appearance_radius, p.appearance_eps).reshape(q.shape)
    if p.smoothness_weight > 0 and p.smoothness_sigma > 0:
        msg += np.float32(p.smoothness_weight) * cv2.GaussianBlur(q, (0, 0), p.smoothness_sigma).reshape(q.shape)
    return msg


def flip_merge(scores: np.ndarray, flipped_scores: np.ndarray) -> np.ndarray:
    """Mean of the logits of a frame and of its mirror image flipped back, ``(z + flip(z_f)) / 2``;
    the reference of the in-graph flip of :class:`analytics.footage.segment.Segmenter`.

    >>> flip_merge(np.array([[[1.0], [3.0]]]), np.array([[[5.0], [7.0]]])).ravel().tolist()
    [4.0, 4.0]
    """
    a, b = np.asarray(scores, np.float32), np.asarray(flipped_scores, np.float32)
    if a.shape != b.shape:
        raise InputError(f"scores have shape {a.shape}, the flipped ones {b.shape}; expected the same")
    return (a + b[:, ::-1]) * np.float32(0.5)


def merge_scales(scores: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Mean of logits computed at several scales, each resized (bilinear) to ``height x width``:
    ``z = (1 / K) * sum_k resize(z_k)``.

    >>> merge_scales([np.ones((2, 2, 1), np.float32), np.full((4, 4, 1), 3.0, np.float32)], 4, 4).mean()
    np.float32(2.0)
    """
    if not scores:
        raise InputError("merge_scales needs the scores of at least one scale")
    total = np.zeros((height, width, scores[0].shape[2]), np.float32)
    for s in scores:
        r = s if s.shape[:2] == (height, width) else cv2.resize(s, (width, height), interpolation=cv2.INTER_LINEAR)
        total += r.reshape(height, width, -1)
    total /= np.float32(len(scores))
    return total
