"""The Ray engine: one local Ray cluster (2 CPUs) for the module runs two jobs over the two sample
clips and a corrupt one. The first job's worker process is killed mid-clip (at the atomic write's last
step, after its rows and marker are on disk): that clip is reported failed with the reason, the
others land, nothing partial is visible. The second job
(the CLI, a re-run) does only the missing clip and loads the database: its measurements equal the
local engine's. Imports are idempotent; foreign Parquet is refused."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analytics.cli import app, main
from analytics.errors import InputError
from analytics.settings import load_settings
from analytics.store import Store
from analytics.store.parquet import clip_files, clip_written, import_clips

pytestmark = pytest.mark.slow

START = "2024-05-01T08:00:00"
SAMPLING = ["--fps", "0.5", "--max-frames", "2"]
CAMERA = pd.DataFrame({"camera_id": ["c1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]})


def _db(path: Path) -> Path:
    with Store(path) as s:
        s.upsert_cameras(CAMERA)
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Any:
    """The local engine over bikes and car-detection; on Ray (2 CPUs, 1 worker) a job over both, a
    corrupt clip and a missing one, whose worker is killed (test hook: ``os._exit``) just before
    car-detection's file is renamed into place; then the CLI's re-run of the same manifest into a
    database. Two sampled frames a clip keep it cheap."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'urbanlens[cluster]')")
    from analytics.footage.cluster import ClipTask, run_clips, start_ray
    from analytics.footage.pipeline import AnalysisOptions, analyse_clip
    from analytics.models import zoo

    root = tmp_path_factory.mktemp("ray")
    home = root / "home"
    env = {"URBANLENS_HOME": str(home), "URBANLENS_MODEL_MIRROR": str(shared_dir / "models"), "URBANLENS_DB": ""}
    settings = dataclasses.replace(load_settings(), home=home, model_mirror=shared_dir / "models")
    zoo.install("espnetv2-s2", settings)
    clips = [shared_dir / "samples" / "bikes.mp4", shared_dir / "samples" / "car-detection.mp4"]
    bad = root / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    local = Store(_db(root / "local.duckdb"))
    options = AnalysisOptions.from_flags(fps=0.5, max_frames=2, keep_previews=0)
    for c in clips:
        analyse_clip(c, "c1", local, options.replace(start_time=START), settings)
    sha = dict(local.query_df("SELECT label, clip_sha256 FROM clips").itertuples(index=False, name=None))
    listed = [*clips, bad, root / "missing.mp4"]  # a corrupt clip and one that is not there: reported, the others land
    # the CLI's manifest names its clips relative to its own folder (a missing file would be refused before any work)
    (root / "clips.csv").write_text("path,camera_id,start\n" + "".join(f"{os.path.relpath(p, root)},c1,{START}\n" for p in listed[:3]))
    tasks = [ClipTask(str(p), "c1", pd.Timestamp(START).to_pydatetime()) for p in listed]
    folder = home / "cluster-parquet"  # where the CLI stages a job that loads the database
    ray_db = _db(root / "ray.duckdb")
    with Store(ray_db) as s:
        cameras = {"c1": s.camera("c1")}
    start_ray(None, num_cpus=2)
    killed = run_clips(
        tasks, folder, settings, options.replace(threads=2), cameras=cameras, workers=1, retries=0,
        fault=lambda tmp, victim=sha["car-detection.mp4"]: os._exit(3) if victim in tmp.name else None,  # test hook
    )
    after_kill = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    key = next(o.settings_key for o in killed if o.status == "stored")
    car_written = clip_written(folder, sha["car-detection.mp4"], key)  # its marker is there: is the clip counted as written?
    res = CliRunner().invoke(
        app, ["ingest", "--manifest", str(root / "clips.csv"), "--engine", "ray", "--workers", "1", *SAMPLING, "--db", str(ray_db)],
        env=env,
    )
    yield {"root": root, "local": local, "ray_db": ray_db, "cli": res, "sha": sha, "killed": killed, "after_kill": after_kill,
           "car_written": car_written,
           "pq": folder}
    import ray  # deferred: Ray is optional; the fixture skips without it

    ray.shutdown()


