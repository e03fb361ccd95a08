"""The adapted model's head: a softmax classifier on a frozen network's per-pixel features, in numpy.

With standardised features ``x' = (x - mu) / sigma`` and class weights ``w_c = 1 / n_c`` (``n_c`` the
sampled pixels of class c), :func:`fit_head` minimises

    L(W, b) = sum_i w_{y_i} (-log softmax(W x'_i + b)_{y_i}) / sum_i w_{y_i} + (lambda / 2) ||W||^2

by L-BFGS (it converges in about 200 iterations on CamVid); the standardisation is folded into the
convolution: ``W_conv = W / sigma``, ``b_conv = b - W_conv mu + tau log(pi_c)``, the last term adding back
part of the classes' pixel frequencies ``pi_c`` (:data:`PRIOR_TAU`): a fully balanced head gives small
classes the pixels of large ones and scores worse than the base on held-out sequences.

Blend with the base: a head fitted on a few frames forgets what the base knows, so the installed
logits are (:func:`blend_logits`)

    z = (1 - a) (W x + b_conv) + a log(M softmax(base logits) + eps)

with ``M`` the constant ``(K, C)`` matrix of the label map (:func:`base_map_matrix`: ``M[k, m] = 1``
when base class ``m`` maps to annotation class ``k``) and ``eps`` = :data:`BLEND_EPS`. An annotation
class no base class maps to gets the probability of the base classes mapped to nothing (void),
shared equally among such classes (``M[k, m] = 1 / U`` for each void base class ``m``, ``U``
unmapped annotation classes), and ``eps`` alone when every base class is mapped.

Pure numpy: no files, no ONNX (the graph the head becomes is built in :mod:`analytics.evaluation.graphs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.errors import InputError
from analytics.evaluation.metrics import IGNORE

__all__ = ["BLEND_EPS", "PRIOR_TAU", "Head", "Progress", "base_map_matrix", "blend_logits", "fit_head", "tick"]

PRIOR_TAU = 0.75
"""Share of the log class prior added back to a fitted head's bias (0: balanced head, 1: Bayes prior)."""
BLEND_EPS = 1e-4
"""Added to the base's mapped probabilities before the log (a floor for classes the base gives nothing)."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages ``features``, ``fit``, ``holdout``, ``refit``."""


def tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Call ``progress(stage, done, total)`` when there is a ``progress``."""
    if progress is not None:
        progress(stage, done, total)


@dataclass(frozen=True)
class Head:
    """A fitted head: ``logits = weight @ features + bias`` per pixel, in the annotation's class order."""

    weight: np.ndarray
    bias: np.ndarray
    class_names: tuple[str, ...]
    loss: float = float("nan")
    iterations: int = 0

    def __post_init__(self) -> None:
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],) or len(self.class_names) != self.weight.shape[0]:
            raise InputError(
                f"head weight {self.weight.shape}, bias {self.bias.shape} and {len(self.class_names)} class names "
                "disagree; expected (K, D), (K,) and K names"
            )


def base_map_matrix(lut: np.ndarray, num_base: int, k: int) -> np.ndarray:
    """``(K, C)`` float32 matrix sending the base's class probabilities to the annotation's (module doc).

    ``lut`` is :func:`~analytics.evaluation.labelmaps.label_lut`'s table (base class -> annotation
    class, 255 void). Annotation classes that no base class maps to share the void classes' mass.

    >>> base_map_matrix(np.array([0, 0, 255, 1] + [255] * 252, np.uint8), 4, 3).tolist()
    [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]
    """
    lut = np.asarray(lut)
    if lut.ndim != 1 or lut.size < num_base or not 1 <= k < IGNORE or num_base < 1:
        raise InputError(f"label table of shape {lut.shape} for {num_base} base and {k} annotation classes; "
                         "expected label_lut's (256,) table and 1..254 classes")
    m = np.zeros((k, num_base), np.float32)
    void = [c for c in range(num_base) if lut[c] >= k]
    for c in range(num_base):
        if lut[c] < k:
            m[lut[c], c] = 1.0
    unmapped = [a for a in range(k) if not m[a].any()]
    for a in unmapped:
        m[a, void] = 1.0 / len(unmapped)
    return m


