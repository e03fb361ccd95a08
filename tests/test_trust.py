"""Trust verdicts (``analytics.trust``): checks on hand-made statistics and frames, storage, the
``clips`` command, indicators and reports leaving low-trust clips out, and one real clip."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from analytics import trust
from analytics.cli import app
from analytics.errors import InputError
from analytics.footage.geometry import frame_geometry
from analytics.footage.measure import measure_frame
from analytics.indicators import compute
from analytics.records import ClipMeasurements
from analytics.reports import build_report
from analytics.selection import Selection
from analytics.store import Store, schema_version
from analytics.store.catalog import class_shares, list_clips, trust_counts
from analytics.store.parquet import ParquetStore, export_frames
from analytics.taxonomy import CITYSCAPES
from analytics.trust import ClipStats, assess_measurements, verdict
from tests.helpers import BUILDING, CAR, ROAD, SIDEWALK, SKY, VEG, clip_from_pixels, store_with_cameras

T0 = datetime(2026, 3, 2, 8)
STREET = {ROAD: 3000, SIDEWALK: 1000, BUILDING: 3000, VEG: 1000, SKY: 1500, CAR: 500}
"""A plausible street view: every check passes."""
TOP_DOWN = {ROAD: 200, CAR: 9800}
"""What the model makes of a car park seen from above: vehicles over the whole picture, no sky."""
OK = ClipStats(n_frames=10, confidence=0.85, low_conf=0.07, flicker=0.1, vehicles_over_road=0.0, filled=0.0,
               no_sky_no_built=0.0)


# -- the verdict on statistics: one row per check, on both sides of its threshold ----------------

@pytest.mark.parametrize(
    ("change", "trust_level", "reason_words"),
    [
        ({}, "ok", None),  # CamVid-like footage: nothing fails
        ({"confidence": 0.69}, "low", "unsure of what it sees"),  # just below MIN_MEAN_CONFIDENCE
        ({"confidence": 0.70}, "ok", None),  # at the limit: passes
        ({"low_conf": 0.31}, "low", "read with low confidence"),  # above MAX_LOW_CONF_SHARE
        ({"flicker": 0.51}, "low", "labels jump between frames"),  # above MAX_FLICKER
        ({"flicker": float("nan")}, "ok", None),  # a one-frame clip has no flicker: not a failure
        ({"vehicles_over_road": 0.8}, "low", "more of the picture than the road"),  # top-down car-park GIF: 100%
        ({"vehicles_over_road": 0.55}, "ok", None),  # bikes.mp4, a van passing close: 55% passes
        ({"filled": 0.23, "filled_group": "vehicle"}, "low", "whole picture as vehicles"),  # car-detection.mp4
        ({"filled": 0.10}, "ok", None),  # at MAX_FILLED_FRAMES: passes
        ({"no_sky_no_built": 0.6}, "low", "no sky and no buildings"),  # a camera looking at the ground
        ({"no_sky_no_built": float("nan"), "filled": float("nan")}, "ok", None),  # frames too small to judge
        ({"road_disagreement": 0.15}, "low", "reads 15% of the picture as road"),  # car-detection.mp4 from above, 14-15%
        ({"road_disagreement": 0.03}, "ok", None),  # bikes.mp4 at most 3%, CamVid val 1%
        ({"road_disagreement": float("nan")}, "ok", None),  # no road model ran: no such check
    ],
)
def test_verdict_per_check(change: dict, trust_level: str, reason_words: str | None) -> None:
    v = verdict(dataclasses.replace(OK, **change))
    assert v.trust == trust_level
    if reason_words is None:
        assert v.reasons == () and v.summary == "ok"
    else:
        assert len(v.reasons) == 1 and reason_words in v.reasons[0]
        assert v.summary.startswith("low trust (heuristic): ")


def test_every_failed_check_gives_its_reason() -> None:
    bad = ClipStats(5, confidence=0.5, low_conf=0.5, flicker=0.9, vehicles_over_road=1.0, filled=1.0, no_sky_no_built=1.0,
                    road_disagreement=0.5)
    assert verdict(bad).trust == "low" and len(verdict(bad).reasons) == 7
    with pytest.raises(InputError, match="ClipStats"):
        verdict({"confidence": 0.5})  # type: ignore[arg-type]


# -- statistics from per-frame arrays --------------------------------------------------------------

def _pixels(frames: list[dict[int, int]]) -> np.ndarray:
    cp = np.zeros((len(frames), CITYSCAPES.num_classes), np.int64)
    for i, d in enumerate(frames):
        for c, v in d.items():
            cp[i, c] = v
    return cp


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([STREET] * 4, {"vehicles_over_road": 0.0, "filled": 0.0, "no_sky_no_built": 0.0}),
        ([TOP_DOWN] * 4, {"vehicles_over_road": 1.0, "filled": 1.0, "no_sky_no_built": 1.0}),  # car 98%, no sky
        ([STREET, TOP_DOWN], {"vehicles_over_road": 0.5, "filled": 0.5, "no_sky_no_built": 0.5}),  # one of two frames
        # a jam seen from the street: vehicles over the road but sky above them, so not counted
        ([{ROAD: 1000, CAR: 4000, SKY: 2000, BUILDING: 3000}], {"vehicles_over_road": 0.0, "filled": 0.0}),
        # a few dozen pixels (hand-made frames) are too few to judge a class mix
        ([{ROAD: 30, VEG: 10}], {"vehicles_over_road": math.nan, "filled": math.nan, "no_sky_no_built": math.nan}),
    ],
)
def test_class_mix_statistics(frames: list[dict[int, int]], expected: dict[str, float]) -> None:
    n = len(frames)
    s = trust.clip_stats(_pixels(frames), CITYSCAPES.groups, np.full(n, 0.9), np.full(n, 0.05), np.full(n, np.nan))
    for name, value in expected.items():
        got = getattr(s, name)
        assert (math.isnan(got) if math.isnan(value) else got == pytest.approx(value)), (name, got)
    assert math.isnan(s.flicker)  # never measured: NaN, not 0


def test_statistics_check_their_input() -> None:
    with pytest.raises(InputError, match=r"expected shape \(frames >= 1, 20\)"):
        trust.clip_stats(np.zeros((2, 3)), CITYSCAPES.groups, np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(InputError, match=r"mean_confidence: expected shape \(1,\)"):
        trust.clip_stats(_pixels([STREET]), CITYSCAPES.groups, np.zeros(3), np.zeros(1), np.zeros(1))
    with pytest.raises(InputError, match="unknown indicator group"):
        trust.clip_stats(np.ones((1, 2)), ["road", "water"], np.zeros(1), np.zeros(1), np.zeros(1))


def test_verdict_judges_the_segmenters_own_class_mix_and_the_road_models_disagreement() -> None:
    """With a road model the stored class pixels are the fused ones; the class-mix checks judge the
    segmenter's own (here a top-down reading the fusion turned into a street), the road model only adds its check."""
    m = clip_from_pixels("cam-1", T0, [STREET] * 4)
    assert assess_measurements(m).trust == "ok"
    fused_away = dataclasses.replace(m, segmenter_class_pixels=_pixels([TOP_DOWN] * 4), road_disagreement=np.full(4, 0.02))
    v = assess_measurements(fused_away)
    assert v.trust == "low" and any("whole picture as vehicles" in r for r in v.reasons), v.reasons
    assert v.stats.road_disagreement == pytest.approx(0.02)
    disagree = dataclasses.replace(m, segmenter_class_pixels=m.class_pixels, road_disagreement=np.array([0.2, 0.1, 0.0, 0.1]))
    assert assess_measurements(disagree).reasons == (
        "the road model reads 10% of the picture as road where the segmenter reads something else "
        "(expected at most 7%; e.g. the ground seen from above)",)
    with pytest.raises(InputError, match="segmenter_class_pixels"):
        dataclasses.replace(m, segmenter_class_pixels=np.zeros((3, CITYSCAPES.num_classes)))


