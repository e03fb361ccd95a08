"""Shared widgets and cached data access for the dashboard pages.

- The database is never held open between queries: :func:`store` is a handle (cached with
  ``st.cache_resource``) that opens a short-lived read-only connection for each cached query
  and closes it right after, and opens the file read-write only for a save or an import. Other
  processes (``urbanlens ingest``, ``indicators``, ``report``) use the same file meanwhile.
- ``st.cache_data`` keeps query results keyed by the database path, its **data version**
  (:func:`analytics.store.database.data_version`: inode, modification time and size of the file
  and its write-ahead log, read with ``stat`` and no lock) and every argument. A commit by any
  process changes the version, so the next rerun of any session reads the new data; until then
  results come from the cache without opening the file. ``ttl`` bounds memory, not freshness.
  :func:`clear_data` also empties them after a save or an import here.
- No widget inside a cached function.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from analytics import exports
from analytics.errors import UrbanLensError
from analytics.formatting import format_count, format_percent, format_period
from analytics.indicators import INDICATORS, compute, data_period
from analytics.settings import Settings, load_settings
from analytics.store import Store
from analytics.store import catalog as catalog_mod
from analytics.store.database import data_version as data_version_of
from analytics.store.evaluations import adjusted_indicators
from analytics.store.evaluations import camera_evaluations as camera_evaluations_query
from analytics.trust import left_out_note
from analytics.visual import charts

TTL = 600
MAX_ENTRIES = 256
PERIOD_CHOICES = ("Last 7 days", "Last 30 days", "All data", "Custom")

R = TypeVar("R")


def settings() -> Settings:
    return load_settings()


def db_path() -> str:
    return str(settings().db_path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(path: str, lock_timeout_s: float) -> Store:
    """A handle on the database at ``path``: it checks (or creates) the schema once and holds no connection."""
    return Store(path, lock_timeout_s=lock_timeout_s)


def store() -> Store:
    """The database of this session's settings (reads and writes open the file only while they run)."""
    return _store(db_path(), settings().lock_timeout_s)


def data_version(path: str) -> tuple[int, ...]:
    """The database's data version (see the module docstring): a cache key part that changes with every commit."""
    return data_version_of(path)


def clear_data() -> None:
    """Forget cached query results (after saving a clip or importing places)."""
    st.cache_data.clear()


def _versioned(query: Callable[..., R]) -> Callable[..., R]:
    """Cache ``query(store, *args)`` by (database path, data version, args); called as ``fn(path, *args)``.

    The version is read *before* the query, so a result cached under a version is never older
    than it; the query runs in one read-only unit of work (:meth:`Store.reading`).
    """

    def run(path: str, version: tuple[int, ...], *args: Any, **kwargs: Any) -> R:
        s = _store(path, settings().lock_timeout_s)
        with s.reading():
            return query(s, *args, **kwargs)

    run.__qualname__ = f"{query.__qualname__}[cached]"  # Streamlit keys each cache by module, name and source
    cached = st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX_ENTRIES)(run)

    @functools.wraps(query)
    def call(path: str, *args: Any, **kwargs: Any) -> R:
        return cached(path, data_version_of(path), *args, **kwargs)

    return call


# -- cached queries (each takes the database path first) ------------------------------------------
@_versioned
def stats(s: Store) -> dict[str, Any]:
    return s.stats()


@_versioned
def period_bounds(s: Store) -> tuple[date | None, date | None]:
    return data_period(s)


@_versioned
def indicators(
    s: Store, by: tuple[str, ...], names: tuple[str, ...] | None, start: date | None, end: date | None,
    cameras: tuple[str, ...] | None = None, districts: tuple[str, ...] | None = None, h3_resolution: int = 8,
    min_frames: int | None = None,
) -> pd.DataFrame:
    long = compute(
        s, by=list(by), indicators=list(names) if names else None, start=start, end=end,
        cameras=list(cameras) if cameras else None, districts=list(districts) if districts else None,
        h3_resolution=h3_resolution, min_frames=settings().min_frames if min_frames is None else min_frames,
    )
    return long.rename(columns={"k_" + k: k for k in by})


