"""Charts of indicators: pure functions that return plotly figures and the DataFrames behind them.

Rules every figure here follows (the dashboard, reports and tests rely on them):

- colour scales are colour-blind safe: values coloured by the one colour logic of the maps
  (:func:`analytics.visual.layers.indicator_scale`: darker green = better, darker red = worse), series
  in the Okabe–Ito palette;
- every chart names the indicator, its unit and the period;
- a cell with too few frames is drawn as "not enough data" (grey), never as a colour;
- heuristic indicators say so in their title; synthetic data is labelled by the caller's banner;
- a line breaks where the data has a gap (:func:`break_gaps`) and a date axis names the year
  when the period spans more than one calendar year (:func:`date_axis`);
- a by-day chart of a period longer than :data:`WEEKLY_DAYS` days draws one point per week
  (:func:`weekly_rollup`), not a cloud of a thousand points.

No streamlit here: the dashboard pages only lay out what these functions return.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.errors import InputError
from analytics.formatting import MISSING_TEXT, as_percent, display_scale, format_count, format_count_value, format_difference, format_interval, format_value
from analytics.indicators import COUNT_INDICATORS, HEADLINE, INDICATORS, WEEKDAYS, to_wide
from analytics.taxonomy import GROUP_COLORS, group_label
from analytics.visual.layers import MISSING_COLOR, ColourScale, indicator_scale, text_colour

__all__ = [
    "COUNT_CLASS_COLORS",
    "count_profile",
    "counts_figure",
    "count_tiles",
    "OKABE_ITO",
    "plot_text",
    "FONT",
    "GAP_FACTOR",
    "DAY_MS",
    "break_gaps",
    "date_axis",
    "WEEKEND_SHADING_DAYS",
    "weekend_runs",
    "WEEKLY_DAYS",
    "WEEK",
    "is_weekly",
    "weekly_rollup",
    "weekly_rollup_wide",
    "time_span",
    "band_xy",
    "indicator_title",
    "empty_figure",
    "hover_texts",
    "rows",
    "kpi_table",
    "readable_table",
    "timeseries_figure",
    "plotly_colours",
    "heatmap_figure",
    "ranked_bars_figure",
    "distribution_figure",
    "class_share_figure",
    "headline_names",
    "clip_indicator_table",
    "LEGEND_BELOW",
    "COLOUR_BAR_BELOW",
    "two_line_title",
]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe & Ito (2008) qualitative palette, distinguishable with every common colour-vision deficiency."""
FONT = "Inter, 'Source Sans Pro', 'Helvetica Neue', Arial, sans-serif"
GAP_FACTOR = 3.0
"""A step between consecutive times longer than this many typical steps is a gap (see :func:`break_gaps`)."""
DAY_MS = 86_400_000
"""One day on a plotly date axis (milliseconds)."""


# -- time axes ------------------------------------------------------------------------------------
def break_gaps(df: pd.DataFrame, time_col: str, factor: float = GAP_FACTOR, step: Any = None) -> pd.DataFrame:
    """``df`` sorted by ``time_col``, with an empty row (NaN everywhere else) inside each gap, so a line breaks there.

    The typical step is ``step`` where the caller knows it (a week for :func:`weekly_rollup`), else the
    median of the positive steps between consecutive times; a gap is a
    step ``t[i+1] − t[i] > factor × typical step``; its empty row sits at ``t[i] + typical step``.
    Dates become pandas timestamps; numbers stay numbers. Fewer than three rows and no ``step``: nothing to judge.

    >>> days = pd.to_datetime(["2018-04-19", "2018-04-20", "2018-04-21", "2026-11-02", "2026-11-03"])
    >>> out = break_gaps(pd.DataFrame({"day": days, "value": [1.0, 2.0, 3.0, 4.0, 5.0]}), "day")
    >>> [str(d.date()) for d in out["day"]], out["value"].tolist()
    (['2018-04-19', '2018-04-20', '2018-04-21', '2018-04-22', '2026-11-02', '2026-11-03'], [1.0, 2.0, 3.0, nan, 4.0, 5.0])
    >>> len(break_gaps(pd.DataFrame({"t": [0, 3, 6, 9], "value": [1, 2, 3, 4]}), "t"))  # every third: no gap
    4
    """
    if time_col not in df.columns:
        raise InputError(f"no column {time_col!r} to break gaps on; columns: {', '.join(map(str, df.columns))}")
    if factor <= 1:
        raise InputError(f"gap factor {factor} must be above 1 (a gap is longer than the typical step)")
    out = df.sort_values(time_col, kind="stable").reset_index(drop=True)
    if len(out) < (3 if step is None else 2):
        return out
    if not pd.api.types.is_numeric_dtype(out[time_col]):
        out[time_col] = pd.to_datetime(out[time_col])
    t = out[time_col]
    steps = t.diff().iloc[1:]
    positive = steps[steps > steps.iloc[0] * 0]
    if positive.empty:
        return out
    typical = positive.median() if step is None else step
    before = [k - 1 for k in steps.index[(steps > typical * factor).to_numpy()]]
    if not before:
        return out
    filler = pd.DataFrame({c: [np.nan] * len(before) for c in out.columns if c != time_col})
    filler.insert(0, time_col, [t.iloc[k] + typical for k in before])
    filler = filler[list(out.columns)]
    both = pd.concat([out, filler.astype({time_col: out[time_col].dtype})], ignore_index=True)
    return both.sort_values(time_col, kind="stable").reset_index(drop=True)


