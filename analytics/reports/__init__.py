"""Reports for officials: a district or the city over a period, as PDF or self-contained HTML.

Usage::

    from analytics.reports import build_report, write_html, write_pdf
    from analytics.store import open_store

    with open_store(read_only=True) as store:
        content = build_report(store, "riverside", "2026-11-02", "2026-11-15")
    write_pdf(content, "riverside.pdf")
    write_html(content, "riverside.html")

:mod:`.content` gathers what a report says (one pass over the store); :mod:`.pdf` and
:mod:`.html` only lay it out.
"""

from __future__ import annotations

from analytics.reports.content import ReportContent, build_report, resolve_area, resolve_period

__all__ = ["ReportContent", "build_report", "resolve_area", "resolve_period", "render_pdf", "render_html", "write_pdf",
           "write_html"]


def __getattr__(name: str) -> object:
    # the writers import matplotlib / reportlab / plotly: load them only when asked for
    if name in ("render_pdf", "write_pdf"):
        from analytics.reports import pdf

        return getattr(pdf, name)
    if name in ("render_html", "write_html"):
        from analytics.reports import html

        return getattr(html, name)
    raise AttributeError(name)
