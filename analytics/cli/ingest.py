"""``urbanlens ingest PATH... --camera ID``: analyse clips and store their measurements.

PATH can be clip files or folders (searched recursively for video files). Each clip gets a
progress bar; a summary table at the end says which clips were stored, skipped (already
ingested with the same settings) or failed, with the reason. One bad clip does not stop the
batch. Exit code: 0 when every clip was stored or skipped, 1 when any clip failed (the summary
names each one and why), 2 for a usage error (unknown camera, bad option, or a clip stored already
under another camera or start time and nothing else failed), 130 when interrupted. Such a clip is
refused before it is analysed, saying where it is; ``--replace`` moves it to the camera and start
given, replacing its old rows in one transaction. An ingest into a database file that does not exist
is refused (it has no cameras) without creating the file.
A clip longer than ``--max-duration`` minutes (default: ``URBANLENS_MAX_CLIP_MINUTES``, 60) fails
with a message before it is analysed; warnings about a clip (an odd frame shape, a rate above the
clip's own) are in its note.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from analytics.cli._common import DbOption, error_line, open_db, say_wait
from analytics.errors import InputError, quote_value
from analytics.footage.placing import PlacedSink
from analytics.footage.video import VIDEO_SUFFIXES, Sampling, clip_start, probe
from analytics.formatting import format_counted
from analytics.gpstrack import Track, camera_zone, check_track, clip_span_problem, local_to_utc, read_track, utc_to_local
from analytics.periods import parse_timestamp
from analytics.settings import Settings, load_settings

if TYPE_CHECKING:  # the pipeline is imported when the command runs (see ``ingest``)
    from analytics.footage.batch import BatchClip, BatchOutcome, BatchResult, RayPlan
    from analytics.footage.cluster import ClipOutcome, ClipTask
    from analytics.footage.pipeline import AnalysisOptions, ProgressCallback

__all__ = ["collect_clips", "ray_tasks", "register"]


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


PathsArg = Annotated[list[Path] | None, typer.Argument(help="Clip files or folders of clips.", show_default=False)]
CameraOpt = Annotated[str | None, typer.Option("--camera", "-c", help="Camera id the footage comes from (see `urbanlens cameras`).")]
FpsOpt = Annotated[str, typer.Option("--fps", help="Sampled frames per second, or 'every=N', or 'all'.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Installed model name (default espnetv2-s2).")]
SmoothOpt = Annotated[bool, typer.Option("--smooth/--no-smooth", help="Temporal smoothing of class scores (EMA); for fixed cameras.")]
TemporalOpt = Annotated[
    str | None,
    typer.Option("--temporal", help="Temporal fusion of class scores: none | ema (= --smooth) | flow (along optical flow)."),
]
RefineOpt = Annotated[str, typer.Option("--refine", help="Label refinement: none | crf (dense CRF, parameters in the model card).")]
TtaOpt = Annotated[str, typer.Option("--tta", help="Test-time augmentation: none | flip | scales | flip+scales.")]
ZonesOpt = Annotated[Path | None, typer.Option("--zones", help="ZONES.json: named polygons in frame pixels; saved as the camera's zones.")]
StartOpt = Annotated[
    str | None,
    typer.Option(
        "--start",
        help="ISO time of the first frame (2018-04-19T08:00:00); later clips of the batch follow on (in name order). "
        "Default: each clip's creation tag, else its file's modification time (the output says which).",
    ),
]
KeepPreviewsOpt = Annotated[int, typer.Option("--keep-previews", help="Anonymised previews kept per clip (0-20).")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="ONNX Runtime threads (default: URBANLENS_THREADS).")]
MaxFramesOpt = Annotated[int | None, typer.Option("--max-frames", help="Analyse at most this many sampled frames a clip.")]
MaxDurationOpt = Annotated[
    int | None,
    typer.Option("--max-duration", min=1, help="Longest clip analysed, in minutes (default: URBANLENS_MAX_CLIP_MINUTES, 60)."),
]
EngineOpt = Annotated[str, typer.Option("--engine", help="local (this process) | ray (a Ray cluster; see docs/scaling.md).")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join (default: a local one).")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Ray workers, one ONNX session each.")]
OutParquetOpt = Annotated[
    Path | None, typer.Option("--out-parquet", help="Ray: leave the results as Parquet here instead of loading the database.")
]
ManifestOpt = Annotated[Path | None, typer.Option("--manifest", help="Ray: CSV of clips with columns path, camera_id and optional start.")]
TrackOpt = Annotated[
    Path | None,
    typer.Option("--track", help="GPS track of a moving camera (GPX 1.0/1.1, NMEA RMC/GGA, or CSV of time, lat, lon): each sampled "
                 "frame gets its position and heading by time; without --start the clip starts at the track's first point."),
]
TrackFpsOpt = Annotated[float, typer.Option(
    "--track-fps", help="Frames per second detected and tracked where the camera has count lines or dwell zones (the clip's rate when lower).")]
CountOpt = Annotated[bool, typer.Option("--count/--no-count", help="Count (detect and track) where the camera has count lines or dwell zones.")]
DetectorOpt = Annotated[str, typer.Option("--detector", help="Detector for counting: deimv2-femto (default) | yolox-nano.")]
RoadModelOpt = Annotated[
    str, typer.Option("--road-model", help="Road model run beside the segmenter to correct road and sidewalk; 'none': the segmenter alone.")
]
ReplaceOpt = Annotated[bool, typer.Option(
    "--replace", help="A clip stored already under another camera or start time is moved to this one (its old rows replaced); "
    "without it such a clip is refused before analysis, saying where it is.")]


def ingest(
    paths: PathsArg = None, camera: CameraOpt = None, fps: FpsOpt = "2", model: ModelOpt = None, smooth: SmoothOpt = False,
    temporal: TemporalOpt = None, refine: RefineOpt = "none", tta: TtaOpt = "none", zones: ZonesOpt = None, start: StartOpt = None,
    keep_previews: KeepPreviewsOpt = 3, db: DbOption = None, threads: ThreadsOpt = None, max_frames: MaxFramesOpt = None,
    max_duration: MaxDurationOpt = None, engine: EngineOpt = "local", ray_address: RayAddressOpt = None, workers: WorkersOpt = None,
    out_parquet: OutParquetOpt = None, manifest: ManifestOpt = None, track: TrackOpt = None, track_fps: TrackFpsOpt = 10.0,
    count: CountOpt = True, detector: DetectorOpt = "deimv2-femto",
    road_model: RoadModelOpt = "road-segmentation-adas-0001", replace: ReplaceOpt = False,
) -> None:
    """Analyse clips (segmentation → measurements) and store them for a camera (through
    :mod:`analytics.footage.batch`, which runs :func:`analytics.footage.pipeline.analyse_clip` on each)."""
    # deferred: the pipeline loads ONNX Runtime, PyAV and OpenCV, which other commands do not need
    from analytics.footage.batch import BatchClip

    # deferred: as above
    from analytics.footage.pipeline import AnalysisOptions

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
    options = AnalysisOptions.from_flags(
        fps=sampling, smooth=smooth, temporal=temporal, model=model, refine=refine, tta=tta, max_frames=max_frames, threads=threads,
        count=count, track_fps=track_fps, detector=detector, road_model=road_model, replace_stored=replace,
    )
    if engine == "ray":
        return _finish(console, _ingest_on_ray(console, clips, camera, manifest, start_dt, options, settings, out_parquet=out_parquet,
                                               address=ray_address, workers=workers, track=track))
    if manifest is not None or out_parquet is not None or ray_address is not None or workers is not None:
        raise InputError("--manifest, --out-parquet, --ray-address and --workers go with --engine ray")
    if not camera or not paths:
        raise InputError("give clip PATHS and --camera ID (see `urbanlens ingest --help`)")
    _refuse_missing_db(settings.db_path, camera)
    options = options.replace(zones=zones, start_time=start_dt, keep_previews=keep_previews)
    placed = _track_for(console, track, camera, clips, settings)  # GPS track: positions by time; its start if none given
    options = options.replace(start_time=_placed_start(placed, start_dt, clips[0]) if placed is not None else start_dt,
                              timezone=placed.tz if placed is not None else _camera_tz(camera, settings))
    _finish(console, _ingest_here(console, [BatchClip(c, camera) for c in clips], options, settings, placed))


def _placed_start(placed: _Placed, start: datetime | None, clip: Path) -> datetime:
    """The clip's start: ``start`` when given (a track of another time refused, both spans named, before the analysis),
    else the track's first point in the camera's zone."""
    if start is None:
        return placed.start
    problem = clip_span_problem(placed.track, local_to_utc(start, placed.tz), probe(clip).duration_s)
    if problem:
        raise InputError(f"clip {clip.name}: {problem}")
    return start


def _refuse_missing_db(path: Path, camera: str | None) -> None:
    """Refuse an ingest into a database file that does not exist, before opening (and so creating) it:
    a new database holds no cameras, so no clip could be stored in it."""
    if str(path) != ":memory:" and not path.expanduser().exists():
        what = f"unknown camera {quote_value(camera, 60)}" if camera else "the clips' cameras are unknown"
        raise InputError(f"{what}: database {quote_value(str(path), 200)} does not exist yet, so it has no cameras "
                         "(add one with `urbanlens cameras add`, or give --db with your database)")


@dataclasses.dataclass(frozen=True)
class _Placed:
    """A camera's GPS track, the time zone its clips' start times are in, and the track's first point in that zone."""

    camera_id: str
    track: Track
    tz: str
    start: datetime


