"""Deep links: parsing query parameters (analytics.links) and the dashboard restoring and writing them (AppTest)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import links
from analytics.errors import InputError
from tests.dashboard_helpers import demo_database, shown_text

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 60
FIRST, LAST = date(2026, 11, 2), date(2026, 11, 15)  # the demo city's data


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "start", "end", "expected"),
    [
        ("7d", None, None, ("7d", None, None)),  # a named period carries no dates
        ("all", "2026-11-03", "2026-11-04", ("all", None, None)),  # dates beside a named period are ignored
        (None, "2026-11-03", "2026-11-05", ("custom", date(2026, 11, 3), date(2026, 11, 5))),  # dates alone: custom
        ("custom", "2026-11-05", "2026-11-05", ("custom", date(2026, 11, 5), date(2026, 11, 5))),  # one day
    ],
)
def test_parse_period(code: str | None, start: str | None, end: str | None, expected: tuple) -> None:
    assert links.parse_period(code, start, end, FIRST, LAST) == expected


@pytest.mark.parametrize(
    ("code", "start", "end", "message"),
    [
        ("week", None, None, "period 'week' is not known; use one of 7d, 30d, all, custom"),  # unknown code
        ("custom", "2026-11-03", None, "needs both from and to"),  # half a custom period
        ("custom", "3/11/2026", "2026-11-05", "from '3/11/2026' is not a date; use YYYY-MM-DD"),  # not ISO
        ("custom", "2026-11-01", "2026-11-05", "from 2026-11-01 is outside the dates offered"),  # before the data
        ("custom", "2026-11-09", "2026-11-05", "starts (2026-11-09) after it ends (2026-11-05)"),  # reversed
        (None, None, None, "period '' is not known"),  # nothing at all
    ],
)
def test_parse_period_names_the_bad_value(code: str | None, start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        links.parse_period(code, start, end, FIRST, LAST)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["b"], ["b"]),  # one
        (["c", "a", "c"], ["c", "a"]),  # order kept, repeats dropped
        ([" a "], ["a"]),  # spaces trimmed
    ],
)
def test_parse_choices(texts: list[str], expected: list[str]) -> None:
    assert links.parse_choices("camera", texts, ["a", "b", "c"]) == expected


def test_a_long_list_of_accepted_values_is_cut() -> None:
    ids = [f"cam-{i}" for i in range(40)]
    with pytest.raises(InputError, match=r"camera 'nope' is not known; use one of cam-0, .*cam-7, … \(40 in all\)$"):
        links.parse_choice("camera", "nope", ids)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)])
def test_parse_flag(text: str, expected: bool) -> None:
    assert links.parse_flag("adjusted", text) is expected
    assert links.parse_flag("adjusted", links.flag_text(expected)) is expected  # round trip


def test_resolve_turns_an_error_into_a_fallback_message() -> None:
    got = links.resolve(lambda: links.parse_choice("indicator", "greenness", ["green_view"]), "Green view")
    assert got.value is None
    assert got.problem == "The link's indicator 'greenness' is not known; use one of green_view. Showing Green view instead."
    assert links.resolve(lambda: links.parse_day("from", "2026-11-03")) == links.Resolved(date(2026, 11, 3))


# -- the dashboard ---------------------------------------------------------------------------------
@pytest.fixture
def demo_db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = demo_database(tmp_path_factory)
    monkeypatch.setenv("URBANLENS_DB", str(path))
    return path


def open_link(page: str | None = None, **params: str | list[str]) -> AppTest:
    """The app opened from a link: on the overview, a fresh session; on another page, a session moved there."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if page is not None:
        at.run()
        at.switch_page(page)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def warnings_text(at: AppTest) -> str:
    return " ".join(shown_text(w.value) for w in at.warning)


def test_overview_restores_its_view_from_the_link(demo_db: Path) -> None:
    at = open_link(indicator="sky_view", areas="h3", h3res="9", period="all", adjusted="1")
    assert at.selectbox(key="overview_indicator").value == "sky_view"
    assert at.radio(key="overview_areas").value == "h3"
    assert at.select_slider(key="overview_h3res").value == 9
    assert at.radio(key="period_choice").value == "All data"
    assert not at.warning
    # the widgets' values stay in the address
    assert at.query_params["indicator"] == "sky_view" and at.query_params["areas"] == "h3" and at.query_params["period"] == "all"


