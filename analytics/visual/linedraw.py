"""Drawing count lines and dwell zones by clicking on a camera's frame (the Camera page).

Each click on :func:`draw_figure` (trace 0: an invisible grid of points, one every
:func:`grid_step` pixels, over the latest preview frame or a blank frame of the clip's size) adds
a point in the clip's own pixels (:func:`clicked_pixel`, :func:`add_point`). Two points make a
count line from the first to the second: a crossing from its right to its left (on screen, y
down) is ``in`` (:mod:`analytics.footage.lines`), shown by the arrows of
:func:`analytics.visual.maps.line_arrows`. Three or more make a dwell zone. :func:`drawn_object`
turns the points into the zones-file object that
:func:`analytics.footage.countzones.merge_drawn` adds to the camera's stored zones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError
from analytics.visual.clicks import clicked_point
from analytics.visual.maps import COUNT_LINE_COLOR, zones_figure

__all__ = [
    "DRAW_MODES", "add_point", "clicked_pixel", "draw_figure", "drawing_frame", "drawn_object", "grid_step", "pixel_grid", "undo_point",
]

DRAW_MODES = {"line": "count line (2 points)", "dwell": "dwell zone (3 or more points)"}
"""What the clicks draw: a count line or a dwell zone."""
_GRID_ACROSS = 120
"""Clickable points across the frame at most (a 1920-pixel frame: one every 16 pixels)."""

Pixel = tuple[float, float]


def grid_step(width: int, height: int) -> int:
    """Pixels between the clickable points: ``ceil(max(width, height) / 120)``, at least 1.

    >>> grid_step(768, 432), grid_step(1920, 1080), grid_step(64, 48)
    (7, 16, 1)
    """
    return max(1, math.ceil(max(width, height) / _GRID_ACROSS))


def pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the clickable points: every :func:`grid_step` pixels from 0, the right and bottom edges included.

    >>> x, y = pixel_grid(10, 4)
    >>> sorted(set(x.tolist())), sorted(set(y.tolist()))
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0, 1, 2, 3, 4])
    """
    step = grid_step(width, height)
    xs = np.unique(np.append(np.arange(0, width, step), width))
    ys = np.unique(np.append(np.arange(0, height, step), height))
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def clicked_pixel(event: Any) -> Pixel | None:
    """(x, y) of the grid point clicked in a plotly selection ``event`` (trace 0 only), None for none.

    >>> clicked_pixel({"selection": {"points": [{"curve_number": 0, "x": 14, "y": 21}]}})
    (14.0, 21.0)
    >>> clicked_pixel({"selection": {"points": [{"curve_number": 3, "x": 1, "y": 2}]}}), clicked_pixel(None)
    (None, None)
    """
    p = clicked_point(event, curve=0, needs=("x", "y"))
    return None if p is None or p.x is None or p.y is None else (float(p.x), float(p.y))


def add_point(points: Sequence[Pixel], point: Pixel, mode: str) -> list[Pixel]:
    """The points after one more click: appended; a count line keeps two, so a third click moves its end.

    >>> add_point([(0, 0), (5, 5)], (9, 9), "line"), add_point([(0, 0), (5, 5)], (9, 9), "dwell")
    ([(0, 0), (9, 9)], [(0, 0), (5, 5), (9, 9)])
    """
    if mode not in DRAW_MODES:
        raise InputError(f"drawing mode {mode!r}; expected one of {', '.join(DRAW_MODES)}")
    kept = list(points)[:1] if mode == "line" and len(points) >= 2 else list(points)
    return [*kept, point]


def undo_point(points: Sequence[Pixel]) -> list[Pixel]:
    """The points without the last one (none stays none).

    >>> undo_point([(0, 0), (5, 5)]), undo_point([])
    ([(0, 0)], [])
    """
    return list(points)[:-1]


