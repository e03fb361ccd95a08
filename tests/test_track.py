"""Tracker and rider pairing on synthetic detections whose identities are known by construction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.errors import InputError
from analytics.footage.track import (
    RiderOptions,
    Tracker,
    TrackerOptions,
    box_iou,
    linear_assignment,
    pair_riders,
    track_frames,
)


def box(cx: float, bottom: float, w: float = 40, h: float = 80) -> list[float]:
    return [cx - w / 2, bottom - h, cx + w / 2, bottom]


def frames_of(objects: list[dict[int, tuple[list[float], float, str]]], fps: float = 10) -> list[tuple]:
    """Frames from ``[{true id: (box, score, label)}]``; the true id is kept out of the tracker's input."""
    out = []
    for k, objs in enumerate(objects):
        items = list(objs.values())
        out.append(([b for b, _, _ in items], [s for _, s, _ in items], [lab for _, _, lab in items], k / fps))
    return out


def owner(track, truth: dict[tuple[float, tuple], int]) -> set[int]:
    """The true ids whose boxes a track's history holds."""
    return {truth[(t, tuple(b))] for t, b in zip(track.times, track.box_list, strict=True)}


def run(objects, options=None, fps: float = 10):
    frames = frames_of(objects, fps)
    truth = {(k / fps, tuple(float(v) for v in b)): oid for k, objs in enumerate(objects) for oid, (b, _, _) in objs.items()}
    return track_frames(frames, options), truth


# --- the assignment ------------------------------------------------------------------------------


def brute_force(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return brute_force(cost.T)


def test_linear_assignment_matches_brute_force():
    rng = np.random.default_rng(22)
    for _ in range(300):
        n, m = rng.integers(1, 6, size=2)
        cost = rng.random((n, m)) * rng.choice([1, 10, 1000])
        if rng.random() < 0.3:
            cost = np.round(cost)  # ties
        rows, cols = linear_assignment(cost)
        assert len(rows) == min(n, m)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert cost[rows, cols].sum() == pytest.approx(brute_force(cost))


def test_linear_assignment_refuses_nan():
    with pytest.raises(InputError, match="finite"):
        linear_assignment(np.array([[np.nan, 1.0]]))


def test_box_iou_identical_and_disjoint():
    assert box_iou(np.array([[0, 0, 2, 2]]), np.array([[0, 0, 2, 2], [3, 3, 4, 4]])).tolist() == [[1.0, 0.0]]


# --- identities ----------------------------------------------------------------------------------


def test_two_objects_crossing_paths_keep_their_ids():
    # A walks right, B walks left, a little lower; their boxes overlap heavily for several frames
    objects = [{1: (box(50 + 10 * k, 200), 0.9, "person"), 2: (box(450 - 10 * k, 210), 0.9, "person")} for k in range(41)]
    tracks, truth = run(objects)
    assert len(tracks) == 2
    assert sorted(owner(t, truth) for t in tracks) == [{1}, {2}]
    assert all(len(t.times) == 41 for t in tracks)


def test_occlusion_keeps_the_id():
    # a car missing for 6 frames (hidden behind a bus, say) keeps its id: max_lost is 10 frames
    objects = [{} if 10 <= k < 16 else {1: (box(20 + 8 * k, 300, 80, 50), 0.9, "car")} for k in range(30)]
    tracks, truth = run(objects)
    assert [t.track_id for t in tracks] == [1]
    assert len(tracks[0].times) == 24


def test_a_long_absence_ends_the_track():
    objects = [{} if 10 <= k < 16 else {1: (box(200, 300, 80, 50), 0.9, "car")} for k in range(30)]
    tracks, _ = run(objects, TrackerOptions(max_lost=3))
    assert [t.track_id for t in tracks] == [1, 2]
    assert tracks[0].times[-1] == pytest.approx(0.9) and tracks[1].times[0] == pytest.approx(1.6)


def test_stop_and_go_keeps_the_id():
    xs = [20 + 10 * k for k in range(10)] + [110] * 20 + [110 + 10 * k for k in range(1, 15)]
    objects = [{1: (box(x, 300, 80, 50), 0.9, "car")} for x in xs]
    tracks, _ = run(objects)
    assert [(t.track_id, len(t.times)) for t in tracks] == [(1, len(xs))]


def test_low_score_detections_continue_a_track_but_never_start_one():
    objects = [{1: (box(50 + 6 * k, 200), 0.9 if k < 5 or k > 12 else 0.3, "person"),
                2: (box(400, 300), 0.3, "person")} for k in range(20)]
    tracks, truth = run(objects)
    assert len(tracks) == 1
    assert owner(tracks[0], truth) == {1} and len(tracks[0].times) == 20


def test_below_low_score_is_ignored():
    objects = [{1: (box(50 + 6 * k, 200), 0.9 if k < 5 else 0.05, "person")} for k in range(20)]
    tracks, _ = run(objects, TrackerOptions(max_lost=2))
    assert len(tracks) == 1 and len(tracks[0].times) == 5


def test_class_gating_a_person_never_continues_a_car():
    # a car stands still, then a person's box appears exactly where it was as the car vanishes
    objects = [{1: (box(200, 300, 60, 60), 0.9, "car")} for _ in range(10)]
    objects += [{2: (box(200, 300, 60, 60), 0.9, "person")} for _ in range(10)]
    tracks, truth = run(objects)
    assert [(t.label, owner(t, truth)) for t in tracks] == [("car", {1}), ("person", {2})]


def test_class_by_majority_vote_within_a_gate():
    labels = ["car", "truck", "car", "car", "bus", "car"]
    objects = [{1: (box(200 + 5 * k, 300, 80, 60), 0.9, lab)} for k, lab in enumerate(labels)]
    tracks, _ = run(objects)
    assert [(t.label, len(t.times)) for t in tracks] == [("car", 6)]


def test_birth_needs_min_hits_consecutive_matches():
    # one flash of a box is never a track; a tentative track that misses a frame is dropped
    flash = [{1: (box(100, 200), 0.9, "person")}] + [{}] * 3
    assert run(flash)[0] == []
    gap = [{1: (box(100, 200), 0.9, "person")}, {}, {1: (box(100, 200), 0.9, "person")}, {}]
    assert run(gap, TrackerOptions(min_hits=2))[0] == []
    three = [{1: (box(100 + k, 200), 0.9, "person")} for k in range(3)]
    assert run(three, TrackerOptions(min_hits=3))[0][0].track_id == 1
    assert run(three[:2], TrackerOptions(min_hits=3))[0] == []


def test_update_returns_only_confirmed_matched_tracks():
    tr = Tracker(TrackerOptions(min_hits=2))
    assert tr.update([box(100, 200)], [0.9], ["person"], 0.0) == []
    shown = tr.update([box(102, 200)], [0.9], ["person"], 0.1)
    assert [t.track_id for t in shown] == [1]
    assert tr.update(np.zeros((0, 4)), [], [], 0.2) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_hits": 0}, "min_hits 0"),
        ({"max_lost": -1}, "max_lost -1"),
        ({"high_score": 1.5}, "high_score 1.5"),
        ({"match_iou": float("nan")}, "match_iou nan"),
        ({"low_score": 0.6, "high_score": 0.5}, "low_score 0.6 is above"),
        ({"min_hits": True}, "min_hits True"),  # a bool is not a count
    ],
)
def test_tracker_options_refused_in_one_line(kwargs, message):
    with pytest.raises(InputError, match=message) as e:
        TrackerOptions(**kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("boxes", "scores", "labels", "message"),
    [
        ([[0, 0, 1, 1]], [0.9, 0.8], ["car"], "1 boxes, 2 scores"),
        ([[0, 0, 1, 1]], [0.9], ["tram"], "label 'tram'"),
        ([[0, 0, np.inf, 1]], [0.9], ["car"], "finite"),
    ],
)
def test_bad_frames_refused(boxes, scores, labels, message):
    with pytest.raises(InputError, match=message):
        Tracker().update(boxes, scores, labels, 0.0)


