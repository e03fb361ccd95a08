"""Text people typed, or a link carried, is shown as typed: never a link, an image or markup.

A deep-link value is quoted in a warning that Streamlit renders as Markdown; camera and district
names reach captions, titles, plotly labels and both reports. Each sink escapes:
:func:`analytics.formatting.escape_markdown` for Markdown, :func:`analytics.visual.charts.plot_text`
for plotly, ``html.escape`` in the HTML report and ``xml`` escapes in the PDF's paragraphs.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from analytics.formatting import escape_markdown
from analytics.reports import build_report
from analytics.reports.html import render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from analytics.store.database import Store
from analytics.visual.charts import plot_text
from tests.dashboard_helpers import demo_database, shown_text

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 60

LINK = "[Session expired: sign in](https://evil.example/login)"
"""The issue's phishing deep link (``?indicator=...``)."""
CAMERA = '[Camera offline: sign in](https://evil.example/cam) ![x](https://evil.example/x.png) <a href="https://evil.example/a">A</a>'
DISTRICT = "[Old Town](https://evil.example/district) <script>alert(1)</script> **loud** $x^2$ :smile:"

# Markdown rendered by a CommonMark parser with GFM tables and strikethrough (Streamlit's flavour,
# less its plugins): escaped text must come out as one paragraph of the characters typed.
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
MARKUP = re.compile(r"<(?!/?p>)[a-z/!]", re.I)  # any tag but the paragraph around the text

HOSTILE = [
    LINK,  # a link with a login-page lure
    "![tracker](https://evil.example/pixel.png)",  # a remote image
    "<script>alert(1)</script><img src=x onerror=alert(1)>",  # raw HTML
    '<a href="https://evil.example">click</a>',  # an HTML link
    "`code` and ```fence```",  # code spans
    "# Heading",  # an ATX heading
    "Title\n=====",  # a setext heading across a line break
    "- item\n1. item\n> quote",  # lists and a quote on later lines
    "**bold** __bold__ *it* _it_ ~~gone~~",  # emphasis and strikethrough
    "$x^2$ and $$\\int$$",  # Streamlit's math
    ":smile: :material/home: :red[red text]",  # emoji and icon shortcodes, a colour directive
    "https://evil.example/bare www.evil.example a@evil.example",  # bare links (GFM autolinks)
    "[ref]: https://evil.example\n[ref]",  # a reference link definition
    "a | b\n--|--\nc | d",  # a table
    "&lt;b&gt; &#x5B;x&#x5D;(https://evil.example)",  # entities
    "back\\slash \\[not a link\\](https://evil.example)",  # backslashes typed by the person
    "x" * 3000,  # long
    "",  # empty
]


def _rendered(text: str) -> str:
    return MD.render(text).strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_markdown_renders_as_the_text_typed(text: str) -> None:
    escaped = escape_markdown(text)
    html = _rendered(escaped)
    assert not MARKUP.search(html), html
    assert "<a " not in html and "<img" not in html
    one_line = re.sub(r"[\r\n]+", " ", text)
    assert shown_text(escaped) == one_line
    if one_line.strip():  # CommonMark shows the characters (entities for <, >, &, ")
        inner = html.removeprefix("<p>").removesuffix("</p>")
        unescaped = inner.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
        assert unescaped.replace("\u200b", "") == one_line.strip()


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        (":smile:", ":smile:"),  # Streamlit's emoji plugin reads the text after escapes: a zero-width space breaks it
        (":material/home:", ":material/home:"),
        ("$x$", "$x$"),
        ("https://evil.example", "://"),  # Streamlit links bare addresses in the text after escapes are read
        ("www.evil.example", "www\\."),
        ("a@evil.example", "@e"),
    ],
)
def test_streamlit_directives_are_broken(text: str, absent: str) -> None:
    assert absent not in escape_markdown(text)


