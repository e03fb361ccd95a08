"""An uploaded clip from arrival to the database: the Analyse page's steps without its widgets
(the map picker is :mod:`analytics.visual.picker`).

The page (``dashboard/views/analyse.py``) lays out widgets and calls these, in order::

    upload = receive_upload(file.name, file.getvalue(), settings)       # InputError: not a video, too big or empty
    start = start_default(file.getvalue(), datetime.now())               # the creation tag, else the upload time
    camera = new_camera(name, camera_id, lon, lat, kind)                 # or existing_camera(cameras, camera_id)
    fig = picker_figure(cameras, districts, (lat, lon), span)           # a click on it gives picked_position(...)
    todo = analysis_problems(upload, camera, cameras["camera_id"], model_name)
    options = AdvancedOptions("flow").analysis_options(model=model_name, fps=2.0, smooth=False)
    result = analyse_upload(upload, data, camera, store, settings, options, progress=cb)
    review = review_clip(result, camera, upload.name)                    # what was measured, before saving
    text = save_upload(store, result, camera, upload.path, start_time)  # pipeline.save_analysis, then the copy goes
    forget_upload(upload.path)                                           # on discard

Nothing is stored until :func:`save_upload`; the copy of the uploaded file is kept in the settings'
upload folder (one folder per content hash) only while its analysis is reviewed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError, UrbanLensError
from analytics.footage.pipeline import AnalysisOptions, AnalysisResult, ZonesSpec, analyse_clip, save_analysis
from analytics.footage.refine import check_refine, check_tta
from analytics.footage.temporal import SMOOTHING_METHODS
from analytics.footage.video import VIDEO_SUFFIXES, ClipStart, upload_start
from analytics.formatting import format_counted
from analytics.gpstrack import camera_zone, check_track, place_measurements, read_track
from analytics.models import zoo
from analytics.models.roadcard import DEFAULT_ROAD_MODEL, NO_ROAD_MODEL
from analytics.records import ClipMeasurements, CountTables, Preview
from analytics.settings import Settings
from analytics.store import Store, catalog
from analytics.visual.charts import class_share_figure, clip_indicator_table, headline_names
from analytics.visual.picker import MAP_SPANS, finer_span, fitting_span, picked_position, picker_figure, position_problem

__all__ = [
    "ADVANCED_CHOICES", "MAP_SPANS", "AdvancedOptions",
    "UPLOAD_FORMATS", "ClipReview", "ModelChoices", "Upload", "analyse_upload", "analysis_problems", "camera_slug", "counts_table",
    "existing_camera", "save_message", "fetch_progress", "finer_span", "fitting_span", "forget_upload", "model_choices", "new_camera",
    "picked_position", "picker_figure", "position_problem", "progress_text", "receive_upload", "review_clip", "save_upload", "start_caption",
    "start_default", "stop_message", "placed_on_track", "elsewhere_message",
]

UPLOAD_FORMATS = [s.lstrip(".") for s in VIDEO_SUFFIXES]
"""File types the upload widget accepts (no dot)."""
REVIEW_PREVIEWS = 20
"""Previews kept for the review (the scrubber's frames), spread over the clip."""
SAVED_PREVIEWS = 6
"""Of those, previews stored with the clip, spread over it (at the pipeline's stored preview width)."""
REVIEW_WIDTH = 1280
"""Widest review frame (pixels, JPEG): the large frame of the review is sharp at full page width. Kept in the
session only; the previews stored with a saved clip stay small (:data:`analytics.footage.privacy.PREVIEW_WIDTH`)."""
REVIEW_INDICATORS = 14
"""Indicators in the review table (headline indicators first)."""
_CAMERA_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Upload:
    """An uploaded clip: its file name, where its copy is kept while analysed, its SHA-256 and size."""

    name: str
    path: Path
    sha256: str
    size_mb: float

    @property
    def caption(self) -> str:
        return f"{self.name} · {self.size_mb:.1f} MB · SHA-256 {self.sha256[:12]}…"


def receive_upload(name: str, data: bytes, settings: Settings) -> Upload:
    """Check an uploaded clip's size and say where its copy goes: ``upload_dir / <hash[:16]> / <safe name>``
    (the file keeps its name for messages; it is written by :func:`analyse_upload`).

    >>> from analytics.settings import Settings
    >>> s = Settings(home=Path("/h"), db_path=Path("/h/db"), max_upload_mb=1)
    >>> receive_upload("../my clip.mp4", b"abc", s).path.as_posix()
    '/h/uploads/ba7816bf8f01cfea/my_clip.mp4'
    >>> receive_upload("big.mp4", bytes(2_000_000), s)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: big.mp4 is 2 MB; the limit is 1 MB (URBANLENS_MAX_UPLOAD_MB).
    >>> receive_upload("notes.txt", b"abc", s)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: notes.txt is not a video file UrbanLens reads; upload one of: mp4, mov, ...
    """
    if Path(name).suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{Path(name).name} is not a video file UrbanLens reads; upload one of: {', '.join(UPLOAD_FORMATS)}.")
    if len(data) > settings.max_upload_mb * 1_000_000:
        raise InputError(f"{name} is {len(data) / 1e6:.0f} MB; the limit is {settings.max_upload_mb} MB (URBANLENS_MAX_UPLOAD_MB).")
    if not data:
        raise InputError(f"{name} is empty.")
    digest = hashlib.sha256(data).hexdigest()
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".") or "clip.mp4"
    return Upload(name, settings.upload_dir / digest[:16] / safe_name, digest, len(data) / 1e6)


