"""One rule per kind of number: the strings every face (dashboard, CLI, HTML and PDF report) shows."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from analytics import formatting as fm
from analytics.errors import InputError
from analytics.indicators import INDICATORS
from analytics.periods import check_period, parse_date, parse_timestamp, period_days, previous_period

NAN = float("nan")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("green_view", 0.2869, "28.7%"),  # a share: percent, one decimal
        ("pedestrian_share", 0.00568, "0.57%"),  # below 1%: two decimals
        ("pedestrian_share", 0.0, "0.00%"),  # zero is below 1% too
        ("people_per_frame", 0.655, "0.66 people"),  # a mean: two decimals and its unit (never 0.7)
        ("vehicles_per_frame", 12, "12.00 vehicles"),  # an int is a number like any other
        ("sky_view", NAN, "not enough data"),  # too few frames
        ("sky_view", None, "not enough data"),  # no value at all
        ("sky_view", pd.NA, "not enough data"),  # pandas' missing marker
        ("green_view", np.float32(0.25), "25.0%"),  # numpy scalars
    ],
)
def test_format_value(name: str, value: object, expected: str) -> None:
    assert fm.format_value(name, value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "low", "high", "value", "expected"),
    [
        ("green_view", 0.279, 0.295, None, "27.9–29.5%"),  # unit once, at the end
        ("pedestrian_share", 0.0047, 0.0066, 0.0057, "0.47–0.66%"),  # the digits of the value (below 1%)
        ("people_per_frame", 0.6, 0.71, 0.655, "0.60–0.71"),  # means: no unit (the value beside it has it)
        ("green_view", 0.0507, 0.0512, 0.051, "5.07–5.12%"),  # ends that would print alike get one more decimal
        ("sky_view", NAN, 0.1, 0.05, ""),  # one clip: no interval
    ],
)
def test_format_interval(name: str, low: float, high: float, value: float | None, expected: str) -> None:
    assert fm.format_interval(name, low, high, value) == expected


@pytest.mark.parametrize(
    ("name", "diff", "signed", "expected"),
    [
        ("green_view", -0.0412, False, "4.1 points"),  # a size in sentences: no sign
        ("green_view", -0.0412, True, "-4.1 points"),  # a change on a tile: signed
        ("green_view", 0.0261, True, "+2.6 points"),
        ("sky_view", 0.0004, False, "0.04 points"),  # below one point: two decimals, like a value below 1%
        ("green_view", -0.00001, True, "±0.00 points"),  # never "-0.00"
        ("people_per_frame", 0.3, False, "0.30 people"),  # means: the unit and two decimals
        ("people_per_frame", -1.25, True, "-1.25 people"),
    ],
)
def test_format_difference(name: str, diff: float, signed: bool, expected: str) -> None:
    assert fm.format_difference(name, diff, signed=signed) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("green_view", 0.2869, "28.7%"),  # shares keep their % in a table
        ("people_per_frame", 0.655, "0.66"),  # means are bare numbers (the header names the unit)
        ("green_view", NAN, "–"),  # missing
    ],
)
def test_format_cell(name: str, value: float, expected: str) -> None:
    assert fm.format_cell(name, value) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (950, "950"),
        (12_345, "12,345"),  # thousands separated, never abbreviated to 12.3k
        (1_234_567.0, "1,234,567"),  # a float count from pandas
        (NAN, "0"),  # no frames
        (None, "0"),
    ],
)
def test_format_count(n: float | None, expected: str) -> None:
    assert fm.format_count(n) == expected


@pytest.mark.parametrize(
    ("start", "end", "days", "expected"),
    [
        (date(2026, 11, 2), date(2026, 11, 8), False, "2 Nov – 8 Nov 2026"),  # same year: year once
        (date(2026, 12, 28), date(2027, 1, 3), False, "28 Dec 2026 – 3 Jan 2027"),  # across years
        (date(2026, 11, 2), date(2026, 11, 2), False, "2 Nov 2026"),  # one day
        (date(2026, 11, 2), date(2026, 11, 15), True, "2 Nov – 15 Nov 2026 (14 days)"),  # the reports' form
        (date(2026, 11, 2), date(2026, 11, 2), True, "2 Nov 2026 (1 day)"),
        (None, None, False, "all data"),  # no period
        (date(2026, 11, 2), None, True, "all data"),  # an open end
    ],
)
def test_format_period(start: date | None, end: date | None, days: bool, expected: str) -> None:
    assert fm.format_period(start, end, days=days) == expected


def test_share_to_percent_scale_is_the_one_rule() -> None:
    for name, ind in INDICATORS.items():
        assert fm.display_scale(name) == (100.0 if ind.is_share else 1.0)
    series = pd.Series([0.1, 0.25])
    assert fm.to_display("green_view", series).tolist() == [10.0, 25.0]
    assert fm.to_display("people_per_frame", series).tolist() == [0.1, 0.25]
    assert fm.as_percent(np.array([0.5]))[0] == 50.0
    assert fm.format_percent(0.4) == "40%" and fm.format_percent(0.123, 1) == "12.3%"
    # the bare number, the value and the interval agree on digits
    assert fm.format_value("green_view", 0.2869) == fm.format_number("green_view", 0.2869) + "%"


def test_every_indicator_formats() -> None:
    for name in INDICATORS:
        assert fm.format_value(name, 0.5) not in ("", fm.MISSING_TEXT)
        assert fm.format_value(name, math.nan) == fm.MISSING_TEXT


@pytest.mark.parametrize(
    ("value", "expected", "error"),
    [
        ("2026-11-09", date(2026, 11, 9), None),  # ISO text
        (" 2026-11-09 ", date(2026, 11, 9), None),  # surrounding blanks are fine
        (date(2026, 11, 9), date(2026, 11, 9), None),  # a date passes through
        (datetime(2026, 11, 9, 8, 30), date(2026, 11, 9), None),  # a datetime loses its time
        (None, None, None),  # no date
        ("", None, None),  # blank text: no date
        ("09/11/2026", None, "--from '09/11/2026' is not a date; use YYYY-MM-DD"),  # the option and the format named
        ("2026-02-30", None, "not a date"),  # no such day
    ],
)
def test_parse_date(value: object, expected: date | None, error: str | None) -> None:
    if error:
        with pytest.raises(InputError, match=error):
            parse_date(value, "--from")  # type: ignore[arg-type]
    else:
        assert parse_date(value, "--from") == expected  # type: ignore[arg-type]


def test_parse_timestamp() -> None:
    assert parse_timestamp("2024-05-01T08:30:00+02:00", "--start") == datetime(2024, 5, 1, 8, 30)  # offset dropped
    with pytest.raises(InputError, match="--start 'noon' is not an ISO time"):
        parse_timestamp("noon", "--start")


def test_period_arithmetic() -> None:
    assert period_days(date(2026, 11, 2), date(2026, 11, 15)) == 14
    assert previous_period(date(2026, 11, 2), date(2026, 11, 15)) == (date(2026, 10, 19), date(2026, 11, 1))
    assert previous_period(date(2026, 11, 2), date(2026, 11, 2)) == (date(2026, 11, 1), date(2026, 11, 1))  # one day
    check_period(date(2026, 11, 2), date(2026, 11, 2))  # one day is a period
    with pytest.raises(InputError, match="after it ends"):
        check_period(date(2026, 11, 3), date(2026, 11, 2))
    assert fm.format_previous(period_days(date(2026, 11, 2), date(2026, 11, 15))) == "the previous 14 days"


# -- one number rule everywhere: thousands separators and a precision chosen for what the number can tell ----------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (fm.format_value("people_per_hour", 1926.4), "1,926 people/h"),  # an estimate in the thousands: separated
        (fm.format_interval("people_per_hour", 1800.0, 2050.0, 1926.4), "1,800–2,050"),
        (fm.format_difference("people_per_hour", -1234.0, signed=True), "-1,234 people/h"),
        (fm.format_difference("people_per_hour", 0.3, signed=True), "±0 people/h"),  # rounds to zero, though "0" parses
        (fm.format_quantity(42.857142, 0, "people/h"), "43 people/h"),  # never "42.8571 people/h"
        (fm.format_quantity(12345.678, 1), "12,345.7"),
        (fm.format_quantity(None, 1, "s"), "–"),
        (fm.format_part_of(0, 1, "clips", "synthetic"), "0 of 1 clip synthetic (0%)"),  # never "1 clips"
        (fm.format_sampling("fps=0.5"), "0.5 frames per second"),  # never the provenance text fps=0.5
    ],
)
def test_numbers_are_formatted_one_way(text: str, expected: str) -> None:
    assert text == expected


@pytest.mark.parametrize(
    ("column", "kind", "indicator", "typical", "label", "fmt"),
    [
        ("ci_low", "f", "green_view", 6.3, "low end of 95% range", "%,.1f"),  # the value's digits, planner words
        ("ci_high", "f", "pedestrian_share", 0.5, "high end of 95% range", "%,.2f"),  # a share below 1%: two decimals
        ("n_frames", "i", None, NAN, "frames", "%,d"),  # a count: thousands separated
        ("n_clips", "f", None, NAN, "clips", "%,d"),  # a count stored as float (a missing one made it so)
        ("model_name", "O", None, NAN, "model", ""),  # text: no number format
        ("value", "f", "people_per_hour", 1926.0, "value", "%,.0f"),  # an estimate per hour: whole people
        ("lat", "f", None, NAN, "lat", "%.5f"),  # coordinates: about 1 m
        ("flicker", "f", None, NAN, "flicker", "%,.2f"),  # any other float: two decimals, never 4.524036
    ],
)
def test_table_columns_have_planner_headers_and_one_number_format(
    column: str, kind: str, indicator: str | None, typical: float, label: str, fmt: str
) -> None:
    assert fm.column_label(column) == label
    assert fm.column_format(column, kind, indicator, typical) == fmt


def test_every_glossary_term_and_the_congestion_level_are_explained_in_plain_words() -> None:
    lines = fm.glossary_lines()
    assert len(lines) == len(fm.GLOSSARY) and all(": " in ln for ln in lines)
    for term in ("Olofsson et al. 2014", "clips as clusters", "valid pixels", "flicker"):
        assert term in fm.GLOSSARY
    note = fm.levels_note("congestion")
    assert "0 free, 1 moderate, 2 heavy, 3 jammed" in note and "heuristic" in note and "checked against" in note
    assert all(not fm.levels_note(n) for n in INDICATORS if not INDICATORS[n].levels)