def date_axis(start: date, end: date) -> dict[str, Any]:
    """Plotly x-axis settings for dates from ``start`` to ``end``: ticks that never crowd, the year when it changes.

    Up to 14 days: a tick a day (``Mon 02 Nov``); up to 92 days: day and month; longer: months
    (every 1, 3 or 6 as the span grows) and, beyond four years, years. A period that spans more
    than one calendar year always shows the year. Labels turn (plotly's ``autotickangles``)
    where the axis is too narrow for them side by side, as on a phone.

    >>> date_axis(date(2026, 11, 2), date(2026, 11, 15))["tickformat"], date_axis(date(2025, 12, 20), date(2026, 1, 20))["tickformat"]
    ('%a %d %b', '%d %b %Y')
    >>> axis = date_axis(date(2018, 4, 19), date(2026, 11, 15)); axis["tickformat"], axis["dtick"]
    ('%Y', 'M12')
    """
    if end < start:
        raise InputError(f"the date axis starts ({start}) after it ends ({end})")
    days = (end - start).days + 1
    year = " %Y" if start.year != end.year else ""
    axis: dict[str, Any] = {"hoverformat": "%a %d %b %Y", "autotickangles": [0, 30, 90], "automargin": True}  # crowded labels turn
    if days <= 14:
        axis.update(tickformat=f"%a %d %b{year}", dtick=DAY_MS)
    elif days <= 92:
        axis.update(tickformat=f"%d %b{year}")
    elif days <= 4 * 366:
        axis.update(tickformat="%b %Y", dtick="M1" if days <= 366 else ("M3" if days <= 2 * 366 else "M6"))
    else:
        axis.update(tickformat="%Y", dtick="M12")
    return axis


WEEKEND_SHADING_DAYS = 92
"""Weekends are shaded on by-day charts of periods up to this long (beyond, the shading is noise)."""


def weekend_runs(days: Any) -> list[tuple[date, date]]:
    """Runs of consecutive Saturdays and Sundays among ``days`` (any iterable of dates), as (first, last) day: one shape per weekend.

    >>> weekend_runs([date(2026, 11, d) for d in range(6, 17)])
    [(datetime.date(2026, 11, 7), datetime.date(2026, 11, 8)), (datetime.date(2026, 11, 14), datetime.date(2026, 11, 15))]
    """
    runs: list[tuple[date, date]] = []
    for d in sorted({pd.Timestamp(v).date() for v in days if not pd.isna(v)}):
        if d.weekday() < 5:
            continue
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


WEEKLY_DAYS = 120
"""By-day charts of periods longer than this many days draw one point per week (:func:`weekly_rollup`)."""
WEEK = pd.Timedelta(days=7)
"""The step of a weekly roll-up (lines break where weeks are missing, :func:`break_gaps`)."""


def is_weekly(days: Any) -> bool:
    """Whether a by-day chart of ``days`` (dates or timestamps) draws weeks: its span is longer than :data:`WEEKLY_DAYS` days.

    >>> is_weekly([date(2026, 1, 1), date(2026, 4, 30)]), is_weekly([date(2026, 1, 1), date(2026, 5, 1)])
    (False, True)
    """
    span = time_span(list(days))
    return span is not None and (span[1] - span[0]).days + 1 > WEEKLY_DAYS


_CELL_COLUMNS = ("value", "ci_low", "ci_high", "n_frames", "n_clips", "enough")


