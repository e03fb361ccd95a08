"""Colour overlays of label maps, with a legend of the classes present.

Compute apart from drawing: :func:`class_palette` and :func:`legend_entries` only compute
(colours, which classes are present and how much of the image they cover); :func:`colorize`,
:func:`blend`, :func:`draw_legend` and :func:`overlay` return new images and never write files.
Images are OpenCV-style BGR ``uint8 (H, W, 3)`` arrays; colours given as RGB (as in
:data:`analytics.taxonomy.GROUP_COLORS`) are converted at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analytics.errors import InputError
from analytics.formatting import format_percent
from analytics.taxonomy import GROUP_COLORS, ClassSet, group_label

__all__ = [
    "CITYSCAPES_CLASS_COLORS",
    "LegendEntry",
    "blend",
    "class_palette",
    "colorize",
    "draw_legend",
    "legend_entries",
    "legend_scale",
    "overlay",
]

CITYSCAPES_CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
    (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32), (0, 0, 0),
)
"""The usual Cityscapes palette (RGB) in train-id order, background last (black)."""

MODES = ("class", "group")


@dataclass(frozen=True)
class LegendEntry:
    """One class (or group) present in a label map: its id, label, RGB colour and share of pixels."""

    id: int
    label: str
    color: tuple[int, int, int]
    fraction: float


def class_palette(class_set: ClassSet, mode: str = "class") -> np.ndarray:
    """RGB colour per class id, ``uint8 (num_classes, 3)``.

    ``mode="class"``: the Cityscapes palette for the Cityscapes class set, otherwise the colour of
    each class's group, lightened a little for each further class of the same group.
    ``mode="group"``: the colour of each class's indicator group.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> class_palette(CITYSCAPES)[13].tolist(), class_palette(CITYSCAPES, "group")[12].tolist()
    ([0, 0, 142], [220, 20, 60])
    """
    if mode not in MODES:
        raise InputError(f"overlay mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "class" and class_set.name == "cityscapes" and class_set.num_classes == len(CITYSCAPES_CLASS_COLORS):
        return np.array(CITYSCAPES_CLASS_COLORS, dtype=np.uint8)
    seen: dict[str, int] = {}
    colours = []
    for group in class_set.groups:
        base = np.array(GROUP_COLORS[group], dtype=np.float64)
        k = seen.get(group, 0) if mode == "class" else 0
        seen[group] = seen.get(group, 0) + 1
        colours.append(base + (255.0 - base) * min(0.6, 0.2 * k))
    return np.clip(np.round(colours), 0, 255).astype(np.uint8)


def _check_labels(labels: np.ndarray, class_set: ClassSet) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.ndim != 2:
        raise InputError(f"labels must be a 2-D array of class ids, got {getattr(labels, 'shape', type(labels).__name__)}")
    if labels.size and int(labels.max()) >= class_set.num_classes:
        raise InputError(f"label {int(labels.max())} is not a class of {class_set.name!r} (ids 0 to {class_set.num_classes - 1})")
    return labels


def colorize(labels: np.ndarray, class_set: ClassSet, mode: str = "class") -> np.ndarray:
    """A BGR image colouring each pixel by its class (or group).

    >>> from analytics.taxonomy import CITYSCAPES
    >>> colorize(np.array([[0, 10]], np.uint8), CITYSCAPES)[0].tolist()      # road, sky (BGR)
    [[128, 64, 128], [180, 130, 70]]
    """
    labels = _check_labels(labels, class_set)
    palette = class_palette(class_set, mode)
    if labels.dtype != np.uint8 or labels.size == 0:
        return palette[labels][..., ::-1].copy()
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[: len(palette), 0] = palette[:, ::-1]
    return np.asarray(cv2.LUT(cv2.merge([labels, labels, labels]), lut), np.uint8)  # one table look-up, as palette[labels]


def blend(frame_bgr: np.ndarray, colors_bgr: np.ndarray, alpha: float = 0.5, mask: np.ndarray | None = None) -> np.ndarray:
    """``(1 - alpha) * frame + alpha * colours`` where ``mask`` is true (everywhere when None).

    >>> f = np.zeros((1, 2, 3), np.uint8); c = np.full((1, 2, 3), 200, np.uint8)
    >>> blend(f, c, 0.5, mask=np.array([[True, False]]))[0, :, 0].tolist()
    [100, 0]
    """
    if frame_bgr.shape != colors_bgr.shape or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise InputError(f"frame {frame_bgr.shape} and colours {colors_bgr.shape} must both be (H, W, 3)")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha!r}; expected a number from 0 to 1")
    mixed = cv2.addWeighted(frame_bgr, 1.0 - alpha, colors_bgr, alpha, 0.0)
    if mask is None:
        return mixed
    return np.where(mask[..., None], mixed, frame_bgr)


def legend_entries(labels: np.ndarray, class_set: ClassSet, mode: str = "class", min_fraction: float = 0.001) -> list[LegendEntry]:
    """Classes (or groups) covering at least ``min_fraction`` of the non-void pixels, largest first.

    Void classes are left out of the legend and of the denominator, as in every indicator.

    >>> from analytics.taxonomy import CITYSCAPES
    >>> [(e.label, e.fraction) for e in legend_entries(np.array([[0, 0, 0, 13, 19]], np.uint8), CITYSCAPES)]
    [('road', 0.75), ('car', 0.25)]
    """
    labels = _check_labels(labels, class_set)
    counts = np.bincount(labels.ravel(), minlength=class_set.num_classes).astype(np.float64)
    counts[list(class_set.class_ids("void"))] = 0.0
    total = max(1.0, counts.sum())
    palette = class_palette(class_set, mode)
    entries: list[LegendEntry] = []
    if mode == "class":
        for i, n in enumerate(counts):
            if n / total >= min_fraction:
                entries.append(LegendEntry(i, class_set.class_names[i], tuple(int(v) for v in palette[i]), float(n / total)))  # type: ignore[arg-type]
    else:
        for g_index, group in enumerate(dict.fromkeys(class_set.groups)):
            if group == "void":
                continue
            ids = list(class_set.class_ids(group))
            n = counts[ids].sum()
            if n / total >= min_fraction:
                colour = GROUP_COLORS[group]
                entries.append(LegendEntry(g_index, group_label(group), colour, float(n / total)))
    return sorted(entries, key=lambda e: -e.fraction)


LEGEND_TEXT_SHARE = 1 / 48
"""Legend text height as a share of the image's width (27 px beside a 1280 px frame): the text keeps its
size relative to the picture when both are scaled down to a preview, instead of shrinking to a few pixels."""
MIN_LEGEND_SCALE = 0.42
"""Smallest OpenCV font scale of the legend (about 9 px text), for small frames."""


def legend_scale(image_width: int) -> float:
    """OpenCV font scale of a legend beside an image ``image_width`` pixels wide: text about
    ``image_width * LEGEND_TEXT_SHARE`` pixels high (``FONT_HERSHEY_SIMPLEX`` at scale 1 is 22 px), at least
    :data:`MIN_LEGEND_SCALE`.

    >>> legend_scale(320), legend_scale(1280), legend_scale(1920)
    (0.42, 1.21, 1.82)
    """
    return round(max(MIN_LEGEND_SCALE, image_width * LEGEND_TEXT_SHARE / 22.0), 2)


def _fitted(entries: list[LegendEntry], rows: int) -> list[LegendEntry]:
    """``entries`` cut to ``rows`` rows, the smallest merged into one grey "other" row when they do not fit.

    >>> e = [LegendEntry(i, f"c{i}", (0, 0, 0), f) for i, f in enumerate([0.5, 0.3, 0.1, 0.1])]
    >>> [(x.label, round(x.fraction, 2)) for x in _fitted(e, 3)]
    [('c0', 0.5), ('c1', 0.3), ('other', 0.2)]
    """
    if len(entries) <= rows:
        return entries
    keep = entries[: max(0, rows - 1)]
    rest = sum(e.fraction for e in entries[len(keep) :])
    return [*keep, LegendEntry(-1, "other", (128, 128, 128), rest)]


def draw_legend(image_bgr: np.ndarray, entries: list[LegendEntry], width: int | None = None) -> np.ndarray:
    """The image with a legend panel on its right (swatch, label, percentage), its text scaled with the
    image's width (:func:`legend_scale`) so it stays readable when the picture is shown small; the panel
    is as wide as its longest line (or ``width`` pixels). Classes that do not fit the image's height are
    merged into one "other" row."""
    h, w = image_bgr.shape[:2]
    scale = legend_scale(w)
    thick = max(1, round(scale * 1.5))
    text_h = round(22 * scale)
    row = round(text_h * 1.6)
    pad = max(6, round(text_h * 0.6))
    entries = _fitted(entries, max(1, (h - pad) // row))
    lines = [f"{e.label} {format_percent(e.fraction, 1)}" for e in entries]
    text_w = max((cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for t in lines), default=0)
    panel_w = width if width is not None else 3 * pad + text_h + text_w
    panel_h = max(h, pad + row * len(entries))
    panel = np.full((panel_h, panel_w, 3), 32, np.uint8)
    for i, (e, text) in enumerate(zip(entries, lines, strict=True)):
        y = pad + i * row
        rgb = e.color
        cv2.rectangle(panel, (pad, y), (pad + text_h, y + text_h), (rgb[2], rgb[1], rgb[0]), thickness=-1)
        cv2.rectangle(panel, (pad, y), (pad + text_h, y + text_h), (200, 200, 200), thickness=max(1, thick // 2))
        cv2.putText(panel, text, (2 * pad + text_h, y + text_h), cv2.FONT_HERSHEY_SIMPLEX, scale, (240, 240, 240), thick, cv2.LINE_AA)
    canvas = np.full((panel_h, w + panel_w, 3), 32, np.uint8)
    canvas[:h, :w] = image_bgr
    canvas[:, w:] = panel
    return canvas


def overlay(
    frame_bgr: np.ndarray,
    labels: np.ndarray,
    class_set: ClassSet,
    alpha: float = 0.5,
    mode: str = "class",
    legend: bool = True,
    min_fraction: float = 0.001,
) -> np.ndarray:
    """The frame with labels coloured over it (void pixels left as they are) and, optionally, a legend.

    ``labels`` must have the frame's height and width.
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[:2] != labels.shape:
        raise InputError(f"labels {labels.shape} must have the frame's height and width {frame_bgr.shape[:2]}")
    void_ids = list(class_set.class_ids("void"))
    mask = ~np.isin(labels, void_ids) if void_ids else None
    image = blend(frame_bgr, colorize(labels, class_set, mode), alpha, mask)
    if not legend:
        return image
    return draw_legend(image, legend_entries(labels, class_set, mode, min_fraction))