def blend_logits(head_logits: np.ndarray, base_logits: np.ndarray, base_map: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - a) z_head + a log(M softmax(z_base) + eps)`` over channels-first arrays ``(K, ...)``, ``(C, ...)``.

    What the adapted graph computes (module doc); ``weight`` 0 returns the head's logits.

    >>> z = blend_logits(np.zeros((2, 1)), np.array([[0.0], [np.log(3.0)]]), np.eye(2, dtype=np.float32), 0.5)
    >>> np.round(z.ravel(), 3).tolist()
    [-0.693, -0.144]
    """
    if not 0.0 <= weight < 1.0:
        raise InputError(f"blend weight {weight!r}; expected a number in [0, 1)")
    z = np.asarray(head_logits, np.float64)
    if weight == 0.0:
        return z
    b = np.asarray(base_logits, np.float64)
    p = np.exp(b - b.max(axis=0, keepdims=True))
    p /= p.sum(axis=0, keepdims=True)
    q = np.tensordot(np.asarray(base_map, np.float64), p, axes=1) + BLEND_EPS
    return (1.0 - weight) * z + weight * np.log(q)


def _loss_grad(theta: np.ndarray, xs: np.ndarray, onehot_w: np.ndarray, w: np.ndarray, l2: float,
               k: int) -> tuple[float, np.ndarray]:
    """Weighted softmax cross-entropy plus ``l2/2 ||W||^2`` and its gradient (see the module doc)."""
    d = xs.shape[1]
    wt, b = theta[: k * d].reshape(k, d), theta[k * d:]
    z = xs @ wt.T.astype(np.float32) + b.astype(np.float32)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    loss = -float(np.sum(onehot_w * np.log(np.maximum(z, 1e-30)))) + 0.5 * l2 * float(np.sum(wt * wt))
    z *= w[:, None]
    z -= onehot_w
    gw = (z.T @ xs).astype(np.float64) + l2 * wt
    return loss, np.concatenate([gw.ravel(), z.sum(axis=0, dtype=np.float64)])


def _lbfgs(f: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, iters: int, memory: int = 10,
           tol: float = 1e-6, tick: Callable[[int], None] | None = None) -> tuple[np.ndarray, float, int]:
    """Limited-memory BFGS with a backtracking (Armijo) line search: ``(theta, f(theta), iterations)``."""
    loss, grad = f(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    it = 0
    for it in range(1, iters + 1):
        q = grad.copy()
        alphas = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float(s @ q) / float(y @ s)
            alphas.append(a)
            q -= a * y
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        for (s, y), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            q += s * (a - float(y @ q) / float(y @ s))
        direction = -q
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist, y_hist, direction, slope = [], [], -grad, -float(grad @ grad)
        step = 1.0 if s_hist else 1.0 / max(1.0, float(np.linalg.norm(grad)))
        while True:
            new = theta + step * direction
            new_loss, new_grad = f(new)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, y = new - theta, new_grad - grad
        if float(s @ y) > 1e-10:
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        done = abs(loss - new_loss) <= tol * max(1.0, abs(loss))
        theta, loss, grad = new, new_loss, new_grad
        if tick is not None:
            tick(it)
        if done or float(np.abs(grad).max()) < tol:
            break
    return theta, loss, it


def fit_head(
    x: np.ndarray, y: np.ndarray, class_names: Sequence[str], *, l2: float = 1e-4, iters: int = 300,
    prior: np.ndarray | None = None, tau: float = PRIOR_TAU, progress: Progress | None = None, stage: str = "fit",
) -> Head:
    """Fit the softmax head on features ``x`` (n, D) and classes ``y`` (n,) in ``0 .. K-1`` (see the module doc).

    A class with no pixel gets a zero weight row and a bias of -30 (never predicted). With ``prior``
    (the classes' pixel frequencies ``pi_c`` in the annotated frames, e.g. :meth:`FeatureSet.prior`)
    the balanced head's bias gets ``tau * log(pi_c)`` added back: the balanced fit treats every class
    as equally likely, which floods large classes (Building, Road) with small ones (Pole, Fence).

    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))]).astype(np.float32)
    >>> head = fit_head(x, np.repeat([0, 1], 200), ["a", "b"])
    >>> np.argmax(head.weight @ np.array([3.0, 3.0]) + head.bias).item()
    1
    """
    k = len(class_names)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise InputError(f"features {x.shape} and classes {y.shape}; expected (n, D) and (n,) with n > 0")
    if not 1 <= k < IGNORE or y.min() < 0 or y.max() >= k:
        raise InputError(f"classes hold values {int(y.min())}..{int(y.max())}; expected 0..{k - 1} for {k} class names")
    if not 0.0 <= l2 <= 100.0 or not 1 <= iters <= 10_000 or not 0.0 <= tau <= 1.0:
        raise InputError(f"l2={l2!r}, iters={iters!r}, tau={tau!r}; expected l2 in [0, 100], iters from 1 to 10000, tau in [0, 1]")
    if prior is not None and (np.shape(prior) != (k,) or not np.all(np.isfinite(prior)) or np.min(prior) < 0):
        raise InputError(f"class prior of shape {np.shape(prior)}; expected {k} non-negative frequencies")
    mu = x.mean(axis=0, dtype=np.float64)
    sigma = x.std(axis=0, dtype=np.float64)
    sigma[sigma < 1e-6] = 1.0
    xs = ((x - mu) / sigma).astype(np.float32)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    cw = np.where(present, 1.0 / np.maximum(counts, 1.0), 0.0)
    w = cw[y]
    w = (w / w.sum()).astype(np.float32)
    onehot_w = np.zeros((y.size, k), np.float32)
    onehot_w[np.arange(y.size), y] = w
    d = x.shape[1]
    theta0 = np.zeros(k * d + k)
    theta0[k * d:] = np.where(present, 0.0, -30.0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = _loss_grad(theta, xs, onehot_w, w, l2, k)
        grad[k * d:][~present] = 0.0
        grad[: k * d].reshape(k, d)[~present] = 0.0
        return loss, grad

    theta, loss, its = _lbfgs(f, theta0, iters, tick=lambda i: tick(progress, stage, i, iters))
    tick(progress, stage, iters, iters)
    wt, b = theta[: k * d].reshape(k, d), theta[k * d:]
    w_conv = wt / sigma
    b_conv = b - w_conv @ mu
    if prior is not None:
        pi = np.asarray(prior, np.float64)
        b_conv = b_conv + np.where(present, tau * np.log(np.maximum(pi / max(pi.sum(), 1e-12), 1e-6)), 0.0)
    return Head(w_conv.astype(np.float32), b_conv.astype(np.float32), tuple(class_names), loss, its)