def drawn_object(mode: str, name: str, points: Sequence[Pixel], labels: tuple[str, str] = ("in", "out")) -> dict[str, object]:
    """The zones-file object of the clicked points: ``{"name", "line", "in", "out"}`` for a count line
    (exactly two points) or ``{"name", "role": "dwell", "polygon"}`` for a dwell zone (three or more).
    Empty direction names become ``in``/``out``; the name and points are checked when merged.

    >>> drawn_object("line", "mid", [(0, 5), (10, 5)], ("north", ""))
    {'name': 'mid', 'line': [[0, 5], [10, 5]], 'in': 'north', 'out': 'out'}
    >>> drawn_object("dwell", "sq", [(0, 0), (5, 0)])
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: a dwell zone needs 3 or more points; 2 clicked
    """
    pts = [[p[0], p[1]] for p in points]
    if mode == "line":
        if len(pts) != 2:
            raise InputError(f"a count line needs 2 points; {len(pts)} clicked")
        return {"name": name.strip(), "line": pts, "in": labels[0].strip() or "in", "out": labels[1].strip() or "out"}
    if mode != "dwell":
        raise InputError(f"drawing mode {mode!r}; expected one of {', '.join(DRAW_MODES)}")
    if len(pts) < 3:
        raise InputError(f"a dwell zone needs 3 or more points; {len(pts)} clicked")
    return {"name": name.strip(), "role": "dwell", "polygon": pts}


def _draft_row(mode: str, points: Sequence[Pixel], labels: tuple[str, str]) -> pd.DataFrame:
    """The complete drawing as a zones row (drawn like a stored one), empty while too few points are clicked."""
    if len(points) < (2 if mode == "line" else 3) or (mode == "line" and tuple(points[0]) == tuple(points[1])):
        return pd.DataFrame()
    return pd.DataFrame([{"zone": "new", "role": mode, "polygon_json": json.dumps([list(p) for p in points]),
                          "in_label": labels[0] or "in", "out_label": labels[1] or "out"}])


def draw_figure(zones: pd.DataFrame, size: tuple[int, int], points: Sequence[Pixel], mode: str,
                image: bytes | None = None, mime: str = "image/jpeg", labels: tuple[str, str] = ("in", "out")) -> go.Figure:
    """The frame to click on: trace 0 the invisible grid (:func:`pixel_grid`), then the stored zones
    and lines (:func:`~analytics.visual.maps.zones_figure`), the drawing so far (a line with its
    direction arrows, or the zone's outline) and its clicked points numbered from 1."""
    width, height = size
    draft = _draft_row(mode, points, labels)
    shown = pd.concat([f for f in (zones, draft) if not f.empty], ignore_index=True) if not draft.empty else zones
    fig = zones_figure(shown, width, height, image, mime)
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text" if mode == "line" or len(points) < 3 else "lines+markers+text",
                                 text=[str(i + 1) for i in range(len(points))], textposition="top right",
                                 textfont={"color": "white"}, marker={"size": 11, "color": COUNT_LINE_COLOR, "line": {"color": "white", "width": 2}},
                                 line={"color": COUNT_LINE_COLOR, "dash": "dot"}, name="clicked points", hoverinfo="skip"))
    gx, gy = pixel_grid(width, height)
    fig.add_trace(go.Scatter(x=gx, y=gy, mode="markers", marker={"size": 9, "color": "rgba(0,0,0,0.01)"}, showlegend=False,
                             name="click", hovertemplate="x %{x}, y %{y}<extra>click to add a point</extra>"))
    fig.data = (fig.data[-1], *fig.data[:-1])  # the grid is trace 0: clicks are read from it
    fig.update_layout(height=460, clickmode="event+select", dragmode=False)
    return fig


def drawing_frame(previews: pd.DataFrame, clips: pd.DataFrame) -> tuple[tuple[int, int], bytes | None, str] | None:
    """((width, height), image, mime) to draw on: the newest stored preview frame (``kind`` ``frame``),
    else a blank frame of the newest clip's size (image None); None without either (the size is unknown).

    >>> drawing_frame(pd.DataFrame(), pd.DataFrame({"width": [768], "height": [432]}))
    ((768, 432), None, 'image/jpeg')
    >>> drawing_frame(pd.DataFrame(), pd.DataFrame()) is None
    True
    """
    frames = previews[previews["kind"] == "frame"] if not previews.empty and "kind" in previews.columns else pd.DataFrame()
    if not frames.empty:
        first = frames.iloc[0]
        return (int(first["width"]), int(first["height"])), bytes(first["image"]), str(first["mime"])
    if not clips.empty and {"width", "height"}.issubset(clips.columns) and pd.notna(clips["width"].iloc[0]):
        return (int(clips["width"].iloc[0]), int(clips["height"].iloc[0])), None, "image/jpeg"
    return None
