"""Build the ESPNetv2 semantic segmentation network as an ONNX graph from its upstream weights.

ESPNetv2 (Mehta et al., CVPR 2019) is written here from its published structure, one small
function per building block; the weights come from a ``state_dict`` read by
:func:`analytics.models.checkpoint.read_state_dict`. The graph is built for one input size,
chosen when it is built, because the decoder's pyramid pooling uses sizes derived from it.

Valid input sizes: height and width must be multiples of :data:`TOTAL_STRIDE` (16, the stride of
the deepest encoder level), from :data:`MIN_SIDE` to :data:`MAX_SIDE` pixels; e.g. 384x768,
512x1024, 256x512, 288x640. The batch dimension is dynamic.

Every batch normalisation that follows a convolution is folded into that convolution's weights
and bias; the few that follow a concatenation or a sum become one per-channel multiply-add.

Graph: input ``input`` float32 ``[N, 3, H, W]`` (RGB, /255, ImageNet mean/std), output ``logits``
float32 ``[N, 20, H, W]`` in Cityscapes train-id order (19 = background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from analytics.cards import ModelCard
from analytics.errors import InputError, ModelError

__all__ = [
    "GraphWriter",
    "CHANNELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "NUM_CLASSES",
    "OPSET",
    "TOTAL_STRIDE",
    "build_espnetv2",
    "build_from_card",
    "check_input_size",
    "infer_scale",
    "save_espnetv2",
]

OPSET = 17
TOTAL_STRIDE = 16
"""Input height and width must be multiples of this (four stride-2 stages in the encoder)."""
MIN_SIDE = 64
MAX_SIDE = 4096
NUM_CLASSES = 20
BN_EPS = 1e-5

CHANNELS: dict[float, tuple[int, int, int, int]] = {
    1.0: (32, 64, 128, 256),
    2.0: (32, 128, 256, 512),
}
"""Encoder output channels of levels 1-4 for each supported width scale."""

_LEVEL3_REPEATS = 3
_LEVEL4_REPEATS = 7
_BRANCHES = 4
_PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)
_DEC_BASE = 16


def check_input_size(height: int, width: int) -> tuple[int, int]:
    """Return ``(height, width)`` if the network can be built at that size, else raise InputError.

    >>> check_input_size(384, 768)
    (384, 768)
    >>> check_input_size(360, 640)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: input size 360x640 is not valid for ESPNetv2: ... multiples of 16 ... (e.g. ..., 368x640)
    """
    ok = all(isinstance(v, int) and v % TOTAL_STRIDE == 0 and MIN_SIDE <= v <= MAX_SIDE for v in (height, width))
    if not ok:
        h_ok = max(MIN_SIDE, int(height / TOTAL_STRIDE + 0.5) * TOTAL_STRIDE) if isinstance(height, int) else 384
        w_ok = max(MIN_SIDE, int(width / TOTAL_STRIDE + 0.5) * TOTAL_STRIDE) if isinstance(width, int) else 768
        raise InputError(
            f"input size {height}x{width} is not valid for ESPNetv2: height and width must be multiples of "
            f"{TOTAL_STRIDE} from {MIN_SIDE} to {MAX_SIDE} (e.g. 384x768, 512x1024, {h_ok}x{w_ok})"
        )
    return height, width


def infer_scale(state_dict: dict[str, np.ndarray]) -> float:
    """The width scale (1.0 or 2.0) of an ESPNetv2 state_dict, from its level-2 channel count."""
    key = "base_net.level2_0.act.weight"
    if key not in state_dict:
        raise ModelError(f"state_dict is not an ESPNetv2 segmentation network: tensor {key!r} is missing")
    ch = int(state_dict[key].shape[0])
    for scale, chans in CHANNELS.items():
        if chans[1] == ch:
            return scale
    raise ModelError(f"ESPNetv2 with {ch} level-2 channels is not supported; known scales: {sorted(CHANNELS)}")


# --------------------------------------------------------------------------- graph writer


@dataclass
class GraphWriter:
    """Accumulates ONNX nodes and initialisers; every method returns the output tensor name."""

    weights: dict[str, np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    count: int = 0
    plain: bool = False  # unfolded batch norms and ONNX PRelu, as a straight export would write them

    def tensor(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """A weight from the state_dict, checked against the shape the architecture needs."""
        if key not in self.weights:
            raise ModelError(f"ESPNetv2 state_dict: tensor {key!r} is missing")
        arr = np.asarray(self.weights[key], dtype=np.float32)
        if arr.shape != shape:
            raise ModelError(f"ESPNetv2 state_dict: tensor {key!r} has shape {arr.shape}, expected {shape}")
        self.used.add(key)
        return arr

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], out: str | None = None, **attrs: Any) -> str:
        self.count += 1
        out = out or f"t{self.count}_{op.lower()}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"n{self.count}_{op}", **attrs))
        return out

    # ---- layers -------------------------------------------------------------------

    def conv(
        self,
        x: str,
        weight: np.ndarray,
        bias: np.ndarray | None,
        name: str,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        out: str | None = None,
    ) -> str:
        k = weight.shape[-1]
        pad = (k - 1) // 2 * dilation
        inputs = [self.const(f"{name}.w", weight)]
        if bias is not None:
            inputs.append(self.const(f"{name}.b", bias.astype(np.float32)))
        return self.node(
            "Conv",
            [x, *inputs],
            out,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            dilations=[dilation, dilation],
            group=groups,
        )

    def bn_affine(self, prefix: str, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """Scale and shift of an inference-mode batch norm."""
        gamma = self.tensor(f"{prefix}.weight", (channels,))
        beta = self.tensor(f"{prefix}.bias", (channels,))
        mean = self.tensor(f"{prefix}.running_mean", (channels,))
        var = self.tensor(f"{prefix}.running_var", (channels,))
        self.used.add(f"{prefix}.num_batches_tracked")
        scale = gamma / np.sqrt(var.astype(np.float64) + BN_EPS)
        return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)

    def conv_bn(
        self,
        x: str,
        conv_key: str,
        bn_prefix: str | None,
        shape: tuple[int, int, int, int],
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        out: str | None = None,
    ) -> str:
        """Convolution (no bias) with the following batch norm folded into it."""
        w = self.tensor(conv_key, shape)
        b = None
        if bn_prefix is not None and self.plain:
            y = self.conv(x, w, None, conv_key.removesuffix(".weight"), stride, dilation, groups)
            return self.batch_norm(y, bn_prefix, shape[0], out)
        if bn_prefix is not None:
            scale, shift = self.bn_affine(bn_prefix, shape[0])
            w = (w * scale[:, None, None, None]).astype(np.float32)
            b = shift
        return self.conv(x, w, b, conv_key.removesuffix(".weight"), stride, dilation, groups, out)

    def prelu(self, x: str, key: str, channels: int, out: str | None = None) -> str:
        """PReLU written as ``max(x, a*x)`` (exact for slopes a <= 1, and several times faster than
        ONNX Runtime's broadcasting PRelu kernel); channels with a > 1 are flipped in sign around
        the max, since ``min(x, a*x) = -max(-x, -a*x)``."""
        slope = self.tensor(key, (channels,))
        if self.plain:
            return self.node("PRelu", [x, self.const(key, slope.reshape(channels, 1, 1))], out)
        sign = np.where(slope > 1.0, -1.0, 1.0).astype(np.float32)
        if np.all(sign > 0):
            ax = self.node("Mul", [x, self.const(key, slope.reshape(channels, 1, 1))])
            return self.node("Max", [x, ax], out)
        s = self.const(f"{key}.sign", sign.reshape(channels, 1, 1))
        u = self.node("Mul", [x, s])
        v = self.node("Mul", [x, self.const(key, (slope * sign).reshape(channels, 1, 1))])
        return self.node("Mul", [self.node("Max", [u, v]), s], out)

    def batch_norm(self, x: str, prefix: str, channels: int, out: str | None = None) -> str:
        """An unfolded inference-mode BatchNormalization node (only for the ``plain`` graph)."""
        params = [self.tensor(f"{prefix}.{k}", (channels,)) for k in ("weight", "bias", "running_mean", "running_var")]
        self.used.add(f"{prefix}.num_batches_tracked")
        names = [self.const(f"{prefix}.{k}", v) for k, v in zip(("gamma", "beta", "mean", "var"), params)]
        return self.node("BatchNormalization", [x, *names], out, epsilon=BN_EPS)

    def affine(self, x: str, bn_prefix: str, channels: int) -> str:
        """A batch norm that follows no convolution, as one multiply and one add."""
        if self.plain:
            return self.batch_norm(x, bn_prefix, channels)
        scale, shift = self.bn_affine(bn_prefix, channels)
        y = self.node("Mul", [x, self.const(f"{bn_prefix}.scale", scale.reshape(channels, 1, 1))])
        return self.node("Add", [y, self.const(f"{bn_prefix}.shift", shift.reshape(channels, 1, 1))])

    def avg_pool3(self, x: str, out: str | None = None) -> str:
        """3x3 average pooling, stride 2, padding 1, padded zeros counted (PyTorch's default)."""
        return self.node(
            "AveragePool", [x], out, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1
        )

    def resize(self, x: str, channels: int, size: tuple[int, int], out: str | None = None) -> str:
        """Bilinear resize with aligned corners to ``size`` (batch dimension kept dynamic)."""
        self.count += 1
        tag = f"rs{self.count}"
        shape = self.node("Shape", [x], f"{tag}.shape", start=0, end=1)
        tail = self.const(f"{tag}.chw", np.array([channels, *size], dtype=np.int64))
        sizes = self.node("Concat", [shape, tail], f"{tag}.sizes", axis=0)
        return self.node(
            "Resize",
            [x, "", "", sizes],
            out,
            mode="linear",
            coordinate_transformation_mode="align_corners",
        )

    def adaptive_avg_pool(self, x: str, size_in: tuple[int, int], size_out: tuple[int, int]) -> str:
        """PyTorch's adaptive average pooling for a fixed input size, axis by axis."""
        (hi, wi), (ho, wo) = size_in, size_out
        if hi % ho == 0 and wi % wo == 0:
            if (hi, wi) == (ho, wo):
                return x
            kh, kw = hi // ho, wi // wo
            return self.node("AveragePool", [x], kernel_shape=[kh, kw], strides=[kh, kw])
        x = self._pool_axis(x, 3, wi, wo)
        return self._pool_axis(x, 2, hi, ho)

    def _pool_axis(self, x: str, axis: int, n_in: int, n_out: int) -> str:
        """Adaptive average pooling along one axis as a block-diagonal matrix product.

        With ``g = gcd(n_in, n_out)``, PyTorch's windows (``floor(i*n_in/n_out)`` to
        ``ceil((i+1)*n_in/n_out)``) never cross blocks of ``p = n_in/g`` inputs, which map to
        ``q = n_out/g`` outputs, so the axis is split into ``g`` blocks and each block is
        multiplied by one small ``p x q`` matrix.
        """
        if n_in == n_out:
            return x
        g = math.gcd(n_in, n_out)
        p, q = n_in // g, n_out // g
        mat = np.zeros((q, p), dtype=np.float32)
        for i in range(q):
            s, e = math.floor(i * p / q), math.ceil((i + 1) * p / q)
            mat[i, s:e] = 1.0 / (e - s)
        self.count += 1
        tag = f"ap{self.count}"
        if axis == 3:
            split = self.node("Reshape", [x, self.const(f"{tag}.split", np.array([0, 0, 0, g, p], dtype=np.int64))])
            y = self.node("MatMul", [split, self.const(f"{tag}.mat", np.ascontiguousarray(mat.T))])
            return self.node("Reshape", [y, self.const(f"{tag}.join", np.array([0, 0, 0, n_out], dtype=np.int64))])
        split = self.node("Reshape", [x, self.const(f"{tag}.split", np.array([0, 0, g, p, -1], dtype=np.int64))])
        y = self.node("MatMul", [self.const(f"{tag}.mat", mat), split])
        return self.node("Reshape", [y, self.const(f"{tag}.join", np.array([0, 0, n_out, -1], dtype=np.int64))])


# --------------------------------------------------------------------------- building blocks


def _kernel_dilations(r_lim: int) -> list[int]:
    """Dilation of each EESP branch: kernel sizes 3,5,7,9 capped at r_lim (else 3), sorted."""
    sizes = sorted(3 + 2 * i if 3 + 2 * i <= r_lim else 3 for i in range(_BRANCHES))
    return [(k - 1) // 2 for k in sizes]


def _cbr(g: GraphWriter, x: str, prefix: str, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1,
         names: tuple[str, str, str] = ("conv", "bn", "act"), out: str | None = None) -> str:
    """Convolution, batch norm (folded) and PReLU."""
    conv, bn, act = (f"{prefix}.{n}" for n in names)
    y = g.conv_bn(x, f"{conv}.weight", bn, (c_out, c_in // groups, k, k), stride=stride, groups=groups)
    return g.prelu(y, f"{act}.weight", c_out, out)


def _eesp(g: GraphWriter, x: str, prefix: str, c_in: int, c_out: int, stride: int, r_lim: int, out: str | None = None) -> str:
    """EESP unit: grouped 1x1 reduce, dilated depth-wise branches with hierarchical sums, grouped 1x1 expand.

    With stride 2 (inside a down-sampler) the expanded features are returned before any
    activation; with stride 1 the input is added back and a PReLU follows.
    """
    n = c_out // _BRANCHES
    reduced = _cbr(g, x, f"{prefix}.proj_1x1", c_in, n, 1, groups=_BRANCHES)
    branches: list[str] = []
    for i, d in enumerate(_kernel_dilations(r_lim)):
        y = g.conv_bn(reduced, f"{prefix}.spp_dw.{i}.conv.weight", None, (n, 1, 3, 3), stride=stride, dilation=d, groups=n)
        branches.append(g.node("Add", [y, branches[-1]]) if branches else y)
    cat = g.node("Concat", branches, axis=1)
    cat = g.prelu(g.affine(cat, f"{prefix}.br_after_cat.bn", c_out), f"{prefix}.br_after_cat.act.weight", c_out)
    expanded = g.conv_bn(
        cat, f"{prefix}.conv_1x1_exp.conv.weight", f"{prefix}.conv_1x1_exp.bn", (c_out, c_out // _BRANCHES, 1, 1),
        groups=_BRANCHES, out=None if stride == 1 else out,
    )
    if stride == 2:
        g.used.add(f"{prefix}.module_act.weight")  # defined upstream but unused by a down-sampling unit
        return expanded
    if c_in == c_out:
        expanded = g.node("Add", [expanded, x])
    return g.prelu(expanded, f"{prefix}.module_act.weight", c_out, out)


def _down_sampler(g: GraphWriter, x: str, image_pooled: str, prefix: str, c_in: int, c_out: int, r_lim: int) -> str:
    """Down-sampler: [avg-pool(x), strided EESP(x)] concatenated, plus a projection of the pooled image."""
    pooled = g.avg_pool3(x, f"{prefix}.avg")
    eesp = _eesp(g, x, f"{prefix}.eesp", c_in, c_out - c_in, stride=2, r_lim=r_lim, out=f"{prefix}.eesp")
    cat = g.node("Concat", [pooled, eesp], axis=1)
    reinf = _cbr(g, image_pooled, f"{prefix}.inp_reinf.0", 3, 3, 3)
    reinf = g.conv_bn(reinf, f"{prefix}.inp_reinf.1.conv.weight", f"{prefix}.inp_reinf.1.bn", (c_out, 3, 1, 1),
                      out=f"{prefix}.inp_reinf")
    return g.prelu(g.node("Add", [cat, reinf]), f"{prefix}.act.weight", c_out, prefix)


def _pyramid_pool(g: GraphWriter, x: str, prefix: str, c_in: int, proj: int, c_out: int, size: tuple[int, int],
                  last: bool = False) -> str:
    """Efficient pyramid pooling: project, depth-wise conv at five scales, shuffle and merge."""
    cbr = ("cbr.0", "cbr.1", "cbr.2")
    h, w = size
    x = _cbr(g, x, f"{prefix}.projection_layer", c_in, proj, 1, names=cbr)
    stages: list[str] = []
    for i, s in enumerate(_PYRAMID_SCALES):
        hs, ws = max(math.ceil(h * s), 5), max(math.ceil(w * s), 5)
        key = f"{prefix}.stages.{i}.weight"
        if s < 1.0:
            y = g.adaptive_avg_pool(x, (h, w), (hs, ws))
            y = g.conv_bn(y, key, None, (proj, 1, 3, 3), groups=proj)
            y = g.resize(y, proj, (h, w))
        elif s > 1.0:
            y = g.resize(x, proj, (hs, ws))
            y = g.conv_bn(y, key, None, (proj, 1, 3, 3), groups=proj)
            y = g.adaptive_avg_pool(y, (hs, ws), (h, w))
        else:
            y = g.conv_bn(x, key, None, (proj, 1, 3, 3), groups=proj)
        stages.append(y)
    n = len(stages)
    y = g.node("Concat", stages, axis=1)
    y = g.prelu(g.affine(y, f"{prefix}.merge_layer.0.br.0", proj * n), f"{prefix}.merge_layer.0.br.1.weight", proj * n)
    y = _channel_shuffle(g, y, n, proj, size)
    y = _cbr(g, y, f"{prefix}.merge_layer.2", proj * n, proj, 3, groups=proj, names=cbr)
    if last:
        w_last = g.tensor(f"{prefix}.merge_layer.3.weight", (c_out, proj, 1, 1))
        b_last = g.tensor(f"{prefix}.merge_layer.3.bias", (c_out,))
        return g.conv(y, w_last, b_last, f"{prefix}.merge_layer.3", out=prefix)
    y = g.conv_bn(y, f"{prefix}.merge_layer.3.weight", f"{prefix}.br.br.0", (c_out, proj, 1, 1))
    return g.prelu(y, f"{prefix}.br.br.1.weight", c_out, prefix)


def _channel_shuffle(g: GraphWriter, x: str, groups: int, per_group: int, size: tuple[int, int]) -> str:
    """Interleave channels: [g0c0, g0c1, ..., g1c0, ...] → [g0c0, g1c0, ..., g0c1, ...]."""
    h, w = size
    shape5 = g.const(f"shuffle{g.count}.s5", np.array([0, groups, per_group, h, w], dtype=np.int64))
    y = g.node("Reshape", [x, shape5])
    y = g.node("Transpose", [y], perm=[0, 2, 1, 3, 4])
    shape4 = g.const(f"shuffle{g.count}.s4", np.array([0, groups * per_group, h, w], dtype=np.int64))
    return g.node("Reshape", [y, shape4])


def _merge_enc_dec(g: GraphWriter, x: str, prefix: str, c_in: int, c_out: int) -> str:
    """Encoder-to-decoder projection: grouped 3x3 CBR gated by a sigmoid of global context."""
    ctx = g.node("GlobalAveragePool", [x])
    ctx = g.conv_bn(ctx, f"{prefix}.wt_layer.1.weight", None, (c_out, c_in, 1, 1))
    gate = g.node("Sigmoid", [ctx])
    groups = math.gcd(c_in, c_out)
    y = _cbr(g, x, f"{prefix}.expansion_layer", c_in, c_out, 3, groups=groups, names=("cbr.0", "cbr.1", "cbr.2"))
    return g.node("Mul", [y, gate], prefix)


# --------------------------------------------------------------------------- whole network


def _network(g: GraphWriter, image: str, scale: float, height: int, width: int) -> str:
    c1, c2, c3, c4 = CHANNELS[scale]
    sizes = [(height // f, width // f) for f in (1, 2, 4, 8, 16)]
    # the input image pooled once per level, for the down-samplers' shortcut to the input
    img = [image]
    for _ in range(4):
        img.append(g.avg_pool3(img[-1]))

    l1 = _cbr(g, image, "base_net.level1", 3, c1, 3, stride=2, out="base_net.level1")
    l2 = _down_sampler(g, l1, img[2], "base_net.level2_0", c1, c2, r_lim=13)
    x = _down_sampler(g, l2, img[3], "base_net.level3_0", c2, c3, r_lim=11)
    for i in range(_LEVEL3_REPEATS):
        x = _eesp(g, x, f"base_net.level3.{i}", c3, c3, 1, r_lim=9, out=f"base_net.level3.{i}")
    l3 = x
    x = _down_sampler(g, l3, img[4], "base_net.level4_0", c3, c4, r_lim=9)
    for i in range(_LEVEL4_REPEATS):
        x = _eesp(g, x, f"base_net.level4.{i}", c4, c4, 1, r_lim=7, out=f"base_net.level4.{i}")
    l4 = x

    dec = [4 * _DEC_BASE, 3 * _DEC_BASE, 2 * _DEC_BASE]
    proj = min(NUM_CLASSES // 2, _DEC_BASE)
    y = _pyramid_pool(g, l4, "bu_dec_l1", c4, proj, dec[0], sizes[4])
    skips = [(l3, c3, "l2", sizes[3]), (l2, c2, "l3", sizes[2]), (l1, c1, "l4", sizes[1])]
    c_prev = dec[0]
    for step, (skip, c_skip, tag, size) in enumerate(skips):
        c_out = dec[step]
        up = g.resize(y, c_prev, size)
        merged = g.node("Add", [_merge_enc_dec(g, skip, f"merge_enc_dec_{tag}", c_skip, c_out), up])
        merged = g.prelu(g.affine(merged, f"bu_br_{tag}.0", c_out), f"bu_br_{tag}.1.weight", c_out, f"bu_br_{tag}")
        last = step == len(skips) - 1
        nxt = NUM_CLASSES if last else dec[step + 1]
        y = _pyramid_pool(g, merged, f"bu_dec_{tag}", c_out, proj, nxt, size, last=last)
        c_prev = nxt
    return g.resize(y, NUM_CLASSES, (height, width), out="logits")


def build_espnetv2(
    state_dict: dict[str, np.ndarray],
    height: int,
    width: int,
    scale: float | None = None,
    debug_outputs: tuple[str, ...] = (),
    plain: bool = False,
) -> onnx.ModelProto:
    """Write ESPNetv2 (segmentation, 20 Cityscapes classes) as an opset-17 ONNX model.

    ``scale`` (1.0 or 2.0) is read from the weights when not given. ``height`` and ``width`` must
    be multiples of 16 (see :func:`check_input_size`). ``debug_outputs`` names intermediate
    module outputs (``"base_net.level3.0"``, ``"bu_dec_l2"``, ...) to expose as extra outputs,
    for comparing against the reference module statistics. ``plain=True`` writes the graph as a
    straight export would (unfolded BatchNormalization nodes, ONNX PRelu), as a benchmark
    baseline; it computes the same function, more slowly. A missing or mis-shaped tensor raises
    :class:`~analytics.errors.ModelError` naming it; the model is checked with ``onnx.checker``.
    """
    check_input_size(height, width)
    found = infer_scale(state_dict)
    if scale is not None and float(scale) != found:
        raise ModelError(f"the weights are ESPNetv2 at scale {found}, not at the requested scale {scale}")
    g = GraphWriter(weights=state_dict, plain=plain)
    _network(g, "input", found, height, width)
    unused = sorted(k for k in state_dict if k not in g.used)
    if unused:
        raise ModelError(f"ESPNetv2 state_dict has {len(unused)} unexpected tensor(s), e.g. {unused[:3]}")
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES, height, width])]
    outputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None] * 4) for name in debug_outputs]
    graph = helper.make_graph(
        g.nodes,
        f"espnetv2_s{found}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, height, width])],
        outputs,
        initializer=g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="urbanlens", ir_version=8
    )
    model.doc_string = f"ESPNetv2 s={found} Cityscapes segmentation, input {height}x{width}, built by UrbanLens"
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # pragma: no cover - a bug in this builder
        raise ModelError(f"the built ESPNetv2 graph failed onnx.checker: {exc}") from None
    return model


def build_from_card(state_dict: dict[str, np.ndarray], card: ModelCard, height: int, width: int) -> onnx.ModelProto:
    """Build for ``card`` (the entry point of :data:`analytics.models.architectures.ARCHITECTURES`).

    The card's ``params.scale`` (1.0 or 2.0) pins the width scale the weights must have; without
    it the scale is read from the weights.
    """
    scale = card.params.get("scale")
    return build_espnetv2(state_dict, height, width, scale=float(scale) if scale is not None else None)


def save_espnetv2(
    state_dict: dict[str, np.ndarray], path: str | Path, height: int, width: int, scale: float | None = None
) -> Path:
    """Build with :func:`build_espnetv2` and write the model to ``path``; returns the path."""
    model = build_espnetv2(state_dict, height, width, scale)
    out = Path(path)
    out.write_bytes(model.SerializeToString())
    return out
