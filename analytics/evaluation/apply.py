"""Stored evaluations applied to the numbers: which evaluation speaks for each camera, and adjusted indicators.

:func:`camera_evaluations` reads each camera's model (:func:`analytics.store.evaluations.camera_models`)
and the stored evaluations of those weights, and picks the one that applies by the rule of
:func:`analytics.evaluation.adjust.choose_evaluation` (the camera's own annotated frames, else the
model's, else none). :func:`adjusted_indicators` runs :func:`analytics.indicators.compute` and
error-adjusts its land-cover shares with those evaluations (:func:`analytics.evaluation.adjust.adjust_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

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
from analytics.store.evaluations import camera_models, evaluations_of_weights

if TYPE_CHECKING:
    from analytics.store import Store

__all__ = ["adjusted_indicators", "camera_evaluations"]

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
    evals = evaluations_of_weights(store, cams["weights_sha256"].dropna().unique())
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
