"""Class sets and indicator groups: the shared vocabulary of UrbanLens.

A *class set* is the list of classes a segmentation model predicts, in output-channel order,
each mapped to one *indicator group*. Indicators are computed over groups, never over a model's
own class names, so any model with a card feeds the same indicators.

Groups: road, sidewalk, built, vegetation, terrain, sky, person, two_wheeler, vehicle, damage,
void. ``void`` pixels are counted but left out of every denominator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics.errors import InputError

__all__ = [
    "GROUPS",
    "VALID_GROUPS",
    "GROUP_LABELS",
    "GROUP_COLORS",
    "ClassSet",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES",
    "BUILTIN_CLASS_SETS",
    "group_label",
]

GROUPS: tuple[str, ...] = (
    "road",
    "sidewalk",
    "built",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "two_wheeler",
    "vehicle",
    "damage",
    "void",
)
"""Indicator groups in storage order. ``two_wheeler`` is written "two-wheeler" in the UI."""

VALID_GROUPS: tuple[str, ...] = tuple(g for g in GROUPS if g != "void")

GROUP_LABELS: dict[str, str] = {
    "road": "Road",
    "sidewalk": "Sidewalk",
    "built": "Built (buildings, walls, poles, signs)",
    "vegetation": "Vegetation",
    "terrain": "Terrain (grass, soil)",
    "sky": "Sky",
    "person": "People (pedestrians and riders)",
    "two_wheeler": "Two-wheelers",
    "vehicle": "Vehicles",
    "damage": "Road damage",
    "void": "Void / unlabelled",
}

# Colour per group for overlays and charts (RGB); chosen to stay distinct for common
# colour-vision deficiencies (no red/green pair carries meaning on its own).
GROUP_COLORS: dict[str, tuple[int, int, int]] = {
    "road": (128, 64, 128),
    "sidewalk": (244, 35, 232),
    "built": (70, 70, 70),
    "vegetation": (107, 142, 35),
    "terrain": (152, 251, 152),
    "sky": (70, 130, 180),
    "person": (220, 20, 60),
    "two_wheeler": (255, 170, 0),
    "vehicle": (0, 0, 142),
    "damage": (255, 255, 0),
    "void": (0, 0, 0),
}


@dataclass(frozen=True)
class ClassSet:
    """Class names of a model in output order, each with its indicator group.

    >>> cs = ClassSet("toy", ("asphalt", "tree", "unknown"), ("road", "vegetation", "void"))
    >>> cs.num_classes, cs.group_of(1), cs.class_ids("void")
    (3, 'vegetation', (2,))
    """

    name: str
    class_names: tuple[str, ...]
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.class_names:
            raise InputError(f"class set {self.name!r} has no classes")
        if len(self.class_names) != len(self.groups):
            raise InputError(
                f"class set {self.name!r}: {len(self.class_names)} class names but "
                f"{len(self.groups)} groups; expected one group per class"
            )
        unknown = sorted({g for g in self.groups if g not in GROUPS})
        if unknown:
            raise InputError(
                f"class set {self.name!r}: unknown indicator group(s) {unknown}; "
                f"allowed: {', '.join(GROUPS)}"
            )
        if len(self.class_names) > 255:
            raise InputError(f"class set {self.name!r}: {len(self.class_names)} classes; at most 255 are supported")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def group_of(self, class_id: int) -> str:
        return self.groups[class_id]

    def class_ids(self, group: str) -> tuple[int, ...]:
        """Ids of the classes that feed ``group``."""
        if group not in GROUPS:
            raise InputError(f"unknown indicator group {group!r}; allowed: {', '.join(GROUPS)}")
        return tuple(i for i, g in enumerate(self.groups) if g == group)

    @property
    def has_damage_classes(self) -> bool:
        return "damage" in self.groups

    def group_index(self) -> tuple[int, ...]:
        """For each class id, the position of its group in :data:`GROUPS`."""
        return tuple(GROUPS.index(g) for g in self.groups)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "classes": [{"name": n, "group": g} for n, g in zip(self.class_names, self.groups)]}

    @classmethod
    def from_mapping(cls, name: str, classes: Sequence[Mapping[str, str]] | Mapping[str, str]) -> ClassSet:
        """Build from ``[{"name": ..., "group": ...}, ...]`` or an ordered ``{name: group}``."""
        if isinstance(classes, Mapping):
            pairs = [(str(k), str(v)) for k, v in classes.items()]
        else:
            pairs = []
            for i, item in enumerate(classes):
                if not isinstance(item, Mapping) or "name" not in item or "group" not in item:
                    raise InputError(f"class set {name!r}: entry {i} must have 'name' and 'group', got {item!r}")
                pairs.append((str(item["name"]), str(item["group"])))
        return cls(name, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


CITYSCAPES_CLASSES: tuple[tuple[str, str], ...] = (
    ("road", "road"),
    ("sidewalk", "sidewalk"),
    ("building", "built"),
    ("wall", "built"),
    ("fence", "built"),
    ("pole", "built"),
    ("traffic light", "built"),
    ("traffic sign", "built"),
    ("vegetation", "vegetation"),
    ("terrain", "terrain"),
    ("sky", "sky"),
    ("person", "person"),
    ("rider", "person"),
    ("car", "vehicle"),
    ("truck", "vehicle"),
    ("bus", "vehicle"),
    ("train", "vehicle"),
    ("motorcycle", "two_wheeler"),
    ("bicycle", "two_wheeler"),
    ("background", "void"),
)
"""Cityscapes' 19 train-id classes plus background (id 19), as ESPNetv2 predicts them.

``rider`` feeds the *person* group: a cyclist is a person using the street, and the
pedestrian-usage indicator is defined as person + rider pixels.
"""

CITYSCAPES = ClassSet(
    "cityscapes",
    tuple(c for c, _ in CITYSCAPES_CLASSES),
    tuple(g for _, g in CITYSCAPES_CLASSES),
)

BUILTIN_CLASS_SETS: dict[str, ClassSet] = {"cityscapes": CITYSCAPES}


def group_label(group: str, short: bool = False) -> str:
    """Human label of a group, e.g. ``two_wheeler`` → ``Two-wheelers``; ``short`` drops the explanation in brackets.

    >>> group_label("built"), group_label("built", short=True)
    ('Built (buildings, walls, poles, signs)', 'Built')
    """
    label = GROUP_LABELS.get(group, group.replace("_", " ").capitalize())
    return label.split(" (")[0] if short else label
