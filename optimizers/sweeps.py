"""A run over many values of one hyperparameter at once: one compiled program, not one per value.

An ``Optimizer`` is a pytree whose leaves are its hyperparameters, so the
engine's jitted scan (``optimizers.engine``) is ``vmap``-ped over that one leaf,
and over the seeds inside it on a noisy landscape:

>>> sweep = run_sweep(landscape, get_optimizer("gd"), "learning_rate", [0.1, 0.2, 0.5], x0, steps=300, seeds=[0])
>>> sweep.params.shape      # (values, seeds, steps + 1, n)
>>> sweep.diverged_at[2]    # per seed, None or the first step that diverged

``run_grid`` does the same over the product of several hyperparameters' values
(momentum's (α, β) plane, say), for one seed:

>>> grid = run_grid(landscape, get_optimizer("momentum"), {"learning_rate": [0.5, 1.0], "momentum": [0.0, 0.5, 0.9]}, x0)
>>> grid.params.shape       # (2, 3, steps + 1, n)

The values are padded to ``points`` (repeating the last one) and cut again on
the host, so every sweep of one optimizer structure, scan length, number of
seeds and ``points`` is the same program: a new learning rate, or a new set
of values, never compiles. Each value's runs are the runs ``run_trajectory``
(one seed) or ``run_trajectories`` (several) give for it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from landscapes import Landscape
from optimizers.engine import Trajectory, _check_compatible, _cut, _geometry, _run, scan_length
from optimizers.registry import Optimizer

POINTS = 25  # values per sweep program (fewer are padded): one program for every sweep of a run
GRID_POINTS = 256  # settings per grid program (fewer are padded), as POINTS for a sweep: the rate map's 16 × 16
DECADES = 1.0  # a sweep spans the grid points within this many decades either side of the current value
NEAR = 6  # of which the nearest this many either side all: a small move of the slider stays in the sweep
# What a run sweeps when the reader has not chosen: the first of these it has, else its first hyperparameter.
SWEPT_FIRST = ("learning_rate", "max_learning_rate", "damping")


def default_swept(hyperparameters: Sequence[str]) -> str | None:
    """The hyperparameter a run sweeps by default: its learning rate where it has one (None if it has none)."""
    return next((name for name in SWEPT_FIRST if name in hyperparameters), next(iter(hyperparameters), None))


def sweep_window(grid: Sequence[float], current: float, decades: float = DECADES, points: int = POINTS, near: int = NEAR) -> list:
    """The values a sweep around ``current`` runs: the points of ``grid`` (a slider's values) within
    ``decades`` decades of it (the whole grid when it is 0), at most ``points`` of them with ``current``
    among them. On each side its ``near`` neighbours on the grid come first, then every k-th point
    further out, out to the last: a move of the slider by up to ``near`` steps lands on a value the
    sweep already holds, which the page then keeps (``ui.explorer.sweep_values``)."""
    grid = sorted(set(grid) | {current})
    here = grid.index(current)
    if current <= 0:  # no decades around 0: the whole range, evenly thinned
        stride = max(1, math.ceil((len(grid) - 1) / (points - 1)))
        return grid[here % stride :: stride]
    low, high = current / 10**decades, current * 10**decades
    below = [v for v in grid[:here][::-1] if v >= low]  # from the current value outward
    above = [v for v in grid[here + 1 :] if v <= high]
    room_below = max((points - 1) // 2, points - 1 - len(above))  # a side short of points leaves its room to the other
    room_above = points - 1 - min(room_below, len(below))
    return _outward(below, room_below, near)[::-1] + [current] + _outward(above, room_above, near)


def _outward(values: list, room: int, near: int) -> list:
    """Of ``values`` (ordered from the current value outward), at most ``room``: the first ``near``, then
    every k-th of the rest, its last one included."""
    if len(values) <= room:
        return values
    near = min(near, room - 1)
    rest = values[near:]
    stride = math.ceil(len(rest) / (room - near))
    return values[:near] + rest[len(rest) - 1 :: -stride][::-1]


def _with_value(optimizer: Optimizer, name: str, value) -> Optimizer:
    return dataclasses.replace(optimizer, hyperparams={**optimizer.hyperparams, name: value})


@functools.partial(jax.jit, static_argnames=("name", "length"))
def _sweep(landscape, optimizer, name, values, x0, seeds, centre, radius, length):
    """Runs for every value × seed: ``vmap`` over the values of hyperparameter ``name``, then over seeds."""

    def one_value(value):
        method = _with_value(optimizer, name, value)
        return jax.vmap(lambda seed: _run.__wrapped__(landscape, method, x0, seed, centre, radius, length, None))(seeds)

    return jax.vmap(one_value)(values)


def sweep_dtype(optimizer: Optimizer, name: str):
    """The values' dtype: what the leaf would be traced as in a single run (int32 for a whole-number setting)."""
    return jnp.int32 if isinstance(optimizer.hyperparams[name], (int, np.integer)) else jnp.float32


def run_sweep(
    landscape: Landscape,
    optimizer: Optimizer,
    name: str,
    values: Sequence[float],
    x0=None,
    steps: int = 200,
    seeds: Sequence[int] = (0,),
    points: int = POINTS,
) -> Trajectory:
    """``optimizer`` with hyperparameter ``name`` at each of ``values``, from ``x0``, for each of ``seeds``.

    Every field has leading axes (values, seeds). Raises ``ValueError`` for an unknown
    hyperparameter, a value out of its range or more than ``points`` values."""
    if name not in optimizer.hyperparams:
        raise ValueError(f"{optimizer.info.title} has no hyperparameter {name!r}; it has {', '.join(optimizer.hyperparams)}")
    values = list(values)
    if not 0 < len(values) <= points:
        raise ValueError(f"a sweep takes 1 to {points} values, got {len(values)}")
    spec = optimizer.info.hyperparameters[name]
    for value in values:
        spec.check(name, value)
    _check_compatible(landscape, optimizer)
    x0 = landscape.default_start if x0 is None else x0
    centre, radius = _geometry(landscape)
    padded = np.asarray(values + values[-1:] * (points - len(values)), sweep_dtype(optimizer, name))
    run = _sweep(
        landscape, optimizer, name, padded, jnp.asarray(x0, jnp.float32), np.asarray(seeds, np.int32), centre, radius,
        scan_length(steps),
    )  # fmt: skip
    run = jax.tree.map(lambda a: a[: len(values)], jax.device_get(run))  # on the host: a slice on the device compiles
    return _cut(run, steps)


def diverged_at(sweep: Trajectory) -> list[list[int | None]]:
    """Per value, per seed: None or the first step that diverged."""
    return [[None if s < 0 else int(s) for s in row] for row in np.asarray(sweep.diverged_step)]


@functools.partial(jax.jit, static_argnames=("names", "length"))
def _grid(landscape, optimizer, names, settings, x0, seed, centre, radius, length):
    """Runs for every row of ``settings`` (one column per hyperparameter of ``names``): ``vmap`` over the rows."""

    def one_setting(row):
        method = dataclasses.replace(optimizer, hyperparams={**optimizer.hyperparams, **dict(zip(names, row))})
        return _run.__wrapped__(landscape, method, x0, seed, centre, radius, length, None)

    return jax.vmap(one_setting)(settings)


def run_grid(
    landscape: Landscape,
    optimizer: Optimizer,
    axes: dict[str, Sequence[float]],
    x0=None,
    steps: int = 200,
    seed: int = 0,
    points: int = GRID_POINTS,
) -> Trajectory:
    """``optimizer`` at every combination of the values in ``axes`` (hyperparameter → values), from
    ``x0``, for one seed. Every field has one leading axis per hyperparameter, in the order of ``axes``.

    The combinations are padded to ``points`` (repeating the last one), so that every grid of one
    optimizer structure, scan length and set of hyperparameters is one program. Raises ``ValueError``
    as ``run_sweep`` does, and for more than ``points`` combinations or a whole-number hyperparameter
    (the grid's values are traced as float32)."""
    names = tuple(axes)
    for name in names:
        if name not in optimizer.hyperparams:
            raise ValueError(f"{optimizer.info.title} has no hyperparameter {name!r}; it has {', '.join(optimizer.hyperparams)}")
        if sweep_dtype(optimizer, name) != jnp.float32:
            raise ValueError(f"a grid goes over real-valued hyperparameters; {name!r} is a whole number")
        for value in axes[name]:
            optimizer.info.hyperparameters[name].check(name, value)
    shape = tuple(len(axes[name]) for name in names)
    count = math.prod(shape)
    if not 0 < count <= points:
        raise ValueError(f"a grid takes 1 to {points} combinations, got {count}")
    _check_compatible(landscape, optimizer)
    x0 = landscape.default_start if x0 is None else x0
    centre, radius = _geometry(landscape)
    mesh = np.meshgrid(*(np.asarray(axes[name], np.float32) for name in names), indexing="ij")
    settings = np.stack([m.ravel() for m in mesh], axis=-1)
    settings = np.concatenate([settings, np.repeat(settings[-1:], points - count, axis=0)])
    run = _grid(
        landscape, optimizer, names, settings, jnp.asarray(x0, jnp.float32), np.int32(seed), centre, radius,
        scan_length(steps),
    )  # fmt: skip
    run = jax.tree.map(lambda a: a[:count].reshape(shape + a.shape[1:]), jax.device_get(run))
    return _cut(run, steps)
