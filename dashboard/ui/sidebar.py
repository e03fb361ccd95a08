"""The sidebar every page shares: the database switch, the period and the footer; the period and selection pages read."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from analytics import links
from analytics.formatting import format_count, format_counted, format_period
from analytics.periods import default_period
from analytics.selection import Selection
from analytics.settings import DATABASE_CHOICES
from dashboard.ui.data import period_bounds, settings, stats
from dashboard.ui.database import DATABASE_KEY, DATABASE_LABELS, DATABASE_REQUEST_KEY, active_db_path, db_path
from dashboard.ui.links import PERIOD_CHOICES, from_link, linked, period_from_link, period_to_link

__all__ = ["INCLUDE_LOW_TRUST_KEY", "include_low_trust", "period", "selection", "sidebar_database", "sidebar_footer", "sidebar_period",
           "sidebar_trust"]

INCLUDE_LOW_TRUST_KEY = "include_low_trust"


def _parse_database(text: str) -> str:
    return links.parse_choice("db", text, list(DATABASE_CHOICES))


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
        from_link(DATABASE_KEY, "db", _parse_database)  # first: a page switch drops widget values, the address keeps them
        if DATABASE_KEY not in st.session_state:  # the widget's value comes from session state alone (no default beside it)
            current = active_db_path(s, None)
            st.session_state[DATABASE_KEY] = "demo" if current == s.demo_db_path else "user"
        linked(DATABASE_KEY, "db", _parse_database, lambda: st.radio(
            "Database", list(DATABASE_CHOICES), key=DATABASE_KEY,
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
        period_from_link(earliest, last)
        st.session_state.setdefault("period_choice", PERIOD_CHOICES[0])  # widgets below take their values from session state only
        custom = st.session_state.get("period_custom")
        if not isinstance(custom, tuple) or not custom or any(not (earliest <= d <= last) for d in custom):  # none yet, or another database's
            st.session_state["period_custom"] = (max(first, last - timedelta(days=6)), last)
        choice = st.radio("Period", PERIOD_CHOICES, key="period_choice", label_visibility="collapsed")
        if choice != "Custom":  # the days ending at the latest data, not today (analytics.periods.default_period)
            start, end = default_period(str(choice), first, last)
        else:
            picked = st.date_input("From – to", min_value=earliest, max_value=last, key="period_custom")
            if isinstance(picked, tuple) and len(picked) == 2:
                start, end = picked
            else:
                start = end = picked[0] if isinstance(picked, tuple) and picked else last
        st.caption(f"{format_period(start, end)} · data from {format_period(first, last)}")
        st.session_state["period"] = (start, end)
        period_to_link(str(choice), start, end)


def sidebar_trust() -> None:
    """The sidebar switch that counts clips flagged low trust (off by default), bound to the ``low_trust`` parameter."""
    with st.sidebar:
        linked(INCLUDE_LOW_TRUST_KEY, "low_trust", lambda t: links.parse_flag("low_trust", t), _trust_toggle, links.flag_text)


def _trust_toggle() -> bool:
    return bool(st.toggle(
        "Include low-trust clips", value=False, key=INCLUDE_LOW_TRUST_KEY,
        help="Clips where the model may not read the footage well (a heuristic on confidence and on labels changing "
             "between frames; reasons in each camera's clip list) are left out of every number by default. On: they count too.",
    ))


def include_low_trust() -> bool:
    return bool(st.session_state.get(INCLUDE_LOW_TRUST_KEY, False))


def period() -> tuple[date | None, date | None]:
    value = st.session_state.get("period", (None, None))
    return value[0], value[1]


def selection(**changes: Any) -> Selection:
    """The frames a page shows: the sidebar period and low-trust switch, ``settings.min_frames`` and ``changes``
    (cameras, districts, ...)."""
    start, end = period()
    return Selection(start=start, end=end, min_frames=settings().min_frames, include_low_trust=include_low_trust()).with_(**changes)


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
