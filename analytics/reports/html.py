"""The report as one self-contained HTML file: interactive plotly charts, no external requests.

Everything is inline: plotly.js (the offline bundle, once), styles, and images as ``data:`` URIs.
A Content-Security-Policy meta tag forbids the page from loading anything from the network,
so a copy opened offline (or forwarded by e-mail) looks exactly like the original.
Lays out a :class:`~analytics.reports.content.ReportContent`; it never queries the store.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from analytics.formatting import (
    display_scale,
    format_cell,
    format_count,
    format_counted,
    format_hours,
    format_interval,
    format_previous,
    format_value,
)
from analytics.indicators import HEADLINE, INDICATORS
from analytics.reports import figures
from analytics.reports.content import (
    COUNTS_HEADER,
    COUNTS_TEXT,
    PATTERN_INDICATORS,
    SHORT_LABELS,
    ReportContent,
    camera_columns,
    day_caption,
    day_heading,
    format_lonlat,
)
from analytics.visual import charts, layers, maps

__all__ = ["CSP", "PLOTLY_BUNDLE_ID", "map_figure", "pattern_figure", "render_html", "write_html"]

CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'"
)
"""Content-Security-Policy of the page: inline code and data: images only, no network at all."""

PLOTLY_BUNDLE_ID = "plotly-bundle"
"""``id`` of the single ``<script>`` element that holds the offline plotly.js bundle."""

_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}

_CSS = """
:root { --accent: #1f4e79; --light: #eef3f8; --grid: #c8d3de; --muted: #666; --warn: #fff4e5; --warn-edge: #e08a00; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #f6f7f9;
       font-size: 15px; line-height: 1.5; }
main { max-width: 980px; margin: 0 auto; background: white; padding: 28px 40px 40px; }
.kicker { color: var(--muted); font-size: 13px; margin: 0; }
h1 { color: var(--accent); font-size: 32px; margin: 2px 0 4px; }
h2 { color: var(--accent); font-size: 21px; margin: 30px 0 8px; border-bottom: 2px solid var(--light); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.subtitle { font-size: 17px; margin: 0 0 6px; }
.small, .caption { font-size: 12.5px; color: var(--muted); }
.box { background: var(--warn); border: 1px solid var(--warn-edge); padding: 8px 12px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0; }
th { background: var(--accent); color: white; text-align: left; padding: 5px 6px; font-weight: 600; vertical-align: bottom; }
td { padding: 4px 6px; border-bottom: 1px solid var(--grid); vertical-align: top; }
tbody tr:nth-child(even) td { background: var(--light); }
td.num, th.num { text-align: right; white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12px; word-break: break-all; }
.chart { width: 100%; max-width: 100%; overflow: hidden; }
.map-box { container-type: inline-size; }
.scroll, .table-wrap { overflow-x: auto; max-width: 100%; }
img, svg, .chart > div { max-width: 100%; }
figure { margin: 10px 0; }
figure img { max-width: 100%; border: 1px solid var(--grid); }
.previews { display: flex; gap: 12px; flex-wrap: wrap; }
.previews figure { flex: 1 1 300px; }
nav.toc { font-size: 13px; margin: 10px 0 0; }
nav.toc a { color: var(--accent); margin-right: 12px; }
footer { margin-top: 30px; font-size: 12px; color: var(--muted); border-top: 1px solid var(--grid); padding-top: 8px; }
@media (max-width: 640px) { main { padding: 14px 12px 24px; } h1 { font-size: 24px; } h2 { font-size: 18px; }
  table { font-size: 12px; } th, td { padding: 3px 4px; } nav.toc a { display: inline-block; margin: 2px 10px 2px 0; } }
@media print { body { background: white; } main { padding: 0; max-width: none; } h2 { break-after: avoid; }
  figure, table { break-inside: avoid; } nav.toc { display: none; } }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], num_cols: Sequence[int] = (), raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    th = "".join(f'<th class="num">{_e(h)}</th>' if i in num_cols else f"<th>{_e(h)}</th>" for i, h in enumerate(header))
    body = []
    for row in rows:
        tds = "".join(
            f'<td class="num">{c if raw else _e(c)}</td>' if i in num_cols else f"<td>{c if raw else _e(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _ul(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(t)}</li>" for t in items) + "</ul>"