def _track_for(console: Console, path: Path | None, camera: str, clips: list[Path], settings: Settings) -> _Placed | None:
    """The ``--track`` read and checked (None without one); a mobile camera without a track is said to stay at its point."""
    with open_db(settings.db_path) as store:
        try:
            cam = store.camera(camera)
        except InputError:
            if path is None:
                return None  # the batch names the unknown camera
            raise
    if path is None:
        if cam.get("kind") == "mobile":
            console.print(f"camera {camera} is mobile and no --track was given: its frames sit at the camera's point "
                          f"({cam['lat']:.6f}, {cam['lon']:.6f})", markup=False, highlight=False, soft_wrap=True)
        return None
    if len(clips) != 1:
        raise InputError(f"--track places one clip; {len(clips)} clips were given (ingest each clip with its own --track)")
    tz = camera_zone(cam, settings.timezone)
    tr = check_track(read_track(path), now=datetime.now(UTC).replace(tzinfo=None), what=f"track file {path.name!r}")
    start = utc_to_local(tr.span[0], tz)
    console.print(f"track {path.name}: {tr.n} points, {tr.span[0]:%Y-%m-%d %H:%M:%S}–{tr.span[1]:%H:%M:%S} UTC"
                  + (f", {format_counted(tr.n_bad, 'unreadable sentence')} skipped" if tr.n_bad else ""), markup=False, highlight=False, soft_wrap=True)
    return _Placed(camera, tr, tz, start)


