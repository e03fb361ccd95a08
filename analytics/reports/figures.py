"""Static report figures with matplotlib (object API, no pyplot state): map and pattern charts as PNG bytes.

Drawn at 200 dpi for print; used by the PDF writer (the HTML writer draws the same figures with
plotly so they stay interactive). Every function takes report content and returns bytes.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.patches import Polygon as MplPolygon
from matplotlib.patheffects import withStroke

from analytics.formatting import MISSING_TEXT, display_scale, format_value, to_display
from analytics.geo import polygon_rings
from analytics.indicators import INDICATORS
from analytics.reports.content import PATTERN_INDICATORS, ReportContent
from analytics.visual import charts
from analytics.visual.layers import (
    DAMAGE_COLOR,
    DIRECTION_SCALES,
    MISSING_COLOR,
    Area,
    CameraPoint,
    ColourScale,
    Extent,
    Finding,
    Label,
    MapStack,
    NorthArrow,
    ScaleBar,
    area_layer,
    camera_label_places,
    camera_layer,
    extent_of,
    finding_layer,
    indicator_scale,
    label_layer,
)

__all__ = [
    "DPI",
    "INK",
    "LEVEL_COLORS",
    "literal",
    "MAP_ALPHA",
    "MUTED",
    "WIDTH_IN",
    "cmap_name",
    "draw_areas",
    "draw_cameras",
    "draw_colour_bar",
    "draw_findings",
    "draw_labels",
    "draw_north_arrow",
    "draw_route",
    "draw_scale_bar",
    "fixed_cameras",
    "map_layers",
    "route_colours",
    "ROUTE_GREY",
    "map_png",
    "pattern_png",
    "set_extent",
]

DPI = 200
WIDTH_IN = 6.85  # A4 text width with 18 mm margins

LEVEL_COLORS = {"free": "#4daf4a", "moderate": "#fdb863", "heavy": "#e66101", "jammed": "#7f0000", "unknown": "#bbbbbb"}
MAP_ALPHA = 0.6
"""Opacity of the value fills on the report map (the HTML report draws it the same)."""
INK = "#222222"
MUTED = "#777777"

_STYLE_LOCK = threading.Lock()  # rc_context changes matplotlib's global settings: one figure at a time (dashboard threads)
_RC: Any = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
       "legend.fontsize": 7, "font.family": "DejaVu Sans"}


def literal(text: str) -> str:
    """``text`` as matplotlib should print it: a ``$`` escaped, so a name never turns into mathtext.

    >>> literal("Cost $5 to $9 zone")
    'Cost \\\\$5 to \\\\$9 zone'
    """
    return str(text).replace("$", r"\$")


def cmap_name(indicator: str) -> str:
    """Colour map of an indicator: the one every map uses (:data:`analytics.visual.layers.DIRECTION_SCALES`).

    >>> cmap_name("green_view"), cmap_name("road_occupancy")
    ('YlGn', 'YlOrRd')
    """
    return DIRECTION_SCALES[INDICATORS[indicator].better]


def fixed_cameras(content: ReportContent) -> pd.DataFrame:
    """The report's cameras that stand still (a mobile camera is drawn as its route instead)."""
    cams = content.cameras
    return cams[cams["kind"] != "mobile"] if not cams.empty else cams


