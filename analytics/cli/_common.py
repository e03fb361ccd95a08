"""What every command module shares: the consoles, the ``--db`` option and its default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from analytics.settings import load_settings

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="DuckDB file (default: $URBANLENS_DB or $URBANLENS_HOME/urbanlens.duckdb).")
]


def db_path(db: Path | None) -> Path:
    """The database file a command works on: ``--db`` when given, else the settings' default."""
    return db.expanduser() if db else load_settings().db_path