def test_overview_writes_changes_into_the_link(demo_db: Path) -> None:
    at = open_link()
    assert at.query_params["period"] == "7d" and at.query_params["indicator"] == "green_view"
    at.selectbox(key="overview_indicator").set_value("road_occupancy").run()
    at.radio(key="overview_areas").set_value("h3").run()
    at.radio(key="period_choice").set_value("Custom").run()
    assert at.query_params["indicator"] == "road_occupancy"
    assert at.query_params["areas"] == "h3"
    assert (at.query_params["period"], at.query_params["from"], at.query_params["to"]) == ("custom", "2026-11-09", "2026-11-15")
    at.radio(key="period_choice").set_value("All data").run()
    assert at.query_params["period"] == "all" and "from" not in at.query_params and "to" not in at.query_params


def test_a_custom_period_and_a_district_come_back(demo_db: Path) -> None:
    at = open_link(**{"period": "custom", "from": "2026-11-03", "to": "2026-11-05", "district": "harbour"})
    assert at.radio(key="period_choice").value == "Custom"
    assert at.date_input(key="period_custom").value == (date(2026, 11, 3), date(2026, 11, 5))
    assert any(m.value == "**Harbour**" for m in at.markdown), "the district's detail opens"
    assert at.query_params["district"] == "harbour"


def test_a_bad_link_falls_back_with_a_warning(demo_db: Path) -> None:
    at = open_link(indicator="greenness", areas="hex", period="custom", **{"from": "2026-11-09", "to": "2026-11-01"})
    assert not at.error
    text = warnings_text(at)
    assert "indicator 'greenness' is not known" in text and "areas 'hex' is not known" in text
    assert "starts (2026-11-09) after it ends (2026-11-01)" in text
    assert at.selectbox(key="overview_indicator").value == "green_view"
    assert at.radio(key="overview_areas").value == "district"
    assert at.radio(key="period_choice").value == "Last 7 days"
    assert at.query_params["indicator"] == "green_view" and at.query_params["period"] == "7d"  # the address is corrected
    at.selectbox(key="overview_indicator").set_value("sky_view").run()
    assert not at.warning, "the warning is shown once"


def test_explore_camera_and_reports_restore_their_view(demo_db: Path) -> None:
    at = open_link("views/explore.py", by="camera", camera=["old-town-1", "harbour-1"], step="hour", indicator="sky_view")
    assert at.radio(key="explore_by").value == "camera"
    assert at.multiselect(key="explore_pick_camera").value == ["old-town-1", "harbour-1"]
    assert at.radio(key="explore_step").value == "hour"
    assert at.selectbox(key="explore_indicator").value == "sky_view"
    assert at.query_params["period"] == "7d", "the shared period stays in the link on every page"

    at = open_link("views/camera.py", camera="old-town-1", indicator="people_per_frame")
    assert at.selectbox(key="camera_pick").value == "old-town-1"
    assert at.selectbox(key="camera_indicator").value == "people_per_frame"
    at.selectbox(key="camera_pick").set_value("harbour-1").run()
    assert at.query_params["camera"] == "harbour-1"

    at = open_link("views/camera.py", camera="no-such-camera")
    assert "camera 'no-such-camera' is not known" in warnings_text(at)
    assert at.query_params["camera"] == at.selectbox(key="camera_pick").value != "no-such-camera"

    at = open_link("views/reports.py", district="old-town", indicator="sky_view")
    assert at.selectbox(key="report_area").value == "old-town"
    assert at.selectbox(key="report_indicator").value == "sky_view"


def test_changing_page_keeps_the_period(demo_db: Path) -> None:
    at = open_link(period="all", indicator="sky_view")
    at.switch_page("views/explore.py")
    at.query_params.clear()  # the browser drops the query string when the page changes
    at.run()
    assert at.radio(key="period_choice").value == "All data"
    assert at.query_params["period"] == "all"


def test_the_database_switch_follows_the_link(demo_db: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("URBANLENS_DB")  # no named database: the sidebar offers the switch
    _isolated_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_db, _isolated_home / "demo.duckdb")
    at = open_link()
    assert at.radio(key="database").value == "demo" and at.query_params["db"] == "demo"  # no data of one's own yet
    at = open_link(db="user")
    assert at.radio(key="database").value == "user"
    assert any("No measurements yet" in el.value for el in at.info)
    at = open_link(db="mine")
    assert "db 'mine' is not known; use one of user, demo" in warnings_text(at)
    assert at.radio(key="database").value == "demo"
