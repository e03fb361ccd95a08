"""Segmentation adapter over ONNX Runtime for any model with a card.

Model quirks stay here, at the boundary: whatever the ONNX graph outputs (logits ``(N, C, h, w)``),
:class:`Segmenter` returns a :class:`Segmentation` holding per-pixel class ids (``uint8``) and
confidence (the softmax maximum) at the model's input size, plus where the frame lies in it.

Resize policy (``card.resize``), from a frame of ``fw x fh`` pixels to the model's ``W x H``:

- ``letterbox`` keeps the aspect ratio: scale ``s = min(W / fw, H / fh)``, centre the resized
  frame and pad the rest with the card's mean colour (zero after normalisation). Padding is not
  part of the frame: :attr:`Geometry.content` says which rows and columns are the frame and
  the measurements only count those.
- ``crop`` keeps the aspect ratio: scale ``s = max(W / fw, H / fh)`` and cut the centre
  ``W x H``; the frame's edges beyond it are not seen.
- ``stretch`` scales x and y independently to ``W x H`` (distorts shapes).

Normalisation per the card: ``x = (pixel * scale - mean[c]) / std[c]`` with the channels in the
card's order (``RGB`` or ``BGR``), laid out as ``float32 (3, H, W)``.

Confidence is the softmax maximum ``1 / sum_c exp(z_c - max_c z_c)`` of the logits ``z``; with
``confidence_stride`` s > 1 it is computed on every s-th row and column only (the pipeline uses 4:
its frame statistics are means over the frame, and this saves most of the cost) and spread back to
full size by nearest neighbour.

Speed: the arg-max and the confidence are appended to the model's own graph, so ONNX Runtime
computes them with its threads instead of numpy passes, and so is the optional temporal smoothing
(:func:`analytics.footage.temporal.ema_update`, the same formula, over logits). Frames are batched where the
graph has a free batch dimension (``batch_size``); on 2 CPU cores a batch of 1 is as fast per frame
(measured), so 1 is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from analytics.cards import ModelCard
from analytics.errors import InputError, ModelError
from analytics.footage.geometry import Geometry, frame_geometry
from analytics.footage.refine import check_refine, check_tta, crf_refine, label_confidence, merge_scales, tta_scales
from analytics.footage.roads import RoadModel, fuse_road, road_class_ids
from analytics.footage.temporal import SMOOTHING_METHODS, ema_update, flow_update
from analytics.models.zoo import RoadFile
from analytics.settings import default_threads

__all__ = [
    "Geometry", "Segmentation", "Segmenter", "frame_geometry", "input_image", "labels_to_frame", "model_view", "normalise_into", "normalisation",
    "preprocess",
]

def normalisation(card: ModelCard) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(a, b)`` in the card's channel order with ``x = pixel * a + b``.

    ``a = scale / std``, ``b = -mean / std``.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> a, b = normalisation(ModelCard("m", CITYSCAPES, 32, 32, scale=1.0, mean=(1.0, 2.0, 3.0), std=(2.0, 2.0, 2.0)))
    >>> a.tolist(), b.tolist()
    ([0.5, 0.5, 0.5], [-0.5, -1.0, -1.5])
    """
    std = np.asarray(card.std, dtype=np.float64)
    a = card.scale / std
    b = -np.asarray(card.mean, dtype=np.float64) / std
    return a.astype(np.float32), b.astype(np.float32)


def _check_frame(frame: Any) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"frame must be (height, width, 3) BGR, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise InputError(f"frame must be uint8, got {frame.dtype}")
    return frame


def input_image(x: np.ndarray, card: ModelCard) -> np.ndarray:
    """The BGR ``uint8 (H, W, 3)`` image a model input ``float32 (3, H, W)`` was made from (the
    inverse of :func:`normalise_into`, ``pixel = (x - b) / a``; letterbox padding is the mean colour).

    >>> from analytics.taxonomy import CITYSCAPES
    >>> card = ModelCard("m", CITYSCAPES, 16, 32)
    >>> frame = np.full((16, 32, 3), (10, 20, 30), np.uint8)
    >>> input_image(preprocess(frame, card), card)[0, 0].tolist()
    [10, 20, 30]
    """
    a, b = normalisation(card)
    order = (2, 1, 0) if card.channel_order == "RGB" else (0, 1, 2)
    out = np.empty(x.shape[1:] + (3,), np.uint8)
    for c, dst in enumerate(order):
        out[:, :, dst] = np.clip(np.rint((x[c] - b[c]) / a[c]), 0, 255).astype(np.uint8)
    return out