def _label_frame(kind: str) -> np.ndarray:
    """A 64x128 label map: a street (sky above buildings above road) or a frame read as all car."""
    if kind == "top-down":
        return np.full((64, 128), CAR, np.uint8)
    lab = np.full((64, 128), ROAD, np.uint8)
    lab[:16] = SKY
    lab[16:40] = BUILDING
    lab[40:48, 40:80] = CAR
    return lab


@pytest.mark.parametrize(("kind", "confidence", "expected"), [
    ("street", 0.9, "ok"),  # known by construction: sky, buildings, road under a small car
    ("street", 0.4, "low"),  # the same scene read with low confidence everywhere
    ("top-down", 0.9, "low"),  # sure of itself, but the whole picture is "car"
])
def test_verdict_of_synthetic_frames_through_measure(kind: str, confidence: float, expected: str) -> None:
    g = frame_geometry(64, 128, 64, 128, "letterbox")
    rows, prev = [], None
    for _ in range(4):
        lab = _label_frame(kind)
        rows.append(measure_frame(lab, np.full(lab.shape, confidence, np.float32), g, CITYSCAPES, prev_labels=prev))
        prev = lab
    v = trust.assess(np.stack([r.class_pixels for r in rows]), CITYSCAPES.groups, np.array([r.mean_confidence for r in rows]),
                     np.array([r.low_conf_share for r in rows]), np.array([r.flicker for r in rows]))
    assert v.trust == expected, v.reasons


