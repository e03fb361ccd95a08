"""City-wide commands: ``demo``, ``indicators``, ``indicators-list``, ``export-parquet`` and ``info``."""

from __future__ import annotations

import json
import sys
from datetime import date
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
from analytics.demo.city import build_demo
from analytics.errors import InputError
from analytics.evaluation.adjust import ADJUSTED_INDICATORS, adjustment_summary
from analytics.evaluation.apply import adjusted_indicators
from analytics.formatting import describe_stats, format_count, format_interval, format_value
from analytics.indicators import GROUPINGS, INDICATORS
from analytics.periods import parse_date
from analytics.selection import Selection
from analytics.settings import load_settings
from analytics.store.catalog import trust_counts
from analytics.store.parquet import ParquetStore, export_frames
from analytics.trust import left_out_note

__all__ = ["InfoFormat", "OutFormat", "demo", "export_parquet", "indicators", "indicators_list", "info", "register"]

app = typer.Typer()


@app.command()
def demo(
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB file to build (default: $URBANLENS_DEMO_DB or $URBANLENS_HOME/demo.duckdb).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing database file.")] = False,
    days: Annotated[int, typer.Option(help="Days of synthetic clips (14 by default).")] = 14,
) -> None:
    """Build the demo city "Lensfield" (synthetic data, 5 districts, 17 cameras) into a database of its own.

    The default file is $URBANLENS_HOME/demo.duckdb ($URBANLENS_DEMO_DB), apart from your own
    database; --db names another. A file that holds real data is never replaced.
    """
    summary = build_demo(db.expanduser() if db else load_settings().demo_db_path, force=force, days=days)
    console.print(
        f"Built the demo city (synthetic) in {summary.seconds:.1f} s: {summary.districts} districts, {summary.cameras} cameras, "
        f"{summary.clips:,} clips, {summary.frames:,} sampled frames → {summary.path}"
    )


def _groupings(values: list[str]) -> list[str]:
    """The ``--by`` values, checked against the groupings that :func:`analytics.indicators.compute` knows (one-line error)."""
    bad = [v for v in values if v not in GROUPINGS]
    if bad:
        raise InputError(f"--by {bad[0]!r} is not a grouping; choose from {', '.join(GROUPINGS)}")
    return values


def _no_database(path: Path) -> str:
    """What to do when the database a command reads does not exist yet."""
    demo = load_settings().demo_db_path
    return (f"no database at {str(path)!r}; ingest footage first (`urbanlens ingest`), or read the demo city with "
            f"--db {demo} (built by `urbanlens demo`)")


class OutFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _write_indicators(
    long: pd.DataFrame, keys: list[str], fmt: OutFormat, adjusted: bool, period: tuple[date | None, date | None] | None
) -> None:
    """Print the indicators (wide, one row per cell) as a table, or write them as CSV or JSON to stdout."""
    wide = ind.to_wide(long, keys)
    if adjusted:
        wide = _with_adjustment(wide, long, keys)
    if fmt is not OutFormat.table and wide.empty:
        err_console.print("No frames match; nothing to write.", highlight=False, markup=False)
    elif fmt is OutFormat.csv:  # values rounded; text cells that would run as formulas neutralised
        sys.stdout.write(exports.to_csv(wide, period=period))
    elif fmt is OutFormat.json:
        sys.stdout.write(wide.to_json(orient="records", date_format="iso", indent=1) + "\n")
    else:
        shown = set(long["indicator"]) if not long.empty else set()
        _print_table(wide, keys, [n for n in INDICATORS if n in shown])  # in the registry's order
        if adjusted and not long.empty:
            console.print(adjustment_summary(long) + " Cells marked † are not adjusted.")


