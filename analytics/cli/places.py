"""``urbanlens cameras add|import|list|zones|calibrate`` and ``urbanlens districts import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from analytics.cli._common import DbOption, console, open_db
from analytics.errors import InputError
from analytics.footage.calibration import apply_homography, homography_from_points, parse_points, rectangle_ground_points
from analytics.footage.countzones import CameraZones, read_camera_zones
from analytics.formatting import column_label, format_counted
from analytics.geo import read_cameras_csv, read_districts_geojson
from analytics.store import Store

__all__ = [
    "cameras_app",
    "OUTSIDE_DISTRICTS",
    "districts_app",
    "cameras_add",
    "cameras_import",
    "cameras_list",
    "cameras_zones",
    "cameras_calibrate",
    "districts_import",
    "register",
]

cameras_app = typer.Typer(help="Add and import cameras so footage can be tied to places.", no_args_is_help=True)
OUTSIDE_DISTRICTS = "— (outside districts)"
"""What the district column says for a camera that lies in no known district."""

districts_app = typer.Typer(help="Import district polygons (GeoJSON).", no_args_is_help=True)


@cameras_app.command("add")
def cameras_add(
    camera_id: Annotated[str, typer.Argument(help="Camera id (letters, digits, '-', '_', '.').")],
    lon: Annotated[float, typer.Option(help="Longitude, WGS 84 degrees [-180, 180].")],
    lat: Annotated[float, typer.Option(help="Latitude, WGS 84 degrees [-90, 90].")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    heading: Annotated[float | None, typer.Option(help="View direction, degrees from north [0, 360].")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="The camera's clock as an IANA time zone (Europe/Zurich) where it "
                                                 "differs from the city's (the URBANLENS_TIMEZONE setting).")] = None,
    kind: Annotated[str, typer.Option(help="fixed or mobile.")] = "fixed",
    zones: Annotated[Path | None, typer.Option(
        help="Zones JSON in frame pixels: segmentation zones (name, role, polygon), count lines (name, line, in, out) "
             "and dwell zones (role dwell); with \"size\": [width, height] where it has lines or dwell zones.")] = None,
    db: DbOption = None,
) -> None:
    """Add (or update) one camera."""
    df = pd.DataFrame([{"camera_id": camera_id, "name": name or camera_id, "lon": lon, "lat": lat, "heading": heading, "kind": kind,
                        "timezone": timezone}])
    with open_db(db) as store:
        read = read_camera_zones(zones, store.latest_clip_size(camera_id)) if zones else None
        store.upsert_cameras(df)
        if read is not None:
            store.set_zones(camera_id, read.rows)
        cam = store.camera(camera_id)
    where = f"in district {cam['district_id']}" if cam.get("district_id") else "outside every known district"
    console.print(f"Camera {camera_id} at {lat:.5f}, {lon:.5f} ({where}).", markup=False, highlight=False)
    if read is not None:
        _say_zones(read)


def _say_zones(read: CameraZones) -> None:
    roles = read.rows["role"].value_counts()
    lines, dwell = int(roles.get("line", 0)), int(roles.get("dwell", 0))
    console.print(f"Zones: {format_counted(len(read.rows) - lines - dwell, 'segmentation zone')}, {format_counted(lines, 'count line')}, "
                  f"{format_counted(dwell, 'dwell zone')}.",
                  markup=False, highlight=False)
    for note in read.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def _replace_zones(store: Store, camera_id: str, zones: Path) -> CameraZones:
    store.camera(camera_id)  # an unknown camera is refused before the file is read
    read = read_camera_zones(zones, store.latest_clip_size(camera_id))
    store.set_zones(camera_id, read.rows)
    return read


@cameras_app.command("zones")
def cameras_zones(
    camera_id: Annotated[str, typer.Argument(help="An existing camera's id.")],
    zones: Annotated[Path, typer.Argument(help="Zones JSON (as for `cameras add --zones`); replaces the camera's zones.")],
    db: DbOption = None,
) -> None:
    """Replace an existing camera's zones, count lines and dwell zones; a bad file changes nothing."""
    with open_db(db) as store:
        read = _replace_zones(store, camera_id, zones)
    console.print(f"Camera {camera_id}: zones replaced from {zones}.", markup=False, highlight=False)
    _say_zones(read)


def _ground(ground_points: str | None, rectangle: str | None) -> list[tuple[float, float]]:
    if (ground_points is None) == (rectangle is None):
        raise InputError("give either --ground-points (four x,y in metres) or --rectangle WIDTHxLENGTH (metres), not both or neither")
    if rectangle is not None:
        parts = rectangle.lower().split("x")
        try:
            width, length = (float(v) for v in parts) if len(parts) == 2 else (float("nan"), float("nan"))
        except ValueError:
            width = length = float("nan")
        return rectangle_ground_points(width, length)
    return parse_points(str(ground_points), "ground points")