def test_plot_text_keeps_plotly_from_reading_tags() -> None:
    assert plot_text(CAMERA).count("<") == 0 and "&lt;a href" in plot_text(CAMERA)


# -- the dashboard ---------------------------------------------------------------------------------
_HOSTILE_DB: dict[str, Path] = {}


def hostile_names_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo city whose cameras and districts are all named with Markdown, HTML and a link,
    made once per session (the AppTests here and the browser test only read it)."""
    if "db" not in _HOSTILE_DB:
        _HOSTILE_DB["db"] = _hostile_copy(tmp_path_factory)
    return _HOSTILE_DB["db"]


def _hostile_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile-names") / "demo.duckdb"
    shutil.copy(demo_database(tmp_path_factory), path)
    store = Store(path)
    districts = store.districts()
    districts["name"] = [f"{DISTRICT} {i}" for i in range(len(districts))]
    store.upsert_districts(districts[["district_id", "name", "geometry_geojson", "source"]])
    cameras = store.cameras()
    cameras["name"] = [f"{CAMERA} {i}" for i in range(len(cameras))]
    store.upsert_cameras(cameras[["camera_id", "name", "lon", "lat", "heading", "kind", "source"]])
    store.close()
    return path


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_names_database(tmp_path_factory)


PAGES = {
    "views/overview.py": {"district": "old-town"},
    "views/explore.py": {"by": "district"},
    "views/camera.py": {"camera": "old-town-1"},
    "views/reports.py": {"district": "old-town"},
    "views/analyse.py": {},
    "views/data.py": {},
}
_UNESCAPED = re.compile(r"(?<!\\)\]\((?!\\)|(?<!\\)!\[|(?<!\\)<(script|img|a )", re.I)


def _markdown_values(at: AppTest) -> list[str]:
    """Every value Streamlit renders as Markdown on the page: messages, text, titles, labels and help."""
    out: list[str] = []
    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "header", "subheader", "toast"):
        out += [str(el.value) for el in at.get(kind)]
    for kind in ("metric", "expander", "selectbox", "multiselect", "radio", "button", "toggle"):
        for el in at.get(kind):
            out += [str(getattr(el.proto, "label", "")), str(getattr(el.proto, "help", ""))]
    return out


@pytest.mark.parametrize("page", list(PAGES))
def test_a_hostile_link_and_names_show_as_text(hostile_db: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    monkeypatch.setenv("URBANLENS_DB", str(hostile_db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if page != "views/overview.py":
        at.run()
        at.switch_page(page)
    at.query_params.update({"indicator": LINK, "period": LINK, **PAGES[page]})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    values = _markdown_values(at)
    bad = [v for v in values if _UNESCAPED.search(v)]
    assert not bad, bad[:3]
    warnings = " ".join(str(w.value) for w in at.warning)
    assert escape_markdown(repr(LINK)) in warnings  # the period's link value, quoted and escaped, on every page
    if page in ("views/overview.py", "views/explore.py", "views/camera.py", "views/reports.py"):
        assert warnings.count(escape_markdown(repr(LINK))) == 2  # and the indicator's
    shown = " ".join(shown_text(v) for v in values)
    if page == "views/camera.py":
        assert f"{CAMERA} " in shown
    if page in ("views/overview.py", "views/reports.py"):
        assert re.sub(r"[\r\n]+", " ", DISTRICT) in shown
    for spec in (json.loads(el.proto.spec) for el in at.get("plotly_chart")):
        text = json.dumps(spec)
        assert "<a href" not in text and "<script" not in text and "<img" not in text


# -- the reports ----------------------------------------------------------------------------------
def test_reports_show_hostile_names_as_text(hostile_db: Path) -> None:
    with Store(hostile_db, read_only=True).reading() as store:
        content = build_report(store, Selection(), "old-town")
    html = render_html(content)
    assert 'href="https://evil' not in html and "<script>alert" not in html and 'src="https://evil' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert render_pdf(content)[:5] == b"%PDF-"
