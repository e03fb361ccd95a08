"""Maps that work offline: district or H3-cell polygons on a blank background, cameras on top.

The default map is a plain x/y plot in longitude/latitude with an equal-distance aspect (one
degree of latitude drawn 1/cos(latitude) times as long as one of longitude), so no tiles and no
internet are needed. Only when a tile URL is configured (``URBANLENS_TILE_URL``) is a base map of
tiles drawn underneath (``go.Scattermap`` with a raster style).

Polygons with enough frames are filled on the indicator's scale (:func:`~analytics.visual.layers.indicator_scale`:
darker green is better, darker red is worse, the same in the dashboard and both reports); cells with
too few frames are grey and hatched and named "not enough data" in the legend. A lattice of
invisible points covers every polygon (:func:`~analytics.visual.layers.hit_points`), each carrying
``district:<id>`` (or ``h3:<cell>``) and the area's tooltip, so hover and click answer anywhere over
the area; each camera carries ``camera:<id>``. Selecting fades nothing: the chosen area is outlined.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import h3
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError
from analytics.formatting import MISSING_TEXT, format_count, format_count_value, format_interval, format_value
from analytics.geo import district_of_points, h3_boundary_geojson, polygon_rings
from analytics.visual.charts import FONT, indicator_title, plot_text, rows
from analytics.visual.layers import (
    DAMAGE_COLOR,
    INK,
    MISSING_COLOR,
    STALE_COLOR,
    Area,
    CameraPoint,
    ColourScale,
    Extent,
    Finding,
    Label,
    NorthArrow,
    ScaleBar,
    StaleMark,
    area_layer,
    camera_layer,
    extent_of,
    hit_points,
    indicator_scale,
    label_layer,
    north_arrow,
    scale_bar,
)

__all__ = [
    "HIGHLIGHT_FILL",
    "AREA_ALPHA",
    "polygons_frame",
    "h3_areas",
    "district_areas",
    "add_areas",
    "add_hit_areas",
    "add_outlines",
    "add_labels",
    "add_colour_bar",
    "add_route",
    "add_cameras",
    "add_findings",
    "add_scale_bar",
    "add_north_arrow",
    "set_extent",
    "set_tiles",
    "choropleth",
    "camera_location_figure",
    "ZONE_COLORS",
    "COUNT_LINE_COLOR",
    "add_count_symbols",
    "count_symbol_rows",
    "line_arrows",
    "zones_figure",
    "add_stale_marks",
]

HIGHLIGHT_FILL = "#c8e3e2"
"""Fill of the district a camera stands in (camera location map)."""

AREA_ALPHA = 0.85
"""Opacity of the value fills on the dashboard map."""


def polygons_frame(
    areas: pd.DataFrame, values: pd.DataFrame, key: str, name: str
) -> pd.DataFrame:
    """Join area geometries (``id``, ``name``, ``geometry_geojson``) with one indicator's cell values.

    ``values`` is :func:`analytics.indicators.compute` output grouped by ``key``; areas without
    any frame get n_frames 0 and enough False. Returns id, name, rings, value, ci_low, ci_high,
    n_frames, n_clips, enough, text.
    """
    v = values[values["indicator"] == name].set_index(key) if not values.empty else pd.DataFrame()
    out: list[dict[str, Any]] = []
    for a in rows(areas):
        has = not v.empty and a.id in v.index
        r: Any = v.loc[a.id] if has else None
        value = float(r["value"]) if has else math.nan
        out.append(
            {
                "id": a.id, "name": a.name, "rings": polygon_rings(a.geometry_geojson), "value": value,
                "ci_low": float(r["ci_low"]) if has else math.nan, "ci_high": float(r["ci_high"]) if has else math.nan,
                "n_frames": int(r["n_frames"]) if has else 0, "n_clips": int(r["n_clips"]) if has else 0,
                "enough": bool(r["enough"]) if has else False, "text": format_value(name, value),
            }
        )
    return pd.DataFrame(out, columns=["id", "name", "rings", "value", "ci_low", "ci_high", "n_frames", "n_clips", "enough", "text"])


def h3_areas(values: pd.DataFrame, districts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Areas (id, name, geometry_geojson) of the H3 cells present in ``values`` (grouped by 'h3').

    A cell is named after the district holding its centre (``districts``: the store's districts
    table), 'outside districts' where none does, 'H3 cell' without districts.
    """
    cells = sorted(values["h3"].dropna().astype(str).unique()) if not values.empty else []
    names = ["H3 cell"] * len(cells)
    if cells and districts is not None and not districts.empty:
        centres = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float)
        found = district_of_points(centres[:, 1], centres[:, 0], districts)
        by_id = dict(zip(districts["district_id"], districts["name"]))
        names = [str(by_id.get(d, d)) if d is not None else "outside districts" for d in found]
    return pd.DataFrame(
        {"id": cells, "name": names, "geometry_geojson": [h3_boundary_geojson(c) for c in cells]},
        columns=["id", "name", "geometry_geojson"],
    )


