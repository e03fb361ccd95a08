"""The database schema: numbered migrations, frozen once released, applied in one transaction.

:data:`MIGRATIONS` lists ``(version, why, statements)`` in order; :func:`migrate` brings a file
from the version it records in its ``meta`` table up to :data:`LATEST_VERSION`, and
:func:`schema_version` reads that version.

Each migration's DDL is literal text, frozen: what schema version *n* means never changes once a
release has written files with it (``tests/test_store.py`` compares migrations 1 and 2 with the
DDL release 0.1.0 wrote, in ``tests/data/release-0.1.0.sql``). Never edit a released migration;
append a new one.

Adding an indicator group (a new name in :data:`analytics.taxonomy.GROUPS`) therefore takes a
migration: ingest writes one ``<group>_px`` column of ``frames`` per group
(:data:`GROUP_COLUMNS`), so append one with the next number, e.g.::

    (6, "indicator group 'water'", ["ALTER TABLE frames ADD COLUMN water_px BIGINT"]),  # 6: the next number

Older files get the column as NULL for the frames stored before it existed (say so in the
indicator's docstring if that matters). ``test_every_group_has_a_frames_column`` fails until the
migration is there. A migration that a release has shipped joins the frozen snapshot: add its
DDL to a ``tests/data/release-<version>.sql`` written by that release.
"""

from __future__ import annotations

import duckdb

from analytics import __version__
from analytics.errors import SchemaVersionError, StoreError
from analytics.taxonomy import GROUPS

__all__ = ["GROUP_COLUMNS", "LATEST_VERSION", "MIGRATIONS", "check_readable", "migrate", "schema_version"]

GROUP_COLUMNS = tuple(f"{g}_px" for g in GROUPS)
"""The ``frames`` column of each indicator group that ingest writes (from the live taxonomy).
Every one must exist in the latest schema: a new group needs a migration adding its column."""

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
            "CREATE TABLE frames (frame_id BIGINT NOT NULL, run_id INTEGER NOT NULL, clip_sha256 VARCHAR NOT NULL, "
            "camera_id VARCHAR NOT NULL, district_id VARCHAR, frame_index INTEGER NOT NULL, t_s DOUBLE NOT NULL, "
            "ts TIMESTAMP NOT NULL, lon DOUBLE, lat DOUBLE, active BOOLEAN NOT NULL, synthetic BOOLEAN NOT NULL, "
            "road_px BIGINT NOT NULL, sidewalk_px BIGINT NOT NULL, built_px BIGINT NOT NULL, vegetation_px BIGINT NOT NULL, "
            "terrain_px BIGINT NOT NULL, sky_px BIGINT NOT NULL, person_px BIGINT NOT NULL, two_wheeler_px BIGINT NOT NULL, "
            "vehicle_px BIGINT NOT NULL, damage_px BIGINT, void_px BIGINT NOT NULL, valid_px BIGINT NOT NULL, "
            "n_person INTEGER NOT NULL, n_two_wheeler INTEGER NOT NULL, n_vehicle INTEGER NOT NULL, "
            "mean_confidence DOUBLE, low_conf_share DOUBLE, flicker DOUBLE, vehicle_stationarity DOUBLE, "
            "distress_crack_px DOUBLE, distress_pothole_px DOUBLE)",
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
    (
        3,
        "evaluations: a model's measured accuracy on annotated frames (one row per weights, ground truth, camera)",
        [
            "CREATE TABLE evaluations (evaluation_id VARCHAR PRIMARY KEY, model_name VARCHAR NOT NULL, "
            "weights_sha256 VARCHAR NOT NULL, gt_sha256 VARCHAR NOT NULL, camera_id VARCHAR, dataset_format VARCHAR NOT NULL, "
            "label_map VARCHAR NOT NULL, n_images INTEGER NOT NULL, miou DOUBLE, pixel_accuracy DOUBLE, fw_iou DOUBLE, "
            "metrics_json VARCHAR NOT NULL, code_version VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)",
        ],
    ),
    (
        4,
        "trust verdict of each model run (ok/low with reasons, NULL: not checked); its frames flagged low_trust",
        [
            "ALTER TABLE model_runs ADD COLUMN trust VARCHAR",
            "ALTER TABLE model_runs ADD COLUMN trust_reasons VARCHAR",
            "ALTER TABLE frames ADD COLUMN low_trust BOOLEAN",
        ],
    ),
    (
        5,
        "the path of each clip's source file at ingest (NULL: not recorded, e.g. an upload's deleted copy, older clips)",
        [
            "ALTER TABLE clips ADD COLUMN source_path VARCHAR",
        ],
    ),
    (
        6,
        "counting: count lines and dwell zones per camera, ground calibrations, and per run the tracked "
        "objects, their line crossings and zone visits (no images or crops)",
        [
            "ALTER TABLE camera_zones ADD COLUMN in_label VARCHAR",
            "ALTER TABLE camera_zones ADD COLUMN out_label VARCHAR",
            "ALTER TABLE camera_zones ADD COLUMN drawn_width INTEGER",
            "ALTER TABLE camera_zones ADD COLUMN drawn_height INTEGER",
            "CREATE TABLE camera_calibrations (camera_id VARCHAR PRIMARY KEY, image_points_json VARCHAR, "
            "ground_points_json VARCHAR, homography_json VARCHAR NOT NULL, drawn_width INTEGER NOT NULL, "
            "drawn_height INTEGER NOT NULL, created_at TIMESTAMP NOT NULL)",
            "CREATE TABLE count_runs (run_id INTEGER PRIMARY KEY, clip_sha256 VARCHAR NOT NULL, camera_id VARCHAR NOT NULL, "
            "detector_name VARCHAR NOT NULL, detector_sha256 VARCHAR NOT NULL, track_fps DOUBLE NOT NULL, "
            "n_tracked_frames INTEGER NOT NULL, geometry_json VARCHAR NOT NULL, calibrated BOOLEAN NOT NULL, "
            "n_speeds_dropped INTEGER NOT NULL, params_json VARCHAR NOT NULL)",
            "CREATE TABLE tracks (run_id INTEGER NOT NULL, clip_sha256 VARCHAR NOT NULL, camera_id VARCHAR NOT NULL, "
            "track_id INTEGER NOT NULL, class VARCHAR NOT NULL, first_ts TIMESTAMP NOT NULL, last_ts TIMESTAMP NOT NULL, "
            "first_t_s DOUBLE NOT NULL, last_t_s DOUBLE NOT NULL, n_points INTEGER NOT NULL, path_px DOUBLE NOT NULL, "
            "path_m DOUBLE, speed_kmh DOUBLE, stationary BOOLEAN NOT NULL, PRIMARY KEY (run_id, track_id))",
            "CREATE TABLE crossings (run_id INTEGER NOT NULL, clip_sha256 VARCHAR NOT NULL, camera_id VARCHAR NOT NULL, "
            "line VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, t_s DOUBLE NOT NULL, class VARCHAR NOT NULL, "
            "direction VARCHAR NOT NULL, track_id INTEGER NOT NULL)",
            "CREATE TABLE zone_visits (run_id INTEGER NOT NULL, clip_sha256 VARCHAR NOT NULL, camera_id VARCHAR NOT NULL, "
            "zone VARCHAR NOT NULL, class VARCHAR NOT NULL, track_id INTEGER NOT NULL, enter_ts TIMESTAMP NOT NULL, "
            "exit_ts TIMESTAMP NOT NULL, enter_t_s DOUBLE NOT NULL, exit_t_s DOUBLE NOT NULL, dwell_s DOUBLE NOT NULL, "
            "censored BOOLEAN NOT NULL)",
        ],
    ),
    (
        7,
        "GPS tracks and time zones: each frame's heading from a moving camera's track (NULL: unknown), and a camera's "
        "own time zone (NULL: the city's, URBANLENS_TIMEZONE)",
        [
            "ALTER TABLE frames ADD COLUMN heading DOUBLE",
            "ALTER TABLE cameras ADD COLUMN timezone VARCHAR",
        ],
    ),
    (
        8,
        "the road model's reading of each frame: lane-mark share and curb length in pixels (NULL: no road model ran)",
        [
            "ALTER TABLE frames ADD COLUMN lane_mark_share DOUBLE",
            "ALTER TABLE frames ADD COLUMN curb_length_px DOUBLE",
        ],
    ),
    (
        9,
        "watched cameras: what each live-stream worker last reported (UTC instants), and its event log",
        [
            "CREATE TABLE watch_status (camera_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, pid INTEGER, "
            "started_at TIMESTAMP NOT NULL, heartbeat_at TIMESTAMP NOT NULL, last_frame_at TIMESTAMP, state VARCHAR NOT NULL, "
            "reconnects BIGINT NOT NULL, chunks_stored BIGINT NOT NULL, frames_stored BIGINT NOT NULL, "
            "frames_dropped BIGINT NOT NULL, last_error VARCHAR, last_error_at TIMESTAMP, width INTEGER, height INTEGER, "
            "lag_s DOUBLE, alerted VARCHAR)",
            "CREATE TABLE watch_events (camera_id VARCHAR NOT NULL, event_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, "
            "detail VARCHAR NOT NULL)",
        ],
    ),
]
LATEST_VERSION = MIGRATIONS[-1][0]


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
    return _parse_version(rows[0][0]) if rows else 0


