"""The cluster path: Parquet partitioned by day and camera gives the same indicators."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import clip_from_pixels

from analytics import indicators as ind
from analytics.demo.city import build_demo
from analytics.errors import InputError
from analytics.selection import Selection
from analytics.store import Store
from analytics.store.parquet import ParquetStore, export_frames, read_clip, write_clip
from analytics.trust import assess_measurements


def test_same_indicators_from_parquet(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    build_demo(db, days=2)
    with Store(db) as store:
        n = export_frames(store, tmp_path / "pq")
        local = ind.compute(store, Selection(min_frames=30), by=["district", "hour"], indicators=["green_view", "road_occupancy"])
        parts = sorted(p.relative_to(tmp_path / "pq").parts[:2] for p in (tmp_path / "pq").rglob("*.parquet"))
        assert parts[0][0].startswith("day=2026-11-02") and parts[0][1].startswith("camera_id=")
        remote = ind.compute(ParquetStore(tmp_path / "pq", places=store), Selection(min_frames=30), by=["district", "hour"],
                             indicators=["green_view", "road_occupancy"])
    assert n == int(local.groupby(["district", "hour"])["n_frames"].max().sum())
    pd.testing.assert_frame_equal(local.reset_index(drop=True), remote.reset_index(drop=True), check_dtype=False)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        ParquetStore(tmp_path / "nope")


# -- clip files of a cluster job: checked before anything is converted or stored -----------------

CAMERAS = [("cam-1", 4.0, 52.0)]


def _db(path: Path) -> Path:
    from tests.helpers import store_with_cameras

    store_with_cameras(str(path), CAMERAS).close()
    return path


def _frames(db: Path) -> pd.DataFrame:
    with Store(db) as s:
        return s.query_df("SELECT * EXCLUDE (frame_id, run_id) FROM frames ORDER BY ts")


def test_a_valid_landing_imports_as_a_direct_ingest_does(tmp_path: Path) -> None:
    """The checks change nothing for a good file: its frames and indicator equal those of the clip ingested directly."""
    import numpy as np

    from analytics.store.parquet import import_clips
    from tests.hostile.support import clip_landing, landing_measurements

    clip_landing(tmp_path / "pq")
    direct, imported = _db(tmp_path / "direct.duckdb"), _db(tmp_path / "imported.duckdb")
    with Store(direct) as s:
        s.ingest(landing_measurements())
    with Store(imported) as s:
        assert [r.status for r in import_clips(s, tmp_path / "pq")] == ["stored"]
    pd.testing.assert_frame_equal(_frames(direct), _frames(imported))
    assert len(_frames(imported)) == 37
    with Store(imported) as s:
        green = ind.compute(s, Selection(min_frames=1), by="city", indicators=["green_view"])
        assert float(green["value"][0]) == 0.3
        assert s.scalar("SELECT min(distress_crack_px) FROM frames") == 3.0 and np.isfinite(s.scalar("SELECT max(t_s) FROM frames"))


def _set(name: str, values: object) -> object:
    from tests.hostile.support import set_column

    return set_column(name, values)


HOSTILE = [
    # a time in words where a timestamp belongs
    (_set("ts", lambda n: pa.array(["soon"] * n)), "column 'ts' is 'string'; expected timestamps"),
    # a timestamp of another unit or with a zone is not what the writer writes
    (_set("ts", lambda n: pa.array([0] * n, pa.timestamp("s", tz="UTC"))), "column 'ts' is 'timestamp[ms, tz=UTC]'; expected timestamp[us]"),
    # seconds into the clip: infinite, NaN, negative, null
    (_set("t_s", lambda n: pa.array([math.inf] * n)), "column 't_s' holds 'inf' in row 0; expected seconds into the clip from 0"),
    (_set("t_s", lambda n: pa.array([math.nan] * n)), "column 't_s' holds 'nan' in row 0"),
    (_set("t_s", lambda n: pa.array([-1.0] * n)), "column 't_s' holds '-1.0' in row 0"),
    (_set("t_s", lambda n: pa.array([None] * n, pa.float64())), "column 't_s' is empty (null) in row 0"),
    # pixel counts: NaN (a float list), null, negative, more than the frame, too few classes
    (_set("class_pixels", lambda n: pa.array([[math.nan] * 20] * n)), "column 'class_pixels' is 'list<element: double>'"),
    (_set("class_pixels", lambda n: pa.array([[None] * 20] * n, pa.list_(pa.int64()))), "column 'class_pixels' is empty (null) in entry 0"),
    (_set("class_pixels", lambda n: pa.array([None] * n, pa.list_(pa.int64()))), "column 'class_pixels' is empty (null) in row 0"),
    (_set("class_pixels", lambda n: pa.array([[-5] + [0] * 19] * n)), "column 'class_pixels' holds '-5' in entry 0"),
    (_set("class_pixels", lambda n: pa.array([[9000, 9000] + [0] * 18] * n)), "adds up to 18,000 pixels in row 0; expected at most the frame's 10,000"),
    (_set("class_pixels", lambda n: pa.array([[1, 2]] * n)), "holds 2 counts in row 0; expected one per class"),
    # object counts and group pixels: null, negative, over the frame
    (_set("n_person", lambda n: pa.array([None] * n, pa.int32())), "column 'n_person' is empty (null) in row 0"),
    (_set("n_vehicle", lambda n: pa.array([math.inf] * n)), "column 'n_vehicle' is 'double'"),
    (_set("road_px", lambda n: pa.array([-1] * n, pa.int64())), "column 'road_px' holds '-1' in row 0"),
    (_set("valid_px", lambda n: pa.array([10**15] * n, pa.int64())), "column 'valid_px' holds '1000000000000000'"),
    # distress pixels: negative, infinite (stored before, and read as -1,437,353 %)
    (_set("distress_crack_px", lambda n: pa.array([-1437353.0] * n)),
     "column 'distress_crack_px' holds '-1437353.0' in row 0; expected a pixel count from 0 to 10,000, or NaN"),
    (_set("distress_pothole_px", lambda n: pa.array([math.inf] * n)), "column 'distress_pothole_px' holds 'inf' in row 0"),
    # shares outside [0, 1]
    (_set("low_conf_share", lambda n: pa.array([1.5] * n)), "column 'low_conf_share' holds '1.5' in row 0; expected a share from 0 to 1"),
    # objects and zones with impossible entries
    (_set("objects", lambda n: pa.array([[{"group": "ghost", "x0": 0, "y0": 0, "x1": 1, "y1": 1, "area_px": 1}]] * n,
                                        pa.list_(pa.struct([("group", pa.string()), *[(c, pa.int32()) for c in ("x0", "y0", "x1", "y1", "area_px")]])))),
     "column 'objects' names the group 'ghost'"),
    (_set("zone_pixels", lambda n: pa.array([[{"zone": "z", "role": "lane", "class_id": 99, "pixels": 1}]] * n,
                                            pa.list_(pa.struct([("zone", pa.string()), ("role", pa.string()), ("class_id", pa.int32()),
                                                                ("pixels", pa.int64())])))),
     "column 'zone_pixels' field 'class_id' holds '99' in entry 0; expected a class id from 0 to 19"),
]

META = [
    ({"start_time": "next tuesday"}, "metadata clip start_time is 'next tuesday'; expected an ISO time from 1900 to 2200"),
    ({"start_time": "9999-01-01T00:00:00"}, "metadata clip start_time is '9999-01-01T00:00:00'"),
    ({"width": 10**12}, "metadata clip width is '1000000000000'; expected a whole number of pixels from 1 to 32,768"),
    ({"duration_s": math.inf}, "metadata clip duration_s is 'inf'"),
    ({"fps": "fast"}, "metadata clip fps is 'fast'"),
    ({"label": "x" * 100_000}, "metadata clip label is 'xxx"),
    ({"extra": 1}, "metadata clip has unknown field(s) 'extra'"),
]


def _refused(tmp_path: Path, change: object = None, meta: object = None) -> str:
    """Import one changed landing with the CLI's reporting; the one refusal's message (the database is unchanged)."""
    from analytics.store.parquet import import_clips
    from tests.hostile.support import clip_landing, rewrite_landing

    rewrite_landing(clip_landing(tmp_path / "pq"), change, meta)
    db = _db(tmp_path / "d.duckdb")
    refused: list[str] = []
    with Store(db) as s:
        try:
            stored = import_clips(s, tmp_path / "pq", on_refused=lambda p, why: refused.append(why))
        except InputError as exc:  # a file that is not a clip file refuses the whole import
            stored, refused = [], [str(exc)]
        assert stored == [] and s.scalar("SELECT count(*) FROM clips") == 0 and s.scalar("SELECT count(*) FROM frames") == 0
    assert len(refused) == 1 and "\n" not in refused[0] and len(refused[0]) < 450, refused
    return refused[0]


@pytest.mark.parametrize(("change", "message"), HOSTILE, ids=[m[:40] for _, m in HOSTILE])
def test_a_hostile_column_is_refused_and_nothing_stored(tmp_path: Path, change: object, message: str) -> None:
    assert message in _refused(tmp_path, change=change)


@pytest.mark.parametrize(("fields", "message"), META, ids=[m[:40] for _, m in META])
def test_hostile_clip_metadata_is_refused(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    assert message in _refused(tmp_path, meta=lambda m: {**m, "clip": {**m["clip"], **fields}})


def test_cli_stores_the_good_clips_names_each_refused_one_and_exits_1(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analytics.cli import app
    from tests.hostile.support import clip_landing, rewrite_landing

    clip_landing(tmp_path / "pq", label="good")
    rewrite_landing(clip_landing(tmp_path / "pq", label="bad"), _set("t_s", lambda n: pa.array([math.inf] * n)))
    db = _db(tmp_path / "d.duckdb")
    res = CliRunner().invoke(app, ["import-parquet", str(tmp_path / "pq"), "--db", str(db)])
    assert res.exit_code == 1, res.output
    assert "Imported 1 clip, 37 sampled frames" in res.output and "1 of 2 clip files refused" in res.output
    with Store(db) as s:
        assert s.query_df("SELECT label FROM clips")["label"].tolist() == ["good"]
    res = CliRunner().invoke(app, ["import-parquet", str(tmp_path / "pq"), "--db", str(db)])  # good skipped, bad refused: still 1
    assert res.exit_code == 1 and "1 already stored" in " ".join(res.output.split()), res.output


def test_the_frame_folder_reader_refuses_hostile_files(tmp_path: Path) -> None:
    """``indicators --parquet``: every file's footer, column kinds and values are checked on open."""
    from tests.hostile.support import claim_rows, clip_landing, rewrite_landing

    db = tmp_path / "d.duckdb"
    build_demo(db, days=1)
    with Store(db) as store:
        export_frames(store, tmp_path / "pq")
    ParquetStore(tmp_path / "pq").close()
    first = sorted((tmp_path / "pq").rglob("*.parquet"))[0]
    original = first.read_bytes()
    for change, message in [
        (_set("road_px", lambda n: pa.array([-5] * n, pa.int64())), "column 'road_px' holds '-5' in row 0"),
        (_set("ts", lambda n: pa.array(["soon"] * n)), "column 'ts' is 'string'"),
        (_set("vegetation_px", lambda n: pa.array([10**6] * n, pa.int64())), "more than the frame's valid_px"),
        (_set("flicker", lambda n: pa.array([math.inf] * n)), "column 'flicker' holds 'inf'"),
    ]:
        rewrite_landing(first, change)
        with pytest.raises(InputError, match=re.escape(message)):
            ParquetStore(tmp_path / "pq")
        first.write_bytes(original)
    claim_rows(clip_landing(tmp_path / "pq"), 10**12)  # a cluster landing beside the export, claiming 10^12 rows
    with pytest.raises(InputError, match="claims 1,000,000,000,000 rows"):
        ParquetStore(tmp_path / "pq")


