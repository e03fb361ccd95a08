"""Cached data access for the pages: one typed function per query, each taking the database path first.

- The database is never held open between queries: :func:`store_at` is a handle (cached with
  ``st.cache_resource``) that opens a short-lived read-only connection for each cached query
  and closes it right after, and opens the file read-write only for a save or an import. Other
  processes (``urbanlens ingest``, ``indicators``, ``report``) use the same file meanwhile.
- ``st.cache_data`` keeps query results keyed by the database path, its **data version**
  (:func:`analytics.store.database.data_version`: inode, modification time and size of the file
  and its write-ahead log, read with ``stat`` and no lock) and every argument; which frames a
  query reads is one :class:`~analytics.selection.Selection`, a frozen value, so equal selections
  share a cache entry. A commit by any process changes the version, so the next rerun of any
  session reads the new data; until then results come from the cache without opening the file.
  ``ttl`` bounds memory, not freshness. :func:`clear_data` also empties them after a save or an
  import here.
- No widget inside a cached function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, Concatenate, ParamSpec, TypeVar

import pandas as pd
import streamlit as st

from analytics.evaluation.apply import adjusted_indicators
from analytics.evaluation.apply import camera_evaluations as camera_evaluations_query
from analytics.formatting import column_format, column_label, escape_markdown, glossary_lines, levels_note
from analytics.indicators import INDICATORS, compute, data_period
from analytics.selection import Selection
from analytics.settings import Settings, load_settings
from analytics.store import Store, catalog
from analytics.store import counts as count_queries
from analytics.store.database import data_version as data_version_of
from analytics.visual import charts, drive

__all__ = [
    "MAX_ENTRIES",
    "TTL",
    "adjusted",
    "camera_clips",
    "camera_evaluations",
    "camera_previews",
    "camera_track",
    "cameras",
    "cameras_with_zones",
    "class_shares",
    "clear_data",
    "data_version",
    "districts",
    "indicators",
    "kpis",
    "labels",
    "model_run_summary",
    "period_bounds",
    "settings",
    "stats",
    "store_at",
    "trust_counts",
    "zones",
    "count_crossings",
    "count_summary",
    "table_columns",
    "show_glossary",
]

TTL = 600
MAX_ENTRIES = 256

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(path: str, lock_timeout_s: float) -> Store:
    """A handle on the database at ``path``: it checks (or creates) the schema once and holds no connection."""
    return Store(path, lock_timeout_s=lock_timeout_s)


def store_at(path: str) -> Store:
    """The handle on the database at ``path`` (reads and writes open the file only while they run)."""
    return _store(path, settings().lock_timeout_s)


def data_version(path: str) -> tuple[int, ...]:
    """The database's data version (see the module docstring): a cache key part that changes with every commit."""
    return data_version_of(path)


def clear_data() -> None:
    """Forget cached query results (after saving a clip or importing places)."""
    st.cache_data.clear()


def _versioned(query: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[str, P], R]:
    """Cache ``query(store, *args)`` by (database path, data version, args); called as ``fn(path, *args)``.

    The version is read *before* the query, so a result cached under a version is never older
    than it; the query runs in one read-only unit of work (:meth:`Store.reading`).
    """

    def run(path: str, version: tuple[int, ...], *args: Any, **kwargs: Any) -> R:
        s = store_at(path)
        with s.reading():
            return query(s, *args, **kwargs)

    run.__qualname__ = f"{query.__qualname__}[cached]"  # Streamlit keys each cache by module, name and source
    cached = st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX_ENTRIES)(run)

    @functools.wraps(query)
    def call(path: str, *args: P.args, **kwargs: P.kwargs) -> R:
        return cached(path, data_version_of(path), *args, **kwargs)

    return call


# -- the database as a whole ----------------------------------------------------------------------
@_versioned
def stats(s: Store) -> dict[str, Any]:
    return s.stats()


@_versioned
def period_bounds(s: Store) -> tuple[date | None, date | None]:
    """First and last day with active frames (:func:`analytics.indicators.data_period`)."""
    return data_period(s)


@_versioned
def cameras(s: Store) -> pd.DataFrame:
    return s.cameras()


@_versioned
def districts(s: Store) -> pd.DataFrame:
    return s.districts()


@_versioned
def zones(s: Store, camera_id: str) -> pd.DataFrame:
    return s.zones(camera_id)


@_versioned
def model_run_summary(s: Store) -> pd.DataFrame:
    """:func:`analytics.store.catalog.model_run_summary`."""
    return catalog.model_run_summary(s)


def labels(path: str) -> dict[str, str]:
    """Display names of districts and cameras by id."""
    out = {str(r.district_id): str(r.name) for r in districts(path).itertuples(index=False)}
    out.update({str(r.camera_id): str(r.name) for r in cameras(path).itertuples(index=False)})
    out["(outside districts)"] = "Outside districts"
    return out


# -- indicators of a selection --------------------------------------------------------------------
@_versioned
def indicators(
    s: Store, selection: Selection, by: tuple[str, ...], names: tuple[str, ...] | None = None, h3_resolution: int = 8
) -> pd.DataFrame:
    """:func:`analytics.indicators.compute` of ``selection`` by ``by`` (``names``: all when None)."""
    return compute(s, selection, by=list(by), indicators=list(names) if names else None, h3_resolution=h3_resolution)