def district_areas(districts: pd.DataFrame) -> pd.DataFrame:
    """Areas (id, name, geometry_geojson) from the store's districts table."""
    return pd.DataFrame(
        {"id": districts["district_id"], "name": districts["name"], "geometry_geojson": districts["geometry_geojson"]},
        columns=["id", "name", "geometry_geojson"],
    )


# ---------------------------------------------------------------------------------------------
# one renderer per layer: each adds its traces (or shapes) to ``fig`` and returns it.
# ``tiles`` draws on a tile map (lon/lat traces) instead of plain x/y axes.


def _scatter(tiles: bool, lon: Any, lat: Any, **kw: Any) -> go.Scatter | go.Scattermap:
    if tiles:
        return go.Scattermap(lon=lon, lat=lat, **kw)
    return go.Scatter(x=lon, y=lat, **kw)


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def add_areas(
    fig: go.Figure, areas: Sequence[Area], hover: Sequence[str] | None = None, tiles: bool = False, edge: str = "white",
    width: float = 1.5, alpha: float = AREA_ALPHA, context_edge: str = "#aaaaaa", missing_name: str = MISSING_TEXT,
) -> go.Figure:
    """Each area filled with its colour at ``alpha``; missing ones grey and hatched, named once in the legend.

    Areas drawn for context only get their fill as it is and a thin ``context_edge``. ``hover``
    gives one text per area; without it the polygons take no hover (a marker layer carries it).
    """
    shown_missing = False
    for i, a in enumerate(areas):
        style: dict[str, Any] = {"fillcolor": _rgba(a.fill, alpha), "line": {"color": edge, "width": width}}
        legend: dict[str, Any] = {"showlegend": False}
        if not a.focus:
            style = {"fillcolor": a.fill, "line": {"color": context_edge, "width": 0.8}}
        elif a.missing:
            style["fillcolor"] = MISSING_COLOR
            if not tiles:
                style["fillpattern"] = {"shape": "/", "fgcolor": "#9a9a9a", "bgcolor": MISSING_COLOR, "size": 8, "solidity": 0.2}
            legend = {"showlegend": not shown_missing, "name": missing_name, "legendgroup": "missing"}
            shown_missing = True
        tip: dict[str, Any] = {"hoverinfo": "text", "text": hover[i]} if hover is not None else {"hoverinfo": "skip"}
        for j, ring in enumerate(a.rings):
            fig.add_trace(_scatter(tiles, ring[:, 0], ring[:, 1], mode="lines", fill="toself", **style, **tip,
                                   **(legend if j == 0 else {"showlegend": False})))
    return fig


def add_hit_areas(
    fig: go.Figure, areas: Sequence[Area], keys: Sequence[str], hover: Sequence[str], extent: Extent, name: str,
    tiles: bool = False, across: int = 64,
) -> go.Figure:
    """Invisible points over the whole of each area (:func:`~analytics.visual.layers.hit_points`), carrying
    the area's key (``district:<id>``) and tooltip, so hover and click answer anywhere inside it.

    Each point answers within its marker radius (11 px), more than half the lattice spacing on a map
    about 900 px wide (14 px), so there is no gap between points; selecting one fades nothing.
    """
    hits = hit_points(areas, extent, across)
    invisible = {"marker": {"opacity": 0.0}}
    return fig.add_trace(_scatter(
        tiles, hits.lon, hits.lat, mode="markers", name=name, marker={"size": 22, "color": "#000000", "opacity": 0.0},
        customdata=[keys[i] for i in hits.area], hovertext=[hover[i] for i in hits.area], hoverinfo="text",
        hoverlabel={"bgcolor": "white", "font": {"color": INK}}, showlegend=False, selected=invisible, unselected=invisible,
    ))


