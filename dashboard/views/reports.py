"""Reports: pick an area and a period, preview the report, download it as PDF and as self-contained HTML.

Only widgets here: the report itself is :mod:`analytics.reports` (the same one `urbanlens report` writes).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from analytics import links
from analytics.errors import UrbanLensError
from analytics.formatting import escape_markdown, format_period
from analytics.indicators import HEADLINE, INDICATORS
from analytics.reports import build_report
from analytics.reports.html import render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from dashboard import ui

__all__: list[str] = []  # a page: it lays out widgets and exports nothing

CITY = "__city__"


@st.cache_data(ttl=ui.TTL, show_spinner=False, max_entries=8)
def _build(path: str, version: tuple[int, ...], area: str | None, start: date, end: date, main: str) -> dict[str, Any]:
    """What the page shows and offers for download, as plain values (st.cache_data pickles them);
    ``version`` (:func:`ui.data_version`) makes a new report once the data has changed."""
    with ui.store().reading() as store:  # one read-only connection for the report's queries
        selection = Selection(start=start, end=end, min_frames=ui.settings().min_frames)
        content = build_report(store, selection, area, main_indicator=main)
    return {
        "title": content.title, "period": content.period_text, "has_data": content.has_data,
        "no_data_reason": content.no_data_reason, "key_points": tuple(content.key_points),
        "sentences": tuple(ln.text for ln in content.summary), "caveats": tuple(content.caveats),
        "pdf": render_pdf(content), "html": render_html(content),
    }


def _file_stem(area: str | None, start: date, end: date) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (area or "city").lower()).strip("-") or "area"
    return f"urbanlens-report-{slug}-{start:%Y%m%d}-{end:%Y%m%d}"


st.title("Reports")
st.caption("A report for officials on one district or the whole city over the sidebar's period: summary in plain words, map, "
           "patterns, ranked cameras, road damage, coverage and caveats, and a methods appendix.")
path = ui.db_path()
try:
    stats = ui.stats(path)
    districts = ui.districts(path)
    first, last = ui.period_bounds(path)
except UrbanLensError as exc:
    ui.show_error(exc)
    st.stop()
if not stats["frames"] or first is None or last is None:
    ui.empty_state("**No measurements yet.** Reports need analysed clips.")
    st.stop()
ui.synthetic_banner()

start, end = ui.period()  # the sidebar's period: the report follows it like every page
if start is None or end is None:
    start, end = first, last
options = [CITY, *districts["district_id"].tolist()]
names = {CITY: "Whole city", **dict(zip(districts["district_id"], districts["name"]))}
c1, c2 = st.columns([2, 2])
area_key = ui.linked("report_area", "district", lambda t: links.parse_choice("district", t, options[1:]), lambda: c1.selectbox(
    "Area", options, format_func=lambda k: names.get(k, k), key="report_area"), lambda k: None if k == CITY else str(k))
main = ui.linked("report_indicator", "indicator", lambda t: links.parse_choice("indicator", t, list(HEADLINE)), lambda: c2.selectbox(
    "Main indicator (map and ranking)", list(HEADLINE), index=0, key="report_indicator", format_func=lambda n: INDICATORS[n].short_label))
st.caption(f"Period: {format_period(start, end, days=True)}, as chosen in the sidebar (pick *Custom* there for other dates).")
area = None if area_key == CITY else str(area_key)

try:
    with st.spinner("Building the report…"):
        built = _build(path, ui.data_version(path), area, start, end, str(main))
except UrbanLensError as exc:
    ui.show_error(exc)
    st.stop()

stem = _file_stem(area, start, end)
d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("Download PDF", built['pdf'], f"{stem}.pdf", "application/pdf", key="report_pdf", icon=":material/picture_as_pdf:",
                   type="primary")
d2.download_button("Download HTML", built['html'].encode("utf-8"), f"{stem}.html", "text/html", key="report_html",
                   icon=":material/html:")
st.caption(f"PDF {len(built['pdf']) / 1e6:.1f} MB (A4) · HTML {len(built['html']) / 1e6:.1f} MB, self-contained: opens offline and "
           "loads nothing from the network.")

# the report's text names districts and cameras as their owners typed them: shown as written, never as Markdown
st.subheader(f"{escape_markdown(built['title'])} · {escape_markdown(built['period'])}")
if not built['has_data']:
    st.warning(escape_markdown(built['no_data_reason']), icon=":material/warning:")
tab_summary, tab_preview = st.tabs(["Summary", "Full preview"])
with tab_summary:
    if built['key_points']:
        st.markdown("##### Key points")
        st.markdown("\n".join(f"- {escape_markdown(p)}" for p in built['key_points']))
    st.markdown("##### In plain words")
    st.markdown("\n".join(f"- {escape_markdown(s)}" for s in built['sentences']))
    st.markdown("##### Caveats")
    st.markdown("\n".join(f"- {escape_markdown(c)}" for c in built['caveats']))
with tab_preview:
    # the HTML report carries plotly.js inline (about 5 MB): send it to the browser only when asked for
    if st.toggle("Show the full report (interactive HTML)", value=False, key="report_preview"):
        components.html(built['html'], height=900, scrolling=True)
    else:
        st.caption("The full preview is the HTML report itself, with its interactive map and charts.")
