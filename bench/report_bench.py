"""Report benchmark: seconds per district / city report, as PDF and as HTML, on the demo city.

Prints figures; asserts nothing about time (this machine is shared and noisy). Each stage is shown
beside a baseline measured in the same run: the raw indicator queries a report needs
(``indicators.compute`` for the area, the city, the previous period, by hour, by day, by camera and
by district), so the ratio says how much the report adds on top of querying. Usage::

    .venv/bin/python bench/report_bench.py [--repeat 5] [--days 14] [--db PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import date, timedelta
from pathlib import Path

from _timing import measure

from analytics.demo import DEMO_START, build_demo
from analytics.indicators import HEADLINE, compute
from analytics.periods import previous_period
from analytics.reports import build_report
from analytics.reports.content import CAMERA_INDICATORS, PATTERN_INDICATORS
from analytics.reports.html import render_html
from analytics.reports.pdf import render_pdf
from analytics.settings import load_settings
from analytics.store import Store


def _raw_queries(store: Store, area: str | None, start: date, end: date) -> None:
    """The indicator queries behind one report, and nothing else."""
    d = [area] if area else None
    mf = load_settings().min_frames
    p0, p1 = previous_period(start, end)
    compute(store, "city", list(HEADLINE), start, end, districts=d, min_frames=mf)
    compute(store, "city", list(HEADLINE), start, end, min_frames=mf)
    compute(store, "city", list(HEADLINE), p0, p1, districts=d, min_frames=mf)
    compute(store, "hour", list(PATTERN_INDICATORS), start, end, districts=d, min_frames=mf)
    compute(store, "day", list(PATTERN_INDICATORS), start, end, districts=d, min_frames=mf)
    compute(store, "camera", list(CAMERA_INDICATORS), start, end, districts=d, min_frames=mf)
    compute(store, "district", [HEADLINE[0]], start, end, min_frames=mf)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--days", type=int, default=14, help="days of demo data (14 is the demo city)")
    ap.add_argument("--db", type=Path, default=None, help="reuse/keep the demo database here")
    args = ap.parse_args()

    path = args.db or Path(tempfile.mkdtemp()) / "demo.duckdb"
    if not path.exists():
        build_demo(path, days=args.days)
    start, end = DEMO_START, DEMO_START + timedelta(days=args.days - 1)
    with Store(path, read_only=True) as store:
        frames = store.scalar("SELECT count(*) FROM frames WHERE active")
        print(f"demo city: {frames:,} frames, {start} – {end}; median of {args.repeat} runs each\n")
        print(f"{'area':<10} {'queries':>8} {'content':>8} {'PDF':>7} {'HTML':>7} {'PDF total':>10} {'HTML total':>11} "
              f"{'PDF/queries':>12}")
        rows = []
        mf = load_settings().min_frames
        for area in (None, "old-town", "harbour"):
            # one warm-up run each (imports, fonts, plotly bundle), then the median of --repeat runs
            q = measure(lambda a=area: _raw_queries(store, a, start, end), args.repeat).median
            c = measure(lambda a=area, mf=mf: build_report(store, a, start, end, min_frames=mf), args.repeat).median
            content = build_report(store, area, start, end, min_frames=mf)
            p = measure(lambda c_=content: render_pdf(c_), args.repeat).median
            h = measure(lambda c_=content: render_html(c_), args.repeat).median
            rows.append((c + p, c + h))
            print(f"{area or 'city':<10} {q:>7.2f}s {c:>7.2f}s {p:>6.2f}s {h:>6.2f}s {c + p:>9.2f}s {c + h:>10.2f}s "
                  f"{(c + p) / q:>11.1f}x")
        print(f"\nmedian seconds per report: PDF {statistics.median(r[0] for r in rows):.2f} s, "
              f"HTML {statistics.median(r[1] for r in rows):.2f} s (content gathered once per report, included in both)")


if __name__ == "__main__":
    main()