def _frame_size(text: str | None, store: Store, camera_id: str) -> tuple[int, int]:
    if text is None:
        size = store.latest_clip_size(camera_id)
        if size is None:
            raise InputError(f"camera {camera_id!r} has no clips yet: give --size WIDTHxHEIGHT, the frame the points were read on")
        return size
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and 0 < int(p) <= 100_000 for p in parts):
        raise InputError(f"--size {text[:30]!r}; expected WIDTHxHEIGHT in whole pixels such as 768x432")
    return int(parts[0]), int(parts[1])


@cameras_app.command("calibrate")
def cameras_calibrate(
    camera_id: Annotated[str, typer.Argument(help="An existing camera's id.")],
    image_points: Annotated[str, typer.Option(help="Four image points in frame pixels: 'x,y x,y x,y x,y', in order around the shape.")],
    ground_points: Annotated[str | None, typer.Option(help="Their ground positions in metres: 'X,Y X,Y X,Y X,Y', same order.")] = None,
    rectangle: Annotated[str | None, typer.Option(
        help="Instead of --ground-points: the points are the corners of a rectangle WIDTHxLENGTH metres "
             "(e.g. 3.5x3 for a 3 m lane dash across a 3.5 m lane): first to second across, second to third along.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT of the frame the points were read on (default: the camera's latest clip).")] = None,
    db: DbOption = None,
) -> None:
    """Store a ground calibration (a homography, image pixels to ground metres) so tracks get a speed."""
    image = parse_points(image_points, "image points")
    ground = _ground(ground_points, rectangle)
    homography = homography_from_points(image, ground)
    with open_db(db) as store:
        store.camera(camera_id)
        drawn = _frame_size(size, store, camera_id)
        outside = [p for p in image if not (0 <= p[0] <= drawn[0] and 0 <= p[1] <= drawn[1])]
        if outside:
            raise InputError(f"image point ({outside[0][0]:g}, {outside[0][1]:g}) lies outside the {drawn[0]}x{drawn[1]} frame")
        store.set_calibration(camera_id, {"homography": homography.tolist(), "image_points": [list(p) for p in image],
                                          "ground_points": [list(p) for p in ground], "drawn_size": drawn})
    mapped = apply_homography(homography, image)
    sides = [float(((mapped[(i + 1) % 4] - mapped[i]) ** 2).sum() ** 0.5) for i in range(4)]
    console.print(f"Camera {camera_id}: ground calibration stored for {drawn[0]}x{drawn[1]} frames; "
                  f"sides of the shape on the ground: {', '.join(f'{d:.2f} m' for d in sides)}.", markup=False, highlight=False)


@cameras_app.command("import")
def cameras_import(
    csv_path: Annotated[Path, typer.Argument(help="CSV with columns camera_id,lon,lat[,name,heading,kind,timezone].")],
    db: DbOption = None,
) -> None:
    """Import cameras from a CSV; a file with any bad row changes nothing."""
    df = read_cameras_csv(csv_path)
    with open_db(db) as store:
        n = store.upsert_cameras(df)
    console.print(f"Imported {format_counted(n, 'camera')} from {csv_path}.", markup=False, highlight=False)


@cameras_app.command("list")
def cameras_list(db: DbOption = None) -> None:
    """List cameras with their district."""
    with open_db(db) as store:
        df = store.cameras()
    if df.empty:
        console.print("No cameras yet: add one with `urbanlens cameras add` or `urbanlens cameras import`.",
                      markup=False, highlight=False)
        return
    table = Table()
    for col in ("camera_id", "name", "lon", "lat", "kind", "district"):
        table.add_column(column_label(col), no_wrap=col in ("camera_id", "lon", "lat"))
    for _, r in df.iterrows():
        district = OUTSIDE_DISTRICTS if pd.isna(r["district_id"]) or r["district_id"] == "" else str(r["district_id"])
        table.add_row(escape(str(r["camera_id"])), escape(str(r["name"])), f"{float(r['lon']):.5f}", f"{float(r['lat']):.5f}",
                      escape(str(r["kind"])), escape(district))
    console.print(table)


@districts_app.command("import")
def districts_import(
    geojson: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of Polygon/MultiPolygon with a 'name' property.")],
    db: DbOption = None,
) -> None:
    """Import districts; cameras and frames are re-assigned to districts by location."""
    df = read_districts_geojson(geojson)
    with open_db(db) as store:
        n = store.upsert_districts(df)
    console.print(f"Imported {format_counted(n, 'district')} from {geojson}.", markup=False, highlight=False)


def register(root: typer.Typer) -> None:
    """Add the ``cameras`` and ``districts`` command groups to the ``urbanlens`` app."""
    root.add_typer(cameras_app, name="cameras")
    root.add_typer(districts_app, name="districts")
