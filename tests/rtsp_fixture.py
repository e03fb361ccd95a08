"""The ``rtsp_url`` fixture: a sample clip served live over RTSP on 127.0.0.1 (tests/rtsp_server.py).

Use it with ``from rtsp_fixture import rtsp_url  # noqa: F401`` in a test module. It skips, saying
why, where the system Python or GStreamer's RTSP server is missing (``scripts/test.sh`` installs
Debian's packages where it runs as root). The server lives as long as the test module; each
connection gets the stream from the start of the clip (640×360 Motion JPEG at 10 frames a second,
the 30-second clip 4 times in a row: 2 minutes).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RTSP_FPS", "RTSP_SIZE", "SYSTEM_PYTHON", "rtsp_url", "start_rtsp_server", "stop_rtsp_server"]

SYSTEM_PYTHON = Path("/usr/bin/python3")
"""The interpreter with PyGObject (Debian's python3-gi); the project's virtual environment has none."""
SERVER = Path(__file__).with_name("rtsp_server.py")
RTSP_SIZE = (640, 360)
RTSP_FPS = 10
INSTALL = ("apt-get install -y gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
           "gstreamer1.0-plugins-bad gstreamer1.0-libav")


def _skip_reason() -> str | None:
    """Why no RTSP server can run here, or None."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing (the RTSP test server runs on the system Python with PyGObject)"
    check = subprocess.run([str(SYSTEM_PYTHON), str(SERVER), "--check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        return f"{check.stderr.strip() or 'GStreamer RTSP server unavailable'} ({INSTALL})"
    return None


def start_rtsp_server(clip: Path, *extra: str, timeout_s: float = 30.0) -> tuple[subprocess.Popen[str], str]:
    """Start tests/rtsp_server.py on ``clip`` (``extra``: more of its flags); returns the process and its URL."""
    with tempfile.TemporaryFile(mode="w+") as log:  # its warnings go to a file (the child keeps it open): a full pipe never blocks it
        proc = subprocess.Popen([str(SYSTEM_PYTHON), str(SERVER), "--clip", str(clip), *extra], stdout=subprocess.PIPE,
                                stderr=log, text=True)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = first[0].strip() if first else ""
    if not line.startswith("READY "):
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"the RTSP test server did not start (exit {proc.returncode}): {line or 'no READY line'}")
    return proc, line.split(" ", 1)[1]


@pytest.fixture(scope="module")
def rtsp_url() -> Iterator[str]:
    """``rtsp://127.0.0.1:<port>/cam``: ../shared/samples/car-detection.mp4 at 640×360, 10 frames a second."""
    clip = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "car-detection.mp4"
    if not clip.exists():
        pytest.skip(f"sample clip {clip} is missing")
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    proc, url = start_rtsp_server(clip, "--size", f"{RTSP_SIZE[0]}x{RTSP_SIZE[1]}", "--fps", str(RTSP_FPS))
    try:
        yield url
    finally:
        stop_rtsp_server(proc)


def stop_rtsp_server(proc: subprocess.Popen[str]) -> None:
    """Stop a server of :func:`start_rtsp_server` (SIGTERM, then SIGKILL after 10 s) and close its pipes."""
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
