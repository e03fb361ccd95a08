"""Tiny ONNX models built by the tests: a 1x1 convolution that classifies colours.

Each class has a prototype colour ``c_k`` (RGB in [0, 1]); the logit of class k at a pixel x is
``t * (2 x . c_k - |c_k|^2)`` which is ``-t |x - c_k|^2`` up to a term shared by all classes, so
the arg-max is the nearest prototype: the right answer is known by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analytics.cards import ModelCard
from analytics.taxonomy import CITYSCAPES

# Cityscapes ids: 0 road, 1 sidewalk, 2 building, 8 vegetation, 10 sky, 11 person, 13 car, 18 bicycle, 19 background
PROTOTYPES_RGB: dict[int, tuple[int, int, int]] = {
    0: (128, 128, 128),  # road: grey
    1: (255, 128, 255),  # sidewalk: pink
    2: (255, 255, 255),  # building: white
    8: (0, 200, 0),  # vegetation: green
    10: (0, 128, 255),  # sky: light blue
    11: (255, 0, 0),  # person: red
    13: (0, 0, 160),  # car: dark blue
    18: (255, 255, 0),  # bicycle: yellow
    19: (0, 0, 0),  # background: black
}


def bgr(class_id: int) -> tuple[int, int, int]:
    """The BGR colour a synthetic frame paints for ``class_id``."""
    r, g, b = PROTOTYPES_RGB[class_id]
    return (b, g, r)


def colour_model(
    path: Path, height: int = 32, width: int = 64, dynamic_batch: bool = True, opset: int = 17, temperature: float = 20.0
) -> Path:
    """Write the colour classifier (20 Cityscapes outputs) to ``path`` and return it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = CITYSCAPES.num_classes
    w = np.zeros((n, 3, 1, 1), np.float32)
    b = np.full((n,), -1e4, np.float32)
    for k, rgb in PROTOTYPES_RGB.items():
        c = np.asarray(rgb, np.float32) / 255.0
        w[k, :, 0, 0] = temperature * 2 * c
        b[k] = -temperature * float(c @ c)
    batch: str | int = "N" if dynamic_batch else 1
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["logits"])],
        "colours",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, n, height, width])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def colour_card(height: int = 32, width: int = 64, resize: str = "letterbox") -> ModelCard:
    """The card of :func:`colour_model`: RGB, x/255, no mean/std shift."""
    return ModelCard(
        "colours", CITYSCAPES, height, width, channel_order="RGB", scale=1 / 255, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        resize=resize,
    )


def install_colour_model(home: Path) -> str:
    """Install :func:`colour_model` (32x64) with its card under ``home/models/`` as the zoo lays it out; its name."""
    card = colour_card(32, 64)
    folder = home / "models" / card.name
    folder.mkdir(parents=True)
    colour_model(folder / "model.onnx", 32, 64)
    (folder / "card.json").write_text(card.to_json(), encoding="utf-8")
    return card.name


def write_colour_street(path: Path, n: int = 12, w: int = 64, h: int = 32) -> Path:
    """An mp4 clip of ``n`` frames painted in the prototype colours: sky, building or vegetation by turns,
    road, and a car driving by; :func:`colour_model` labels every pixel right."""
    import cv2

    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 4.0, (w, h))
    assert out.isOpened()
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[: h // 3] = bgr(10)  # sky
        frame[h // 3 : 2 * h // 3] = bgr(2) if i % 2 else bgr(8)  # building / vegetation
        frame[2 * h // 3 :] = bgr(0)  # road
        frame[2 * h // 3 :, 4 + i : 14 + i] = bgr(13)  # a car driving by
        out.write(frame)
    out.release()
    return path
