"""Steps to a target training loss against the batch size, measured on a network.

Shallue et al. (2018, "Measuring the effects of data parallelism on neural
network training") and Zhang et al. (NeurIPS 2019, "Which algorithmic choices
matter at which batch sizes?") found the same shape on many networks: while
the batch is small, doubling it halves the steps needed (perfect scaling,
slope −1 on a log–log plot: gradient noise is the bottleneck); past a
*critical batch size* the steps stop falling (the curvature is the
bottleneck), and momentum and preconditioning move that critical batch size
up, so at large batches they need far fewer steps. This module measures the
curve for the app's own optimizers on a Scale-up task.

Protocol (``StudySpec`` holds every number of it):

* **Target.** A training loss ``target`` (softmax cross-entropy or ½·squared
  error, the task's loss), on the **whole training set**, evaluated with the
  parameters after a step — never the noisy minibatch loss and no smoothing.
* **Steps to target.** The first evaluated step t ≥ 1 whose full training
  loss is ≤ the target. The loss is evaluated after every step up to
  ``EXACT_UP_TO`` and after that on steps spaced at most ``RESOLUTION`` (2 %)
  apart (``evaluation_steps``), so beyond step 50 a count may be up to 2 %
  above the first step that got there. A run that has not got there within
  ``max_steps`` steps, or has diverged (its loss non-finite or ``BLOW_UP``
  times its start), has **not reached** the target: its count is +∞.
* **Seeds.** Each seed draws its own initial weights and minibatch order
  (``scaleup.training.init_state``); the data split is the same for all
  (``data_seed``).
* **Grid.** Each optimizer runs at every value of a grid of its learning rate
  (``grid``: ``grid_points`` values spaced half a decade, 10^½, apart around a
  centre, ``CENTRES``, clipped to the optimizer's range) — except K-FAC, which
  chooses its own step α and momentum μ from its quadratic model on every step
  (``adaptive_step``, as Martens & Grosse do), so its grid is over its initial
  damping λ₀ (``SWEPT``). Every grid value runs with every seed.
* **Best value.** For each grid value, the **median over the seeds** of the
  steps to target (+∞ counted as such, so the median is +∞ when half of the
  seeds or more did not get there); the best value is the one with the lowest
  median (the smaller value on a tie). ``Cell`` reports that median, the
  spread over its seeds (fastest and slowest seed), how many seeds reached,
  and whether the best value lies at an end of the grid (then the grid may be
  too narrow and the count an overestimate).
* **Early end.** A cell (batch size × optimizer) stops once the best grid
  value's every seed is done (reached or diverged) and every other value's
  median can no longer beat it (its not-yet-done seeds count as reaching at
  the next step), or at ``max_steps``. The result is the same as running all
  ``max_steps``, only cheaper.

Computation: the grid values and seeds of one cell are *lanes* of one compiled
program — ``jax.vmap`` over (value, seed) of a ``lax.scan`` over a chunk of
``chunk_steps`` steps; the swept hyperparameter is a traced leaf of the
``Optimizer`` pytree, replaced inside the vmapped function as
``optimizers.sweeps`` does on the 2-D pages. New grid values therefore reuse the
compiled program; a new batch size, chunk length, number of lanes or optimizer
compiles anew. Every lane's step is the step of ``scaleup.training`` (its
``minibatch`` and ``step_extras``), from the same ``init_state``, so a lane
trains exactly as ``train`` does with that seed and value (tests/test_batch_size.py
checks it). Every optimizer takes the vmapped hyperparameter, but K-FAC's lanes run
one by one (``ONE_BY_ONE``: ``lax.map`` over the lanes inside the same compiled
chunk, still one program and no recompile for new values): under ``vmap`` its
every-T-steps branches (inverse refresh, damping update) depend on per-lane state and
become selects computed on every step, and its 12-lane vmapped chunk at batch 256 on the
CPU stopped making progress inside XLA on its second execution (all threads idle).
The study runs on one device (no data parallelism).

``iterate_study`` yields a ``Progress`` after every chunk, so a caller can show
it and stop between chunks (``run_study``'s ``stop``); ``Study.rows()`` is the
tidy table: per batch size and optimizer, the best value, the median steps,
the spread over seeds, and whether the target was reached.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optimizers import OPTIMIZERS, Optimizer
from optimizers.curvature import FISHER_MODES
from scaleup.data import Dataset, load_task
from scaleup.training import BLOW_UP, Model, init_state, make_optimizer, minibatch, model_for, step_extras

DEFAULT_OPTIMIZERS = ("gd", "momentum", "adam", "kfac", "mlbfgs", "damped_ggn")
# K-FAC sets α and μ itself (adaptive_step): the grid varies its initial damping instead.
SWEPT = {"kfac": "damping"}
# The grid's centre per optimizer (the swept hyperparameter's value); others: the MLP default.
CENTRES = {"gd": 1.0, "momentum": 0.1, "adam": 0.01, "mlbfgs": 1.0, "damped_ggn": 3.0, "kfac": 0.1}
ONE_BY_ONE = frozenset({"kfac"})  # lanes in sequence (lax.map), not vmapped: see the module's docstring
GRID_RATIO = math.sqrt(10.0)  # neighbouring grid values: half a decade apart
EXACT_UP_TO = 50  # the full training loss is evaluated after every step up to here…
RESOLUTION = 0.02  # …and after that on steps at most 2 % apart


def swept(name: str) -> str:
    """The hyperparameter the study's grid varies for optimizer ``name``."""
    return SWEPT.get(name, "learning_rate")


