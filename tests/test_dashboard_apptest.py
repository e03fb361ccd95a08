"""Every dashboard page with ``streamlit.testing.v1.AppTest``: demo city, empty database, interactions, upload."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard_helpers import demo_database, shown_text
from tests.tinymodels import install_colour_model, write_colour_street

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = {
    "views/overview.py": "City overview",
    "views/explore.py": "Explore indicators",
    "views/camera.py": "Camera",
    "views/reports.py": "Reports",
    "views/analyse.py": "Analyse footage",
    "views/data.py": "Data",
}
TIMEOUT = 60


@pytest.fixture
def demo_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = demo_database(tmp_path_factory)
    monkeypatch.setenv("URBANLENS_DB", str(path))
    return path


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "empty.duckdb"
    monkeypatch.setenv("URBANLENS_DB", str(path))
    return path


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page != "views/overview.py":
        at.switch_page(page)
        at.run()
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def chart_specs(at: AppTest) -> list[dict]:
    """The plotly figures on the page as dicts."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [str(fig.get("layout", {}).get("title", {}).get("text", "")) for fig in chart_specs(at)]


def _page_params() -> list[object]:
    return list(PAGES)


@pytest.mark.parametrize("page", _page_params())
def test_page_renders_on_demo_city(demo_db: Path, page: str) -> None:
    at = run_page(page)
    no_exception(at)
    assert [t.value for t in at.title] == [PAGES[page]]
    if page != "views/analyse.py":
        # the demo city is synthetic and says so
        assert any("synthetic" in str(getattr(el, "body", getattr(el, "value", ""))).lower() for el in at.info) or any(
            "synthetic" in c.value.lower() for c in at.caption
        )


@pytest.mark.parametrize("page", _page_params())
def test_page_renders_on_empty_database(empty_db: Path, page: str) -> None:
    at = run_page(page)
    no_exception(at)
    assert [t.value for t in at.title] == [PAGES[page]]
    if page in ("views/overview.py", "views/explore.py", "views/camera.py"):
        assert any("urbanlens demo" in el.value for el in at.info), "empty state explains how to get data"


def test_overview_follows_indicator_period_and_grouping(demo_db: Path) -> None:
    at = run_page("views/overview.py")
    kpi_before = [m.value for m in at.metric]
    map_before = chart_titles(at)[0]
    assert "Green view index" in map_before and "by district" in map_before
    # every KPI shows its sample size
    assert all("frames" in c.value for c in at.caption if c.value.startswith("n = "))

    at.selectbox(key="overview_indicator").set_value("sky_view").run()
    no_exception(at)
    assert "Sky view" in chart_titles(at)[0]

    at.radio(key="overview_areas").set_value("h3").run()
    no_exception(at)
    assert "by H3 cell" in chart_titles(at)[0]

    at.radio(key="period_choice").set_value("All data").run()
    no_exception(at)
    assert [m.value for m in at.metric] != kpi_before or "2 Nov" in chart_titles(at)[0]
    assert "2 Nov – 15 Nov 2026" in chart_titles(at)[0]


