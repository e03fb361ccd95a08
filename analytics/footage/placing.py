"""A sink that places each sampled frame of a moving camera's clip by a GPS track before it is stored.

:class:`PlacedSink` wraps any :class:`~analytics.store.sink.ClipSink` (the DuckDB store, a Parquet
folder) and answers every call by passing it on, except :meth:`PlacedSink.ingest`: there the
measurements of the track's camera get each frame's ``lon``, ``lat`` and ``heading`` from the track
(:func:`analytics.gpstrack.place_measurements`) after the analysis and before the save, so the
analysis loop is untouched. The store then assigns each placed frame to the district (and H3 cell)
its own position lies in; frames without a position (outside the track's span or in a gap) are stored
with none (``lon``, ``lat``, ``heading`` and ``district_id`` NULL): they count for their camera, hour and
day, not for any district or H3 cell, and a frame layer skips them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from analytics.gpstrack import Placement, Track, place_measurements
from analytics.records import ClipMeasurements
from analytics.store.ingest import IngestResult
from analytics.store.sink import ClipSink

__all__ = ["PlacedSink"]


class PlacedSink:
    """``sink`` whose clips of ``camera_id`` are placed by ``track`` (clip start times are local time in ``tz``)."""

    def __init__(self, sink: ClipSink, camera_id: str, track: Track, tz: str) -> None:
        self.sink, self.camera_id, self.track, self.tz = sink, camera_id, track, tz
        self.placements: list[Placement] = []
        """One per clip placed, in order (the CLI and the Analyse page say how many frames got a position)."""

    def reading(self) -> AbstractContextManager[Any]:
        return self.sink.reading()

    def camera(self, camera_id: str) -> dict[str, Any]:
        return self.sink.camera(camera_id)

    def zones(self, camera_id: str) -> pd.DataFrame:
        return self.sink.zones(camera_id)

    def stored_clip(self, clip_sha256: str) -> tuple[str, datetime] | None:
        return self.sink.stored_clip(clip_sha256)

    def is_ingested(self, clip_sha256: str, settings_key: str) -> bool:
        return self.sink.is_ingested(clip_sha256, settings_key)

    def calibration(self, camera_id: str) -> np.ndarray | None:
        return self.sink.calibration(camera_id)

    def calibration_frame(self, camera_id: str) -> tuple[int, int] | None:
        return self.sink.calibration_frame(camera_id)

    def open_writer_early(self) -> None:
        self.sink.open_writer_early()

    def drop_early_writer(self) -> None:
        self.sink.drop_early_writer()

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        return self.sink.upsert_cameras(cameras)

    def set_zones(self, camera_id: str, zones: pd.DataFrame, *, synthetic: bool = False) -> int:
        return self.sink.set_zones(camera_id, zones, synthetic=synthetic)

    def place(self, m: ClipMeasurements) -> ClipMeasurements:
        """``m`` placed by the track when it is the track's camera's clip (``m`` itself otherwise)."""
        if m.clip.camera_id != self.camera_id:
            return m
        placed, placement = place_measurements(m, self.track, self.tz)
        self.placements.append(placement)
        return placed

    def ingest(self, measurements: ClipMeasurements | Sequence[ClipMeasurements], *, replace: bool = False) -> list[IngestResult]:
        """Place the track's camera's clips, store them all, and add the placement to each placed clip's message."""
        batch = [measurements] if isinstance(measurements, ClipMeasurements) else list(measurements)
        first = len(self.placements)
        placed = [self.place(m) for m in batch]
        notes = iter(self.placements[first:])
        results = self.sink.ingest(placed, replace=replace)
        return [dataclasses.replace(r, message=f"{r.message}; {next(notes).note()}") if m.clip.camera_id == self.camera_id
                and r.status == "stored" else r for m, r in zip(batch, results)]
