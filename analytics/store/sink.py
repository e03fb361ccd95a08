"""Where an analysed clip goes: the :class:`ClipSink` protocol, exactly what the pipeline calls.

:func:`analytics.footage.pipeline.analyse_clip` and :func:`~analytics.footage.pipeline.save_analysis`
take any object with these methods: the DuckDB :class:`~analytics.store.database.Store` and the
cluster's :class:`~analytics.store.parquet.ParquetSink` both are one. In the order the pipeline
calls them: ``reading()`` (one short read unit for the next ones), ``camera()`` (unknown camera:
:class:`~analytics.errors.InputError`), ``zones()``, ``calibration()`` (where the clip is counted), ``stored_clip()`` (a clip stored under another
camera or start time is refused before analysis), ``is_ingested()``, ``open_writer_early()``
while the last frames are segmented, then on saving ``upsert_cameras()`` (a new camera),
``set_zones()`` (zones given with the clip) and ``ingest()`` (one transaction; ``replace`` moves a clip
stored elsewhere), and
``drop_early_writer()`` at the end whatever happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from analytics.records import ClipMeasurements
from analytics.store.ingest import IngestResult

__all__ = ["ClipSink"]


@runtime_checkable
class ClipSink(Protocol):
    """A place an analysed clip is stored (see the module docstring for the order of the calls)."""

    def reading(self) -> AbstractContextManager[Any]:
        """One unit of reads (the camera, its zones, the already-stored check)."""

    def camera(self, camera_id: str) -> dict[str, Any]:
        """The camera's row; :class:`~analytics.errors.InputError` naming the known cameras if absent."""

    def zones(self, camera_id: str) -> pd.DataFrame:
        """The camera's zones (columns zone, role, polygon_json), perhaps none."""

    def calibration(self, camera_id: str) -> np.ndarray | None:
        """The camera's ground calibration: a 3x3 homography from image pixels to ground metres, None when not calibrated."""

    def calibration_frame(self, camera_id: str) -> tuple[int, int] | None:
        """(width, height) of the frame the camera's ground calibration was drawn on, None when not calibrated."""

    def stored_clip(self, clip_sha256: str) -> tuple[str, datetime] | None:
        """(camera id, start time) the clip is stored under, None when it is not stored (or the sink cannot say cheaply)."""

    def is_ingested(self, clip_sha256: str, settings_key: str) -> bool:
        """Whether the clip is stored already with these settings (it is then skipped)."""

    def open_writer_early(self) -> None:
        """Get ready for a write that comes soon (best effort; may do nothing)."""

    def drop_early_writer(self) -> None:
        """Let go of what :meth:`open_writer_early` took, if no write did."""

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        """Add or replace cameras (a clip's new camera)."""

    def set_zones(self, camera_id: str, zones: pd.DataFrame, *, synthetic: bool = False) -> int:
        """Replace a camera's zones (zones given with a clip)."""

    def ingest(self, measurements: ClipMeasurements | Sequence[ClipMeasurements], *, replace: bool = False) -> list[IngestResult]:
        """Store clips' measurements, each whole or not at all; already stored ones are ``skipped``; one stored under
        another camera or start time is refused (:class:`~analytics.store.ingest.StoredElsewhere`), or moved with ``replace``."""