def _fig_html(fig: go.Figure, div_id: str) -> str:
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG,
                       default_width="100%", default_height=f"{fig.layout.height or 420}px")


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# ---------------------------------------------------------------------------------------------
# interactive figures


def _camera_hover(c: ReportContent) -> list[str]:
    main = c.main_indicator
    return [
        f"<b>{_e(r['name'])}</b> (rank {r['rank'] or '–'})<br>{_e(INDICATORS[main].label)}: {format_value(main, r[main])}"
        f" ({format_interval(main, r[f'{main}_low'], r[f'{main}_high'], r[main]) or 'no interval'})<br>{format_count(r['n_frames'])} frames"
        for r in figures.fixed_cameras(c).to_dict("records")
    ]


MAP_LEGEND_PX = 170
"""Height (px) under the HTML map for its colour bar and legend."""


def map_figure(c: ReportContent) -> go.Figure:
    """The report map (:func:`~analytics.reports.figures.map_layers`) on plain axes: no tiles, so nothing to download.

    Cameras are labelled with their rank only (the caption says so; names are in the table and on
    hover), each at a corner where it covers no district name, sized for a map a phone wide
    (:func:`~analytics.visual.layers.camera_label_places`). Its height follows the page width
    (:func:`_map_html`); ``layout.height`` is the height at 900 px, for other writers.
    """
    m = figures.map_layers(c)
    ranks = tuple(dataclasses.replace(cam, label=cam.label.split(" ", 1)[0]) for cam in m.cameras)
    places = layers.camera_label_places(ranks, m.labels, m.extent, char_w=0.022, line_h=0.045, area_char_w=0.025)
    fig = go.Figure()
    maps.add_areas(fig, m.areas, hover=[_e(f"{a.name}: {a.text}") for a in m.areas], edge="#222222", width=1.6, alpha=figures.MAP_ALPHA)
    maps.add_labels(fig, m.labels, size=13)
    maps.add_route(fig, m.route, colour=list(m.route_colours) if m.route_colours else "#555555", size=5 if m.route_colours else 3)
    maps.add_colour_bar(fig, m.scale, _axis_title(c.main_indicator))
    maps.add_cameras(fig, ranks, _camera_hover(c), "cameras (number: rank)", sized=False, places=places)
    maps.add_findings(fig, m.findings)
    maps.add_scale_bar(fig, m.scale_bar)
    maps.add_north_arrow(fig, m.north_arrow)
    maps.set_extent(fig, m.extent, background="white")
    fig.update_layout(template="plotly_white", height=int(900 * min(m.extent.ratio, 1.2)) + MAP_LEGEND_PX,
                      margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0}, hovermode="closest")
    return fig


def _map_html(fig: go.Figure, ratio: float) -> str:
    """The map in a box whose height follows its width (CSS container units): the map's shape
    (``ratio``, height / width, at most 1.2) plus :data:`MAP_LEGEND_PX` for the colour bar and
    legend, so a phone shows no empty band above and below it."""
    fig = go.Figure(fig).update_layout(height=None, autosize=True)
    inner = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id="ul-map", config=_CONFIG,
                        default_width="100%", default_height="100%")
    height = f"calc(100cqw * {min(ratio, 1.2):.3f} + {MAP_LEGEND_PX}px)"
    return f'<div class="chart map-box"><div style="height: {height}">{inner}</div></div>'


def _axis_title(name: str) -> str:
    i = INDICATORS[name]
    return f"{i.label} (%)" if i.is_share else f"{i.label} ({i.unit})"


def _hover_texts(df: pd.DataFrame, name: str) -> list[list[str]]:
    """Per row of a wide pattern table: [value, 95% interval, frames] as :mod:`analytics.formatting` writes them."""
    return [[format_value(name, v), format_interval(name, lo, hi, v) or "none", format_count(n)]
            for v, lo, hi, n in zip(df[name], df[f"{name}_low"], df[f"{name}_high"], df["n_frames"])]


