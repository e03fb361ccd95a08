"""Statistics for indicators: ratio estimators with clips as clusters.

Frames of one clip are not independent (the same street, seconds apart), so intervals treat the
*clip* as the sampling unit. For an indicator written as a ratio of sums over frames,
``R = Σ_i y_i / Σ_i x_i`` where ``y_i`` and ``x_i`` are the numerator and denominator totals of
clip ``i`` (k clips), the linearised (Taylor / sandwich) variance of a cluster sample is

    Var(R) ≈ k / (k − 1) · Σ_i (y_i − R·x_i)² / (Σ_i x_i)²

(Cochran, *Sampling Techniques*, 3rd ed., 1977, §6.3–6.4 on ratio estimators; the same
estimator as cluster-robust standard errors). The 95% interval is ``R ± t_{0.975, k−1} · √Var``.
With one clip there is no between-clip variation to estimate and the interval is missing.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "t_quantile_975",
    "ratio_interval",
]

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student t quantile for ``df`` degrees of freedom.

    >>> t_quantile_975(1), t_quantile_975(10), t_quantile_975(1000)
    (12.706, 2.228, 1.96)
    """
    if df < 1:
        return math.nan
    return _T975[df - 1] if df <= len(_T975) else 1.96


def ratio_interval(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Ratio of sums and its 95% interval with clusters as the unit (formula in the module doc).

    ``y`` and ``x`` are per-cluster (per-clip) numerator and denominator totals.

    >>> # three clips of 10 units with 1, 2 and 3 hits: R = 6/30; resid = (-1, 0, 1); t(2) = 4.303
    >>> r, lo, hi = ratio_interval(np.array([1.0, 2.0, 3.0]), np.array([10.0, 10.0, 10.0]))
    >>> round(r, 3), round(lo, 3), round(hi, 3)
    (0.2, -0.048, 0.448)
    >>> ratio_interval(np.array([1.0]), np.array([4.0]))[0]
    0.25
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    k = len(y)
    sx = float(x.sum())
    if k == 0 or sx <= 0:
        return math.nan, math.nan, math.nan
    r = float(y.sum()) / sx
    if k < 2:
        return r, math.nan, math.nan
    var = k / (k - 1) * float(((y - r * x) ** 2).sum()) / sx**2
    half = t_quantile_975(k - 1) * math.sqrt(var)
    return r, r - half, r + half
