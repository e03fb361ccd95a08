"""Analyse footage: upload a clip, confirm its start time, pick or create its camera (placed on a map),
pick a model, run with progress, review frame by frame, save."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from analytics.errors import UrbanLensError
from analytics.formatting import escape_markdown
from analytics.models import zoo
from analytics.pages import analyse as flow
from analytics.store.ingest import StoredElsewhere
from dashboard import ui

__all__: list[str] = []

st.title("Analyse footage")
path = ui.user_db_path()  # clips are analysed for, and saved to, the user's own database, never the demo city's
settings = ui.settings()
st.caption(f"Upload a clip from a street camera or a dashcam ({', '.join(flow.UPLOAD_FORMATS)}; up to {settings.max_upload_mb} MB). "
           "UrbanLens samples frames, segments them on this machine, and shows what it measured before anything is saved. "
           "Previews blur people.")
if ui.viewing_demo():
    st.info(f"You are looking at the demo city. A clip analysed here is saved to **your own database** (`{path}`), "
            "never to the demo; pick *Your data* in the sidebar to see it.", icon=":material/database:")

# widget values set by the previous run (a widget's value can only be set before it is drawn)
for _key, _value in st.session_state.pop("analyse_next", {}).items():
    st.session_state[_key] = _value

# -- 1. the clip and its start time ---------------------------------------------------------------
st.markdown("##### 1 · Clip")
file = st.file_uploader("Video clip", key="analyse_upload", label_visibility="collapsed",
                        help=f"Video files: {', '.join(flow.UPLOAD_FORMATS)}")
upload: flow.Upload | None = None
start_time: datetime | None = None
start_confirmed = False
if file is not None:
    data = file.getvalue()
    try:
        upload = flow.receive_upload(file.name, data, settings)
    except UrbanLensError as exc:
        st.error(escape_markdown(exc), icon=":material/block:")  # names and texts people typed: shown as typed
    else:
        st.caption(escape_markdown(upload.caption))
        if st.session_state.get("analyse_start_for") != upload.sha256:  # a new clip: propose its own start time
            guess = flow.start_default(data, datetime.now(), settings.timezone)
            st.session_state.update({"analyse_start_for": upload.sha256, "analyse_start_guess": guess, "analyse_start_ok": False,
                                     "analyse_start_day": guess.time.date(), "analyse_start_time": guess.time.time().replace(second=0)})
        guess = st.session_state["analyse_start_guess"]
        d1, d2, d3 = st.columns([1, 1, 2], vertical_alignment="bottom")
        day = d1.date_input("Recording date", key="analyse_start_day")
        clock = d2.time_input("Start time", key="analyse_start_time", step=60)
        d3.checkbox("This start time is right", key="analyse_start_ok",
                    help="Every indicator of the clip is dated from it; saving needs it confirmed (or changed).")
        typed = datetime.combine(day, clock)
        touched = typed != guess.time.replace(second=0)
        start_time = typed if touched else guess.time
        start_confirmed = bool(st.session_state.get("analyse_start_ok")) or touched
        st.caption(flow.start_caption(guess))

# -- 2. the camera --------------------------------------------------------------------------------
st.markdown("##### 2 · Camera")
cams = ui.cameras(path)
labels = ui.labels(path)
modes = ["existing", "new"] if not cams.empty else ["new"]
mode = st.radio("Camera", modes, horizontal=True, key="analyse_cam_mode", label_visibility="collapsed",
                format_func=lambda m: "An existing camera" if m == "existing" else "A new camera")
camera: dict | None
if mode == "existing":
    cid = st.selectbox("Camera", cams["camera_id"].tolist(), index=None, placeholder="Pick a camera", key="analyse_camera",
                       format_func=lambda c: f"{labels.get(c, c)} ({c})")
    camera = flow.existing_camera(cams, cid) if cid else None
else:
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", value="", placeholder="e.g. Market Street north", key="analyse_new_name")
    cid_new = c2.text_input("Camera id", value="", key="analyse_new_id",
                            placeholder=flow.camera_slug(name) if name else "made from the name",
                            help="Letters, digits, '-' and '_'; made from the name when left empty.")
    c3, c4, c5 = st.columns([1, 1, 2], vertical_alignment="bottom")
    lat = c3.number_input("Latitude", value=None, min_value=-90.0, max_value=90.0, format="%.6f", key="analyse_new_lat",
                          placeholder="-90 to 90", help="WGS 84 degrees, north positive; or click the map")
    lon = c4.number_input("Longitude", value=None, min_value=-180.0, max_value=180.0, format="%.6f", key="analyse_new_lon",
                          placeholder="-180 to 180", help="WGS 84 degrees, east positive; or click the map")
    kind = c5.radio("Kind", ["fixed", "mobile"], horizontal=True, key="analyse_new_kind")
    camera = flow.new_camera(name, cid_new, lon, lat, kind)
    span = st.session_state.get("analyse_map_span") or flow.fitting_span(cams)
    picker = flow.picker_figure(cams, ui.districts(path), (lat, lon), span)
    if picker is None:
        st.caption(":material/location_on: Type the camera's latitude and longitude (from any map app); a map to click "
                   "then shows the place.")
    else:

        def _picked() -> None:
            event = st.session_state.get("analyse_map")
            where = flow.picked_position(event)
            if where is not None:
                st.session_state["analyse_new_lat"], st.session_state["analyse_new_lon"] = where
                st.session_state["analyse_map_span"] = flow.finer_span(st.session_state.get("analyse_map_span") or span)

        st.select_slider("Map scale", list(flow.MAP_SPANS), value=span, key="analyse_map_span",
                         help="Each click on the map puts the camera there, centres the map on it and zooms in one step.")
        st.plotly_chart(picker, key="analyse_map", on_select=_picked, selection_mode="points",
                        config={"displaylogo": False, "displayModeBar": False})
        st.caption("Click the map to place the camera (grey: stored cameras and district outlines; no street map offline).")
zfile = st.file_uploader("Zones (optional JSON: [{\"name\", \"role\", \"polygon\": [[x, y], ...]}] in frame pixels; count lines "
                         "[{\"name\", \"line\": [[x1, y1], [x2, y2]]}])", type=["json"], key="analyse_zones")
zones_bytes = zfile.getvalue() if zfile is not None else None
tfile = st.file_uploader("GPS track (optional for a moving camera: GPX, NMEA or CSV of time, lat, lon); each frame is placed by "
                         "time when the clip is saved", type=["gpx", "nmea", "txt", "csv"], key="analyse_track")
track_bytes = tfile.getvalue() if tfile is not None else None
count = st.toggle("Count people, cyclists and vehicles", value=True, key="analyse_count",
                  help="Where the camera or these zones have count lines or dwell zones: detect and track at 10 frames/s and count "
                       "crossings by class and direction (slower). Off: segmentation only.")

# -- 3. the model ---------------------------------------------------------------------------------
st.markdown("##### 3 · Model and sampling")
choices = flow.model_choices(settings)
if choices.problem:
    st.warning(escape_markdown(choices.problem))
m1, m2, m3 = st.columns([2, 1, 1])
with m1:
    if choices.installed:
        model_name = st.selectbox("Model", choices.installed, index=choices.index, key="analyse_model",
                                  format_func=lambda n: choices.labels.get(n, n))
    else:
        model_name = None
        st.warning(f"No model installed yet. The default is **{escape_markdown(settings.default_model)}** (ESPNetv2, MIT licence, built here from "
                   "its public weights).")
        if st.button(f"Install {escape_markdown(settings.default_model)}", type="primary", key="analyse_install", icon=":material/download:"):
            bar = st.progress(0.0, text="Fetching weights…")
            try:
                zoo.install(settings.default_model, settings, progress=lambda done, total: bar.progress(*flow.fetch_progress(done, total)))
            except UrbanLensError as exc:
                ui.show_error(exc)
            else:
                bar.progress(1.0, text="Installed.")
                st.rerun()
with m2:
    fps = st.number_input("Frames sampled per second", min_value=0.1, max_value=30.0, value=float(settings.default_sample_fps),
                          step=0.5, key="analyse_fps")
with m3:
    smooth = st.toggle("Temporal smoothing", value=False, key="analyse_smooth", help="EMA of the model output across sampled frames")
with st.expander("Advanced", icon=":material/tune:"):
    a1, a2, a3 = st.columns(3)
    advanced_choices = flow.ADVANCED_CHOICES

    def _help(name: str, intro: str) -> str:
        return intro + " " + "; ".join(f"{k}: {v}" for k, v in advanced_choices[name].items())

    smoothing_method = a1.selectbox("Smoothing method", list(advanced_choices["smoothing_method"]), key="analyse_smoothing_method",
                                    help=_help("smoothing_method", "Used when temporal smoothing is on."))
    refine = a2.selectbox("Label refinement", list(advanced_choices["refine"]), key="analyse_refine",
                          help=_help("refine", "Dense CRF over the model's scores with the frame's colours."))
    tta = a3.selectbox("Test-time augmentation", list(advanced_choices["tta"]), key="analyse_tta",
                       help=_help("tta", "Average the model's scores over mirrored and rescaled copies of each frame."))
    road = st.toggle("Road model as a second opinion", value=True, key="analyse_road_model",
                     help="road-segmentation-adas-0001 corrects road and sidewalk where it is sure (CamVid val: pavement IoU "
                          "40 → 80, mIoU 54.5 → 59.3; about 1.36× the time). Off: the segmentation model alone.")
    st.caption("See docs/models.md for what each option gains and costs. Each choice is recorded with the clip.")
advanced = flow.AdvancedOptions(smoothing_method, refine, tta, road)

# -- 4. run ---------------------------------------------------------------------------------------
problems = flow.analysis_problems(upload, camera, cams["camera_id"] if not cams.empty else [], model_name)
stopped = flow.stop_message(st.session_state.pop("analyse_running", False), st.session_state.pop("analyse_cancelled", False))


def _cancel() -> None:
    st.session_state["analyse_cancelled"] = True


b1, b2, _ = st.columns([1, 1, 4])
go_clicked = b1.button("Analyse", type="primary", disabled=bool(problems), key="analyse_go", icon=":material/play_arrow:")
b2.button("Cancel", key="analyse_cancel", icon=":material/stop:", disabled=not go_clicked, on_click=_cancel,
          help="Stops the running analysis; nothing is stored")
if problems:
    st.caption("To analyse: " + "; ".join(map(escape_markdown, problems)) + ".")
if stopped:
    st.warning(stopped, icon=":material/stop_circle:")
    if upload is not None:
        flow.forget_upload(upload.path)
if (failed := st.session_state.pop("analyse_failed", None)) is not None:
    ui.show_error(failed)

if go_clicked and upload is not None and file is not None and camera is not None and model_name:
    st.session_state.pop("analysis", None)
    st.session_state.pop("analyse_scrub", None)
    st.session_state.pop("analyse_saved", None)
    st.session_state["analyse_running"] = True  # still set on the next run only when this one was stopped midway
    bar = st.progress(0.0, text="Opening the clip…")
    try:
        options = advanced.analysis_options(model=model_name, fps=float(fps), smooth=smooth, zones=zones_bytes, start_time=start_time,
                                            count=count)
        result = flow.analyse_upload(
            upload, file.getvalue(), camera, ui.user_store(), settings, options,
            progress=lambda done, total, rate, eta: bar.progress(*flow.progress_text(done, total, rate, eta)),
        )
        review = flow.review_clip(result, camera, upload.name)
    except UrbanLensError as exc:
        flow.forget_upload(upload.path)
        st.session_state["analyse_failed"] = exc
    else:
        done = f"Done: {result.message} in {result.seconds:.1f} s ({result.frames_per_s:.1f} frames/s)."
        st.session_state["analysis"] = {"review": review, "path": upload.path, "done": done}
        st.session_state.pop("analyse_elsewhere", None)
    st.session_state.pop("analyse_running", None)
    st.rerun()  # draw the page again with nothing running (Cancel disabled)

# -- 5. review and save ---------------------------------------------------------------------------
state = st.session_state.get("analysis")
if state:
    review = state["review"]
    st.divider()
    st.subheader(f"Result · {escape_markdown(review.file)}")
    st.caption(escape_markdown(f"{state['done']} {review.caption}"))
    for w in review.result.warnings:
        st.caption(f":material/warning: {escape_markdown(w)}")
    if review.trust_warning:
        st.warning(review.trust_warning, icon=":material/report:")
    positions = review.scrub_positions()
    shown: int | None = None
    if positions:
        if len(positions) > 1:
            shown = st.select_slider("Sampled frame shown", options=positions, format_func=review.scrub_label, key="analyse_scrub",
                                     help="Step through the sampled frames; the chart below marks the one shown.")
        else:
            shown = positions[0]
        colours = st.toggle("Colour by the model's classes", value=True, key="analyse_scrub_colours")
        preview = review.preview(shown, "overlay" if colours else "frame")
        if preview is not None:
            what = "the model's classes, people blurred" if colours else "people blurred"
            st.image(preview.image, caption=f"t = {review.scrub_label(shown)} · sampled frame {shown + 1} of {review.measurements.n} · {what}",
                     width="stretch")
    st.plotly_chart(review.timeline(shown), key="analyse_shares", config={"displaylogo": False})
    if review.line_counts is not None:
        st.markdown("**Counts of this clip**")
        st.dataframe(review.line_counts, hide_index=True, key="analyse_counts",
                     column_config={"count": st.column_config.NumberColumn("count", format="%,d")})
        st.caption(escape_markdown(review.counts_caption))
    st.markdown("**Indicators of this clip**")
    st.dataframe(review.table, hide_index=True, width="stretch",
                 column_config={"frames": st.column_config.NumberColumn("frames", format="%,d")})
    st.caption("95% range: –, one clip gives no range (it comes from how much clips disagree). Indicators the model cannot measure are left out.")
    if not start_confirmed:
        st.caption(":material/schedule: To save: confirm the clip's start time in step 1 (tick *This start time is right* or "
                   "set it).")
    s1, s2, _ = st.columns([2, 1, 3])
    save = s1.button("Save to the database", type="primary", key="analyse_save", icon=":material/save:", disabled=not start_confirmed)
    # a clip stored under another camera or start time: refused saying where it is, with the choice to move it
    elsewhere = st.session_state.get("analyse_elsewhere")
    if elsewhere:
        st.error(escape_markdown(elsewhere), icon=":material/block:")
    replace = bool(elsewhere) and s1.button(
        "Replace it", key="analyse_replace", icon=":material/swap_horiz:", disabled=not start_confirmed,
        help="Move the stored clip to this camera and start time (its old rows are replaced).")
    if save or replace:
        try:
            message = flow.save_upload(ui.user_store(), review.result, review.camera, state["path"], start_time,
                                       track=track_bytes, tz=settings.timezone, replace=replace)
        except StoredElsewhere as exc:
            st.session_state["analyse_elsewhere"] = flow.elsewhere_message(review.file, exc.camera_id, exc.start_time)
            st.rerun()  # shows the message and the "Replace it" choice
        except UrbanLensError as exc:
            ui.show_error(exc)
        else:
            st.session_state.pop("analyse_elsewhere", None)
            ui.clear_data()
            saved_id = str(review.camera["camera_id"])
            st.session_state.pop("analysis", None)
            st.session_state["analyse_saved"] = (message, saved_id)
            # the camera now exists: pick it, so the page does not ask to create it again
            st.session_state["analyse_next"] = {"analyse_cam_mode": "existing", "analyse_camera": saved_id, "analyse_new_name": "",
                                                "analyse_new_id": "", "analyse_new_lat": None, "analyse_new_lon": None}
            st.rerun()
    if s2.button("Discard", key="analyse_discard", icon=":material/delete:"):
        st.session_state.pop("analysis", None)
        st.session_state.pop("analyse_elsewhere", None)
        flow.forget_upload(state["path"])
        st.rerun()

saved = st.session_state.get("analyse_saved")
if saved:
    st.success(f"Saved to your database (`{path}`): {escape_markdown(saved[0])}", icon=":material/check_circle:")
    if st.button("Open the camera page", key="analyse_open_camera"):
        st.session_state.pop("analyse_saved", None)
        ui.show_user_database_next()  # the camera is in the user's database
        ui.open_camera(saved[1], user_database=True)
