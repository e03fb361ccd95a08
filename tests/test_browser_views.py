"""Real-browser tests of views: a deep link restores a view, the switch between the user's database
and the demo city, and the Analyse page's scrubber.

One ``streamlit run`` for the module, with no database named (no ``URBANLENS_DB``): its
``URBANLENS_HOME`` holds the demo city (``demo.duckdb``, five days), the user's own database
(``urbanlens.duckdb``, a few clips of two real cameras) and a tiny installed model (the colour
classifier of tests/tinymodels.py), so Analyse runs in a second. Debian's chromium is driven by
Playwright; screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.demo.city import DEMO_START, build_demo
from analytics.indicators import INDICATORS
from tests.clips import write_cv2
from tests.helpers import clip_from_pixels, store_with_cameras
from tests.test_browser import ARTIFACTS, chromium, dashboard_server, wait_for_page
from tests.tinymodels import bgr, colour_card, colour_model

pytestmark = [pytest.mark.slow, pytest.mark.browser]

USER_CLIPS = 6
"""Clips in the user's database: 2 cameras x 3 days, so its footer says "6 clips"."""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """URBANLENS_HOME with demo.duckdb, urbanlens.duckdb (real clips) and the installed colour model."""
    home = tmp_path_factory.mktemp("browser-views-home")
    build_demo(home / "demo.duckdb", days=5)
    with store_with_cameras(str(home / "urbanlens.duckdb"), [("market-st", 4.90, 52.37), ("canal-st", 4.91, 52.37)]) as store:
        store.ingest([clip_from_pixels(cam, datetime(2026, 1, 5 + day, 10), [{0: 50, 8: 30, 10: 20}] * 20)
                      for cam in ("market-st", "canal-st") for day in range(USER_CLIPS // 2)])
    card = colour_card(32, 64)
    (home / "models" / card.name).mkdir(parents=True)
    colour_model(home / "models" / card.name / "model.onnx", 32, 64)
    (home / "models" / card.name / "card.json").write_text(card.to_json(), encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    yield from dashboard_server(None, home)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser session (its own Streamlit session) that fails the test on a JavaScript error."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors[:3]}"


def _settled(page: Any, timeout_s: float = 30.0) -> None:
    """Wait until Streamlit has stopped running the script (a shorter pause than :func:`wait_for_page`'s, for steps without charts)."""
    page.wait_for_timeout(300)  # the rerun a widget asks for starts
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=timeout_s * 1000)


def _no_error_shown(page: Any, where: str) -> None:
    shown = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
    assert not shown, f"{where}: {shown[:2]}"


def _footer(page: Any) -> str:
    return str(page.locator('[data-testid="stSidebar"]').inner_text())


def test_a_deep_link_restores_the_view_and_period_and_db_stay_on_another_page(server: str, page: Any) -> None:
    first, last = DEMO_START + timedelta(days=2), DEMO_START + timedelta(days=4)
    page.goto(f"{server}/explore?db=demo&period=custom&from={first}&to={last}&indicator=sky_view&by=camera",
              wait_until="domcontentloaded")
    wait_for_page(page, "Explore indicators")
    _no_error_shown(page, "explore")
    assert page.get_by_role("radio", name="Demo city").is_checked()
    assert page.get_by_role("radio", name="Custom").is_checked()
    days = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input[type="date"]')
    assert [days.nth(i).input_value() for i in range(days.count())] == [first.isoformat(), last.isoformat()]
    sky = INDICATORS["sky_view"]
    assert page.get_by_role("combobox", name="Indicator", exact=True).input_value() in (sky.label, sky.short_label)
    assert page.get_by_role("radio", name="Camera", exact=True).is_checked()
    assert "demo.duckdb" in _footer(page)
    page.screenshot(path=str(ARTIFACTS / "deep_link_explore.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"] a', has_text="Reports").first.click()
    wait_for_page(page, "Reports")
    page.wait_for_url(re.compile(r"/reports\?"), timeout=10000)
    params = page.url.split("?", 1)[1].split("&")
    for kept in ("db=demo", "period=custom", f"from={first}", f"to={last}"):
        assert kept in params, page.url
    assert not any(p.startswith("by=") for p in params), f"explore's grouping is not carried to another page: {page.url}"
    assert page.get_by_role("radio", name="Custom").is_checked() and "demo.duckdb" in _footer(page)


def _clips_in_footer(page: Any) -> int:
    found = re.search(r"([\d,]+) clips?\b", _footer(page))
    assert found, _footer(page)
    return int(found.group(1).replace(",", ""))


def test_the_database_switch_changes_the_numbers_and_the_banner(server: str, page: Any) -> None:
    page.goto(server, wait_until="domcontentloaded")
    wait_for_page(page, "City overview")
    _no_error_shown(page, "overview, your data")
    banner = page.get_by_text("Synthetic data.")
    assert page.get_by_role("radio", name="Your data").is_checked(), "the user's database opens when it holds data"
    assert "urbanlens.duckdb" in _footer(page) and _clips_in_footer(page) == USER_CLIPS
    assert banner.count() == 0

    page.locator('[data-testid="stSidebar"] label', has_text="Demo city").click()
    banner.first.wait_for(timeout=30000)
    wait_for_page(page, "City overview")
    _no_error_shown(page, "overview, demo city")
    assert "demo.duckdb" in _footer(page) and _clips_in_footer(page) > USER_CLIPS
    assert "db=demo" in page.url
    page.screenshot(path=str(ARTIFACTS / "switch_demo.png"))

    page.locator('[data-testid="stSidebar"] label', has_text="Your data").click()
    banner.first.wait_for(state="detached", timeout=30000)
    wait_for_page(page, "City overview")
    assert "urbanlens.duckdb" in _footer(page) and _clips_in_footer(page) == USER_CLIPS


def _street_clip(path: Path) -> Path:
    """4 s at 8 frames/s: the scene changes colour every half second (road, vegetation, sky, building, ...),
    so each frame sampled at 2 frames/s looks different from the one before."""
    colours = [bgr(0), bgr(8), bgr(10), bgr(2)]
    return write_cv2(path, 32, fps=8, size=(64, 32), fourcc="mp4v",
                     paint=lambda i, w, h: np.full((h, w, 3), colours[(i // 4) % len(colours)], np.uint8))


def test_analyse_scrubber_changes_the_frame_shown(server: str, page: Any, tmp_path: Path) -> None:
    clip = _street_clip(tmp_path / "street.mp4")
    page.goto(f"{server}/analyse", wait_until="domcontentloaded")
    wait_for_page(page, "Analyse footage")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(clip))
    page.get_by_text("This start time is right").wait_for(timeout=20000)
    page.get_by_text("This start time is right").click()
    _settled(page)
    page.get_by_text("A new camera").click()
    _settled(page)
    page.get_by_role("textbox", name="Name", exact=True).fill("Scrub street")
    page.keyboard.press("Enter")
    _settled(page)
    for label, value in (("Latitude", "52.375"), ("Longitude", "4.905")):  # a new camera has no default position
        page.get_by_role("spinbutton", name=label).fill(value)
        page.keyboard.press("Enter")
        _settled(page)
    page.get_by_text("Advanced").first.click()  # the tiny colour model: the segmenter alone, no road model
    _settled(page)
    page.get_by_text("Road model as a second opinion").click()
    _settled(page)
    go = page.get_by_role("button", name="Analyse")
    page.wait_for_function("b => !b.disabled", arg=go.element_handle(), timeout=20000)
    _no_error_shown(page, "analyse, before the run")
    go.click()
    page.get_by_text("Result ·").wait_for(timeout=60000)
    wait_for_page(page, "Analyse footage")
    _no_error_shown(page, "analyse, the result")

    image = page.locator('[data-testid="stImage"] img').first
    caption = page.locator('[data-testid="stImage"]', has_text="sampled frame").first
    before = (image.get_attribute("src"), caption.inner_text())
    assert "sampled frame 1 of" in before[1], before[1]
    page.screenshot(path=str(ARTIFACTS / "analyse_scrubber_before.png"), full_page=True)
    slider = page.locator('[data-testid="stSlider"]', has_text="Sampled frame shown").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("c => !c.innerText.includes('sampled frame 1 of')",
                           arg=caption.element_handle(), timeout=20000)
    _settled(page)
    after = (image.get_attribute("src"), caption.inner_text())
    assert "sampled frame 2 of" in after[1], after[1]
    assert after[0] != before[0], "the image shown changed with the scrubber"
    page.screenshot(path=str(ARTIFACTS / "analyse_scrubber_after.png"), full_page=True)
    _no_error_shown(page, "analyse, after the scrub")


def test_opening_a_camera_from_a_district_keeps_the_database_and_the_custom_period(server: str, page: Any) -> None:
    first, last = DEMO_START + timedelta(days=1), DEMO_START + timedelta(days=3)
    page.goto(f"{server}/?db=demo&period=custom&from={first}&to={last}&district=harbour", wait_until="domcontentloaded")
    wait_for_page(page, "City overview")
    assert "db=demo" in page.url and "district=harbour" in page.url, page.url
    pick = page.get_by_role("combobox", name="Open a camera")
    pick.scroll_into_view_if_needed()
    _settled(page)
    pick.click()
    option = page.get_by_role("option").first
    option.wait_for(timeout=30000)
    chosen = option.inner_text()
    option.click()
    wait_for_page(page, "Camera")
    _no_error_shown(page, "camera opened from the district panel")
    params = page.url.split("?", 1)[1].split("&")
    for kept in ("db=demo", "period=custom", f"from={first}", f"to={last}"):
        assert kept in params, page.url
    assert any(p.startswith("camera=") for p in params), page.url
    assert page.get_by_role("radio", name="Demo city").is_checked() and "demo.duckdb" in _footer(page)
    assert page.get_by_role("radio", name="Custom").is_checked()
    days = page.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input[type="date"]')
    assert [days.nth(i).input_value() for i in range(days.count())] == [first.isoformat(), last.isoformat()]
    assert chosen in page.get_by_role("combobox", name="Camera", exact=True).input_value()
    page.screenshot(path=str(ARTIFACTS / "camera_from_district.png"), full_page=True)
