"""The report as an A4 PDF (reportlab platypus): paginated, page numbers, 200-dpi charts, DejaVu fonts.

Lays out a :class:`~analytics.reports.content.ReportContent`; it never queries the store.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from analytics.formatting import format_cell, format_count, format_counted, format_hours, format_previous, format_value
from analytics.indicators import HEADLINE, INDICATORS
from analytics.reports import figures
from analytics.reports.content import COUNTS_HEADER, COUNTS_TEXT, SHORT_LABELS, ReportContent, camera_columns, day_caption, day_heading, format_lonlat

__all__ = ["ACCENT", "GRID", "LIGHT", "MARGIN", "MUTED", "TEXT_W", "WARN_BG", "WARN_EDGE", "render_pdf", "story", "write_pdf"]

MARGIN = 18 * mm
TEXT_W = A4[0] - 2 * MARGIN
ACCENT = colors.HexColor("#1f4e79")
LIGHT = colors.HexColor("#eef3f8")
GRID = colors.HexColor("#c8d3de")
WARN_BG = colors.HexColor("#fff4e5")
WARN_EDGE = colors.HexColor("#e08a00")
MUTED = colors.HexColor("#666666")


# ---------------------------------------------------------------------------------------------
# fonts and styles


def _fonts() -> tuple[str, str, str]:
    """Register DejaVu (shipped with matplotlib: full Unicode, ≥ ° – †) once; Helvetica if it is missing."""
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    names = (("ULSans", "DejaVuSans.ttf"), ("ULSans-Bold", "DejaVuSans-Bold.ttf"), ("ULMono", "DejaVuSansMono.ttf"))
    try:
        for name, file in names:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(ttf / file)))
        pdfmetrics.registerFontFamily("ULSans", normal="ULSans", bold="ULSans-Bold", italic="ULSans", boldItalic="ULSans-Bold")
        return "ULSans", "ULSans-Bold", "ULMono"
    except Exception:  # fonts missing or unreadable: fall back to the PDF base fonts
        return "Helvetica", "Helvetica-Bold", "Courier"


def _styles() -> dict[str, ParagraphStyle]:
    body, bold, mono = _fonts()
    base = ParagraphStyle("body", fontName=body, fontSize=9, leading=12.2, alignment=TA_LEFT, spaceAfter=3)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.6, spaceAfter=0),
        "tiny": ParagraphStyle("tiny", parent=base, fontSize=6.8, leading=8.4, spaceAfter=0),
        "mono": ParagraphStyle("mono", parent=base, fontName=mono, fontSize=6.6, leading=8.2, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10, spaceAfter=0),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=bold, fontSize=8, leading=10, spaceAfter=0),
        "head": ParagraphStyle("head", parent=base, fontName=bold, fontSize=7.8, leading=9.6, textColor=colors.white, spaceAfter=0),
        "kicker": ParagraphStyle("kicker", parent=base, fontSize=8.5, textColor=MUTED, spaceAfter=2),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=21, leading=25, textColor=ACCENT, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10.5, leading=14, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=12.5, leading=16, textColor=ACCENT, spaceBefore=10,
                             spaceAfter=5, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base, fontName=bold, fontSize=9.5, leading=12.5, spaceBefore=6, spaceAfter=3,
                             keepWithNext=1),
        "caption": ParagraphStyle("caption", parent=base, fontSize=7.5, leading=9.5, textColor=MUTED, spaceAfter=6),
        "_bold": ParagraphStyle("_bold", fontName=bold),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _bullets(items: Sequence[str], style: ParagraphStyle) -> Flowable:
    return ListFlowable(
        [ListItem(_p(t, style), leftIndent=10, value="•") for t in items], bulletType="bullet", start="•", leftIndent=10,
        bulletFontSize=7,
    )


def _table(rows: list[list[Any]], widths: Sequence[float], st: dict[str, ParagraphStyle], zebra: bool = True,
           align_right: Sequence[int] = ()) -> Table:
    """A table with a coloured header row; string cells become wrapped paragraphs."""
    data = []
    for i, row in enumerate(rows):
        cells = []
        for c in row:
            if isinstance(c, str):
                cells.append(_p(c, st["head"] if i == 0 else st["cell"]))
            else:
                cells.append(c)
        data.append(cells)
    t = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra:
        style += [("BACKGROUND", (0, r), (-1, r), LIGHT) for r in range(2, len(rows), 2)]
    t.setStyle(TableStyle(style))
    return t


def _box(flowables: list[Flowable], bg: Any, edge: Any) -> Table:
    t = Table([[flowables]], colWidths=[TEXT_W], hAlign="LEFT")
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), bg), ("BOX", (0, 0), (-1, -1), 0.8, edge),
                           ("LEFTPADDING", (0, 0), (-1, -1), 7), ("RIGHTPADDING", (0, 0), (-1, -1), 7),
                           ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return t


def _image(png: bytes, width: float) -> Image:
    img = Image(io.BytesIO(png))
    ratio = img.imageHeight / img.imageWidth
    img.drawWidth, img.drawHeight = width, width * ratio
    img.hAlign = "LEFT"
    return img


# ---------------------------------------------------------------------------------------------
# sections


def _title(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    area = "the whole city" if c.is_city else f"district {c.area_name}"
    out: list[Flowable] = [
        _p("UrbanLens · street-level indicators for officials", st["kicker"]),
        _p(c.title, st["title"]),
        _p(f"{c.period_heading} · {area}", st["subtitle"]),
        _p(f"Generated {c.generated_at:%d %b %Y %H:%M} by UrbanLens {c.version}. {c.comparison_sentence}"
           + ("." if c.is_city else (" and with the city average over the same period." if c.has_previous else
                                     "; compared with the city average over the same period."))
           + " Data sources and models: appendix.", st["small"]),
        Spacer(1, 6),
    ]
    if c.sources.synthetic_clips > 0:
        out += [_box([_p(f"Demo data: {c.sources.synthetic_text}. Synthetic clips describe a made-up city and must not be "
                         "used for decisions.", st["cellb"])], WARN_BG, WARN_EDGE), Spacer(1, 6)]
    if not c.has_data:
        out += [_box([_p("No data for this area and period", st["cellb"]), _p(c.no_data_reason, st["cell"]),
                      _p("So this report has no summary, map or charts; the methods appendix still explains how the numbers are made.",
                         st["cell"])], WARN_BG, WARN_EDGE), Spacer(1, 6)]
    return out


def _sources(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    s = c.sources
    span = f"{s.first_ts:%d %b %Y %H:%M} – {s.last_ts:%d %b %Y %H:%M}" if s.first_ts and s.last_ts else "none"
    rows = [
        ["Appendix: data sources", "", "", ""],
        ["Cameras", f"{s.cameras}", "Length of footage", format_hours(s.hours)],
        ["Clips", format_count(s.clips), "Synthetic share", s.synthetic_text or "no clips"],
        ["Sampled frames", format_count(s.frames), "Footage from", span],
    ]
    t = _table(rows, [28 * mm, 30 * mm, 30 * mm, TEXT_W - 88 * mm], st, zebra=False)
    t.setStyle(TableStyle([("SPAN", (0, 0), (-1, 0))]))
    out: list[Flowable] = [CondPageBreak(60 * mm), _p("Appendix: data sources", st["h2"]), t, Spacer(1, 5)]
    mrows: list[list[Any]] = [["Model", "Weights SHA-256", "Code", "Sampling", "Smoothing", "Clips"]]
    for m in c.models:
        mrows.append([m.name, _p(m.weights_sha256, st["mono"]), m.code_version, m.sampling, m.smoothing, f"{m.clips:,}"])
    if len(mrows) == 1:
        mrows.append(["(none: no frames in this period)", "", "", "", "", ""])
    out.append(_table(mrows, [30 * mm, 62 * mm, 14 * mm, 20 * mm, 22 * mm, TEXT_W - 148 * mm], st, zebra=False))
    return out


def _summary(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [_p("Summary", st["h2"])]
    if c.key_points:
        out += [_p("Key points", st["h3"]), _bullets(c.key_points, st["body"])]
    rows: list[list[Any]] = [
        ["Indicator", "Value", "95% interval", "City average", format_previous(c.days).replace("the previous", "Previous"), "Frames"]
    ]
    for ln in c.summary:
        label = ln.label + (" †" if ln.heuristic else "")
        rows.append([
            label,
            _p(ln.value_text, st["cellb"]) if ln.enough else _p("not enough data", st["cell"]),
            ln.interval_text or "–",
            "" if c.is_city else format_value(ln.name, ln.city),
            format_value(ln.name, ln.previous) if not math.isnan(ln.previous) else "no data",
            format_count(ln.n_frames),
        ])
    keep = [0, 1, 2] + ([] if c.is_city else [3]) + ([4] if c.has_previous else []) + [5]
    rows = [[r[i] for i in keep] for r in rows]
    base = {0: 48 * mm, 1: 28 * mm, 2: 26 * mm, 3: 26 * mm, 4: 28 * mm}  # Value fits "moderate · 0.9" in bold
    widths = [base[i] for i in keep[:-1]]
    widths.append(TEXT_W - sum(widths))
    note = "" if c.has_previous else f" Compared with: {c.comparison_text}, so no change over time is given."
    out += [Spacer(1, 4), _table(rows, widths, st),
            _p("† heuristic indicator (see caveats). Intervals: 95%, clips as the sampling unit (methods appendix)." + note,
               st["caption"]),
            *([_p(c.adjustment_note, st["caption"])] if c.adjustment_note else []),
            *([_p(c.low_trust_note + ".", st["caption"])] if c.low_trust_note else []),
            _p("In plain words", st["h3"]), _bullets([ln.text for ln in c.summary], st["body"])]
    return out


def _map(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    label = INDICATORS[c.main_indicator].label
    what = "districts" if c.is_city else f"{c.area_name} (outlined) and its neighbours (grey)"
    return [
        CondPageBreak(120 * mm),
        _p(f"Map: {label} by camera", st["h2"]),
        _image(figures.map_png(c), TEXT_W),
        _p(f"Map of {what}. Fill and camera colour: {label.lower()} over the period (same scale); number: the camera's rank "
           "in the table below; red ring: road-damage finding. Drawn offline from the district polygons (no base map).",
           st["caption"]),
    ]


def _patterns(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    w = TEXT_W
    return [
        CondPageBreak(80 * mm),
        _p("Patterns of pedestrian use and congestion", st["h2"]),
        _p("By hour of day", st["h3"]),
        _image(figures.pattern_png(c.hourly, "hour"), w),
        _p("Lines: values over all days of the period; shaded band: 95% interval; hours without enough footage are left out. "
           "The coloured bar gives the congestion level of each hour (methods appendix).", st["caption"]),
        CondPageBreak(60 * mm),
        _p(day_heading(c), st["h3"]),
        _image(figures.pattern_png(c.daily, "day"), w),
        _p(day_caption(c), st["caption"]),
    ]


def _cameras(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(50 * mm), _p("Cameras, ranked", st["h2"])]
    if c.cameras.empty:
        return out + [_p("No camera recorded footage in this area and period.", st["body"])]
    cols = camera_columns(c.main_indicator, c.cameras)
    rows: list[list[Any]] = [["#", "Camera", "Frames", *[SHORT_LABELS.get(n, INDICATORS[n].label) for n in cols], "Congestion"]]
    for r in c.cameras.to_dict("records"):
        name = f"{r['name']}" + (" (mobile)" if r.get("kind") == "mobile" else "")
        vals = [format_cell(n, r[n]) + (" (counted)" if n == "people_per_hour" and r.get("people_per_hour_basis") == "counted" else "")
                for n in cols]
        rows.append([str(r["rank"] or "–"), name, format_count(r["n_frames"]), *vals, str(r.get("congestion_level", "") or "")])
    fixed = 8 * mm + 38 * mm + 15 * mm + 20 * mm
    w = (TEXT_W - fixed) / len(cols)
    out += [
        _table(rows, [8 * mm, 38 * mm, 15 * mm, *[w] * len(cols), 20 * mm], st),
        _p(f"Ranked by {INDICATORS[c.main_indicator].label.lower()}, highest first. '–': fewer than {format_counted(c.min_frames, 'frame')} "
           "(not enough data). Congestion level from road occupancy and vehicle stationarity.", st["caption"]),
    ]
    if c.accuracy:
        acc: list[list[Any]] = [["Camera", "Accuracy"], *[[a.camera_name, a.text] for a in c.accuracy]]
        out += [_p("Accuracy of each camera", st["h3"]), _table(acc, [38 * mm, TEXT_W - 38 * mm], st)]
    return out


def _counts(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The counts section: one row per counting camera (nothing where no camera counts)."""
    if not c.counts:
        return []
    w = (TEXT_W - 38 * mm - 18 * mm) / 4
    return [CondPageBreak(40 * mm), _p("Counts", st["h2"]),
            _table([list(COUNTS_HEADER), *[list(r) for r in c.counts]], [38 * mm, 18 * mm, w, w, w, w], st),
            _p(COUNTS_TEXT, st["caption"])]


