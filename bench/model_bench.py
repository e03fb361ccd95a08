"""Model benchmark: ESPNetv2 through ONNX Runtime on the CPU (2 threads by default).

Prints, for both scales at 384x768 and 512x1024, the median milliseconds per frame of:

- ``plain``: the graph as a straight export writes it (unfolded BatchNormalization, ONNX PRelu),
  with all of ONNX Runtime's graph optimisations - the baseline every ratio is measured against,
  in the same run;
- ``urbanlens@LEVEL``: UrbanLens's graph (batch norms folded, PReLU as max(x, a*x), adaptive
  pooling as block matrices) at each graph optimisation level (disabled, basic, extended, all);
- optionally (``--int8``) int8-quantised variants of the UrbanLens graph (dynamic, and static
  QDQ per-channel on the convolutions calibrated on the golden inputs and four bikes.mp4 frames,
  onnxruntime.quantization), with their label agreement against fp32 on the golden inputs.

Asserts nothing about time: this machine is shared and noisy, so variants are timed interleaved
(round-robin) and compared as ratios within one run. Usage::

    .venv/bin/python bench/model_bench.py [--threads 2] [--rounds 25] [--int8] [--json out.json]
        [--scales 2.0 1.0] [--sizes 384x768 512x1024]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
from _timing import Timing, interleaved

from analytics.cards import ModelCard
from analytics.footage.segment import preprocess, session_options
from analytics.models.checkpoint import read_state_dict
from analytics.models.espnetv2 import build_espnetv2
from analytics.models.fetch import fetch_file
from analytics.models.zoo import builtin_cards, parse_size

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CARDS: dict[str, ModelCard] = {str(c.params["scale"]): c for c in builtin_cards().values() if c.architecture == "espnetv2"}
"""The built-in ESPNetv2 cards by width scale ("2.0", "1.0"): their upstream weight files and normalisation."""
SIZES = ((384, 768), (512, 1024))
GOLDEN = ("bikes_f140", "bikes_f165", "car_detection_f200")
LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def prep(image_bgr: np.ndarray) -> np.ndarray:
    """A 768x384 BGR image as a batch of one model input, as the pipeline prepares it."""
    return preprocess(image_bgr, CARDS["2.0"])[None]


def make_session(model: bytes | str, threads: int, level: str = "all") -> ort.InferenceSession:
    """A session with the pipeline's options (:func:`analytics.footage.segment.session_options`) at one optimisation level."""
    so = session_options(threads)
    so.graph_optimization_level = LEVELS[level]
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def time_interleaved(sessions: dict[str, ort.InferenceSession], x: np.ndarray, rounds: int) -> dict[str, Timing]:
    """Seconds per frame of each session, timed round-robin so load changes hit all variants alike.
    CPU time (all threads of this process, no spinning) is the steadier figure on a busy machine."""
    return interleaved({k: (lambda s=s: s.run(None, {"input": x})) for k, s in sessions.items()}, rounds, warmup=2)


def golden_inputs(reference: Path) -> list[np.ndarray]:
    return [prep(cv2.imread(str(reference / f"{name}.png"))) for name in GOLDEN]


def calibration_inputs(reference: Path, samples: Path) -> list[np.ndarray]:
    """Golden inputs plus a few frames of bikes.mp4 resized to 768x384, for static quantisation."""
    frames = golden_inputs(reference)
    cap = cv2.VideoCapture(str(samples / "bikes.mp4"))
    for index in (30, 110, 200, 230):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if ok:
            frames.append(prep(cv2.resize(frame, (768, 384), interpolation=cv2.INTER_AREA)))
    cap.release()
    return frames


def quantised_variants(fp32_path: Path, calib: list[np.ndarray], folder: Path) -> dict[str, Path]:
    # deferred: onnxruntime.quantization is slow to import and only --int8 needs it
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calib)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.items, None)
            return None if x is None else {"input": x}

    pre = folder / "pre.onnx"
    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    out = {"int8-dynamic": folder / "dynamic.onnx", "int8-static": folder / "static.onnx"}
    quantize_dynamic(str(pre), str(out["int8-dynamic"]), weight_type=QuantType.QInt8)
    quantize_static(  # convolutions only: quantising the PReLU max/mul and pooling as well agrees less
        str(pre), str(out["int8-static"]), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
    )
    return out


