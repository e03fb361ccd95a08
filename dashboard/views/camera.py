"""Camera: where it is, its zones, its indicators over time, class shares, clips and previews."""

from __future__ import annotations

import streamlit as st

from analytics import links
from analytics.errors import UrbanLensError
from analytics.evaluation.adjust import accuracy_table, adjustment_summary
from analytics.footage.countzones import merge_drawn, without_zone
from analytics.formatting import MISSING_TEXT, as_percent, escape_markdown, format_cell, format_count, format_period, format_value
from analytics.gpstrack import camera_zone
from analytics.indicators import INDICATORS
from analytics.pages import live
from analytics.visual import charts, linedraw, maps
from analytics.visual.drive import drive_figure
from dashboard import ui
from dashboard.ui.data import show_glossary, table_columns

__all__: list[str] = []  # a page: it lays out widgets and exports nothing

st.title("Camera")
path = ui.db_path()
settings = ui.settings()
start, end = ui.period()
cams = ui.cameras(path)
if cams.empty:
    ui.empty_state("**No cameras yet.**")
    st.stop()
period = format_period(start, end)
labels = ui.labels(path)

wanted = st.session_state.pop("camera_id", None)
ids = cams["camera_id"].astype(str).tolist()
ui.from_link("camera_pick", "camera", lambda t: links.parse_choice("camera", t, ids))
if wanted in ids:
    st.session_state["camera_pick"] = wanted
elif "camera_pick" not in st.session_state:  # start on a fixed camera with zones when there is one
    with_zones = set(ui.cameras_with_zones(path))
    fixed = [c for c in ids if c in with_zones] or cams.loc[cams["kind"] == "fixed", "camera_id"].astype(str).tolist() or ids
    st.session_state["camera_pick"] = fixed[0]
camera_id = str(st.selectbox("Camera", ids, key="camera_pick", format_func=lambda c: f"{labels.get(c, c)} ({c})"))
ui.to_link("camera_pick", "camera", camera_id)
cam = cams[cams["camera_id"] == camera_id].iloc[0].to_dict()
ui.synthetic_banner(cam.get("source") == "synthetic")
here = ui.selection(cameras=(camera_id,))  # the sidebar period at this camera
ui.low_trust_caption(here)
district = labels.get(str(cam.get("district_id")), "outside districts") if cam.get("district_id") else "outside districts"
badge = " :orange-badge[synthetic]" if cam.get("source") == "synthetic" else ""
st.markdown(
    f"### {escape_markdown(cam['name'])}{badge}\n{escape_markdown(cam['kind'])} camera · {escape_markdown(district)} · "
    f"{cam['lat']:.5f}, {cam['lon']:.5f}"
    + (f" · heading {cam['heading']:.0f}°" if cam.get("heading") == cam.get("heading") and cam.get("heading") is not None else "")
)

# -- live view: a watched camera's health, latest preview and last hour, refreshed without reloading the page ------
if live.camera_health(live.current_health(ui.store_at(path), settings.timezone), camera_id) is not None:

    @st.fragment(run_every=live.LIVE_REFRESH_S)
    def _live_view() -> None:
        row = live.camera_health(live.current_health(ui.store_at(path), settings.timezone), camera_id)
        if row is None:
            return
        recent, span = live.last_hour_selection(camera_id, live.local_now(cam, settings.timezone), settings.min_frames)
        with st.container(border=True, key="camera_live"):
            st.markdown(f"##### Live {live.STATUS_BADGES.get(row['status'], '')}")
            st.caption(escape_markdown(live.camera_health_line(row, camera_zone(cam, settings.timezone))))
            picture, numbers = st.columns([2, 3], gap="medium")
            shots = ui.camera_previews(path, camera_id)
            shots = shots[shots["kind"] == "frame"] if not shots.empty else shots
            if shots.empty:
                picture.caption("No preview stored yet: the first one comes with the first stored chunk.")
            else:
                picture.image(bytes(shots["image"].iloc[0]), caption=f"Latest preview · {escape_markdown(shots['label'].iloc[0])} "
                              "(people blurred)", width="stretch")
            values = ui.indicators(path, recent, ("camera",), live.LIVE_INDICATORS)
            shown = [(INDICATORS[r.indicator].short_label, format_cell(r.indicator, r.value if r.enough else None, MISSING_TEXT),
                      f"{format_count(r.n_frames)} frames") for r in values.itertuples(index=False)]
            counted = ui.count_summary(path, recent)
            shown += charts.count_tiles(counted.iloc[0])[:3] if not counted.empty else []
            for first in range(0, len(shown), 3):
                for col, (label, value, detail) in zip(numbers.columns(3), shown[first:first + 3], strict=False):
                    col.metric(label, value, help=detail)
            numbers.caption(f"Indicators and counts of {span} (local time), refreshed every {live.LIVE_REFRESH_S} s.")

    _live_view()
