"""Real-browser test of the overview map: hover and click anywhere inside a district, not only at its label.

One ``streamlit run`` on the demo city for the module, Debian's chromium driven by Playwright.
Points are picked in longitude/latitude inside a district, far from its label, and turned into
screen pixels with the plot's own axes. Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from analytics.store import Store
from tests.dashboard_helpers import demo_database
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, dashboard_server, wait_for_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TO_PAGE = """([lon, lat]) => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(lon), box.top + ya._offset + ya.l2p(lat)];
}"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_database(tmp_path_factory)


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from dashboard_server(demo_db, tmp_path_factory.mktemp("browser-maps-home"))


def away_from_label(geometry_geojson: str) -> tuple[float, float]:
    """A point well inside the district (a sixth of its size from every edge), as far as possible from its label point."""
    poly = shapely.from_geojson(geometry_geojson)
    x0, y0, x1, y1 = poly.bounds
    inner = poly.buffer(-min(x1 - x0, y1 - y0) / 6)
    label = poly.representative_point()
    gx, gy = (g.ravel() for g in np.meshgrid(np.linspace(x0, x1, 60), np.linspace(y0, y1, 60)))
    inside = shapely.contains_xy(inner, gx, gy)
    far = np.argmax(np.where(inside, np.hypot(gx - label.x, gy - label.y), -1.0))
    return float(gx[far]), float(gy[far])


def _hover_text(page: Any, at: tuple[float, float]) -> str:
    x, y = page.evaluate(TO_PAGE, list(at))
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)
    page.locator("g.hovertext").first.wait_for(timeout=5000)
    return str(page.locator("g.hovertext").first.text_content())


def test_map_answers_hover_and_click_over_the_whole_district(server: str, demo_db: Path) -> None:
    from playwright.sync_api import sync_playwright

    store = Store(demo_db)
    try:
        district = store.districts().iloc[0]
    finally:
        store.close()
    at = away_from_label(district["geometry_geojson"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server, wait_until="domcontentloaded")
            wait_for_page(page, "City overview")
            chart = page.locator('[data-testid="stPlotlyChart"]').first
            chart.scroll_into_view_if_needed()
            chart.screenshot(path=str(ARTIFACTS / "map_districts.png"))

            tip = _hover_text(page, at)
            assert district["name"] in tip and "frames" in tip, tip
            x, y = page.evaluate(TO_PAGE, list(at))
            page.mouse.click(x, y)
            detail = page.get_by_text("Select a district on the map")
            detail.wait_for(state="detached", timeout=20000)
            wait_for_page(page, "City overview", timeout_ms=20000)
            assert page.locator('[data-testid="stMarkdownContainer"] strong', has_text=district["name"]).count() >= 1
            widths = page.evaluate("""() => document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot')
                                   .data.filter(t => t.mode === 'lines' && t.line && t.line.width === 4).length""")
            assert widths == 1, "the selected district is outlined"
            faded = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] g.textpoint text')]
                                  .filter(t => Number(getComputedStyle(t).opacity) < 1 || Number(t.style.fillOpacity || 1) < 1).length""")
            assert faded == 0, "a selection fades no label"
            page.mouse.move(5, 5)
            chart.screenshot(path=str(ARTIFACTS / "map_selected.png"))

            page.get_by_text("H3 cells", exact=True).click()
            wait_for_page(page, "City overview", timeout_ms=20000)
            page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for()
            chart.screenshot(path=str(ARTIFACTS / "map_h3.png"))
            tip = _hover_text(page, at)
            assert district["name"] in tip and "H3 cell" in tip, tip
            chart.screenshot(path=str(ARTIFACTS / "map_h3_hover.png"))
            assert not errors, f"JavaScript errors: {errors[:3]}"
        finally:
            browser.close()
