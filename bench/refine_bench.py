"""Refinement benchmark: what CRF, test-time augmentation and flow fusion gain, and what they cost.

Two parts (``--parts camvid temporal``), one model (default ``espnetv2-s2``, the card's 384x768):

- ``camvid``: CamVid val (``../shared/datasets/camvid``, label map ``cityscapes-camvid``), scored
  as ``urbanlens evaluate`` scores (labels mapped back onto the image's pixels, one confusion
  matrix per image) for the options none, crf, flip, scales and crf+flip: mIoU, pixel accuracy,
  the IoU of the thin classes, trimap accuracy (pixel accuracy within ``--band`` px of a class
  edge of the mask: Kohli et al. 2009, as in DeepLab's boundary evaluation), the mean absolute
  indicator error (percentage points) and milliseconds per image of ``Segmenter.segment`` with the
  option, beside the plain model's measured in the same run.
- ``temporal``: ``bikes.mp4`` and ``person-bicycle-car-detection.gif`` at 2 and 5 fps, for no
  fusion, ema (alpha 0.6) and flow (alpha 0.4, sigma 2 px): mean flicker (share of pixels whose
  label changes between sampled frames), flicker along the motion (the share of pixels whose label
  differs from the previous frame's label carried to them along the DIS flow between the two
  frames, counted where that flow is consistent: label changes that the camera's or the objects'
  motion does not explain), the person and vehicle shares of the content pixels, and milliseconds
  per frame.

Prints Markdown tables; asserts nothing (this machine is shared and noisy: compare ratios within
one run). Models are installed into a temporary ``URBANLENS_HOME`` from ``URBANLENS_MODEL_MIRROR``
(default ``../shared/models/espnetv2``). Usage::

    .venv/bin/python bench/refine_bench.py [--parts camvid temporal] [--limit N] [--model espnetv2-s2]
        [--options none crf flip scales crf+flip] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from _timing import Timing

from analytics.evaluation.labelmaps import default_label_map, indicator_classes, label_lut, load_label_map
from analytics.evaluation.metrics import IGNORE, confusion_matrix, indicator_errors, iou_per_class, mean_iou, pixel_accuracy
from analytics.evaluation.readers import read_camvid
from analytics.footage.segment import Segmenter, labels_to_frame
from analytics.footage.temporal import DEFAULT_ALPHA, FLOW_ALPHA, backward_flow, flicker, flow_consistency
from analytics.footage.video import open_video
from analytics.models.zoo import install
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPTIONS = {
    "none": {}, "crf": {"refine": "crf"}, "flip": {"tta": "flip"}, "scales": {"tta": "scales"},
    "crf+flip": {"refine": "crf", "tta": "flip"},
}
TEMPORAL = {"none": {}, "ema": {"smoothing_alpha": DEFAULT_ALPHA}, "flow": {"smoothing_alpha": FLOW_ALPHA, "smoothing_method": "flow"}}
THIN = ("Pole", "SignSymbol", "Pedestrian", "Bicyclist", "Fence")


def trimap_band(mask: np.ndarray, band: int) -> np.ndarray:
    """Pixels within ``band`` px of a class edge of ``mask`` (labelled pixels only)."""
    m = mask.astype(np.int32)
    edge = np.zeros(mask.shape, bool)
    edge[:, 1:] |= m[:, 1:] != m[:, :-1]
    edge[1:, :] |= m[1:, :] != m[:-1, :]
    near = cv2.dilate(edge.astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8)) > 0
    return near & (mask != IGNORE)


def camvid_part(model: Any, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    gt = read_camvid(args.camvid / "val", args.camvid / "valannot")
    if args.limit:
        gt = replace(gt, samples=gt.samples[: args.limit])
    card = model.card
    lm = load_label_map(args.label_map) if args.label_map else default_label_map(card.class_set, gt.format, gt.class_names)
    lut = label_lut(lm, card.class_set, gt.class_names)
    segs = {name: Segmenter(model.onnx_path, card, threads=args.threads, **OPTIONS[name]) for name in args.options}
    cms: dict[str, list[np.ndarray]] = {n: [] for n in segs}
    band_hits = dict.fromkeys(segs, 0)
    band_total = 0
    times: dict[str, list[float]] = {n: [] for n in segs}
    cpus: dict[str, list[float]] = {n: [] for n in segs}
    for k, sample in enumerate(gt.samples):
        image = cv2.imdecode(np.frombuffer(sample.image.read(), np.uint8), cv2.IMREAD_COLOR)
        mask = gt.decode_mask(sample.mask.read(), sample.mask.name)
        band = trimap_band(mask, args.band)
        band_total += int(band.sum())
        for name, seg in segs.items():  # interleaved per image: the options see the same machine load
            if k == 0:
                seg.segment(image)  # warm-up
            c0, t0 = time.process_time(), time.perf_counter()
            result = seg.segment(image)
            times[name].append(time.perf_counter() - t0)
            cpus[name].append(time.process_time() - c0)
            labels = np.full(result.labels.shape, IGNORE, np.uint8)
            y0, y1, x0, x1 = result.geometry.content
            labels[y0:y1, x0:x1] = result.labels[y0:y1, x0:x1]
            pred = lut[labels_to_frame(labels, result.geometry, IGNORE)]
            cms[name].append(confusion_matrix(mask, pred, len(gt.class_names)))
            band_hits[name] += int(((pred == mask) & band).sum())
        print(f"  image {k + 1}/{len(gt.samples)}", end="\r", flush=True)
    out: dict[str, dict[str, Any]] = {}
    inds = indicator_classes(lm, card.class_set, gt.class_names)
    for name in segs:
        stack = np.stack(cms[name])
        total = stack.sum(axis=0)
        iou = dict(zip(gt.class_names, iou_per_class(total).tolist(), strict=True))
        errors = indicator_errors(stack, inds)
        out[name] = {
            "miou": 100 * mean_iou(total), "pixel_accuracy": 100 * pixel_accuracy(total),
            "trimap_accuracy": 100 * band_hits[name] / max(1, band_total),
            "thin_iou": {c: 100 * iou[c] for c in THIN if c in iou},
            "indicator_mae_pp": float(np.mean([np.nanmean(np.abs(e)) for e in errors.values()])),
            "indicator_bias_pp": {k: float(np.nanmean(e)) for k, e in errors.items()},
            "timing": Timing(times[name], cpus[name]),
        }
    out["_images"] = {"n": len(gt.samples)}
    return out


def camvid_table(res: dict[str, dict[str, Any]], band: int) -> str:
    names = [n for n in res if not n.startswith("_")]
    base = res["none"]["timing"] if "none" in res else None
    lines = [
        f"CamVid val, {res['_images']['n']} images",
        f"| option | mIoU | pixel acc. | trimap acc. ({band} px) | "
        + " | ".join(f"{c} IoU" for c in THIN) + " | indicator MAE (pp) | ms/image | x plain |",
        "| --- |" + " ---: |" * (6 + len(THIN)),
    ]
    for n in names:
        r = res[n]
        t: Timing = r["timing"]
        ratio = f"{t.ratio(base):.2f}" if base is not None else "-"
        thin = " | ".join(f"{r['thin_iou'].get(c, float('nan')):.1f}" for c in THIN)
        lines.append(f"| {n} | {r['miou']:.1f} | {r['pixel_accuracy']:.1f} | {r['trimap_accuracy']:.1f} | {thin} | "
                     f"{r['indicator_mae_pp']:.2f} | {t.median * 1000:.0f} | {ratio} |")
    return "\n".join(lines)


def temporal_part(model: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    card = model.card
    person_only = np.array(card.class_set.class_ids("person"))
    vehicle = np.array(card.class_set.class_ids("vehicle"))
    rows = []
    for clip in args.clips:
        for fps in args.fps:
            for name, kw in TEMPORAL.items():
                seg = Segmenter(model.onnx_path, card, threads=args.threads, confidence_stride=4, **kw)
                prev, flick, moving, pshare, vshare, times = None, [], [], [], [], []
                prev_view: np.ndarray | None = None
                with open_video(clip, fps, max_frames=args.max_frames) as reader:
                    for frame in reader:
                        t0 = time.perf_counter()
                        s = seg.segment(frame.image)
                        times.append(time.perf_counter() - t0)
                        labels, _ = s.content()
                        f = flicker(prev, labels)
                        if not np.isnan(f):
                            flick.append(f)
                        view = cv2.resize(frame.image, labels.shape[::-1], interpolation=cv2.INTER_AREA)
                        if prev is not None and prev_view is not None and prev.shape == labels.shape:
                            moving.append(flicker_along_motion(prev, labels, prev_view, view))
                        prev, prev_view = labels, view
                        pshare.append(np.isin(labels, person_only).mean())
                        vshare.append(np.isin(labels, vehicle).mean())
                rows.append({
                    "clip": Path(clip).name, "fps": fps, "temporal": name, "frames": len(times),
                    "flicker": float(np.mean(flick)) if flick else float("nan"),
                    "flicker_motion": float(np.mean(moving)) if moving else float("nan"),
                    "person_pct": 100 * float(np.mean(pshare)), "vehicle_pct": 100 * float(np.mean(vshare)),
                    "ms_per_frame": 1000 * float(np.median(times[1:] or times)),
                })
                print(f"  {rows[-1]}", flush=True)
    return rows


def flicker_along_motion(prev: np.ndarray, labels: np.ndarray, prev_image: np.ndarray, image: np.ndarray) -> float:
    """Share of pixels whose label differs from the previous frame's label carried to them along
    the DIS flow (nearest pixel), among the pixels whose forward-backward flow error keeps a
    consistency above 0.5 (about 1.2 px): label changes that motion does not explain."""
    back, fwd = backward_flow(prev_image, image)
    h, w = labels.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    carried = cv2.remap(prev, gx + back[..., 0], gy + back[..., 1], cv2.INTER_NEAREST)
    ok = flow_consistency(back, fwd, 1.0) > 0.5
    return float(((carried != labels) & ok).sum() / max(1, int(ok.sum())))


def temporal_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| clip | fps | temporal | frames | flicker | vs none | along motion | vs none | person % | vs none | vehicle % | ms/frame |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = {(r["clip"], r["fps"]): r for r in rows if r["temporal"] == "none"}
    for r in rows:
        b = base.get((r["clip"], r["fps"]))
        df = f"{100 * (r['flicker'] / b['flicker'] - 1):+.0f}%" if b and b["flicker"] else "-"
        dm = f"{100 * (r['flicker_motion'] / b['flicker_motion'] - 1):+.0f}%" if b and b["flicker_motion"] else "-"
        dp = f"{100 * (r['person_pct'] / b['person_pct'] - 1):+.0f}%" if b and b["person_pct"] else "-"
        lines.append(f"| {r['clip']} | {r['fps']:g} | {r['temporal']} | {r['frames']} | {r['flicker']:.3f} | {df} | "
                     f"{r['flicker_motion']:.3f} | {dm} | "
                     f"{r['person_pct']:.2f} | {dp} | {r['vehicle_pct']:.2f} | {r['ms_per_frame']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["camvid", "temporal"], choices=["camvid", "temporal"])
    ap.add_argument("--model", default="espnetv2-s2")
    ap.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    ap.add_argument("--camvid", type=Path, default=SHARED / "datasets" / "camvid")
    ap.add_argument("--label-map", default=None, help="Default: cityscapes-camvid.")
    ap.add_argument("--limit", type=int, default=None, help="Score only the first N val images.")
    ap.add_argument("--band", type=int, default=5, help="Trimap half-width in pixels of the mask.")
    ap.add_argument("--clips", nargs="+", type=Path,
                    default=[SHARED / "samples" / "bikes.mp4", SHARED / "samples" / "person-bicycle-car-detection.gif"])
    ap.add_argument("--fps", nargs="+", type=float, default=[2.0, 5.0])
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(SHARED / "models" / "espnetv2"))
    with tempfile.TemporaryDirectory() as home:
        os.environ["URBANLENS_HOME"] = home
        model = install(args.model, load_settings())
        report: dict[str, Any] = {"model": args.model}
        if "camvid" in args.parts:
            res = camvid_part(model, args)
            print(camvid_table(res, args.band))
            report["camvid"] = {k: {kk: vv for kk, vv in v.items() if kk != "timing"} | (
                {"ms_median": v["timing"].median * 1000} if "timing" in v else {}) for k, v in res.items()}
        if "temporal" in args.parts:
            rows = temporal_part(model, args)
            print(temporal_table(rows))
            report["temporal"] = rows
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
