"""``urbanlens watch --camera ID --url URL``: follow one camera's live stream and store it chunk by chunk.

Reads RTSP (over TCP), HLS (``http(s)://....m3u8``), HTTP MJPEG/MP4/TS streams and local files or
devices (a file is read once, at its own pace); each chunk (``--chunk-minutes``, default 1) is analysed like an ingested clip and stored as
one clip in one transaction, its start the capture time in the camera's zone. One line is printed per
stored chunk and per fault. Faults reconnect with a backoff of 1 s doubling to ``--backoff-max``
(60 s). SIGTERM or SIGINT (Ctrl-C) stop it: the chunk being recorded is stored as a shorter clip,
waiting chunks are stored, and it exits 0. How it works: docs/watch.md; running it as a service:
docs/live.md.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analytics.cli._common import DbOption, console, open_db
from analytics.cli.ingest import CountOpt, DetectorOpt, KeepPreviewsOpt, ModelOpt, RoadModelOpt, ThreadsOpt, TrackFpsOpt
from analytics.errors import InputError, quote_value
from analytics.footage.stream import parse_source
from analytics.footage.supervise import run_config_command
from analytics.formatting import format_counted
from analytics.settings import load_settings

if TYPE_CHECKING:  # the pipeline is imported when the command runs
    from analytics.footage.watch import Watcher

__all__ = ["register", "spool_folder"]

UrlOpt = Annotated[str | None, typer.Option("--url", help="Stream: rtsp://..., http(s)://.../index.m3u8 (HLS), http(s) MJPEG/MP4/TS, "
                                            "or a local file or device path. Credentials in it are never printed or stored. "
                                            "Default: the environment variable URBANLENS_WATCH_URL (keeps a password off the command line).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="A cameras file (YAML): one worker process per camera, restarted when it "
                                                "fails, health checked every minute (docs/live.md). Not with --camera or --url.")]
CameraOpt = Annotated[str | None, typer.Option("--camera", "-c", help="Camera id the stream comes from (see `urbanlens cameras`).")]
WatchFpsOpt = Annotated[float, typer.Option("--fps", help="Segmented frames per second (lowered evenly when the analysis falls behind).")]
ChunkOpt = Annotated[float, typer.Option("--chunk-minutes", help="Length of each stored clip, in minutes (fractions allowed, at least 1 s).")]
StallOpt = Annotated[float, typer.Option("--stall-seconds", help="No new frame for this long: reconnect. Also the network timeout.")]
KeepChunksOpt = Annotated[Path | None, typer.Option("--keep-chunks", help="Keep the stored chunk files in this folder (default: deleted).")]
BackoffOpt = Annotated[float, typer.Option("--backoff-max", help="Longest wait between reconnects, seconds (1 s doubling up to it).")]


def spool_folder(home: Path, camera_id: str) -> Path:
    """The folder where a camera's chunk files wait: ``<home>/spool/<camera id, made file-safe>``.

    >>> spool_folder(Path("/h"), "cam 12/north").as_posix()
    '/h/spool/cam_12_north'
    """
    return home / "spool" / re.sub(r"[^A-Za-z0-9._-]", "_", camera_id)


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()


def _stop_on_signals(watcher: Watcher) -> None:
    """SIGTERM and SIGINT stop the watch cleanly (the first time; a second SIGINT interrupts at once)."""
    def handler(signum: int, frame: Any) -> None:
        _say(f"{signal.Signals(signum).name}: finishing the current chunk, then stopping")
        watcher.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def watch(
    camera: CameraOpt = None, url: UrlOpt = None, fps: WatchFpsOpt = 1.0, track_fps: TrackFpsOpt = 10.0, chunk_minutes: ChunkOpt = 1.0,
    stall_seconds: StallOpt = 10.0, db: DbOption = None, count: CountOpt = True, road_model: RoadModelOpt = "road-segmentation-adas-0001",
    keep_chunks: KeepChunksOpt = None, model: ModelOpt = None, detector: DetectorOpt = "deimv2-femto", threads: ThreadsOpt = None,
    keep_previews: KeepPreviewsOpt = 1, backoff_max: BackoffOpt = 60.0, config: ConfigOpt = None,
) -> None:
    """Follow a camera's live stream and store it chunk by chunk (through :mod:`analytics.footage.watch`)."""
    # deferred: the pipeline loads ONNX Runtime, PyAV and OpenCV, which other commands do not need
    from analytics.footage.options import AnalysisOptions
    from analytics.footage.watch import Watcher, WatchOptions

    if config is not None:
        if camera or url:
            raise InputError("give either --config FILE (several cameras) or --camera ID with --url URL (one camera), not both")
        raise typer.Exit(run_config_command(config, db))
    url = url or os.environ.get("URBANLENS_WATCH_URL") or None
    if not camera or not url:
        raise InputError("give --camera ID and --url URL (or URBANLENS_WATCH_URL), or --config FILE (see `urbanlens watch --help`)")
    source = parse_source(url)  # a bad scheme or a missing file: refused before anything starts
    settings = load_settings()
    if db is not None:
        settings = settings.with_db(db)
    if not 0 < chunk_minutes <= 60:
        raise InputError(f"--chunk-minutes {quote_value(chunk_minutes, 20)}; expected minutes above 0 and at most 60")
    if str(settings.db_path) != ":memory:" and not settings.db_path.expanduser().exists():
        raise InputError(f"unknown camera {quote_value(camera, 60)}: database {quote_value(str(settings.db_path), 200)} does not exist "
                         "yet (add the camera with `urbanlens cameras add`, or give --db with your database)")
    options = WatchOptions(
        spool=spool_folder(settings.home, camera), chunk_s=round(chunk_minutes * 60.0, 3), stall_s=stall_seconds,
        backoff_cap_s=backoff_max, keep_chunks=keep_chunks.expanduser() if keep_chunks is not None else None,
    )
    analysis = AnalysisOptions.from_flags(
        fps=fps, model=model, count=count, track_fps=track_fps, detector=detector, road_model=road_model, threads=threads,
        keep_previews=keep_previews,
    )
    store = open_db(settings.db_path)
    store.camera(camera)  # an unknown camera: refused before anything starts
    watcher = Watcher(store, camera, source, analysis, settings, options, say=_say)
    _stop_on_signals(watcher)
    _say(f"watching {source.shown} for camera {camera}: chunks of {options.chunk_s:g} s at {fps:g} frames/s; Ctrl-C stops")
    s = watcher.run()
    lags = sorted(s.lags)
    lag = f", lag median {lags[len(lags) // 2]:.1f} s, max {lags[-1]:.1f} s" if lags else ""
    _say(f"stopped: {format_counted(s.stored, 'chunk')} stored ({format_counted(s.frames, 'frame')}), "
         f"{format_counted(s.reconnects, 'reconnect')}, {format_counted(s.dropped_frames, 'frame')} dropped, "
         f"{format_counted(s.overlapping, 'overlapping chunk')} dropped, {s.failed} failed{lag}")


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the ``urbanlens`` app."""
    app.command("watch")(watch)