def add_outlines(
    fig: go.Figure, areas: Sequence[Area], colour: str = INK, width: float = 1.2, tiles: bool = False, name: str | None = None,
) -> go.Figure:
    """Each area's rings as lines on top, unfilled and silent (no hover), one trace for all (``None`` between rings)."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    for a in areas:
        for ring in a.rings:
            lon += [*ring[:, 0].tolist(), None]
            lat += [*ring[:, 1].tolist(), None]
    if not lon:
        return fig
    return fig.add_trace(_scatter(tiles, lon, lat, mode="lines", line={"color": colour, "width": width}, hoverinfo="skip",
                                  name=name or "", showlegend=bool(name)))


def add_labels(fig: go.Figure, labels: Sequence[Label], tiles: bool = False, size: int = 12) -> go.Figure:
    """Each label at its point: the name (bold for areas in focus) over its detail line, in the label's colour.
    Names are text as typed (:func:`~analytics.visual.charts.plot_text`), never markup.

    One trace per colour whose selected and unselected text keep that colour: a selection on the
    map never fades a label.
    """
    for colour in dict.fromkeys(INK if tiles else lb.colour for lb in labels):
        part = [lb for lb in labels if tiles or lb.colour == colour]
        text = [(f"<b>{plot_text(lb.name)}</b>" if lb.focus else plot_text(lb.name)) + (f"<br>{lb.detail}" if lb.detail else "")
                for lb in part]
        font = {"color": colour, "size": size if tiles else [size if lb.focus else size - 1 for lb in part]}
        keep = {} if tiles else {"selected": {"textfont": {"color": colour}}, "unselected": {"textfont": {"color": colour}}}
        fig.add_trace(_scatter(tiles, [lb.lon for lb in part], [lb.lat for lb in part], mode="text", text=text,
                               textposition="top center" if tiles else "middle center", textfont=font, hoverinfo="skip",
                               showlegend=False, **keep))
    return fig


def add_colour_bar(fig: go.Figure, scale: ColourScale, title: str, tiles: bool = False) -> go.Figure:
    """The value scale as a horizontal colour bar under the map (an invisible trace that carries it), titled
    ``title`` and, where the scale has one, how to read its direction ('darker green = better').

    Under the map, not beside it: a bar at the side takes half of a phone's width from the map."""
    if scale.reading:
        title += f"<br><b>{scale.reading}</b>"
    return fig.add_trace(_scatter(
        tiles, [None], [None], mode="markers", hoverinfo="skip", showlegend=False,
        marker={"color": [scale.vmin], "colorscale": [list(s) for s in scale.stops], "cmin": scale.vmin, "cmax": scale.vmax,
                "showscale": True, "opacity": 0,
                "colorbar": {"title": {"text": title, "side": "top"}, "orientation": "h", "thickness": 12, "len": 0.8,
                             "x": 0.0, "xanchor": "left", "y": -0.02, "yanchor": "top"}},
    ))


def add_route(
    fig: go.Figure, route: np.ndarray, tiles: bool = False, size: int = 3, colour: str | Sequence[str] = "#555555", legend: bool = True,
) -> go.Figure:
    """A mobile camera's positions ((n, 2) lon/lat) as small dots, of one colour or one each (a drive map)."""
    if not len(route):
        return fig
    colours = list(colour) if not isinstance(colour, str) else colour
    edge = {"line": {"width": 0.5, "color": "#333333"}} if not isinstance(colour, str) else {}  # pale values stay visible
    return fig.add_trace(_scatter(tiles, route[:, 0], route[:, 1], mode="markers", marker={"size": size, "color": colours, **edge},
                                  name="mobile camera route", hoverinfo="skip", showlegend=legend,
                                  unselected={"marker": {"opacity": 1.0}}))


