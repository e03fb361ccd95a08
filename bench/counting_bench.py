"""Counting benchmark: count error per class against hand counts, track fragments per true object, and speed.

Accuracy. Each sample clip is analysed through :func:`analytics.footage.pipeline.analyse_clip` (segmentation
at ``--fps`` 1, tracking at ``--track-fps`` 10, the default detector) with count lines given with the clip;
the crossings by line, class and direction are compared with counts made by hand (:data:`HAND_COUNTS`,
each with how it was counted). Count error of a class: ``Σ |counted - hand|`` over its lines and
directions, and that over the hand total. Fragments: the class's confirmed tracks over its true objects
(1.0: each object one track; a cyclist is the person's track, :func:`~analytics.footage.track.pair_riders`).

Speed. car-detection.mp4 (768x432, 30.2 s) analysed with counting (segmentation at 1 frame/s + tracking at
10 frames/s) and without (segmentation alone, the baseline), interleaved, ``--repeats`` times; the figure
is clip seconds / median wall seconds (>= 1: real time). The detector's cost per frame as a ratio to the
segmenter's: both single-threaded on the same frames, interleaved, medians. The machine's load average is
printed before and after (it is shared: a figure means something only beside its load). Asserts nothing
about time. Usage::

    .venv/bin/python bench/counting_bench.py [--repeats 3] [--rounds 15] [--skip-speed]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _timing import car_park_frames, cycling, interleaved

from analytics.footage.counting import detector_for
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.segment import Segmenter
from analytics.models.zoo import builtin_detector_cards, install
from analytics.records import CountTables
from analytics.settings import Settings, load_settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEIM = SHARED / "models" / "detectors" / "deimv2_hgnetv2_femto_coco.onnx"


@dataclass(frozen=True)
class HandCount:
    """Count lines of a clip, the crossings counted by hand on them and the true objects by class."""

    lines: list[dict[str, object]]
    crossings: dict[tuple[str, str, str], int]
    """(line, class, direction) -> crossings counted by hand; classes and directions not listed: 0."""
    objects: dict[str, int]
    """Class -> distinct objects seen in the clip (for fragments)."""
    how: str


HAND_COUNTS = {
    "car-detection.mp4": HandCount(
        [{"name": "mid", "line": [[0, 216], [768, 216]]}],
        {("mid", "car", "in"): 2, ("mid", "car", "out"): 2},
        {"car": 4},
        "frames viewed with the line drawn: white car up at 7.0 s, grey car down at 15.5 s, red car up at 17.6 s, "
        "white car down at 26.2 s (4 moving cars; fragments count moving tracks, parked cars are stationary tracks)",
    ),
    "person-bicycle-car-detection.gif": HandCount(
        [{"name": "mid", "line": [[0, 135], [480, 135]]}, {"name": "top", "line": [[0, 45], [480, 45]]}],
        {("mid", "car", "in"): 1, ("top", "cyclist", "out"): 1},
        {"car": 1, "cyclist": 1, "person": 1},
        "41 frames viewed every 5th and every 6-8th with lines at y = 135 and 45: one car drives up across y = 135 "
        "(bottom edge from y = 270 at frame 0 to about 115 at frame 30); one cyclist rides down from the top, "
        "bottom from y = 18 (frame 0) to about 60 (frame 34), across y = 45 near frame 20; one pedestrian walks "
        "up out of the top edge by frame 12 and crosses neither line",
    ),
}


def count_once(clip: Path, hand: HandCount, settings: Settings, fps: float, track_fps: float) -> CountTables:
    """The clip's count tables from the whole pipeline (nothing stored)."""
    options = AnalysisOptions.from_flags(fps=fps, track_fps=track_fps, keep_previews=0, zones=json.dumps(hand.lines).encode())
    result = analyse_clip(clip, "bench", None, options, settings)
    assert result.measurements is not None and result.measurements.counts is not None
    return result.measurements.counts


