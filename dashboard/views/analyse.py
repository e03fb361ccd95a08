"""Analyse footage: upload a clip, pick or create its camera, pick a model, run with progress, review, save."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from analytics.errors import UrbanLensError
from analytics.footage import upload as flow
from analytics.models import zoo
from analytics.visual import charts
from dashboard import ui

st.title("Analyse footage")
path = ui.db_path()
settings = ui.settings()
st.caption(f"Upload a clip from a street camera or a dashcam ({', '.join(flow.UPLOAD_FORMATS)}; up to {settings.max_upload_mb} MB). "
           "UrbanLens samples frames, segments them on this machine, and shows what it measured before anything is saved. "
           "Previews blur people.")

# -- 1. the clip ----------------------------------------------------------------------------------
st.markdown("##### 1 · Clip")
file = st.file_uploader("Video clip", type=flow.UPLOAD_FORMATS, key="analyse_upload", label_visibility="collapsed")
upload: flow.Upload | None = None
if file is not None:
    try:
        upload = flow.receive_upload(file.name, file.getvalue(), settings)
    except UrbanLensError as exc:
        st.error(str(exc))
    else:
        st.caption(upload.caption)

# -- 2. the camera --------------------------------------------------------------------------------
st.markdown("##### 2 · Camera")
cams = ui.cameras(path)
labels = ui.labels(path)
modes = ["existing", "new"] if not cams.empty else ["new"]
mode = st.radio("Camera", modes, horizontal=True, key="analyse_cam_mode", label_visibility="collapsed",
                format_func=lambda m: "An existing camera" if m == "existing" else "A new camera")
if mode == "existing":
    cid = st.selectbox("Camera", cams["camera_id"].tolist(), key="analyse_camera", format_func=lambda c: f"{labels.get(c, c)} ({c})")
    camera = flow.existing_camera(cams, cid)
else:
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    name = c1.text_input("Name", value="", placeholder="e.g. Market Street north", key="analyse_new_name")
    cid_new = c2.text_input("Camera id", value="", key="analyse_new_id",
                            placeholder=flow.camera_slug(name) if name else "made from the name",
                            help="Letters, digits, '-' and '_'; made from the name when left empty.")
    lat0, lon0 = flow.camera_centre(cams)
    lat = c3.number_input("Latitude", value=lat0, min_value=-90.0, max_value=90.0, format="%.6f", key="analyse_new_lat")
    lon = c4.number_input("Longitude", value=lon0, min_value=-180.0, max_value=180.0, format="%.6f", key="analyse_new_lon")
    kind = st.radio("Kind", ["fixed", "mobile"], horizontal=True, key="analyse_new_kind")
    camera = flow.new_camera(name, cid_new, lon, lat, kind)
zfile = st.file_uploader("Zones (optional JSON: [{\"name\", \"role\", \"polygon\": [[x, y], ...]}] in frame pixels)", type=["json"],
                         key="analyse_zones")
zones_bytes = zfile.getvalue() if zfile is not None else None

# -- 3. the model ---------------------------------------------------------------------------------
st.markdown("##### 3 · Model and sampling")
choices = flow.model_choices(settings)
if choices.problem:
    st.warning(choices.problem)
m1, m2, m3 = st.columns([2, 1, 1])
with m1:
    if choices.installed:
        model_name = st.selectbox("Model", choices.installed, index=choices.index, key="analyse_model",
                                  format_func=lambda n: choices.labels.get(n, n))
    else:
        model_name = None
        st.warning(f"No model installed yet. The default is **{settings.default_model}** (ESPNetv2, MIT licence, built here from "
                   "its public weights).")
        if st.button(f"Install {settings.default_model}", type="primary", key="analyse_install", icon=":material/download:"):
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
    set_start = st.toggle("Set start time", value=False, key="analyse_set_start",
                          help="Default: the clip's creation time tag, else the upload time")
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
    st.caption("See docs/models.md for what each option gains and costs. Each choice is recorded with the clip.")
advanced = flow.AdvancedOptions(smoothing_method, refine, tta)
start_time: datetime | None = None
if set_start:
    d1, d2, _ = st.columns([1, 1, 2])
    start_time = datetime.combine(d1.date_input("Recording date", key="analyse_start_day"),
                                  d2.time_input("Start time", key="analyse_start_time"))

# -- 4. run ---------------------------------------------------------------------------------------
problems = flow.analysis_problems(upload, camera, cams["camera_id"] if not cams.empty else [], model_name)
b1, b2, _ = st.columns([1, 1, 4])
go_clicked = b1.button("Analyse", type="primary", disabled=bool(problems), key="analyse_go", icon=":material/play_arrow:")
b2.button("Cancel", key="analyse_cancel", icon=":material/stop:", help="Stops a running analysis; nothing is stored")
if problems:
    st.caption("To analyse: " + "; ".join(problems) + ".")

if go_clicked and upload is not None and file is not None and model_name:
    st.session_state.pop("analysis", None)
    bar = st.progress(0.0, text="Opening the clip…")
    try:
        result = flow.analyse_upload(
            upload, file.getvalue(), camera, ui.store(), settings, model=model_name, fps=float(fps), smooth=smooth,
            zones=zones_bytes, start_time=start_time, advanced=advanced,
            progress=lambda done, total, rate, eta: bar.progress(*flow.progress_text(done, total, rate, eta)),
        )
        review = flow.review_clip(result, camera, upload.name)
    except UrbanLensError as exc:
        bar.empty()
        flow.forget_upload(upload.path)
        ui.show_error(exc)
    else:
        bar.progress(1.0, text=f"Done: {result.message} in {result.seconds:.1f} s ({result.frames_per_s:.1f} frames/s).")
        st.session_state["analysis"] = {"review": review, "path": upload.path}
elif st.session_state.get("analyse_cancel") and "analysis" not in st.session_state:
    st.warning("Analysis cancelled; nothing was stored.")

# -- 5. review and save ---------------------------------------------------------------------------
state = st.session_state.get("analysis")
if state:
    review = state["review"]
    st.divider()
    st.subheader(f"Result · {review.file}")
    st.caption(review.caption)
    for w in review.result.warnings:
        st.caption(f":material/warning: {w}")
    if review.trust_warning:
        st.warning(review.trust_warning, icon=":material/report:")
    overlays, frames = review.overlays(), review.frames()
    if overlays:
        st.markdown("**Sampled frames with the model's classes** (people blurred)")
        cols = st.columns(min(3, len(overlays)))
        for i, (p, caption) in enumerate(overlays):
            cols[i % len(cols)].image(p.image, caption=caption, width="stretch")
        with st.expander("The same frames without colours (people blurred)"):
            cols = st.columns(min(3, len(frames) or 1))
            for i, (p, caption) in enumerate(frames):
                cols[i % len(cols)].image(p.image, caption=caption, width="stretch")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.plotly_chart(charts.class_share_figure(review.shares, review.file, time_title="seconds into the clip"),
                        key="analyse_shares", config={"displaylogo": False})
    with right:
        st.markdown("**Indicators of this clip**")
        st.dataframe(review.table, hide_index=True, width="stretch", height=420,
                     column_config={"frames": st.column_config.NumberColumn("frames", format="%d")})
        st.caption("95% CI: –, one clip gives no between-clip interval. Indicators the model cannot measure are left out.")
    s1, s2, _ = st.columns([2, 1, 3])
    if s1.button("Save to the database", type="primary", key="analyse_save", icon=":material/save:"):
        try:
            message = flow.save_upload(ui.store(), review.result, review.camera, state["path"])
        except UrbanLensError as exc:
            ui.show_error(exc)
        else:
            ui.clear_data()
            st.session_state.pop("analysis", None)
            st.session_state["analyse_saved"] = (message, str(review.camera["camera_id"]))
            st.rerun()
    if s2.button("Discard", key="analyse_discard", icon=":material/delete:"):
        st.session_state.pop("analysis", None)
        flow.forget_upload(state["path"])
        st.rerun()

saved = st.session_state.get("analyse_saved")
if saved:
    st.success(f"Saved to the database: {saved[0]}", icon=":material/check_circle:")
    if st.button("Open the camera page", key="analyse_open_camera"):
        st.session_state["camera_id"] = saved[1]
        st.session_state.pop("analyse_saved", None)
        st.switch_page("views/camera.py")