def model_view(frame_bgr: np.ndarray, geometry: Geometry, resize: str) -> np.ndarray:
    """The part of the frame the model sees, at model resolution: BGR ``uint8`` of the content size
    ``(content y1 - y0, x1 - x0, 3)`` (resized; centre-cut for ``crop``; no padding).

    >>> g = frame_geometry(10, 20, 16, 16, "letterbox")
    >>> model_view(np.zeros((10, 20, 3), np.uint8), g, "letterbox").shape
    (8, 16, 3)
    """
    frame = _check_frame(frame_bgr)
    h, w = frame.shape[:2]
    if (geometry.frame_h, geometry.frame_w) != (h, w):
        raise InputError(f"geometry is for {geometry.frame_w}x{geometry.frame_h} frames, got {w}x{h}")
    g = geometry
    if (g.resized_w, g.resized_h) == (w, h):
        resized = frame
    else:
        interp = cv2.INTER_AREA if (g.resized_w < w and g.resized_h < h) else cv2.INTER_LINEAR
        resized = cv2.resize(frame, (g.resized_w, g.resized_h), interpolation=interp)
    if resize == "crop":
        y0, x0 = -g.offset_y, -g.offset_x
        resized = resized[y0 : y0 + g.input_h, x0 : x0 + g.input_w]
    return resized


def normalise_into(view: np.ndarray, card: ModelCard, geometry: Geometry, out: np.ndarray) -> np.ndarray:
    """Write a :func:`model_view` into ``out`` (float32 (3, H, W)) normalised per the card; padding 0."""
    H, W = card.input_height, card.input_width
    if out.shape != (3, H, W) or out.dtype != np.float32:
        raise InputError(f"out must be float32 (3, {H}, {W}), got {out.dtype} {out.shape}")
    cy0, cy1, cx0, cx1 = geometry.content
    if view.shape[:2] != (cy1 - cy0, cx1 - cx0):
        raise InputError(f"view is {view.shape[1]}x{view.shape[0]}, the geometry's content {cx1 - cx0}x{cy1 - cy0}")
    if (cy1 - cy0, cx1 - cx0) != (H, W):
        out.fill(0.0)  # the card's mean colour, normalised
    a, b = normalisation(card)
    order = (2, 1, 0) if card.channel_order == "RGB" else (0, 1, 2)
    for c, src in enumerate(order):
        dst = out[c, cy0:cy1, cx0:cx1]
        np.multiply(view[:, :, src], a[c], out=dst)
        dst += b[c]
    return out


def preprocess(
    frame_bgr: np.ndarray, card: ModelCard, out: np.ndarray | None = None, geometry: Geometry | None = None
) -> np.ndarray:
    """A BGR ``uint8 (h, w, 3)`` frame as the model's ``float32 (3, H, W)`` input (see module doc).

    ``out`` (a ``float32 (3, H, W)`` array, e.g. one slot of a batch) is filled in place when given.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> card = ModelCard("m", CITYSCAPES, 16, 32, scale=1.0, mean=(0, 0, 0), std=(1, 1, 1))
    >>> x = preprocess(np.full((10, 10, 3), (1, 2, 3), np.uint8), card)   # BGR (1, 2, 3) -> RGB (3, 2, 1)
    >>> x.shape, x[:, 8, 16].tolist(), x[:, 8, 0].tolist()             # centre is the frame, the sides padding
    ((3, 16, 32), [3.0, 2.0, 1.0], [0.0, 0.0, 0.0])
    """
    frame = _check_frame(frame_bgr)
    h, w = frame.shape[:2]
    g = geometry or frame_geometry(h, w, card.input_height, card.input_width, card.resize)
    if out is None:
        out = np.empty((3, card.input_height, card.input_width), dtype=np.float32)
    return normalise_into(model_view(frame, g, card.resize), card, g, out)


