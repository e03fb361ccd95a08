"""Trust verdicts at every sampling rate (figures, not asserts): python bench/trust_bench.py [--rates 0.2,0.5,1,2,5]

Runs :func:`~analytics.footage.pipeline.analyse_clip` (``espnetv2-s2``, not saved) on every clip we
have at each sampling rate (frames a second), with the road model (the default analysis) and without
(``--road-models road-segmentation-adas-0001,none``, both by default):

- ``camvid-val``: the 101 CamVid val frames (``../shared/datasets/camvid/val``, one Cambridge dashcam
  sequence, taken 1 s apart) in name order, written to a temporary MP4 at their own rate, 1 frame
  a second (so 2 and 5 sample every frame, 1 s apart);
- the shared samples ``bikes.mp4`` (handheld, a pedestrian street), ``car-detection.mp4`` (a car
  park seen from above) and ``person-bicycle-car-detection.gif`` (a car park from above, 3 s).

For each clip and rate it prints the verdict and its reasons, the raw flicker between sampled frames
(``flicker``, stored per frame, grows with the gap), the label change along motion the verdict
judges (``label_change``, :func:`~analytics.footage.temporal.motion_change`), the share of frames
where that change was measured (the rest: the first frame, cuts, views that moved entirely) and
the other statistics of :mod:`analytics.trust` (the class mix of the segmenter's own labels; the road
model's disagreement with it, ``-`` without the road model). Last, the cost of the change measure: CPU ms per
sampled frame of :func:`~analytics.footage.temporal.motion_change` beside the segmenter's inference
on the same frames (medians). The table is in docs/trust.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from analytics import trust
from analytics.footage import stages
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.segment import Segmentation
from analytics.footage.temporal import motion_change
from analytics.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES = ("bikes.mp4", "car-detection.mp4", "person-bicycle-car-detection.gif")


def camvid_clip(shared: Path, folder: Path) -> Path | None:
    """The CamVid val frames as a 1 frame/s MP4 (None where ../shared has no CamVid)."""
    files = sorted((shared / "datasets" / "camvid" / "val").glob("*.png"))
    if not files:
        return None
    first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
    path = folder / "camvid-val.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 1.0, (first.shape[1], first.shape[0]))
    for f in files:
        out.write(cv2.imread(str(f), cv2.IMREAD_COLOR))
    out.release()
    return path


class _Timed:
    """A stage that keeps the grey view and labels of a few frames, for the cost line."""

    kept: list[tuple[np.ndarray, np.ndarray]] = []

    def start(self, context: object) -> None:
        pass

    def frame(self, item: stages.FrameItem, segmentation: Segmentation) -> None:
        if len(_Timed.kept) < 21:
            labels, _ = segmentation.content()
            _Timed.kept.append((cv2.cvtColor(item.view, cv2.COLOR_BGR2GRAY), labels.copy()))

    def finish(self) -> dict[str, object]:
        return {}


def _pct(x: float) -> str:
    return "-" if np.isnan(x) else f"{100 * x:.0f}"


def row(name: str, fps: str, road: str, path: Path, settings: Settings) -> tuple[str, float]:
    """One table row and the seconds per sampled frame of the whole analysis."""
    t0 = time.perf_counter()
    options = AnalysisOptions.from_flags(fps=fps, keep_previews=0, road_model=road)
    result = analyse_clip(path, "trust-bench", None, options, settings, save=False)
    m = result.measurements
    assert m is not None and m.label_change is not None
    v = trust.assess_measurements(m)
    s = v.stats
    raw = float(np.nanmean(m.flicker)) if np.isfinite(m.flicker).any() else float("nan")
    measured = float(np.isfinite(m.label_change).sum()) / max(1, m.n - 1)
    line = (f"| {name} | {'on' if road != 'none' else 'off'} | {fps} | {m.n} | {_pct(raw)} | {_pct(s.flicker)} | {_pct(measured)} | {_pct(s.confidence)} | "
            f"{_pct(s.low_conf)} | {_pct(s.vehicles_over_road)} | {_pct(s.filled)} | {_pct(s.no_sky_no_built)} | "
            f"{_pct(s.road_disagreement)} | "
            f"**{v.trust}** | {'; '.join(v.reasons)} |")
    return line, (time.perf_counter() - t0) / m.n


def cost_line() -> str:
    """Median CPU ms of motion_change per frame pair of the kept frames."""
    kept = _Timed.kept
    times = []
    for (ga, la), (gb, lb) in zip(kept, kept[1:]):
        if ga.shape != gb.shape:
            continue
        t0 = time.process_time()
        motion_change(ga, gb, la, lb)
        times.append(1000 * (time.process_time() - t0))
    if not times:
        return "cost: no frame pairs kept"
    return f"cost of the change measure: {statistics.median(times):.1f} CPU ms per sampled frame (median of {len(times)} pairs)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="0.2,0.5,1,2,5", help="sampled frames a second, comma-separated")
    ap.add_argument("--clips", default="camvid-val," + ",".join(SAMPLES), help="clip names, comma-separated")
    ap.add_argument("--road-models", default="road-segmentation-adas-0001,none",
                    help="road models to run beside the segmenter, comma-separated ('none': the segmenter alone)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args()
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(args.shared / "models"))
    os.environ["URBANLENS_HOME"] = tempfile.mkdtemp(prefix="urbanlens-trust-bench-")
    settings = load_settings()
    stages.register_stage(_Timed)
    folder = Path(tempfile.mkdtemp(prefix="urbanlens-trust-clips-"))
    paths = {"camvid-val": camvid_clip(args.shared, folder), **{n: args.shared / "samples" / n for n in SAMPLES}}
    print(f"load average {os.getloadavg()[0]:.1f}; limits: label change along motion <= {trust.MAX_FLICKER:.0%}, "
          f"mean confidence >= {trust.MIN_MEAN_CONFIDENCE:.0%}, low-confidence pixels <= {trust.MAX_LOW_CONF_SHARE:.0%}, "
          f"vehicles over road <= {trust.MAX_VEHICLES_OVER_ROAD:.0%} of frames, filled <= {trust.MAX_FILLED_FRAMES:.0%}, "
          f"no sky/built <= {trust.MAX_NO_SKY_NO_BUILT:.0%}, road model's disagreement <= {trust.MAX_ROAD_DISAGREEMENT:.0%}\n")
    print("| clip | road model | fps | frames | raw flicker % | label change along motion % | pairs measured % | confidence % | "
          "low-conf. % | veh. > road % | filled % | no sky/built % | road disagreement % | verdict | reasons |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    per_frame = []
    for name in args.clips.split(","):
        path = paths.get(name)
        if path is None or not path.is_file():
            print(f"| {name} | missing |")
            continue
        for road in args.road_models.split(","):
            for fps in args.rates.split(","):
                line, s = row(name, fps, road, path, settings)
                per_frame.append(s)
                print(line, flush=True)
    print()
    print(cost_line() + f"; the whole analysis took {1000 * statistics.median(per_frame):.0f} ms per sampled frame (median, wall)")


if __name__ == "__main__":
    main()
