"""Reports over long periods with gaps: the summary first, sources in the appendix, dates with their years,
the true synthetic share, linear-size charts, and `report --out` into a missing folder."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from analytics.cli import app as cli_app
from analytics.demo.city import DEMO_CLASS_SET, DEMO_MODEL, SAMPLE_FPS, demo_cameras, demo_clip_measurements, demo_districts
from analytics.errors import InputError
from analytics.records import RunInfo
from analytics.reports import build_report
from analytics.reports.content import ReportContent, Sources
from analytics.reports.figures import pattern_png
from analytics.reports.html import pattern_figure, render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from analytics.store import Store
from analytics.visual import charts

ERA_1 = [date(2018, 4, 16) + timedelta(days=i) for i in range(3)]  # 16-18 Apr 2018
ERA_2 = [date(2026, 11, 2) + timedelta(days=i) for i in range(3)]  # 2-4 Nov 2026, eight years later


@pytest.fixture(scope="module")
def two_eras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fixed demo cameras with four synthetic clips a day on three days in 2018 and three in 2026."""
    path = tmp_path_factory.mktemp("eras") / "eras.duckdb"
    rng = np.random.default_rng(3)
    run = RunInfo(DEMO_MODEL, hashlib.sha256(b"urbanlens synthetic demo model").hexdigest(), DEMO_CLASS_SET,
                  f"fps={SAMPLE_FPS}", "off", params={})
    with Store(path) as store:
        store.upsert_districts(demo_districts())
        store.upsert_cameras(demo_cameras(rng))
        cams = [c for c in store.cameras().to_dict("records") if c["kind"] != "mobile"][:2]
        batch = []
        for day in [*ERA_1, *ERA_2]:
            for cam in cams:
                for hour in (8, 12):
                    cam["look"] = {k: 1.0 for k in ("road", "sidewalk", "built", "vegetation", "terrain", "sky", "traffic", "peds",
                                                    "damage")}
                    when = datetime.combine(day, datetime.min.time()).replace(hour=hour)
                    batch.append(demo_clip_measurements(rng, cam, str(cam["district_id"]), when, 1.0, run))
        store.ingest(batch)
    return path


@cache
def _content(path: str, start: date | None = None, end: date | None = None) -> ReportContent:
    with Store(path, read_only=True) as s:
        return build_report(s, Selection(start=start, end=end, min_frames=10), None, generated_at=datetime(2026, 11, 20, 9))


def test_whole_period_report_has_no_comparison_and_breaks_the_gap(two_eras: Path) -> None:
    c = _content(str(two_eras))
    assert (c.start, c.end) == (ERA_1[0], ERA_2[-1]) and c.days > 3000
    assert not c.has_previous and c.comparison_text == "no earlier data"
    fig = pattern_figure(c.daily, "day")
    line = next(t for t in fig.data if t.name == "People per frame")
    assert len(line.x) == 3  # one week with footage in each era, one break in the eight-year gap (not 3,000 empty days)
    assert sum(1 for y in line.y if y is None or np.isnan(y)) == 1
    assert not fig.layout.shapes  # no weekend shading over eight years
    assert fig.layout.xaxis.tickformat == "%Y"


def test_short_period_shades_each_weekend_once(two_eras: Path) -> None:
    c = _content(str(two_eras), date(2026, 10, 20), date(2026, 11, 4))  # 16 days: two weekends
    fig = pattern_figure(c.daily, "day")
    assert len(fig.layout.shapes) == 2 * len(charts.weekend_runs(c.daily["day"])) == 2 * 2  # one per weekend per panel


def test_pattern_figure_grows_linearly() -> None:
    days = pd.date_range("2018-11-02", "2026-11-02")
    n = len(days)
    df = pd.DataFrame({"day": [d.date() for d in days], "n_frames": 40, "congestion_level": "free"})
    for name in ("people_per_frame", "road_occupancy", "vehicle_stationarity"):
        df[name], df[f"{name}_low"], df[f"{name}_high"] = 0.5, 0.4, 0.6
    fig = pattern_figure(df, "day")  # eight years of days: seconds before, a few hundred ms now
    line = next(t for t in fig.data if t.name == "People per frame")
    assert len(line.x) == len({d - timedelta(days=d.weekday()) for d in df["day"]}) < n / 6  # one point per week
    assert line.y[0] == pytest.approx(0.5) and not fig.layout.shapes
    assert pattern_png(df, "day").startswith(b"\x89PNG")  # the PDF's figure rolls up the same way
    short = pattern_figure(df.iloc[:charts.WEEKLY_DAYS], "day")  # up to WEEKLY_DAYS days: one point per day
    assert len(next(t for t in short.data if t.name == "People per frame").x) == charts.WEEKLY_DAYS


def test_html_summary_first_and_sources_in_the_appendix(two_eras: Path) -> None:
    html = render_html(_content(str(two_eras)))
    body = html[html.index("<main>"):]
    assert body.index('id="summary"') < body.index('id="methods"') < body.index('id="sources"')
    assert re.search(r"[0-9a-f]{64}", body[body.index('id="sources"'):])  # the model hash sits in the appendix ...
    assert not re.search(r"[0-9a-f]{64}", body[:body.index('id="sources"')])  # ... and nowhere before it
    assert "16 Apr 2018 – 4 Nov 2026" in body and "no earlier data" in body
    assert "24 of 24 clips synthetic (100%)" in body
    assert "<h3>By week</h3>" in body and "<h3>By day</h3>" not in body  # an 8-year period is drawn by week
    assert "<h3>By day</h3>" in render_html(_content(str(two_eras), date(2026, 10, 20), date(2026, 11, 4)))


def test_pdf_header_keeps_both_years_and_sources_come_last(two_eras: Path) -> None:
    c = _content(str(two_eras), date(2026, 11, 2), date(2026, 11, 4))
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(c))).pages]
    assert "2 Nov 2026 – 4 Nov 2026" in pages[0]  # the start date keeps its year
    text = "\n".join(pages)
    assert text.index("Summary") < text.index("Methods appendix") < text.index("Appendix: data sources")


def test_synthetic_share_is_the_true_one() -> None:
    s = Sources(cameras=3, clips=1986, frames=9000, hours=12.0, synthetic_share=1984 / 1986, first_ts=None, last_ts=None,
                synthetic_clips=1984)
    assert s.synthetic_text == "1,984 of 1,986 clips synthetic (99.9%)"


def test_cli_refuses_a_missing_out_folder(two_eras: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "r.html"
    result = CliRunner().invoke(cli_app, ["report", "--city", "--out", str(out), "--db", str(two_eras)])
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    assert f"folder {str(out.parent)!r} does not exist" in str(result.exception)
    assert not out.parent.exists()
