"""Helpers shared by the dashboard tests: one demo database per test session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_BUILT: dict[str, Path] = {}


def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the synthetic demo city once per session (about 5 s) and return its path."""
    if "demo" not in _BUILT:
        from analytics.demo.city import build_demo

        path = tmp_path_factory.mktemp("demo-city") / "demo.duckdb"
        build_demo(path)
        _BUILT["demo"] = path
    return _BUILT["demo"]


def shown_text(markdown: str) -> str:
    """The characters a reader sees of Markdown made by :func:`analytics.formatting.escape_markdown`:
    backslash escapes of ASCII punctuation read as the character, zero-width spaces as nothing."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u200b", "")
