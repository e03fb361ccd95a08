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
- Deep links: a page's view choices live in the query string (names in :data:`analytics.links.PARAMS`).
  :func:`linked` wraps a widget: the link seeds it when the address says something new (a bookmark,
  a sent link, the browser's back button), a bad value falls back to the default with a warning, and
  the widget's value is written back on every run, so the sidebar period survives page changes.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from analytics import exports, links
from analytics.errors import UrbanLensError
from analytics.evaluation.apply import adjusted_indicators
from analytics.evaluation.apply import camera_evaluations as camera_evaluations_query
from analytics.formatting import format_count, format_counted, format_part_of, format_period
from analytics.indicators import INDICATORS, compute, data_period
from analytics.periods import default_period
from analytics.settings import DATABASE_CHOICES, Settings, load_settings, shown_database
from analytics.store import Store
from analytics.store import catalog as catalog_mod
from analytics.store.database import data_version as data_version_of
from analytics.trust import left_out_note
from analytics.visual import charts

TTL = 600
MAX_ENTRIES = 256
PERIOD_CHOICES = ("Last 7 days", "Last 30 days", "All data", "Custom")
PERIOD_CODES = dict(zip(PERIOD_CHOICES, links.PERIOD_CODES))  # radio label -> value of the `period` parameter

R = TypeVar("R")


def settings() -> Settings:
    return load_settings()


DATABASE_KEY = "database"
DATABASE_LABELS = {"user": "Your data", "demo": "Demo city"}
"""The sidebar switch between the user's database and the demo city's (``st.session_state.database``)."""


def user_has_data(path: str) -> bool:
    """Whether the database at ``path`` exists and holds any clip, camera or district."""
    if not Path(path).exists():
        return False
    s = stats(path)
    return bool(s["clips"] or s["cameras"] or s["districts"])


def active_db_path(s: Settings, choice: str | None) -> Path:
    """The database shown: ``URBANLENS_DB`` when set; else the switch's ``choice``; else the user's
    database when it has data, the demo city's when not (:func:`analytics.settings.shown_database`)."""
    if s.db_pinned:
        return s.db_path
    if choice not in DATABASE_CHOICES or (choice == "demo" and not s.demo_db_path.exists()):
        choice = None
    return shown_database(s, choice, user_has_data=user_has_data(str(s.db_path)))


def db_path() -> str:
    """The database this session shows (see :func:`active_db_path`)."""
    return str(active_db_path(settings(), st.session_state.get(DATABASE_KEY)))


DATABASE_REQUEST_KEY = "database_next"


def show_user_database_next() -> None:
    """Switch the sidebar to "Your data" on the next run (a page cannot change a widget already drawn)."""
    st.session_state[DATABASE_REQUEST_KEY] = "user"


def user_db_path() -> str:
    """The user's own database (``URBANLENS_DB`` when set): where the Analyse page saves, never the demo city's."""
    return str(settings().db_path)


def viewing_demo() -> bool:
    """Whether this session shows the demo city's database through the switch (not a named database)."""
    s = settings()
    return not s.db_pinned and Path(db_path()) == s.demo_db_path and s.demo_db_path != s.db_path


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(path: str, lock_timeout_s: float) -> Store:
    """A handle on the database at ``path``: it checks (or creates) the schema once and holds no connection."""
    return Store(path, lock_timeout_s=lock_timeout_s)


def store() -> Store:
    """The database of this session's settings (reads and writes open the file only while they run)."""
    return _store(db_path(), settings().lock_timeout_s)


def user_store() -> Store:
    """The user's own database (:func:`user_db_path`), whichever the sidebar shows."""
    return _store(user_db_path(), settings().lock_timeout_s)


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
    """Per camera, the evaluation that applies to it and the bias of ``indicator`` (see :mod:`analytics.evaluation.apply`)."""
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


# -- deep links (query parameters; names and values in analytics.links) ---------------------------
_WRITTEN = "_links_written"  # session key: per widget key, the parameter text last written (or read)

T = TypeVar("T")
LinkText = str | Sequence[str] | None


def from_link(key: str, param: str, parse: Callable[[Any], Any], *, many: bool = False) -> None:
    """Seed the widget ``key`` from the link's ``param`` when the address says something new.

    New: the widget has no value yet (first run on this page), or the parameter differs from what
    this session last wrote (a bookmark, a pasted link, the browser's back button). ``parse`` gets
    the last value (all values when ``many``) and raises :class:`~analytics.errors.InputError` on a
    bad one: the widget keeps its default and a warning names the bad value.
    """
    texts = st.query_params.get_all(param)
    written = st.session_state.setdefault(_WRITTEN, {})
    if not texts or (key in st.session_state and texts == written.get(key)):
        return
    written[key] = texts  # a bad value warns once
    got = links.resolve(lambda: parse(texts) if many else parse(texts[-1]))
    if got.problem:
        st.warning(got.problem, icon=":material/link_off:")
    else:
        st.session_state[key] = got.value


def to_link(key: str, param: str, value: LinkText) -> None:
    """Write a widget's value into the address as ``param`` (None or an empty list removes it)."""
    texts = [] if value is None else [value] if isinstance(value, str) else [str(v) for v in value]
    if st.query_params.get_all(param) != texts:
        if texts:
            st.query_params[param] = texts
        else:
            st.query_params.pop(param, None)
    st.session_state.setdefault(_WRITTEN, {})[key] = texts


def linked_selection(key: str, param: str, clicked: str | None, options: Sequence[str]) -> str | None:
    """A choice made outside a widget (a click on a map) kept in session state under ``key`` and in the link as ``param``.

    A new click decides; otherwise the link's value, then the last choice, stays. An empty
    selection does not clear the choice (a chart's selection also empties when the chart is drawn
    again with other data); :func:`clear_selection` does.
    """
    from_link(key, param, lambda t: links.parse_choice(param, t, options))
    if clicked != st.session_state.get(f"{key}_clicked"):
        st.session_state[f"{key}_clicked"] = clicked
        if clicked is not None:
            st.session_state[key] = clicked
    value = st.session_state.get(key)
    value = value if value in options else None
    to_link(key, param, value)
    return value


def clear_selection(key: str) -> None:
    """Forget the choice :func:`linked_selection` keeps under ``key`` (a button's callback)."""
    st.session_state[key] = None


def linked(key: str, param: str, parse: Callable[[Any], Any], widget: Callable[[], T],
           text: Callable[[T], LinkText] = str, *, many: bool = False) -> T:
    """A widget bound to a query parameter: seeded by :func:`from_link`, its value written by :func:`to_link`.

    ``widget()`` creates the widget with ``key``; ``text`` writes its value as parameter text.
    """
    from_link(key, param, parse, many=many)
    value = widget()
    to_link(key, param, text(value))
    return value


def _period_from_link(earliest: date, last: date) -> None:
    """Seed the sidebar period (``period``, ``from``, ``to``) from the link when it says something new."""
    texts = [st.query_params.get(p) for p in ("period", "from", "to")]
    written = st.session_state.setdefault(_WRITTEN, {})
    if texts == [None, None, None] or ("period_choice" in st.session_state and texts == written.get("period_choice")):
        return
    written["period_choice"] = texts
    code, start, end = texts
    got = links.resolve(lambda: links.parse_period(code, start, end, earliest, last), "the default period")
    if got.problem or got.value is None:
        st.warning(got.problem, icon=":material/link_off:")
        return
    picked, day_from, day_to = got.value
    st.session_state["period_choice"] = {c: label for label, c in PERIOD_CODES.items()}[picked]
    if day_from is not None and day_to is not None:
        st.session_state["period_custom"] = (day_from, day_to)


def _period_to_link(choice: str, start: date, end: date) -> None:
    """Write the sidebar period into the address: ``period``, and ``from``/``to`` for a custom one."""
    code = PERIOD_CODES.get(choice, "custom")
    texts = [code, start.isoformat(), end.isoformat()] if code == "custom" else [code, None, None]
    for param, value in zip(("period", "from", "to"), texts):
        if value is None:
            st.query_params.pop(param, None)
        elif st.query_params.get(param) != value:
            st.query_params[param] = value
    st.session_state.setdefault(_WRITTEN, {})["period_choice"] = texts


# -- widgets --------------------------------------------------------------------------------------
def sidebar_database() -> None:
    """The switch between "Your data" and "Demo city" in the sidebar; stores ``st.session_state.database``.

    Not shown when a database is named (``URBANLENS_DB``); without a demo city, a caption says how to build one.
    """
    s = settings()
    if s.db_pinned:
        return
    with st.sidebar:
        st.markdown("##### Database")
        if not s.demo_db_path.exists():
            st.caption(f"Your data (`{s.db_path}`). The synthetic demo city is not built: `urbanlens demo`.")
            return
        if st.session_state.pop(DATABASE_REQUEST_KEY, None) == "user":  # asked for by a page on the previous run
            st.session_state[DATABASE_KEY] = "user"
        current = active_db_path(s, st.session_state.get(DATABASE_KEY))
        linked(DATABASE_KEY, "db", lambda t: links.parse_choice("db", t, list(DATABASE_CHOICES)), lambda: st.radio(
            "Database", list(DATABASE_CHOICES), index=1 if current == s.demo_db_path else 0, key=DATABASE_KEY,
            format_func=DATABASE_LABELS.__getitem__, horizontal=True, label_visibility="collapsed",
            help=f"Your data: your own footage and places (`{s.db_path}`). Demo city: Lensfield, made-up synthetic data "
                 f"(`{s.demo_db_path}`); nothing real is saved there."))


def sidebar_period() -> None:
    """The period picker in the sidebar (shared by every page); stores ``st.session_state.period``."""
    first, last = period_bounds(db_path())
    with st.sidebar:
        st.markdown("##### Period")
        if first is None or last is None:
            st.caption("No measurements yet.")
            st.session_state["period"] = (None, None)
            return
        earliest = first - timedelta(days=365)  # the custom period's first selectable day
        _period_from_link(earliest, last)
        choice = st.radio("Period", PERIOD_CHOICES, index=0, key="period_choice", label_visibility="collapsed")
        if choice != "Custom":  # the days ending at the latest data, not today (analytics.periods.default_period)
            start, end = default_period(str(choice), first, last)
        else:
            picked = st.date_input("From – to", value=(max(first, last - timedelta(days=6)), last), min_value=earliest,
                                   max_value=last, key="period_custom")
            if isinstance(picked, tuple) and len(picked) == 2:
                start, end = picked
            else:
                start = end = picked[0] if isinstance(picked, tuple) and picked else last
        st.caption(f"{format_period(start, end)} · data from {format_period(first, last)}")
        st.session_state["period"] = (start, end)
        _period_to_link(str(choice), start, end)


def period() -> tuple[date | None, date | None]:
    value = st.session_state.get("period", (None, None))
    return value[0], value[1]


def sidebar_footer() -> None:
    s = stats(db_path())
    with st.sidebar:
        st.divider()
        st.caption(
            f"Database `{s['path']}` · {format_counted(s['frames'], 'frame')} · {format_counted(s['clips'], 'clip')} · "
            f"{format_counted(s['cameras'], 'camera')}"
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
        n_syn = int(s["clips"]) - n_real
        st.info(f"**Partly synthetic.** {format_part_of(n_syn, int(s['clips']), 'clips', 'synthetic')} (demo data, Lensfield); "
                f"{format_count(n_real)} clips are "
                "analysed footage. City-wide numbers mix both.", icon=":material/science:")


def indicator_picker(label: str = "Indicator", key: str = "indicator", default: str = "green_view",
                     names: list[str] | None = None, param: str | None = "indicator") -> str:
    """An indicator selectbox, bound to the query parameter ``param`` (None: not in the link)."""
    options = names or charts.headline_names()
    index = options.index(default) if default in options else 0

    def widget() -> str:
        return str(st.selectbox(label, options, index=index, key=key, format_func=lambda n: INDICATORS[n].short_label,
                                help="Unit, formula and whether it is a heuristic (an image heuristic, not a calibrated "
                                "measurement) show below the picker and in chart titles."))

    if param is None:
        return widget()
    return linked(key, param, lambda t: links.parse_choice(param, t, options), widget)


def adjusted_toggle(key: str) -> bool:
    """The switch for error-adjusted land-cover shares (off by default), bound to the ``adjusted`` parameter."""
    return linked(key, "adjusted", lambda t: links.parse_flag("adjusted", t), lambda: _adjusted_toggle(key), links.flag_text)


def _adjusted_toggle(key: str) -> bool:
    return bool(st.toggle(
        "Error-adjusted (where an evaluation applies)", value=False, key=key,
        help="Land-cover shares corrected for the model's confusion on annotated frames (Olofsson et al. 2014), with "
        "intervals that include the uncertainty of the accuracy estimate. Cells without an applicable evaluation stay "
        "unadjusted and are marked.",
    ))


def indicator_caption(name: str) -> None:
    """The indicator's formula, when it applies (its guidance), its source and a heuristic badge."""
    ind = INDICATORS[name]
    tag = " · :orange-badge[heuristic]" if ind.heuristic else ""
    guidance = f" **When to use it:** {ind.guidance}" if ind.guidance else ""
    st.caption(f"**{ind.label}** ({ind.unit}) = {ind.formula}.{guidance} Source: {ind.source}{tag}")


def downloads(df: pd.DataFrame, stem: str, key: str, indicator: str | None = None) -> None:
    """CSV and Parquet downloads of the table behind a chart (files made only when clicked).

    The CSV's values are rounded (:func:`analytics.exports.rounded`) and it says its period (the
    sidebar's) and, where the table has no ``indicator`` column, the ``indicator`` given.
    """

    def as_csv() -> bytes:
        return exports.to_csv(df, period=period(), indicator=indicator).encode("utf-8")

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
