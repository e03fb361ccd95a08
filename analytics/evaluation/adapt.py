"""Adapt a segmentation model to annotated frames: a new classification head on its frozen features.

The base network is never changed. Its graph gets one more output, ``ul_features``, the decoder's
per-pixel features (:mod:`analytics.evaluation.graphs`, :data:`~analytics.evaluation.graphs.FEATURE_TAPS`).
A multinomial logistic regression (softmax) head is fitted on a class-balanced sample of those
pixels (:func:`~analytics.evaluation.heads.fit_head`, formula in :mod:`analytics.evaluation.heads`),
and the adapted model is the base graph plus that head as a ``1x1`` convolution plus the same
bilinear upsampling to the input size: one ONNX graph with output ``logits`` ``(N, K, H, W)`` in the
annotation's class order, run by :class:`~analytics.footage.segment.Segmenter` like any other model.

Holdout (:func:`split_holdout`): frames are grouped into sequences by name (``<sequence>_<frame>``);
with four or more sequences whole sequences are held out, else contiguous blocks of frames, and a
training frame that neighbours a held-out frame in its sequence is dropped, so no two neighbouring
frames sit on both sides. The base is scored on the held-out frames through the label map, the
adapted head directly; :func:`adapt` installs the new model only when it scores better, refitted on
every frame.

Blend with the base: a head fitted on a few frames forgets what the base knows, so the installed
logits mix the head's with the base's log-probabilities mapped onto the annotation's classes
(:func:`~analytics.evaluation.heads.blend_logits`); when every base class is mapped the base votes
against a class it cannot see, and the holdout decides whether that helps. The weight ``a`` is
chosen on the held-out frames among :data:`BLEND_WEIGHTS` (``0``: the head alone, the same graph as
without a blend; ties go to the smaller weight) and recorded in the card's lineage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analytics import __version__
from analytics.cards import ModelCard
from analytics.errors import DataFormatError, InputError
from analytics.evaluation.graphs import (
    FEATURE_TAPS,
    Taps,
    graph_input,
    graph_session,
    head_model,
    load_graph,
    probe_taps,
    prune_graph,
    with_features,
)
from analytics.evaluation.heads import BLEND_EPS, PRIOR_TAU, Head, Progress, base_map_matrix, fit_head, tick
from analytics.evaluation.labelmaps import LabelMap, annotation_groups, default_label_map, label_lut
from analytics.evaluation.metrics import IGNORE, confusion_matrix, iou_per_class, mean_iou
from analytics.evaluation.readers import GroundTruth, Sample
from analytics.footage.geometry import Geometry, frame_geometry
from analytics.footage.segment import labels_to_frame, preprocess
from analytics.models.zoo import InstalledModel, add_model, check_new_model_name
from analytics.settings import Settings
from analytics.taxonomy import ClassSet

__all__ = [
    "BLEND_WEIGHTS",
    "MIN_FRAMES",
    "AdaptOptions",
    "AdaptResult",
    "FeatureSet",
    "adapt",
    "adapted_card",
    "check_adapted_name",
    "annotation_hash",
    "choose_blend",
    "extract_features",
    "label_grid",
    "sample_pixels",
    "score_heads",
    "sequence_key",
    "split_holdout",
]

MIN_FRAMES = 4
"""Fewest annotated frames :func:`adapt` accepts (a training part and a held-out part)."""
BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
"""Weights of the base's mapped log-probabilities tried on the held-out frames (0: the head alone)."""


@dataclass(frozen=True)
class AdaptOptions:
    """How :func:`adapt` fits and checks a head; each value is checked by the step that uses it.

    ``holdout``: share of frames held out (:func:`split_holdout`); ``label_map``: base classes onto the
    annotation's (None: :func:`~analytics.evaluation.labelmaps.default_label_map`); ``seed``: of the
    split and the pixel sample; ``per_class``: pixels sampled per class and frame
    (:func:`extract_features`); ``l2``: the head's weight penalty (:func:`~analytics.evaluation.heads.fit_head`);
    ``blend_weights``: the blend weights tried on the held-out frames (``(0.0,)``: the head alone).
    """

    holdout: float = 0.25
    label_map: LabelMap | None = None
    seed: int = 0
    per_class: int = 150
    l2: float = 1e-4
    blend_weights: tuple[float, ...] = BLEND_WEIGHTS


