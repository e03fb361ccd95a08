"""The DuckDB store: one file of cameras, districts, clips, model runs and per-frame measurements.

This module holds the :class:`Store` (connections, transactions, reads); the schema and its
migrations are :mod:`analytics.store.schema`, the ingest writes :mod:`analytics.store.ingest`,
the places :mod:`analytics.store.places`.

Guarantees
----------
- Schema versioned: :data:`~analytics.store.schema.MIGRATIONS` run in order; opening an older file
  upgrades it in one transaction, a file from a newer UrbanLens is refused
  (:class:`~analytics.errors.SchemaVersionError`).
- One transaction per ingestion call: a failure half-way leaves nothing of it.
- Idempotent: a clip (content SHA-256) already stored under the same run settings is skipped
  and reported as such. A new run of a stored clip (other model or settings) becomes the
  clip's *active* run; the older run's rows are kept but no longer counted in indicators.
- Bulk writes go through pandas/Arrow DataFrames, never row-by-row inserts.
- All SQL is parameterised.

Connections: many readers, one writer, nobody holding the file
---------------------------------------------------------------
DuckDB locks the file per process: a process that opens it read-write excludes every other
process; processes that open it read-only exclude writers but not each other; and within one
process a read-only and a read-write connection to the same file cannot be open at once. So a
:class:`Store` holds no connection between calls:

- every read (:meth:`Store.query_df`, :meth:`Store.cursor`, a :meth:`Store.reading` block) opens a
  short-lived **read-only** connection and closes it when done, also on a store opened for
  writing;
- every write (:meth:`Store.transaction`: one clip, one import) opens the file read-write,
  commits and closes it;
- an open that finds the file busy retries with growing pauses for up to ``lock_timeout_s``
  seconds (``Settings.lock_timeout_s``, ``URBANLENS_LOCK_TIMEOUT_S``), says so through
  ``on_wait`` once the wait has lasted :data:`NOTICE_AFTER_S`, then raises one
  :class:`~analytics.errors.StoreError` naming the process that holds the file;
- writers go first: a writer that waits keeps a marker file ``<database>.writer-waiting``
  fresh, and readers (of any process, this one included) do not open the file while it is
  fresh, so the readers' short connections drain and a stream of them cannot starve the writer.

:func:`data_version` tells readers cheaply (two ``stat`` calls, no lock) whether the data may
have changed, so cached results can be kept until it does.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd

from analytics.errors import DataFormatError, InputError, StoreError, quote_value
from analytics.geo import validate_cameras
from analytics.records import ClipMeasurements
from analytics.settings import DEFAULT_LOCK_TIMEOUT_S
from analytics.store.ingest import DEMO_SOURCE, IngestResult, clip_location, database_holds, ingest_batch, refuse_mixing
from analytics.store.places import (
    latest_clip_size,
    read_calibration,
    write_calibration,
    write_cameras,
    write_districts,
    write_zones,
)
from analytics.store.schema import GROUP_COLUMNS, LATEST_VERSION, MIGRATIONS, check_readable, migrate, schema_version

__all__ = [
    "GROUP_COLUMNS", "LATEST_VERSION", "CursorQueries", "HasCursor", "MIGRATIONS", "IngestResult", "Store", "data_version", "migrate",
    "open_store", "schema_version",
]

NOTICE_AFTER_S = 0.5
"""A wait for a busy database is reported (``on_wait``) once it has lasted this long."""
RETRY_FIRST_S = 0.01
RETRY_MAX_S = 0.25
"""Pauses between attempts to open a busy database: doubling from the first to the largest."""
WRITER_MARK_FRESH_S = 2.0
"""A writer's marker younger than this holds readers back; an older one (its writer died) is ignored."""

_log = logging.getLogger(__name__)
_HOLDER = re.compile(r"\(PID (\d+)\)")


