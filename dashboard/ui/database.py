"""Which database a session shows: the user's own or the demo city's, and the handles on them."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.settings import DATABASE_CHOICES, Settings, shown_database
from analytics.store import Store
from dashboard.ui.data import settings, stats, store_at

__all__ = [
    "DATABASE_KEY",
    "DATABASE_LABELS",
    "DATABASE_REQUEST_KEY",
    "active_db_path",
    "db_path",
    "show_user_database_next",
    "store",
    "user_db_path",
    "user_has_data",
    "user_store",
    "viewing_demo",
]

DATABASE_KEY = "database"
DATABASE_LABELS = {"user": "Your data", "demo": "Demo city"}
"""The sidebar switch between the user's database and the demo city's (``st.session_state.database``)."""

DATABASE_REQUEST_KEY = "database_next"


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


def store() -> Store:
    """The database of this session's settings (reads and writes open the file only while they run)."""
    return store_at(db_path())


def user_store() -> Store:
    """The user's own database (:func:`user_db_path`), whichever the sidebar shows."""
    return store_at(user_db_path())