def map_layers(content: ReportContent) -> MapStack:
    """The report map, as layers both report formats draw.

    Areas: the districts, those of the report's area filled by the main indicator on its theme's
    scale (districts around it grey, for context); labels: their names, moved off the cameras
    and the drive (:func:`~analytics.visual.layers.clear_anchor`); the mobile camera route;
    fixed cameras coloured on the same scale and labelled with their rank and name at a corner where
    the label covers no other label (:func:`~analytics.visual.layers.camera_label_places`; left out
    where no corner is free: the table lists every camera); road-damage findings.
    The extent holds the area's districts, its cameras and (city report) the route, with 8% margin.
    """
    main = content.main_indicator
    d, cams = content.districts, content.cameras
    values = [*d["value"], *(cams[main] if not cams.empty else [])]
    scale = indicator_scale(main, values)
    frame = d.rename(columns={"district_id": "id"}).assign(focus=d["in_area"], text=[format_value(main, v) for v in d["value"]],
                                                         rings=pd.Series([polygon_rings(g) for g in d["geometry_geojson"]], index=d.index, dtype=object))
    areas = area_layer(frame, scale)
    route = content.track[["lon", "lat"]].to_numpy(dtype=float) if not content.track.empty else np.empty((0, 2))
    points = [cams[["lon", "lat"]].dropna().to_numpy(dtype=float)] if not cams.empty else []
    extent = extent_of([r for a in areas if a.focus for r in a.rings], [*points, route] if content.is_city else points, pad=0.08)
    fixed = fixed_cameras(content)
    ranked = fixed.assign(label=[f"{r or '–'} {n}" for r, n in zip(fixed["rank"], fixed["name"])])
    fixed_ids = set(fixed["camera_id"])
    findings = finding_layer([f.lon for f in content.damage], [f.lat for f in content.damage], [f.text for f in content.damage],
                             [f.camera_id in fixed_ids for f in content.damage])
    colours = route_colours(content.track, scale)
    cameras = camera_layer(ranked, scale, value=main, label="label")
    avoid = np.vstack([np.array([(c.lon, c.lat) for c in cameras], dtype=float).reshape(-1, 2), route[::5]])  # cameras and the drive
    labels = label_layer(areas, extent, alpha=MAP_ALPHA, avoid=avoid)
    return MapStack(extent, scale, areas, labels, route, cameras, findings, colours, camera_label_places(cameras, labels, extent))


def route_colours(track: pd.DataFrame, scale: ColourScale) -> tuple[str, ...]:
    """Each route point's colour on the map's scale (the main indicator along the street, pooled per ~10 m
    by :func:`analytics.visual.drive.route_cells`); grey where a point has no value; () without values."""
    if track.empty or "value" not in track.columns:
        return ()
    return tuple(scale.colour(float(v)) or ROUTE_GREY for v in track["value"])


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _axis_label(ind: str) -> str:
    i = INDICATORS[ind]
    return f"{i.label} (%)" if i.is_share else f"{i.label} ({i.unit})"


# one renderer per map layer (see analytics.visual.layers); each draws on ``ax``


def draw_areas(ax: Any, areas: Sequence[Area], alpha: float = MAP_ALPHA) -> None:
    """Areas filled at ``alpha``; missing ones grey and hatched; context ones light grey with a thin outline."""
    for a in areas:
        for ring in a.rings:
            if not a.focus:
                ax.add_patch(MplPolygon(ring, closed=True, facecolor=a.fill, edgecolor="#aaaaaa", linewidth=0.6, zorder=0))
                continue
            face = MISSING_COLOR if a.missing else to_rgba(a.fill, alpha)
            ax.add_patch(MplPolygon(ring, closed=True, facecolor=face, edgecolor="#9a9a9a" if a.missing else "none",
                                    hatch="////" if a.missing else None, linewidth=0, zorder=1))
            ax.add_patch(MplPolygon(ring, closed=True, fill=False, edgecolor=INK, linewidth=1.1, alpha=0.8, zorder=1))


def draw_labels(ax: Any, labels: Sequence[Label]) -> None:
    """Each area's name (bold in focus) over its detail line, in the label's colour."""
    for lb in labels:
        ax.text(lb.lon, lb.lat, literal(lb.name) + (f"\n{literal(lb.detail)}" if lb.detail else ""), ha="center", va="center",
                fontsize=8 if lb.focus else 7, color=lb.colour, fontweight="bold" if lb.focus else "normal", zorder=2)


ROUTE_GREY = "#555555"


def draw_route(ax: Any, route: np.ndarray, colours: Sequence[str] = ()) -> None:
    """A mobile camera's positions as dots: coloured by the main indicator where ``colours`` are given, else small grey ones."""
    if not len(route):
        return
    if len(colours) == len(route):
        ax.scatter(route[:, 0], route[:, 1], s=14, c=list(colours), edgecolors="#333333", linewidths=0.35, zorder=3)  # an edge: pale values stay visible
    else:
        ax.scatter(route[:, 0], route[:, 1], s=2, color=ROUTE_GREY, alpha=0.5, zorder=3)


