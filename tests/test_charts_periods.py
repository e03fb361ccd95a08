"""Time axes of charts and the periods behind them: gaps break lines, years show, comparisons stay sensible."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.errors import InputError
from analytics.formatting import format_comparison, format_part_of
from analytics.periods import comparison_window, default_period
from analytics.visual import charts


def _days(*isos: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(isos)))


@pytest.mark.parametrize(
    ("times", "inserted"),
    [
        (_days("2018-04-19", "2018-04-20", "2018-04-21", "2026-11-02", "2026-11-03", "2026-11-04"), 1),  # the 8-year gap
        (_days("2026-11-01", "2026-11-04", "2026-11-07", "2026-11-10"), 0),  # every third day: its typical step
        (_days("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"), 0),  # daily
        (_days("2026-11-01", "2026-11-02", "2026-11-10", "2026-11-11", "2026-11-30", "2026-12-01"), 2),  # two gaps
        (_days("2026-11-01", "2027-11-02"), 0),  # two points: nothing to judge
        (pd.Series([0, 1, 2, 3, 20, 21]), 1),  # numbers work too
    ],
)
def test_break_gaps(times: pd.Series, inserted: int) -> None:
    df = pd.DataFrame({"t": times, "value": np.arange(len(times), dtype=float), "name": "x"})
    out = charts.break_gaps(df.sample(frac=1.0, random_state=1), "t")  # order does not matter
    assert len(out) == len(df) + inserted
    assert out["t"].is_monotonic_increasing
    assert int(out["value"].isna().sum()) == inserted  # each inserted row is empty apart from its time


@pytest.mark.parametrize(("col", "factor", "message"), [("day", 3.0, "no column 'day'"), ("t", 1.0, "must be above 1")])
def test_break_gaps_bad_input(col: str, factor: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        charts.break_gaps(pd.DataFrame({"t": [1, 2, 3]}), col, factor)


@pytest.mark.parametrize(
    ("start", "end", "tickformat", "dtick"),
    [
        (date(2026, 11, 2), date(2026, 11, 8), "%a %d %b", charts.DAY_MS),  # a week: a tick a day
        (date(2026, 12, 28), date(2027, 1, 3), "%a %d %b %Y", charts.DAY_MS),  # across new year: the year shows
        (date(2026, 9, 1), date(2026, 11, 30), "%d %b", None),
        (date(2025, 11, 2), date(2026, 10, 31), "%b %Y", "M1"),
        (date(2018, 4, 19), date(2026, 11, 15), "%Y", "M12"),  # 8 years: one tick a year
    ],
)
def test_date_axis(start: date, end: date, tickformat: str, dtick: object) -> None:
    axis = charts.date_axis(start, end)
    assert axis["tickformat"] == tickformat and axis.get("dtick") == dtick


def _long_table(days: pd.DatetimeIndex) -> pd.DataFrame:
    n = len(days)
    return pd.DataFrame({"day": days, "indicator": "green_view", "value": 0.2, "ci_low": 0.18, "ci_high": 0.22, "n_frames": 60,
                         "enough": True, "district": "old-town"}).iloc[:n]


def test_timeseries_breaks_at_an_eight_year_gap_and_shows_years() -> None:
    days = pd.DatetimeIndex([*pd.date_range("2018-04-19", periods=3), *pd.date_range("2026-11-02", periods=14)])
    fig = charts.timeseries_figure(_long_table(days), "district", "green_view", "all data")
    line = next(t for t in fig.data if t.mode == "lines+markers")
    assert sum(1 for y in line.y if y is None or math.isnan(y)) == 1  # one break, in the gap
    band = next(t for t in fig.data if t.fill == "toself")
    assert list(band.x).count(None) == 1  # two closed band shapes, not one across the gap
    assert "%Y" in fig.layout.xaxis.tickformat


def test_timeseries_of_one_week_keeps_daily_ticks() -> None:
    fig = charts.timeseries_figure(_long_table(pd.date_range("2026-11-02", periods=7)), "district", "green_view", "a week")
    assert fig.layout.xaxis.tickformat == "%a %d %b" and fig.layout.xaxis.dtick == charts.DAY_MS


def test_weekly_rollup_weights_days_by_frames() -> None:
    days = pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-08", "2026-11-09", "2026-11-09"])
    long = pd.DataFrame({
        "day": days, "district": ["a", "a", "a", "a", "a", "b"], "indicator": "green_view",
        "value": [0.5, 0.1, 0.4, np.nan, np.nan, 0.3], "ci_low": [0.4, 0.0, 0.3, np.nan, np.nan, 0.2],
        "ci_high": [0.6, 0.2, 0.5, np.nan, np.nan, 0.4], "n_frames": [10, 100, 50, 3, 4, 40], "n_clips": [1, 2, 1, 1, 1, 1],
        "enough": [True, True, True, False, False, True],
    })
    out = charts.weekly_rollup(long.sample(frac=1.0, random_state=2))  # order does not matter
    got = {(str(r.day.date()), r.district): r for r in out.itertuples()}
    # Sunday 1 Nov belongs to the week of Monday 26 Oct; weeks start on Monday
    assert sorted(got) == [("2026-10-26", "a"), ("2026-11-02", "a"), ("2026-11-09", "a"), ("2026-11-09", "b")]
    week = got[("2026-11-02", "a")]  # (0.1·100 + 0.4·50) / 150; the short Sunday (no value) adds frames, no weight
    assert week.value == pytest.approx(0.2) and week.ci_low == pytest.approx(0.1) and week.ci_high == pytest.approx(0.3)
    assert (week.n_frames, week.n_clips, week.enough) == (153, 4, True)
    short = got[("2026-11-09", "a")]
    assert math.isnan(short.value) and not short.enough and short.n_frames == 4  # no day with a value: missing, not 0
    with pytest.raises(InputError, match="needs column 'n_frames'"):
        charts.weekly_rollup(long.drop(columns=["n_frames"]))


def test_timeseries_of_a_long_period_draws_weeks() -> None:
    days = pd.date_range("2024-01-01", "2026-09-30")  # about 1,000 days
    fig = charts.timeseries_figure(_long_table(days), "district", "green_view", "1,004 days")
    line = next(t for t in fig.data if t.mode == "lines+markers")
    assert len(line.x) == len(pd.date_range("2024-01-01", "2026-09-30", freq="W-MON"))  # one point per week (1 Jan 2024 is a Monday)
    assert "by week" in fig.layout.title.text
    short = charts.timeseries_figure(_long_table(pd.date_range("2026-01-01", periods=120)), "district", "green_view", "120 days")
    assert len(next(t for t in short.data if t.mode == "lines+markers").x) == 120  # up to WEEKLY_DAYS: by day


def test_weekend_runs_and_band_outline() -> None:
    assert charts.weekend_runs(pd.date_range("2026-11-02", periods=14)) == [(date(2026, 11, 7), date(2026, 11, 8)),
                                                                             (date(2026, 11, 14), date(2026, 11, 15))]
    xs, ys = charts.band_xy([1, 2], [float("nan")] * 2, [float("nan")] * 2)
    assert xs == [] and ys == []


# -- periods --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end", "first", "expected"),
    [
        (date(2026, 11, 9), date(2026, 11, 15), date(2026, 11, 2), (date(2026, 11, 2), date(2026, 11, 8))),
        (date(2026, 11, 2), date(2026, 11, 15), date(2026, 11, 2), None),  # nothing before the data
        (date(2018, 4, 19), date(2026, 11, 15), date(2018, 4, 19), None),  # 3,133 days: never "the previous 3133 days"
        (date(2026, 8, 1), date(2026, 10, 29), date(2020, 1, 1), (date(2026, 5, 3), date(2026, 7, 31))),  # 90 days: compared
        (date(2026, 8, 1), date(2026, 10, 30), date(2020, 1, 1), None),  # 91 days: too long
        (None, None, date(2020, 1, 1), None),  # open period
        (date(2026, 11, 9), date(2026, 11, 15), None, None),  # no data at all
    ],
)
def test_comparison_window(start: date | None, end: date | None, first: date | None, expected: object) -> None:
    assert comparison_window(start, end, first) == expected


def test_comparison_text_never_names_thousands_of_days() -> None:
    assert format_comparison(comparison_window(date(2018, 4, 19), date(2026, 11, 15), date(2018, 4, 19)), 3133) == "no earlier data"
    assert format_comparison((date(2026, 11, 2), date(2026, 11, 8)), 7) == "the previous 7 days (2 Nov – 8 Nov 2026)"


@pytest.mark.parametrize(
    ("choice", "first", "last", "expected"),
    [
        ("Last 30 days", date(2018, 4, 1), date(2018, 4, 19), (date(2018, 4, 1), date(2018, 4, 19))),  # ends at the data, not today
        ("Last 7 days", date(2026, 11, 2), date(2026, 11, 15), (date(2026, 11, 9), date(2026, 11, 15))),
        ("All data", date(2018, 4, 19), date(2026, 11, 15), (date(2018, 4, 19), date(2026, 11, 15))),
    ],
)
def test_default_period_follows_the_data(choice: str, first: date, last: date, expected: tuple[date, date]) -> None:
    assert default_period(choice, first, last) == expected


def test_default_period_bad_choice() -> None:
    with pytest.raises(InputError, match="unknown period choice 'Yesterday'"):
        default_period("Yesterday", date(2026, 11, 2), date(2026, 11, 15))


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (1984, 1986, "1,984 of 1,986 clips synthetic (99.9%)"),  # not "100%"
        (1986, 1986, "1,986 of 1,986 clips synthetic (100%)"),
        (2, 1986, "2 of 1,986 clips synthetic (0.1%)"),  # not "0%"
    ],
)
def test_true_synthetic_share(part: int, whole: int, text: str) -> None:
    assert format_part_of(part, whole, "clips", "synthetic") == text
