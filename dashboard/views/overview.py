"""City overview: KPI tiles against the previous period, a district / H3 map, click for detail."""

from __future__ import annotations

import streamlit as st

from analytics import links
from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.formatting import (
    MISSING_TEXT,
    display_scale,
    escape_markdown,
    format_cell,
    format_comparison,
    format_count,
    format_counted,
    format_interval,
    format_period,
    format_value,
    levels_note,
    rounds_to_zero,
)
from analytics.indicators import HEADLINE, INDICATORS
from analytics.pages import live
from analytics.periods import comparison_window, period_days
from analytics.visual import charts, maps
from analytics.visual.clicks import clicked_point
from analytics.visual.layers import DIRECTION_TEXT, stale_layer
from dashboard import ui
from dashboard.ui.data import show_glossary, table_columns

__all__: list[str] = []  # a page: it lays out widgets and exports nothing

st.title("City overview")
path = ui.db_path()
settings = ui.settings()
stats = ui.stats(path)
start, end = ui.period()
# -- live cameras: health of the cameras `urbanlens watch` follows (shown only where some are watched) ----------
health = live.current_health(ui.store_at(path), settings.timezone)
if not health.empty:
    with st.container(border=True, key="overview_live"):
        st.markdown(f"##### Live cameras · {escape_markdown(live.health_summary(health))}")
        if live.stale_ids(health):
            st.markdown(":red-badge[stale] " + escape_markdown(", ".join(live.stale_ids(health)))
                        + f" · no frame for over {live.DEFAULT_STALE_MINUTES:g} minutes: check the stream, the camera or its worker.")
        st.dataframe(live.health_table(health, settings.timezone), hide_index=True, width="stretch", key="overview_live_table")
        st.caption(f"Last frame in local time ({escape_markdown(settings.timezone)}); lag: seconds from capture to store. "
                   "The same table on the command line: `urbanlens health` (exit code 1 when a camera is stale).")
# -- end of live cameras ---------------------------------------------------------------------------------------
if not stats["frames"]:
    ui.empty_state("**No measurements yet.** The overview fills in as soon as the database holds analysed clips.")
    st.stop()
ui.synthetic_banner()
ui.low_trust_caption(ui.selection())
period = format_period(start, end)

# -- KPI tiles ------------------------------------------------------------------------------------
KPI_NAMES = tuple(n for n in ("green_view", "pedestrian_share", "people_per_hour", "congestion", "distress_share")
                  if n in INDICATORS)
kpi = ui.kpis(path, KPI_NAMES, ui.selection())
window = comparison_window(start, end, ui.period_bounds(path)[0])  # none over 90 days or before the data
against = format_comparison(window, period_days(start, end) if start and end else 0)
st.markdown(f"##### The city, {period} · change against {against}")
cols = st.columns(len(kpi))
for col, r in zip(cols, kpi.itertuples(index=False)):
    with col.container(border=True):
        st.metric(
            INDICATORS[r.indicator].short_label,
            INDICATORS[r.indicator].level_name(r.value) or format_cell(r.indicator, r.value, MISSING_TEXT),  # a level: its name
            delta=r.change_text if window else None, delta_color="off",
            delta_arrow="off" if r.change_text is None or rounds_to_zero(r.indicator, r.change) else "auto",
            help=f"{charts.indicator_title(r.indicator)}: {format_value(r.indicator, r.value)} = {INDICATORS[r.indicator].formula}. "
            f"{format_count(r.n_frames)} frames in "
            f"{period}; previous period {format_value(r.indicator, r.previous)} from {format_count(r.previous_n_frames)} frames. "
            f"95% range {format_interval(r.indicator, r.ci_low, r.ci_high, r.value) or 'none'}. {levels_note(r.indicator)}",
        )
        st.caption(f"n = {format_count(r.n_frames)} frames" + (" · :orange-badge[heuristic]" if r.heuristic else ""))

# -- map ------------------------------------------------------------------------------------------
left, right = st.columns([3, 1], gap="large")
with right:
    name = ui.indicator_picker(default="green_view", key="overview_indicator", names=charts.headline_names())
    kind = ui.linked("overview_areas", "areas", lambda t: links.parse_choice("areas", t, ["district", "h3"]), lambda: st.radio(
        "Areas", ["district", "h3"], format_func=lambda k: "Districts" if k == "district" else "H3 cells", horizontal=True,
        key="overview_areas"))
    res = 8
    if kind == "h3":
        res = int(ui.linked("overview_h3res", "h3res", lambda t: int(links.parse_choice("h3res", t, ["7", "8", "9"])),
                            lambda: st.select_slider("H3 resolution", options=[7, 8, 9], value=8, key="overview_h3res",
                                                     help="7 ≈ 5 km², 8 ≈ 0.7 km², 9 ≈ 0.1 km² per cell")))
    ui.indicator_caption(name)

values = ui.indicators(path, ui.selection(), (kind,), (name,), h3_resolution=res)
cam_values = ui.indicators(path, ui.selection(), ("camera",), (name,))
cams = ui.cameras(path).merge(
    cam_values[["camera", "value", "n_frames"]].rename(columns={"camera": "camera_id"}), on="camera_id", how="left"
)
cams["n_frames"] = cams["n_frames"].fillna(0)
districts = ui.districts(path)
district_shapes = maps.district_areas(districts)
areas = district_shapes if kind == "district" else maps.h3_areas(values, districts)
if kind == "district" and values[kind].eq("(outside districts)").any() and areas.empty:
    st.caption("No districts imported: import a GeoJSON on the Data page to see a choropleth.")