def weekly_rollup(long: pd.DataFrame, time_col: str = "day") -> pd.DataFrame:
    """A long indicator table by day (as :func:`analytics.indicators.compute`) rolled up to one row per week and
    indicator (and any other key column), dated by the week's Monday.

    Rule, per week and indicator: ``n_frames`` (and ``n_clips``) are sums over its days; ``value`` is the mean of
    the days' values weighted by their frames, ``Σ nᵢ·vᵢ / Σ nᵢ`` over the days that have a value (a day with too
    few frames has none and adds no weight); ``ci_low`` and ``ci_high`` are the same weighted means of the days'
    bounds, a cautious band at least as wide as the week's own interval; ``enough`` where any day has a value.

    >>> days = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 9)]  # Monday, Tuesday, the next Monday
    >>> long = pd.DataFrame({"day": days, "indicator": "green_view", "value": [0.1, 0.4, np.nan],
    ...                      "ci_low": [0.0, 0.3, np.nan], "ci_high": [0.2, 0.5, np.nan], "n_frames": [100, 50, 5],
    ...                      "enough": [True, True, False]})
    >>> out = weekly_rollup(long)
    >>> [str(d.date()) for d in out["day"]], out["value"].round(3).tolist(), out["n_frames"].tolist(), out["enough"].tolist()
    (['2026-11-02', '2026-11-09'], [0.2, nan], [150, 5], [True, False])
    """
    missing = [c for c in (time_col, "indicator", "value", "ci_low", "ci_high", "n_frames") if c not in long.columns]
    if missing:
        raise InputError(f"a weekly roll-up needs column {missing[0]!r}; columns: {', '.join(map(str, long.columns))}")
    df = long.copy()
    t = pd.to_datetime(df[time_col]).dt.normalize()
    df[time_col] = t - pd.to_timedelta(t.dt.day_of_week, unit="D")
    keys = [c for c in df.columns if c not in _CELL_COLUMNS]
    n = df["n_frames"].fillna(0).astype(float)
    sums: dict[str, pd.Series] = {"n_frames": df["n_frames"].fillna(0).astype(int)}
    if "n_clips" in df.columns:
        sums["n_clips"] = df["n_clips"].fillna(0).astype(int)
    for col in ("value", "ci_low", "ci_high"):
        x = df[col].astype(float)
        weight = n.where(x.notna(), 0.0)
        sums[f"_{col}_nx"], sums[f"_{col}_n"] = (x.fillna(0.0) * weight), weight
    g = pd.concat([df[keys], pd.DataFrame(sums)], axis=1).groupby(keys, dropna=False, sort=True).sum().reset_index()
    out = g[keys].copy()
    for col in ("value", "ci_low", "ci_high"):
        out[col] = g[f"_{col}_nx"] / g[f"_{col}_n"].replace(0.0, np.nan)
    out["n_frames"] = g["n_frames"].astype(int)
    if "n_clips" in g.columns:
        out["n_clips"] = g["n_clips"].astype(int)
    out["enough"] = out["value"].notna()
    return out.sort_values([time_col, *[k for k in keys if k != time_col]], kind="stable").reset_index(drop=True)


def weekly_rollup_wide(wide: pd.DataFrame, names: Sequence[str], time_col: str = "day") -> pd.DataFrame:
    """A wide table by day (:func:`analytics.indicators.to_wide` columns: ``<ind>``, ``<ind>_low``, ``<ind>_high``,
    ``<ind>_n_frames``) rolled up by week with :func:`weekly_rollup`, each indicator weighted by its own frames;
    the congestion level is read from the week's values. Days with no row for an indicator weigh nothing; names
    without a column in ``wide`` are left out."""
    parts = []
    for name in [n for n in names if n in wide.columns]:
        counts = wide[f"{name}_n_frames"] if f"{name}_n_frames" in wide.columns else wide["n_frames"]
        parts.append(pd.DataFrame({
            time_col: wide[time_col], "indicator": name, "value": wide[name].astype(float),
            "ci_low": wide[f"{name}_low"].astype(float), "ci_high": wide[f"{name}_high"].astype(float),
            "n_frames": counts.fillna(0).astype(int),
            "n_clips": wide["n_clips"].fillna(0).astype(int) if "n_clips" in wide.columns else 0,
        }))
    out = to_wide(weekly_rollup(pd.concat(parts, ignore_index=True), time_col), [time_col])
    if "congestion_level" not in out.columns:
        out["congestion_level"] = "unknown"
    return out


def time_span(values: Sequence[Any] | pd.Series) -> tuple[date, date] | None:
    """First and last day of a column of dates or timestamps (None when there is none)."""
    t = pd.to_datetime(pd.Series(list(values)), errors="coerce").dropna()
    if t.empty:
        return None
    return t.min().date(), t.max().date()


def band_xy(x: Sequence[Any], low: Any, high: Any) -> tuple[list[Any], list[Any]]:
    """Outline of a 95% band for a ``fill="toself"`` trace: each run of rows with both ends known becomes its own
    closed shape (forward along ``high``, back along ``low``), runs separated by ``None``, so gaps stay open.

    >>> band_xy([1, 2, 3, 4], [0.0, 1.0, float("nan"), 2.0], [1.0, 2.0, float("nan"), 3.0])
    ([1, 2, 2, 1, None, 4, 4], [1.0, 2.0, 1.0, 0.0, None, 3.0, 2.0])
    """
    xs: list[Any] = []
    ys: list[Any] = []
    run: list[int] = []
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    ok = ~(np.isnan(lo) | np.isnan(hi))
    for i in [*range(len(ok)), -1]:
        if i >= 0 and ok[i]:
            run.append(i)
            continue
        if run:
            if xs:
                xs.append(None)
                ys.append(None)
            xs += [x[k] for k in run] + [x[k] for k in reversed(run)]
            ys += [float(hi[k]) for k in run] + [float(lo[k]) for k in reversed(run)]
            run = []
    return xs, ys


