"""Hostile inputs through the real command line: one clear line, the documented exit code, nothing changed.

Each row of :data:`CASES` is one input a person (or an attacker) could hand UrbanLens. Its builder
writes the input into a temporary folder (and may damage the case's database) and returns the
command's arguments; the test runs them through :func:`analytics.cli.main` and checks:

- the exit code (2: bad input; 1: ``ingest`` with a failed clip; 0: accepted, with a warning);
- for an error, exactly one line on stderr, starting ``error:``, holding the expected text, and no
  traceback anywhere; for an accepted input, the expected text on stdout;
- the database given with ``--db`` holds the same rows afterwards (unless the row says it may change).

See README.md beside this file for how to add a case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from clips import street, write_av

from analytics.demo.city import demo_districts
from analytics.store import migrate
from tests.hostile.archives import (
    evaluate_with_label_map,
    import_climbing_member,
    import_huge_png,
    import_lying_member,
    import_many_labels,
    ray_manifest,
)
from tests.hostile.support import (
    database_digest,
    frames_with_district,
    import_landing,
    run_cli,
    set_column,
    set_schema_version,
)

Builder = Callable[[Path, Path], list[str]]


def card_add(text: bytes, suffix: str) -> Builder:
    """``models add`` with an ONNX file (empty: the card is read first) and a card holding ``text``."""
    def build(tmp: Path, db: Path) -> list[str]:
        (tmp / "m.onnx").write_bytes(b"")
        (tmp / f"card.{suffix}").write_bytes(text)
        return ["models", "add", str(tmp / "m.onnx"), "--card", str(tmp / f"card.{suffix}")]
    return build
"""(folder for input files, the case's database) -> the command's arguments."""

INGEST = ["--camera", "cam-1", "--model", "colours", "--road-model", "none", "--start", "2026-01-06T08:00:00"]


@dataclass(frozen=True)
class Case:
    id: str
    build: Builder
    expect: str
    """Text the error line (or, with ``code`` 0, the output) must hold."""
    code: int = 2
    db_may_change: bool = False


# -- input builders -------------------------------------------------------------------------------


def _write(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _districts(features: list[object] | bytes) -> bytes:
    if isinstance(features, bytes):
        return features
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


SQUARE = {"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [5, 53], [4, 53], [4, 52]]]}


def districts_import(body: list[object] | bytes) -> Builder:
    """``districts import`` of a GeoJSON file with ``body`` (features, or raw bytes)."""
    return lambda tmp, db: ["districts", "import", str(_write(tmp, "d.geojson", _districts(body))), "--db", str(db)]


def cameras_import(text: str | bytes) -> Builder:
    """``cameras import`` of a CSV file with ``text``."""
    return lambda tmp, db: ["cameras", "import", str(_write(tmp, "cams.csv", text)), "--db", str(db)]


def ingest_clip(write: Callable[[Path], Path], *extra: str) -> Builder:
    """``ingest`` of one clip written by ``write(folder)``."""
    return lambda tmp, db: ["ingest", str(write(tmp)), *INGEST, *extra, "--db", str(db)]


def with_schema(version: str, *args: str) -> Builder:
    """The case's database with ``meta.schema_version`` set to ``version``, then ``args`` (``DB`` and
    ``TMP`` replaced by their paths)."""

    def build(tmp: Path, db: Path) -> list[str]:
        set_schema_version(db, version)
        if args[0] == "ingest":
            good_clip(tmp)  # a clip to ingest: the database is what is wrong
        return [str(db) if a == "DB" else a.replace("TMP", str(tmp)) for a in args]

    return build


def older_schema(tmp: Path, db: Path) -> list[str]:
    """A database of schema version 2 (before the evaluations table) opened by the read-only ``report``."""
    db.unlink()
    con = duckdb.connect(str(db))
    migrate(con, target=2)
    con.close()
    return ["report", "--city", "--out", str(tmp / "r.html"), "--db", str(db)]


def not_duckdb(tmp: Path, db: Path) -> list[str]:
    """A CSV file given as --db."""
    db.write_bytes(b"camera_id,lon,lat\ncam-1,4.9,52.3\n" * 200)
    return ["info", "--db", str(db)]


def hostile_district_ids(tmp: Path, db: Path) -> list[str]:
    """Frames in a district whose id is a spreadsheet formula (stored by a release that did not check ids)."""
    frames_with_district(db, '=HYPERLINK("http://x.example","click")')
    return ["indicators", "--by", "district", "-i", "green_view", "--min-frames", "1", "--format", "csv", "--db", str(db)]


def long_clip(tmp: Path) -> Path:
    return write_av(tmp / "long.mp4", 13, fps=Fraction(1, 600))  # type: ignore[arg-type]  # 13 frames 10 min apart: 2 h 10 min


def strip_clip(tmp: Path) -> Path:
    return write_av(tmp / "strip.mp4", 2, size=(16, 1000))


def good_clip(tmp: Path, name: str = "good.avi") -> Path:
    from clips import H, W, write_cv2

    return write_cv2(tmp / name, 6, fps=10, size=(W, H), paint=street)


def truncated_clip(tmp: Path) -> Path:
    whole = write_av(tmp / "whole.mp4", 20)
    cut = tmp / "truncated.mp4"
    cut.write_bytes(whole.read_bytes()[:300])  # the header and nothing of the frames
    return cut


def renamed_text(tmp: Path) -> Path:
    return _write(tmp, "notes.mp4", "these are meeting notes, not a video\n" * 50)


def renamed_csv_as_avi(tmp: Path) -> Path:
    return _write(tmp, "cams.avi", b"camera_id,lon,lat\ncam-1,4.9,52.3\n" * 100)


def empty_clip(tmp: Path) -> Path:
    return _write(tmp, "empty.mp4", b"")


def batch_with_one_bad_clip(tmp: Path, db: Path) -> list[str]:
    folder = tmp / "batch"
    folder.mkdir()
    good_clip(folder, "a-good.avi")
    _write(folder, "b-broken.mp4", b"\x00" * 2000)
    return ["ingest", str(folder), *INGEST, "--db", str(db)]


def deep_json(depth: int) -> bytes:
    return b'{"type": "FeatureCollection", "features": ' + b"[" * depth + b"]" * depth + b"}"


NAN_RING = (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "N"}, "geometry": '
            b'{"type": "Polygon", "coordinates": [[[4, 52], [5, 52], [NaN, 53], [4, 52]]]}}]}')
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "invoice\u202efdp.exe" reads "invoiceexe.pdf"


def zones_with(text: bytes) -> Builder:
    return lambda tmp, db: ["cameras", "add", "cam-9", "--lon", "4.9", "--lat", "52.3", "--zones", str(_write(tmp, "z.json", text)),
                            "--db", str(db)]


# -- the table -------------------------------------------------------------------------------------

SCHEMA_COMMANDS = {
    "info": ("info", "--db", "DB"),
    "indicators": ("indicators", "--by", "city", "--db", "DB"),
    "report": ("report", "--city", "--out", "TMP/r.html", "--db", "DB"),
    "cameras-list": ("cameras", "list", "--db", "DB"),
    "export-parquet": ("export-parquet", "TMP/pq", "--db", "DB"),
    "ingest": ("ingest", "TMP", "--camera", "cam-1", "--db", "DB"),
}

CASES: list[Case] = [
    # a schema version that is not a whole number: every command says so in one line
    *[Case(f"schema-not-integer-{name}", with_schema("abc", *args), "schema version 'abc' is not a whole number")
      for name, args in SCHEMA_COMMANDS.items()],
    Case("schema-negative", with_schema("-1", "info", "--db", "DB"), "schema version '-1' is not a whole number"),
    # a newer schema: upgrade UrbanLens (opening it read-write cannot help)
    Case("schema-newer-report", with_schema("99", *SCHEMA_COMMANDS["report"]), "upgrade UrbanLens"),
    Case("schema-newer-info", with_schema("99", "info", "--db", "DB"), "upgrade UrbanLens"),
    # an older schema opened read-only: says which command upgrades it
    Case("schema-older-report", older_schema, "upgrade the file first with `urbanlens info --db"),
    # not a database at all
    Case("db-not-duckdb", not_duckdb, "is not a DuckDB database file"),
    # GeoJSON
    Case("geojson-deep", districts_import(deep_json(200_000)), "nests arrays or objects too deeply"),
    Case("geojson-nan-ring", districts_import(NAN_RING), "districts file 'd.geojson': NaN is not a number"),
    Case("geojson-not-json", districts_import(b'{"type": "FeatureCollection", "features": [}'), "is not valid JSON"),
    Case("geojson-latin1", districts_import("{\"name\": \"Mal\u00f6\"}".encode("latin-1")), "is not UTF-8"),
    Case("geojson-point", districts_import([{"type": "Feature", "properties": {"name": "P"},
                                             "geometry": {"type": "Point", "coordinates": [4, 52]}}]), "expected Polygon"),
    Case("geojson-formula-id", districts_import([{"type": "Feature", "properties": {"name": "A", "id": "=1+2"}, "geometry": SQUARE}]),
         "district id '=1+2' must be"),
    Case("geojson-rlo-name", districts_import([{"type": "Feature", "properties": {"name": f"Old{RLO}nwoT"}, "geometry": SQUARE}]),
         "text-direction control (U+202E)"),
    Case("geojson-huge-number", districts_import(b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                                                 b'{"name": "B"}, "geometry": {"type": "Polygon", "coordinates": [[[4, 52], [1'
                                                 + b"0" * 400 + b', 52], [5, 53], [4, 52]]]}}]}'), "not a pair of finite numbers"),
    # cameras CSV
    Case("cameras-bad-rows", cameras_import("camera_id,lon,lat\ncam-1,4.9,52.3\n=cmd|' /C calc'!A0,4.9,52.3\ncam-3,999,52\n"),
         "cameras not imported (nothing was changed)"),
    Case("cameras-rlo-name", cameras_import(f"camera_id,lon,lat,name\ncam-7,4.9,52.3,invoice{RLO}fdp.exe\n"), "text-direction control"),
    Case("cameras-nul-name", cameras_import("camera_id,lon,lat,name\ncam-7,4.9,52.3,a\x01b\n"), "control character (U+0001)"),
    Case("cameras-binary", cameras_import(bytes(range(256)) * 4), "cameras"),
    Case("cameras-add-formula-id", lambda tmp, db: ["cameras", "add", "@SUM(A1)", "--lon", "4.9", "--lat", "52.3", "--db", str(db)],
         "camera_id '@SUM(A1)' must be"),
    Case("zones-lone-surrogate", zones_with(b'[{"name": "a\\ud800", "role": "lane", "polygon": [[0, 0], [1, 0], [1, 1]]}]'),
         "control character (U+D800)"),
    Case("zones-deep", zones_with(b"[" * 100_000 + b"]" * 100_000), "too deeply"),
    # clips: each failed clip is named in one error line, and ingest exits 1
    Case("clip-empty", ingest_clip(empty_clip), "1 of 1 clip failed: empty.mp4: the file is empty (0 bytes)", code=1),
    Case("clip-truncated", ingest_clip(truncated_clip), "truncated.mp4", code=1),
    Case("clip-renamed-text", ingest_clip(renamed_text), "notes.mp4 is not a video file", code=1),
    Case("clip-renamed-csv", ingest_clip(renamed_csv_as_avi), "cams.avi", code=1),
    Case("clip-too-long", ingest_clip(long_clip), "lasts 2:10:00, longer than the maximum of 1:00:00", code=1),
    Case("clip-too-long-flag", ingest_clip(long_clip, "--max-duration", "30"), "longer than the maximum of 30:00", code=1),
    Case("batch-one-bad", batch_with_one_bad_clip, "1 of 2 clips failed: b-broken.mp4", code=1, db_may_change=True),
    # accepted with a warning (exit 0): the note says what is odd
    Case("clip-17x4000-like", ingest_clip(strip_clip), "62 times taller than wide", code=0, db_may_change=True),
    Case("clip-fps-above-rate", ingest_clip(good_clip, "--fps", "30"), "above the clip's own 10 frames a second", code=0,
         db_may_change=True),
    Case("clip-fps-below-clip", ingest_clip(good_clip, "--fps", "0.5"), "only its first frame is analysed", code=0,
         db_may_change=True),
    Case("fps-below-one-an-hour", ingest_clip(good_clip, "--fps", "0.0001"), "one frame an hour"),
    Case("fps-not-a-number", ingest_clip(good_clip, "--fps", "nan"), "expected a number from"),
    # exports: a formula stored as a district id reaches the CSV neutralised
    Case("csv-formula-district", hostile_district_ids, "'=HYPERLINK(", code=0),
    # the version flag works without a command
    Case("version", lambda tmp, db: ["--version"], "urbanlens ", code=0),
    # model cards (models add --card): YAML "billion laughs", JSON nested 100,000 deep, a name of 100,000 characters
    Case("card-yaml-aliases", card_add(b'a: &a ["x","x"]\nb: &b [*a, *a]\nc: [*b, *b]\n', "yaml"), "anchors or aliases"),
    Case("card-json-deep", card_add(b"[" * 100_000 + b"]" * 100_000, "json"), "too deeply"),
    Case("card-long-name", card_add(b'name = "' + b"x" * 100_000 + b'"\ninput_height = 64\ninput_width = 64\nclass_set = "cityscapes"\n',
                                    "toml"), "(100,000 characters)"),
    # Parquet landings of a cluster job (import-parquet): wrong types, NaN/inf/null, impossible counts, lying footers
    Case("parquet-time-soon", import_landing(set_column("ts", lambda n: pa.array(["soon"] * n))), "column 'ts' is 'string'; expected timestamps"),
    Case("parquet-inf-seconds", import_landing(set_column("t_s", lambda n: pa.array([math.inf] * n))), "column 't_s' holds 'inf' in row 0"),
    Case("parquet-nan-pixels", import_landing(set_column("class_pixels", lambda n: pa.array([[math.nan] * 20] * n))),
         "column 'class_pixels' is 'list<element: double>'"),
    Case("parquet-null-pixels", import_landing(set_column("class_pixels", lambda n: pa.array([[None] * 20] * n, pa.list_(pa.int64())))),
         "column 'class_pixels' is empty (null) in entry 0"),
    Case("parquet-inf-count", import_landing(set_column("n_vehicle", lambda n: pa.array([math.inf] * n))), "column 'n_vehicle' is 'double'"),
    Case("parquet-null-count", import_landing(set_column("n_person", lambda n: pa.array([None] * n, pa.int32()))),
         "column 'n_person' is empty (null) in row 0"),
    Case("parquet-start-in-words", import_landing(meta=lambda m: {**m, "clip": {**m["clip"], "start_time": "next tuesday"}}),
         "metadata clip start_time is 'next tuesday'; expected an ISO time"),
    Case("parquet-negative-distress", import_landing(set_column("distress_crack_px", lambda n: pa.array([-1437353.0] * n))),
         "column 'distress_crack_px' holds '-1437353.0' in row 0; expected a pixel count from 0 to 10,000"),
    Case("parquet-inf-distress", import_landing(set_column("distress_pothole_px", lambda n: pa.array([-math.inf] * n))),
         "column 'distress_pothole_px' holds '-inf' in row 0"),
    Case("parquet-footer-1e12-rows", import_landing(rows=10**12), "its footer claims 1,000,000,000,000 rows in a file of"),
    # CVAT archives: a member whose headers declare 1,000 bytes but that inflates to 64 MB
    Case("cvat-lying-member", import_lying_member, "member 'SegmentationClass/f0.png' cannot be read"),
    # CVAT archives: a 1 MB PNG of 18,500 x 18,500 pixels, refused from its header before decoding
    Case("cvat-huge-png", import_huge_png, "18,500 x 18,500 pixels; at most 67,108,864 pixels"),
    # CVAT archives: 1,100 labels (more than 8-bit class ids hold; choosing their colours used to hang)
    Case("cvat-1100-labels", import_many_labels, "more than 255 labels besides 'background'"),
    # CVAT archives: a member that climbs out of the folder it would be unpacked into
    Case("cvat-climbing-member", import_climbing_member, "points outside the archive"),
    # label maps: nested 100,000 deep, a number of 5,000 digits, an entry that is not text
    Case("label-map-deep", evaluate_with_label_map(b"[" * 100_000 + b"]" * 100_000), "nests arrays or objects too deeply"),
    Case("label-map-long-number", evaluate_with_label_map(b'{"road": ' + b"9" * 5000 + b"}"), "cannot be read as JSON"),
    Case("label-map-wrong-type", evaluate_with_label_map(b'{"road": ["Road"]}'), "entry 'road' is not"),
    # a binary clip manifest: the error quotes at most 80 characters of its header
    Case("manifest-binary", ray_manifest(b"\x01\x02" * 131_148 + b",x\n"), "(262,296 characters)"),
    # zones: a coordinate of 1e300 (finite, but no frame is that large) and one of 5,000 digits
    Case("zones-huge-coordinate", zones_with(b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [1e300, 0], [1, 1]]}]'),
         "within ±100,000"),
    Case("zones-long-number", zones_with(b'[{"name": "a", "role": "lane", "polygon": [[0, 0], [' + b"9" * 5000 + b', 0], [1, 1]]}]'),
         "cannot be read as JSON"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, city_db: Path, tmp_path: Path, cli_env: None, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    args = case.build(folder, city_db)
    before = database_digest(city_db)
    ran = run_cli(args, capsys, monkeypatch)
    assert "Traceback" not in ran.out + ran.err, ran.out + ran.err
    assert ran.code == case.code, (ran.code, ran.out, ran.err)
    if case.code == 0:
        assert case.expect in ran.out, ran.out
        assert ran.err == "", ran.err
    else:
        lines = ran.err.splitlines()
        assert len(lines) == 1, ran.err
        assert lines[0].startswith("error: ") and case.expect in lines[0], lines[0]
        assert "unexpected" not in lines[0]  # a bad input is not a bug
    if not case.db_may_change:
        assert database_digest(city_db) == before, "the database changed"


def test_the_csv_keeps_numbers_as_numbers(city_db: Path, tmp_path: Path, cli_env: None, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    frames_with_district(city_db, "-north")
    ran = run_cli(["indicators", "--by", "district", "-i", "green_view", "--min-frames", "1", "--format", "csv", "--db", str(city_db)],
                  capsys, monkeypatch)
    header, row = ran.out.splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["district"] == "'-north"  # text starting with '-' is neutralised
    assert float(cells["green_view"]) == pytest.approx(0.3) and cells["n_frames"] == "40"  # numbers are written as numbers


def test_builders_leave_the_fixture_database_usable(city_db: Path) -> None:
    """The fixture itself: a database with districts and frames (so 'unchanged' means something)."""
    con = duckdb.connect(str(city_db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM frames").fetchone() == (40,)
        assert con.execute("SELECT count(*) FROM districts").fetchone() == (len(demo_districts()),)
    finally:
        con.close()
