"""Maps that work offline: district or H3-cell polygons on a blank background, cameras on top.

The default map is a plain x/y plot in longitude/latitude with an equal-distance aspect (one
degree of latitude drawn 1/cos(latitude) times as long as one of longitude), so no tiles and no
internet are needed. Only when a tile URL is configured (``URBANLENS_TILE_URL``) is a base map of
tiles drawn underneath (``go.Scattermap`` with a raster style).

Polygons with enough frames are filled on the viridis scale; cells with too few frames are grey
and hatched and named "not enough data" in the legend. Each polygon has a clickable marker at its
centre carrying ``district:<id>`` (or ``h3:<cell>``); each camera carries ``camera:<id>``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from analytics.indicators import INDICATORS, format_value
from analytics.visual.charts import FONT, MISSING_COLOR, MISSING_TEXT, VALUE_SCALE, display_scale, fmt_n, indicator_title, rows


def _rings(geometry_geojson: str | dict[str, Any]) -> list[list[list[float]]]:
    """Outer rings of a Polygon or MultiPolygon as lists of [lon, lat]."""
    geom = json.loads(geometry_geojson) if isinstance(geometry_geojson, str) else geometry_geojson
    if geom["type"] == "Polygon":
        return [geom["coordinates"][0]]
    if geom["type"] == "MultiPolygon":
        return [poly[0] for poly in geom["coordinates"]]
    return []


def _centre(rings: list[list[list[float]]]) -> tuple[float, float]:
    from shapely.geometry import Polygon

    polys = [Polygon(r) for r in rings if len(r) >= 3]
    if not polys:
        return math.nan, math.nan
    big = max(polys, key=lambda p: p.area)
    pt = big.representative_point()
    return float(pt.x), float(pt.y)


def polygons_frame(
    areas: pd.DataFrame, values: pd.DataFrame, key: str, name: str
) -> pd.DataFrame:
    """Join area geometries (``id``, ``name``, ``geometry_geojson``) with one indicator's cell values.

    ``values`` is :func:`analytics.indicators.compute` output grouped by ``key``; areas without
    any frame get n_frames 0 and enough False. Returns id, name, rings, lon, lat (a label point),
    value, ci_low, ci_high, n_frames, n_clips, enough, text.
    """
    v = values[values["indicator"] == name].set_index(key) if not values.empty else pd.DataFrame()
    out: list[dict[str, Any]] = []
    for a in rows(areas):
        rings = _rings(a.geometry_geojson)
        lon, lat = _centre(rings)
        has = not v.empty and a.id in v.index
        r: Any = v.loc[a.id] if has else None
        value = float(r["value"]) if has else math.nan
        out.append(
            {
                "id": a.id, "name": a.name, "rings": rings, "lon": lon, "lat": lat, "value": value,
                "ci_low": float(r["ci_low"]) if has else math.nan, "ci_high": float(r["ci_high"]) if has else math.nan,
                "n_frames": int(r["n_frames"]) if has else 0, "n_clips": int(r["n_clips"]) if has else 0,
                "enough": bool(r["enough"]) if has else False, "text": format_value(name, value),
            }
        )
    return pd.DataFrame(out)


def h3_areas(values: pd.DataFrame) -> pd.DataFrame:
    """Areas (id, name, geometry_geojson) of the H3 cells present in ``values`` (grouped by 'h3')."""
    from analytics.geo import h3_boundary_geojson

    cells = sorted(values["h3"].dropna().astype(str).unique()) if not values.empty else []
    return pd.DataFrame(
        {"id": cells, "name": [f"H3 {c}" for c in cells], "geometry_geojson": [h3_boundary_geojson(c) for c in cells]},
        columns=["id", "name", "geometry_geojson"],
    )


def district_areas(districts: pd.DataFrame) -> pd.DataFrame:
    """Areas (id, name, geometry_geojson) from the store's districts table."""
    return pd.DataFrame(
        {"id": districts["district_id"], "name": districts["name"], "geometry_geojson": districts["geometry_geojson"]},
        columns=["id", "name", "geometry_geojson"],
    )