def plot_text(text: object) -> str:
    """``text`` (a place, camera or zone name people typed) for a plotly title, legend, axis or hover label,
    which read a subset of HTML (``<b>``, ``<br>``, ``<a href>``): ``<``, ``>`` and ``&`` become entities,
    so the text shows as typed and never as a tag or a link.

    >>> plot_text('<a href="https://evil.example">Old Town</a> & co')
    '&lt;a href="https://evil.example"&gt;Old Town&lt;/a&gt; &amp; co'
    """
    return html.escape(str(text), quote=False)


def indicator_title(name: str, with_unit: bool = True) -> str:
    """Label of an indicator with its unit and a heuristic mark.

    >>> indicator_title("green_view"), indicator_title("people_per_frame")
    ('Green view index (%)', 'People per frame (people, heuristic)')
    """
    ind = INDICATORS[name]
    bits = [ind.unit] if with_unit else []
    if ind.heuristic:
        bits.append("heuristic")
    return f"{ind.label} ({', '.join(bits)})" if bits else ind.label


LEGEND_BELOW: dict[str, Any] = {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0.0,
                                "xanchor": "left", "traceorder": "normal"}
"""Where chart legends go: under the plot, left-aligned, in rows (a legend at the side takes half a
phone's width; one above the plot runs into the title)."""


COLOUR_BAR_BELOW: dict[str, Any] = {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0.0,
                                    "xanchor": "left", "len": 0.6, "lenmode": "fraction", "thickness": 10}
"""Where colour bars go: a horizontal bar under the plot (a bar at the side takes half a phone's width)."""


def two_line_title(title: str) -> str:
    """``title`` with its first ' · ' turned into a line break and the rest in smaller type, so a
    title fits a phone's width (plotly does not wrap titles).

    >>> two_line_title("Green view index (%) by day · 9 Nov – 15 Nov 2026")
    "Green view index (%) by day<br><span style='font-size:12px'>9 Nov – 15 Nov 2026</span>"
    """
    head, sep, rest = title.partition(" · ")
    return f"{head}<br><span style='font-size:12px'>{rest}</span>" if sep else title


def _layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    """Shared look: a two-line title at the top left, the legend under the plot (:data:`LEGEND_BELOW`)."""
    legend = {**LEGEND_BELOW, **kw.pop("legend", {})}
    fig.update_layout(
        title={"text": two_line_title(title), "x": 0.0, "xanchor": "left", "font": {"size": 15}, "yref": "container", "y": 1.0,
               "yanchor": "top", "pad": {"t": 12}},
        height=height,
        margin={"l": 10, "r": 10, "t": 64, "b": 10},
        font={"family": FONT, "size": 12},
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel={"font": {"family": FONT}},
        legend=legend,
        **kw,
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", zeroline=False, automargin=True)
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", zeroline=False, automargin=True)
    return fig


def empty_figure(message: str, height: int = 300) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14, "color": "#666"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height=height)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def hover_texts(df: pd.DataFrame, name: str) -> list[list[str]]:
    """Per row of a long table: [value, 95% interval, frames] as :mod:`analytics.formatting` writes them (for hovers)."""
    return [
        [format_value(name, v), format_interval(name, lo, hi, v) or "none", format_count(n)]
        for v, lo, hi, n in zip(df["value"], df["ci_low"], df["ci_high"], df["n_frames"])
    ]


def rows(df: pd.DataFrame) -> list[Any]:
    """The rows of ``df`` as named tuples (typed loosely, for drawing code)."""
    return list(df.itertuples(index=False))


