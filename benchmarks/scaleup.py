"""Scale-up benchmark: the app's optimizers training MLPs on the digits task.

Part 1, cost per step: on the same MLP in the same process, the per-step time
of every optimizer relative to our Adam, and of our Adam relative to
``optax.adam`` (with its β₁, β₂, ε as constants, and traced like ours), at
three widths. Every optimizer runs the same jitted ``lax.scan`` chunk
(``scaleup.training``); the chunks are taken in turns, ``--repeats`` times, in
alternating order, so that a busy shared machine slows them alike; the figure
is the median chunk time divided by its steps. Compile time is excluded
(measured on its own), and so is the warm-up chunk every ``Run`` executes
after compiling and discards (the same as on the page). Memory is the compiled chunk's own estimate
(temporaries + arguments + outputs).

Part 2, mL-BFGS / Adam per step against the batch size, at the widest width:
the quasi-Newton work per step does not grow with the batch, the gradient's does
(K-FAC's does: its factors cost B·(n_in² + n_out²) per layer; it is in this sweep too).

Part 3, time to a target: steps and seconds (compile and warm-up excluded) until the full
training loss falls below ``--target``, checked after every chunk of 25 steps.

Part 4, data parallelism (with several local devices): per step on one device against each minibatch
split over all of them, for Adam, mL-BFGS and K-FAC, at the widest width and the swept batch sizes.

Targets: our Adam within 5 % of optax's per step; mL-BFGS per step within
1.5× of Adam (block-diagonal allowed; both reported). K-FAC (registry defaults:
adaptive α, μ and λ, sampled Fisher, inverses every 5 steps) is reported
against Adam, per step, in memory and to the target, without a target of its own.

Run:  PYTHONPATH=. .venv/bin/python benchmarks/scaleup.py
      (add ``--quick`` for a smoke run; ``--only K-FAC`` for Adam and K-FAC alone;
      ``--devices-only`` for part 4 alone;
      JAX_PLATFORMS=cpu forces the CPU)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from pathlib import Path

# This file is named like the package it measures: import the package, not this script.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import jax  # noqa: E402
import optax  # noqa: E402

from scaleup.data import load_task  # noqa: E402
from scaleup.training import (  # noqa: E402
    NEWTON_MAX_PARAMETERS,
    Run,
    device_description,
    make_optimizer,
    model_for,
)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class OptaxAdam:
    """``optax.adam`` behind the same interface as our ``Optimizer``: the learning rate is
    traced; β₁, β₂, ε are traced too when ``traced_moments`` (as in our Adam), else constants."""

    learning_rate: float
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    traced_moments: bool = dataclasses.field(default=False, metadata=dict(static=True))
    needs = frozenset()

    def transformation(self):
        if self.traced_moments:
            return optax.adam(self.learning_rate, self.b1, self.b2, self.eps)
        return optax.adam(self.learning_rate)

    def init(self, params):
        return self.transformation().init(params)

    def update(self, grads, state, params=None, **extra_args):
        return self.transformation().update(grads, state, params)


def contenders():
    """(label, optimizer factory) in table order; Adam first: everything is relative to it."""
    return [
        ("Adam (ours)", lambda: make_optimizer("adam")),
        ("optax.adam", lambda: OptaxAdam(0.01)),
        ("optax.adam, β₁ β₂ ε traced", lambda: OptaxAdam(0.01, traced_moments=True)),
        ("GD", lambda: make_optimizer("gd")),
        ("Momentum", lambda: make_optimizer("momentum")),
        ("Newton", lambda: make_optimizer("newton")),
        ("Damped GGN (CG 20)", lambda: make_optimizer("damped_ggn")),
        ("L-BFGS", lambda: make_optimizer("lbfgs")),
        ("mL-BFGS", lambda: make_optimizer("mlbfgs")),
        ("mL-BFGS block-diag.", lambda: make_optimizer("mlbfgs", block_diagonal=True)),
        ("AdamQLR", lambda: make_optimizer("adamqlr")),
        ("K-FAC", lambda: make_optimizer("kfac")),
    ]


ONLY: tuple[str, ...] = ()  # --only: these contenders, with Adam (ours), the reference


def chosen(factories):
    return [(label, f) for label, f in factories if not ONLY or label in ONLY or label == "Adam (ours)"]


def timed_runs(model, dataset, factories, batch, chunk, repeats, data_parallel=None):
    """Every contender's Run (warmed up by ``Run`` itself) after ``repeats`` timed chunks, taken in turns
    (in alternating order, so that none always follows the same neighbour). ``data_parallel`` as in ``Run``:
    by default each minibatch is split over every local device that divides it."""
    runs = {}
    for label, factory in factories:
        optimizer = factory()
        try:
            run = Run(model, dataset, optimizer, batch, chunk, seed=0, label=label, data_parallel=data_parallel)
        except ValueError:  # a dense-Hessian method on a net too big for it
            runs[label] = None
            continue
        runs[label] = run
    active = [run for run in runs.values() if run is not None]
    for repeat in range(repeats):
        for run in active if repeat % 2 == 0 else active[::-1]:
            run.advance()
    return runs


def per_step_table(dataset, widths, depth, batch, chunk, repeats):
    rows = {}
    for width in widths:
        model = model_for(dataset.info, width=width, depth=depth)
        runs = timed_runs(model, dataset, chosen(contenders()), batch, chunk, repeats)
        adam = runs["Adam (ours)"].per_step_seconds
        for label, run in runs.items():
            row = rows.setdefault(label, {})
            if run is None:
                row[width] = None
                continue
            reference = runs["optax.adam"].per_step_seconds if label == "Adam (ours)" and "optax.adam" in runs else adam
            row[width] = dict(
                ms=run.per_step_seconds * 1e3,
                ratio=run.per_step_seconds / reference,
                compile=run.compile_seconds,
                mb=run.memory.estimate_bytes / 2**20 if run.memory else float("nan"),
                params=model.parameter_count,
                diverged=run.diverged_at is not None,
            )
        print(f"  width {width} done ({model.parameter_count} parameters)", flush=True)
    return rows


def adam_versus_optax(dataset, widths, depth, batch, chunk, repeats):
    """Our Adam against optax's, alone and with many more chunks: the 5 % question needs the precision."""
    names = ("Adam (ours)", "optax.adam", "optax.adam, β₁ β₂ ε traced")
    factories = [(label, factory) for label, factory in contenders() if label in names]
    print("\n| width | Adam (ours) ms/step | optax.adam ms/step | ours / optax (median · fastest chunk) "
          "| ours / optax with β₁ β₂ ε traced (median · fastest) |")
    print("|---|---|---|---|---|")
    ratios = []
    for width in widths:
        model = model_for(dataset.info, width=width, depth=depth)
        runs = timed_runs(model, dataset, factories, batch, chunk, repeats)
        fastest = {label: min(run.chunk_seconds) for label, run in runs.items()}
        ours = runs[names[0]].per_step_seconds
        median_ratio = [ours / runs[n].per_step_seconds for n in names[1:]]
        fastest_ratio = [fastest[names[0]] / fastest[n] for n in names[1:]]
        ratios.append(median_ratio[0])
        print(
            f"| {width} | {ours * 1e3:.3f} | {runs[names[1]].per_step_seconds * 1e3:.3f} | "
            f"{median_ratio[0]:.3f} · {fastest_ratio[0]:.3f} | {median_ratio[1]:.3f} · {fastest_ratio[1]:.3f} |",
            flush=True,
        )
    return ratios


