"""Static report figures with matplotlib (object API, no pyplot state): map and pattern charts as PNG bytes.

Drawn at 200 dpi for print; used by the PDF writer (the HTML writer draws the same figures with
plotly so they stay interactive). Every function takes report content and returns bytes.
"""

from __future__ import annotations

import io
import json
import math
import threading
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.patches import Polygon as MplPolygon

from analytics.indicators import INDICATORS, WEEKDAYS
from analytics.reports.content import ReportContent

DPI = 200
WIDTH_IN = 6.85  # A4 text width with 18 mm margins

THEME_CMAPS = {"green": "YlGn", "congestion": "OrRd", "pedestrians": "PuBu", "damage": "Reds", "form": "Blues",
               "land cover": "viridis", "quality": "Greys"}
LEVEL_COLORS = {"free": "#4daf4a", "moderate": "#fdb863", "heavy": "#e66101", "jammed": "#7f0000", "unknown": "#bbbbbb"}
DAMAGE_COLOR = "#d7191c"
INK = "#222222"
MUTED = "#777777"

_STYLE_LOCK = threading.Lock()  # rc_context changes matplotlib's global settings: one figure at a time (dashboard threads)
_RC: Any = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
       "legend.fontsize": 7, "font.family": "DejaVu Sans"}


def cmap_name(indicator: str) -> str:
    """Colour map of an indicator, by its theme.

    >>> cmap_name("green_view"), cmap_name("road_occupancy")
    ('YlGn', 'OrRd')
    """
    return THEME_CMAPS.get(INDICATORS[indicator].theme, "viridis")


def polygon_rings(geojson: str) -> list[np.ndarray]:
    """Exterior rings (lon, lat arrays) of a GeoJSON Polygon or MultiPolygon; [] for anything else.

    >>> [r.shape for r in polygon_rings('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}')]
    [(4, 2)]
    """
    try:
        geom = json.loads(geojson)
    except (TypeError, ValueError):
        return []
    if geom.get("type") == "Feature":
        geom = geom.get("geometry") or {}
    if geom.get("type") == "Polygon":
        polys = [geom["coordinates"]]
    elif geom.get("type") == "MultiPolygon":
        polys = geom["coordinates"]
    else:
        return []
    return [np.asarray(p[0], dtype=float)[:, :2] for p in polys if p and len(p[0]) >= 3]


def map_extent(content: ReportContent) -> tuple[float, float, float, float]:
    """(lon0, lon1, lat0, lat1) of the area with a margin: its district polygon(s), cameras and route."""
    pts: list[np.ndarray] = []
    for geo, in_area in zip(content.districts["geometry_geojson"], content.districts["in_area"]):
        if in_area:
            pts.extend(polygon_rings(geo))
    if not content.cameras.empty:
        pts.append(content.cameras[["lon", "lat"]].dropna().to_numpy(dtype=float))
    if not content.track.empty and content.is_city:
        pts.append(content.track[["lon", "lat"]].to_numpy(dtype=float))
    allp = np.concatenate([p for p in pts if len(p)]) if any(len(p) for p in pts) else np.array([[0.0, 0.0], [1.0, 1.0]])
    lon0, lat0 = allp.min(axis=0)
    lon1, lat1 = allp.max(axis=0)
    pad_lon, pad_lat = max((lon1 - lon0) * 0.08, 0.002), max((lat1 - lat0) * 0.08, 0.002)
    return float(lon0 - pad_lon), float(lon1 + pad_lon), float(lat0 - pad_lat), float(lat1 + pad_lat)


