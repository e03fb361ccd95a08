"""The path beyond one machine: frame measurements as Parquet partitioned by day and camera.

On a cluster, segmentation fans out (one ONNX session per worker) and each worker writes its
clips' frame rows as Parquet under ``day=YYYY-MM-DD/camera_id=ID/``. Any engine that reads
Parquet can aggregate them; UrbanLens itself opens such a folder as a read-only store whose
``frames`` table is the dataset, so :func:`analytics.indicators.compute` runs unchanged on it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from analytics.errors import InputError
from analytics.store import Store

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


class ParquetStore(Store):
    """A read-only store over a Parquet folder written by :func:`export_frames` (or a cluster job)."""

    def __init__(self, folder: str | Path, places: Store | None = None) -> None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise InputError(f"Parquet folder {str(folder)!r} does not exist")
        self.path = folder
        self.read_only = True
        import threading

        self._write_lock = threading.Lock()
        self._memory = duckdb.connect(":memory:")
        self._con = self._memory  # a store with a connection of its own: reads never open a file
        self._sources: dict[str, object] = {"frames": _frames_dataset(folder)}
        if places is not None:
            for name in ("cameras", "districts"):
                self._sources[name] = places.query_df(f"SELECT * FROM {name}")  # fixed table names
        self.upgraded_from = 0

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor that sees the Parquet dataset as ``frames`` (registrations are per cursor)."""
        cur = self._memory.cursor()
        for name, source in self._sources.items():
            cur.register(name, source)
        return cur
