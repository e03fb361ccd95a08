"""Map layers as data: what a map shows, computed once and drawn by any backend.

A map here is a stack of layers drawn bottom to top: areas (district or H3 polygons filled by an
indicator value), labels (one per area), a route (points of a mobile camera), cameras, findings
(ringed places), a scale bar and a north arrow, all inside one :class:`Extent`. This module
computes each layer from DataFrames as plain numbers, colours and texts; nothing here draws.
The renderers, each drawing one layer, live beside the figures that compose them: plotly in
:mod:`analytics.visual.maps` (the dashboard and the HTML report) and matplotlib in
:mod:`analytics.reports.figures` (the PDF report).

Coordinates stay longitude/latitude; a map keeps distances equal in both directions by drawing
one degree of latitude ``1 / cos(latitude)`` times as long as one of longitude
(:attr:`Extent.aspect`), so no projection library and no tiles are needed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from plotly.colors import get_colorscale

from analytics.errors import InputError
from analytics.formatting import MISSING_TEXT, display_scale
from analytics.indicators import INDICATORS

__all__ = [
    "KM_PER_DEGREE",
    "SCALE_BAR_STEPS_KM",
    "MISSING_COLOR",
    "CONTEXT_FILL",
    "DAMAGE_COLOR",
    "INK",
    "MUTED",
    "PAPER",
    "Ring",
    "label_point",
    "Extent",
    "extent_of",
    "luminance",
    "text_colour",
    "ColourScale",
    "colour_scale",
    "DIRECTION_SCALES",
    "DIRECTION_TEXT",
    "indicator_scale",
    "Area",
    "area_layer",
    "HitPoints",
    "hit_points",
    "Label",
    "label_layer",
    "clear_anchor",
    "CORNERS",
    "camera_label_places",
    "CameraPoint",
    "camera_layer",
    "Finding",
    "finding_layer",
    "scale_bar_km",
    "ScaleBar",
    "scale_bar",
    "NorthArrow",
    "north_arrow",
    "MapStack",
    "STALE_COLOR",
    "StaleMark",
    "stale_layer",
]

KM_PER_DEGREE = 111.32
"""Kilometres per degree of latitude (and of longitude at the equator)."""

SCALE_BAR_STEPS_KM = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""Round lengths a scale bar may take."""

MISSING_COLOR = "#d9d9d9"
"""Fill of a cell with too few frames: grey, never a colour of the scale (maps and charts)."""

CONTEXT_FILL = "#f4f4f4"
"""Fill of an area drawn for context only (a neighbour of the reported district)."""

DAMAGE_COLOR = "#d7191c"
"""Ring of a road-damage finding."""

INK = "#1a1a1a"
MUTED = "#777777"
PAPER = "#ffffff"

Ring = np.ndarray
"""An exterior ring: an (n, 2) float array of lon, lat; first point repeated last."""


# ---------------------------------------------------------------------------------------------
# geometry


def label_point(rings: Sequence[Ring]) -> tuple[float, float]:
    """A point inside the largest ring, where its label goes (shapely's representative point).

    Unlike the centroid or the mean of the vertices it always lies inside the polygon, also for
    an L- or C-shaped one. (nan, nan) when there is no ring.

    >>> label_point([np.array([[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]], dtype=float)])
    (1.0, 1.0)
    """
    polys = [shapely.Polygon(r) for r in rings if len(r) >= 3]
    if not polys:
        return math.nan, math.nan
    pt = max(polys, key=lambda p: p.area).representative_point()
    return float(pt.x), float(pt.y)


