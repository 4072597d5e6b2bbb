"""The batch-size study on a Scale-up task, from ``scaleup.batch_size``, printed as a Markdown table.

    PYTHONPATH=. .venv/bin/python benchmarks/batch_size.py            # the BENCHMARKS.md setting
    PYTHONPATH=. .venv/bin/python benchmarks/batch_size.py --batch 16 256 --seeds 0 --max-steps 500

Each cell: the median over seeds of the steps to the target training loss (full training set), the
fastest and slowest seed, and the best grid value (learning rate; K-FAC: initial damping). Then the
fitted log–log slope per optimizer (−1: perfect scaling), the machine and the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

# benchmarks/scaleup.py is named like the package: import the package, not that script.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from optimizers import OPTIMIZERS  # noqa: E402
from scaleup.batch_size import DEFAULT_OPTIMIZERS, StudySpec, iterate_study, markdown_table, scaling_slope  # noqa: E402


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name"))  # fmt: skip
    except (StopIteration, OSError):
        model = platform.processor() or "unknown CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def load() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime unavailable"


def main(argv=None) -> int:
    defaults = StudySpec()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits")
    parser.add_argument("--width", type=int, default=defaults.width)
    parser.add_argument("--depth", type=int, default=defaults.depth)
    parser.add_argument("--batch", type=int, nargs="+", default=list(defaults.batch_sizes), help="0: full batch")
    parser.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS), choices=list(OPTIMIZERS))
    parser.add_argument("--grid", type=int, default=defaults.grid_points, help="grid values per optimizer")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds))
    parser.add_argument("--target", type=float, default=defaults.target)
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps)
    parser.add_argument("--chunk", type=int, default=defaults.chunk_steps)
    args = parser.parse_args(argv)
    spec = StudySpec(
        task=args.task, width=args.width, depth=args.depth, batch_sizes=tuple(args.batch),
        optimizers=tuple(args.optimizers), grid_points=args.grid, seeds=tuple(args.seeds), target=args.target,
        max_steps=args.max_steps, chunk_steps=args.chunk,
    )  # fmt: skip
    print(f"load before: {load()}", file=sys.stderr)
    start = time.perf_counter()
    done = None
    for progress in iterate_study(spec):
        if progress.study.cells[-1].complete and progress.study.cells[-1] is not done:
            done = cell = progress.study.cells[-1]
            print(f"[{time.perf_counter() - start:6.1f} s] batch {cell.batch_size} {cell.optimizer}: "
                  f"{cell.steps_run} steps run, {cell.seconds:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
    study = progress.study
    seconds = time.perf_counter() - start
    print(f"Task {spec.task}, network {' → '.join(map(str, study.sizes))} ({spec.activation}); "
          f"target training loss {spec.target:g}; grid of {spec.grid_points} values half a decade apart; "
          f"seeds {', '.join(map(str, spec.seeds))}; at most {spec.max_steps} steps; chunks of {spec.chunk_steps}.\n")  # fmt: skip
    print(markdown_table(study))
    slopes = {OPTIMIZERS[name].title: scaling_slope(study, name) for name in spec.optimizers}
    print("\nFitted log–log slope of steps against batch size (−1: perfect scaling): " + "; ".join(
        f"{title} {'—' if slope is None else f'{slope:.2f}'}" for title, slope in slopes.items()) + ".")  # fmt: skip
    print(f"\nMachine: {machine()}. Study wall-clock {seconds:.0f} s (compiles included). Load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
