"""Stored evaluations: a model's measured accuracy on a set of annotated frames.

One row per (model weights, ground-truth set, camera): evaluating the same model on the same
frames and label map again replaces the row instead of adding one. ``evaluation_id`` is the hex
SHA-256 of ``weights_sha256 + "\\n" + gt_sha256 + "\\n" + (camera_id or "")``. The headline
numbers (mIoU, pixel accuracy, frequency-weighted IoU, in percent) are columns; everything else
(per-class IoU, indicator errors with intervals) is in ``metrics_json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from analytics import __version__
from analytics.errors import InputError
from analytics.store.database import Store

__all__ = ["EvaluationRow", "evaluation_id", "list_evaluations", "save_evaluation"]

_COLUMNS = (
    "evaluation_id", "model_name", "weights_sha256", "gt_sha256", "camera_id", "dataset_format", "label_map",
    "n_images", "miou", "pixel_accuracy", "fw_iou", "metrics_json", "code_version", "created_at",
)


def evaluation_id(weights_sha256: str, gt_sha256: str, camera_id: str | None) -> str:
    """The row key: SHA-256 of the weights hash, the ground-truth hash and the camera.

    >>> evaluation_id("a" * 64, "b" * 64, None) == evaluation_id("a" * 64, "b" * 64, None)
    True
    >>> evaluation_id("a" * 64, "b" * 64, None) == evaluation_id("a" * 64, "b" * 64, "cam-1")
    False
    """
    text = f"{weights_sha256}\n{gt_sha256}\n{camera_id or ''}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_hex64(value: str) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class EvaluationRow:
    """One evaluation as stored; scores in percent, ``camera_id`` None for footage of no camera."""

    model_name: str
    weights_sha256: str
    gt_sha256: str
    camera_id: str | None
    dataset_format: str
    label_map: str
    n_images: int
    miou: float | None
    pixel_accuracy: float | None
    fw_iou: float | None
    metrics_json: str

    def __post_init__(self) -> None:
        for what, value in (("weights_sha256", self.weights_sha256), ("gt_sha256", self.gt_sha256)):
            if not _is_hex64(value):
                raise InputError(f"{what}={value!r}; expected 64 lowercase hex digits")
        if not self.model_name:
            raise InputError("model_name is empty; expected the model's name")
        if not isinstance(self.n_images, int) or self.n_images < 1:
            raise InputError(f"n_images={self.n_images!r}; expected at least 1")

    @property
    def evaluation_id(self) -> str:
        return evaluation_id(self.weights_sha256, self.gt_sha256, self.camera_id)


def save_evaluation(store: Store, row: EvaluationRow) -> tuple[str, bool]:
    """Insert ``row`` or replace the stored evaluation with the same key; returns (id, replaced).

    A ``camera_id`` must name a stored camera (:class:`InputError` otherwise, nothing written).
    """
    if not isinstance(row, EvaluationRow):
        raise InputError(f"expected an EvaluationRow, got {type(row).__name__}")
    key = row.evaluation_id
    values = [
        key, row.model_name, row.weights_sha256, row.gt_sha256, row.camera_id, row.dataset_format, row.label_map,
        row.n_images, row.miou, row.pixel_accuracy, row.fw_iou, row.metrics_json, __version__,
        datetime.now().replace(microsecond=0),
    ]
    with store.transaction() as cur:
        if row.camera_id is not None and not cur.execute("SELECT count(*) FROM cameras WHERE camera_id = ?", [row.camera_id]).fetchall()[0][0]:
            raise InputError(f"unknown camera {row.camera_id!r}; add it first with `urbanlens cameras add` or leave out --camera")
        replaced = bool(cur.execute("SELECT count(*) FROM evaluations WHERE evaluation_id = ?", [key]).fetchall()[0][0])
        cur.execute(
            "INSERT INTO evaluations (evaluation_id, model_name, weights_sha256, gt_sha256, camera_id, dataset_format, label_map, "
            "n_images, miou, pixel_accuracy, fw_iou, metrics_json, code_version, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (evaluation_id) DO UPDATE SET model_name = excluded.model_name, dataset_format = excluded.dataset_format, "
            "label_map = excluded.label_map, n_images = excluded.n_images, miou = excluded.miou, "
            "pixel_accuracy = excluded.pixel_accuracy, fw_iou = excluded.fw_iou, metrics_json = excluded.metrics_json, "
            "code_version = excluded.code_version, created_at = excluded.created_at",
            values,
        )
    return key, replaced


def list_evaluations(store: Store, camera_id: str | None = None, model_name: str | None = None) -> pd.DataFrame:
    """Stored evaluations, newest first; filtered by camera and/or model name when given."""
    return store.query_df(
        "SELECT * FROM evaluations WHERE ($camera IS NULL OR camera_id = $camera) AND ($model IS NULL OR model_name = $model) "
        "ORDER BY created_at DESC, evaluation_id",
        {"camera": camera_id, "model": model_name},
    )
