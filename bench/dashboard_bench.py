"""Time the script run of every dashboard page with AppTest, on the demo city and on a 1,000,000-frame city.

    .venv/bin/python bench/dashboard_bench.py                    # builds both databases under /tmp if absent
    .venv/bin/python bench/dashboard_bench.py --big PATH --repeat 7 --json out.json

For each page: ``cold`` runs clear ``st.cache_data`` first (every query runs, each cached query on a
short-lived read-only connection, as in a running dashboard), ``warm`` runs reuse the cached query results (what a person
sees when moving between pages). Reports medians. Goal: every page under 1.5 s at 1,000,000 frames.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import streamlit as st
from _timing import measure
from streamlit.testing.v1 import AppTest

from analytics.demo.city import build_demo
from analytics.store import Store

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "dashboard" / "app.py")
PAGES = ["views/overview.py", "views/explore.py", "views/camera.py", "views/reports.py", "views/analyse.py", "views/data.py"]
GOAL_S = 1.5


def ensure_db(path: Path, days: int) -> int:
    """Build the demo city with ``days`` days into ``path`` unless it exists; returns its frame count."""
    if not path.exists():
        print(f"building {path} ({days} days of the synthetic demo city)…", flush=True)
        summary = build_demo(path, days=days)
        print(f"  {summary.frames:,} frames in {summary.seconds:.0f} s", flush=True)
    with Store(path, read_only=True) as s:
        return int(s.scalar("SELECT count(*) FROM frames WHERE active"))


def time_pages(db: Path, repeat: int, period: str) -> dict[str, dict[str, float]]:
    """Median cold and warm script-run seconds per page on database ``db`` with the sidebar ``period``."""
    os.environ["URBANLENS_DB"] = str(db)
    out: dict[str, dict[str, float]] = {}
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()  # first run: imports, connection
        at.radio(key="period_choice").set_value(period)
        if page != PAGES[0]:
            at.switch_page(page)
        cold = measure(at.run, repeat, warmup=0, setup=st.cache_data.clear)
        if at.exception:
            print(f"  {period:12s} {page:22s} FAILS: {at.exception[0].message.splitlines()[0]}", flush=True)
            continue
        warm = measure(at.run, repeat, warmup=0)
        out[page] = {"cold_s": cold.median, "warm_s": warm.median}
        print(f"  {period:12s} {page:22s} cold {out[page]['cold_s']:.3f} s   warm {out[page]['warm_s']:.3f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=Path("/tmp/urbanlens-bench/demo.duckdb"))
    ap.add_argument("--big", type=Path, default=Path("/tmp/urbanlens-bench/big.duckdb"))
    ap.add_argument("--big-days", type=int, default=295, help="days of demo data for the big database (295 ≈ 1,000,000 frames)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("URBANLENS_HOME", str(args.big.parent / "home"))
    results: dict[str, dict[str, object]] = {}
    for label, path, days in (("demo", args.demo, 14), ("1M", args.big, args.big_days)):
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = ensure_db(path, days)
        print(f"{label}: {path} ({frames:,} frames), median of {args.repeat} runs", flush=True)
        results[label] = {"frames": frames}
        for period in ("Last 7 days", "All data"):
            results[label][period] = time_pages(path, args.repeat, period)
    worst = max(v["cold_s"] for p in ("Last 7 days", "All data") for v in results["1M"][p].values())  # type: ignore[attr-defined]
    verdict = "meets" if worst < GOAL_S else "MISSES"
    print(f"slowest page at {results['1M']['frames']:,} frames: {worst:.3f} s cold ({verdict} the {GOAL_S} s goal)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if worst < GOAL_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