def add_cameras(
    fig: go.Figure, cameras: Sequence[CameraPoint], hover: Sequence[str], name: str, tiles: bool = False, sized: bool = True,
    places: Sequence[str] = (),
) -> go.Figure:
    """Cameras as ringed dots in their fill (white when unfilled), clickable as ``camera:<id>``.

    ``sized``: marker area grows with the camera's sample (6–18 px across), else 15 px; labels, if
    any, beside each dot at its place in ``places`` (a corner of :data:`~analytics.visual.layers.CORNERS`,
    '' leaves the label out; empty: top right).
    """
    if not cameras:
        return fig
    marker: dict[str, Any] = {"size": [6 + 12 * c.weight for c in cameras] if sized else 15,
                              "color": [c.fill or "#ffffff" for c in cameras], "opacity": 0.95}
    if not tiles:
        marker["line"] = {"color": INK, "width": 1.5 if sized else 1.2}
    labelled = any(c.label for c in cameras)
    where = list(places) or ["top right"] * len(cameras)
    return fig.add_trace(_scatter(
        tiles, [c.lon for c in cameras], [c.lat for c in cameras], mode="markers+text" if labelled else "markers", name=name,
        marker=marker, text=[plot_text(c.label) if p else "" for c, p in zip(cameras, where, strict=True)] if labelled else None,
        textposition="top right" if tiles or not places else [p or "top right" for p in where],
        customdata=[f"camera:{c.id}" for c in cameras], hovertext=list(hover), hoverinfo="text",
        unselected={"marker": {"opacity": 0.95}},
    ))


def add_findings(fig: go.Figure, findings: Sequence[Finding]) -> go.Figure:
    """A red ring around each finding at a camera, a red cross at a mobile camera's worst place."""
    for at_camera, symbol, size in ((True, "circle-open", 26), (False, "x", 14)):
        sel = [f for f in findings if f.at_camera == at_camera]
        if sel:
            fig.add_trace(go.Scatter(
                x=[f.lon for f in sel], y=[f.lat for f in sel], mode="markers", name="road-damage finding",
                marker={"size": size, "symbol": symbol, "color": DAMAGE_COLOR, "line": {"color": DAMAGE_COLOR, "width": 2.5}},
                hovertext=[plot_text(f.text) for f in sel], hoverinfo="text", legendgroup="damage", showlegend=at_camera or len(sel) == len(findings),
            ))
    return fig


def add_scale_bar(fig: go.Figure, bar: ScaleBar, tiles: bool = False) -> go.Figure:
    """The bar as a line in map coordinates with its length written above it.

    On a tile map (no text in map coordinates without a font server) the bar is a line trace
    named with its length in the legend.
    """
    if tiles:
        return fig.add_trace(go.Scattermap(lon=[bar.lon0, bar.lon1], lat=[bar.lat, bar.lat], mode="lines",
                                           line={"color": INK, "width": 4}, name=f"scale bar: {bar.text}", hoverinfo="skip"))
    fig.add_shape(type="line", xref="x", yref="y", x0=bar.lon0, x1=bar.lon1, y0=bar.lat, y1=bar.lat, line={"color": INK, "width": 3})
    fig.add_annotation(x=(bar.lon0 + bar.lon1) / 2, y=bar.lat, text=bar.text, showarrow=False, yanchor="bottom", yshift=3,
                       font={"size": 11, "color": INK}, bgcolor="rgba(255,255,255,0.7)", borderpad=1)
    return fig


def add_north_arrow(fig: go.Figure, arrow: NorthArrow, tiles: bool = False) -> go.Figure:
    """An arrow up to ``arrow`` with an N beneath it (on a tile map, which is drawn north up: in its upper right corner)."""
    where: dict[str, Any] = {"x": 0.97, "y": 0.97, "xref": "paper", "yref": "paper"} if tiles else {"x": arrow.lon, "y": arrow.lat}
    fig.add_annotation(**where, text="<b>N</b>", showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=2,
                       arrowcolor=INK, ax=0, ay=34, font={"size": 12, "color": INK}, bgcolor="rgba(255,255,255,0.7)", borderpad=1)
    return fig


