"""Detector benchmark: each built-in detector's median milliseconds per frame and its ratio to the segmenter.

The segmenter is ``espnetv2-s2`` at its card's 384x768, built from the weights in ``../shared/models``
(the model mirror, searched with its subfolders) into a temporary home; the detectors are the ONNX
files in ``../shared/models/detectors``. All run on the same frames of car-detection.mp4 (768x432),
interleaved round-robin in one run, with the same number of ONNX Runtime threads; the ratio is the
detector's median over the segmenter's. Asserts nothing about time (the machine is shared). Usage::

    .venv/bin/python bench/detect_bench.py [--threads 1] [--rounds 15]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from _timing import car_park_frames, cycling, interleaved

from analytics.footage.segment import Segmenter
from analytics.models.detect import Detector
from analytics.models.zoo import builtin_detector_cards, install
from analytics.settings import load_settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
FILES = {"deimv2-femto": "deimv2_hgnetv2_femto_coco.onnx", "yolox-nano": "yolox_nano.onnx"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    frames = car_park_frames(8, SHARED)
    with tempfile.TemporaryDirectory() as home:
        settings = dataclasses.replace(load_settings(), home=Path(home), model_mirror=SHARED / "models")
        seg = install("espnetv2-s2", settings)
        segmenter = Segmenter(seg.onnx_path, seg.card, threads=args.threads)
        cards = builtin_detector_cards()
        fns = {"espnetv2-s2 384x768": cycling(segmenter.segment, frames)}
        for name, file in FILES.items():
            detector = Detector(SHARED / "models" / "detectors" / file, cards[name], threads=args.threads)
            fns[f"{name} 416x416"] = cycling(detector.detect, frames)
        timings = interleaved(fns, rounds=args.rounds, warmup=2)
    base_name = "espnetv2-s2 384x768"
    base = timings[base_name]
    print(f"{len(frames)} frames of car-detection.mp4 (768x432), {args.threads} thread(s), {args.rounds} rounds")
    for name, t in timings.items():
        print(t.line(f"{name:22s}", None if name == base_name else base, baseline_name="segmenter"))


if __name__ == "__main__":
    main()
