#!/usr/bin/env bash
# Set everything up and open the dashboard on the demo city (built on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/urbanlens dashboard "$@"
