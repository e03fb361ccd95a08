"""Reports for officials: content, PDF, self-contained HTML, CLI and bad input, on the demo city.

The demo city is built once per session; each area's report is gathered and rendered once
(module-level caches) and the tests read the results.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pytest
import typer
from plotly.offline import get_plotlyjs
from pypdf import PdfReader
from typer.testing import CliRunner

from analytics.demo.city import DEMO_DAYS, DEMO_START, build_demo
from analytics.errors import InputError
from analytics.formatting import format_value
from analytics.indicators import HEADLINE, INDICATORS, compute
from analytics.reports import build_report, resolve_area
from analytics.reports.content import ROUTE_POINTS, ReportContent
from analytics.reports.figures import map_layers, route_colours
from analytics.reports.html import PLOTLY_BUNDLE_ID, map_figure, pattern_figure, render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from analytics.store import Store

START, END = DEMO_START, date.fromordinal(DEMO_START.toordinal() + DEMO_DAYS - 1)
WEEK2 = (date(2026, 11, 9), date(2026, 11, 15))  # second week: has a previous period to compare with
AREAS = [None, "old-town", "university", "northgate", "riverside", "harbour"]
GENERATED = datetime(2026, 11, 20, 9, 0)


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "demo.duckdb"
    build_demo(path)
    return path


@pytest.fixture(scope="session")
def store(demo_path: Path) -> Store:
    s = Store(demo_path, read_only=True)
    yield s  # type: ignore[misc]
    s.close()


@cache
def _content(path: str, area: str | None, start: date, end: date) -> ReportContent:
    with Store(path, read_only=True) as s:
        return build_report(s, Selection(start=start, end=end, min_frames=30), area, generated_at=GENERATED)


@cache
def _pdf(path: str, area: str | None, start: date, end: date) -> tuple[bytes, str]:
    data = render_pdf(_content(path, area, start, end))
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return data, " ".join(text.split())


@cache
def _html(path: str, area: str | None, start: date, end: date) -> str:
    return render_html(_content(path, area, start, end))


def _db_frames(store: Store, area: str | None, start: date, end: date) -> int:
    sql = "SELECT count(*) FROM frames WHERE active AND CAST(ts AS DATE) BETWEEN ? AND ?"
    params: list[object] = [start, end]
    if area:
        sql += " AND district_id = ?"
        params.append(area)
    return int(store.scalar(sql, params))


# -- content -----------------------------------------------------------------------------------


@pytest.mark.parametrize("area", AREAS)
def test_content_matches_the_database(store: Store, demo_path: Path, area: str | None) -> None:
    c = _content(str(demo_path), area, *WEEK2)
    assert c.has_data and c.has_previous
    assert c.sources.frames == _db_frames(store, area, *WEEK2)
    assert c.sources.synthetic_share == 1.0
    assert [m.name for m in c.models] == ["synthetic-demo"] and len(c.models[0].weights_sha256) == 64
    direct = compute(store, Selection(start=WEEK2[0], end=WEEK2[1], districts=[area] if area else None, min_frames=30), "city", list(HEADLINE))
    for line in c.summary:
        row = direct[direct["indicator"] == line.name].iloc[0]
        assert line.value == pytest.approx(row["value"])
        assert line.text.startswith(INDICATORS[line.name].label)
    assert len(c.hourly) == 24 and len(c.daily) == 7
    assert c.cameras["rank"].iloc[0] == 1 and set(c.cameras["camera_id"]) >= (
        set() if area is None else {cid for cid in c.cameras["camera_id"] if cid.startswith(area)}
    )


def test_harbour_has_damage_findings_and_riverside_none(demo_path: Path) -> None:
    harbour = _content(str(demo_path), "harbour", *WEEK2)
    assert {f.camera_id for f in harbour.damage} == {"harbour-1", "harbour-2", "harbour-3"}
    assert all(f.worst_ts is not None and -36 < f.lon < -34 for f in harbour.damage)
    assert "No anonymised preview" in harbour.damage_note  # the demo stores no previews
    riverside = _content(str(demo_path), "riverside", *WEEK2)
    assert riverside.damage == () and "No road damage above the thresholds" in riverside.damage_note


def test_city_key_points_name_the_extreme_districts(demo_path: Path) -> None:
    c = _content(str(demo_path), None, *WEEK2)
    assert any(re.fullmatch(r"Green view index ranges from [\d.]+% in Harbour to [\d.]+% in (?:Riverside|Northgate)\.", p) for p in c.key_points)
    assert any(re.fullmatch(r"Road damage (?:\(model\)|by model) ranges from [\d.]+% in \w+ to [\d.]+% in Harbour\.", p) for p in c.key_points)


def test_district_sentence_compares_with_city(demo_path: Path) -> None:
    c = _content(str(demo_path), "riverside", *WEEK2)
    green = next(ln for ln in c.summary if ln.name == "green_view")
    assert re.fullmatch(
        r"Green view index in Riverside is \d+\.\d% \(\d+\.\d–\d+\.\d%\), \d+\.\d points above the city average "
        r"\(\d+\.\d%\); .*previous 7 days \(\d+\.\d%\)\.", green.text
    ), green.text


# -- PDF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("area", AREAS)
def test_pdf_opens_and_shows_the_database_numbers(store: Store, demo_path: Path, area: str | None) -> None:
    data, text = _pdf(str(demo_path), area, START, END)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    assert data.startswith(b"%PDF") and 4 <= pages <= 12
    outline = [o.title for o in PdfReader(io.BytesIO(data)).outline if not isinstance(o, list)]
    assert outline and outline[0].endswith("street report")  # bookmarks for the reader's sidebar
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text
    name = "City" if area is None else resolve_area(store, area)[1]
    assert f"{name} street report" in text
    direct = compute(store, Selection(start=START, end=END, districts=[area] if area else None, min_frames=30), "city", list(HEADLINE))
    for ind in HEADLINE:
        row = direct[direct["indicator"] == ind].iloc[0]
        assert INDICATORS[ind].label in text, ind
        assert format_value(ind, row["value"]) in text, (ind, format_value(ind, row["value"]))
    assert f"{_db_frames(store, area, START, END):,}" in text  # sampled frames, straight from SQL
    for section in ("Summary", "Map:", "Patterns of pedestrian use", "Cameras, ranked", "Road damage findings",
                    "Data coverage and caveats", "Methods appendix", "How the intervals are computed", "Known weaknesses"):
        assert section in text, section
    assert "synthetic" in text


def test_pdf_first_page_renders_with_pdftoppm(demo_path: Path, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(_pdf(str(demo_path), "riverside", START, END)[0])
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "p")], check=True, timeout=60)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 5_000 for p in pngs)


# -- HTML --------------------------------------------------------------------------------------

_NET_ATTR = re.compile(r"""(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_NET_CSS = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", re.IGNORECASE)


def _split_bundle(html: str) -> tuple[str, str]:
    """(content of the plotly.js bundle script, the page without it)."""
    open_tag = f'<script id="{PLOTLY_BUNDLE_ID}" type="text/javascript">'
    start = html.index(open_tag)
    end = html.index("</script>", start)
    return html[start + len(open_tag):end], html[:start] + html[end + len("</script>"):]


@pytest.mark.parametrize("area", AREAS)
def test_html_is_self_contained(store: Store, demo_path: Path, area: str | None) -> None:
    html = _html(str(demo_path), area, START, END)
    assert html.count(f'id="{PLOTLY_BUNDLE_ID}"') == 1 and "Plotly.newPlot" in html
    assert "default-src 'none'" in html  # the CSP forbids requests even if some code tried one
    # the one inline bundle is plotly's offline plotly.js, byte for byte: its code mentions addresses
    # (tile servers, attributions, the plotly logo link) that only map traces or a click would use
    bundle, rest = _split_bundle(html)
    assert bundle == get_plotlyjs()
    # everything else: no element, attribute or stylesheet that fetches, and no address at all
    assert not _NET_ATTR.search(rest) and not _NET_CSS.search(rest)
    assert not re.search(r"<(?:link|iframe|object|embed|base)\b", rest, re.IGNORECASE)
    assert not re.search(r"<script[^>]*\bsrc=", rest, re.IGNORECASE)
    assert not re.search(r"https?://|//cdn|www\.", rest, re.IGNORECASE), re.findall(r".{40}https?://.{40}", rest)[:3]
    # and only trace types drawn on plain axes: no geo or tile maps, which download topojson or tiles
    c = _content(str(demo_path), area, START, END)
    figs = [map_figure(c), pattern_figure(c.hourly, "hour"), pattern_figure(c.daily, "day")]
    assert {t.type for f in figs for t in f.data} <= {"scatter", "bar"}
    direct = compute(store, Selection(start=START, end=END, districts=[area] if area else None, min_frames=30), "city", list(HEADLINE))
    for ind in HEADLINE:
        assert format_value(ind, direct[direct["indicator"] == ind].iloc[0]["value"]) in rest
    assert rest.count("Plotly.newPlot") == 3  # map, hourly, daily


# -- bad input and empty periods -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("old-town", ("old-town", "Old Town")),  # by id
        ("OLD TOWN", ("old-town", "Old Town")),  # by name, any case
        ("  riverside ", ("riverside", "Riverside")),  # surrounding spaces
        (None, (None, "the city")),  # the city
    ],
)
def test_resolve_area(store: Store, given: str | None, expected: tuple[str | None, str]) -> None:
    assert resolve_area(store, given) == expected


