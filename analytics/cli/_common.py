"""What every command module shares: the consoles, the ``--db`` option and its default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from analytics.settings import load_settings
from analytics.store import Store, open_store

__all__ = [
    "PIPE_WIDTH",
    "table_width",
    "console",
    "err_console",
    "DbOption",
    "error_line",
    "db_path",
    "say_wait",
    "open_db",
]

PIPE_WIDTH = 250
"""Columns of a table written to a pipe or file (no terminal to fit, $COLUMNS unset): wide enough that
camera ids, clip names and paths stay whole on their line for ``grep``, ``cut`` and spreadsheets."""


def table_width(stream: object) -> int | None:
    """Columns to print in: $COLUMNS when set (read at each print, not when the console was made), else None
    for a terminal (rich measures it), else :data:`PIPE_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return None
    return PIPE_WIDTH


class _PipeWideConsole(Console):
    """A rich console as wide as :func:`table_width` says, decided at each print (the stream and $COLUMNS
    may change after the console is made, as under a test runner)."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = Console.size.fget(self)  # type: ignore[attr-defined]
        width = table_width(self.file)
        return dims if width is None else ConsoleDimensions(width, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = _PipeWideConsole()
err_console = _PipeWideConsole(stderr=True)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="DuckDB file (default: $URBANLENS_DB or $URBANLENS_HOME/urbanlens.duckdb).")
]


def error_line(message: str) -> None:
    """``error: <message>`` on stderr as ONE line: newlines folded, no console markup read from the message."""
    text = " ".join(part.strip() for part in message.splitlines() if part.strip()) or "failed"
    err_console.print(f"[bold red]error:[/bold red] {escape(text)}", highlight=False, soft_wrap=True, markup=True)


def db_path(db: Path | None) -> Path:
    """The database file a command works on: ``--db`` when given, else the settings' default."""
    return db.expanduser() if db else load_settings().db_path


def say_wait(message: str) -> None:
    """Tell the person at the terminal that the command waits for a busy database (on stderr)."""
    err_console.print(message, highlight=False, markup=False)


def open_db(db: Path | None, read_only: bool = False) -> Store:
    """The command's database (``--db`` or the settings' default); an open that finds the file busy
    waits up to ``settings.lock_timeout_s`` with a message on stderr, then fails with one line."""
    settings = load_settings()
    return open_store(db_path(db), read_only, lock_timeout_s=settings.lock_timeout_s, on_wait=say_wait)