MEMORY_LIMIT = 8 << 30
"""A hard limit of the child's address space: far below the 2 TB the footer would make Arrow ask for, and
well above what Python, Arrow, DuckDB and ONNX Runtime reserve at start-up (DuckDB failed to open a
database at 2 GiB on some runs)."""


@pytest.mark.parametrize("command", ["import-parquet", "indicators"])
def test_a_footer_claiming_1e12_rows_is_refused_under_a_memory_limit(tmp_path: Path, command: str) -> None:
    """A real limit, as on a small machine: the child sets RLIMIT_AS to 8 GiB before importing anything;
    the file (17 KB whose footer claims 10^12 rows, 2 TB as Arrow would allocate it) is refused in one line, in seconds."""
    import subprocess
    import sys
    import time

    from tests.hostile.support import claim_rows, clip_landing

    claim_rows(clip_landing(tmp_path / "pq"), 10**12)
    db = _db(tmp_path / "d.duckdb")
    args = ["import-parquet", str(tmp_path / "pq")] if command == "import-parquet" else ["indicators", "--by", "city", "--parquet", str(tmp_path / "pq")]
    code = ("import resource, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"
            f"sys.argv = ['urbanlens', *{args!r}, '--db', {str(db)!r}]\n"
            "from analytics.cli import main\nmain()\n")
    started = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    lines = res.stderr.splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "claims 1,000,000,000,000 rows" in lines[0], (res.returncode, res.stderr)
    assert took < 30, took


