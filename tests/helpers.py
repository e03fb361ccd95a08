"""Hand-made measurements whose right answers are known by construction."""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
import pandas as pd

from analytics.records import COUNT_COLUMNS, ClipInfo, ClipMeasurements, CountTables, RunInfo
from analytics.store import Store
from analytics.taxonomy import CITYSCAPES

# Cityscapes ids used below
ROAD, SIDEWALK, BUILDING, VEG, TERRAIN, SKY, PERSON, RIDER, CAR, BICYCLE, BG = 0, 1, 2, 8, 9, 10, 11, 12, 13, 18, 19


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_info(**params: object) -> RunInfo:
    return RunInfo("test-model", sha("weights"), CITYSCAPES, "fps=2", "off", "test", dict(params))


def clip_from_pixels(
    camera_id: str,
    start: datetime,
    pixels: list[dict[int, int]],
    label: str = "",
    run: RunInfo | None = None,
    stationarity: list[float] | None = None,
    people: list[int] | None = None,
    zone_person: list[int] | None = None,
) -> ClipMeasurements:
    """A clip whose frame i has exactly the class pixel counts ``pixels[i]`` (class id -> count)."""
    n = len(pixels)
    cp = np.zeros((n, CITYSCAPES.num_classes), dtype=np.int64)
    for i, d in enumerate(pixels):
        for c, v in d.items():
            cp[i, c] = v
    counts = np.zeros((n, 3), dtype=np.int64)
    if people is not None:
        counts[:, 0] = people
    zp = None
    if zone_person is not None:
        zp = pd.DataFrame({"frame_pos": np.arange(n), "zone": "walk", "role": "sidewalk", "class_id": PERSON, "pixels": zone_person})
    stat = np.array(stationarity if stationarity is not None else [np.nan] * n, dtype=float)
    return ClipMeasurements(
        clip=ClipInfo(sha(f"{camera_id}{start}{label}"), camera_id, start, n / 2.0, 25.0, 100, 100, n * 12, "footage", label),
        run=run or run_info(),
        frame_index=np.arange(n) * 12,
        t_s=np.arange(n) / 2.0,
        class_pixels=cp,
        mean_confidence=np.full(n, 0.9),
        low_conf_share=np.full(n, 0.05),
        flicker=np.r_[np.nan, np.full(n - 1, 0.1)] if n > 1 else np.array([np.nan]),
        vehicle_stationarity=stat,
        object_counts=counts,
        zone_pixels=zp,
    )


def store_with_cameras(path: str, cameras: list[tuple[str, float, float]]) -> Store:
    store = Store(path)
    store.upsert_cameras(pd.DataFrame([{"camera_id": c, "name": c, "lon": lo, "lat": la, "kind": "fixed"} for c, lo, la in cameras]))
    return store


def count_tables(
    crossings: list[tuple[str, float, str, str, int]] = (),  # type: ignore[assignment]
    visits: list[tuple[str, str, int, float, float]] = (),  # type: ignore[assignment]
    tracks: list[tuple[int, str, float, float, float | None]] = (),  # type: ignore[assignment]
) -> CountTables:
    """Counts built by hand: crossings (line, t_s, class, direction, track), visits (zone, class,
    track, enter, exit) and tracks (id, class, first, last, speed km/h or None)."""
    return CountTables(
        detector_name="test-detector", detector_sha256=sha("detector"), track_fps=10.0, n_tracked_frames=100,
        geometry_json='{"zones": []}',
        tracks=pd.DataFrame(
            [{"track_id": i, "class": c, "first_t_s": a, "last_t_s": b, "n_points": int((b - a) * 10) + 1,
              "path_px": 100.0, "path_m": None if v is None else v / 3.6 * (b - a), "speed_kmh": v, "stationary": False}
             for i, c, a, b, v in tracks],
            columns=list(COUNT_COLUMNS["tracks"])),
        crossings=pd.DataFrame([{"line": ln, "t_s": t, "class": c, "direction": d, "track_id": k} for ln, t, c, d, k in crossings],
                               columns=list(COUNT_COLUMNS["crossings"])),
        visits=pd.DataFrame([{"zone": z, "class": c, "track_id": k, "enter_t_s": a, "exit_t_s": b, "dwell_s": b - a, "censored": False}
                             for z, c, k, a, b in visits], columns=list(COUNT_COLUMNS["visits"])),
        calibrated=any(v is not None for *_, v in tracks),
    )
