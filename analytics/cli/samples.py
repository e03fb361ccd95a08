"""CLI commands for public sample footage: ``urbanlens samples list|download``.

:mod:`analytics.cli` calls :func:`register` on its typer app. Errors are raised as
:class:`~analytics.errors.UrbanLensError` subclasses; ``analytics.cli.main`` prints them as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn
from rich.table import Table

from analytics.cli._common import console
from analytics.models.samples import SAMPLES, attribution, download_sample, select_samples
from analytics.settings import load_settings

__all__ = ["register", "samples_app"]

samples_app = typer.Typer(help="Public sample footage to try UrbanLens on (pinned by SHA-256).", no_args_is_help=True)


@samples_app.command("list")
def list_command() -> None:
    """The sample clips: file, size, licence and what they show."""
    table = Table(title="Sample clips (urbanlens samples download)")
    for col in ("file", "size", "licence", "what"):
        table.add_column(col)
    for s in SAMPLES:
        table.add_row(s.file, f"{s.size_bytes / 1e6:.1f} MB", s.licence, escape(s.what))
    Console(width=160).print(table)


@samples_app.command("download")
def download_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Sample file names (default: all; see `urbanlens samples list`).", show_default=False)
    ] = None,
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder for the clips (default: $URBANLENS_HOME/samples).")] = None,
) -> None:
    """Fetch the sample clips (SHA-256 checked; from URBANLENS_SAMPLES_MIRROR when set); prints their paths and attribution."""
    settings = load_settings()
    folder = dest.expanduser() if dest else settings.sample_dir
    chosen = select_samples(names)
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        for sample in chosen:
            task = bar.add_task(f"fetching {sample.file}", total=sample.size_bytes)

            def progress(done: int, total: int | None, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            path = download_sample(sample, folder, settings.samples_mirror, progress)
            bar.remove_task(task)
            console.print(str(path), markup=False, highlight=False, soft_wrap=True)
    console.print("Licences and attribution (keep them with any use of the clips):", markup=False, highlight=False)
    for line in attribution(chosen):
        console.print(f"- {line}", markup=False, highlight=False, soft_wrap=True)


def register(root: typer.Typer) -> None:
    """Add the ``samples`` command group to the ``urbanlens`` app."""
    root.add_typer(samples_app, name="samples")