class _Busy(StoreError):
    """The file is locked by another process, or open in this process in the other mode."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"database {str(path)!r} is in use by {holder}")
        self.holder = holder


def _holder(text: str) -> str:
    """Who holds the lock, from DuckDB's message.

    >>> _holder('Could not set lock on file "a.duckdb": Conflicting lock is held in /usr/bin/python3 (PID 4242).')
    'another process (PID 4242)'
    >>> _holder("Can't open a connection to same database file with a different configuration")
    'this process (a connection in the other mode is open)'
    """
    found = _HOLDER.search(text)
    if found:
        return f"another process (PID {found.group(1)})"
    if "different configuration" in text:
        return "this process (a connection in the other mode is open)"
    return "another process"


def _is_busy(text: str) -> bool:
    return "Could not set lock" in text or "Conflicting lock" in text or "different configuration" in text


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for the database {str(path)!r}: {exc.strerror}") from None
    if read_only and not path.exists():
        raise StoreError(f"database {str(path)!r} does not exist; run `urbanlens demo` or ingest a clip first")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "not a valid DuckDB database" in text or "Invalid Input" in text or "not a DuckDB" in text.lower():
            raise StoreError(f"{str(path)!r} is not a DuckDB database file (UrbanLens expects a .duckdb file it created)") from None
        if _is_busy(text):
            raise _Busy(path, _holder(text)) from None
        raise StoreError(f"cannot open database {str(path)!r}: {text.splitlines()[0]}") from None
    except (duckdb.Error, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if _is_busy(first):
            raise _Busy(path, _holder(first)) from None
        if "read-only" in first.lower() or "permission" in first.lower():
            raise StoreError(f"cannot write database {str(path)!r}: the location is read-only") from None
        raise StoreError(f"cannot open database {str(path)!r}: {first}") from None


def writer_mark(path: Path) -> Path:
    """The marker file a waiting writer keeps fresh beside the database.

    >>> writer_mark(Path("/data/city.duckdb")).name
    'city.duckdb.writer-waiting'
    """
    return path.with_name(path.name + ".writer-waiting")


def _writer_waiting(path: Path) -> bool:
    try:
        age = time.time() - os.stat(writer_mark(path)).st_mtime
    except OSError:
        return False
    return -WRITER_MARK_FRESH_S < age < WRITER_MARK_FRESH_S


def _mark_writer(path: Path, waiting: bool) -> None:
    """Refresh (or remove) the waiting writer's marker; a folder that cannot take it only loses the priority."""
    try:
        if waiting:
            writer_mark(path).touch()
        else:
            writer_mark(path).unlink(missing_ok=True)
    except OSError:
        pass


