"""Accuracy beside the numbers: which evaluation applies to a camera, what it says, and error-adjusted shares.

Pure compute (numpy, pandas, the one formatter); the store reads evaluations and indicators and
calls these functions.

**Which evaluation applies** (:func:`choose_evaluation`). For a camera whose clips were analysed
with a model (its weights hash): an evaluation stored for *this camera* with those weights; else
the model's evaluation on other footage (same weights, no camera); else none ("accuracy not
measured"). Among several of one kind, the newest.

**Error-adjusted land-cover shares** (:func:`adjusted_shares`). The good-practice estimator of
area from an error matrix (Olofsson, Foody, Herold, Stehman, Woodcock & Wulder 2014, "Good
practices for estimating area and assessing accuracy of land change", Remote Sensing of
Environment 148:42-57, eqs. 9-10), with pixel shares in place of areas:

- the evaluation's confusion in indicator groups, ``n_ij`` = pixels *mapped* (predicted) as group
  ``i`` whose *reference* (annotation) is group ``j`` (rows map, columns reference: the
  transpose of the evaluation's ``cm[truth, prediction]``), void left out;
- ``W_i`` = the mapped share of group ``i`` in the footage being reported (``share_<i>``);
- the adjusted share of reference group ``j``: ``p_j = Σ_i W_i n_ij / n_i·`` (eq. 9);
- its standard error from the accuracy sample: ``SE(p_j) = sqrt(Σ_i W_i² (n_ij/n_i·)(1 − n_ij/n_i·) / (n_i· − 1))`` (eq. 10).

An indicator counting several groups ``S`` uses ``n_iS = Σ_{j∈S} n_ij`` in both formulas.

Adapted to pixels: the pixels of one annotated image are not independent draws, so the counts
enter eq. 10 in *image units*: ``n_ij`` is scaled by ``images / scored pixels`` (an image's worth
of pixels is one sampling unit), and ``n_i· − 1`` is taken as at least 1. A group the evaluation
does not have (CamVid has no terrain) or never predicted keeps its mapped share (an identity row,
no variance). The footage's own sampling uncertainty enters through the unadjusted indicator's
95% interval: ``SE_ind = (high − low) / (2 × 1.96)``, and the adjusted interval is
``p ± 1.96 sqrt(SE(p)² + SE_ind²)``, clipped to [0, 1]; no interval where the indicator has none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import InputError
from analytics.evaluation.metrics import INDICATOR_GROUPS
from analytics.formatting import format_day, format_difference, format_difference_interval, format_percent
from analytics.indicators import INDICATORS
from analytics.taxonomy import GROUPS, VALID_GROUPS

__all__ = [
    "ADJUSTED_INDICATORS",
    "FOOTAGE_GROUPS",
    "SOURCES",
    "GroupConfusion",
    "accuracy_line",
    "accuracy_table",
    "adjust_table",
    "adjusted_share",
    "adjusted_shares",
    "adjustment_summary",
    "choose_evaluation",
    "combined_interval",
    "confusion_from_metrics",
    "group_confusion",
    "indicator_bias",
]

Z95 = 1.959963984540054
"""Normal quantile of a two-sided 95% interval."""

ADJUSTED_INDICATORS: dict[str, tuple[str, ...]] = dict(INDICATOR_GROUPS)
"""The land-cover indicators that can be error-adjusted, with the indicator groups each counts."""

FOOTAGE_GROUPS: tuple[str, ...] = tuple(g for g in VALID_GROUPS if g != "damage")
"""Groups whose mapped share ``W`` comes from the footage (the ``share_<group>`` indicators)."""

SOURCES = ("camera", "model", "none")
"""Where a camera's accuracy comes from: its own annotated frames, the model on other footage, nowhere."""

NOT_ADJUSTED = {
    "none": "not adjusted: no evaluation applies",
    "mixed": "not adjusted: cameras with different evaluations",
    "group": "not adjusted: the evaluation has no class for this indicator",
    "other": "",
}
"""Why a cell of an adjustable indicator keeps its unadjusted value (``other``: not a land-cover indicator)."""