def _bounds(polys: pd.DataFrame, cameras: pd.DataFrame) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for rings in polys.get("rings", []):
        for ring in rings:
            xs += [p[0] for p in ring]
            ys += [p[1] for p in ring]
    if not cameras.empty:
        xs += cameras["lon"].astype(float).tolist()
        ys += cameras["lat"].astype(float).tolist()
    if not xs:
        return -1.0, 1.0, -1.0, 1.0
    return min(xs), max(xs), min(ys), max(ys)


def choropleth(
    polys: pd.DataFrame,
    cameras: pd.DataFrame,
    name: str,
    period: str,
    kind: str = "district",
    tile_url: str | None = None,
    height: int = 0,
    min_frames: int | None = None,
) -> go.Figure:
    """Polygons coloured by indicator ``name`` (viridis), grey hatched where data is short, cameras on top.

    ``cameras`` has camera_id, name, lon, lat and n_frames (sample count; marker area grows with it),
    optionally value. ``kind`` names the areas in the legend ('district' or 'h3').
    """
    ind = INDICATORS[name]
    s = display_scale(name)
    ok = polys[polys["enough"]] if not polys.empty else polys
    vals = ok["value"].to_numpy(float) * s if not ok.empty else np.array([])
    vmin, vmax = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    tiles = bool(tile_url)
    scatter: Any = go.Scattermap if tiles else go.Scatter
    lon_key, lat_key = ("lon", "lat") if tiles else ("x", "y")
    fig = go.Figure()
    area_word = "H3 cell" if kind == "h3" else "district"
    shown_missing = False
    for p in rows(polys):
        if p.enough:
            colour = sample_colorscale(VALUE_SCALE, [(p.value * s - vmin) / (vmax - vmin)])[0]
            extra: dict[str, Any] = {"fillcolor": colour.replace("rgb", "rgba").replace(")", ",0.85)")}
            legend: dict[str, Any] = {"showlegend": False}
        else:
            extra = {"fillcolor": MISSING_COLOR}
            if not tiles:
                extra["fillpattern"] = {"shape": "/", "fgcolor": "#9a9a9a", "bgcolor": MISSING_COLOR, "size": 8, "solidity": 0.2}
            legend = {"showlegend": not shown_missing, "name": f"{MISSING_TEXT}" + (f" (< {min_frames} frames)" if min_frames else ""),
                      "legendgroup": "missing"}
            shown_missing = True
        for j, ring in enumerate(p.rings):
            fig.add_trace(
                scatter(
                    **{lon_key: [q[0] for q in ring], lat_key: [q[1] for q in ring]}, mode="lines", fill="toself",
                    line={"color": "white", "width": 1.5}, hoverinfo="skip", **extra,
                    **(legend if j == 0 else {"showlegend": False}),
                )
            )
    if not polys.empty:
        text = [
            f"<b>{p.name}</b><br>{p.text}" + (f" (95% CI {format_value(name, p.ci_low)}–{format_value(name, p.ci_high)})" if p.enough else "")
            + f"<br>{fmt_n(p.n_frames)} frames · {fmt_n(p.n_clips)} clips"
            for p in rows(polys)
        ]
        colour_vals = [p.value * s if p.enough else None for p in rows(polys)]
        labelled = kind != "h3"
        label_text = [f"<b>{p.name}</b><br>{p.text if p.enough else MISSING_TEXT}" for p in rows(polys)]
        light = [v is not None and (v - vmin) / (vmax - vmin) > 0.6 for v in colour_vals]
        fig.add_trace(
            scatter(
                **{lon_key: polys["lon"], lat_key: polys["lat"]}, mode="markers+text" if labelled else "markers",
                name=f"{area_word} (click for detail)",
                text=label_text if labelled else None, textposition="top center" if tiles else "middle center",
                textfont=(
                    {"color": "#1a1a1a", "size": 12} if tiles
                    else {"color": ["#1a1a1a" if li or v is None else "#ffffff" for li, v in zip(light, colour_vals)], "size": 12}
                ),
                marker={
                    "size": 12 if tiles else (28 if labelled else 8),
                    "opacity": [0.9 if v is not None else 0.0 for v in colour_vals] if tiles or not labelled else 0.0,
                    "color": [v if v is not None else vmin for v in colour_vals],
                    "colorscale": VALUE_SCALE, "cmin": vmin, "cmax": vmax, "showscale": True,
                    "colorbar": {"title": {"text": f"{ind.label}<br>({ind.unit}{', heuristic' if ind.heuristic else ''})<br>"
                                           f"<span style='font-size:10px'>{period}</span>", "side": "top"},
                                 "thickness": 14, "len": 0.75, "x": 1.0, "y": 0.5},
                    **({} if tiles or labelled else {"line": {"color": "white", "width": 1}}),
                },
                customdata=[f"{kind}:{i}" for i in polys["id"]], hovertext=text, hoverinfo="text", showlegend=False,
            )
        )
    if not cameras.empty:
        n = cameras["n_frames"].fillna(0).astype(float).to_numpy() if "n_frames" in cameras else np.zeros(len(cameras))
        size = 6 + 12 * np.sqrt(n / n.max()) if n.max() > 0 else np.full(len(cameras), 8.0)
        ctext = [
            f"<b>{r.name}</b> ({r.camera_id})<br>{fmt_n(getattr(r, 'n_frames', 0) or 0)} frames"
            + (f"<br>{indicator_title(name, with_unit=False)}: {format_value(name, r.value)}" if "value" in cameras else "")
            + "<br>click to open the camera"
            for r in rows(cameras)
        ]
        marker: dict[str, Any] = {"size": size, "color": "#ffffff", "opacity": 0.95}
        if not tiles:
            marker["line"] = {"color": "#1a1a1a", "width": 1.5}
            marker["symbol"] = "circle"
        fig.add_trace(
            scatter(
                **{lon_key: cameras["lon"], lat_key: cameras["lat"]}, mode="markers", name="camera (size: frames sampled)",
                marker=marker, customdata=[f"camera:{c}" for c in cameras["camera_id"]], hovertext=ctext, hoverinfo="text",
            )
        )
    x0, x1, y0, y1 = _bounds(polys, cameras)
    pad_x, pad_y = max((x1 - x0) * 0.04, 0.002), max((y1 - y0) * 0.04, 0.002)
    if height <= 0:  # fit the height to the area's shape for a plot about 900 px wide
        aspect = ((x1 - x0 + 2 * pad_x) * math.cos(math.radians((y0 + y1) / 2))) / max(y1 - y0 + 2 * pad_y, 1e-9)
        height = int(min(640, max(360, 640 / max(aspect, 0.2) + 60)))
    fig.update_layout(
        height=height, margin={"l": 0, "r": 0, "t": 40, "b": 0}, font={"family": FONT, "size": 12},
        title={"text": f"{indicator_title(name)} by {area_word} · {period}", "x": 0.0, "font": {"size": 15}},
        legend={"orientation": "h", "y": 0.0, "x": 0.0, "bgcolor": "rgba(255,255,255,0.8)"},
        clickmode="event+select", dragmode="pan" if not tiles else None, paper_bgcolor="white",
    )
    if tiles:
        fig.update_layout(
            map={
                "style": {"version": 8, "sources": {"base": {"type": "raster", "tiles": [tile_url], "tileSize": 256}},
                          "layers": [{"id": "base", "type": "raster", "source": "base"}]},
                "center": {"lon": (x0 + x1) / 2, "lat": (y0 + y1) / 2},
                "zoom": _zoom(x1 - x0, y1 - y0),
            }
        )
    else:
        lat0 = (y0 + y1) / 2
        fig.update_layout(plot_bgcolor="#f4f6f8")
        fig.update_xaxes(visible=False, range=[x0 - pad_x, x1 + pad_x])
        fig.update_yaxes(visible=False, range=[y0 - pad_y, y1 + pad_y], scaleanchor="x", scaleratio=1 / math.cos(math.radians(lat0)))
    return fig