def _damage(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(40 * mm), _p("Road damage findings", st["h2"])]
    if not c.damage:
        return out + [_p(c.damage_note or "No road damage findings.", st["body"])]
    rows: list[list[Any]] = [["Camera", "Location", "Damage (model)", "Distress †", "Worst frame", "Frames"]]
    for f in c.damage:
        rows.append([f.camera_name, format_lonlat(f.lon, f.lat), format_value("damage_ratio", f.damage_ratio),
                     format_value("distress_share", f.distress_share), f"{f.worst_ts:%d %b %H:%M}" if f.worst_ts else "–", format_count(f.n_frames)])
    out += [_table(rows, [34 * mm, 50 * mm, 24 * mm, 20 * mm, 24 * mm, TEXT_W - 152 * mm], st), Spacer(1, 4),
            _bullets([f.text for f in c.damage], st["body"])]
    for f in c.damage:
        if f.previews:
            cells = []
            for p in f.previews:
                img = _image(p.data, (TEXT_W - 6 * mm) / 2)
                cells.append([img, _p(p.caption, st["caption"])])
            out.append(KeepTogether([_p(f"{f.camera_name}: anonymised previews", st["h3"]),
                                     Table([cells], colWidths=[TEXT_W / 2] * len(cells), hAlign="LEFT")]))
    if c.damage_note:
        out.append(_p(c.damage_note, st["caption"]))
    return out


