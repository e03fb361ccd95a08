"""The Ray engine: one local Ray cluster (2 CPUs) for the module ingests the two sample clips and a
corrupt one; its measurements equal the local engine's; re-runs and imports are idempotent; a
writer killed mid-write leaves no partial clip; foreign Parquet is refused."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.errors import InputError
from analytics.settings import load_settings
from analytics.store import Store
from analytics.store.parquet import clip_files, clip_written, import_clips, read_clip

pytestmark = pytest.mark.slow

START = "2024-05-01T08:00:00"
SAMPLING = ["--fps", "0.5", "--max-frames", "3"]
CAMERA = pd.DataFrame({"camera_id": ["c1"], "name": ["Test"], "lon": [4.9], "lat": [52.37]})


def _db(path: Path) -> Path:
    with Store(path) as s:
        s.upsert_cameras(CAMERA)
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Any:
    """The local engine and one Ray job (CLI, manifest, 2 workers) over bikes, car-detection and a corrupt clip."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'urbanlens[cluster]')")
    from analytics.footage.cluster import ClipTask, start_ray
    from analytics.footage.pipeline import analyse_clip
    from analytics.models import zoo

    root = tmp_path_factory.mktemp("ray")
    home = root / "home"
    env = {"URBANLENS_HOME": str(home), "URBANLENS_MODEL_MIRROR": str(shared_dir / "models" / "espnetv2"), "URBANLENS_DB": ""}
    settings = dataclasses.replace(load_settings(), home=home, model_mirror=shared_dir / "models" / "espnetv2")
    zoo.install("espnetv2-s2", settings)
    clips = [shared_dir / "samples" / "bikes.mp4", shared_dir / "samples" / "car-detection.mp4"]
    bad = root / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    local = Store(_db(root / "local.duckdb"))
    for c in clips:
        analyse_clip(c, "c1", local, settings=settings, fps=0.5, max_frames=3, start_time=START, keep_previews=0)
    (root / "clips.csv").write_text("path,camera_id,start\n" + "".join(f"{p},c1,{START}\n" for p in [*clips, bad]))
    start_ray(None, num_cpus=2)
    ray_db = _db(root / "ray.duckdb")
    res = CliRunner().invoke(
        app, ["ingest", "--manifest", str(root / "clips.csv"), "--engine", "ray", "--workers", "1", *SAMPLING, "--db", str(ray_db)],
        env=env,
    )
    tasks = [ClipTask(str(p), "c1", pd.Timestamp(START).to_pydatetime()) for p in [*clips, bad]]
    yield {"root": root, "home": home, "env": env, "settings": settings, "local": local, "ray_db": ray_db, "cli": res,
           "tasks": tasks, "pq": home / "cluster-parquet"}
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
    assert res.exit_code == 1, res.output  # one clip failed: exit 1, the others landed
    assert "corrupt.mp4" in res.output and "failed" in res.output and "2 done" in res.output
    with Store(job["ray_db"]) as ray_store:
        remote = _frames(ray_store)
    local = _frames(job["local"])
    assert len(local) == 6 and set(local["label"]) == {"bikes.mp4", "car-detection.mp4"}
    pd.testing.assert_frame_equal(local, remote)  # same frames, same pixel counts, same confidence


def test_rerun_writes_nothing_new(job: Any) -> None:
    from analytics.footage.cluster import run_clips

    before = {p: p.stat().st_mtime_ns for p in job["pq"].rglob("*") if p.is_file()}
    with Store(job["ray_db"]) as s:
        cameras = {"c1": s.camera("c1")}
    out = run_clips(job["tasks"], job["pq"], job["settings"], cameras=cameras, workers=1, threads=2, fps="0.5", max_frames=3)
    assert sorted(o.status for o in out) == ["failed", "skipped", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in job["pq"].rglob("*") if p.is_file()} == before


def test_import_parquet_twice_is_a_no_op_and_indicators_read_the_folder(job: Any, tmp_path: Path) -> None:
    db = _db(tmp_path / "imported.duckdb")
    first = CliRunner().invoke(app, ["import-parquet", str(job["pq"]), "--db", str(db)])
    assert first.exit_code == 0 and "Imported 2 clip(s), 6 sampled frames" in first.output, first.output
    second = CliRunner().invoke(app, ["import-parquet", str(job["pq"]), "--db", str(db)])
    assert second.exit_code == 0 and "Imported 0 clip(s)" in second.output and "2 already stored" in second.output
    with Store(db) as s:
        assert _frames(s).equals(_frames(job["local"]))
    res = CliRunner().invoke(app, ["indicators", "--parquet", str(job["pq"]), "--by", "camera", "--db", str(db)])
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


def test_a_writer_killed_mid_write_leaves_no_partial_clip(job: Any, tmp_path: Path) -> None:
    src = clip_files(job["pq"])[0]
    out = tmp_path / "pq"
    script = (
        "import os, sys\n"
        "from analytics.store.parquet import read_clip, write_clip\n"
        "m = read_clip(sys.argv[1])\n"
        "cam = {'lon': 4.9, 'lat': 52.37, 'district_id': None, 'kind': 'fixed'}\n"
        "write_clip(sys.argv[2], m, cam, before_rename=(lambda p: os._exit(3)) if sys.argv[3] == 'kill' else None)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(src), str(out), "kill"], capture_output=True, timeout=60)
    assert killed.returncode == 3, killed.stderr
    sha = src.name.split("-")[1]
    assert clip_files(out) == []  # nothing visible to readers (only a hidden .tmp file)
    marker = next((out / "_clips").glob(f"{sha}-*.json"))
    key = marker.name.split("-")[1].removesuffix(".json")
    assert clip_written(out, sha, key) is None  # the marker's file is missing: not written, a re-run writes it
    done = subprocess.run([sys.executable, "-c", script, str(src), str(out), "ok"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in clip_files(out)] == [src.name] and clip_written(out, sha, key) is not None
    assert not list(out.rglob(".*.tmp"))
    again, first = read_clip(clip_files(out)[0]), read_clip(src)
    assert (again.class_pixels == first.class_pixels).all() and again.run.settings_key == first.run.settings_key


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    res = CliRunner().invoke(app, ["ingest", str(clip), "--camera", "c1", "--engine", "ray"])
    assert isinstance(res.exception, InputError) and "pip install 'urbanlens[cluster]'" in str(res.exception)
