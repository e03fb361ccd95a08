"""Pick the frames worth annotating: scores and selection strategies (pure numpy).

Per frame (from the model's softmax ``p`` over ``C`` classes on the frame's pixels):

- uncertainty: the mean normalised entropy ``u = mean_px(-sum_c p_c log p_c) / log C`` in [0, 1];
- descriptor: the class histogram of its labels in three horizontal bands (top, middle, bottom),
  square-rooted (Hellinger), beside a 3x3 grid of mean colours scaled to [0, 1] and weighted by
  ``COLOUR_WEIGHT``: frames of the same scene lie close together.

Strategies (each returns ``n`` distinct frame indices, or all frames when there are fewer):

- ``random`` (the default: it wins the benchmark at N = 20, docs/adapt.md): a uniform draw
  without replacement (the baseline);
- ``uncertainty``: the most uncertain frames, skipping a frame that neighbours a chosen one in its
  sequence (``gap`` frames) or whose descriptor lies within ``min_distance`` of a chosen one's;
- ``diverse``: k-means (k-means++ start, seeded) on the descriptors with ``k = n``, then from
  each cluster, largest first, the frame nearest its centre (``argmin_f ||d_f - c_k||``), with the same neighbour and near-duplicate rule: typical
  frames of every kind of scene, not the odd ones. Uncertainty plays no part in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analytics.errors import InputError

__all__ = ["COLOUR_WEIGHT", "STRATEGIES", "descriptor", "kmeans", "mean_entropy", "random_picks", "select_frames"]

STRATEGIES = ("random", "diverse", "uncertainty")
"""Selection strategies; the first is the default (the benchmark's winner at N = 20, docs/adapt.md)."""
COLOUR_WEIGHT = 0.5
KMEANS_ITERS = 50
"""Most Lloyd iterations of :func:`kmeans` (it stops earlier when no frame changes cluster)."""


def mean_entropy(probs: np.ndarray) -> float:
    """Mean normalised entropy of per-pixel class probabilities ``(C, ...)`` (channels first), in [0, 1].

    >>> mean_entropy(np.array([[1.0, 0.5], [0.0, 0.5]]))
    0.5
    """
    p = np.asarray(probs, np.float64)
    if p.ndim < 2 or p.shape[0] < 2:
        raise InputError(f"probabilities of shape {p.shape}; expected (classes >= 2, pixels ...)")
    h = -np.sum(p * np.log(np.clip(p, 1e-12, 1.0)), axis=0)
    return float(h.mean() / np.log(p.shape[0]))


def descriptor(labels: np.ndarray, image_bgr: np.ndarray, num_classes: int) -> np.ndarray:
    """A frame's descriptor: banded class histograms (3 x C, square-rooted) and a 3x3 mean-colour grid (27).

    >>> d = descriptor(np.zeros((6, 6), np.uint8), np.zeros((6, 6, 3), np.uint8), 2)
    >>> d.shape, d[:2].tolist()
    ((33,), [1.0, 0.0])
    """
    if labels.ndim != 2 or image_bgr.shape[:2] != labels.shape:
        raise InputError(f"labels {labels.shape} and image {image_bgr.shape}; expected (H, W) and (H, W, 3)")
    parts = []
    for band in np.array_split(labels, 3, axis=0):
        valid = band[band < num_classes]
        hist = np.bincount(valid.ravel(), minlength=num_classes)[:num_classes].astype(np.float64)
        parts.append(np.sqrt(hist / max(hist.sum(), 1.0)))
    colours = [cell.reshape(-1, 3).mean(axis=0) / 255.0
               for rows in np.array_split(image_bgr, 3, axis=0) for cell in np.array_split(rows, 3, axis=1)]
    parts.append(COLOUR_WEIGHT * np.concatenate(colours))
    return np.concatenate(parts)


def kmeans(d: np.ndarray, k: int, seed: int = 0, iters: int = KMEANS_ITERS) -> tuple[np.ndarray, np.ndarray]:
    """``(centres (k, D), cluster of each row)``: Lloyd's k-means from a seeded k-means++ start.

    k-means++ draws each next starting centre with probability ``D(x)^2 / sum D^2`` (``D`` the
    distance to the nearest centre so far); a cluster left empty keeps its centre.

    >>> d = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> sorted(kmeans(d, 2)[1].tolist())
    [0, 0, 1, 1]
    """
    x = np.asarray(d, np.float64)
    if x.ndim != 2 or not 1 <= k <= x.shape[0]:
        raise InputError(f"k-means of {k} clusters on data of shape {x.shape}; expected (rows >= k, D) and k >= 1")
    rng = np.random.default_rng(seed)
    centres = [x[int(rng.integers(x.shape[0]))]]
    dist = np.sum((x - centres[0]) ** 2, axis=1)
    for _ in range(k - 1):
        total = float(dist.sum())
        pick = int(rng.choice(x.shape[0], p=dist / total)) if total > 0 else int(rng.integers(x.shape[0]))
        centres.append(x[pick])
        dist = np.minimum(dist, np.sum((x - x[pick]) ** 2, axis=1))
    c = np.stack(centres)
    assign = np.full(x.shape[0], -1)
    for _ in range(iters):
        new = np.argmin(np.sum(c * c, axis=1)[None, :] - 2.0 * x @ c.T, axis=1)  # ||x - c||^2 less ||x||^2
        if np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            if np.any(assign == j):
                c[j] = x[assign == j].mean(axis=0)
    return c, assign


def _blocked(i: int, chosen: list[int], keys: Sequence[tuple[str, int]], desc: np.ndarray, gap: int,
             min_distance: float) -> bool:
    """Frame ``i`` neighbours a chosen frame in its sequence or nearly duplicates one."""
    seq, frame = keys[i]
    for j in chosen:
        if keys[j][0] == seq and abs(keys[j][1] - frame) <= gap:
            return True
    return bool(chosen) and float(np.min(np.linalg.norm(desc[chosen] - desc[i], axis=1))) < min_distance


def random_picks(n: int, m: int, seed: int = 0) -> list[int]:
    """``min(n, m)`` distinct indices of ``range(m)`` drawn by a generator seeded with ``seed``
    (what the ``random`` strategy chooses; it needs no model output).

    >>> random_picks(3, 10, seed=0) == random_picks(3, 10, seed=0), len(random_picks(5, 2))
    (True, 2)
    """
    return [int(i) for i in np.random.default_rng(seed).choice(m, min(n, m), replace=False)]


def select_frames(
    strategy: str, n: int, uncertainty: np.ndarray, descriptors: np.ndarray, keys: Sequence[tuple[str, int]], *,
    seed: int = 0, gap: int = 1, min_distance: float = 0.05,
) -> list[int]:
    """``n`` frame indices by ``strategy`` (see the module doc), in the order chosen.

    ``keys`` gives each frame's ``(sequence, position)``; neighbours within ``gap`` positions in the
    same sequence are never both chosen (nor frames closer than ``min_distance`` in descriptor space)
    unless too few frames remain, in which case the rule is relaxed to reach ``n``.

    >>> u = np.array([0.9, 0.8, 0.1, 0.7]); d = np.eye(4); keys = [("a", 0), ("a", 1), ("a", 5), ("a", 9)]
    >>> select_frames("uncertainty", 2, u, d, keys)
    [0, 3]
    """
    if strategy not in STRATEGIES:
        raise InputError(f"strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    u = np.asarray(uncertainty, np.float64)
    d = np.asarray(descriptors, np.float64)
    m = u.shape[0]
    if u.ndim != 1 or d.ndim != 2 or d.shape[0] != m or len(keys) != m:
        raise InputError(f"uncertainty {u.shape}, descriptors {d.shape} and {len(keys)} keys; expected one of each per frame")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n={n!r}; expected a whole number of frames, at least 1")
    n = min(n, m)
    if strategy == "random":
        return random_picks(n, m, seed)
    if strategy == "diverse":
        return _representatives(n, d, keys, seed, gap, min_distance)
    chosen: list[int] = []
    for relax in (False, True):
        while len(chosen) < n:
            free = [i for i in range(m) if i not in chosen and (relax or not _blocked(i, chosen, keys, d, gap, min_distance))]
            if not free:
                break
            best = max(free, key=lambda i: (u[i], -i))
            chosen.append(best)
    return chosen


def _representatives(n: int, d: np.ndarray, keys: Sequence[tuple[str, int]], seed: int, gap: int,
                     min_distance: float) -> list[int]:
    """The frame nearest each k-means centre, clusters largest first; a blocked frame gives way to the
    next nearest of its cluster, and frames still missing are the farthest from those chosen (k-centre)."""
    centres, assign = kmeans(d, n, seed)
    sizes = np.bincount(assign, minlength=n)
    chosen: list[int] = []
    for j in sorted(range(n), key=lambda j: (-sizes[j], j)):
        members = np.flatnonzero(assign == j)
        for i in members[np.argsort(np.linalg.norm(d[members] - centres[j], axis=1), kind="stable")]:
            if not _blocked(int(i), chosen, keys, d, gap, min_distance):
                chosen.append(int(i))
                break
    for relax in (False, True):
        while len(chosen) < n:
            free = [i for i in range(d.shape[0]) if i not in chosen and (relax or not _blocked(i, chosen, keys, d, gap, min_distance))]
            if not free:
                break
            dist = np.min(np.linalg.norm(d[free][:, None, :] - d[chosen][None, :, :], axis=2), axis=1)
            chosen.append(free[int(np.argmax(dist))])
    return chosen