def connect_waiting(
    path: Path, read_only: bool, timeout_s: float, on_wait: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (read-only or read-write), retrying while another connection holds it.

    Pauses double from :data:`RETRY_FIRST_S` to :data:`RETRY_MAX_S` (with jitter, so that
    waiting processes do not retry in step) until ``timeout_s`` seconds have passed; ``on_wait``
    (default: a warning on the ``analytics.store.database`` logger) hears once when the wait
    has lasted :data:`NOTICE_AFTER_S`. Then one :class:`~analytics.errors.StoreError` says who
    holds the file and how long this waited. A reader also waits while a writer waits
    (:func:`writer_mark`); a waiting writer keeps its marker fresh and removes it when done.
    """
    start = clock()
    pause = RETRY_FIRST_S
    told = marked = False
    try:
        while True:
            if read_only and _writer_waiting(path):
                holder = "a writer waiting for it"
            else:
                try:
                    return _connect(path, read_only)
                except _Busy as busy:
                    holder = busy.holder
            waited = clock() - start
            if waited >= timeout_s:
                raise StoreError(_gave_up(path, read_only, timeout_s, holder)) from None
            if not read_only:
                _mark_writer(path, waiting=True)
                marked = True
            if not told and waited >= NOTICE_AFTER_S:
                told = True
                (on_wait or _log.warning)(
                    f"database {str(path)!r} is in use by {holder}; waiting up to {timeout_s:g} s to "
                    f"{'read' if read_only else 'write'} it…"
                )
            sleep(min(pause * random.uniform(0.5, 1.0), max(timeout_s - waited, 0.0)))
            pause = min(pause * 2, RETRY_MAX_S)
    finally:
        if marked:
            _mark_writer(path, waiting=False)


def _gave_up(path: Path, read_only: bool, timeout_s: float, holder: str) -> str:
    """The one line said when a busy database stayed busy for the whole wait."""
    what = "read" if read_only else "write"
    return (
        f"database {str(path)!r} is in use by {holder}: could not {what} it within {timeout_s:g} s "
        "(URBANLENS_LOCK_TIMEOUT_S); try again when the other command has finished, or wait longer"
    )


def data_version(path: str | Path) -> tuple[int, ...]:
    """A token that changes whenever committed data in the database at ``path`` may have changed.

    ``(inode, mtime_ns, size)`` of the file and of its write-ahead log ``<path>.wal`` (zeros
    when absent). DuckDB appends each commit to the WAL and folds it into the file at a
    checkpoint (at the latest when the writer closes), so every commit changes one of the two;
    a reader that only opens the file read-only changes neither, nor does a writer that commits
    nothing. Two ``stat`` calls and no lock: it answers while a writer holds the file. Take the
    token *before* reading, so that data cached under it is at least as new as the token.

    >>> data_version("/nonexistent/urbanlens.duckdb")
    (0, 0, 0, 0, 0, 0)
    """
    out: list[int] = []
    for p in (Path(path), Path(f"{path}.wal")):
        try:
            st = os.stat(p)
        except OSError:
            out += [0, 0, 0]
        else:
            out += [st.st_ino, st.st_mtime_ns, st.st_size]
    return tuple(out)


class HasCursor(Protocol):
    """Anything that opens a DuckDB cursor for a query."""

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one query (the caller closes it)."""


class CursorQueries:
    """``query_df`` and ``scalar`` for a class with a ``cursor()`` (:class:`HasCursor`: the DuckDB
    :class:`Store` and the Parquet folder reader), each query on a cursor of its own, closed after it."""

    def query_df(self: HasCursor, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a parameterised query and return a DataFrame."""
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def scalar(self: HasCursor, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first value of a parameterised query's first row (None when it returns no row)."""
        cur = self.cursor()
        try:
            rows = cur.execute(sql, params or []).fetchall()
            return rows[0][0] if rows else None
        finally:
            cur.close()


class Store(CursorQueries):
    """An UrbanLens database file. Holds no connection between calls (see the module docstring):
    reads open short-lived read-only connections, each write transaction opens the file read-write
    and closes it. Safe to share between threads. ``":memory:"`` keeps one in-memory connection.

    ``lock_timeout_s``: how long an open waits for a busy file (``Settings.lock_timeout_s``);
    ``on_wait``: told once when a wait lasts (default: a logged warning).

    A :class:`~analytics.store.sink.ClipSink`: the pipeline stores analysed clips in it.
    """

    def __init__(
        self, path: str | Path, read_only: bool = False, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(lock_timeout_s, int | float) or not 0 <= lock_timeout_s < float("inf"):
            raise InputError(f"lock_timeout_s={lock_timeout_s!r}; expected a number of seconds of at least 0 (settings.lock_timeout_s)")
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self.lock_timeout_s = float(lock_timeout_s)
        self.on_wait = on_wait
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._con: duckdb.DuckDBPyConnection | None = None
        if str(path) == ":memory:":
            self._con = _connect(self.path, read_only=False)
            self.upgraded_from, _ = migrate(self._con)
            return
        self.upgraded_from = self._prepare()

    def _prepare(self) -> int:
        """Check the schema (read-only, so an up-to-date file is not locked for writing); upgrade an
        older file, or create a missing one, unless read-only. Returns the version found."""
        if self.read_only or self.path.exists():
            con = self._open(write=False)
            try:
                version = schema_version(con)
            except duckdb.Error as exc:
                raise StoreError(f"cannot read {str(self.path)!r}: {str(exc).splitlines()[0]}") from None
            finally:
                con.close()
            if self.read_only:
                check_readable(version, str(self.path))
            if self.read_only or version == LATEST_VERSION:
                return version
        con = self._open(write=True)
        try:
            return migrate(con)[0]
        except duckdb.Error as exc:
            raise StoreError(f"cannot read {str(self.path)!r}: {str(exc).splitlines()[0]}") from None
        finally:
            con.close()

    # -- connection helpers -------------------------------------------------------------------
    def _open(self, write: bool, wait: bool = True) -> duckdb.DuckDBPyConnection:
        return connect_waiting(self.path, not write, self.lock_timeout_s if wait else 0.0, self.on_wait)

    def open_writer_early(self) -> None:
        """Open the file read-write now for this thread's next :meth:`transaction`, which then
        starts without the open (about 15-20 ms: DuckDB starts a database instance per open).

        For a caller with idle time now and a write soon after (the pipeline, while its last
        frames are segmented): until that transaction, or :meth:`drop_early_writer`, this process
        holds the file as a writer does. Best effort: a busy file, an open connection of this
        thread or an in-memory store leave things as they are, and the transaction opens as usual.
        """
        if self._con is not None or self.read_only or self._held() is not None:
            return
        try:
            self._local.early = self._open(write=True, wait=False)
        except StoreError:
            self._local.early = None

    def _held(self) -> duckdb.DuckDBPyConnection | None:
        """This thread's open connection: its reading() block's or transaction's, else the early writer's."""
        return getattr(self._local, "con", None) or getattr(self._local, "early", None)

    def drop_early_writer(self) -> None:
        """Close the connection :meth:`open_writer_early` opened, if no transaction took it."""
        con = getattr(self._local, "early", None)
        self._local.early = None
        if con is not None:
            con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for one piece of work; the caller closes it (``cur.close()``), which lets go of the file.

        Read-only, opened now (waiting while a writer holds the file); inside a :meth:`reading`
        block or a :meth:`transaction` of this thread, a cursor on that block's connection; while
        this thread holds :meth:`open_writer_early`'s connection, a cursor on it.
        """
        if self._con is not None:
            return self._con.cursor()
        held = self._held()
        if held is not None:
            return held.cursor()
        return self._open(write=False)

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """One unit of work: the reads inside (this thread) share one read-only connection, closed at the end.

        Keep it short: while it is open, writers in other processes wait.
        """
        if self._con is not None or self._held() is not None:
            yield self
            return
        con = self._open(write=False)
        self._local.con = con
        try:
            yield self
        finally:
            self._local.con = None
            con.close()

    def data_version(self) -> tuple[int, ...]:
        """:func:`data_version` of this store's file."""
        return data_version(self.path)

    def close(self) -> None:
        """Close the in-memory connection, if any (a file store holds none between calls)."""
        if self._con is not None:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on a cursor of its own; rolled back on any error."""
        if self.read_only:
            raise StoreError(f"database {str(self.path)!r} is open read-only")
        if getattr(self._local, "con", None) is not None:
            raise StoreError("a write cannot start inside a reading() block or another transaction of the same thread")
        with self._write_lock:
            early, self._local.early = getattr(self._local, "early", None), None
            cur = self._con.cursor() if self._con is not None else early or self._open(write=True)
            self._local.con = cur
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    yield cur
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
            finally:
                self._local.con = None
                cur.close()

    # -- places -----------------------------------------------------------------------------
    def upsert_districts(self, districts: pd.DataFrame) -> int:
        """Insert or replace districts (columns district_id, name, geometry_geojson[, source]).

        Validated by :func:`analytics.geo.read_districts_geojson`; then re-assigns cameras and
        frames to districts by location (:func:`analytics.store.places.assign_districts`).
        """
        df = districts.copy()
        if "source" not in df.columns:
            df["source"] = "user"
        with self.transaction() as cur:
            if not (df["source"] == DEMO_SOURCE).all():  # the demo city's polygons may go anywhere, real ones not into the demo
                refuse_mixing(cur, self.where, synthetic=False, what="districts")
            return write_districts(cur, df)

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        """Insert or replace cameras (columns camera_id, name, lon, lat, heading, kind[, source]).

        Each camera is placed in the district whose polygon contains it (none if outside all).
        """
        df = validate_cameras(cameras)
        synthetic = set(df["source"] == DEMO_SOURCE)
        if len(synthetic) > 1:
            raise InputError("the cameras mix the demo city's (source 'synthetic') and real ones; they go into separate databases")
        with self.transaction() as cur:
            if synthetic:
                refuse_mixing(cur, self.where, synthetic=synthetic.pop(), what="cameras")
            return write_cameras(cur, df)

    def set_zones(self, camera_id: str, zones: pd.DataFrame, *, synthetic: bool = False) -> int:
        """Replace a camera's zones (columns zone, role, polygon_json in frame coordinates).

        ``synthetic``: the demo city's own zones; other zones are refused by the demo city's database.
        """
        self.camera(camera_id)
        with self.transaction() as cur:
            refuse_mixing(cur, self.where, synthetic=synthetic, what="zones")
            return write_zones(cur, camera_id, zones)

    def camera(self, camera_id: str) -> dict[str, Any]:
        """One camera as a dict; InputError naming the known cameras if absent."""
        df = self.query_df("SELECT * FROM cameras WHERE camera_id = ?", [camera_id])
        if df.empty:
            known = self.query_df("SELECT camera_id FROM cameras ORDER BY camera_id LIMIT 10")["camera_id"].tolist()
            hint = f"; known cameras include {', '.join(known)}" if known else "; the database has no cameras yet"
            raise InputError(f"unknown camera {camera_id!r}{hint} (add one with `urbanlens cameras add`)")
        return {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in df.iloc[0].to_dict().items()}

    def cameras(self) -> pd.DataFrame:
        return self.query_df("SELECT * FROM cameras ORDER BY camera_id")

    def districts(self) -> pd.DataFrame:
        return self.query_df("SELECT * FROM districts ORDER BY name")

    def zones(self, camera_id: str) -> pd.DataFrame:
        """The camera's zones: zone, role, polygon_json, and in_label, out_label, drawn_width, drawn_height
        (NULL except for count lines and dwell zones)."""
        return self.query_df(
            "SELECT zone, role, polygon_json, in_label, out_label, drawn_width, drawn_height FROM camera_zones "
            "WHERE camera_id = ? ORDER BY zone", [camera_id]
        )

    def calibration(self, camera_id: str) -> np.ndarray | None:
        """The camera's ground calibration (``camera_calibrations.homography_json``): a 3x3 homography from
        image pixels to ground metres, None when the camera has none; a stored value that is not a finite
        3x3 list of numbers is a :class:`~analytics.errors.DataFormatError`."""
        text = self.scalar("SELECT homography_json FROM camera_calibrations WHERE camera_id = ?", [camera_id])
        if text is None:
            return None
        try:
            h = np.asarray(json.loads(str(text)), dtype=np.float64)
        except (ValueError, TypeError):
            h = np.zeros(0)
        if h.shape != (3, 3) or not np.isfinite(h).all():
            raise DataFormatError(f"camera {camera_id!r}: stored ground calibration {quote_value(text, 60)} is not a 3x3 list of "
                                  "finite numbers; calibrate it again (`urbanlens cameras calibrate`)")
        return h

    def calibration_frame(self, camera_id: str) -> tuple[int, int] | None:
        """(width, height) of the frame the camera's ground calibration was drawn on, None when it has none."""
        row = self.cursor().execute(
            "SELECT drawn_width, drawn_height FROM camera_calibrations WHERE camera_id = ?", [camera_id]).fetchone()
        return (int(row[0]), int(row[1])) if row is not None else None

    # -- ingestion --------------------------------------------------------------------------
    def is_ingested(self, clip_sha256: str, settings_key: str) -> bool:
        n = self.scalar("SELECT count(*) FROM model_runs WHERE clip_sha256 = ? AND settings_key = ?", [clip_sha256, settings_key])
        return bool(n)

    def stored_clip(self, clip_sha256: str) -> tuple[str, datetime] | None:
        """(camera id, start time) of the stored clip with this SHA-256, None when it is not stored."""
        cur = self.cursor()
        try:
            return clip_location(cur, clip_sha256)
        finally:
            cur.close()

    def ingest(self, measurements: ClipMeasurements | Sequence[ClipMeasurements], *, replace: bool = False) -> list[IngestResult]:
        """Store the measurements of one or more clips in ONE transaction (all or nothing).

        Clips already stored under the same run settings are skipped (reported as ``skipped``); a clip
        stored under another camera or start time is refused (:class:`~analytics.store.ingest.StoredElsewhere`),
        or with ``replace`` moved there: its old rows are deleted in the same transaction.
        """
        batch = [measurements] if isinstance(measurements, ClipMeasurements) else list(measurements)
        if not batch:
            return []
        with self.transaction() as cur:
            return ingest_batch(cur, batch, self.where, replace=replace)

    @property
    def where(self) -> str:
        """This database in messages: ``database '<path>'``."""
        return f"database {str(self.path)!r}"

    def holds(self) -> frozenset[str]:
        """:func:`~analytics.store.ingest.database_holds`: ``"synthetic"`` (the demo city) and/or ``"real"``, or nothing."""
        cur = self.cursor()
        try:
            return database_holds(cur)
        finally:
            cur.close()

    def stats(self) -> dict[str, Any]:
        """Counts for the Data page and reports."""
        row = self.query_df(
            "SELECT (SELECT count(*) FROM cameras) AS cameras, (SELECT count(*) FROM districts) AS districts, "
            "(SELECT count(*) FROM clips) AS clips, (SELECT count(*) FROM model_runs) AS runs, "
            "(SELECT count(*) FROM frames WHERE active) AS frames, "
            "(SELECT coalesce(sum(duration_s), 0) / 3600.0 FROM clips) AS hours, "
            "(SELECT coalesce(avg(CASE WHEN source = 'synthetic' THEN 1.0 ELSE 0.0 END), 0) FROM clips) AS synthetic_share, "
            "(SELECT min(ts) FROM frames WHERE active) AS first_ts, (SELECT max(ts) FROM frames WHERE active) AS last_ts"
        ).iloc[0]
        out: dict[str, Any] = {str(k): v for k, v in row.to_dict().items()}
        out["path"] = str(self.path)
        out["schema_version"] = LATEST_VERSION
        try:
            out["size_mb"] = self.path.stat().st_size / 1e6
        except OSError:
            out["size_mb"] = float("nan")
        return out

    # -- counting: geometry size and ground calibration --------------------------------------
    def latest_clip_size(self, camera_id: str) -> tuple[int, int] | None:
        """(width, height) of the camera's latest clip (the frame its count geometry must fit), or None."""
        cur = self.cursor()
        try:
            return latest_clip_size(cur, camera_id)
        finally:
            cur.close()

    def set_calibration(self, camera_id: str, calibration: dict[str, Any]) -> None:
        """Replace the camera's ground calibration (:func:`~analytics.store.places.write_calibration`):
        ``homography`` maps image pixels to ground metres, for frames of ``drawn_size``."""
        self.camera(camera_id)
        with self.transaction() as cur:
            write_calibration(cur, camera_id, calibration, datetime.now())

    def calibration_record(self, camera_id: str) -> dict[str, Any] | None:
        """The camera's ground calibration with its points and drawn size, or None (:func:`~analytics.store.places.read_calibration`)."""
        cur = self.cursor()
        try:
            return read_calibration(cur, camera_id)
        finally:
            cur.close()


def open_store(
    path: str | Path, read_only: bool = False, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
) -> Store:
    """Open the database file at ``path`` (callers pass ``settings.db_path`` and ``settings.lock_timeout_s``),
    upgrading an older schema unless ``read_only``. See :class:`Store` for the waiting."""
    if not isinstance(path, str | Path) or not str(path).strip():
        raise InputError(f"database path {path!r}; expected a file path such as settings.db_path")
    return Store(path, read_only=read_only, lock_timeout_s=lock_timeout_s, on_wait=on_wait)
