"""``urbanlens counts``: crossings of count lines and visits to dwell zones of one camera."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from analytics import exports
from analytics.cli._common import DbOption, console, err_console, open_db
from analytics.errors import InputError
from analytics.formatting import column_label, format_count, format_counted, format_quantity
from analytics.periods import parse_date
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.counts import COUNT_BY, counting_cameras, crossing_counts, visit_stats

__all__ = ["CountFormat", "CountBy", "counts", "counts_json", "register"]

app = typer.Typer()


class CountFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class CountBy(StrEnum):
    hour = "hour"
    day = "day"
    clip = "clip"
    total = "total"


assert tuple(CountBy) == COUNT_BY  # the choices are the store's groupings


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: times in ISO 8601, NaN as null."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif out[col].map(lambda v: hasattr(v, "isoformat")).any():
            out[col] = out[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    records: list[dict[str, Any]] = json.loads(out.to_json(orient="records"))
    return records


def counts_json(crossings: pd.DataFrame, visits: pd.DataFrame) -> str:
    """``{"crossings": [{"line", "class", "direction", "count", ...}], "visits": [{"zone", "class", "count", "mean_dwell_s", ...}]}``
    with the grouping keys (``hour``, ``day`` or ``clip``) in each row.

    >>> print(counts_json(pd.DataFrame([{"line": "mid", "class": "car", "direction": "in", "count": 2}]), pd.DataFrame()))
    {"crossings": [{"line": "mid", "class": "car", "direction": "in", "count": 2}], "visits": []}
    """
    return json.dumps({"crossings": _records(crossings), "visits": _records(visits)})


def _print_tables(crossings: pd.DataFrame, visits: pd.DataFrame, by: str) -> None:
    key = [by] if by != "total" else []
    if crossings.empty:
        console.print("No count lines were counted in this period.", markup=False, highlight=False)
    else:
        wide = crossings.pivot_table(index=[*key, "line", "direction_label"], columns="class", values="count",
                                     aggfunc="sum", fill_value=0, sort=True).reset_index()
        _table(wide, "Crossings (count per class)")
    if not visits.empty:
        shown = visits[visits["count"] > 0][[*key, "zone", "class", "count", "mean_dwell_s", "p85_dwell_s", "peak_occupancy"]]
        _table(shown.round({"mean_dwell_s": 1, "p85_dwell_s": 1}), "Visits to dwell zones (dwell in seconds)")


def _cell(value: Any) -> str:
    """A table cell: counts with thousands separators, other numbers (seconds) with one decimal, hours to the minute."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return format_count(int(value))
    if isinstance(value, (float, np.floating)):
        return format_quantity(float(value), 1)
    if isinstance(value, (pd.Timestamp, datetime)):
        return f"{value:%Y-%m-%d %H:%M}"
    return escape(str(value))


def _table(df: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for col in df.columns:
        table.add_column(escape(column_label(str(col))), justify="right" if df[col].dtype.kind in "iuf" else "left")
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


@app.command()
def counts(
    camera: Annotated[str, typer.Option("--camera", help="Camera id (one with count lines or dwell zones).")],
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (inclusive).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")] = None,
    by: Annotated[CountBy, typer.Option("--by", help="Per hour, day, clip, or total over the period.")] = CountBy.hour,
    include_low_trust: Annotated[bool, typer.Option("--include-low-trust", help="Keep clips flagged low trust (left out by default).")] = False,
    fmt: Annotated[CountFormat, typer.Option("--format", help="table, csv or json.")] = CountFormat.table,
    visits_csv: Annotated[bool, typer.Option("--visits", help="With --format csv: write the visits instead of the crossings.")] = False,
    db: DbOption = None,
) -> None:
    """Crossings per line, class and direction, and visits per dwell zone, with zeros for counted clips where nothing passed.

    A camera without count lines, dwell zones or counted clips is refused (exit 2) with what to do.
    """
    selection = Selection(start=parse_date(date_from, "--from"), end=parse_date(date_to, "--to"), cameras=(camera,), include_low_trust=include_low_trust)
    key = str(by.value)
    with open_db(db, read_only=True) as store:
        store.camera(camera)
        if camera not in counting_cameras(store):
            raise InputError(f"camera {camera!r} has no count lines or dwell zones and no counted clips; draw them with "
                             f"`urbanlens cameras zones {camera} FILE` and ingest its clips")
        crossings = crossing_counts(store, selection, key).drop(columns=["camera_id"])
        visits = visit_stats(store, selection, key).drop(columns=["camera_id"])
        left_out = 0 if include_low_trust else _low_trust_clips(store, selection)
    if left_out:
        err_console.print(f"{format_counted(left_out, 'counted clip')} flagged low trust (its segmentation; a heuristic, see "
                          "`urbanlens clips`) left out; --include-low-trust counts it too.", markup=False, highlight=False)
    if fmt is CountFormat.json:
        sys.stdout.write(counts_json(crossings, visits) + "\n")
    elif fmt is CountFormat.csv:
        sys.stdout.write(exports.to_csv(visits if visits_csv else crossings, period=(selection.start, selection.end)))
    else:
        _print_tables(crossings, visits, key)


def _low_trust_clips(store: Store, selection: Selection) -> int:
    """Counted clips of ``selection`` that only ``--include-low-trust`` would count."""
    every = crossing_counts(store, selection.with_(include_low_trust=True), "clip")
    kept = crossing_counts(store, selection, "clip")
    return len(set(every["clip"]) - set(kept["clip"])) if "clip" in every.columns else 0


def register(root: typer.Typer) -> None:
    """Add ``counts`` to the ``urbanlens`` app."""
    root.command("counts")(counts)