def _band_traces(x: Sequence[Any], df: pd.DataFrame, name: str, color: str, dash: str = "solid") -> list[go.Scatter]:
    s = display_scale(name)
    y, lo, hi = (df[name].to_numpy(dtype=float) * s, df[f"{name}_low"].to_numpy(dtype=float) * s,
                 df[f"{name}_high"].to_numpy(dtype=float) * s)
    label = INDICATORS[name].label
    fill = "rgba({},{},{},0.18)".format(*[int(color[i:i + 2], 16) for i in (1, 3, 5)])
    bx, by = charts.band_xy(list(x), lo, hi)
    return [
        go.Scatter(x=bx, y=by, mode="lines", line={"width": 0}, fill="toself", fillcolor=fill, hoverinfo="skip",
                   showlegend=False, legendgroup=name),
        go.Scatter(x=x, y=y, mode="lines+markers", name=label, legendgroup=name, line={"color": color, "dash": dash},
                   marker={"size": 5 if len(x) <= 200 else 3}, customdata=_hover_texts(df, name),
                   hovertemplate=f"{label}: %{{customdata[0]}} (95%: %{{customdata[1]}}; %{{customdata[2]}} frames)<extra></extra>"),
    ]


def _weekend_shapes(days: Any) -> list[dict[str, Any]]:
    """One shaded rectangle per weekend in both panels, all added at once (plotly re-validates the layout per added shape)."""
    half = pd.Timedelta(hours=12)
    return [
        {"type": "rect", "xref": xref, "yref": f"{yref} domain", "x0": pd.Timestamp(a) - half, "x1": pd.Timestamp(b) + half,
         "y0": 0, "y1": 1, "fillcolor": "rgba(0,0,0,0.06)", "line": {"width": 0}, "layer": "below"}
        for a, b in charts.weekend_runs(days) for xref, yref in (("x", "y"), ("x2", "y2"))
    ]


def pattern_figure(df: pd.DataFrame, by: str) -> go.Figure:
    """Pedestrian use and congestion by hour of day or by day, with 95% bands and congestion levels on hover,
    one panel above the other (each the page's width, also on a phone), the legend under them.

    By day: days without footage are left out and the lines break at gaps (:func:`analytics.visual.charts.break_gaps`);
    weekends are shaded for periods up to :data:`~analytics.visual.charts.WEEKEND_SHADING_DAYS` days; the date
    axis names years when the period spans them; over more than :data:`~analytics.visual.charts.WEEKLY_DAYS` days
    there is one point per week (:func:`analytics.visual.charts.weekly_rollup`). The figure grows linearly with
    the number of days.
    """
    if by == "hour":
        data = df
        x: list[Any] = [int(h) for h in df["hour"]]
    else:
        weekly = charts.is_weekly(df["day"])
        rolled = charts.weekly_rollup_wide(df, PATTERN_INDICATORS) if weekly else df
        data = charts.break_gaps(rolled[rolled["n_frames"] > 0], "day", step=charts.WEEK if weekly else None)
        x = list(data["day"])
    fig = make_subplots(rows=2, cols=1, subplot_titles=("Pedestrian use", "Congestion"), vertical_spacing=0.2)  # one above the other: a phone's width each
    for t in _band_traces(x, data, "people_per_frame", "#2c7fb8"):
        fig.add_trace(t, row=1, col=1)
    for t in _band_traces(x, data, "road_occupancy", "#d95f0e"):
        fig.add_trace(t, row=2, col=1)
    for t in _band_traces(x, data, "vehicle_stationarity", "#636363", dash="dash"):
        fig.add_trace(t, row=2, col=1)
    levels = [str(lv) if str(lv) in figures.LEVEL_COLORS else "unknown" for lv in data["congestion_level"]]
    fig.add_trace(go.Bar(x=x, y=[2.0 if lv != "unknown" else 0 for lv in levels], name="congestion level",
                         marker={"color": [figures.LEVEL_COLORS[lv] for lv in levels]}, text=levels,
                         hovertemplate="congestion: %{text}<extra></extra>", textposition="none"), row=2, col=1)
    if by == "hour":
        fig.update_xaxes(title_text="hour of day", dtick=3, range=[-0.5, 23.5])
    else:
        span = charts.time_span(df["day"])
        if span is not None:
            fig.update_xaxes(**charts.date_axis(*span))
            if (span[1] - span[0]).days + 1 <= charts.WEEKEND_SHADING_DAYS:
                fig.update_layout(shapes=_weekend_shapes(df["day"]))
    fig.update_yaxes(title_text="people per frame", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="% of road / of vehicles", rangemode="tozero", row=2, col=1)
    fig.update_layout(template="plotly_white", height=620, margin={"l": 50, "r": 10, "t": 40, "b": 40}, hovermode="x unified",
                      legend={**charts.LEGEND_BELOW, "traceorder": "grouped"}, bargap=0.05)
    return fig