def test_history_points():
    tracks, _ = run([{1: ([10.0, 20.0, 30.0, 60.0], 0.9, "person")}] * 2)
    assert tracks[0].centres.tolist() == [[20.0, 40.0]] * 2
    assert tracks[0].bottoms.tolist() == [[20.0, 60.0]] * 2


# --- riders --------------------------------------------------------------------------------------


def bike(cx: float, bottom: float) -> list[float]:
    return [cx - 30, bottom - 45, cx + 30, bottom]


def test_person_riding_a_bicycle_is_one_cyclist():
    objects = [{1: (box(50 + 12 * k, 290, 36, 90), 0.9, "person"), 2: (bike(50 + 12 * k, 300), 0.8, "bicycle")} for k in range(20)]
    tracks, _ = run(objects)
    labels = {t.track_id: t.label for t in tracks}
    pairs = pair_riders(tracks)
    assert len(pairs) == 1
    assert [labels[pairs[0][0]], labels[pairs[0][1]]] == ["person", "bicycle"]


def test_person_walking_beside_a_bicycle_is_not_a_cyclist():
    # pushing the bicycle: same motion, but the person's box is beside it, not on it
    objects = [{1: (box(50 + 5 * k, 300, 36, 90), 0.9, "person"), 2: (bike(110 + 5 * k, 300), 0.8, "bicycle")} for k in range(20)]
    tracks, _ = run(objects)
    assert len(tracks) == 2 and pair_riders(tracks) == []


def test_people_standing_at_a_parked_bicycle_or_passing_it_are_not_cyclists():
    parked = [{1: (box(100, 290, 36, 90), 0.9, "person"), 2: (bike(100, 300), 0.8, "bicycle")} for _ in range(20)]
    assert pair_riders(run(parked)[0]) == []
    passing = [{1: (box(40 + 12 * k, 290, 36, 90), 0.9, "person"), 2: (bike(160, 300), 0.8, "bicycle")} for k in range(20)]
    assert pair_riders(run(passing)[0]) == []


def test_rider_options_refused():
    with pytest.raises(InputError, match="min_overlap"):
        RiderOptions(min_overlap=0)
