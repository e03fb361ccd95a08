"""Multi-object tracking by detection, ByteTrack-style, and the pairing of riders with bicycles.

The tracker follows Zhang et al. 2022, "ByteTrack: Multi-Object Tracking by Associating Every
Detection Box" (ECCV 2022, arXiv:2110.06864):

- **Motion model**: one constant-velocity Kalman filter per track on ``(cx, cy, a, h)`` (box
  centre, aspect ``a = w / h``, height) and their velocities per second, stepped by the time
  between frames ``dt`` (``x' = x + v dt``); the noise of position and velocity scales with the box
  height (weights 1/20 and 1/160, as in ByteTrack and DeepSORT, per step of :data:`REFERENCE_STEP_S`)
  and the process noise with ``dt / REFERENCE_STEP_S``, so a clip tracked at 5 or 25 frames/s
  predicts the same motion as at 10.
- **Two-stage association** per frame: detections with ``score >= high_score`` are matched to every
  live track (tracked, lost or tentative) by IoU of the predicted box with the Hungarian algorithm
  (:func:`linear_assignment`), a pair kept only where ``IoU >= match_iou``; then the detections with
  ``low_score <= score < high_score`` are matched to the tracks that were tracked in the previous
  frame and are still unmatched, kept where ``IoU >= low_match_iou``. A low-score box never starts
  a track.
- **Class gating**: a detection may continue a track only when both are in the same gate
  (:data:`GATES`: people; bicycles and motorcycles; cars, buses and trucks), so a person never
  continues a car's track; a track's class is the majority vote of its matched labels (ties go to
  the label seen first).
- **Birth**: an unmatched high-score detection starts a tentative track; it is confirmed, and only
  then gets an id, after ``min_hits`` consecutive matched frames; a tentative track that misses a
  frame is dropped.
- **Recovery** (optional, ``recover_gate``): a confirmed track still unmatched is re-found by a
  remaining high-score detection near its bottom-centre extrapolated from its last matched points
  (:func:`extrapolate_bottom`), after the observation-centric recovery of OC-SORT (Cao et al. 2023,
  "Observation-Centric SORT", CVPR 2023, arXiv:2203.14360): it bridges gaps where the detector
  misses an object for a second or more and the box-based Kalman prediction drifts (boxes cut by the
  frame's edge grow instead of moving).
- **Death**: a confirmed track that has gone unmatched for more than ``max_lost`` frames ends.

Every track keeps its history: the frame time and the matched box of each frame it was matched in,
from which :attr:`Track.centres` and :attr:`Track.bottoms` (the bottom-centre, the reference point of
count lines) follow.

Pure compute: arrays in, tracks out; no files, no clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.errors import InputError

__all__ = [
    "GATES",
    "GROUPS",
    "REFERENCE_STEP_S",
    "RiderOptions",
    "Track",
    "Tracker",
    "TrackerOptions",
    "box_iou",
    "extrapolate_bottom",
    "linear_assignment",
    "pair_riders",
    "track_frames",
]

GROUPS: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
"""The detection groups a tracker accepts (COCO classes mapped by the detector adapter)."""

GATES: dict[str, str] = {
    "person": "person",
    "bicycle": "two-wheeler",
    "motorcycle": "two-wheeler",
    "car": "vehicle",
    "bus": "vehicle",
    "truck": "vehicle",
}
"""Class gate of each group: a detection continues a track only within the same gate."""

_INFEASIBLE = 1e6


@dataclass(frozen=True)
class TrackerOptions:
    """Thresholds of :class:`Tracker` (defaults: ByteTrack's, ``max_lost`` = 1 s at 10 frames/s).

    >>> TrackerOptions(min_hits=0)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: tracker min_hits 0 is not accepted; expected a whole number from 1 to 1000
    """

    high_score: float = 0.5
    low_score: float = 0.1
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    min_hits: int = 2
    max_lost: int = 10
    recover_gate: float = 0.0
    """Third association (0: off): a confirmed track unmatched so far is re-found by a remaining
    high-score detection whose bottom-centre lies within ``recover_gate`` x the track's median box
    height of the track's bottom-centre extrapolated to this frame (:func:`extrapolate_bottom`)."""

    def __post_init__(self) -> None:
        for name in ("high_score", "low_score", "match_iou", "low_match_iou"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0.0 < v <= 1.0):
                raise InputError(f"tracker {name} {v!r:.40} is not accepted; expected a number in (0, 1]")
        if self.low_score > self.high_score:
            raise InputError(f"tracker low_score {self.low_score} is above high_score {self.high_score}; expected low_score <= high_score")
        if isinstance(self.recover_gate, bool) or not isinstance(self.recover_gate, int | float) or not 0.0 <= self.recover_gate <= 10.0:
            raise InputError(f"tracker recover_gate {self.recover_gate!r:.40} is not accepted; expected a number from 0 (off) to 10")
        for name in ("min_hits", "max_lost"):
            v = getattr(self, name)
            lowest = 1 if name == "min_hits" else 0
            if isinstance(v, bool) or not isinstance(v, int) or not (lowest <= v <= 1000):
                raise InputError(f"tracker {name} {v!r:.40} is not accepted; expected a whole number from {lowest} to 1000")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4), boxes ``x1, y1, x2, y2``.

    ``IoU = area(a ∩ b) / (area(a) + area(b) - area(a ∩ b))``, 0 where the union is empty.

    >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).round(3).tolist()
    [[0.333, 0.0]]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the assignment of least total cost (Hungarian method, O(n³)).

    Kuhn 1955 / Munkres 1957 with the shortest-augmenting-path potentials of Jonker and Volgenant
    1987: for an ``n × m`` matrix, ``min(n, m)`` pairs, each row and column used at most once, the
    sum of ``cost[rows, cols]`` minimal. Rows come back sorted.

    >>> rows, cols = linear_assignment(np.array([[4.0, 1, 3], [2, 0, 5], [3, 2, 2]]))
    >>> rows.tolist(), cols.tolist()
    ([0, 1, 2], [1, 0, 2])
    >>> [a.tolist() for a in linear_assignment(np.zeros((0, 3)))]
    [[], []]
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not np.isfinite(c).all():
        raise InputError("assignment cost must be finite; use a large finite cost for forbidden pairs")
    transposed = c.shape[0] > c.shape[1]
    if transposed:
        c = c.T
    col_of_row = _assign_rows(c)
    rows = np.arange(c.shape[0])
    if transposed:
        order = np.argsort(col_of_row)
        return col_of_row[order], rows[order]
    return rows, col_of_row


