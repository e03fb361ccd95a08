"""Timing shared by the bench scripts: run a callable a few times, keep the median and the ratio.

The bench scripts print figures and assert nothing about time: the machines they run on are shared
and noisy, so a figure means something only beside a baseline measured in the same run. Each
measurement is a :class:`Timing` (wall-clock and CPU seconds of every run); :meth:`Timing.ratio`
compares medians and :meth:`Timing.line` prints both::

    base = measure(baseline, repeat=5)
    fast = measure(candidate, repeat=5)
    print(fast.line("candidate", base))   # candidate   median 12.3 ms   p95 13.0 ms   x0.41 vs baseline

:func:`interleaved` times several variants round-robin, so a change of load hits them all alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["Timing", "car_park_frames", "cpu_seconds", "cycling", "interleaved", "measure"]

UNITS = {"s": 1.0, "ms": 1e3}


def cpu_seconds() -> float:
    """CPU time of this process so far, all threads, user plus system."""
    return time.process_time()


@dataclass(frozen=True)
class Timing:
    """Seconds per run, wall-clock and CPU (this process, all threads), in the order they ran."""

    wall: list[float]
    cpu: list[float]

    def __post_init__(self) -> None:
        if not self.wall or len(self.wall) != len(self.cpu):
            raise ValueError(f"a timing needs one or more runs with wall and CPU times alike, got {len(self.wall)} and {len(self.cpu)}")

    @classmethod
    def join(cls, parts: Sequence[Timing]) -> Timing:
        """One timing of all the runs of ``parts`` (e.g. runs interleaved with another variant's)."""
        return cls([t for p in parts for t in p.wall], [t for p in parts for t in p.cpu])

    @property
    def median(self) -> float:
        """Median wall-clock seconds."""
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        """Median CPU seconds (the steadier figure on a busy machine when nothing spins)."""
        return statistics.median(self.cpu)

    @property
    def fastest(self) -> float:
        return min(self.wall)

    @property
    def p95(self) -> float:
        """95th percentile of wall-clock seconds (linear interpolation)."""
        return float(np.percentile(self.wall, 95))

    def ratio(self, baseline: Timing, cpu: bool = False) -> float:
        """This median over the baseline's: below 1 is faster than the baseline."""
        return self.cpu_median / baseline.cpu_median if cpu else self.median / baseline.median

    def line(self, name: str, baseline: Timing | None = None, unit: str = "ms", baseline_name: str = "baseline",
             width: int = 40) -> str:
        """``name   median …   p95 …`` and, with a baseline, ``xR vs baseline_name``."""
        k = UNITS[unit]
        text = f"{name:<{width}} median {self.median * k:8.1f} {unit}   p95 {self.p95 * k:8.1f} {unit}"
        if baseline is not None:
            text += f"   x{self.ratio(baseline):.2f} vs {baseline_name}"
        return text


def measure(fn: Callable[[], object], repeat: int, warmup: int = 1, setup: Callable[[], object] | None = None) -> Timing:
    """Run ``fn`` ``warmup`` times untimed (imports, caches), then ``repeat`` times timed.

    ``setup``, when given, runs untimed before each timed run (e.g. clearing a cache to time a cold run).
    """
    if repeat < 1:
        raise ValueError(f"repeat={repeat}: time at least one run")
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        c0, t0 = cpu_seconds(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds() - c0)
    return Timing(wall, cpu)


def interleaved(fns: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, Timing]:
    """Time each of ``fns`` once per round, round-robin, for ``rounds`` rounds."""
    if rounds < 1:
        raise ValueError(f"rounds={rounds}: time at least one round")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(cpu_seconds() - c0)
    return {k: Timing(wall[k], cpu[k]) for k in fns}


def car_park_frames(n: int, shared: Path) -> list[np.ndarray]:
    """``n`` frames of car-detection.mp4 (one every 30, from frame 15) under ``shared``: the detector benches' inputs."""
    cap = cv2.VideoCapture(str(shared / "samples" / "car-detection.mp4"))
    frames, i = [], 0
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        if i % 30 == 15:
            frames.append(frame)
        i += 1
    return frames


def cycling(fn: Callable[[np.ndarray], object], frames: list[np.ndarray]) -> Callable[[], object]:
    """A no-argument call of ``fn`` on the next of ``frames`` each time (for :func:`interleaved`)."""
    state = {"i": 0}

    def run() -> object:
        state["i"] = (state["i"] + 1) % len(frames)
        return fn(frames[state["i"]])

    return run
