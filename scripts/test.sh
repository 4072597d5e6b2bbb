#!/usr/bin/env bash
# Set up the environment (with Debian's Chromium for the browser test) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser test..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Two worker processes (pytest-xdist), each test file whole in one of them: the suite takes about half
# the time on two cores, and each process holds only its half of XLA's compiled programs (every one
# keeps memory maps of its own, and the kernel caps a process's maps). TEST_WORKERS=0 runs it in one.
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