def grid(name: str, points: int, centre: float | None = None) -> tuple[float, ...]:
    """``points`` values of ``swept(name)``: centre · 10^(k/2) for k = −⌊points/2⌋ … (the centre is one),
    clipped to the hyperparameter's range (so fewer values remain when the range cuts some off)."""
    if points < 1:
        raise ValueError(f"a grid needs at least one point, got {points}")
    spec = OPTIMIZERS[name].hyperparameters[swept(name)]
    centre = CENTRES.get(name, make_optimizer(name).hyperparams[swept(name)]) if centre is None else centre
    low = -(points // 2)
    values = (min(max(centre * GRID_RATIO**k, spec.low), spec.high) for k in range(low, low + points))
    return tuple(sorted({float(f"{v:.6g}") for v in values}))


def evaluation_steps(max_steps: int) -> np.ndarray:
    """The steps after which the full training loss is evaluated: 1 … ``EXACT_UP_TO``, then each
    step at most ``RESOLUTION`` past the previous one, and ``max_steps``."""
    steps, t = list(range(1, min(EXACT_UP_TO, max_steps) + 1)), EXACT_UP_TO
    while t < max_steps:
        t = min(max_steps, t + max(1, math.floor(t * RESOLUTION)))
        steps.append(t)
    return np.asarray(steps, np.int64)


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """Everything a study's result depends on (hashable: it is the page's cache key).

    ``batch_sizes``: 0 or one at least the training set's size means the whole set (full batch);
    ``grids``: (optimizer, values) pairs replacing ``grid(optimizer, grid_points)`` for those named."""

    task: str = "digits"
    width: int = 32
    depth: int = 1
    activation: str = "tanh"
    batch_sizes: tuple[int, ...] = (8, 32, 128, 512, 0)
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    grid_points: int = 7
    seeds: tuple[int, ...] = (0, 1, 2)
    target: float = 0.05
    max_steps: int = 3000
    chunk_steps: int = 100
    data_seed: int = 0
    grids: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def grid_for(self, name: str) -> tuple[float, ...]:
        return dict(self.grids).get(name) or grid(name, self.grid_points)

    def model(self, dataset: Dataset) -> Model:
        return model_for(dataset.info, width=self.width, depth=self.depth, activation=self.activation)


@dataclasses.dataclass
class Cell:
    """One batch size × optimizer: steps to target per grid value and seed, and the best value's figures.

    ``steps[i, j]``: value i, seed j (+∞: not reached); ``diverged[i, j]``; ``losses[i, j]`` the full training
    loss at ``evaluated`` steps (NaN where not evaluated yet); ``steps_run``: steps the lanes ran before the
    cell ended; ``complete``: False while running or when stopped before its end."""

    batch_size: int  # as run: the whole training set's size for full batch
    optimizer: str
    swept: str
    values: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: np.ndarray
    diverged: np.ndarray
    evaluated: np.ndarray
    losses: np.ndarray
    steps_run: int = 0
    complete: bool = False
    seconds: float = 0.0  # compile included

    @property
    def medians(self) -> np.ndarray:
        """Per value, the median over seeds of the steps to target (+∞ when half or more did not reach)."""
        return np.array([_median(row) for row in self.steps])

    @property
    def best(self) -> int:
        """The index of the best value: the lowest median (the first, i.e. smallest value, on a tie)."""
        return int(np.argmin(self.medians))

    @property
    def best_value(self) -> float:
        return self.values[self.best]

    @property
    def median(self) -> float:
        return float(self.medians[self.best])

    @property
    def reached(self) -> bool:
        return bool(np.isfinite(self.median))

    @property
    def at_edge(self) -> bool:
        """The best value is the grid's smallest or largest (and the grid has more than one)."""
        return len(self.values) > 1 and self.best in (0, len(self.values) - 1)

    def row(self) -> dict:
        best = self.steps[self.best]
        reached = best[np.isfinite(best)]
        return dict(
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            title=OPTIMIZERS[self.optimizer].title,
            swept=self.swept,
            best_value=self.best_value,
            steps_median=self.median if self.reached else None,
            steps_fastest=float(reached.min()) if reached.size else None,
            steps_slowest=float(best.max()) if np.all(np.isfinite(best)) else None,  # None: a seed did not reach
            seeds_reached=int(reached.size),
            seeds=len(self.seeds),
            reached=self.reached,
            best_at_grid_edge=self.at_edge,
            diverged_lanes=int(self.diverged.sum()),
            complete=self.complete,
        )


def _median(steps: np.ndarray) -> float:
    ordered = np.sort(steps)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)  # +∞ when either is +∞


