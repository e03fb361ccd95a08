"""Explore indicators: time series with bands, hour × weekday, ranked comparison, distributions."""

from __future__ import annotations

import streamlit as st

from analytics import links
from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.formatting import MISSING_TEXT, escape_markdown, format_period
from analytics.indicators import INDICATORS
from analytics.visual import charts
from dashboard import ui
from dashboard.ui.data import show_glossary, table_columns

__all__: list[str] = []  # a page: it lays out widgets and exports nothing

st.title("Explore indicators")
path = ui.db_path()
settings = ui.settings()
start, end = ui.period()
if not ui.stats(path)["frames"]:
    ui.empty_state("**No measurements yet.** Charts appear here once clips are analysed.")
    st.stop()
ui.synthetic_banner()
ui.low_trust_caption(ui.selection())
period = format_period(start, end)
labels = ui.labels(path)

c1, c2, c3 = st.columns([2, 1, 2])
with c1:
    name = ui.indicator_picker(default="green_view", key="explore_indicator")
with c2:
    key = str(ui.linked("explore_by", "by", lambda t: links.parse_choice("by", t, ["district", "camera"]), lambda: st.radio(
        "Compare by", ["district", "camera"], horizontal=True, key="explore_by", format_func=lambda k: k.capitalize())))
adjusted = ui.adjusted_toggle("explore_adjusted")
fetch = ui.adjusted if adjusted else ui.indicators
ranked = fetch(path, ui.selection(), (key,), (name,))
options = ranked.sort_values("n_frames", ascending=False)[key].astype(str).tolist()
with c3:
    chosen = ui.linked(f"explore_pick_{key}", key, lambda t: links.parse_choices(key, t, options), lambda: st.multiselect(
        f"{key.capitalize()}s on the time line", options, default=options[: min(5, len(options))],
        format_func=lambda v: labels.get(v, v), key=f"explore_pick_{key}",
    ), list, many=True)
    ui.to_link("explore_pick_other", "camera" if key == "district" else "district", None)
ui.indicator_caption(name)
if adjusted:
    st.caption(escape_markdown(adjustment_summary(ranked)) + " Charts and tables show adjusted values where an evaluation applies.")
accuracy = accuracy_table(ui.camera_evaluations(path, name), name)
with st.expander(f"Accuracy of each camera ({(accuracy['source'] != 'none').sum()} of {len(accuracy)} with an evaluation)"):
    st.dataframe(accuracy[["camera", "source", "accuracy"]], hide_index=True, width="stretch",
                 column_config={"source": "evaluation", "accuracy": st.column_config.TextColumn("accuracy", width="large")})

tab_ts, tab_heat, tab_rank, tab_dist = st.tabs(["Time series", "Hour × weekday", "Comparison", "Distribution"])

with tab_ts:
    step = ui.linked("explore_step", "step", lambda t: links.parse_choice("step", t, ["day", "hour"]), lambda: st.radio(
        "Time step", ["day", "hour"], horizontal=True, key="explore_step",
        format_func=lambda s: "by day" if s == "day" else "by hour of day (all days pooled)"))
    if chosen:
        flt = {"districts": tuple(chosen)} if key == "district" else {"cameras": tuple(chosen)}
        ts = fetch(path, ui.selection(**flt), (key, step), (name,))
    else:
        ts = fetch(path, ui.selection(), ("city", step), (name,))
    series_key = key if chosen else "city"
    st.plotly_chart(charts.timeseries_figure(ts, series_key, name, period, labels=labels, time_key=step), key="explore_ts",
                    config={"displaylogo": False})
    st.caption("Line: value; band: its 95% range (from how much the clips disagree). Gaps: "
               f"{MISSING_TEXT} (fewer than {settings.min_frames} frames).")
    table = charts.readable_table(ts, [series_key, step], labels)
    with st.expander("Table behind this chart"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=table_columns(table, name))
        ui.downloads(table, f"urbanlens_{name}_{key}_{step}", key="dl_ts")

with tab_heat:
    flt2 = ({"districts": tuple(chosen)} if key == "district" else {"cameras": tuple(chosen)}) if chosen else {}
    scope = ", ".join(labels.get(c, c) for c in chosen) if chosen else "whole city"
    heat = fetch(path, ui.selection(**flt2), ("hour", "weekday"), (name,))
    st.plotly_chart(charts.heatmap_figure(heat, name, period), key="explore_heat", config={"displaylogo": False})
    st.caption(f"Scope: {escape_markdown(scope)}.")
    table = charts.readable_table(heat, ["weekday", "hour"])
    with st.expander("Table behind this chart"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=table_columns(table, name))
        ui.downloads(table, f"urbanlens_{name}_hour_weekday", key="dl_heat")

with tab_rank:
    st.plotly_chart(charts.ranked_bars_figure(ranked, key, name, period, labels=labels), key="explore_rank",
                    config={"displaylogo": False})
    table = charts.readable_table(ranked, [key], labels)
    with st.expander("Table behind this chart"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=table_columns(table, name))
        ui.downloads(table, f"urbanlens_{name}_by_{key}", key="dl_rank")

with tab_dist:
    per_day = fetch(path, ui.selection(min_frames=max(1, settings.min_frames // 3)), ("camera", "day"), (name,))
    cams = ui.cameras(path)[["camera_id", "district_id"]]
    per_day = per_day.merge(cams.rename(columns={"camera_id": "camera"}), on="camera", how="left")
    per_day["district"] = per_day["district_id"].fillna("(outside districts)")
    st.plotly_chart(charts.distribution_figure(per_day, "district", name, period, labels=labels), key="explore_dist",
                    config={"displaylogo": False})
    st.caption(f"Each point is one camera on one day (at least {max(1, settings.min_frames // 3)} frames); boxes group them by "
               "district.")
    table = charts.readable_table(per_day.drop(columns=["district_id"]), ["district", "camera", "day"], labels)
    with st.expander("Table behind this chart"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=table_columns(table, name))
        ui.downloads(table, f"urbanlens_{name}_camera_day", key="dl_dist")

if INDICATORS[name].heuristic:
    st.caption(":orange-badge[heuristic] This indicator is an image heuristic; compare places and times, not absolute values.")

show_glossary(("95% range (interval)", "clips as clusters", "valid pixels", "Olofsson et al. 2014", "low trust"),
              levels=("congestion",) if name == "congestion" else ())
