"""City-wide commands: ``demo``, ``indicators``, ``indicators-list``, ``export-parquet`` and ``info``."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from analytics import exports
from analytics import indicators as ind
from analytics.cli._common import DbOption, console, db_path, err_console, open_db
from analytics.demo import build_demo
from analytics.errors import InputError
from analytics.evaluation.adjust import ADJUSTED_INDICATORS, adjustment_summary
from analytics.formatting import format_count, format_interval, format_value
from analytics.indicators import GROUPINGS, INDICATORS
from analytics.periods import parse_date
from analytics.settings import load_settings
from analytics.store.catalog import trust_counts
from analytics.store.evaluations import adjusted_indicators
from analytics.store.parquet import ParquetStore, export_frames
from analytics.trust import left_out_note

app = typer.Typer()


@app.command()
def demo(
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing database file.")] = False,
    days: Annotated[int, typer.Option(help="Days of synthetic clips (14 by default).")] = 14,
) -> None:
    """Build the demo city "Lensfield" (synthetic data, 5 districts, 17 cameras) into a new database."""
    summary = build_demo(db_path(db), force=force, days=days)
    console.print(
        f"Built the demo city (synthetic) in {summary.seconds:.1f} s: {summary.districts} districts, {summary.cameras} cameras, "
        f"{summary.clips:,} clips, {summary.frames:,} sampled frames → {summary.path}"
    )


Grouping = StrEnum("Grouping", {name: name for name in GROUPINGS})  # type: ignore[misc]
"""The ``--by`` choices: the groupings that :func:`analytics.indicators.compute` knows."""


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


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
    adjusted: Annotated[
        bool, typer.Option("--adjusted", help="Error-adjust land-cover shares with the evaluation that applies to each camera "
                           "(Olofsson et al. 2014); cells without one stay unadjusted and are marked.")
    ] = False,
    include_low_trust: Annotated[
        bool, typer.Option("--include-low-trust", help="Keep clips flagged low trust (a heuristic; see `urbanlens clips`), "
                           "left out by default.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Indicators per camera, district, H3 cell, hour, weekday or day, with n and 95% intervals."""
    d0, d1 = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    keys = [b.value for b in by]
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; run `urbanlens demo` or `urbanlens ingest` first")
    with open_db(path) as store:
        source = ParquetStore(parquet, places=store) if parquet else store
        if adjusted:
            if parquet:
                raise InputError("--adjusted reads the evaluations of the database; it cannot be combined with --parquet")
            long = adjusted_indicators(store, by=keys, indicators=indicator or None, start=d0, end=d1, h3_resolution=h3_resolution,
                                       min_frames=load_settings().min_frames if min_frames is None else min_frames,
                                       include_low_trust=include_low_trust)
        else:
            long = ind.compute(source, by=keys, indicators=indicator or None, start=d0, end=d1, h3_resolution=h3_resolution,
                               min_frames=load_settings().min_frames if min_frames is None else min_frames,
                               include_low_trust=include_low_trust)
        left_out = "" if include_low_trust else left_out_note(trust_counts(source, d0, d1)["low"])
    wide = ind.to_wide(long, keys)
    if adjusted:
        wide = _with_adjustment(wide, long, keys)
    if fmt is OutFormat.csv:
        sys.stdout.write(exports.to_csv(wide))  # text cells that would run as spreadsheet formulas are neutralised
    elif fmt is OutFormat.json:
        sys.stdout.write(wide.to_json(orient="records", date_format="iso", indent=1) + "\n")
    else:
        _print_table(wide, keys, long["indicator"].unique().tolist() if not long.empty else [])
        if adjusted and not long.empty:
            console.print(adjustment_summary(long) + " Cells marked † are not adjusted.")
    if left_out:  # on stderr for csv and json, so the output stays machine-readable
        (console if fmt is OutFormat.table else err_console).print(left_out + ".", highlight=False, markup=False)


def _with_adjustment(wide: pd.DataFrame, long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``wide`` with an ``<indicator>_adjustment`` column (``camera``/``model``, or why not) per land-cover indicator."""
    land = long[long["indicator"].isin(list(ADJUSTED_INDICATORS))]
    for name in land["indicator"].unique():
        part = land[land["indicator"] == name].set_index(keys)["adjustment"].rename(f"{name}_adjustment")
        wide = wide.join(part, on=keys)
    return wide


def _print_table(wide: pd.DataFrame, keys: list[str], names: list[str]) -> None:


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
        cells = [escape(str(row[k])) for k in keys] + [format_count(row["n_frames"]), format_count(row["n_clips"])]
        for n in names:
            v = row[n]
            interval = format_interval(n, row[f"{n}_low"], row[f"{n}_high"], v)
            mark = " †" if str(row.get(f"{n}_adjustment", "")).startswith("not adjusted") else ""
            if pd.isna(v):
                cells.append(f"[dim]{format_value(n, v)}[/dim]{mark}")
            else:
                cells.append(format_value(n, v) + (f" ({interval})" if interval else "") + mark)
        table.add_row(*cells)
    console.print(table)


@app.command("indicators-list")
def indicators_list() -> None:
    """List every indicator with its formula and source."""
    table = Table()
    for col in ("name", "label", "unit", "formula", "source"):
        table.add_column(col)
    for i in INDICATORS.values():
        table.add_row(i.name, i.label + (" (heuristic)" if i.heuristic else ""), i.unit, i.formula, i.source)
    console.print(table)


@app.command("export-parquet")
def export_parquet(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write day=YYYY-MM-DD/camera_id=ID/*.parquet into.")],
    db: DbOption = None,
) -> None:
    """Export frame measurements as Parquet partitioned by day and camera (the cluster layout)."""
    with open_db(db) as store:
        n = export_frames(store, out_dir)
    console.print(f"Wrote {n:,} frame rows to {out_dir} (partitioned by day and camera).")


@app.command()
def info(db: DbOption = None) -> None:
    """Database statistics: cameras, districts, clips, frames, hours, share synthetic."""
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; run `urbanlens demo` or `urbanlens ingest` first")
    with open_db(path) as store:
        stats = store.stats()
    console.print(json.dumps(stats, default=str, indent=1))


def register(root: typer.Typer) -> None:
    """Add the city-wide commands to the ``urbanlens`` app."""
    root.registered_commands.extend(app.registered_commands)
