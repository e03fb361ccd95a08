"""Places: cameras from CSV, districts from GeoJSON, point-in-polygon and H3 cells.

Validation is strict and row-precise: a bad file is refused whole with the row and the reason,
so nothing half-imported ever reaches the store. Nothing here touches the database: the store
layer reads its tables, asks the spatial functions below, and writes the answers itself
(:mod:`analytics.store.places`).

District polygons are parsed once into a :class:`DistrictIndex` (shapely geometries in an
``STRtree``) that answers point-in-polygon for any number of cameras or frames in one call.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from analytics.errors import DataFormatError, InputError

CAMERA_COLUMNS = ("camera_id", "name", "lon", "lat", "heading", "kind")
CAMERA_KINDS = ("fixed", "mobile")
"""A fixed camera stays at its position; a mobile one (a bus, a bike) records each frame's position."""
ZONE_ROLES = ("sidewalk", "lane", "crossing", "plaza", "bike_lane", "parking", "other")
"""What a zone of a camera's frame is; ``sidewalk`` zones feed the pedestrians-on-sidewalks indicator."""


def _is_id(text: str) -> bool:
    return bool(text) and len(text) <= 64 and all(c.isalnum() or c in "-_." for c in text)


def _shown(value: object) -> str:
    """A cell as a person typed it; empty cells say so."""
    return "(empty)" if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else repr(value)


def validate_cameras(df: pd.DataFrame) -> pd.DataFrame:
    """Check a table of cameras; returns it normalised or raises InputError listing bad rows.

    Required columns: camera_id, lon, lat. Optional: name, heading (0–360°), kind (fixed|mobile).
    Longitude must lie in [-180, 180], latitude in [-90, 90].
    """
    missing = [c for c in ("camera_id", "lon", "lat") if c not in df.columns]
    if missing:
        raise InputError(f"cameras: missing column(s) {', '.join(missing)}; expected {', '.join(CAMERA_COLUMNS)}")
    out = pd.DataFrame({"camera_id": df["camera_id"].astype("string").str.strip()})
    out["name"] = df["name"].astype("string").str.strip() if "name" in df.columns else out["camera_id"]
    out["name"] = out["name"].fillna(out["camera_id"]).where(out["name"].fillna("") != "", out["camera_id"])
    out["lon"] = pd.to_numeric(df["lon"], errors="coerce")
    out["lat"] = pd.to_numeric(df["lat"], errors="coerce")
    out["heading"] = pd.to_numeric(df["heading"], errors="coerce") if "heading" in df.columns else np.nan
    kind = df["kind"].astype("string").str.strip().str.lower() if "kind" in df.columns else pd.Series("fixed", index=df.index)
    out["kind"] = kind.fillna("fixed").replace("", "fixed")
    out["source"] = df["source"].astype(str) if "source" in df.columns else "user"
    errors: list[str] = []
    for i, row in out.reset_index(drop=True).iterrows():
        line = int(str(i)) + 2  # header is line 1 of a CSV
        cid = row["camera_id"]
        if cid is pd.NA or not _is_id(str(cid)):
            errors.append(f"row {line}: camera_id {cid!r} must be 1–64 letters, digits, '-', '_' or '.'")
        if pd.isna(row["lon"]) or not -180 <= row["lon"] <= 180:
            errors.append(f"row {line} ({cid}): lon {_shown(df['lon'].iloc[int(str(i))])} must be a number in [-180, 180]")
        if pd.isna(row["lat"]) or not -90 <= row["lat"] <= 90:
            errors.append(f"row {line} ({cid}): lat {_shown(df['lat'].iloc[int(str(i))])} must be a number in [-90, 90]")
        if not pd.isna(row["heading"]) and not 0 <= row["heading"] <= 360:
            errors.append(f"row {line} ({cid}): heading {row['heading']} must be in [0, 360] degrees")
        if row["kind"] not in CAMERA_KINDS:
            errors.append(f"row {line} ({cid}): kind {row['kind']!r} must be 'fixed' or 'mobile'")
    dupes = out["camera_id"][out["camera_id"].duplicated()].dropna().unique().tolist()
    if dupes:
        errors.append(f"duplicate camera_id(s): {', '.join(map(str, dupes))}")
    if out.empty:
        errors.append("no cameras in the table")
    if errors:
        raise InputError("cameras not imported (nothing was changed):\n  " + "\n  ".join(errors[:20]))
    out["camera_id"] = out["camera_id"].astype(str)
    out["name"] = out["name"].astype(str)
    out["kind"] = out["kind"].astype(str)
    return out.reset_index(drop=True)


