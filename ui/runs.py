"""Runs and contour grids for the pages, cached per setting.

``st.cache_data`` keys every run on (landscape name and parameters, optimizer
name and settings, start, steps, seed, number of seeds), so a rerun computes
only the runs whose settings changed. Underneath, the engine's jitted programs
take all numeric values as traced arguments: a new value reuses the compiled
code, and only a new landscape class, optimizer structure, steps bucket or
number of seeds compiles.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import streamlit as st

from landscapes import Landscape, get_landscape
from optimizers import averaged_iterate, averaged_path, get_optimizer, run_trajectories, run_trajectory
from optimizers import with_averaging, with_schedule
from optimizers.engine import scan_length

Items = tuple[tuple[str, float | int | bool | str], ...]  # a settings dict as a hashable cache key
CONSTANT = "constant"  # the schedule of a run without one
NO_AVERAGE = "none"  # the averaging of a run without it


def items(settings: dict) -> Items:
    return tuple(sorted(settings.items()))


class RunResult(NamedTuple):
    """One optimizer's runs from one start: a leading axis over seeds (length 1 when deterministic)."""

    params: np.ndarray  # (seeds, steps + 1, 2) float32
    loss: np.ndarray  # (seeds, steps + 1) float32: the exact loss L(θₖ)
    grads: np.ndarray  # (seeds, steps + 1, 2) float32: the gradient the optimizer saw
    diverged_at: tuple[int | None, ...]  # per seed
    # With iterate averaging: the average θ̄ₖ after each step, (seeds, steps + 1, 2), and its exact loss L(θ̄ₖ).
    averaged: np.ndarray | None = None
    averaged_loss: np.ndarray | None = None


def f32(array) -> np.ndarray:
    """What the pages send to the browser: float32 (half the bytes of float64)."""
    return np.asarray(array, dtype=np.float32)


@functools.lru_cache(maxsize=256)
def build_landscape(name: str, parameters: Items, gradient_noise: float = 0.0) -> Landscape:
    """One shared, never modified object per setting: building one costs a few JAX dispatches."""
    return get_landscape(name, gradient_noise=gradient_noise, **dict(parameters))


def build_method(optimizer: str, settings: Items, schedule: str = CONSTANT, schedule_params: Items = (),
                 average: str = NO_AVERAGE, average_params: Items = ()):  # fmt: skip
    """The optimizer a run uses: ``optimizer`` with ``settings``, under a learning-rate schedule
    (``optimizers.with_schedule``) unless it is constant, its iterates averaged
    (``optimizers.with_averaging``) unless ``average`` is "none". ``ValueError`` for a bad value."""
    method = get_optimizer(optimizer, **dict(settings))
    if schedule != CONSTANT:
        method = with_schedule(method, schedule, **dict(schedule_params))
    if average != NO_AVERAGE:
        method = with_averaging(method, average, **dict(average_params))
    return method


@jax.jit
def _loss_along(landscape, points):
    return jax.vmap(jax.vmap(landscape.loss))(points)


def loss_along(landscape: Landscape, points: np.ndarray) -> np.ndarray:
    """L at each of ``points`` (seeds, k, 2), padded to the engine's scan length so that a new number of
    steps in the same bucket reuses the compiled program."""
    seeds, length, _ = points.shape
    padded = np.zeros((seeds, scan_length(length) + 1, points.shape[-1]), np.float32)
    padded[:, :length] = points
    padded[:, length:] = points[:, -1:]
    return np.asarray(_loss_along(landscape, padded))[:, :length]


@st.cache_data(max_entries=512, show_spinner=False)
def compute_run(
    landscape_name: str,
    landscape_parameters: Items,
    gradient_noise: float,
    optimizer: str,
    settings: Items,
    start: tuple[float, float],
    steps: int,
    seed: int,
    seeds: int = 1,
    schedule: str = CONSTANT,
    schedule_params: Items = (),
    average: str = NO_AVERAGE,
    average_params: Items = (),
) -> RunResult:
    """``seeds`` runs with seeds ``seed, seed + 1, ...``; raises ``ValueError`` for an impossible combination.

    ``schedule``/``schedule_params`` and ``average``/``average_params`` wrap the optimizer (``build_method``);
    every number of theirs is traced, so a new value reuses the compiled program."""
    landscape = build_landscape(landscape_name, landscape_parameters, gradient_noise)
    method = build_method(optimizer, settings, schedule, schedule_params, average, average_params)
    observe = averaged_iterate if average != NO_AVERAGE else None
    x0 = np.asarray(start, np.float32)
    if seeds > 1:
        run = run_trajectories(landscape, method, x0, seed + np.arange(seeds), steps, observe=observe)
    else:
        run = jax.tree.map(lambda a: a[None], run_trajectory(landscape, method, x0, steps, seed, observe=observe))
    averaged = averaged_loss = None
    if observe is not None:
        averaged = f32(averaged_path(run)[..., :2])
        averaged_loss = f32(loss_along(build_landscape(landscape_name, landscape_parameters), averaged))
    return RunResult(f32(run.params[..., :2]), f32(run.loss), f32(run.grads[..., :2]), tuple(run.diverged_at),
                     averaged, averaged_loss)  # fmt: skip


PICTURE_UPSAMPLE = 4  # a contour picture has this many pixels per grid step, about the size it is drawn


class Grid(NamedTuple):
    xs: np.ndarray  # (nx,) float32
    ys: np.ndarray  # (ny,) float32
    loss: np.ndarray  # (ny, nx) float32: L(x, y), rows along y as plotly wants
    # ((ny − 1)·PICTURE_UPSAMPLE + 1, (nx − 1)·PICTURE_UPSAMPLE + 1) float32: the loss at each pixel of
    # the contour picture (its every PICTURE_UPSAMPLE-th row and column is ``loss``), or None
    fine: np.ndarray | None = None


@jax.jit
def _loss_on_grid(landscape, xs, ys):
    points = jnp.stack(jnp.meshgrid(xs, ys), axis=-1)
    return jax.vmap(jax.vmap(landscape.loss))(points)


def loss_grid(landscape: Landscape, bounds, resolution: int) -> Grid:
    """The exact loss on ``resolution``² points over ``bounds`` ((x0, x1), (y0, y1)), and at every pixel
    of its contour picture: a narrow valley's floor often passes between grid points (a few ms)."""
    (x0, x1), (y0, y1) = bounds
    pixels = (resolution - 1) * PICTURE_UPSAMPLE + 1
    xs = np.linspace(x0, x1, pixels, dtype=np.float32)
    ys = np.linspace(y0, y1, pixels, dtype=np.float32)
    fine = np.asarray(_loss_on_grid(landscape, xs, ys), np.float32)
    every = slice(None, None, PICTURE_UPSAMPLE)
    return Grid(xs[every], ys[every], fine[every, every], fine)


@st.cache_data(max_entries=64, show_spinner=False)
def contour_grid(landscape_name: str, landscape_parameters: Items, resolution: int = 121) -> Grid:
    """The exact loss on a grid over the landscape's default view."""
    landscape = build_landscape(landscape_name, landscape_parameters)
    return loss_grid(landscape, landscape.bounds, resolution)