@dataclass(frozen=True)
class Extent:
    """The lon/lat window a map shows."""

    lon0: float
    lon1: float
    lat0: float
    lat1: float

    def __post_init__(self) -> None:
        if not (self.lon0 < self.lon1 and self.lat0 < self.lat1):
            raise InputError(f"map extent ({self.lon0}, {self.lon1}, {self.lat0}, {self.lat1}) is empty; "
                             "expected lon0 < lon1 and lat0 < lat1")

    @property
    def lat_mid(self) -> float:
        return (self.lat0 + self.lat1) / 2

    @property
    def aspect(self) -> float:
        """Drawn length of a degree of latitude over one of longitude: 1 / cos(latitude), at most 5."""
        return 1.0 / max(math.cos(math.radians(self.lat_mid)), 0.2)

    @property
    def ratio(self) -> float:
        """Height over width of the map as drawn: (Δlat · aspect) / Δlon."""
        return (self.lat1 - self.lat0) * self.aspect / (self.lon1 - self.lon0)

    @property
    def width_km(self) -> float:
        """East-west width at the middle latitude: Δlon · 111.32 km · cos(latitude)."""
        return (self.lon1 - self.lon0) * KM_PER_DEGREE / self.aspect

    def contains(self, lon: float, lat: float) -> bool:
        return self.lon0 <= lon <= self.lon1 and self.lat0 <= lat <= self.lat1


def extent_of(rings: Iterable[Ring], points: Iterable[np.ndarray] = (), pad: float = 0.04, min_pad: float = 0.002) -> Extent:
    """The window around all ``rings`` and ``points`` ((n, 2) lon/lat arrays), widened by ``pad``.

    Each side gets ``max(pad · span, min_pad)`` degrees; with nothing to show, (-1, 1, -1, 1).

    >>> extent_of([np.array([[0.0, 0.0], [1.0, 2.0]])], pad=0.1)
    Extent(lon0=-0.1, lon1=1.1, lat0=-0.2, lat1=2.2)
    """
    parts = [np.asarray(p, dtype=float).reshape(-1, 2) for p in [*rings, *points]]
    allp = np.concatenate(parts) if parts else np.empty((0, 2))
    allp = allp[np.isfinite(allp).all(axis=1)]
    if not len(allp):
        return Extent(-1.0, 1.0, -1.0, 1.0)
    (lon0, lat0), (lon1, lat1) = allp.min(axis=0), allp.max(axis=0)
    pad_lon, pad_lat = max((lon1 - lon0) * pad, min_pad), max((lat1 - lat0) * pad, min_pad)
    return Extent(float(lon0 - pad_lon), float(lon1 + pad_lon), float(lat0 - pad_lat), float(lat1 + pad_lat))


# ---------------------------------------------------------------------------------------------
# colour