def set_extent(fig: go.Figure, extent: Extent, background: str = "#f4f6f8") -> go.Figure:
    """Plain hidden axes showing exactly ``extent``, one degree of latitude drawn 1/cos(latitude) times one of longitude.

    The view widens past the extent to fill the plot area (``constrain="range"``), so the map takes
    the whole width of a phone instead of shrinking to the extent's shape in a tall box; the scale
    bar and north arrow stay at the extent's corners.
    """
    fig.update_layout(plot_bgcolor=background)
    fig.update_xaxes(visible=False, range=[extent.lon0, extent.lon1], constrain="range")
    fig.update_yaxes(visible=False, range=[extent.lat0, extent.lat1], scaleanchor="x", scaleratio=extent.aspect, constrain="range")
    return fig


def set_tiles(fig: go.Figure, extent: Extent, tile_url: str) -> go.Figure:
    """A raster tile base map from ``tile_url`` centred on ``extent``."""
    return fig.update_layout(
        map={
            "style": {"version": 8, "sources": {"base": {"type": "raster", "tiles": [tile_url], "tileSize": 256}},
                      "layers": [{"id": "base", "type": "raster", "source": "base"}]},
            "center": {"lon": (extent.lon0 + extent.lon1) / 2, "lat": extent.lat_mid},
            "zoom": _zoom(extent.lon1 - extent.lon0, extent.lat1 - extent.lat0),
        }
    )


def _zoom(dx: float, dy: float) -> float:
    span = max(dx, dy, 1e-4)
    return float(max(1.0, min(17.0, math.log2(360.0 / span) - 0.5)))


# ---------------------------------------------------------------------------------------------
# the dashboard's value map


def _area_hover(polys: pd.DataFrame, name: str, kind: str) -> list[str]:
    """Tooltip of each area: its place name, the value with its interval, the sample; an H3 cell's id last, small."""
    return [
        f"<b>{plot_text(p.name)}</b><br>{indicator_title(name, with_unit=False)}: {p.text}"
        + (f" (95% CI {format_interval(name, p.ci_low, p.ci_high, p.value)})" if p.enough else "")
        + f"<br>{format_count(p.n_frames)} frames · {format_count(p.n_clips)} clips"
        + (f"<br><span style='font-size:10px;color:#777777'>H3 cell {plot_text(p.id)}</span>" if kind == "h3" else "<br>click for detail")
        for p in rows(polys)
    ]


def _camera_hover(cameras: pd.DataFrame, name: str) -> list[str]:
    return [
        f"<b>{plot_text(r.name)}</b> ({plot_text(r.camera_id)})<br>{format_count(getattr(r, 'n_frames', 0))} frames"
        + (f"<br>{indicator_title(name, with_unit=False)}: {format_value(name, r.value)}" if "value" in cameras else "")
        + "<br>click to open the camera"
        for r in rows(cameras)
    ]


def _map_height(extent: Extent) -> int:
    """Height fitting the area's shape for a plot about 900 px wide (360–640 px)."""
    return int(min(640, max(360, 640 * min(extent.ratio, 5.0) + 60)))


def _outline_areas(outlines: pd.DataFrame | None) -> tuple[Area, ...]:
    """Areas (context only) of an id / name / geometry_geojson frame, for boundaries drawn on top."""
    if outlines is None or outlines.empty:
        return ()
    frame = outlines.assign(value=math.nan, enough=True, focus=False)
    frame["rings"] = pd.Series([polygon_rings(g) for g in frame["geometry_geojson"]], index=frame.index, dtype=object)
    return area_layer(frame, None)


