"""Road model cards: what a road model is (input size, classes, upstream file) and the check of its ONNX file.

A road model card (TOML, ``analytics/models/cards/road/*.toml``) holds::

    name = "road-segmentation-adas-0001"
    task = "road-segmentation"
    source_url = "https://..."      # upstream address of the ONNX file (pinned commit)
    weights_file = "..."            # the file's name in a mirror folder
    sha256 = "..."                  # SHA-256 of that file
    license = "Apache-2.0"
    attribution = "..."
    input_height = 512
    input_width = 896
    classes = ["background", "road", "curb", "lane mark"]

The model takes ``(1, H, W, 3)`` BGR float 0-255 (the frame stretched) and returns ``(1, H, W, 4)``
class probabilities in that order (:mod:`analytics.footage.roads` runs it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from analytics.errors import DataFormatError, InputError, ModelError, quote_value
from analytics.untrusted import read_card_data

__all__ = ["DEFAULT_ROAD_MODEL", "NO_ROAD_MODEL", "ROAD_CLASSES", "RoadCard", "check_road_onnx", "load_road_card", "road_card_from_dict"]

ROAD_CLASSES = ("background", "road", "curb", "lane mark")
"""The classes of a road model, in output order."""
MAX_CARD_BYTES = 64 * 1024
DEFAULT_ROAD_MODEL = "road-segmentation-adas-0001"
"""The road model every analysis runs beside the segmenter unless told otherwise."""
NO_ROAD_MODEL = "none"
"""The road model name that turns the road model off."""


@dataclass(frozen=True)
class RoadCard:
    """A road model's card (see the module doc)."""

    name: str
    source_url: str
    weights_file: str
    sha256: str
    license: str
    attribution: str
    input_height: int = 512
    input_width: int = 896
    classes: tuple[str, ...] = ROAD_CLASSES
    notes: str = ""
    task: str = "road-segmentation"

    def __post_init__(self) -> None:
        if self.task != "road-segmentation":
            raise InputError(f"road card {self.name!r}: task {quote_value(self.task)}; expected 'road-segmentation'")
        if tuple(self.classes) != ROAD_CLASSES:
            raise InputError(f"road card {self.name!r}: classes {quote_value(list(self.classes))}; expected {list(ROAD_CLASSES)}")
        for label, v in (("input_height", self.input_height), ("input_width", self.input_width)):
            if not isinstance(v, int) or isinstance(v, bool) or not 16 <= v <= 4096:
                raise InputError(f"road card {self.name!r}: {label}={quote_value(v)}; expected a whole number from 16 to 4096")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise InputError(f"road card {self.name!r}: sha256 must be 64 lowercase hex digits")

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input_height, self.input_width

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "classes": list(self.classes)}, indent=2)


def road_card_from_dict(data: Any) -> RoadCard:
    """A :class:`RoadCard` from a parsed card, every key's type checked.

    >>> road_card_from_dict({"name": "r", "source_url": "u", "weights_file": "r.onnx", "sha256": "0" * 64,
    ...                      "license": "MIT", "attribution": "a"}).input_size
    (512, 896)
    """
    if not isinstance(data, dict):
        raise DataFormatError(f"a road card is a table of keys, got {type(data).__name__}")
    known = {f: t for f, t in RoadCard.__annotations__.items()}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise DataFormatError(f"road card: unknown key(s) {quote_value(unknown)}; known: {', '.join(known)}")
    for key, value in data.items():
        want: type | tuple[type, ...] = int if key.startswith("input_") else (list, tuple) if key == "classes" else str
        if not isinstance(value, want) or isinstance(value, bool):
            raise DataFormatError(f"road card: {key}={quote_value(value)} has the wrong type")
    missing = [k for k in ("name", "source_url", "weights_file", "sha256", "license", "attribution") if k not in data]
    if missing:
        raise DataFormatError(f"road card: missing key(s) {', '.join(missing)}")
    return RoadCard(**{**data, **({"classes": tuple(data["classes"])} if "classes" in data else {})})


def load_road_card(path: str | Path) -> RoadCard:
    """Read a road card from a .toml or .json file (at most 64 KiB)."""
    return road_card_from_dict(read_card_data(path, "road card", MAX_CARD_BYTES))


def _dims(value_info: Any) -> list[int | None]:
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def _fits(got: list[int | None] | None, want: list[int]) -> bool:
    """Whether declared dims ``got`` match ``want`` (a free dimension matches anything)."""
    return got is not None and len(got) == len(want) and all(g is None or g == w for g, w in zip(got, want, strict=True))


def check_road_onnx(path: Path, card: RoadCard) -> str:
    """The image input's name of the road model file ``path``, after checking it takes ``(1, H, W, 3)``
    and returns ``(1, H, W, 4)`` at the card's size; :class:`~analytics.errors.ModelError` in one line otherwise."""
    import onnx  # deferred: onnx is only needed when a road model is loaded or installed

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others for a corrupt file
        raise ModelError(f"{path.name} is not a readable ONNX model: {quote_value(exc, 120)}") from None
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    h, w = card.input_size
    want_in, want_out = [1, h, w, 3], [1, h, w, len(ROAD_CLASSES)]
    got_in = _dims(inputs[0]) if len(inputs) == 1 else None
    got_out = _dims(model.graph.output[0]) if len(model.graph.output) == 1 else None
    if not _fits(got_in, want_in):
        raise ModelError(f"{path.name}: input shape {got_in}; road model {card.name!r} takes {want_in} (N, H, W, BGR)")
    if not _fits(got_out, want_out):
        raise ModelError(f"{path.name}: output shape {got_out}; road model {card.name!r} returns {want_out} ({', '.join(ROAD_CLASSES)})")
    return str(inputs[0].name)
