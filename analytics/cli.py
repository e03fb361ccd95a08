"""The ``urbanlens`` command line (typer).

Errors that UrbanLens raises on purpose print as one line on stderr with exit code 2; no
traceback. Sub-commands that belong to other parts of the product register themselves here.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from analytics import __version__
from analytics.errors import InputError, UrbanLensError

app = typer.Typer(
    name="urbanlens",
    help="UrbanLens: street-level video to city indicators (segmentation, DuckDB indicators, dashboard, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cameras_app = typer.Typer(help="Add and import cameras so footage can be tied to places.", no_args_is_help=True)
districts_app = typer.Typer(help="Import district polygons (GeoJSON).", no_args_is_help=True)
app.add_typer(cameras_app, name="cameras")
app.add_typer(districts_app, name="districts")
console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="DuckDB file (default: $URBANLENS_DB or $URBANLENS_HOME/urbanlens.duckdb).")
]


def _db_path(db: Path | None) -> Path:
    from analytics.settings import load_settings

    return db.expanduser() if db else load_settings().db_path


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"urbanlens {__version__}")
        raise typer.Exit()


@app.command()
def demo(
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing database file.")] = False,
    days: Annotated[int, typer.Option(help="Days of synthetic clips (14 by default).")] = 14,
) -> None:
    """Build the demo city "Lensfield" (synthetic data, 5 districts, 17 cameras) into a new database."""
    from analytics.demo import build_demo

    summary = build_demo(_db_path(db), force=force, days=days)
    console.print(
        f"Built the demo city (synthetic) in {summary.seconds:.1f} s: {summary.districts} districts, {summary.cameras} cameras, "
        f"{summary.clips:,} clips, {summary.frames:,} sampled frames → {summary.path}"
    )


class Grouping(StrEnum):
    city = "city"
    camera = "camera"
    district = "district"
    h3 = "h3"
    hour = "hour"
    weekday = "weekday"
    day = "day"


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _parse_date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date; use YYYY-MM-DD") from None


@app.command()
def indicators(
    by: Annotated[list[Grouping], typer.Option("--by", help="Grouping; repeat for a cross (e.g. --by district --by hour).")],
    indicator: Annotated[
        list[str] | None, typer.Option("--indicator", "-i", help="Indicator name (repeatable; default: all). See `urbanlens indicators-list`.")
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (inclusive).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")] = None,
    h3_resolution: Annotated[int, typer.Option("--h3-resolution", help="H3 resolution for --by h3 (0–15).")] = 8,
    min_frames: Annotated[int | None, typer.Option(help="Cells with fewer frames are missing (default: settings).")] = None,
    fmt: Annotated[OutFormat, typer.Option("--format", help="table, csv or json.")] = OutFormat.table,
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Read frames from a Parquet folder (day=/camera_id= partitions) instead.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Indicators per camera, district, H3 cell, hour, weekday or day, with n and 95% intervals."""
    from analytics import indicators as ind
    from analytics.parquet import ParquetStore
    from analytics.store import Store

    d0, d1 = _parse_date(date_from, "--from"), _parse_date(date_to, "--to")
    keys = [b.value for b in by]
    path = _db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; run `urbanlens demo` or `urbanlens ingest` first")
    with Store(path) as store:
        source = ParquetStore(parquet, places=store) if parquet else store
        long = ind.compute(source, by=keys, indicators=indicator or None, start=d0, end=d1, h3_resolution=h3_resolution,
                           min_frames=min_frames)
    wide = ind.to_wide(long, keys)
    if fmt is OutFormat.csv:
        sys.stdout.write(wide.to_csv(index=False))
    elif fmt is OutFormat.json:
        sys.stdout.write(wide.to_json(orient="records", date_format="iso", indent=1) + "\n")
    else:
        _print_table(wide, keys, long["indicator"].unique().tolist() if not long.empty else [])


def _print_table(wide: object, keys: list[str], names: list[str]) -> None:
    import pandas as pd

    from analytics.indicators import INDICATORS, format_value

    assert isinstance(wide, pd.DataFrame)
    if wide.empty:
        console.print("No frames match; nothing to show.")
        return
    table = Table(show_lines=False)
    for k in keys:
        table.add_column(k)
    table.add_column("frames", justify="right")
    table.add_column("clips", justify="right")
    for n in names:
        table.add_column(INDICATORS[n].label + (" (heuristic)" if INDICATORS[n].heuristic else ""), justify="right")
    for _, row in wide.iterrows():
        cells = [str(row[k]) for k in keys] + [f"{int(row['n_frames']):,}", f"{int(row['n_clips']):,}"]
        for n in names:
            v = row[n]
            if pd.isna(v):
                cells.append("[dim]not enough data[/dim]")
            elif pd.isna(row[f"{n}_low"]):
                cells.append(format_value(n, v))
            else:
                cells.append(f"{format_value(n, v)} ({format_value(n, row[f'{n}_low'])}–{format_value(n, row[f'{n}_high'])})")
        table.add_row(*cells)
    console.print(table)


