#!/usr/bin/env bash
# Set everything up and open the dashboard: your data, or the demo city (built into $URBANLENS_HOME/demo.duckdb on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/urbanlens dashboard "$@"