def start_default(data: bytes, received: datetime, tz: str = "UTC") -> ClipStart:
    """The start time the page proposes for an uploaded clip: its creation tag (UTC, as local time in ``tz``), else ``received``."""
    return upload_start(data, received, tz)


def start_caption(start: ClipStart) -> str:
    """What the page says under the start-time inputs.

    >>> start_caption(ClipStart(datetime(2018, 4, 19, 8, 0), "tag"))
    "Proposed: 2018-04-19 08:00, taken from the file's creation tag. Check it: every indicator is dated from it."
    """
    return f"Proposed: {start.text}, taken from {start.origin}. Check it: every indicator is dated from it."


def forget_upload(path: str | Path) -> None:
    """Remove an uploaded clip's copy (and its folder) once it is saved or discarded."""
    clip = Path(path)
    clip.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        clip.parent.rmdir()


# -- the camera -----------------------------------------------------------------------------------


def camera_slug(text: str) -> str:
    """A camera id made from a name: lower-case letters and digits joined by '-' (at most 40).

    >>> camera_slug("Market Street (north)"), camera_slug("!!")
    ('market-street-north', 'camera')
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "camera"


def new_camera(name: str, camera_id: str, lon: float | None, lat: float | None, kind: str) -> dict[str, Any]:
    """A camera to create with the clip; its id is made from the name when left empty. Its position
    has no default: ``lon``/``lat`` stay None until typed or picked on the map.

    >>> new_camera("Market Street", "", 4.9, 52.4, "fixed")["camera_id"]
    'market-street'
    """
    cid = camera_id.strip() or (camera_slug(name) if name.strip() else "")
    return {"camera_id": cid, "name": name.strip() or cid, "lon": lon, "lat": lat, "heading": None, "kind": kind,
            "district_id": None, "new": True}


def existing_camera(cameras: pd.DataFrame, camera_id: str) -> dict[str, Any]:
    """A stored camera (a row of the cameras table) as the dict the other steps take."""
    rows = cameras[cameras["camera_id"] == camera_id]
    if rows.empty:
        raise InputError(f"unknown camera {camera_id!r}; pick one of the stored cameras or create a new one")
    return {**{str(k): v for k, v in rows.iloc[0].to_dict().items()}, "new": False}


def analysis_problems(
    upload: Upload | None, camera: dict[str, Any] | None, known_ids: Iterable[str], model_name: str | None
) -> list[str]:
    """What is still missing before a clip can be analysed (empty when it can); ``camera`` None: none picked.

    >>> analysis_problems(None, {"camera_id": "a b", "new": True, "lat": 1.0, "lon": 2.0}, [], None)
    ['upload a clip', "use letters, digits, '-' or '_' in the camera id", 'install a model']
    >>> analysis_problems(None, None, [], "m")
    ['upload a clip', 'pick a camera or create one']
    """
    problems = []
    if upload is None:
        problems.append("upload a clip")
    cid = str((camera or {}).get("camera_id") or "")
    if camera is None:
        problems.append("pick a camera or create one")
    elif not cid:
        problems.append("name the camera")
    elif camera.get("new") and not _CAMERA_ID.fullmatch(cid):
        problems.append("use letters, digits, '-' or '_' in the camera id")
    elif camera.get("new") and cid in set(known_ids):
        problems.append(f"camera id '{cid}' exists: pick it as an existing camera or choose another id")
    if camera is not None and camera.get("new"):
        where = position_problem(camera.get("lat"), camera.get("lon"))
        if where:
            problems.append(where)
    if not model_name:
        problems.append("install a model")
    return problems


# -- where a new camera stands: a map to click, with no tiles ----------------------------------------

# -- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelChoices:
    """The installed models to pick from, their labels, the default's position, or why none could be listed."""

    installed: list[str]
    labels: dict[str, str]
    index: int
    problem: str | None = None