# ---------------------------------------------------------------------------------------------
# the confusion in groups


@dataclass(frozen=True)
class GroupConfusion:
    """An error matrix in indicator groups: ``counts[i, j]`` of map (predicted) group ``i`` and reference group ``j``.

    Counts are in sampling units (image units for pixel evaluations, see the module docstring).

    >>> GroupConfusion(("road", "sky"), np.array([[9.0, 1.0], [0.0, 5.0]])).groups
    ('road', 'sky')
    """

    groups: tuple[str, ...]
    counts: np.ndarray

    def __post_init__(self) -> None:
        c = np.asarray(self.counts, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] != len(self.groups):
            raise InputError(f"an error matrix of {len(self.groups)} groups must be {len(self.groups)}x{len(self.groups)}, got {c.shape}")
        if not np.isfinite(c).all() or (c < 0).any():
            raise InputError("an error matrix holds counts: expected finite numbers of at least 0")
        bad = [g for g in self.groups if g not in VALID_GROUPS]
        if bad or len(set(self.groups)) != len(self.groups):
            raise InputError(f"error matrix groups {list(self.groups)}: expected distinct groups from {', '.join(VALID_GROUPS)}")
        object.__setattr__(self, "counts", c)


def group_confusion(confusion: np.ndarray, class_groups: Sequence[str], units: float | None = None) -> GroupConfusion:
    """Collapse an evaluation's ``cm[truth, prediction]`` in annotation classes to a map × reference matrix in groups.

    ``n[g(p), g(t)] = Σ cm[t, p]`` over the classes of each group; classes of group ``void`` are
    dropped. ``units`` rescales the counts to sum to that many sampling units (e.g. the number of
    annotated images); None keeps them.

    >>> cm = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 5]])            # truth Tree, Grass, Sky; columns predicted
    >>> gc = group_confusion(cm, ["vegetation", "vegetation", "sky"])
    >>> gc.groups, gc.counts.tolist()
    (('vegetation', 'sky'), [[20.0, 0.0], [0.0, 5.0]])
    >>> group_confusion(np.array([[3, 1], [0, 4]]), ["road", "sky"], units=2).counts.tolist()   # rows map: transposed
    [[0.75, 0.0], [0.25, 1.0]]
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_groups):
        raise InputError(f"confusion matrix of shape {cm.shape} for {len(class_groups)} classes; expected square, one row per class")
    unknown = sorted({g for g in class_groups if g not in GROUPS})
    if unknown:
        raise InputError(f"unknown indicator group(s) {unknown}; allowed: {', '.join(GROUPS)}")
    groups = tuple(dict.fromkeys(g for g in class_groups if g != "void"))
    onehot = np.array([[1.0 if cg == g else 0.0 for g in groups] for cg in class_groups]).reshape(len(class_groups), len(groups))
    counts = onehot.T @ cm.T @ onehot   # [map group, reference group]
    if units is not None:
        total = counts.sum()
        if not (isinstance(units, (int, float)) and units > 0):
            raise InputError(f"units={units!r}; expected a positive number of sampling units")
        counts = counts * (units / total) if total > 0 else counts
    return GroupConfusion(groups, counts)


def confusion_from_metrics(metrics: Mapping[str, Any] | str) -> GroupConfusion | None:
    """The error matrix in groups, in image units, from a stored evaluation's metrics (JSON text or dict).

    Reads ``confusion`` (annotation classes, rows truth), ``classes`` (each with its ``group``) and
    ``images``; None where the evaluation does not hold them.

    >>> m = {"confusion": [[3, 1], [0, 4]], "classes": [{"name": "Road", "group": "road"}, {"name": "Sky", "group": "sky"}], "images": 2}
    >>> confusion_from_metrics(m).counts.tolist()
    [[0.75, 0.0], [0.25, 1.0]]
    >>> confusion_from_metrics("{}") is None
    True
    """
    data = json.loads(metrics) if isinstance(metrics, str) else metrics
    try:
        cm = np.asarray(data["confusion"], dtype=np.float64)
        groups = [str(c["group"]) for c in data["classes"]]
        images = int(data["images"])
    except (KeyError, TypeError, ValueError):
        return None
    if cm.size == 0 or images < 1:
        return None
    return group_confusion(cm, groups, units=images)


# ---------------------------------------------------------------------------------------------
# the estimator


def _full_matrix(conf: GroupConfusion, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row proportions ``q_ij = n_ij / n_i·`` over ``groups`` (identity rows where not measured) and ``max(n_i· − 1, 1)``."""
    g = len(groups)
    q, den = np.eye(g), np.ones(g)
    row_total = conf.counts.sum(axis=1)
    for a, gi in enumerate(groups):
        if gi not in conf.groups or row_total[conf.groups.index(gi)] <= 0:
            continue
        i = conf.groups.index(gi)
        q[a] = [conf.counts[i, conf.groups.index(gj)] / row_total[i] if gj in conf.groups else 0.0 for gj in groups]
        den[a] = max(row_total[i] - 1.0, 1.0)
    return q, den


