"""Evaluation benchmark: the CamVid val figures of the built-in models and the speed of ``evaluate``.

For each model (default ``espnetv2-s2`` and ``espnetv2-s1`` at their cards' size, 384x768), runs
:func:`analytics.evaluation.run.evaluate` on CamVid val (``../shared/datasets/camvid``, label map
``cityscapes-camvid``) and prints one Markdown table: mIoU, pixel accuracy, frequency-weighted IoU,
per-class IoU, and each land-cover indicator's bias and MAE (percentage points, 95% bootstrap
interval over images).

Speed: images per second of the whole ``evaluate`` call (loading the model, then for each image:
read, decode, segment, map back, score) and,
measured in the same run on the same images as the baseline, of the model alone
(``Segmenter.segment`` on decoded frames), so the ratio says what scoring adds. Asserts nothing
about time (this machine is shared and noisy). Models are installed into a temporary
``URBANLENS_HOME`` from ``URBANLENS_MODEL_MIRROR`` (default ``../shared/models/espnetv2``). Usage::

    .venv/bin/python bench/eval_bench.py [--models espnetv2-s2 espnetv2-s1] [--split val] [--limit N]
        [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
from _timing import Timing, measure

from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import read_camvid
from analytics.evaluation.run import Evaluation, evaluate
from analytics.footage.segment import Segmenter
from analytics.models.zoo import install
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def table(results: dict[str, Evaluation]) -> str:
    """The figures of each model as one Markdown table (rows: metrics, columns: models)."""
    dicts = {name: ev.to_dict() for name, ev in results.items()}
    first = next(iter(dicts.values()))
    lines = ["| | " + " | ".join(f"`{n}`" for n in dicts) + " |", "| --- |" + " --- |" * len(dicts)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("**mIoU**", [f"**{_fmt(d['miou'])}**" for d in dicts.values()])
    row("pixel accuracy", [_fmt(d["pixel_accuracy"]) for d in dicts.values()])
    row("frequency-weighted IoU", [_fmt(d["fw_iou"]) for d in dicts.values()])
    for cls in first["iou"]:
        row(f"IoU {cls}", [_fmt(d["iou"][cls]) for d in dicts.values()])
    for ind in first["indicator_error_pp"]:
        cells = []
        for d in dicts.values():
            e = d["indicator_error_pp"][ind]
            cells.append(f"{_fmt(e['bias'], True)} [{_fmt(e['bias_ci95'][0], True)}, {_fmt(e['bias_ci95'][1], True)}] / "
                         f"{_fmt(e['mae'])} [{_fmt(e['mae_ci95'][0])}, {_fmt(e['mae_ci95'][1])}]")
        row(f"{ind} bias / MAE (pp)", cells)
    return "\n".join(lines)


def _model_only(seg: Segmenter, frames: list[Any]) -> None:
    for f in frames:
        seg.segment(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["espnetv2-s2", "espnetv2-s1"])
    ap.add_argument("--camvid", type=Path, default=SHARED / "datasets" / "camvid")
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=None, help="Score only the first N images.")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(SHARED / "models" / "espnetv2"))
    os.environ["URBANLENS_HOME"] = tempfile.mkdtemp(prefix="urbanlens-eval-bench-")
    settings = load_settings()
    gt = read_camvid(args.camvid / args.split, args.camvid / f"{args.split}annot")
    if args.limit:
        gt = replace(gt, samples=gt.samples[: args.limit])
    label_map = load_label_map("cityscapes-camvid")
    frames = [cv2.imread(str(s.image.path)) for s in gt.samples]
    n = len(gt.samples)

    results: dict[str, Evaluation] = {}
    speed: dict[str, tuple[Timing, Timing]] = {}
    for name in args.models:
        model = install(name, settings)
        seg = Segmenter(model.onnx_path, model.card, threads=args.threads)
        seg.segment(frames[0])  # warm-up: first-run allocations are not the model's speed
        base = measure(lambda seg=seg: _model_only(seg, frames), repeat=1, warmup=0)
        box: dict[str, Evaluation] = {}
        full = measure(lambda model=model, box=box: box.update(ev=evaluate(model, gt, label_map, threads=args.threads)), repeat=1, warmup=0)
        results[name] = box["ev"]
        speed[name] = (full, base)

    h, w = next(iter(results.values())).input_size
    print(f"CamVid {args.split} ({n} images), label map cityscapes-camvid, {h}x{w}, {args.threads} threads\n")
    print(table(results))
    print()
    for name, (full, base) in speed.items():
        print(f"{name:<14} evaluate {n / full.median:5.2f} images/s ({full.cpu_median / n * 1e3:6.0f} ms CPU per image)   "
              f"model alone {n / base.median:5.2f} images/s ({base.cpu_median / n * 1e3:6.0f} ms CPU per image)   "
              f"x{full.ratio(base):.2f} wall, x{full.ratio(base, cpu=True):.2f} CPU vs model alone")
    if args.json:
        out = {name: {**ev.to_dict(), "seconds_evaluate": speed[name][0].median, "seconds_model_alone": speed[name][1].median}
               for name, ev in results.items()}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