def _coverage(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(40 * mm), _p("Data coverage and caveats", st["h2"])]
    if c.coverage:
        out.append(KeepTogether([_p("Coverage", st["h3"]), _bullets(c.coverage, st["body"])]))
    out.append(KeepTogether([_p("Caveats", st["h3"]), _bullets(c.caveats, st["body"])]))
    return out


def _methods(c: ReportContent, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    m = c.methods
    out: list[Flowable] = [PageBreak(), _p("Methods appendix", st["h2"]), _p("Indicators", st["h3"])]
    shown = [*HEADLINE, *[n for n in m.indicators["name"] if n not in HEADLINE]]
    by_name = m.indicators.set_index("name")
    rows: list[list[Any]] = [["Indicator", "Formula", "Source"]]
    for n in shown:
        r = by_name.loc[n]
        rows.append([_p(str(r["label"]) + (" †" if r["heuristic"] else ""), st["tiny"]), _p(str(r["formula"]), st["tiny"]),
                     _p(str(r["source"]), st["tiny"])])
    out.append(_table(rows, [34 * mm, 62 * mm, TEXT_W - 96 * mm], st))
    out += [_p("Shares are computed over valid pixels: void / unlabelled pixels never enter a denominator.", st["caption"])]
    grows: list[list[Any]] = [["Group", "Model classes that feed it"]]
    for r in m.groups.to_dict("records"):
        grows.append([_p(str(r["label"]), st["tiny"]), _p(str(r["classes"]), st["tiny"])])
    out += [CondPageBreak(50 * mm), _p("Class groups", st["h3"]), _table(grows, [50 * mm, TEXT_W - 50 * mm], st)]
    out += [
        _p("Sampling", st["h3"]),
        _p(f"Frames are sampled from each clip at {', '.join(m.sampling)} (temporal smoothing: {', '.join(m.smoothing)}); "
           "each sampled frame becomes one row of measurements. Pixels and images never reach the database, only numbers "
           "(and small anonymised previews when asked for).", st["body"]),
        _p("How the intervals are computed", st["h3"]),
        _p(m.intervals, st["body"]),
        _p("Thresholds and heuristics", st["h3"]),
        _bullets(m.thresholds, st["body"]),
        _p("Known weaknesses of the model", st["h3"]),
        _bullets(m.weaknesses, st["body"]),
    ]
    if m.glossary:
        out += [_p("Glossary", st["h3"]), _bullets(m.glossary, st["body"])]
    return out


def story(c: ReportContent) -> list[Flowable]:
    """All flowables of the report, in order."""
    st = _styles()
    out = _title(c, st)
    if c.has_data:  # without footage there is nothing to summarise: the box under the title says so
        out += _summary(c, st) + _map(c, st) + _patterns(c, st) + _cameras(c, st) + _counts(c, st) + _damage(c, st)
    out += _coverage(c, st) + _methods(c, st) + _sources(c, st)  # summary first; sources and model hashes in the appendix
    return out


def _canvas_class(footer: str, font: str) -> type[canvas.Canvas]:
    class NumberedCanvas(canvas.Canvas):
        """Defers pages so that each footer can say 'page x of y'."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 7.5)
                self.setFillColor(MUTED)
                self.setStrokeColor(GRID)
                self.line(MARGIN, 12 * mm, A4[0] - MARGIN, 12 * mm)
                self.drawString(MARGIN, 8 * mm, footer)
                self.drawRightString(A4[0] - MARGIN, 8 * mm, f"page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


class _Doc(SimpleDocTemplate):
    """Adds a PDF outline (bookmarks) entry for every section heading."""

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 (reportlab's name)
        if isinstance(flowable, Paragraph) and flowable.style.name in ("h2", "title"):
            text = flowable.getPlainText()
            key = f"s{id(flowable)}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(text, key, level=0 if flowable.style.name == "title" else 1)


def render_pdf(content: ReportContent) -> bytes:
    """The report as PDF bytes (A4 portrait)."""
    body_font = _fonts()[0]
    buf = io.BytesIO()
    doc = _Doc(
        buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=15 * mm, bottomMargin=18 * mm,
        title=f"{content.title}, {content.period_text}", author="UrbanLens", subject="Street-level city indicators",
        creator=f"UrbanLens {content.version}",
    )
    footer = f"UrbanLens · {content.title} · {content.period_heading}"
    doc.build(story(content), canvasmaker=_canvas_class(footer, body_font))
    return buf.getvalue()


def write_pdf(content: ReportContent, path: str | Path) -> Path:
    """Write the PDF report to ``path`` (folders are created); returns the path."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    data = render_pdf(content)
    tmp = p.with_name(p.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(p)
    return p