HALO = [withStroke(linewidth=2.2, foreground="white")]
"""A white edge around label text, so it reads over a route or a dot."""

_CORNER_OFFSETS = {"top right": ((6, 4), "left", "bottom"), "top left": ((-6, 4), "right", "bottom"),
                   "bottom right": ((6, -4), "left", "top"), "bottom left": ((-6, -4), "right", "top")}
"""Matplotlib offset (points) and alignment of a camera label at each corner of its dot."""


def draw_cameras(ax: Any, cameras: Sequence[CameraPoint], places: Sequence[str] = ()) -> None:
    """Cameras as ringed dots in their fill (white when unfilled), each label beside its dot at its place
    (``places``, one per camera: a corner of :data:`~analytics.visual.layers.CORNERS`, '' for none; empty: top right)."""
    if not cameras:
        return
    ax.scatter([c.lon for c in cameras], [c.lat for c in cameras], s=70, c=[c.fill or "#ffffff" for c in cameras], edgecolors=INK,
               linewidths=0.9, zorder=4)
    for c, place in zip(cameras, places or ["top right"] * len(cameras), strict=True):
        if c.label and place:
            offset, ha, va = _CORNER_OFFSETS[place]
            ax.annotate(literal(c.label), (c.lon, c.lat), xytext=offset, textcoords="offset points", fontsize=6.5, color=INK,
                        ha=ha, va=va, zorder=6, path_effects=HALO)


def draw_findings(ax: Any, findings: Sequence[Finding]) -> None:
    """A red ring around each finding at a camera, a red cross at a mobile camera's worst place."""
    for f in findings:
        if f.at_camera:
            ax.scatter([f.lon], [f.lat], s=230, facecolors="none", edgecolors=DAMAGE_COLOR, linewidths=1.6, zorder=5)
        else:
            ax.scatter([f.lon], [f.lat], s=120, marker="X", color=DAMAGE_COLOR, zorder=5)


def draw_scale_bar(ax: Any, bar: ScaleBar) -> None:
    """The bar with its length written above it."""
    ax.plot([bar.lon0, bar.lon1], [bar.lat, bar.lat], color=INK, linewidth=2, solid_capstyle="butt", zorder=6)
    ax.annotate(bar.text, ((bar.lon0 + bar.lon1) / 2, bar.lat), xytext=(0, 3), textcoords="offset points", ha="center",
                va="bottom", fontsize=7, zorder=6)


def draw_north_arrow(ax: Any, arrow: NorthArrow) -> None:
    """An arrow up to ``arrow`` with an N beneath it."""
    ax.annotate("N", (arrow.lon, arrow.lat), xytext=(0, -24), textcoords="offset points", ha="center", va="top", fontsize=9,
                fontweight="bold", color=INK, arrowprops={"arrowstyle": "-|>", "color": INK, "linewidth": 1.4}, zorder=6)


def draw_colour_bar(fig: Figure, cax: Any, scale: ColourScale, label: str) -> None:
    """The value scale as a vertical colour bar in ``cax``, in displayed units."""
    cmap = LinearSegmentedColormap.from_list(scale.name, [(p, c) for p, c in scale.stops])
    sm = ScalarMappable(norm=Normalize(scale.vmin, scale.vmax), cmap=cmap)
    sm.set_array(np.array([]))
    fig.colorbar(sm, cax=cax).set_label(label)


