"""The ``urbanlens`` command line (typer): one module per command group, registered explicitly.

Errors that UrbanLens raises on purpose print as one line on stderr with exit code 2; no
traceback. To add a command group, write ``analytics/cli/<group>.py`` with a ``register(app)``
function and add it to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from analytics import __version__
from analytics.cli import city, dashboard, evaluate, ingest, models, places, report
from analytics.cli._common import console, err_console
from analytics.errors import UrbanLensError

app = typer.Typer(
    name="urbanlens",
    help="UrbanLens: street-level video to city indicators (segmentation, DuckDB indicators, dashboard, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (city, places, models, ingest, evaluate, report, dashboard)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"urbanlens {__version__}")
        raise typer.Exit()


for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Entry point: run the app, turning UrbanLens errors into one clear line and exit code 2."""
    try:
        app()
    except UrbanLensError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(2)
