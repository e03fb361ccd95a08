"""Label maps: which annotation class each model class counts as when a model is scored.

A label map is JSON ``{"model class name": "annotation class name", ...}``. Several model classes
may map to one annotation class (Cityscapes ``car``, ``truck``, ``bus`` and ``train`` are all CamVid
``Car``); a model class that is not listed (or maps to ``null``) counts as void: its pixels are not
scored. A map naming a class the model or the annotation set does not have is an error.

Built-in maps ship in ``analytics/evaluation/maps/*.json`` (package data, so a wheel has them; the
repository shows the same files as ``data/label_maps/``, a link) and load by name (see
``docs/evaluation.md``):

- ``cityscapes-camvid``: the 19 Cityscapes classes onto CamVid's 11 (the map of the CamVid
  figures in ``docs/models.md``); ``background`` is void.
- ``cityscapes-cityscapes``: each Cityscapes train class onto itself.

Indicators in annotation classes: an indicator computed from the model's classes of some groups
(green view: the vegetation classes) is checked against the annotation classes the label map sends
those model classes to. With ``cityscapes-camvid`` the pedestrian share (person + rider) is CamVid
``Pedestrian`` + ``Bicyclist`` (CamVid's Bicyclist holds the rider and the bicycle), the green view
is ``Tree``, the vehicle share ``Car``.

Indicator groups of annotation classes: where the format gives none (CVAT), an annotation class
takes the most common group among the model classes mapped to it (ties: the first in model
order), and ``void`` when none is.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.evaluation.metrics import IGNORE, INDICATOR_GROUPS
from analytics.taxonomy import ClassSet
from analytics.untrusted import load_json

__all__ = [
    "LABEL_MAP_LIMITS",
    "LabelMap",
    "annotation_groups",
    "builtin_label_maps",
    "default_label_map",
    "indicator_classes",
    "label_lut",
    "load_label_map",
]


LABEL_MAP_LIMITS = {"bytes": 1024 * 1024, "depth": 4, "entries": 1024, "name_chars": 200}
"""What a label map file may hold: its size, nesting, entries and characters in a class name."""


@dataclass(frozen=True)
class LabelMap:
    """Model class -> annotation class, in the order given; ``name`` says where it came from."""

    name: str
    pairs: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        models = [m for m, _ in self.pairs]
        if len(set(models)) != len(models):
            raise InputError(f"label map {quote_value(self.name)} lists a model class twice; expected each once")

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def canonical_json(self) -> str:
        """The map as sorted compact JSON (what the ground-truth hash covers)."""
        return json.dumps(dict(sorted(self.pairs)), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_mapping(cls, name: str, data: object) -> LabelMap:
        """From parsed JSON; ``null`` values (void) are dropped.

        >>> LabelMap.from_mapping("m", {"car": "Car", "background": None}).pairs
        (('car', 'Car'),)
        """
        most, chars = LABEL_MAP_LIMITS["entries"], LABEL_MAP_LIMITS["name_chars"]
        if not isinstance(data, Mapping) or not data or len(data) > most:
            raise DataFormatError(f"label map {quote_value(name)} must be a JSON object of 1 to {most:,} entries "
                                  "{\"model class\": \"annotation class\", ...}")
        bad = [k for k, v in data.items() if not _class_name(k, chars) or not (v is None or _class_name(v, chars))]
        if bad:
            raise DataFormatError(f"label map {quote_value(name)}: entry {quote_value(bad[0])} is not \"model class\": "
                                  f"\"annotation class\" (text of 1 to {chars} printable characters, or null)")
        return cls(name, tuple((str(k), str(v)) for k, v in data.items() if v is not None))


def _class_name(value: object, chars: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= chars and value.isprintable()


def _maps_folder() -> Traversable:
    return resources.files("analytics.evaluation").joinpath("maps")


def builtin_label_maps() -> tuple[str, ...]:
    """Names of the built-in label maps.

    >>> builtin_label_maps()
    ('cityscapes-camvid', 'cityscapes-cityscapes')
    """
    return tuple(sorted(e.name[:-5] for e in _maps_folder().iterdir() if e.name.endswith(".json")))


def _parse(name: str, text: str | bytes) -> LabelMap:
    data = load_json(text, f"label map {quote_value(name)}", max_bytes=LABEL_MAP_LIMITS["bytes"],
                     max_depth=LABEL_MAP_LIMITS["depth"])
    return LabelMap.from_mapping(name, data)


def load_label_map(name_or_path: str | Path) -> LabelMap:
    """A built-in map by name, or a JSON file by path.

    >>> load_label_map("cityscapes-camvid").as_dict()["truck"]
    'Car'
    """
    key = str(name_or_path)
    if key in builtin_label_maps():
        return _parse(key, _maps_folder().joinpath(f"{key}.json").read_text(encoding="utf-8"))
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise InputError(f"label map {quote_value(key)} is neither a built-in map ({', '.join(builtin_label_maps())}) "
                         "nor a JSON file")
    with path.open("rb") as f:
        return _parse(path.name, f.read(LABEL_MAP_LIMITS["bytes"] + 1))  # one byte over the limit is enough to refuse


def _unknown(names: Sequence[str], known: Sequence[str]) -> list[str]:
    return [n for n in dict.fromkeys(names) if n not in known]


def _listed(names: Sequence[str], most: int = 12) -> str:
    """Names for a message: the first ``most``, each quoted and capped, then how many more."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(quote_value(n, 40) for n in names[:most]) + more


