"""Make the README's dashboard screenshots (docs/images/dashboard_overview.png, dashboard_upload.png).

    URBANLENS_MODEL_MIRROR=../shared/models/espnetv2 .venv/bin/python scripts/readme_screenshots.py

Builds the demo city into a temporary folder, installs the default model (from the mirror when
set), starts ``streamlit run`` on 127.0.0.1, drives Debian's chromium with Playwright, analyses
``../shared/samples/bikes.mp4`` on the upload page, and saves small palette PNGs (< 400 KB).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from analytics.demo import build_demo
from analytics.models import zoo
from analytics.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboard" / "app.py"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shrink(src: Path, dest: Path, width: int, crop: tuple[int, int, int, int] | None = None) -> None:
    """Crop to ``crop`` (left, top, right, bottom), scale to ``width`` and save as a 256-colour PNG."""
    im = Image.open(src).convert("RGB")
    if crop:
        im = im.crop((crop[0], crop[1], min(crop[2], im.width), min(crop[3], im.height)))
    im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest, optimize=True)
    print(f"{dest}: {dest.stat().st_size / 1e3:.0f} KB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "samples" / "bikes.mp4")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    # deferred: Playwright is an optional test dependency (the "test" extra); --help works without it
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="urbanlens-shots-"))
    os.environ["URBANLENS_HOME"] = str(work / "home")
    os.environ["URBANLENS_DB"] = str(work / "demo.duckdb")
    build_demo(work / "demo.duckdb")
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
            page = browser.new_page(viewport={"width": 1440, "height": 1180})
            page.goto(url)
            page.get_by_role("heading", name="City overview").wait_for(timeout=60000)
            page.wait_for_timeout(4000)
            page.screenshot(path=str(work / "overview.png"))
            _shrink(work / "overview.png", args.out / "dashboard_overview.png", 1100)

            page.set_viewport_size({"width": 1440, "height": 2300})
            page.goto(f"{url}/analyse")
            page.get_by_role("heading", name="Analyse footage").wait_for(timeout=60000)
            page.wait_for_timeout(1500)
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(args.clip))
            page.wait_for_timeout(2500)
            page.get_by_text("A new camera").click()
            page.wait_for_timeout(1500)
            page.get_by_role("textbox", name="Name", exact=True).fill("Bike street (sample clip)")
            page.keyboard.press("Enter")
            page.wait_for_timeout(2000)
            for label, value in (("Latitude", "42.0"), ("Longitude", "-35.0")):  # a new camera has no default position
                page.get_by_role("spinbutton", name=label).fill(value)
                page.keyboard.press("Enter")
                page.wait_for_timeout(1500)
            page.get_by_text("This start time is right").click()
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Analyse").click()
            page.get_by_text("Result ·").wait_for(timeout=300000)
            page.wait_for_timeout(4000)
            page.screenshot(path=str(work / "upload.png"))
            top = int(page.get_by_text("3 · Model and sampling").bounding_box()["y"]) - 20  # type: ignore[index]
            bottom = int(page.get_by_role("button", name="Discard").bounding_box()["y"]) + 60  # type: ignore[index]
            _shrink(work / "upload.png", args.out / "dashboard_upload.png", 1100, crop=(300, top, 1440, bottom))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
