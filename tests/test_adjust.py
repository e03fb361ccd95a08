"""Error-adjusted shares (Olofsson et al. 2014) and the choice of the evaluation that applies to a camera."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.evaluation.adjust import (
    FOOTAGE_GROUPS,
    NOT_ADJUSTED,
    CellPart,
    GroupConfusion,
    adjust_table,
    adjusted_share,
    adjusted_shares,
    choose_evaluation,
    combined_interval,
    confusion_from_metrics,
    group_confusion,
)
from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import CAMVID_CLASSES
from analytics.evaluation.run import Evaluation

# Olofsson et al. 2014, section 5 (Table 8): sample counts n_ij, rows map class i, columns reference class j,
# classes deforestation, forest gain, stable forest, stable non-forest; mapped areas in pixels.
TABLE8 = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
MAPPED_PX = np.array([200_000, 150_000, 3_200_000, 6_450_000])
# The four classes stand in for four indicator groups (the estimator does not care what they are called).
CLASSES = ("built", "vegetation", "terrain", "road")


def test_olofsson_worked_example_by_hand() -> None:
    """Deforestation: p = Σ_i W_i n_i1 / n_i·, SE from eq. 10, worked out term by term."""
    w = MAPPED_PX / MAPPED_PX.sum()  # 0.020, 0.015, 0.320, 0.645
    p_hand = 0.020 * 66 / 75 + 0.015 * 0 / 75 + 0.320 * 1 / 165 + 0.645 * 2 / 325
    var_hand = (
        0.020**2 * (66 / 75) * (9 / 75) / 74
        + 0.0
        + 0.320**2 * (1 / 165) * (164 / 165) / 164
        + 0.645**2 * (2 / 325) * (323 / 325) / 324
    )
    conf = GroupConfusion(CLASSES, TABLE8)
    p, se = adjusted_share(dict(zip(CLASSES, w, strict=True)), conf, ["built"])
    assert p == pytest.approx(p_hand, rel=1e-12)
    assert se == pytest.approx(math.sqrt(var_hand), rel=1e-12)
    # the paper's figures: 235,086 pixels = 21,158 ha (0.09 ha pixels), ± 6,158 ha at 95%
    assert round(p * MAPPED_PX.sum()) == 235_086
    assert round(p * MAPPED_PX.sum() * 0.09) == 21_158
    assert round(1.96 * se * MAPPED_PX.sum() * 0.09) == 6_158


def test_olofsson_all_classes_and_group_sets() -> None:
    w = MAPPED_PX / MAPPED_PX.sum()
    conf = GroupConfusion(CLASSES, TABLE8)
    ps = [adjusted_share(dict(zip(CLASSES, w, strict=True)), conf, [c])[0] for c in CLASSES]
    # stratified estimator of each class; together they still cover the whole map
    assert [round(p * MAPPED_PX.sum() * 0.09) for p in ps] == [21_158, 11_686, 285_770, 581_386]
    assert sum(ps) == pytest.approx(1.0)
    # a set of groups is the sum of its shares (eq. 9 is linear in n_ij)
    both, _ = adjusted_share(dict(zip(CLASSES, w, strict=True)), conf, ["built", "vegetation"])
    assert both == pytest.approx(ps[0] + ps[1])


def test_from_an_evaluation_confusion_in_annotation_classes() -> None:
    """The evaluation stores cm[truth, prediction]; the estimator reads it transposed, in groups."""
    cm = TABLE8.T  # rows reference (truth), columns map (prediction)
    gc = group_confusion(cm, list(CLASSES))
    np.testing.assert_array_equal(gc.counts, TABLE8)
    # two annotation classes of one group are pooled; void classes are dropped
    cm3 = np.array([[5, 1, 0], [1, 3, 0], [0, 0, 9]])
    gc3 = group_confusion(cm3, ["vegetation", "vegetation", "void"])
    assert gc3.groups == ("vegetation",) and gc3.counts.tolist() == [[10.0]]


def test_stored_metrics_hold_what_the_estimator_needs() -> None:
    """An evaluation's JSON has the confusion in annotation classes, each class's group and the image count."""
    k = len(CAMVID_CLASSES)
    confusion = np.zeros((2, k, k), np.int64)
    confusion[0] = np.eye(k, dtype=np.int64) * 100
    confusion[1] = np.eye(k, dtype=np.int64) * 50
    confusion[1, 5, 3] = 50  # image 2: Tree read as Road
    ev = Evaluation(
        model_name="m", weights_sha256="a" * 64, input_size=(384, 768), dataset_format="camvid",
        label_map=load_label_map("cityscapes-camvid"), class_names=tuple(c for c, _ in CAMVID_CLASSES),
        class_groups=tuple(g for _, g in CAMVID_CLASSES), image_names=("a.png", "b.png"), confusion=confusion,
        gt_sha256="b" * 64, seconds=1.0,
    )
    metrics = json.loads(ev.to_row().metrics_json)
    conf = confusion_from_metrics(metrics)
    assert conf is not None
    assert conf.groups == ("sky", "built", "road", "sidewalk", "vegetation", "vehicle", "person", "two_wheeler")
    assert conf.counts.sum() == pytest.approx(2.0)  # image units: two images
    road, veg = conf.groups.index("road"), conf.groups.index("vegetation")
    assert conf.counts[road, veg] > 0 and conf.counts[veg, road] == 0  # map road, reference vegetation
    # footage mapping 40% road, 60% vegetation: the model's road holds reference vegetation (50 / 200 of predicted road)
    w = np.zeros((1, len(FOOTAGE_GROUPS)))
    w[0, FOOTAGE_GROUPS.index("road")], w[0, FOOTAGE_GROUPS.index("vegetation")] = 0.4, 0.6
    p, _ = adjusted_shares(w, FOOTAGE_GROUPS, conf, ["vegetation"])
    assert p[0] == pytest.approx(0.6 + 0.4 * 50 / 200)


def test_groups_the_evaluation_lacks_stay_as_mapped() -> None:
    conf = GroupConfusion(("road", "vegetation"), np.array([[8.0, 2.0], [0.0, 10.0]]))
    w = {"road": 0.5, "vegetation": 0.2, "terrain": 0.3}  # terrain: not in the evaluation, identity row
    p, _ = adjusted_share(w, conf, ["vegetation"])
    assert p == pytest.approx(0.5 * 0.2 + 0.2)
    with pytest.raises(InputError, match="no class of group"):
        adjusted_share(w, conf, ["terrain"])


@pytest.mark.parametrize(
    ("p", "se", "low", "high", "expected"),
    [
        (0.30, 0.0, 0.26, 0.34, (0.26, 0.34)),  # a perfect evaluation: the indicator's own interval
        (0.30, 0.02, 0.30, 0.30, (0.30 - 1.959963984540054 * 0.02, 0.30 + 1.959963984540054 * 0.02)),  # accuracy only
        (0.01, 0.05, 0.0, 0.02, (0.0, 0.01 + 1.959963984540054 * math.hypot(0.05, 0.02 / 3.919927969080108))),  # clipped at 0
    ],
)
def test_combined_interval(p: float, se: float, low: float, high: float, expected: tuple[float, float]) -> None:
    assert combined_interval(p, se, low, high) == pytest.approx(expected)


T0, T1 = datetime(2026, 3, 1), datetime(2026, 3, 5)
OWN = {"evaluation_id": "own", "camera_id": "cam-a", "weights_sha256": "w1", "created_at": T0}
OWN_NEWER = {"evaluation_id": "own2", "camera_id": "cam-a", "weights_sha256": "w1", "created_at": T1}
MODEL = {"evaluation_id": "model", "camera_id": None, "weights_sha256": "w1", "created_at": T1}
MODEL_OTHER_WEIGHTS = {"evaluation_id": "model-w2", "camera_id": None, "weights_sha256": "w2", "created_at": T1}
OWN_OTHER_WEIGHTS = {"evaluation_id": "own-w2", "camera_id": "cam-a", "weights_sha256": "w2", "created_at": T1}
OTHER_CAMERA = {"evaluation_id": "cam-b", "camera_id": "cam-b", "weights_sha256": "w1", "created_at": T1}


@pytest.mark.parametrize(
    ("camera", "weights", "evaluations", "source", "chosen"),
    [
        ("cam-a", "w1", [MODEL, OWN], "camera", "own"),  # own frames beat the model's, even when older
        ("cam-a", "w1", [OWN, OWN_NEWER, MODEL], "camera", "own2"),  # the newest of the own ones
        ("cam-c", "w1", [MODEL, OWN, OTHER_CAMERA], "model", "model"),  # another camera's own frames never apply
        ("cam-a", "w1", [OWN_OTHER_WEIGHTS, MODEL], "model", "model"),  # own frames with other weights: not this model
        ("cam-a", "w1", [OWN_OTHER_WEIGHTS, MODEL_OTHER_WEIGHTS], "none", None),  # nothing for these weights
        ("cam-a", "w1", [], "none", None),  # no evaluation at all
        ("cam-a", None, [OWN, MODEL], "none", None),  # no analysed footage: no model, no accuracy
        ("cam-a", float("nan"), [OWN, MODEL], "none", None),  # the same as pandas gives it
    ],
)
def test_choose_evaluation(camera: str, weights: object, evaluations: list[dict], source: str, chosen: str | None) -> None:
    got_source, got = choose_evaluation(camera, weights, evaluations)  # type: ignore[arg-type]
    assert got_source == source
    assert (got["evaluation_id"] if got else None) == chosen


def _long(cells: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    """A compute()-like long table: (camera, indicator, value, ci_low, ci_high)."""
    return pd.DataFrame([{"camera": c, "indicator": n, "value": v, "ci_low": lo, "ci_high": hi, "n_frames": 50, "n_clips": 3,
                          "enough": True} for c, n, v, lo, hi in cells])


def _shares(camera: str, **shares: float) -> list[tuple[str, str, float, float, float]]:
    return [(camera, f"share_{g}", shares.get(g, 0.0), np.nan, np.nan) for g in FOOTAGE_GROUPS]


def test_adjust_table_marks_what_it_did_not_adjust() -> None:
    conf = GroupConfusion(("road", "vegetation"), np.array([[9.0, 1.0], [2.0, 8.0]]))
    base = _long([("a", "green_view", 0.5, 0.45, 0.55), ("b", "green_view", 0.5, 0.45, 0.55), ("c", "green_view", 0.5, 0.4, 0.6),
                  ("a", "sky_view", 0.0, 0.0, 0.0), ("a", "people_per_frame", 1.2, 1.0, 1.4)])
    parts = [
        CellPart(conf, "model", _long(_shares("a", road=0.5, vegetation=0.5) + _shares("c", road=0.5, vegetation=0.5))),
        CellPart(None, "none", _long(_shares("b", road=0.5, vegetation=0.5) + _shares("c", road=0.5, vegetation=0.5))),
    ]
    out = adjust_table(base, ["camera"], parts).set_index(["camera", "indicator"])
    a = out.loc[("a", "green_view")]
    assert a["adjusted"] and a["adjustment"] == "model"
    assert a["value"] == pytest.approx(0.5 * 0.1 + 0.5 * 0.8)
    assert a["ci_low"] < a["value"] < a["ci_high"]
    assert out.loc[("b", "green_view"), "adjustment"] == NOT_ADJUSTED["none"]
    assert out.loc[("b", "green_view"), "value"] == 0.5
    assert out.loc[("c", "green_view"), "adjustment"] == NOT_ADJUSTED["mixed"]  # cameras of both parts in one cell
    assert out.loc[("a", "sky_view"), "adjustment"] == NOT_ADJUSTED["group"]  # the evaluation has no sky class
    assert out.loc[("a", "people_per_frame"), "adjustment"] == "" and not out.loc[("a", "people_per_frame"), "adjusted"]
    assert out.loc[("a", "people_per_frame"), "value"] == 1.2
