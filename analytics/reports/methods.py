"""The methods appendix of a report: indicator formulas, class groups, thresholds, intervals, known weaknesses."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from analytics.errors import UrbanLensError
from analytics.formatting import format_counted, format_percent, format_sampling, glossary_lines, levels_note
from analytics.indicators import CONGESTION_LEVELS, INDICATORS, OCCUPANCY_THRESHOLDS, STATIONARY_JAM
from analytics.models.zoo import builtin_cards
from analytics.reports.parts import Methods, ModelUsed
from analytics.reports.wording import DAMAGE_MODEL_THRESHOLD, DISTRESS_THRESHOLD, LOW_CONFIDENCE_CAMERA
from analytics.taxonomy import CITYSCAPES, GROUPS, group_label

__all__ = ["GENERAL_WEAKNESSES", "INTERVALS_TEXT", "methods_appendix"]


INTERVALS_TEXT = (
    "Each indicator is a ratio of totals over the sampled frames, for example all vegetation pixels divided by all "
    "valid pixels. Frames from the same clip show the same street seconds apart, so they are not independent "
    "observations: the clip, not the frame, is treated as the unit of sampling. The 95% interval comes from how much "
    "the clips disagree with one another (a ratio estimator with clips as clusters, Cochran 1977, Sampling Techniques, "
    "§6.3–6.4; see the glossary), widened with Student's t for the number of clips. Few clips, or clips that disagree, give a wide "
    "interval; with a single clip no interval can be given. A value based on fewer than {frames} is "
    "reported as 'not enough data' instead of a number. Comparisons with the city average and the previous period "
    "are called 'in line' when the other value lies inside this value's interval. The interval covers sampling "
    "variation between clips only, not errors of the model itself."
)

GENERAL_WEAKNESSES = (
    "Segmentation models trained on dashcam views (such as ESPNetv2 on Cityscapes) are good on street-level footage "
    "and poor on top-down CCTV views (car-park asphalt comes out as car or truck) and on blurred close-ups.",
    "Pixel shares depend on where a camera points: compare a camera with itself over time before comparing two "
    "cameras, and read district values as averages over the cameras that happen to be there.",
    "People and vehicles are counted as connected blobs of pixels: groups that touch count as one, so counts are "
    "lower bounds in crowds and queues.",
    "Night-time and rain lower model confidence; hours with low confidence are less reliable.",
)


def _class_groups(class_sets: dict[str, str]) -> pd.DataFrame:
    classes: dict[str, list[str]] = {g: [] for g in GROUPS}
    parsed = []
    for text in class_sets.values():
        try:
            parsed.append(json.loads(text))
        except (TypeError, ValueError):
            continue
    if not parsed:
        parsed = [CITYSCAPES.to_dict()]
    for cs in parsed:
        for c in cs.get("classes", []):
            g, n = str(c.get("group")), str(c.get("name"))
            if g in classes and n not in classes[g]:
                classes[g].append(n)
    return pd.DataFrame(
        [{"group": g, "label": group_label(g), "classes": ", ".join(classes[g]) or "(none in the models used)"} for g in GROUPS]
    )


def _card_notes(model_name: str) -> str:
    """The ``notes`` of a built-in model card, when there is one (best effort: a report never fails on it)."""
    try:
        card = builtin_cards().get(model_name)
    except UrbanLensError:  # an unreadable built-in card must not stop a report
        return ""
    return str(getattr(card, "notes", "") or "") if card is not None else ""


def _weaknesses(models: Sequence[ModelUsed]) -> tuple[str, ...]:
    notes: list[str] = []
    for m in models:
        if m.name == "synthetic-demo":
            notes.append("synthetic-demo: not a model; numbers are generated to follow designed patterns (demo city only).")
            continue
        note = _card_notes(m.name)
        if note:
            notes.append(f"{m.name}: {note}")
    return (*notes, *GENERAL_WEAKNESSES)


def methods_appendix(models: Sequence[ModelUsed], class_sets: dict[str, str], min_frames: int) -> Methods:
    ind = pd.DataFrame(
        [{"name": i.name, "label": i.label, "unit": i.unit, "formula": i.formula, "source": i.source, "heuristic": i.heuristic}
         for i in INDICATORS.values()]
    )
    low, mid, high = OCCUPANCY_THRESHOLDS
    thresholds = (
        f"A value needs at least {format_counted(min_frames, 'sampled frame')}; with fewer it is shown as 'not enough data'.",
        f"Congestion levels ({', '.join(CONGESTION_LEVELS)}): jammed when road occupancy ≥ {format_percent(high)} and vehicle "
        f"stationarity ≥ {format_percent(STATIONARY_JAM)}; heavy when occupancy ≥ {format_percent(high)}, or ≥ {format_percent(mid)} with "
        f"stationarity ≥ {format_percent(STATIONARY_JAM)}; moderate when occupancy ≥ {format_percent(low)}; free below. Not calibrated "
        "against loop-detector counts.",
        f"Road-damage findings: cameras where the damage model marks ≥ {format_percent(DAMAGE_MODEL_THRESHOLD)} of road pixels, or "
        f"the distress heuristic ≥ {format_percent(DISTRESS_THRESHOLD)}.",
        f"Cameras with mean model confidence below {format_percent(LOW_CONFIDENCE_CAMERA)} are flagged in the caveats.",
    )
    return Methods(
        indicators=ind,
        groups=_class_groups(class_sets),
        sampling=tuple(sorted({format_sampling(m.sampling) for m in models})) or ("(no frames in this period)",),
        smoothing=tuple(sorted({m.smoothing for m in models})) or ("(no frames in this period)",),
        intervals=INTERVALS_TEXT.format(frames=format_counted(min_frames, 'frame')),
        thresholds=thresholds,
        weaknesses=_weaknesses(models),
        glossary=(*glossary_lines(), levels_note("congestion")),
    )
