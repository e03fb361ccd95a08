"""The store: schema migrations, one transaction per ingestion, idempotence, bad database files."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError, SchemaVersionError, StoreError
from analytics.indicators import compute
from analytics.selection import Selection
from analytics.store import GROUP_COLUMNS, LATEST_VERSION, MIGRATIONS, Store, migrate, schema_version
from tests.helpers import BG, CAR, PERSON, ROAD, VEG, clip_from_pixels, run_info, store_with_cameras

T0 = datetime(2026, 3, 2, 8, 0)


def _count(store: Store, table: str) -> int:
    return int(store.scalar(f"SELECT count(*) FROM {table}"))  # table names are test constants


def test_new_file_has_latest_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as s:
        assert s.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST_VERSION)


def test_older_file_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=1)  # a file as version 1 of UrbanLens wrote it
    con.execute("INSERT INTO cameras VALUES ('c1', 'one', 4.0, 52.0, NULL, 'fixed', NULL, 'user')")
    con.close()
    with Store(path) as s:
        assert s.upgraded_from == 1
        assert s.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST_VERSION)
        assert s.camera("c1")["name"] == "one"
        assert _count(s, "camera_zones") == 0  # table added by migration 2
        s.ingest(clip_from_pixels("c1", T0, [{ROAD: 10}], zone_person=[0]))


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(LATEST_VERSION + 1)])
    con.close()
    with pytest.raises(SchemaVersionError, match="newer than this UrbanLens"):
        Store(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not a database", "not a DuckDB database"),  # text renamed to .duckdb
        (b"", "not a DuckDB database|cannot open"),  # empty file
    ],
)
def test_not_a_duckdb_file(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "x.duckdb"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=match):
        Store(path)
    assert path.read_bytes() == content  # left as it was


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales (x INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="did not create"):
        Store(path)


def test_read_only_location(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/urbanlens/x.duckdb")  # not writable even for root
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "x.duckdb"
    with pytest.raises(StoreError, match="cannot"):
        Store(target)


def test_read_only_open_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_migrations_are_numbered_in_order() -> None:
    assert [m[0] for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_ingest_stores_group_columns(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    res = s.ingest(clip_from_pixels("c1", T0, [{ROAD: 60, CAR: 20, PERSON: 5, 12: 5, BG: 10}]))
    assert [r.status for r in res] == ["stored"]
    row = s.query_df("SELECT road_px, vehicle_px, person_px, void_px, valid_px, damage_px FROM frames").iloc[0]
    assert (row["road_px"], row["vehicle_px"], row["person_px"], row["void_px"], row["valid_px"]) == (60, 20, 10, 10, 90)
    assert pd.isna(row["damage_px"])  # Cityscapes has no damage class: NULL, not 0


def test_reingest_is_a_noop(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    clip = clip_from_pixels("c1", T0, [{ROAD: 60}, {ROAD: 50, VEG: 10}])
    assert s.ingest(clip)[0].status == "stored"
    before = {t: _count(s, t) for t in ("clips", "model_runs", "frames", "frame_class_pixels")}
    again = s.ingest(clip)[0]
    assert again.status == "skipped" and "already" in again.message
    assert {t: _count(s, t) for t in before} == before


def test_new_settings_supersede_old_run(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", T0, [{ROAD: 60}]))
    clip2 = clip_from_pixels("c1", T0, [{ROAD: 60}, {ROAD: 40}], run=run_info(smooth=True))
    s.ingest(clip2)
    assert _count(s, "clips") == 1 and _count(s, "model_runs") == 2
    assert s.scalar("SELECT count(*) FROM frames WHERE active") == 2  # only the newer run counts


def test_batch_is_one_transaction(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    good = clip_from_pixels("c1", T0, [{ROAD: 60}], label="good")
    bad = clip_from_pixels("nope", T0, [{ROAD: 60}], label="bad")  # unknown camera fails half-way
    with pytest.raises(InputError, match="unknown camera 'nope'"):
        s.ingest([good, bad])
    assert _count(s, "clips") == 0 and _count(s, "frames") == 0


def test_failure_while_writing_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.store.ingest as ingest_mod

    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    real = ingest_mod.insert_table

    def crash_on_class_pixels(cur, table, df):  # type: ignore[no-untyped-def]
        if table == "frame_class_pixels":
            raise RuntimeError("disk full (simulated)")
        real(cur, table, df)

    monkeypatch.setattr(ingest_mod, "insert_table", crash_on_class_pixels)
    with pytest.raises(RuntimeError, match="simulated"):
        s.ingest(clip_from_pixels("c1", T0, [{ROAD: 60}]))
    monkeypatch.undo()
    for t in ("clips", "model_runs", "frames", "frame_class_pixels"):
        assert _count(s, t) == 0, t
    assert s.ingest(clip_from_pixels("c1", T0, [{ROAD: 60}]))[0].status == "stored"


def test_same_clip_other_camera_is_refused(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0), ("c2", 4.1, 52.0)])
    clip = clip_from_pixels("c1", T0, [{ROAD: 60}])
    s.ingest(clip)
    moved = clip_from_pixels("c1", T0, [{ROAD: 60}], run=run_info(x=1))
    object.__setattr__(moved.clip, "camera_id", "c2")
    with pytest.raises(InputError, match="is stored under c1 at 2026-03-02 08:00; --replace moves it"):
        s.ingest(moved)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("class_pixels", np.zeros((2, 20)), r"expected shape \(1, 20\)"),  # two rows for one frame
        ("class_pixels", -np.ones((1, 20)), "must not be negative"),
        ("flicker", np.array([1.5]), r"values must lie in \[0, 1\]"),
        ("t_s", np.array([np.nan]), "timestamps must be present"),
    ],
)
def test_measurements_validate_shapes(field: str, value: np.ndarray, match: str) -> None:
    import dataclasses

    clip = clip_from_pixels("c1", T0, [{ROAD: 60}])
    with pytest.raises(InputError, match=match):
        dataclasses.replace(clip, **{field: value})


def test_unknown_camera_lookup_names_known(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "s.duckdb"), [("c1", 4.0, 52.0)])
    with pytest.raises(InputError, match="known cameras include c1"):
        s.camera("zz")


def test_schema_version_of_empty_file(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "e.duckdb"))
    assert schema_version(con) == 0


# -- files written by earlier releases and the frozen schema ----------------------------------------

RELEASE_0_1_0 = Path(__file__).parent / "data" / "release-0.1.0.sql"


def _release_sections(path: Path) -> dict[str, list[str]]:
    """The fixture's statements by section (``migration 1``, ``migration 2``, ``data``); one statement a line."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-- ") and line[3:] in ("migration 1", "migration 2", "data"):
            current = line[3:]
            sections[current] = []
        elif line.strip() and not line.startswith("--"):
            sections[current].append(line.rstrip().removesuffix(";"))
    return sections


