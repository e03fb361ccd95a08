"""Adapt a segmentation model to annotated frames: a new classification head on its frozen features.

The base network is never changed. Its graph gets one more output, ``ul_features``: the
decoder's per-pixel feature maps named in :data:`FEATURE_TAPS` (for the built-in ESPNetv2: the
last decoder stage's class scores, its input features and the previous stage's features,
bilinearly resized to the finest of them, half the input size) concatenated along channels.
A multinomial logistic regression (softmax) head is fitted on a class-balanced sample of those
pixels, and the adapted model is the base graph plus that head as a ``1x1`` convolution plus the
same bilinear upsampling to the input size: one ONNX graph with output ``logits``
``(N, K, H, W)`` in the annotation's class order, run by :class:`~analytics.footage.segment.Segmenter`
like any other model.

Head (numpy, no PyTorch): with standardised features ``x' = (x - mu) / sigma`` and class weights
``w_c = 1 / n_c`` (``n_c`` the sampled pixels of class c), minimise

    L(W, b) = sum_i w_{y_i} (-log softmax(W x'_i + b)_{y_i}) / sum_i w_{y_i} + (lambda / 2) ||W||^2

by L-BFGS (it converges in about 200 iterations on CamVid); the standardisation is folded into the
convolution: ``W_conv = W / sigma``, ``b_conv = b - W_conv mu + tau log(pi_c)``, the last term adding back
part of the classes' pixel frequencies ``pi_c`` (:data:`PRIOR_TAU`): a fully balanced head gives small
classes the pixels of large ones and scores worse than the base on held-out sequences.

Holdout (:func:`split_holdout`): frames are grouped into sequences by name (``<sequence>_<frame>``);
with four or more sequences whole sequences are held out, else contiguous blocks of frames, and a
training frame that neighbours a held-out frame in its sequence is dropped, so no two neighbouring
frames sit on both sides. The base is scored on the held-out frames through the label map, the
adapted head directly; :func:`adapt` installs the new model only when it scores better, refitted on
every frame.

Blend with the base (:data:`BLEND_WEIGHTS`): a head fitted on a few frames forgets what the base
knows, so the installed logits are

    z = (1 - a) (W x + b_conv) + a log(M softmax(base logits) + eps)

with ``M`` the constant ``(K, C)`` matrix of the label map (``M[k, m] = 1`` when base class ``m``
maps to annotation class ``k``: the base's probability of each annotation class is the sum of its
classes mapped there) and ``eps`` = :data:`BLEND_EPS`. An annotation class no base class maps to
gets the probability of the base classes mapped to nothing (void), shared equally among such
classes (``M[k, m] = 1 / U`` for each void base class ``m``, ``U`` unmapped annotation classes),
and ``eps`` alone when every base class is mapped: the base then votes against a class it cannot
see, and the holdout decides whether that helps. ``a`` is chosen on the held-out frames among
:data:`BLEND_WEIGHTS` (``0``: the head alone, the same graph as without a blend; ties go to the
smaller weight) and recorded in the card's lineage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from analytics import __version__
from analytics.cards import ModelCard
from analytics.errors import DataFormatError, InputError, ModelError
from analytics.evaluation.labelmaps import LabelMap, annotation_groups, default_label_map, label_lut
from analytics.evaluation.metrics import IGNORE, confusion_matrix, iou_per_class, mean_iou
from analytics.evaluation.readers import GroundTruth, Sample
from analytics.footage.geometry import Geometry, frame_geometry
from analytics.footage.segment import labels_to_frame, preprocess, session_options
from analytics.models.zoo import InstalledModel, add_model, builtin_cards
from analytics.settings import Settings
from analytics.taxonomy import ClassSet

if TYPE_CHECKING:
    import onnx

__all__ = [
    "BLEND_EPS",
    "BLEND_WEIGHTS",
    "FEATURE_TAPS",
    "MIN_FRAMES",
    "PRIOR_TAU",
    "AdaptResult",
    "FeatureSet",
    "Head",
    "adapt",
    "annotation_hash",
    "base_map_matrix",
    "blend_logits",
    "choose_blend",
    "extract_features",
    "fit_head",
    "head_model",
    "score_heads",
    "sequence_key",
    "split_holdout",
]

FEATURE_TAPS: tuple[str, ...] = ("bu_dec_l4", "bu_br_l4", "bu_br_l3", "bu_br_l2")
"""Tensors of the base graph whose per-pixel values are the head's features (the first sets the grid)."""
MIN_FRAMES = 4
"""Fewest annotated frames :func:`adapt` accepts (a training part and a held-out part)."""
PRIOR_TAU = 0.75
"""Share of the log class prior added back to a fitted head's bias (0: balanced head, 1: Bayes prior)."""
BLEND_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
"""Weights of the base's mapped log-probabilities tried on the held-out frames (0: the head alone)."""
BLEND_EPS = 1e-4
"""Added to the base's mapped probabilities before the log (a floor for classes the base gives nothing)."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages ``features``, ``fit``, ``holdout``, ``refit``."""