def choropleth(
    polys: pd.DataFrame,
    cameras: pd.DataFrame,
    name: str,
    period: str,
    kind: str = "district",
    tile_url: str | None = None,
    height: int = 0,
    min_frames: int | None = None,
    selected: str | None = None,
    outlines: pd.DataFrame | None = None,
) -> go.Figure:
    """Polygons coloured by indicator ``name`` on its scale, grey hatched where data is short, cameras on top.

    ``polys`` is :func:`polygons_frame` output; ``cameras`` has camera_id, name, lon, lat and
    n_frames (sample count; marker area grows with it), optionally value. ``kind`` names the areas
    in the legend ('district' or 'h3'); ``selected`` is the id of an area to outline; ``outlines``
    (id, name, geometry_geojson: :func:`district_areas`) are boundaries drawn over the areas (the
    districts over H3 cells). Layers: areas, hit points (hover and click anywhere inside an area),
    boundaries, the selected area's outline, labels (districts only, moved off the cameras), colour
    bar (under the map), cameras, a scale bar and a north arrow (on a tile map too).
    """
    if kind not in ("district", "h3"):
        raise InputError(f"map areas {kind!r}; expected 'district' or 'h3'")
    tiles = bool(tile_url)
    area_word = "H3 cell" if kind == "h3" else "district"
    ok = polys[polys["enough"]] if not polys.empty else polys
    scale = indicator_scale(name, ok["value"] if not ok.empty else [])
    areas = area_layer(polys, scale)
    cams = camera_layer(cameras)
    extent = extent_of([r for a in areas for r in a.rings], [cameras[["lon", "lat"]].to_numpy(dtype=float)] if not cameras.empty else [])
    fig = go.Figure()
    add_areas(fig, areas, tiles=tiles, edge="#bdbdbd" if kind == "h3" else "#666666", width=0.6 if kind == "h3" else 0.8,
              missing_name=MISSING_TEXT + (f" (< {min_frames} frames)" if min_frames else ""))
    if areas:
        add_hit_areas(fig, areas, [f"{kind}:{a.id}" for a in areas], _area_hover(polys, name, kind), extent,
                      f"{area_word} (click for detail)", tiles=tiles)
        add_outlines(fig, _outline_areas(outlines), colour="#333333", width=1.6, tiles=tiles,
                     name="district boundary" if kind == "h3" else None)
        add_outlines(fig, [a for a in areas if a.id == selected], colour="#000000", width=4, tiles=tiles)
        if kind == "district":  # moved off the cameras: no camera hides a district's name
            avoid = np.array([(c.lon, c.lat) for c in cams], dtype=float).reshape(-1, 2)
            add_labels(fig, label_layer(areas, extent, alpha=AREA_ALPHA, with_values=True, avoid=avoid), tiles=tiles)
        add_colour_bar(fig, scale, f"{indicator_title(name)}, <span style='font-size:10px'>{period}</span>", tiles=tiles)
    add_cameras(fig, cams, _camera_hover(cameras, name), "camera (size: frames sampled)", tiles=tiles)
    fig.update_layout(
        height=height if height > 0 else _map_height(extent), margin={"l": 0, "r": 0, "t": 40, "b": 0},
        font={"family": FONT, "size": 12}, title={"text": f"{indicator_title(name)} by {area_word} · {period}", "x": 0.0, "font": {"size": 15}},
        legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0.0, "bgcolor": "rgba(255,255,255,0.8)"},
        clickmode="event+select", dragmode="pan" if not tiles else None, paper_bgcolor="white", hovermode="closest",
    )
    add_scale_bar(fig, scale_bar(extent), tiles=tiles)
    add_north_arrow(fig, north_arrow(extent), tiles=tiles)
    if tile_url:
        return set_tiles(fig, extent, tile_url)
    return set_extent(fig, extent)


def camera_location_figure(
    camera: dict[str, Any] | None, districts: pd.DataFrame, tile_url: str | None = None, height: int = 300,
    track: pd.DataFrame | None = None,
) -> go.Figure:
    """A small offline map: the camera (and its district outline) with the other districts in grey, a scale bar and a north arrow.

    ``track`` (lon, lat): positions of a mobile camera's frames, drawn as small dots. With
    ``camera=None`` it draws the district outlines only (the import preview).
    """
    camera = camera or {}
    frame = district_areas(districts).assign(value=math.nan, enough=True, focus=False)
    frame["rings"] = pd.Series([polygon_rings(g) for g in frame["geometry_geojson"]], index=frame.index, dtype=object)
    areas = tuple(
        dataclasses.replace(a, fill=HIGHLIGHT_FILL if a.id == camera.get("district_id") else "#e6e7e9")
        for a in area_layer(frame, None)
    )
    here = np.array([[camera["lon"], camera["lat"]]], dtype=float) if "lon" in camera else np.empty((0, 2))
    extent = extent_of([r for a in areas for r in a.rings], [here], pad=0.05, min_pad=0.0002)
    fig = go.Figure()
    add_areas(fig, areas, hover=[plot_text(a.name) for a in areas], context_edge="#666666")
    add_labels(fig, label_layer(areas, extent), size=11)
    if track is not None and not track.empty:
        add_route(fig, track[["lon", "lat"]].to_numpy(dtype=float), size=4, colour="#E69F00", legend=False)
    if "lon" in camera:
        fig.add_trace(
            go.Scatter(
                x=[camera["lon"]], y=[camera["lat"]], mode="markers",
                marker={"size": 14, "color": "#0072B2", "line": {"color": "white", "width": 2}},
                hovertext=f"{plot_text(camera['name'])} ({camera['lon']:.5f}, {camera['lat']:.5f})", hoverinfo="text", showlegend=False,
            )
        )
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="white", font={"family": FONT})
    add_scale_bar(fig, scale_bar(extent))
    add_north_arrow(fig, north_arrow(extent))
    return set_extent(fig, extent)