def _frames(store: Store) -> pd.DataFrame:
    return store.query_df(
        "SELECT c.label, f.frame_index, f.t_s, f.road_px, f.vegetation_px, f.person_px, f.vehicle_px, f.valid_px, f.n_person, "
        "f.n_vehicle, f.mean_confidence, f.low_trust, (SELECT list(p.pixels ORDER BY p.class_id) FROM frame_class_pixels p "
        "WHERE p.frame_id = f.frame_id) AS class_pixels FROM frames f JOIN clips c USING (clip_sha256) ORDER BY c.label, f.frame_index"
    )


def test_ray_ingest_equals_the_local_engine_and_reports_the_corrupt_clip(job: Any) -> None:
    res = job["cli"]
    assert res.exit_code == 1, res.output  # clips failed: exit 1, the others landed
    assert "2 done" in res.output and "1 failed (corrupt.mp4)" in res.output, res.output
    with Store(job["ray_db"]) as ray_store:
        remote = _frames(ray_store)
    local = _frames(job["local"])
    assert len(local) == 4 and set(local["label"]) == {"bikes.mp4", "car-detection.mp4"}
    pd.testing.assert_frame_equal(local, remote)  # same frames, same pixel counts, same confidence


def test_a_worker_killed_mid_clip_fails_that_clip_only_and_leaves_nothing_partial(job: Any) -> None:
    out = {Path(o.path).name: o for o in job["killed"]}
    names = ("bikes.mp4", "car-detection.mp4", "corrupt.mp4", "missing.mp4")
    assert [out[n].status for n in names] == ["stored", "failed", "failed", "failed"], job["killed"]
    assert "worker process died" in out["car-detection.mp4"].message, out["car-detection.mp4"].message
    assert "not a video file" in out["corrupt.mp4"].message and "missing.mp4" in out["missing.mp4"].message  # their own reasons
    files = [p for p in job["after_kill"] if p.suffix == ".parquet" and not p.name.startswith(".")]
    assert [p.name.split("-")[1] for p in files] == [job["sha"]["bikes.mp4"]]  # clip-<sha256>-<key>.parquet
    car = job["sha"]["car-detection.mp4"]
    hidden = [p for p in job["after_kill"] if car in p.name]  # the killed write left a hidden .tmp and its marker
    assert hidden and all(p.name.startswith(".") or p.parent.name == "_clips" for p in hidden)
    assert job["car_written"] is None  # the marker names a file that is missing: not written, a re-run writes it


def test_rerun_does_only_the_missing_clip(job: Any) -> None:
    output = job["cli"].output
    assert "bikes.mp4: skipped" in output and "car-detection.mp4: stored" in output and "corrupt.mp4: failed" in output
    now = {p: p.stat().st_mtime_ns for p in job["pq"].rglob("*") if p.is_file()}
    bikes = [p for p in job["after_kill"] if job["sha"]["bikes.mp4"] in p.name]
    assert bikes and all(now[p] == job["after_kill"][p] for p in bikes)  # the clip already there is not written again
    assert [p.name.split("-")[1] for p in clip_files(job["pq"])] == sorted(job["sha"].values())
    assert not list(job["pq"].rglob(".*.tmp"))  # the killed write's temporary file was replaced and renamed


