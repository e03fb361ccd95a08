"""Re-ingest: a clip stored under another camera or start time is refused before analysis, saying where
it is; ``--replace`` moves it (every table's rows, in one transaction); the same place is skipped; an
ingest that cannot store creates no database file; a Ray job skips stored clips before it starts."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from clips import H, W, street, write_cv2
from helpers import PERSON, ROAD, clip_from_pixels, count_tables, store_with_cameras
from tinymodels import colour_card, colour_model
from typer.testing import CliRunner

from analytics.cli import app
from analytics.footage.batch import stored_before
from analytics.footage.cluster import ClipTask
from analytics.footage.pipeline import AnalysisOptions, analyse_clip
from analytics.footage.video import Sampling
from analytics.records import ClipMeasurements, Preview
from analytics.settings import load_settings
from analytics.store import Store
from analytics.store import ingest as ingest_module
from analytics.store.ingest import CLIP_TABLES, StoredElsewhere

T1, T2 = datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 2, 9, 30)
CAMERAS = pd.DataFrame({"camera_id": ["cam-1", "cam-2"], "name": ["One", "Two"], "lon": [4.9, 4.91], "lat": [52.37, 52.38]})


# -- the store: every table's rows move, or none ---------------------------------------------------


def _full_clip() -> ClipMeasurements:
    """A clip with rows in every table: frames, class and zone pixels, objects, previews and counts."""
    m = clip_from_pixels("cam-1", T1, [{ROAD: 60, PERSON: 40}] * 3, label="bikes.mp4", zone_person=[5, 6, 7])
    objects = pd.DataFrame({"frame_pos": [0, 2], "group": ["person", "person"], "x0": [1, 2], "y0": [1, 2], "x1": [5, 6],
                            "y1": [9, 9], "area_px": [30, 32]})
    counts = count_tables(crossings=[("gate", 0.5, "person", "in", 1)], visits=[("plaza", "person", 1, 0.0, 1.0)],
                          tracks=[(1, "person", 0.0, 1.0, None)])
    return dataclasses.replace(m, objects=objects, previews=[Preview(1, b"\xff\xd8jpeg")], counts=counts)


def _rows(store: Store, sha: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Per table: the clip's rows and the cameras they name (tables keyed by frame or run join to theirs)."""
    out = {}
    for table in CLIP_TABLES:
        if table in ("frame_class_pixels", "frame_objects", "frame_zone_pixels"):
            sql = f"SELECT f.camera_id FROM {table} t JOIN frames f USING (frame_id) WHERE f.clip_sha256 = ?"
        elif table in ("model_runs", "previews"):
            sql = (f"SELECT c.camera_id FROM {table} t JOIN model_runs r USING (run_id) JOIN clips c ON c.clip_sha256 = r.clip_sha256 "
                   "WHERE r.clip_sha256 = ?")
        else:
            sql = f"SELECT camera_id FROM {table} WHERE clip_sha256 = ?"
        cams = store.query_df(sql, [sha])["camera_id"].tolist()
        out[table] = (len(cams), tuple(sorted(set(cams))))
    return out


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Store, ClipMeasurements]:
    store = store_with_cameras(str(tmp_path / "u.duckdb"), [("cam-1", 4.9, 52.37), ("cam-2", 4.91, 52.38)])
    m = _full_clip()
    assert store.ingest(m)[0].status == "stored"
    return store, m


def test_store_refuses_another_place_and_replace_moves_every_row(stored: tuple[Store, ClipMeasurements]) -> None:
    store, m = stored
    before = _rows(store, m.clip.sha256)
    assert all(n > 0 and cams == ("cam-1",) for n, cams in before.values()), before  # a row in every table
    moved = dataclasses.replace(m, clip=dataclasses.replace(m.clip, camera_id="cam-2", start_time=T2))
    with pytest.raises(StoredElsewhere, match=r"^bikes\.mp4 is stored under cam-1 at 2024-05-01 08:00; --replace moves it$"):
        store.ingest(moved)
    later = dataclasses.replace(m, clip=dataclasses.replace(m.clip, start_time=T2))  # same camera, another start
    with pytest.raises(StoredElsewhere, match="stored under cam-1 at 2024-05-01 08:00"):
        store.ingest(later)
    assert _rows(store, m.clip.sha256) == before
    assert store.ingest(m)[0].status == "skipped"  # same camera, start and settings
    assert store.ingest(moved, replace=True)[0].status == "stored"
    after = _rows(store, m.clip.sha256)
    assert {t: n for t, (n, _) in after.items()} == {t: n for t, (n, _) in before.items()}, (before, after)
    assert all(cams == ("cam-2",) for _, cams in after.values()), after  # no row of the old place is left
    assert store.stored_clip(m.clip.sha256) == ("cam-2", T2)
    assert store.scalar("SELECT min(ts) FROM frames") == T2
    assert store.ingest(moved, replace=True)[0].status == "skipped"  # where it is now: nothing to move


def test_a_failed_replace_changes_nothing(stored: tuple[Store, ClipMeasurements], monkeypatch: pytest.MonkeyPatch) -> None:
    store, m = stored
    before = _rows(store, m.clip.sha256)
    real = ingest_module.insert_table

    def failing(cur: object, table: str, df: pd.DataFrame) -> None:
        if table == "frame_zone_pixels":  # after the old rows are deleted and the new clip, run and frames are in
            raise OSError("disk full")
        real(cur, table, df)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_module, "insert_table", failing)
    moved = dataclasses.replace(m, clip=dataclasses.replace(m.clip, camera_id="cam-2", start_time=T2))
    with pytest.raises(OSError, match="disk full"):
        store.ingest(moved, replace=True)
    assert _rows(store, m.clip.sha256) == before
    assert store.stored_clip(m.clip.sha256) == ("cam-1", T1)


