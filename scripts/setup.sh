#!/usr/bin/env bash
# Create .venv in the repository (Python 3.11+) and install UrbanLens into it.
# Usage: bash scripts/setup.sh [--test]   (--test adds the test and lint tools and Ray)
# pip runs only when something changed: the stamp .venv/.urbanlens-setup records the SHA-256 of
# pyproject.toml, the extras and the Python version of the last install that succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "UrbanLens needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras=""
if [ "${1:-}" = "--test" ]; then extras="[test,cluster]"; fi  # cluster: Ray, for tests/test_ray.py
stamp_file=.venv/.urbanlens-setup
stamp="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version.split()[0], sys.argv[1])' "${extras:-base}")"
# A test install covers a plain one; the package must still import from this folder.
if [ -f "$stamp_file" ] && { grep -qxF "$stamp" "$stamp_file" || { [ -z "$extras" ] && grep -qF "$(echo "$stamp" | cut -d' ' -f1,2) [test,cluster]" "$stamp_file"; }; } \
   && .venv/bin/python -c 'import analytics, pathlib, sys; sys.exit(0 if pathlib.Path(analytics.__file__).resolve().parent == pathlib.Path("analytics").resolve() else 1)' 2>/dev/null; then
  echo "UrbanLens is installed in .venv and up to date (pyproject.toml unchanged); pip skipped."
  exit 0
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
echo "$stamp" > "$stamp_file"
