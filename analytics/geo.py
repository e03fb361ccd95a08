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
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from analytics.errors import DataFormatError, InputError
from analytics.untrusted import MAX_JSON_DEPTH, load_json

__all__ = [
    "CAMERA_COLUMNS",
    "CAMERA_KINDS",
    "ZONE_ROLES",
    "ID_RULE",
    "MAX_NAME",
    "name_problem",
    "validate_cameras",
    "read_cameras_csv",
    "read_districts_geojson",
    "parse_geometries",
    "DistrictIndex",
    "district_index",
    "district_of_points",
    "polygon_rings",
    "h3_boundary_geojson",
    "parse_zones",
    "read_zones_bytes",
    "is_count_object",
    "ZONE_LIMITS",
]

CAMERA_COLUMNS = ("camera_id", "name", "lon", "lat", "heading", "kind")
CAMERA_KINDS = ("fixed", "mobile")
"""A fixed camera stays at its position; a mobile one (a bus, a bike) records each frame's position."""
ZONE_ROLES = ("sidewalk", "lane", "crossing", "plaza", "bike_lane", "parking", "other")
"""What a zone of a camera's frame is; ``sidewalk`` zones feed the pedestrians-on-sidewalks indicator."""
DISTRICTS_MAX_BYTES = 512 * 1024 * 1024
ZONE_LIMITS = {"bytes": 4 * 1024 * 1024, "depth": 8, "zones": 256, "points": 10_000, "coordinate": 100_000}
"""What a zones file may hold: its size, nesting, zones, points per polygon, largest |x| or |y| in pixels."""


ID_RULE = "1–64 letters, digits, '-', '_' or '.'"
"""What a camera or district id may be (ids appear in file names, URLs and exported tables)."""
MAX_NAME = 200
"""Longest display name of a camera or district, in characters."""
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_id(text: str) -> bool:
    return bool(text) and len(text) <= 64 and all(c.isalnum() or c in "-_." for c in text)


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a display name (None when it can): too long, control characters,
    text-direction overrides (they make a name read differently from what it is) or lone surrogates.

    >>> name_problem("Nørrebro Øst"), name_problem("a\\u202eb"), name_problem("x" * 201)
    (None, 'it holds a text-direction control (U+202E)', 'it is longer than 200 characters')
    """
    if len(text) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    for c in text:
        if c in _BIDI_CONTROLS:
            return f"it holds a text-direction control (U+{ord(c):04X})"
        if unicodedata.category(c) in ("Cc", "Cs"):
            return f"it holds a control character (U+{ord(c):04X})"
    return None


def _load_json(text: str | bytes, what: str, max_bytes: int = DISTRICTS_MAX_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text strictly (:func:`analytics.untrusted.load_json`): UTF-8, bounded in size and
    nesting (checked before parsing), no NaN or Infinity; any of these is a DataFormatError."""
    return load_json(text, what, max_bytes=max_bytes, max_depth=max_depth)


def _shown_text(value: object, limit: int = 40) -> str:
    """A text value quoted for a message: at most ``limit`` characters, control characters escaped.

    >>> print(_shown_text("a" * 50), _shown_text("x" + chr(0x202E) + "y"))
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…' 'x\\u202ey'
    """
    text = str(value)
    cut = text[:limit]
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cut)
    return f"'{shown}…'" if len(text) > limit else f"'{shown}'"


def _shown(value: object) -> str:
    """A cell as a person typed it; empty cells say so."""
    return "(empty)" if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else repr(value)


