"""Indicators as GIS layers: one feature per district, H3 cell, camera or frame, in EPSG:4326, for QGIS, ArcGIS or kepler.gl.

A layer is a :class:`geopandas.GeoDataFrame` built from the long indicator table of
:func:`analytics.indicators.compute` (one row per cell and indicator) and the places the cells
stand for:

- ``district``: the district's polygon (a cell outside every district has no geometry);
- ``h3``: the H3 cell's hexagon (``h3.cell_to_boundary``, the same cells as the ``h3`` grouping);
- ``camera``: the camera's point (a mobile camera's registered point; its frames are in ``frame``);
- ``frame``: each frame's own point (a moving camera's frames placed by a GPS track), with the
  indicators of that one frame (``numerator / denominator`` of the frame).

Properties of a cell: its key and name, each chosen indicator's value with ``<name>_low`` and
``<name>_high`` (the 95% interval) and ``<name>_n_frames``, then ``n_frames`` and ``n_clips``.
Shares are fractions in [0, 1]. :func:`write_layer` writes GeoJSON or GeoParquet with geopandas,
or CSV through :func:`analytics.exports.to_csv` (formula-injection safe; geometry as WKT, points
also as lon/lat).
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from analytics.errors import InputError, quote_value
from analytics.exports import to_csv
from analytics.geo import parse_geometries
from analytics.indicators import to_wide

__all__ = ["CRS", "EXPORT_BY", "EXPORT_FORMATS", "SUFFIXES", "cell_layer", "frame_layer", "layer_bytes", "mime", "write_layer"]

CRS = "EPSG:4326"
EXPORT_BY = ("district", "h3", "camera", "frame")
"""What a feature of an exported layer is."""
EXPORT_FORMATS = ("geojson", "geoparquet", "csv")
SUFFIXES = {"geojson": ".geojson", "geoparquet": ".parquet", "csv": ".csv"}
"""The usual file name ending of each format (the dashboard's downloads use them)."""
_MIME = {"geojson": "application/geo+json", "geoparquet": "application/vnd.apache.parquet", "csv": "text/csv"}


def _hexagon(cell: str) -> shapely.Polygon:
    """The H3 cell's boundary as a lon/lat polygon.

    >>> _hexagon("85196953fffffff").geom_type, len(_hexagon("85196953fffffff").exterior.coords)
    ('Polygon', 7)
    """
    return shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def _geometries(keys: pd.Series, by: str, places: pd.DataFrame | None) -> tuple[np.ndarray, pd.Series]:
    """(geometry, name) of each cell key: district polygons, H3 hexagons or camera points; None where the place is unknown."""
    if by == "h3":
        return np.array([_hexagon(str(k)) for k in keys], dtype=object), keys.astype(str)
    id_col = "district_id" if by == "district" else "camera_id"
    if places is None or id_col not in places.columns:
        raise InputError(f"a layer by {by} needs the {by}s table with column {id_col}")
    table = places.drop_duplicates(id_col).set_index(id_col)
    if by == "district":
        shapes = pd.Series(parse_geometries(table["geometry_geojson"]), index=table.index, dtype=object)
    else:
        shapes = pd.Series(shapely.points(table["lon"].to_numpy(float), table["lat"].to_numpy(float)), index=table.index, dtype=object)
    geometry = np.array([shapes.get(k) for k in keys], dtype=object)
    names = keys.map(table["name"]).fillna(keys.astype(str)).astype(str)
    return geometry, names


def cell_layer(long: pd.DataFrame, by: str, places: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """One feature per cell of the long indicator table ``long`` grouped ``by`` ``district``, ``h3`` or ``camera``.

    ``places``: the districts table (``district_id``, ``name``, ``geometry_geojson``) for ``district``,
    the cameras table (``camera_id``, ``name``, ``lon``, ``lat``) for ``camera``; unused for ``h3``.
    """
    if by not in EXPORT_BY or by == "frame":
        raise InputError(f"a cell layer by {quote_value(by)}; expected one of district, h3, camera")
    wide = to_wide(long, [by]) if not long.empty else pd.DataFrame(columns=[by, "n_frames", "n_clips"])
    wide = wide.drop(columns=["congestion_level"], errors="ignore")
    geometry, names = _geometries(wide[by], by, places)
    wide.insert(1, "name", names.to_numpy(dtype=object))
    return gpd.GeoDataFrame(wide, geometry=gpd.GeoSeries(geometry, crs=CRS, index=wide.index), crs=CRS)


def frame_layer(points: pd.DataFrame) -> gpd.GeoDataFrame:
    """One point per frame with a position: ``points`` has ``lon`` and ``lat`` (rows with either missing are left out)."""
    for col in ("lon", "lat"):
        if col not in points.columns:
            raise InputError(f"frame points lack column {col!r}; expected lon and lat")
    ok = points["lon"].notna() & points["lat"].notna()
    kept = points[ok].reset_index(drop=True)
    geometry = gpd.points_from_xy(kept["lon"].to_numpy(float), kept["lat"].to_numpy(float), crs=CRS)
    return gpd.GeoDataFrame(kept, geometry=geometry, crs=CRS)


def _plain_table(layer: gpd.GeoDataFrame) -> pd.DataFrame:
    """The layer's properties with its geometry as WKT (and points' lon/lat where the layer lacks them)."""
    table = pd.DataFrame(layer.drop(columns=layer.geometry.name))
    geom = layer.geometry
    if "lon" not in table.columns and len(geom) and bool((geom.geom_type == "Point").all()):
        table["lon"], table["lat"] = geom.x.to_numpy(), geom.y.to_numpy()
    table["wkt"] = [g.wkt if g is not None else "" for g in geom]
    return table


def layer_bytes(layer: gpd.GeoDataFrame, fmt: str, name: str = "urbanlens") -> bytes:
    """The layer as a file's bytes in ``fmt`` (``geojson``, ``geoparquet`` or ``csv``); ``name`` is the
    GeoJSON layer's name (what QGIS shows for it)."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"export format {quote_value(fmt)}; expected one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "csv":
        return to_csv(_plain_table(layer)).encode("utf-8")
    layer = _timestamps_as_text(layer) if fmt == "geojson" else layer
    buf = io.BytesIO()
    if fmt == "geojson":
        layer.to_file(buf, driver="GeoJSON", layer=name)
    else:
        layer.to_parquet(buf, index=False)
    return buf.getvalue()


def _timestamps_as_text(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Datetime columns as ISO text (GeoJSON has no time type)."""
    out = layer.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col].dtype):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def write_layer(layer: gpd.GeoDataFrame, fmt: str, path: str | Path) -> Path:
    """Write the layer to ``path`` in ``fmt`` (the whole file written to a temporary name first, then renamed)."""
    out = Path(path).expanduser()
    data = layer_bytes(layer, fmt, name=out.stem or "urbanlens")
    if not out.parent.is_dir():
        raise InputError(f"folder {quote_value(str(out.parent))} of --out does not exist")
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def mime(fmt: str) -> str:
    """The media type of a format (for a download button)."""
    return _MIME[fmt]

