"""``urbanlens import-parquet DIR``: load a cluster job's Parquet folder into the database.

``ingest --engine ray`` (an option of ``ingest``, run by :func:`analytics.footage.batch.run_ray`)
analyses clips on a pool of Ray workers (:mod:`analytics.footage.cluster`) into a Parquet folder
(``--out-parquet``, or ``$URBANLENS_HOME/cluster-parquet`` when results go to the database), and
without ``--out-parquet`` loads each clip into the DuckDB store in a transaction of its own.
``import-parquet`` loads a folder written earlier, or by another cluster job, the same way.

Every file's footer, columns and metadata are checked before anything is stored: a file that is
not a clip file refuses the whole import (exit 2). Then each clip's values are checked as it is
read; a refused clip stores nothing and the others go on. Exit codes: 0 when every clip was stored
or skipped; 1 when some were and some were refused (one error line names each refused file, as
``ingest`` does for failed clips); 2 when every clip was refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from analytics.cli._common import DbOption, console, error_line, open_db
from analytics.errors import InputError
from analytics.formatting import format_counted
from analytics.store.parquet import import_clips

__all__ = ["register"]


def import_parquet(
    folder: Annotated[Path, typer.Argument(help="Folder written by `ingest --engine ray --out-parquet` (day=/camera_id=/clip-*.parquet).")],
    db: DbOption = None,
) -> None:
    """Load a cluster job's Parquet folder into the database, one transaction per clip (clips already
    stored with the same settings are skipped: importing a folder twice stores nothing new)."""
    refused: list[tuple[Path, str]] = []
    with open_db(db) as store:
        results = import_clips(store, folder, on_refused=lambda p, why: refused.append((p, why)))
    stored = [r for r in results if r.status == "stored"]
    low = sum(1 for r in stored if r.trust == "low")
    console.print(
        f"Imported {format_counted(len(stored), 'clip')}, {format_counted(sum(r.n_frames for r in stored), 'sampled frame')}, from {escape(str(folder))}; "
        f"{len(results) - len(stored)} already stored" + (f"; {format_counted(low, 'low-trust clip')} left out of indicators" if low else ""),
        highlight=False,
    )
    if refused:
        shown = "; ".join(why for _, why in refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        line = f"{len(refused)} of {format_counted(len(refused) + len(results), 'clip file')} refused, nothing of them stored: {shown}"
        if not results:
            raise InputError(line)
        error_line(line)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``import-parquet`` to the ``urbanlens`` app (``ingest --engine ray`` is an option of ``ingest``)."""
    app.command("import-parquet")(import_parquet)
