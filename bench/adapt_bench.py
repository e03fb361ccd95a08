"""Adapting a model to annotated frames on CamVid: which frames to annotate, and what a new head is worth.

Pool = CamVid ``train`` (367 frames), evaluation = ``val`` (101 frames), base = ``espnetv2-s2``
scored through the ``cityscapes-camvid`` label map. Prints (asserts nothing) the val mIoU of the
base, of a head fitted on all of train, and of heads fitted on N = 10, 20, 40 frames chosen by each
strategy (random: mean and spread over 3 seeds); the time to score the pool for selection, to
extract features and to fit; and peak memory. Every head is scored in one pass over val
(:func:`analytics.evaluation.adapt.score_heads`, the ``urbanlens evaluate`` rule); the head fitted on
all of train is also installed and scored by :func:`analytics.evaluation.run.evaluate` as a check.
Every head is fitted with the class prior of its own frames (``FeatureSet.prior``, ``PRIOR_TAU``) and
150 pixels per class per frame (``models adapt``'s default). Each set of frames is adapted as ``models
adapt`` adapts it: a quarter held out (``split_holdout``), a head fitted on the rest, the blend weight
with the base chosen on the held-out frames (``choose_blend``), and the head refitted on every frame;
val scores both the head alone and the head blended with that weight. Figures: docs/adapt.md.

``--road N``: adaptation with the road model. A quarter of train is held out by sequence
(``split_holdout(names, 0.25, seed=0)``); N frames drawn at random (seed 0) from the rest are adapted as
``models adapt`` does (blend weight on their own held-out quarter, head refitted on all N); then the base,
the base + road model, the adapted model and the adapted model + road model are scored by
``urbanlens evaluate``'s code (:func:`analytics.evaluation.run.evaluate`) on val and on the held-out train frames.

    .venv/bin/python bench/adapt_bench.py [--camvid ../shared/datasets/camvid] [--per-class 150] [--road 40]
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

from analytics.evaluation.adapt import (  # noqa: E402
    choose_blend,
    extract_features,
    score_heads,
    sequence_key,
    split_holdout,
)
from analytics.evaluation.annotate import _Runner  # noqa: E402
from analytics.evaluation.graphs import head_model  # noqa: E402
from analytics.evaluation.heads import base_map_matrix, fit_head  # noqa: E402
from analytics.evaluation.labelmaps import default_label_map, label_lut  # noqa: E402
from analytics.evaluation.metrics import mean_iou  # noqa: E402
from analytics.evaluation.readers import read_camvid  # noqa: E402
from analytics.evaluation.select import descriptor, select_frames  # noqa: E402
from analytics.settings import load_settings  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "datasets" / "camvid")
    ap.add_argument("--per-class", type=int, default=150)
    ap.add_argument("--sizes", default="10,20,40")
    ap.add_argument("--road", type=int, default=0, help="adapt on this many train frames and compare with the road model")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="adapt-bench-"))
    os.environ["URBANLENS_HOME"] = str(home)
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(REPO.parent / "shared" / "models"))
    if args.road:
        road_comparison(args, home)
        return
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
    classes = train.class_names

    def adapted(frames: list[int]) -> tuple[object, float, float]:
        """(head on every frame, blend weight chosen on the held-out quarter, seconds to choose it)."""
        t = time.perf_counter()
        fit_idx, held_idx = split_holdout([train.samples[i].name for i in frames], 0.25, seed=0)
        fit_on, held = [frames[i] for i in fit_idx], [frames[i] for i in held_idx]
        part = fit_head(*feats.subset(fit_on), classes, prior=feats.prior(fit_on))
        weight, _, _ = choose_blend(base, train, part, lut, held, threads=settings.threads)
        t_choose = time.perf_counter() - t
        return fit_head(*feats.subset(frames), classes, prior=feats.prior(frames)), weight, t_choose

    t = time.perf_counter()
    all_frames = list(range(len(train.samples)))
    head_all, w_all, t_choose_all = adapted(all_frames)
    heads, weights = {"all train (367)": head_all}, {"all train (367)": w_all}
    t_fit_all = time.perf_counter() - t
    print(f"all train: holdout blend weight {w_all} ({t_choose_all:.0f} s), fit and refit {t_fit_all:.0f} s "
          f"({head_all.iterations} iterations)", flush=True)
    fit_times = []
    sizes = [int(v) for v in args.sizes.split(",")]
    for n in sizes:
        for strategy, seeds in (("diverse", [0]), ("uncertainty", [0]), ("random", [0, 1, 2])):
            for seed in seeds:
                picks = [int(i) for i in select_frames(strategy, n, np.array(unc), np.stack(desc), keys, seed=seed)]
                t = time.perf_counter()
                key = f"{strategy} N={n} seed={seed}"
                heads[key], weights[key], _ = adapted(picks)
                fit_times.append(time.perf_counter() - t)
                print(f"  {key}: blend weight {weights[key]}", flush=True)
    print(f"adapted {len(fit_times)} small frame sets, {np.median(fit_times):.1f} s each (median, with the holdout)", flush=True)

    t = time.perf_counter()
    names = list(heads)
    both = [heads[k] for k in names] * 2
    blend = [0.0] * len(names) + [weights[k] for k in names]
    base_cm, head_cm = score_heads(base, val, both, lut, threads=settings.threads, blend=blend)
    print(f"scored base + {len(both)} heads on val in {time.perf_counter() - t:.0f} s", flush=True)
    alone = {k: 100 * mean_iou(head_cm[i].sum(axis=0)) for i, k in enumerate(names)}
    blended = {k: 100 * mean_iou(head_cm[len(names) + i].sum(axis=0)) for i, k in enumerate(names)}

    def row(label: str, keys: list[str]) -> str:
        if len(keys) == 1:
            k = keys[0]
            return f"| {label} | {alone[k]:.1f} | {blended[k]:.1f} | {weights[k]} |"
        a, b = [alone[k] for k in keys], [blended[k] for k in keys]
        return (f"| {label} | {np.mean(a):.1f} ± {np.std(a):.1f} | {np.mean(b):.1f} ± {np.std(b):.1f} "
                f"(min {min(b):.1f}, max {max(b):.1f}) | {', '.join(str(weights[k]) for k in keys)} |")

    print("\n| frames | head alone | head + base blend | blend weight (holdout) |\n| --- | --- | --- | --- |")
    print(f"| base espnetv2-s2 (cityscapes-camvid map) | {100 * mean_iou(base_cm.sum(axis=0)):.1f} | | |")
    print(row("all train (367 frames)", ["all train (367)"]))
    for n in sizes:
        print(row(f"N={n}: diverse", [f"diverse N={n} seed=0"]))
        print(row(f"N={n}: uncertainty", [f"uncertainty N={n} seed=0"]))
        print(row(f"N={n}: random (3 seeds)", [f"random N={n} seed={s}" for s in (0, 1, 2)]))

    # the installed graph scored by `urbanlens evaluate`'s own code, as a check on score_heads
    from analytics.evaluation.adapt import adapted_card  # noqa: PLC0415 - bench only
    from analytics.evaluation.graphs import load_graph  # noqa: PLC0415 - bench only
    from analytics.evaluation.run import evaluate  # noqa: PLC0415 - bench only
    from analytics.models.zoo import add_model  # noqa: PLC0415 - bench only

    card = adapted_card("camvid-bench", base, train.class_names, train.groups or (), {"bench": True})
    base_map = base_map_matrix(lut, base.card.num_classes, len(classes))
    graph = head_model(load_graph(base.onnx_path), feats.taps, [heads["all train (367)"]], card.input_size, blend=[w_all],
                       base_map=base_map)
    onnx_file, card_file = home / "adapted.onnx", home / "adapted.json"
    onnx_file.write_bytes(graph.SerializeToString())
    card_file.write_text(card.to_json(), encoding="utf-8")
    adapted = add_model(onnx_file, card_file, settings)
    ev = evaluate(adapted, val, None, threads=settings.threads)
    print(f"\ncheck: installed head on all train (blend {w_all}), urbanlens evaluate on val: mIoU {100 * ev.miou:.1f}")
    print(f"times: select scoring {t_select:.0f} s, features {feats.seconds:.0f} s, fit all {t_fit_all:.0f} s; peak memory {peak_mb():.0f} MB")


def road_comparison(args: argparse.Namespace, home: Path) -> None:
    """Base, base + road model, adapted, adapted + road model on val and on held-out train frames (see the module doc)."""
    import dataclasses  # noqa: PLC0415 - bench only

    from analytics.evaluation.adapt import adapted_card  # noqa: PLC0415 - bench only
    from analytics.evaluation.graphs import load_graph  # noqa: PLC0415 - bench only
    from analytics.evaluation.run import evaluate  # noqa: PLC0415 - bench only
    from analytics.models.zoo import add_model, install, with_road  # noqa: PLC0415 - after URBANLENS_HOME is set

    settings = load_settings()
    base = install("espnetv2-s2", settings)
    train = read_camvid(args.camvid / "train", args.camvid / "trainannot")
    val = read_camvid(args.camvid / "val", args.camvid / "valannot")
    lm = default_label_map(base.card.class_set, "camvid", val.class_names)
    lut = label_lut(lm, base.card.class_set, val.class_names)
    pool_idx, held_idx = split_holdout([s.name for s in train.samples], 0.25, seed=0)
    rng = np.random.default_rng(0)
    frames = sorted(int(i) for i in rng.choice(pool_idx, size=min(args.road, len(pool_idx)), replace=False))
    t = time.perf_counter()
    sub = dataclasses.replace(train, samples=tuple(train.samples[i] for i in frames))
    feats = extract_features(base, sub, per_class=args.per_class, threads=settings.threads)
    local = list(range(len(frames)))
    fit_idx, hold_idx = split_holdout([sub.samples[i].name for i in local], 0.25, seed=0)
    part = fit_head(*feats.subset(fit_idx), sub.class_names, prior=feats.prior(fit_idx))
    weight, _, _ = choose_blend(base, sub, part, lut, hold_idx, threads=settings.threads)
    head = fit_head(*feats.subset(local), sub.class_names, prior=feats.prior(local))
    card = adapted_card("camvid-road-bench", base, train.class_names, train.groups or (), {"bench": True})
    graph = head_model(load_graph(base.onnx_path), feats.taps, [head], card.input_size, blend=[weight],
                       base_map=base_map_matrix(lut, base.card.num_classes, len(train.class_names)))
    (home / "adapted.onnx").write_bytes(graph.SerializeToString())
    (home / "adapted.json").write_text(card.to_json(), encoding="utf-8")
    adapted = add_model(home / "adapted.onnx", home / "adapted.json", settings)
    print(f"adapted on {len(frames)} train frames (blend weight {weight}) in {time.perf_counter() - t:.0f} s", flush=True)
    held = dataclasses.replace(train, samples=tuple(train.samples[i] for i in held_idx))
    models = {"base espnetv2-s2": (base, lm), "base + road model": (with_road(base, "road-segmentation-adas-0001", settings), lm),
              f"adapted ({len(frames)} frames)": (adapted, None),
              f"adapted ({len(frames)} frames) + road model": (with_road(adapted, "road-segmentation-adas-0001", settings), None)}
    print(f"\n| model | val mIoU (101) | val Pavement IoU | held-out train mIoU ({len(held_idx)}) | held-out Pavement IoU |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, (m, map_) in models.items():
        ev_val = evaluate(m, val, map_ or load_label_map_for(m, val), threads=settings.threads, n_boot=10)
        ev_held = evaluate(m, held, map_ or load_label_map_for(m, held), threads=settings.threads, n_boot=10)
        print(f"| {label} | {100 * ev_val.miou:.1f} | {100 * ev_val.iou['Pavement']:.1f} | {100 * ev_held.miou:.1f} | "
              f"{100 * ev_held.iou['Pavement']:.1f} |", flush=True)


def load_label_map_for(model: object, gt: object) -> object:
    """The default label map of ``model`` on ``gt`` (same names for an adapted model)."""
    return default_label_map(model.card.class_set, gt.format, gt.class_names)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
