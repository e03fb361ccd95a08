"""An uploaded clip from arrival to the database: the Analyse page's steps without its widgets.

The page (``dashboard/views/analyse.py``) lays out widgets and calls these, in order::

    upload = receive_upload(file.name, file.getvalue(), settings)       # InputError: too big or empty
    camera = new_camera(name, camera_id, lon, lat, kind)                 # or existing_camera(cameras, camera_id)
    todo = analysis_problems(upload, camera, cameras["camera_id"], model_name)
    result = analyse_upload(upload, data, camera, store, settings, model=model_name, fps=2.0, progress=cb)
    review = review_clip(result, camera, upload.name)                    # what was measured, before saving
    text = save_upload(store, result, camera, upload.path)              # pipeline.save_analysis, then the copy goes
    forget_upload(upload.path)                                           # on discard

Nothing is stored until :func:`save_upload`; the copy of the uploaded file is kept in the settings'
upload folder (one folder per content hash) only while its analysis is reviewed.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.errors import InputError, UrbanLensError
from analytics.footage.pipeline import AnalysisResult, ZonesSpec, analyse_clip, save_analysis
from analytics.footage.refine import check_refine, check_tta
from analytics.footage.temporal import SMOOTHING_METHODS
from analytics.footage.video import VIDEO_SUFFIXES
from analytics.models import zoo
from analytics.records import ClipMeasurements, Preview
from analytics.settings import Settings
from analytics.store import Store, catalog
from analytics.visual.charts import clip_indicator_table, headline_names

__all__ = [
    "ADVANCED_CHOICES", "AdvancedOptions",
    "UPLOAD_FORMATS", "ClipReview", "ModelChoices", "Upload", "analyse_upload", "analysis_problems", "camera_slug",
    "existing_camera", "fetch_progress", "forget_upload", "model_choices", "new_camera", "progress_text", "receive_upload",
    "review_clip", "save_upload",
]

UPLOAD_FORMATS = [s.lstrip(".") for s in VIDEO_SUFFIXES]
"""File types the upload widget accepts (no dot)."""
REVIEW_PREVIEWS = 6
"""Previews kept for the review, spread over the clip."""
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
    """
    if len(data) > settings.max_upload_mb * 1_000_000:
        raise InputError(f"{name} is {len(data) / 1e6:.0f} MB; the limit is {settings.max_upload_mb} MB (URBANLENS_MAX_UPLOAD_MB).")
    if not data:
        raise InputError(f"{name} is empty.")
    digest = hashlib.sha256(data).hexdigest()
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".") or "clip.mp4"
    return Upload(name, settings.upload_dir / digest[:16] / safe_name, digest, len(data) / 1e6)


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