def _is_time_zone(name: str) -> bool:
    """``name`` is an IANA time zone this system knows (``Europe/Zurich``, ``UTC``).

    >>> _is_time_zone("Europe/Zurich"), _is_time_zone("Mars/Olympus"), _is_time_zone("../etc/passwd")
    (True, False, False)
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_cameras(df: pd.DataFrame) -> pd.DataFrame:
    """Check a table of cameras; returns it normalised or raises InputError listing bad rows.

    Required columns: camera_id, lon, lat. Optional: name, heading (0–360°), kind (fixed|mobile),
    timezone (an IANA name such as Europe/Zurich: the camera's clock, where it differs from the city's).
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
    tz = df["timezone"].astype("string").str.strip() if "timezone" in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    out["timezone"] = tz.mask(tz.fillna("") == "")
    errors: list[str] = []
    for i, row in out.reset_index(drop=True).iterrows():
        line = int(str(i)) + 2  # header is line 1 of a CSV
        cid = row["camera_id"]
        if cid is pd.NA or not _is_id(str(cid)):
            errors.append(f"row {line}: camera_id {_shown_text(cid)} must be {ID_RULE}")
        bad_name = name_problem(str(row["name"])) if row["name"] is not pd.NA else None
        if bad_name:
            errors.append(f"row {line} ({_shown_text(cid)}): name {_shown_text(row['name'])} cannot be shown: {bad_name}")
        if pd.isna(row["lon"]) or not -180 <= row["lon"] <= 180:
            errors.append(f"row {line} ({cid}): lon {_shown(df['lon'].iloc[int(str(i))])} must be a number in [-180, 180]")
        if pd.isna(row["lat"]) or not -90 <= row["lat"] <= 90:
            errors.append(f"row {line} ({cid}): lat {_shown(df['lat'].iloc[int(str(i))])} must be a number in [-90, 90]")
        if not pd.isna(row["heading"]) and not 0 <= row["heading"] <= 360:
            errors.append(f"row {line} ({cid}): heading {row['heading']} must be in [0, 360] degrees")
        if row["kind"] not in CAMERA_KINDS:
            errors.append(f"row {line} ({cid}): kind {row['kind']!r} must be 'fixed' or 'mobile'")
        if row["timezone"] is not pd.NA and not _is_time_zone(str(row["timezone"])):
            errors.append(f"row {line} ({cid}): timezone {_shown_text(row['timezone'])} is unknown; expected an IANA name such as "
                          "Europe/Zurich or UTC")
    dupes = out["camera_id"][out["camera_id"].duplicated()].dropna().unique().tolist()
    if dupes:
        errors.append(f"duplicate camera_id(s): {', '.join(map(str, dupes))}")
    if out.empty:
        errors.append("no cameras in the table")
    if errors:
        raise InputError("cameras not imported (nothing was changed): " + _listed(errors))
    out["camera_id"] = out["camera_id"].astype(str)
    out["name"] = out["name"].astype(str)
    out["kind"] = out["kind"].astype(str)
    out["timezone"] = out["timezone"].astype(object).where(out["timezone"].notna(), None)
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
    name otherwise; ids follow the camera id rule, :data:`ID_RULE`). Coordinates are lon/lat
    (WGS 84) finite numbers. Returns district_id, name, geometry_geojson.
    """
    if isinstance(source, bytes):
        data = _load_json(source, "districts file")
    else:
        p = Path(source)
        if not p.is_file():
            raise InputError(f"districts GeoJSON {str(p)!r} does not exist")
        data = _load_json(p.read_bytes(), f"districts file {p.name!r}")
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise DataFormatError("districts file must be a GeoJSON FeatureCollection with a 'features' list")
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, feat in enumerate(data["features"]):
        row, problem = _district_row(i, feat)
        if problem:
            errors.append(problem)
        elif row is not None:
            rows.append(row)
    if not rows and not errors:
        errors.append("no features")
    ids = [r["district_id"] for r in rows]
    dupes = sorted({d for d in ids if ids.count(d) > 1})
    if dupes:
        errors.append(f"duplicate district id(s): {', '.join(dupes)}")
    if errors:
        raise DataFormatError("districts not imported (nothing was changed): " + _listed(errors))
    return pd.DataFrame(rows)


def _district_row(i: int, feat: object) -> tuple[dict[str, Any] | None, str | None]:
    """One feature as (district row, None) or (None, why it is refused)."""
    if not isinstance(feat, dict):
        return None, f"feature {i}: not an object"
    props = feat.get("properties") or {}
    if not isinstance(props, dict):
        return None, f"feature {i}: 'properties' must be an object"
    geom = feat.get("geometry")
    name = str(props.get("name", "") if props.get("name") is not None else "").strip()
    if not name:
        return None, f"feature {i}: missing 'name' property"
    shown = _shown_text(name)
    bad_name = name_problem(name)
    if bad_name:
        return None, f"feature {i}: name {shown} cannot be shown: {bad_name}"
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        gtype = geom.get("type") if isinstance(geom, dict) else geom
        return None, f"feature {i} ({shown}): geometry type {_shown_text(gtype)}; expected Polygon or MultiPolygon"
    bad = _polygon_problem(geom["type"], geom.get("coordinates"))
    if bad:
        return None, f"feature {i} ({shown}): {bad}"
    try:
        shp = shape(geom)
        if not shp.is_valid:
            shp = shapely.make_valid(shp)
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        return None, f"feature {i} ({shown}): malformed coordinates ({str(exc).splitlines()[0]})"
    if shp.is_empty or not shp.area > 0:
        return None, f"feature {i} ({shown}): the polygon encloses no area"
    raw_id = props.get("district_id") or props.get("id")
    did = str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else _slug(name)
    if not _is_id(did):
        return None, f"feature {i} ({shown}): district id {_shown_text(did)} must be {ID_RULE}"
    return {"district_id": did, "name": name, "geometry_geojson": json.dumps(shapely.geometry.mapping(shp))}, None


def _polygon_problem(kind: str, coordinates: object) -> str | None:
    """Why GeoJSON ``coordinates`` of a Polygon or MultiPolygon are unusable (None when they are fine):
    each ring a list of at least 4 positions, each position 2 or 3 finite numbers, lon in [-180, 180]
    and lat in [-90, 90].

    >>> _polygon_problem("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 0]]]) is None
    True
    >>> _polygon_problem("Polygon", [[[0, 0], [1, 0], [float("nan"), 1], [0, 0]]])
    'ring 0, point 2: [nan, 1] is not a pair of finite numbers'
    """
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        return f"coordinates of a {kind} must be a non-empty list"
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "a polygon must be a non-empty list of rings"
        for r, ring in enumerate(polygon):
            if not isinstance(ring, list) or len(ring) < 4:
                return f"ring {r} must be a list of at least 4 [lon, lat] points (closed)"
            for j, pt in enumerate(ring):
                if not (
                    isinstance(pt, list) and len(pt) in (2, 3)
                    and all(_finite(v) for v in pt)
                ):
                    return f"ring {r}, point {j}: {_shown_text(pt)[1:-1]} is not a pair of finite numbers"
                if not (-180 <= pt[0] <= 180 and -90 <= pt[1] <= 90):
                    return f"ring {r}, point {j}: {pt[:2]} must be lon/lat within [-180, 180] x [-90, 90]"
    return None


def _finite(value: object) -> bool:
    """A JSON number (not a bool) that is a finite float (huge integers are not).

    >>> _finite(3), _finite(1.5), _finite(True), _finite(10**400), _finite(float("inf"))
    (True, True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _listed(errors: list[str], limit: int = 8) -> str:
    """Problems on one line, the first ``limit`` of them, then how many more.

    >>> _listed(["a", "b", "c"], limit=2)
    'a; b; and 1 more'
    """
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(errors[:limit]) + more


def _slug(name: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "-" for c in name).strip("-")
    return "-".join(p for p in s.split("-") if p)[:64].strip("-") or "district"


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


def _zone_problem(i: int, name: str, poly: object, frame_size: tuple[int, int] | None) -> str | None:
    """Why a zone's polygon is not accepted (None when it is): at least 3 and at most the limit of
    ``[x, y]`` finite points, each within the coordinate limit (and the frame, when given)."""
    limit, most = ZONE_LIMITS["coordinate"], ZONE_LIMITS["points"]
    ok = isinstance(poly, list) and 3 <= len(poly) <= most and all(
        isinstance(p, list) and len(p) == 2 and all(_finite(v) and abs(v) <= limit for v in p) for p in poly
    )
    if not ok or not isinstance(poly, list):
        return (f"zone {i} ({name}): polygon must be a list of at least 3 (at most {most:,}) [x, y] pixel points, "
                f"each a finite number within ±{limit:,}")
    if frame_size is not None:
        w, h = frame_size
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in poly):
            return f"zone {i} ({name}): a point lies outside the {w}x{h} frame"
    return None


def _zone_row(i: int, z: object, frame_size: tuple[int, int] | None) -> tuple[dict[str, str] | None, str | None]:
    """One zone as a row, or why it is not accepted (a zone with a bad role is named but kept out)."""
    if not isinstance(z, dict):
        return None, f"zone {i}: not an object"
    name_value, role_value, poly = z.get("name", ""), z.get("role", ""), z.get("polygon")
    if not isinstance(name_value, str) or not name_value.strip():
        return None, f"zone {i}: name must be non-empty text"
    name = name_value.strip()
    if name_problem(name):
        return None, f"zone {i}: name {_shown_text(name)} cannot be shown: {name_problem(name)}"
    shown = _shown_text(name)
    role = role_value.strip().lower() if isinstance(role_value, str) else ""
    if role not in ZONE_ROLES:
        return None, f"zone {i} ({shown}): role {_shown_text(role_value)}; expected one of {', '.join(ZONE_ROLES)}"
    problem = _zone_problem(i, shown, poly, frame_size)
    if problem is not None or not isinstance(poly, list):
        return None, problem
    return {"zone": name, "role": role, "polygon_json": json.dumps([[float(x), float(y)] for x, y in poly])}, None


def read_zones_bytes(source: str | Path | bytes) -> bytes:
    """The bytes of a zones file (read up to one byte over :data:`ZONE_LIMITS`, enough to refuse it); bytes pass through."""
    if isinstance(source, bytes):
        return source
    if not Path(source).is_file():
        raise InputError(f"zones file {str(source)!r} does not exist")
    with Path(source).open("rb") as f:
        return f.read(ZONE_LIMITS["bytes"] + 1)


def is_count_object(z: object) -> bool:
    """A count line (``"line"``) or a dwell zone (``"role": "dwell"``): read by the count geometry, not here.

    >>> is_count_object({"name": "mid", "line": [[0, 1], [2, 1]]}), is_count_object({"role": "dwell"}), is_count_object({"role": "lane"})
    (True, True, False)
    """
    return isinstance(z, dict) and ("line" in z or z.get("role") == "dwell")


def parse_zones(source: str | Path | bytes, frame_size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Zones JSON: ``[{"name": "north sidewalk", "role": "sidewalk", "polygon": [[x, y], ...]}, ...]``.

    Coordinates are pixels of the clip's frames (x to the right, y down). Returns columns zone,
    role, polygon_json. With ``frame_size`` (width, height) every vertex must lie inside the frame.
    A ``{"size": ..., "zones": [...]}`` object is read too; count lines and dwell zones in it
    (:func:`is_count_object`) are left to :func:`analytics.footage.lines.parse_count_geometry`.
    """
    data = _load_json(read_zones_bytes(source), "zones file", ZONE_LIMITS["bytes"], ZONE_LIMITS["depth"])
    if isinstance(data, dict) and "zones" in data:
        data = data["zones"]
    if not isinstance(data, list) or not data or len(data) > ZONE_LIMITS["zones"]:
        raise DataFormatError(f'zones must be a list of 1 to {ZONE_LIMITS["zones"]} {{"name", "role", "polygon": [[x, y], ...]}}')
    rows, errors = [], []
    for i, z in enumerate(data):
        if is_count_object(z):
            continue
        row, problem = _zone_row(i, z, frame_size)
        if problem is not None:
            errors.append(problem)
        if row is not None:
            rows.append(row)
    names = [r["zone"] for r in rows]
    if len(set(names)) != len(names):
        errors.append("zone names must be unique")
    if errors:
        raise DataFormatError("zones not accepted: " + _listed(errors))
    return pd.DataFrame(rows, columns=["zone", "role", "polygon_json"])
