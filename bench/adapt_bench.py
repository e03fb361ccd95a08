"""Adapting a model to annotated frames on CamVid: which frames to annotate, and what a new head is worth.

Pool = CamVid ``train`` (367 frames), evaluation = ``val`` (101 frames), base = ``espnetv2-s2``
scored through the ``cityscapes-camvid`` label map. Prints (asserts nothing) the val mIoU of the
base, of a head fitted on all of train, and of heads fitted on N = 10, 20, 40 frames chosen by each
strategy (random: mean and spread over 3 seeds); the time to score the pool for selection, to
extract features and to fit; and peak memory. Every head is scored in one pass over val
(:func:`analytics.models.adapt.score_heads`, the ``urbanlens evaluate`` rule); the head fitted on
all of train is also installed and scored by :func:`analytics.evaluation.run.evaluate` as a check.
Every head is fitted with the class prior of its own frames (``FeatureSet.prior``, ``PRIOR_TAU``) and
150 pixels per class per frame (``models adapt``'s default). Figures: docs/adapt.md.

    .venv/bin/python bench/adapt_bench.py [--camvid ../shared/datasets/camvid] [--per-class 150]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.evaluation.annotate import _Runner  # noqa: E402
from analytics.evaluation.labelmaps import default_label_map, label_lut  # noqa: E402
from analytics.evaluation.metrics import mean_iou  # noqa: E402
from analytics.evaluation.readers import read_camvid  # noqa: E402
from analytics.evaluation.select import descriptor, select_frames  # noqa: E402
from analytics.models.adapt import extract_features, fit_head, head_model, score_heads, sequence_key  # noqa: E402
from analytics.settings import load_settings  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--sizes", default="10,20,40")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="adapt-bench-"))
    os.environ["URBANLENS_HOME"] = str(home)
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(REPO.parent / "shared" / "models" / "espnetv2"))
    from analytics.models.zoo import install  # noqa: PLC0415 - after URBANLENS_HOME is set

    settings = load_settings()
    base = install("espnetv2-s2", settings)
    train = read_camvid(args.camvid / "train", args.camvid / "trainannot")
    val = read_camvid(args.camvid / "val", args.camvid / "valannot")
    lut = label_lut(default_label_map(base.card.class_set, "camvid", val.class_names), base.card.class_set, val.class_names)

    t = time.perf_counter()
    runner = _Runner(base, settings.threads)
    unc, desc = [], []
    for s in train.samples:
        import cv2  # noqa: PLC0415 - bench only

        image = cv2.imdecode(np.frombuffer(s.image.read(), np.uint8), cv2.IMREAD_COLOR)
        u, labels = runner.run(image)
        unc.append(u)
        desc.append(descriptor(labels, image, base.card.num_classes))
    t_select = time.perf_counter() - t
    keys = [sequence_key(s.name) for s in train.samples]
    print(f"scored the pool for selection: {len(unc)} frames in {t_select:.0f} s", flush=True)

    feats = extract_features(base, train, per_class=args.per_class, threads=settings.threads)
    print(f"features: {feats.x.shape[0]} pixels x {feats.x.shape[1]} from {len(feats.names)} frames in {feats.seconds:.0f} s; "
          f"peak {peak_mb():.0f} MB", flush=True)
    t = time.perf_counter()
    heads = {"all train (367)": fit_head(feats.x, feats.y, train.class_names, prior=feats.prior())}
    t_fit_all = time.perf_counter() - t
    print(f"fit on all train: {t_fit_all:.0f} s ({heads['all train (367)'].iterations} iterations)", flush=True)
    fit_times = []
    sizes = [int(v) for v in args.sizes.split(",")]
    for n in sizes:
        for strategy, seeds in (("diverse", [0]), ("uncertainty", [0]), ("random", [0, 1, 2])):
            for seed in seeds:
                picks = select_frames(strategy, n, np.array(unc), np.stack(desc), keys, seed=seed)
                t = time.perf_counter()
                heads[f"{strategy} N={n} seed={seed}"] = fit_head(*feats.subset(picks), train.class_names, prior=feats.prior(picks))
                fit_times.append(time.perf_counter() - t)
    print(f"fitted {len(fit_times)} small heads, {np.median(fit_times):.1f} s each (median)", flush=True)

    t = time.perf_counter()
    names = list(heads)
    base_cm, head_cm = score_heads(base, val, [heads[k] for k in names], lut, threads=settings.threads)
    print(f"scored base + {len(names)} heads on val in {time.perf_counter() - t:.0f} s", flush=True)
    miou = {k: 100 * mean_iou(head_cm[i].sum(axis=0)) for i, k in enumerate(names)}
    print(f"\n| model | val mIoU % |\n| --- | --- |\n| base espnetv2-s2 (cityscapes-camvid map) | {100 * mean_iou(base_cm.sum(axis=0)):.1f} |")
    print(f"| head on all train (367 frames) | {miou['all train (367)']:.1f} |")
    for n in sizes:
        r = [miou[f"random N={n} seed={s}"] for s in (0, 1, 2)]
        print(f"| N={n}: diverse | {miou[f'diverse N={n} seed=0']:.1f} |")
        print(f"| N={n}: uncertainty | {miou[f'uncertainty N={n} seed=0']:.1f} |")
        print(f"| N={n}: random (3 seeds) | {np.mean(r):.1f} ± {np.std(r):.1f} (min {min(r):.1f}, max {max(r):.1f}) |")

    # the installed graph scored by `urbanlens evaluate`'s own code, as a check on score_heads
    from analytics.evaluation.run import evaluate  # noqa: PLC0415 - bench only
    from analytics.models.adapt import _adapted_card, _load  # noqa: PLC0415 - bench only
    from analytics.models.zoo import add_model  # noqa: PLC0415 - bench only

    card = _adapted_card("camvid-bench", base, train.class_names, train.groups or (), {"bench": True})
    graph = head_model(_load(base.onnx_path), feats.taps, [heads["all train (367)"]], card.input_size)
    onnx_file, card_file = home / "adapted.onnx", home / "adapted.json"
    onnx_file.write_bytes(graph.SerializeToString())
    card_file.write_text(card.to_json(), encoding="utf-8")
    adapted = add_model(onnx_file, card_file, settings)
    ev = evaluate(adapted, val, None, threads=settings.threads)
    print(f"\ncheck: installed head on all train, urbanlens evaluate on val: mIoU {100 * ev.miou:.1f}")
    print(f"times: select scoring {t_select:.0f} s, features {feats.seconds:.0f} s, fit all {t_fit_all:.0f} s; peak memory {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
