"""Queries behind a report: what the numbers of one area and period rest on, and where damage was seen.

An *area* is a district or the whole city, given as the districts of a
:class:`~analytics.selection.Selection` (none: the city) together with its period, inclusive days.
Every function reads the active frames of that selection (the filter of :func:`area_filter`, which is
:func:`analytics.indicators.selection_filter`) and returns plain values or a DataFrame; SQL is fixed
text with bound values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from analytics.errors import InputError
from analytics.indicators import selection_filter
from analytics.selection import Selection
from analytics.store import Store

__all__ = [
    "DAMAGE_ORDER",
    "area_filter",
    "area_models",
    "area_sources",
    "damage_previews",
    "mobile_track",
    "worst_damage_frames",
]

DAMAGE_ORDER = (
    "coalesce(f.damage_px / nullif(f.road_px + f.damage_px, 0), 0) + "
    "coalesce((f.distress_crack_px + f.distress_pothole_px) / nullif(f.road_px, 0), 0) DESC, f.ts"
)
"""Most damaged frame first: ``damage / (road + damage) + (crack + pothole) / road``, then the earliest."""


def area_filter(selection: Selection) -> tuple[str, dict[str, Any]]:
    """SQL condition and parameters on ``frames f``: the frames of ``selection`` (active, inside its period, of its
    districts, and not of a low-trust clip unless it includes them; :func:`analytics.indicators.selection_filter`).

    >>> from datetime import date
    >>> area_filter(Selection(start=date(2026, 11, 2), end=date(2026, 11, 15), districts=["riverside"]))[0]
    'f.active AND f.ts >= $t0 AND f.ts < $t1 AND f.district_id IN (SELECT unnest($dists)) AND f.low_trust IS NOT TRUE'
    """
    where, params = selection_filter(selection)
    return " AND ".join(where), params


def area_sources(store: Store, selection: Selection) -> dict[str, Any]:
    """Counts behind an area's numbers: cameras, clips, frames, hours, synthetic_clips, first_ts, last_ts.

    ``hours`` is the footage the sampled frames stand for: ``Σ clip duration / frames of its run``
    over the frames, in hours.
    """
    where, params = area_filter(selection)
    row = store.query_df(
        "SELECT count(DISTINCT f.camera_id) AS cameras, count(DISTINCT f.clip_sha256) AS clips, count(*) AS frames, "
        "coalesce(sum(c.duration_s / greatest(r.n_frames, 1)), 0) / 3600.0 AS hours, "
        "count(DISTINCT f.clip_sha256) FILTER (WHERE c.source = 'synthetic') AS synthetic_clips, "
        "min(f.ts) AS first_ts, max(f.ts) AS last_ts "
        "FROM frames f JOIN clips c ON c.clip_sha256 = f.clip_sha256 JOIN model_runs r ON r.run_id = f.run_id "
        f"WHERE {where}",
        params,
    ).iloc[0]
    return {str(k): v for k, v in row.to_dict().items()}


def area_models(store: Store, selection: Selection) -> pd.DataFrame:
    """Models and run settings behind an area's frames, most frames first.

    Columns: model_name, weights_sha256, code_version, sampling, smoothing, class_set_json, clips, frames.
    """
    where, params = area_filter(selection)
    return store.query_df(
        "SELECT r.model_name, r.weights_sha256, r.code_version, r.sampling, r.smoothing, r.class_set_json, "
        "count(DISTINCT f.clip_sha256) AS clips, count(*) AS frames "
        "FROM frames f JOIN model_runs r ON r.run_id = f.run_id "
        f"WHERE {where} GROUP BY ALL ORDER BY frames DESC",
        params,
    )


def mobile_track(store: Store, selection: Selection, limit: int = 400) -> pd.DataFrame:
    """Distinct positions (lon, lat) of mobile-camera frames in the area, at most ``limit``."""
    if limit < 1:
        raise InputError(f"track limit {limit} must be at least 1")
    where, params = area_filter(selection)
    return store.query_df(
        "SELECT DISTINCT f.lon, f.lat FROM frames f JOIN cameras c ON c.camera_id = f.camera_id "
        f"WHERE {where} AND c.kind = 'mobile' AND f.lon IS NOT NULL ORDER BY f.lon, f.lat LIMIT $lim",
        {**params, "lim": limit},
    )


def worst_damage_frames(store: Store, selection: Selection, cameras: Sequence[str]) -> pd.DataFrame:
    """The most damaged frame of each of ``cameras`` (by :data:`DAMAGE_ORDER`): camera_id, ts, lon, lat."""
    where, params = area_filter(selection)
    return store.query_df(
        f"SELECT f.camera_id, f.ts, f.lon, f.lat FROM frames f WHERE {where} AND f.camera_id IN (SELECT unnest($shown)) "
        f"QUALIFY row_number() OVER (PARTITION BY f.camera_id ORDER BY {DAMAGE_ORDER}) = 1",
        {**params, "shown": list(cameras)},
    )


def damage_previews(store: Store, selection: Selection, cameras: Sequence[str], per_camera: int) -> pd.DataFrame:
    """Up to ``per_camera`` stored previews per camera, whole frames and the most damaged first.

    Columns: camera_id, ts, lon, lat, mime, image (ordered by camera and time).
    """
    if per_camera < 0:
        raise InputError(f"previews per camera {per_camera} must be 0 or more")
    where, params = area_filter(selection)
    return store.query_df(
        "SELECT f.camera_id, f.ts, f.lon, f.lat, p.mime, p.image FROM previews p JOIN frames f ON f.frame_id = p.frame_id "
        f"WHERE {where} AND f.camera_id IN (SELECT unnest($shown)) AND p.run_id = f.run_id "
        f"QUALIFY row_number() OVER (PARTITION BY f.camera_id ORDER BY (p.kind = 'frame') DESC, {DAMAGE_ORDER}) <= $k "
        "ORDER BY f.camera_id, f.ts",
        {**params, "shown": list(cameras), "k": per_camera},
    )