def _tick(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


# -- graphs ---------------------------------------------------------------------------------------
def _load(path: Path) -> onnx.ModelProto:
    import onnx  # deferred: graph surgery needs the ONNX protobuf, loaded only when adapting

    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError or OSError for a file that is not ONNX
        raise ModelError(f"{path.name} is not a readable ONNX model ({type(exc).__name__})") from None


def _session(model: onnx.ModelProto, threads: int | None) -> Any:
    import onnxruntime as ort  # deferred: only a run of the model needs ONNX Runtime

    return ort.InferenceSession(model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"])


def _prune(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop nodes and initialisers no graph output depends on (nodes are in topological order)."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for node in reversed(list(g.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    return model


def _probe(model: onnx.ModelProto, taps: Sequence[str], card: ModelCard, threads: int | None) -> dict[str, tuple[int, ...]]:
    """Shapes ``(C, h, w)`` of the tap tensors, from one run on a blank input."""
    from onnx import helper

    known = {o for n in model.graph.node for o in n.output}
    missing = [t for t in taps if t not in known]
    if missing:
        raise ModelError(
            f"the base graph has no tensor(s) {missing}: adapting needs the decoder features {list(taps)} "
            "(the built-in ESPNetv2 models and models adapted from them have them)"
        )
    probe = _copy(model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(t, 1, None) for t in taps)
    _prune(probe)
    x = np.zeros((1, 3, *card.input_size), np.float32)
    outs = _session(probe, threads).run(list(taps), {_input_name(model): x})
    return {t: tuple(int(v) for v in o.shape[1:]) for t, o in zip(taps, outs, strict=True)}


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = type(model)()
    out.CopyFrom(model)
    return out


def _input_name(model: onnx.ModelProto) -> str:
    inits = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ModelError(f"the base graph has {len(inputs)} inputs; expected one image (N, 3, H, W)")
    return inputs[0]


def _resize_nodes(x: str, channels: int, size: tuple[int, int], out: str, tag: str) -> tuple[list[Any], list[Any]]:
    """Bilinear, aligned-corners resize of ``x`` to ``size`` keeping the batch dimension free."""
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([channels, *size], np.int64), f"{tag}.chw")]
    nodes = [
        helper.make_node("Shape", [x], [f"{tag}.n"], start=0, end=1),
        helper.make_node("Concat", [f"{tag}.n", f"{tag}.chw"], [f"{tag}.sizes"], axis=0),
        helper.make_node("Resize", [x, "", "", f"{tag}.sizes"], [out], mode="linear",
                         coordinate_transformation_mode="align_corners"),
    ]
    return nodes, inits


@dataclass(frozen=True)
class _Taps:
    names: tuple[str, ...]
    channels: tuple[int, ...]
    grid: tuple[int, int]

    @property
    def dim(self) -> int:
        return sum(self.channels)


def _taps(model: onnx.ModelProto, card: ModelCard, taps: Sequence[str], threads: int | None) -> _Taps:
    shapes = _probe(model, taps, card, threads)
    grid = (shapes[taps[0]][1], shapes[taps[0]][2])
    return _Taps(tuple(taps), tuple(shapes[t][0] for t in taps), grid)


def _with_features(model: onnx.ModelProto, taps: _Taps) -> onnx.ModelProto:
    """A copy of ``model`` computing ``ul_features`` (N, D, h, w): the taps resized to the grid, concatenated."""
    from onnx import helper

    out = _copy(model)
    g = out.graph
    base_out = g.output[0].name
    for node in g.node:  # free the name "logits" and friends for the head's own output
        node.output[:] = ["ul_base_out" if o == base_out else o for o in node.output]
    parts = []
    for i, (name, ch) in enumerate(zip(taps.names, taps.channels, strict=True)):
        if i == 0:
            parts.append(name)
            continue
        nodes, inits = _resize_nodes(name, ch, taps.grid, f"ul_tap{i}", f"ul_rs{i}")
        g.node.extend(nodes)
        g.initializer.extend(inits)
        parts.append(f"ul_tap{i}")
    g.node.append(helper.make_node("Concat", parts, ["ul_features"], axis=1))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("ul_features", 1, ["N", taps.dim, *taps.grid]))
    return out