@dataclasses.dataclass
class Study:
    spec: StudySpec
    n_train: int
    initial_loss: float  # the full training loss at step 0, mean over seeds
    sizes: tuple[int, ...]  # the network's layer sizes
    cells: list[Cell]
    stopped: bool = False
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.stopped and len(self.cells) == len(self.spec.batch_sizes) * len(self.spec.optimizers) and all(
            cell.complete for cell in self.cells
        )

    def rows(self) -> list[dict]:
        """The tidy table: one row per batch size and optimizer, in the order they ran."""
        return [cell.row() for cell in self.cells]

    def cell(self, batch_size: int, optimizer: str) -> Cell:
        return next(c for c in self.cells if c.batch_size == batch_size and c.optimizer == optimizer)


class Progress(NamedTuple):
    fraction: float  # of the study's cells, the running one counted by its share of max_steps
    batch_size: int
    optimizer: str
    steps_done: int
    study: Study  # the result so far (the running cell included, not complete)


# --- one compiled chunk for every lane of a cell -----------------------------------------------------
def _with_value(optimizer: Optimizer, name: str, value) -> Optimizer:
    return dataclasses.replace(optimizer, hyperparams={**optimizer.hyperparams, name: value})


def _fisher(optimizer: Optimizer) -> str:
    return FISHER_MODES[int(dict(optimizer.options).get("fisher", 0))]


@functools.partial(jax.jit, static_argnames=("name", "model", "n_train"))
def _initial_states(optimizer, name, values, seeds, *, model, n_train):
    """``init_state`` of every lane (value i, seed j flattened), as ``train`` starts each run."""
    return jax.vmap(lambda v, s: init_state(model, _with_value(optimizer, name, v), n_train, s))(values, seeds)


@functools.partial(jax.jit, static_argnames=("name", "model", "batch_size", "one_by_one"))
def _lanes_chunk(optimizer, name, values, states, data, evaluate, *, model, batch_size, one_by_one=False):
    """``len(evaluate)`` steps of every lane; after each step flagged in ``evaluate`` the full training
    loss (NaN after the others). The flags are not vmapped, so ``lax.cond`` really skips the unflagged.
    ``one_by_one``: the lanes one after another (``lax.map``) instead of ``vmap``."""
    x, y = data
    needs, fisher = optimizer.info.needs, _fisher(optimizer)

    def lane(value, state):
        method = _with_value(optimizer, name, value)

        def step(carry, flagged):
            xb, yb, carry = minibatch(carry, x, y, batch_size)
            sample_key = None
            if "dense_layers" in needs:  # K-FAC's sampled targets: the same stream as scaleup.training's
                sample_key, next_key = jax.random.split(carry.sample_key)
                carry = carry._replace(sample_key=next_key)
            grad, extras = step_extras(model, needs, carry.params, xb, yb, sample_key, fisher)
            updates, opt_state = method.update(grad, carry.opt_state, carry.params, **extras)
            params = optax.apply_updates(carry.params, updates)
            full = jax.lax.cond(flagged, lambda p: model.loss(p, x, y), lambda p: jnp.float32(jnp.nan), params)
            return carry._replace(params=params, opt_state=opt_state), full

        return jax.lax.scan(step, state, evaluate)

    if one_by_one:
        return jax.lax.map(lambda lane_args: lane(*lane_args), (values, states))
    return jax.vmap(lane)(values, states)


@functools.partial(jax.jit, static_argnames=("model",))
def _full_losses(params, x, y, *, model):
    return jax.vmap(lambda p: model.loss(p, x, y))(params)


