"""Make the dashboard screenshots in docs/images/: one per page (dashboard_overview.png,
dashboard_explore.png, dashboard_camera.png, dashboard_reports.png, dashboard_upload.png for
Analyse footage, dashboard_data.png) and the first page of a district report (report_page1.png).

    URBANLENS_MODEL_MIRROR=../shared/models/espnetv2 .venv/bin/python scripts/readme_screenshots.py

Builds the demo city into a temporary URBANLENS_HOME (as ``urbanlens demo`` does: demo.duckdb,
no database of one's own, so the dashboard opens the demo city), installs the default model
(from the mirror when set), starts ``streamlit run`` on 127.0.0.1, drives Debian's chromium with
Playwright at 1440x900 and saves each page's first screen as a palette PNG. On Analyse footage
it uploads ``../shared/samples/bikes.mp4``, confirms its start time, types the new camera's
position (a new camera has none by default), runs the analysis and shows the result with its
frame scrubber. The report is ``urbanlens report --district Harbour`` over the demo's last week, as PDF, its first page
drawn by poppler's ``pdftoppm`` (skipped with a note when it is missing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from analytics.demo.city import DEMO_DAYS, DEMO_START, build_demo
from analytics.models import zoo
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboard" / "app.py"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 900}
PAGES = (("", "City overview", "dashboard_overview.png"), ("explore", "Explore indicators", "dashboard_explore.png"),
         ("camera", "Camera", "dashboard_camera.png"), ("reports", "Reports", "dashboard_reports.png"),
         ("data", "Data", "dashboard_data.png"))
"""(url path, page title, image file) of the pages shown as they open; Analyse footage is :func:`_analyse`."""
CAMERA_POSITION = (("Latitude", "52.370200"), ("Longitude", "4.895200"))
"""Where the sample clip's new camera is placed (typed, as a user would)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _save(src: Path, dest: Path) -> None:
    """Save ``src`` as a 256-colour PNG (the size of the screen, not scaled)."""
    im = Image.open(src).convert("RGB")
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest, optimize=True)
    print(f"{dest}: {im.width}x{im.height}, {dest.stat().st_size / 1e3:.0f} KB", flush=True)


def _settled(page: Any, title: str, draw_s: float = 3.0) -> None:
    """Wait for the page's heading, for Streamlit to stop running the script, then ``draw_s`` for plotly to draw."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=120000)
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=300000)
    page.locator('[data-testid="stSkeleton"]').first.wait_for(state="detached", timeout=120000)
    page.wait_for_timeout(draw_s * 1000)


def _analyse(page: Any, url: str, clip: Path) -> None:
    """Analyse footage with ``clip`` analysed, scrolled to its result."""
    page.goto(f"{url}/analyse")
    _settled(page, "Analyse footage", 1.0)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(clip))
    page.get_by_text("This start time is right").wait_for(timeout=60000)
    page.get_by_text("This start time is right").click()
    _settled(page, "Analyse footage", 0.5)
    page.get_by_role("textbox", name="Name", exact=True).fill("Bike street (sample clip)")
    page.keyboard.press("Enter")
    _settled(page, "Analyse footage", 0.5)
    for label, value in CAMERA_POSITION:
        page.get_by_role("spinbutton", name=label).fill(value)
        page.keyboard.press("Enter")
        _settled(page, "Analyse footage", 0.5)
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Result ·").wait_for(timeout=600000)
    _settled(page, "Analyse footage", 1.0)
    slider = page.locator('[data-testid="stSlider"]', has_text="Sampled frame shown").get_by_role("slider")
    slider.focus()
    for _ in range(4):  # a frame a few seconds in, with the timeline's marker off its start
        page.keyboard.press("ArrowRight")
        _settled(page, "Analyse footage", 0.3)
    page.mouse.move(5, 5)
    page.get_by_role("heading", name="Result · bikes.mp4").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(2000)


def _report_page(out: Path, work: Path) -> None:
    """The first page of the demo city's Harbour report (PDF) as a PNG, 100 dots per inch."""
    if shutil.which("pdftoppm") is None:
        print("pdftoppm (poppler-utils) is missing: report_page1.png is not refreshed", flush=True)
        return
    pdf = work / "harbour.pdf"
    week = [DEMO_START + timedelta(days=DEMO_DAYS - 7), DEMO_START + timedelta(days=DEMO_DAYS - 1)]  # compared with the week before
    subprocess.run([sys.executable, "-m", "analytics.cli", "report", "--district", "Harbour", "--db", os.environ["URBANLENS_DEMO_DB"],
                    "--from", week[0].isoformat(), "--to", week[1].isoformat(), "--out", str(pdf)], check=True, cwd=str(REPO))
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(work / "report")], check=True)
    _save(work / "report.png", out / "report_page1.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "samples" / "bikes.mp4")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    # deferred: Playwright is an optional test dependency (the "test" extra); --help works without it
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="urbanlens-shots-"))
    home = work / "home"
    os.environ["URBANLENS_HOME"] = str(home)
    os.environ.pop("URBANLENS_DB", None)  # no database named: the dashboard opens the demo city and offers the switch
    os.environ["URBANLENS_DEMO_DB"] = str(home / "demo.duckdb")
    build_demo(home / "demo.duckdb")
    settings = load_settings()
    zoo.install(settings.default_model, settings)
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.address", "127.0.0.1",
           "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=str(APP.parent), env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            for slug, title, name in PAGES:
                page.goto(f"{url}/{slug}")
                _settled(page, title)
                page.screenshot(path=str(work / name))
                _save(work / name, args.out / name)
            _analyse(page, url, args.clip)
            page.screenshot(path=str(work / "upload.png"))
            _save(work / "upload.png", args.out / "dashboard_upload.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    _report_page(args.out, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