@dataclass
class Segmentation:
    """One frame's segmentation at the model's input size.

    ``labels`` (uint8 H x W) class ids, ``confidence`` (float32 H x W) the largest class
    probability; ``geometry`` says where the frame lies (padding of a letterbox is outside
    ``geometry.content``). ``road`` (uint8 H x W, 255 outside the frame) the road model's classes
    (:data:`analytics.footage.roads.ROAD_CLASSES`) when one ran beside the segmenter, else None;
    ``labels`` are then the fused ones (:func:`analytics.footage.roads.fuse_road`).
    """

    labels: np.ndarray
    confidence: np.ndarray
    geometry: Geometry
    road: np.ndarray | None = None
    own_labels: np.ndarray | None = None
    """The segmenter's own labels before the road model's fusion (None where no road model ran:
    ``labels`` are then its own); the trust verdict judges the segmenter's reading on them."""

    def content(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels and confidence of the frame's own pixels (letterbox padding removed)."""
        y0, y1, x0, x1 = self.geometry.content
        return self.labels[y0:y1, x0:x1], self.confidence[y0:y1, x0:x1]


def labels_to_frame(labels: np.ndarray, geometry: Geometry, fill: int) -> np.ndarray:
    """Labels at the model input size mapped back onto the frame's pixels (nearest neighbour).

    Frame pixel ``(x, y)`` takes the label at ``(x * scale_x + offset_x, y * scale_y + offset_y)``;
    frame pixels the model did not see (cut off by ``crop``) get ``fill``.

    >>> g = frame_geometry(2, 4, 4, 4, "letterbox")            # a 4x2 frame letterboxed into 4x4
    >>> labels_to_frame(np.arange(16, dtype=np.uint8).reshape(4, 4), g, 255).tolist()
    [[4, 5, 6, 7], [8, 9, 10, 11]]
    """
    g = geometry
    m = np.array([[g.scale_x, 0.0, g.offset_x], [0.0, g.scale_y, g.offset_y]], dtype=np.float64)
    return cv2.warpAffine(labels, m, (g.frame_w, g.frame_h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def _opset(model: Any) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 13


def _flip_input(model: Any) -> None:
    """Make the graph average the logits of each image and of its mirror image, in place.

    A new input ``ul_image`` (N, 3, H, W) is stacked with its horizontal flip into a batch of 2N
    that feeds the original network; its logits (2N, C, h, w) are split, the second half flipped
    back, and the two averaged: ``z = (f(x) + flip(f(flip(x)))) / 2``
    (:func:`analytics.footage.refine.flip_merge` is the reference). Needs a free batch dimension.
    """
    from onnx import TensorProto, helper

    g = model.graph
    init_names = {t.name for t in g.initializer}
    image = next(i for i in g.input if i.name not in init_names)
    original, z = image.name, g.output[0].name
    big = 2**31 - 1
    inits = [
        helper.make_tensor("ul_f_starts", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("ul_f_ends", TensorProto.INT64, [1], [-big]),
        helper.make_tensor("ul_f_axes", TensorProto.INT64, [1], [3]),
        helper.make_tensor("ul_f_steps", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("ul_f_n0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("ul_f_n1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("ul_half", TensorProto.FLOAT, [1], [0.5]),
    ]
    head = [
        helper.make_node("Slice", ["ul_image", "ul_f_starts", "ul_f_ends", "ul_f_axes", "ul_f_steps"], ["ul_image_flip"]),
        helper.make_node("Concat", ["ul_image", "ul_image_flip"], [original], axis=0),
    ]
    tail = [
        helper.make_node("Shape", ["ul_image"], ["ul_f_shape"]),
        helper.make_node("Slice", ["ul_f_shape", "ul_f_n0", "ul_f_n1"], ["ul_f_n"]),
        helper.make_node("Concat", ["ul_f_n", "ul_f_n"], ["ul_f_split"], axis=0),
        helper.make_node("Split", [z, "ul_f_split"], ["ul_z_a", "ul_z_b"], axis=0),
        helper.make_node("Slice", ["ul_z_b", "ul_f_starts", "ul_f_ends", "ul_f_axes", "ul_f_steps"], ["ul_z_bf"]),
        helper.make_node("Add", ["ul_z_a", "ul_z_bf"], ["ul_z_sum"]),
        helper.make_node("Mul", ["ul_z_sum", "ul_half"], ["ul_z_flip"]),
    ]
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(inits)
    new_input = helper.make_tensor_value_info("ul_image", image.type.tensor_type.elem_type, None)
    new_input.type.CopyFrom(image.type)
    g.input.remove(image)
    g.input.insert(0, new_input)
    out = helper.make_tensor_value_info("ul_z_flip", TensorProto.FLOAT, None)
    del g.output[:]
    g.output.append(out)


def _logits_output(model: Any) -> Any:
    """Replace the outputs by ``ul_logits``: the logits as (N, h, w, C), the layout numpy post-processing wants."""
    from onnx import TensorProto, helper

    g = model.graph
    z = g.output[0].name
    g.node.append(helper.make_node("Transpose", [z], ["ul_logits"], perm=[0, 2, 3, 1]))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("ul_logits", TensorProto.FLOAT, None))
    return model


def _confidence_nodes(z: str, confidence_stride: int, opset: int) -> tuple[list[Any], list[Any]]:
    """(nodes, initialisers) computing ``ul_confidence`` = ``1 / sum_c exp(z_c - max_c z_c)`` from the
    logits ``z`` on every ``confidence_stride``-th row and column (reduction axes from ``ul_axes``)."""
    from onnx import TensorProto, helper

    nodes: list[Any] = []
    inits: list[Any] = []
    zc = z
    if confidence_stride > 1:
        big = 2**31 - 1
        inits += [
            helper.make_tensor("ul_s_starts", TensorProto.INT64, [2], [0, 0]),
            helper.make_tensor("ul_s_ends", TensorProto.INT64, [2], [big, big]),
            helper.make_tensor("ul_s_axes", TensorProto.INT64, [2], [2, 3]),
            helper.make_tensor("ul_s_steps", TensorProto.INT64, [2], [confidence_stride, confidence_stride]),
        ]
        nodes.append(helper.make_node("Slice", [z, "ul_s_starts", "ul_s_ends", "ul_s_axes", "ul_s_steps"], ["ul_zs"]))
        zc = "ul_zs"
    if opset >= 18:
        nodes.append(helper.make_node("ReduceMax", [zc, "ul_axes"], ["ul_zmax"], keepdims=1))
    else:
        nodes.append(helper.make_node("ReduceMax", [zc], ["ul_zmax"], axes=[1], keepdims=1))
    nodes += [
        helper.make_node("Sub", [zc, "ul_zmax"], ["ul_zshift"]),
        helper.make_node("Exp", ["ul_zshift"], ["ul_zexp"]),
        helper.make_node("ReduceSum", ["ul_zexp", "ul_axes"], ["ul_zsum"], keepdims=0),
        helper.make_node("Reciprocal", ["ul_zsum"], ["ul_confidence"]),
    ]
    return nodes, inits


def _augment(model: Any, num_classes: int, smoothing: bool, confidence_stride: int) -> Any:
    """Append arg-max, confidence (and EMA smoothing) to a logits model, in place.

    Outputs ``ul_labels`` uint8 (N, h, w) = arg-max over classes, and ``ul_confidence`` float32
    (N, h / s, w / s) = the softmax maximum ``1 / sum_c exp(z_c - max_c z_c)`` on every s-th row and
    column (s = ``confidence_stride``; ORT's Softmax over the channel axis is several times slower
    than these five element-wise steps). With smoothing: extra inputs ``ul_prev`` (the previous
    state) and ``ul_alpha`` (shape (1,)) and output ``ul_state`` =
    ``alpha * z + (1 - alpha) * prev`` over the logits z (see :mod:`analytics.footage.temporal`).
    """
    from onnx import TensorProto, helper

    opset = _opset(model)
    if opset < 13:
        raise ModelError(f"ONNX opset {opset} is too old; UrbanLens needs opset 13 or newer")
    g = model.graph
    z = g.output[0].name
    nodes = []
    inits = [helper.make_tensor("ul_axes", TensorProto.INT64, [1], [1])]
    if smoothing:
        nodes += [
            helper.make_node("Sub", ["ul_prev", z], ["ul_diff"]),
            helper.make_node("Sub", ["ul_one", "ul_alpha"], ["ul_keep"]),
            helper.make_node("Mul", ["ul_diff", "ul_keep"], ["ul_kdiff"]),
            helper.make_node("Add", [z, "ul_kdiff"], ["ul_state"]),
        ]
        inits.append(helper.make_tensor("ul_one", TensorProto.FLOAT, [1], [1.0]))
        z = "ul_state"
    nodes.append(helper.make_node("ArgMax", [z], ["ul_argmax"], axis=1, keepdims=0))
    nodes.append(helper.make_node("Cast", ["ul_argmax"], ["ul_labels"], to=TensorProto.UINT8))
    conf_nodes, conf_inits = _confidence_nodes(z, confidence_stride, opset)
    nodes += conf_nodes
    inits += conf_inits
    g.initializer.extend(inits)
    g.node.extend(nodes)
    del g.output[:]
    g.output.extend(
        [
            helper.make_tensor_value_info("ul_labels", TensorProto.UINT8, None),
            helper.make_tensor_value_info("ul_confidence", TensorProto.FLOAT, None),
        ]
    )
    if smoothing:
        g.output.append(helper.make_tensor_value_info("ul_state", TensorProto.FLOAT, None))
        g.input.extend(
            [
                helper.make_tensor_value_info("ul_prev", TensorProto.FLOAT, ["N", num_classes, "h", "w"]),
                helper.make_tensor_value_info("ul_alpha", TensorProto.FLOAT, [1]),
            ]
        )
    return model


def session_options(threads: int | None = None, spin: bool = False) -> Any:
    """ONNX Runtime options tuned for a small CPU: ``threads`` intra-op threads (default
    :func:`analytics.settings.default_threads`; callers pass ``settings.threads``), one inter-op
    thread, every graph optimisation, and no spinning unless ``spin`` (``settings.ort_spin``):
    spinning threads would steal the cores that decode the next frames."""
    import onnxruntime as ort

    if threads is None:
        threads = default_threads()
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise InputError(f"threads={threads!r}; expected a whole number of at least 1")
    if not isinstance(spin, bool):
        raise InputError(f"spin={spin!r}; expected True or False")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    so.log_severity_level = 3
    return so


def _load_checked(path: Path, card: ModelCard) -> tuple[Any, str, bool]:
    """(the ONNX model, its image input's name, whether its batch dimension is free), after checking
    that it has one image input ``(N, 3, H, W)`` of the card's size."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a corrupt file
        raise ModelError(f"{path.name} is not a readable ONNX model: {exc}") from None
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1:
        raise ModelError(f"{path.name}: expected one image input, found {len(inputs)}")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if len(shape) != 4 or shape[1] not in (None, 3):
        raise ModelError(f"{path.name}: input shape {shape}; expected (N, 3, H, W)")
    if shape[2] not in (None, card.input_height) or shape[3] not in (None, card.input_width):
        raise ModelError(
            f"{path.name} takes {shape[3]}x{shape[2]} input but card {card.name!r} says "
            f"{card.input_width}x{card.input_height}"
        )
    return model, inputs[0].name, shape[0] is None


class Segmenter:
    """An ONNX Runtime session for one model card.

    ``threads`` and ``spin`` are the session's (:func:`session_options`; pass ``settings.threads``
    and ``settings.ort_spin``), ``smoothing_alpha`` turns on temporal fusion of the logits by
    ``smoothing_method`` (``ema`` or ``flow``, :mod:`analytics.footage.temporal`), ``refine``
    (``none`` or ``crf``) and ``tta`` (``none``, ``flip``, ``scales``, ``flip+scales``) are those of
    :mod:`analytics.footage.refine`, ``batch_size`` batches frames where the graph allows it,
    ``confidence_stride`` thins the confidence map. :meth:`set_road` runs a road model after the
    segmenter on the part of the frame it sees, on the same threads, and fuses the two
    (:mod:`analytics.footage.roads`).

    Where the work runs: arg-max, confidence, EMA and the flip average are nodes of the ONNX graph;
    scales, flow fusion and the CRF need the logits, which the graph then hands over as
    ``(N, h, w, C)`` for numpy and OpenCV (scales in numpy because the built-in graphs have a fixed
    input size: each scale is a letterboxed or tiled pass of the same graph; flow and the CRF need
    the frame's pixels and OpenCV's filters, which ONNX has no operators for).

    >>> # seg = Segmenter(installed.onnx_path, installed.card, settings.threads); s = seg.segment(frame_bgr); s.labels
    """

    def __init__(
        self, onnx_path: str | Path, card: ModelCard, threads: int | None = None, *, smoothing_alpha: float | None = None,
        batch_size: int | None = None, confidence_stride: int = 1, spin: bool = False, smoothing_method: str = "ema",
        refine: str = "none", tta: str = "none",
    ) -> None:
        import onnxruntime as ort

        path = Path(onnx_path)
        if not path.is_file():
            raise ModelError(f"ONNX model {str(path)!r} does not exist; install it with `urbanlens models install {card.name}`")
        if smoothing_alpha is not None and not 0.0 < smoothing_alpha <= 1.0:
            raise InputError(f"smoothing alpha {smoothing_alpha!r}; expected a number in (0, 1]")
        if confidence_stride not in (1, 2, 4):
            raise InputError(f"confidence_stride {confidence_stride!r}; expected 1, 2 or 4")
        if smoothing_method not in SMOOTHING_METHODS:
            raise InputError(f"temporal method {smoothing_method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
        self.refine, self.tta, self.smoothing_method = check_refine(refine), check_tta(tta), smoothing_method
        self.scales = tta_scales(tta)
        self._crf = card.crf_params
        self._numpy = refine != "none" or len(self.scales) > 1 or (smoothing_alpha is not None and smoothing_method == "flow")
        self.card = card
        self.onnx_path = path
        self.confidence_stride = confidence_stride
        self.smoothing_alpha = smoothing_alpha
        model, self.input_name, self.dynamic_batch = _load_checked(path, card)
        sequential = smoothing_alpha is not None or self._numpy or not self.dynamic_batch
        self.batch_size = 1 if sequential else max(1, batch_size or 1)
        if "flip" in tta and not self.dynamic_batch:
            raise ModelError(f"{path.name} has a fixed batch size; --tta flip needs a free batch dimension (N, 3, H, W)")
        try:
            if "flip" in tta:
                _flip_input(model)
                self.input_name = "ul_image"
            if self._numpy:
                aug = _logits_output(model)
            else:
                aug = _augment(model, card.num_classes, smoothing_alpha is not None, confidence_stride)
            self._session = ort.InferenceSession(
                aug.SerializeToString(), sess_options=session_options(threads, spin), providers=["CPUExecutionProvider"]
            )
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"{path.name} cannot be loaded by ONNX Runtime: {str(exc).splitlines()[0]}") from None
        self._state: np.ndarray | None = None
        self._prev_image: np.ndarray | None = None
        self._threads, self._spin = threads, spin
        self._road_ids: tuple[int, int] | None = None
        self.road: RoadModel | None = None

    def set_road(self, road: RoadFile | None) -> Segmenter:
        """Run the road model ``road`` after the segmenter (None: none) on the same threads and fuse the
        two (:mod:`analytics.footage.roads`); a model without road and sidewalk classes ignores it. Returns self."""
        self._road_ids = road_class_ids(self.card) if road is not None else None
        self.road = None
        if road is not None and self._road_ids is not None:
            self.road = RoadModel(road.onnx_path, road.card, session_options(self._threads, self._spin))
        return self

    def reset(self) -> None:
        """Forget the smoothing state (call between clips)."""
        self._state = None
        self._prev_image = None

    def geometry(self, frame_h: int, frame_w: int) -> Geometry:
        return frame_geometry(frame_h, frame_w, self.card.input_height, self.card.input_width, self.card.resize)

    def run(self, batch: np.ndarray, geometries: Sequence[Geometry]) -> list[Segmentation]:
        """Segment preprocessed input ``float32 (N, 3, H, W)`` (from :func:`preprocess`), with the road model's fusion."""
        out = self._run(batch, geometries)
        if self.road is not None:
            for i, seg in enumerate(out):
                self._fuse(seg, batch[i])
        return out

    def _fuse(self, seg: Segmentation, x: np.ndarray) -> None:
        """Run the road model on the frame's part of input ``x`` (3, H, W) and fuse its reading into ``seg``, in place."""
        assert self.road is not None and self._road_ids is not None
        y0, y1, x0, x1 = seg.geometry.content
        view = self.road.view(np.ascontiguousarray(input_image(x[:, y0:y1, x0:x1], self.card)))
        own = seg.labels
        labels = own.copy()
        labels[y0:y1, x0:x1] = fuse_road(labels[y0:y1, x0:x1], view.off_road, view.on_road, self._road_ids)
        road = np.full(labels.shape, 255, np.uint8)
        road[y0:y1, x0:x1] = view.classes
        seg.labels, seg.road, seg.own_labels = labels, road, own

    def _run(self, batch: np.ndarray, geometries: Sequence[Geometry]) -> list[Segmentation]:
        if batch.ndim != 4 or batch.shape[1:] != (3, self.card.input_height, self.card.input_width):
            raise InputError(f"batch must be (N, 3, {self.card.input_height}, {self.card.input_width}), got {batch.shape}")
        if len(geometries) != batch.shape[0]:
            raise InputError(f"{batch.shape[0]} inputs but {len(geometries)} geometries")
        if self._numpy:
            return [self._refined(batch[i], geometries[i]) for i in range(batch.shape[0])]
        if self.smoothing_alpha is None:
            if batch.shape[0] > 1 and not self.dynamic_batch:
                return [s for i in range(batch.shape[0]) for s in self._run(batch[i : i + 1], geometries[i : i + 1])]
            labels, conf = self._session.run(["ul_labels", "ul_confidence"], {self.input_name: batch})
            return [self._finish(labels[i], conf[i], geometries[i]) for i in range(batch.shape[0])]
        out = []
        for i in range(batch.shape[0]):
            first = self._state is None
            prev = np.zeros((1, self.card.num_classes, 1, 1), np.float32) if first else self._state
            alpha = np.array([1.0 if first else self.smoothing_alpha], np.float32)
            feed = {self.input_name: batch[i : i + 1], "ul_prev": prev, "ul_alpha": alpha}
            labels, conf, state = self._session.run(["ul_labels", "ul_confidence", "ul_state"], feed)
            self._state = state
            out.append(self._finish(labels[0], conf[0], geometries[i]))
        return out

    def _logits(self, inputs: np.ndarray) -> np.ndarray:
        """The graph's logits ``(K, H, W, C)`` at the input size for inputs ``(K, 3, H, W)``."""
        if inputs.shape[0] > 1 and not self.dynamic_batch:
            return np.concatenate([self._logits(inputs[i : i + 1]) for i in range(inputs.shape[0])])
        (z,) = self._session.run(["ul_logits"], {self.input_name: np.ascontiguousarray(inputs)})
        H, W = self.card.input_height, self.card.input_width
        if z.shape[1:3] != (H, W):  # models that predict at a lower resolution
            z = np.stack([cv2.resize(zi, (W, H), interpolation=cv2.INTER_LINEAR).reshape(H, W, -1) for zi in z])
        return z

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(H, W, C)`` of one input ``(3, H, W)``, averaged over :attr:`scales` (one graph
        run for all passes): a scale below 1 is the input shrunk into the top-left corner (the rest
        0, the mean colour), one above 1 the enlarged input cut into overlapping input-size tiles."""
        if len(self.scales) == 1:
            return self._logits(x[None])[0]
        H, W = self.card.input_height, self.card.input_width
        hwc = x.transpose(1, 2, 0)
        passes: list[np.ndarray] = []
        plan: list[tuple[float, int, int, list[tuple[int, int]]]] = []
        for s in self.scales:
            if s == 1.0:
                plan.append((s, H, W, [(0, 0)]))
                passes.append(x)
                continue
            hs, ws = max(16, round(H * s)), max(16, round(W * s))
            img = cv2.resize(hwc, (ws, hs), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            if s < 1:
                canvas = np.zeros((H, W, 3), np.float32)
                canvas[:hs, :ws] = img
                passes.append(canvas.transpose(2, 0, 1))
                plan.append((s, hs, ws, [(0, 0)]))
                continue
            corners = [(y, x0) for y in sorted({0, hs - H}) for x0 in sorted({0, ws - W})]
            passes.extend(img[y : y + H, x0 : x0 + W].transpose(2, 0, 1) for y, x0 in corners)
            plan.append((s, hs, ws, corners))
        z = self._logits(np.stack(passes))
        merged, k = [], 0
        for s, hs, ws, corners in plan:
            if s <= 1.0:
                merged.append(z[k, :hs, :ws])
                k += 1
                continue
            acc = np.zeros((hs, ws, z.shape[3]), np.float32)
            count = np.zeros((hs, ws, 1), np.float32)
            for y, x0 in corners:
                acc[y : y + H, x0 : x0 + W] += z[k]
                count[y : y + H, x0 : x0 + W] += 1.0
                k += 1
            merged.append(acc / count)
        return merge_scales(merged, H, W)

    def _refined(self, x: np.ndarray, geometry: Geometry) -> Segmentation:
        """One frame through the numpy path: scales, temporal fusion, CRF, then labels and confidence."""
        z = self._scores(x)
        image = input_image(x, self.card) if self.refine == "crf" or self.smoothing_method == "flow" else None
        if self.smoothing_alpha is not None:
            if self.smoothing_method == "flow":
                assert image is not None
                gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                z = flow_update(self._state, z, self._prev_image, gray, self.smoothing_alpha)
                self._prev_image = gray
            else:
                z = ema_update(self._state, z, self.smoothing_alpha)
            self._state = z
        if self.refine == "crf":
            assert image is not None
            y0, y1, x0, x1 = geometry.content
            q = z.copy()
            q[y0:y1, x0:x1] = crf_refine(z[y0:y1, x0:x1], np.ascontiguousarray(image[y0:y1, x0:x1]), self._crf)
            labels, conf = label_confidence(q, self.confidence_stride, probabilities=True)
            if (y0, y1, x0, x1) != (0, q.shape[0], 0, q.shape[1]):  # padding keeps the model's own answer
                pad_labels, pad_conf = label_confidence(z, self.confidence_stride)
                inside = np.zeros(labels.shape, bool)
                inside[y0:y1, x0:x1] = True
                labels = np.where(inside, labels, pad_labels)
                s = self.confidence_stride
                conf = np.where(inside[::s, ::s], conf, pad_conf)
        else:
            labels, conf = label_confidence(z, self.confidence_stride)
        return self._finish(labels, conf, geometry)

    def _finish(self, labels: np.ndarray, conf: np.ndarray, geometry: Geometry) -> Segmentation:
        H, W = self.card.input_height, self.card.input_width
        if labels.shape != (H, W):  # models that predict at a lower resolution
            labels = cv2.resize(labels, (W, H), interpolation=cv2.INTER_NEAREST)
        if conf.shape != (H, W):  # lower resolution or a confidence stride: nearest keeps the values
            conf = cv2.resize(conf, (W, H), interpolation=cv2.INTER_NEAREST)
        return Segmentation(labels=labels, confidence=conf, geometry=geometry)

    def segment(self, frame_bgr: np.ndarray) -> Segmentation:
        """Segment one BGR frame: labels and confidence at the model's input size."""
        frame = _check_frame(frame_bgr)
        g = self.geometry(*frame.shape[:2])
        x = preprocess(frame, self.card, geometry=g)
        return self.run(x[None], [g])[0]

    def segment_many(self, frames: Sequence[np.ndarray]) -> list[Segmentation]:
        """Segment several frames (batched where the model allows it)."""
        out: list[Segmentation] = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            geos = [self.geometry(*_check_frame(f).shape[:2]) for f in chunk]
            batch = np.empty((len(chunk), 3, self.card.input_height, self.card.input_width), np.float32)
            for i, (f, g) in enumerate(zip(chunk, geos, strict=True)):
                preprocess(f, self.card, out=batch[i], geometry=g)
            out.extend(self.run(batch, geos))
        return out