ZONE_COLORS = {"dwell": "#0072B2", "sidewalk": "#E69F00", "lane": "#56B4E9", "crossing": "#F0E442", "plaza": "#CC79A7", "bike_lane": "#009E73",
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
        if z.role == "line":
            _add_count_line(fig, str(z.zone), pts, (getattr(z, "in_label", None), getattr(z, "out_label", None)), 0.15 * height)
            continue
        colour = ZONE_COLORS.get(z.role, "#ffffff")
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts] + [pts[0][0]], y=[p[1] for p in pts] + [pts[0][1]], mode="lines", fill="toself",
                line={"color": colour, "width": 2}, opacity=0.6,
                name=plot_text(f"{z.zone} ({z.role})"), hovertext=plot_text(f"{z.zone}: {z.role}"), hoverinfo="text",
            )
        )
    fig.update_layout(height=320, margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#333333" if image is None else "white",
                      legend={"orientation": "h", "y": -0.05}, font={"family": FONT})
    fig.update_xaxes(visible=False, range=[0, width], constrain="domain")
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x", constrain="domain")
    return fig


COUNT_LINE_COLOR = "#D81B60"


def line_arrows(start: Sequence[float], end: Sequence[float], length: float = 40.0) -> dict[str, tuple[float, float, float, float]]:
    """Arrows for a count line's two directions, ``(x0, y0, x1, y1)`` from the line to the tip:
    ``in`` from 40% along the line towards its left (of ``start → end`` on screen, y down), ``out``
    from 60% along it towards its right (:mod:`analytics.footage.lines`), each ``length`` pixels.

    >>> line_arrows((0, 50), (100, 50))
    {'in': (40.0, 50.0, 40.0, 10.0), 'out': (60.0, 50.0, 60.0, 90.0)}
    """
    (ax, ay), (bx, by) = (float(start[0]), float(start[1])), (float(end[0]), float(end[1]))
    norm = math.hypot(bx - ax, by - ay) or 1.0
    rx, ry = -(by - ay) / norm, (bx - ax) / norm  # the right of a → b on screen (y down)
    out: dict[str, tuple[float, float, float, float]] = {}
    for direction, along, side in (("in", 0.4, -1.0), ("out", 0.6, 1.0)):
        x0, y0 = ax + along * (bx - ax), ay + along * (by - ay)
        out[direction] = (x0, y0, x0 + side * length * rx, y0 + side * length * ry)
    return out


def _add_count_line(fig: go.Figure, name: str, pts: list[list[float]], labels: tuple[object, object], length: float) -> None:
    """A count line with its name and an arrow per direction, the direction's name at the arrow's tip."""
    fig.add_trace(go.Scatter(x=[pts[0][0], pts[1][0]], y=[pts[0][1], pts[1][1]], mode="lines+markers",
                             line={"color": COUNT_LINE_COLOR, "width": 4}, marker={"size": 7}, name=plot_text(f"{name} (count line)"),
                             hovertext=plot_text(f"count line {name}"), hoverinfo="text"))
    names = {d: str(v) if isinstance(v, str) and v else d for d, v in zip(("in", "out"), labels, strict=True)}
    for direction, (x0, y0, x1, y1) in line_arrows(pts[0], pts[1], length).items():
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True, arrowhead=3,
                           arrowwidth=2.5, arrowcolor=COUNT_LINE_COLOR, text="")
        fig.add_annotation(x=x1, y=y1, xref="x", yref="y", showarrow=False, text=plot_text(f"{direction}: {names[direction]}"),
                           font={"color": "white", "size": 11}, bgcolor="rgba(0,0,0,0.65)",
                           yshift=10 if y1 < y0 else -10)


