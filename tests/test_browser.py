"""Real-browser test: ``streamlit run`` on 127.0.0.1, Debian's chromium driven by Playwright.

Visits every page of the dashboard on the demo city, checks its title and that no error or
exception element shows, and saves a screenshot of each into tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import load_bench  # noqa: E402  (the dashboard server helpers the load benchmark uses too)

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGES = [("", "City overview"), ("explore", "Explore indicators"), ("camera", "Camera"),
         ("reports", "Reports"), ("analyse", "Analyse footage"), ("data", "Data")]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.dashboard_helpers import demo_database

    return demo_database(tmp_path_factory)


def dashboard_server(db: Path | None, home: Path) -> Iterator[str]:
    """A real Streamlit server on ``db`` (None: the dashboard picks from ``home``) for a module fixture to yield from.

    Skips, saying why, where Debian's chromium is missing.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (`apt-get install -y chromium`; .ci/run does it)")
    port = load_bench.free_port()
    proc = load_bench.start_dashboard(db, home, port, home / "streamlit.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        load_bench.stop_process(proc)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright with the project's flags (the artifacts folder made), closed on exit."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from dashboard_server(demo_db, tmp_path_factory.mktemp("browser-home"))


def wait_for_page(page, title: str, timeout_ms: int = 60000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's title shows and Streamlit has stopped running the script."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        skeletons = page.locator('[data-testid="stSkeleton"]').count()
        if not running and not skeletons:
            break
        time.sleep(0.25)
    page.wait_for_timeout(1500)  # plotly draws after the script ends


def test_every_page_renders_in_chromium(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            for slug, title in PAGES:
                page.goto(f"{server}/{slug}", wait_until="domcontentloaded")
                wait_for_page(page, title)
                shown = page.locator('[data-testid="stException"]').count() + page.locator('[data-testid="stAlertContentError"]').count()
                assert shown == 0, f"{slug}: an exception or error is shown"
                page.screenshot(path=str(ARTIFACTS / f"page_{slug or 'overview'}.png"), full_page=True)
            assert not errors, f"JavaScript errors: {errors[:3]}"
        finally:
            browser.close()