polys = maps.polygons_frame(areas, values, kind, name)

# the map's selection (clicked in the previous run) decides the outlined area before the map is drawn
clicked = clicked_point(st.session_state.get("overview_map"), needs=("tag",))  # a "kind:id" area or camera
picked = str(clicked.customdata) if clicked is not None else None
if picked and picked.startswith("camera:"):
    ui.open_camera(picked.split(":", 1)[1])

area_param, other_param = ("district", "cell") if kind == "district" else ("cell", "district")
area_id = ui.linked_selection(f"overview_{area_param}", area_param, picked.split(":", 1)[1] if picked and picked.startswith(f"{kind}:")
                              else None, polys["id"].astype(str).tolist())
ui.to_link(f"overview_{other_param}", other_param, None)
fig = maps.choropleth(polys, cams, name, period, kind=kind, tile_url=settings.tile_url, min_frames=settings.min_frames,
                      selected=area_id, outlines=district_shapes if kind == "h3" else None)
# -- counts: counting cameras as squares sized by crossings per hour ------------------------------------
count_rows = maps.count_symbol_rows(ui.count_summary(path, ui.selection()), ui.cameras(path))
maps.add_count_symbols(fig, count_rows, tiles=bool(settings.tile_url))
# -- end of counts ----------------------------------------------------------------------------------------
# -- live cameras: stale ones ringed in red on the map -----------------------------------------------------
stale_marks = stale_layer(live.stale_rows(health, ui.cameras(path), settings.timezone))
maps.add_stale_marks(fig, stale_marks, tiles=bool(settings.tile_url))
# -- end of live cameras on the map ------------------------------------------------------------------------
with left:
    st.plotly_chart(fig, key="overview_map", on_select="rerun", selection_mode=("points",),
                    config={"displaylogo": False, "scrollZoom": True})
    st.caption(f"Colour: {charts.indicator_title(name)}, {period} ({DIRECTION_TEXT[INDICATORS[name].better]}). Grey hatched: "
               f"{MISSING_TEXT} (fewer than {settings.min_frames} frames). Hover or click anywhere in a "
               f"{'district' if kind == 'district' else 'cell'} for its detail, or on a camera to open it."
               + (" Pink squares: cameras that count, sized by crossings per hour (people, cyclists and vehicles)."
                  if not count_rows.empty else ""))
if stale_marks:  # live cameras: what the red rings mean
    left.caption(f"Red rings: watched live cameras that are stale (no frame for over {live.DEFAULT_STALE_MINUTES:g} minutes); "
                 "hover for the last frame, reconnects and the last error.")
# -- detail / table ------------------------------------------------------------------------------
with right:
    if area_id:
        row = polys[polys["id"] == area_id]
        if not row.empty:
            r = row.iloc[0]
            with st.container(border=True):
                st.markdown(f"**{escape_markdown(r['name'])}**")
                st.metric(charts.indicator_title(name), r["text"])
                st.caption(f"{format_counted(r['n_frames'], 'frame')} · {format_counted(r['n_clips'], 'clip')} · {period}")
                st.button("Clear selection", key="overview_clear", icon=":material/close:",
                          on_click=ui.clear_selection, args=(f"overview_{area_param}",))
                if kind == "district":
                    in_area = cams[cams["district_id"] == area_id]
                    adjusted = ui.adjusted_toggle("overview_adjusted")
                    fetch = ui.adjusted if adjusted else ui.indicators
                    detail = fetch(path, ui.selection(districts=(area_id,)), ("district",), tuple(HEADLINE))
                    for d in detail.itertuples(index=False):
                        st.markdown(f"- {INDICATORS[d.indicator].label}: **{format_value(d.indicator, d.value)}** "
                                    f"(n = {format_count(d.n_frames)})")
                    if adjusted:
                        st.caption(escape_markdown(adjustment_summary(detail)))
                    accuracy = accuracy_table(ui.camera_evaluations(path, name), name)
                    accuracy = accuracy[accuracy["camera_id"].isin(in_area["camera_id"].astype(str))]
                    with st.expander(f"Accuracy of the {len(accuracy)} cameras here"):
                        for a in accuracy.itertuples(index=False):
                            st.markdown(f"- **{escape_markdown(a.camera)}**: {escape_markdown(a.accuracy)}")
                    cam_pick = st.selectbox("Open a camera", in_area["camera_id"], format_func=lambda c: ui.labels(path).get(c, c),
                                            index=None, key="overview_district_camera")
                    if cam_pick:
                        ui.open_camera(str(cam_pick))
    else:
        st.caption("Select a district on the map to see its headline indicators here.")

table = polys[["id", "name", "value", "ci_low", "ci_high", "n_frames", "n_clips", "enough"]].copy()
s = display_scale(name)
for col in ("value", "ci_low", "ci_high"):
    table[col] = table[col] * s
table["status"] = table["enough"].map({True: "ok", False: MISSING_TEXT})
table = table.drop(columns=["enough"]).sort_values("value", ascending=False, na_position="last")
with st.expander(f"Table: {charts.indicator_title(name)} by {'district' if kind == 'district' else 'H3 cell'}, {period}"):
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config=table_columns(table, name, id="id", name="area"),
    )
    ui.downloads(table, f"urbanlens_{name}_{kind}", key="overview_dl", indicator=name)

show_glossary(("valid pixels", "95% range (interval)", "low trust"), levels=("congestion",))