def adjusted_shares(mapped: np.ndarray, groups: Sequence[str], conf: GroupConfusion, target: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Olofsson et al. 2014 eqs. 9-10 for the groups ``target``, one footage cell per row of ``mapped``.

    ``mapped`` is ``(n, G)``: the mapped shares ``W_i`` of ``groups`` in each cell. Returns the
    adjusted shares ``p_S = Σ_i W_i q_iS`` and their standard errors from the accuracy sample
    ``sqrt(Σ_i W_i² q_iS (1 − q_iS) / max(n_i· − 1, 1))`` with ``q_iS = Σ_{j∈S} n_ij / n_i·``.
    NaN where a ``W`` is missing. Raises :class:`InputError` when ``target`` names a group the
    evaluation has no class for.

    >>> conf = GroupConfusion(("road", "vegetation"), np.array([[9.0, 1.0], [2.0, 8.0]]))
    >>> p, se = adjusted_shares(np.array([[0.5, 0.5]]), ("road", "vegetation"), conf, ["vegetation"])
    >>> round(float(p[0]), 4), round(float(se[0]), 4)     # 0.5·0.1 + 0.5·0.8; sqrt(0.25·0.09/9 + 0.25·0.16/9)
    (0.45, 0.0833)
    """
    missing = [t for t in target if t not in conf.groups]
    if missing or not target:
        raise InputError(f"the evaluation has no class of group(s) {missing or list(target)}; it has {', '.join(conf.groups)}")
    bad = [t for t in target if t not in groups]
    if bad:
        raise InputError(f"target group(s) {bad} are not among the footage groups {list(groups)}")
    w = np.asarray(mapped, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != len(groups):
        raise InputError(f"mapped shares must be (cells, {len(groups)}), got {w.shape}")
    q, den = _full_matrix(conf, groups)
    q_s = q[:, [list(groups).index(t) for t in target]].sum(axis=1)
    p = w @ q_s
    var = (w**2) @ (q_s * (1.0 - q_s) / den)
    return p, np.sqrt(var)


def adjusted_share(mapped: Mapping[str, float], conf: GroupConfusion, target: Sequence[str]) -> tuple[float, float]:
    """One cell: ``(p_S, SE(p_S))`` from mapped shares by group (see :func:`adjusted_shares`).

    Olofsson et al. 2014's numerical example (their Table 8; W from the mapped areas of 200,000,
    150,000, 3,200,000 and 6,450,000 pixels): deforestation is 2.35% of the area (235,086 pixels
    = 21,158 ha of 0.09 ha pixels), with a 95% interval of ±6,158 ha.

    >>> conf = GroupConfusion(("built", "vegetation", "terrain", "road"),
    ...                       np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]))
    >>> p, se = adjusted_share({"built": 0.02, "vegetation": 0.015, "terrain": 0.32, "road": 0.645}, conf, ["built"])
    >>> round(p * 1e7 * 0.09), round(1.96 * se * 1e7 * 0.09)
    (21158, 6158)
    """
    groups = tuple(mapped)
    p, se = adjusted_shares(np.array([[float(mapped[g]) for g in groups]]), groups, conf, target)
    return float(p[0]), float(se[0])


def combined_interval(p: float | np.ndarray, se_accuracy: float | np.ndarray, low: Any, high: Any) -> tuple[Any, Any]:
    """95% interval of an adjusted share: ``p ± 1.96 sqrt(SE_acc² + SE_ind²)``, ``SE_ind = (high − low) / 3.92``, in [0, 1].

    >>> lo, hi = combined_interval(0.30, 0.01, 0.26, 0.34)     # SE_ind = 0.0204; sqrt(0.01² + 0.0204²) = 0.0227
    >>> round(lo, 4), round(hi, 4)
    (0.2555, 0.3445)
    >>> combined_interval(0.30, 0.01, float("nan"), float("nan"))   # a single clip: no interval
    (nan, nan)
    """
    se_ind = (np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)) / (2.0 * Z95)
    half = Z95 * np.sqrt(np.asarray(se_accuracy, dtype=np.float64) ** 2 + se_ind**2)
    lo, hi = np.clip(p - half, 0.0, 1.0), np.clip(p + half, 0.0, 1.0)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


# ---------------------------------------------------------------------------------------------
# which evaluation applies, and what it says


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _options(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The segmenter options an evaluation was scored with (``{}`` for a plain one), from its ``metrics_json``."""
    raw = evaluation.get("metrics_json")
    if _blank(raw):
        return {}
    try:
        metrics = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    options = metrics.get("options") if isinstance(metrics, Mapping) else None
    return {str(k): v for k, v in options.items() if v != "none"} if isinstance(options, Mapping) else {}