# --- the study --------------------------------------------------------------------------------------
def _cell_done(cell: Cell, steps_done: int) -> bool:
    """Nothing left to change the cell's result (see the module's "Early end")."""
    done = np.isfinite(cell.steps) | cell.diverged
    finished = [_median(row) if np.all(row_done) else math.inf for row, row_done in zip(cell.steps, done)]
    complete = [i for i, row_done in enumerate(done) if np.all(row_done)]
    if not complete or not np.isfinite(min(finished[i] for i in complete)):
        return bool(np.all(done))
    best = min(finished[i] for i in complete)
    best_index = min(i for i in complete if finished[i] == best)
    for i, (row, row_done) in enumerate(zip(cell.steps, done)):
        if np.all(row_done):
            continue
        lower_bound = _median(np.where(row_done, row, steps_done + 1))
        if lower_bound < best or (lower_bound == best and i < best_index):
            return False
    return True


def _run_cell(spec: StudySpec, data: Dataset, model: Model, name: str, batch_size: int, study: Study, position: float):
    """Generator: one cell's chunks, yielding after each; appends the cell to ``study`` first."""
    start = time.perf_counter()
    values = spec.grid_for(name)
    hyper = swept(name)
    for value in values:
        OPTIMIZERS[name].hyperparameters[hyper].check(hyper, value)
    optimizer = make_optimizer(name)
    lanes_values = np.repeat(np.asarray(values, np.float32), len(spec.seeds))
    lanes_seeds = np.tile(np.asarray(spec.seeds, np.int32), len(values))
    states = _initial_states(optimizer, hyper, lanes_values, lanes_seeds, model=model, n_train=data.n_train)
    start_loss = np.asarray(_full_losses(states.params, *data.arrays, model=model))
    evaluated = evaluation_steps(spec.max_steps)
    shape = (len(values), len(spec.seeds))
    cell = Cell(
        min(batch_size, data.n_train) if batch_size else data.n_train, name, hyper, values, spec.seeds,
        np.full(shape, np.inf), np.zeros(shape, bool), evaluated, np.full((*shape, len(evaluated)), np.nan),
    )  # fmt: skip
    study.cells.append(cell)
    limit = BLOW_UP * np.maximum(start_loss.reshape(shape), 1.0)
    flagged = np.zeros(spec.max_steps + spec.chunk_steps + 1, bool)
    flagged[evaluated] = True
    column = {int(t): k for k, t in enumerate(evaluated)}
    steps_done = 0
    while steps_done < spec.max_steps:
        flags = flagged[steps_done + 1 : steps_done + 1 + spec.chunk_steps]
        states, full = _lanes_chunk(
            optimizer, hyper, lanes_values, states, data.arrays, flags, model=model, batch_size=batch_size,
            one_by_one=name in ONE_BY_ONE,
        )  # fmt: skip
        full = np.asarray(full).reshape(*shape, spec.chunk_steps)
        for offset in np.flatnonzero(flags):
            t = steps_done + 1 + int(offset)
            if t > spec.max_steps:
                break
            loss = full[..., offset]
            cell.losses[..., column[t]] = loss
            cell.diverged |= ~(np.abs(loss) < limit)  # NaN and ±∞ too
            newly = (loss <= spec.target) & ~np.isfinite(cell.steps) & ~cell.diverged
            cell.steps[newly] = t
        steps_done = min(steps_done + spec.chunk_steps, spec.max_steps)
        cell.steps_run, cell.seconds = steps_done, time.perf_counter() - start
        cell.complete = steps_done >= spec.max_steps or _cell_done(cell, steps_done)
        share = 1.0 if cell.complete else steps_done / spec.max_steps
        yield Progress(position + share, cell.batch_size, name, steps_done, study)
        if cell.complete:
            return


def iterate_study(spec: StudySpec, data: Dataset | None = None) -> Iterator[Progress]:
    """Run the study chunk by chunk, yielding a ``Progress`` after each chunk (its ``study`` is the
    result so far); stop iterating to stop. Batch sizes in the outer loop, optimizers inside."""
    for name in spec.optimizers:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}")
    if spec.target <= 0 or spec.max_steps < 1 or spec.chunk_steps < 1 or not spec.seeds:
        raise ValueError("the target must be positive, max_steps and chunk_steps at least 1, and one seed given")
    data = load_task(spec.task, spec.data_seed) if data is None else data
    model = spec.model(data)
    start_states = _initial_states(
        make_optimizer("gd"), "learning_rate", np.ones(len(spec.seeds), np.float32), np.asarray(spec.seeds, np.int32),
        model=model, n_train=data.n_train,
    )  # fmt: skip
    initial = float(np.mean(np.asarray(_full_losses(start_states.params, *data.arrays, model=model))))
    study = Study(spec, data.n_train, initial, model.sizes, [])
    start = time.perf_counter()
    cells = len(spec.batch_sizes) * len(spec.optimizers)
    for b, batch_size in enumerate(spec.batch_sizes):
        for o, name in enumerate(spec.optimizers):
            position = b * len(spec.optimizers) + o
            for progress in _run_cell(spec, data, model, name, int(batch_size), study, position):
                study.seconds = time.perf_counter() - start
                yield progress._replace(fraction=progress.fraction / cells)


