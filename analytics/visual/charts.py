"""Charts of indicators: pure functions that return plotly figures and the DataFrames behind them.

Rules every figure here follows (the dashboard, reports and tests rely on them):

- colour scales are colour-blind safe (viridis for values, the Okabe–Ito palette for series);
- every chart names the indicator, its unit and the period;
- a cell with too few frames is drawn as "not enough data" (grey), never as a colour;
- heuristic indicators say so in their title; synthetic data is labelled by the caller's banner.

No streamlit here: the dashboard pages only lay out what these functions return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.errors import InputError
from analytics.formatting import MISSING_TEXT, as_percent, display_scale, format_count, format_difference, format_interval, format_value
from analytics.indicators import HEADLINE, INDICATORS, WEEKDAYS
from analytics.taxonomy import GROUP_COLORS, group_label
from analytics.visual.layers import MISSING_COLOR

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
"""Okabe & Ito (2008) qualitative palette, distinguishable with every common colour-vision deficiency."""
VALUE_SCALE = "Viridis"
FONT = "Inter, 'Source Sans Pro', 'Helvetica Neue', Arial, sans-serif"


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


def _layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 56, "b": 10},
        font={"family": FONT, "size": 12},
        plot_bgcolor="white",
        paper_bgcolor="white",
        hoverlabel={"font": {"family": FONT}},
        **kw,
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eeeeee", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee", zeroline=False)
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
    """One line per ``key`` value (district, camera) over ``time_key`` with a 95% band; gaps where data is short."""
    df = long[long["indicator"] == name]
    if df.empty:
        return empty_figure(f"No frames for {INDICATORS[name].label} in {period}")
    s = display_scale(name)
    fig = go.Figure()
    groups = list(dict.fromkeys(df[key])) if key in df.columns else [None]
    for i, g in enumerate(groups[:max_series]):
        part = df if g is None else df[df[key] == g]
        part = part.sort_values(time_key)
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        label = "City" if g is None else (labels or {}).get(str(g), str(g))
        x = part[time_key]
        fig.add_trace(
            go.Scatter(
                x=pd.concat([x, x[::-1]]), y=pd.concat([part["ci_high"] * s, part["ci_low"][::-1] * s]), fill="toself",
                fillcolor=_rgba(colour, 0.15), line={"width": 0}, mode="lines", hoverinfo="skip", showlegend=False, legendgroup=label,
                connectgaps=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x, y=part["value"] * s, mode="lines+markers", name=label, legendgroup=label, line={"color": colour, "width": 2},
                marker={"size": 5}, connectgaps=False,
                customdata=hover_texts(part, name),
                hovertemplate=f"<b>{label}</b><br>%{{x}}<br>%{{customdata[0]}}"
                "<br>95% CI %{customdata[1]}<br>%{customdata[2]} frames<extra></extra>",
            )
        )
    missing = int((~df["enough"]).sum())
    note = f" · {missing} cells with {MISSING_TEXT} left blank" if missing else ""
    fig = _layout(fig, f"{indicator_title(name)} by {time_key} · {period}{note}",
                  legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"})
    fig.update_layout(margin={"t": 80})
    fig.update_yaxes(title=indicator_title(name), rangemode="tozero")
    if time_key == "hour":
        fig.update_xaxes(title="hour of day", dtick=2, range=[-0.5, 23.5])
    else:
        fig.update_xaxes(title=None, tickformat="%a %d %b", hoverformat="%a %d %b %Y")
        if df[time_key].nunique() <= 14:
            fig.update_xaxes(dtick=86_400_000)  # one tick a day, never several ticks for one day
    return fig


def heatmap_figure(long: pd.DataFrame, name: str, period: str) -> go.Figure:
    """Hour of day × weekday heatmap (viridis); cells with too few frames grey and marked ×."""
    df = long[long["indicator"] == name]
    if df.empty:
        return empty_figure(f"No frames for {INDICATORS[name].label} in {period}")
    s = display_scale(name)
    grid = df.pivot_table(index="weekday", columns="hour", values="value", aggfunc="first", dropna=False)
    n = df.pivot_table(index="weekday", columns="hour", values="n_frames", aggfunc="first", dropna=False)
    grid = grid.reindex(index=range(1, 8), columns=range(24))
    n = n.reindex(index=range(1, 8), columns=range(24)).fillna(0)
    z = grid.to_numpy(dtype=float) * s
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
            z=z, x=hours, y=list(WEEKDAYS), colorscale=VALUE_SCALE, customdata=cell_text, xgap=1, ygap=1,
            colorbar={"title": {"text": INDICATORS[name].unit}, "thickness": 12},
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
    df["label"] = df[key].map(lambda v: (labels or {}).get(str(v), str(v)))
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
        lo = ok["ci_low"].to_numpy(float) * s
        hi = ok["ci_high"].to_numpy(float) * s
        fig.add_trace(
            go.Bar(
                y=ok["label"], x=v, orientation="h", name=indicator_title(name),
                marker={"color": v, "colorscale": VALUE_SCALE, "cmin": float(np.nanmin(v)), "cmax": float(np.nanmax(v))},
                error_x={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - v), "arrayminus": np.nan_to_num(v - lo),
                         "color": "#444", "thickness": 1.2},
                customdata=hover_texts(ok, name),
                text=[format_value(name, x) for x in ok["value"]], textposition="inside", insidetextanchor="start",
                textfont={"color": "white"},
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
        label = (labels or {}).get(g, g)
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
        if shares["t"].nunique() <= 14:
            fig.update_xaxes(dtick=86_400_000)
    fig = _layout(fig, f"Class shares (% of valid pixels) by {time_title} · {period}", height=420,
                  legend={"orientation": "h", "y": -0.12, "yanchor": "top", "x": 0.0, "traceorder": "normal"})
    fig.update_yaxes(title="% of valid pixels", range=[0, 100])
    if time_title == "day":
        fig.update_xaxes(title=None, tickformat="%a %d %b")
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