def agreement(a: ort.InferenceSession, b: ort.InferenceSession, inputs: list[np.ndarray]) -> float:
    same = total = 0
    for x in inputs:
        la = a.run(None, {"input": x})[0].argmax(1)
        lb = b.run(None, {"input": x})[0].argmax(1)
        same += int((la == lb).sum())
        total += la.size
    return same / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--weights", type=Path, default=Path(os.environ.get("URBANLENS_MODEL_MIRROR") or SHARED / "models" / "espnetv2"))
    parser.add_argument("--reference", type=Path, default=SHARED / "reference" / "espnetv2")
    parser.add_argument("--samples", type=Path, default=SHARED / "samples")
    parser.add_argument("--int8", action="store_true", help="also quantise to int8 (s2.0 and s1.0 at 384x768)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--scales", nargs="+", default=list(CARDS), choices=list(CARDS))
    parser.add_argument("--sizes", nargs="+", default=[f"{h}x{w}" for h, w in SIZES], help="HxW, multiples of 16")
    args = parser.parse_args()

    results: dict[str, Any] = {"threads": args.threads, "rounds": args.rounds, "onnxruntime": ort.__version__, "runs": []}
    print(f"ONNX Runtime {ort.__version__}, CPU, {args.threads} threads, median of {args.rounds} interleaved rounds")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for scale in args.scales:
            card = CARDS[scale]  # the weights are checked against the card's SHA-256 before they are read
            weights = fetch_file(str(card.params["weights_file"]), None, card.sha256, folder, source=args.weights)
            state = read_state_dict(weights)
            for height, width in (parse_size(text) for text in args.sizes):
                model = build_espnetv2(state, height, width).SerializeToString()
                plain = build_espnetv2(state, height, width, plain=True).SerializeToString()
                sessions = {"plain@all": make_session(plain, args.threads)}
                sessions |= {f"urbanlens@{lvl}": make_session(model, args.threads, lvl) for lvl in LEVELS}
                x = np.random.default_rng(0).normal(size=(1, 3, height, width)).astype(np.float32)
                if (height, width) == (384, 768):
                    x = golden_inputs(args.reference)[0]
                row: dict[str, Any] = {"scale": scale, "size": f"{height}x{width}"}
                if args.int8 and (height, width) == (384, 768):
                    fp32_path = folder / f"s{scale}.onnx"
                    fp32_path.write_bytes(model)
                    calib = calibration_inputs(args.reference, args.samples)
                    fp32 = sessions["urbanlens@all"]
                    for name, path in quantised_variants(fp32_path, calib, folder).items():
                        sessions[name] = make_session(str(path), args.threads)
                        row[f"{name} agreement"] = agreement(fp32, sessions[name], golden_inputs(args.reference))
                timings = time_interleaved(sessions, x, args.rounds)
                base = timings["plain@all"]
                row["median_ms"] = {k: t.median * 1000 for k, t in timings.items()}
                row["min_ms"] = {k: t.fastest * 1000 for k, t in timings.items()}
                row["median_cpu_ms"] = {k: t.cpu_median * 1000 for k, t in timings.items()}
                row["ratio_vs_plain"] = {k: t.ratio(base) for k, t in timings.items()}
                row["cpu_ratio_vs_plain"] = {k: t.ratio(base, cpu=True) for k, t in timings.items()}
                results["runs"].append(row)
                print(f"\ns{scale} {height}x{width}    wall median   wall min  ratio    CPU median  ratio")
                for k, t in timings.items():
                    extra = f"  labels agree with fp32 on {row[k + ' agreement']:.4%} of golden pixels" if k + " agreement" in row else ""
                    print(f"  {k:20s} {t.median * 1000:8.1f} ms {t.fastest * 1000:8.1f} ms  x{t.ratio(base):4.2f}  "
                          f"{t.cpu_median * 1000:8.1f} ms  x{t.ratio(base, cpu=True):4.2f}{extra}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