# ---------------------------------------------------------------------------------------------
# sections


def _header(c: ReportContent) -> str:
    area = "the whole city" if c.is_city else f"district {c.area_name}"
    compare = "." if c.is_city else (" and with the city average over the same period." if c.has_previous else
                                      "; compared with the city average over the same period.")
    out = [
        '<p class="kicker">UrbanLens · street-level indicators for officials</p>',
        f"<h1>{_e(c.title)}</h1>",
        f'<p class="subtitle">{_e(c.period_heading)} · {_e(area)}</p>',
        f'<p class="small">Generated {c.generated_at:%d %b %Y %H:%M} by UrbanLens {_e(c.version)}. {_e(c.comparison_sentence)}'
        f"{_e(compare)} Data sources and models: appendix.</p>",
    ]
    if c.sources.synthetic_clips > 0:
        out.append(f'<div class="box"><b>Demo data: {_e(c.sources.synthetic_text)}. Synthetic clips describe a made-up city '
                   "and must not be used for decisions.</b></div>")
    if not c.has_data:
        out.append(f'<div class="box"><b>No data for this area and period.</b> {_e(c.no_data_reason)} So this report '
                   "has no summary, map or charts; the methods appendix still explains how the numbers are made.</div>")
    sections = ["summary", "map", "patterns", "cameras", *(["counts"] if c.counts else []), "damage", "coverage", "methods",
                "sources"] if c.has_data else [
        "coverage", "methods", "sources"]
    out.append('<nav class="toc">' + "".join(f'<a href="#{k}">{k.capitalize()}</a>' for k in sections) + "</nav>")
    return "\n".join(out)


def _sources(c: ReportContent) -> str:
    s = c.sources
    span = f"{s.first_ts:%d %b %Y %H:%M} – {s.last_ts:%d %b %Y %H:%M}" if s.first_ts and s.last_ts else "none"
    rows = [["Cameras", f"{s.cameras}"], ["Clips", format_count(s.clips)], ["Sampled frames", format_count(s.frames)],
            ["Length of footage", format_hours(s.hours)], ["Synthetic share", s.synthetic_text or "no clips"],
            ["Footage from", span]]
    models = [[_e(m.name), f'<span class="mono">{_e(m.weights_sha256)}</span>', _e(m.code_version), _e(m.sampling),
               _e(m.smoothing), _e(m.class_set), f"{m.clips:,}"] for m in c.models]
    if not models:
        models = [["(none: no frames in this period)", "", "", "", "", "", ""]]
    return ("<h2 id=\"sources\">Appendix: data sources</h2>" + _table(["What", "Count"], rows, num_cols=[1])
            + "<h3>Models</h3>"
            + _table(["Model", "Weights SHA-256", "Code", "Sampling", "Smoothing", "Class set", "Clips"], models, num_cols=[6],
                     raw=True))


def _summary(c: ReportContent) -> str:
    out = ['<h2 id="summary">Summary</h2>']
    if c.key_points:
        out += ["<h3>Key points</h3>", _ul(c.key_points)]
    header = ["Indicator", "Value", "95% interval"] + ([] if c.is_city else ["City average"]) + (
        [format_previous(c.days).replace("the previous", "Previous")] if c.has_previous else []) + ["Frames"]
    rows = []
    for ln in c.summary:
        row = [ln.label + (" †" if ln.heuristic else ""), ln.value_text, ln.interval_text or "–"]
        if not c.is_city:
            row.append(format_value(ln.name, ln.city))
        if c.has_previous:
            row.append(format_value(ln.name, ln.previous) if not math.isnan(ln.previous) else "no data")
        row.append(format_count(ln.n_frames))
        rows.append(row)
    out.append(_table(header, rows, num_cols=list(range(1, len(header)))))
    note = "" if c.has_previous else f" Compared with: {c.comparison_text}, so no change over time is given."
    out.append(f'<p class="caption">† heuristic indicator (see caveats). Intervals: 95%, clips as the sampling unit '
               f"(methods appendix).{_e(note)}</p>")
    if c.adjustment_note:
        out.append(f'<p class="caption">{_e(c.adjustment_note)}</p>')
    if c.low_trust_note:
        out.append(f'<p class="caption">{_e(c.low_trust_note)}.</p>')
    out += ["<h3>In plain words</h3>", _ul([ln.text for ln in c.summary])]
    return "\n".join(out)


