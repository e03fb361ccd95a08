"""What the hostile-input cases share: a small database, the tiny colour model, the CLI run in-process."""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from analytics.demo.city import demo_districts
from tests.helpers import clip_from_pixels, store_with_cameras


@dataclass
class Ran:
    """What one command did: its exit code and what it wrote to stdout and stderr."""

    code: int
    out: str
    err: str


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Ran:
    """Run ``urbanlens ARGS`` through the real entry point :func:`analytics.cli.main` (its error
    handling included) in this process, which is much faster than a subprocess per case."""
    monkeypatch.setattr(sys, "argv", ["urbanlens", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def database_digest(path: Path) -> str:
    """SHA-256 of every table's rows (sorted), read with plain DuckDB: equal digests, equal content.
    A file that is not a DuckDB database is hashed by its bytes."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        h = hashlib.sha256()
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name").fetchall()]
        for table in tables:
            h.update(table.encode())
            h.update(repr(con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()).encode())
        return h.hexdigest()
    finally:
        con.close()


@pytest.fixture(scope="session")
def _city_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-city") / "city.duckdb"
    with store_with_cameras(str(path), [("cam-1", 4.0, 52.0), ("cam-2", 4.01, 52.01)]) as store:
        store.upsert_districts(demo_districts())
        store.ingest(clip_from_pixels("cam-1", datetime(2026, 1, 5, 10), [{0: 50, 8: 30, 10: 20}] * 40))
    return path


@pytest.fixture
def city_db(tmp_path: Path, _city_template: Path) -> Path:
    """A small database of its own for each test: two cameras, the demo districts, one clip of 40 frames."""
    path = tmp_path / "city.duckdb"
    shutil.copyfile(_city_template, path)
    return path


@pytest.fixture(scope="session")
def colour_model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An URBANLENS_HOME with the tiny colour model installed as 'colours' (built once per session)."""
    from tinymodels import colour_card, colour_model

    from analytics.models import zoo
    from analytics.settings import load_settings

    home = tmp_path_factory.mktemp("hostile-home")
    folder = tmp_path_factory.mktemp("hostile-model")
    onnx_path = colour_model(folder / "colours.onnx", height=32, width=64)
    card = folder / "colours.json"
    card.write_text(colour_card(32, 64).to_json())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("URBANLENS_HOME", str(home))
        zoo.add_model(onnx_path, card, load_settings())
    return home


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, colour_model_home: Path) -> Iterator[None]:
    """Wide console (no wrapped lines), the colour model's home; nothing else from the environment."""
    monkeypatch.setenv("URBANLENS_HOME", str(colour_model_home))
    monkeypatch.setenv("COLUMNS", "400")
    for name in ("URBANLENS_DB", "URBANLENS_MAX_CLIP_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    yield


def frames_with_district(path: Path, district_id: str) -> None:
    """Put every frame of ``path`` in a district with a hostile id, as an older UrbanLens (that did
    not check district ids) could have stored it."""
    con = duckdb.connect(str(path))
    try:
        con.execute("INSERT INTO districts VALUES (?, ?, ?, 'user')", [district_id, district_id, '{"type": "Polygon", "coordinates": []}'])
        con.execute("UPDATE frames SET district_id = ?", [district_id])
    finally:
        con.close()


def set_schema_version(path: Path, value: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [value])
    finally:
        con.close()


# -- Parquet landings (clip files of a cluster job) ------------------------------------------------

LANDING_ROWS = 37
"""Sampled frames of a landing written by :func:`clip_landing`: an unusual count, so its footer's
row count (zigzag varint 74, byte 0x4a after an i64 field header 0x16) can be found and rewritten."""


def landing_measurements(label: str = "landed", camera: str = "cam-1") -> Any:
    """The measurements :func:`clip_landing` writes: 37 sampled frames of 100 x 100 pixels, distress counts measured."""
    import numpy as np

    from tests.helpers import clip_from_pixels

    n = LANDING_ROWS
    m = clip_from_pixels(camera, datetime(2026, 1, 6, 8), [{0: 50, 8: 30, 10: 20}] * n, label=label, people=[1] * n)
    m.distress_crack_px = np.full(n, 3.0)
    m.distress_pothole_px = np.zeros(n)
    return m


def clip_landing(folder: Path, label: str = "landed", camera: str = "cam-1") -> Path:
    """A valid clip file (one of a cluster job's landings) of :func:`landing_measurements` under ``folder``, for
    ``camera`` of the hostile city, returned as its path."""
    from analytics.store.parquet import write_clip

    return write_clip(folder, landing_measurements(label, camera), {"lon": 4.0, "lat": 52.0, "district_id": None, "kind": "fixed"})


def rewrite_landing(path: Path, change: object = None, meta: object = None) -> Path:
    """Rewrite the clip file at ``path``: ``change(table) -> table`` (pyarrow), ``meta(dict) -> dict`` (its metadata)."""
    import json

    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read()
    metadata = dict(table.schema.metadata or {})
    if callable(change):
        table = change(table)
    if callable(meta):
        metadata[b"urbanlens"] = json.dumps(meta(json.loads(metadata[b"urbanlens"]))).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def claim_rows(path: Path, rows: int) -> Path:
    """Make the footer of a landing written by :func:`clip_landing` claim ``rows`` rows (the file and
    each row group), by rewriting the Thrift varints of its row counts; the footer length is updated."""
    data = path.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    footer = data[-8 - length:-8]
    zigzag, varint = rows << 1, bytearray()
    while True:
        byte, zigzag = zigzag & 0x7F, zigzag >> 7
        varint.append(byte | (0x80 if zigzag else 0))
        if not zigzag:
            break
    patched = footer.replace(b"\x16" + bytes([LANDING_ROWS << 1]), b"\x16" + bytes(varint))
    assert patched != footer, "no row count found in the footer"
    path.write_bytes(data[:-8 - length] + patched + len(patched).to_bytes(4, "little") + b"PAR1")
    return path


def set_column(name: str, values: object) -> object:
    """A ``change`` for :func:`rewrite_landing`: column ``name`` replaced by ``values`` (an Arrow array, or a function of the rows)."""
    import pyarrow as pa

    def change(table: pa.Table) -> pa.Table:
        array = values(table.num_rows) if callable(values) else values
        return table.set_column(table.schema.get_field_index(name), name, array)

    return change


def import_landing(change: object = None, meta: object = None, rows: int | None = None) -> object:
    """``import-parquet`` of a folder holding one landing of cam-1, changed by ``change``/``meta`` (see
    :func:`rewrite_landing`) or with a footer claiming ``rows`` rows (:func:`claim_rows`)."""

    def build(tmp: Path, db: Path) -> list[str]:
        path = clip_landing(tmp / "pq")
        if rows is not None:
            claim_rows(path, rows)
        else:
            rewrite_landing(path, change, meta)
        return ["import-parquet", str(tmp / "pq"), "--db", str(db)]

    return build
