"""ONNX graph surgery for adapting a model: the base's decoder features as an output, and heads on them.

:func:`with_features` gives the base graph one more output, ``ul_features``: the decoder's
per-pixel feature maps named in :data:`FEATURE_TAPS` (for the built-in ESPNetv2: the last decoder
stage's class scores, its input features and the previous stage's features, bilinearly resized to
the finest of them, half the input size) concatenated along channels. :func:`head_model` adds
fitted heads (:class:`~analytics.evaluation.heads.Head`) as one ``1x1`` convolution on those
features plus the same bilinear upsampling to the input size, blended with the base's mapped
log-probabilities where asked (:func:`~analytics.evaluation.heads.blend_logits` is the numpy twin).
The base's own nodes are never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analytics.cards import ModelCard
from analytics.errors import InputError, ModelError
from analytics.evaluation.heads import BLEND_EPS, Head
from analytics.footage.segment import session_options

if TYPE_CHECKING:
    import onnx

__all__ = [
    "FEATURE_TAPS",
    "Taps",
    "copy_graph",
    "graph_input",
    "graph_session",
    "head_model",
    "load_graph",
    "probe_taps",
    "prune_graph",
    "retire_names",
    "resize_nodes",
    "with_features",
]

FEATURE_TAPS: tuple[str, ...] = ("bu_dec_l4", "bu_br_l4", "bu_br_l3", "bu_br_l2")
"""Tensors of the base graph whose per-pixel values are the head's features (the first sets the grid)."""

def load_graph(path: Path) -> onnx.ModelProto:
    import onnx  # deferred: graph surgery needs the ONNX protobuf, loaded only when adapting

    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError or OSError for a file that is not ONNX
        raise ModelError(f"{path.name} is not a readable ONNX model ({type(exc).__name__})") from None


