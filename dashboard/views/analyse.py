"""Analyse footage: upload a clip, pick or create its camera, pick a model, run with progress, review, save."""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.errors import UrbanLensError
from analytics.footage.video import VIDEO_SUFFIXES
from analytics.visual import charts
from dashboard import ui

st.title("Analyse footage")
path = ui.db_path()
settings = ui.settings()
FORMATS = [s.lstrip(".") for s in VIDEO_SUFFIXES]
st.caption(f"Upload a clip from a street camera or a dashcam ({', '.join(FORMATS)}; up to {settings.max_upload_mb} MB). "
           "UrbanLens samples frames, segments them on this machine, and shows what it measured before anything is saved. "
           "Previews blur people.")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "camera"


def _forget(clip: Path) -> None:
    """Remove an uploaded clip (and its folder) once it is saved or discarded."""
    clip.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        clip.parent.rmdir()


# -- 1. the clip ----------------------------------------------------------------------------------
st.markdown("##### 1 · Clip")
upload = st.file_uploader("Video clip", type=FORMATS, key="analyse_upload", label_visibility="collapsed")
clip_path: Path | None = None
if upload is not None:
    data = upload.getvalue()
    if len(data) > settings.max_upload_mb * 1_000_000:
        st.error(f"{upload.name} is {len(data) / 1e6:.0f} MB; the limit is {settings.max_upload_mb} MB (URBANLENS_MAX_UPLOAD_MB).")
    elif not data:
        st.error(f"{upload.name} is empty.")
    else:
        digest = hashlib.sha256(data).hexdigest()
        safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.name).name).lstrip(".") or "clip.mp4"
        # one folder per content hash; the file keeps its name for messages; written when analysed
        clip_path = settings.upload_dir / digest[:16] / safe_name
        st.caption(f"{upload.name} · {len(data) / 1e6:.1f} MB · SHA-256 {digest[:12]}…")

# -- 2. the camera --------------------------------------------------------------------------------
st.markdown("##### 2 · Camera")
cams = ui.cameras(path)
labels = ui.labels(path)
modes = ["existing", "new"] if not cams.empty else ["new"]
mode = st.radio("Camera", modes, horizontal=True, key="analyse_cam_mode", label_visibility="collapsed",
                format_func=lambda m: "An existing camera" if m == "existing" else "A new camera")
camera: dict[str, object] = {}
zones_bytes: bytes | None = None
if mode == "existing":
    cid = st.selectbox("Camera", cams["camera_id"].tolist(), key="analyse_camera", format_func=lambda c: f"{labels.get(c, c)} ({c})")
    camera = cams[cams["camera_id"] == cid].iloc[0].to_dict()
    camera["new"] = False
else:
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    name = c1.text_input("Name", value="", placeholder="e.g. Market Street north", key="analyse_new_name")
    cid_new = c2.text_input("Camera id", value="", key="analyse_new_id", placeholder=_slug(name) if name else "made from the name",
                            help="Letters, digits, '-' and '_'; made from the name when left empty.")
    cid_new = cid_new.strip() or (_slug(name) if name.strip() else "")
    lat0 = float(cams["lat"].mean()) if not cams.empty else 0.0
    lon0 = float(cams["lon"].mean()) if not cams.empty else 0.0
    lat = c3.number_input("Latitude", value=lat0, min_value=-90.0, max_value=90.0, format="%.6f", key="analyse_new_lat")
    lon = c4.number_input("Longitude", value=lon0, min_value=-180.0, max_value=180.0, format="%.6f", key="analyse_new_lon")
    kind = st.radio("Kind", ["fixed", "mobile"], horizontal=True, key="analyse_new_kind")
    camera = {"camera_id": cid_new.strip(), "name": name.strip() or cid_new.strip(), "lon": lon, "lat": lat, "heading": None,
              "kind": kind, "district_id": None, "new": True}
zfile = st.file_uploader("Zones (optional JSON: [{\"name\", \"role\", \"polygon\": [[x, y], ...]}] in frame pixels)", type=["json"],
                         key="analyse_zones")
if zfile is not None:
    zones_bytes = zfile.getvalue()

