"""How one clip is analysed: one frozen, validated, picklable :class:`AnalysisOptions`.

The CLI (``urbanlens ingest``), the Analyse page and the Ray workers each build one (the CLI and
the page from their flags with :meth:`AnalysisOptions.from_flags`) and hand it unchanged to
:func:`analytics.footage.pipeline.analyse_clip`; a Ray job ships the object itself to its workers.
Options that change the numbers are recorded in the run's provenance (:attr:`AnalysisOptions.smoothing`
and the run parameters).

>>> AnalysisOptions(temporal="ema").smoothing, AnalysisOptions(temporal="flow", alpha=0.5).smoothing_alpha
('ema=0.6', 0.5)
>>> AnalysisOptions.from_flags(fps="every=5", smooth=True).temporal
'ema'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from analytics.cards import ModelCard
from analytics.errors import InputError
from analytics.footage.privacy import PREVIEW_WIDTH
from analytics.footage.refine import check_refine, check_tta
from analytics.footage.temporal import DEFAULT_ALPHA, FLOW_ALPHA, SMOOTHING_METHODS, smoothing_label
from analytics.footage.video import Sampling
from analytics.gpstrack import zone
from analytics.models.zoo import ModelSpec, ResolvedModel
from analytics.periods import parse_timestamp

__all__ = [
    "MAX_PREVIEWS", "MAX_REVIEW_WIDTH", "TEMPORAL_CHOICES", "AnalysisOptions", "ModelSpec", "ZonesSpec", "default_alpha",
    "temporal_method",
]

MAX_PREVIEWS = 20
MAX_REVIEW_WIDTH = 1920
"""The widest review preview (pixels); review previews are never stored."""
TEMPORAL_CHOICES = ("none", *SMOOTHING_METHODS)
"""``--temporal`` values: no fusion, the plain average of logits, or the average along optical flow."""

ZonesSpec: TypeAlias = "str | Path | bytes | pd.DataFrame | None"
"""A ZONES.json path, its bytes, or a DataFrame with columns zone, role, polygon_json."""


def default_alpha(method: str) -> float | None:
    """The weight of the newest frame for temporal ``method`` when none is given; None when off.

    >>> default_alpha("none"), default_alpha("ema"), default_alpha("flow")
    (None, 0.6, 0.4)
    """
    if method == "none":
        return None
    return FLOW_ALPHA if method == "flow" else DEFAULT_ALPHA


def temporal_method(temporal: str | None, smooth: bool) -> str:
    """The temporal fusion asked for by the flags: ``temporal`` by name, else ``ema`` when ``smooth``.

    >>> temporal_method(None, True), temporal_method("flow", False), temporal_method(None, False)
    ('ema', 'flow', 'none')
    """
    if temporal is None:
        return "ema" if smooth else "none"
    if temporal not in TEMPORAL_CHOICES:
        raise InputError(f"temporal {temporal!r}; expected one of {', '.join(TEMPORAL_CHOICES)}")
    if smooth and temporal == "none":
        raise InputError("smoothing was asked for with temporal 'none'; use temporal 'ema' or 'flow'")
    return temporal


def _parse_start(start: datetime | str | None) -> datetime | None:
    """A start time as a naive datetime (a time zone is dropped); None or blank text: None."""
    if isinstance(start, datetime):
        return start.replace(tzinfo=None) if start.tzinfo else start
    if isinstance(start, str):
        if not start.strip():
            return None
        return parse_timestamp(start, "start time")
    if start is not None:
        raise InputError(f"start time must be an ISO string or a datetime, got {type(start).__name__}")
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_model(model: object) -> None:
    if model is None or isinstance(model, str | ResolvedModel):
        return
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], ModelCard) and isinstance(model[1], str | Path):
        return
    raise InputError(f"model must be a name, an installed model or a (card, onnx_path) pair, got {type(model).__name__}")


@dataclass(frozen=True)
class AnalysisOptions:
    """How one clip is analysed; validated when made (an :class:`~analytics.errors.InputError`
    names the bad value). Options that change the numbers are recorded in the run's provenance.

    >>> AnalysisOptions(Sampling.parse(2), temporal="ema", alpha=0.6).smoothing
    'ema=0.6'
    >>> AnalysisOptions(keep_previews=99)
    Traceback (most recent call last):
    ...
    analytics.errors.InputError: keep_previews=99; expected a whole number from 0 to 20
    """

    sampling: Sampling = field(default_factory=lambda: Sampling("fps", 2.0))
    """Which frames are analysed (``Sampling.parse("2")``, ``"every=5"``, ``"all"``)."""
    model: ModelSpec | None = None
    """A model name (installed, or a built-in one installed on first use), an installed model, or a
    ``(card, onnx_path)`` pair; None: the settings' default model."""
    temporal: str = "none"
    """Temporal fusion of the logits across sampled frames: ``none``, ``ema`` (plain average; lags
    moving objects, for fixed cameras) or ``flow`` (along optical flow), :mod:`analytics.footage.temporal`."""
    alpha: float | None = None
    """Weight of the newest frame's logits in the fusion; None: the method's default
    (:data:`~analytics.footage.temporal.DEFAULT_ALPHA` for ``ema``, :data:`~analytics.footage.temporal.FLOW_ALPHA` for ``flow``)."""
    refine: str = "none"
    """Label refinement: ``none`` or ``crf`` (dense CRF, parameters from the model card)."""
    tta: str = "none"
    """Test-time augmentation: ``none``, ``flip``, ``scales`` or ``flip+scales`` (:mod:`analytics.footage.refine`)."""
    zones: ZonesSpec = None
    """Zones to measure, saved as the camera's zones with the clip; None: the camera's stored zones."""
    start_time: datetime | str | None = None
    """Time of the first frame (ISO text is parsed; a time zone is dropped); None: from the clip."""
    keep_previews: int = 3
    """Anonymised previews kept (0 to 20), spread over the clip."""
    raw_previews: bool = False
    """Keep previews without blurring people (only when asked for)."""
    review_width: int = 0
    """Also keep larger JPEG previews of the same frames, at most this many pixels wide, for an on-screen review
    (``AnalysisResult.review_previews``; never stored); 0: none. The stored previews do not change."""
    threads: int | None = None
    """ONNX Runtime intra-op threads; None: ``settings.threads``."""
    max_frames: int | None = None
    """Analyse at most this many sampled frames."""
    label: str | None = None
    """The clip's label in the store; None: the file name."""
    count: bool = True
    """Detect, track and count where the camera (or the zones given with the clip) has count lines or
    dwell zones (:mod:`analytics.footage.counting`); False: never (``--no-count``)."""
    track_fps: float = 10.0
    """Frames per second detected and tracked when counting (the clip's own rate when lower); segmentation keeps ``sampling``."""
    detector: str = "deimv2-femto"
    """The detector used for counting (a built-in one is installed on first use)."""
    road_model: str = "road-segmentation-adas-0001"
    """The road model run beside the segmenter to correct road and sidewalk (:mod:`analytics.footage.roads`);
    ``"none"``: the segmenter alone. Recorded in the run's provenance."""
    replace_stored: bool = False
    """A clip stored already under another camera or start time is moved to this camera and start (its old rows
    replaced in the same transaction); False: it is refused before analysis, saying where it is (``--replace``)."""
    timezone: str | None = None
    """IANA zone of the clip's start time (the camera's own, else the city's): a creation tag (UTC) is read in it and
    frames' local times follow a daylight-saving change inside the clip (docs/time.md); None: the settings' zone."""

    def __post_init__(self) -> None:
        if not isinstance(self.sampling, Sampling):
            raise InputError(f"sampling={self.sampling!r}; expected a Sampling (Sampling.parse('2'), 'every=5' or 'all')")
        _check_model(self.model)
        self._check_temporal()
        check_refine(self.refine)
        check_tta(self.tta)
        if not isinstance(self.road_model, str) or not self.road_model:
            raise InputError(f"road_model={self.road_model!r}; expected a road model name or 'none'")
        if not isinstance(self.zones, str | Path | bytes | pd.DataFrame | None):
            raise InputError(f"zones must be a ZONES.json path, its bytes or a DataFrame, got {type(self.zones).__name__}")
        object.__setattr__(self, "start_time", _parse_start(self.start_time))
        if not _is_count(self.keep_previews) or not 0 <= self.keep_previews <= MAX_PREVIEWS:
            raise InputError(f"keep_previews={self.keep_previews!r}; expected a whole number from 0 to {MAX_PREVIEWS}")
        if not _is_count(self.review_width) or not (self.review_width == 0 or PREVIEW_WIDTH <= self.review_width <= MAX_REVIEW_WIDTH):
            raise InputError(f"review_width={self.review_width!r}; expected 0 (none) or a width from {PREVIEW_WIDTH} to "
                             f"{MAX_REVIEW_WIDTH} pixels")
        self._check_counting()
        if self.timezone is not None:
            zone(self.timezone)  # an unknown name: one line naming it
        if not isinstance(self.replace_stored, bool):
            raise InputError(f"replace_stored={self.replace_stored!r:.40}; expected True or False")
        for name in ("threads", "max_frames"):
            value = getattr(self, name)
            if value is not None and (not _is_count(value) or value < 1):
                raise InputError(f"{name}={value!r}; expected a whole number of at least 1 (or None)")

    def _check_counting(self) -> None:
        if not isinstance(self.count, bool):
            raise InputError(f"count={self.count!r}; expected True or False")
        v = self.track_fps
        if isinstance(v, bool) or not isinstance(v, int | float) or not (0.1 <= v <= 60.0):
            raise InputError(f"track_fps={v!r:.40}; expected a number of frames per second from 0.1 to 60")
        if not isinstance(self.detector, str) or not self.detector.strip():
            raise InputError(f"detector={self.detector!r:.40}; expected a detector name such as deimv2-femto or yolox-nano")

    def _check_temporal(self) -> None:
        if self.temporal not in TEMPORAL_CHOICES:
            raise InputError(f"temporal {self.temporal!r}; expected one of {', '.join(TEMPORAL_CHOICES)}")
        if self.alpha is None:
            return
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, int | float) or not 0.0 < self.alpha <= 1.0:
            raise InputError(f"smoothing alpha {self.alpha!r}; expected a number in (0, 1]")
        if self.temporal == "none":
            raise InputError(f"alpha={self.alpha!r} with temporal 'none'; give temporal 'ema' or 'flow', or no alpha")

    @classmethod
    def from_flags(cls, *, fps: float | str | Sampling = 2.0, smooth: bool = False, temporal: str | None = None,
                   **fields: Any) -> AnalysisOptions:
        """Options from a face's flags: ``fps`` as ``--fps`` takes it (``2``, ``"every=5"``, ``"all"``),
        the ``--smooth`` toggle and ``--temporal`` name (:func:`temporal_method`), other fields as they are.

        >>> AnalysisOptions.from_flags(fps="0.5", temporal="flow").smoothing
        'flow=0.4,sigma=2'
        >>> AnalysisOptions.from_flags(smooth=True, temporal="none")
        Traceback (most recent call last):
        ...
        analytics.errors.InputError: smoothing was asked for with temporal 'none'; use temporal 'ema' or 'flow'
        """
        return cls(sampling=Sampling.parse(fps), temporal=temporal_method(temporal, smooth), **fields)

    def replace(self, **changes: Any) -> AnalysisOptions:
        """A copy with ``changes``, validated again."""
        return dataclasses.replace(self, **changes)

    @property
    def start(self) -> datetime | None:
        """The given start time, parsed (None: taken from the clip when it is analysed)."""
        return self.start_time if isinstance(self.start_time, datetime) else None

    @property
    def smoothing_alpha(self) -> float | None:
        """The weight of the newest frame in the fusion (``alpha`` or the method's default); None when off."""
        return None if self.temporal == "none" else (self.alpha if self.alpha is not None else default_alpha(self.temporal))

    @property
    def smoothing_method(self) -> str:
        """The fusion method the segmenter runs (``ema`` when off: it is then unused)."""
        return "ema" if self.temporal == "none" else self.temporal

    @property
    def smoothing(self) -> str:
        """Provenance text of the smoothing (``off``, ``ema=<alpha>`` or ``flow=<alpha>,sigma=<px>``)."""
        return smoothing_label(self.smoothing_alpha, self.smoothing_method)
