"""City overview: KPI tiles against the previous period, a district / H3 map, click for detail."""

from __future__ import annotations

import streamlit as st

from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.formatting import (
    MISSING_TEXT,
    display_scale,
    format_cell,
    format_count,
    format_interval,
    format_period,
    format_previous,
    format_value,
)
from analytics.indicators import HEADLINE, INDICATORS
from analytics.periods import period_days
from analytics.visual import charts, maps
from dashboard import ui

st.title("City overview")
path = ui.db_path()
settings = ui.settings()
stats = ui.stats(path)
start, end = ui.period()
if not stats["frames"]:
    ui.empty_state("**No measurements yet.** The overview fills in as soon as the database holds analysed clips.")
    st.stop()
ui.synthetic_banner()
ui.low_trust_caption(start, end)
period = format_period(start, end)

# -- KPI tiles ------------------------------------------------------------------------------------
KPI_LABELS = {"green_view": "Green view", "sky_view": "Sky view", "pedestrian_share": "Pedestrians",
              "people_per_frame": "People/frame", "road_occupancy": "Road occupancy", "distress_share": "Road distress"}
KPI_NAMES = tuple(n for n in KPI_LABELS if n in INDICATORS)
kpi = ui.kpis(path, KPI_NAMES, start, end, settings.min_frames)
against = format_previous(period_days(start, end)) if start and end else "the previous period"
st.markdown(f"##### The city, {period} · change against {against}")
cols = st.columns(len(kpi))
for col, r in zip(cols, kpi.itertuples(index=False)):
    with col.container(border=True):
        st.metric(
            KPI_LABELS[r.indicator], format_cell(r.indicator, r.value, MISSING_TEXT),
            delta=r.change_text, delta_color="off",
            help=f"{charts.indicator_title(r.indicator)}: {INDICATORS[r.indicator].formula}. {format_count(r.n_frames)} frames in "
            f"{period}; previous period {format_value(r.indicator, r.previous)} from {format_count(r.previous_n_frames)} frames. "
            f"95% CI {format_interval(r.indicator, r.ci_low, r.ci_high, r.value) or 'none'}.",
        )
        st.caption(f"n = {format_count(r.n_frames)} frames" + (" · :orange-badge[heuristic]" if r.heuristic else ""))

# -- map ------------------------------------------------------------------------------------------
left, right = st.columns([3, 1], gap="large")
with right:
    name = ui.indicator_picker(default="green_view", key="overview_indicator", names=charts.headline_names())
    kind = st.radio("Areas", ["district", "h3"], format_func=lambda k: "Districts" if k == "district" else "H3 cells",
                    horizontal=True, key="overview_areas")
    res = 8
    if kind == "h3":
        res = int(st.select_slider("H3 resolution", options=[7, 8, 9], value=8, key="overview_h3res",
                                   help="7 ≈ 5 km², 8 ≈ 0.7 km², 9 ≈ 0.1 km² per cell"))
    ui.indicator_caption(name)

values = ui.indicators(path, (kind,), (name,), start, end, h3_resolution=res, min_frames=settings.min_frames)
cam_values = ui.indicators(path, ("camera",), (name,), start, end, min_frames=settings.min_frames)
cams = ui.cameras(path).merge(
    cam_values[["camera", "value", "n_frames"]].rename(columns={"camera": "camera_id"}), on="camera_id", how="left"
)
cams["n_frames"] = cams["n_frames"].fillna(0)
areas = maps.district_areas(ui.districts(path)) if kind == "district" else maps.h3_areas(values)
if kind == "district" and values[kind].eq("(outside districts)").any() and areas.empty:
    st.caption("No districts imported: import a GeoJSON on the Data page to see a choropleth.")
polys = maps.polygons_frame(areas, values, kind, name)
fig = maps.choropleth(polys, cams, name, period, kind=kind, tile_url=settings.tile_url, min_frames=settings.min_frames)
with left:
    event = st.plotly_chart(fig, key="overview_map", on_select="rerun", selection_mode=("points",),
                            config={"displaylogo": False, "scrollZoom": True})
    st.caption(f"Colour: {charts.indicator_title(name)}, {period}. Grey hatched: {MISSING_TEXT} "
               f"(fewer than {settings.min_frames} frames). Click a district or a camera for its detail.")

picked = None
points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else getattr(
    getattr(event, "selection", None), "points", []
)
for p in points or []:
    cd = p.get("customdata")
    if isinstance(cd, list):
        cd = cd[0] if cd else None
    if isinstance(cd, str) and ":" in cd:
        picked = cd
        break
if picked and picked.startswith("camera:"):
    st.session_state["camera_id"] = picked.split(":", 1)[1]
    st.switch_page("views/camera.py")

# -- detail / table ------------------------------------------------------------------------------
with right:
    if picked and picked.startswith(f"{kind}:"):
        area_id = picked.split(":", 1)[1]
        row = polys[polys["id"] == area_id]
        if not row.empty:
            r = row.iloc[0]
            with st.container(border=True):
                st.markdown(f"**{r['name']}**")
                st.metric(charts.indicator_title(name), r["text"])
                st.caption(f"{format_count(r['n_frames'])} frames · {format_count(r['n_clips'])} clips · {period}")
                if kind == "district":
                    in_area = cams[cams["district_id"] == area_id]
                    adjusted = ui.adjusted_toggle("overview_adjusted")
                    fetch = ui.adjusted if adjusted else ui.indicators
                    detail = fetch(path, ("district",), tuple(HEADLINE), start, end, districts=(area_id,),
                                   min_frames=settings.min_frames)
                    for d in detail.itertuples(index=False):
                        st.markdown(f"- {INDICATORS[d.indicator].label}: **{format_value(d.indicator, d.value)}** "
                                    f"(n = {format_count(d.n_frames)})")
                    if adjusted:
                        st.caption(adjustment_summary(detail))
                    accuracy = accuracy_table(ui.camera_evaluations(path, name), name)
                    accuracy = accuracy[accuracy["camera_id"].isin(in_area["camera_id"].astype(str))]
                    with st.expander(f"Accuracy of the {len(accuracy)} cameras here"):
                        for a in accuracy.itertuples(index=False):
                            st.markdown(f"- **{a.camera}**: {a.accuracy}")
                    cam_pick = st.selectbox("Open a camera", in_area["camera_id"], format_func=lambda c: ui.labels(path).get(c, c),
                                            index=None, key="overview_district_camera")
                    if cam_pick:
                        st.session_state["camera_id"] = cam_pick
                        st.switch_page("views/camera.py")
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
        column_config={
            "id": "id", "name": "area",
            "value": st.column_config.NumberColumn(INDICATORS[name].unit, format="%.2f"),
            "ci_low": st.column_config.NumberColumn("95% CI low", format="%.2f"),
            "ci_high": st.column_config.NumberColumn("95% CI high", format="%.2f"),
            "n_frames": st.column_config.NumberColumn("frames", format="%d"),
            "n_clips": st.column_config.NumberColumn("clips", format="%d"),
        },
    )
    ui.downloads(table, f"urbanlens_{name}_{kind}", key="overview_dl")
