"""Places: cameras from CSV, districts from GeoJSON, point-in-polygon and H3 cells.

Validation is strict and row-precise: a bad file is refused whole with the row and the reason,
so nothing half-imported ever reaches the store.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from analytics.errors import DataFormatError, InputError

CAMERA_COLUMNS = ("camera_id", "name", "lon", "lat", "heading", "kind")


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
        if row["kind"] not in ("fixed", "mobile"):
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


def district_of_points(lon: np.ndarray, lat: np.ndarray, districts: pd.DataFrame) -> np.ndarray:
    """District id containing each point (None outside every district; first match wins)."""
    out = np.full(len(lon), None, dtype=object)
    if districts.empty or len(lon) == 0:
        return out
    pts = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    for did, gj in zip(districts["district_id"], districts["geometry_geojson"]):
        poly = shape(json.loads(gj))
        shapely.prepare(poly)
        inside = shapely.contains(poly, pts) & (out == None)  # noqa: E711 - elementwise on object array
        out[inside] = did
    return out


def assign_districts(cur: duckdb.DuckDBPyConnection) -> None:
    """Recompute cameras.district_id and frames.district_id from the district polygons.

    Fixed cameras are placed by their position; frames of mobile cameras by their own position.
    """
    districts = cur.execute("SELECT district_id, geometry_geojson FROM districts").df()
    cams = cur.execute("SELECT camera_id, lon, lat FROM cameras").df()
    cams["district_id"] = district_of_points(cams["lon"].to_numpy(), cams["lat"].to_numpy(), districts)
    cur.register("_cam_d", cams[["camera_id", "district_id"]])
    cur.execute("UPDATE cameras SET district_id = d.district_id FROM _cam_d d WHERE cameras.camera_id = d.camera_id")
    cur.unregister("_cam_d")
    cur.execute(
        "UPDATE frames SET district_id = c.district_id FROM cameras c "
        "WHERE frames.camera_id = c.camera_id AND c.kind = 'fixed'"
    )
    pts = cur.execute(
        "SELECT DISTINCT f.lon, f.lat FROM frames f JOIN cameras c USING (camera_id) WHERE c.kind = 'mobile'"
    ).df()
    if not pts.empty:
        pts["district_id"] = district_of_points(pts["lon"].to_numpy(), pts["lat"].to_numpy(), districts)
        cur.register("_pt_d", pts)
        cur.execute(
            "UPDATE frames SET district_id = p.district_id FROM _pt_d p, cameras c "
            "WHERE frames.lon = p.lon AND frames.lat = p.lat AND frames.camera_id = c.camera_id AND c.kind = 'mobile'"
        )
        cur.unregister("_pt_d")


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> list[str]:
    """H3 cell (hex string) of each point at ``resolution`` (0–15)."""
    if not isinstance(resolution, int) or not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution {resolution!r} must be a whole number from 0 to 15")
    return [h3.latlng_to_cell(float(la), float(lo), resolution) for lo, la in zip(lon, lat)]


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
    from analytics.store import ZONE_ROLES

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
