"""The demo city lives in a database of its own: `urbanlens demo` writes demo.duckdb, the user's
database starts empty, nothing real lands in the demo, the demo is never built over real data, and
the dashboard opens the right database and switches between the two."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.demo.city import DEMO_CLASS_SET, DEMO_MODEL, build_demo, demo_cameras, demo_clip_measurements
from analytics.errors import InputError
from analytics.records import RunInfo
from analytics.settings import load_settings
from analytics.store import EvaluationRow, Store, save_evaluation
from tests.helpers import clip_from_pixels, sha, store_with_cameras
from tests.tinymodels import install_colour_model, write_colour_street

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
FRAMES = [{0: 50, 8: 30, 10: 20}] * 40


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-apart") / "demo.duckdb"
    build_demo(path, days=1)
    return path


@pytest.fixture
def demo_db(tmp_path: Path, demo_template: Path) -> Path:
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_template, path)
    return path


@pytest.fixture
def real_db(tmp_path: Path) -> Path:
    path = tmp_path / "mine.duckdb"
    with store_with_cameras(str(path), [("cam-1", 4.9, 52.37)]) as store:
        store.ingest(clip_from_pixels("cam-1", datetime(2026, 1, 5, 10), FRAMES))
    return path


def _counts(path: Path) -> tuple[int, ...]:
    with Store(path, read_only=True) as s:
        return tuple(int(s.scalar(f"SELECT count(*) FROM {t}")) for t in ("clips", "frames", "cameras", "districts", "camera_zones",
                                                                            "evaluations"))


def test_demo_goes_to_its_own_file_and_the_users_database_stays_empty(_isolated_home: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--days", "1"])
    assert res.exit_code == 0, res.output
    settings = load_settings()
    assert settings.demo_db_path == _isolated_home / "demo.duckdb" and settings.demo_db_path.exists()
    assert not settings.db_path.exists()  # urbanlens.duckdb: nothing until the user puts something there
    res = CliRunner().invoke(app, ["info"])
    assert res.exit_code != 0 and f"--db {settings.demo_db_path}" in str(res.exception or res.output)


def test_demo_db_setting_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_DEMO_DB", str(tmp_path / "lensfield.duckdb"))
    assert load_settings().demo_db_path == tmp_path / "lensfield.duckdb"
    assert not load_settings().db_pinned
    monkeypatch.setenv("URBANLENS_DB", str(tmp_path / "x.duckdb"))
    assert load_settings().db_pinned


def _evaluation(camera: str | None) -> EvaluationRow:
    return EvaluationRow(model_name="m", weights_sha256=sha("w"), gt_sha256=sha("gt"), camera_id=camera, dataset_format="camvid",
                         label_map="cityscapes-camvid", n_images=3, miou=50.0, pixel_accuracy=90.0, fw_iou=80.0, metrics_json="{}")


REAL_WRITES: list[tuple[str, Callable[[Store], object]]] = [
    # footage of a demo camera: the Analyse page's save and `urbanlens ingest` end here
    ("clips", lambda s: s.ingest(clip_from_pixels("old-town-1", datetime(2026, 11, 2, 10), FRAMES))),
    # a camera of one's own (`cameras add`, `cameras import`, the Data page, a new camera on the Analyse page)
    ("cameras", lambda s: s.upsert_cameras(pd.DataFrame([{"camera_id": "mine", "name": "Mine", "lon": 4.9, "lat": 52.3}]))),
    # districts of one's own (`districts import`, the Data page)
    ("districts", lambda s: s.upsert_districts(pd.DataFrame([{"district_id": "sq", "name": "Square", "geometry_geojson": json.dumps(
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})}]))),
    # zones drawn for a clip saved on a demo camera
    ("zones", lambda s: s.set_zones("old-town-1", pd.DataFrame([{"zone": "z", "role": "sidewalk", "polygon_json": "[[0,0],[9,0],[9,9]]"}]))),
    # an evaluation on annotated frames (`urbanlens evaluate`)
    ("evaluations", lambda s: save_evaluation(s, _evaluation(None))),
]


@pytest.mark.parametrize(("what", "write"), REAL_WRITES, ids=[w for w, _ in REAL_WRITES])
def test_nothing_real_lands_in_the_demo(demo_db: Path, what: str, write: Callable[[Store], object]) -> None:
    before = _counts(demo_db)
    with pytest.raises(InputError, match=f"{demo_db}' holds the demo city.*real {what} never go into it; use your own database"):
        write(Store(demo_db))
    assert _counts(demo_db) == before  # nothing written


def test_cli_ingest_into_the_demo_is_one_line(demo_db: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["cameras", "add", "mine", "--lon", "4.9", "--lat", "52.3", "--db", str(demo_db)])
    assert res.exit_code != 0 and "holds the demo city" in str(res.exception or res.output)


def test_demo_is_never_built_over_real_data(real_db: Path) -> None:
    before = real_db.read_bytes()
    for force in (False, True):
        with pytest.raises(InputError, match="holds real data: the demo city"):
            build_demo(real_db, force=force, days=1)
    res = CliRunner().invoke(app, ["demo", "--db", str(real_db), "--force", "--days", "1"])
    assert res.exit_code != 0 and "holds real data" in str(res.exception or res.output)
    assert real_db.read_bytes() == before


def test_demo_rows_are_not_mixed_into_real_data(real_db: Path) -> None:
    rng = np.random.default_rng(1)
    cams = demo_cameras(rng)
    run = RunInfo(DEMO_MODEL, hashlib.sha256(b"x").hexdigest(), DEMO_CLASS_SET, "fps=0.5", "off")
    cam = {**cams.iloc[0].to_dict(), "look": {}}
    with pytest.raises(InputError, match="holds real data"):
        Store(real_db).upsert_cameras(cams)
    with pytest.raises(InputError, match="holds real data"):
        Store(real_db).ingest(demo_clip_measurements(rng, cam, "old-town", datetime(2026, 11, 2, 8), 1.0, run))
    with pytest.raises(InputError, match="mix"):  # one batch of both kinds
        Store(":memory:").upsert_cameras(pd.concat([cams.head(1), cams.head(1).assign(camera_id="mine", source="user")]))


def test_demo_may_replace_a_file_that_holds_no_real_data(demo_db: Path, tmp_path: Path) -> None:
    build_demo(demo_db, force=True, days=1)  # rebuilding the demo over itself
    empty = tmp_path / "empty.duckdb"
    Store(empty)
    build_demo(empty, force=True, days=1)
    assert Store(empty, read_only=True).holds() == frozenset({"synthetic"})


# -- the dashboard: which database, and the switch ------------------------------------------------
def _run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _footer(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


def _banner(at: AppTest) -> bool:
    return any("Synthetic data" in str(el.value) for el in at.info)


def test_dashboard_opens_the_demo_while_the_user_has_no_data(_isolated_home: Path, demo_template: Path) -> None:
    _isolated_home.mkdir()
    shutil.copyfile(demo_template, _isolated_home / "demo.duckdb")
    at = _run()
    assert at.radio(key="database").value == "demo" and "demo.duckdb" in _footer(at) and _banner(at)
    at.radio(key="database").set_value("user").run()  # the switch: the user's own (empty) database
    assert not at.exception and "urbanlens.duckdb" in _footer(at) and not _banner(at)
    at.radio(key="database").set_value("demo").run()
    assert "demo.duckdb" in _footer(at) and _banner(at)


def test_dashboard_opens_the_users_data_when_there_is_some(_isolated_home: Path, demo_template: Path) -> None:
    _isolated_home.mkdir()
    shutil.copyfile(demo_template, _isolated_home / "demo.duckdb")
    with store_with_cameras(str(_isolated_home / "urbanlens.duckdb"), [("cam-1", 4.9, 52.37)]) as store:
        store.ingest(clip_from_pixels("cam-1", datetime(2026, 1, 5, 10), FRAMES))
    at = _run()
    assert at.radio(key="database").value == "user" and "urbanlens.duckdb" in _footer(at) and not _banner(at)
    assert [o for o in at.radio(key="database").options] == ["Your data", "Demo city"]


def test_named_database_shows_no_switch_and_no_demo(_isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_DB", str(tmp_path / "named.duckdb"))
    at = _run()
    assert not [r for r in at.radio if r.key == "database"] and "named.duckdb" in _footer(at)


def test_analyse_page_on_the_demo_saves_to_the_users_database(_isolated_home: Path, demo_template: Path) -> None:
    _isolated_home.mkdir()
    shutil.copyfile(demo_template, _isolated_home / "demo.duckdb")
    at = _run("views/analyse.py")
    assert at.radio(key="database").value == "demo"
    note = " ".join(str(el.value) for el in at.info)
    assert "saved to **your own database**" in note and str(_isolated_home / "urbanlens.duckdb") in note
    # its cameras are the user's (none yet), not the demo city's
    assert [r for r in at.radio if r.key == "analyse_cam_mode"][0].options == ["A new camera"]


def test_analyse_save_while_viewing_the_demo_goes_to_the_users_database(_isolated_home: Path, demo_template: Path,
                                                                          tmp_path: Path) -> None:
    _isolated_home.mkdir()
    demo = _isolated_home / "demo.duckdb"
    shutil.copyfile(demo_template, demo)
    before = _counts(demo)
    install_colour_model(_isolated_home)
    clip = write_colour_street(tmp_path / "street.mp4")
    at = _run("views/analyse.py")
    at.file_uploader(key="analyse_upload").set_value(("street.mp4", clip.read_bytes(), "video/mp4")).run()
    at.text_input(key="analyse_new_name").set_value("Test Street").run()
    at.number_input(key="analyse_new_lat").set_value(50.0).run()
    at.number_input(key="analyse_new_lon").set_value(10.0).run()
    at.toggle(key="analyse_road_model").set_value(False).run()  # the tiny colour model: the segmenter alone
    at.button(key="analyse_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    if [c for c in at.checkbox if c.key == "analyse_start_ok"]:
        at.checkbox(key="analyse_start_ok").check().run()
    at.button(key="analyse_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    user = _isolated_home / "urbanlens.duckdb"
    assert any(f"Saved to your database (`{user}`)" in s.value for s in at.success)
    assert _counts(user)[:3] == (1, 6, 1) and _counts(demo) == before  # one clip, its frames and camera: all in the user's


def test_data_page_imports_into_the_users_database_while_the_demo_is_viewed(_isolated_home: Path, demo_template: Path) -> None:
    _isolated_home.mkdir()
    demo = _isolated_home / "demo.duckdb"
    shutil.copyfile(demo_template, demo)
    before = _counts(demo)
    at = _run("views/data.py")
    assert at.radio(key="database").value == "demo"
    note = " ".join(str(el.value) for el in at.info)
    assert "go to **your own database**" in note and str(_isolated_home / "urbanlens.duckdb") in note
    at.file_uploader(key="data_cameras_csv").set_value(
        ("cams.csv", b"camera_id,name,lon,lat\nmarket-st,Market Street,4.90,52.37\n", "text/csv")).run()
    at.button(key="data_import_cameras").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Imported 1 cameras" in s.value for s in at.success)
    body = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Centre"}, "geometry": {
        "type": "Polygon", "coordinates": [[[4.89, 52.36], [4.92, 52.36], [4.92, 52.38], [4.89, 52.38], [4.89, 52.36]]]}}]}).encode()
    at.file_uploader(key="data_districts_geojson").set_value(("d.geojson", body, "application/geo+json")).run()
    at.button(key="data_import_districts").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _counts(demo) == before  # nothing real lands in the demo
    assert _counts(_isolated_home / "urbanlens.duckdb")[2:4] == (1, 1)  # the camera and the district are the user's