def batch_sweep(dataset, width, depth, batches, chunk, repeats):
    """mL-BFGS and K-FAC / Adam per step against the batch size: the quasi-Newton work per step does not grow
    with it, K-FAC's factors do."""
    model = model_for(dataset.info, width=width, depth=depth)
    swept = ("Adam (ours)", "mL-BFGS", "mL-BFGS block-diag.", "K-FAC")
    names = [label for label, _ in chosen(contenders()) if label in swept]
    factories = [(label, factory) for label, factory in contenders() if label in names]
    heads = " | ".join(f"{n} ms/step, × Adam" for n in names[1:])
    print(f"\n| batch (width {width}, {model.parameter_count:,} p.) | Adam ms/step | {heads} |")
    print("|---" * (len(names) + 1) + "|")
    for batch in batches:
        runs = timed_runs(model, dataset, factories, batch, chunk, repeats)
        adam = runs["Adam (ours)"].per_step_seconds
        cells = [f"{runs[n].per_step_seconds * 1e3:.3f} · {runs[n].per_step_seconds / adam:.2f}×" for n in names[1:]]
        print(f"| {batch_label(batch)} | {adam * 1e3:.3f} | " + " | ".join(cells) + " |", flush=True)


def devices_table(dataset, width, depth, batches, chunk, repeats):
    """Per step on one device against each minibatch split over every local device (``scaleup.parallel``),
    for Adam, mL-BFGS and K-FAC: the same programs, partitioned by XLA, with an all-reduce per batch mean."""
    devices = jax.device_count()
    if devices == 1:
        print("\nOne device: data parallelism not measured (on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=4 "
              "makes four devices of the host's cores).")  # fmt: skip
        return
    model = model_for(dataset.info, width=width, depth=depth)
    names = ("Adam (ours)", "mL-BFGS", "K-FAC")
    factories = [(label, factory) for label, factory in contenders() if label in names]
    print(f"\n| batch (width {width}, {model.parameter_count:,} p.) | devices × per-device batch | "
          + " | ".join(f"{n}: 1 device · {devices} devices ms/step (ratio)" for n in names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for batch in batches:
        one = timed_runs(model, dataset, factories, batch, chunk, repeats, data_parallel=False)
        many = timed_runs(model, dataset, factories, batch, chunk, repeats, data_parallel=True)
        split = next(iter(many.values()))
        cells = [f"{one[n].per_step_seconds * 1e3:.3f} · {many[n].per_step_seconds * 1e3:.3f} "
                 f"({many[n].per_step_seconds / one[n].per_step_seconds:.2f}×)" for n in names]  # fmt: skip
        print(f"| {batch_label(batch)} | {split.devices} × {split.per_device_batch} | " + " | ".join(cells) + " |",
              flush=True)  # fmt: skip


def batch_label(batch):
    return f"{batch} (full)" if batch == 0 else str(batch)


def print_per_step(rows, widths, depth):
    counts = {w: next(r[w]["params"] for r in rows.values() if r.get(w)) for w in widths}
    head = " | ".join(f"width {w} ({counts[w]:,} p.): ms/step, × Adam, MiB" for w in widths)
    print(f"\n| optimizer | {head} |")
    print("|---" * (len(widths) + 1) + "|")
    for label, row in rows.items():
        cells = []
        for w in widths:
            cell = row.get(w)
            if cell is None:
                cells.append(f"n/a (Newton limit {NEWTON_MAX_PARAMETERS} p.)")
            else:
                mark = " †" if cell["diverged"] else ""
                cells.append(f"{cell['ms']:.3f} · {cell['ratio']:.2f}× · {cell['mb']:.1f}{mark}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\n(Adam (ours) row: × optax.adam when measured; every other row: × Adam (ours). †: diverged while timed;"
          " its time is over the chunks before.)")


def time_to_target(dataset, width, depth, batch, chunk, target, max_steps, max_seconds):
    model = model_for(dataset.info, width=width, depth=depth)
    print(f"\n| optimizer ({model.parameter_count:,} parameters) | steps to loss < {target} | seconds | compile s | final loss | held-out accuracy |")
    print("|---|---|---|---|---|---|")
    for label, factory in chosen(contenders()):
        optimizer = factory()
        try:
            run = Run(model, dataset, optimizer, batch, chunk, seed=0, label=label)
        except ValueError:
            print(f"| {label} | n/a (above {NEWTON_MAX_PARAMETERS} parameters) | | | | |")
            continue
        reached = None
        while run.steps_done < max_steps and run.seconds < max_seconds and run.diverged_at is None:
            run.advance()
            last = run.evaluations[-1]
            if run.diverged_at is None and last["train_loss"] < target:
                reached = last
                break
        last = run.evaluations[-1]
        steps = f"{reached['step']}" if reached else f"not in {run.steps_done}"
        seconds = f"{reached['seconds']:.2f}" if reached else f"> {run.seconds:.1f}"
        if run.diverged_at is not None:
            steps = f"diverged at {run.diverged_at}"
        print(
            f"| {label} | {steps} | {seconds} | {run.compile_seconds:.2f} | {last['train_loss']:.4f} | "
            f"{last.get('test_accuracy', float('nan')):.3f} |",
            flush=True,
        )


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (runnable processes; above the core count the machine is busy)."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs=3, default=[32, 128, 512])
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=20, help="steps per timed chunk")
    parser.add_argument("--repeats", type=int, default=9, help="timed chunks per optimizer")
    parser.add_argument("--target", type=float, default=0.1, help="full training loss to reach (digits)")
    parser.add_argument("--target-width", type=int, default=16)
    parser.add_argument("--target-depth", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--adam-repeats", type=int, default=41, help="timed chunks for Adam against optax")
    parser.add_argument("--sweep-batches", type=int, nargs="+", default=[32, 128, 512, 0])
    parser.add_argument("--devices-only", action="store_true",
                        help="only the one-device against every-device table (with several devices)")
    parser.add_argument("--quick", action="store_true", help="small widths, few repeats: a smoke run")
    parser.add_argument("--only", nargs="+", default=[], metavar="LABEL",
                        help="only these contenders (by table label, e.g. K-FAC), with Adam (ours)")
    args = parser.parse_args()
    global ONLY
    ONLY = tuple(args.only)
    if args.quick:
        args.widths, args.repeats, args.max_steps, args.sweep_batches, args.adam_repeats = [8, 16, 32], 2, 200, [128, 0], 3

    dataset = load_task("digits", seed=0)
    print(f"Device: {jax.device_count()} × {device_description()}; {platform.processor() or platform.machine()}; "
          f"JAX {jax.__version__}; "
          f"load average {load_average()} (other processes share the machine: compare ratios, not times)")
    print(f"Task: digits ({dataset.n_train} training examples), batch {args.batch}, depth {args.depth}, tanh")
    started = time.perf_counter()
    if args.devices_only:
        devices_table(dataset, args.widths[-1], args.depth, args.sweep_batches, args.chunk, args.repeats)
        return
    rows = per_step_table(dataset, args.widths, args.depth, args.batch, args.chunk, args.repeats)
    print_per_step(rows, args.widths, args.depth)
    if not ONLY or "optax.adam" in ONLY:
        adam = adam_versus_optax(dataset, args.widths, args.depth, args.batch, args.chunk, args.adam_repeats)
        print(f"\nAdam (ours) / optax.adam per step (median, {args.adam_repeats} chunks): "
              f"{', '.join(f'{r:.3f}' for r in adam)}; target ≤ 1.05: {'met' if max(adam) <= 1.05 else 'NOT met'}")
    if "mL-BFGS" in rows and "mL-BFGS block-diag." in rows:
        best_mlbfgs = [min(rows["mL-BFGS"][w]["ratio"], rows["mL-BFGS block-diag."][w]["ratio"]) for w in args.widths]
        print(f"best mL-BFGS / Adam per step: {', '.join(f'{r:.2f}' for r in best_mlbfgs)}; target ≤ 1.5: "
              f"{'met' if max(best_mlbfgs) <= 1.5 else 'NOT met'}")
    if "K-FAC" in rows:
        kfac, ours = rows["K-FAC"], rows["Adam (ours)"]
        ratios = ", ".join(f"{kfac[w]['ratio']:.2f}" for w in args.widths)
        memory = ", ".join(f"{kfac[w]['mb']:.1f} / {ours[w]['mb']:.1f}" for w in args.widths)
        print(f"K-FAC / Adam per step: {ratios}; memory, K-FAC / Adam MiB: {memory}")
    batch_sweep(dataset, args.widths[-1], args.depth, args.sweep_batches, args.chunk, args.repeats)
    devices_table(dataset, args.widths[-1], args.depth, args.sweep_batches, args.chunk, args.repeats)
    time_to_target(
        dataset, args.target_width, args.target_depth, args.batch, 25, args.target, args.max_steps, args.max_seconds
    )
    print(f"\nTotal {time.perf_counter() - started:.0f} s; median of {args.repeats} chunks of {args.chunk} steps; "
          f"load average at the end {load_average()}.")


if __name__ == "__main__":
    main()
