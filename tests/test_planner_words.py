"""Words planners use: the congestion level and people per hour, one number rule, readable CLI tables and CSVs."""

from __future__ import annotations

import html
import io
import math
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics import exports
from analytics import indicators as ind
from analytics.cli import app
from analytics.formatting import format_difference, format_value, rounds_to_zero
from analytics.indicators import INDICATORS, PEDESTRIAN_DWELL_S, congestion_level
from analytics.pages.analyse import elsewhere_message
from analytics.reports import build_report, render_html
from analytics.reports.content import IndicatorLine, key_points
from analytics.selection import Selection
from analytics.store import Store
from analytics.visual.charts import indicator_title
from tests.helpers import CAR, ROAD, SKY, clip_from_pixels, store_with_cameras

T0 = datetime(2026, 11, 9, 8, 0)


@pytest.fixture()
def traffic_store(tmp_path: Path) -> Store:
    """One camera, four frames, one of each level (occupancy = car / (car + road) pixels; stationarity given)."""
    frames = [
        {ROAD: 95, CAR: 5, SKY: 100},   # occupancy 0.05            -> free (0)
        {ROAD: 80, CAR: 20, SKY: 100},  # 0.20                      -> moderate (1)
        {ROAD: 70, CAR: 30, SKY: 100},  # 0.30, standing still      -> heavy (2)
        {ROAD: 50, CAR: 50, SKY: 100},  # 0.50, standing still      -> jammed (3)
    ]
    s = store_with_cameras(str(tmp_path / "t.duckdb"), [("c1", 4.0, 52.0)])
    s.ingest(clip_from_pixels("c1", T0, frames, stationarity=[0.9, 0.1, 0.8, 0.8], people=[1, 2, 3, 2]))
    return s


def test_congestion_indicator_is_the_mean_of_per_frame_levels(traffic_store: Store) -> None:
    long = ind.compute(traffic_store, Selection(min_frames=1), by="camera", indicators=["congestion", "people_per_hour", "people_per_frame"])
    value = float(long.loc[long["indicator"] == "congestion", "value"].iloc[0])
    # the SQL and congestion_level agree frame by frame: levels 0, 1, 2, 3
    expected = [congestion_level(o, s) for o, s in [(0.05, 0.9), (0.2, 0.1), (0.3, 0.8), (0.5, 0.8)]]
    assert expected == ["free", "moderate", "heavy", "jammed"]
    assert value == pytest.approx(1.5)
    assert INDICATORS["congestion"].level_name(value) == "heavy"  # 1.5 rounds half up to heavy
    # people per hour = mean people per frame x 3600 / dwell time
    ppf = float(long.loc[long["indicator"] == "people_per_frame", "value"].iloc[0])
    pph = float(long.loc[long["indicator"] == "people_per_hour", "value"].iloc[0])
    assert ppf == pytest.approx(2.0) and pph == pytest.approx(2.0 * 3600 / PEDESTRIAN_DWELL_S)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("congestion", 0.2, "free · 0.2"),  # the level's name first, then the mean level
        ("congestion", 2.96, "jammed · 3.0"),
        ("congestion", math.nan, "not enough data"),
        ("people_per_hour", 719.6, "720 people/h"),  # an estimate: whole people
        ("people_per_frame", 0.655, "0.66 people"),  # the same rule as the reports (never 0.7)
    ],
)
def test_values_read_the_same_everywhere(name: str, value: float, text: str) -> None:
    assert format_value(name, value) == text


def test_no_arrow_and_no_sign_for_a_change_that_rounds_to_zero() -> None:
    assert rounds_to_zero("green_view", 0.00001) and format_difference("green_view", 0.00001, signed=True) == "±0.00 points"
    assert not rounds_to_zero("green_view", 0.02)
    assert format_difference("congestion", -0.4, signed=True) == "-0.4 levels"  # an ordinal indicator changes by levels


def test_titles_never_double_the_heuristic_mark() -> None:
    for name, i in INDICATORS.items():
        assert "heuristic" not in i.label.lower(), name  # the flag adds it, once
        title = indicator_title(name)
        assert title.count("heuristic") <= 1 and ") (" not in title, title
    assert INDICATORS["damage_ratio"].guidance and INDICATORS["distress_share"].guidance


def test_csv_rounds_and_names_period_and_indicator() -> None:
    df = pd.DataFrame({"district": ["=evil", "north"], "value": [28.693017578125, 0.000123456789], "lon": [4.123456789, 4.0],
                       "n_frames": [30, 31]})
    text = exports.to_csv(df, period=(date(2026, 11, 2), date(2026, 11, 8)), indicator="green_view")
    back = pd.read_csv(io.StringIO(text))
    assert list(back.columns[:3]) == ["period_start", "period_end", "indicator"]
    assert back["value"].tolist() == [28.69, 0.0001235] and back["lon"].tolist() == [4.123457, 4.0]
    assert back["district"].iloc[0] == "'=evil" and back["period_start"].iloc[0] == "2026-11-02"


