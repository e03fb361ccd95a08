"""Object detection core types: the COCO class set, detector cards and per-frame detections.

A detector card (TOML) holds::

    name = "deimv2-femto"
    task = "object-detection"
    source_url = "https://..."          # upstream address of the ONNX file (pinned commit)
    sha256 = "..."                      # SHA-256 of that file
    license = "Apache-2.0"
    attribution = "..."
    input_height = 416
    input_width = 416
    channel_order = "RGB"               # or "BGR"
    scale = 0.00392156862745098         # pixel value multiplier (1/255), or 1.0 for 0-255
    resize = "stretch"                  # "stretch" (plain resize) | "letterbox" (keep aspect, pad top-left)
    pad_value = 114                     # letterbox padding grey level
    output_format = "deimv2"            # "deimv2" (labels, boxes, scores) | "yolox" (grid-relative, NMS)
    score_threshold = 0.5
    nms_iou = 0.45                      # class-wise NMS IoU (yolox only)
    class_set = "coco"                  # the 80 COCO classes, ids 0-79
    [groups]                            # COCO class name -> group; other classes are dropped
    person = "person"
    car = "car"

Groups are the classes counted: :data:`DETECTION_GROUPS`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import DataFormatError, InputError, quote_value
from analytics.untrusted import read_card_data

__all__ = [
    "COCO_CLASSES",
    "DEFAULT_DETECTOR",
    "DETECTION_GROUPS",
    "DETECTOR_RESIZE",
    "OUTPUT_FORMATS",
    "DetectorCard",
    "Detections",
    "detector_card_from_dict",
    "load_detector_card",
]

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
"""The 80 COCO detection classes in the order of their contiguous ids 0-79 (0 = person)."""

DETECTION_GROUPS: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")
"""The groups detections are counted in; a detection's ``group`` code is an index into this tuple."""

DEFAULT_DETECTOR = "deimv2-femto"
OUTPUT_FORMATS = ("deimv2", "yolox")
DETECTOR_RESIZE = ("stretch", "letterbox")
MAX_DETECTOR_CARD_BYTES = 64 * 1024