def value_norm(content: ReportContent) -> Normalize:
    """One colour scale for districts and cameras of the main indicator."""
    vals = [content.districts["value"].to_numpy(dtype=float)]
    if not content.cameras.empty:
        vals.append(content.cameras[content.main_indicator].to_numpy(dtype=float))
    v = np.concatenate(vals)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Normalize(0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.01, hi + 0.01
    return Normalize(lo, hi)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _scale(ind: str) -> float:
    return 100.0 if INDICATORS[ind].is_share else 1.0


def _axis_label(ind: str) -> str:
    i = INDICATORS[ind]
    return f"{i.label} (%)" if i.is_share else f"{i.label} ({i.unit})"


def map_png(content: ReportContent) -> bytes:
    """The area's districts (filled by the main indicator), its cameras (coloured the same) and road-damage findings."""
    import matplotlib

    with _STYLE_LOCK, matplotlib.rc_context(_RC):
        main = content.main_indicator
        cmap = colormaps[cmap_name(main)]
        norm = value_norm(content)
        lon0, lon1, lat0, lat1 = map_extent(content)
        aspect = 1.0 / max(math.cos(math.radians((lat0 + lat1) / 2)), 0.2)
        ratio = (lat1 - lat0) * aspect / max(lon1 - lon0, 1e-9)
        height = float(np.clip(WIDTH_IN * 0.86 * ratio, 2.6, 5.6))
        fig = Figure(figsize=(WIDTH_IN, height))
        ax = fig.add_axes((0.01, 0.02, 0.84, 0.96))
        cax = fig.add_axes((0.88, 0.15, 0.025, 0.7))
        for row in content.districts.to_dict("records"):
            for ring in polygon_rings(row["geometry_geojson"]):
                val = row["value"]
                if row["in_area"]:
                    face = cmap(norm(val)) if isinstance(val, float) and math.isfinite(val) else "#eeeeee"
                    ax.add_patch(MplPolygon(ring, closed=True, facecolor=face, edgecolor=INK, linewidth=1.2, alpha=0.55, zorder=1))
                else:
                    ax.add_patch(MplPolygon(ring, closed=True, facecolor="#f4f4f4", edgecolor="#aaaaaa", linewidth=0.6, zorder=0))
                cx, cy = ring[:-1].mean(axis=0) if len(ring) > 3 else ring.mean(axis=0)
                if lon0 <= cx <= lon1 and lat0 <= cy <= lat1:
                    ax.text(cx, cy, str(row["name"]), ha="center", va="center", fontsize=8 if row["in_area"] else 7,
                            color=INK if row["in_area"] else MUTED, fontweight="bold" if row["in_area"] else "normal",
                            alpha=0.55, zorder=2)
        if not content.track.empty:
            ax.scatter(content.track["lon"], content.track["lat"], s=2, color="#555555", alpha=0.5, zorder=3, label="mobile camera route")
        cams = content.cameras
        if not cams.empty:
            fixed = cams[cams["kind"] != "mobile"]
            vals = fixed[main].to_numpy(dtype=float)
            colors = [cmap(norm(v)) if math.isfinite(v) else "#ffffff" for v in vals]
            ax.scatter(fixed["lon"], fixed["lat"], s=70, c=colors, edgecolors=INK, linewidths=0.9, zorder=4)
            damaged = {f.camera_id for f in content.damage}
            for r in fixed.to_dict("records"):
                if r["camera_id"] in damaged:
                    ax.scatter([r["lon"]], [r["lat"]], s=230, facecolors="none", edgecolors=DAMAGE_COLOR, linewidths=1.6, zorder=5)
                ax.annotate(f"{r['rank'] or '–'} {r['name']}", (r["lon"], r["lat"]), xytext=(6, 5), textcoords="offset points",
                            fontsize=6.5, color=INK, zorder=6)
        fixed_ids = set() if cams.empty else set(cams.loc[cams["kind"] != "mobile", "camera_id"])
        for f in content.damage:
            if f.camera_id not in fixed_ids:  # a mobile camera: mark its worst place
                ax.scatter([f.lon], [f.lat], s=120, marker="X", color=DAMAGE_COLOR, zorder=5)
        ax.set_xlim(lon0, lon1)
        ax.set_ylim(lat0, lat1)
        ax.set_aspect(aspect)
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_color("#bbbbbb")
        handles: list[Any] = [Patch(facecolor="white", edgecolor=INK, label="camera (colour: value; number: rank)")]
        if content.damage:
            handles.append(Patch(facecolor="white", edgecolor=DAMAGE_COLOR, label="road-damage finding"))
        if not content.track.empty:
            handles.append(Patch(facecolor="#888888", label="mobile camera route"))
        ax.legend(handles=handles, loc="lower left", frameon=True, framealpha=0.9)
        ax.text(0.985, 0.97, "N ↑", transform=ax.transAxes, ha="right", va="top", fontsize=9, fontweight="bold")
        km = _scale_bar_km(lon1 - lon0, (lat0 + lat1) / 2)
        deg = km / (111.32 * math.cos(math.radians((lat0 + lat1) / 2)))
        x0, y0 = lon1 - (lon1 - lon0) * 0.04 - deg, lat0 + (lat1 - lat0) * 0.04
        ax.plot([x0, x0 + deg], [y0, y0], color=INK, linewidth=2, zorder=6)
        ax.text(x0 + deg / 2, y0 + (lat1 - lat0) * 0.015, f"{km:g} km", ha="center", va="bottom", fontsize=7, zorder=6)
        sm = _mappable(cmap, norm, main)
        cb = fig.colorbar(sm, cax=cax)
        cb.set_label(_axis_label(main))
        if INDICATORS[main].is_share:
            cb.ax.yaxis.set_major_formatter(lambda v, _p: f"{100 * v:.0f}")
        return _png(fig)


def _mappable(cmap: Any, norm: Normalize, main: str) -> Any:
    from matplotlib.cm import ScalarMappable

    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array(np.array([]))
    return sm


def _scale_bar_km(width_deg: float, lat: float) -> float:
    """A round scale-bar length of about a fifth of the map width.

    >>> _scale_bar_km(0.08, 42.0), _scale_bar_km(0.02, 42.0)
    (2.0, 0.5)
    """
    width_km = width_deg * 111.32 * math.cos(math.radians(lat))
    target = width_km / 5
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if step >= target:
            return float(step)
    return 100.0


def _band(ax: Any, x: np.ndarray, df: pd.DataFrame, ind: str, color: str, style: str = "-", marker: str = "o") -> None:
    s = _scale(ind)
    y = df[ind].to_numpy(dtype=float) * s
    lo, hi = df[f"{ind}_low"].to_numpy(dtype=float) * s, df[f"{ind}_high"].to_numpy(dtype=float) * s
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)
    ax.plot(x, y, style, color=color, marker=marker, markersize=2.5, linewidth=1.4, label=INDICATORS[ind].label)


