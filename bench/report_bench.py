"""Report benchmark: seconds per district / city report, as PDF and as HTML, on the demo city.

A long-period row times a city report over eight years of sparse footage (the demo city's
cameras, a few clips every few days, built by :func:`build_long`): report time must grow
linearly with the period (goal: the HTML report in under 10 s).

Prints figures; asserts nothing about time (this machine is shared and noisy). Each stage is shown
beside a baseline measured in the same run: the raw indicator queries a report needs
(``indicators.compute`` for the area, the city, the previous period, by hour, by day, by camera and
by district), so the ratio says how much the report adds on top of querying. Usage::

    .venv/bin/python bench/report_bench.py [--repeat 5] [--days 14] [--db PATH] [--years 8] [--long-db PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from _timing import measure

from analytics.demo.city import DEMO_CLASS_SET, DEMO_MODEL, DEMO_START, SAMPLE_FPS, build_demo, demo_cameras, demo_clip_measurements, demo_districts
from analytics.indicators import HEADLINE, compute
from analytics.periods import previous_period
from analytics.records import RunInfo
from analytics.reports import build_report
from analytics.reports.content import CAMERA_INDICATORS, PATTERN_INDICATORS
from analytics.reports.html import render_html
from analytics.reports.pdf import render_pdf
from analytics.selection import Selection
from analytics.settings import load_settings
from analytics.store import Store

LONG_EVERY_DAYS = 3
"""The long-period store has footage on every third day ..."""
LONG_CLIPS_PER_DAY = 4
"""... from four fixed cameras (one clip each, at a rotating hour)."""


def _raw_queries(store: Store, area: str | None, start: date, end: date) -> None:
    """The indicator queries behind one report, and nothing else."""
    d = [area] if area else None
    mf = load_settings().min_frames
    p0, p1 = previous_period(start, end)
    compute(store, Selection(start=start, end=end, districts=d, min_frames=mf), "city", list(HEADLINE))
    compute(store, Selection(start=start, end=end, min_frames=mf), "city", list(HEADLINE))
    compute(store, Selection(start=p0, end=p1, districts=d, min_frames=mf), "city", list(HEADLINE))
    compute(store, Selection(start=start, end=end, districts=d, min_frames=mf), "hour", list(PATTERN_INDICATORS))
    compute(store, Selection(start=start, end=end, districts=d, min_frames=mf), "day", list(PATTERN_INDICATORS))
    compute(store, Selection(start=start, end=end, districts=d, min_frames=mf), "camera", list(CAMERA_INDICATORS))
    compute(store, Selection(start=start, end=end, min_frames=mf), "district", [HEADLINE[0]])


def build_long(path: Path, years: int, seed: int = 11) -> tuple[date, date]:
    """A store of the demo city with sparse footage over ``years`` years ending on the demo's first day.

    Every :data:`LONG_EVERY_DAYS` th day, :data:`LONG_CLIPS_PER_DAY` fixed cameras record one
    synthetic clip each: about 1,000 days with data spread over the whole period.
    """
    rng = np.random.default_rng(seed)
    end = DEMO_START
    start = date(end.year - years, end.month, end.day)
    run = RunInfo(DEMO_MODEL, hashlib.sha256(b"urbanlens synthetic demo model").hexdigest(), DEMO_CLASS_SET,
                  f"fps={SAMPLE_FPS}", "off", params={"demo_seed": seed})
    with Store(path) as store:
        store.upsert_districts(demo_districts())
        store.upsert_cameras(demo_cameras(rng))
        cams = [c for c in store.cameras().to_dict("records") if c["kind"] != "mobile"]
        for cam in cams:
            cam["look"] = {k: 1.0 for k in ("road", "sidewalk", "built", "vegetation", "terrain", "sky", "traffic", "peds", "damage")}
        batch = []
        for i, d in enumerate(range(0, (end - start).days + 1, LONG_EVERY_DAYS)):
            day = start + timedelta(days=d)
            for j in range(LONG_CLIPS_PER_DAY):
                cam = cams[(i * LONG_CLIPS_PER_DAY + j) % len(cams)]
                when = datetime.combine(day, datetime.min.time()).replace(hour=7 + (i + 3 * j) % 14)
                batch.append(demo_clip_measurements(rng, cam, str(cam["district_id"] or "old-town"), when, 1.0, run))
            if len(batch) >= 400:
                store.ingest(batch)
                batch = []
        if batch:
            store.ingest(batch)
    return start, end


def long_row(path: Path, years: int, repeat: int) -> None:
    """Time content, PDF and HTML of the city report over the whole long-period store."""
    if not path.exists():
        t0 = time.perf_counter()
        build_long(path, years)
        print(f"built {years}-year store in {time.perf_counter() - t0:.1f} s")
    mf = load_settings().min_frames
    with Store(path, read_only=True) as store:
        frames = store.scalar("SELECT count(*) FROM frames WHERE active")
        c = measure(lambda: build_report(store, Selection(start=None, end=None, min_frames=mf), None), repeat).median
        content = build_report(store, Selection(start=None, end=None, min_frames=mf), None)
    p = measure(lambda: render_pdf(content), repeat).median
    h = measure(lambda: render_html(content), repeat).median
    print(f"{'city ' + str(years) + 'y':<10} {'':>8} {c:>7.2f}s {p:>6.2f}s {h:>6.2f}s {c + p:>9.2f}s {c + h:>10.2f}s "
          f"  ({frames:,} frames, {content.period_text})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--days", type=int, default=14, help="days of demo data (14 is the demo city)")
    ap.add_argument("--db", type=Path, default=None, help="reuse/keep the demo database here")
    ap.add_argument("--years", type=int, default=8, help="length of the long-period row (0: leave it out)")
    ap.add_argument("--long-db", type=Path, default=None, help="reuse/keep the long-period database here")
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
            c = measure(lambda a=area, mf=mf: build_report(store, Selection(start=start, end=end, min_frames=mf), a), args.repeat).median
            content = build_report(store, Selection(start=start, end=end, min_frames=mf), area)
            p = measure(lambda c_=content: render_pdf(c_), args.repeat).median
            h = measure(lambda c_=content: render_html(c_), args.repeat).median
            rows.append((c + p, c + h))
            print(f"{area or 'city':<10} {q:>7.2f}s {c:>7.2f}s {p:>6.2f}s {h:>6.2f}s {c + p:>9.2f}s {c + h:>10.2f}s "
                  f"{(c + p) / q:>11.1f}x")
    if args.years > 0:
        long_row(args.long_db or Path(tempfile.mkdtemp()) / "long.duckdb", args.years, args.repeat)
    print(f"\nmedian seconds per report: PDF {statistics.median(r[0] for r in rows):.2f} s, "
              f"HTML {statistics.median(r[1] for r in rows):.2f} s (content gathered once per report, included in both)")


if __name__ == "__main__":
    main()
