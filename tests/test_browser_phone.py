"""Real-browser tests at phone width (390×844): the overview map fills the width, a click on a camera
on the map opens it with the database and custom period kept (on the demo city and on the user's own
database), chart legends and titles do not overlap and date labels do not collide, and
the HTML report neither scrolls sideways on a phone nor crowds its "By day" dates on a desktop.

One ``streamlit run`` for the module with no database named: its ``URBANLENS_HOME`` holds the demo
city (``demo.duckdb``) and the user's own database (``urbanlens.duckdb``, a few clips of two
cameras). Debian's chromium is driven by Playwright; screenshots go to tests/artifacts/
(gitignored): phone_overview_<db>.png, phone_camera_<db>.png, phone_report.png, desktop_report.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.demo.city import DEMO_START, build_demo
from analytics.reports import build_report
from analytics.reports.html import write_html
from analytics.selection import Selection
from analytics.store import Store
from tests.helpers import clip_from_pixels, store_with_cameras
from tests.test_browser import ARTIFACTS, chromium, dashboard_server, wait_for_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
USER_START = date(2026, 1, 5)
"""First day of the user's own clips (three days, two cameras)."""

TO_PAGE = """([lon, lat]) => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(lon), box.top + ya._offset + ya.l2p(lat)];
}"""

OVERLAPS = """() => {
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((gd, i) => {
    const title = gd.querySelector('.gtitle'), legend = gd.querySelector('.legend');
    if (title && legend && hit(title.getBoundingClientRect(), legend.getBoundingClientRect())) out.push(`chart ${i}: legend over title`);
    const notes = [...gd.querySelectorAll('.annotation-text, .gtitle')].filter(t => t.textContent).map(t => t.getBoundingClientRect());
    notes.forEach((a, k) => notes.slice(k + 1).forEach(b => { if (hit(a, b)) out.push(`chart ${i}: titles overlap`); }));
    const ticks = [...gd.querySelectorAll('.xtick text')].filter(t => t.textContent).map(t => t.getBoundingClientRect());
    for (let k = 1; k < ticks.length; k++) if (hit(ticks[k - 1], ticks[k])) { out.push(`chart ${i}: x labels collide`); break; }
  });
  return out;
}"""

SIDEWAYS = """() => { const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  return [document.documentElement.scrollWidth, innerWidth, main.scrollWidth, main.clientWidth]; }"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """URBANLENS_HOME with demo.duckdb (three days) and urbanlens.duckdb (two cameras, three days of clips)."""
    home = tmp_path_factory.mktemp("browser-phone-home")
    build_demo(home / "demo.duckdb", days=3)
    with store_with_cameras(str(home / "urbanlens.duckdb"), [("market-st", 4.90, 52.37), ("canal-st", 4.91, 52.372)]) as store:
        store.ingest([clip_from_pixels(cam, datetime(2026, 1, 5 + day, 10), [{0: 50, 8: 30, 10: 20}] * 20)
                      for cam in ("market-st", "canal-st") for day in range(3)])
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    yield from dashboard_server(None, home)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A fresh phone-sized session that fails the test on a JavaScript error."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors[:3]}"


def _screenshot(page: Any, name: str) -> None:
    """The whole page: the window is made as tall as Streamlit's scrolling main area for the shot, then restored."""
    tall = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": min(int(tall), 8000)})
    page.wait_for_timeout(800)  # plotly redraws at the new size
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size(PHONE)


def _lone_camera(db: Path) -> tuple[str, float, float]:
    """The camera farthest from every other one (its symbol is not hidden under another)."""
    store = Store(db)
    try:
        cams = store.cameras()
    finally:
        store.close()
    xy = cams[["lon", "lat"]].to_numpy(dtype=float)
    gap = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gap, np.inf)
    r = cams.iloc[int(np.argmax(gap.min(axis=1)))]
    return str(r["camera_id"]), float(r["lon"]), float(r["lat"])


@pytest.mark.parametrize(("db", "first"), [("demo", DEMO_START), ("user", USER_START)])
def test_at_phone_width_the_map_fills_the_screen_and_a_camera_clicked_on_it_opens_in_the_same_view(
    server: str, home: Path, phone: Any, db: str, first: date,
) -> None:
    last = first + timedelta(days=2)
    camera, lon, lat = _lone_camera(home / ("demo.duckdb" if db == "demo" else "urbanlens.duckdb"))
    phone.goto(f"{server}/?db={db}&period=custom&from={first}&to={last}", wait_until="domcontentloaded")
    wait_for_page(phone, "City overview")
    doc_w, inner_w, main_w, main_client = phone.evaluate(SIDEWAYS)
    assert doc_w <= inner_w and main_w <= main_client, f"the overview scrolls sideways: {doc_w, inner_w, main_w, main_client}"
    chart = phone.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    cut = phone.evaluate("() => [...document.querySelectorAll('[data-testid=\"stMetric\"]')].filter(e => e.scrollWidth > e.clientWidth).length")
    assert cut == 0, f"{cut} metric tiles cut their text"
    plot_w = phone.evaluate("() => document.querySelector('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')._fullLayout.xaxis._length")
    assert plot_w >= 300, f"the map is {plot_w} px wide on a {PHONE['width']} px screen"
    _screenshot(phone, f"phone_overview_{db}.png")
    assert not phone.evaluate(OVERLAPS)

    chart.scroll_into_view_if_needed()
    x, y = phone.evaluate(TO_PAGE, [lon, lat])
    phone.mouse.click(x, y)  # a touch tap gives plotly no hover first, so it selects nothing: not checked here
    wait_for_page(phone, "Camera")
    params = phone.url.split("?", 1)[1].split("&")
    for kept in (f"db={db}", "period=custom", f"from={first}", f"to={last}", f"camera={camera}"):
        assert kept in params, phone.url
    assert phone.get_by_role("radio", name="Demo city" if db == "demo" else "Your data").is_checked()
    assert phone.get_by_role("radio", name="Custom").is_checked()
    days = phone.locator('[data-testid="stSidebar"] [data-testid="stDateInput"] input[type="date"]')
    assert [days.nth(i).input_value() for i in range(days.count())] == [first.isoformat(), last.isoformat()]
    assert not phone.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
    doc_w, inner_w, main_w, main_client = phone.evaluate(SIDEWAYS)
    assert doc_w <= inner_w, f"the camera page scrolls sideways: {doc_w} > {inner_w}"
    assert phone.locator(".js-plotly-plot .legend").count() >= 1
    _screenshot(phone, f"phone_camera_{db}.png")
    assert not phone.evaluate(OVERLAPS)


def test_the_html_report_fits_a_phone_and_its_dates_do_not_collide(browser: Any, home: Path, tmp_path: Path) -> None:
    store = Store(home / "demo.duckdb")
    try:
        content = build_report(store, Selection(start=DEMO_START, end=DEMO_START + timedelta(days=2), min_frames=30), None)
    finally:
        store.close()
    report = write_html(content, tmp_path / "report.html")
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(report.as_uri(), wait_until="load")
        for name, viewport in (("phone_report.png", PHONE), ("desktop_report.png", {"width": 1440, "height": 900})):
            page.set_viewport_size(viewport)  # the charts are responsive: they redraw at the new width
            page.wait_for_timeout(1000)
            page.locator("#ul-daily .xtick text").first.wait_for(timeout=20000)
            width, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            assert width <= inner, f"{name}: the report scrolls sideways ({width} > {inner} px)"
            assert not page.evaluate(OVERLAPS), name
    finally:
        context.close()
