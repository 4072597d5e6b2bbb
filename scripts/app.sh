#!/usr/bin/env bash
# Set up the environment and start the app at http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
# The server starts at once; a background thread loads the first view's programs meanwhile (ui/serve.py).
exec .venv/bin/python -m ui.serve "$@"