# -- tables ---------------------------------------------------------------------------------------
def kpi_table(names: Sequence[str], cur: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """City values of ``names`` in the period (``cur``) against the previous period of the same length (``prev``).

    ``cur`` and ``prev`` are city tables in the long form of :func:`analytics.indicators.compute`
    (as :func:`analytics.store.catalog.city_values` returns them; ``prev`` empty for an open period).
    Columns: indicator, label, unit, heuristic, value, ci_low, ci_high, n_frames, enough, previous,
    previous_n_frames, change (value - previous, NaN where either is missing), text, change_text.
    """
    names = list(names)
    unknown = [n for n in names if n not in INDICATORS]
    if unknown:
        raise InputError(f"unknown indicator {unknown[0]!r}; choose from {', '.join(INDICATORS)}")
    out: list[dict[str, Any]] = []
    for name in names:
        ind = INDICATORS[name]
        c = cur[cur["indicator"] == name]
        p = prev[prev["indicator"] == name]
        value = float(c["value"].iloc[0]) if len(c) else math.nan
        previous = float(p["value"].iloc[0]) if len(p) else math.nan
        change = value - previous
        change_text = None if math.isnan(change) else format_difference(name, change, signed=True)
        out.append(
            {
                "indicator": name,
                "label": ind.label,
                "unit": ind.unit,
                "heuristic": ind.heuristic,
                "value": value,
                "ci_low": float(c["ci_low"].iloc[0]) if len(c) else math.nan,
                "ci_high": float(c["ci_high"].iloc[0]) if len(c) else math.nan,
                "n_frames": int(c["n_frames"].iloc[0]) if len(c) else 0,
                "enough": bool(c["enough"].iloc[0]) if len(c) else False,
                "previous": previous,
                "previous_n_frames": int(p["n_frames"].iloc[0]) if len(p) else 0,
                "change": change,
                "text": format_value(name, value),
                "change_text": change_text,
            }
        )
    return pd.DataFrame(out)


def readable_table(long: pd.DataFrame, keys: Sequence[str], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The long indicator table with values as people read them (the table shown and downloaded).

    Shares become percentages; a cell with too few frames keeps its counts and says so; an
    error-adjusted table keeps its ``adjustment`` column (how each cell was adjusted, or why not).
    """
    keys = list(keys)
    df = long.copy()
    scale = df["indicator"].map(display_scale).astype(float)
    for col in ("value", "ci_low", "ci_high"):
        df[col] = df[col].astype(float) * scale
    df["unit"] = df["indicator"].map(lambda n: INDICATORS[n].unit)
    df["label"] = df["indicator"].map(lambda n: INDICATORS[n].label)
    df["status"] = np.where(df["enough"], "ok", MISSING_TEXT)
    if labels:
        for k in keys:
            if k in ("district", "camera"):
                df[f"{k}_name"] = df[k].map(lambda v: labels.get(str(v), str(v)))
    name_cols = [f"{k}_name" for k in keys if f"{k}_name" in df.columns]
    cols = [*keys, *name_cols, "indicator", "label", "unit", "value", "ci_low", "ci_high", "n_frames", "n_clips", "status"]
    cols += ["adjustment"] if "adjustment" in df.columns else []  # error-adjusted tables say which cells were adjusted
    return df[cols].reset_index(drop=True)


# -- figures --------------------------------------------------------------------------------------
def timeseries_figure(
    long: pd.DataFrame, key: str, name: str, period: str, labels: dict[str, str] | None = None, time_key: str = "day",
    max_series: int = 8,
) -> go.Figure:
    """One line per ``key`` value (district, camera) over ``time_key`` with a 95% band; gaps where data is short.

    By day over more than :data:`WEEKLY_DAYS` days: one point per week (:func:`weekly_rollup`)."""
    df = long[long["indicator"] == name]
    if df.empty:
        return empty_figure(f"No frames for {INDICATORS[name].label} in {period}")
    step, typical = time_key, None
    span = time_span(df[time_key]) if time_key != "hour" else None
    if span is not None and is_weekly(span):
        df, step, typical = weekly_rollup(df, time_key), "week", WEEK
    s = display_scale(name)
    fig = go.Figure()
    groups = list(dict.fromkeys(df[key])) if key in df.columns else [None]
    for i, g in enumerate(groups[:max_series]):
        part = df if g is None else df[df[key] == g]
        part = part.sort_values(time_key) if time_key == "hour" else break_gaps(part, time_key, step=typical)
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        label = "City" if g is None else plot_text((labels or {}).get(str(g), str(g)))
        x = part[time_key]
        bx, by = band_xy(list(x), part["ci_low"].to_numpy(float) * s, part["ci_high"].to_numpy(float) * s)
        fig.add_trace(
            go.Scatter(
                x=bx, y=by, fill="toself", fillcolor=_rgba(colour, 0.15), line={"width": 0}, mode="lines", hoverinfo="skip",
                showlegend=False, legendgroup=label,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x, y=part["value"] * s, mode="lines+markers", name=label, legendgroup=label, line={"color": colour, "width": 2},
                marker={"size": 5}, connectgaps=False,
                customdata=hover_texts(part.fillna({"n_frames": 0}), name),
                hovertemplate=f"<b>{label}</b><br>%{{x}}<br>%{{customdata[0]}}"
                "<br>95% CI %{customdata[1]}<br>%{customdata[2]} frames<extra></extra>",
            )
        )
    missing = int((~df["enough"]).sum())
    note = f" · {missing} cells with {MISSING_TEXT} left blank" if missing else ""
    fig = _layout(fig, f"{indicator_title(name)} by {step} · {period}{note}", height=420)
    fig.update_yaxes(title=indicator_title(name), rangemode="tozero")
    if time_key == "hour":
        fig.update_xaxes(title="hour of day", dtick=2, range=[-0.5, 23.5])
    elif span is not None:
        fig.update_xaxes(title=None, **date_axis(*span))  # years shown when the data spans them; ticks never crowd
    return fig


def plotly_colours(scale: ColourScale) -> dict[str, Any]:
    """Plotly colour settings (``colorscale``, ``cmin``/``cmax`` style bounds as ``zmin``/``zmax``) of a map's colour scale."""
    return {"colorscale": [[p, c] for p, c in scale.stops], "zmin": scale.vmin, "zmax": scale.vmax}


def heatmap_figure(long: pd.DataFrame, name: str, period: str) -> go.Figure:
    """Hour of day × weekday heatmap coloured as the maps are (:func:`analytics.visual.layers.indicator_scale`: the
    indicator's ``better`` direction picks the scale); cells with too few frames grey and marked ×."""
    df = long[long["indicator"] == name]
    if df.empty:
        return empty_figure(f"No frames for {INDICATORS[name].label} in {period}")
    s = display_scale(name)
    grid = df.pivot_table(index="weekday", columns="hour", values="value", aggfunc="first", dropna=False)
    n = df.pivot_table(index="weekday", columns="hour", values="n_frames", aggfunc="first", dropna=False)
    grid = grid.reindex(index=range(1, 8), columns=range(24))
    n = n.reindex(index=range(1, 8), columns=range(24)).fillna(0)
    z = grid.to_numpy(dtype=float) * s
    scale = indicator_scale(name, grid.to_numpy(dtype=float).ravel())
    cell_text = [[f"{format_value(name, v)}<br>{format_count(k)} frames" for v, k in zip(vs, ks)]
                 for vs, ks in zip(grid.to_numpy(dtype=float), n.to_numpy())]
    missing = np.where(np.isnan(z), 1.0, np.nan)
    hours = [f"{h:02d}" for h in range(24)]
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=missing, x=hours, y=list(WEEKDAYS), colorscale=[[0, MISSING_COLOR], [1, MISSING_COLOR]], showscale=False,
            text=np.where(np.isnan(z), "×", ""), texttemplate="%{text}", textfont={"color": "#777"},
            customdata=[[format_count(k) for k in ks] for ks in n.to_numpy()],
            hovertemplate=f"%{{y}} %{{x}}:00<br>{MISSING_TEXT} (%{{customdata}} frames)<extra></extra>",
            xgap=1, ygap=1,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=z, x=hours, y=list(WEEKDAYS), **plotly_colours(scale), customdata=cell_text, xgap=1, ygap=1,
            colorbar={**COLOUR_BAR_BELOW, "title": {"text": f"{INDICATORS[name].unit} · {scale.reading}", "side": "top"}},
            hovertemplate="%{y} %{x}:00<br>%{customdata}<extra></extra>",
        )
    )
    fig = _layout(fig, f"{indicator_title(name)} by hour and weekday · {period} · grey × = {MISSING_TEXT}", height=340)
    fig.update_yaxes(autorange="reversed", showgrid=False, title=None)
    fig.update_xaxes(showgrid=False, title="hour of day", type="category")
    return fig