def set_extent(ax: Any, extent: Extent) -> None:
    """Axes over ``extent`` with equal distances (aspect 1/cos(latitude)), no ticks, light frame."""
    ax.set_xlim(extent.lon0, extent.lon1)
    ax.set_ylim(extent.lat0, extent.lat1)
    ax.set_aspect(extent.aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("#bbbbbb")


def _legend_handles(m: MapStack) -> list[Any]:
    handles: list[Any] = [Patch(facecolor="white", edgecolor=INK, label="camera (colour: value; number: rank)")]
    if any(a.missing for a in m.areas):
        handles.append(Patch(facecolor=MISSING_COLOR, edgecolor="#9a9a9a", hatch="////", label=MISSING_TEXT))
    if m.findings:
        handles.append(Patch(facecolor="white", edgecolor=DAMAGE_COLOR, label="road-damage finding"))
    if len(m.route):
        handles.append(Patch(facecolor="#888888", label="mobile camera route" + (" (colour: value along it)" if m.route_colours else "")))
    return handles


def map_png(content: ReportContent) -> bytes:
    """The area's districts (filled by the main indicator), its cameras (coloured the same) and road-damage findings.

    The legend sits in a strip under the map, where it hides no camera.
    """
    import matplotlib

    m = map_layers(content)
    handles = _legend_handles(m)
    map_h = float(np.clip(WIDTH_IN * 0.86 * m.extent.ratio, 2.6, 5.6))
    strip = 0.1 + 0.17 * math.ceil(len(handles) / 2)  # inches: two legend entries a row
    height = map_h + strip
    with _STYLE_LOCK, matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, height))
        ax = fig.add_axes((0.01, (strip + 0.02 * map_h) / height, 0.84, 0.96 * map_h / height))
        draw_areas(ax, m.areas)
        draw_labels(ax, m.labels)
        draw_route(ax, m.route, m.route_colours)
        draw_cameras(ax, m.cameras, m.camera_places)
        draw_findings(ax, m.findings)
        draw_scale_bar(ax, m.scale_bar)
        draw_north_arrow(ax, m.north_arrow)
        set_extent(ax, m.extent)
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.0), ncol=2, frameon=False)
        cax = fig.add_axes((0.88, (strip + 0.15 * map_h) / height, 0.025, 0.7 * map_h / height))
        draw_colour_bar(fig, cax, m.scale, _axis_label(content.main_indicator) + (f"\n{m.scale.reading}" if m.scale.reading else ""))
        return _png(fig)


def _band(ax: Any, x: np.ndarray, df: pd.DataFrame, ind: str, color: str, style: str = "-", marker: str = "o") -> None:
    s = display_scale(ind)
    y = df[ind].to_numpy(dtype=float) * s
    lo, hi = df[f"{ind}_low"].to_numpy(dtype=float) * s, df[f"{ind}_high"].to_numpy(dtype=float) * s
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)
    ax.plot(x, y, style, color=color, marker=marker, markersize=2.5, linewidth=1.4, label=INDICATORS[ind].label)


def _day_axis(ax: Any, days: Any) -> None:
    """A date axis over the period of ``days``: at most six labels (matplotlib's concise dates: the year where it
    changes, so labels never overlap however long the period), weekends shaded (one span per weekend) up to
    :data:`~analytics.visual.charts.WEEKEND_SHADING_DAYS` days."""
    import matplotlib.dates as mdates  # deferred with matplotlib itself (see pattern_png)

    span = charts.time_span(days)
    if span is None:
        return
    lo, hi = pd.Timestamp(span[0]) - pd.Timedelta(hours=12), pd.Timestamp(span[1]) + pd.Timedelta(hours=12)
    if (span[1] - span[0]).days + 1 <= charts.WEEKEND_SHADING_DAYS:
        for a, b in charts.weekend_runs(days):
            ax.axvspan(pd.Timestamp(a) - pd.Timedelta(hours=12), pd.Timestamp(b) + pd.Timedelta(hours=12), color="#f0f0f0",
                       zorder=0, linewidth=0)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=span[0].year == span[1].year))
    ax.set_xlim(lo, hi)