def run_study(
    spec: StudySpec, data: Dataset | None = None, stop: Callable[[Progress], bool] | None = None
) -> Study:
    """The whole study; ``stop(progress)`` is asked after every chunk, and True ends it there
    (``Study.stopped``, the running cell left incomplete)."""
    study = None
    for progress in iterate_study(spec, data):
        study = progress.study
        if stop is not None and stop(progress):
            study.stopped = True
            break
    return study


def markdown_table(study: Study) -> str:
    """The tidy table in Markdown: steps to target (median over seeds, fastest–slowest seed) per
    batch size (rows) and optimizer (columns), each with its best grid value."""
    names = list(dict.fromkeys(cell.optimizer for cell in study.cells))
    batches = list(dict.fromkeys(cell.batch_size for cell in study.cells))
    head = "| batch | " + " | ".join(f"{OPTIMIZERS[n].title} ({swept(n).replace('_', ' ')})" for n in names) + " |"
    lines = [head, "|" + " --- |" * (len(names) + 1)]
    for batch in batches:
        entries = []
        for name in names:
            cells = [c for c in study.cells if c.batch_size == batch and c.optimizer == name]
            entries.append(describe(cells[0]) if cells else "")
        label = f"{batch} (full)" if batch == study.n_train else str(batch)
        lines.append(f"| {label} | " + " | ".join(entries) + " |")
    return "\n".join(lines)


def describe(cell: Cell) -> str:
    """"median (fastest–slowest) at value", "not reached …", with a mark for a best value at the grid's end."""
    row = cell.row()
    edge = " (grid end)" if row["best_at_grid_edge"] else ""
    if not row["reached"]:
        return f"not reached in {cell.steps_run} ({row['seeds_reached']}/{row['seeds']} seeds)"
    slowest = "n.r." if row["steps_slowest"] is None else f"{row['steps_slowest']:.0f}"
    return f"{row['steps_median']:.0f} ({row['steps_fastest']:.0f}–{slowest}) at {row['best_value']:.3g}{edge}"


def scaling_slope(study: Study, optimizer: str) -> float | None:
    """The least-squares slope of log(median steps) against log(batch size) over the batch sizes where
    ``optimizer`` reached the target (None with fewer than two): −1 is perfect scaling, 0 none."""
    cells = [c for c in study.cells if c.optimizer == optimizer and c.complete and c.reached]
    if len(cells) < 2:
        return None
    x = np.log([c.batch_size for c in cells])
    y = np.log([c.median for c in cells])
    return float(np.polyfit(x, y, 1)[0])


def critical_batch(study: Study, optimizer: str) -> tuple[int, int] | None:
    """(anchor, critical): the perfect-scaling line runs through ``optimizer``'s median at its smallest batch
    where it reached the target (the anchor), steps = s₀·b₀/b; the critical batch size is the largest
    measured batch, counting up from the anchor, whose steps stay within twice that line. The noisy
    quadratic model (``optimizers.nqm.critical_batch_size``) uses the same factor 2 but interpolates where
    its closed-form curve crosses it; a study measures a few chosen batch sizes, so here the answer is one of
    them. None when it reached at fewer than two batch sizes."""
    cells = sorted((c for c in study.cells if c.optimizer == optimizer and c.complete and c.reached),
                   key=lambda c: c.batch_size)  # fmt: skip
    if len(cells) < 2:
        return None
    anchor = cells[0]
    critical = anchor.batch_size
    for cell in cells[1:]:
        if cell.median > 2 * anchor.median * anchor.batch_size / cell.batch_size:
            break
        critical = cell.batch_size
    return anchor.batch_size, critical


def default_values(names: Sequence[str], points: int) -> dict[str, tuple[float, ...]]:
    """Each optimizer's grid at ``points`` values (what a study with no ``grids`` runs)."""
    return {name: grid(name, points) for name in names}
