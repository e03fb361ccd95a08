"""CLI command ``urbanlens report``: a district or city report as PDF or self-contained HTML.

:mod:`analytics.cli` calls :func:`register` on its typer app. Bad input raises
:class:`~analytics.errors.InputError`, which ``analytics.cli.main`` prints as one line.
The PDF and HTML writers (reportlab, matplotlib, plotly) load only when a report is written.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from analytics import reports
from analytics.cli._common import DbOption, open_db
from analytics.errors import InputError
from analytics.periods import parse_date
from analytics.selection import Selection
from analytics.settings import load_settings

__all__ = ["register", "report", "output_format", "check_out_folder"]

FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html"}


def output_format(path: Path) -> str:
    """``pdf`` or ``html`` from the file name; InputError for anything else.

    >>> output_format(Path("r.PDF")), output_format(Path("out/r.html"))
    ('pdf', 'html')
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"--out {str(path)!r}: the file name must end in .pdf or .html (got {path.suffix or 'no suffix'!r})")
    return fmt


def check_out_folder(path: Path) -> None:
    """Refuse an output file whose folder is missing (or is not a folder): a typo must not create folders silently.

    >>> check_out_folder(Path("report.pdf"))
    >>> check_out_folder(Path("/no/such/folder/r.html"))
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: --out '/no/such/folder/r.html': folder '/no/such/folder' does not exist; create it first or choose another
    """
    folder = path.expanduser().parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--out {str(path)!r}: folder {str(folder)!r} {what}; create it first or choose another")


def report(
    district: Annotated[
        str | None, typer.Option("--district", "-d", help="District name or id (case-insensitive).")
    ] = None,
    city: Annotated[bool, typer.Option("--city", help="Report on the whole city instead of a district.")] = False,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: first day with data).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: last day with data).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .pdf (A4) or .html (self-contained). Its folder must "
                                      "exist: a missing folder is refused, never created.")] = Path(
        "report.pdf"
    ),
    main_indicator: Annotated[
        str, typer.Option("--indicator", help="Indicator for the map and the camera ranking.")
    ] = "green_view",
    db: DbOption = None,
    adjusted: Annotated[
        bool, typer.Option("--adjusted", help="Error-adjust land-cover shares of the summary and the camera table with the "
                           "evaluation that applies to each camera (Olofsson et al. 2014).")
    ] = False,
    include_low_trust: Annotated[
        bool, typer.Option("--include-low-trust", help="Keep clips flagged low trust (a heuristic; see `urbanlens clips`), "
                           "left out by default; the report says how many were left out.")
    ] = False,
    min_frames: Annotated[
        int | None, typer.Option("--min-frames", min=1, help="Fewest sampled frames behind a number; areas or cameras with "
                                 "fewer show 'not enough data' (default: the min_frames setting, 30).")
    ] = None,
) -> None:
    """Write a report for officials on a district or the whole city over a period, as PDF or HTML."""
    if city and district:
        raise InputError("give either --district NAME or --city, not both")
    if not city and not district:
        raise InputError("say which area: --district NAME (or id) or --city")
    fmt = output_format(out)
    if out.exists() and out.is_dir():
        raise InputError(f"--out {str(out)!r} is a folder; give a file name ending in .{fmt}")
    check_out_folder(out)
    t0 = time.perf_counter()
    settings = load_settings()
    with open_db(db, read_only=True) as store:
        selection = Selection(start=parse_date(date_from, "start date"), end=parse_date(date_to, "end date"),
                              include_low_trust=include_low_trust,
                              min_frames=settings.min_frames if min_frames is None else min_frames)
        content = reports.build_report(store, selection, None if city else district, main_indicator=main_indicator,
                                       adjusted=adjusted)
    if fmt == "pdf":
        written = reports.write_pdf(content, out)
    else:
        written = reports.write_html(content, out)
    note = "" if content.has_data else " (no footage in this period: the report says so)"
    typer.echo(f"Wrote {content.title}, {content.period_text}, to {written} in {time.perf_counter() - t0:.1f} s{note}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``urbanlens`` app."""
    app.command("report")(report)