# -- end of live view ------------------------------------------------------------------------------------------------

clips = ui.camera_clips(path, camera_id, start, end)
previews = ui.camera_previews(path, camera_id)
zones = ui.zones(path, camera_id)

left, right = st.columns(2, gap="large")
with left:
    st.markdown("##### Location")
    track = None
    if cam.get("kind") == "mobile":
        track = ui.camera_track(path, camera_id, start, end)
    st.plotly_chart(maps.camera_location_figure(cam, ui.districts(path), track=track), key="camera_map",
                    config={"displaylogo": False})
    if track is not None:
        st.caption(f"Mobile camera: orange dots are where its frames were taken in {period}; blue is its registered position.")
with right:
    st.markdown("##### Zones")
    if zones.empty:
        st.caption("No zones drawn for this camera (zones feed 'pedestrians on sidewalks'; add them when analysing a clip).")
    else:
        frames = previews[previews["kind"] == "frame"] if not previews.empty else previews
        w = int(clips["width"].iloc[0]) if not clips.empty else 768
        h = int(clips["height"].iloc[0]) if not clips.empty else 384
        img, mime = None, "image/jpeg"
        if not frames.empty:
            img, mime = bytes(frames["image"].iloc[0]), str(frames["mime"].iloc[0])
            w, h = int(frames["width"].iloc[0]), int(frames["height"].iloc[0])
        st.plotly_chart(maps.zones_figure(zones, w, h, img, mime), key="camera_zones", config={"displaylogo": False})
        st.caption("Zones, count lines (with their directions) and dwell zones drawn on "
                   + ("the latest preview frame." if img else f"a blank {w}×{h} frame (no preview stored)."))

# -- drawing count lines and dwell zones by clicking on the frame ---------------------------------------------
DRAW_POINTS, DRAW_NOTE = "camera_draw_points", "camera_draw_note"
if st.session_state.get("camera_draw_for") != camera_id:  # another camera: start a new drawing
    st.session_state["camera_draw_for"], st.session_state[DRAW_POINTS] = camera_id, []


def _draw_click() -> None:
    pixel = linedraw.clicked_pixel(st.session_state.get("camera_draw"))
    if pixel is not None:
        st.session_state[DRAW_POINTS] = linedraw.add_point(st.session_state[DRAW_POINTS], pixel, st.session_state["camera_draw_mode"])


def _draw_write(size: tuple[int, int] | None, delete: str | None = None) -> None:
    """Save the drawing (``size``: the frame's) or delete the line or zone called ``delete``; the outcome is a note."""
    store = ui.store()
    try:
        if delete is not None:
            store.set_zones(camera_id, without_zone(store.zones(camera_id), delete))
            st.session_state[DRAW_NOTE] = ("success", f"Deleted {delete}.")
            return
        s = st.session_state
        drawn = linedraw.drawn_object(s["camera_draw_mode"], s.get("camera_draw_name") or "", s[DRAW_POINTS],
                                      (s.get("camera_draw_in") or "", s.get("camera_draw_out") or ""))
        merged = merge_drawn(store.zones(camera_id), drawn, size or (0, 0))
        store.set_zones(camera_id, merged.rows)
        s[DRAW_POINTS] = []
        s[DRAW_NOTE] = ("success", f"Saved {drawn['name']}." + "".join(f" Note: {n}." for n in merged.notes))
    except UrbanLensError as e:
        st.session_state[DRAW_NOTE] = ("error", str(e))