@_versioned
def adjusted(
    s: Store, by: tuple[str, ...], names: tuple[str, ...] | None, start: date | None, end: date | None,
    cameras: tuple[str, ...] | None = None, districts: tuple[str, ...] | None = None, h3_resolution: int = 8,
    min_frames: int | None = None,
) -> pd.DataFrame:
    """:func:`indicators` with land-cover shares error-adjusted where an evaluation applies (columns ``adjusted``, ``adjustment``)."""
    return adjusted_indicators(
        s, list(by), list(names) if names else None, start=start, end=end, cameras=list(cameras) if cameras else None,
        districts=list(districts) if districts else None, h3_resolution=h3_resolution,
        min_frames=settings().min_frames if min_frames is None else min_frames,
    )


@_versioned
def camera_evaluations(s: Store, indicator: str) -> pd.DataFrame:
    """Per camera, the evaluation that applies to it and the bias of ``indicator`` (see :mod:`analytics.store.evaluations`)."""
    return camera_evaluations_query(s, indicator)


@_versioned
def kpis(s: Store, names: tuple[str, ...], start: date | None, end: date | None, min_frames: int) -> pd.DataFrame:
    now, before = catalog_mod.city_values(s, names, start, end, min_frames=min_frames)
    return charts.kpi_table(names, now, before)


@_versioned
def cameras(s: Store) -> pd.DataFrame:
    return s.cameras()


@_versioned
def districts(s: Store) -> pd.DataFrame:
    return s.districts()


@_versioned
def class_shares(s: Store, camera_id: str | None, start: date | None, end: date | None) -> pd.DataFrame:
    return catalog_mod.class_shares(s, camera_id=camera_id, start=start, end=end)


@_versioned
def trust_counts(
    s: Store, start: date | None, end: date | None, cameras: tuple[str, ...] | None = None,
    districts: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Clips behind a selection: all, left out as low trust, not checked (:func:`analytics.store.catalog.trust_counts`)."""
    return catalog_mod.trust_counts(s, start, end, list(cameras) if cameras else None, list(districts) if districts else None)


def low_trust_caption(start: date | None, end: date | None, cameras: tuple[str, ...] | None = None) -> None:
    """A caption saying how many clips the numbers shown leave out as low trust (a heuristic); nothing when none."""
    note = left_out_note(trust_counts(db_path(), start, end, cameras)["low"])
    if note:
        st.caption(f":material/report: {note}.")


@_versioned
def catalog(s: Store, name: str, *args: Any) -> Any:
    """A cached look-up from :mod:`analytics.store.catalog` by function name (e.g. ``camera_clips``)."""
    return getattr(catalog_mod, name)(s, *args)


@_versioned
def zones(s: Store, camera_id: str) -> pd.DataFrame:
    return s.zones(camera_id)


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


def adjusted_toggle(key: str) -> bool:
    """The switch for error-adjusted land-cover shares (off by default)."""
    return bool(st.toggle(
        "Error-adjusted (where an evaluation applies)", value=False, key=key,
        help="Land-cover shares corrected for the model's confusion on annotated frames (Olofsson et al. 2014), with "
        "intervals that include the uncertainty of the accuracy estimate. Cells without an applicable evaluation stay "
        "unadjusted and are marked.",
    ))


def indicator_caption(name: str) -> None:
    ind = INDICATORS[name]
    tag = " · :orange-badge[heuristic]" if ind.heuristic else ""
    st.caption(f"**{ind.label}** = {ind.formula}. Source: {ind.source}{tag}")


def downloads(df: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and Parquet downloads of the table behind a chart (files made only when clicked)."""

    def as_csv() -> bytes:
        return exports.to_csv(df).encode("utf-8")

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
