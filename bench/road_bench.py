"""Road-model benchmark: the segmenter alone against the segmenter with the road model, on CamVid.

For every frame of CamVid train and val (``../shared/datasets/camvid``, label map ``cityscapes-camvid``)
the default segmenter (``espnetv2-s2``, 384x768, letterbox) runs once and the road model
(``road-segmentation-adas-0001``, 896x512, stretched) once on the part of the frame the segmenter
sees, as the analysis runs them (:class:`analytics.footage.segment.Segmenter`,
:class:`analytics.footage.roads.RoadModel`). The fusion (:func:`analytics.footage.roads.fuse_road`)
is scored for every pair of thresholds of a small grid; the pair with the best mIoU on **train** is
chosen and reported on train and val (nothing is chosen on val). Scoring is ``urbanlens evaluate``'s
rule (labels mapped back to the frame, scored at the mask's resolution).

Cost: median milliseconds per frame of the segmenter and of the road model (including resizing
its probabilities and the fusion), one after the other on the same frames; the ratio
(segmenter + road) / segmenter. Asserts nothing about time. Usage::

    URBANLENS_MODEL_MIRROR=../shared/models .venv/bin/python bench/road_bench.py [--limit N] [--threads 1]
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

from analytics.evaluation.labelmaps import indicator_classes, label_lut, load_label_map
from analytics.evaluation.metrics import IGNORE, confusion_matrix, indicator_errors, iou_per_class, mean_iou, pixel_accuracy
from analytics.evaluation.readers import read_camvid
from analytics.footage.roads import RoadModel, fuse_road, road_class_ids
from analytics.footage.segment import Segmenter, input_image, labels_to_frame, preprocess, session_options
from analytics.models.zoo import builtin_road_cards, install
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CAMVID = SHARED / "datasets" / "camvid"
ROAD_ONNX = SHARED / "models" / "road" / "road_segmentation_adas_0001.onnx"
GRID = (0.5, 0.6, 0.7, 0.8, 0.9)


def frames(split: str, seg: Segmenter, road: RoadModel, limit: int | None) -> tuple[list, list[float], list[float]]:
    """(per frame: mask, base labels at the input size, geometry, road view of the content), ms segmenter, ms road."""
    gt = read_camvid(CAMVID / split, CAMVID / f"{split}annot")
    out, t_seg, t_road = [], [], []
    for sample in gt.samples[:limit]:
        mask = gt.decode_mask(sample.mask.read(), sample.mask.name)
        image = cv2.imdecode(np.frombuffer(sample.image.read(), np.uint8), cv2.IMREAD_COLOR)
        g = seg.geometry(*image.shape[:2])
        x = preprocess(image, seg.card, geometry=g)
        t0 = time.perf_counter()
        s = seg.run(x[None], [g])[0]
        t1 = time.perf_counter()
        y0, y1, x0, x1 = g.content
        view = road.view(np.ascontiguousarray(input_image(x, seg.card)[y0:y1, x0:x1]))
        t2 = time.perf_counter()
        out.append((mask, s.labels, g, view))
        t_seg.append(1e3 * (t1 - t0))
        t_road.append(1e3 * (t2 - t1))
    return out, t_seg, t_road


def score(data: list, lut: np.ndarray, ids: tuple[int, int], t: tuple[float, float] | None, k: int) -> np.ndarray:
    """One confusion matrix per frame of the base labels (``t`` None) or the fused ones at thresholds ``t``."""
    cms = []
    for mask, labels, g, view in data:
        y0, y1, x0, x1 = g.content
        full = np.full(labels.shape, IGNORE, np.uint8)
        content = labels[y0:y1, x0:x1]
        if t is not None:
            content = fuse_road(content, view.off_road, view.on_road, ids, t[0], t[1])
        full[y0:y1, x0:x1] = content
        cms.append(confusion_matrix(mask, lut[labels_to_frame(full, g, IGNORE)], k))
    return np.stack(cms)


def summary(cms: np.ndarray, names: tuple[str, ...], ind: dict[str, tuple[int, ...]]) -> dict[str, float]:
    total = cms.sum(axis=0)
    iou = dict(zip(names, iou_per_class(total).tolist(), strict=True))
    err = indicator_errors(cms, ind)
    return {
        "miou": 100 * mean_iou(total), "acc": 100 * pixel_accuracy(total), "road": 100 * iou["Road"], "pavement": 100 * iou["Pavement"],
        "road_bias": float(np.nanmean(err["share_road"])), "sidewalk_bias": float(np.nanmean(err["share_sidewalk"])),
    }


def line(label: str, m: dict[str, float]) -> str:
    return (f"| {label} | {m['miou']:.1f} | {m['acc']:.1f} | {m['road']:.1f} | {m['pavement']:.1f} | "
            f"{m['road_bias']:+.1f} | {m['sidewalk_bias']:+.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="frames per split (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("URBANLENS_MODEL_MIRROR", str(SHARED / "models"))
    with tempfile.TemporaryDirectory() as home:
        os.environ["URBANLENS_HOME"] = home
        settings = load_settings()
        m = install("espnetv2-s2", settings)
        seg = Segmenter(m.onnx_path, m.card, threads=args.threads)
        road = RoadModel(ROAD_ONNX, builtin_road_cards()["road-segmentation-adas-0001"], session_options(args.threads))
        ids = road_class_ids(m.card)
        assert ids is not None
        gt = read_camvid(CAMVID / "val", CAMVID / "valannot")
        lm = load_label_map("cityscapes-camvid")
        lut = label_lut(lm, m.card.class_set, gt.class_names)
        ind = indicator_classes(lm, m.card.class_set, gt.class_names)
        k = len(gt.class_names)
        data, times = {}, {}
        for split in ("train", "val"):
            data[split], ts, tr = frames(split, seg, road, args.limit)
            times[split] = (ts, tr)
            print(f"{split}: {len(data[split])} frames read", flush=True)
        grid = {(a, b): summary(score(data["train"], lut, ids, (a, b), k), gt.class_names, ind)["miou"] for a in GRID for b in GRID}
        best = max(grid, key=lambda t: grid[t])
        print("train mIoU by (t_sidewalk, t_road):", " ".join(f"{a}/{b}={v:.2f}" for (a, b), v in sorted(grid.items())))
        print(f"chosen on train: t_sidewalk={best[0]}, t_road={best[1]}")
        print("\n| split, labels | mIoU | pixel acc. | Road IoU | Pavement IoU | road share bias (pp) | sidewalk share bias (pp) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for split in ("train", "val"):
            print(line(f"{split} ({len(data[split])}), segmenter", summary(score(data[split], lut, ids, None, k), gt.class_names, ind)))
            print(line(f"{split}, + road model at {best[0]}/{best[1]}", summary(score(data[split], lut, ids, best, k), gt.class_names, ind)))
            if best != (0.7, 0.7):
                print(line(f"{split}, + road model at 0.7/0.7", summary(score(data[split], lut, ids, (0.7, 0.7), k), gt.class_names, ind)))
        ts = [t for s in times.values() for t in s[0]]
        tr = [t for s in times.values() for t in s[1]]
        ms, mr = statistics.median(ts), statistics.median(tr)
        print(f"\ncost per frame ({args.threads} thread(s), medians over {len(ts)} frames): segmenter {ms:.1f} ms, "
              f"road model + resize {mr:.1f} ms, road/segmenter {mr / ms:.2f}, (segmenter + road)/segmenter {(ms + mr) / ms:.2f}")


if __name__ == "__main__":
    main()