def _hex(colour: str) -> str:
    """'#rrggbb' of a '#rrggbb' or 'rgb(r, g, b)' colour."""
    if colour.startswith("#"):
        return colour.lower()
    r, g, b = (int(float(c)) for c in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _rgb(colour: str) -> np.ndarray:
    h = _hex(colour)
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def luminance(colour: str, alpha: float = 1.0) -> float:
    """WCAG relative luminance of ``colour`` drawn at ``alpha`` over white paper.

    >>> round(luminance("#ffffff"), 3), round(luminance("#000000"), 3), round(luminance("#000000", 0.5), 3)
    (1.0, 0.0, 0.214)
    """
    c = (alpha * _rgb(colour) + (1 - alpha) * 255.0) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def text_colour(fill: str, alpha: float = 1.0) -> str:
    """Ink or paper, whichever contrasts more with the fill (WCAG: white below luminance 0.179)."""
    return PAPER if luminance(fill, alpha) < 0.179 else INK


@dataclass(frozen=True)
class ColourScale:
    """A sequential colour scale over displayed values ``vmin``–``vmax`` (stored value × ``factor``).

    ``reading`` says how to read it ('darker green = better'), empty where no direction applies.
    """

    name: str
    stops: tuple[tuple[float, str], ...]
    vmin: float
    vmax: float
    factor: float = 1.0
    reading: str = ""

    def position(self, value: float) -> float:
        """Where a stored value falls on the scale: (value · factor − vmin) / (vmax − vmin), clipped to 0–1."""
        return float(np.clip((value * self.factor - self.vmin) / (self.vmax - self.vmin), 0.0, 1.0))

    def colour(self, value: float | None) -> str | None:
        """'#rrggbb' of a stored value, linear between the stops; None for a missing value."""
        if value is None or not math.isfinite(value):
            return None
        pos = self.position(value)
        xs = np.array([s[0] for s in self.stops])
        rgb = np.array([_rgb(s[1]) for s in self.stops])
        r, g, b = (round(float(np.interp(pos, xs, rgb[:, k]))) for k in range(3))
        return f"#{r:02x}{g:02x}{b:02x}"


def colour_scale(name: str, values: Iterable[float], factor: float = 1.0, min_span: float = 1.0) -> ColourScale:
    """The scale ``name`` (a plotly / ColorBrewer name: 'Viridis', 'YlGn', …) spanning the finite ``values``.

    Bounds are min and max of value · factor; when they are closer than ``min_span`` the scale is
    widened to ``min_span`` around their middle (one colour for equal values, not a division by zero);
    a scale of values that are none below 0 (shares, rates, counts) is moved up to start at 0, so
    its colour bar never shows a negative share.

    >>> s = colour_scale("Viridis", [0.1, 0.3], factor=100)
    >>> (s.vmin, s.vmax, s.colour(0.1), s.colour(0.3), s.colour(float("nan")))
    (10.0, 30.0, '#440154', '#fde725', None)
    >>> s = colour_scale("YlGn", [0.0, 0.001], factor=100)
    >>> (s.vmin, s.vmax)
    (0.0, 1.0)
    """
    try:
        stops = tuple((float(p), _hex(c)) for p, c in get_colorscale(name))
    except Exception:  # plotly raises a bare PlotlyError for unknown names
        raise InputError(f"unknown colour scale {name!r}; expected a plotly / ColorBrewer name such as 'Viridis' or 'YlGn'") from None
    v = np.asarray(list(values), dtype=float) * factor
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if hi - lo < min_span:
        mid = (lo + hi) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if v.size and float(v.min()) >= 0 and lo < 0:
        lo, hi = 0.0, hi - lo
    return ColourScale(name, stops, lo, hi, factor)


DIRECTION_SCALES = {"higher": "YlGn", "lower": "YlOrRd", "neutral": "Blues"}
"""The one colour logic of every map: a sequential ColorBrewer scale by which way is better.

Darker always means more; for an indicator where more is better (green view) more is greener, for
one where more is worse (road damage) more is redder, and a neutral description (sky view) is blue.
"""

DIRECTION_TEXT = {"higher": "darker green = better", "lower": "darker red = worse", "neutral": "darker = more"}
"""What the colour bar says about its direction."""


def indicator_scale(name: str, values: Iterable[float]) -> ColourScale:
    """The colour scale of indicator ``name`` over its stored ``values``, the same on every map.

    Scale: :data:`DIRECTION_SCALES` of the indicator's ``better`` direction; bounds: min and max of
    the displayed values, at least 2% of the display factor apart (2 percentage points for a share).

    >>> s = indicator_scale("green_view", [0.1, 0.3])
    >>> s.name, s.vmin, s.vmax, indicator_scale("distress_share", [0.1]).name
    ('YlGn', 10.0, 30.0, 'YlOrRd')
    """
    if name not in INDICATORS:
        raise InputError(f"unknown indicator {name!r}; expected one of {', '.join(INDICATORS)}")
    factor = display_scale(name)
    better = INDICATORS[name].better
    scale = colour_scale(DIRECTION_SCALES[better], values, factor, min_span=0.02 * factor)
    return dataclasses.replace(scale, reading=DIRECTION_TEXT[better])


# ---------------------------------------------------------------------------------------------
# layers


@dataclass(frozen=True)
class Area:
    """One polygon of the areas layer.

    ``fill`` is the scale's colour of ``value``, :data:`MISSING_COLOR` where frames are too few, and
    :data:`CONTEXT_FILL` for an area drawn for context only (``focus`` False).
    """

    id: str
    name: str
    rings: tuple[Ring, ...]
    value: float
    enough: bool
    focus: bool
    fill: str
    text: str
    anchor: tuple[float, float]

    @property
    def missing(self) -> bool:
        return self.focus and not self.enough


def area_layer(frame: pd.DataFrame, scale: ColourScale | None) -> tuple[Area, ...]:
    """Areas from a frame with id, name, value and ``rings`` (exterior rings as (n, 2) lon/lat arrays,
    e.g. from :func:`analytics.geo.polygon_rings`).

    Optional columns: ``enough`` (default: value is finite), ``focus`` (default True), ``text``
    (the value as printed; default empty). Without a ``scale`` every area gets :data:`CONTEXT_FILL`
    unless its frames are too few.
    """
    missing = [c for c in ("id", "name", "value", "rings") if c not in frame]
    if missing:
        raise InputError(f"areas need columns id, name, value and rings; {', '.join(missing)} missing from {list(frame.columns)}")
    out = []
    for r in frame.to_dict("records"):
        rings = tuple(np.asarray(x, dtype=float).reshape(-1, 2) for x in r["rings"])
        value = float(r["value"]) if r["value"] is not None else math.nan
        enough = bool(r["enough"]) if "enough" in r else math.isfinite(value)
        focus = bool(r.get("focus", True))
        fill = (scale.colour(value) if scale else None) or CONTEXT_FILL
        if not focus:
            fill = CONTEXT_FILL
        elif not enough:
            fill = MISSING_COLOR
        out.append(Area(str(r["id"]), str(r["name"]), rings, value, enough, focus, fill, str(r.get("text", "")), label_point(rings)))
    return tuple(out)


@dataclass(frozen=True)
class HitPoints:
    """Points spread over the areas so that a pointer anywhere inside one finds it: ``area[i]`` is the
    index (into the areas) of the area holding point (``lon[i]``, ``lat[i]``)."""

    lon: np.ndarray
    lat: np.ndarray
    area: np.ndarray


def hit_points(areas: Sequence[Area], extent: Extent, across: int = 64) -> HitPoints:
    """A square lattice over ``extent``, ``across`` points wide, each point kept in the first area holding it.

    Spacing: Δlon / across in longitude and Δlon / (across · aspect) in latitude (square on the map).
    Every area also gets its label anchor, so an area smaller than the lattice still has a point.
    Areas drawn for context only (``focus`` False) get none.

    >>> sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    >>> a = Area("a", "A", (sq,), 0.5, True, True, "#000000", "", (0.5, 0.5))
    >>> h = hit_points([a], Extent(0.0, 1.0, 0.0, 1.0), across=4)
    >>> len(h.lon), set(h.area.tolist())
    (17, {0})
    """
    if across < 1:
        raise InputError(f"hit lattice of {across} points across; expected at least 1")
    step = (extent.lon1 - extent.lon0) / across
    xs = np.arange(extent.lon0 + step / 2, extent.lon1, step)
    ys = np.arange(extent.lat0 + step / extent.aspect / 2, extent.lat1, step / extent.aspect)
    gx, gy = (g.ravel() for g in np.meshgrid(xs, ys))
    owner = np.full(len(gx), -1)
    for i, a in enumerate(areas):
        if not a.focus:
            continue
        for ring in a.rings:
            if len(ring) < 4:
                continue
            inside = (owner < 0) & shapely.contains_xy(shapely.Polygon(ring), gx, gy)
            owner[inside] = i
    keep = owner >= 0
    anchors = [(i, a.anchor) for i, a in enumerate(areas) if a.focus and math.isfinite(a.anchor[0])]
    return HitPoints(
        np.r_[gx[keep], [p[0] for _, p in anchors]], np.r_[gy[keep], [p[1] for _, p in anchors]],
        np.r_[owner[keep], [i for i, _ in anchors]].astype(int),
    )


@dataclass(frozen=True)
class Label:
    """An area's name (and value) at its anchor; ``colour`` contrasts with the fill beneath."""

    lon: float
    lat: float
    name: str
    detail: str
    focus: bool
    colour: str


def _box_hits(cx: np.ndarray, cy: np.ndarray, points: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
    """How many of ``points`` (n, 2, map units) lie in the box of half sizes ``half_w`` × ``half_h`` around each (cx, cy)."""
    if not len(points):
        return np.zeros(len(cx), dtype=int)
    dx = np.abs(cx[:, None] - points[None, :, 0])
    dy = np.abs(cy[:, None] - points[None, :, 1])
    return ((dx < half_w) & (dy < half_h)).sum(axis=1)


def clear_anchor(rings: Sequence[Ring], anchor: tuple[float, float], avoid: np.ndarray, extent: Extent,
                 half_w: float = 0.09, half_h: float = 0.045, across: int = 16) -> tuple[float, float]:
    """Where an area's label goes so that no point of ``avoid`` (cameras, lon/lat) lies under it.

    The label is a box of ``half_w`` × ``half_h`` (fractions of the extent's width) around its
    point. Candidates: ``anchor`` and a lattice of ``across`` × ``across`` points inside the largest
    ring; the one with the fewest ``avoid`` points in its box wins, ties going to the candidate
    nearest ``anchor``. Distances are map distances (latitude times :attr:`Extent.aspect`).

    >>> sq = [np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)]
    >>> clear_anchor(sq, (0.5, 0.5), np.empty((0, 2)), Extent(0.0, 1.0, 0.0, 1.0))  # nothing to avoid: the anchor
    (0.5, 0.5)
    >>> x, y = clear_anchor(sq, (0.5, 0.5), np.array([[0.5, 0.5]]), Extent(0.0, 1.0, 0.0, 1.0))
    >>> abs(x - 0.5) >= 0.09 or abs(y - 0.5) >= 0.045  # a camera at the anchor: moved off it
    True
    """
    polys = [shapely.Polygon(r) for r in rings if len(r) >= 4]
    width = extent.lon1 - extent.lon0
    if not polys or not len(avoid) or not math.isfinite(anchor[0]) or width <= 0:
        return anchor
    poly = max(polys, key=lambda p: p.area)
    x0, y0, x1, y1 = poly.bounds
    gx, gy = (g.ravel() for g in np.meshgrid(np.linspace(x0, x1, across + 2)[1:-1], np.linspace(y0, y1, across + 2)[1:-1]))
    inside = shapely.contains_xy(poly, gx, gy)
    cx, cy = np.r_[anchor[0], gx[inside]], np.r_[anchor[1], gy[inside]]
    pts = np.column_stack([avoid[:, 0], avoid[:, 1] * extent.aspect])
    hits = _box_hits(cx, cy * extent.aspect, pts, half_w * width, half_h * width)
    far = np.hypot(cx - anchor[0], (cy - anchor[1]) * extent.aspect)
    best = int(np.lexsort((far, hits))[0])
    return float(cx[best]), float(cy[best])


def label_layer(areas: Sequence[Area], extent: Extent, alpha: float = 1.0, with_values: bool = False,
                avoid: np.ndarray | None = None) -> tuple[Label, ...]:
    """One label per area whose anchor lies inside ``extent``: its name, and its value text or 'not enough data'.

    ``alpha`` is the opacity the fills are drawn with (it decides light or dark text). ``avoid``
    (n, 2 lon/lat: the cameras) moves a label off the points it would cover (:func:`clear_anchor`).
    """
    out = []
    for a in areas:
        lon, lat = a.anchor
        if not (math.isfinite(lon) and extent.contains(lon, lat)):
            continue
        if avoid is not None and a.focus:
            lon, lat = clear_anchor(a.rings, (lon, lat), avoid, extent)
        detail = (a.text if a.enough else MISSING_TEXT) if with_values and a.focus else ""
        colour = text_colour(a.fill, alpha) if a.focus else MUTED
        out.append(Label(lon, lat, a.name, detail, a.focus, colour))
    return tuple(out)


CORNERS = ("top right", "top left", "bottom right", "bottom left")
"""Where a camera's label may go beside its dot, in the order tried (plotly ``textposition`` names)."""


def camera_label_places(cameras: Sequence[CameraPoint], labels: Sequence[Label], extent: Extent, char_w: float = 0.009,
                        line_h: float = 0.022, area_char_w: float = 0.0125) -> tuple[str, ...]:
    """For each camera, the first of :data:`CORNERS` where its label overlaps no area label, no other
    camera's dot and no label already placed; '' (the label is left out) where none is free.

    Sizes are fractions of the extent's width: ``char_w`` a character of a camera label, ``line_h``
    a line, ``area_char_w`` a character of an area label (two lines: name and value). A dot is a
    square of one ``line_h``. Greedy, in the cameras' order.
    """
    width = extent.lon1 - extent.lon0
    boxes: list[tuple[float, float, float, float]] = []
    for lb in labels:
        hw = area_char_w * max(len(lb.name), len(lb.detail)) * width / 2
        hh = line_h * (2 if lb.detail else 1) * width / 2 * 1.3
        y = lb.lat * extent.aspect
        boxes.append((lb.lon - hw, y - hh, lb.lon + hw, y + hh))
    dot = line_h * width / 2
    dots = [(c.lon - dot, c.lat * extent.aspect - dot, c.lon + dot, c.lat * extent.aspect + dot) for c in cameras]
    places = []
    for i, c in enumerate(cameras):
        if not c.label:
            places.append("")
            continue
        w, h, y = char_w * len(c.label) * width, line_h * width, c.lat * extent.aspect
        chosen = ""
        for corner in CORNERS:
            x0 = c.lon + dot if corner.endswith("right") else c.lon - dot - w
            y0 = y + dot / 2 if corner.startswith("top") else y - dot / 2 - h
            box = (x0, y0, x0 + w, y0 + h)
            others = [d for j, d in enumerate(dots) if j != i]
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in [*boxes, *others]):
                chosen = corner
                boxes.append(box)
                break
        places.append(chosen)
    return tuple(places)


@dataclass(frozen=True)
class CameraPoint:
    """One camera: where, its fill on the value scale (None: unfilled), relative size 0–1, label."""

    id: str
    name: str
    lon: float
    lat: float
    value: float
    fill: str | None
    weight: float
    label: str


def camera_layer(
    cameras: pd.DataFrame, scale: ColourScale | None = None, value: str | None = None, label: str | None = None,
) -> tuple[CameraPoint, ...]:
    """Cameras (camera_id, name, lon, lat, optional n_frames) as points.

    ``value`` names the column to colour by on ``scale``; ``label`` the column written beside each
    camera. ``weight`` is √(n_frames / max n_frames): marker area grows with the sample.
    """
    if cameras.empty:
        return ()
    n = cameras["n_frames"].fillna(0).to_numpy(dtype=float) if "n_frames" in cameras else np.zeros(len(cameras))
    weight = np.sqrt(n / n.max()) if n.max() > 0 else np.full(len(cameras), 0.17)
    vals = cameras[value].to_numpy(dtype=float) if value and value in cameras else np.full(len(cameras), math.nan)
    labels = cameras[label].astype(str).tolist() if label else [""] * len(cameras)
    return tuple(
        CameraPoint(str(r["camera_id"]), str(r["name"]), float(r["lon"]), float(r["lat"]), float(v),
                    scale.colour(v) if scale else None, float(w), lab)
        for r, v, w, lab in zip(cameras.to_dict("records"), vals, weight, labels)
    )


@dataclass(frozen=True)
class Finding:
    """A place to ring (a road-damage finding); ``at_camera`` False for a mobile camera's worst place."""

    lon: float
    lat: float
    text: str
    at_camera: bool


def finding_layer(lon: Sequence[float], lat: Sequence[float], texts: Sequence[str], at_camera: Sequence[bool]) -> tuple[Finding, ...]:
    """Findings from parallel sequences (all of one length)."""
    if not len(lon) == len(lat) == len(texts) == len(at_camera):
        raise InputError(f"findings need sequences of one length; got {len(lon)}, {len(lat)}, {len(texts)}, {len(at_camera)}")
    return tuple(Finding(float(x), float(y), str(t), bool(a)) for x, y, t, a in zip(lon, lat, texts, at_camera))


def scale_bar_km(width_km: float) -> float:
    """A round scale-bar length of about a fifth of the map width (the first step ≥ width / 5).

    >>> scale_bar_km(6.6), scale_bar_km(1.6), scale_bar_km(10_000.0)
    (2.0, 0.5, 100.0)
    """
    target = width_km / 5
    return next((s for s in SCALE_BAR_STEPS_KM if s >= target), SCALE_BAR_STEPS_KM[-1])


@dataclass(frozen=True)
class ScaleBar:
    """A horizontal bar ``km`` long from (lon0, lat) to (lon1, lat)."""

    lon0: float
    lon1: float
    lat: float
    km: float

    @property
    def text(self) -> str:
        """'500 m' below a kilometre, '2 km' above.

        >>> ScaleBar(0, 1, 0, 0.5).text, ScaleBar(0, 1, 0, 2.0).text
        ('500 m', '2 km')
        """
        return f"{self.km * 1000:.0f} m" if self.km < 1 else f"{self.km:g} km"


def scale_bar(extent: Extent, margin: float = 0.04) -> ScaleBar:
    """A round-length bar in the lower right corner, ``margin`` (a share of the extent) from its edges.

    Its length in degrees of longitude is km / (111.32 · cos(latitude)).
    """
    km = scale_bar_km(extent.width_km)
    deg = km / (KM_PER_DEGREE / extent.aspect)
    lon1 = extent.lon1 - (extent.lon1 - extent.lon0) * margin
    return ScaleBar(lon1 - deg, lon1, extent.lat0 + (extent.lat1 - extent.lat0) * margin, km)


@dataclass(frozen=True)
class NorthArrow:
    """Tip of an arrow pointing north (maps here are never rotated)."""

    lon: float
    lat: float


def north_arrow(extent: Extent, margin: float = 0.03) -> NorthArrow:
    """The arrow's tip in the upper right corner, ``margin`` (a share of the extent) from its edges."""
    return NorthArrow(extent.lon1 - (extent.lon1 - extent.lon0) * margin, extent.lat1 - (extent.lat1 - extent.lat0) * margin)


@dataclass(frozen=True)
class MapStack:
    """Every layer of one map, bottom to top; each backend draws the same stack.

    ``route`` is an (n, 2) lon/lat array of a mobile camera's positions (empty: none); ``route_colours``
    their colours on ``scale`` (the drive map: the main indicator along the street), empty: plain grey dots.
    ``camera_places``: per camera, where its label goes beside the dot (:func:`camera_label_places`;
    '' leaves it out); empty: every label at the top right.
    """

    extent: Extent
    scale: ColourScale
    areas: tuple[Area, ...] = ()
    labels: tuple[Label, ...] = ()
    route: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    cameras: tuple[CameraPoint, ...] = ()
    findings: tuple[Finding, ...] = ()
    route_colours: tuple[str, ...] = ()
    camera_places: tuple[str, ...] = ()

    @property
    def scale_bar(self) -> ScaleBar:
        return scale_bar(self.extent)

    @property
    def north_arrow(self) -> NorthArrow:
        return north_arrow(self.extent)


# ---------------------------------------------------------------------------------------------
# watched cameras that went stale (no frame for a while; analytics.store.health)

STALE_COLOR = "#c62828"
"""Ring and label of a stale watched camera."""


@dataclass(frozen=True)
class StaleMark:
    """A watched camera that is stale, at its position, with its hover text."""

    id: str
    name: str
    lon: float
    lat: float
    text: str


def stale_layer(rows: pd.DataFrame) -> tuple[StaleMark, ...]:
    """Stale cameras (camera_id, name, lon, lat, text) as marks; rows without a position are left out.

    >>> rows = pd.DataFrame({"camera_id": ["a", "b"], "name": ["Gate", "Quay"], "lon": [8.5, None], "lat": [47.3, 47.4],
    ...                      "text": ["Gate: stale", "Quay: stale"]})
    >>> [(m.id, m.text) for m in stale_layer(rows)]
    [('a', 'Gate: stale')]
    """
    if rows.empty:
        return ()
    placed = rows.dropna(subset=["lon", "lat"])
    return tuple(StaleMark(str(r["camera_id"]), str(r["name"]), float(r["lon"]), float(r["lat"]), str(r["text"]))
                 for r in placed.to_dict("records"))
