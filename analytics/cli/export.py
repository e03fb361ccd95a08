"""``urbanlens export``: indicators as a GIS layer (GeoJSON, GeoParquet or CSV) in EPSG:4326.

One feature per district (its polygon), H3 cell (its hexagon), camera (its point) or frame (its
own point: a moving camera's frames placed by a GPS track), with each chosen indicator, its 95%
interval and frame count, and the cell's ``n_frames`` and ``n_clips`` as properties
(:mod:`analytics.gis`). Examples::

    urbanlens export --by district -i green_view --format geojson --out districts.geojson
    urbanlens export --by frame -i green_view --from 2026-07-01 --to 2026-07-01 --format geoparquet --out drive.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analytics.cli._common import DbOption, console, db_path, open_db
from analytics.errors import InputError
from analytics.formatting import format_counted
from analytics.gis import EXPORT_BY, EXPORT_FORMATS, write_layer
from analytics.periods import parse_date
from analytics.selection import Selection
from analytics.settings import load_settings
from analytics.store.geodata import export_layer, unplaced_frames

__all__ = ["register"]


def export(
    by: Annotated[str, typer.Option("--by", help=f"One feature per: {' | '.join(EXPORT_BY)}.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced if it exists).")],
    fmt: Annotated[str, typer.Option("--format", help=f"{' | '.join(EXPORT_FORMATS)}.")] = "geojson",
    indicator: Annotated[list[str] | None, typer.Option("--indicator", "-i", help="Indicator name (repeatable; default: all).")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (inclusive).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")] = None,
    include_low_trust: Annotated[bool, typer.Option("--include-low-trust", help="Keep clips flagged low trust (a heuristic).")] = False,
    min_frames: Annotated[int | None, typer.Option("--min-frames", help="Cells with fewer frames get no value (default: settings).")] = None,
    h3_resolution: Annotated[int, typer.Option("--h3-resolution", help="H3 resolution for --by h3 (0–15).")] = 8,
    db: DbOption = None,
) -> None:
    """Write indicators per district, H3 cell, camera or frame as a GIS layer (EPSG:4326)."""
    if by not in EXPORT_BY:
        raise InputError(f"--by {by!r}; expected one of {', '.join(EXPORT_BY)}")
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; ingest footage first (`urbanlens ingest`)")
    selection = Selection(start=parse_date(date_from, "--from"), end=parse_date(date_to, "--to"), include_low_trust=include_low_trust,
                          min_frames=load_settings().min_frames if min_frames is None else min_frames)
    with open_db(path, read_only=True) as store:
        layer = export_layer(store, selection, by, indicator or None, h3_resolution)
        unplaced = unplaced_frames(store, selection) if by in ("frame", "district", "h3") else 0
    written = write_layer(layer, fmt, out)
    console.print(f"{format_counted(len(layer), 'feature')} by {by} written to {written} ({fmt}, EPSG:4326)", markup=False, highlight=False)
    if unplaced:
        where = "skipped" if by == "frame" else f"left out of every {'district' if by == 'district' else 'H3 cell'}"
        console.print(f"{format_counted(unplaced, 'frame')} without a position (outside their GPS track or in a gap) {where}",
                      markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``urbanlens`` app."""
    app.command("export")(export)