@app.command()
def indicators(
    by: Annotated[list[str], typer.Option("--by", help=f"Grouping: {', '.join(GROUPINGS)}; repeat for a cross "
                                             "(e.g. --by district --by hour).")],
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
    """Indicators per camera, district, H3 cell, hour, weekday or day, with n and 95% intervals.

    Examples: ``urbanlens indicators --by district``; ``urbanlens indicators --by camera -i green_view --format csv``.
    """
    keys = _groupings(by)
    d0, d1 = parse_date(date_from, "--from"), parse_date(date_to, "--to")
    path = db_path(db)
    if not path.exists():
        raise InputError(_no_database(path))
    with open_db(path) as store:
        source = ParquetStore(parquet, places=store) if parquet else store
        if adjusted and parquet:
            raise InputError("--adjusted reads the evaluations of the database; it cannot be combined with --parquet")
        selection = Selection(start=d0, end=d1, include_low_trust=include_low_trust,
                              min_frames=load_settings().min_frames if min_frames is None else min_frames)
        long = (adjusted_indicators(store, selection, keys, indicator or None, h3_resolution) if adjusted
                else ind.compute(source, selection, keys, indicator or None, h3_resolution))
        left_out = "" if include_low_trust else left_out_note(trust_counts(source, selection)["low"])
    _write_indicators(long, keys, fmt, adjusted, (d0, d1) if d0 or d1 else None)
    if left_out:  # on stderr for csv and json, so the output stays machine-readable
        (console if fmt is OutFormat.table else err_console).print(left_out + ".", highlight=False, markup=False)


def _with_adjustment(wide: pd.DataFrame, long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``wide`` with an ``<indicator>_adjustment`` column (``camera``/``model``, or why not) per land-cover indicator."""
    land = long[long["indicator"].isin(list(ADJUSTED_INDICATORS))]
    for name in land["indicator"].unique():
        part = land[land["indicator"] == name].set_index(keys)["adjustment"].rename(f"{name}_adjustment")
        wide = wide.join(part, on=keys)
    return wide


def _title(name: str) -> str:
    """An indicator's label with the heuristic mark, as the CLI's tables head it."""
    return INDICATORS[name].label + (" (heuristic)" if INDICATORS[name].heuristic else "")


def _value_cell(row: pd.Series, name: str) -> str:
    """One value with its 95% interval (rich markup; † where an error adjustment did not apply)."""
    v = row[name]
    interval = format_interval(name, row[f"{name}_low"], row[f"{name}_high"], v)
    mark = " †" if str(row.get(f"{name}_adjustment", "")).startswith("not adjusted") else ""
    if pd.isna(v):
        return f"[dim]{format_value(name, v)}[/dim]{mark}"
    return format_value(name, v) + (f" ({interval})" if interval else "") + mark


def _key_cell(value: object) -> str:
    """A cell's key as people read it: a whole number without ``.0`` (hour 6, not 6.0), a day as its date, text escaped.

    >>> _key_cell(6.0), _key_cell(pd.Timestamp("2026-11-09")), _key_cell("old-town")
    ('6', '2026-11-09', 'old-town')
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return f"{value:%Y-%m-%d}"
    return escape(str(value))


def _print_table(wide: pd.DataFrame, keys: list[str], names: list[str]) -> None:
    """One row per cell with a column per indicator where that fits the terminal, else one row per cell and indicator."""
    if wide.empty:
        console.print("No frames match; nothing to show.")
        return
    cells = {n: [_value_cell(r, n) for _, r in wide.iterrows()] for n in names}
    widths = [max(len(k), *(len(str(v)) for v in wide[k])) for k in keys] + [6, 5]
    widths += [max(max(len(w) for w in _title(n).split()), *(len(c) for c in cells[n])) for n in names]
    if sum(w + 3 for w in widths) + 1 <= console.width:
        table = Table(show_lines=False)
        for k in keys:
            table.add_column(k, no_wrap=True)
        table.add_column("frames", justify="right")
        table.add_column("clips", justify="right")
        for n in names:
            table.add_column(_title(n), justify="right")
        for i, (_, row) in enumerate(wide.iterrows()):
            table.add_row(*[_key_cell(row[k]) for k in keys], format_count(row["n_frames"]), format_count(row["n_clips"]),
                          *[cells[n][i] for n in names])
    else:  # too many indicators for the terminal's width: one row each, grouped by cell
        table = Table(show_lines=False)
        for k in keys:
            table.add_column(k, no_wrap=True)
        table.add_column("indicator", ratio=1)
        table.add_column("value (95% range)", justify="right", ratio=1)
        table.add_column("frames", justify="right", no_wrap=True)
        for i, (_, row) in enumerate(wide.iterrows()):
            for j, n in enumerate(names):
                first = j == 0
                table.add_row(*[_key_cell(row[k]) if first else "" for k in keys], _title(n), cells[n][i],
                              format_count(row.get(f"{n}_n_frames", row["n_frames"])), end_section=j == len(names) - 1)
    console.print(table)


@app.command("indicators-list")
def indicators_list() -> None:
    """List every indicator: its name (for ``-i``), label, unit, formula, source and when it applies."""
    for i in INDICATORS.values():
        marks = ", ".join([i.unit, *(["heuristic"] if i.heuristic else [])])  # one bracket: "(people, heuristic)"
        console.print(f"[bold]{i.name}[/bold]  {escape(i.label)} ({escape(marks)})", highlight=False, soft_wrap=True)
        lines = [("formula", i.formula), ("source", i.source)] + ([("applies", i.guidance)] if i.guidance else [])
        for what, text in lines:
            console.print(f"  [dim]{what}:[/dim] {escape(text)}", highlight=False)


@app.command("export-parquet")
def export_parquet(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write day=YYYY-MM-DD/camera_id=ID/*.parquet into.")],
    db: DbOption = None,
) -> None:
    """Export frame measurements as Parquet partitioned by day and camera (the cluster layout)."""
    with open_db(db) as store:
        n = export_frames(store, out_dir)
    console.print(f"Wrote {n:,} frame rows to {out_dir} (partitioned by day and camera).")


class InfoFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def info(
    db: DbOption = None,
    fmt: Annotated[InfoFormat, typer.Option("--format", help="text (for people) or json (for scripts: raw numbers).")] = InfoFormat.text,
) -> None:
    """Database statistics: cameras, districts, clips, frames, hours of footage, share synthetic, size."""
    path = db_path(db)
    if not path.exists():
        raise InputError(_no_database(path))
    with open_db(path) as store:
        stats = store.stats()
    if fmt == InfoFormat.json:
        console.print(json.dumps(stats, default=str, indent=1), highlight=False, soft_wrap=True)
        return
    for label, value in describe_stats(stats):
        console.print(f"{label + ':':<17}{escape(value)}", highlight=False, soft_wrap=True)


def register(root: typer.Typer) -> None:
    """Add the city-wide commands to the ``urbanlens`` app."""
    root.registered_commands.extend(app.registered_commands)