def choose_evaluation(
    camera_id: str, weights_sha256: str | None, evaluations: Sequence[Mapping[str, Any]]
) -> tuple[str, Mapping[str, Any] | None]:
    """``(source, evaluation)`` for a camera analysed with ``weights_sha256``: own frames > the model's > none.

    Each evaluation has ``camera_id`` (None: frames of no camera), ``weights_sha256`` and
    ``created_at``; the newest of the best kind wins. An evaluation of another camera, or of
    other weights, never applies; nor does one scored with segmenter options (``--refine``,
    ``--tta``: ``options`` in its ``metrics_json``): adjustments describe footage segmented with the defaults.
    The road model (``road_model`` in ``options``) is part of the default analysis, so it does not exclude one.

    >>> evs = [{"evaluation_id": "m", "camera_id": None, "weights_sha256": "w", "created_at": 1},
    ...        {"evaluation_id": "own", "camera_id": "cam-1", "weights_sha256": "w", "created_at": 0}]
    >>> [(s, e and e["evaluation_id"]) for s, e in (choose_evaluation(c, "w", evs) for c in ("cam-1", "cam-2"))]
    [('camera', 'own'), ('model', 'm')]
    >>> choose_evaluation("cam-1", None, evs)
    ('none', None)
    """
    if _blank(weights_sha256):
        return "none", None
    same = [e for e in evaluations if e.get("weights_sha256") == weights_sha256 and not set(_options(e)) - {"road_model"}]
    for source, picked in (
        ("camera", [e for e in same if not _blank(e.get("camera_id")) and str(e["camera_id"]) == str(camera_id)]),
        ("model", [e for e in same if _blank(e.get("camera_id"))]),
    ):
        if picked:
            return source, max(picked, key=lambda e: (pd.Timestamp(e["created_at"]) if not _blank(e.get("created_at")) else
                                                      pd.Timestamp.min, str(e.get("evaluation_id", ""))))
    return "none", None