def test_a_database_of_release_0_1_0_opens_upgrades_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "release-0.1.0.duckdb"
    con = duckdb.connect(str(path))
    for sql in [s for part in _release_sections(RELEASE_0_1_0).values() for s in part]:
        con.execute(sql)
    con.close()
    with Store(path) as s:
        assert s.upgraded_from == 2 and schema_version(s.cursor()) == LATEST_VERSION
        assert s.camera("c1")["district_id"] == "old-town" and s.zones("c1")["zone"].tolist() == ["walk"]
        frames = s.query_df("SELECT road_px, vegetation_px, valid_px, damage_px, person_sidewalk_px FROM frames ORDER BY frame_id")
        assert frames["road_px"].tolist() == [50, 48, 50] and frames["vegetation_px"].tolist() == [30, 32, 35]
        assert frames["valid_px"].tolist() == [95, 95, 95] and frames["damage_px"].isna().all()  # void left out; no damage classes
        assert frames["person_sidewalk_px"].tolist() == [4, 2, 0]
        assert (_count(s, "frame_class_pixels"), _count(s, "frame_objects"), _count(s, "previews")) == (14, 2, 1)
        assert s.stats()["clips"] == 1
        assert s.scalar("SELECT source_path FROM clips") is None  # migration 5: older clips record no source file
        green = compute(s, Selection(min_frames=1), by="city", indicators=["green_view"])
        assert green["value"].iloc[0] == pytest.approx(97 / 285) and green["n_frames"].iloc[0] == 3
        # the upgraded file takes new clips beside the old one
        assert s.ingest(clip_from_pixels("c1", T0, [{ROAD: 60, VEG: 40}], label="new"))[0].status == "stored"
        assert s.scalar("SELECT max(frame_id) FROM frames") == 4  # ids go on after the release's rows


def test_released_migrations_are_frozen() -> None:
    """Migrations 1 and 2 are the DDL release 0.1.0 ran, to the character: edit neither, append a migration."""
    released = _release_sections(RELEASE_0_1_0)
    assert MIGRATIONS[0][2] == released["migration 1"]
    assert MIGRATIONS[1][2] == released["migration 2"]


def test_every_group_has_a_frames_column(tmp_path: Path) -> None:
    """Ingest writes one column per indicator group: a new group in the taxonomy needs a migration adding it."""
    with Store(tmp_path / "s.duckdb") as s:
        columns = set(s.query_df("SELECT column_name FROM information_schema.columns WHERE table_name = 'frames'")["column_name"])
    missing = [c for c in GROUP_COLUMNS if c not in columns]
    assert not missing, f"frames lacks {missing}: append a migration to analytics/store/schema.py (see its docstring)"
