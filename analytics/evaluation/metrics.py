"""Segmentation accuracy against ground truth: confusion matrices, IoU, indicator errors, intervals.

Pure compute over integer label arrays (numpy only). Labels are annotation class ids
``0 .. K-1``; :data:`IGNORE` (255) marks a pixel that is not scored: unlabelled in the mask, or
predicted as a model class the label map does not carry (void).

Conventions: ``cm[t, p]`` counts the scored pixels of truth class ``t`` predicted as ``p``
(rows truth, columns prediction). Scores are fractions here; the evaluation's JSON gives percent.

- IoU of class c: ``IoU_c = cm[c, c] / (sum_p cm[c, p] + sum_t cm[t, c] - cm[c, c])``; undefined
  (NaN) when the class is neither in the truth nor in the prediction.
- mIoU: the mean of the defined ``IoU_c``.
- Pixel accuracy: ``sum_c cm[c, c] / sum cm``.
- Frequency-weighted IoU: ``sum_c f_c IoU_c`` with ``f_c = sum_p cm[c, p] / sum cm`` (classes
  without a defined IoU have ``f_c = 0``).
- Indicator error of one image, in percentage points: ``100 (P_S - T_S)`` with
  ``T_S = sum_{t in S} sum_p cm_i[t, p] / N_i`` and ``P_S = sum_{p in S} sum_t cm_i[t, p] / N_i``,
  ``S`` the annotation classes the indicator counts and ``N_i`` the image's scored pixels
  (prediction minus truth over the same pixels). Bias is the mean error over images, MAE the mean absolute error, each
  with a 95% percentile bootstrap interval over images (fixed seed, so reruns agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.errors import InputError

__all__ = [
    "IGNORE",
    "INDICATOR_GROUPS",
    "ErrorSummary",
    "bootstrap_interval",
    "confusion_matrix",
    "fw_iou",
    "class_shares",
    "indicator_errors",
    "iou_per_class",
    "mean_iou",
    "pixel_accuracy",
    "summarise_errors",
]

IGNORE = 255
"""Label value of a pixel that is not scored (unlabelled truth, void prediction)."""

INDICATOR_GROUPS: dict[str, tuple[str, ...]] = {
    "green_view": ("vegetation",),
    "sky_view": ("sky",),
    "share_road": ("road",),
    "share_sidewalk": ("sidewalk",),
    "pedestrian_share": ("person",),
    "share_vehicle": ("vehicle",),
}
"""Land-cover indicators checked against ground truth (names as in :mod:`analytics.indicators`) and the
indicator groups of the model classes they count (``pedestrian_share`` counts riders: Cityscapes'
``rider`` is in the person group)."""


def _check_labels(a: object, what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        shape = getattr(a, "shape", None)
        raise InputError(f"{what} must be a 2-D integer array of class ids, got {type(a).__name__} {shape}")
    return a


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts ``cm[t, p]`` over pixels where neither label is :data:`IGNORE`.

    ``cm = bincount(K * t + p)`` reshaped to ``K x K``.

    >>> t = np.array([[0, 0, 1, 255]]); p = np.array([[0, 1, 1, 0]])
    >>> confusion_matrix(t, p, 2).tolist()
    [[1, 1], [0, 1]]
    >>> confusion_matrix(t, np.array([[0, 0, 7, 0]]), 2)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: prediction holds class id(s) [7]; expected 0..1 or 255 (not scored)
    """
    t, p = _check_labels(truth, "truth"), _check_labels(pred, "prediction")
    if t.shape != p.shape:
        raise InputError(f"truth is {t.shape[1]}x{t.shape[0]} but the prediction {p.shape[1]}x{p.shape[0]}; expected the same size")
    if not isinstance(num_classes, int) or not 1 <= num_classes < IGNORE:
        raise InputError(f"num_classes={num_classes!r}; expected a whole number from 1 to {IGNORE - 1}")
    k = num_classes
    for a, what in ((t, "truth"), (p, "prediction")):
        bad = np.unique(a[(a != IGNORE) & ((a < 0) | (a >= k))])
        if bad.size:
            raise InputError(f"{what} holds class id(s) {bad[:5].tolist()}; expected 0..{k - 1} or {IGNORE} (not scored)")
    scored = (t != IGNORE) & (p != IGNORE)
    index = t[scored].astype(np.int64) * k + p[scored]
    return np.bincount(index, minlength=k * k).reshape(k, k)


def _check_cm(cm: np.ndarray) -> np.ndarray:
    cm = np.asarray(cm)
    if cm.ndim < 2 or cm.shape[-1] != cm.shape[-2]:
        raise InputError(f"a confusion matrix must be square (K, K), got shape {cm.shape}")
    return cm


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """``IoU_c = cm[c, c] / (row_c + col_c - cm[c, c])``; NaN where the union is empty.

    >>> iou_per_class(np.array([[2, 2], [0, 0]])).tolist()
    [0.5, 0.0]
    >>> iou_per_class(np.array([[1, 0], [0, 0]])).tolist()
    [1.0, nan]
    """
    cm = _check_cm(cm).astype(np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=1) + cm.sum(axis=0) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(cm: np.ndarray) -> float:
    """Mean of the defined per-class IoUs (NaN when none is defined).

    >>> mean_iou(np.array([[2, 2], [0, 0]]))
    0.25
    >>> mean_iou(np.array([[3, 0, 0], [0, 1, 0], [0, 0, 0]]))   # class 2 absent everywhere: not averaged
    1.0
    """
    iou = iou_per_class(cm)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


