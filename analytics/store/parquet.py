"""The path beyond one machine: frame measurements as Parquet partitioned by day and camera.

On a cluster, segmentation fans out (one ONNX session per worker) and each worker writes its
clips' frame rows as Parquet under ``day=YYYY-MM-DD/camera_id=ID/``. Any engine that reads
Parquet can aggregate them; UrbanLens itself opens such a folder as a read-only store whose
``frames`` table is the dataset, so :func:`analytics.indicators.compute` runs unchanged on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from analytics.errors import InputError, quote_value
from analytics.gpstrack import zone
from analytics.records import COUNT_COLUMNS, OBJECT_GROUPS, ClipInfo, ClipMeasurements, CountTables, RunInfo
from analytics.store import Store
from analytics.store.database import CursorQueries
from analytics.store.ingest import IngestResult, _frame_columns
from analytics.store.parquet_checks import (
    CLIP_RULES,
    FRAME_RULES,
    MAX_CLIP_ROWS,
    MAX_FRAME_PIXELS,
    READ_ERRORS,
    check_clip_lists,
    check_clip_meta,
    check_columns,
    check_types,
    check_values,
    open_parquet,
    pixel_limit,
)
from analytics.store.schema import GROUP_COLUMNS
from analytics.taxonomy import ClassSet
from analytics.trust import assess_measurements

__all__ = [
    "CLIP_FORMAT", "CLIP_SCHEMA", "COUNTS", "FRAME_COLUMNS_NEEDED", "MARKERS", "MAX_FOLDER_FILE_ROWS", "PARTITIONING", "ParquetSink",
    "ParquetStore", "check_clip_file", "check_frame_folder", "clip_file",
    "clip_files", "clip_run_id", "clip_table", "clip_written", "counts_folder", "export_frames", "import_clips", "read_clip", "read_counts",
    "write_clip", "write_counts",
]

PARTITIONING = ds.partitioning(pa.schema([("day", pa.string()), ("camera_id", pa.string())]), flavor="hive")


def export_frames(store: Store, out_dir: str | Path) -> int:
    """Write the active frame rows as Parquet partitioned by day and camera; returns rows written.

    Existing files in ``out_dir`` with the same partition names are replaced, others kept.
    """
    out = Path(out_dir).expanduser()
    cur = store.cursor()
    try:
        table = cur.sql("SELECT *, strftime(ts, '%Y-%m-%d') AS day FROM frames WHERE active").to_arrow_table()
    finally:
        cur.close()
    if table.num_rows == 0:
        raise InputError("the database has no frames to export")
    ds.write_dataset(
        table, out, format="parquet", partitioning=PARTITIONING, existing_data_behavior="delete_matching",
        basename_template="frames-{i}.parquet",
    )
    return int(table.num_rows)


def _frames_dataset(folder: Path) -> ds.Dataset:
    """The frame rows of ``folder``; files written before trust verdicts existed get ``low_trust`` as NULL
    (not checked, counted as ok), so the indicator queries run on them unchanged."""
    data = ds.dataset(folder, format="parquet", partitioning=PARTITIONING)
    if "low_trust" in data.schema.names:
        return data
    schema = data.schema.append(pa.field("low_trust", pa.bool_()))
    return ds.dataset(folder, schema=schema, format="parquet", partitioning=PARTITIONING)


_ARROW_KINDS = {"int": pa.int64(), "float": pa.float64(), "time": pa.timestamp("us"), "text": pa.string(), "bool": pa.bool_()}
_NO_FRAMES = pa.table({n: pa.array([], _ARROW_KINDS[r.kind]) for n, r in FRAME_RULES.items() if n != "frame_pos"})
"""The frames of a folder without Parquet files: none, with every column the queries read."""

MAX_FOLDER_FILE_ROWS = 50_000_000
"""Rows in one file of a frame folder (a camera's day at 30 sampled frames a second is 2.6 million)."""
FRAME_COLUMNS_NEEDED = ("ts", "clip_sha256", "valid_px")


def check_frame_folder(folder: Path) -> int:
    """Check every file of a frame folder before it is queried; returns the number of files (0 reads as no frames).

    Each file (as :func:`clip_files` lists them): its footer's claims bounded by its size
    (:func:`open_parquet`); the frame columns it holds of the kinds of :data:`FRAME_RULES`, with at
    least ``ts``, ``clip_sha256`` and ``valid_px``; then every value of those columns, read a batch
    at a time (memory bounded by the batch), against its rule, pixel counts at most
    :data:`MAX_FRAME_PIXELS` and each group's pixels at most the frame's ``valid_px`` (void aside).
    A problem is an :class:`InputError` naming the file, column, row and value.
    """
    files = clip_files(folder)
    for path in files:
        pf = open_parquet(path, MAX_FOLDER_FILE_ROWS)
        try:
            schema = pf.schema_arrow
            missing = [c for c in FRAME_COLUMNS_NEEDED if c not in schema.names]
            if missing:
                raise InputError(f"{quote_value(path.name)} has no column {missing[0]!r}; expected the frame rows written by "
                                 "`urbanlens export-parquet` or a cluster job")
            check_types(path, schema, FRAME_RULES)
            names = [n for n in dict.fromkeys(schema.names) if n in FRAME_RULES]
            limits = {"area": MAX_FRAME_PIXELS, "rows": max(pf.metadata.num_rows - 1, 0)}
            seen = 0
            for batch in pf.iter_batches(batch_size=65_536, columns=names):
                for name in names:
                    check_values(f"{quote_value(path.name)}: column {name!r}", batch.column(name), FRAME_RULES[name], limits, seen)
                _check_groups_within_valid(path, batch, seen)
                seen += batch.num_rows
        except InputError:
            raise
        except READ_ERRORS as exc:
            raise InputError(f"{quote_value(path.name)} is not a readable Parquet file: {quote_value(exc, 120)}") from None
    return len(files)


def _check_groups_within_valid(path: Path, batch: pa.RecordBatch, offset: int) -> None:
    """Refuse a row whose group pixels exceed its ``valid_px`` (the frame's pixels of every group but void)."""
    valid = batch.column("valid_px").to_numpy(zero_copy_only=False).astype(np.float64)
    for name in GROUP_COLUMNS:
        if name == "void_px" or name not in batch.schema.names:
            continue
        values = batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        with np.errstate(invalid="ignore"):
            over = values > valid
        if over.any():
            row = int(np.argmax(over))
            raise InputError(f"{quote_value(path.name)}: column {name!r} holds {values[row]:,.0f} pixels in row {row + offset}, "
                             f"more than the frame's valid_px ({valid[row]:,.0f}); expected at most valid_px")


class ParquetStore(CursorQueries):
    """A read-only source of frame rows over a Parquet folder written by :func:`export_frames` (or a
    cluster job): an in-memory DuckDB connection that sees the dataset as ``frames`` (and, with
    ``places``, the database's ``cameras`` and ``districts``), answering the read calls of a
    :class:`~analytics.store.database.Store` (``cursor``, ``query_df``, ``scalar``, ``reading``)."""

    def __init__(self, folder: str | Path, places: Store | None = None) -> None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise InputError(f"Parquet folder {str(folder)!r} does not exist")
        self.path = folder
        self.read_only = True
        files = check_frame_folder(folder)
        try:
            frames = _frames_dataset(folder) if files else _NO_FRAMES
        except READ_ERRORS as exc:
            raise InputError(f"Parquet folder {quote_value(str(folder), 120)} cannot be read as one dataset: {quote_value(exc, 120)}") from None
        self._memory = duckdb.connect(":memory:")
        self._sources: dict[str, object] = {"frames": frames}
        if places is not None:
            for name in ("cameras", "districts"):
                self._sources[name] = places.query_df(f"SELECT * FROM {name}")  # fixed table names

    @property
    def where(self) -> str:
        """This folder in messages: ``Parquet folder '<path>'``."""
        return f"Parquet folder {str(self.path)!r}"

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor that sees the Parquet dataset as ``frames`` (registrations are per cursor); the caller closes it."""
        cur = self._memory.cursor()
        for name, source in self._sources.items():
            cur.register(name, source)
        return cur

    @contextmanager
    def reading(self) -> Iterator[ParquetStore]:
        """Reads share the in-memory connection already; nothing to hold."""
        yield self

    def data_version(self) -> tuple[int, ...]:
        """The folder's files and their sizes and modification times (changes when a file does)."""
        out: list[int] = []
        for p in sorted(self.path.rglob("*.parquet")):
            st = p.stat()
            out.extend((st.st_size, st.st_mtime_ns))
        return tuple(out)

    def close(self) -> None:
        self._memory.close()

    def __enter__(self) -> ParquetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- one file per clip: what a cluster worker writes ---------------------------------------------

CLIP_FORMAT = "urbanlens-clip/1"
"""The format name in each clip file's metadata (key ``urbanlens``), with the clip and its run."""

MARKERS = "_clips"
"""Folder of per-clip markers, ``_clips/<clip sha256>-<settings key[:16]>.json``, each naming its clip's
file; the leading ``_`` keeps it out of the frame dataset (Arrow and DuckDB skip ``_`` and ``.`` names)."""

_META_KEY = b"urbanlens"
_OBJECT = pa.struct([("group", pa.string()), *[(c, pa.int32()) for c in ("x0", "y0", "x1", "y1", "area_px")]])
_ZONE = pa.struct([("zone", pa.string()), ("role", pa.string()), ("class_id", pa.int32()), ("pixels", pa.int64())])

CLIP_SCHEMA = pa.schema(
    [
        ("run_id", pa.int64()), ("clip_sha256", pa.string()), ("district_id", pa.string()), ("frame_index", pa.int32()),
        ("t_s", pa.float64()), ("ts", pa.timestamp("us")), ("lon", pa.float64()), ("lat", pa.float64()),
        ("active", pa.bool_()), ("synthetic", pa.bool_()), *[(c, pa.int64()) for c in GROUP_COLUMNS], ("valid_px", pa.int64()),
        *[(f"n_{g}", pa.int32()) for g in OBJECT_GROUPS],
        *[(c, pa.float64()) for c in ("mean_confidence", "low_conf_share", "flicker", "vehicle_stationarity")],
        ("distress_crack_px", pa.float64()), ("distress_pothole_px", pa.float64()), ("person_sidewalk_px", pa.int64()),
        ("low_trust", pa.bool_()), ("frame_pos", pa.int32()), ("class_pixels", pa.list_(pa.int64())),
        ("objects", pa.list_(_OBJECT)), ("zone_pixels", pa.list_(_ZONE)),
        ("lane_mark_share", pa.float64()), ("curb_length_px", pa.float64()), ("heading", pa.float64()),
        ("label_change", pa.float64()), ("road_disagreement", pa.float64()), ("own_class_pixels", pa.list_(pa.int64())),
    ]
)
"""Columns of a clip file: the ``frames`` columns the indicators read (``camera_id`` and ``day`` come
from the folder names; ``run_id`` is a 63-bit hash of clip and settings, as no cluster-wide counter
exists), then what rebuilds the clip's measurements for the database: the frame's position, its
pixels per class, its object boxes and its zone pixels. A frame without a position (outside its GPS track) has
``lon``, ``lat`` and ``heading`` null. The last three keep what the clip's trust verdict was judged on
(label change along motion, the road model's disagreement and the segmenter's own pixels per class; null
where not measured), so a clip imported into a database gets the verdict the worker gave it."""
_LATER_COLUMNS = ("heading", "label_change", "road_disagreement", "own_class_pixels")
"""Columns of :data:`CLIP_SCHEMA` that a clip file of an earlier release lacks (read as missing values)."""


COUNTS = "_counts"
"""Folder of clips' count tables, ``_counts/<clip sha256>-<settings key[:16]>/`` with ``tracks``,
``crossings`` and ``visits`` Parquet files and ``counts.json`` (detector, rate, geometry, params); the
leading ``_`` keeps it out of the frame dataset."""

_COUNT_KINDS = {
    "track_id": pa.int64(), "class": pa.string(), "first_t_s": pa.float64(), "last_t_s": pa.float64(), "n_points": pa.int64(),
    "path_px": pa.float64(), "path_m": pa.float64(), "speed_kmh": pa.float64(), "stationary": pa.bool_(), "line": pa.string(),
    "t_s": pa.float64(), "direction": pa.string(), "zone": pa.string(), "enter_t_s": pa.float64(), "exit_t_s": pa.float64(),
    "dwell_s": pa.float64(), "censored": pa.bool_(),
}
_COUNT_META = ("detector_name", "detector_sha256", "track_fps", "n_tracked_frames", "geometry_json", "calibrated", "n_speeds_dropped",
               "params")


def counts_folder(folder: str | Path, clip_sha256: str, settings_key: str) -> Path:
    """Where a clip's count tables go: ``_counts/<sha256>-<settings key[:16]>`` under the clip folder.

    >>> counts_folder("/pq", "ab" * 32, "k" * 64).relative_to("/pq").as_posix()[:12]
    '_counts/abab'
    """
    return Path(folder) / COUNTS / f"{clip_sha256}-{settings_key[:16]}"


def write_counts(folder: Path, counts: CountTables) -> None:
    """Write a clip's count tables into the new folder ``folder`` (one Parquet file per table, typed by
    :data:`_COUNT_KINDS`, and ``counts.json``): into a hidden temporary folder first, renamed into place."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, columns in COUNT_COLUMNS.items():
        df = getattr(counts, name)
        schema = pa.schema([(c, _COUNT_KINDS[c]) for c in columns])
        table = pa.table({c: pa.array([None if v is None or v != v else v for v in df[c].tolist()], _COUNT_KINDS[c]) for c in columns},
                         schema=schema)
        pq.write_table(table, tmp / f"{name}.parquet")
    meta = {k: getattr(counts, k) for k in _COUNT_META}
    (tmp / "counts.json").write_text(json.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def read_counts(folder: Path) -> CountTables:
    """A clip's count tables written by :func:`write_counts`; :class:`InputError` naming the folder and
    what is wrong when a file is missing or unreadable, a column is missing or a value is refused."""
    where = quote_value(f"{COUNTS}/{folder.name}", 120)
    try:
        meta = json.loads((folder / "counts.json").read_text())
        tables = {name: pq.read_table(folder / f"{name}.parquet", columns=list(cols)).to_pandas() for name, cols in COUNT_COLUMNS.items()}
        extra = {k: meta[k] for k in _COUNT_META}
    except (OSError, ValueError, KeyError, TypeError, *READ_ERRORS) as exc:
        raise InputError(f"{where}: the clip's count tables cannot be read ({quote_value(exc, 120)}); "
                         f"expected the tracks, crossings and visits files and counts.json of `ingest --engine ray`") from None
    try:
        return CountTables(**extra, **tables)
    except (InputError, TypeError) as exc:
        raise InputError(f"{where}: {quote_value(exc, 200)}") from None


def clip_run_id(clip_sha256: str, settings_key: str) -> int:
    """A run id without a counter: the first 63 bits of SHA-256(clip sha256 ":" settings key).

    >>> clip_run_id("a" * 64, "k") == clip_run_id("a" * 64, "k") != clip_run_id("a" * 64, "j")
    True
    """
    digest = hashlib.sha256(f"{clip_sha256}:{settings_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def clip_file(folder: str | Path, camera_id: str, start: datetime, clip_sha256: str, settings_key: str) -> Path:
    """Where a clip's file goes: ``day=<start day>/camera_id=<id, URI-encoded>/clip-<sha256>-<key[:16]>.parquet``.

    A clip lies whole in the partition of the day it starts (its frames' ``ts`` say the exact time).

    >>> clip_file("/pq", "cam 1", datetime(2024, 5, 1, 8), "ab" * 32, "k" * 64).relative_to("/pq").parts[:2]
    ('day=2024-05-01', 'camera_id=cam%201')
    """
    name = f"clip-{clip_sha256}-{settings_key[:16]}.parquet"
    return Path(folder) / f"day={start:%Y-%m-%d}" / f"camera_id={quote(camera_id, safe='')}" / name


def _marker(folder: Path, clip_sha256: str, settings_key: str) -> Path:
    return folder / MARKERS / f"{clip_sha256}-{settings_key[:16]}.json"


def clip_written(folder: str | Path, clip_sha256: str, settings_key: str) -> Path | None:
    """The clip's file when it is in ``folder`` whole for these settings (its marker names a file that exists), else None."""
    folder = Path(folder)
    marker = _marker(folder, clip_sha256, settings_key)
    try:
        path = folder / json.loads(marker.read_text())["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path if path.is_file() else None


def clip_table(m: ClipMeasurements, camera: Mapping[str, Any]) -> pa.Table:
    """The clip's rows as an Arrow table of :data:`CLIP_SCHEMA`, its clip and run in the metadata.

    ``camera``: the camera's row (lon, lat, district_id, kind), as the database ingest uses it.
    The frame columns come from the database ingest's own function, so both hold the same numbers.
    """
    n = m.n
    cols = _frame_columns(m, {**camera, "kind": camera.get("kind") or "fixed"}, 0, 0)
    cols["run_id"] = np.full(n, clip_run_id(m.clip.sha256, m.run.settings_key), np.int64)
    cols["low_trust"] = np.full(n, assess_measurements(m).low)
    cols["frame_pos"] = np.arange(n, dtype=np.int32)
    cols["class_pixels"] = pa.ListArray.from_arrays(np.arange(0, n + 1) * m.class_pixels.shape[1], m.class_pixels.ravel())
    cols["objects"] = _per_frame(m.objects, n, [f.name for f in _OBJECT])
    cols["zone_pixels"] = _per_frame(m.zone_pixels, n, [f.name for f in _ZONE])
    cols["heading"] = m.heading if m.heading is not None else np.full(n, np.nan)
    cols["label_change"] = m.label_change if m.label_change is not None else np.full(n, np.nan)
    cols["road_disagreement"] = m.road_disagreement if m.road_disagreement is not None else np.full(n, np.nan)
    own = m.segmenter_class_pixels
    cols["own_class_pixels"] = (pa.nulls(n, pa.list_(pa.int64())) if own is None
                                else pa.ListArray.from_arrays(np.arange(0, n + 1) * own.shape[1], own.ravel()))
    for name in ("lon", "lat", "heading", "road_disagreement"):  # not measured (NaN): null, as in the database
        v = np.asarray(cols[name], np.float64)
        cols[name] = pa.array(v, pa.float64(), mask=np.isnan(v))
    arrays = [_arrow(cols[f.name], f.type) for f in CLIP_SCHEMA]
    meta = {"format": CLIP_FORMAT, "settings_key": m.run.settings_key, "clip": _clip_meta(m), "run": _run_meta(m),
            "timezone": m.clip.timezone}
    return pa.Table.from_arrays(arrays, schema=CLIP_SCHEMA.with_metadata({_META_KEY: json.dumps(meta, default=str)}))


def _arrow(values: Any, kind: pa.DataType) -> pa.Array:
    """One column as Arrow; NaN in an integer column (a count not measured) becomes NULL."""
    if isinstance(values, pa.Array):
        return values
    if pa.types.is_integer(kind) and np.asarray(values).dtype.kind == "f":
        v = np.asarray(values, np.float64)
        missing = np.isnan(v)
        return pa.array(np.where(missing, 0, v).astype(np.int64), type=kind, mask=missing)
    if pa.types.is_string(kind):
        return pa.array([None if v is None or v != v else str(v) for v in values], type=kind)
    if pa.types.is_list(kind):
        return pa.array(values, type=kind)
    return pa.array(values, type=kind)


def _per_frame(df: pd.DataFrame | None, n: int, names: list[str]) -> list[list[dict[str, Any]]]:
    """Rows of ``df`` (with a ``frame_pos`` column) grouped into one list per sampled frame."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    if df is not None and not df.empty:
        for rec in df.to_dict("records"):
            out[int(rec["frame_pos"])].append({k: rec[k] for k in names})
    return out


def _clip_meta(m: ClipMeasurements) -> dict[str, Any]:
    c = m.clip
    return {
        "sha256": c.sha256, "camera_id": c.camera_id, "start_time": c.start_time.isoformat(), "duration_s": c.duration_s,
        "fps": c.fps, "width": c.width, "height": c.height, "n_frames": c.n_frames, "source": c.source, "label": c.label,
        "source_path": c.source_path,
    }


def _run_meta(m: ClipMeasurements) -> dict[str, Any]:
    r = m.run
    return {
        "model_name": r.model_name, "weights_sha256": r.weights_sha256, "class_set": r.class_set.to_dict(),
        "sampling": r.sampling, "smoothing": r.smoothing, "code_version": r.code_version, "params": r.params,
    }


def write_clip(
    folder: str | Path, m: ClipMeasurements, camera: Mapping[str, Any], *, before_rename: Callable[[Path], None] | None = None
) -> Path:
    """Write one clip's file into ``folder`` atomically: whole or not at all. Returns its path.

    Steps: the rows go to a hidden temporary file beside the final one (``.clip-....tmp``, skipped by
    every reader); a counted clip's count tables go to their folder (:func:`counts_folder`); the marker
    naming the final file is written (by rename); files of the same clip
    under other settings are removed (they are superseded, as in the database); the temporary file
    is renamed into place (one rename, atomic on a POSIX file system). A process killed at any step
    leaves no visible partial clip: a marker whose file is missing counts as not written, and the
    next run writes the clip again. ``before_rename`` is called with the temporary file just before
    the rename (tests kill the process there).
    """
    folder = Path(folder).expanduser()
    key = m.run.settings_key
    final = clip_file(folder, m.clip.camera_id, m.clip.start_time, m.clip.sha256, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    pq.write_table(clip_table(m, camera), tmp)
    if m.counts is not None:
        write_counts(counts_folder(folder, m.clip.sha256, key), m.counts)
    marker = _marker(folder, m.clip.sha256, key)
    marker.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(marker, json.dumps({"path": final.relative_to(folder).as_posix(), "settings_key": key, "n_frames": m.n,
                                      "counts": m.counts is not None}))
    for other in marker.parent.glob(f"{m.clip.sha256}-*.json"):
        if other != marker:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                (folder / json.loads(other.read_text())["path"]).unlink(missing_ok=True)
            shutil.rmtree(folder / COUNTS / other.stem, ignore_errors=True)
            other.unlink(missing_ok=True)
    if before_rename is not None:
        before_rename(tmp)
    os.replace(tmp, final)
    return final


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_clip(path: str | Path) -> ClipMeasurements:
    """The measurements of a clip file written by :func:`write_clip`, with its count tables where the clip was counted
    (:func:`read_counts`).

    Before a value is converted: the footer's claims are bounded (:func:`open_parquet`), the columns,
    their types and the metadata are checked (:func:`check_clip_file`), then every value against its
    rule (:data:`FRAME_RULES`: no NaN, infinity or null where a number is needed; pixel counts from 0
    to the frame's pixels, shares in [0, 1], times in range) and the list columns
    (:func:`check_clip_lists`). Any problem is an :class:`InputError` of one line naming the file,
    the column, the row and the value.
    """
    path = Path(path)
    pf, meta = _open_clip(path)
    c, r = meta["clip"], meta["run"]
    cs = r["class_set"]
    run = RunInfo(
        model_name=r["model_name"], weights_sha256=r["weights_sha256"], class_set=ClassSet.from_mapping(cs["name"], cs["classes"]),
        sampling=r["sampling"], smoothing=r["smoothing"], code_version=r["code_version"], params=r["params"],
    )
    if run.settings_key != meta["settings_key"]:
        raise InputError(f"{quote_value(path.name)}: its run settings do not give the settings key it records; the file was changed")
    tz = _clip_zone(path, meta.get("timezone"))
    try:
        t = pf.read()
    except READ_ERRORS as exc:
        raise InputError(f"{quote_value(path.name)} is not a readable Parquet file: {quote_value(exc, 120)}") from None
    area = pixel_limit(c, r["params"])
    check_columns(path, t, CLIP_RULES, {"area": area, "rows": max(t.num_rows - 1, 0)})
    check_clip_lists(path, t, run.class_set.num_classes, area)
    col = {name: t.column(name).to_numpy() for name in CLIP_SCHEMA.names
           if name not in ("class_pixels", "objects", "zone_pixels", "own_class_pixels")
           and name in t.column_names}  # older files lack the road and trust columns
    objects = [{"frame_pos": i, **o} for i, row in enumerate(t.column("objects").to_pylist()) for o in row]
    zones = [{"frame_pos": i, **z} for i, row in enumerate(t.column("zone_pixels").to_pylist()) for z in row]
    n_classes = run.class_set.num_classes
    return ClipMeasurements(
        clip=ClipInfo(**{**c, "start_time": datetime.fromisoformat(c["start_time"]), "timezone": tz}), run=run,
        frame_index=col["frame_index"], t_s=col["t_s"],
        class_pixels=t.column("class_pixels").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, n_classes),
        mean_confidence=col["mean_confidence"], low_conf_share=col["low_conf_share"], flicker=col["flicker"],
        vehicle_stationarity=col["vehicle_stationarity"],
        object_counts=np.stack([col[f"n_{g}"] for g in OBJECT_GROUPS], axis=1),
        distress_crack_px=col["distress_crack_px"], distress_pothole_px=col["distress_pothole_px"], lon=col["lon"], lat=col["lat"],
        objects=pd.DataFrame(objects, columns=["frame_pos", *[f.name for f in _OBJECT]]),
        zone_pixels=pd.DataFrame(zones, columns=["frame_pos", *[f.name for f in _ZONE]]) if zones else None,
        counts=_clip_counts(path, c["sha256"], meta["settings_key"], "counting" in r["params"]),
        lane_mark_share=col.get("lane_mark_share"), curb_length_px=col.get("curb_length_px"), heading=col.get("heading"),
        label_change=col.get("label_change"), road_disagreement=_measured(col.get("road_disagreement")),
        segmenter_class_pixels=_own_pixels(t, n_classes),
    )


def _measured(values: np.ndarray | None) -> np.ndarray | None:
    """A per-frame column read back: None where the file lacks it or no frame was measured (all null)."""
    return None if values is None or np.isnan(np.asarray(values, np.float64)).all() else np.asarray(values, np.float64)


def _own_pixels(t: pa.Table, n_classes: int) -> np.ndarray | None:
    """The segmenter's own pixels per class read back (None: no road model ran, or a file of an earlier release)."""
    if "own_class_pixels" not in t.column_names or t.column("own_class_pixels").null_count == t.num_rows:
        return None
    return t.column("own_class_pixels").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, n_classes)


def _clip_zone(path: Path, value: object) -> str | None:
    """The time zone a clip file records for its start time (None: a file without one, read as before)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InputError(f"{quote_value(path.name)}: metadata timezone is {quote_value(value)}; expected an IANA name such as Europe/Zurich")
    try:
        return zone(value).key
    except InputError as exc:
        raise InputError(f"{quote_value(path.name)}: metadata {exc}") from None


def _clip_counts(path: Path, clip_sha256: str, settings_key: str, counted: bool) -> CountTables | None:
    """The count tables of the clip file at ``path`` (``day=/camera_id=/file`` under the folder), None for a
    clip that was not counted; :class:`InputError` when a counted clip's tables are missing."""
    folder = counts_folder(path.parent.parent.parent, clip_sha256, settings_key)
    if not counted:
        return None
    if not folder.is_dir():
        raise InputError(f"{quote_value(path.name)}: the clip was counted but its count tables ({COUNTS}/{folder.name}) are missing; "
                         "write the clip again with `ingest --engine ray`")
    return read_counts(folder)


def check_clip_file(path: str | Path) -> dict[str, Any]:
    """The clip and run of a clip file (its metadata), read from its footer alone; :class:`InputError`
    naming what is wrong when the footer claims more than the file can hold, a column is missing,
    foreign or of another type, or the metadata is not a clip and run of this format."""
    return _open_clip(Path(path))[1]


def _names(names: Sequence[str]) -> str:
    """Column names for a message: plain when short and printable, else quoted; five at most.

    >>> _names(["secret", "a\\nb"]), _names([str(i) for i in range(7)])
    ("secret, 'a\\\\nb'", '0, 1, 2, 3, 4 and 2 more')
    """
    shown = [n if n.isprintable() and len(n) <= 40 else quote_value(n, 40) for n in names[:5]]
    return ", ".join(shown) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _open_clip(path: Path) -> tuple[pq.ParquetFile, dict[str, Any]]:
    """The clip file opened (footer bounded) with its checked metadata."""
    pf = open_parquet(path, MAX_CLIP_ROWS)
    try:
        schema = pf.schema_arrow
    except READ_ERRORS as exc:
        raise InputError(f"{quote_value(path.name)}: its Arrow schema cannot be read: {quote_value(exc, 120)}") from None
    missing = [n for n in CLIP_SCHEMA.names if n not in schema.names and n not in _LATER_COLUMNS]
    foreign = [n for n in schema.names if n not in CLIP_SCHEMA.names]
    if missing or foreign or len(set(schema.names)) != len(schema.names):
        what = "; ".join(
            p for p in (f"missing column(s) {', '.join(missing)}" if missing else "",
                        f"foreign column(s) {_names(foreign)}" if foreign else "",
                        "a column twice" if not (missing or foreign) else "") if p
        )
        raise InputError(
            f"{quote_value(str(path), 120)}: {what}; expected the columns of a clip file written by `urbanlens ingest --engine ray` "
            "(a folder from `export-parquet` holds frame rows only: read it with `indicators --parquet`)"
        )
    check_types(path, schema, CLIP_RULES, {f.name: f.type for f in CLIP_SCHEMA})
    raw = (schema.metadata or {}).get(_META_KEY)
    try:
        meta = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        meta = None
    return pf, check_clip_meta(path, meta, CLIP_FORMAT)


def clip_files(folder: str | Path) -> list[Path]:
    """Every visible Parquet file under ``folder`` (names and folders starting with ``.`` or ``_`` are skipped, as readers do)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"Parquet folder {str(folder)!r} does not exist")
    return sorted(
        p for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def import_clips(
    store: Store, folder: str | Path, files: Sequence[Path] | None = None, on_clip: Callable[[Path, IngestResult], None] | None = None,
    on_refused: Callable[[Path, str], None] | None = None, replace: bool = False,
) -> list[IngestResult]:
    """Load clip files into the database, one transaction per clip; clips already stored with the
    same settings are skipped (a second import of a folder stores nothing).

    ``files``: only these (default: every file of ``folder``). Two steps:

    1. Every file's footer is checked first (:func:`check_clip_file`: its claims against its size,
       its columns and their types, its clip and run): a file that is not a clip file of this
       format, or a camera the database does not know, refuses the whole import with an
       :class:`InputError` and nothing is stored.
    2. Each clip is read, its values checked (:func:`read_clip`) and stored in a transaction of its
       own. A clip whose values are refused stores nothing: with ``on_refused`` it is reported there
       (path, one-line reason) and the import goes on; without, its :class:`InputError` ends the
       import (the clips before it stay stored). A clip stored under another camera or start time is
       refused so (:class:`~analytics.store.ingest.StoredElsewhere`), or moved with ``replace``.
    """
    if not isinstance(store, Store):
        raise InputError(f"store must be an open database Store, got {type(store).__name__}")
    paths = list(files) if files is not None else clip_files(folder)
    if not paths:
        raise InputError(f"no clip files (clip-*.parquet) under {quote_value(str(folder), 120)}")
    metas = [check_clip_file(p) for p in paths]
    with store.reading():
        for cam in sorted({str(m["clip"]["camera_id"]) for m in metas}):
            store.camera(cam)
    results = []
    for p in paths:
        try:
            res = store.ingest(read_clip(p), replace=replace)[0]
        except InputError as exc:
            if on_refused is None:
                raise
            on_refused(p, str(exc))
            continue
        results.append(res)
        if on_clip is not None:
            on_clip(p, res)
    return results


class ParquetSink:
    """A :class:`~analytics.store.sink.ClipSink` whose clips land as Parquet files (:func:`write_clip`):
    what a cluster worker hands to :func:`analytics.footage.pipeline.analyse_clip`, so a clip is
    analysed by the same code as locally, skipped the same way when already there, and written
    whole or not at all. It answers no queries (read a folder with :class:`ParquetStore`).

    ``cameras``: the rows of the cameras the clips come from (read from the database by the
    driver); ``zones``: each camera's zones (columns zone, role, polygon_json), measured as locally.
    """

    def __init__(
        self, folder: str | Path, cameras: Mapping[str, Mapping[str, Any]], zones: Mapping[str, pd.DataFrame] | None = None,
        *, before_rename: Callable[[Path], None] | None = None, calibrations: Mapping[str, np.ndarray] | None = None,
        calibration_frames: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        self.path = Path(folder).expanduser()
        self._cameras = {str(k): dict(v) for k, v in cameras.items()}
        self._zones = dict(zones or {})
        self._before_rename = before_rename
        self._calibrations = {str(k): np.asarray(v, dtype=np.float64) for k, v in (calibrations or {}).items()}
        self._calibration_frames = {str(k): tuple(v) for k, v in (calibration_frames or {}).items()}

    def open_writer_early(self) -> None:
        """Nothing to open: each clip is a file of its own."""

    def drop_early_writer(self) -> None:
        """Nothing was opened."""

    @contextmanager
    def reading(self) -> Iterator[ParquetSink]:
        """Nothing to open: the cameras and zones are in memory."""
        yield self

    def camera(self, camera_id: str) -> dict[str, Any]:
        if camera_id not in self._cameras:
            raise InputError(f"unknown camera {camera_id!r}; this job knows {', '.join(sorted(self._cameras)) or 'no cameras'}")
        return dict(self._cameras[camera_id])

    def zones(self, camera_id: str) -> pd.DataFrame:
        z = self._zones.get(camera_id)
        return z.copy() if z is not None else pd.DataFrame(columns=["zone", "role", "polygon_json"])

    def calibration(self, camera_id: str) -> np.ndarray | None:
        """The camera's ground calibration handed to the job (``calibrations``), None when it has none."""
        h = self._calibrations.get(camera_id)
        return h.copy() if h is not None else None

    def calibration_frame(self, camera_id: str) -> tuple[int, int] | None:
        """(width, height) the camera's calibration was drawn on (``calibration_frames``), None when not given."""
        size = self._calibration_frames.get(camera_id)
        return (int(size[0]), int(size[1])) if size is not None else None

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        """Refused: a cluster job writes clips of the database's cameras."""
        raise InputError("a cluster job writes clips of the cameras in the database; add cameras with `urbanlens cameras add`")

    def set_zones(self, camera_id: str, zones: pd.DataFrame, *, synthetic: bool = False) -> int:
        """Refused: a cluster job measures the zones stored with each camera."""
        raise InputError("a cluster job measures the zones stored with each camera; set zones with `urbanlens ingest --zones` locally")

    def stored_clip(self, clip_sha256: str) -> tuple[str, datetime] | None:
        """None: a folder is not asked (the database's import refuses a clip stored under another camera or start)."""
        return None

    def is_ingested(self, clip_sha256: str, settings_key: str) -> bool:
        return clip_written(self.path, clip_sha256, settings_key) is not None

    def ingest(self, measurements: ClipMeasurements | Sequence[ClipMeasurements], *, replace: bool = False) -> list[IngestResult]:
        """Write each clip's file (skipped when already there whole with the same settings); ``replace`` has no
        effect here: a folder holds no other place for a clip than its file's (the database's import checks it)."""
        batch = [measurements] if isinstance(measurements, ClipMeasurements) else list(measurements)
        out = []
        for m in batch:
            label = m.clip.label or m.clip.sha256[:12]
            if self.is_ingested(m.clip.sha256, m.run.settings_key):
                out.append(IngestResult(m.clip.sha256, label, "skipped", None, 0, "already written with the same model and settings"))
                continue
            verdict = assess_measurements(m)
            path = write_clip(self.path, m, self.camera(m.clip.camera_id), before_rename=self._before_rename)
            msg = f"wrote {m.n} sampled frames to {path.relative_to(self.path).as_posix()}"
            out.append(IngestResult(m.clip.sha256, label, "stored", None, m.n, msg, verdict.trust, verdict.reasons))
        return out