def indicator_bias(metrics: Mapping[str, Any] | str, name: str) -> tuple[float, float, float]:
    """``(bias, low, high)`` of indicator ``name`` in percentage points from an evaluation's metrics; NaN where not measured.

    >>> indicator_bias({"indicator_error_pp": {"green_view": {"bias": 1.7, "bias_ci95": [1.2, 2.2]}}}, "green_view")
    (1.7, 1.2, 2.2)
    >>> indicator_bias("{}", "sky_view")
    (nan, nan, nan)
    """
    data = json.loads(metrics) if isinstance(metrics, str) else metrics
    entry = (data.get("indicator_error_pp") or {}).get(name) if isinstance(data, Mapping) else None
    if not isinstance(entry, Mapping):
        return math.nan, math.nan, math.nan

    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    ci = entry.get("bias_ci95") or [None, None]
    return num(entry.get("bias")), num(ci[0]), num(ci[1])


def _num(value: Any) -> float:
    """A number, NaN for None, NaN and NaT."""
    return math.nan if _blank(value) else float(value)


def _when(value: Any) -> str:
    if _blank(value):
        return "date unknown"
    if isinstance(value, (datetime, pd.Timestamp)):
        return format_day(pd.Timestamp(value).date())
    if isinstance(value, date):
        return format_day(value)
    return str(value)


def _scored_with(row: Mapping[str, Any]) -> str:
    """What the evaluation scored, from its ``metrics_json``: `` (segmenter + road model X)`` or
    `` (segmenter alone)``; empty for a row without one.

    >>> _scored_with({"metrics_json": '{"options": {"road_model": "r"}}'}), _scored_with({"metrics_json": "{}"})
    (' (segmenter + road model r)', ' (segmenter alone)')
    """
    if _blank(row.get("metrics_json")):
        return ""
    road = _options(row).get("road_model")
    return f" (segmenter + road model {road})" if road else " (segmenter alone)"


def accuracy_line(row: Mapping[str, Any], name: str) -> str:
    """The accuracy line of one camera for indicator ``name``, from a row of ``camera_evaluations``.

    ``row`` holds ``source`` (:data:`SOURCES`), ``model_name``, ``n_images``, ``dataset_format``,
    ``created_at``, ``miou`` (percent) and the indicator's ``bias``, ``bias_low``, ``bias_high``
    (percentage points, NaN where not measured).

    >>> row = {"source": "model", "model_name": "espnetv2-s2", "n_images": 101, "dataset_format": "camvid",
    ...        "created_at": date(2026, 3, 2), "miou": 54.5, "bias": 1.7, "bias_low": 1.2, "bias_high": 2.2}
    >>> print(*accuracy_line(row, "green_view").split("; "), sep="\\n")
    Accuracy of espnetv2-s2 measured on other footage (101 camvid images, 2 Mar 2026), not on this camera: mIoU 54.5%
    Green view index bias +1.7 points (95% CI +1.2 to +2.2 points).
    >>> accuracy_line({**row, "source": "camera", "n_images": 12, "bias": float("nan")}, "road_occupancy")
    "Accuracy measured on this camera's own annotated frames (12 images, 2 Mar 2026): mIoU 54.5%; Road occupancy: bias not measured."
    >>> accuracy_line({"source": "none", "model_name": "espnetv2-s2"}, "green_view")
    'Accuracy not measured: no evaluation of espnetv2-s2 on annotated frames applies to this camera.'
    >>> accuracy_line({"source": "none", "model_name": None}, "green_view")
    'Accuracy not measured: no analysed footage from this camera.'
    """
    if name not in INDICATORS:
        raise InputError(f"unknown indicator {name!r}; choose from {', '.join(INDICATORS)}")
    source = row.get("source")
    if source not in SOURCES:
        raise InputError(f"accuracy source {source!r}; expected one of {', '.join(SOURCES)}")
    if source == "none":
        model = row.get("model_name")
        if _blank(model):
            return "Accuracy not measured: no analysed footage from this camera."
        return f"Accuracy not measured: no evaluation of {model} on annotated frames applies to this camera."
    n = int(row.get("n_images") or 0)
    when = _when(row.get("created_at"))
    if source == "camera":
        text = f"Accuracy measured on this camera's own annotated frames ({n} images, {when})"
    else:
        fmt = row.get("dataset_format")
        what = f"{n} {fmt} images" if not _blank(fmt) and fmt else f"{n} images"
        text = f"Accuracy of {row.get('model_name')} measured on other footage ({what}, {when}), not on this camera"
    text += _scored_with(row)
    miou = _num(row.get("miou"))
    text += ": mIoU " + ("not available" if math.isnan(miou) else format_percent(miou / 100.0, 1))
    label = INDICATORS[name].label
    bias = _num(row.get("bias"))
    if math.isnan(bias) or not INDICATORS[name].is_share:
        return text + f"; {label}: bias not measured."
    text += f"; {label} bias {format_difference(name, bias / 100.0, signed=True)}"
    lo, hi = _num(row.get("bias_low")), _num(row.get("bias_high"))
    if not (math.isnan(lo) or math.isnan(hi)):
        text += f" (95% CI {format_difference_interval(name, lo / 100.0, hi / 100.0)})"
    return text + "."


