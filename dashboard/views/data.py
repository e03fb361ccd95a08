"""Data: import cameras and districts, installed models, database statistics, export of all indicators.

Imports always write to the user's own database, never to the demo city's, whichever the sidebar shows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import gis
from analytics.errors import UrbanLensError
from analytics.formatting import escape_markdown, format_count, format_hours, format_period, format_size_mb
from analytics.geo import read_cameras_csv, read_districts_geojson
from analytics.indicators import GROUPINGS, INDICATORS
from analytics.models.zoo import list_models
from analytics.store.geodata import export_layer
from analytics.visual import charts, maps
from dashboard import ui
from dashboard.ui.data import table_columns

__all__: list[str] = []  # a page: it lays out widgets and exports nothing

st.title("Data")
path = ui.db_path()
own_path = ui.user_db_path()  # cameras and districts are imported into the user's own database, never the demo city's
settings = ui.settings()
start, end = ui.period()
s = ui.stats(path)

st.markdown("##### Database")
c = st.columns(6)
c[0].metric("Cameras", f"{s['cameras']:,}")
c[1].metric("Districts", f"{s['districts']:,}")
c[2].metric("Clips", format_count(s["clips"]))
c[3].metric("Frames", format_count(s["frames"]))
c[4].metric("Footage", format_hours(s["hours"]))
c[5].metric("File", format_size_mb(s["size_mb"]))
first, last = ui.period_bounds(path)
st.caption(
    f"`{s['path']}` · database format version {s['schema_version']} · "
    + (f"measurements from {format_period(first, last)}" if first is not None else "no measurements yet")
    + (f" · :orange-badge[synthetic] {round(s['clips'] * s['synthetic_share']):,} of {s['clips']:,} clips are synthetic"
       if s["clips"] and s["synthetic_share"] else "")
)

if ui.viewing_demo():
    st.info(f"You are looking at the demo city. Cameras and districts imported here go to **your own database** (`{own_path}`), "
            "never to the demo; pick *Your data* in the sidebar to see them.", icon=":material/database:")

tab_cam, tab_dist, tab_models, tab_export = st.tabs(["Import cameras", "Import districts", "Models", "Export indicators"])

with tab_cam:
    st.markdown("CSV with columns `camera_id, name, lon, lat` and optionally `heading` (degrees) and `kind` (`fixed` or `mobile`). "
                "Cameras with an existing id are replaced; each is placed in the district that contains it.")
    up = st.file_uploader("Cameras CSV", type=["csv"], key="data_cameras_csv")
    if up is not None:
        try:
            df = read_cameras_csv(up.getvalue())
        except UrbanLensError as exc:
            ui.show_error(exc)
        else:
            st.dataframe(df, hide_index=True, width="stretch", column_config=table_columns(df))
            ui.import_button(f"Import {len(df)} cameras", "data_import_cameras", lambda: ui.user_store().upsert_cameras(df),
                             "cameras")
    cams = ui.cameras(own_path)
    with st.expander(f"Cameras in your database ({len(cams)})"):
        st.dataframe(cams, hide_index=True, width="stretch", column_config=table_columns(cams))

with tab_dist:
    st.markdown("GeoJSON FeatureCollection of Polygon / MultiPolygon features in longitude/latitude (EPSG:4326), each with a "
                "`name` property (and optionally `district_id`). Cameras and frames are re-assigned to districts on import.")
    up = st.file_uploader("Districts GeoJSON", type=["geojson", "json"], key="data_districts_geojson")
    if up is not None:
        try:
            ddf = read_districts_geojson(up.getvalue())
        except UrbanLensError as exc:
            ui.show_error(exc)
        else:
            p1, p2 = st.columns([1, 2])
            p1.dataframe(ddf[["district_id", "name"]], hide_index=True, width="stretch", column_config=table_columns(ddf))
            with p2:
                st.plotly_chart(maps.camera_location_figure(None, ddf, height=320), key="data_district_preview",
                                config={"displaylogo": False})
            ui.import_button(f"Import {len(ddf)} districts", "data_import_districts", lambda: ui.user_store().upsert_districts(ddf),
                             "districts")
    dists = ui.districts(own_path)
    with st.expander(f"Districts in your database ({len(dists)})"):
        st.dataframe(dists[["district_id", "name", "source"]], hide_index=True, width="stretch", column_config=table_columns(dists))

with tab_models:
    try:
        models = list_models(settings)
    except UrbanLensError as exc:
        st.warning(f"Models cannot be listed: {escape_markdown(exc)}")
        models = []
    if models:
        st.dataframe(
            pd.DataFrame(
                {
                    "model": [m.name for m in models],
                    "built in": [m.builtin for m in models],
                    "installed": [m.installed for m in models],
                    "input (h×w)": [f"{m.input_size[0]}×{m.input_size[1]}" for m in models],
                    "licence": [m.license for m in models],
                    "size": ["not installed" if m.size_bytes is None else format_size_mb(m.size_bytes / 1e6) for m in models],
                }
            ),
            hide_index=True, width="stretch",
        )
        st.caption(f"Installed models live in `{settings.model_dir}`. Install one on the Analyse footage page "
                   "(its *Install* button).")
    runs = ui.model_run_summary(path)
    if not runs.empty:
        st.markdown("Models behind the stored measurements")
        st.dataframe(runs, hide_index=True, width="stretch", column_config=table_columns(runs))

with tab_export:
    period = format_period(start, end)
    st.markdown(f"Every indicator ({len(INDICATORS)}) with its 95% interval and sample size, for **{period}** "
                "(change the period in the sidebar).")
    by = st.multiselect("Group by", list(GROUPINGS), default=["district", "day"], key="data_export_by")
    if st.button("Prepare export", key="data_export_go", disabled=not by or not s["frames"]):
        table = ui.indicators(path, ui.selection(), tuple(by))
        table = charts.readable_table(table, by, ui.labels(path))
        st.session_state["data_export"] = (tuple(by), table)
    if "data_export" in st.session_state:
        keys, table = st.session_state["data_export"]
        st.caption(f"{len(table):,} rows grouped by {', '.join(keys)}")
        st.dataframe(table.head(200), hide_index=True, width="stretch", column_config=table_columns(table))
        ui.downloads(table, "urbanlens_indicators_" + "_".join(keys), key="data_export_dl")

# -- GIS layers (the same files as `urbanlens export`) ----------------------------------------------
with tab_export:
    st.markdown("##### GIS layer")
    st.caption("One feature per district (polygon), H3 cell (hexagon), camera (point) or frame (its own point: moving cameras "
               "placed by a GPS track), with each indicator, its 95% range, frames and clips, in EPSG:4326 for QGIS, "
               "ArcGIS or kepler.gl.")
    g1, g2 = st.columns([1, 3])
    gis_by = g1.selectbox("Feature per", list(gis.EXPORT_BY), key="data_gis_by")
    gis_names = g2.multiselect("Indicators", list(INDICATORS), default=["green_view"], key="data_gis_names",
                               format_func=lambda n: INDICATORS[n].short_label)
    if st.button("Prepare GIS layer", key="data_gis_go", disabled=not gis_names or not s["frames"]):
        try:
            layer = export_layer(ui.store(), ui.selection(), gis_by, gis_names)
            st.session_state["data_gis"] = (gis_by, {f: gis.layer_bytes(layer, f) for f in gis.EXPORT_FORMATS}, len(layer))
        except UrbanLensError as exc:
            ui.show_error(exc)
    if "data_gis" in st.session_state:
        gis_key, files, n_features = st.session_state["data_gis"]
        st.caption(f"{n_features:,} features by {gis_key}")
        for col, (fmt, data) in zip(st.columns(len(files) + 2), files.items()):
            col.download_button(fmt, data, f"urbanlens_{gis_key}{gis.SUFFIXES[fmt]}", gis.mime(fmt), key=f"data_gis_{fmt}",
                                icon=":material/download:")