def test_import_parquet_twice_is_a_no_op_and_indicators_read_the_folder(job: Any, tmp_path: Path) -> None:
    db = _db(tmp_path / "imported.duckdb")
    first = CliRunner().invoke(app, ["import-parquet", str(job["pq"]), "--db", str(db)])
    assert first.exit_code == 0 and "Imported 2 clips, 4 sampled frames" in first.output, first.output
    second = CliRunner().invoke(app, ["import-parquet", str(job["pq"]), "--db", str(db)])
    said = " ".join(second.output.split())  # the console may wrap the line at the width it was given
    assert second.exit_code == 0 and "Imported 0 clips" in said and "2 already stored" in said
    with Store(db) as s:
        assert _frames(s).equals(_frames(job["local"]))
    # both clips are low trust (bikes by its class mix, the car park by the road model's disagreement)
    res = CliRunner().invoke(app, ["indicators", "--parquet", str(job["pq"]), "--by", "camera", "--include-low-trust", "--db", str(db)])
    assert res.exit_code == 0 and "Green view" in res.output, res.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_columns(["road_px"]), "missing column(s) road_px"),  # a column the indicators need
        (lambda t: t.append_column("secret", t.column("road_px")), "foreign column(s) secret"),  # not ours
        (lambda t: t.replace_schema_metadata({}), "no 'urbanlens-clip/1' metadata"),  # the clip and run are gone
    ],
)
def test_foreign_parquet_is_refused_and_nothing_stored(job: Any, tmp_path: Path, change: Any, message: str) -> None:
    files = clip_files(job["pq"])
    folder = tmp_path / "pq"
    for i, f in enumerate(files):
        dest = folder / f.relative_to(job["pq"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(f)
        pq.write_table(change(table) if i == len(files) - 1 else table, dest)  # the last file is bad: the first must not land
    db = _db(tmp_path / "d.duckdb")
    with Store(db) as s:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            import_clips(s, folder)
        assert s.scalar("SELECT count(*) FROM clips") == 0


def test_without_ray_the_engine_says_how_to_install_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    monkeypatch.setattr(sys, "argv", ["urbanlens", "ingest", str(clip), "--camera", "c1", "--engine", "ray"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_info.value.code == 2 and len(lines) == 1 and "pip install 'urbanlens[cluster]'" in lines[0], lines


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("{clip},c9,\n", "unknown camera"),  # checked before Ray starts
        ("{clip},c1,2024-13-45 08:00\n", "start on line 2"),
        ("{clip},c1,\n,c1,\n", "line 3: path and camera_id must not be empty"),
        ("", "lists no clips"),
        ("s3://bucket/cam-1/0800.mp4,c1,\n", "is a URL; the Ray engine reads clips from local or mounted paths"),
        ("{clip},c1,\nnot-there.mp4,c1,\n", "1 of 2 clip files not found: 'TMP"),  # relative: the manifest's folder
    ],
)
def test_a_bad_manifest_is_refused_before_any_work(tmp_path: Path, rows: str, message: str) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'urbanlens[cluster]')")
    manifest = tmp_path / "clips.csv"
    manifest.write_text("path,camera_id,start\n" + rows.format(clip=tmp_path / "a.mp4"))
    (tmp_path / "a.mp4").write_bytes(b"\x00" * 100)  # there (the checks that come later are reached)
    res = CliRunner().invoke(app, ["ingest", "--manifest", str(manifest), "--engine", "ray", "--db", str(_db(tmp_path / "d.duckdb"))])
    message = message.replace("TMP", str(tmp_path)[:30])  # the manifest's folder; a long path is cut in the message
    assert isinstance(res.exception, InputError) and message in str(res.exception), (res.exception, res.output)
    assert "Ray:" not in res.output  # no job was started


def test_a_folder_is_expanded_to_its_clips_for_the_ray_engine(job: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics.footage import cluster

    folder = tmp_path / "cam"
    (folder / "day2").mkdir(parents=True)
    for name in ("a.mp4", "day2/b.MOV", "notes.txt"):
        (folder / name).write_bytes(b"x")
    seen: list[Any] = []

    def fake(tasks: list[Any], out_dir: Path, *args: Any, **kwargs: Any) -> list[Any]:
        seen.extend(tasks)
        return [cluster.ClipOutcome(t.path, t.camera_id, "failed", 0, "not run", 0.0) for t in tasks]

    monkeypatch.setattr(cluster, "run_clips", fake)  # the started cluster is reused; no job is run
    res = CliRunner().invoke(app, ["ingest", str(folder), "--camera", "c1", "--engine", "ray", "--db", str(_db(tmp_path / "d.duckdb"))])
    assert res.exit_code == 1 and "2 failed" in res.output, res.output
    assert [(t.path, t.camera_id) for t in seen] == [(str(folder.resolve() / "a.mp4"), "c1"), (str(folder.resolve() / "day2/b.MOV"), "c1")]


def test_a_track_places_one_clip_on_ray_and_workers_read_tags_in_the_cameras_zone(job: Any, tmp_path: Path, shared_dir: Path) -> None:
    """On the module's cluster, one job: bikes.mp4 with a track of its first second starts at the track in the city's zone
    (Zurich) and its frame at 2 s is written and loaded without a position; several clips with one track are refused before
    any work. A creation tag (car-detection.mp4: 22:46 UTC) is read in the camera's own zone (London, 23:46), the zone a
    worker takes (:func:`clip_zone`), rather than UTC or the city's (Zurich, 00:46)."""
    from analytics.footage.cluster import clip_zone
    from analytics.footage.pipeline import AnalysisOptions, clip_start_time

    db = tmp_path / "drive.duckdb"
    with Store(db) as s:
        s.upsert_cameras(pd.DataFrame({"camera_id": ["bike"], "name": ["Bike"], "lon": [4.9], "lat": [52.37], "kind": ["mobile"]}))
    (tmp_path / "t.csv").write_text("time,lat,lon\n2026-07-01T14:00:00Z,52.37,4.9\n2026-07-01T14:00:01Z,52.37,4.9001\n")
    bikes, car = shared_dir / "samples" / "bikes.mp4", shared_dir / "samples" / "car-detection.mp4"
    env = {"URBANLENS_HOME": str(job["root"] / "home"), "URBANLENS_MODEL_MIRROR": str(shared_dir / "models"), "URBANLENS_DB": "",
           "URBANLENS_TIMEZONE": "Europe/Zurich", "COLUMNS": "400"}
    ray = ["--engine", "ray", "--workers", "1", *SAMPLING, "--road-model", "none", "--db", str(db), "--track", str(tmp_path / "t.csv")]
    both = CliRunner().invoke(app, ["ingest", str(bikes), str(car), "--camera", "bike", *ray], env=env)
    assert isinstance(both.exception, InputError) and "--track places one clip; 2 clips were given" in str(both.exception)
    res = CliRunner().invoke(app, ["ingest", str(bikes), "--camera", "bike", *ray, "--out-parquet", str(tmp_path / "pq")], env=env)
    assert res.exit_code == 0, res.output
    assert "start time 2026-07-01 16:00:00 (Europe/Zurich) taken from the track's first point" in res.output
    assert "1 frame placed by the track; 1 outside its span, 0 in a gap over 30 s: stored without a position" in res.output
    loaded = CliRunner().invoke(app, ["import-parquet", str(tmp_path / "pq"), "--db", str(db)])
    assert loaded.exit_code == 0, loaded.output
    with Store(db) as s:
        frames = s.query_df("SELECT ts, lon, heading, district_id FROM frames ORDER BY t_s")
    assert frames["ts"].tolist() == [pd.Timestamp("2026-07-01 16:00:00"), pd.Timestamp("2026-07-01 16:00:02")]
    assert frames["lon"].iloc[0] == pytest.approx(4.9) and frames["heading"].iloc[0] == pytest.approx(90.0, abs=0.1)
    assert frames.iloc[1][["lon", "heading", "district_id"]].isna().all()
    settings = dataclasses.replace(load_settings(), timezone="Europe/Zurich")
    zones = [clip_zone({"timezone": tz}, AnalysisOptions(), settings) for tz in ("Europe/London", None)]
    assert zones == ["Europe/London", "Europe/Zurich"]
    assert [clip_start_time(car, tz=z) for z in ("UTC", *zones)] == [pd.Timestamp(f"2018-04-{t}:46:00") for t in ("19 22", "19 23", "20 00")]