def accuracy_table(evaluations: pd.DataFrame, name: str) -> pd.DataFrame:
    """``camera_id``, ``camera`` (name), ``source`` and ``accuracy`` (the line) for every row of ``camera_evaluations``.

    >>> df = pd.DataFrame([{"camera_id": "c1", "camera_name": "Quay", "source": "none", "model_name": None}])
    >>> accuracy_table(df, "green_view")["accuracy"].tolist()
    ['Accuracy not measured: no analysed footage from this camera.']
    """
    cols = ["camera_id", "camera", "source", "accuracy"]
    if evaluations.empty:
        return pd.DataFrame(columns=cols)
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in evaluations.to_dict("records")]
    return pd.DataFrame({
        "camera_id": [str(r["camera_id"]) for r in rows],
        "camera": [str(r.get("camera_name") or r["camera_id"]) for r in rows],
        "source": [str(r["source"]) for r in rows],
        "accuracy": [accuracy_line(r, name) for r in rows],
    })[cols]


# ---------------------------------------------------------------------------------------------
# adjusting an indicator table


@dataclass(frozen=True)
class CellPart:
    """The cells of an indicator table that one set of cameras covers, with the evaluation that applies to them.

    ``shares`` is the long table of ``compute`` for ``share_<group>`` of :data:`FOOTAGE_GROUPS` over
    those cameras; ``conf`` None when no evaluation applies; ``source`` as in :data:`SOURCES`.
    """

    conf: GroupConfusion | None
    source: str
    shares: pd.DataFrame