@_versioned
def adjusted(
    s: Store, selection: Selection, by: tuple[str, ...], names: tuple[str, ...] | None = None, h3_resolution: int = 8
) -> pd.DataFrame:
    """:func:`indicators` with land-cover shares error-adjusted where an evaluation applies (columns ``adjusted``, ``adjustment``)."""
    return adjusted_indicators(s, selection, list(by), list(names) if names else None, h3_resolution)


@_versioned
def kpis(s: Store, names: tuple[str, ...], selection: Selection) -> pd.DataFrame:
    """City values of ``names`` over ``selection`` against the period compared with (:func:`analytics.visual.charts.kpi_table`)."""
    now, before = catalog.city_values(s, names, selection)
    return charts.kpi_table(names, now, before)


@_versioned
def class_shares(s: Store, selection: Selection) -> pd.DataFrame:
    """Share of valid pixels per indicator group and day (:func:`analytics.store.catalog.class_shares`)."""
    return catalog.class_shares(s, selection)


@_versioned
def trust_counts(s: Store, selection: Selection) -> dict[str, int]:
    """Clips behind a selection: all, left out as low trust, not checked (:func:`analytics.store.catalog.trust_counts`)."""
    return catalog.trust_counts(s, selection)


@_versioned
def camera_evaluations(s: Store, indicator: str) -> pd.DataFrame:
    """Per camera, the evaluation that applies to it and the bias of ``indicator`` (see :mod:`analytics.evaluation.apply`)."""
    return camera_evaluations_query(s, indicator)


# -- one camera -----------------------------------------------------------------------------------
@_versioned
def cameras_with_zones(s: Store) -> list[str]:
    """:func:`analytics.store.catalog.cameras_with_zones`."""
    return catalog.cameras_with_zones(s)


@_versioned
def camera_clips(s: Store, camera_id: str, start: date | None, end: date | None) -> pd.DataFrame:
    """:func:`analytics.store.catalog.camera_clips`."""
    return catalog.camera_clips(s, camera_id, start, end)


@_versioned
def camera_previews(s: Store, camera_id: str) -> pd.DataFrame:
    """:func:`analytics.store.catalog.camera_previews`."""
    return catalog.camera_previews(s, camera_id)


@_versioned
def camera_track(s: Store, camera_id: str, start: date | None, end: date | None) -> pd.DataFrame:
    """:func:`analytics.store.catalog.camera_track`."""
    return catalog.camera_track(s, camera_id, start, end)



@_versioned
def drive_route(s: Store, selection: Selection, indicator: str) -> pd.DataFrame:
    """:func:`analytics.visual.drive.drive_route`: a mobile camera's route with ``indicator`` along it."""
    return drive.drive_route(s, selection, indicator)


# -- counts (count lines, dwell zones) -------------------------------------------------------------
@_versioned
def count_crossings(s: Store, selection: Selection, by: str = "hour") -> pd.DataFrame:
    """:func:`analytics.store.counts.crossing_counts` (zeros included)."""
    return count_queries.crossing_counts(s, selection, by)


@_versioned
def count_summary(s: Store, selection: Selection) -> pd.DataFrame:
    """:func:`analytics.store.counts.camera_count_summary`: one row per counting camera."""
    return count_queries.camera_count_summary(s, selection)


# -- how tables are shown -----------------------------------------------------------------------------
def table_columns(df: pd.DataFrame, indicator: str | None = None, hide: tuple[str, ...] = ("indicator",),
                  **own: Any) -> dict[str, Any]:
    """``column_config`` of ``st.dataframe`` for ``df``: planner headers (:func:`analytics.formatting.column_label`, never
    ``ci_low`` or ``n_frames``; ``value (unit)`` for an ``indicator``'s displayed values) and the one number format
    (:func:`analytics.formatting.column_format`). Columns in ``hide`` (the indicator's stored name, beside its label) are
    not shown; ``own`` entries replace a column's."""
    config: dict[str, Any] = {}
    for col in df.columns:
        name = str(col)
        if name in hide and "label" in df.columns:
            config[name] = None
            continue
        values = pd.to_numeric(df[col], errors="coerce") if df[col].dtype.kind == "f" else None
        typical = float(values.abs().median()) if values is not None and values.notna().any() else float("nan")
        fmt = column_format(name, df[col].dtype.kind, indicator, typical)
        label = column_label(name)
        if name == "value" and indicator in INDICATORS:
            label = f"value ({INDICATORS[indicator].unit})"
        config[name] = st.column_config.NumberColumn(label, format=fmt) if fmt else label
    config.update(own)
    return config


def show_glossary(terms: tuple[str, ...], levels: tuple[str, ...] = ()) -> None:
    """A closed "Words used on this page" expander: ``terms`` of :data:`analytics.formatting.GLOSSARY` in plain words,
    and how the levels of the indicators ``levels`` (the congestion level) are made."""
    with st.expander("Words used on this page", icon=":material/menu_book:"):
        for line in [*glossary_lines(terms), *(levels_note(n) for n in levels)]:
            st.markdown(f"- {escape_markdown(line)}")