def check_label_map(label_map: LabelMap, model: ClassSet, annotation: Sequence[str]) -> None:
    """Raise :class:`InputError` when the map names a class the model or the annotation set lacks,
    or when either has more classes than an 8-bit label (0..255, 255 void) holds."""
    if len(model.class_names) > IGNORE + 1 or len(annotation) > IGNORE:
        raise InputError(f"model class set {quote_value(model.name)} has {len(model.class_names)} classes and the ground truth "
                         f"{len(annotation)}; at most {IGNORE + 1} and {IGNORE} fit 8-bit labels")
    bad_model = _unknown([m for m, _ in label_map.pairs], model.class_names)
    if bad_model:
        raise InputError(
            f"label map {quote_value(label_map.name)} names model class(es) [{_listed(bad_model, 5)}] that model class set "
            f"{quote_value(model.name)} does not have; its classes: {_listed(model.class_names, 40)}"
        )
    bad_annotation = _unknown([a for _, a in label_map.pairs], annotation)
    if bad_annotation:
        raise InputError(
            f"label map {quote_value(label_map.name)} names annotation class(es) [{_listed(bad_annotation, 5)}] that the "
            f"ground truth does not have; its classes: {_listed(annotation)}"
        )


def label_lut(label_map: LabelMap, model: ClassSet, annotation: Sequence[str]) -> np.ndarray:
    """``uint8 (256,)`` table: model class id -> annotation class id, :data:`IGNORE` for void.

    >>> cs = ClassSet("toy", ("asphalt", "tree", "other"), ("road", "vegetation", "void"))
    >>> label_lut(LabelMap("m", (("tree", "Tree"), ("asphalt", "Road"))), cs, ["Road", "Tree"])[:4].tolist()
    [0, 1, 255, 255]
    """
    check_label_map(label_map, model, annotation)
    lut = np.full(256, IGNORE, np.uint8)
    for m, a in label_map.pairs:
        lut[model.class_names.index(m)] = list(annotation).index(a)
    return lut


def annotation_groups(label_map: LabelMap, model: ClassSet, annotation: Sequence[str]) -> tuple[str, ...]:
    """Each annotation class's group: the most common group of the model classes mapped to it.

    >>> cs = ClassSet("toy", ("rider", "bicycle", "motorcycle"), ("person", "two_wheeler", "two_wheeler"))
    >>> lm = LabelMap("m", (("rider", "Bicyclist"), ("bicycle", "Bicyclist"), ("motorcycle", "Bicyclist")))
    >>> annotation_groups(lm, cs, ["Bicyclist", "Sky"])
    ('two_wheeler', 'void')
    """
    check_label_map(label_map, model, annotation)
    votes: dict[str, Counter[str]] = {a: Counter() for a in annotation}
    for m, a in label_map.pairs:
        votes[a][model.groups[model.class_names.index(m)]] += 1
    return tuple(v.most_common(1)[0][0] if v else "void" for v in votes.values())


def default_label_map(model: ClassSet, fmt: str, annotation: Sequence[str]) -> LabelMap:
    """The map used without ``--label-map``: the built-in ``<model class set>-<format>`` when there
    is one, else each model class onto the annotation class of the same name (case ignored).

    >>> default_label_map(ClassSet("cityscapes", ("road", "x"), ("road", "void")), "camvid", ["Road"]).name
    'cityscapes-camvid'
    >>> default_label_map(ClassSet("toy", ("Road", "x"), ("road", "void")), "cvat-mask", ["road"]).pairs
    (('Road', 'road'),)
    """
    builtin = f"{model.name}-{fmt}"
    if builtin in builtin_label_maps():
        return load_label_map(builtin)
    lower = {a.lower(): a for a in annotation}
    pairs = tuple((m, lower[m.lower()]) for m in model.class_names if m.lower() in lower)
    if not pairs:
        raise InputError(
            f"no model class of {model.name!r} has the name of an annotation class ({', '.join(annotation[:8])}); "
            "give --label-map FILE with {\"model class\": \"annotation class\", ...}"
        )
    return LabelMap(f"same names ({model.name} -> {fmt})", pairs)


def indicator_classes(
    label_map: LabelMap, model: ClassSet, annotation: Sequence[str], indicators: Mapping[str, Sequence[str]] = INDICATOR_GROUPS
) -> dict[str, tuple[int, ...]]:
    """For each indicator, the annotation class ids its model classes map to (empty: not checkable).

    >>> cs = ClassSet("toy", ("person", "rider", "bike", "tree"), ("person", "person", "two_wheeler", "vegetation"))
    >>> lm = LabelMap("m", (("person", "Ped"), ("rider", "Cyclist"), ("bike", "Cyclist"), ("tree", "Tree")))
    >>> indicator_classes(lm, cs, ["Ped", "Cyclist", "Tree"], {"pedestrian_share": ("person",), "green_view": ("vegetation",)})
    {'pedestrian_share': (0, 1), 'green_view': (2,)}
    """
    lut = label_lut(label_map, model, annotation)
    out: dict[str, tuple[int, ...]] = {}
    for name, groups in indicators.items():
        ids = {int(lut[i]) for i, g in enumerate(model.groups) if g in groups and lut[i] != IGNORE}
        out[name] = tuple(sorted(ids))
    return out
