"""Deep links: a page's view choices kept in the query string (names and values in :mod:`analytics.links`).

:func:`linked` wraps a widget: the link seeds it when the address says something new (a bookmark,
a sent link, the browser's back button), a bad value falls back to the default with a warning, and
the widget's value is written back on every run, so the sidebar period survives page changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import streamlit as st

from analytics import links
from analytics.formatting import escape_markdown

__all__ = [
    "PERIOD_CHOICES",
    "PERIOD_CODES",
    "LinkText",
    "clear_selection",
    "from_link",
    "linked",
    "linked_selection",
    "open_camera",
    "VIEW_PARAMS",
    "period_from_link",
    "period_to_link",
    "to_link",
]

PERIOD_CHOICES = ("Last 7 days", "Last 30 days", "All data", "Custom")
PERIOD_CODES = dict(zip(PERIOD_CHOICES, links.PERIOD_CODES))  # radio label -> value of the `period` parameter

VIEW_PARAMS = ("db", "period", "from", "to", "low_trust")
"""Parameters of the view every page shares (the sidebar's database, period and low-trust switch): a
link to another page carries them, so the page opens on the same database and period."""

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
        st.warning(escape_markdown(got.problem), icon=":material/link_off:")  # the link's text, shown as typed
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


def period_from_link(earliest: date, last: date) -> None:
    """Seed the sidebar period (``period``, ``from``, ``to``) from the link when it says something new."""
    texts = [st.query_params.get(p) for p in ("period", "from", "to")]
    written = st.session_state.setdefault(_WRITTEN, {})
    if texts == [None, None, None] or ("period_choice" in st.session_state and texts == written.get("period_choice")):
        return
    written["period_choice"] = texts
    code, start, end = texts
    got = links.resolve(lambda: links.parse_period(code, start, end, earliest, last), "the default period")
    if got.problem or got.value is None:
        st.warning(escape_markdown(got.problem), icon=":material/link_off:")
        return
    picked, day_from, day_to = got.value
    st.session_state["period_choice"] = {c: label for label, c in PERIOD_CODES.items()}[picked]
    if day_from is not None and day_to is not None:
        st.session_state["period_custom"] = (day_from, day_to)


def period_to_link(choice: str, start: date, end: date) -> None:
    """Write the sidebar period into the address: ``period``, and ``from``/``to`` for a custom one."""
    code = PERIOD_CODES.get(choice, "custom")
    texts = [code, start.isoformat(), end.isoformat()] if code == "custom" else [code, None, None]
    for param, value in zip(("period", "from", "to"), texts):
        if value is None:
            st.query_params.pop(param, None)
        elif st.query_params.get(param) != value:
            st.query_params[param] = value
    st.session_state.setdefault(_WRITTEN, {})["period_choice"] = texts


def open_camera(camera_id: str, *, user_database: bool = False) -> None:
    """Go to the Camera page on ``camera_id``, keeping the view: the sidebar's database, period and
    low-trust switch travel in the address (:data:`VIEW_PARAMS`) with ``camera``.

    ``st.switch_page`` starts the page with only the parameters it is given, so without them the
    camera page would open on the default period and database while the sidebar still showed the old
    choice. ``user_database``: the camera is in the user's own database (a clip just saved there).
    """
    params: dict[str, str | list[str]] = {p: st.query_params.get_all(p) for p in VIEW_PARAMS if st.query_params.get_all(p)}
    if user_database:
        params["db"] = "user"
    params["camera"] = camera_id
    st.session_state["camera_id"] = camera_id
    st.switch_page("views/camera.py", query_params=params)
