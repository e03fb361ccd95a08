"""Real-browser test: a phishing deep link and hostile place names show as text, never as a link or an image.

One ``streamlit run`` on a copy of the demo city whose cameras and districts are named with
Markdown links, images and HTML (tests/test_markdown_escaping.py), opened with the issue's link
``?indicator=[Session expired: sign in](https://evil.example/login)``; Debian's chromium is driven
by Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, dashboard_server, wait_for_page
from tests.test_markdown_escaping import LINK, hostile_names_database

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from dashboard_server(hostile_names_database(tmp_path_factory), tmp_path_factory.mktemp("browser-markdown-home"))


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            tab = chromium.new_page(viewport={"width": 1440, "height": 1000})
            blocked: list[str] = []
            tab.route("**/evil.example/**", lambda route: (blocked.append(route.request.url), route.abort()))
            tab.goto(f"{server}/?{urlencode({'indicator': LINK, 'district': 'old-town'})}")
            wait_for_page(tab, "City overview")
            yield tab
            assert not blocked, f"the page fetched {blocked[:3]}"
        finally:
            chromium.close()


def test_no_link_or_image_to_the_attacker(page: Any) -> None:
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"], script:has-text("alert(1)")').count() == 0
    warnings = " ".join(page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts())
    assert LINK in warnings.replace("\u200b", ""), warnings  # the link's value shown as typed
    main = str(page.locator('[data-testid="stMain"]').inner_text()).replace("\u200b", "")
    assert "[Old Town](https://evil.example/district)" in main  # the district's name as typed, not a link
