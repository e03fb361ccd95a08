"""The map picker: place a camera by clicking a map drawn without tiles (works offline).

The Analyse page shows :func:`picker_figure` and reads the click with :func:`picked_position`;
each click centres the map and steps one scale finer (:func:`finer_span`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError
from analytics.geo import polygon_rings
from analytics.visual.clicks import clicked_point

__all__ = [
    "MAP_SPANS", "finer_span", "fitting_span", "map_centre", "picked_position", "picker_figure", "position_grid", "position_problem",
]


def position_problem(lat: float | None, lon: float | None) -> str | None:
    """What is wrong with a new camera's position (None when it is a WGS 84 point).

    >>> position_problem(None, 4.9), position_problem(91.0, 4.9), position_problem(52.4, 4.9) is None
    ("set the camera's position: type its latitude and longitude or click the map", 'latitude 91.0 is outside -90 to 90', True)
    """
    if lat is None or lon is None or (isinstance(lat, float) and math.isnan(lat)) or (isinstance(lon, float) and math.isnan(lon)):
        return "set the camera's position: type its latitude and longitude or click the map"
    if not -90.0 <= lat <= 90.0:
        return f"latitude {lat} is outside -90 to 90"
    if not -180.0 <= lon <= 180.0:
        return f"longitude {lon} is outside -180 to 180"
    return None


MAP_SPANS = {"country": 8.0, "region": 1.0, "city": 0.2, "district": 0.04, "street": 0.008}
"""The position map's scales: degrees of latitude it spans. Each click centres it and steps one finer."""
_GRID = (61, 41)
"""Clickable points across and down the position map (a street-scale click lands within about 15 m)."""


def finer_span(span: str) -> str:
    """The next finer map scale (the finest stays).

    >>> finer_span("city"), finer_span("street")
    ('district', 'street')
    """
    names = list(MAP_SPANS)
    if span not in names:
        raise InputError(f"map scale {span!r}; expected one of {', '.join(names)}")
    return names[min(names.index(span) + 1, len(names) - 1)]


def fitting_span(cameras: pd.DataFrame) -> str:
    """The finest map scale that shows every stored camera (``city`` with fewer than two).

    >>> fitting_span(pd.DataFrame({"lat": [52.30, 52.40], "lon": [4.8, 4.9]}))
    'city'
    """
    if len(cameras) < 2:
        return "city"
    spread = max(float(cameras["lat"].max() - cameras["lat"].min()), float(cameras["lon"].max() - cameras["lon"].min()) * 0.7)
    fits = [name for name, deg in MAP_SPANS.items() if deg >= spread * 1.2]
    return fits[-1] if fits else "country"


def map_centre(cameras: pd.DataFrame, position: tuple[float | None, float | None]) -> tuple[float, float] | None:
    """(lat, lon) the position map is centred on: the position when set, else the middle of the stored
    cameras (only to show the place; it is never taken as a position); None when neither exists."""
    lat, lon = position
    if position_problem(lat, lon) is None:
        return float(lat), float(lon)  # type: ignore[arg-type]
    known = cameras.dropna(subset=["lat", "lon"]) if not cameras.empty else cameras
    if known.empty:
        return None
    return (float(known["lat"].min() + known["lat"].max()) / 2, float(known["lon"].min() + known["lon"].max()) / 2)