# -- frames and pixels ----------------------------------------------------------------------------
def _decode_image(data: bytes, name: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise DataFormatError(f"image {name} is not an image OpenCV can read (PNG, JPEG, BMP, TIFF, WebP, ...)")
    return image


def _read_pair(gt: GroundTruth, sample: Sample) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Image (BGR), mask (class ids, 255 unlabelled) and the SHA-256 of each file's bytes."""
    image_bytes, mask_bytes = sample.image.read(), sample.mask.read()
    image = _decode_image(image_bytes, sample.image.name)
    mask = gt.decode_mask(mask_bytes, sample.mask.name)
    if mask.shape != image.shape[:2]:
        raise InputError(
            f"mask {sample.mask.name} is {mask.shape[1]}x{mask.shape[0]} but its image {sample.image.name} is "
            f"{image.shape[1]}x{image.shape[0]}; expected the same size"
        )
    return image, mask, hashlib.sha256(image_bytes).hexdigest(), hashlib.sha256(mask_bytes).hexdigest()


def label_grid(mask: np.ndarray, geometry: Geometry, grid: tuple[int, int]) -> np.ndarray:
    """The mask's class ids at the feature grid's pixels (255 where the frame is not: padding).

    The mask is placed as the model sees its frame (nearest neighbour) and read at the input pixels
    the aligned-corners upsampling puts grid pixel ``(i, j)`` on: ``(i (H-1)/(h-1), j (W-1)/(w-1))``.

    >>> g = frame_geometry(2, 4, 4, 4, "letterbox")       # a 4x2 frame letterboxed into 4x4 (rows 1-2)
    >>> label_grid(np.array([[0, 1, 2, 3], [4, 5, 6, 7]], np.uint8), g, (4, 4)).tolist()[:3]
    [[255, 255, 255, 255], [0, 1, 2, 3], [4, 5, 6, 7]]
    """
    g = geometry
    m = np.array([[g.scale_x, 0.0, g.offset_x], [0.0, g.scale_y, g.offset_y]], np.float64)
    canvas = cv2.warpAffine(mask, m, (g.input_w, g.input_h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=IGNORE)
    h, w = grid
    rows = np.rint(np.arange(h) * (g.input_h - 1) / max(h - 1, 1)).astype(np.intp)
    cols = np.rint(np.arange(w) * (g.input_w - 1) / max(w - 1, 1)).astype(np.intp)
    return canvas[np.ix_(rows, cols)]


def sample_pixels(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of at most ``per_class`` pixels of each labelled class (255 left out), drawn without replacement.

    >>> sample_pixels(np.array([[0, 0, 0, 1], [255, 1, 0, 0]]), 2, np.random.default_rng(0)).size
    4
    """
    flat = labels.ravel()
    picks = []
    for c in np.unique(flat):
        if c == IGNORE:
            continue
        idx = np.flatnonzero(flat == c)
        picks.append(idx if idx.size <= per_class else rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, np.intp)


@dataclass
class FeatureSet:
    """Sampled pixels of annotated frames: features ``x`` (n, D) float32, classes ``y`` (n,) and the frame of each."""

    x: np.ndarray
    y: np.ndarray
    frame: np.ndarray
    names: tuple[str, ...]
    digests: tuple[tuple[str, str, str], ...]
    taps: Taps
    seconds: float
    pixels: np.ndarray | None = None
    """``(frames, K)``: every labelled feature-grid pixel of each frame by class (the class prior)."""

    def subset(self, frames: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isin(self.frame, np.asarray(list(frames), np.int64))
        return self.x[keep], self.y[keep]

    def prior(self, frames: Sequence[int] | None = None) -> np.ndarray | None:
        """Class frequencies ``pi_c = n_c / sum n`` over all labelled pixels of ``frames`` (default: all)."""
        if self.pixels is None:
            return None
        counts = self.pixels.sum(axis=0) if frames is None else self.pixels[np.asarray(list(frames), np.intp)].sum(axis=0)
        return counts / max(float(counts.sum()), 1.0)


def extract_features(
    model: InstalledModel, gt: GroundTruth, *, per_class: int = 150, seed: int = 0, threads: int | None = None,
    taps: Sequence[str] = FEATURE_TAPS, progress: Progress | None = None,
) -> FeatureSet:
    """Run the frozen base on every annotated frame and keep a class-balanced pixel sample of its features."""
    if not isinstance(gt, GroundTruth) or not gt.samples:
        raise InputError("the annotations hold no frames")
    if not isinstance(per_class, int) or not 1 <= per_class <= 100_000:
        raise InputError(f"per_class={per_class!r}; expected a whole number from 1 to 100000")
    start = time.perf_counter()
    card = model.card
    base = load_graph(model.onnx_path)
    tp = probe_taps(base, card, taps, threads)
    sess = graph_session(prune_graph(with_features(base, tp)), threads)
    input_name = graph_input(base)
    rng = np.random.default_rng(seed)
    xs, ys, fs, digests, pixels = [], [], [], [], []
    n, k = len(gt.samples), len(gt.class_names)
    for i, sample in enumerate(gt.samples):
        image, mask, image_sha, mask_sha = _read_pair(gt, sample)
        geo = frame_geometry(image.shape[0], image.shape[1], card.input_height, card.input_width, card.resize)
        (feats,) = sess.run(["ul_features"], {input_name: preprocess(image, card, geometry=geo)[None]})
        grid = label_grid(mask, geo, tp.grid)
        idx = sample_pixels(grid, per_class, rng)
        xs.append(np.ascontiguousarray(feats[0].reshape(tp.dim, -1)[:, idx].T))
        ys.append(grid.ravel()[idx])
        pixels.append(np.bincount(grid[grid < k].ravel(), minlength=k)[:k])
        fs.append(np.full(idx.size, i, np.int32))
        digests.append((sample.name, image_sha, mask_sha))
        tick(progress, "features", i + 1, n)
    return FeatureSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(fs), tuple(s.name for s in gt.samples),
                      tuple(digests), tp, time.perf_counter() - start, np.stack(pixels))


# -- scoring --------------------------------------------------------------------------------------
def score_heads(
    model: InstalledModel, gt: GroundTruth, heads: Sequence[Head], base_lut: np.ndarray, *, frames: Sequence[int] | None = None,
    threads: int | None = None, taps: Sequence[str] = FEATURE_TAPS, progress: Progress | None = None, stage: str = "holdout",
    blend: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrices of the base (through ``base_lut``) and of each head on the chosen frames, in one pass.

    Returns ``(base (n, K, K), heads (len(heads), n, K, K))``, scored as ``urbanlens evaluate`` scores
    an installed model: labels at the input size mapped back onto the mask's pixels, unlabelled
    mask pixels and void predictions left out. ``blend``: each head's weight of the base's
    log-probabilities mapped through ``base_lut`` (:func:`base_map_matrix`; default 0, the head alone).
    """
    card = model.card
    base = load_graph(model.onnx_path)
    tp = probe_taps(base, card, taps, threads)
    k = len(gt.class_names)
    base_map = base_map_matrix(base_lut, card.num_classes, k) if blend is not None and any(blend) else None
    sess = graph_session(head_model(base, tp, heads, card.input_size, labels=True, blend=blend, base_map=base_map), threads)
    input_name = graph_input(base)
    chosen = list(range(len(gt.samples))) if frames is None else list(frames)
    names = [f"ul_head{i}" for i in range(len(heads))] + ["ul_base"]
    out = np.zeros((len(heads) + 1, len(chosen), k, k), np.int64)
    for j, i in enumerate(chosen):
        image, mask, _, _ = _read_pair(gt, gt.samples[i])
        geo = frame_geometry(image.shape[0], image.shape[1], card.input_height, card.input_width, card.resize)
        labels = sess.run(names, {input_name: preprocess(image, card, geometry=geo)[None]})
        y0, y1, x0, x1 = geo.content
        for h, lab in enumerate(labels):
            full = np.full(lab.shape[1:], IGNORE, np.uint8)
            full[y0:y1, x0:x1] = lab[0, y0:y1, x0:x1]
            pred = labels_to_frame(full, geo, IGNORE)
            if h == len(heads):
                pred = base_lut[pred]
            out[h, j] = confusion_matrix(mask, pred, k)
        tick(progress, stage, j + 1, len(chosen))
    return out[-1], out[:-1]


def choose_blend(
    model: InstalledModel, gt: GroundTruth, head: Head, base_lut: np.ndarray, frames: Sequence[int], *,
    weights: Sequence[float] = BLEND_WEIGHTS, threads: int | None = None, progress: Progress | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The blend weight whose head + base blend scores the best mIoU on ``frames`` (ties: the smaller weight).

    Returns ``(weight, base (n, K, K), per weight (len(weights), n, K, K))`` confusion matrices, the
    weights in increasing order, from one pass of :func:`score_heads`.
    """
    ws = sorted({float(a) for a in weights})
    if not ws or not all(0.0 <= a < 1.0 for a in ws):
        raise InputError(f"blend weights {list(weights)}; expected one or more numbers in [0, 1)")
    base_cm, cms = score_heads(model, gt, [head] * len(ws), base_lut, frames=frames, threads=threads,
                               progress=progress, blend=ws)
    scores = [mean_iou(cm.sum(axis=0)) for cm in cms]
    best = max(range(len(ws)), key=lambda i: (round(scores[i], 9) if math.isfinite(scores[i]) else -1.0, -ws[i]))
    return ws[best], base_cm, cms


# -- holdout --------------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<seq>.+)_(?P<frame>[A-Za-z]*\d+)$")


def sequence_key(name: str) -> tuple[str, int]:
    """``(sequence, frame number)`` of a frame named ``<sequence>_<frame>`` (CamVid: ``0016E5_07959``).

    >>> sequence_key("0016E5_07959"), sequence_key("0006R0_f02340"), sequence_key("img")
    (('0016E5', 7959), ('0006R0', 2340), ('', 0))
    """
    m = _FRAME.match(Path(name).stem)
    if m is None:
        return ("", 0)
    return m["seq"], int(re.sub(r"\D", "", m["frame"]))


def split_holdout(names: Sequence[str], share: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Training and held-out frame indices (see the module doc): whole sequences when there are four
    or more, else contiguous blocks; training frames next to a held-out frame are dropped.

    >>> train, held = split_holdout([f"s_{i:03d}" for i in range(20)], 0.25)
    >>> 5 <= len(held) <= 7, len(train) + len(held) < 20, set(train) & set(held)
    (True, True, set())
    """
    if not 0.0 < share < 1.0:
        raise InputError(f"holdout share {share!r}; expected a number between 0 and 1 (e.g. 0.25)")
    n = len(names)
    if n < MIN_FRAMES:
        raise InputError(f"{n} annotated frame(s); adapting needs at least {MIN_FRAMES} (some to fit, some to check)")
    seqs: dict[str, list[tuple[int, int]]] = {}
    for i, name in enumerate(names):
        s, f = sequence_key(name)
        seqs.setdefault(s, []).append((f, i))
    ordered = {s: [i for _, i in sorted(v)] for s, v in seqs.items()}
    if len(ordered) >= 4:
        groups = list(ordered.values())
    else:
        block = max(2, round(n * share / 2))
        groups = [v[j: j + block] for v in ordered.values() for j in range(0, len(v), block)]
    rng = np.random.default_rng(seed)
    target = max(1, round(n * share))
    held: set[int] = set()
    for g in rng.permutation(len(groups)):
        if len(held) >= target:
            break
        if len(held) + len(groups[g]) > target * 1.5 and held:
            continue
        held.update(groups[g])
    neighbours = set()
    for seq in ordered.values():
        for a, b in zip(seq, seq[1:], strict=False):
            if (a in held) != (b in held):
                neighbours.add(b if a in held else a)
    train = [i for i in range(n) if i not in held and i not in neighbours]
    if not train:
        raise InputError(f"{n} annotated frames leave none to fit on after holding out {len(held)}; annotate more frames")
    return train, sorted(held)


# -- the whole step -------------------------------------------------------------------------------
def annotation_hash(gt: GroundTruth, digests: Sequence[tuple[str, str, str]]) -> str:
    """SHA-256 over the format, the class names and every frame's (name, image hash, mask hash)."""
    h = hashlib.sha256(json.dumps({"format": gt.format, "classes": list(gt.class_names)}).encode())
    for name, image_sha, mask_sha in sorted(digests):
        h.update(f"\n{name}\t{image_sha}\t{mask_sha}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt` did: held-out scores (fractions) and whether ``NEW`` was installed."""

    name: str
    base_name: str
    class_names: tuple[str, ...]
    groups: tuple[str, ...]
    train_frames: int
    holdout_frames: int
    base_miou: float
    adapted_miou: float
    base_iou: dict[str, float]
    adapted_iou: dict[str, float]
    installed: InstalledModel | None
    annotations_sha256: str
    seconds: dict[str, float] = field(default_factory=dict)
    blend: float = 0.0
    """The chosen weight of the base's mapped log-probabilities (module doc)."""
    blend_miou: dict[float, float] = field(default_factory=dict)
    """Held-out mIoU (fraction) of the head blended with each weight tried."""

    @property
    def better(self) -> bool:
        return self.adapted_miou > self.base_miou

    def to_dict(self) -> dict[str, Any]:
        def pct(v: float) -> float | None:
            return None if not math.isfinite(v) else round(100 * v, 2)

        return {
            "name": self.name, "base": self.base_name, "installed": self.installed is not None,
            "onnx": str(self.installed.onnx_path) if self.installed else None,
            "classes": [{"name": n, "group": g} for n, g in zip(self.class_names, self.groups, strict=True)],
            "train_frames": self.train_frames, "holdout_frames": self.holdout_frames,
            "holdout_miou": {"base": pct(self.base_miou), "adapted": pct(self.adapted_miou)},
            "holdout_iou": {"base": {k: pct(v) for k, v in self.base_iou.items()},
                            "adapted": {k: pct(v) for k, v in self.adapted_iou.items()}},
            "annotations_sha256": self.annotations_sha256, "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "blend": {"weight": self.blend, "holdout_miou": {str(a): pct(v) for a, v in self.blend_miou.items()}},
        }


def check_adapted_name(name: object, base: InstalledModel, settings: Settings, force: bool = False) -> str:
    """``name`` when the adapted model may be installed under it (:func:`~analytics.models.zoo.check_new_model_name`:
    a valid name, not a built-in model's, not an installed model's unless ``force``) and it is not the base's.

    Reads only the model folder: :func:`adapt` and ``urbanlens models adapt`` call it before any work.
    """
    if isinstance(name, str) and name == base.card.name:
        raise InputError(f"model name {name!r} is the base itself; give the adapted model a new name")
    return check_new_model_name(name, settings, force)


def adapted_card(name: str, base: InstalledModel, class_names: Sequence[str], groups: Sequence[str],
                 lineage: dict[str, Any]) -> ModelCard:
    """The adapted model's card: the base's input rules and licence, the annotation's classes and ``lineage``."""
    classes = [{"name": n, "group": g} for n, g in zip(class_names, groups, strict=True)]
    return ModelCard(
        name=name, class_set=ClassSet.from_mapping(name, classes), input_height=base.card.input_height,
        input_width=base.card.input_width, license=base.card.license,
        attribution=f"{base.card.attribution} Head adapted by UrbanLens on annotated frames.".strip(),
        channel_order=base.card.channel_order, scale=base.card.scale, mean=base.card.mean, std=base.card.std,
        resize=base.card.resize, notes=f"Base network {base.card.name} (frozen) with a new classification head.",
        lineage=lineage,
    )


def _miou_iou(cm: np.ndarray, names: Sequence[str]) -> tuple[float, dict[str, float]]:
    total = cm.sum(axis=0)
    return mean_iou(total), dict(zip(names, iou_per_class(total).tolist(), strict=True))


def adapt(
    base: InstalledModel, gt: GroundTruth, name: str, settings: Settings, options: AdaptOptions = AdaptOptions(), *,
    progress: Progress | None = None, force: bool = False,
) -> AdaptResult:
    """Fit a head for ``gt``'s classes on ``base``'s frozen features and install it as ``name`` if it
    beats the base on the held-out frames (see the module doc). ``options.label_map`` maps the base's
    classes onto the annotation's to score the base and to blend it with the head (default:
    :func:`~analytics.evaluation.labelmaps.default_label_map`); the blend weight is the best of
    ``options.blend_weights`` on the held-out frames (``(0.0,)``: the head alone). ``name`` is checked
    first (:func:`check_adapted_name`): a model installed under it is replaced only with ``force``."""
    if not isinstance(base, InstalledModel):
        raise InputError(f"base must be an installed model, got {type(base).__name__}")
    check_adapted_name(name, base, settings, force)
    if not isinstance(gt, GroundTruth) or len(gt.samples) < MIN_FRAMES:
        n = len(gt.samples) if isinstance(gt, GroundTruth) else 0
        raise InputError(f"{n} annotated frame(s); adapting needs at least {MIN_FRAMES} (some to fit, some to check)")
    o = options
    classes = gt.class_names
    lm = o.label_map if o.label_map is not None else default_label_map(base.card.class_set, gt.format, classes)
    lut = label_lut(lm, base.card.class_set, classes)
    groups = gt.groups if gt.groups is not None else annotation_groups(lm, base.card.class_set, classes)
    train, held = split_holdout([s.name for s in gt.samples], o.holdout, o.seed)
    t0 = time.perf_counter()
    feats = extract_features(base, gt, per_class=o.per_class, seed=o.seed, threads=settings.threads, progress=progress)
    counts = np.bincount(feats.y, minlength=len(classes))
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if empty:
        raise InputError(f"annotation class(es) {empty} have no labelled pixel in any frame; annotate them or leave them out")
    t1 = time.perf_counter()
    head = fit_head(*feats.subset(train), classes, l2=o.l2, prior=feats.prior(train), progress=progress)
    t2 = time.perf_counter()
    weight, base_cm, blend_cms = choose_blend(base, gt, head, lut, held, weights=o.blend_weights, threads=settings.threads,
                                              progress=progress)
    t3 = time.perf_counter()
    tried = sorted({float(a) for a in o.blend_weights})
    blend_miou = {a: mean_iou(cm.sum(axis=0)) for a, cm in zip(tried, blend_cms, strict=True)}
    base_miou, base_iou = _miou_iou(base_cm, classes)
    new_miou, new_iou = _miou_iou(blend_cms[tried.index(weight)], classes)
    ann_sha = annotation_hash(gt, feats.digests)
    seconds = {"features": t1 - t0, "fit": t2 - t1, "holdout": t3 - t2}
    result = AdaptResult(name, base.card.name, classes, tuple(groups), len(train), len(held), base_miou, new_miou,
                         base_iou, new_iou, None, ann_sha, seconds, weight, blend_miou)
    if not result.better:
        return result
    final = fit_head(feats.x, feats.y, classes, l2=o.l2, prior=feats.prior(), progress=progress, stage="refit")
    seconds["refit"] = time.perf_counter() - t3
    card = adapted_card(name, base, classes, groups, _lineage(base, lm, gt, result, feats, o))
    base_map = base_map_matrix(lut, base.card.num_classes, len(classes))
    graph = head_model(load_graph(base.onnx_path), feats.taps, [final], card.input_size, blend=[weight], base_map=base_map)
    return dataclasses.replace(result, installed=_install(graph, card, settings, force))


def _install(graph: Any, card: ModelCard, settings: Settings, force: bool) -> InstalledModel:
    """Add the adapted ``graph`` with its ``card`` to the model zoo, through a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="urbanlens-adapt-") as tmp:
        onnx_file, card_file = Path(tmp) / "model.onnx", Path(tmp) / "card.json"
        onnx_file.write_bytes(graph.SerializeToString())
        card_file.write_text(card.to_json(), encoding="utf-8")
        return add_model(onnx_file, card_file, settings, force=force)


def _lineage(base: InstalledModel, lm: LabelMap, gt: GroundTruth, result: AdaptResult, feats: FeatureSet,
             options: AdaptOptions) -> dict[str, Any]:
    """The card's ``lineage`` table (docs/adapt.md)."""
    return {
        "base_model": base.card.name, "base_weights_sha256": base.weights_sha256, "annotations_sha256": result.annotations_sha256,
        "annotation_format": gt.format, "frames": len(gt.samples), "label_map": lm.name,
        "holdout": {"share": options.holdout, "seed": options.seed, "frames": result.holdout_frames, "train_frames": result.train_frames,
                    "base_miou": round(100 * result.base_miou, 2), "adapted_miou": round(100 * result.adapted_miou, 2)},
        "head": {"features": list(feats.taps.names), "pixels": int(feats.y.size), "per_class": options.per_class, "l2": options.l2,
                 "prior_tau": PRIOR_TAU, "blend_weight": result.blend, "blend_eps": BLEND_EPS,
                 "blend_chosen_on": "holdout: the weight with the best held-out mIoU (ties: the smaller)",
                 "blend_holdout_miou": {str(a): round(100 * v, 2) for a, v in result.blend_miou.items()}},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "code_version": __version__,
    }