def pattern_png(df: pd.DataFrame, by: str) -> bytes:
    """Two panels over hour of day (``by='hour'``) or day (``by='day'``): pedestrian use, and congestion."""
    import matplotlib

    with _STYLE_LOCK, matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, 2.55))
        axes = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.075, right=0.985, top=0.87, bottom=0.25, wspace=0.28)
        if by == "hour":
            x = df["hour"].to_numpy(dtype=float)
            xlabel = "hour of day"
        else:
            x = np.arange(len(df), dtype=float)
            xlabel = "day (weekends shaded)"
        ax1, ax2 = axes
        _band(ax1, x, df, "people_per_frame", "#2c7fb8")
        ax1.set_ylabel("people per frame")
        ax1.set_title("Pedestrian use", loc="left", fontweight="bold")
        _band(ax2, x, df, "road_occupancy", "#d95f0e")
        _band(ax2, x, df, "vehicle_stationarity", "#636363", style="--", marker="s")
        lv = df["congestion_level"].astype(str).to_numpy()
        for xi, level in zip(x, lv):
            if level != "unknown":
                ax2.axvspan(xi - 0.5, xi + 0.5, ymin=0.0, ymax=0.05, color=LEVEL_COLORS[level], linewidth=0)
        ax2.set_ylabel("% of road / of vehicles")
        ax2.set_title("Congestion (bar: level)", loc="left", fontweight="bold")
        for ax in axes:
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
                days = list(df["day"])
                for i, d in enumerate(days):
                    if d.weekday() >= 5:
                        ax.axvspan(i - 0.5, i + 0.5, color="#f0f0f0", zorder=0)
                step = max(1, math.ceil(len(days) / 10))
                ax.set_xticks(x[::step])
                ax.set_xticklabels([f"{WEEKDAYS[d.weekday()]}\n{d:%d %b}" for d in days[::step]])
                ax.set_xlim(-0.5, len(days) - 0.5)
        ax2.set_ylim(bottom=0)
        h, labels = ax2.get_legend_handles_labels()
        levels = [Patch(color=LEVEL_COLORS[k], label=k) for k in ("free", "moderate", "heavy", "jammed") if k in set(lv)]
        ax2.legend(h + levels, labels + [p.get_label() for p in levels], loc="upper left", ncol=2, frameon=False,
                   bbox_to_anchor=(0.0, 1.02))
        ax1.legend(loc="upper left", frameon=False)
        top1 = np.nanmax(np.r_[df["people_per_frame_high"].to_numpy(dtype=float), 0.1])
        ax1.set_ylim(0, top1 * 1.25)
        top2 = np.nanmax(np.r_[df["road_occupancy_high"].to_numpy(dtype=float), df["vehicle_stationarity_high"].to_numpy(dtype=float), 0.1])
        ax2.set_ylim(0, top2 * 100 * 1.45)
        return _png(fig)
