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
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.taxonomy import BUILTIN_CLASS_SETS, ClassSet
from analytics.untrusted import json_depth, load_json

__all__ = [
    "RESIZE_POLICIES",
    "CrfParams",
    "ModelCard",
    "card_from_dict",
    "load_card",
    "MAX_CARD_BYTES",
    "MAX_CARD_DEPTH",
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
            raise InputError(f"model card name {quote_value(self.name)}: use letters, digits, '-', '_' or '.'")
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
    _check_field_types(kwargs)
    for k in ("mean", "std"):
        if k in kwargs:
            kwargs[k] = tuple(float(x) for x in kwargs[k])
    return ModelCard(class_set=class_set, **kwargs)


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "task": (str,), "architecture": (str, type(None)), "source_url": (str, type(None)),
    "sha256": (str, type(None)), "license": (str,), "attribution": (str,), "channel_order": (str,), "resize": (str,),
    "notes": (str,), "input_height": (int,), "input_width": (int,), "scale": (int, float), "mean": (list, tuple),
    "std": (list, tuple), "params": (Mapping,), "crf": (Mapping,), "lineage": (Mapping,),
}
"""The type each key of a card's table must have (``mean`` and ``std``: three numbers)."""


def _check_field_types(fields: Mapping[str, Any]) -> None:
    """:class:`~analytics.errors.DataFormatError` naming the first key whose value has the wrong type."""
    for key, value in fields.items():
        kinds = _FIELD_TYPES.get(key)
        bad = kinds is not None and (isinstance(value, bool) or not isinstance(value, kinds))
        if key in ("mean", "std") and not bad:
            bad = len(value) != 3 or not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value)
        if key == "scale" and not bad:
            bad = not math.isfinite(value) or value <= 0
        if bad:
            raise DataFormatError(f"model card: {key} is {quote_value(value, 40)}; expected "
                                  f"{'three finite numbers' if key in ('mean', 'std') else _type_words(kinds or ())}")


def _type_words(kinds: tuple[type, ...]) -> str:
    """``text``, ``a whole number``, ``a number``, ``a list``, ``a table``, with ``or none`` where None is allowed.

    >>> _type_words((str, type(None))), _type_words((int, float))
    ('text or none', 'a number')
    """
    words = {str: "text", int: "a whole number", float: "a number", list: "a list", tuple: "a list", Mapping: "a table"}
    if float in kinds:
        kinds = tuple(k for k in kinds if k is not int)
    names = list(dict.fromkeys(words[k] for k in kinds if k is not type(None)))
    return " or ".join(names + (["none"] if type(None) in kinds else []))


MAX_CARD_BYTES = 1024 * 1024
"""Largest model card file read (bytes): a card is a few kilobytes."""
MAX_CARD_DEPTH = 16
"""Deepest nesting of tables, lists and mappings read in a card (a card nests three levels)."""


def load_card(path: str | Path) -> ModelCard:
    """Read a card from a .toml, .json, .yaml or .yml file.

    The file's size (:data:`MAX_CARD_BYTES`) and how deeply it nests (:data:`MAX_CARD_DEPTH`,
    brackets counted before parsing; YAML block nesting counted while composing) are checked first,
    and YAML anchors and aliases are refused (an alias-expanded card could stand for billions of
    nodes), so a hostile card ends in one :class:`~analytics.errors.DataFormatError`, never in a
    parser's recursion or an unbounded walk.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model card {str(p)!r} does not exist")
    if p.stat().st_size > MAX_CARD_BYTES:
        raise DataFormatError(f"model card {p.name!r} is {p.stat().st_size:,} bytes; at most {MAX_CARD_BYTES:,} are read")
    raw = p.read_bytes()
    suffix = p.suffix.lower()
    if suffix not in (".toml", ".json", ".yaml", ".yml"):
        raise InputError(f"model card {p.name!r}: unknown format {suffix!r}; use .toml, .json, .yaml or .yml")
    what = f"model card {p.name!r}"
    if suffix == ".json":
        return card_from_dict(load_json(raw, what, max_bytes=MAX_CARD_BYTES, max_depth=MAX_CARD_DEPTH))
    if json_depth(raw) > MAX_CARD_DEPTH:
        raise DataFormatError(f"{what} nests lists or tables too deeply (at most {MAX_CARD_DEPTH} levels are read)")
    text = raw.decode("utf-8", errors="replace")
    try:
        data: Any = tomllib.loads(text) if suffix == ".toml" else _load_yaml(text, what)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise DataFormatError(f"{what} cannot be parsed: {quote_value(exc, 200)}") from None
    return card_from_dict(data)


class _CardYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors or aliases and with a bound on nesting."""

    what = "model card"
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise DataFormatError(f"{self.what} uses YAML anchors or aliases; write every value out")
        self.depth += 1
        try:
            if self.depth > MAX_CARD_DEPTH:
                raise DataFormatError(f"{self.what} nests mappings or lists too deeply (at most {MAX_CARD_DEPTH} levels are read)")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _load_yaml(text: str, what: str) -> Any:
    """One YAML document through :class:`_CardYamlLoader`."""
    loader = _CardYamlLoader(text)
    loader.what = what
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