def _map(c: ReportContent) -> str:
    label = INDICATORS[c.main_indicator].label
    what = "the districts" if c.is_city else f"{c.area_name} (outlined) and its neighbours (grey)"
    return (f'<h2 id="map">Map: {_e(label)} by camera</h2>{_map_html(map_figure(c), figures.map_layers(c).extent.ratio)}'
            f'<p class="caption">Map of {_e(what)}. Fill and camera colour: {_e(label.lower())} over the period; number: '
            "the camera's rank in the table below; red ring: road-damage finding. Hover for values. Drawn offline from the "
            "district polygons (no base map).</p>")


def _patterns(c: ReportContent) -> str:
    return (
        '<h2 id="patterns">Patterns of pedestrian use and congestion</h2><h3>By hour of day</h3>'
        f'<div class="chart">{_fig_html(pattern_figure(c.hourly, "hour"), "ul-hourly")}</div>'
        '<p class="caption">Values over all days of the period; shaded band: 95% interval; hours without enough footage are '
        "left out. Bars: congestion level of each hour (methods appendix).</p>"
        f'<h3>{day_heading(c)}</h3><div class="chart">{_fig_html(pattern_figure(c.daily, "day"), "ul-daily")}</div>'
        f'<p class="caption">{_e(day_caption(c))}</p>'
    )


def _cameras(c: ReportContent) -> str:
    out = ['<h2 id="cameras">Cameras, ranked</h2>']
    if c.cameras.empty:
        return out[0] + "<p>No camera recorded footage in this area and period.</p>"
    cols = camera_columns(c.main_indicator, c.cameras)
    header = ["#", "Camera", "Frames", *[SHORT_LABELS.get(n, INDICATORS[n].label) for n in cols], "Congestion"]
    rows = []
    for r in c.cameras.to_dict("records"):
        name = str(r["name"]) + (" (mobile)" if r.get("kind") == "mobile" else "")
        vals = [format_cell(n, r[n]) + (" (counted)" if n == "people_per_hour" and r.get("people_per_hour_basis") == "counted" else "")
                for n in cols]
        rows.append([str(r["rank"] or "–"), name, format_count(r["n_frames"]), *vals, str(r.get("congestion_level") or "")])
    out.append(_table(header, rows, num_cols=list(range(2, 3 + len(cols)))))
    out.append(f'<p class="caption">Ranked by {_e(INDICATORS[c.main_indicator].label.lower())}, highest first. '
               f"'–': fewer than {format_counted(c.min_frames, 'frame')} (not enough data).</p>")
    if c.accuracy:
        out += ['<h3 id="accuracy">Accuracy of each camera</h3>',
                _table(["Camera", "Accuracy"], [[a.camera_name, a.text] for a in c.accuracy])]
    return "\n".join(out)


def _counts(c: ReportContent) -> str:
    """The counts section: one row per counting camera (nothing where no camera counts)."""
    if not c.counts:
        return ""
    return "\n".join(['<h2 id="counts">Counts</h2>', _table(list(COUNTS_HEADER), [list(r) for r in c.counts], num_cols=[1, 2, 3, 4, 5]),
                      f'<p class="caption">{_e(COUNTS_TEXT)}</p>'])