def ranked_bars_figure(long: pd.DataFrame, key: str, name: str, period: str, labels: dict[str, str] | None = None) -> go.Figure:
    """Ranked horizontal bars with 95% intervals; cells with too few frames listed last, grey, without a bar."""
    df = long[long["indicator"] == name].copy()
    if df.empty:
        return empty_figure(f"No frames for {INDICATORS[name].label} in {period}")
    s = display_scale(name)
    df["label"] = df[key].map(lambda v: plot_text((labels or {}).get(str(v), str(v))))
    ok = df[df["enough"]].sort_values("value", ascending=True)
    short = df[~df["enough"]]
    fig = go.Figure()
    if not short.empty:
        fig.add_trace(
            go.Bar(
                y=short["label"], x=[0.0] * len(short), orientation="h", name=MISSING_TEXT, marker={"color": MISSING_COLOR},
                text=[f"{MISSING_TEXT} ({format_count(v)} frames)" for v in short["n_frames"]], textposition="outside",
                hoverinfo="text",
            )
        )
    if not ok.empty:
        v = ok["value"].to_numpy(float) * s
        scale = indicator_scale(name, ok["value"].to_numpy(float))
        lo = ok["ci_low"].to_numpy(float) * s
        hi = ok["ci_high"].to_numpy(float) * s
        fig.add_trace(
            go.Bar(
                y=ok["label"], x=v, orientation="h", name=indicator_title(name),
                marker={"color": [scale.colour(x) for x in ok["value"].to_numpy(float)]},
                error_x={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - v), "arrayminus": np.nan_to_num(v - lo),
                         "color": "#444", "thickness": 1.2},
                customdata=hover_texts(ok, name),
                text=[format_value(name, x) for x in ok["value"]], textposition="inside", insidetextanchor="start",
                textfont={"color": [text_colour(scale.colour(x) or MISSING_COLOR) for x in ok["value"].to_numpy(float)]},
                hovertemplate="<b>%{y}</b><br>%{customdata[0]}<br>95% CI %{customdata[1]}<br>%{customdata[2]} frames<extra></extra>",
            )
        )
    fig = _layout(fig, f"{indicator_title(name)} · ranked with 95% intervals · {period}", height=max(260, 60 + 34 * len(df)),
                  showlegend=False)
    fig.update_xaxes(title=indicator_title(name), rangemode="tozero")
    fig.update_yaxes(showgrid=False, title=None, categoryorder="array", categoryarray=[*short["label"], *ok["label"]])
    return fig


