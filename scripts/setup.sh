#!/usr/bin/env bash
# Create .venv (if missing), install the pinned requirements file given as $1, and fetch plotly.js's
# cartesian bundle into static/ once (scripts/fetch_plotly_cartesian.py pins it).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv/ ..."
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(basename "$requirements")"
if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  echo "Installing the pinned packages of $requirements into .venv/ (the first time: a minute or more, depending on the network) ..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$requirements"
  touch "$stamp"
fi
# The 2-D charts load it instead of the full plotly.js; without a network every chart loads the full one.
.venv/bin/python scripts/fetch_plotly_cartesian.py || true
