"""Places in the store: districts, cameras and zones, and which district each camera and frame lies in.

The spatial look-up is :mod:`analytics.geo` (pure: polygons in, district ids out); this module
reads the tables, asks geo, and writes the answers back on the caller's transaction cursor, so a
failure anywhere leaves nothing half-written. Every statement is fixed text with bound values.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from analytics.errors import InputError
from analytics.geo import DistrictIndex, district_index

__all__ = [
    "DISTRICT_COLUMNS",
    "CAMERA_COLUMNS",
    "ZONE_COLUMNS",
    "COUNT_ZONE_COLUMNS",
    "stored_district_index",
    "write_districts",
    "write_cameras",
    "write_zones",
    "assign_districts",
    "latest_clip_size",
    "write_calibration",
    "read_calibration",
]

DISTRICT_COLUMNS = ("district_id", "name", "geometry_geojson", "source")
CAMERA_COLUMNS = ("camera_id", "name", "lon", "lat", "heading", "kind", "source")
ZONE_COLUMNS = ("zone", "role", "polygon_json")
COUNT_ZONE_COLUMNS = ("in_label", "out_label", "drawn_width", "drawn_height")
"""Optional zone columns of count lines (role ``line``: the two directions' names) and of count
geometry (the frame size it was drawn on); NULL where not given."""


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what} lack column(s) {', '.join(missing)}; expected {', '.join(columns)}")


def stored_district_index(cur: duckdb.DuckDBPyConnection) -> DistrictIndex:
    """The stored district polygons, parsed once into a spatial index (in table order)."""
    return district_index(cur.execute("SELECT district_id, geometry_geojson FROM districts").df())


def write_districts(cur: duckdb.DuckDBPyConnection, districts: pd.DataFrame) -> int:
    """Insert or replace districts (validated columns district_id, name, geometry_geojson, source), then place everything."""
    _require(districts, DISTRICT_COLUMNS, "districts")
    cur.register("new_districts", districts[list(DISTRICT_COLUMNS)])
    try:
        cur.execute("DELETE FROM districts WHERE district_id IN (SELECT district_id FROM new_districts)")
        cur.execute(
            "INSERT INTO districts (district_id, name, geometry_geojson, source) "
            "SELECT district_id, name, geometry_geojson, source FROM new_districts"
        )
    finally:
        cur.unregister("new_districts")
    assign_districts(cur)
    return len(districts)


def write_cameras(cur: duckdb.DuckDBPyConnection, cameras: pd.DataFrame) -> int:
    """Insert or replace cameras (validated columns camera_id, name, lon, lat, heading, kind, source, and an
    optional timezone: NULL where not given, the city's zone then applies), then place everything."""
    _require(cameras, CAMERA_COLUMNS, "cameras")
    df = cameras[list(CAMERA_COLUMNS)].copy()
    df["timezone"] = cameras["timezone"].astype(object).where(cameras["timezone"].notna(), None) if "timezone" in cameras else None
    cur.register("new_cameras", df)
    try:
        cur.execute("DELETE FROM cameras WHERE camera_id IN (SELECT camera_id FROM new_cameras)")
        cur.execute(
            "INSERT INTO cameras (camera_id, name, lon, lat, heading, kind, district_id, source, timezone) "
            "SELECT camera_id, name, lon, lat, heading, kind, NULL, source, timezone FROM new_cameras"
        )
    finally:
        cur.unregister("new_cameras")
    assign_districts(cur)
    return len(cameras)


def write_zones(cur: duckdb.DuckDBPyConnection, camera_id: str, zones: pd.DataFrame) -> int:
    """Replace a camera's zones (columns zone, role, polygon_json in frame coordinates, and optionally
    the :data:`COUNT_ZONE_COLUMNS` of count lines and dwell zones)."""
    _require(zones, ZONE_COLUMNS, "zones")
    df = zones[list(ZONE_COLUMNS)].copy()
    for col in COUNT_ZONE_COLUMNS:
        df[col] = zones[col].astype(object).where(zones[col].notna(), None) if col in zones.columns else None
    df.insert(0, "camera_id", camera_id)
    cur.execute("DELETE FROM camera_zones WHERE camera_id = ?", [camera_id])
    cur.register("new_zones", df)
    try:
        cur.execute(
            "INSERT INTO camera_zones (camera_id, zone, role, polygon_json, in_label, out_label, drawn_width, drawn_height) "
            "SELECT camera_id, zone, role, polygon_json, in_label, out_label, drawn_width, drawn_height FROM new_zones"
        )
    finally:
        cur.unregister("new_zones")
    return len(df)


def assign_districts(cur: duckdb.DuckDBPyConnection) -> None:
    """Recompute cameras.district_id and frames.district_id from the district polygons.

    Fixed cameras are placed by their position and their frames follow them; frames of mobile
    cameras, and frames placed by a GPS track (they have a ``heading``), are placed by their own positions. The polygons are parsed once for both look-ups.
    """
    index = stored_district_index(cur)
    cams = cur.execute("SELECT camera_id, lon, lat FROM cameras").df()
    cams["district_id"] = index.locate(cams["lon"].to_numpy(), cams["lat"].to_numpy())
    cur.register("_cam_d", cams[["camera_id", "district_id"]])
    try:
        cur.execute("UPDATE cameras SET district_id = d.district_id FROM _cam_d d WHERE cameras.camera_id = d.camera_id")
    finally:
        cur.unregister("_cam_d")
    cur.execute(  # frames placed by a GPS track (they have a heading) keep their own positions
        "UPDATE frames SET district_id = c.district_id FROM cameras c "
        "WHERE frames.camera_id = c.camera_id AND c.kind = 'fixed' AND frames.heading IS NULL AND frames.lon IS NOT NULL"
    )  # a frame without a position (outside its GPS track) stays in no district
    pts = cur.execute(
        "SELECT DISTINCT f.lon, f.lat FROM frames f JOIN cameras c USING (camera_id) "
        "WHERE (c.kind = 'mobile' OR f.heading IS NOT NULL) AND f.lon IS NOT NULL AND f.lat IS NOT NULL"
    ).df()
    if pts.empty:
        return
    pts["district_id"] = index.locate(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    cur.register("_pt_d", pts)
    try:
        cur.execute(
            "UPDATE frames SET district_id = p.district_id FROM _pt_d p, cameras c "
            "WHERE frames.lon = p.lon AND frames.lat = p.lat AND frames.camera_id = c.camera_id "
            "AND (c.kind = 'mobile' OR frames.heading IS NOT NULL)"
        )
    finally:
        cur.unregister("_pt_d")


def latest_clip_size(cur: duckdb.DuckDBPyConnection, camera_id: str) -> tuple[int, int] | None:
    """(width, height) of the camera's latest clip, or None when it has none."""
    rows = cur.execute(
        "SELECT width, height FROM clips WHERE camera_id = ? ORDER BY start_time DESC LIMIT 1", [camera_id]
    ).fetchall()
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def write_calibration(cur: duckdb.DuckDBPyConnection, camera_id: str, calibration: dict[str, Any], created_at: datetime) -> None:
    """Insert or replace the camera's ground calibration: ``homography`` (3x3, image pixels -> ground
    metres), ``drawn_size`` (width, height) and optionally ``image_points`` and ``ground_points``."""
    homography = [[float(v) for v in row] for row in calibration["homography"]]
    if len(homography) != 3 or any(len(row) != 3 for row in homography):
        raise InputError(f"calibration of camera {camera_id!r}: homography is not 3x3; expected a 3x3 list of numbers")
    width, height = (int(v) for v in calibration["drawn_size"])
    points = [json.dumps(calibration[k]) if calibration.get(k) is not None else None for k in ("image_points", "ground_points")]
    cur.execute("DELETE FROM camera_calibrations WHERE camera_id = ?", [camera_id])
    cur.execute(
        "INSERT INTO camera_calibrations (camera_id, image_points_json, ground_points_json, homography_json, "
        "drawn_width, drawn_height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [camera_id, points[0], points[1], json.dumps(homography), width, height, created_at],
    )


def read_calibration(cur: duckdb.DuckDBPyConnection, camera_id: str) -> dict[str, Any] | None:
    """The camera's ground calibration as stored (homography and points parsed), or None."""
    df = cur.execute("SELECT * FROM camera_calibrations WHERE camera_id = ?", [camera_id]).df()
    if df.empty:
        return None
    row = df.iloc[0]
    return {
        "homography": json.loads(row["homography_json"]),
        "image_points": json.loads(row["image_points_json"]) if isinstance(row["image_points_json"], str) else None,
        "ground_points": json.loads(row["ground_points_json"]) if isinstance(row["ground_points_json"], str) else None,
        "drawn_size": (int(row["drawn_width"]), int(row["drawn_height"])),
        "created_at": row["created_at"],
    }
