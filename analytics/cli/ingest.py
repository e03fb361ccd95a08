"""``urbanlens ingest PATH... --camera ID``: analyse clips and store their measurements.

PATH can be clip files or folders (searched recursively for video files). Each clip gets a
progress bar; a summary table at the end says which clips were stored, skipped (already
ingested with the same settings) or failed, with the reason. One bad clip does not stop the
batch. Exit code: 0 when every clip was stored or skipped, 1 when any clip failed (the summary
names each one and why), 2 for a usage error (unknown camera, bad option), 130 when interrupted.
A clip longer than ``--max-duration`` minutes (default: ``URBANLENS_MAX_CLIP_MINUTES``, 60) fails
with a message before it is analysed; warnings about a clip (an odd frame shape, a rate above the
clip's own) are in its note.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from analytics.cli._common import DbOption, error_line, open_db
from analytics.cli.cluster import ingest_on_ray
from analytics.errors import InputError
from analytics.footage.video import VIDEO_SUFFIXES, Sampling, clip_start
from analytics.periods import parse_timestamp
from analytics.settings import load_settings

if TYPE_CHECKING:  # the pipeline is imported when the command runs (see ``ingest``)
    from analytics.footage.pipeline import AnalysisResult

__all__ = ["register", "collect_clips"]


def collect_clips(paths: list[Path]) -> list[Path]:
    """Files as given, folders expanded to the video files inside them (sorted, recursive)."""
    out: list[Path] = []
    for p in paths:
        p = p.expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise InputError(f"folder {str(p)!r} holds no video files ({', '.join(VIDEO_SUFFIXES)})")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise InputError(f"{str(p)!r} does not exist")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]


def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Clip files or folders of clips.", show_default=False)] = None,
    camera: Annotated[
        str | None, typer.Option("--camera", "-c", help="Camera id the footage comes from (see `urbanlens cameras`).")
    ] = None,
    fps: Annotated[str, typer.Option("--fps", help="Sampled frames per second, or 'every=N', or 'all'.")] = "2",
    model: Annotated[str | None, typer.Option("--model", "-m", help="Installed model name (default espnetv2-s2).")] = None,
    smooth: Annotated[
        bool, typer.Option("--smooth/--no-smooth", help="Temporal smoothing of class scores (EMA); for fixed cameras.")
    ] = False,
    temporal: Annotated[
        str | None,
        typer.Option("--temporal", help="Temporal fusion of class scores: none | ema (= --smooth) | flow (along optical flow)."),
    ] = None,
    refine: Annotated[str, typer.Option("--refine", help="Label refinement: none | crf (dense CRF, parameters in the model card).")] = "none",
    tta: Annotated[str, typer.Option("--tta", help="Test-time augmentation: none | flip | scales | flip+scales.")] = "none",
    zones: Annotated[
        Path | None, typer.Option("--zones", help="ZONES.json: named polygons in frame pixels; saved as the camera's zones.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="ISO time of the first frame (2018-04-19T08:00:00); later clips of the batch follow on (in name order). "
            "Default: each clip's creation tag, else its file's modification time (the output says which).",
        ),
    ] = None,
    keep_previews: Annotated[int, typer.Option("--keep-previews", help="Anonymised previews kept per clip (0-20).")] = 3,
    db: DbOption = None,
    threads: Annotated[int | None, typer.Option("--threads", help="ONNX Runtime threads (default: URBANLENS_THREADS).")] = None,
    max_frames: Annotated[int | None, typer.Option("--max-frames", help="Analyse at most this many sampled frames a clip.")] = None,
    max_duration: Annotated[
        int | None,
        typer.Option("--max-duration", min=1, help="Longest clip analysed, in minutes (default: URBANLENS_MAX_CLIP_MINUTES, 60)."),
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="local (this process) | ray (a Ray cluster; see docs/scaling.md).")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join (default: a local one).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Ray workers, one ONNX session each.")] = None,
    out_parquet: Annotated[
        Path | None, typer.Option("--out-parquet", help="Ray: leave the results as Parquet here instead of loading the database.")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Ray: CSV of clips with columns path, camera_id and optional start.")
    ] = None,
) -> None:
    """Analyse clips (segmentation → measurements) and store them for a camera (through
    :func:`analytics.footage.pipeline.analyse_clip`, which saves each with ``save_analysis``)."""
    # deferred: the pipeline loads ONNX Runtime, PyAV and OpenCV, which other commands do not need
    from analytics.footage.pipeline import analyse_clip, describe_error

    console = Console()
    settings = load_settings()
    if db is not None:
        settings = settings.with_db(db)
    if max_duration is not None:
        settings = dataclasses.replace(settings, max_clip_minutes=max_duration)
    sampling = Sampling.parse(fps)
    clips = collect_clips(paths or [])
    start_dt = parse_timestamp(start, "--start") if start is not None else None
    if engine not in ("local", "ray"):
        raise InputError(f"--engine {engine!r}; expected local or ray")
    rows: list[tuple[str, str, str, str]] = []
    if engine == "ray":
        rows = ingest_on_ray(
            clips, camera, settings, console, manifest=manifest, start=start_dt, out_parquet=out_parquet, address=ray_address,
            workers=workers, threads=threads, analysis={
                "model": model, "fps": sampling, "smooth": smooth, "temporal": temporal, "refine": refine, "tta": tta,
                "max_frames": max_frames,
            },
        )
        return _finish(console, rows, sum(1 for r in rows if r[1] in ("done", "skipped")))
    if manifest is not None or out_parquet is not None or ray_address is not None or workers is not None:
        raise InputError("--manifest, --out-parquet, --ray-address and --workers go with --engine ray")
    if not camera or not paths:
        raise InputError("give clip PATHS and --camera ID (see `urbanlens ingest --help`)")
    n_ok = 0
    with open_db(settings.db_path) as store:
        store.camera(camera)  # unknown camera: one clear error before any work
        for clip in clips:
            cancel = threading.Event()
            clip_time = start_dt
            if clip_time is None:  # no --start: say where the time comes from, once, before the work
                guess = clip_start(clip)
                clip_time = guess.time
                console.print(f"{clip.name}: {guess.note()}", markup=False, highlight=False, soft_wrap=True)
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(), console=console, transient=False,
            ) as bar:
                task = bar.add_task(escape(clip.name[:40]), total=None, rate="")

                def progress(done: int, total: int, rate: float, eta: float, task: TaskID = task, bar: Progress = bar) -> None:
                    bar.update(task, completed=done, total=total, rate=f"{rate:.1f} frames/s")

                try:
                    result = analyse_clip(
                        clip, camera, store, model=model, fps=sampling, smooth=smooth, temporal=temporal, refine=refine,
                        tta=tta, zones=zones, start_time=clip_time,
                        keep_previews=keep_previews, progress=progress, cancel=cancel, settings=settings, threads=threads,
                        max_frames=max_frames,
                    )
                except KeyboardInterrupt:
                    rows.append((clip.name, "cancelled", "-", "interrupted; nothing stored for this clip"))
                    _summary(console, Table, rows)
                    raise typer.Exit(130) from None
                except Exception as exc:  # UrbanLens errors and any other: one bad clip must not stop the batch
                    rows.append((clip.name, "failed", "-", describe_error(exc)))
                    continue
            n_ok += 1
            rows.append(_row(clip.name, result))
            if start_dt is not None:
                start_dt = start_dt + timedelta(seconds=result.info.duration_s)
    _finish(console, rows, n_ok)


def _finish(console: Console, rows: list[tuple[str, str, str, str]], n_ok: int) -> None:
    """Print the summary; exit 1 when a clip failed or none was stored or skipped."""
    _summary(console, Table, rows)
    failed = [(r[0], r[3]) for r in rows if r[1] == "failed"]
    if failed:
        shown = "; ".join(why if why.startswith(name) else f"{name}: {why}" for name, why in failed[:5])
        shown += f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        error_line(f"{len(failed)} of {len(rows)} clip(s) failed: {shown}")
    if n_ok == 0 or failed:
        raise typer.Exit(1)


def _row(name: str, result: AnalysisResult) -> tuple[str, str, str, str]:
    """The summary row of a clip that was stored or skipped: name, status, sampled frames, note."""
    n = str(result.measurements.n) if result.measurements is not None else "-"
    if result.status == "stored":
        return name, "done", n, f"{result.frames_per_s:.1f} frames/s; {result.message}"
    return name, result.status, n, result.message


def _summary(console: object, table_cls: type, rows: list[tuple[str, str, str, str]]) -> None:
    table = table_cls(title="Ingest summary")
    for col in ("clip", "status", "frames", "note"):
        table.add_column(col, overflow="fold")
    style = {"done": "green", "skipped": "yellow", "failed": "red", "cancelled": "red"}
    for clip, status, n, note in rows:
        table.add_row(escape(clip), f"[{style.get(status, 'white')}]{status}[/]", n, escape(note))  # names are not markup
    counts = {s: sum(1 for r in rows if r[1] == s) for s in ("done", "skipped", "failed", "cancelled")}
    console.print(table)  # type: ignore[attr-defined]
    failed = [r[0] for r in rows if r[1] == "failed"]
    console.print(  # type: ignore[attr-defined]
        f"{counts['done']} done, {counts['skipped']} skipped (already ingested), {counts['failed']} failed"
        + (f" ({', '.join(failed)})" if failed else "")
        + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else ""),
        markup=False, highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the ``urbanlens`` app."""
    app.command("ingest")(ingest)