@pytest.fixture()
def db_file(traffic_store: Store, tmp_path: Path) -> Path:
    traffic_store.close()
    return tmp_path / "t.duckdb"


def test_cli_tables_fit_80_columns(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    res = CliRunner().invoke(app, ["indicators", "--by", "camera", "--db", str(db_file), "--min-frames", "1"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "Green view index" in res.output and "Congestion level" in res.output  # one row per indicator, names whole
    assert max(len(line) for line in res.output.splitlines()) <= 80
    listing = CliRunner().invoke(app, ["indicators-list"], env={"COLUMNS": "80"}).output
    for name in INDICATORS:
        assert f"{name} " in listing  # every name printed whole
    assert "People per frame (people, heuristic)" in listing and ") (" not in listing  # never "(heuristic) (people)"


def test_cli_one_line_errors_and_messages(db_file: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["indicators", "--by", "street", "--db", str(db_file)])
    assert bad.exit_code != 0 and "not a grouping" in str(bad.exception)
    empty = runner.invoke(app, ["indicators", "--by", "camera", "--format", "csv", "--from", "2020-01-01", "--to", "2020-01-02",
                                "--db", str(db_file)])
    assert empty.exit_code == 0 and empty.stdout == "" and "No frames match" in empty.stderr


def test_cameras_outside_districts_say_so(db_file: Path) -> None:
    out = CliRunner().invoke(app, ["cameras", "list", "--db", str(db_file)], env={"COLUMNS": "120"}).output
    assert "nan" not in out and "outside districts" in out


def test_dashboard_icon_is_shipped() -> None:
    root = Path(__file__).resolve().parents[1]
    icon = root / "dashboard" / "static" / "icon.png"
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ":material/" not in next(line for line in (root / "dashboard" / "app.py").read_text().splitlines()
                                    if "set_page_config" in line)


# -- words in reports: the main indicator, the congestion level, the glossary, no raw names -------------------------
RAW_NAMES = re.compile(r"\b(ci_low|ci_high|n_frames|n_clips|model_name|camera_id|district_id|None|nan)\b")
LONG_DECIMALS = re.compile(r"(?<![\d.])\d+\.\d{4,}\b(?!°)")  # "42.8571" (coordinates in degrees keep their 5 decimals)
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (cells|clips|cameras|frames|days|districts)\b")


def _line(name: str, value: float, low: float, high: float, city: float, n: int = 900) -> IndicatorLine:
    return IndicatorLine(name, INDICATORS[name].label, value, low, high, n, 40, not math.isnan(value), math.nan, city,
                         INDICATORS[name].heuristic, "")


def test_key_points_lead_with_the_report_main_indicator() -> None:
    lines = [
        _line("green_view", 0.150, 0.140, 0.160, 0.152),  # in line with the city: no key point of its own before
        _line("road_occupancy", 0.30, 0.28, 0.32, 0.15),  # a clear difference
        _line("sky_view", math.nan, math.nan, math.nan, 0.1, n=12),  # too few frames
    ]
    points = key_points(lines, is_city=False, main="green_view")
    assert points[0] == "Green view index: 15.0%, in line with the city average (15.2%)."
    assert points[1].startswith("Road occupancy: 30.0%, 15.0 points above")
    assert key_points(lines, is_city=False, main="sky_view", min_frames=30)[0] == \
        "Sky view: not enough data (12 frames, fewer than the 30 needed)."
    assert len(key_points(lines, is_city=False, limit=1, main="green_view")) == 1


def _visible_text(page: str) -> str:
    """The words of an HTML page a reader sees (no scripts, styles or tags)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "\n", body))


def test_report_explains_the_congestion_level_and_its_terms_and_shows_no_raw_names(traffic_store: Store) -> None:
    content = build_report(traffic_store, Selection(min_frames=1), None, main_indicator="congestion")
    assert content.key_points[0].startswith("Congestion level: ")  # the main indicator leads
    [line] = [ln.text for ln in content.summary if ln.name == "congestion"]
    assert "heavy · 1.5" in line and "0 free, 1 moderate, 2 heavy, 3 jammed" in line and "heuristic" in line
    assert "not checked against traffic-detector counts" in line  # what the heuristic was (not) checked against
    glossary = " ".join(content.methods.glossary)
    for term in ("Olofsson", "clips as clusters", "valid pixels", "flicker"):
        assert term in glossary, term
    text = _visible_text(render_html(content))
    assert "Glossary" in text
    assert not RAW_NAMES.findall(text), RAW_NAMES.findall(text)
    assert not LONG_DECIMALS.findall(text), LONG_DECIMALS.findall(text)
    assert not ONE_PLURAL.findall(text), ONE_PLURAL.findall(text)


def test_the_analyse_page_names_its_button_not_the_command_line_flag() -> None:
    text = elsewhere_message("bikes.mp4", "market-street", datetime(2026, 5, 4, 8, 30))
    assert "market-street" in text and "2026-05-04 08:30" in text and '"Replace it"' in text
    assert "--" not in text and "urbanlens" not in text