with st.expander("Draw count lines and zones", icon=":material/draw:"):
    frame = None
    if cam.get("source") != "synthetic" and not ui.viewing_demo():  # the newest clip's size, in the period or not
        frame = linedraw.drawing_frame(previews, clips if not clips.empty else ui.camera_clips(path, camera_id, None, None))
    if cam.get("source") == "synthetic" or ui.viewing_demo():
        st.caption("Drawing is for cameras of your own database; the demo city's lines and zones come with it and stay as generated.")
    elif frame is None:
        st.caption("Lines and zones are drawn in the pixels of the camera's clips: analyse a clip of this camera first "
                   "on the Analyse footage page.")
    else:
        size, image, mime = frame
        fig_col, form_col = st.columns([3, 1], gap="medium")
        with form_col:
            mode = st.radio("Draw", list(linedraw.DRAW_MODES), key="camera_draw_mode", format_func=linedraw.DRAW_MODES.get,
                            on_change=lambda: st.session_state.update({DRAW_POINTS: []}))
            st.text_input("Name", key="camera_draw_name", max_chars=80, placeholder="e.g. crossing-north")
            if mode == "line":
                st.text_input("Name of 'in'", key="camera_draw_in", max_chars=80, placeholder="in",
                              help="'in' is a crossing from the line's right to its left, seen from its first point to its second.")
                st.text_input("Name of 'out'", key="camera_draw_out", max_chars=80, placeholder="out")
            b1, b2 = st.columns(2)
            b1.button("Undo", key="camera_draw_undo", width="stretch", help="Remove the last clicked point",
                      on_click=lambda: st.session_state.update({DRAW_POINTS: linedraw.undo_point(st.session_state[DRAW_POINTS])}))
            b2.button("Save", key="camera_draw_save", type="primary", width="stretch", on_click=_draw_write, args=(size,))
            drawn_names = zones.loc[zones["role"].isin(["line", "dwell"]), "zone"].astype(str).tolist() if not zones.empty else []
            if drawn_names:
                gone = st.selectbox("Delete a line or zone", drawn_names, index=None, key="camera_draw_delete", placeholder="pick one")
                st.button("Delete", key="camera_draw_delete_go", disabled=gone is None, width="stretch",
                          on_click=_draw_write, args=(None, gone))
        with fig_col:
            draw_labels = (st.session_state.get("camera_draw_in") or "in", st.session_state.get("camera_draw_out") or "out")
            st.plotly_chart(linedraw.draw_figure(zones, size, st.session_state[DRAW_POINTS], mode, image, mime, draw_labels),
                            key="camera_draw", on_select=_draw_click, selection_mode="points",
                            config={"displaylogo": False, "displayModeBar": False})
            st.caption(f"Click the {'preview frame' if image else f'blank {size[0]}×{size[1]} frame (no preview stored)'} to add points "
                       "(in the clip's pixels): two make a count line, from the first point to the second; three or more a dwell zone. "
                       "Saving a name that exists replaces it.")
        note = st.session_state.pop(DRAW_NOTE, None)
        if note is not None:
            (st.success if note[0] == "success" else st.error)(escape_markdown(note[1]))
# -- end of drawing --------------------------------------------------------------------------------------------

# -- counts: crossings of count lines and visits to dwell zones (where the camera counts) ------------------
counted = ui.count_summary(path, here)
if not counted.empty:
    st.divider()
    st.markdown(f"##### Counts · {period}")
    summary = counted.iloc[0]
    tiles = charts.count_tiles(summary)
    for first in range(0, len(tiles), 3):  # rows of three tiles: rates, then speed and dwell
        for col, (label, value, detail) in zip(st.columns(3), tiles[first:first + 3], strict=False):
            col.metric(label, value, help=detail)
    st.plotly_chart(charts.counts_figure(ui.count_crossings(path, here, "hour"), period), key="camera_counts",
                    config={"displaylogo": False})
    st.caption(f"Crossings of the count lines per hour of counted footage ({summary['hours']:.1f} h counted), by "
               "direction, stacked by class; each tile's help gives its Poisson 95% interval and formula. People per hour at this camera comes from these "
               "counts, not from the pixel estimate." + (" Synthetic counts (demo city)." if cam.get("source") == "synthetic" else ""))