@app.command("indicators-list")
def indicators_list() -> None:
    """List every indicator with its formula and source."""
    from analytics.indicators import INDICATORS

    table = Table()
    for col in ("name", "label", "unit", "formula", "source"):
        table.add_column(col)
    for i in INDICATORS.values():
        table.add_row(i.name, i.label + (" (heuristic)" if i.heuristic else ""), i.unit, i.formula, i.source)
    console.print(table)


@cameras_app.command("add")
def cameras_add(
    camera_id: Annotated[str, typer.Argument(help="Camera id (letters, digits, '-', '_', '.').")],
    lon: Annotated[float, typer.Option(help="Longitude, WGS 84 degrees [-180, 180].")],
    lat: Annotated[float, typer.Option(help="Latitude, WGS 84 degrees [-90, 90].")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    heading: Annotated[float | None, typer.Option(help="View direction, degrees from north [0, 360].")] = None,
    kind: Annotated[str, typer.Option(help="fixed or mobile.")] = "fixed",
    zones: Annotated[Path | None, typer.Option(help="Zones JSON (polygons in frame pixels with name and role).")] = None,
    db: DbOption = None,
) -> None:
    """Add (or update) one camera."""
    import pandas as pd

    from analytics.geo import parse_zones
    from analytics.store import Store

    zone_df = parse_zones(zones) if zones else None
    df = pd.DataFrame([{"camera_id": camera_id, "name": name or camera_id, "lon": lon, "lat": lat, "heading": heading, "kind": kind}])
    with Store(_db_path(db)) as store:
        store.upsert_cameras(df)
        if zone_df is not None:
            store.set_zones(camera_id, zone_df)
        cam = store.camera(camera_id)
    where = f"in district {cam['district_id']}" if cam.get("district_id") else "outside every known district"
    console.print(f"Camera {camera_id} at {lat:.5f}, {lon:.5f} ({where}).")


@cameras_app.command("import")
def cameras_import(
    csv_path: Annotated[Path, typer.Argument(help="CSV with columns camera_id,lon,lat[,name,heading,kind].")],
    db: DbOption = None,
) -> None:
    """Import cameras from a CSV; a file with any bad row changes nothing."""
    from analytics.geo import read_cameras_csv
    from analytics.store import Store

    df = read_cameras_csv(csv_path)
    with Store(_db_path(db)) as store:
        n = store.upsert_cameras(df)
    console.print(f"Imported {n} camera(s) from {csv_path}.")


@cameras_app.command("list")
def cameras_list(db: DbOption = None) -> None:
    """List cameras with their district."""
    from analytics.store import Store

    with Store(_db_path(db)) as store:
        df = store.cameras()
    table = Table()
    for col in ("camera_id", "name", "lon", "lat", "kind", "district_id"):
        table.add_column(col)
    for _, r in df.iterrows():
        table.add_row(*(str(r[c]) for c in ("camera_id", "name", "lon", "lat", "kind", "district_id")))
    console.print(table)


@districts_app.command("import")
def districts_import(
    geojson: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of Polygon/MultiPolygon with a 'name' property.")],
    db: DbOption = None,
) -> None:
    """Import districts; cameras and frames are re-assigned to districts by location."""
    from analytics.geo import read_districts_geojson
    from analytics.store import Store

    df = read_districts_geojson(geojson)
    with Store(_db_path(db)) as store:
        n = store.upsert_districts(df)
    console.print(f"Imported {n} district(s) from {geojson}.")


@app.command("export-parquet")
def export_parquet(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write day=YYYY-MM-DD/camera_id=ID/*.parquet into.")],
    db: DbOption = None,
) -> None:
    """Export frame measurements as Parquet partitioned by day and camera (the cluster layout)."""
    from analytics.parquet import export_frames
    from analytics.store import Store

    with Store(_db_path(db)) as store:
        n = export_frames(store, out_dir)
    console.print(f"Wrote {n:,} frame rows to {out_dir} (partitioned by day and camera).")


@app.command()
def info(db: DbOption = None) -> None:
    """Database statistics: cameras, districts, clips, frames, hours, share synthetic."""
    from analytics.store import Store

    path = _db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; run `urbanlens demo` or `urbanlens ingest` first")
    with Store(path) as store:
        stats = store.stats()
    console.print(json.dumps(stats, default=str, indent=1))


# Other parts of the product add their commands here (each module defines register(app)).
_PLUGINS = ("analytics.cli_models", "analytics.cli_ingest", "analytics.cli_dashboard", "analytics.cli_report")
for _mod in _PLUGINS:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _exc:
        if _exc.name != _mod:
            raise


def main() -> None:
    """Entry point: run the app, turning UrbanLens errors into one clear line and exit code 2."""
    try:
        app()
    except UrbanLensError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