def new_camera(name: str, camera_id: str, lon: float, lat: float, kind: str) -> dict[str, Any]:
    """A camera to create with the clip; its id is made from the name when left empty.

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


def camera_centre(cameras: pd.DataFrame) -> tuple[float, float]:
    """(lat, lon) to start a new camera at: the mean of the stored cameras, else (0, 0)."""
    if cameras.empty:
        return 0.0, 0.0
    return float(cameras["lat"].mean()), float(cameras["lon"].mean())


def analysis_problems(upload: Upload | None, camera: dict[str, Any], known_ids: Iterable[str], model_name: str | None) -> list[str]:
    """What is still missing before a clip can be analysed (empty when it can).

    >>> analysis_problems(None, {"camera_id": "a b", "new": True}, [], None)
    ['upload a clip', "use letters, digits, '-' or '_' in the camera id", 'install a model']
    """
    problems = []
    if upload is None:
        problems.append("upload a clip")
    cid = str(camera.get("camera_id") or "")
    if not cid:
        problems.append("name the camera")
    elif camera.get("new") and not _CAMERA_ID.fullmatch(cid):
        problems.append("use letters, digits, '-' or '_' in the camera id")
    elif camera.get("new") and cid in set(known_ids):
        problems.append(f"camera id '{cid}' exists: pick it as an existing camera or choose another id")
    if not model_name:
        problems.append("install a model")
    return problems


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


@dataclass(frozen=True)
class AdvancedOptions:
    """The Analyse page's "Advanced" panel: smoothing method, refinement, test-time augmentation.

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

    def __post_init__(self) -> None:
        if self.smoothing_method not in SMOOTHING_METHODS:
            raise InputError(f"smoothing method {self.smoothing_method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
        check_refine(self.refine)
        check_tta(self.tta)

    def temporal(self, smooth: bool) -> str:
        """The pipeline's ``temporal`` argument for the smoothing toggle."""
        return self.smoothing_method if smooth else "none"


ADVANCED_CHOICES = {
    "smoothing_method": {"ema": "Plain average (fixed cameras)", "flow": "Along optical flow (moving objects)"},
    "refine": {"none": "None", "crf": "Dense CRF (sharper edges, slower)"},
    "tta": {"none": "None", "flip": "Mirror image (2x model time)", "scales": "Three scales (about 6x)",
            "flip+scales": "Mirror at three scales (about 12x)"},
}
"""The Advanced panel's choices and their labels (values are :class:`AdvancedOptions` fields)."""


def analyse_upload(
    upload: Upload, data: bytes, camera: dict[str, Any], store: Store, settings: Settings, *, model: str, fps: float,
    smooth: bool = False, zones: ZonesSpec = None, start_time: datetime | None = None,
    progress: Callable[[int, int, float, float], None] | None = None, advanced: AdvancedOptions | None = None,
) -> AnalysisResult:
    """Write the upload's copy and analyse it for ``camera`` without saving (``save=False``).

    ``advanced`` holds the page's "Advanced" choices: how smoothing fuses frames (when ``smooth``),
    label refinement and test-time augmentation (all recorded in the run's provenance).

    The camera's stored zones are measured unless ``zones`` are given; on any UrbanLens error the
    copy is removed and the error raised again.
    """
    adv = advanced or AdvancedOptions()
    if not upload.path.exists():
        upload.path.parent.mkdir(parents=True, exist_ok=True)
        upload.path.write_bytes(data)
    try:
        return analyse_clip(
            upload.path, str(camera["camera_id"]), store, settings=settings, model=model, fps=fps, zones=zones,
            temporal=adv.temporal(smooth), refine=adv.refine, tta=adv.tta, start_time=start_time,
            keep_previews=REVIEW_PREVIEWS, progress=progress, save=False, label=upload.name,
        )
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
            "If you save it, it is stored as low trust and left out of indicators unless asked for "
            "(`--include-low-trust`; see `urbanlens clips`)."
        )

    def overlays(self) -> list[tuple[Preview, str]]:
        """Coloured previews with their captions (time into the clip)."""
        m = self.measurements
        out = []
        for p in self.result.overlays[:REVIEW_PREVIEWS]:
            t = float(m.t_s[p.frame_pos]) if p.frame_pos < m.n else float("nan")
            out.append((p, f"t = {t:.1f} s · overlay"))
        return out

    def frames(self) -> list[tuple[Preview, str]]:
        """The same previews without colours, with their captions."""
        return [(p, f"frame {p.frame_pos}") for p in self.result.frames[:REVIEW_PREVIEWS]]


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


def save_upload(store: Store, result: AnalysisResult, camera: dict[str, Any], path: str | Path) -> str:
    """Save a reviewed clip (:func:`~analytics.footage.pipeline.save_analysis`, creating its camera when
    it is new), remove the upload's copy, and say what was stored.

    No source path is recorded for the clip: the copy it was read from is deleted here, so the
    clip's frames cannot be read again (``annotate select --camera`` says so); its label keeps the
    uploaded file's name."""
    saved = save_analysis(store, _without_source_path(result), new_camera=camera if camera.get("new") else None)
    forget_upload(path)
    n = saved.ingest.n_frames if saved.ingest is not None else 0
    verdict = result.trust
    if verdict is not None and verdict.low:
        counts = "It is stored as low trust (a heuristic check) and left out of indicators unless asked for."
    else:
        counts = "Its indicators now count in every page."
    return f"{saved.message} ({n} frames sampled). {counts}"
