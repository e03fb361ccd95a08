"""Model cards: one small file per model saying what it is and how to feed it.

A card (TOML, JSON or YAML) holds::

    name = "espnetv2-s2"
    task = "semantic-segmentation"
    architecture = "espnetv2"          # optional: a key of analytics.models.architectures.ARCHITECTURES,
                                       # the builder that turns the upstream weights into ONNX
    source_url = "https://..."         # upstream address of the weights (or of the ONNX file)
    sha256 = "..."                     # SHA-256 of that upstream file
    license = "MIT"
    attribution = "..."
    input_height = 384
    input_width = 768
    channel_order = "RGB"              # or "BGR"
    scale = 0.00392156862745098        # pixel value multiplier before mean/std (1/255)
    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]
    resize = "letterbox"               # "letterbox" (keep aspect, pad) | "crop" (keep aspect, centre crop) | "stretch"
    notes = "known weaknesses ..."
    [crf]                              # optional: dense CRF refinement (``--refine crf``); CrfParams defaults
    iterations = 3
    [lineage]                          # optional: written by `urbanlens models adapt` (docs/adapt.md)
    base_model = "espnetv2-s2"
    [class_set]
    name = "cityscapes"                # a built-in set, or list the classes:
    classes = [{name = "road", group = "road"}, ...]

Any ONNX segmentation model with a card works; the built-in ESPNetv2 models are just cards
that ship with the package.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analytics.errors import DataFormatError, InputError
from analytics.taxonomy import BUILTIN_CLASS_SETS, ClassSet

__all__ = [
    "RESIZE_POLICIES",
    "CrfParams",
    "ModelCard",
    "card_from_dict",
    "load_card",
]

RESIZE_POLICIES = ("letterbox", "crop", "stretch")


@dataclass(frozen=True)
class CrfParams:
    """Parameters of the dense CRF refinement (:mod:`analytics.footage.refine`), a card's ``[crf]`` table.

    Mean-field iterations ``Q <- softmax(U + w_a * A(Q) + w_s * S(Q))`` over the model's logits ``U``
    (Potts compatibility), where ``A`` is the appearance kernel (an edge-aware guided filter of
    radius ``appearance_radius`` px and regulariser ``appearance_eps`` over the frame's intensity
    in [0, 1]) and ``S`` the smoothness kernel (a Gaussian of ``smoothness_sigma`` px); both are
    applied at ``1 / downsample`` of the model's input size. Weights are in logit units.

    >>> CrfParams().iterations
    3
    >>> CrfParams(iterations=0)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: crf iterations=0; expected a whole number from 1 to 20
    """

    iterations: int = 3
    appearance_weight: float = 2.0
    appearance_radius: int = 3
    appearance_eps: float = 0.001
    smoothness_weight: float = 0.5
    smoothness_sigma: float = 1.0
    downsample: int = 1

    def __post_init__(self) -> None:
        for name, lo, hi in (("iterations", 1, 20), ("appearance_radius", 1, 64), ("downsample", 1, 8)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise InputError(f"crf {name}={v!r}; expected a whole number from {lo} to {hi}")
        for name in ("appearance_weight", "appearance_eps", "smoothness_weight", "smoothness_sigma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 100.0:
                raise InputError(f"crf {name}={v!r}; expected a number from 0 to 100")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CrfParams:
        """From a card's ``[crf]`` table; missing keys take the defaults, unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"crf: unknown key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelCard:
    """What a segmentation model is, where it comes from and how to feed it."""

    name: str
    class_set: ClassSet
    input_height: int
    input_width: int
    task: str = "semantic-segmentation"
    architecture: str | None = None
    source_url: str | None = None
    sha256: str | None = None
    license: str = "unknown"
    attribution: str = ""
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    resize: str = "letterbox"
    notes: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    crf: dict[str, Any] = field(default_factory=dict)
    """The ``[crf]`` table: :class:`CrfParams` keys overriding their defaults (``crf_params``)."""
    lineage: dict[str, Any] = field(default_factory=dict)
    """Where an adapted model comes from (``[lineage]``, written by ``urbanlens models adapt``): base model and
    weights hash, annotation set hash, held-out figures; empty for other models."""

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise InputError(f"model card name {self.name!r}: use letters, digits, '-', '_' or '.'")
        if self.task != "semantic-segmentation":
            raise InputError(f"model card {self.name!r}: task {self.task!r} is not supported; expected 'semantic-segmentation'")
        for label, v in (("input_height", self.input_height), ("input_width", self.input_width)):
            if not isinstance(v, int) or not 16 <= v <= 4096:
                raise InputError(f"model card {self.name!r}: {label}={v!r}; expected a whole number from 16 to 4096")
        if self.channel_order not in ("RGB", "BGR"):
            raise InputError(f"model card {self.name!r}: channel_order {self.channel_order!r}; expected 'RGB' or 'BGR'")
        if self.resize not in RESIZE_POLICIES:
            raise InputError(f"model card {self.name!r}: resize {self.resize!r}; expected one of {', '.join(RESIZE_POLICIES)}")
        if len(self.mean) != 3 or len(self.std) != 3 or any(s <= 0 for s in self.std):
            raise InputError(f"model card {self.name!r}: mean and std need 3 values each, std above 0")
        if self.sha256 is not None and (len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)):
            raise InputError(f"model card {self.name!r}: sha256 must be 64 lowercase hex digits")
        if not isinstance(self.lineage, Mapping):
            raise InputError(f"model card {self.name!r}: lineage must be a table, got {type(self.lineage).__name__}")
        if not isinstance(self.crf, Mapping):
            raise InputError(f"model card {self.name!r}: crf must be a table of CRF parameters, got {type(self.crf).__name__}")
        try:
            CrfParams.from_mapping(self.crf)
        except InputError as exc:
            raise InputError(f"model card {self.name!r}: {exc}") from None

    @property
    def crf_params(self) -> CrfParams:
        """The dense CRF parameters: the card's ``[crf]`` table over :class:`CrfParams` defaults."""
        return CrfParams.from_mapping(self.crf)

    @property
    def num_classes(self) -> int:
        return self.class_set.num_classes

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return (self.input_height, self.input_width)

    def with_size(self, height: int, width: int) -> ModelCard:
        """The same card at another input size."""
        data = self.to_dict()
        data["input_height"], data["input_width"] = height, width
        return card_from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["class_set"] = {
            "name": self.class_set.name,
            "classes": [{"name": n, "group": g} for n, g in zip(self.class_set.class_names, self.class_set.groups)],
        }
        return {k: v for k, v in d.items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def card_from_dict(data: Mapping[str, Any]) -> ModelCard:
    """Validate and build a card from parsed TOML/JSON/YAML."""
    if not isinstance(data, Mapping):
        raise DataFormatError(f"a model card must be a table of keys, got {type(data).__name__}")
    missing = [k for k in ("name", "input_height", "input_width", "class_set") if k not in data]
    if missing:
        raise DataFormatError(f"model card is missing {', '.join(missing)}")
    cs_raw = data["class_set"]
    if isinstance(cs_raw, str):
        cs_raw = {"name": cs_raw}
    if not isinstance(cs_raw, Mapping):
        raise DataFormatError("model card: class_set must be a name or a table with 'name' and 'classes'")
    cs_name = str(cs_raw.get("name", data["name"]))
    if "classes" in cs_raw:
        class_set = ClassSet.from_mapping(cs_name, cs_raw["classes"])
    elif cs_name in BUILTIN_CLASS_SETS:
        class_set = BUILTIN_CLASS_SETS[cs_name]
    else:
        raise DataFormatError(
            f"model card: class set {cs_name!r} is not built in ({', '.join(BUILTIN_CLASS_SETS)}); list its classes"
        )
    known = {f for f in ModelCard.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DataFormatError(f"model card: unknown key(s) {unknown}; allowed: {sorted(known)}")
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if k != "class_set"}
    for k in ("mean", "std"):
        if k in kwargs:
            kwargs[k] = tuple(float(x) for x in kwargs[k])
    try:
        return ModelCard(class_set=class_set, **kwargs)
    except TypeError as exc:
        raise DataFormatError(f"model card: {exc}") from None


def load_card(path: str | Path) -> ModelCard:
    """Read a card from a .toml, .json, .yaml or .yml file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model card {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8", errors="replace")
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise InputError(f"model card {p.name!r}: unknown format {suffix!r}; use .toml, .json, .yaml or .yml")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataFormatError(f"model card {p.name!r} cannot be parsed: {exc}") from None
    return card_from_dict(data)