def class_errors(counts: CountTables, hand: HandCount) -> dict[str, tuple[int, int, int]]:
    """Class -> (counted, hand total, Σ |counted - hand| over lines and directions)."""
    got = {(str(k[0]), str(k[1]), str(k[2])): int(n) for k, n in counts.crossings.groupby(["line", "class", "direction"]).size().items()}
    out: dict[str, tuple[int, int, int]] = {}
    for key in set(got) | set(hand.crossings):
        c, h = got.get(key, 0), hand.crossings.get(key, 0)
        n, t, e = out.get(key[1], (0, 0, 0))
        out[key[1]] = (n + c, t + h, e + abs(c - h))
    return out


def fragments(counts: CountTables, hand: HandCount) -> dict[str, tuple[int, int]]:
    """Class -> (moving confirmed tracks, true objects); stationary tracks (parked cars) are left out."""
    moving = counts.tracks[~counts.tracks["stationary"].astype(bool)]
    per_class = moving["class"].value_counts().to_dict()
    return {k: (int(per_class.get(k, 0)), hand.objects.get(k, 0)) for k in sorted(set(per_class) | set(hand.objects))}


def accuracy(settings: Settings, fps: float, track_fps: float) -> None:
    for name, hand in HAND_COUNTS.items():
        counts = count_once(SHARED / "samples" / name, hand, settings, fps, track_fps)
        print(f"\n{name}: {counts.n_tracked_frames} tracked frames at {counts.track_fps:g}/s; hand count: {hand.how}")
        for cls, (c, h, e) in sorted(class_errors(counts, hand).items()):
            rel = f"{e / h:.0%}" if h else "n/a"
            print(f"  count  {cls:8s} counted {c:2d}  hand {h:2d}  error {e:2d} ({rel} of hand)")
        for cls, (n, true) in fragments(counts, hand).items():
            ratio = f"{n / true:.2f}" if true else "n/a (no true object)"
            print(f"  tracks {cls:8s} {n:2d} moving tracks for {true} true objects: {ratio} per object")


def speed(settings: Settings, repeats: int, rounds: int) -> None:
    clip = SHARED / "samples" / "car-detection.mp4"
    hand = HAND_COUNTS[clip.name]
    zones = json.dumps(hand.lines).encode()
    variants = {"segmentation 1/s alone": AnalysisOptions.from_flags(fps=1, keep_previews=0),
                "segmentation 1/s + tracking 10/s": AnalysisOptions.from_flags(fps=1, track_fps=10, keep_previews=0, zones=zones)}
    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    duration = 0.0
    for _ in range(repeats):
        for name, options in variants.items():
            c0, t0 = time.process_time(), time.perf_counter()
            result = analyse_clip(clip, "bench", None, options, settings)
            walls[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
            duration = result.info.duration_s
    print(f"\nspeed on {clip.name} ({duration:.1f} s, 768x432), {settings.threads} threads, {repeats} repeats interleaved:")
    base = statistics.median(walls["segmentation 1/s alone"])
    for name in variants:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:34s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  clip s / wall s {duration / wall:5.2f}  x{wall / base:.2f} vs alone")
    frames = car_park_frames(8, SHARED)
    seg_model = install(settings.default_model, settings)
    segmenter = Segmenter(seg_model.onnx_path, seg_model.card, threads=1)
    detector = detector_for(builtin_detector_cards()["deimv2-femto"], DEIM)
    t = interleaved({"segmenter": cycling(segmenter.segment, frames), "detector": cycling(detector.detect, frames)}, rounds=rounds, warmup=2)
    print(f"  per frame, 1 thread, {rounds} rounds: {t['segmenter'].line(settings.default_model)}")
    print(f"  {'':29s}{t['detector'].line('deimv2-femto', t['segmenter'], baseline_name='segmenter')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fps", type=float, default=1.0)
    parser.add_argument("--track-fps", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as home:
        settings = dataclasses.replace(load_settings(), home=Path(home), model_mirror=SHARED / "models")
        accuracy(settings, args.fps, args.track_fps)
        if not args.skip_speed:
            speed(settings, args.repeats, args.rounds)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