def graph_session(model: onnx.ModelProto, threads: int | None) -> Any:
    import onnxruntime as ort  # deferred: only a run of the model needs ONNX Runtime

    return ort.InferenceSession(model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"])


def prune_graph(model: onnx.ModelProto) -> onnx.ModelProto:
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
    probe = copy_graph(model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(t, 1, None) for t in taps)
    prune_graph(probe)
    x = np.zeros((1, 3, *card.input_size), np.float32)
    outs = graph_session(probe, threads).run(list(taps), {graph_input(model): x})
    return {t: tuple(int(v) for v in o.shape[1:]) for t, o in zip(taps, outs, strict=True)}


def copy_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    out = type(model)()
    out.CopyFrom(model)
    return out


def graph_input(model: onnx.ModelProto) -> str:
    inits = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ModelError(f"the base graph has {len(inputs)} inputs; expected one image (N, 3, H, W)")
    return inputs[0]


def resize_nodes(x: str, channels: int, size: tuple[int, int], out: str, tag: str) -> tuple[list[Any], list[Any]]:
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
class Taps:
    names: tuple[str, ...]
    channels: tuple[int, ...]
    grid: tuple[int, int]

    @property
    def dim(self) -> int:
        return sum(self.channels)


def probe_taps(model: onnx.ModelProto, card: ModelCard, taps: Sequence[str], threads: int | None) -> Taps:
    shapes = _probe(model, taps, card, threads)
    grid = (shapes[taps[0]][1], shapes[taps[0]][2])
    return Taps(tuple(taps), tuple(shapes[t][0] for t in taps), grid)


def retire_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rename, in place, every tensor, initialiser and node name starting ``ul_`` to ``ul<k>_``, with
    the smallest ``k >= 1`` no name uses yet: an adapted model's own surgery (``ul_features``,
    ``ul_head.w``, ``ul_map.*``, ...) then no longer clashes with a new adaptation on top of it.
    Graph inputs and outputs keep their names (only surgery names start with ``ul_``)."""
    g = model.graph
    names = {n for node in g.node for n in (*node.input, *node.output, node.name)}
    names |= {t.name for t in g.initializer} | {v.name for v in (*g.input, *g.output, *g.value_info)}
    if not any(n.startswith("ul_") for n in names):
        return model
    k = 1
    while any(n.startswith(f"ul{k}_") for n in names):
        k += 1

    def new(name: str) -> str:
        return f"ul{k}_{name[3:]}" if name.startswith("ul_") else name

    for node in g.node:
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
        node.name = new(node.name)
    for t in g.initializer:
        t.name = new(t.name)
    for v in (*g.input, *g.output, *g.value_info):
        v.name = new(v.name)
    return model


def with_features(model: onnx.ModelProto, taps: Taps) -> onnx.ModelProto:
    """A copy of ``model`` computing ``ul_features`` (N, D, h, w): the taps resized to the grid, concatenated.
    ``ul_`` names already in ``model`` (an adapted model adapted again) are renamed first (:func:`retire_names`)."""
    from onnx import helper

    out = retire_names(copy_graph(model))
    g = out.graph
    base_out = g.output[0].name
    for node in g.node:  # free the name "logits" and friends for the head's own output
        node.output[:] = ["ul_base_out" if o == base_out else o for o in node.output]
    parts = []
    for i, (name, ch) in enumerate(zip(taps.names, taps.channels, strict=True)):
        if i == 0:
            parts.append(name)
            continue
        nodes, inits = resize_nodes(name, ch, taps.grid, f"ul_tap{i}", f"ul_rs{i}")
        g.node.extend(nodes)
        g.initializer.extend(inits)
        parts.append(f"ul_tap{i}")
    g.node.append(helper.make_node("Concat", parts, ["ul_features"], axis=1))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("ul_features", 1, ["N", taps.dim, *taps.grid]))
    return out


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


def head_model(base: onnx.ModelProto, taps: Taps, heads: Sequence[Head], input_size: tuple[int, int],
               labels: bool = False, blend: Sequence[float] | None = None, base_map: np.ndarray | None = None,
               ) -> onnx.ModelProto:
    """The base graph with ``heads`` as one ``1x1`` convolution on ``ul_features``, upsampled to the input size.

    One head and ``labels=False``: the adapted model, output ``logits`` ``(N, K, H, W)``. With
    ``labels=True`` (scoring several heads in one pass): outputs ``ul_head<i>`` ``uint8 (N, H, W)``,
    each head's arg-max, and ``ul_base`` the base model's arg-max. ``blend`` gives each head its
    weight ``a`` of the base's mapped log-probabilities (``base_map``: :func:`~analytics.evaluation.heads.base_map_matrix`),
    see :func:`~analytics.evaluation.heads.blend_logits`; a head with weight 0 is the head alone.
    """
    from onnx import helper, numpy_helper

    if not heads:
        raise InputError("no heads to write; expected at least one")
    dims = {h.weight.shape[1] for h in heads}
    if dims != {taps.dim}:
        raise InputError(f"head feature size(s) {sorted(dims)} differ from the base's {taps.dim} features")
    if not labels and len(heads) != 1:
        raise InputError("an adapted model has exactly one head")
    model = with_features(base, taps)
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
    if not labels:
        _logits_output(g, w.shape[0], input_size, weights[0])
    else:
        _label_outputs(g, [h.weight.shape[0] for h in heads], input_size, weights)
    return prune_graph(model)


def _logits_output(g: Any, k: int, input_size: tuple[int, int], weight: float) -> None:
    """The adapted model's one output ``logits`` (N, K, H, W): the head upsampled, blended with ``weight``."""
    from onnx import TensorProto, helper

    H, W = input_size
    out = "ul_head_full" if weight else "logits"
    nodes, inits = resize_nodes("ul_head_low", k, (H, W), out, "ul_rsout")
    g.node.extend(nodes)
    g.initializer.extend(inits)
    if weight:
        _blend_into(g, "ul_head_full", weight, "logits", "ul_blend")
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", k, H, W]))


def _label_outputs(g: Any, sizes: Sequence[int], input_size: tuple[int, int], weights: Sequence[float]) -> None:
    """Outputs ``ul_head<i>`` (each head's arg-max, blended with its weight) and ``ul_base`` (the base's), uint8 (N, H, W)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = resize_nodes("ul_head_low", sum(sizes), input_size, "ul_head_full", "ul_rsout")
    g.node.extend(nodes)
    g.initializer.extend(inits)
    g.initializer.append(numpy_helper.from_array(np.array(list(sizes), np.int64), "ul_split"))
    parts = [f"ul_head_z{i}" for i in range(len(sizes))]
    g.node.append(helper.make_node("Split", ["ul_head_full", "ul_split"], parts, axis=1))
    for i, a in enumerate(weights):
        if a:
            _blend_into(g, parts[i], a, f"ul_head_zb{i}", f"ul_blend{i}")
            parts[i] = f"ul_head_zb{i}"
    outputs = []
    for i, part in enumerate([*parts, "ul_base_out"]):
        name = "ul_base" if i == len(sizes) else f"ul_head{i}"
        g.node.append(helper.make_node("ArgMax", [part], [f"{name}.i64"], axis=1, keepdims=0))
        g.node.append(helper.make_node("Cast", [f"{name}.i64"], [name], to=TensorProto.UINT8))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, None))
    del g.output[:]
    g.output.extend(outputs)