def distribution_figure(long: pd.DataFrame, group_key: str, name: str, period: str, labels: dict[str, str] | None = None) -> go.Figure:
    """Box plots of camera-day values per ``group_key`` (district): how much the cells vary."""
    df = long[(long["indicator"] == name) & long["enough"]].copy()
    if df.empty:
        return empty_figure(f"Not enough data for a distribution of {INDICATORS[name].label} in {period}")
    s = display_scale(name)
    fig = go.Figure()
    groups = sorted(df[group_key].astype(str).unique(), key=lambda g: (labels or {}).get(g, g))
    for i, g in enumerate(groups):
        part = df[df[group_key].astype(str) == g]
        label = plot_text((labels or {}).get(g, g))
        fig.add_trace(
            go.Box(
                y=part["value"] * s, name=label, marker={"color": OKABE_ITO[i % len(OKABE_ITO)], "size": 3}, boxpoints="outliers",
                text=[format_value(name, v) for v in part["value"]],
                hovertemplate=f"<b>{label}</b><br>%{{text}}<extra></extra>",
            )
        )
    fig = _layout(fig, f"{indicator_title(name)} · distribution of camera-day values · {period}", showlegend=False)
    fig.update_yaxes(title=indicator_title(name), rangemode="tozero")
    return fig


def class_share_figure(shares: pd.DataFrame, period: str, time_title: str = "day") -> go.Figure:
    """Stacked area of group shares (the groups' own colours, labelled in the legend and on hover)."""
    if shares.empty:
        return empty_figure(f"No frames in {period}")
    fig = go.Figure()
    daily = time_title == "day"
    for g in dict.fromkeys(shares["group"]):
        part = shares[shares["group"] == g]
        if not (part["share"].fillna(0) > 0).any():
            continue
        r, gg, b = GROUP_COLORS.get(g, (150, 150, 150))
        hover = f"{group_label(g)}: %{{y:.1f}}%<br>%{{customdata:,}} frames<extra></extra>"
        if daily:  # one bar a day: readable for one day as for a year
            fig.add_trace(go.Bar(x=part["t"], y=as_percent(part["share"]), name=group_label(g), marker={"color": f"rgb({r},{gg},{b})"},
                                 customdata=part["n_frames"], hovertemplate=hover))
        else:
            fig.add_trace(
                go.Scatter(
                    x=part["t"], y=as_percent(part["share"]), name=group_label(g), stackgroup="shares", mode="lines",
                    line={"width": 0.5, "color": f"rgb({r},{gg},{b})"}, customdata=part["n_frames"], hovertemplate=hover,
                )
            )
    if daily:
        fig.update_layout(barmode="stack", bargap=0.15)
    fig = _layout(fig, f"Class shares (% of valid pixels) by {time_title} · {period}", height=500)  # a phone's legend takes ten rows
    fig.update_yaxes(title="% of valid pixels", range=[0, 100])
    if time_title == "day":
        span = time_span(shares["t"])
        if span is not None:
            fig.update_xaxes(title=None, **date_axis(*span))
    else:
        fig.update_xaxes(title=None, ticksuffix=" s")
    return fig


def headline_names(names: Sequence[str] | None = None) -> list[str]:
    """Headline indicators first, then the others (the order of every indicator picker)."""
    first = [n for n in HEADLINE if n in INDICATORS]
    rest = [n for n in INDICATORS if n not in first]
    out = first + rest
    return [n for n in out if names is None or n in names]


def clip_indicator_table(long: pd.DataFrame) -> pd.DataFrame:
    """The clip's indicators for people: label, value text, 95% interval, frames, heuristic flag."""
    out: list[dict[str, Any]] = []
    for r in rows(long):
        ind = INDICATORS[str(r.indicator)]
        out.append(
            {
                "indicator": ind.label, "value": format_value(ind.name, float(r.value)),
                "95% CI": format_interval(ind.name, float(r.ci_low), float(r.ci_high), float(r.value)) or "–",
                "frames": int(r.n_frames), "theme": ind.theme, "heuristic": "heuristic" if ind.heuristic else "",
            }
        )
    return pd.DataFrame(out)


COUNT_CLASS_COLORS = {"person": "#0072B2", "cyclist": "#009E73", "car": "#777777", "motorcycle": "#CC79A7", "bus": "#E69F00",
                      "truck": "#D55E00"}
"""One colour per counted class (colour-blind safe, Okabe-Ito), in stacking order."""


