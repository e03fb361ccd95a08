"""UrbanLens dashboard entry: ``streamlit run dashboard/app.py`` (or ``urbanlens dashboard``)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

__all__: list[str] = []

try:
    from dashboard import ui
except ImportError:  # run from a checkout without installing: put the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dashboard import ui

from analytics.errors import UrbanLensError

HERE = Path(__file__).resolve().parent

# The browser-tab icon ships with the app (drawn by scripts/make_icon.py), so no page loads it from the internet.
ICON = HERE / "static" / "icon.png"

st.set_page_config(page_title="UrbanLens", page_icon=str(ICON) if ICON.is_file() else None, layout="wide")

PAGES = [
    st.Page(HERE / "views" / "overview.py", title="City overview", icon=":material/map:", default=True),
    st.Page(HERE / "views" / "explore.py", title="Explore indicators", icon=":material/query_stats:", url_path="explore"),
    st.Page(HERE / "views" / "camera.py", title="Camera", icon=":material/videocam:", url_path="camera"),
    st.Page(HERE / "views" / "reports.py", title="Reports", icon=":material/description:", url_path="reports"),
    st.Page(HERE / "views" / "analyse.py", title="Analyse footage", icon=":material/upload_file:", url_path="analyse"),
    st.Page(HERE / "views" / "data.py", title="Data", icon=":material/database:", url_path="data"),
]

# Metric tiles show whole values ("not enough data", "moderate") on narrow tiles: the text wraps and
# shrinks with the window instead of ending in "…"; plotly charts never get wider than their column.
TILE_CSS = """<style>
[data-testid="stMetricValue"] { font-size: clamp(1.35rem, 2.1vw, 2.25rem); }
[data-testid="stMetricValue"] div, [data-testid="stMetricValue"] p, [data-testid="stMetricLabel"] div, [data-testid="stMetricLabel"] p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; overflow-wrap: anywhere; }
[data-testid="stPlotlyChart"] { max-width: 100%; }
</style>"""

page = st.navigation(PAGES)
st.html(TILE_CSS)
with st.sidebar:
    st.markdown("### :material/location_city: UrbanLens")
    st.caption("Street-level video → city indicators")
try:
    ui.sidebar_database()
    ui.sidebar_period()
    ui.sidebar_trust()
    ui.sidebar_footer()
except UrbanLensError as exc:
    ui.show_error(exc)
    st.stop()
page.run()