def _assign_rows(c: np.ndarray) -> np.ndarray:
    """Column of each row for an ``n × m`` cost with ``n <= m`` (potentials ``u``, ``v``; 1-based)."""
    n, m = c.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    row_of = np.zeros(m + 1, dtype=np.int64)  # row matched to each column, 0 = none
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of[j0]
            free = ~used[1:]
            reduced = c[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[row_of[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    col_of_row = np.zeros(n, dtype=np.int64)
    for j in range(1, m + 1):
        if row_of[j]:
            col_of_row[row_of[j] - 1] = j - 1
    return col_of_row


def _to_xyah(box: np.ndarray) -> np.ndarray:
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w / max(h, 1e-6), h])


def _to_xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, a, h = state[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


REFERENCE_STEP_S = 0.1
"""The step (s) ByteTrack's per-frame noise weights are taken for: one frame at 10 frames/s, the
default tracking rate. Velocities are per second (``v = v_frame / REFERENCE_STEP_S``)."""
_H = np.eye(4, 8)
_W_POS, _W_VEL = 1 / 20, 1 / 160


def _transition(dt: float) -> np.ndarray:
    """``F(dt)``: ``x' = x + v dt`` for the four quantities and their velocities.

    >>> float(_transition(0.5)[0, 4]), float(_transition(0.5)[4, 4])
    (0.5, 1.0)
    """
    return np.eye(8) + dt * np.eye(8, k=4)


class _Kalman:
    """Constant-velocity Kalman filter on ``(cx, cy, a, h, vcx, vcy, va, vh)``, velocities per second
    (ByteTrack's noise per :data:`REFERENCE_STEP_S`; process noise ``Q(dt) = Q_ref dt / REFERENCE_STEP_S``)."""

    def __init__(self, box: np.ndarray) -> None:
        z = _to_xyah(box)
        self.x = np.concatenate([z, np.zeros(4)])
        h, r = z[3], 1.0 / REFERENCE_STEP_S
        std = np.array([2 * _W_POS * h, 2 * _W_POS * h, 1e-2, 2 * _W_POS * h,
                        10 * _W_VEL * h * r, 10 * _W_VEL * h * r, 1e-5 * r, 10 * _W_VEL * h * r])
        self.p = np.diag(std**2)

    def predict(self, lost: bool, dt: float = REFERENCE_STEP_S) -> None:
        if lost:
            self.x[7] = 0.0  # a lost box keeps its height
        h, r = self.x[3], 1.0 / REFERENCE_STEP_S
        q_ref = np.array([_W_POS * h, _W_POS * h, 1e-2, _W_POS * h, _W_VEL * h * r, _W_VEL * h * r, 1e-5 * r, _W_VEL * h * r]) ** 2
        f = _transition(dt)
        self.x = f @ self.x
        self.p = f @ self.p @ f.T + np.diag(q_ref * (dt / REFERENCE_STEP_S))

    def update(self, box: np.ndarray) -> None:
        h = self.x[3]
        r = np.diag(np.array([_W_POS * h, _W_POS * h, 1e-1, _W_POS * h]) ** 2)
        s = _H @ self.p @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.p).T
        self.x = self.x + gain @ (_to_xyah(box) - _H @ self.x)
        self.p = self.p - gain @ s @ gain.T

    @property
    def box(self) -> np.ndarray:
        return _to_xyxy(self.x)


@dataclass
class Track:
    """One tracked object: its id (0 while tentative), class votes and history.

    ``times`` and ``boxes`` hold the frame time (s) and the matched box (``x1, y1, x2, y2``, frame
    pixels) of every frame the track was matched in, tentative frames included.
    """

    track_id: int = 0
    votes: Counter[str] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    box_list: list[tuple[float, float, float, float]] = field(default_factory=list)
    hits: int = 0
    lost: int = 0
    first_label: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Majority vote of the matched labels; a tie goes to the label seen first."""
        return min(self.votes, key=lambda k: (-self.votes[k], self.first_label[k]))

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0

    @property
    def boxes(self) -> np.ndarray:
        return np.asarray(self.box_list, dtype=np.float64).reshape(-1, 4)

    @property
    def centres(self) -> np.ndarray:
        """Box centres ``(n, 2)``."""
        b = self.boxes
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)

    @property
    def bottoms(self) -> np.ndarray:
        """Bottom-centres ``(n, 2)``: where the object meets the ground, the point count lines use."""
        b = self.boxes
        return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)

    def _add(self, t: float, box: np.ndarray, label: str) -> None:
        self.times.append(float(t))
        self.box_list.append((float(box[0]), float(box[1]), float(box[2]), float(box[3])))
        self.first_label.setdefault(label, len(self.first_label))
        self.votes[label] += 1


def _check_frame(boxes: object, scores: object, labels: Sequence[str], t: float) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(np.asarray(boxes)) else np.zeros((0, 4))
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(b) or len(labels) != len(b):
        raise InputError(f"tracker frame: {len(b)} boxes, {len(s)} scores and {len(labels)} labels; expected one of each per detection")
    if not (np.isfinite(b).all() and np.isfinite(s).all() and math.isfinite(t)):
        raise InputError("tracker frame: boxes, scores and time must be finite numbers")
    bad = [lab for lab in labels if lab not in GATES]
    if bad:
        raise InputError(f"tracker frame: label {str(bad[0])[:40]!r} is not accepted; expected one of {', '.join(GROUPS)}")
    return b, s


class Tracker:
    """ByteTrack-style tracker (see the module docstring); call :meth:`update` once per frame in order.

    >>> tr = Tracker(TrackerOptions(min_hits=2))
    >>> [t.track_id for t in tr.update([[0, 0, 10, 20]], [0.9], ["person"], 0.0)]
    []
    >>> [t.track_id for t in tr.update([[2, 0, 12, 20]], [0.9], ["person"], 0.1)]
    [1]
    """

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._live: list[tuple[Track, _Kalman]] = []
        self._ended: list[Track] = []
        self._next_id = 1
        self._t: float | None = None

    def update(self, boxes: object, scores: object, labels: Sequence[str], t: float) -> list[Track]:
        """Advance to the frame at time ``t`` (s, not before the previous frame's); returns the
        confirmed tracks matched in this frame. The motion is predicted over the time since the
        previous frame (:data:`REFERENCE_STEP_S` for the first)."""
        b, s = _check_frame(boxes, scores, labels, t)
        if self._t is not None and t < self._t:
            raise InputError(f"tracker frame at {t:g} s comes before the previous one at {self._t:g} s; frames must come in time order")
        dt = REFERENCE_STEP_S if self._t is None else float(t) - self._t
        self._t = float(t)
        o = self.options
        for trk, kf in self._live:
            kf.predict(trk.lost > 0, dt)
        high = np.flatnonzero(s >= o.high_score)
        low = np.flatnonzero((s >= o.low_score) & (s < o.high_score))
        everyone = list(range(len(self._live)))
        pairs1, left_tracks, left_high = self._associate(everyone, high, b, labels, o.match_iou)
        recent = [i for i in left_tracks if self._live[i][0].lost == 0]
        pairs2, _, _ = self._associate(recent, low, b, labels, o.low_match_iou)
        pairs3 = self._recover(left_tracks, left_high, b, labels, t, {p[0] for p in pairs2}) if o.recover_gate > 0 else []
        left_high = [d for d in left_high if d not in {p[1] for p in pairs3}]
        matched: dict[int, int] = dict(pairs1 + pairs2 + pairs3)
        for i, (trk, kf) in enumerate(self._live):
            if i in matched:
                d = matched[i]
                kf.update(b[d])
                trk._add(t, b[d], labels[d])
                trk.hits += 1
                trk.lost = 0
                if not trk.confirmed and trk.hits >= o.min_hits:
                    trk.track_id, self._next_id = self._next_id, self._next_id + 1
            else:
                trk.lost += 1
                trk.hits = 0
        for d in left_high:
            self._birth(b[int(d)], labels[int(d)], t)
        self._reap()
        return [trk for i, (trk, _) in enumerate(self._live) if i in matched and trk.confirmed]

    def _associate(self, tracks: list[int], dets: np.ndarray, b: np.ndarray, labels: Sequence[str],
                   min_iou: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Hungarian matching of ``tracks`` (indices of live tracks) to ``dets`` on ``1 - IoU``, gated."""
        if not tracks or len(dets) == 0:
            return [], list(tracks), [int(d) for d in dets]
        predicted = np.stack([self._live[i][1].box for i in tracks])
        iou = box_iou(predicted, b[dets])
        gate = np.array([GATES[self._live[i][0].label] for i in tracks])[:, None] == np.array([GATES[labels[int(d)]] for d in dets])[None, :]
        ok = gate & (iou >= min_iou)
        cost = np.where(ok, 1.0 - iou, _INFEASIBLE)
        rows, cols = linear_assignment(cost)
        pairs = [(tracks[r], int(dets[c])) for r, c in zip(rows, cols, strict=True) if ok[r, c]]
        used_t = {p[0] for p in pairs}
        used_d = {p[1] for p in pairs}
        return pairs, [i for i in tracks if i not in used_t], [int(d) for d in dets if int(d) not in used_d]

    def _recover(self, tracks: list[int], dets: list[int], b: np.ndarray, labels: Sequence[str], t: float,
                 taken: set[int]) -> list[tuple[int, int]]:
        """Hungarian matching of unmatched confirmed tracks to unmatched high-score detections on the
        distance of bottom-centres: ``|bottom(det) - extrapolate_bottom(track, t)| <= recover_gate x median height``."""
        cand = [i for i in tracks if i not in taken and self._live[i][0].confirmed]
        if not cand or not dets:
            return []
        db = np.stack([(b[dets, 0] + b[dets, 2]) / 2, b[dets, 3]], axis=1)
        cost = np.full((len(cand), len(dets)), _INFEASIBLE)
        for r, i in enumerate(cand):
            trk = self._live[i][0]
            gate = self.options.recover_gate * float(np.median(trk.boxes[:, 3] - trk.boxes[:, 1]))
            dist = np.hypot(*(db - extrapolate_bottom(trk, t)).T)
            same = np.array([GATES[labels[d]] == GATES[trk.label] for d in dets])
            cost[r] = np.where(same & (dist <= gate), dist / max(gate, 1e-9), _INFEASIBLE)
        rows, cols = linear_assignment(cost)
        return [(cand[r], dets[c]) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _INFEASIBLE]

    def _birth(self, box: np.ndarray, label: str, t: float) -> None:
        trk = Track(hits=1)
        trk._add(t, box, label)
        if self.options.min_hits <= 1:
            trk.track_id, self._next_id = self._next_id, self._next_id + 1
        self._live.append((trk, _Kalman(box)))

    def _reap(self) -> None:
        """Drop tentative tracks that missed a frame; end confirmed ones lost over ``max_lost`` frames."""
        keep: list[tuple[Track, _Kalman]] = []
        for trk, kf in self._live:
            if trk.lost and not trk.confirmed:
                continue
            if trk.lost > self.options.max_lost:
                self._ended.append(trk)
                continue
            keep.append((trk, kf))
        self._live = keep

    def tracks(self) -> list[Track]:
        """Every confirmed track so far, ended and live, by id (tentative frames included in each history)."""
        return sorted([t for t in self._ended if t.confirmed] + [t for t, _ in self._live if t.confirmed], key=lambda t: t.track_id)


def extrapolate_bottom(track: Track, t: float, last: int = 5) -> np.ndarray:
    """The track's bottom-centre at time ``t``, extrapolated linearly from its last ``last`` (5)
    matched points: ``p(t) = p_n + (t - t_n) (p_n - p_k) / (t_n - t_k)`` (``k`` the oldest of them);
    ``p_n`` itself when the track has one point or no time span.

    >>> trk = Track(times=[0.0, 0.5], box_list=[(0, 0, 10, 10), (0, 10, 10, 20)])
    >>> extrapolate_bottom(trk, 1.5).tolist()
    [5.0, 40.0]
    """
    times = np.asarray(track.times[-last:], dtype=np.float64)
    bottoms = track.bottoms[-last:]
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if span <= 0:
        return bottoms[-1]
    return bottoms[-1] + (t - times[-1]) * (bottoms[-1] - bottoms[0]) / span


def track_frames(frames: Sequence[tuple[object, object, Sequence[str], float]], options: TrackerOptions | None = None) -> list[Track]:
    """Track a sequence of ``(boxes, scores, labels, t)`` frames; the confirmed tracks by id.

    >>> frames = [([[10 * k, 0, 10 * k + 20, 40]], [0.9], ["car"], k / 10) for k in range(5)]
    >>> [(t.track_id, t.label, len(t.times)) for t in track_frames(frames)]
    [(1, 'car', 5)]
    """
    tracker = Tracker(options)
    for boxes, scores, labels, t in frames:
        tracker.update(boxes, scores, labels, t)
    return tracker.tracks()


@dataclass(frozen=True)
class RiderOptions:
    """Thresholds of :func:`pair_riders` (see there for the rule)."""

    min_overlap: float = 0.3
    min_share: float = 0.6
    min_common: int = 3
    min_cosine: float = 0.8
    max_speed_ratio: float = 1.5
    min_speed: float = 5.0

    def __post_init__(self) -> None:
        for name in ("min_overlap", "min_share", "min_cosine"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not (0.0 < v <= 1.0):
                raise InputError(f"rider {name} {v!r:.40} is not accepted; expected a number in (0, 1]")
        if not (isinstance(self.min_common, int) and self.min_common >= 2):
            raise InputError(f"rider min_common {self.min_common!r:.40} is not accepted; expected a whole number of at least 2")
        if not (self.max_speed_ratio >= 1.0 and self.min_speed >= 0.0):
            raise InputError("rider max_speed_ratio must be at least 1 and min_speed at least 0")


def _lower_overlap(person: np.ndarray, bike: np.ndarray) -> np.ndarray:
    """Per row: area of (person's lower half ∩ bicycle box) / area of the bicycle box."""
    lower = person.copy()
    lower[:, 1] = (person[:, 1] + person[:, 3]) / 2
    iw = (np.minimum(lower[:, 2], bike[:, 2]) - np.maximum(lower[:, 0], bike[:, 0])).clip(0)
    ih = (np.minimum(lower[:, 3], bike[:, 3]) - np.maximum(lower[:, 1], bike[:, 1])).clip(0)
    area = ((bike[:, 2] - bike[:, 0]) * (bike[:, 3] - bike[:, 1])).clip(1e-9)
    return np.asarray(iw * ih / area)


def _rider_score(person: Track, bike: Track, o: RiderOptions) -> float:
    """Mean lower-half overlap when ``person`` rides ``bike`` by the rule of :func:`pair_riders`, else 0."""
    common, ip, ib = np.intersect1d(np.asarray(person.times), np.asarray(bike.times), return_indices=True)
    if len(common) < o.min_common:
        return 0.0
    pb, bb = person.boxes[ip], bike.boxes[ib]
    overlap = _lower_overlap(pb, bb)
    if np.mean(overlap >= o.min_overlap) < o.min_share:
        return 0.0
    span = common[-1] - common[0]
    if span <= 0:
        return 0.0
    vp = (person.centres[ip][-1] - person.centres[ip][0]) / span
    vb = (bike.centres[ib][-1] - bike.centres[ib][0]) / span
    sp, sb = float(np.hypot(*vp)), float(np.hypot(*vb))
    if min(sp, sb) < o.min_speed or max(sp, sb) > o.max_speed_ratio * min(sp, sb):
        return 0.0
    if float(vp @ vb) / (sp * sb) < o.min_cosine:
        return 0.0
    return float(overlap.mean())


def pair_riders(tracks: Sequence[Track], options: RiderOptions | None = None) -> list[tuple[int, int]]:
    """``(person id, bicycle id)`` of each person riding a bicycle: the pair counts as one cyclist.

    Rule, on the frames both tracks were matched in (at least ``min_common`` = 3):

    - **overlap**: the lower half of the person's box covers at least ``min_overlap`` = 0.3 of the
      bicycle box's area (``area(lower ∩ bike) / area(bike)``) on at least ``min_share`` = 60 % of
      those frames; a person walking beside a bicycle covers little or none of it;
    - **joint motion**: the mean velocities of the two box centres over those frames
      (displacement / time, pixels per second) both reach ``min_speed`` = 5 px/s, their directions
      agree (cosine >= ``min_cosine`` = 0.8) and the faster is at most ``max_speed_ratio`` = 1.5
      times the slower; a person standing by a parked bicycle is no cyclist.

    Each person and each bicycle is paired at most once, the pairs of highest mean overlap first.
    Only confirmed tracks whose class is ``person`` and ``bicycle`` take part.

    >>> ride = [([[10 * k, 0, 10 * k + 20, 40], [10 * k, 20, 10 * k + 24, 44]], [0.9, 0.9], ["person", "bicycle"], k / 10)
    ...         for k in range(6)]
    >>> pair_riders(track_frames(ride))
    [(1, 2)]
    """
    o = options or RiderOptions()
    people = [t for t in tracks if t.confirmed and t.label == "person"]
    bikes = [t for t in tracks if t.confirmed and t.label == "bicycle"]
    scored = sorted(((_rider_score(p, b, o), p.track_id, b.track_id) for p in people for b in bikes), key=lambda x: (-x[0], x[1], x[2]))
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for score, pid, bid in scored:
        if score > 0 and pid not in used and bid not in used:
            pairs.append((pid, bid))
            used.update((pid, bid))
    return sorted(pairs)
