"""Reports for officials: a district or the city over a period, as PDF or self-contained HTML.

Usage::

    from analytics.reports import build_report, write_html, write_pdf
    from analytics.settings import load_settings
    from analytics.store import open_store

    settings = load_settings()
    with open_store(settings.db_path, read_only=True) as store:
        content = build_report(store, "riverside", "2026-11-02", "2026-11-15", min_frames=settings.min_frames)
    write_pdf(content, "riverside.pdf")
    write_html(content, "riverside.html")

:mod:`.content` gathers what a report says (one pass over the store); :mod:`.pdf` and
:mod:`.html` only lay it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.reports.content import ReportContent, build_report, resolve_area, resolve_period

if TYPE_CHECKING:  # the writers' signatures for type checkers; at run time __getattr__ loads them
    from analytics.reports.html import render_html, write_html
    from analytics.reports.pdf import render_pdf, write_pdf

__all__ = ["ReportContent", "build_report", "resolve_area", "resolve_period", "render_pdf", "render_html", "write_pdf",
           "write_html"]


def __getattr__(name: str) -> object:
    """The PDF and HTML writers, imported on first use of one of their names."""
    if name in ("render_pdf", "write_pdf"):
        # deferred: the PDF writer imports matplotlib and reportlab, which building content never needs
        from analytics.reports import pdf

        return getattr(pdf, name)
    if name in ("render_html", "write_html"):
        # deferred: the HTML writer imports matplotlib and plotly, which building content never needs
        from analytics.reports import html

        return getattr(html, name)
    raise AttributeError(f"module 'analytics.reports' has no attribute {name!r}")