def add_count_symbols(fig: go.Figure, counts: pd.DataFrame, tiles: bool = False) -> go.Figure:
    """Counting cameras as squares whose area grows with their crossings per hour (people + cyclists + vehicles).

    ``counts`` has camera_id, name, lon, lat, per_hour and text (hover); the largest square is
    30 px across, a square's side ∝ √per_hour so that its area is proportional to the count.
    """
    if counts.empty:
        return fig
    rate = counts["per_hour"].to_numpy(dtype=float)
    top = float(np.nanmax(rate)) if np.isfinite(rate).any() and np.nanmax(rate) > 0 else 1.0
    size = 8 + 22 * np.sqrt(np.clip(np.nan_to_num(rate), 0, None) / top)
    marker: dict[str, Any] = {"size": size.tolist(), "color": "rgba(216, 27, 96, 0.55)"}
    if not tiles:
        marker |= {"symbol": "square", "line": {"color": COUNT_LINE_COLOR, "width": 1.5}}
    return fig.add_trace(_scatter(
        tiles, counts["lon"].tolist(), counts["lat"].tolist(), mode="markers", name="counts (size: crossings per hour)",
        marker=marker, hovertext=[plot_text(t) for t in counts["text"]], hoverinfo="text",
        customdata=[f"camera:{c}" for c in counts["camera_id"]],
    ))


def count_symbol_rows(summary: pd.DataFrame, cameras: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`add_count_symbols` draws: each counting camera of ``summary``
    (:func:`analytics.store.counts.camera_count_summary`) at its position, with a hover text of its rates.

    >>> s = pd.DataFrame({"camera_id": ["a"], "per_hour": [90.0], "people_per_hour_counted": [60.0], "cyclists_per_hour": [10.0],
    ...                   "vehicles_per_hour": [20.0], "hours": [2.0]})
    >>> c = pd.DataFrame({"camera_id": ["a", "b"], "name": ["Main St", "Park"], "lon": [1.0, 2.0], "lat": [3.0, 4.0]})
    >>> count_symbol_rows(s, c)[["camera_id", "per_hour", "text"]].values.tolist()
    [['a', 90.0, 'Main St: 60 people/h, 10 cyclists/h, 20 vehicles/h (2.0 h counted)']]
    """
    cols = ["camera_id", "name", "lon", "lat", "per_hour", "text"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    df = summary.merge(cameras[["camera_id", "name", "lon", "lat"]], on="camera_id", how="inner")
    rates = ("people_per_hour_counted", "cyclists_per_hour", "vehicles_per_hour")
    df["text"] = [f"{r['name']}: " + ", ".join(format_count_value(n, float(r[n])) for n in rates) + f" ({r['hours']:.1f} h counted)"
                  for _, r in df.iterrows()]
    return pd.DataFrame(df[cols])


def add_stale_marks(fig: go.Figure, marks: Sequence[StaleMark], tiles: bool = False) -> go.Figure:
    """A red ring and the word "stale" around each stale watched camera (no frame for a while),
    clickable as ``camera:<id>``; on tiles (where rings are not drawn) a large translucent red dot."""
    if not marks:
        return fig
    marker: dict[str, Any] = ({"size": 26, "color": "rgba(198, 40, 40, 0.35)"} if tiles else
                              {"size": 26, "symbol": "circle-open", "color": STALE_COLOR, "line": {"color": STALE_COLOR, "width": 3}})
    return fig.add_trace(_scatter(
        tiles, [m.lon for m in marks], [m.lat for m in marks], mode="markers+text", name="stale live camera",
        marker=marker, text=["stale"] * len(marks), textposition="bottom center", textfont={"color": STALE_COLOR, "size": 11},
        hovertext=[plot_text(m.text) for m in marks], hoverinfo="text", customdata=[f"camera:{m.id}" for m in marks],
        unselected={"marker": {"opacity": 1.0}},
    ))