@dataclass(frozen=True)
class Head:
    """A fitted head: ``logits = weight @ features + bias`` per pixel, in the annotation's class order."""

    weight: np.ndarray
    bias: np.ndarray
    class_names: tuple[str, ...]
    loss: float = float("nan")
    iterations: int = 0

    def __post_init__(self) -> None:
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],) or len(self.class_names) != self.weight.shape[0]:
            raise InputError(
                f"head weight {self.weight.shape}, bias {self.bias.shape} and {len(self.class_names)} class names "
                "disagree; expected (K, D), (K,) and K names"
            )


def base_map_matrix(lut: np.ndarray, num_base: int, k: int) -> np.ndarray:
    """``(K, C)`` float32 matrix sending the base's class probabilities to the annotation's (module doc).

    ``lut`` is :func:`~analytics.evaluation.labelmaps.label_lut`'s table (base class -> annotation
    class, 255 void). Annotation classes that no base class maps to share the void classes' mass.

    >>> base_map_matrix(np.array([0, 0, 255, 1] + [255] * 252, np.uint8), 4, 3).tolist()
    [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]
    """
    lut = np.asarray(lut)
    if lut.ndim != 1 or lut.size < num_base or not 1 <= k < IGNORE or num_base < 1:
        raise InputError(f"label table of shape {lut.shape} for {num_base} base and {k} annotation classes; "
                         "expected label_lut's (256,) table and 1..254 classes")
    m = np.zeros((k, num_base), np.float32)
    void = [c for c in range(num_base) if lut[c] >= k]
    for c in range(num_base):
        if lut[c] < k:
            m[lut[c], c] = 1.0
    unmapped = [a for a in range(k) if not m[a].any()]
    for a in unmapped:
        m[a, void] = 1.0 / len(unmapped)
    return m


