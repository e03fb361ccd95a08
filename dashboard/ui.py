"""Shared widgets and cached data access for the dashboard pages.

- ``st.cache_resource``: one :class:`~analytics.store.Store` per database path.
- ``st.cache_data(ttl=...)``: query results keyed by the database path and every argument;
  :func:`clear_data` empties them when a clip is saved or places are imported.
- No widget inside a cached function.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from analytics.errors import UrbanLensError
from analytics.formatting import format_count, format_percent, format_period
from analytics.indicators import INDICATORS, compute, data_period
from analytics.settings import Settings, load_settings
from analytics.store import Store
from analytics.store import catalog as catalog_mod
from analytics.visual import charts

TTL = 600
PERIOD_CHOICES = ("Last 7 days", "Last 30 days", "All data", "Custom")


def settings() -> Settings:
    return load_settings()


def db_path() -> str:
    return str(settings().db_path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """The open database of this session's settings (one connection per path, shared)."""
    return _store(db_path())


def clear_data() -> None:
    """Forget cached query results (after saving a clip or importing places)."""
    st.cache_data.clear()


# -- cached queries -------------------------------------------------------------------------------
@st.cache_data(ttl=TTL, show_spinner=False)
def stats(path: str) -> dict[str, Any]:
    return _store(path).stats()


@st.cache_data(ttl=TTL, show_spinner=False)
def period_bounds(path: str) -> tuple[date | None, date | None]:
    return data_period(_store(path))


@st.cache_data(ttl=TTL, show_spinner=False)
def indicators(
    path: str, by: tuple[str, ...], names: tuple[str, ...] | None, start: date | None, end: date | None,
    cameras: tuple[str, ...] | None = None, districts: tuple[str, ...] | None = None, h3_resolution: int = 8,
    min_frames: int | None = None,
) -> pd.DataFrame:
    long = compute(
        _store(path), by=list(by), indicators=list(names) if names else None, start=start, end=end,
        cameras=list(cameras) if cameras else None, districts=list(districts) if districts else None,
        h3_resolution=h3_resolution, min_frames=settings().min_frames if min_frames is None else min_frames,
    )
    return long.rename(columns={"k_" + k: k for k in by})


@st.cache_data(ttl=TTL, show_spinner=False)
def kpis(path: str, names: tuple[str, ...], start: date | None, end: date | None, min_frames: int) -> pd.DataFrame:
    now, before = catalog_mod.city_values(_store(path), names, start, end, min_frames=min_frames)
    return charts.kpi_table(names, now, before)


@st.cache_data(ttl=TTL, show_spinner=False)
def cameras(path: str) -> pd.DataFrame:
    return _store(path).cameras()


@st.cache_data(ttl=TTL, show_spinner=False)
def districts(path: str) -> pd.DataFrame:
    return _store(path).districts()


@st.cache_data(ttl=TTL, show_spinner=False)
def class_shares(path: str, camera_id: str | None, start: date | None, end: date | None) -> pd.DataFrame:
    return catalog_mod.class_shares(_store(path), camera_id=camera_id, start=start, end=end)


@st.cache_data(ttl=TTL, show_spinner=False)
def catalog(path: str, name: str, *args: Any) -> Any:
    """A cached look-up from :mod:`analytics.store.catalog` by function name (e.g. ``camera_clips``)."""
    return getattr(catalog_mod, name)(_store(path), *args)


@st.cache_data(ttl=TTL, show_spinner=False)
def zones(path: str, camera_id: str) -> pd.DataFrame:
    return _store(path).zones(camera_id)


def labels(path: str) -> dict[str, str]:
    """Display names of districts and cameras by id."""
    out = {str(r.district_id): str(r.name) for r in districts(path).itertuples(index=False)}
    out.update({str(r.camera_id): str(r.name) for r in cameras(path).itertuples(index=False)})
    out["(outside districts)"] = "Outside districts"
    return out


# -- widgets --------------------------------------------------------------------------------------
def sidebar_period() -> None:
    """The period picker in the sidebar (shared by every page); stores ``st.session_state.period``."""
    first, last = period_bounds(db_path())
    with st.sidebar:
        st.markdown("##### Period")
        if first is None or last is None:
            st.caption("No measurements yet.")
            st.session_state["period"] = (None, None)
            return
        choice = st.radio("Period", PERIOD_CHOICES, index=0, key="period_choice", label_visibility="collapsed")
        if choice == "Last 7 days":
            start, end = max(first, last - timedelta(days=6)), last
        elif choice == "Last 30 days":
            start, end = max(first, last - timedelta(days=29)), last
        elif choice == "All data":
            start, end = first, last
        else:
            picked = st.date_input("From – to", value=(max(first, last - timedelta(days=6)), last), min_value=first - timedelta(days=365),
                                   max_value=last, key="period_custom")
            if isinstance(picked, tuple) and len(picked) == 2:
                start, end = picked
            else:
                start = end = picked[0] if isinstance(picked, tuple) and picked else last
        st.caption(f"{format_period(start, end)} · data from {format_period(first, last)}")
        st.session_state["period"] = (start, end)