def test_a_clip_file_keeps_what_its_trust_verdict_was_judged_on(tmp_path):
    """Label change, the road model's disagreement and the segmenter's own pixels travel through a clip file,
    so a clip imported from a cluster folder gets the verdict its worker gave it; a clip without them reads back None."""
    plain = clip_from_pixels("cam", datetime(2026, 5, 4, 8), [{0: 60, 8: 40}, {0: 50, 8: 50}], label="a")
    judged = dataclasses.replace(
        plain, label_change=np.array([np.nan, 0.1]), road_disagreement=np.array([0.2, 0.3]),
        segmenter_class_pixels=plain.class_pixels[:, ::-1].copy(),
    )
    camera = {"lon": 8.54, "lat": 47.37, "district_id": None, "kind": "fixed"}
    back = read_clip(write_clip(tmp_path / "a", judged, camera))
    assert np.allclose(back.road_disagreement, [0.2, 0.3]) and np.array_equal(back.segmenter_class_pixels, judged.segmenter_class_pixels)
    assert np.isnan(back.label_change[0]) and back.label_change[1] == 0.1
    verdict, original = assess_measurements(back), assess_measurements(judged)
    assert (verdict.trust, verdict.reasons) == (original.trust, original.reasons) and verdict.low  # the disagreement judged again
    bare = read_clip(write_clip(tmp_path / "b", plain, camera))
    assert bare.road_disagreement is None and bare.segmenter_class_pixels is None