def _damage(c: ReportContent) -> str:
    out = ['<h2 id="damage">Road damage findings</h2>']
    if not c.damage:
        return out[0] + f"<p>{_e(c.damage_note or 'No road damage findings.')}</p>"
    rows = [[f.camera_name, format_lonlat(f.lon, f.lat), format_value("damage_ratio", f.damage_ratio), format_value("distress_share", f.distress_share),
             f"{f.worst_ts:%d %b %Y %H:%M}" if f.worst_ts else "–", format_count(f.n_frames)] for f in c.damage]
    out.append(_table(["Camera", "Location", "Damage (model)", "Distress †", "Most damaged frame", "Frames"], rows,
                      num_cols=[2, 3, 5]))
    out.append(_ul([f.text for f in c.damage]))
    for f in c.damage:
        if f.previews:
            figs = "".join(f'<figure><img alt="{_e(p.caption)}" src="{_data_uri(p.mime, p.data)}">'
                           f'<figcaption class="caption">{_e(p.caption)}</figcaption></figure>' for p in f.previews)
            out.append(f"<h3>{_e(f.camera_name)}: anonymised previews</h3><div class=\"previews\">{figs}</div>")
    if c.damage_note:
        out.append(f'<p class="caption">{_e(c.damage_note)}</p>')
    return "\n".join(out)


def _coverage(c: ReportContent) -> str:
    out = ['<h2 id="coverage">Data coverage and caveats</h2>']
    if c.coverage:
        out += ["<h3>Coverage</h3>", _ul(c.coverage)]
    out += ["<h3>Caveats</h3>", _ul(c.caveats)]
    return "\n".join(out)


def _methods(c: ReportContent) -> str:
    m = c.methods
    by_name = m.indicators.set_index("name")
    order = [*HEADLINE, *[n for n in m.indicators["name"] if n not in HEADLINE]]
    rows = [[str(by_name.loc[n, "label"]) + (" †" if by_name.loc[n, "heuristic"] else ""), str(by_name.loc[n, "formula"]),
             str(by_name.loc[n, "source"])] for n in order]
    groups = [[str(r["label"]), str(r["classes"])] for r in m.groups.to_dict("records")]
    return "\n".join([
        '<h2 id="methods">Methods appendix</h2><h3>Indicators</h3>',
        _table(["Indicator", "Formula", "Source"], rows),
        '<p class="caption">Shares are computed over valid pixels: void / unlabelled pixels never enter a denominator.</p>',
        "<h3>Class groups</h3>", _table(["Group", "Model classes that feed it"], groups),
        "<h3>Sampling</h3>",
        f"<p>Frames are sampled from each clip at {_e(', '.join(m.sampling))} (temporal smoothing: {_e(', '.join(m.smoothing))}); "
        "each sampled frame becomes one row of measurements. Pixels and images never reach the database, only numbers (and "
        "small anonymised previews when asked for).</p>",
        "<h3>How the intervals are computed</h3>", f"<p>{_e(m.intervals)}</p>",
        "<h3>Thresholds and heuristics</h3>", _ul(m.thresholds),
        "<h3>Known weaknesses of the model</h3>", _ul(m.weaknesses),
        *(["<h3>Glossary</h3>", _ul(m.glossary)] if m.glossary else []),
    ])


def render_html(content: ReportContent) -> str:
    """The report as one HTML document (a string of a few MB: the plotly.js bundle is inline)."""
    c = content
    parts = [_header(c)]
    if c.has_data:  # without footage there is nothing to summarise: the box under the title says so
        parts += [_summary(c), _map(c), _patterns(c), _cameras(c), _counts(c), _damage(c)]
    parts += [_coverage(c), _methods(c), _sources(c)]  # summary first; sources and model hashes in the appendix
    title = f"{c.title}, {c.period_text}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="UrbanLens {_e(c.version)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script id="{PLOTLY_BUNDLE_ID}" type="text/javascript">{get_plotlyjs()}</script>\n'
        "</head>\n<body>\n<main>\n" + "\n".join(parts)
        + f"\n<footer>UrbanLens {_e(c.version)} · {_e(c.title)} · {_e(c.period_text)} · generated "
        f"{c.generated_at:%d %b %Y %H:%M}. This file is self-contained: it loads nothing from the network.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def write_html(content: ReportContent, path: str | Path) -> Path:
    """Write the HTML report to ``path`` (folders are created); returns the path."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(render_html(content), encoding="utf-8")
    tmp.replace(p)
    return p