def count_profile(crossings: pd.DataFrame) -> pd.DataFrame:
    """Crossings per hour of counted footage by hour of day, direction and class.

    ``crossings`` are hourly rows of :func:`analytics.store.counts.crossing_counts` (one camera).
    Per hour of day ``h``: ``rate = 3600 · Σ count / T_h``, ``T_h`` the seconds counted in hours
    ``h`` of the period (each hour's ``observed_s`` taken once per line). Columns: hour_of_day,
    direction, direction_label, class, count, rate.

    >>> x = pd.DataFrame({"line": "m", "hour": pd.to_datetime(["2026-11-02 08:00"] * 2 + ["2026-11-03 08:00"] * 2),
    ...                   "direction": ["in", "out"] * 2, "direction_label": ["up", "down"] * 2, "class": "car",
    ...                   "count": [3, 1, 5, 0], "observed_s": 360.0})
    >>> count_profile(x)[["hour_of_day", "direction", "count", "rate"]].values.tolist()
    [[8, 'in', 8, 40.0], [8, 'out', 1, 5.0]]
    """
    cols = ["hour_of_day", "direction", "direction_label", "class", "count", "rate"]
    if crossings.empty or "hour" not in crossings.columns:
        return pd.DataFrame(columns=cols)
    df = crossings.assign(hour_of_day=pd.to_datetime(crossings["hour"]).dt.hour)
    seconds = df.drop_duplicates(["line", "hour"]).groupby("hour_of_day")["observed_s"].sum()
    out = df.groupby(["hour_of_day", "direction", "direction_label", "class"], as_index=False)["count"].sum()
    out["rate"] = 3600.0 * out["count"] / out["hour_of_day"].map(seconds)
    return pd.DataFrame(out[cols])


def counts_figure(crossings: pd.DataFrame, period: str, title: str = "Counts by hour of day") -> go.Figure:
    """Bars of crossings per hour counted by hour of day, one panel per direction, stacked by class
    (:func:`count_profile`); hover gives the class, the rate and the crossings counted."""
    prof = count_profile(crossings)
    if prof.empty:
        return empty_figure("No counts in this period.")
    directions = prof[["direction", "direction_label"]].drop_duplicates().sort_values("direction")
    fig = make_subplots(rows=1, cols=len(directions), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[plot_text(f"{d.direction_label} ({d.direction})") for d in rows(directions)])
    shown: set[str] = set()  # each class in the legend once, from the first panel it appears in
    for i, d in enumerate(rows(directions), start=1):
        part = prof[prof["direction"] == d.direction]
        for cls, colour in COUNT_CLASS_COLORS.items():
            sel = part[part["class"] == cls]
            if sel.empty or sel["count"].sum() == 0:
                continue
            fig.add_trace(go.Bar(
                x=sel["hour_of_day"], y=sel["rate"], name=cls, marker_color=colour, legendgroup=cls, showlegend=cls not in shown,
                hovertext=[f"{cls} · {h:02d}:00 · {r:,.0f} per hour ({c:,} counted)" for h, r, c in
                           zip(sel["hour_of_day"], sel["rate"], sel["count"], strict=True)], hoverinfo="text",
            ), row=1, col=i)
            shown.add(cls)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="hour of day", dtick=4, range=[-0.5, 23.5])  # a panel per direction: six labels fit a phone
    fig.update_yaxes(title_text="crossings per hour", row=1, col=1)
    fig = _layout(fig, f"{title} · {period}", height=380)
    return fig.update_annotations(font={"size": 11})  # panel titles side by side fit a phone's half width


def count_tiles(summary: pd.Series) -> list[tuple[str, str, str]]:
    """(label, value, help) of a counting camera's headline counts, from one row of
    :func:`analytics.store.counts.camera_count_summary`: a short value for a metric tile (the unit
    per hour is in the label) and, as help, the value with its 95% interval and the indicator's formula.

    >>> row = pd.Series({"people_per_hour_counted": 120.0, "people_per_hour_counted_low": 100.0,
    ...                  "people_per_hour_counted_high": 140.0, "v85": float("nan"), "mean_dwell": 19.24})
    >>> [(label, value) for label, value, _ in count_tiles(row)]
    [('People per hour (counted)', '120'), ('Mean dwell time', '19.2 s')]
    >>> count_tiles(row)[0][2].split(". ")[0]
    '120 people/h (100–140), 95% interval'
    """
    out = []
    for name in ("people_per_hour_counted", "cyclists_per_hour", "vehicles_per_hour", "v85", "mean_dwell", "peak_occupancy"):
        value = summary.get(name)
        if value is None or pd.isna(value):
            continue
        ind = COUNT_INDICATORS[name]
        full = format_count_value(name, float(value), summary.get(f"{name}_low"), summary.get(f"{name}_high"))
        short = f"{float(value):,.0f}" if ind.kind == "rate" else format_count_value(name, float(value))
        detail = f"{full}, 95% interval. " if ind.kind == "rate" else ""
        out.append((ind.label, short, f"{detail}{ind.formula}"))
    return out