def _camera_tz(camera: str, settings: Settings) -> str:
    """The camera's own time zone, else the city's (an unknown camera: the city's; the batch names it)."""
    with open_db(settings.db_path) as store:
        try:
            return camera_zone(store.camera(camera), settings.timezone)
        except InputError:
            return settings.timezone


def _ingest_here(
    console: Console, clips: list[BatchClip], options: AnalysisOptions, settings: Settings, placed: _Placed | None = None,
) -> BatchResult:
    """The local engine: a progress bar per clip, the start-time note of a clip before its bar."""
    # deferred: as in ``ingest``
    from analytics.footage.batch import run_local

    @contextmanager
    def bar_for(clip: BatchClip) -> Iterator[ProgressCallback]:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(), console=console, transient=False,
        ) as bar:
            task = bar.add_task(escape(clip.path.name[:40]), total=None, rate="")

            def progress(done: int, total: int, rate: float, eta_s: float) -> None:
                bar.update(task, completed=done, total=total, rate=f"{rate:.1f} frames/s")

            yield progress

    def note(clip: BatchClip, text: str) -> None:
        console.print(f"{clip.path.name}: {text}", markup=False, highlight=False, soft_wrap=True)

    if placed is not None and options.start == placed.start:
        note(clips[0], f"start time {placed.start:%Y-%m-%d %H:%M:%S} ({placed.tz}) taken from the track's first point; "
             "pass --start to set it")
    elif options.start is None:  # each clip's creation tag (UTC) or file time, as local time in the camera's zone
        tz = _camera_tz(clips[0].camera_id, settings) if clips else settings.timezone
        guesses = [clip_start(c.path, tz=tz) for c in clips]
        clips = [dataclasses.replace(c, start=g.time) for c, g in zip(clips, guesses)]
        for c, g in zip(clips, guesses):
            note(c, g.note())
    with open_db(settings.db_path) as store:
        sink = PlacedSink(store, placed.camera_id, placed.track, placed.tz) if placed is not None else store
        result = run_local(clips, sink, options, settings, progress=bar_for, on_start_note=note)
    if result.interrupted:
        _summary(console, Table, result)
        raise typer.Exit(130)
    return result


