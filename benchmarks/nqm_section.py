"""The Eigenspace page's batch-size section on the page's slider path: how much of a rerun it takes
when a control outside it moves (gradient descent's learning rate), measured with Streamlit's AppTest
in one process. Each rerun's total and the section's own share, in seconds, medians of ``--moves``.

Run:  PYTHONPATH=. .venv/bin/python benchmarks/nqm_section.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

import ui.nqm

PAGE = Path(__file__).resolve().parent.parent / "pages" / "eigenspace.py"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    section, shares = ui.nqm.section, []

    def timed(view):
        start = time.perf_counter()
        section(view)
        shares.append(time.perf_counter() - start)

    ui.nqm.section = timed
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.run()
    slider = next(s for s in at.select_slider if s.key == "gd.learning_rate")
    totals = []
    shares.clear()
    for move in range(args.moves):
        start = time.perf_counter()
        slider.set_value(slider.options[3 + move % 2]).run()
        totals.append(time.perf_counter() - start)
    rerun, share = statistics.median(totals), statistics.median(shares)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.moves} moves of gd.learning_rate")
    print(f"median rerun {rerun:.3f} s, of which the batch-size section {share:.3f} s ({share / rerun:.0%})")


if __name__ == "__main__":
    main()