def blend_logits(head_logits: np.ndarray, base_logits: np.ndarray, base_map: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - a) z_head + a log(M softmax(z_base) + eps)`` over channels-first arrays ``(K, ...)``, ``(C, ...)``.

    What the adapted graph computes (module doc); ``weight`` 0 returns the head's logits.

    >>> z = blend_logits(np.zeros((2, 1)), np.array([[0.0], [np.log(3.0)]]), np.eye(2, dtype=np.float32), 0.5)
    >>> np.round(z.ravel(), 3).tolist()
    [-0.693, -0.144]
    """
    if not 0.0 <= weight < 1.0:
        raise InputError(f"blend weight {weight!r}; expected a number in [0, 1)")
    z = np.asarray(head_logits, np.float64)
    if weight == 0.0:
        return z
    b = np.asarray(base_logits, np.float64)
    p = np.exp(b - b.max(axis=0, keepdims=True))
    p /= p.sum(axis=0, keepdims=True)
    q = np.tensordot(np.asarray(base_map, np.float64), p, axes=1) + BLEND_EPS
    return (1.0 - weight) * z + weight * np.log(q)


def _blend_nodes(base_map: np.ndarray) -> tuple[list[Any], list[Any]]:
    """``ul_base_logp`` = ``Log(Conv1x1_M(Softmax(ul_base_out)) + eps)`` (N, K, H, W)."""
    from onnx import helper, numpy_helper

    k = base_map.shape[0]
    inits = [numpy_helper.from_array(base_map.astype(np.float32)[:, :, None, None], "ul_map.w"),
             numpy_helper.from_array(np.full(k, BLEND_EPS, np.float32), "ul_map.b")]
    nodes = [
        helper.make_node("Softmax", ["ul_base_out"], ["ul_base_p"], axis=1),
        helper.make_node("Conv", ["ul_base_p", "ul_map.w", "ul_map.b"], ["ul_base_q"], kernel_shape=[1, 1]),
        helper.make_node("Log", ["ul_base_q"], ["ul_base_logp"]),
    ]
    return nodes, inits


def _blend_into(g: Any, z: str, weight: float, out: str, tag: str) -> None:
    """Append ``out = (1 - weight) z + weight ul_base_logp`` to graph ``g``."""
    from onnx import helper, numpy_helper

    g.initializer.extend([numpy_helper.from_array(np.array(1.0 - weight, np.float32), f"{tag}.h"),
                          numpy_helper.from_array(np.array(weight, np.float32), f"{tag}.b")])
    g.node.extend([
        helper.make_node("Mul", [z, f"{tag}.h"], [f"{tag}.zh"]),
        helper.make_node("Mul", ["ul_base_logp", f"{tag}.b"], [f"{tag}.zb"]),
        helper.make_node("Add", [f"{tag}.zh", f"{tag}.zb"], [out]),
    ])


def _check_blend(heads: Sequence[Head], blend: Sequence[float] | None, base_map: np.ndarray | None,
                 num_base: int) -> list[float]:
    weights = [0.0] * len(heads) if blend is None else [float(a) for a in blend]
    if len(weights) != len(heads) or not all(0.0 <= a < 1.0 for a in weights):
        raise InputError(f"blend weights {list(weights)} for {len(heads)} head(s); expected one weight in [0, 1) per head")
    if any(weights):
        k = heads[0].weight.shape[0]
        shape = np.shape(base_map) if base_map is not None else None
        if shape is None or len(shape) != 2 or shape[0] != k or (num_base > 0 and shape[1] != num_base):
            raise InputError(f"a blend needs the ({k}, {num_base or 'C'}) base class map, got {shape}")
    return weights


def head_model(base: onnx.ModelProto, taps: _Taps, heads: Sequence[Head], input_size: tuple[int, int],
               labels: bool = False, blend: Sequence[float] | None = None, base_map: np.ndarray | None = None,
               ) -> onnx.ModelProto:
    """The base graph with ``heads`` as one ``1x1`` convolution on ``ul_features``, upsampled to the input size.

    One head and ``labels=False``: the adapted model, output ``logits`` ``(N, K, H, W)``. With
    ``labels=True`` (scoring several heads in one pass): outputs ``ul_head<i>`` ``uint8 (N, H, W)``,
    each head's arg-max, and ``ul_base`` the base model's arg-max. ``blend`` gives each head its
    weight ``a`` of the base's mapped log-probabilities (``base_map``: :func:`base_map_matrix`),
    see :func:`blend_logits`; a head with weight 0 is the head alone.
    """
    from onnx import TensorProto, helper, numpy_helper

    if not heads:
        raise InputError("no heads to write; expected at least one")
    dims = {h.weight.shape[1] for h in heads}
    if dims != {taps.dim}:
        raise InputError(f"head feature size(s) {sorted(dims)} differ from the base's {taps.dim} features")
    if not labels and len(heads) != 1:
        raise InputError("an adapted model has exactly one head")
    model = _with_features(base, taps)
    g = model.graph
    num_base = next(o for o in base.graph.output).type.tensor_type.shape.dim[1].dim_value
    weights = _check_blend(heads, blend, base_map, num_base)
    w = np.concatenate([h.weight for h in heads]).astype(np.float32)[:, :, None, None]
    b = np.concatenate([h.bias for h in heads]).astype(np.float32)
    g.initializer.extend([numpy_helper.from_array(w, "ul_head.w"), numpy_helper.from_array(b, "ul_head.b")])
    g.node.append(helper.make_node("Conv", ["ul_features", "ul_head.w", "ul_head.b"], ["ul_head_low"], kernel_shape=[1, 1]))
    if any(weights):
        nodes, inits = _blend_nodes(np.asarray(base_map))
        g.node.extend(nodes)
        g.initializer.extend(inits)
    H, W = input_size
    if not labels:
        out = "ul_head_full" if weights[0] else "logits"
        nodes, inits = _resize_nodes("ul_head_low", w.shape[0], (H, W), out, "ul_rsout")
        g.node.extend(nodes)
        g.initializer.extend(inits)
        if weights[0]:
            _blend_into(g, "ul_head_full", weights[0], "logits", "ul_blend")
        del g.output[:]
        g.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", w.shape[0], H, W]))
        return _prune(model)
    nodes, inits = _resize_nodes("ul_head_low", w.shape[0], (H, W), "ul_head_full", "ul_rsout")
    g.node.extend(nodes)
    g.initializer.extend(inits)
    sizes = [h.weight.shape[0] for h in heads]
    g.initializer.append(numpy_helper.from_array(np.array(sizes, np.int64), "ul_split"))
    parts = [f"ul_head_z{i}" for i in range(len(heads))]
    g.node.append(helper.make_node("Split", ["ul_head_full", "ul_split"], parts, axis=1))
    for i, a in enumerate(weights):
        if a:
            _blend_into(g, parts[i], a, f"ul_head_zb{i}", f"ul_blend{i}")
            parts[i] = f"ul_head_zb{i}"
    outputs = []
    for i, part in enumerate([*parts, "ul_base_out"]):
        name = "ul_base" if i == len(heads) else f"ul_head{i}"
        g.node.append(helper.make_node("ArgMax", [part], [f"{name}.i64"], axis=1, keepdims=0))
        g.node.append(helper.make_node("Cast", [f"{name}.i64"], [name], to=TensorProto.UINT8))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, None))
    del g.output[:]
    g.output.extend(outputs)
    return _prune(model)


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
    taps: Any
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
    base = _load(model.onnx_path)
    tp = _taps(base, card, taps, threads)
    sess = _session(_prune(_with_features(base, tp)), threads)
    input_name = _input_name(base)
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
        _tick(progress, "features", i + 1, n)
    return FeatureSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(fs), tuple(s.name for s in gt.samples),
                      tuple(digests), tp, time.perf_counter() - start, np.stack(pixels))


# -- the head -------------------------------------------------------------------------------------
def _loss_grad(theta: np.ndarray, xs: np.ndarray, onehot_w: np.ndarray, w: np.ndarray, l2: float,
               k: int) -> tuple[float, np.ndarray]:
    """Weighted softmax cross-entropy plus ``l2/2 ||W||^2`` and its gradient (see the module doc)."""
    d = xs.shape[1]
    wt, b = theta[: k * d].reshape(k, d), theta[k * d:]
    z = xs @ wt.T.astype(np.float32) + b.astype(np.float32)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    loss = -float(np.sum(onehot_w * np.log(np.maximum(z, 1e-30)))) + 0.5 * l2 * float(np.sum(wt * wt))
    z *= w[:, None]
    z -= onehot_w
    gw = (z.T @ xs).astype(np.float64) + l2 * wt
    return loss, np.concatenate([gw.ravel(), z.sum(axis=0, dtype=np.float64)])


def _lbfgs(f: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray, iters: int, memory: int = 10,
           tol: float = 1e-6, tick: Callable[[int], None] | None = None) -> tuple[np.ndarray, float, int]:
    """Limited-memory BFGS with a backtracking (Armijo) line search: ``(theta, f(theta), iterations)``."""
    loss, grad = f(theta)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    it = 0
    for it in range(1, iters + 1):
        q = grad.copy()
        alphas = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float(s @ q) / float(y @ s)
            alphas.append(a)
            q -= a * y
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        for (s, y), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            q += s * (a - float(y @ q) / float(y @ s))
        direction = -q
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist, y_hist, direction, slope = [], [], -grad, -float(grad @ grad)
        step = 1.0 if s_hist else 1.0 / max(1.0, float(np.linalg.norm(grad)))
        while True:
            new = theta + step * direction
            new_loss, new_grad = f(new)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, y = new - theta, new_grad - grad
        if float(s @ y) > 1e-10:
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        done = abs(loss - new_loss) <= tol * max(1.0, abs(loss))
        theta, loss, grad = new, new_loss, new_grad
        if tick is not None:
            tick(it)
        if done or float(np.abs(grad).max()) < tol:
            break
    return theta, loss, it


def fit_head(
    x: np.ndarray, y: np.ndarray, class_names: Sequence[str], *, l2: float = 1e-4, iters: int = 300,
    prior: np.ndarray | None = None, tau: float = PRIOR_TAU, progress: Progress | None = None, stage: str = "fit",
) -> Head:
    """Fit the softmax head on features ``x`` (n, D) and classes ``y`` (n,) in ``0 .. K-1`` (see the module doc).

    A class with no pixel gets a zero weight row and a bias of -30 (never predicted). With ``prior``
    (the classes' pixel frequencies ``pi_c`` in the annotated frames, e.g. :meth:`FeatureSet.prior`)
    the balanced head's bias gets ``tau * log(pi_c)`` added back: the balanced fit treats every class
    as equally likely, which floods large classes (Building, Road) with small ones (Pole, Fence).

    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))]).astype(np.float32)
    >>> head = fit_head(x, np.repeat([0, 1], 200), ["a", "b"])
    >>> np.argmax(head.weight @ np.array([3.0, 3.0]) + head.bias).item()
    1
    """
    k = len(class_names)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise InputError(f"features {x.shape} and classes {y.shape}; expected (n, D) and (n,) with n > 0")
    if not 1 <= k < IGNORE or y.min() < 0 or y.max() >= k:
        raise InputError(f"classes hold values {int(y.min())}..{int(y.max())}; expected 0..{k - 1} for {k} class names")
    if not 0.0 <= l2 <= 100.0 or not 1 <= iters <= 10_000 or not 0.0 <= tau <= 1.0:
        raise InputError(f"l2={l2!r}, iters={iters!r}, tau={tau!r}; expected l2 in [0, 100], iters from 1 to 10000, tau in [0, 1]")
    if prior is not None and (np.shape(prior) != (k,) or not np.all(np.isfinite(prior)) or np.min(prior) < 0):
        raise InputError(f"class prior of shape {np.shape(prior)}; expected {k} non-negative frequencies")
    mu = x.mean(axis=0, dtype=np.float64)
    sigma = x.std(axis=0, dtype=np.float64)
    sigma[sigma < 1e-6] = 1.0
    xs = ((x - mu) / sigma).astype(np.float32)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    cw = np.where(present, 1.0 / np.maximum(counts, 1.0), 0.0)
    w = cw[y]
    w = (w / w.sum()).astype(np.float32)
    onehot_w = np.zeros((y.size, k), np.float32)
    onehot_w[np.arange(y.size), y] = w
    d = x.shape[1]
    theta0 = np.zeros(k * d + k)
    theta0[k * d:] = np.where(present, 0.0, -30.0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = _loss_grad(theta, xs, onehot_w, w, l2, k)
        grad[k * d:][~present] = 0.0
        grad[: k * d].reshape(k, d)[~present] = 0.0
        return loss, grad

    theta, loss, its = _lbfgs(f, theta0, iters, tick=lambda i: _tick(progress, stage, i, iters))
    _tick(progress, stage, iters, iters)
    wt, b = theta[: k * d].reshape(k, d), theta[k * d:]
    w_conv = wt / sigma
    b_conv = b - w_conv @ mu
    if prior is not None:
        pi = np.asarray(prior, np.float64)
        b_conv = b_conv + np.where(present, tau * np.log(np.maximum(pi / max(pi.sum(), 1e-12), 1e-6)), 0.0)
    return Head(w_conv.astype(np.float32), b_conv.astype(np.float32), tuple(class_names), loss, its)


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
    base = _load(model.onnx_path)
    tp = _taps(base, card, taps, threads)
    k = len(gt.class_names)
    base_map = base_map_matrix(base_lut, card.num_classes, k) if blend is not None and any(blend) else None
    sess = _session(head_model(base, tp, heads, card.input_size, labels=True, blend=blend, base_map=base_map), threads)
    input_name = _input_name(base)
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
        _tick(progress, stage, j + 1, len(chosen))
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


def _check_name(name: str, base: InstalledModel) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"model name {name!r}: use letters, digits, '-', '_' or '.'")
    if name in builtin_cards() or name == base.card.name:
        raise InputError(f"model name {name!r} is a built-in model or the base itself; give the adapted model a new name")


def _adapted_card(name: str, base: InstalledModel, class_names: Sequence[str], groups: Sequence[str],
                  lineage: dict[str, Any]) -> ModelCard:
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
    base: InstalledModel, gt: GroundTruth, name: str, settings: Settings, *, holdout: float = 0.25,
    label_map: LabelMap | None = None, seed: int = 0, per_class: int = 150, l2: float = 1e-4,
    blend_weights: Sequence[float] = BLEND_WEIGHTS, progress: Progress | None = None,
) -> AdaptResult:
    """Fit a head for ``gt``'s classes on ``base``'s frozen features and install it as ``name`` if it
    beats the base on the held-out frames (see the module doc). ``label_map`` maps the base's
    classes onto the annotation's to score the base and to blend it with the head (default:
    :func:`~analytics.evaluation.labelmaps.default_label_map`); the blend weight is the best of
    ``blend_weights`` on the held-out frames (``(0.0,)``: the head alone)."""
    if not isinstance(base, InstalledModel):
        raise InputError(f"base must be an installed model, got {type(base).__name__}")
    _check_name(name, base)
    if not isinstance(gt, GroundTruth) or len(gt.samples) < MIN_FRAMES:
        n = len(gt.samples) if isinstance(gt, GroundTruth) else 0
        raise InputError(f"{n} annotated frame(s); adapting needs at least {MIN_FRAMES} (some to fit, some to check)")
    classes = gt.class_names
    lm = label_map if label_map is not None else default_label_map(base.card.class_set, gt.format, classes)
    lut = label_lut(lm, base.card.class_set, classes)
    groups = gt.groups if gt.groups is not None else annotation_groups(lm, base.card.class_set, classes)
    train, held = split_holdout([s.name for s in gt.samples], holdout, seed)
    t0 = time.perf_counter()
    feats = extract_features(base, gt, per_class=per_class, seed=seed, threads=settings.threads, progress=progress)
    counts = np.bincount(feats.y, minlength=len(classes))
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if empty:
        raise InputError(f"annotation class(es) {empty} have no labelled pixel in any frame; annotate them or leave them out")
    t1 = time.perf_counter()
    head = fit_head(*feats.subset(train), classes, l2=l2, prior=feats.prior(train), progress=progress)
    t2 = time.perf_counter()
    weight, base_cm, blend_cms = choose_blend(base, gt, head, lut, held, weights=blend_weights, threads=settings.threads,
                                              progress=progress)
    t3 = time.perf_counter()
    tried = sorted({float(a) for a in blend_weights})
    blend_miou = {a: mean_iou(cm.sum(axis=0)) for a, cm in zip(tried, blend_cms, strict=True)}
    base_miou, base_iou = _miou_iou(base_cm, classes)
    new_miou, new_iou = _miou_iou(blend_cms[tried.index(weight)], classes)
    ann_sha = annotation_hash(gt, feats.digests)
    seconds = {"features": t1 - t0, "fit": t2 - t1, "holdout": t3 - t2}
    result = AdaptResult(name, base.card.name, classes, tuple(groups), len(train), len(held), base_miou, new_miou,
                         base_iou, new_iou, None, ann_sha, seconds, weight, blend_miou)
    if not result.better:
        return result
    final = fit_head(feats.x, feats.y, classes, l2=l2, prior=feats.prior(), progress=progress, stage="refit")
    seconds["refit"] = time.perf_counter() - t3
    lineage = _lineage(base, lm, gt, result, feats, per_class, l2, holdout, seed)
    card = _adapted_card(name, base, classes, groups, lineage)
    base_map = base_map_matrix(lut, base.card.num_classes, len(classes))
    graph = head_model(_load(base.onnx_path), feats.taps, [final], card.input_size, blend=[weight], base_map=base_map)
    with tempfile.TemporaryDirectory(prefix="urbanlens-adapt-") as tmp:
        onnx_file, card_file = Path(tmp) / "model.onnx", Path(tmp) / "card.json"
        onnx_file.write_bytes(graph.SerializeToString())
        card_file.write_text(card.to_json(), encoding="utf-8")
        installed = add_model(onnx_file, card_file, settings)
    return dataclasses.replace(result, installed=installed)


def _lineage(base: InstalledModel, lm: LabelMap, gt: GroundTruth, result: AdaptResult, feats: FeatureSet, per_class: int,
             l2: float, holdout: float, seed: int) -> dict[str, Any]:
    """The card's ``lineage`` table (docs/adapt.md)."""
    return {
        "base_model": base.card.name, "base_weights_sha256": base.weights_sha256, "annotations_sha256": result.annotations_sha256,
        "annotation_format": gt.format, "frames": len(gt.samples), "label_map": lm.name,
        "holdout": {"share": holdout, "seed": seed, "frames": result.holdout_frames, "train_frames": result.train_frames,
                    "base_miou": round(100 * result.base_miou, 2), "adapted_miou": round(100 * result.adapted_miou, 2)},
        "head": {"features": list(feats.taps.names), "pixels": int(feats.y.size), "per_class": per_class, "l2": l2,
                 "prior_tau": PRIOR_TAU, "blend_weight": result.blend, "blend_eps": BLEND_EPS,
                 "blend_chosen_on": "holdout: the weight with the best held-out mIoU (ties: the smaller)",
                 "blend_holdout_miou": {str(a): round(100 * v, 2) for a, v in result.blend_miou.items()}},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "code_version": __version__,
    }