# -- end of counts -----------------------------------------------------------------------------------------

# -- drive map: a mobile camera's route coloured by an indicator ------------------------------------
if cam.get("kind") == "mobile":
    st.markdown("##### Drive map")
    drive_ind = st.selectbox("Colour the route by", list(INDICATORS), index=list(INDICATORS).index("green_view"),
                             key="camera_drive_indicator", format_func=lambda n: INDICATORS[n].short_label)
    route = ui.drive_route(path, here, drive_ind)
    st.plotly_chart(drive_figure(route, ui.districts(path), drive_ind, settings.tile_url), key="camera_drive",
                    config={"displaylogo": False})
    st.caption(f"Each dot pools the frames within about 10 m ({format_count(int(route['n_frames'].sum()) if not route.empty else 0)} "
               f"frames in {period}); frames of clips analysed with a GPS track beside them sit where they were taken, "
               "the others at the camera's registered point.")

st.divider()
pc, tc = st.columns([1, 2])
with pc:
    name = ui.indicator_picker(default="green_view", key="camera_indicator")
with tc:
    adjusted = ui.adjusted_toggle("camera_adjusted")
accuracy = accuracy_table(ui.camera_evaluations(path, name), name)
st.caption(" ".join(map(escape_markdown, accuracy.loc[accuracy["camera_id"] == camera_id, "accuracy"])) or "Accuracy not measured.")
fetch = ui.adjusted if adjusted else ui.indicators
ts = fetch(path, here, ("camera", "day"), (name,))
if adjusted:
    st.caption(escape_markdown(adjustment_summary(ts)))
st.plotly_chart(charts.timeseries_figure(ts, "camera", name, period, labels=labels), key="camera_ts", config={"displaylogo": False})
now = ts[ts["enough"]]
if not ts.empty:
    total = int(ts["n_frames"].sum())
    st.caption(f"{format_count(total)} frames in {period}; {len(now)} of {len(ts)} days with enough data. "
               f"Mean of daily values: {format_value(name, float(now['value'].mean()) if len(now) else float('nan'))}.")
with st.expander("Table behind this chart"):
    table = charts.readable_table(ts, ["camera", "day"], labels)
    st.dataframe(table, hide_index=True, width="stretch", column_config=table_columns(table, name))
    ui.downloads(table, f"urbanlens_{camera_id}_{name}", key="camera_dl")

shares = ui.class_shares(path, here)
st.plotly_chart(charts.class_share_figure(shares, period), key="camera_shares", config={"displaylogo": False})

st.markdown(f"##### Clips · {period}")
if clips.empty:
    st.caption("No clips from this camera in the period.")
else:
    show = clips.drop(columns=["run_id", "width", "height"]).copy()
    show["flicker"] = as_percent(show["flicker"])
    show["confidence"] = as_percent(show["confidence"])
    st.dataframe(
        show, hide_index=True, width="stretch",
        column_config=table_columns(
            show, label="clip", start_time=st.column_config.DatetimeColumn("start", format="YYYY-MM-DD HH:mm"),
            n_frames=st.column_config.NumberColumn("frames sampled", format="%,d"),
            flicker=st.column_config.NumberColumn("flicker (%)", format="%.1f", help="share of pixels changing class between sampled frames"),
            confidence=st.column_config.NumberColumn("confidence (%)", format="%.1f"), code_version="code",
        ),
    )
    if len(clips) == 500:
        st.caption("Showing the latest 500 clips.")

st.markdown("##### Previews")
if previews.empty:
    st.caption("No previews stored for this camera (the synthetic demo city has none; analysed footage keeps a few, "
               "people blurred).")
else:
    cols = st.columns(3)
    for i, p in enumerate(previews.head(6).itertuples(index=False)):
        cols[i % 3].image(bytes(p.image), caption=f"{escape_markdown(p.label)} · {'overlay' if p.kind == 'overlay' else 'frame'} (people blurred)",
                          width="stretch")

show_glossary(("flicker", "95% range (interval)", "valid pixels", "Olofsson et al. 2014", "low trust"),
              levels=("congestion",) if name == "congestion" else ())