def _zoom(dx: float, dy: float) -> float:
    span = max(dx, dy, 1e-4)
    return float(max(1.0, min(17.0, math.log2(360.0 / span) - 0.5)))


def camera_location_figure(
    camera: dict[str, Any] | None, districts: pd.DataFrame, tile_url: str | None = None, height: int = 300,
    track: pd.DataFrame | None = None,
) -> go.Figure:
    """A small offline map: the camera (and its district outline) with the other districts in grey.

    ``track`` (lon, lat): positions of a mobile camera's frames, drawn as small dots. With
    ``camera=None`` it draws the district outlines only (the import preview).
    """
    camera = camera or {}
    polys = pd.DataFrame(
        {
            "id": districts["district_id"], "name": districts["name"],
            "rings": [_rings(g) for g in districts["geometry_geojson"]],
        }
    ) if not districts.empty else pd.DataFrame(columns=["id", "name", "rings"])
    fig = go.Figure()
    for p in rows(polys):
        mine = p.id == camera.get("district_id")
        for ring in p.rings:
            fig.add_trace(
                go.Scatter(
                    x=[q[0] for q in ring], y=[q[1] for q in ring], mode="lines", fill="toself", hoverinfo="text", hovertext=p.name,
                    fillcolor="rgba(33,145,140,0.25)" if mine else "rgba(200,200,200,0.35)", line={"color": "#666", "width": 1},
                    showlegend=False,
                )
            )
        lon, lat = _centre(p.rings)
        fig.add_annotation(x=lon, y=lat, text=p.name, showarrow=False, font={"size": 10, "color": "#555"})
    if track is not None and not track.empty:
        fig.add_trace(
            go.Scatter(
                x=track["lon"], y=track["lat"], mode="markers", marker={"size": 4, "color": "#E69F00"}, name="route (frames)",
                hoverinfo="skip", showlegend=False,
            )
        )
    if "lon" in camera:
        fig.add_trace(
            go.Scatter(
                x=[camera["lon"]], y=[camera["lat"]], mode="markers",
                marker={"size": 14, "color": "#0072B2", "line": {"color": "white", "width": 2}},
                hovertext=f"{camera['name']} ({camera['lon']:.5f}, {camera['lat']:.5f})", hoverinfo="text", showlegend=False,
            )
        )
    cams = pd.DataFrame([camera]) if "lon" in camera else pd.DataFrame()
    x0, x1, y0, y1 = _bounds(polys, cams)
    pad = max(x1 - x0, y1 - y0, 0.004) * 0.05
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#f4f6f8", paper_bgcolor="white",
                      font={"family": FONT})
    fig.update_xaxes(visible=False, range=[x0 - pad, x1 + pad])
    fig.update_yaxes(visible=False, range=[y0 - pad, y1 + pad], scaleanchor="x", scaleratio=1 / math.cos(math.radians((y0 + y1) / 2)))
    return fig