def model_choices(settings: Settings) -> ModelChoices:
    """Installed models labelled ``name · W×H · licence``, the settings' default model first picked."""
    try:
        listing = zoo.list_models(settings)
    except (ImportError, UrbanLensError) as exc:
        return ModelChoices([], {}, 0, f"Models cannot be listed: {exc}")
    installed = [m.name for m in listing if m.installed]
    labels = {m.name: f"{m.name} · {m.input_size[0]}×{m.input_size[1]} · {m.license}" for m in listing}
    index = installed.index(settings.default_model) if settings.default_model in installed else 0
    return ModelChoices(installed, labels, index)


def fetch_progress(done: int, total: int | None) -> tuple[float, str]:
    """(bar fraction, text) while weights download; the last 20% of the bar is the build.

    >>> fetch_progress(5_000_000, 10_000_000)
    (0.4, 'Fetching weights… 5.0 MB of 10.0 MB')
    """
    frac = min(1.0, done / total) if total else 0.0
    return frac * 0.8, f"Fetching weights… {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else "")


# -- analysis, review, save -----------------------------------------------------------------------


def progress_text(done: int, total: int, rate: float, eta_s: float) -> tuple[float, str]:
    """(bar fraction, text) while a clip is analysed.

    >>> progress_text(3, 6, 2.0, 1.5)
    (0.5, 'Analysed 3 of 6 sampled frames (2.0 frames/s, about 2 s left)')
    """
    eta = f", about {eta_s:.0f} s left" if not math.isnan(eta_s) and eta_s > 0 else ""
    return min(1.0, done / max(total, 1)), f"Analysed {done} of {total} sampled frames ({rate:.1f} frames/s{eta})"


def stop_message(was_running: bool, cancelled: bool) -> str | None:
    """What the page says when an analysis stopped before its end (None when none was running).

    >>> stop_message(True, True), stop_message(False, True)
    ('Analysis cancelled; nothing was stored.', None)
    """
    if not was_running:
        return None
    if cancelled:
        return "Analysis cancelled; nothing was stored."
    return "The analysis stopped when the page changed; nothing was stored. Press Analyse to run it again."


