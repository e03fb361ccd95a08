"""Stored evaluations: a model's measured accuracy on a set of annotated frames.

One row per (model weights, ground-truth set, camera): evaluating the same model on the same
frames and label map again replaces the row instead of adding one. ``evaluation_id`` is the hex
SHA-256 of ``weights_sha256 + "\\n" + gt_sha256 + "\\n" + (camera_id or "")``. The headline
numbers (mIoU, pixel accuracy, frequency-weighted IoU, in percent) are columns; everything else
(per-class IoU, indicator errors with intervals, the confusion matrix in annotation classes and each
class's indicator group) is in ``metrics_json``.

Reading them beside the numbers: :func:`camera_evaluations` says which evaluation applies to each
camera (the rule of :func:`analytics.evaluation.adjust.choose_evaluation`) and
:func:`adjusted_indicators` error-adjusts land-cover indicators with them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from analytics import __version__
from analytics.errors import InputError
from analytics.evaluation.adjust import (
    ADJUSTED_INDICATORS,
    FOOTAGE_GROUPS,
    CellPart,
    adjust_table,
    choose_evaluation,
    confusion_from_metrics,
    indicator_bias,
)
from analytics.indicators import INDICATORS, compute
from analytics.selection import Selection
from analytics.store.database import Store
from analytics.store.ingest import refuse_mixing

__all__ = [
    "EvaluationRow",
    "adjusted_indicators",
    "camera_evaluations",
    "camera_models",
    "evaluation_id",
    "list_evaluations",
    "save_evaluation",
]

_COLUMNS = (
    "evaluation_id", "model_name", "weights_sha256", "gt_sha256", "camera_id", "dataset_format", "label_map",
    "n_images", "miou", "pixel_accuracy", "fw_iou", "metrics_json", "code_version", "created_at",
)


def evaluation_id(weights_sha256: str, gt_sha256: str, camera_id: str | None, options: Mapping[str, str] | None = None) -> str:
    """The row key: SHA-256 of the weights hash, the ground-truth hash, the camera and the segmenter options.

    ``options`` (``{"refine": "crf", "tta": "flip"}``; values ``none`` are dropped) join the key as
    sorted ``name=value`` lines, so scoring with ``--refine crf`` is stored beside the plain
    evaluation instead of replacing it; without options the key is the one stored before options existed.

    >>> evaluation_id("a" * 64, "b" * 64, None) == evaluation_id("a" * 64, "b" * 64, None, {"tta": "none"})
    True
    >>> evaluation_id("a" * 64, "b" * 64, None) == evaluation_id("a" * 64, "b" * 64, "cam-1")
    False
    >>> evaluation_id("a" * 64, "b" * 64, None) == evaluation_id("a" * 64, "b" * 64, None, {"refine": "crf"})
    False
    """
    text = f"{weights_sha256}\n{gt_sha256}\n{camera_id or ''}"
    used = sorted((str(k), str(v)) for k, v in (options or {}).items() if str(v) != "none")
    if used:
        text += "\n" + "\n".join(f"{k}={v}" for k, v in used)
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
    options: Mapping[str, str] = field(default_factory=dict)

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
        return evaluation_id(self.weights_sha256, self.gt_sha256, self.camera_id, self.options)


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
        refuse_mixing(cur, store.where, synthetic=False, what="evaluations")
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


def camera_models(store: Store) -> pd.DataFrame:
    """Every camera with the model its active clips were analysed with (most frames first; None without footage).

    Columns: camera_id, camera_name, model_name, weights_sha256, frames.
    """
    return store.query_df(
        "WITH used AS (SELECT c.camera_id, r.model_name, r.weights_sha256, sum(r.n_frames) AS frames "
        "FROM model_runs r JOIN clips c ON c.clip_sha256 = r.clip_sha256 WHERE r.active "
        "GROUP BY c.camera_id, r.model_name, r.weights_sha256 "
        "QUALIFY row_number() OVER (PARTITION BY c.camera_id ORDER BY sum(r.n_frames) DESC, r.model_name, r.weights_sha256) = 1) "
        "SELECT cam.camera_id, cam.name AS camera_name, u.model_name, u.weights_sha256, coalesce(u.frames, 0) AS frames "
        "FROM cameras cam LEFT JOIN used u ON u.camera_id = cam.camera_id ORDER BY cam.camera_id"
    )


_EVALUATION_FIELDS = ("evaluation_id", "dataset_format", "label_map", "n_images", "miou", "pixel_accuracy", "created_at", "metrics_json")


def camera_evaluations(store: Store, indicator: str | None = None) -> pd.DataFrame:
    """For every camera, the evaluation that applies to it: its own annotated frames, else the model's, else none.

    Columns: camera_id, camera_name, model_name, weights_sha256, source (``camera``/``model``/``none``),
    evaluation_id, dataset_format, label_map, n_images, miou, pixel_accuracy (percent), created_at,
    metrics_json, and for ``indicator`` (when given) its bias, bias_low, bias_high in percentage points
    (NaN where the evaluation does not measure it).
    """
    if indicator is not None and indicator not in INDICATORS:
        raise InputError(f"unknown indicator {indicator!r}; choose from {', '.join(INDICATORS)}")
    cams = camera_models(store)
    evals = store.query_df(
        "SELECT evaluation_id, camera_id, weights_sha256, dataset_format, label_map, n_images, miou, pixel_accuracy, "
        "created_at, metrics_json FROM evaluations WHERE weights_sha256 IN (SELECT unnest($w))",
        {"w": [str(w) for w in cams["weights_sha256"].dropna().unique()]},
    )
    candidates = [{str(k): v for k, v in r.items()} for r in evals.to_dict("records")]
    rows: list[dict[str, Any]] = []
    for cam in cams.to_dict("records"):
        source, ev = choose_evaluation(str(cam["camera_id"]), cam["weights_sha256"], candidates)
        row = {k: cam[k] for k in ("camera_id", "camera_name", "model_name", "weights_sha256")}
        row["source"] = source
        row.update({k: (ev[k] if ev is not None else None) for k in _EVALUATION_FIELDS})
        if indicator is not None:
            bias = indicator_bias(ev["metrics_json"], indicator) if ev is not None else (float("nan"),) * 3
            row.update(zip(("bias", "bias_low", "bias_high"), bias, strict=True))
        rows.append(row)
    cols = ["camera_id", "camera_name", "model_name", "weights_sha256", "source", *_EVALUATION_FIELDS]
    return pd.DataFrame(rows, columns=cols + (["bias", "bias_low", "bias_high"] if indicator is not None else []))


def adjusted_indicators(
    store: Store,
    selection: Selection,
    by: str | Sequence[str] = "district",
    indicators: Sequence[str] | None = None,
    h3_resolution: int = 8,
) -> pd.DataFrame:
    """:func:`analytics.indicators.compute` with land-cover shares error-adjusted by the evaluation of each camera.

    Cameras are grouped by the evaluation that applies to them; a cell whose frames all come from
    cameras of one group is adjusted with that evaluation (:func:`analytics.evaluation.adjust.adjust_table`),
    a cell mixing groups keeps its value. ``selection`` and ``h3_resolution`` go to ``compute``
    (with one group's cameras where they differ). Adds the columns ``adjusted`` and ``adjustment``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    cameras = selection.cameras
    base = compute(store, selection, by=keys, indicators=indicators, h3_resolution=h3_resolution)
    if base.empty or not base["indicator"].isin(list(ADJUSTED_INDICATORS)).any():
        return adjust_table(base, keys, [])
    evals = camera_evaluations(store)
    if cameras:
        evals = evals[evals["camera_id"].isin([str(c) for c in cameras])]
    groups = evals.assign(_key=evals["evaluation_id"].fillna("")).groupby("_key", sort=True)
    shares = [f"share_{g}" for g in FOOTAGE_GROUPS]
    parts = []
    for key, members in groups:
        conf = confusion_from_metrics(members["metrics_json"].iloc[0]) if key else None
        source = str(members["source"].iloc[0]) if conf is not None else "none"
        if groups.ngroups == 1 and conf is None:
            break  # one group without an evaluation: nothing to adjust, no membership needed
        cams = None if groups.ngroups == 1 else members["camera_id"].astype(str).tolist()
        part = compute(store, selection.with_(cameras=cams or cameras), by=keys, indicators=shares, h3_resolution=h3_resolution)
        parts.append(CellPart(conf, source, part))
    return adjust_table(base, keys, parts)
