"""The frames and places an exported GIS layer is built from (:mod:`analytics.gis`).

:func:`export_layer` computes the indicators of a :class:`~analytics.selection.Selection` per
district, H3 cell or camera (:func:`analytics.indicators.compute`) and joins the places' geometry;
``by="frame"`` reads each selected frame with its own position and the indicators of that frame
(:func:`frame_points`); frames without a position (a moving camera's frames outside its GPS track or in a
gap) are left out of it and counted by :func:`unplaced_frames`.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pandas as pd

from analytics.errors import InputError, quote_value
from analytics.gis import EXPORT_BY, cell_layer, frame_layer
from analytics.indicators import INDICATORS, PLACED_FRAMES, compute, selection_filter
from analytics.selection import Selection
from analytics.store.database import Store

__all__ = ["MAX_EXPORT_FRAMES", "export_layer", "frame_points", "route_frames", "unplaced_frames"]

MAX_EXPORT_FRAMES = 2_000_000
"""Most frames a ``--by frame`` layer holds (a larger selection is refused: narrow the period or the cameras)."""


def frame_points(store: Store, selection: Selection, indicators: Sequence[str]) -> pd.DataFrame:
    """Each selected frame with a position: frame_id, camera_id, district_id, clip_sha256, ts, lon, lat, heading, and per
    indicator ``numerator / denominator`` of that frame (NaN where the denominator is not positive)."""
    unknown = [n for n in indicators if n not in INDICATORS]
    if unknown:
        raise InputError(f"unknown indicator {quote_value(unknown[0])}; choose from {', '.join(INDICATORS)}")
    where, params = selection_filter(selection)
    values = ", ".join(
        f"CAST({INDICATORS[n].numerator} AS DOUBLE) / CASE WHEN CAST({INDICATORS[n].denominator} AS DOUBLE) > 0 "
        f"THEN CAST({INDICATORS[n].denominator} AS DOUBLE) END AS {n}"
        for n in indicators
    )  # fixed formulas of the registry, names checked above
    sql = (f"SELECT f.frame_id, f.camera_id, f.district_id, f.clip_sha256, f.ts, f.lon, f.lat, f.heading{', ' + values if values else ''} "
           f"FROM frames f WHERE {' AND '.join([*where, PLACED_FRAMES])} ORDER BY f.ts, f.frame_id LIMIT $lim")
    out = store.query_df(sql, {**params, "lim": MAX_EXPORT_FRAMES + 1})
    if len(out) > MAX_EXPORT_FRAMES:
        raise InputError(f"the selection holds over {MAX_EXPORT_FRAMES:,} frames; narrow the period (--from/--to) for a frame layer")
    return out


def export_layer(
    store: Store, selection: Selection, by: str, indicators: Sequence[str] | None = None, h3_resolution: int = 8
) -> gpd.GeoDataFrame:
    """The GIS layer of ``selection``: one feature per district, H3 cell, camera or frame (``by``), EPSG:4326."""
    if by not in EXPORT_BY:
        raise InputError(f"--by {quote_value(by)}; expected one of {', '.join(EXPORT_BY)}")
    names = list(indicators) if indicators else list(INDICATORS)
    if by == "frame":
        return frame_layer(frame_points(store, selection, names))
    long = compute(store, selection, by=by, indicators=names, h3_resolution=h3_resolution)
    places = store.districts() if by == "district" else store.cameras() if by == "camera" else None
    return cell_layer(long, by, places)


def route_frames(store: Store, selection: Selection, indicator: str) -> pd.DataFrame:
    """The selected frames' positions with the numerator and denominator of ``indicator`` (columns lon, lat,
    ``<indicator>_num``, ``<indicator>_den``), in time order: what :func:`analytics.visual.drive.route_cells` pools."""
    if indicator not in INDICATORS:
        raise InputError(f"unknown indicator {quote_value(indicator)}; choose from {', '.join(INDICATORS)}")
    ind = INDICATORS[indicator]
    where, params = selection_filter(selection)
    sql = (f"SELECT f.lon, f.lat, CAST({ind.numerator} AS DOUBLE) AS {indicator}_num, CAST({ind.denominator} AS DOUBLE) AS "
           f"{indicator}_den FROM frames f WHERE {' AND '.join([*where, PLACED_FRAMES])} ORDER BY f.ts LIMIT $lim")
    return store.query_df(sql, {**params, "lim": MAX_EXPORT_FRAMES})


def unplaced_frames(store: Store, selection: Selection) -> int:
    """How many selected frames have no position (left out of a frame layer and of every district and H3 cell)."""
    where, params = selection_filter(selection)
    sql = f"SELECT count(*) AS n FROM frames f WHERE {' AND '.join(where)} AND NOT ({PLACED_FRAMES})"
    return int(store.query_df(sql, params)["n"].iloc[0])