@dataclass(frozen=True)
class AdvancedOptions:
    """The Analyse page's "Advanced" panel: smoothing method, refinement, test-time augmentation;
    :meth:`analysis_options` builds the clip's :class:`~analytics.footage.pipeline.AnalysisOptions` with them.

    >>> AdvancedOptions("flow").temporal(True), AdvancedOptions("flow").temporal(False)
    ('flow', 'none')
    >>> AdvancedOptions(refine="blur")
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: refine 'blur'; expected one of none, crf
    """

    smoothing_method: str = "ema"
    """How smoothing fuses sampled frames when it is on: ``ema`` or ``flow``."""
    refine: str = "none"
    tta: str = "none"
    road_model: bool = True
    """Run the road model beside the segmenter (the default analysis); False: the segmenter alone."""

    def __post_init__(self) -> None:
        if self.smoothing_method not in SMOOTHING_METHODS:
            raise InputError(f"smoothing method {self.smoothing_method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
        check_refine(self.refine)
        check_tta(self.tta)

    def temporal(self, smooth: bool) -> str:
        """The temporal fusion for the smoothing toggle."""
        return self.smoothing_method if smooth else "none"

    def analysis_options(
        self, *, model: str, fps: float, smooth: bool = False, zones: ZonesSpec = None, start_time: datetime | None = None,
        count: bool = True,
    ) -> AnalysisOptions:
        """The page's analysis of an upload: these choices, the model, sampled frames a second, the
        smoothing toggle, zones and start time, with :data:`REVIEW_PREVIEWS` previews up to
        :data:`REVIEW_WIDTH` pixels wide for the review. ``count``: detect, track and count where the
        camera or the zones have count lines or dwell zones (the page's "Count" switch).

        >>> AdvancedOptions("flow").analysis_options(model="m", fps=2.0, smooth=True).smoothing
        'flow=0.4,sigma=2'
        """
        return AnalysisOptions.from_flags(
            fps=fps, temporal=self.temporal(smooth), model=model, refine=self.refine, tta=self.tta, zones=zones, start_time=start_time,
            keep_previews=REVIEW_PREVIEWS, review_width=REVIEW_WIDTH, count=count,
            road_model=DEFAULT_ROAD_MODEL if self.road_model else NO_ROAD_MODEL,
        )


ADVANCED_CHOICES = {
    "smoothing_method": {"ema": "Plain average (fixed cameras)", "flow": "Along optical flow (moving objects)"},
    "refine": {"none": "None", "crf": "Dense CRF (sharper edges, slower)"},
    "tta": {"none": "None", "flip": "Mirror image (2x model time)", "scales": "Three scales (about 6x)",
            "flip+scales": "Mirror at three scales (about 12x)"},
}
"""The Advanced panel's choices and their labels (values are :class:`AdvancedOptions` fields)."""


def analyse_upload(
    upload: Upload, data: bytes, camera: dict[str, Any], store: Store, settings: Settings, options: AnalysisOptions, *,
    progress: Callable[[int, int, float, float], None] | None = None,
) -> AnalysisResult:
    """Write the upload's copy and analyse it for ``camera`` without saving (``save=False``), under
    ``options`` (:meth:`AdvancedOptions.analysis_options`) labelled with the upload's name.

    The camera's stored zones are measured unless the options give zones; on any UrbanLens error the
    copy is removed and the error raised again.
    """
    if not upload.path.exists():
        upload.path.parent.mkdir(parents=True, exist_ok=True)
        upload.path.write_bytes(data)
    try:
        return analyse_clip(upload.path, str(camera["camera_id"]), store, options.replace(label=upload.name), settings,
                            progress=progress, save=False)
    except UrbanLensError:
        forget_upload(upload.path)
        raise


@dataclass
class ClipReview:
    """What the review of an analysed clip shows: the result, its camera and file, indicators and class shares."""

    result: AnalysisResult
    measurements: ClipMeasurements
    camera: dict[str, Any]
    file: str
    indicators: pd.DataFrame
    """The clip's long indicator table (``min_frames=1``)."""
    shares: pd.DataFrame
    """Per-frame class shares (columns t, group, share, n_frames)."""

    @property
    def caption(self) -> str:
        info, m = self.result.info, self.measurements
        return (
            f"{info.width}×{info.height}, {info.duration_s:.1f} s at {info.fps:.1f} fps · {m.n} frames sampled ({m.run.sampling}, "
            f"smoothing {m.run.smoothing}{_refinement_caption(m.run.params)}) · model {m.run.model_name} · camera {self.camera['name']} · "
            f"start {m.clip.start_time:%Y-%m-%d %H:%M:%S}"
        )

    @property
    def table(self) -> pd.DataFrame:
        """The headline indicators the clip measured (at most :data:`REVIEW_INDICATORS`), in picker order."""
        order = headline_names()
        long = self.indicators
        long = long[(long["n_frames"] > 0) & long["indicator"].isin(order[:REVIEW_INDICATORS])]
        long = long.assign(_o=long["indicator"].map(order.index)).sort_values("_o").drop(columns="_o")
        return clip_indicator_table(long)

    @property
    def trust_warning(self) -> str:
        """What the page warns before saving a low-trust clip ("" when the clip is ``ok``)."""
        verdict = self.result.trust
        if verdict is None or not verdict.low:
            return ""
        return (
            "The model may not be able to read this clip (a heuristic check): " + "; ".join(verdict.reasons) + ". "
            "If you save it, it is stored as low trust and left out of the numbers on every page until "
            "\"Include low-trust clips\" is switched on in the sidebar."
        )

    @property
    def line_counts(self) -> pd.DataFrame | None:
        """The clip's line counts (columns line, class, direction, count), None when the clip was not counted
        (:func:`counts_table`)."""
        return counts_table(self.measurements.counts)

    @property
    def counts_caption(self) -> str:
        """How the clip was counted ("" when it was not)."""
        c = self.measurements.counts
        if c is None:
            return ""
        return (f"Counted with {c.detector_name} at {c.track_fps:g} frames/s ({c.n_tracked_frames} frames tracked): "
                f"{format_counted(len(c.tracks), 'track')}, {format_counted(len(c.visits), 'zone visit')}. Detection and "
                "tracking are checked against hand counts of two sample clips only (docs/counting.md).")

    def overlays(self) -> list[tuple[Preview, str]]:
        """Coloured previews with their captions (time into the clip)."""
        return [(p, f"t = {self.time_of(p.frame_pos):.1f} s · overlay") for p in self.result.overlays[:REVIEW_PREVIEWS]]

    def frames(self) -> list[tuple[Preview, str]]:
        """The same previews without colours, with their captions."""
        return [(p, f"frame {p.frame_pos}") for p in self.result.frames[:REVIEW_PREVIEWS]]

    def time_of(self, frame_pos: int) -> float:
        """Seconds into the clip of sampled frame ``frame_pos`` (NaN when out of range)."""
        m = self.measurements
        return float(m.t_s[frame_pos]) if 0 <= frame_pos < m.n else float("nan")

    def scrub_positions(self) -> list[int]:
        """Sampled-frame positions the scrubber steps through: those with a coloured preview, in time order."""
        return sorted({p.frame_pos for p in self.result.overlays[:REVIEW_PREVIEWS]})

    def scrub_label(self, frame_pos: int) -> str:
        """The scrubber's label of a frame: ``4.5 s``."""
        return f"{self.time_of(frame_pos):.1f} s"

    def preview(self, frame_pos: int, kind: str = "overlay") -> Preview | None:
        """The preview of one sampled frame (``overlay`` or ``frame``), None when it has none: the large review
        preview where the analysis kept one (:data:`REVIEW_WIDTH`), else the stored-size one."""
        for previews in (self.result.review_previews, self.result.previews):
            found = next((p for p in previews if p.frame_pos == frame_pos and p.kind == kind), None)
            if found is not None:
                return found
        return None

    def timeline(self, frame_pos: int | None = None) -> go.Figure:
        """Class shares over the clip, with a line at the frame the scrubber shows."""
        fig = class_share_figure(self.shares, self.file, time_title="seconds into the clip")
        if frame_pos is not None and not math.isnan(t := self.time_of(frame_pos)):
            fig.add_vline(x=t, line={"color": "#1f2933", "width": 2, "dash": "dot"},
                          annotation={"text": f"shown: {t:.1f} s", "font": {"size": 12}}, annotation_position="top")
        return fig


def counts_table(counts: CountTables | None) -> pd.DataFrame | None:
    """Crossings per line, class and direction (columns line, class, direction, count), None when not counted.

    Every count line of the clip's geometry appears: a line nothing crossed has rows ``all``, ``in``
    and ``out`` with count 0 (a real zero, not a missing row).

    >>> from analytics.records import COUNT_COLUMNS
    >>> empty = {k: pd.DataFrame(columns=list(v)) for k, v in COUNT_COLUMNS.items()}
    >>> geo = '{"size": [10, 10], "zones": [{"name": "mid", "line": [[0, 5], [10, 5]]}]}'
    >>> counts_table(CountTables("d", "0", 10.0, 3, geo, **empty)).values.tolist()
    [['mid', 'all', 'in', 0], ['mid', 'all', 'out', 0]]
    """
    if counts is None:
        return None
    x = counts.crossings
    table = (x.groupby(["line", "class", "direction"]).size().rename("count").reset_index() if len(x)
             else pd.DataFrame(columns=["line", "class", "direction", "count"]))
    try:
        names = [str(o["name"]) for o in json.loads(counts.geometry_json)["zones"] if "line" in o]
    except (ValueError, TypeError, KeyError, AttributeError):
        names = []
    quiet = [n for n in names if n not in set(table["line"])]
    zeros = pd.DataFrame([{"line": n, "class": "all", "direction": d, "count": 0} for n in quiet for d in ("in", "out")],
                         columns=table.columns)
    out = pd.concat([table, zeros], ignore_index=True) if len(zeros) else table
    return out.astype({"count": "int64"}).reset_index(drop=True)


def _refinement_caption(params: dict[str, Any]) -> str:
    """``, refine crf, tta flip`` for the options that were on (empty when none).

    >>> _refinement_caption({"refine": "crf", "tta": "flip"}), _refinement_caption({})
    (', refine crf, tta flip', '')
    """
    return "".join(f", {k} {params[k]}" for k in ("refine", "tta") if k in params)


def review_clip(result: AnalysisResult, camera: dict[str, Any], file: str) -> ClipReview:
    """Indicators and class shares of an analysed clip, exactly as the database will hold them once saved."""
    if result.measurements is None:
        raise InputError(f"{file} has no measurements to review (status {result.status!r})")
    long, shares = catalog.clip_indicators(result.measurements, camera)
    return ClipReview(result, result.measurements, camera, file, long, shares)


def _without_source_path(result: AnalysisResult) -> AnalysisResult:
    """``result`` with its clip's ``source_path`` left empty (the upload's copy does not outlive the save)."""
    m = result.measurements
    if m is None or m.clip.source_path is None:
        return result
    return replace(result, measurements=replace(m, clip=replace(m.clip, source_path=None)))


def _saved_previews(result: AnalysisResult, keep: int = SAVED_PREVIEWS) -> AnalysisResult:
    """``result`` with the previews of at most ``keep`` frames, spread over the clip (the review shows more)."""
    m = result.measurements
    if m is None:
        return result
    frames = sorted({p.frame_pos for p in m.previews})
    if len(frames) <= keep:
        return result
    chosen = {frames[i] for i in np.round(np.linspace(0, len(frames) - 1, keep)).astype(int)}
    return replace(result, measurements=replace(m, previews=[p for p in m.previews if p.frame_pos in chosen]))


def _with_start(result: AnalysisResult, start_time: datetime | None) -> AnalysisResult:
    """``result`` with its clip's start time set (None: as analysed)."""
    m = result.measurements
    if m is None or start_time is None:
        return result
    return replace(result, measurements=replace(m, clip=replace(m.clip, start_time=start_time.replace(microsecond=0))))


def placed_on_track(result: AnalysisResult, track: bytes | None, tz: str) -> tuple[AnalysisResult, str]:
    """``result`` with each sampled frame placed by the GPS ``track`` file's bytes (GPX, NMEA or CSV; clip start in ``tz``),
    and a sentence saying how many frames got a position; ``result`` and ``""`` without a track."""
    m = result.measurements
    if track is None or m is None:
        return result, ""
    checked = check_track(read_track(track), now=datetime.now(UTC).replace(tzinfo=None))
    placed, placement = place_measurements(m, checked, tz)
    return replace(result, measurements=placed), placement.note()[:1].upper() + placement.note()[1:] + "."


def save_upload(
    store: Store, result: AnalysisResult, camera: dict[str, Any], path: str | Path, start_time: datetime | None = None,
    track: bytes | None = None, tz: str = "UTC", replace: bool = False,
) -> str:
    """Save a reviewed clip (:func:`~analytics.footage.pipeline.save_analysis`, creating its camera when
    it is new), remove the upload's copy, and say what was stored.

    ``start_time``: the confirmed time of the clip's first frame (None: the one it was analysed with).
    At most :data:`SAVED_PREVIEWS` previews are stored. No source path is recorded for the clip: the
    copy it was read from is deleted here, so the clip's frames cannot be read again (``annotate
    select --camera`` says so); its label keeps the uploaded file's name. A clip stored already under another
    camera or start time is refused (:class:`~analytics.store.ingest.StoredElsewhere`, saying where it is)
    unless ``replace``: it then moves, its old rows replaced in the same transaction."""
    if camera.get("new") and (where := position_problem(camera.get("lat"), camera.get("lon"))):
        raise InputError(f"camera {camera.get('camera_id')!r}: {where}")
    ready = _saved_previews(_with_start(_without_source_path(result), start_time))
    ready, placed = placed_on_track(ready, track, camera_zone(camera, tz))  # a GPS track given beside the clip
    saved = save_analysis(store, ready, new_camera=camera if camera.get("new") else None, replace=replace)
    forget_upload(path)
    m = ready.measurements
    n = saved.ingest.n_frames if saved.ingest is not None and saved.ingest.n_frames else (m.n if m is not None else 0)
    text = save_message(saved.status, n, m.clip.start_time if m is not None else None, result.trust)
    return text + (f" {placed}" if placed else "")


def save_message(status: str, n_frames: int, start: datetime | None, verdict: Any) -> str:
    """What saving a clip did, in plain sentences: stored or already there, its frames and start, and for a
    clip flagged low trust (a heuristic) why and what the pages do with it.

    >>> save_message("stored", 61, datetime(2026, 5, 4, 8, 30), None)
    'Stored 61 sampled frames starting 2026-05-04 08:30:00. Its numbers now count on every page.'
    >>> from types import SimpleNamespace
    >>> v = SimpleNamespace(low=True, reasons=("labels change between frames in 75% of pixels",))
    >>> import textwrap
    >>> print(textwrap.fill(save_message("stored", 61, datetime(2026, 5, 4, 8, 30), v), 100))
    Stored 61 sampled frames starting 2026-05-04 08:30:00. The model may not read this footage well (a
    heuristic: labels change between frames in 75% of pixels), so these 61 frames are left out of the
    numbers on every page until "Include low-trust clips" is switched on in the sidebar.
    """
    when = f" starting {start:%Y-%m-%d %H:%M:%S}" if start is not None else ""
    head = (f"Stored {format_counted(n_frames, 'sampled frame')}{when}." if status == "stored"
            else f"Already stored with the same model and settings ({format_counted(n_frames, 'sampled frame')}{when}); nothing changed.")
    if verdict is None or not verdict.low:
        return head + (" Its numbers now count on every page." if status == "stored" else "")
    why = "; ".join(verdict.reasons) or "low trust"
    return (f"{head} The model may not read this footage well (a heuristic: {why}), so these {format_counted(n_frames, 'frame')} "
            "are left out of the numbers on every page until \"Include low-trust clips\" is switched on in the sidebar.")


def elsewhere_message(file: str, camera_id: str, start: datetime) -> str:
    """What the page says of a clip stored already under another camera or start time (``StoredElsewhere``), naming its
    button rather than the command line's flag.

    >>> print(elsewhere_message("bikes.mp4", "market-street", datetime(2026, 5, 4, 8, 30)))  # doctest: +NORMALIZE_WHITESPACE
    bikes.mp4 is stored already under market-street, starting 2026-05-04 08:30. "Replace it" moves it to this camera
    and start time (its old numbers are replaced); "Discard" leaves it where it is.
    """
    when = f"{start:%Y-%m-%d %H:%M}" + (f":{start:%S}" if start.second else "")
    return (f"{file} is stored already under {camera_id}, starting {when}. \"Replace it\" moves it to this camera and start "
            "time (its old numbers are replaced); \"Discard\" leaves it where it is.")
