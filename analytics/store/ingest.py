"""Ingest: the measurements of a batch of clips written in one transaction (all or nothing).

:func:`ingest_batch` runs inside :meth:`analytics.store.Store.ingest`'s transaction:

1. :func:`_lookup` reads what the database already holds for the batch (runs, clips, cameras,
   districts when a camera is mobile, the next run and frame ids);
2. :func:`_add_clip` turns each clip into rows (clip, run, frames, class pixels, objects,
   zone pixels, previews), skipping a clip already stored with the same run settings and
   superseding the older runs of a clip stored with other settings; a clip stored under another
   camera or start time is refused (:class:`StoredElsewhere`, one line saying where it is), or,
   with ``replace``, has all its old rows deleted (:data:`CLIP_TABLES`) and is stored again;
3. :func:`_write` deletes the rows of replaced clips, marks superseded runs inactive (a clip read
   again from a file records that file's path), then bulk-inserts the rows, table by table,
   from DataFrames (never row by row).

Everything happens in the caller's one transaction: a replace that fails changes nothing.

Per-frame group pixels: ``groups = class_pixels @ M`` with ``M[c, g] = 1`` when class ``c`` feeds
group ``g``; ``valid_px = sum(groups) - void_px``.

The demo city and real data never share a database (:func:`refuse_mixing`): a batch of real clips
is refused by a database that holds the demo city, a batch of demo clips by one that holds real
data, before anything is written.

Each new run gets its trust verdict (:func:`analytics.trust.assess_measurements`, a heuristic):
``model_runs.trust`` (``ok``/``low``) and ``trust_reasons`` (a JSON list of sentences), copied to
its frames as ``low_trust`` so indicator queries leave them out without a join.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import __version__
from analytics.errors import InputError
from analytics.formatting import format_counted
from analytics.geo import DistrictIndex
from analytics.gpstrack import local_times
from analytics.records import COUNT_COLUMNS, OBJECT_GROUPS, ClipMeasurements, CountTables
from analytics.store.places import stored_district_index
from analytics.store.schema import GROUP_COLUMNS
from analytics.taxonomy import GROUPS
from analytics.trust import TrustVerdict, assess_measurements

__all__ = [
    "CLIP_TABLES", "DEMO_SOURCE", "IngestResult", "StoredElsewhere", "clip_location", "database_holds", "ingest_batch", "insert_table",
    "refuse_mixing", "stored_elsewhere",
]

DEMO_SOURCE = "synthetic"
"""The ``source`` of the demo city's clips, cameras and districts: what marks a database as the demo's."""


@dataclass(frozen=True)
class IngestResult:
    """What happened to one clip: ``stored`` or ``skipped`` (already there), with a message."""

    clip_sha256: str
    label: str
    status: str
    run_id: int | None
    n_frames: int
    message: str
    trust: str | None = None
    """``ok`` or ``low`` for a stored clip (None when skipped)."""
    trust_reasons: tuple[str, ...] = ()


_COUNT_TABLES: tuple[str, ...] = ("count_runs", "tracks", "crossings", "zone_visits")


class StoredElsewhere(InputError):
    """A clip is stored already under another camera or start time (:func:`stored_elsewhere`); replacing moves it."""

    def __init__(self, message: str, camera_id: str, start_time: datetime) -> None:
        super().__init__(message)
        self.camera_id, self.start_time = camera_id, start_time


def _when(t: datetime) -> str:
    """A start time in a message: to the minute, with seconds where they are not zero.

    >>> _when(datetime(2026, 5, 4, 8, 30)), _when(datetime(2026, 5, 4, 8, 30, 15))
    ('2026-05-04 08:30', '2026-05-04 08:30:15')
    """
    return f"{t:%Y-%m-%d %H:%M}" + (f":{t:%S}" if t.second or t.microsecond else "")


def stored_elsewhere(
    label: str, stored: tuple[str, datetime], wanted: tuple[str, datetime],
) -> StoredElsewhere | None:
    """The refusal of a clip (``label``) stored at ``stored`` = (camera id, start time) and given for ``wanted``;
    None when both are the same place (same camera, same start to the microsecond).

    >>> str(stored_elsewhere("bikes.mp4", ("market-street", datetime(2026, 5, 4, 8, 30)), ("elm", datetime(2026, 5, 4, 8, 30))))
    'bikes.mp4 is stored under market-street at 2026-05-04 08:30; --replace moves it'
    >>> stored_elsewhere("b.mp4", ("elm", datetime(2026, 5, 4, 8, 30)), ("elm", datetime(2026, 5, 4, 8, 30))) is None
    True
    """
    camera, start = stored[0], pd.Timestamp(stored[1]).to_pydatetime()
    if camera == wanted[0] and pd.Timestamp(start) == pd.Timestamp(wanted[1]):
        return None
    return StoredElsewhere(f"{label} is stored under {camera} at {_when(start)}; --replace moves it", camera, start)


def clip_location(cur: duckdb.DuckDBPyConnection, clip_sha256: str) -> tuple[str, datetime] | None:
    """(camera id, start time) of the stored clip with this SHA-256, None when it is not stored."""
    row = cur.execute("SELECT camera_id, start_time FROM clips WHERE clip_sha256 = ?", [clip_sha256]).fetchone()
    return (str(row[0]), pd.Timestamp(row[1]).to_pydatetime()) if row is not None else None


@dataclass
class _Known:
    """What the database already holds for a batch; the id counters advance as clips are added."""

    done: set[tuple[str, str]]
    """(clip SHA-256, settings key) of the runs stored."""
    clip_cameras: dict[str, tuple[str, datetime]]
    """(camera, start time) of each stored clip."""
    cameras: dict[str, dict[str, Any]]
    districts: DistrictIndex | None
    """District polygons, read only when a camera of the batch is mobile."""
    next_run: int
    next_frame: int


@dataclass
class _Rows:
    """Rows to insert, gathered clip by clip."""

    clips: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    class_pixels: list[pd.DataFrame] = field(default_factory=list)
    objects: list[pd.DataFrame] = field(default_factory=list)
    zone_pixels: list[pd.DataFrame] = field(default_factory=list)
    previews: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {t: [] for t in _COUNT_TABLES})
    superseded: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    """Clips whose old rows (every table of :data:`CLIP_TABLES`) are deleted before the new ones go in."""
    source_paths: list[tuple[str, str]] = field(default_factory=list)
    """(source path, clip SHA-256) of stored clips read again from a file: the path recorded is the latest."""


def ingest_batch(
    cur: duckdb.DuckDBPyConnection, batch: list[ClipMeasurements], where: str = "the database", *, replace: bool = False,
) -> list[IngestResult]:
    """Write ``batch`` through ``cur`` (inside the caller's transaction); one result per clip.

    ``where`` names the database in the message of a refused batch (:func:`refuse_mixing`).
    A clip stored under another camera or start time is refused (:class:`StoredElsewhere`), or with
    ``replace`` stored again there, its old rows deleted in the same transaction.
    """
    sources = {m.clip.source == DEMO_SOURCE for m in batch}
    if len(sources) > 1:
        raise InputError("the batch mixes demo city (synthetic) clips and real clips; they go into separate databases")
    if sources:
        refuse_mixing(cur, where, synthetic=sources.pop(), what="clips")
    known = _lookup(cur, batch)
    rows = _Rows()
    now = datetime.now().replace(microsecond=0)
    results = [_add_clip(m, known, rows, now, replace) for m in batch]
    _write(cur, rows)
    return results


# -- 0. the demo city stays apart ----------------------------------------------------------------


def database_holds(cur: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """What the database holds: ``"synthetic"`` when a clip or camera is the demo city's
    (``source = 'synthetic'``), ``"real"`` when a clip, camera or district is not, or an evaluation is stored.

    Districts of the demo city alone do not make a database the demo's (they are only polygons).
    """
    demo, real = cur.execute(
        "SELECT (SELECT count(*) FROM clips WHERE source = $s) + (SELECT count(*) FROM cameras WHERE source = $s), "
        "(SELECT count(*) FROM clips WHERE source <> $s) + (SELECT count(*) FROM cameras WHERE source <> $s) "
        "+ (SELECT count(*) FROM districts WHERE source <> $s) + (SELECT count(*) FROM evaluations)",
        {"s": DEMO_SOURCE},
    ).fetchall()[0]
    return frozenset(name for name, n in (("synthetic", demo), ("real", real)) if n)


def refuse_mixing(cur: duckdb.DuckDBPyConnection, where: str, *, synthetic: bool, what: str) -> None:
    """Refuse (:class:`InputError`, one line) a write of ``what`` that would mix the demo city and real data.

    ``synthetic``: whether the rows written are the demo city's. Real rows are refused by a
    database that holds the demo city; demo rows by one that holds real data.
    """
    holds = database_holds(cur)
    if not synthetic and "synthetic" in holds:
        raise InputError(
            f"{where} holds the demo city (synthetic data): real {what} never go into it; use your own database instead "
            "($URBANLENS_HOME/urbanlens.duckdb by default, or --db with a file of your own)"
        )
    if synthetic and "real" in holds:
        raise InputError(
            f"{where} holds real data: the demo city (synthetic) {what} are not mixed into it; build the demo into a "
            "database of its own (`urbanlens demo`, $URBANLENS_HOME/demo.duckdb by default)"
        )


# -- 1. what is there ----------------------------------------------------------------------------


def _lookup(cur: duckdb.DuckDBPyConnection, batch: list[ClipMeasurements]) -> _Known:
    shas = sorted({m.clip.sha256 for m in batch})
    done = cur.execute("SELECT clip_sha256, settings_key FROM model_runs WHERE clip_sha256 IN (SELECT unnest(?))", [shas]).fetchall()
    clips = cur.execute("SELECT clip_sha256, camera_id, start_time FROM clips WHERE clip_sha256 IN (SELECT unnest(?))",
                        [shas]).fetchall()
    cam_ids = sorted({m.clip.camera_id for m in batch})
    cam_df = cur.execute("SELECT * FROM cameras WHERE camera_id IN (SELECT unnest(?))", [cam_ids]).df()
    mobile = bool((cam_df["kind"] == "mobile").any()) or any(m.lon is not None for m in batch)
    return _Known(
        done={(str(s), str(k)) for s, k in done},
        clip_cameras={str(s): (str(c), pd.Timestamp(t).to_pydatetime()) for s, c, t in clips},
        cameras={str(r["camera_id"]): {str(k): v for k, v in r.items()} for r in cam_df.to_dict("records")},
        districts=stored_district_index(cur) if mobile else None,
        next_run=int(cur.execute("SELECT coalesce(max(run_id), 0) + 1 FROM model_runs").fetchall()[0][0]),
        next_frame=int(cur.execute("SELECT coalesce(max(frame_id), 0) + 1 FROM frames").fetchall()[0][0]),
    )


# -- 2. one clip's rows --------------------------------------------------------------------------


def _add_clip(m: ClipMeasurements, known: _Known, rows: _Rows, now: datetime, replace: bool = False) -> IngestResult:
    """Add one clip's rows to ``rows`` (or skip it) and say what happened."""
    key = m.run.settings_key
    label = m.clip.label or m.clip.sha256[:12]
    _place_check(m, known, rows, label, replace)
    if (m.clip.sha256, key) in known.done:
        return IngestResult(m.clip.sha256, label, "skipped", None, 0, "already ingested with the same model and settings")
    known.done.add((m.clip.sha256, key))
    camera = _camera_of(m, known, label)
    _add_clip_row(m, known, rows, now, label)
    run_id = known.next_run
    known.next_run += 1
    verdict = assess_measurements(m)
    rows.runs.append({**_run_row(m, run_id, now), **_trust_columns(verdict)})
    cols = _frame_columns(m, camera, run_id, known.next_frame)
    cols["low_trust"] = np.full(m.n, verdict.low)
    cols["heading"] = m.heading if m.heading is not None else np.full(m.n, np.nan)
    if (camera["kind"] == "mobile" or m.lon is not None) and known.districts is not None:  # frames placed by their own positions
        cols["district_id"] = known.districts.locate(cols["lon"], cols["lat"])
    known.next_frame += m.n
    rows.frames.append(cols)
    ids = cols["frame_id"]
    rows.class_pixels.append(_class_pixel_rows(m, ids))
    if m.objects is not None and not m.objects.empty:
        rows.objects.append(_object_rows(m.objects, ids))
    if m.zone_pixels is not None and not m.zone_pixels.empty:
        rows.zone_pixels.append(_zone_rows(m.zone_pixels, m.run.class_set.groups, ids))
    rows.previews.extend(_preview_rows(m, run_id, ids))
    if m.counts is not None:
        for table, df in _count_rows(m, m.counts, run_id).items():
            rows.counts[table].append(df)
    message = f"stored {format_counted(m.n, 'sampled frame')}" + (f"; {verdict.summary}, left out of indicators" if verdict.low else "")
    return IngestResult(m.clip.sha256, label, "stored", run_id, m.n, message, verdict.trust, verdict.reasons)


def _trust_columns(verdict: TrustVerdict) -> dict[str, Any]:
    """The run's ``trust`` and ``trust_reasons`` (a JSON list) columns."""
    return {"trust": verdict.trust, "trust_reasons": json.dumps(list(verdict.reasons))}


def _place_check(m: ClipMeasurements, known: _Known, rows: _Rows, label: str, replace: bool) -> None:
    """Refuse a clip stored under another camera or start time (:class:`StoredElsewhere`); with ``replace``,
    forget what is stored of it (its rows are deleted in :func:`_write`) so it is stored anew."""
    sha = m.clip.sha256
    stored = known.clip_cameras.get(sha)
    if stored is None:
        return
    refusal = stored_elsewhere(label, stored, (m.clip.camera_id, m.clip.start_time))
    if refusal is None:
        return
    if not replace:
        raise refusal
    rows.replaced.append(sha)
    del known.clip_cameras[sha]
    known.done = {d for d in known.done if d[0] != sha}


def _camera_of(m: ClipMeasurements, known: _Known, label: str) -> dict[str, Any]:
    cam_id = m.clip.camera_id
    if cam_id not in known.cameras:
        raise InputError(f"unknown camera {cam_id!r} for clip {label}; add it first with `urbanlens cameras add {cam_id} --lon .. --lat ..`")
    return known.cameras[cam_id]


def _add_clip_row(m: ClipMeasurements, known: _Known, rows: _Rows, now: datetime, label: str) -> None:
    """A new clip gets its ``clips`` row; a stored one (same camera only) has its older runs superseded."""
    sha, cam_id = m.clip.sha256, m.clip.camera_id
    if sha in known.clip_cameras:  # same camera and start (checked in _place_check)
        rows.superseded.append(sha)
        if m.clip.source_path is not None:
            rows.source_paths.append((m.clip.source_path, sha))
        return
    c = m.clip
    known.clip_cameras[sha] = (cam_id, c.start_time)
    rows.clips.append(
        {
            "clip_sha256": sha, "camera_id": cam_id, "start_time": pd.Timestamp(c.start_time), "duration_s": c.duration_s,
            "fps": c.fps, "width": c.width, "height": c.height, "n_frames": c.n_frames, "source": c.source, "label": c.label,
            "source_path": c.source_path, "ingested_at": now,
        }
    )


def _run_row(m: ClipMeasurements, run_id: int, now: datetime) -> dict[str, Any]:
    """The ``model_runs`` row: the run's provenance, active from now on."""
    r = m.run
    return {
        "run_id": run_id, "clip_sha256": m.clip.sha256, "settings_key": r.settings_key, "model_name": r.model_name,
        "weights_sha256": r.weights_sha256, "class_set_json": json.dumps(r.class_set.to_dict()), "sampling": r.sampling,
        "smoothing": r.smoothing, "code_version": r.code_version or __version__,
        "params_json": json.dumps(r.params, sort_keys=True, default=str), "created_at": now, "active": True, "n_frames": m.n,
    }


def _group_matrix(m: ClipMeasurements) -> np.ndarray:
    """(n_classes, n_groups) 0/1 matrix: class c feeds group g."""
    idx = m.run.class_set.group_index()
    mat = np.zeros((len(idx), len(GROUPS)), dtype=np.int64)
    mat[np.arange(len(idx)), idx] = 1
    return mat


def _frame_columns(m: ClipMeasurements, camera: dict[str, Any], run_id: int, first_id: int) -> dict[str, Any]:
    """Columns of the ``frames`` rows of one clip as numpy arrays (concatenated per batch)."""
    n = m.n
    groups = m.class_pixels @ _group_matrix(m)
    # a frame with positions of its own but NaN there (outside its GPS track or in a gap) has no position: stored NULL
    lon = np.full(n, float(camera["lon"])) if m.lon is None else np.asarray(m.lon, np.float64)
    lat = np.full(n, float(camera["lat"])) if m.lat is None else np.asarray(m.lat, np.float64)
    nan = np.full(n, np.nan)
    data: dict[str, Any] = {
        "frame_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "run_id": np.full(n, run_id, dtype=np.int32),
        "clip_sha256": np.full(n, m.clip.sha256, dtype=object),
        "camera_id": np.full(n, m.clip.camera_id, dtype=object),
        "district_id": np.full(n, camera.get("district_id"), dtype=object),
        "frame_index": m.frame_index.astype(np.int32),
        "t_s": m.t_s,
        "ts": local_times(m.clip.start_time, m.t_s, m.clip.timezone),
        "lon": lon,
        "lat": lat,
        "active": np.ones(n, dtype=bool),
        "synthetic": np.full(n, m.clip.source == "synthetic"),
    }
    for j, col in enumerate(GROUP_COLUMNS):
        data[col] = groups[:, j].astype(np.float64)
    if not m.run.class_set.has_damage_classes:
        data["damage_px"] = nan  # a model without damage classes measured nothing about damage: NULL, not zero
    data["valid_px"] = groups.sum(axis=1) - groups[:, GROUPS.index("void")]
    for j, g in enumerate(OBJECT_GROUPS):
        data[f"n_{g}"] = m.object_counts[:, j].astype(np.int32)
    data["mean_confidence"] = m.mean_confidence
    data["low_conf_share"] = m.low_conf_share
    data["flicker"] = m.flicker
    data["vehicle_stationarity"] = m.vehicle_stationarity
    data["distress_crack_px"] = m.distress_crack_px if m.distress_crack_px is not None else nan
    data["distress_pothole_px"] = m.distress_pothole_px if m.distress_pothole_px is not None else nan
    data["person_sidewalk_px"] = _person_sidewalk(m)
    data["lane_mark_share"] = m.lane_mark_share if m.lane_mark_share is not None else nan
    data["curb_length_px"] = m.curb_length_px if m.curb_length_px is not None else nan
    return data


def _person_sidewalk(m: ClipMeasurements) -> np.ndarray:
    """Person-group pixels inside zones whose role is ``sidewalk``; NaN (stored NULL) where the camera has none."""
    zp = m.zone_pixels
    if zp is None or zp.empty or not (zp["role"] == "sidewalk").any():
        return np.full(m.n, np.nan)
    person_ids = list(m.run.class_set.class_ids("person"))
    side = zp[(zp["role"] == "sidewalk").to_numpy() & zp["class_id"].isin(person_ids).to_numpy()]
    return np.bincount(side["frame_pos"].to_numpy(dtype=np.int64), weights=side["pixels"].to_numpy(dtype=np.float64), minlength=m.n)


def _class_pixel_rows(m: ClipMeasurements, ids: np.ndarray) -> pd.DataFrame:
    """The non-zero class pixel counts, one row per (frame, class)."""
    nz_f, nz_c = np.nonzero(m.class_pixels)
    return pd.DataFrame({"frame_id": ids[nz_f], "class_id": nz_c.astype(np.int16), "pixels": m.class_pixels[nz_f, nz_c]})


def _object_rows(o: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """Object boxes with the frame ids they were found in."""
    return pd.DataFrame({
        "frame_id": ids[o["frame_pos"].to_numpy(dtype=np.int64)], "grp": o["group"].astype(str).to_numpy(),
        "x0": o["x0"].to_numpy(np.int32), "y0": o["y0"].to_numpy(np.int32), "x1": o["x1"].to_numpy(np.int32),
        "y1": o["y1"].to_numpy(np.int32), "area_px": o["area_px"].to_numpy(np.int32),
    })


def _zone_rows(z: pd.DataFrame, class_groups: Sequence[str], ids: np.ndarray) -> pd.DataFrame:
    """Per-zone pixels with each class named by the group it feeds (summed per group in :func:`_write`)."""
    groups = np.array(class_groups, dtype=object)
    return pd.DataFrame({
        "frame_id": ids[z["frame_pos"].to_numpy(dtype=np.int64)], "zone": z["zone"].astype(str).to_numpy(),
        "role": z["role"].astype(str).to_numpy(), "grp": groups[z["class_id"].to_numpy(dtype=np.int64)],
        "pixels": z["pixels"].to_numpy(dtype=np.int64),
    })


def _preview_rows(m: ClipMeasurements, run_id: int, ids: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for p in m.previews:
        if not 0 <= p.frame_pos < m.n:
            raise InputError(f"preview frame_pos {p.frame_pos} outside 0..{m.n - 1}")
        out.append({"run_id": run_id, "frame_id": int(ids[p.frame_pos]), "kind": p.kind, "mime": p.mime, "image": p.image})
    return out


def _count_rows(m: ClipMeasurements, c: CountTables, run_id: int) -> dict[str, pd.DataFrame]:
    """The clip's ``count_runs`` row and its ``tracks``, ``crossings`` and ``zone_visits`` rows.

    Times: local wall-clock time ``t_s`` after the clip's start (:func:`~analytics.gpstrack.local_times`, the store's time rule for frames).
    """

    def at(seconds: pd.Series) -> np.ndarray:
        return local_times(m.clip.start_time, seconds.to_numpy(dtype=np.float64), m.clip.timezone)

    key: dict[str, Any] = {"run_id": run_id, "clip_sha256": m.clip.sha256, "camera_id": m.clip.camera_id}
    run = pd.DataFrame([{
        **key, "detector_name": c.detector_name, "detector_sha256": c.detector_sha256, "track_fps": float(c.track_fps),
        "n_tracked_frames": int(c.n_tracked_frames), "geometry_json": c.geometry_json, "calibrated": bool(c.calibrated),
        "n_speeds_dropped": int(c.n_speeds_dropped), "params_json": json.dumps(c.params, sort_keys=True, default=str),
    }])
    tracks = c.tracks[list(COUNT_COLUMNS["tracks"])].assign(**key, first_ts=at(c.tracks["first_t_s"]), last_ts=at(c.tracks["last_t_s"]))
    crossings = c.crossings[list(COUNT_COLUMNS["crossings"])].assign(**key, ts=at(c.crossings["t_s"]))
    visits = c.visits[list(COUNT_COLUMNS["visits"])].assign(
        **key, enter_ts=at(c.visits["enter_t_s"]), exit_ts=at(c.visits["exit_t_s"]))
    return {"count_runs": run, "tracks": tracks, "crossings": crossings, "zone_visits": visits}


# -- 3. the writes -------------------------------------------------------------------------------


def _write(cur: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    """Delete replaced clips' rows, supersede older runs, then insert every table's rows."""
    if rows.replaced:
        _delete_clips(cur, rows.replaced)
    if rows.superseded:
        cur.execute("UPDATE model_runs SET active = false WHERE clip_sha256 IN (SELECT unnest(?))", [rows.superseded])
        cur.execute("UPDATE frames SET active = false WHERE clip_sha256 IN (SELECT unnest(?))", [rows.superseded])
    if rows.source_paths:
        cur.executemany("UPDATE clips SET source_path = ? WHERE clip_sha256 = ?", rows.source_paths)
    insert_table(cur, "clips", pd.DataFrame(rows.clips))
    insert_table(cur, "model_runs", pd.DataFrame(rows.runs))
    if rows.frames:
        first = rows.frames[0]
        insert_table(cur, "frames", pd.DataFrame({c: np.concatenate([p[c] for p in rows.frames]) for c in first}))
    _insert_parts(cur, "frame_class_pixels", rows.class_pixels)
    _insert_parts(cur, "frame_objects", rows.objects)
    if rows.zone_pixels:
        zones = pd.concat(rows.zone_pixels, ignore_index=True)
        summed = zones.groupby(["frame_id", "zone", "role", "grp"], as_index=False)["pixels"].sum()
        insert_table(cur, "frame_zone_pixels", pd.DataFrame(summed))
    insert_table(cur, "previews", pd.DataFrame(rows.previews))
    for table in _COUNT_TABLES:
        _insert_parts(cur, table, rows.counts[table])


def _insert_parts(cur: duckdb.DuckDBPyConnection, table: str, parts: list[pd.DataFrame]) -> None:
    if parts:
        insert_table(cur, table, pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0])


_TABLES = ("clips", "model_runs", "frames", "frame_class_pixels", "frame_objects", "frame_zone_pixels", "previews", *_COUNT_TABLES)
CLIP_TABLES = _TABLES
"""Every table holding a clip's rows: what a replaced clip loses before it is stored again."""

_BY_FRAME = "frame_id IN (SELECT frame_id FROM frames WHERE clip_sha256 IN (SELECT unnest($shas)))"
_CLIP_ROWS: dict[str, str] = {
    "frame_class_pixels": _BY_FRAME, "frame_objects": _BY_FRAME, "frame_zone_pixels": _BY_FRAME,
    "previews": "run_id IN (SELECT run_id FROM model_runs WHERE clip_sha256 IN (SELECT unnest($shas)))",
    **{t: "clip_sha256 IN (SELECT unnest($shas))" for t in (*_COUNT_TABLES, "frames", "model_runs", "clips")},
}
"""Which rows of each table belong to the clips ``$shas``, in the order they are deleted (rows that name frames or runs first)."""


def _delete_clips(cur: duckdb.DuckDBPyConnection, shas: list[str]) -> None:
    """Delete every row of the clips ``shas`` from every table of :data:`CLIP_TABLES` (table names from a fixed list)."""
    for table, where in _CLIP_ROWS.items():
        cur.execute(f"DELETE FROM {table} WHERE {where}", {"shas": shas})  # names only, values are bound data


def insert_table(cur: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """Bulk insert by column name from a DataFrame (table names come from a fixed list)."""
    if df.empty:
        return
    if table not in _TABLES:
        raise ValueError(f"not an ingestion table: {table}")
    cur.register("_bulk", df)
    cols = ", ".join(df.columns)
    cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _bulk")  # names only, values are bound data
    cur.unregister("_bulk")
