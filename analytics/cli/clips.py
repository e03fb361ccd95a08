"""``urbanlens clips [--camera ID] [--format table|json]``: stored clips with their trust verdict.

Each clip's verdict (``ok``, ``low`` or ``not checked`` for clips stored before verdicts existed)
is a heuristic of :mod:`analytics.trust` stored with the clip's active model run; ``low`` clips are
left out of indicators and reports unless ``--include-low-trust`` is given, and ``reasons`` says
why, in words.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from analytics.cli._common import DbOption, console, db_path, open_db
from analytics.errors import InputError
from analytics.formatting import format_count, format_counted
from analytics.store.catalog import list_clips

__all__ = ["clips", "register"]

STYLE = {"ok": "green", "low": "red", "not checked": "yellow"}


class ClipsFormat(StrEnum):
    table = "table"
    json = "json"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: times as ISO text, reasons as lists."""
    out = []
    for r in df.to_dict("records"):
        r["start_time"] = pd.Timestamp(r["start_time"]).isoformat()
        r["reasons"] = list(r["reasons"])
        out.append({str(k): v for k, v in r.items()})
    return out


def clips(
    camera: Annotated[str | None, typer.Option("--camera", "-c", help="Only this camera's clips.")] = None,
    fmt: Annotated[ClipsFormat, typer.Option("--format", help="table or json.")] = ClipsFormat.table,
    db: DbOption = None,
) -> None:
    """List stored clips with their trust verdict (a heuristic: ok, low or not checked) and its reasons."""
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; run `urbanlens demo` or `urbanlens ingest` first")
    with open_db(db) as store:
        if camera is not None:
            store.camera(camera)  # an unknown camera: one clear line
        df = list_clips(store, camera)
    if fmt is ClipsFormat.json:
        sys.stdout.write(json.dumps(_records(df), indent=1) + "\n")
        return
    if df.empty:
        console.print("No clips stored" + (f" for camera {camera}." if camera else "."), markup=False, highlight=False)
        return
    table = Table(title="Clips and trust (a heuristic: can the model read this footage?)")
    for col in ("clip", "camera", "start", "frames", "model", "trust", "reasons"):
        table.add_column(col, overflow="fold")
    for r in _records(df):
        trust = str(r["trust"])
        table.add_row(
            escape(str(r["label"] or str(r["clip_sha256"])[:12])), escape(str(r["camera_id"])), str(r["start_time"])[:16].replace("T", " "),
            format_count(int(r["n_frames"])), escape(str(r["model_name"])), f"[{STYLE.get(trust, 'white')}]{trust}[/]",
            escape("; ".join(r["reasons"])) or ("-" if trust != "not checked" else "stored before trust checks existed; counted as ok"),
        )
    console.print(table)
    counts = df["trust"].value_counts()
    low = int(counts.get("low", 0))
    console.print(
        f"{format_counted(len(df), 'clip')}: {format_count(int(counts.get('ok', 0)))} ok, {format_count(low)} low trust"
        + (f", {format_count(int(counts.get('not checked', 0)))} not checked" if counts.get("not checked", 0) else "")
        + (". Low-trust clips are left out of indicators and reports unless --include-low-trust is given." if low else "."),
        markup=False, highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``clips`` to the ``urbanlens`` app."""
    app.command("clips")(clips)
