#!/usr/bin/env bash
# Set everything up and run the whole test suite: ruff, mypy, pytest (browser test included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The real-browser test drives Debian's chromium; install it where it is missing and we may.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser test..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser test will be skipped" >&2
  else
    echo "warning: chromium is not installed (apt-get install chromium); the browser test will be skipped" >&2
  fi
fi
# The live-stream tests serve a sample clip over RTSP with Debian's GStreamer RTSP server (tests/rtsp_server.py, system Python).
if ! /usr/bin/python3 tests/rtsp_server.py --check >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's GStreamer RTSP server for the live-stream tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gir1.2-gst-rtsp-server-1.0 \
      python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav >/dev/null) \
      || echo "warning: could not install GStreamer's RTSP server; the RTSP tests will be skipped" >&2
  else
    echo "warning: GStreamer's RTSP server is not installed (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi" \
      "gstreamer1.0-plugins-{base,good,bad} gstreamer1.0-libav); the RTSP tests will be skipped" >&2
  fi
fi
if ! command -v pdftoppm >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null 2>&1 || true
fi
echo "== ruff"
.venv/bin/ruff check analytics dashboard tests bench scripts
echo "== mypy (analytics/)"
.venv/bin/mypy analytics
# Two worker processes (pytest-xdist), each test file whole on one worker so its module fixtures are built once;
# URBANLENS_TEST_WORKERS=0 runs everything in this process.
workers="${URBANLENS_TEST_WORKERS:-2}"
echo "== pytest on $workers worker(s) (-rs: why each skipped test was skipped)"
if [ "$workers" = "0" ]; then
  .venv/bin/python -m pytest -rs "$@"
else
  .venv/bin/python -m pytest -rs -n "$workers" --dist loadfile "$@"
fi