def pixel_accuracy(cm: np.ndarray) -> float:
    """``trace(cm) / sum(cm)``; NaN without scored pixels.

    >>> pixel_accuracy(np.array([[2, 2], [0, 0]]))
    0.5
    """
    cm = _check_cm(cm)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def fw_iou(cm: np.ndarray) -> float:
    """Frequency-weighted IoU ``sum_c (row_c / sum cm) IoU_c``; NaN without scored pixels.

    >>> fw_iou(np.array([[2, 2], [0, 0]]))   # all truth pixels are class 0, IoU 0.5
    0.5
    """
    cm = _check_cm(cm)
    total = cm.sum()
    if not total:
        return float("nan")
    freq = cm.sum(axis=1) / total
    return float(np.nansum(freq * iou_per_class(cm)))


def class_shares(cms: np.ndarray, class_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per image ``(T, P)``: the truth's and the prediction's share of the scored pixels in ``class_ids``.

    ``cms`` is ``(N, K, K)``, one confusion matrix per image; NaN for an image without scored pixels.

    >>> cm = np.array([[[6, 2], [0, 2]]])
    >>> [a.tolist() for a in class_shares(cm, [0])]
    [[0.8], [0.6]]
    """
    cms = _check_cm(cms)
    if cms.ndim != 3:
        raise InputError(f"expected one confusion matrix per image, shape (N, K, K); got {cms.shape}")
    k = cms.shape[1]
    bad = [c for c in class_ids if not 0 <= c < k]
    if bad:
        raise InputError(f"class id(s) {bad} outside 0..{k - 1}")
    ids = list(class_ids)
    total = cms.sum(axis=(1, 2)).astype(np.float64)
    truth = cms[:, ids, :].sum(axis=(1, 2))
    pred = cms[:, :, ids].sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, truth / total, np.nan), np.where(total > 0, pred / total, np.nan)


def indicator_errors(cms: np.ndarray, indicator_classes: Mapping[str, Sequence[int]]) -> dict[str, np.ndarray]:
    """Per-image error ``100 (P - T)`` in percentage points of each indicator, given the annotation
    class ids it counts; an indicator with no class is left out (the annotation cannot see it).

    >>> cm = np.array([[[6, 2], [0, 2]], [[5, 0], [5, 0]]])
    >>> {k: np.round(v, 6).tolist() for k, v in indicator_errors(cm, {"green_view": [0], "share_road": [1], "sky_view": []}).items()}
    {'green_view': [-20.0, 50.0], 'share_road': [20.0, -50.0]}
    """
    out: dict[str, np.ndarray] = {}
    for name, ids in indicator_classes.items():
        if len(ids) == 0:
            continue
        truth, pred = class_shares(cms, ids)
        out[name] = 100.0 * (pred - truth)
    return out


def bootstrap_interval(
    values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over resamples of ``values`` (with replacement).

    ``statistic`` maps an ``(B, n)`` array of resamples to ``B`` values. The interval is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of those; NaN without values.

    >>> lo, hi = bootstrap_interval(np.array([1.0, 2.0, 3.0, 4.0]), lambda r: r.mean(axis=1))
    >>> 1.0 <= lo < 2.5 < hi <= 4.0
    True
    >>> bootstrap_interval(np.array([2.0, 2.0]), lambda r: r.mean(axis=1))
    (2.0, 2.0)
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not isinstance(n_boot, int) or n_boot < 1:
        raise InputError(f"n_boot={n_boot!r}; expected a whole number of at least 1")
    if not 0.0 < level < 1.0:
        raise InputError(f"level={level!r}; expected a number between 0 and 1")
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = statistic(v[rng.integers(0, v.size, size=(n_boot, v.size))])
    lo, hi = np.quantile(stats, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


@dataclass(frozen=True)
class ErrorSummary:
    """Bias (mean error) and MAE (mean absolute error) of one indicator over images, in percentage
    points, with 95% bootstrap intervals; ``n`` images had scored pixels."""

    bias: float
    bias_low: float
    bias_high: float
    mae: float
    mae_low: float
    mae_high: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def summarise_errors(errors: np.ndarray, n_boot: int = 2000, seed: int = 0) -> ErrorSummary:
    """Bias ``mean(e)`` and MAE ``mean(|e|)`` over the images' errors ``e`` (NaN entries dropped).

    >>> s = summarise_errors(np.array([1.0, -1.0, 3.0, np.nan]))
    >>> s.bias, s.mae, s.n, s.bias_low <= s.bias <= s.bias_high
    (1.0, 1.6666666666666667, 3, True)
    """
    e = np.asarray(errors, dtype=np.float64)
    e = e[np.isfinite(e)]
    if e.size == 0:
        nan = float("nan")
        return ErrorSummary(nan, nan, nan, nan, nan, nan, 0)
    bias_ci = bootstrap_interval(e, lambda r: r.mean(axis=1), n_boot, seed)
    mae_ci = bootstrap_interval(np.abs(e), lambda r: r.mean(axis=1), n_boot, seed)
    return ErrorSummary(float(e.mean()), *bias_ci, float(np.abs(e).mean()), *mae_ci, int(e.size))