def test_unknown_district_lists_the_known_ones(store: Store) -> None:
    with pytest.raises(InputError, match=r"unknown district 'Atlantis'.*Harbour \(harbour\).*Old Town \(old-town\)"):
        build_report(store, Selection(start=START, end=END, min_frames=30), "Atlantis")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-15", "2026-11-02", "starts .* after it ends"),  # wrong way round
        ("2026-11-31", "2026-12-02", "is not a date"),  # no such day
        ("yesterday", None, "is not a date"),  # not ISO
    ],
)
def test_bad_periods(store: Store, start: str, end: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_report(store, Selection(start=start, end=end, min_frames=30), None)


def test_period_with_no_data_says_so(demo_path: Path) -> None:
    c = _content(str(demo_path), "harbour", date(2027, 3, 1), date(2027, 3, 7))
    assert not c.has_data and "No footage was recorded in Harbour" in c.no_data_reason
    assert "2 Nov 2026 to 15 Nov 2026" in c.no_data_reason
    _, text = _pdf(str(demo_path), "harbour", date(2027, 3, 1), date(2027, 3, 7))
    assert "No data for this area and period" in text and "Methods appendix" in text
    html = _html(str(demo_path), "harbour", date(2027, 3, 1), date(2027, 3, 7))
    assert "No footage was recorded in Harbour" in html


def test_thin_data_is_shown_as_missing_not_as_numbers(demo_path: Path) -> None:
    # one day with a high min_frames: every camera and hour is under it, the area as a whole is not
    with Store(demo_path, read_only=True) as s:
        c = build_report(s, Selection(start="2026-11-14", end="2026-11-14", min_frames=500), "riverside")
    assert c.summary[0].enough and (c.cameras["rank"] == 0).all() and c.cameras["green_view"].isna().all()
    assert any("Cameras with too little data (under 500 frames)" in t for t in c.coverage)
    assert any("Too little footage (under 500 frames) at 06:00–22:59" in t for t in c.coverage)
    assert "the previous day" in c.summary[0].text
    text = " ".join(" ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(render_pdf(c))).pages).split())
    assert "Mill Bridge 216 – –" in text  # the ranked table shows missing cells, not numbers
    assert "Cameras with too little data" in render_html(c)


def test_empty_database(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.duckdb") as s:
        c = build_report(s, Selection(start="2026-01-01", end="2026-01-31", min_frames=30), None)
        assert not c.has_data and "no footage at all" in c.no_data_reason
        assert PdfReader(io.BytesIO(render_pdf(c))).pages
        assert "no footage at all" in render_html(c)
        with pytest.raises(InputError, match="no districts yet"):
            build_report(s, Selection(min_frames=30), "harbour")


def test_previews_appear_with_their_location(demo_path: Path, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "with-previews.duckdb"
    shutil.copy(demo_path, path)
    buf = io.BytesIO()
    Image.new("RGB", (96, 48), (90, 90, 90)).save(buf, format="JPEG")
    with Store(path) as s, s.transaction() as cur:  # reads (query_df) open the file read-only
        cur.execute(
            "INSERT INTO previews SELECT run_id, frame_id, 'frame', 'image/jpeg', ? FROM frames "
            "WHERE camera_id = 'harbour-1' AND ts >= ? ORDER BY ts LIMIT 3",
            [buf.getvalue(), datetime(2026, 11, 10)],
        )
    with Store(path, read_only=True) as s:
        c = build_report(s, Selection(start=WEEK2[0], end=WEEK2[1], min_frames=30), "harbour")
    finding = next(f for f in c.damage if f.camera_id == "harbour-1")
    assert len(finding.previews) == 2 and "people blurred" in finding.previews[0].caption
    assert "° N" in finding.previews[0].caption
    assert render_html(c).count("data:image/jpeg;base64,") == 2
    pdf = PdfReader(io.BytesIO(render_pdf(c)))
    assert "anonymised previews" in " ".join(p.extract_text() or "" for p in pdf.pages)
    assert sum(len(p.images) for p in pdf.pages) >= 4  # map, two charts and the (identical, stored once) previews


# -- CLI ---------------------------------------------------------------------------------------


def _app() -> typer.Typer:
    from analytics.cli.report import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test app."""

    register(app)
    return app


def test_cli_writes_pdf_and_html(demo_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for out in (tmp_path / "r.pdf", tmp_path / "r.html"):
        result = runner.invoke(_app(), ["report", "--district", "Old Town", "--from", "2026-11-09", "--to", "2026-11-15",
                                        "--out", str(out), "--db", str(demo_path)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 20_000 and "Old Town street report" in result.output
    assert len(PdfReader(str(tmp_path / "r.pdf")).pages) >= 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--district", "Atlantis", "--out", "r.pdf"], "unknown district"),
        (["--city", "--district", "harbour", "--out", "r.pdf"], "not both"),
        (["--out", "r.pdf"], "--district NAME"),
        (["--city", "--out", "r.docx"], "must end in .pdf or .html"),
        (["--city", "--from", "2026-11-10", "--to", "2026-11-01", "--out", "r.pdf"], "after it ends"),
    ],
)
def test_cli_bad_input(demo_path: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [a if a not in ("r.pdf", "r.docx") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(_app(), ["report", *args, "--db", str(demo_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError) and re.search(message, str(result.exception))


# -- dashboard page ------------------------------------------------------------------------------


def test_dashboard_reports_page(demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "dashboard.duckdb"  # the dashboard opens its database read-write: give it a copy of its own
    shutil.copy(demo_path, db)
    monkeypatch.setenv("URBANLENS_DB", str(db))
    page = Path(__file__).resolve().parents[1] / "dashboard" / "views" / "reports.py"
    at = AppTest.from_file(str(page), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [t.value for t in at.title] == ["Reports"]
    at.selectbox(key="report_area").set_value("riverside").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Riverside street report" in h.value for h in at.subheader)
    assert any("Green view index in Riverside is" in m.value for m in at.markdown)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download PDF", "Download HTML"]
    at.toggle(key="report_preview").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]


def test_city_map_draws_the_drive_coloured_by_the_main_indicator(demo_path: Path, store: Store) -> None:
    c = _content(str(demo_path), None, *WEEK2)
    assert {"lon", "lat", "value"} <= set(c.track.columns) and 0 < len(c.track) <= ROUTE_POINTS
    frames = store.query_df("SELECT sum(vegetation_px) / sum(valid_px) AS g FROM frames f JOIN cameras c USING (camera_id) "
                            "WHERE c.kind = 'mobile' AND f.ts >= $a AND f.ts < $b + INTERVAL 1 DAY",
                            {"a": WEEK2[0], "b": WEEK2[1]})["g"][0]
    assert min(c.track["value"]) <= frames <= max(c.track["value"])  # pooled along the street around the drive's mean
    m = map_layers(c)
    assert len(m.route_colours) == len(m.route) and len(set(m.route_colours)) > 1
    assert route_colours(c.track.drop(columns=["value"]), m.scale) == ()  # positions alone: plain grey dots


# -- phone width and small data ------------------------------------------------------------------


def test_html_report_fits_a_phone(demo_path: Path) -> None:
    page = _html(str(demo_path), None, START, END)  # the page test_html_is_self_contained renders: cached
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (max-width: 640px)" in page and "container-type: inline-size" in page and "100cqw" in page
    assert page.count('<div class="scroll"><table>') == page.count("<table>"), "every table scrolls within itself"


def test_pattern_panels_are_stacked_and_the_map_shows_ranks(demo_path: Path) -> None:
    c = _content(str(demo_path), None, *WEEK2)
    fig = pattern_figure(c.daily, "day")
    assert fig.layout.xaxis.domain == fig.layout.xaxis2.domain, "one panel above the other, each the full width"
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]
    cams = next(tr for tr in map_figure(c).data if tr.name == "cameras (number: rank)")
    assert all(t == "" or t.isdigit() or t == "–" for t in cams.text), cams.text


def test_report_map_labels_stay_clear_of_the_cameras(demo_path: Path) -> None:
    m = map_layers(_content(str(demo_path), None, *WEEK2))
    width = m.extent.lon1 - m.extent.lon0
    for lb in m.labels:
        if lb.focus:
            under = [c.name for c in m.cameras if abs(c.lon - lb.lon) < 0.09 * width
                     and abs(c.lat - lb.lat) * m.extent.aspect < 0.045 * width]
            assert not under, f"{lb.name}'s label covers {under}"
    assert len(m.camera_places) == len(m.cameras)
    assert set(m.camera_places) - {"top right"}, "crowded cameras: some labels go to another corner or are left out"
