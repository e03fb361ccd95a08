"""Calibration of the trust verdict (:mod:`analytics.trust`): per-clip statistics and verdicts.

Runs a model (default ``espnetv2-s2``) over

- the CamVid val frames (``../shared/datasets/camvid/val``, one dashcam sequence, 1 s apart),
  as one clip (frames in name order: flicker between neighbours) and frame by frame (the worst
  single frame of each statistic), through :class:`~analytics.footage.segment.Segmenter` and
  :func:`~analytics.footage.measure.measure_frame` as the pipeline does;
- the shared samples (``../shared/samples``: ``bikes.mp4``, ``car-detection.mp4``,
  ``person-bicycle-car-detection.gif``) through :func:`~analytics.footage.pipeline.analyse_clip`
  without saving;

and prints one Markdown table of the statistics, the verdict and its reasons, with the thresholds
in force. Models are installed into a temporary ``URBANLENS_HOME`` from ``URBANLENS_MODEL_MIRROR``
(default ``../shared/models/espnetv2``). Asserts nothing. Usage::

    .venv/bin/python bench/trust_calibration.py [--model espnetv2-s2] [--fps 2] [--max-frames N]
        [--camvid-limit N] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from analytics import trust
from analytics.footage.measure import measure_frame
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.segment import Segmenter
from analytics.models.zoo import install
from analytics.settings import Settings, load_settings
from analytics.trust import ClipStats, TrustVerdict

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = ("bikes.mp4", "car-detection.mp4", "person-bicycle-car-detection.gif")
CAMVID_VAL = SHARED / "datasets" / "camvid" / "val"


def camvid_frames(seg: Segmenter, settings: Settings, limit: int | None) -> tuple[TrustVerdict, ClipStats]:
    """The CamVid val sequence as one clip, and the worst value of each statistic over single frames."""
    files = sorted(CAMVID_VAL.glob("*.png"))[:limit]
    if not files:
        raise SystemExit(f"no CamVid val frames in {CAMVID_VAL}")
    card = seg.card
    rows, prev = [], None
    for f in files:
        out = seg.segment(cv2.imread(str(f), cv2.IMREAD_COLOR))
        labels, conf = out.content()
        fm = measure_frame(labels, conf, out.geometry, card.class_set, prev_labels=prev, low_confidence=settings.low_confidence)
        rows.append(fm)
        prev = labels
    cp = np.stack([r.class_pixels for r in rows])
    groups = card.class_set.groups
    conf_a = np.array([r.mean_confidence for r in rows])
    low_a = np.array([r.low_conf_share for r in rows])
    flick = np.array([r.flicker for r in rows])
    clip = trust.assess(cp, groups, conf_a, low_a, flick)
    single = [trust.clip_stats(cp[i : i + 1], groups, conf_a[i : i + 1], low_a[i : i + 1], flick[i : i + 1]) for i in range(len(rows))]
    worst = ClipStats(
        n_frames=len(rows), confidence=min(s.confidence for s in single), low_conf=max(s.low_conf for s in single),
        flicker=float(np.nanmax(flick)) if np.isfinite(flick).any() else float("nan"),
        vehicles_over_road=float(np.mean([s.vehicles_over_road for s in single])),
        filled=float(np.mean([s.filled for s in single])), no_sky_no_built=float(np.mean([s.no_sky_no_built for s in single])),
    )
    return clip, worst


def sample_clip(path: Path, settings: Settings, model: str, fps: str, max_frames: int | None) -> TrustVerdict:
    """The verdict of one sample clip analysed as ``urbanlens ingest`` would (not saved)."""
    options = AnalysisOptions.from_flags(fps=fps, model=model, keep_previews=0, max_frames=max_frames)
    result = analyse_clip(path, "calibration", None, options, settings)
    assert result.measurements is not None
    return trust.assess_measurements(result.measurements)


def _row(name: str, s: ClipStats, verdict: str, reasons: str) -> str:
    def pct(x: float) -> str:
        return "-" if np.isnan(x) else f"{100 * x:.1f}"

    return (f"| {name} | {s.n_frames} | {pct(s.confidence)} | {pct(s.low_conf)} | {pct(s.flicker)} | "
            f"{pct(s.vehicles_over_road)} | {pct(s.filled)} | {pct(s.no_sky_no_built)} | {verdict} | {reasons} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="espnetv2-s2")
    ap.add_argument("--fps", default="2", help="sampled frames per second of the sample clips")
    ap.add_argument("--max-frames", type=int, default=None, help="at most this many sampled frames per sample clip")
    ap.add_argument("--camvid-limit", type=int, default=None, help="at most this many CamVid val frames")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(SHARED / "models" / "espnetv2"))
    os.environ["URBANLENS_HOME"] = tempfile.mkdtemp(prefix="urbanlens-trust-bench-")
    settings = load_settings()
    model = install(args.model, settings)
    seg = Segmenter(model.onnx_path, model.card, threads=args.threads, confidence_stride=4)

    print(f"model {args.model}, low-confidence threshold {settings.low_confidence}; thresholds: mean confidence >= "
          f"{trust.MIN_MEAN_CONFIDENCE}, low-confidence pixels <= {trust.MAX_LOW_CONF_SHARE}, flicker <= {trust.MAX_FLICKER}, "
          f"frames with vehicles over road (vehicles >= {trust.MIN_VEHICLE_SHARE}) <= {trust.MAX_VEHICLES_OVER_ROAD}, "
          f"frames one group fills (>= {trust.FILL_SHARE}) <= {trust.MAX_FILLED_FRAMES}, "
          f"frames with sky and built both < {trust.MIN_VIEW_SHARE} <= {trust.MAX_NO_SKY_NO_BUILT}\n")
    print("| clip | frames | confidence % | low-conf. pixels % | flicker % | vehicles over road, % of frames | "
          "one group fills the picture, % of frames | no sky, no built, % of frames | verdict | reasons |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    if CAMVID_VAL.is_dir():
        clip, worst = camvid_frames(seg, settings, args.camvid_limit)
        print(_row("CamVid val as one clip", clip.stats, clip.trust, "; ".join(clip.reasons)))
        print(_row("CamVid val, worst single frame", worst, "-", "min confidence, max low-conf./flicker; mean of frame flags"))
    for name in SAMPLES:
        path = SHARED / "samples" / name
        if not path.is_file():
            print(f"| {name} | missing | | | | | | | | |")
            continue
        v = sample_clip(path, settings, args.model, args.fps, args.max_frames)
        print(_row(name, v.stats, v.trust, "; ".join(v.reasons)))


if __name__ == "__main__":
    main()
