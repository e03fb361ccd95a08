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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics.errors import InputError, SchemaVersionError, StoreError
from analytics.geo import validate_cameras
from analytics.records import ClipMeasurements
from analytics.store.ingest import IngestResult, ingest_batch
from analytics.store.places import write_cameras, write_districts, write_zones
from analytics.store.schema import GROUP_COLUMNS, LATEST_VERSION, MIGRATIONS, migrate, schema_version

__all__ = ["GROUP_COLUMNS", "LATEST_VERSION", "MIGRATIONS", "IngestResult", "Store", "migrate", "open_store", "schema_version"]


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
        if "lock" in text.lower():
            raise StoreError(f"database {str(path)!r} is in use by another process (close the dashboard or the other command)") from None
        raise StoreError(f"cannot open database {str(path)!r}: {text.splitlines()[0]}") from None
    except (duckdb.Error, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "read-only" in first.lower() or "permission" in first.lower():
            raise StoreError(f"cannot write database {str(path)!r}: the location is read-only") from None
        raise StoreError(f"cannot open database {str(path)!r}: {first}") from None


class Store:
    """An open UrbanLens database. Safe to share between threads: each call uses its own cursor."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self._con = _connect(self.path, read_only)
        self._write_lock = threading.Lock()
        try:
            if read_only:
                version = schema_version(self._con)
                if version != LATEST_VERSION:
                    raise SchemaVersionError(
                        f"database schema version {version}, this UrbanLens reads {LATEST_VERSION}; open it once read-write to upgrade"
                    )
            else:
                self.upgraded_from, _ = migrate(self._con)
        except duckdb.Error as exc:
            self._con.close()
            raise StoreError(f"cannot read {str(self.path)!r}: {str(exc).splitlines()[0]}") from None
        except Exception:
            self._con.close()
            raise

    # -- connection helpers -------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one thread (DuckDB connections are not shared across threads)."""
        return self._con.cursor()

    def query_df(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a parameterised query and return a DataFrame."""
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cur = self.cursor()
        try:
            rows = cur.execute(sql, params or []).fetchall()
            return rows[0][0] if rows else None
        finally:
            cur.close()

    def close(self) -> None:
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
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
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
            return write_districts(cur, df)

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        """Insert or replace cameras (columns camera_id, name, lon, lat, heading, kind[, source]).

        Each camera is placed in the district whose polygon contains it (none if outside all).
        """
        df = validate_cameras(cameras)
        with self.transaction() as cur:
            return write_cameras(cur, df)

    def set_zones(self, camera_id: str, zones: pd.DataFrame) -> int:
        """Replace a camera's zones (columns zone, role, polygon_json in frame coordinates)."""
        self.camera(camera_id)
        with self.transaction() as cur:
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
        return self.query_df("SELECT zone, role, polygon_json FROM camera_zones WHERE camera_id = ? ORDER BY zone", [camera_id])

    # -- ingestion --------------------------------------------------------------------------
    def is_ingested(self, clip_sha256: str, settings_key: str) -> bool:
        n = self.scalar("SELECT count(*) FROM model_runs WHERE clip_sha256 = ? AND settings_key = ?", [clip_sha256, settings_key])
        return bool(n)

    def ingest(self, measurements: ClipMeasurements | Sequence[ClipMeasurements]) -> list[IngestResult]:
        """Store the measurements of one or more clips in ONE transaction (all or nothing).

        Clips already stored under the same run settings are skipped (reported as ``skipped``).
        """
        batch = [measurements] if isinstance(measurements, ClipMeasurements) else list(measurements)
        if not batch:
            return []
        with self.transaction() as cur:
            return ingest_batch(cur, batch)

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


def open_store(path: str | Path, read_only: bool = False) -> Store:
    """Open the database file at ``path`` (callers pass ``settings.db_path``), upgrading an older schema
    unless ``read_only``."""
    if not isinstance(path, str | Path) or not str(path).strip():
        raise InputError(f"database path {path!r}; expected a file path such as settings.db_path")
    return Store(path, read_only=read_only)