def _parse_version(raw: object) -> int:
    """The ``schema_version`` text of the ``meta`` table as a whole number of at least 1.

    >>> _parse_version("3"), _parse_version(" 2 ")
    (3, 2)
    >>> _parse_version("three")
    Traceback (most recent call last):
    ...
    analytics.errors.StoreError: the database's schema version 'three' is not a whole number of at least 1: the file is damaged or was not written by UrbanLens
    """
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1 or len(text) > 9:
        shown = str(raw)[:40]
        raise StoreError(
            f"the database's schema version {shown!r} is not a whole number of at least 1: "
            "the file is damaged or was not written by UrbanLens"
        )
    return int(text)


def check_readable(version: int, path: str) -> None:
    """Refuse, with what to do, a database that this UrbanLens cannot read as it is without writing to it.

    A newer schema needs a newer UrbanLens; an older one is upgraded by opening it once for
    writing (any command that is not read-only, e.g. ``urbanlens info``), which a read-only
    reader (``report``) cannot do.
    """
    if version > LATEST_VERSION:
        raise SchemaVersionError(
            f"database {path!r} has schema version {version}, newer than this UrbanLens ({__version__}) reads "
            f"(schema {LATEST_VERSION}); upgrade UrbanLens to a release that reads it (the file is left as it is)"
        )
    if version < LATEST_VERSION:
        raise SchemaVersionError(
            f"database {path!r} has schema version {version}, older than this UrbanLens reads ({LATEST_VERSION}); "
            f"upgrade the file first with `urbanlens info --db {path}` (it opens it for writing once), then run this again"
        )


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> tuple[int, int]:
    """Bring the schema up to ``target`` in one transaction; returns (from, to) versions."""
    current = schema_version(con)
    if current > LATEST_VERSION:
        raise SchemaVersionError(
            f"database schema version {current} is newer than this UrbanLens ({__version__}, schema {LATEST_VERSION}); "
            "upgrade UrbanLens to a release that reads it (the file is left as it is)"
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