def period() -> tuple[date | None, date | None]:
    value = st.session_state.get("period", (None, None))
    return value[0], value[1]


def sidebar_footer() -> None:
    s = stats(db_path())
    with st.sidebar:
        st.divider()
        st.caption(
            f"Database `{s['path']}` · {format_count(s['frames'])} frames · {format_count(s['clips'])} clips · "
            f"{s['cameras']} cameras"
        )
        if s["clips"] and s["synthetic_share"] > 0:
            n_syn = round(s["clips"] * s["synthetic_share"])
            st.caption(f":orange-badge[synthetic] {format_count(n_syn)} of {format_count(s['clips'])} clips are synthetic demo data")


def synthetic_banner(synthetic: bool | None = None) -> None:
    """A banner when the data shown is (partly) the synthetic demo city.

    ``synthetic``: whether the thing shown (a camera) is synthetic; None looks at the whole database.
    """
    if synthetic is not None:
        if synthetic:
            st.info("**Synthetic data.** This camera belongs to *Lensfield*, the made-up demo city: its numbers are generated, "
                    "not measured.", icon=":material/science:")
        return
    s = stats(db_path())
    share = float(s.get("synthetic_share") or 0.0)
    if s["clips"] and share >= 1.0:
        st.info("**Synthetic data.** This is *Lensfield*, a made-up demo city: every number here is generated, not measured.",
                icon=":material/science:")
    elif s["clips"] and share > 0:
        n_real = round(s["clips"] * (1 - share))
        st.info(f"**Partly synthetic.** {format_percent(share, 1)} of clips are synthetic demo data (Lensfield); {format_count(n_real)} clips are "
                "analysed footage. City-wide numbers mix both.", icon=":material/science:")


def indicator_picker(label: str = "Indicator", key: str = "indicator", default: str = "green_view",
                     names: list[str] | None = None) -> str:
    options = names or charts.headline_names()
    index = options.index(default) if default in options else 0
    return str(
        st.selectbox(label, options, index=index, key=key, format_func=lambda n: charts.indicator_title(n),
                     help="Heuristic indicators are image heuristics, not calibrated measurements.")
    )


def indicator_caption(name: str) -> None:
    ind = INDICATORS[name]
    tag = " · :orange-badge[heuristic]" if ind.heuristic else ""
    st.caption(f"**{ind.label}** = {ind.formula}. Source: {ind.source}{tag}")


def downloads(df: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and Parquet downloads of the table behind a chart (files made only when clicked)."""

    def as_csv() -> bytes:
        return df.to_csv(index=False).encode("utf-8")

    def as_parquet() -> bytes:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()

    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("CSV", as_csv, f"{stem}.csv", "text/csv", key=f"{key}_csv", icon=":material/download:")
    c2.download_button("Parquet", as_parquet, f"{stem}.parquet", "application/vnd.apache.parquet", key=f"{key}_pq",
                       icon=":material/download:")


def import_button(label: str, key: str, write: Any, what: str) -> None:
    """A button that writes imported rows with ``write()`` (returns a count), then clears cached results."""
    if st.button(label, type="primary", key=key):
        try:
            n = write()
        except UrbanLensError as exc:
            show_error(exc)
        else:
            clear_data()
            st.success(f"Imported {n} {what}.")


def show_error(exc: BaseException) -> None:
    """One clear message for an UrbanLens error (multi-line details in a code block)."""
    text = str(exc)
    first, _, rest = text.partition("\n")
    st.error(first, icon=":material/error:")
    if rest.strip():
        st.code(rest.strip(), language=None)


def empty_state(what: str) -> None:
    st.info(
        f"{what}\n\n"
        "- **Analyse footage**: upload a clip and save its measurements;\n"
        "- **Data**: import cameras (CSV) and districts (GeoJSON);\n"
        "- or load the synthetic demo city from a terminal: `urbanlens demo`.",
        icon=":material/info:",
    )


__all__ = ["UrbanLensError"]
