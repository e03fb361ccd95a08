"""The drive map: a moving camera's route coloured by an indicator (green view along the street).

Built from the same map layers as every other map (:mod:`analytics.visual.layers` for the
pieces, :mod:`analytics.visual.maps` for drawing them): grey district outlines with their names,
the route, a colour bar on the indicator's scale (:func:`~analytics.visual.layers.indicator_scale`,
the same colours as the choropleths), a scale bar and a north arrow, offline unless a tile URL is
set. The route is the camera's frames with a position (placed by a GPS track or at the camera's
point; frames outside their track have none and are not drawn), pooled per :data:`ROUTE_DECIMALS`-decimal lon/lat square (about 10 m) so a long drive
stays a few thousand dots: each dot's value is ``Σ numerator / Σ denominator`` of its frames,
the same ratio of sums as every indicator.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError
from analytics.formatting import display_scale, format_count
from analytics.geo import polygon_rings
from analytics.indicators import INDICATORS
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.geodata import route_frames
from analytics.visual.charts import FONT, plot_text
from analytics.visual.layers import area_layer, extent_of, indicator_scale, label_layer, north_arrow, scale_bar
from analytics.visual.maps import (
    add_areas,
    add_colour_bar,
    add_labels,
    add_north_arrow,
    add_scale_bar,
    district_areas,
    set_extent,
    set_tiles,
)

__all__ = ["ROUTE_DECIMALS", "drive_figure", "drive_route", "route_cells"]

ROUTE_DECIMALS = 4
"""Decimals of lon/lat a route dot pools its frames over (1e-4° is about 11 m north–south)."""


def route_cells(points: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """Frames (columns lon, lat, ``<indicator>_num``, ``<indicator>_den``) pooled per rounded position:
    lon, lat (the mean of its frames), value ``Σ num / Σ den``, n_frames; squares without a positive denominator are left out.

    >>> f = pd.DataFrame({"lon": [8.0, 8.00001, 8.001], "lat": [47.0] * 3, "g_num": [1, 3, 0], "g_den": [10, 10, 10]})
    >>> route_cells(f, "g")[["value", "n_frames"]].values.tolist()
    [[0.2, 2.0], [0.0, 1.0]]
    """
    num, den = f"{indicator}_num", f"{indicator}_den"
    missing = [c for c in ("lon", "lat", num, den) if c not in points.columns]
    if missing:
        raise InputError(f"route frames lack column(s) {', '.join(missing)}")
    ok = points["lon"].notna() & points["lat"].notna() & (points[den].fillna(0) > 0)
    f = points[ok]
    keys = [f["lon"].round(ROUTE_DECIMALS).rename("klon"), f["lat"].round(ROUTE_DECIMALS).rename("klat")]
    g = f.groupby(keys, sort=True).agg(lon=("lon", "mean"), lat=("lat", "mean"), y=(num, "sum"), x=(den, "sum"), n_frames=("lon", "size"))
    return pd.DataFrame({"lon": g["lon"].to_numpy(), "lat": g["lat"].to_numpy(), "value": (g["y"] / g["x"]).to_numpy(),
                         "n_frames": g["n_frames"].to_numpy()})


def drive_route(source: Store, selection: Selection, indicator: str, most: int | None = None) -> pd.DataFrame:
    """The selected frames' route with ``indicator`` along it (:func:`route_cells` of
    :func:`~analytics.store.geodata.route_frames`); with ``most``, at most that many points, evenly thinned."""
    cells = route_cells(route_frames(source, selection, indicator), indicator)
    if most is not None and len(cells) > most:
        cells = cells.iloc[np.linspace(0, len(cells) - 1, most).round().astype(int)].reset_index(drop=True)
    return cells


def drive_figure(
    route: pd.DataFrame, districts: pd.DataFrame, indicator: str, tile_url: str | None = None, height: int = 420,
) -> go.Figure:
    """The route (columns lon, lat, value, n_frames of :func:`route_cells`) coloured by ``indicator`` over the districts."""
    if indicator not in INDICATORS:
        raise InputError(f"unknown indicator {indicator!r}; expected one of {', '.join(INDICATORS)}")
    ind = INDICATORS[indicator]
    frame = district_areas(districts).assign(value=math.nan, enough=True, focus=False)
    frame["rings"] = pd.Series([polygon_rings(g) for g in frame["geometry_geojson"]], index=frame.index, dtype=object)
    areas = tuple(dataclasses.replace(a, fill="#eceef0") for a in area_layer(frame, None))
    pts = route[["lon", "lat"]].to_numpy(dtype=float) if not route.empty else np.empty((0, 2))
    rings = [r for a in areas for r in a.rings] if pts.size == 0 else []  # the route's own extent where there is one
    extent = extent_of(rings, [pts], pad=0.08, min_pad=0.0005)
    scale = indicator_scale(indicator, route["value"].to_numpy(dtype=float) if not route.empty else [])
    tiles = bool(tile_url)
    fig = go.Figure()
    if not tiles:
        add_areas(fig, areas, hover=[plot_text(a.name) for a in areas], context_edge="#888888")
        add_labels(fig, label_layer(areas, extent), size=11)
    factor = display_scale(indicator)
    if not route.empty:
        hover = [f"{v * factor:.1f} {ind.unit} · {format_count(int(n))} frames" for v, n in zip(route["value"], route["n_frames"])]
        marker = {"size": 7, "color": [scale.colour(v) for v in route["value"]], "line": {"width": 0}}
        kw = {"mode": "markers", "marker": marker, "hovertext": hover, "hoverinfo": "text", "name": "route", "showlegend": False}
        fig.add_trace(go.Scattermap(lon=route["lon"], lat=route["lat"], **kw) if tiles else go.Scatter(x=route["lon"], y=route["lat"], **kw))
    add_colour_bar(fig, scale, plot_text(ind.short_label) + (f" ({ind.unit})" if ind.unit else ""), tiles=tiles)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, paper_bgcolor="white", font={"family": FONT})
    add_scale_bar(fig, scale_bar(extent), tiles=tiles)
    add_north_arrow(fig, north_arrow(extent), tiles=tiles)
    return set_tiles(fig, extent, tile_url) if tile_url else set_extent(fig, extent)