def _congestion_bar(ax: Any, x: np.ndarray, levels: pd.Series, by: str, weekly: bool) -> np.ndarray:
    """The congestion level of each hour or day as one coloured bar along the bottom 5% of ``ax``; the levels drawn."""
    lv = np.array([str(v) if str(v) in LEVEL_COLORS else "unknown" for v in levels])
    known = lv != "unknown"
    if known.any():  # one collection along the bottom 5% of the panel, not one patch per hour or day
        import matplotlib.dates as mdates  # deferred with matplotlib itself

        xs = np.asarray(x[known], dtype=float) if by == "hour" else mdates.date2num(x[known])
        left, width = (0.0, 7.0) if weekly else (0.5, 1.0)  # one bar per hour or day centred on it, per week from Monday
        ax.broken_barh([(v - left, width) for v in xs], (0, 0.05), facecolors=[LEVEL_COLORS[v] for v in lv[known]],
                       linewidth=0, transform=ax.get_xaxis_transform(), zorder=1)
    return lv


def _pattern_axis(ax: Any, by: str, xlabel: str, full: pd.DataFrame) -> None:
    """Grid, spines, label and ticks of one pattern panel: hours 00-23, or the period's days (``full``)."""
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylim(bottom=0)
    if by == "hour":
        ax.set_xlim(-0.5, 23.5)
        ax.set_xticks(range(0, 24, 3))
        ax.set_xticklabels([f"{h:02d}" for h in range(0, 24, 3)])
    else:
        _day_axis(ax, full["day"])


def pattern_png(df: pd.DataFrame, by: str) -> bytes:
    """Two panels over hour of day (``by='hour'``) or day (``by='day'``): pedestrian use, and congestion.

    By day, days without footage are left out and lines break at gaps
    (:func:`analytics.visual.charts.break_gaps`); over more than :data:`~analytics.visual.charts.WEEKLY_DAYS`
    days there is one point per week (:func:`analytics.visual.charts.weekly_rollup`). The work grows linearly
    with the number of days.
    """
    import matplotlib

    full = df
    weekly = by == "day" and charts.is_weekly(full["day"])
    if by == "day":
        rolled = charts.weekly_rollup_wide(df, PATTERN_INDICATORS) if weekly else df
        df = charts.break_gaps(rolled[rolled["n_frames"] > 0], "day", step=charts.WEEK if weekly else None)
    with _STYLE_LOCK, matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, 2.55))
        axes = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.075, right=0.985, top=0.87, bottom=0.25, wspace=0.28)
        if by == "hour":
            x = df["hour"].to_numpy(dtype=float)
            xlabel = "hour of day"
        else:
            x = df["day"].to_numpy()
            shaded = len(full) <= charts.WEEKEND_SHADING_DAYS
            xlabel = "week (from Monday)" if weekly else ("day (weekends shaded)" if shaded else "day")
        ax1, ax2 = axes
        _band(ax1, x, df, "people_per_frame", "#2c7fb8")
        ax1.set_ylabel("people per frame")
        ax1.set_title("Pedestrian use", loc="left", fontweight="bold")
        _band(ax2, x, df, "road_occupancy", "#d95f0e")
        _band(ax2, x, df, "vehicle_stationarity", "#636363", style="--", marker="s")
        lv = _congestion_bar(ax2, x, df["congestion_level"], by, weekly)
        ax2.set_ylabel("% of road / of vehicles")
        ax2.set_title("Congestion (bar: level)", loc="left", fontweight="bold")
        for ax in axes:
            _pattern_axis(ax, by, xlabel, full)
        ax2.set_ylim(bottom=0)
        h, labels = ax2.get_legend_handles_labels()
        levels = [Patch(color=LEVEL_COLORS[k], label=k) for k in ("free", "moderate", "heavy", "jammed") if k in set(lv)]
        ax2.legend(h + levels, labels + [p.get_label() for p in levels], loc="upper left", ncol=2, frameon=False,
                   bbox_to_anchor=(0.0, 1.02))
        ax1.legend(loc="upper left", frameon=False)
        top1 = np.nanmax(np.r_[df["people_per_frame_high"].to_numpy(dtype=float), 0.1])
        ax1.set_ylim(0, top1 * 1.25)
        top2 = np.nanmax(np.r_[df["road_occupancy_high"].to_numpy(dtype=float), df["vehicle_stationarity_high"].to_numpy(dtype=float), 0.1])
        ax2.set_ylim(0, to_display("road_occupancy", top2) * 1.45)
        return _png(fig)