def position_grid(centre: tuple[float, float], span: str) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of the map's clickable points: a grid :data:`_GRID` around ``centre`` spanning
    ``MAP_SPANS[span]`` degrees of latitude and as many kilometres of longitude (``/ cos(lat)``), times 1.5.

    >>> lat, lon = position_grid((0.0, 10.0), "street")
    >>> lat.size, round(float(lat.max() - lat.min()), 3), round(float(lon.max() - lon.min()), 3)
    (2501, 0.008, 0.012)
    """
    lat0, lon0 = centre
    half_lat = MAP_SPANS[span] / 2
    half_lon = min(180.0, 1.5 * half_lat / max(0.05, math.cos(math.radians(lat0))))
    lats = np.clip(np.linspace(lat0 - half_lat, lat0 + half_lat, _GRID[1]), -90.0, 90.0)
    lons = np.linspace(lon0 - half_lon, lon0 + half_lon, _GRID[0])
    lons = (lons + 180.0) % 360.0 - 180.0
    glat, glon = np.meshgrid(lats, lons, indexing="ij")
    return glat.ravel(), glon.ravel()


def picker_figure(
    cameras: pd.DataFrame, districts: pd.DataFrame, position: tuple[float | None, float | None], span: str
) -> go.Figure | None:
    """A map to place a new camera by clicking, without tiles (offline): invisible clickable points
    (trace 0, :func:`position_grid`), district outlines, the stored cameras and the chosen position.
    None when there is nothing to centre it on (no position, no camera)."""
    if span not in MAP_SPANS:
        raise InputError(f"map scale {span!r}; expected one of {', '.join(MAP_SPANS)}")
    centre = map_centre(cameras, position)
    if centre is None:
        return None
    glat, glon = position_grid(centre, span)
    fig = go.Figure(go.Scatter(
        x=glon, y=glat, mode="markers", marker={"size": 14, "color": "rgba(0,0,0,0.01)"}, showlegend=False, name="click",
        hovertemplate="%{y:.5f}, %{x:.5f}<extra>click to put the camera here</extra>",
    ))
    for ring in (r for g in districts.get("geometry_geojson", pd.Series(dtype=str)) for r in polygon_rings(g)):
        fig.add_trace(go.Scatter(x=ring[:, 0], y=ring[:, 1], mode="lines", line={"color": "#9aa5b1", "width": 1},
                                 hoverinfo="skip", showlegend=False))
    if not cameras.empty:
        fig.add_trace(go.Scatter(
            x=cameras["lon"], y=cameras["lat"], mode="markers+text", text=cameras.get("name", cameras["camera_id"]),
            textposition="top center", marker={"size": 8, "color": "#52606d"}, name="stored cameras", hoverinfo="skip",
        ))  # labelled, not hovered: every click lands on the grid
    lat, lon = position
    if position_problem(lat, lon) is None:
        fig.add_trace(go.Scatter(x=[lon], y=[lat], mode="markers", marker={"size": 16, "color": "#d64545", "symbol": "x"},
                                 name="new camera", hoverinfo="skip"))
    lat_range = [float(glat.min()), float(glat.max())]
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, clickmode="event+select",
                      plot_bgcolor="#f5f7fa", legend={"orientation": "h", "y": 1.0, "yanchor": "bottom"})
    fig.update_xaxes(range=[float(glon.min()), float(glon.max())], showgrid=False, zeroline=False, title=None, fixedrange=True,
                     constrain="domain")
    fig.update_yaxes(range=lat_range, showgrid=False, zeroline=False, title=None, fixedrange=True,
                     scaleanchor="x", scaleratio=1 / max(0.05, math.cos(math.radians(centre[0]))))
    return fig


def picked_position(event: Any) -> tuple[float, float] | None:
    """(lat, lon) of the clicked grid point in a plotly selection ``event`` (trace 0 only), rounded to 6 decimals
    (the event is read by :func:`analytics.visual.clicks.clicked_point`).

    >>> picked_position({"selection": {"points": [{"curve_number": 0, "x": 4.91234567, "y": 52.3}]}})
    (52.3, 4.912346)
    >>> picked_position({"selection": {"points": [{"curve_number": 2, "x": 1, "y": 2}]}}), picked_position(None)
    (None, None)
    """
    p = clicked_point(event, curve=0, needs=("x", "y"))
    return None if p is None or p.x is None or p.y is None else (round(float(p.y), 6), round(float(p.x), 6))
