#!/usr/bin/env bash
# Set up the environment and start the app at http://localhost:8501 (extra arguments go to `streamlit run`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
echo "Starting the app: open http://localhost:8501 in a browser (Ctrl+C stops it)."
# The server starts at once; a background thread loads the first view's programs meanwhile (ui/serve.py).
exec .venv/bin/python -m ui.serve "$@"
