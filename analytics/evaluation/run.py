"""Score an installed model against annotated images: :func:`evaluate` -> :class:`Evaluation`.

Scoring rule (the one behind the CamVid figures in ``docs/models.md``):

1. The model runs at its card's input size with the card's resize policy (letterbox for the
   built-in models), through :class:`~analytics.footage.segment.Segmenter`, as ingest runs it.
2. Its labels are mapped back onto the image's own pixels (nearest neighbour,
   :func:`~analytics.footage.segment.labels_to_frame`, as ``urbanlens segment --keep-size``
   does), so they are scored at the mask's resolution; the mask must be the image's size.
3. Model classes become annotation classes through the label map; a class the map leaves out
   is void. A pixel is scored when its mask is labelled and its prediction is not void.
4. One confusion matrix per image; the metrics of :mod:`analytics.evaluation.metrics` over their
   sum, and the land-cover indicator errors over the images (each indicator counted in the
   annotation classes its model classes map to, :func:`~analytics.evaluation.labelmaps.indicator_classes`).

The ground-truth hash covers the format, the annotation classes, the label map and every image's
and mask's bytes, so the same frames scored again give the same hash (and one stored row).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from analytics.errors import DataFormatError, InputError
from analytics.evaluation.labelmaps import (
    LabelMap,
    annotation_groups,
    check_label_map,
    default_label_map,
    indicator_classes,
    label_lut,
)
from analytics.evaluation.metrics import (
    IGNORE,
    ErrorSummary,
    confusion_matrix,
    fw_iou,
    indicator_errors,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
    summarise_errors,
)
from analytics.evaluation.readers import GroundTruth, Sample
from analytics.footage.segment import Segmenter, labels_to_frame
from analytics.models.zoo import InstalledModel
from analytics.store.evaluations import EvaluationRow
from analytics.taxonomy import ClassSet

__all__ = ["Evaluation", "evaluate", "scoring_label_map"]

Progress = Callable[[int, int], None]


def _pct(x: float) -> float | None:
    """A fraction as percent rounded to 0.01, None for NaN (JSON null)."""
    return None if x is None or not math.isfinite(x) else round(100.0 * x, 2)


def _pp(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 2)


@dataclass(frozen=True)
class Evaluation:
    """A model scored on a ground-truth set. Scores are fractions; :meth:`to_dict` gives percent.

    ``confusion`` holds one ``(K, K)`` matrix per image (rows truth, columns prediction, annotation
    classes in ``class_names`` order); ``indicators`` the error summary of each land-cover indicator
    (percentage points, prediction minus truth).
    """

    model_name: str
    weights_sha256: str
    input_size: tuple[int, int]
    dataset_format: str
    label_map: LabelMap
    class_names: tuple[str, ...]
    class_groups: tuple[str, ...]
    image_names: tuple[str, ...]
    confusion: np.ndarray
    gt_sha256: str
    seconds: float
    indicators: dict[str, ErrorSummary] = field(default_factory=dict)
    bootstrap: dict[str, float] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    """Refinement, test-time augmentation and the road model the model ran with (empty: none, the segmenter alone)."""

    @property
    def total(self) -> np.ndarray:
        """The confusion matrix summed over images."""
        return self.confusion.sum(axis=0)

    @property
    def n_images(self) -> int:
        return len(self.image_names)

    @property
    def miou(self) -> float:
        return mean_iou(self.total)

    @property
    def pixel_accuracy(self) -> float:
        return pixel_accuracy(self.total)

    @property
    def fw_iou(self) -> float:
        return fw_iou(self.total)

    @property
    def iou(self) -> dict[str, float]:
        return dict(zip(self.class_names, iou_per_class(self.total).tolist(), strict=True))

    @property
    def images_per_second(self) -> float:
        return self.n_images / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values, scores in percent (None where undefined)."""
        return {
            "model": self.model_name,
            "weights_sha256": self.weights_sha256,
            "input_size": list(self.input_size),
            "format": self.dataset_format,
            "label_map": {"name": self.label_map.name, "map": self.label_map.as_dict()},
            "gt_sha256": self.gt_sha256,
            "images": self.n_images,
            "scored_pixels": int(self.total.sum()),
            "miou": _pct(self.miou),
            "pixel_accuracy": _pct(self.pixel_accuracy),
            "fw_iou": _pct(self.fw_iou),
            "iou": {k: _pct(v) for k, v in self.iou.items()},
            "indicator_error_pp": {
                name: {
                    "bias": _pp(s.bias), "bias_ci95": [_pp(s.bias_low), _pp(s.bias_high)],
                    "mae": _pp(s.mae), "mae_ci95": [_pp(s.mae_low), _pp(s.mae_high)], "images": s.n,
                }
                for name, s in self.indicators.items()
            },
            "classes": [{"name": n, "group": g} for n, g in zip(self.class_names, self.class_groups, strict=True)],
            "confusion": self.total.tolist(),
            "bootstrap": self.bootstrap,
            "images_per_second": _pp(self.images_per_second),
            **({"options": self.options} if self.options else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_row(self, camera_id: str | None = None) -> EvaluationRow:
        """The row :func:`analytics.store.evaluations.save_evaluation` stores."""
        d = self.to_dict()
        return EvaluationRow(
            model_name=self.model_name, weights_sha256=self.weights_sha256, gt_sha256=self.gt_sha256, camera_id=camera_id,
            dataset_format=self.dataset_format, label_map=self.label_map.name, n_images=self.n_images,
            miou=d["miou"], pixel_accuracy=d["pixel_accuracy"], fw_iou=d["fw_iou"], metrics_json=json.dumps(d),
            options=dict(self.options),
        )


def _decode_image(data: bytes, name: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise DataFormatError(f"image {name} is not an image OpenCV can read (PNG, JPEG, BMP, TIFF, WebP, ...)")
    return image


def _predict(segmenter: Segmenter, image: np.ndarray) -> np.ndarray:
    """Model class ids on the image's own pixels; padding and unseen pixels 255 (void)."""
    result = segmenter.segment(image)
    labels = np.full(result.labels.shape, IGNORE, np.uint8)
    y0, y1, x0, x1 = result.geometry.content
    labels[y0:y1, x0:x1] = result.labels[y0:y1, x0:x1]
    return labels_to_frame(labels, result.geometry, IGNORE)


def _score(segmenter: Segmenter, gt: GroundTruth, sample: Sample, lut: np.ndarray) -> tuple[np.ndarray, str, str]:
    """One image's confusion matrix, with the SHA-256 of its image and mask bytes."""
    image_bytes, mask_bytes = sample.image.read(), sample.mask.read()
    mask = gt.decode_mask(mask_bytes, sample.mask.name)
    image = _decode_image(image_bytes, sample.image.name)
    if mask.shape != image.shape[:2]:
        raise InputError(
            f"mask {sample.mask.name} is {mask.shape[1]}x{mask.shape[0]} but its image {sample.image.name} is "
            f"{image.shape[1]}x{image.shape[0]}; expected the same size"
        )
    pred = lut[_predict(segmenter, image)]
    cm = confusion_matrix(mask, pred, len(gt.class_names))
    return cm, hashlib.sha256(image_bytes).hexdigest(), hashlib.sha256(mask_bytes).hexdigest()


def _gt_hash(gt: GroundTruth, label_map: LabelMap, digests: list[tuple[str, str, str]]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": gt.format, "classes": list(gt.class_names), "label_map": label_map.canonical_json()}).encode())
    for name, image_sha, mask_sha in sorted(digests):
        h.update(f"\n{name}\t{image_sha}\t{mask_sha}".encode())
    return h.hexdigest()


def _road_name(segmenter: Segmenter) -> str:
    """The road model fused into the segmenter's labels, ``none`` when it runs alone."""
    return segmenter.road.card.name if segmenter.road is not None else "none"


def scoring_label_map(model: ClassSet, gt: GroundTruth, label_map: LabelMap | None = None) -> LabelMap:
    """The label map :func:`evaluate` scores ``gt`` with (``label_map``, else
    :func:`~analytics.evaluation.labelmaps.default_label_map`), checked against the model's classes
    ``model`` and the annotation's (:func:`~analytics.evaluation.labelmaps.check_label_map`): an
    :class:`~analytics.errors.InputError` names what it lacks. Reads no model file, so a caller checks
    its inputs with it before any model is run or installed.

    >>> cs = ClassSet("toy", ("road", "tree"), ("road", "vegetation"))
    >>> gt = GroundTruth("cvat-mask", ("road", "tree"), None, (), lambda data, name: np.zeros(1))
    >>> scoring_label_map(cs, gt).pairs
    (('road', 'road'), ('tree', 'tree'))
    """
    if not isinstance(gt, GroundTruth):
        raise InputError(f"ground truth must be a GroundTruth, got {type(gt).__name__}")
    lm = label_map if label_map is not None else default_label_map(model, gt.format, gt.class_names)
    check_label_map(lm, model, gt.class_names)
    return lm


def evaluate(
    model: InstalledModel, gt: GroundTruth, label_map: LabelMap | None = None, *, threads: int | None = None, spin: bool = False,
    n_boot: int = 2000, seed: int = 0, progress: Progress | None = None, refine: str = "none", tta: str = "none",
) -> Evaluation:
    """Score ``model`` on every sample of ``gt`` (see the module docstring for the rule).

    ``label_map`` defaults to :func:`~analytics.evaluation.labelmaps.default_label_map`; the
    indicator intervals use ``n_boot`` bootstrap resamples drawn with ``seed``. ``refine`` and ``tta``
    are the segmenter's (:mod:`analytics.footage.refine`); they are recorded in ``options``, and so is
    the road model run beside it (``model.road``, :func:`analytics.models.zoo.with_road`), as the analysis runs it.
    """
    if not isinstance(model, InstalledModel):
        raise InputError(f"model must be an installed model, got {type(model).__name__}")
    if not isinstance(gt, GroundTruth) or not gt.samples:
        raise InputError("the ground truth holds no annotated images")
    card = model.card
    lm = scoring_label_map(card.class_set, gt, label_map)
    lut = label_lut(lm, card.class_set, gt.class_names)
    groups = gt.groups if gt.groups is not None else annotation_groups(lm, card.class_set, gt.class_names)
    segmenter = Segmenter(model.onnx_path, card, threads=threads, spin=spin, refine=refine, tta=tta).set_road(model.road)
    start = time.perf_counter()
    cms, digests = [], []
    for i, sample in enumerate(gt.samples):
        cm, image_sha, mask_sha = _score(segmenter, gt, sample, lut)
        cms.append(cm)
        digests.append((sample.name, image_sha, mask_sha))
        if progress is not None:
            progress(i + 1, len(gt.samples))
    seconds = time.perf_counter() - start
    confusion = np.stack(cms)
    errors = indicator_errors(confusion, indicator_classes(lm, card.class_set, gt.class_names))
    return Evaluation(
        model_name=card.name, weights_sha256=model.weights_sha256, input_size=card.input_size, dataset_format=gt.format,
        label_map=lm, class_names=gt.class_names, class_groups=tuple(groups), image_names=tuple(s.name for s in gt.samples),
        confusion=confusion, gt_sha256=_gt_hash(gt, lm, digests), seconds=seconds,
        indicators={k: summarise_errors(v, n_boot, seed) for k, v in errors.items()},
        bootstrap={"resamples": n_boot, "seed": seed, "level": 0.95},
        options={k: v for k, v in (("refine", refine), ("tta", tta), ("road_model", _road_name(segmenter))) if v != "none"},
    )