@dataclass(frozen=True)
class DetectorCard:
    """What an object detector is, where it comes from, how to feed it and how to read its output."""

    name: str
    output_format: str
    input_height: int = 416
    input_width: int = 416
    task: str = "object-detection"
    source_url: str | None = None
    sha256: str | None = None
    license: str = "unknown"
    attribution: str = ""
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    resize: str = "stretch"
    pad_value: int = 114
    score_threshold: float = 0.5
    nms_iou: float = 0.45
    class_set: str = "coco"
    groups: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        what = f"detector card {quote_value(self.name, 64)}"
        if not isinstance(self.name, str) or not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise InputError(f"{what}: name must use letters, digits, '-', '_' or '.'")
        _one_of(what, "task", self.task, ("object-detection",))
        _one_of(what, "output_format", self.output_format, OUTPUT_FORMATS)
        _one_of(what, "channel_order", self.channel_order, ("RGB", "BGR"))
        _one_of(what, "resize", self.resize, DETECTOR_RESIZE)
        _one_of(what, "class_set", self.class_set, ("coco",))
        for label, v, lo, hi in (("input_height", self.input_height, 32, 4096), ("input_width", self.input_width, 32, 4096),
                                 ("pad_value", self.pad_value, 0, 255)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise InputError(f"{what}: {label}={_show(v)}; expected a whole number from {lo} to {hi}")
        for label, fv, flo, fhi in (("scale", self.scale, 1e-6, 1.0), ("score_threshold", self.score_threshold, 0.0, 1.0),
                                    ("nms_iou", self.nms_iou, 0.0, 1.0)):
            if isinstance(fv, bool) or not isinstance(fv, int | float) or not math.isfinite(fv) or not flo <= fv <= fhi:
                raise InputError(f"{what}: {label}={_show(fv)}; expected a number from {flo:g} to {fhi:g}")
        if self.sha256 is not None and (len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)):
            raise InputError(f"{what}: sha256 must be 64 lowercase hex digits")
        _check_groups(what, self.groups)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return (self.input_height, self.input_width)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names by class id (COCO)."""
        return COCO_CLASSES

    @property
    def group_of_class(self) -> np.ndarray:
        """int8 ``[80]``: the group code (index into :data:`DETECTION_GROUPS`) of each class id, -1 for ignored ones."""
        codes = np.full(len(COCO_CLASSES), -1, np.int8)
        for cls, group in self.groups.items():
            codes[COCO_CLASSES.index(cls)] = DETECTION_GROUPS.index(group)
        return codes

    @property
    def weights_file(self) -> str:
        """The upstream file name (the last part of ``source_url``; the name looked up in the mirror)."""
        return (self.source_url or "").rsplit("/", 1)[-1] or f"{self.name}.onnx"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _show(value: object) -> str:
    """A number as written, anything else quoted and capped (:func:`~analytics.errors.quote_value`)."""
    return repr(value) if isinstance(value, int | float) else quote_value(value, 40)


def _one_of(what: str, key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{what}: {key} {quote_value(value, 40)}; expected one of {', '.join(allowed)}")


def _check_groups(what: str, groups: object) -> None:
    if not isinstance(groups, Mapping) or not groups:
        raise InputError(f"{what}: groups must be a table of COCO class name = group ({', '.join(DETECTION_GROUPS)})")
    for cls, group in groups.items():
        if cls not in COCO_CLASSES:
            raise InputError(f"{what}: groups: {quote_value(cls, 40)} is not a COCO class name (e.g. 'person', 'car')")
        if group not in DETECTION_GROUPS:
            raise InputError(f"{what}: groups: {cls} = {quote_value(group, 40)}; expected one of {', '.join(DETECTION_GROUPS)}")


def detector_card_from_dict(data: object) -> DetectorCard:
    """Validate and build a detector card from a parsed TOML/JSON table; unknown keys are refused."""
    if not isinstance(data, Mapping):
        raise DataFormatError(f"a detector card must be a table of keys, got {type(data).__name__}")
    known = set(DetectorCard.__dataclass_fields__)
    unknown = sorted(str(k) for k in set(data) - known)
    if unknown:
        raise DataFormatError(f"detector card: unknown key(s) {quote_value(unknown, 80)}; allowed: {sorted(known)}")
    missing = [k for k in ("name", "output_format", "groups") if k not in data]
    if missing:
        raise DataFormatError(f"detector card is missing {', '.join(missing)}")
    kwargs = dict(data)
    kwargs["groups"] = dict(kwargs["groups"]) if isinstance(kwargs["groups"], Mapping) else kwargs["groups"]
    return DetectorCard(**kwargs)


def load_detector_card(path: str | Path) -> DetectorCard:
    """Read a detector card from a .toml or .json file (at most 64 KiB)."""
    return detector_card_from_dict(read_card_data(path, "detector card", MAX_DETECTOR_CARD_BYTES))


def _check_array(name: str, value: object, dtype: type, shape: tuple[int | None, ...]) -> None:
    """ValueError naming the expected and actual dtype and shape of one column (None: any length)."""
    ok = (isinstance(value, np.ndarray) and value.dtype == np.dtype(dtype) and value.ndim == len(shape)
          and all(s is None or s == d for s, d in zip(shape, value.shape)))
    if not ok:
        want = "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"
        got = (f"{value.dtype} {list(value.shape)}" if isinstance(value, np.ndarray) else type(value).__name__)
        raise ValueError(f"Detections.{name}: expected {np.dtype(dtype)} {want}, got {got}")


@dataclass(frozen=True, eq=False)
class Detections:
    """The objects found in one frame: parallel arrays, one row per detection.

    ``xyxy`` float32 ``[N, 4]`` (x1, y1, x2, y2 in frame pixels, x1 <= x2, y1 <= y2), ``score``
    float32 ``[N]`` in [0, 1], ``class_id`` int16 ``[N]`` (COCO ids 0-79), ``group`` int8 ``[N]``
    (index into :data:`DETECTION_GROUPS`).

    >>> len(Detections.empty())
    0
    >>> Detections(np.zeros((1, 4), np.float32), np.ones(2, np.float32), np.zeros(1, np.int16), np.zeros(1, np.int8))
    Traceback (most recent call last):
    ...
    ValueError: Detections.score: expected float32 [1], got float32 [2]
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        _check_array("xyxy", self.xyxy, np.float32, (None, 4))
        n = self.xyxy.shape[0]
        _check_array("score", self.score, np.float32, (n,))
        _check_array("class_id", self.class_id, np.int16, (n,))
        _check_array("group", self.group, np.int8, (n,))
        if n and not np.isfinite(self.xyxy).all():
            raise ValueError("Detections.xyxy: expected finite pixel coordinates, got NaN or infinity")
        if n and ((self.xyxy[:, 2] < self.xyxy[:, 0]).any() or (self.xyxy[:, 3] < self.xyxy[:, 1]).any()):
            raise ValueError("Detections.xyxy: expected x1 <= x2 and y1 <= y2, got a box with them swapped")
        if n and not ((self.score >= 0) & (self.score <= 1)).all():
            raise ValueError(f"Detections.score: expected values in [0, 1], got {float(np.nanmin(self.score)):g} to "
                             f"{float(np.nanmax(self.score)):g}")
        if n and not ((self.class_id >= 0) & (self.class_id < len(COCO_CLASSES))).all():
            raise ValueError(f"Detections.class_id: expected COCO ids 0-79, got {int(self.class_id.min())} to {int(self.class_id.max())}")
        if n and not ((self.group >= 0) & (self.group < len(DETECTION_GROUPS))).all():
            raise ValueError(f"Detections.group: expected codes 0-{len(DETECTION_GROUPS) - 1} ({', '.join(DETECTION_GROUPS)}), "
                             f"got {int(self.group.min())} to {int(self.group.max())}")
        for a in (self.xyxy, self.score, self.class_id, self.group):
            a.flags.writeable = False

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16), np.zeros(0, np.int8))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @property
    def group_names(self) -> list[str]:
        """The group name of each detection."""
        return [DETECTION_GROUPS[g] for g in self.group.tolist()]

    def select(self, keep: np.ndarray) -> Detections:
        """The detections where the boolean mask (or index array) ``keep`` selects them."""
        return Detections(self.xyxy[keep].copy(), self.score[keep].copy(), self.class_id[keep].copy(), self.group[keep].copy())

    def of_groups(self, *groups: str) -> Detections:
        """Only the detections of the named groups (each one of :data:`DETECTION_GROUPS`)."""
        bad = [g for g in groups if g not in DETECTION_GROUPS]
        if bad:
            raise InputError(f"group {quote_value(bad[0], 40)}; expected one of {', '.join(DETECTION_GROUPS)}")
        codes = [DETECTION_GROUPS.index(g) for g in groups]
        return self.select(np.isin(self.group, codes))