# -- the pipeline and the CLI: refused before analysis, --replace, skipped, no new file ------------


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    """Two cameras in a fresh database, the tiny colour model installed as 'colours', two short clips."""
    from analytics.models import zoo

    settings = load_settings()
    card = tmp_path / "colours.json"
    card.write_text(colour_card(32, 64).to_json())
    zoo.add_model(colour_model(tmp_path / "colours.onnx", height=32, width=64), card, settings)
    with Store(settings.db_path) as s:
        s.upsert_cameras(CAMERAS)
    folder = tmp_path / "clips"
    folder.mkdir()
    write_cv2(folder / "a.avi", 8, fps=10, size=(W, H), paint=street)
    write_cv2(folder / "b.avi", 6, fps=10, size=(W, H), paint=lambda i, w, h: street(i + 3, w, h))
    return folder


def _ingest(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["ingest", *args, "--model", "colours", "--road-model", "none"])
    return res.exit_code, res.output + (str(res.exception) if res.exception and not isinstance(res.exception, SystemExit) else "")


def _counts(db: Path) -> pd.DataFrame:
    with Store(db) as s:
        return s.query_df("SELECT c.label, c.camera_id, c.start_time, count(f.frame_id) AS frames, "
                          "(SELECT count(*) FROM model_runs r WHERE r.clip_sha256 = c.clip_sha256) AS runs "
                          "FROM clips c LEFT JOIN frames f USING (clip_sha256) GROUP BY ALL ORDER BY c.label")


def test_stored_elsewhere_is_refused_before_analysis_then_replace_moves_it(clips: Path) -> None:
    settings = load_settings()
    code, out = _ingest(str(clips / "a.avi"), "--camera", "cam-1", "--start", T1.isoformat())
    assert code == 0, out
    first = _counts(settings.db_path)
    calls: list[int] = []
    with Store(settings.db_path) as store, pytest.raises(StoredElsewhere, match=r"^a\.avi is stored under cam-1 at 2024-05-01 08:00;"):
        analyse_clip(clips / "a.avi", "cam-2", store, AnalysisOptions(model="colours", road_model="none", start_time=T1), settings,
                     progress=lambda done, total, rate, eta: calls.append(done))
    assert calls and max(calls) == 0  # not one frame was segmented
    # a batch: the stored clip fails with where it is, the other one is stored; only refusals failed: exit 2
    code, out = _ingest(str(clips / "a.avi"), str(clips / "b.avi"), "--camera", "cam-2", "--start", T2.isoformat())
    assert code == 2, out
    assert "a.avi is stored under cam-1 at 2024-05-01 08:00; --replace moves it" in " ".join(out.split()), out
    assert "1 done, 0 skipped (already ingested), 1 failed (a.avi)" in out, out
    assert _counts(settings.db_path).query("label == 'a.avi'").equals(first)  # untouched
    code, out = _ingest(str(clips / "a.avi"), "--camera", "cam-2", "--start", T2.isoformat(), "--replace")
    assert code == 0, out
    moved = _counts(settings.db_path).query("label == 'a.avi'").reset_index(drop=True)
    assert moved[["camera_id", "start_time", "frames", "runs"]].to_dict("records") == [
        {"camera_id": "cam-2", "start_time": pd.Timestamp(T2), "frames": first["frames"].iloc[0], "runs": 1}]
    code, out = _ingest(str(clips / "a.avi"), "--camera", "cam-2", "--start", T2.isoformat())
    assert code == 0 and "0 done, 1 skipped (already ingested), 0 failed" in out, out


@pytest.mark.parametrize("case", ["unknown camera", "failing clip"])
def test_a_failed_first_ingest_leaves_no_database_file(clips: Path, tmp_path: Path, case: str) -> None:
    db = tmp_path / "new" / "urbanlens.duckdb"
    (tmp_path / "new").mkdir()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2000)
    args = [str(clips / "a.avi"), "--camera", "nope"] if case == "unknown camera" else [str(broken), "--camera", "cam-1"]
    code, out = _ingest(*args, "--db", str(db))
    assert code != 0 and "does not exist yet, so it has no cameras" in out, out
    assert not db.exists() and not list(db.parent.iterdir())


def test_ray_precheck_skips_stored_clips_and_refuses_moved_ones(clips: Path) -> None:
    """What :func:`run_ray` drops before Ray starts, with the options its workers get."""
    settings = load_settings()
    options = AnalysisOptions(model="colours", road_model="none", keep_previews=0)
    with Store(settings.db_path) as store:
        analyse_clip(clips / "a.avi", "cam-1", store, options.replace(start_time=T1), settings)
        cameras = {c: store.camera(c) for c in ("cam-1", "cam-2")}
        zones = {c: store.zones(c) for c in cameras}
        a, b = str(clips / "a.avi"), str(clips / "b.avi")
        known = stored_before([ClipTask(a, "cam-1", T1), ClipTask(b, "cam-1", T1)], store, options, settings, cameras=cameras, zones=zones)
        assert [(p, o.status) for p, o in known.items()] == [(a, "skipped")]
        other = stored_before([ClipTask(a, "cam-1", T1)], store, options.replace(sampling=Sampling.parse("1")), settings,
                              cameras=cameras, zones=zones)
        assert other == {}  # other settings: analysed again (a new run of the clip)
        refused = stored_before([ClipTask(a, "cam-2", T1)], store, options, settings, cameras=cameras, zones=zones)
        assert refused[a].status == "failed" and refused[a].refused and "stored under cam-1" in refused[a].message
        assert stored_before([ClipTask(a, "cam-2", T1)], store, options.replace(replace_stored=True), settings, cameras=cameras,
                             zones=zones) == {}