def test_overview_marks_cells_without_enough_frames(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANLENS_MIN_FRAMES", "6000")  # more than a district has in a week
    at = run_page("views/overview.py")
    no_exception(at)
    fig = chart_specs(at)[0]
    assert any("not enough data" in str(tr.get("name", "")) for tr in fig["data"])
    assert any(m.value == "not enough data" for m in at.metric) or True


def test_explore_follows_indicator_and_grouping(demo_db: Path) -> None:
    at = run_page("views/explore.py")
    no_exception(at)
    titles = chart_titles(at)
    assert len(titles) == 4 and all("Green view index" in t for t in titles)
    at.selectbox(key="explore_indicator").set_value("road_occupancy").run()
    no_exception(at)
    assert all("Road occupancy" in t for t in chart_titles(at))
    before = chart_specs(at)[2]
    at.radio(key="explore_by").set_value("camera").run()
    no_exception(at)
    after = chart_specs(at)[2]
    assert len(after["data"][-1]["y"]) > len(before["data"][-1]["y"])  # 17 cameras instead of 5 districts
    at.radio(key="period_choice").set_value("All data").run()
    no_exception(at)
    assert "2 Nov – 15 Nov 2026" in chart_titles(at)[0]
    # the table behind each chart is downloadable as CSV and Parquet
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels.count("CSV") >= 4 and labels.count("Parquet") >= 4


def test_camera_page_opens_the_chosen_camera(demo_db: Path) -> None:
    at = run_page("views/camera.py")
    at.selectbox(key="camera_pick").set_value("old-town-1").run()
    no_exception(at)
    assert any("Market Square" in m.value for m in at.markdown)
    assert len(chart_specs(at)) >= 4  # location, zones, time line, class shares


def test_camera_page_shows_counts_where_the_camera_counts(demo_db: Path) -> None:
    at = run_page("views/camera.py")
    at.selectbox(key="camera_pick").set_value("old-town-1").run()
    no_exception(at)
    specs = chart_specs(at)
    counts = [s for s in specs if str(s["layout"].get("title", {}).get("text", "")).startswith("Counts by hour of day")]
    assert counts and {t["name"] for t in counts[0]["data"]} >= {"person", "car"}  # stacked by class
    assert {a["text"] for a in counts[0]["layout"]["annotations"]} == {"towards centre (in)", "away from centre (out)"}
    assert any(t.get("name") == "street (count line)" for s in specs for t in s["data"])  # the line on the frame
    assert [m.label for m in at.metric][:3] == ["People per hour (counted)", "Cyclists per hour", "Vehicles per hour"]
    at.selectbox(key="camera_pick").set_value("harbour-1").run()
    assert not at.metric and not any("Counts by hour" in t for t in chart_titles(at))  # a camera that does not count


def test_overview_map_sizes_counting_cameras_by_their_counts(demo_db: Path) -> None:
    at = run_page("views/overview.py")
    no_exception(at)
    [symbols] = [t for s in chart_specs(at) for t in s["data"] if t.get("name") == "counts (size: crossings per hour)"]
    assert sorted(symbols["customdata"]) == ["camera:old-town-1", "camera:university-2"]
    assert max(symbols["marker"]["size"]) == 30 and "people/h" in symbols["hovertext"][0]


def test_data_page_imports_cameras_and_reports_bad_rows(empty_db: Path) -> None:
    at = run_page("views/data.py")
    at.file_uploader(key="data_cameras_csv").set_value(("bad.csv", b"camera_id,name,lon,lat\ncam 1,A,200,10\n", "text/csv")).run()
    assert at.error, "a bad row is reported"
    at.file_uploader(key="data_cameras_csv").set_value(
        ("cams.csv", b"camera_id,name,lon,lat\ncam-1,Main St,10.0,50.0\ncam-2,Park,10.01,50.01\n", "text/csv")
    ).run()
    no_exception(at)
    at.button(key="data_import_cameras").click().run()
    no_exception(at)
    assert any("Imported 2 cameras" in s.value for s in at.success)


# -- the upload page, end to end, with a tiny colour model ----------------------------------------
def test_upload_page_analyses_and_saves_a_clip(
    empty_db: Path, _isolated_home: Path, tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = install_colour_model(_isolated_home)
    monkeypatch.setenv("URBANLENS_MODEL_MIRROR", str(shared_dir / "models"))  # the detector, for the count line
    clip = write_colour_street(tmp_path / "street.mp4")
    at = run_page("views/analyse.py")
    no_exception(at)
    assert at.button(key="analyse_go").disabled
    assert at.button(key="analyse_cancel").disabled  # nothing runs
    at.file_uploader(key="analyse_upload").set_value(("street.mp4", clip.read_bytes(), "video/mp4")).run()
    # the start time is proposed (no creation tag: the upload time) and says where it came from
    assert any("taken from the time of the upload" in c.value for c in at.caption)
    at.text_input(key="analyse_new_name").set_value("Test Street").run()
    at.text_input(key="analyse_new_id").set_value("test-street").run()
    assert at.number_input(key="analyse_new_lat").value is None  # a new camera has no default position
    assert any("set the camera's position" in c.value for c in at.caption)
    at.number_input(key="analyse_new_lat").set_value(50.0).run()
    at.number_input(key="analyse_new_lon").set_value(10.0).run()
    assert at.selectbox(key="analyse_model").value == name
    at.number_input(key="analyse_fps").set_value(2.0).run()
    line = b'[{"name": "mid", "line": [[0, 16], [64, 16]]}]'
    at.file_uploader(key="analyse_zones").set_value(("zones.json", line, "application/json")).run()
    assert at.toggle(key="analyse_count").value  # counting is on by default
    no_exception(at)
    assert not at.button(key="analyse_go").disabled
    at.toggle(key="analyse_road_model").set_value(False).run()  # the tiny colour model: the segmenter alone
    at.button(key="analyse_go").click().run()
    no_exception(at)
    assert not at.warning, [w.value for w in at.warning]  # no "Analysis cancelled" after a run that finished
    assert at.button(key="analyse_cancel").disabled
    assert [shown_text(s.value) for s in at.subheader] == ["Result · street.mp4"]
    table = at.dataframe[-1].value
    assert "Sky view" in set(table["indicator"])
    counts = at.dataframe[-2].value  # the count line, crossed by nothing a detector finds in painted blocks: zeros, not no rows
    assert counts.values.tolist() == [["mid", "all", "in", 0], ["mid", "all", "out", 0]]
    assert any(c.value.startswith("Counted with deimv2") and "frames tracked" in c.value for c in at.caption)
    assert len(at.get("image")) == 1  # one large frame, with a scrubber over the sampled frames
    scrub = at.select_slider(key="analyse_scrub")
    assert scrub.options == ["0.0 s", "0.5 s", "1.0 s", "1.5 s", "2.0 s", "2.5 s"] and scrub.value == 0  # all 6 sampled frames
    scrub.set_value(5).run()
    no_exception(at)
    shapes = chart_specs(at)[-1]["layout"]["shapes"]
    assert [round(sh["x0"], 1) for sh in shapes] == [2.5]  # the timeline marks the frame shown
    assert at.button(key="analyse_save").disabled  # the start time is not confirmed yet
    at.checkbox(key="analyse_start_ok").check().run()
    at.button(key="analyse_save").click().run()
    no_exception(at)
    saved = [s.value for s in at.success if "Saved to" in s.value]
    assert len(saved) == 1 and "Stored 6 sampled frames starting" in saved[0] and "frames sampled" not in saved[0]
    assert not any("exists" in c.value for c in at.caption)  # the saved camera is now picked, not created again
    assert at.radio(key="analyse_cam_mode").value == "existing" and at.selectbox(key="analyse_camera").value == "test-street"
    assert not list((_isolated_home / "uploads").rglob("*.mp4")), "the uploaded copy is removed once saved"

    from analytics.store import Store

    at2 = run_page("views/data.py")  # the saved clip shows up (caches were cleared)
    no_exception(at2)
    assert at2.metric[2].value == "1"
    del at2
    st_ = Store(empty_db)  # the dashboard holds no connection between queries
    try:
        assert st_.scalar("SELECT count(*) FROM clips WHERE camera_id = 'test-street'") == 1
        assert st_.scalar("SELECT source_path FROM clips") is None  # the upload's copy is gone: no path recorded
        assert st_.scalar("SELECT count(DISTINCT frame_id) FROM previews") <= 6
    finally:
        st_.close()


def test_upload_page_new_camera_has_no_default_position(demo_db: Path) -> None:
    """No camera is picked for the user; a new one has no position until typed (or clicked on the map)."""
    at = run_page("views/analyse.py")
    assert at.selectbox(key="analyse_camera").value is None  # no default camera: the user picks or creates one
    assert any("pick a camera or create one" in c.value for c in at.caption)
    at.radio(key="analyse_cam_mode").set_value("new").run()
    no_exception(at)
    assert at.number_input(key="analyse_new_lat").value is None and at.number_input(key="analyse_new_lon").value is None
    assert [t.get("name") for t in chart_specs(at)[-1]["data"]][-1] == "stored cameras"  # the map, centred on the stored cameras
    at.number_input(key="analyse_new_lat").set_value(91.0).run()  # out of range: refused by the input
    assert at.number_input(key="analyse_new_lat").value is None
    at.number_input(key="analyse_new_lat").set_value(52.37).run()
    at.number_input(key="analyse_new_lon").set_value(4.91).run()
    no_exception(at)
    new = chart_specs(at)[-1]["data"][-1]
    assert new["name"] == "new camera" and (new["y"], new["x"]) == ([52.37], [4.91])


def test_upload_page_refuses_a_text_file_with_a_message(empty_db: Path) -> None:
    at = run_page("views/analyse.py")
    at.file_uploader(key="analyse_upload").set_value(("notes.txt", b"hello", "text/plain")).run()
    assert not at.exception
    assert len(at.error) == 1 and "notes.txt is not a video file" in shown_text(at.error[0].value) and "mp4" in at.error[0].value


def test_upload_page_explains_a_bad_file(empty_db: Path, _isolated_home: Path) -> None:
    install_colour_model(_isolated_home)
    at = run_page("views/analyse.py")
    at.file_uploader(key="analyse_upload").set_value(("broken.mp4", b"this is not a video at all", "video/mp4")).run()
    at.text_input(key="analyse_new_name").set_value("Somewhere").run()
    at.number_input(key="analyse_new_lat").set_value(52.0).run()
    at.number_input(key="analyse_new_lon").set_value(4.0).run()
    at.toggle(key="analyse_road_model").set_value(False).run()  # the tiny colour model: the segmenter alone
    at.button(key="analyse_go").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "broken.mp4" in shown_text(at.error[0].value) and "not a video" in at.error[0].value
    assert "analysis" not in at.session_state


def test_data_page_previews_and_imports_districts(empty_db: Path) -> None:
    from analytics.demo.city import demo_districts

    features = [
        {"type": "Feature", "properties": {"name": r.name, "district_id": r.district_id}, "geometry": json.loads(r.geometry_geojson)}
        for r in demo_districts().itertuples(index=False)
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    at = run_page("views/data.py")
    at.file_uploader(key="data_districts_geojson").set_value(("d.geojson", body, "application/geo+json")).run()
    no_exception(at)
    at.button(key="data_import_districts").click().run()
    no_exception(at)
    assert any("Imported 5 districts" in s.value for s in at.success)


def test_upload_page_installs_the_default_model(empty_db: Path, model_mirror: Path) -> None:
    at = run_page("views/analyse.py")
    assert any("No model installed yet" in w.value for w in at.warning)
    at.button(key="analyse_install").click().run()
    no_exception(at)
    assert at.selectbox(key="analyse_model").value == "espnetv2-s2"


def test_overview_with_frames_but_no_districts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Footage ingested before any district was imported: the map shows cameras only, no KeyError."""
    from datetime import datetime

    from tests.helpers import clip_from_pixels, store_with_cameras

    path = tmp_path / "no-districts.duckdb"
    with store_with_cameras(str(path), [("cam-1", 4.0, 52.0)]) as store:
        store.ingest(clip_from_pixels("cam-1", datetime(2026, 1, 5, 10), [{0: 50, 8: 30, 10: 20}] * 40))
    monkeypatch.setenv("URBANLENS_DB", str(path))
    at = run_page("views/overview.py")
    no_exception(at)
    assert any("No districts imported" in c.value for c in at.caption)
    at.radio(key="overview_areas").set_value("h3").run()
    no_exception(at)


# -- planner words: no raw column names or unformatted numbers, terms explained once ---------------------------------
RAW_NAMES = ("ci_low", "ci_high", "n_frames", "n_clips", "model_name", "camera_id", "district_id", "district_name",
             "camera_name", "duration_s")
RAW_TEXT = re.compile(r"\b(?:ci_low|ci_high|n_frames|n_clips|model_name|None|nan)\b|\d\.\d{4,}|(?<![\d.,])1 (?:cells|clips|cameras|frames)\b"
                      r"|schema v\d|data all data|--[a-z]")


def shown_headers_and_formats(el: Any) -> list[tuple[str, str, str]]:
    """(column, header shown, number format) of each column a dataframe element shows (its ``column_config``)."""
    config = json.loads(el.proto.columns or "{}")
    out = []
    for col in el.value.columns:
        c = config.get(str(col), {})
        if c.get("hidden"):
            continue
        out.append((str(col), str(c.get("label", col)), str(c.get("type_config", {}).get("format", ""))))
    return out


def page_words(at: AppTest) -> str:
    """Every sentence a reader sees on the page, with the help texts of metrics and widgets."""
    texts = [str(el.value) for kind in ("markdown", "caption", "info", "warning", "success", "error") for el in at.get(kind)]
    texts += [f"{m.label} {m.value} {m.proto.help}" for m in at.metric]
    texts += [str(getattr(w, "help", "") or "") for kind in ("toggle", "selectbox", "radio", "button") for w in at.get(kind)]
    return shown_text("\n".join(texts))


@pytest.mark.parametrize("page", ["views/overview.py", "views/explore.py", "views/camera.py", "views/data.py"])
def test_pages_speak_planner_words(demo_db: Path, page: str) -> None:
    at = run_page(page)  # the camera page: its first camera, the mobile one with a drive map
    no_exception(at)
    words = re.sub(r"-?\d+\.\d{5}, -?\d+\.\d{5}", "", page_words(at))  # a camera's position keeps its 5 decimals (about 1 m)
    assert not RAW_TEXT.findall(words), RAW_TEXT.findall(words)
    for el in at.dataframe:
        for col, header, fmt in shown_headers_and_formats(el):
            assert header not in RAW_NAMES, (col, header)
            values = el.value[col]
            if values.dtype.kind == "f" and not fmt:  # a float shown as stored: 6.316442, never
                assert (values.dropna().round(3) == values.dropna()).all(), (col, values.head(3).tolist())
            if fmt and col in ("n_frames", "n_clips", "frames", "clips", "runs"):
                assert "," in fmt, (col, fmt)  # counts with thousands separators: 4,504 frames
    if page in ("views/overview.py", "views/explore.py", "views/camera.py"):
        [glossary] = [e for e in at.expander if e.label == "Words used on this page"]
        explained = shown_text(" ".join(m.value for m in glossary.markdown))
        assert "valid pixels" in explained and "95% range" in explained
        if page == "views/overview.py":  # the congestion tile: its level is explained, as a heuristic
            assert "0 free, 1 moderate, 2 heavy, 3 jammed" in explained and "heuristic" in explained
        if page != "views/overview.py":
            assert "Olofsson" in explained
