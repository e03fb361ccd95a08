"""Real-browser test of watched cameras: the Overview's health panel (a screenshot in tests/artifacts/) and the
Camera page's live view, which shows a new report of its worker within seconds without the page being reloaded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.store import Store
from analytics.store.health import WatchReport, record_watch
from tests.test_browser import ARTIFACTS, chromium, dashboard_server
from tests.test_live_dashboard import live_database

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return live_database(tmp_path_factory.mktemp("browser-live") / "live.duckdb")


@pytest.fixture(scope="module")
def server(live_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from dashboard_server(live_db, tmp_path_factory.mktemp("browser-live-home"))


def test_health_panel_and_a_live_view_that_refreshes_itself(server: str, live_db: Path) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)  # the panel is drawn before the map: no need to wait for the whole page
        panel = page.locator(".st-key-overview_live")
        panel.get_by_text("Live cameras · 2 watched cameras: 1 stale, 1 ok").wait_for(timeout=60000)
        panel.locator('[data-testid="stDataFrame"]').wait_for(timeout=10000)
        page.wait_for_timeout(500)  # the table's canvas paints
        page.screenshot(path=str(ARTIFACTS / "live_health_panel.png"), clip=panel.bounding_box())  # no wait for the map below

        page.goto(f"{server}/camera?camera=gate")
        live = page.locator(".st-key-camera_live")
        live.get_by_text("1 reconnects", exact=False).wait_for(timeout=30000)
        now = datetime.now(UTC).replace(tzinfo=None)
        record_watch(Store(live_db), "gate", WatchReport(last_frame_at=now, reconnects=2, error="stall: no frame for 10 s"), now)
        # no navigation, no reload: the fragment reruns every few seconds and shows the new report
        live.get_by_text("3 reconnects", exact=False).wait_for(timeout=15000)
        assert "stall: no frame for 10 s" in live.inner_text() and "just now" in live.inner_text()
        browser.close()