def ray_tasks(clips: list[Path], camera: str | None, manifest: Path | None, start: datetime | None) -> list[ClipTask]:
    """The Ray job's clips: the manifest's rows, or the PATHS for ``--camera``; paths made absolute (workers run elsewhere),
    URLs refused (the pipeline opens clips as files: on a cluster they are mounted at the same path on every node)."""
    # deferred: the cluster engine loads ONNX Runtime, PyAV and OpenCV, which other commands do not need
    from analytics.footage.cluster import ClipTask, read_manifest

    if manifest is not None:
        if clips or camera or start:
            raise InputError("--manifest lists the clips, their cameras and start times; give no PATHS, --camera or --start with it")
        tasks = read_manifest(manifest)
    else:
        if not camera:
            raise InputError("--camera is needed with PATHS (or give --manifest clips.csv with a camera_id per clip)")
        if start is not None and len(clips) > 1:
            raise InputError("--start with --engine ray applies to one clip; give several clips their start times in --manifest")
        tasks = [ClipTask(str(c), camera, start) for c in clips]
    urls = [t.path for t in tasks if "://" in t.path]
    if urls:
        raise InputError(
            f"clip {urls[0]!r} is a URL; the Ray engine reads clips from local or mounted paths every worker sees "
            "(mount the bucket, e.g. with Mountpoint for S3 or gcsfuse; only the manifest itself may be a URL)"
        )
    return [ClipTask(str(Path(t.path).expanduser().resolve()), t.camera_id, t.start) for t in tasks]