def _cell_keys(df: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    return pd.Series(list(zip(*(df[k].astype(str) for k in keys), strict=True)), index=df.index, dtype=object)


def adjust_table(base: pd.DataFrame, keys: Sequence[str], parts: Sequence[CellPart]) -> pd.DataFrame:
    """``base`` (long, from ``compute``) with land-cover values error-adjusted where one evaluation covers the cell.

    A cell covered by cameras of one part with an evaluation gets ``p_S`` of :func:`adjusted_shares`
    with ``W`` from that part's shares and the interval of :func:`combined_interval`; other cells of
    adjustable indicators keep their values, and ``adjustment`` says why. Adds the columns
    ``adjusted`` (bool), ``adjustment`` (``camera``/``model`` when adjusted, else the reason in
    :data:`NOT_ADJUSTED`; empty for indicators that are never adjusted).
    """
    keys = list(keys)
    out = base.copy().reset_index(drop=True)
    out["adjusted"] = False
    out["adjustment"] = ""
    if out.empty:
        return out
    cell = _cell_keys(out, keys)
    present: dict[tuple[str, ...], list[int]] = {}
    for j, part in enumerate(parts):
        sh = part.shares[part.shares["n_frames"] > 0] if not part.shares.empty else part.shares
        for key in set(_cell_keys(sh, keys)) if not sh.empty else ():
            present.setdefault(key, []).append(j)
    adjustable = out["indicator"].isin(list(ADJUSTED_INDICATORS))
    owner = cell.map(lambda k: present.get(k, [None])[0] if len(present.get(k, [])) == 1 else None)
    mixed = cell.map(lambda k: len(present.get(k, [])) > 1)
    out.loc[adjustable & mixed, "adjustment"] = NOT_ADJUSTED["mixed"]
    out.loc[adjustable & ~mixed, "adjustment"] = NOT_ADJUSTED["none"]
    for j, part in enumerate(parts):
        rows = adjustable & (owner == j)
        if part.conf is None or not rows.any():
            continue
        mapped = _mapped_matrix(part.shares, keys)
        for name in out.loc[rows, "indicator"].unique():
            sel = rows & (out["indicator"] == name)
            target = ADJUSTED_INDICATORS[name]
            if any(t not in part.conf.groups for t in target):
                out.loc[sel, "adjustment"] = NOT_ADJUSTED["group"]
                continue
            w = mapped.reindex(cell[sel].tolist()).to_numpy(dtype=np.float64)
            p, se = adjusted_shares(w, FOOTAGE_GROUPS, part.conf, target)
            lo, hi = combined_interval(p, se, out.loc[sel, "ci_low"].to_numpy(np.float64), out.loc[sel, "ci_high"].to_numpy(np.float64))
            ok = out.loc[sel, "enough"].to_numpy(bool)
            out.loc[sel, "value"] = np.where(ok, p, np.nan)
            out.loc[sel, "ci_low"] = np.where(ok, lo, np.nan)
            out.loc[sel, "ci_high"] = np.where(ok, hi, np.nan)
            out.loc[sel, "adjusted"] = True
            out.loc[sel, "adjustment"] = part.source
    return out


def _mapped_matrix(shares: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Cells × :data:`FOOTAGE_GROUPS` of mapped shares ``W`` (index: the cell key tuples)."""
    df = shares.assign(_cell=_cell_keys(shares, keys), _group=shares["indicator"].str.removeprefix("share_"))
    wide = df.pivot_table(index="_cell", columns="_group", values="value", aggfunc="first", dropna=False)
    return wide.reindex(columns=list(FOOTAGE_GROUPS))


def adjustment_summary(long: pd.DataFrame) -> str:
    """One sentence on how many cells of land-cover indicators were error-adjusted, and why the others were not.

    >>> df = pd.DataFrame({"indicator": ["green_view"] * 3 + ["people_per_frame"], "adjusted": [True, True, False, False],
    ...                    "adjustment": ["model", "camera", "not adjusted: no evaluation applies", ""]})
    >>> adjustment_summary(df)
    'Error-adjusted (Olofsson et al. 2014) in 2 of 3 land-cover cells; 1 not adjusted: no evaluation applies.'
    """
    if "adjusted" not in long.columns:
        return "Not error-adjusted."
    land = long[long["indicator"].isin(list(ADJUSTED_INDICATORS))]
    if land.empty:
        return "Error adjustment applies to land-cover shares only (green view, sky view, road, sidewalk, pedestrian and vehicle shares)."
    done = int(land["adjusted"].sum())
    text = f"Error-adjusted (Olofsson et al. 2014) in {done} of {len(land)} land-cover cells"
    reasons = land.loc[~land["adjusted"].astype(bool), "adjustment"].value_counts()
    if reasons.empty:
        return text + "."
    return text + "; " + "; ".join(f"{n} {why}" for why, n in reasons.items()) + "."