def test_left_out_note() -> None:
    assert trust.left_out_note(0) == ""
    assert trust.left_out_note(3).startswith("3 clips left out as low trust")
    with pytest.raises(InputError, match="whole number"):
        trust.left_out_note(-1)


# -- stored with the run, read back, left out of indicators ----------------------------------------

def _low_clip(camera: str, start: datetime = T0, label: str = "park") -> ClipMeasurements:
    return clip_from_pixels(camera, start, [TOP_DOWN] * 4, label=label)


def _store(tmp_path: Path) -> Store:
    s = store_with_cameras(str(tmp_path / "t.duckdb"), [("c1", 4.0, 52.0), ("c2", 4.1, 52.1)])
    s.ingest([clip_from_pixels("c1", T0, [STREET] * 4, label="street"), _low_clip("c1"), clip_from_pixels("c2", T0, [STREET] * 2)])
    return s


def test_ingest_stores_the_verdict_on_the_run_and_its_frames(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        runs = s.query_df("SELECT trust, trust_reasons FROM model_runs ORDER BY run_id")
        assert runs["trust"].tolist() == ["ok", "low", "ok"]
        assert any("whole picture as vehicles" in r for r in json.loads(runs["trust_reasons"][1]))
        assert s.query_df("SELECT count(*) AS n FROM frames WHERE low_trust")["n"][0] == 4
        clips = list_clips(s, "c1").set_index("label")
        assert clips.loc["park", "trust"] == "low" and clips.loc["street", "reasons"] == []
        assert trust_counts(s, Selection()) == {"clips": 3, "low": 1, "not_checked": 0, "low_frames": 4}
        assert trust_counts(s, Selection(cameras=["c2"]))["low"] == 0


def test_ingest_result_says_low_trust(tmp_path: Path) -> None:
    s = store_with_cameras(str(tmp_path / "t.duckdb"), [("c1", 4.0, 52.0)])
    with s:
        res = s.ingest(_low_clip("c1"))[0]
    assert res.trust == "low" and "left out of indicators" in res.message and res.trust_reasons


def test_indicators_leave_low_trust_clips_out_unless_asked(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        default = compute(s, Selection(min_frames=1), by="camera", indicators=["road_occupancy"]).set_index("camera")
        kept = compute(s, Selection(include_low_trust=True, min_frames=1), by="camera", indicators=["road_occupancy"]).set_index("camera")
        # c1: the street clip alone (500 / 3500) against both clips (street and "car park")
        assert default.loc["c1", "n_clips"] == 1 and default.loc["c1", "value"] == pytest.approx(500 / 3500)
        assert kept.loc["c1", "n_clips"] == 2 and kept.loc["c1", "n_frames"] == 8
        assert default.loc["c2", "n_clips"] == kept.loc["c2", "n_clips"] == 1
        shares = class_shares(s, Selection(cameras=["c1"])).set_index("group")
        assert shares.loc["vehicle", "n_frames"] == 4  # the day's shares leave the low clip out too
        assert class_shares(s, Selection(cameras=["c1"], include_low_trust=True)).set_index("group").loc["vehicle", "n_frames"] == 8


def test_parquet_export_keeps_the_flag_and_old_exports_read_as_not_checked(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        export_frames(s, tmp_path / "pq")
        pq = ParquetStore(tmp_path / "pq")
        assert compute(pq, Selection(min_frames=1), by="city", indicators=["green_view"])["n_clips"][0] == 2
        assert trust_counts(pq, Selection())["low"] == 1
        old = tmp_path / "old"  # an export written before verdicts existed: no low_trust column
        con = duckdb.connect()
        con.register("f", s.query_df("SELECT * EXCLUDE (low_trust), strftime(ts, '%Y-%m-%d') AS day FROM frames"))
        con.execute(f"COPY f TO '{old}' (FORMAT parquet, PARTITION_BY (day, camera_id))")
        assert compute(ParquetStore(old), Selection(min_frames=1), by="city", indicators=["green_view"])["n_clips"][0] == 3


def test_report_says_how_many_clips_were_left_out(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        content = build_report(s, Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), min_frames=1), None)
        kept = build_report(s, Selection(start=date(2026, 3, 2), end=date(2026, 3, 2), include_low_trust=True, min_frames=1), None)
    assert content.low_trust_left_out == 1 and content.low_trust_note.startswith("1 clip left out as low trust")
    assert content.sources.clips == 2 and kept.sources.clips == 3 and kept.low_trust_note == ""


# -- migration 4 on a database of release 0.1.0 ------------------------------------------------------

def test_migration_on_a_release_0_1_0_database(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    text = (Path(__file__).parent / "data" / "release-0.1.0.sql").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("--"):
            con.execute(line.rstrip().removesuffix(";"))
    con.close()
    with Store(path) as s:
        assert s.upgraded_from == 2 and schema_version(s.cursor()) >= 4
        old = list_clips(s)
        assert old["trust"].tolist() == ["not checked"] and old["reasons"].tolist() == [[]]
        assert trust_counts(s, Selection())["not_checked"] == 1
        # an unchecked clip counts as ok in indicators
        assert compute(s, Selection(min_frames=1), by="city", indicators=["green_view"])["n_frames"][0] == 3
        s.ingest(_low_clip("c1", datetime(2026, 11, 3, 9)))
        counts = trust_counts(s, Selection())
        assert {k: counts[k] for k in ("clips", "low", "not_checked")} == {"clips": 2, "low": 1, "not_checked": 1} and counts["low_frames"] > 0


# -- the clips command and --include-low-trust -------------------------------------------------------

def test_clips_cli(tmp_path: Path) -> None:
    _store(tmp_path).close()
    db = str(tmp_path / "t.duckdb")
    runner = CliRunner()
    out = runner.invoke(app, ["clips", "--db", db, "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["label"]: r for r in json.loads(out.stdout)}
    assert rows["park"]["trust"] == "low" and rows["park"]["reasons"] and rows["street"]["trust"] == "ok"
    only = json.loads(runner.invoke(app, ["clips", "--db", db, "--format", "json", "--camera", "c2"]).stdout)
    assert [r["camera_id"] for r in only] == ["c2"]
    table = runner.invoke(app, ["clips", "--db", db], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "low" in table.stdout and "3 clips: 2 ok, 1 low trust" in table.stdout
    bad = runner.invoke(app, ["clips", "--db", db, "--camera", "nope"])
    assert isinstance(bad.exception, InputError) and "unknown camera 'nope'" in str(bad.exception)  # main() prints one line


def test_indicators_cli_include_low_trust(tmp_path: Path) -> None:
    _store(tmp_path).close()
    db = str(tmp_path / "t.duckdb")
    runner = CliRunner()
    base = ["indicators", "--by", "camera", "-i", "road_occupancy", "--db", db, "--min-frames", "1", "--format", "json"]
    default = {r["camera"]: r for r in json.loads(runner.invoke(app, base).stdout)}
    kept = {r["camera"]: r for r in json.loads(runner.invoke(app, [*base, "--include-low-trust"]).stdout)}
    assert default["c1"]["n_clips"] == 1 and kept["c1"]["n_clips"] == 2
    shown = runner.invoke(app, base[:-2], env={"COLUMNS": "200"})
    assert "1 clip left out as low trust" in shown.stdout


def test_overview_page_says_how_many_clips_were_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(tmp_path).close()
    monkeypatch.setenv("URBANLENS_DB", str(tmp_path / "t.duckdb"))
    at = AppTest.from_file(str(Path(__file__).parents[1] / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(re.search(r"1 clip \(\d+ frames\) flagged low trust is left out of these numbers", c.value) for c in at.caption)


# -- real footage -------------------------------------------------------------------------------------

def test_top_down_car_park_is_low_trust(shared_dir: Path, model_mirror: Path, tmp_path: Path) -> None:
    """car-detection.mp4 (a car park filmed from above) with the default analysis (road model on) at 0.2 frames/s,
    the sparsest rate checked: 7 frames, 5 of them empty asphalt that both models read with a street's layout."""
    clip = shared_dir / "samples" / "car-detection.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is not in ../shared")
    db = str(tmp_path / "real.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["cameras", "add", "park", "--lon", "4.9", "--lat", "52.3", "--db", db]).exit_code == 0
    out = runner.invoke(app, ["ingest", str(clip), "--camera", "park", "--fps", "0.2", "--keep-previews", "0", "--db", db],
                        env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert "low trust" in out.stdout
    rows = json.loads(runner.invoke(app, ["clips", "--db", db, "--format", "json"]).stdout)
    assert rows[0]["trust"] == "low"
    # the road model reads the asphalt as road where the segmenter reads buildings (14-15% of the picture at every rate)
    assert any("as road where the segmenter reads something else" in r for r in rows[0]["reasons"]), rows[0]["reasons"]