ZONE_COLORS = {"sidewalk": "#E69F00", "lane": "#56B4E9", "crossing": "#F0E442", "plaza": "#CC79A7", "bike_lane": "#009E73",
               "parking": "#0072B2", "other": "#ffffff"}


def zones_figure(zones: pd.DataFrame, width: int, height: int, image: bytes | None = None, mime: str = "image/jpeg") -> go.Figure:
    """Zones (pixel polygons) drawn over a preview frame, or over a blank frame of the clip's size."""
    import base64

    fig = go.Figure()
    if image is not None:
        uri = f"data:{mime};base64," + base64.b64encode(image).decode("ascii")
        fig.add_layout_image(source=uri, x=0, y=0, sizex=width, sizey=height, xref="x", yref="y", sizing="stretch", layer="below")
    for z in rows(zones):
        pts = json.loads(z.polygon_json)
        colour = ZONE_COLORS.get(z.role, "#ffffff")
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts] + [pts[0][0]], y=[p[1] for p in pts] + [pts[0][1]], mode="lines", fill="toself",
                line={"color": colour, "width": 2}, opacity=0.6,
                name=f"{z.zone} ({z.role})", hovertext=f"{z.zone}: {z.role}", hoverinfo="text",
            )
        )
    fig.update_layout(height=320, margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#333333" if image is None else "white",
                      legend={"orientation": "h", "y": -0.05}, font={"family": FONT})
    fig.update_xaxes(visible=False, range=[0, width], constrain="domain")
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x", constrain="domain")
    return fig