def read_cameras_csv(source: str | Path | bytes) -> pd.DataFrame:
    """Parse and validate a cameras CSV (camera_id,name,lon,lat,heading,kind)."""
    try:
        if isinstance(source, bytes):
            df = pd.read_csv(io.BytesIO(source), dtype=str, skipinitialspace=True)
        else:
            p = Path(source)
            if not p.is_file():
                raise InputError(f"cameras CSV {str(p)!r} does not exist")
            df = pd.read_csv(p, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cameras CSV cannot be read: {str(exc).splitlines()[0]}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    return validate_cameras(df)


def read_districts_geojson(source: str | Path | bytes) -> pd.DataFrame:
    """Parse a GeoJSON FeatureCollection of Polygon/MultiPolygon districts.

    Each feature needs a ``name`` property (``id`` or ``district_id`` optional; derived from the
    name otherwise). Coordinates are lon/lat (WGS 84). Returns district_id, name, geometry_geojson.
    """
    try:
        if isinstance(source, bytes):
            data = json.loads(source.decode("utf-8"))
        else:
            p = Path(source)
            if not p.is_file():
                raise InputError(f"districts GeoJSON {str(p)!r} does not exist")
            data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"districts file is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise DataFormatError("districts file must be a GeoJSON FeatureCollection with a 'features' list")
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, feat in enumerate(data["features"]):
        if not isinstance(feat, dict):
            errors.append(f"feature {i}: not an object")
            continue
        props = feat.get("properties") or {}
        geom = feat.get("geometry")
        name = str(props.get("name", "")).strip()
        if not name:
            errors.append(f"feature {i}: missing 'name' property")
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            gtype = geom.get("type") if isinstance(geom, dict) else geom
            errors.append(f"feature {i} ({name or '?'}): geometry type {gtype!r}; expected Polygon or MultiPolygon")
            continue
        try:
            shp = shape(geom)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            errors.append(f"feature {i} ({name}): malformed coordinates ({exc})")
            continue
        minx, miny, maxx, maxy = shp.bounds if not shp.is_empty else (0, 0, 0, 0)
        if shp.is_empty or not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            errors.append(f"feature {i} ({name}): coordinates must be lon/lat within [-180, 180] x [-90, 90]")
            continue
        if not shp.is_valid:
            shp = shapely.make_valid(shp)
        did = str(props.get("district_id") or props.get("id") or _slug(name))
        rows.append({"district_id": did, "name": name, "geometry_geojson": json.dumps(shapely.geometry.mapping(shp))})
    if not rows and not errors:
        errors.append("no features")
    ids = [r["district_id"] for r in rows]
    dupes = sorted({d for d in ids if ids.count(d) > 1})
    if dupes:
        errors.append(f"duplicate district id(s): {', '.join(dupes)}")
    if errors:
        raise DataFormatError("districts not imported (nothing was changed):\n  " + "\n  ".join(errors[:20]))
    return pd.DataFrame(rows)


def _slug(name: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "-" for c in name).strip("-")
    return "-".join(p for p in s.split("-") if p) or "district"


def parse_geometries(geojson: Iterable[str | dict[str, Any]]) -> np.ndarray:
    """GeoJSON geometries (text or parsed dicts) as an array of shapely geometries, parsed in one call.

    >>> parse_geometries(['{"type": "Point", "coordinates": [4, 52]}'])[0].wkt
    'POINT (4 52)'
    """
    texts = np.array([g if isinstance(g, str) else json.dumps(g) for g in geojson], dtype=object)
    if len(texts) == 0:
        return np.empty(0, dtype=object)
    try:
        return np.asarray(shapely.from_geojson(texts), dtype=object)
    except shapely.errors.GEOSException as exc:
        raise DataFormatError(f"a geometry is not valid GeoJSON: {str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class DistrictIndex:
    """District polygons parsed once, with a spatial index for point-in-polygon look-ups.

    ``ids[i]`` is the district of ``geometries[i]``, in the table's order: where districts overlap,
    a point belongs to the first one that contains it.
    """

    ids: np.ndarray
    geometries: np.ndarray
    tree: shapely.STRtree

    def locate(self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray) -> np.ndarray:
        """District id containing each point (None outside every district, or where a coordinate is missing).

        One ``STRtree.query(points, predicate="within")`` for all points; points on a border are outside.
        """
        x, y = np.asarray(lon, dtype=float).ravel(), np.asarray(lat, dtype=float).ravel()
        if x.shape != y.shape:
            raise InputError(f"{len(x)} longitudes but {len(y)} latitudes; give one of each per point")
        out = np.full(len(x), None, dtype=object)
        if len(self.ids) == 0 or len(x) == 0:
            return out
        point_i, area_i = self.tree.query(shapely.points(x, y), predicate="within")
        if len(point_i):
            order = np.lexsort((area_i, point_i))  # by point, then by district order
            point_i, area_i = point_i[order], area_i[order]
            first = np.r_[True, point_i[1:] != point_i[:-1]]
            out[point_i[first]] = self.ids[area_i[first]]
        return out


def district_index(districts: pd.DataFrame) -> DistrictIndex:
    """Parse the districts table (columns district_id, geometry_geojson) once into a :class:`DistrictIndex`."""
    missing = [c for c in ("district_id", "geometry_geojson") if c not in districts.columns]
    if missing:
        raise InputError(f"districts table lacks column(s) {', '.join(missing)}; expected district_id, geometry_geojson")
    geoms = parse_geometries(districts["geometry_geojson"])
    return DistrictIndex(np.asarray(districts["district_id"], dtype=object), geoms, shapely.STRtree(geoms))


def district_of_points(
    lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray, districts: pd.DataFrame | DistrictIndex
) -> np.ndarray:
    """District id containing each point (None outside every district; first match wins).

    ``districts`` is the districts table or, to look up many batches against the same polygons,
    a :class:`DistrictIndex` built once with :func:`district_index`.
    """
    index = districts if isinstance(districts, DistrictIndex) else district_index(districts)
    return index.locate(lon, lat)


def polygon_rings(geometry: str | dict[str, Any]) -> list[np.ndarray]:
    """Exterior rings, as (n, 2) lon/lat arrays, of a GeoJSON Polygon, MultiPolygon, Feature or collection.

    The one reader of stored district geometry for drawing; anything else (or text that is not
    JSON) gives ``[]``, and rings of fewer than three points are left out.

    >>> [r.shape for r in polygon_rings('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}')]
    [(4, 2)]
    >>> len(polygon_rings({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] * 2})), polygon_rings("{bad")
    (2, [])
    """
    if isinstance(geometry, str):
        try:
            geom = json.loads(geometry)
        except ValueError:
            return []
    else:
        geom = geometry
    if not isinstance(geom, dict):
        return []
    kind = geom.get("type")
    if kind == "Feature":
        return polygon_rings(geom.get("geometry") or {})
    if kind == "GeometryCollection":
        return [r for g in geom.get("geometries") or [] for r in polygon_rings(g)]
    if kind == "Polygon":
        polys = [geom.get("coordinates") or []]
    elif kind == "MultiPolygon":
        polys = geom.get("coordinates") or []
    else:
        return []
    return [np.asarray(p[0], dtype=float)[:, :2] for p in polys if p and len(p[0]) >= 3]


def h3_boundary_geojson(cell: str) -> dict[str, Any]:
    """GeoJSON Polygon of an H3 cell (lon/lat order, closed ring)."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def parse_zones(source: str | Path | bytes, frame_size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Zones JSON: ``[{"name": "north sidewalk", "role": "sidewalk", "polygon": [[x, y], ...]}, ...]``.

    Coordinates are pixels of the clip's frames (x to the right, y down). Returns columns zone,
    role, polygon_json. With ``frame_size`` (width, height) every vertex must lie inside the frame.
    """
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"zones file {str(source)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"zones file is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "zones" in data:
        data = data["zones"]
    if not isinstance(data, list) or not data:
        raise DataFormatError('zones must be a non-empty list of {"name", "role", "polygon": [[x, y], ...]}')
    rows, errors = [], []
    for i, z in enumerate(data):
        if not isinstance(z, dict):
            errors.append(f"zone {i}: not an object")
            continue
        name, role, poly = str(z.get("name", "")).strip(), str(z.get("role", "")).strip().lower(), z.get("polygon")
        if not name:
            errors.append(f"zone {i}: missing name")
        if role not in ZONE_ROLES:
            errors.append(f"zone {i} ({name}): role {role!r}; expected one of {', '.join(ZONE_ROLES)}")
        ok = isinstance(poly, list) and len(poly) >= 3 and all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(v, int | float) and math.isfinite(v) for v in p)
            for p in poly
        )
        if not ok or not isinstance(poly, list):
            errors.append(f"zone {i} ({name}): polygon must be a list of at least 3 [x, y] pixel points")
            continue
        if frame_size is not None:
            w, h = frame_size
            if any(not (0 <= x <= w and 0 <= y <= h) for x, y in poly):
                errors.append(f"zone {i} ({name}): a point lies outside the {w}x{h} frame")
        rows.append({"zone": name, "role": role, "polygon_json": json.dumps([[float(x), float(y)] for x, y in poly])})
    names = [r["zone"] for r in rows]
    if len(set(names)) != len(names):
        errors.append("zone names must be unique")
    if errors:
        raise DataFormatError("zones not accepted:\n  " + "\n  ".join(errors))
    return pd.DataFrame(rows)
