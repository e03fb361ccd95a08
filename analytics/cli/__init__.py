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
from analytics.cli import annotate, city, clips, cluster, counts, dashboard, evaluate, export, health, ingest, models, places, report, samples, watch
from analytics.cli._common import console, error_line
from analytics.cli._help import PlainHelpGroup
from analytics.errors import UrbanLensError

__all__ = ["COMMAND_MODULES", "app", "main"]

app = typer.Typer(
    cls=PlainHelpGroup,
    name="urbanlens",
    help="UrbanLens: street-level video to city indicators (segmentation, DuckDB indicators, dashboard, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (city, places, models, samples, ingest, cluster, clips, evaluate, annotate, report, dashboard, counts, export, health, watch)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"urbanlens {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)
    ] = False,
) -> None:
    """UrbanLens: street-level video to city indicators."""


for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Entry point: run the app; an error says what is wrong in one line on stderr, never a traceback.

    Exit codes: 0 done; 1 a command that ran but did not fully succeed (``ingest`` with a failed
    clip); 2 bad input (an :class:`~analytics.errors.UrbanLensError`, a file that cannot be read or
    written, a usage error); 3 an unexpected error (a bug: the line says so); 130 interrupted.
    """
    try:
        app()
    except UrbanLensError as exc:
        error_line(str(exc))
        sys.exit(2)
    except OSError as exc:  # a file that cannot be read or written, named by the system's message
        error_line(f"{exc.strerror or type(exc).__name__}: {exc.filename!r}" if exc.filename else str(exc) or type(exc).__name__)
        sys.exit(2)
    except KeyboardInterrupt:
        error_line("interrupted")
        sys.exit(130)
    except Exception as exc:  # anything else is a bug: still one line, with what to report
        error_line(f"unexpected {type(exc).__name__}: {exc} (this is a bug in UrbanLens {__version__}; please report it "
                    "with the command that caused it)")
        sys.exit(3)

