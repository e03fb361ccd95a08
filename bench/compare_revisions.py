"""The pipeline of this checkout against that of another revision, side by side in one run
(figures, not asserts): python bench/compare_revisions.py [--baseline REV] [--repeats 5] [--shared ../shared]

The baseline revision (default ``HEAD~1``) is exported with ``git archive`` into a temporary folder.
Each side runs in a worker process of its own that imports its tree's ``analytics`` and installs
espnetv2-s2 at 384x768 from the ../shared mirror into its own temporary URBANLENS_HOME. The workers
take turns, in ABBA order so that neither always runs first: one end-to-end
:func:`~analytics.footage.pipeline.analyse_clip` of a clip (2 sampled
frames a second, nothing stored) on the baseline, then the same on this checkout, ``--repeats``
times per clip, so a change of machine load hits both alike. Printed per clip: each side's median
seconds, the ratio of the medians, the median of the side-by-side ratios (above 1: this checkout
is faster), each side's median CPU seconds (all threads; steadier than wall time on a busy
machine), and whether both sides measured the same numbers and previews (a SHA-256 over every
measured array, object box and preview image).

Revisions from before the options object (:class:`~analytics.footage.pipeline.AnalysisOptions`
as ``analyse_clip``'s fourth argument) are called with the keywords they took.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["WORKER", "main"]

REPO = Path(__file__).resolve().parents[1]
CLIPS = ("bikes.mp4", "car-detection.mp4")

WORKER = r'''
import hashlib, inspect, json, sys, time
import numpy as np
from pathlib import Path
from analytics.models import zoo
from analytics.settings import load_settings
from analytics.footage import pipeline

settings = load_settings()
model = zoo.install("espnetv2-s2", settings, size=(384, 768))
new_api = "options" in inspect.signature(pipeline.analyse_clip).parameters

def run(path):
    if new_api:
        from analytics.footage.video import Sampling
        options = pipeline.AnalysisOptions(sampling=Sampling.parse(2.0), model=model, start_time="2024-01-01T00:00:00")
        return pipeline.analyse_clip(path, "bench", None, options, settings)
    return pipeline.analyse_clip(path, "bench", None, settings=settings, model=model, fps=2.0, save=False,
                                 start_time="2024-01-01T00:00:00")

def digest(m):
    """SHA-256 over every measured array, the object boxes and the preview images."""
    h = hashlib.sha256()
    for name in ("frame_index", "t_s", "class_pixels", "mean_confidence", "low_conf_share", "flicker",
                 "vehicle_stationarity", "object_counts", "distress_crack_px", "distress_pothole_px"):
        h.update(np.ascontiguousarray(getattr(m, name)).tobytes())
    h.update(m.objects.to_csv().encode())
    for p in m.previews:
        h.update(p.image)
    return h.hexdigest()

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    path = Path(line.strip())
    t0, c0 = time.perf_counter(), time.process_time()
    r = run(path)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "frames": r.measurements.n, "digest": digest(r.measurements)}), flush=True)
'''


class Worker:
    """A Python process importing ``analytics`` from ``tree`` that analyses the clips it is sent."""

    def __init__(self, tree: Path, home: Path, mirror: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree), "URBANLENS_HOME": str(home), "URBANLENS_MODEL_MIRROR": str(mirror)}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=tree, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker stopped (exit {self.proc.wait()})")
        return dict(json.loads(line))

    def analyse(self, clip: Path) -> tuple[float, float, str]:
        """Wall-clock and CPU seconds (all threads of the worker) to analyse ``clip``, and the digest of its measurements."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{clip}\n")
        self.proc.stdin.flush()
        out = self._read()
        return float(out["seconds"]), float(out["cpu"]), str(out["digest"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` (``git archive``) in the new folder ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="HEAD~1", help="git revision to compare with (default HEAD~1)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args()
    samples, mirror = args.shared / "samples", args.shared / "models" / "espnetv2"
    with tempfile.TemporaryDirectory(prefix="urbanlens-compare-") as tmp:
        base_tree = export(args.baseline, Path(tmp) / "baseline")
        sides = {"baseline": Worker(base_tree, Path(tmp) / "home-a", mirror), "this": Worker(REPO, Path(tmp) / "home-b", mirror)}
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; baseline {args.baseline}; "
              f"median of {args.repeats}, interleaved")
        try:
            for clip in CLIPS:
                digests = {k: w.analyse(samples / clip)[2] for k, w in sides.items()}  # warm-up: builds the sessions
                times: dict[str, list[float]] = {k: [] for k in sides}
                cpus: dict[str, list[float]] = {k: [] for k in sides}
                for i in range(args.repeats):
                    order = list(sides.items())
                    for k, w in order if i % 2 == 0 else order[::-1]:  # ABBA: neither side always goes first
                        wall, cpu, _ = w.analyse(samples / clip)
                        times[k].append(wall)
                        cpus[k].append(cpu)
                base, this = statistics.median(times["baseline"]), statistics.median(times["this"])
                paired = statistics.median(b / t for b, t in zip(times["baseline"], times["this"], strict=True))
                print(f"{clip}: baseline {base:.2f} s, this checkout {this:.2f} s, ratio {base / this:.2f} "
                      f"(median of side-by-side ratios {paired:.2f}; above 1: this checkout is faster); CPU seconds "
                      f"{statistics.median(cpus['baseline']):.2f} against {statistics.median(cpus['this']):.2f}; measurements and "
                      f"previews {'identical' if digests['baseline'] == digests['this'] else 'DIFFERENT'}", flush=True)
        finally:
            for w in sides.values():
                w.close()


if __name__ == "__main__":
    main()