# -- 3. the model ---------------------------------------------------------------------------------
st.markdown("##### 3 · Model and sampling")
try:
    from analytics.models import zoo

    listing = zoo.list_models(settings)
except (ImportError, UrbanLensError) as exc:
    listing = []
    st.warning(f"Models cannot be listed: {exc}")
installed = [m.name for m in listing if m.installed]
m1, m2, m3 = st.columns([2, 1, 1])
with m1:
    if installed:
        default = installed.index(settings.default_model) if settings.default_model in installed else 0
        model_name = st.selectbox("Model", installed, index=default, key="analyse_model",
                                  format_func=lambda n: next(f"{m.name} · {m.input_size[0]}×{m.input_size[1]} · {m.license}"
                                                             for m in listing if m.name == n))
    else:
        model_name = None
        st.warning(f"No model installed yet. The default is **{settings.default_model}** (ESPNetv2, MIT licence, built here from "
                   "its public weights).")
        if st.button(f"Install {settings.default_model}", type="primary", key="analyse_install", icon=":material/download:"):
            bar = st.progress(0.0, text="Fetching weights…")

            def _fetch_progress(done: int, total: int | None) -> None:
                frac = min(1.0, done / total) if total else 0.0
                bar.progress(frac * 0.8, text=f"Fetching weights… {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))

            try:
                zoo.install(settings.default_model, settings, progress=_fetch_progress)
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
start_time: datetime | None = None
if set_start:
    d1, d2, _ = st.columns([1, 1, 2])
    day = d1.date_input("Recording date", key="analyse_start_day")
    tod = d2.time_input("Start time", key="analyse_start_time")
    start_time = datetime.combine(day, tod)

# -- 4. run ---------------------------------------------------------------------------------------
problems = []
if clip_path is None:
    problems.append("upload a clip")
if not camera.get("camera_id"):
    problems.append("name the camera")
elif camera.get("new") and not re.fullmatch(r"[A-Za-z0-9_-]+", str(camera["camera_id"])):
    problems.append("use letters, digits, '-' or '_' in the camera id")
elif camera.get("new") and str(camera["camera_id"]) in set(cams["camera_id"]):
    problems.append(f"camera id '{camera['camera_id']}' exists: pick it as an existing camera or choose another id")
if not model_name:
    problems.append("install a model")
b1, b2, _ = st.columns([1, 1, 4])
go_clicked = b1.button("Analyse", type="primary", disabled=bool(problems), key="analyse_go", icon=":material/play_arrow:")
b2.button("Cancel", key="analyse_cancel", icon=":material/stop:", help="Stops a running analysis; nothing is stored")
if problems:
    st.caption("To analyse: " + "; ".join(problems) + ".")

if go_clicked and clip_path is not None and model_name:
    from analytics.footage.pipeline import analyse_clip

    st.session_state.pop("analysis", None)
    bar = st.progress(0.0, text="Opening the clip…")
    if upload is not None and not clip_path.exists():
        clip_path.parent.mkdir(parents=True, exist_ok=True)
        clip_path.write_bytes(upload.getvalue())

    def _progress(done: int, total: int, rate: float, eta: float) -> None:
        eta_text = f", about {eta:.0f} s left" if eta == eta and eta > 0 else ""
        bar.progress(min(1.0, done / max(total, 1)), text=f"Analysed {done} of {total} sampled frames ({rate:.1f} frames/s{eta_text})")

    try:
        result = analyse_clip(
            clip_path, str(camera["camera_id"]), ui.store(), model=model_name, fps=float(fps), smooth=smooth, zones=zones_bytes,
            start_time=start_time, keep_previews=6, progress=_progress, save=False, settings=settings, label=upload.name if upload else None,
        )
        long, shares = charts.clip_indicators(result.measurements, camera)
    except UrbanLensError as exc:
        bar.empty()
        _forget(clip_path)
        ui.show_error(exc)
    else:
        bar.progress(1.0, text=f"Done: {result.message} in {result.seconds:.1f} s ({result.frames_per_s:.1f} frames/s).")
        st.session_state["analysis"] = {"result": result, "camera": camera, "zones": zones_bytes, "long": long, "shares": shares,
                                        "model": model_name, "file": upload.name if upload else clip_path.name, "path": clip_path}
elif st.session_state.get("analyse_cancel") and "analysis" not in st.session_state:
    st.warning("Analysis cancelled; nothing was stored.")

# -- 5. review and save ---------------------------------------------------------------------------
state = st.session_state.get("analysis")
if state:
    result = state["result"]
    meas = result.measurements
    st.divider()
    st.subheader(f"Result · {state['file']}")
    info = result.info
    st.caption(
        f"{info.width}×{info.height}, {info.duration_s:.1f} s at {info.fps:.1f} fps · {meas.n} frames sampled ({meas.run.sampling}, "
        f"smoothing {meas.run.smoothing}) · model {meas.run.model_name} · camera {state['camera']['name']} · "
        f"start {meas.clip.start_time:%Y-%m-%d %H:%M:%S}"
    )
    for w in result.warnings:
        st.caption(f":material/warning: {w}")
    overlays = [p for p in result.previews if p.kind == "overlay"]
    frames = {p.frame_pos: p for p in result.previews if p.kind == "frame"}
    if overlays:
        st.markdown("**Sampled frames with the model's classes** (people blurred)")
        cols = st.columns(min(3, len(overlays)))
        for i, p in enumerate(overlays[:6]):
            t = float(meas.t_s[p.frame_pos]) if p.frame_pos < meas.n else float("nan")
            cols[i % len(cols)].image(p.image, caption=f"t = {t:.1f} s · overlay", width="stretch")
        with st.expander("The same frames without colours (people blurred)"):
            cols = st.columns(min(3, len(frames) or 1))
            for i, p in enumerate(list(frames.values())[:6]):
                cols[i % len(cols)].image(p.image, caption=f"frame {p.frame_pos}", width="stretch")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.plotly_chart(charts.class_share_figure(state["shares"], f"{state['file']}", time_title="seconds into the clip"),
                        key="analyse_shares", config={"displaylogo": False})
    with right:
        st.markdown("**Indicators of this clip**")
        long = state["long"]
        order = charts.headline_names()
        long = long[(long["n_frames"] > 0) & long["indicator"].isin(order[:14])]
        long = long.assign(_o=long["indicator"].map(order.index)).sort_values("_o").drop(columns="_o")
        table = charts.clip_indicator_table(long)
        st.dataframe(table, hide_index=True, width="stretch", height=420,
                     column_config={"frames": st.column_config.NumberColumn("frames", format="%d")})
        st.caption("95% CI: –, one clip gives no between-clip interval. Indicators the model cannot measure are left out.")
    s1, s2, _ = st.columns([2, 1, 3])
    if s1.button("Save to the database", type="primary", key="analyse_save", icon=":material/save:"):
        store = ui.store()
        try:
            cam = state["camera"]
            if cam.get("new"):
                store.upsert_cameras(pd.DataFrame([{k: cam.get(k) for k in ("camera_id", "name", "lon", "lat", "heading", "kind")}]))
            if state["zones"]:
                from analytics.geo import parse_zones

                store.set_zones(str(cam["camera_id"]), parse_zones(state["zones"], (info.width, info.height)))
            out = store.ingest(meas)[0]
        except UrbanLensError as exc:
            ui.show_error(exc)
        else:
            ui.clear_data()
            st.session_state.pop("analysis", None)
            _forget(Path(state["path"]))
            st.session_state["analyse_saved"] = (f"{out.message} ({out.n_frames} frames sampled)", str(state["camera"]["camera_id"]))
            st.rerun()
    if s2.button("Discard", key="analyse_discard", icon=":material/delete:"):
        st.session_state.pop("analysis", None)
        _forget(Path(state["path"]))
        st.rerun()

saved = st.session_state.get("analyse_saved")
if saved:
    st.success(f"Saved to the database: {saved[0]}. Its indicators now count in every page.", icon=":material/check_circle:")
    if st.button("Open the camera page", key="analyse_open_camera"):
        st.session_state["camera_id"] = saved[1]
        st.session_state.pop("analyse_saved", None)
        st.switch_page("views/camera.py")
