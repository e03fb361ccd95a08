"""Live watch benchmark: capture-to-store lag, memory over time and frames dropped while following a live stream.

One ``urbanlens watch`` process (the real command, default segmenter and road model, the default detector)
follows a 640x360 live HLS stream (``--clip``, default car-detection.mp4, looped; 10 frames/s in 2-s
segments, encoded live by :class:`tests.streams.LiveHls` in this process and served on 127.0.0.1) at 1
segmented + 10 tracked frames a second, counting on a line across the middle, for ``--minutes``
(default 30), in chunks of ``--chunk-minutes`` (default 1). Printed at the end:

- lag per chunk (store time minus capture time of the chunk's last frame, from the command's lines):
  median and max, and the first and last five;
- the watch process's resident memory (``VmRSS``, sampled every 10 s): at the start, median, max, and
  the slope of a least-squares line through the samples after the first chunk was stored, and through the
  second half of them (MB per hour; flat memory is a slope near 0), and the samples minute by minute;
- frames dropped and chunks stored (the health row), and the load average before and after (the machine
  is shared: a figure means something only beside its load). Asserts nothing about time. Usage::

    nice .venv/bin/python bench/watch_bench.py [--minutes 30] [--clip car-detection.mp4] [--chunk-minutes 1]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.models.zoo import install, install_detector, install_road  # noqa: E402
from analytics.settings import load_settings  # noqa: E402
from analytics.store import open_store  # noqa: E402
from analytics.store.health import watch_health  # noqa: E402
from tests.streams import LiveHls  # noqa: E402

SHARED = REPO.parent / "shared"
SIZE = (640, 360)
LINE = {"zone": "mid", "role": "line", "polygon_json": "[[0, 200], [640, 200]]", "in_label": "in", "out_label": "out",
        "drawn_width": SIZE[0], "drawn_height": SIZE[1]}
_LAG = re.compile(r"lag (-?[0-9.]+) s")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _prepare(root: Path) -> Path:
    db = root / "bench.duckdb"
    with open_store(db) as store:
        store.upsert_cameras(pd.DataFrame([{"camera_id": "bench", "name": "bench", "lon": 4.9, "lat": 52.37, "kind": "fixed"}]))
        store.set_zones("bench", pd.DataFrame([LINE]))
    return db


def _install(home: Path) -> None:
    """The default segmenter, road model and detector installed before the watch starts (not timed)."""
    os.environ["URBANLENS_HOME"] = str(home)
    os.environ["URBANLENS_MODEL_MIRROR"] = str(SHARED / "models")
    settings = load_settings()
    install(settings.default_model, settings)
    install_road("road-segmentation-adas-0001", settings)
    install_detector("deimv2-femto", settings)


def _follow(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        print(f"  [{datetime.now():%H:%M:%S}] {line.rstrip()}", flush=True)


def _slope_mb_per_h(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) over time (hours)."""
    if len(samples) < 3:
        return float("nan")
    t = np.array([s[0] for s in samples]) / 3600.0
    m = np.array([s[1] for s in samples])
    return float(np.polyfit(t, m, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--clip", default="car-detection.mp4")
    ap.add_argument("--chunk-minutes", type=float, default=1.0)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    db = _prepare(root)
    _install(root / "home")
    load_before = _load()
    with LiveHls(SHARED / "samples" / args.clip, root / "hls", size=SIZE, fps=10, segment_s=2.0, window=6, frames=150) as live:
        env = {**os.environ, "URBANLENS_HOME": str(root / "home"), "URBANLENS_MODEL_MIRROR": str(SHARED / "models")}
        cmd = [str(REPO / ".venv" / "bin" / "urbanlens"), "watch", "--camera", "bench", "--url", live.url, "--db", str(db),
               "--fps", "1", "--track-fps", "10", "--chunk-minutes", str(args.chunk_minutes)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        lines: list[str] = []
        threading.Thread(target=_follow, args=(proc, lines), daemon=True).start()
        t0 = time.monotonic()
        samples: list[tuple[float, float, int]] = []  # (seconds, MB, chunks stored by then)
        while time.monotonic() - t0 < args.minutes * 60 and proc.poll() is None:
            rss = _rss_mb(proc.pid)
            if rss is not None:
                samples.append((time.monotonic() - t0, rss, sum(x.startswith("stored ") for x in lines)))
            time.sleep(10)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    _report(db, lines, samples, load_before)


def _report(db: Path, lines: list[str], samples: list[tuple[float, float, int]], load_before: str) -> None:
    lags = [float(m.group(1)) for x in lines if x.startswith("stored ") and (m := _LAG.search(x))]
    warm = [(t, mb) for t, mb, n in samples if n >= 1]
    mbs = [mb for _, mb, _ in samples]
    with open_store(db, read_only=True) as store:
        row = watch_health(store, datetime.now(UTC).replace(tzinfo=None)).iloc[0]
    print("\n== watch bench")
    print(f"chunks stored {row['chunks_stored']}, frames stored {row['frames_stored']}, frames dropped {row['frames_dropped']}, "
          f"reconnects {row['reconnects']}")
    if lags:
        print(f"lag per chunk (s): median {statistics.median(lags):.1f}, max {max(lags):.1f}; first {lags[:5]}, last {lags[-5:]}")
    if mbs:
        print(f"RSS (MB): start {mbs[0]:.0f}, median {statistics.median(mbs):.0f}, max {max(mbs):.0f}, "
              f"slope after the first chunk {_slope_mb_per_h(warm):+.1f} MB/h over {len(warm)} samples, "
              f"over the second half {_slope_mb_per_h(warm[len(warm) // 2:]):+.1f} MB/h")
        print("RSS (MB) every minute: " + " ".join(f"{mb:.0f}" for _, mb, _ in samples[::6]))
    print(f"load average before: {load_before}; after: {_load()}")


if __name__ == "__main__":
    main()