def _ingest_on_ray(
    out: Console, clips: list[Path], camera: str | None, manifest: Path | None, start: datetime | None, options: AnalysisOptions,
    settings: Settings, *, out_parquet: Path | None, address: str | None, workers: int | None, track: Path | None = None,
) -> BatchResult:
    """``ingest --engine ray``: the plan and each clip as it finishes, printed. The workers read creation tags in each
    camera's zone (the city's, ``URBANLENS_TIMEZONE``, travels in the options); ``track`` places one clip's frames."""
    # deferred: Ray, ONNX Runtime, PyAV and OpenCV load only when a cluster job runs
    from analytics.footage.batch import run_ray
    from analytics.footage.cluster import require_ray

    require_ray()  # missing Ray: one line saying how to install it, before any work
    if track is not None and (manifest is not None or len(clips) != 1):
        given = "a --manifest was" if manifest is not None else f"{len(clips)} clips were"
        raise InputError(f"--track places one clip; {given} given (ingest each clip with its own --track)")
    tasks = ray_tasks(clips, camera, manifest, start)
    _refuse_missing_db(settings.db_path, camera)
    options = options.replace(timezone=settings.timezone)
    if track is not None:
        placed = _track_for(out, track, tasks[0].camera_id, clips, settings)
        if placed is not None:
            when = _placed_start(placed, start, clips[0])
            if start is None:
                out.print(f"{clips[0].name}: start time {when:%Y-%m-%d %H:%M:%S} ({placed.tz}) taken from the track's first point; "
                          "pass --start to set it", markup=False, highlight=False, soft_wrap=True)
            tasks = [dataclasses.replace(tasks[0], start=when, track=placed.track)]
    else:
        for cam in sorted({t.camera_id for t in tasks}):
            _track_for(out, None, cam, clips, settings)  # a mobile camera without a track: said to stay at its point

    def plan(p: RayPlan) -> None:
        workers = f"{format_counted(p.workers, 'worker')} x {format_counted(p.threads, 'thread')}"
        out.print(f"Ray: {format_counted(p.clips, 'clip')} on {workers} ({p.cpus} CPUs); Parquet in {p.folder}", markup=False, highlight=False)

    def told(o: ClipOutcome) -> None:
        out.print(f"  {Path(o.path).name}: {o.status} ({o.seconds:.1f} s)", markup=False, highlight=False)

    with open_db(settings.db_path) as store:
        return run_ray(tasks, store, options.replace(zones=None), settings, out_parquet=out_parquet, address=address, workers=workers, on_plan=plan,
                       on_outcome=told, on_wait=say_wait)


SHOWN_STATUS = {"stored": "done"}
"""The summary's word for a status (a stored clip is ``done``)."""


def _finish(console: Console, result: BatchResult) -> None:
    """Print the summary; exit 2 when every failed clip was refused as stored elsewhere (``--replace`` moves it),
    else 1 when a clip failed or none was stored or skipped."""
    _summary(console, Table, result)
    failed = [(o.name, o.message) for o in result.failed]
    if failed:
        shown = "; ".join(why if why.startswith(name) else f"{name}: {why}" for name, why in failed[:5])
        shown += f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        error_line(f"{len(failed)} of {format_counted(len(result.outcomes), 'clip')} failed: {shown}")
    if failed and all(o.refused for o in result.failed):
        raise typer.Exit(2)
    if result.ok == 0 or failed:
        raise typer.Exit(1)


def _row(o: BatchOutcome) -> tuple[str, str, str, str]:
    """The summary row of a clip: name, status, sampled frames, note."""
    n = str(o.n_frames) if o.n_frames is not None else "-"
    note = o.message
    if o.frames_per_s is not None:
        note = f"{o.frames_per_s:.1f} frames/s{' on a worker' if o.on_worker else ''}; {o.message}"
    return o.name, SHOWN_STATUS.get(o.status, o.status), n, note


def _summary(console: object, table_cls: type, result: BatchResult) -> None:
    table = table_cls(title="Ingest summary")
    for col in ("clip", "status", "frames", "note"):
        table.add_column(col, overflow="fold")
    style = {"done": "green", "skipped": "yellow", "failed": "red", "cancelled": "red"}
    for clip, status, n, note in map(_row, result.outcomes):
        table.add_row(escape(clip), f"[{style.get(status, 'white')}]{status}[/]", n, escape(note))  # names are not markup
    counts = result.counts
    console.print(table)  # type: ignore[attr-defined]
    failed = [o.name for o in result.failed]
    console.print(  # type: ignore[attr-defined]
        f"{counts['stored']} done, {counts['skipped']} skipped (already ingested), {counts['failed']} failed"
        + (f" ({', '.join(failed)})" if failed else "")
        + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else ""),
        markup=False, highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to the ``urbanlens`` app."""
    app.command("ingest")(ingest)
