"""``urbanlens annotate select|import``: choose frames worth annotating, package them for CVAT, bring corrections back.

``select`` runs a model over candidate frames (a folder of images, or the sampled frames of a
camera's stored clips, decoded again from the files recorded at ingest), picks ``--n`` by ``--strategy``
(:mod:`analytics.evaluation.select`) and writes a CVAT "Segmentation mask 1.1" package with the
model's labels as pre-annotations (:mod:`analytics.evaluation.annotate`). ``import`` stores a
corrected export under ``URBANLENS_HOME/annotations/<id>/`` (:mod:`analytics.evaluation.annotations`);
the same export again is a no-op that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from analytics.cli._common import DbOption, console, db_path, err_console, open_db
from analytics.errors import InputError, quote_value
from analytics.evaluation.annotate import Candidate, camera_candidates, image_candidates, select_and_package
from analytics.evaluation.annotations import IMPORT_FORMATS, import_annotations, list_annotations
from analytics.evaluation.select import STRATEGIES
from analytics.formatting import format_counted
from analytics.models.zoo import resolve
from analytics.settings import load_settings

__all__ = ["annotate_app", "register"]

annotate_app = typer.Typer(help="Choose frames to annotate (CVAT package) and import corrected annotations.",
                           no_args_is_help=True)
_COLUMNS = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


@annotate_app.command("select")
def select_command(
    n: Annotated[int, typer.Option("--n", help="How many frames to choose.")],
    images: Annotated[Path | None, typer.Option("--images", help="Choose among the images of this folder.")] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="Choose among frames of this camera's stored clips.")] = None,
    strategy: Annotated[str, typer.Option("--strategy", help=f"{' | '.join(STRATEGIES)} (default: {STRATEGIES[0]}).")] = STRATEGIES[0],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random and diverse strategies.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="The CVAT package to write (.zip, or a new folder).")] = Path("task.zip"),
    model: Annotated[str | None, typer.Option("--model", help="Installed model (default: espnetv2-s2).")] = None,
    allow_people: Annotated[bool, typer.Option("--allow-people", help="Do not pixelate people and plates in the package.")] = False,
    db: DbOption = None,
) -> None:
    """Choose the frames worth annotating and write them, pre-annotated, as a CVAT task package."""
    if (images is None) == (camera is None):
        raise InputError("give exactly one of --images DIR or --camera ID")
    settings = load_settings()
    candidates = image_candidates(images) if images is not None else _camera_frames(str(camera), db)
    installed = resolve(model or settings.default_model, settings)
    with Progress(*_COLUMNS, console=err_console, transient=True) as bar:
        task = bar.add_task(f"choosing among {len(candidates)} frames", total=len(candidates))

        def told(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        choices = select_and_package(installed, candidates, n, out, strategy=strategy, seed=seed, allow_people=allow_people,
                                     threads=settings.threads, progress=told)
    table = Table(title=f"{len(choices)} frames chosen by {strategy} ({installed.card.name})")
    for col in ("#", "frame", "uncertainty"):
        table.add_column(col, justify="right" if col != "frame" else "left")
    for c in choices:
        table.add_row(str(c.rank), c.name, f"{c.uncertainty:.3f}")
    console.print(table)
    blur = "people kept (--allow-people)" if allow_people else "people and plates pixelated"
    console.print(f"package: {out} ({blur}); open it in CVAT as README.md inside says", highlight=False, markup=False)


def _camera_frames(camera: str, db: Path | None) -> list[Candidate]:
    """The sampled frames of ``camera``'s stored clips whose files are still there; one line on stderr
    per clip left out, and an error when none is left."""
    path = db_path(db)
    if not path.exists():
        raise InputError(f"no database at {str(path)!r}; ingest the camera's clips first (`urbanlens ingest`)")
    with open_db(db) as store:  # the frames are read from the clip files later, with the database closed
        found = camera_candidates(store, camera)
    for line in found.missing:
        err_console.print(f"left out: {line}", markup=False, highlight=False, soft_wrap=True)
    if not found.candidates:
        if not found.missing:
            raise InputError(f"camera {camera!r} has no stored clips; ingest some first (`urbanlens ingest PATH --camera {camera}`)")
        raise InputError(
            f"none of the {len(found.missing)} clips of camera {camera!r} can be read again (see the lines above): "
            "put the files back where they were ingested from, or export frames to a folder and use --images DIR"
        )
    err_console.print(f"{format_counted(len(found.candidates), 'frame')} of {format_counted(found.clips, 'clip')} of camera {camera}",
                      markup=False, highlight=False)
    return found.candidates


@annotate_app.command("import")
def import_command(
    export: Annotated[Path, typer.Argument(help="The annotation export: a CVAT 'Segmentation mask 1.1' zip/folder, or CamVid X/ + Xannot/.")],
    camera: Annotated[str | None, typer.Option("--camera", help="The stored camera these frames come from.")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"{' | '.join(IMPORT_FORMATS)}.")] = "cvat-mask",
) -> None:
    """Store corrected annotations (frames, masks, classes, provenance) for `evaluate` and `models adapt`."""
    settings = load_settings()
    if camera is not None:
        with open_db(None) as store:  # an unknown camera fails here, before anything is written
            store.camera(camera)
    result = import_annotations(export, fmt, camera, settings)
    if not result.new:
        console.print(f"already imported: annotation set {result.id} ({format_counted(result.frames, 'frame')}) in {result.folder}; nothing changed",
                      highlight=False, markup=False)
        return
    console.print(f"imported annotation set {result.id}: {format_counted(result.frames, 'frame')}, classes {', '.join(result.classes)}",
                  highlight=False, markup=False)
    console.print(f"stored in {result.folder}; use it with `urbanlens models adapt BASE --annotations {result.id} --name NEW`",
                  highlight=False, markup=False)


@annotate_app.command("list")
def list_command() -> None:
    """The stored annotation sets."""
    table = Table(title="Annotation sets")
    for col in ("id", "format", "frames", "classes", "camera", "imported"):
        table.add_column(col)
    for m in list_annotations(load_settings()):
        table.add_row(_cell(m.get("id")), _cell(m.get("format")), str(len(m["frames"])), str(len(m["classes"])),
                      _cell(m.get("camera_id") or "-"), _cell(m.get("imported_at", "")))
    console.print(table)


def _cell(value: object) -> str:
    """A manifest value as table text: at most 40 characters, console markup shown as typed."""
    text = str(value)
    return escape(text if len(text) <= 40 and text.isprintable() else quote_value(text, 40))


def register(app: typer.Typer) -> None:
    """Add the ``annotate`` sub-commands to ``app``."""
    app.add_typer(annotate_app, name="annotate")
