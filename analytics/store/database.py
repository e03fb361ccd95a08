"""The DuckDB store: one file of cameras, districts, clips, model runs and per-frame measurements.

Guarantees
----------
- Schema versioned: :data:`MIGRATIONS` runs in order; opening an older file upgrades it in one
  transaction, a file from a newer UrbanLens is refused (:class:`SchemaVersionError`).
- One transaction per ingestion call: a failure half-way leaves nothing of it.
- Idempotent: a clip (content SHA-256) already stored under the same run settings is skipped
  and reported as such. A new run of a stored clip (other model or settings) becomes the
  clip's *active* run; the older run's rows are kept but no longer counted in indicators.
- Bulk writes go through pandas/Arrow DataFrames, never row-by-row inserts.
- All SQL is parameterised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import __version__
from analytics.errors import InputError, SchemaVersionError, StoreError
from analytics.records import OBJECT_GROUPS, ClipMeasurements
from analytics.taxonomy import GROUPS

GROUP_COLUMNS = tuple(f"{g}_px" for g in GROUPS)

_FRAME_COLUMNS_V1 = (
    "frame_id BIGINT NOT NULL, run_id INTEGER NOT NULL, clip_sha256 VARCHAR NOT NULL, camera_id VARCHAR NOT NULL, "
    "district_id VARCHAR, frame_index INTEGER NOT NULL, t_s DOUBLE NOT NULL, ts TIMESTAMP NOT NULL, "
    "lon DOUBLE, lat DOUBLE, active BOOLEAN NOT NULL, synthetic BOOLEAN NOT NULL, "
    + ", ".join(f"{c} BIGINT" + ("" if c == "damage_px" else " NOT NULL") for c in GROUP_COLUMNS)
    + ", valid_px BIGINT NOT NULL, n_person INTEGER NOT NULL, n_two_wheeler INTEGER NOT NULL, n_vehicle INTEGER NOT NULL, "
    "mean_confidence DOUBLE, low_conf_share DOUBLE, flicker DOUBLE, vehicle_stationarity DOUBLE, "
    "distress_crack_px DOUBLE, distress_pothole_px DOUBLE"
)

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "initial schema: places, clips, runs, frames, class pixels, objects",
        [
            "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
            "CREATE TABLE districts (district_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "
            "geometry_geojson VARCHAR NOT NULL, source VARCHAR NOT NULL DEFAULT 'user')",
            "CREATE TABLE cameras (camera_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, lon DOUBLE NOT NULL, "
            "lat DOUBLE NOT NULL, heading DOUBLE, kind VARCHAR NOT NULL DEFAULT 'fixed', district_id VARCHAR, "
            "source VARCHAR NOT NULL DEFAULT 'user')",
            "CREATE TABLE clips (clip_sha256 VARCHAR PRIMARY KEY, camera_id VARCHAR NOT NULL, start_time TIMESTAMP NOT NULL, "
            "duration_s DOUBLE NOT NULL, fps DOUBLE NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, "
            "n_frames INTEGER NOT NULL, source VARCHAR NOT NULL, label VARCHAR, ingested_at TIMESTAMP NOT NULL)",
            "CREATE TABLE model_runs (run_id INTEGER PRIMARY KEY, clip_sha256 VARCHAR NOT NULL, settings_key VARCHAR NOT NULL, "
            "model_name VARCHAR NOT NULL, weights_sha256 VARCHAR NOT NULL, class_set_json VARCHAR NOT NULL, "
            "sampling VARCHAR NOT NULL, smoothing VARCHAR NOT NULL, code_version VARCHAR NOT NULL, params_json VARCHAR NOT NULL, "
            "created_at TIMESTAMP NOT NULL, active BOOLEAN NOT NULL, n_frames INTEGER NOT NULL, "
            "UNIQUE (clip_sha256, settings_key))",
            f"CREATE TABLE frames ({_FRAME_COLUMNS_V1})",
            "CREATE TABLE frame_class_pixels (frame_id BIGINT NOT NULL, class_id SMALLINT NOT NULL, pixels BIGINT NOT NULL)",
            "CREATE TABLE frame_objects (frame_id BIGINT NOT NULL, grp VARCHAR NOT NULL, x0 INTEGER, y0 INTEGER, "
            "x1 INTEGER, y1 INTEGER, area_px INTEGER)",
        ],
    ),
    (
        2,
        "zones per camera, per-zone pixels, pedestrians on sidewalks, anonymised previews",
        [
            "CREATE TABLE camera_zones (camera_id VARCHAR NOT NULL, zone VARCHAR NOT NULL, role VARCHAR NOT NULL, "
            "polygon_json VARCHAR NOT NULL, PRIMARY KEY (camera_id, zone))",
            "CREATE TABLE frame_zone_pixels (frame_id BIGINT NOT NULL, zone VARCHAR NOT NULL, role VARCHAR NOT NULL, "
            "grp VARCHAR NOT NULL, pixels BIGINT NOT NULL)",
            "ALTER TABLE frames ADD COLUMN person_sidewalk_px BIGINT",
            "CREATE TABLE previews (run_id INTEGER NOT NULL, frame_id BIGINT NOT NULL, kind VARCHAR NOT NULL, "
            "mime VARCHAR NOT NULL, image BLOB NOT NULL)",
        ],
    ),
]
LATEST_VERSION = MIGRATIONS[-1][0]

CAMERA_KINDS = ("fixed", "mobile")
ZONE_ROLES = ("sidewalk", "lane", "crossing", "plaza", "bike_lane", "parking", "other")


@dataclass(frozen=True)
class IngestResult:
    """What happened to one clip: ``stored`` or ``skipped`` (already there), with a message."""

    clip_sha256: str
    label: str
    status: str
    run_id: int | None
    n_frames: int
    message: str


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


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """Schema version of an open database (0 for an empty file)."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' AND table_schema = 'main'"
    ).fetchall()[0][0]
    if not has_meta:
        tables = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'").fetchall()[0][0]
        if tables > 0:
            raise StoreError("this DuckDB file holds tables that UrbanLens did not create (no 'meta' table)")
        return 0
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> tuple[int, int]:
    """Bring the schema up to ``target`` in one transaction; returns (from, to) versions."""
    current = schema_version(con)
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"database schema version {current} is newer than this UrbanLens ({__version__}, schema {LATEST_VERSION}); "
            "upgrade UrbanLens to open it"
        )
    if current >= target:
        return current, current
    con.execute("BEGIN TRANSACTION")
    try:
        for version, _why, statements in MIGRATIONS:
            if current < version <= target:
                for sql in statements:
                    con.execute(sql)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('written_by', ?)", [str(target), f"urbanlens {__version__}"]
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return current, target


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
        frames to districts by location.
        """
        from analytics.geo import assign_districts

        df = districts.copy()
        if "source" not in df.columns:
            df["source"] = "user"
        df = df[["district_id", "name", "geometry_geojson", "source"]]
        with self.transaction() as cur:
            cur.register("new_districts", df)
            cur.execute("DELETE FROM districts WHERE district_id IN (SELECT district_id FROM new_districts)")
            cur.execute("INSERT INTO districts SELECT * FROM new_districts")
            cur.unregister("new_districts")
            assign_districts(cur)
        return len(df)

    def upsert_cameras(self, cameras: pd.DataFrame) -> int:
        """Insert or replace cameras (columns camera_id, name, lon, lat, heading, kind[, source]).

        Each camera is placed in the district whose polygon contains it (none if outside all).
        """
        from analytics.geo import assign_districts, validate_cameras

        df = validate_cameras(cameras)
        with self.transaction() as cur:
            cur.register("new_cameras", df)
            cur.execute("DELETE FROM cameras WHERE camera_id IN (SELECT camera_id FROM new_cameras)")
            cur.execute(
                "INSERT INTO cameras (camera_id, name, lon, lat, heading, kind, district_id, source) "
                "SELECT camera_id, name, lon, lat, heading, kind, NULL, source FROM new_cameras"
            )
            cur.unregister("new_cameras")
            assign_districts(cur)
        return len(df)

    def set_zones(self, camera_id: str, zones: pd.DataFrame) -> int:
        """Replace a camera's zones (columns zone, role, polygon_json in frame coordinates)."""
        self.camera(camera_id)
        df = zones.copy()
        df.insert(0, "camera_id", camera_id)
        with self.transaction() as cur:
            cur.execute("DELETE FROM camera_zones WHERE camera_id = ?", [camera_id])
            cur.register("new_zones", df[["camera_id", "zone", "role", "polygon_json"]])
            cur.execute("INSERT INTO camera_zones SELECT * FROM new_zones")
            cur.unregister("new_zones")
        return len(df)

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
            return _ingest_batch(cur, batch)

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
    lon = np.full(n, float(camera["lon"])) if m.lon is None else np.where(np.isnan(m.lon), float(camera["lon"]), m.lon)
    lat = np.full(n, float(camera["lat"])) if m.lat is None else np.where(np.isnan(m.lat), float(camera["lat"]), m.lat)
    start = pd.Timestamp(m.clip.start_time).as_unit("us").to_datetime64()
    nan = np.full(n, np.nan)
    data: dict[str, Any] = {
        "frame_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "run_id": np.full(n, run_id, dtype=np.int32),
        "clip_sha256": np.full(n, m.clip.sha256, dtype=object),
        "camera_id": np.full(n, m.clip.camera_id, dtype=object),
        "district_id": np.full(n, camera.get("district_id"), dtype=object),
        "frame_index": m.frame_index.astype(np.int32),
        "t_s": m.t_s,
        "ts": start + np.round(m.t_s * 1e6).astype("timedelta64[us]"),
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
    return data


def _person_sidewalk(m: ClipMeasurements) -> np.ndarray:
    """Person-group pixels inside zones whose role is ``sidewalk``; NaN (stored NULL) where the camera has none."""
    zp = m.zone_pixels
    if zp is None or zp.empty or not (zp["role"] == "sidewalk").any():
        return np.full(m.n, np.nan)
    person_ids = list(m.run.class_set.class_ids("person"))
    side = zp[(zp["role"] == "sidewalk").to_numpy() & zp["class_id"].isin(person_ids).to_numpy()]
    return np.bincount(side["frame_pos"].to_numpy(dtype=np.int64), weights=side["pixels"].to_numpy(dtype=np.float64), minlength=m.n)


def _ingest_batch(cur: duckdb.DuckDBPyConnection, batch: list[ClipMeasurements]) -> list[IngestResult]:
    results: list[IngestResult] = []
    shas = sorted({m.clip.sha256 for m in batch})
    done = set(
        map(tuple, cur.execute(
            "SELECT clip_sha256, settings_key FROM model_runs WHERE clip_sha256 IN (SELECT unnest(?))", [shas]
        ).fetchall())
    )
    stored_clips = dict(cur.execute("SELECT clip_sha256, camera_id FROM clips WHERE clip_sha256 IN (SELECT unnest(?))", [shas]).fetchall())
    cam_ids = sorted({m.clip.camera_id for m in batch})
    cam_df = cur.execute("SELECT * FROM cameras WHERE camera_id IN (SELECT unnest(?))", [cam_ids]).df()
    cameras: dict[str, dict[str, Any]] = {str(r["camera_id"]): {str(k): v for k, v in r.items()} for r in cam_df.to_dict("records")}
    districts = cur.execute("SELECT district_id, geometry_geojson FROM districts").df() if (cam_df["kind"] == "mobile").any() else None
    next_run = int(cur.execute("SELECT coalesce(max(run_id), 0) + 1 FROM model_runs").fetchall()[0][0])
    next_frame = int(cur.execute("SELECT coalesce(max(frame_id), 0) + 1 FROM frames").fetchall()[0][0])
    now = datetime.now().replace(microsecond=0)
    clip_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    frame_parts: list[dict[str, Any]] = []
    class_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    object_parts: list[pd.DataFrame] = []
    zone_parts: list[pd.DataFrame] = []
    preview_rows: list[dict[str, Any]] = []
    superseded: list[str] = []
    for m in batch:
        key = m.run.settings_key
        label = m.clip.label or m.clip.sha256[:12]
        if (m.clip.sha256, key) in done:
            results.append(IngestResult(m.clip.sha256, label, "skipped", None, 0, "already ingested with the same model and settings"))
            continue
        done.add((m.clip.sha256, key))
        cam_id = m.clip.camera_id
        if cam_id not in cameras:
            raise InputError(f"unknown camera {cam_id!r} for clip {label}; add it first with `urbanlens cameras add {cam_id} --lon .. --lat ..`")
        camera = cameras[cam_id]
        if m.clip.sha256 in stored_clips:
            if stored_clips[m.clip.sha256] != cam_id:
                raise InputError(f"clip {label} is already stored for camera {stored_clips[m.clip.sha256]!r}, not {cam_id!r}")
            superseded.append(m.clip.sha256)
        else:
            stored_clips[m.clip.sha256] = cam_id
            clip_rows.append(
                {
                    "clip_sha256": m.clip.sha256, "camera_id": cam_id, "start_time": pd.Timestamp(m.clip.start_time),
                    "duration_s": m.clip.duration_s, "fps": m.clip.fps, "width": m.clip.width, "height": m.clip.height,
                    "n_frames": m.clip.n_frames, "source": m.clip.source, "label": m.clip.label, "ingested_at": now,
                }
            )
        run_id = next_run
        next_run += 1
        run_rows.append(
            {
                "run_id": run_id, "clip_sha256": m.clip.sha256, "settings_key": key, "model_name": m.run.model_name,
                "weights_sha256": m.run.weights_sha256, "class_set_json": json.dumps(m.run.class_set.to_dict()),
                "sampling": m.run.sampling, "smoothing": m.run.smoothing, "code_version": m.run.code_version or __version__,
                "params_json": json.dumps(m.run.params, sort_keys=True, default=str), "created_at": now, "active": True,
                "n_frames": m.n,
            }
        )
        cols = _frame_columns(m, camera, run_id, next_frame)
        if camera["kind"] == "mobile" and districts is not None:
            from analytics.geo import district_of_points

            cols["district_id"] = district_of_points(cols["lon"], cols["lat"], districts)
        next_frame += m.n
        frame_parts.append(cols)
        ids = cols["frame_id"]
        nz_f, nz_c = np.nonzero(m.class_pixels)
        class_parts.append((ids[nz_f], nz_c.astype(np.int16), m.class_pixels[nz_f, nz_c]))
        if m.objects is not None and not m.objects.empty:
            o = m.objects
            object_parts.append(
                pd.DataFrame({
                    "frame_id": ids[o["frame_pos"].to_numpy(dtype=np.int64)], "grp": o["group"].astype(str).to_numpy(),
                    "x0": o["x0"].to_numpy(np.int32), "y0": o["y0"].to_numpy(np.int32), "x1": o["x1"].to_numpy(np.int32),
                    "y1": o["y1"].to_numpy(np.int32), "area_px": o["area_px"].to_numpy(np.int32),
                })
            )
        if m.zone_pixels is not None and not m.zone_pixels.empty:
            z = m.zone_pixels
            groups = np.array(m.run.class_set.groups, dtype=object)
            zone_parts.append(
                pd.DataFrame({
                    "frame_id": ids[z["frame_pos"].to_numpy(dtype=np.int64)], "zone": z["zone"].astype(str).to_numpy(),
                    "role": z["role"].astype(str).to_numpy(), "grp": groups[z["class_id"].to_numpy(dtype=np.int64)],
                    "pixels": z["pixels"].to_numpy(dtype=np.int64),
                })
            )
        for p in m.previews:
            if not 0 <= p.frame_pos < m.n:
                raise InputError(f"preview frame_pos {p.frame_pos} outside 0..{m.n - 1}")
            preview_rows.append({"run_id": run_id, "frame_id": int(ids[p.frame_pos]), "kind": p.kind, "mime": p.mime, "image": p.image})
        results.append(IngestResult(m.clip.sha256, label, "stored", run_id, m.n, f"stored {m.n} sampled frames"))
    if superseded:
        cur.execute("UPDATE model_runs SET active = false WHERE clip_sha256 IN (SELECT unnest(?))", [superseded])
        cur.execute("UPDATE frames SET active = false WHERE clip_sha256 IN (SELECT unnest(?))", [superseded])
    _insert(cur, "clips", pd.DataFrame(clip_rows))
    _insert(cur, "model_runs", pd.DataFrame(run_rows))
    if frame_parts:
        frames = pd.DataFrame({c: np.concatenate([p[c] for p in frame_parts]) for c in frame_parts[0]})
        _insert(cur, "frames", frames)
    if class_parts:
        _insert(cur, "frame_class_pixels", pd.DataFrame({
            "frame_id": np.concatenate([c[0] for c in class_parts]), "class_id": np.concatenate([c[1] for c in class_parts]),
            "pixels": np.concatenate([c[2] for c in class_parts]),
        }))
    _insert_parts(cur, "frame_objects", object_parts)
    if zone_parts:
        zones = pd.concat(zone_parts, ignore_index=True).groupby(["frame_id", "zone", "role", "grp"], as_index=False)["pixels"].sum()
        _insert(cur, "frame_zone_pixels", pd.DataFrame(zones))
    _insert(cur, "previews", pd.DataFrame(preview_rows))
    return results


def _insert_parts(cur: duckdb.DuckDBPyConnection, table: str, parts: list[pd.DataFrame]) -> None:
    if parts:
        _insert(cur, table, pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0])


_TABLES = ("clips", "model_runs", "frames", "frame_class_pixels", "frame_objects", "frame_zone_pixels", "previews")


def _insert(cur: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """Bulk insert by column name from a DataFrame (table names come from a fixed list)."""
    if df.empty:
        return
    if table not in _TABLES:
        raise ValueError(f"not an ingestion table: {table}")
    cur.register("_bulk", df)
    cols = ", ".join(df.columns)
    cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _bulk")  # names only, values are bound data
    cur.unregister("_bulk")


def open_store(path: str | Path | None = None, read_only: bool = False) -> Store:
    """Open the database named by the settings (or ``path``)."""
    if path is None:
        from analytics.settings import load_settings

        path = load_settings().db_path
    return Store(path, read_only=read_only)
