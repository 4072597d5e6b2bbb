"""Run an optimizer on a landscape: ``jit`` + ``lax.scan`` over the steps,
``vmap`` over seeds and starts.

Both the landscape and the optimizer are pytrees whose leaves are their numeric
parameters, so they enter the compiled function as traced values: another
learning rate, condition number, start or seed reuses the compiled code. Only
a landscape's class, an optimizer's name and structural options, and the
scan length compile anew. The scan length is rounded up to a power of two
(``scan_length``) and the result cut to ``steps``, so the steps slider compiles
a handful of programs, not one per value.

Each step draws one sample (a minibatch, a noise tilt) and hands the optimizer
everything about that sample's objective it may need: ``value``, ``grad``,
``value_fn``, ``hvp`` and, on least-squares landscapes, ``ggn_vp``.

A run that produces a non-finite point or leaves the landscape (farther than
``escape_radius`` from the view's centre) stops there: its parameters stay at
the last good point and ``diverged_at`` is the first step that went bad, so
nothing non-finite ever reaches a plot.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscapes import Landscape
from optimizers.curvature import gauss_newton_vector_product, hessian_vector_product
from optimizers.registry import Optimizer

# Each run splits its seed into one key per step of the (power-of-two) scan length. Only with the
# partitionable Threefry is split(key, n)[i] the same for every n, so that a run of N steps and a
# longer one with the same seed see the same noise on their first N steps (the steps slider must
# not redraw the noise). It is JAX's default since 0.5; set here so that neither an older JAX nor
# a user's config changes it.
jax.config.update("jax_threefry_partitionable", True)


class Trajectory(NamedTuple):
    """One run (or a batch of runs: a leading axis on every field), as NumPy arrays."""

    params: jax.Array  # (steps + 1, n): θ₀ … θ_steps
    loss: jax.Array  # (steps + 1,): the exact loss L(θₖ)
    grads: jax.Array  # (steps + 1, n): the gradient the optimizer saw at θₖ (last row: a fresh sample)
    diverged_step: jax.Array  # first step that diverged, −1 if none
    observed: Any = None  # what ``observe(opt_state, θ)`` returned after each step

    @property
    def diverged_at(self):
        """None, or the first step that diverged (a list for a batch of runs)."""
        steps = np.asarray(self.diverged_step)
        if steps.ndim == 0:
            return None if steps < 0 else int(steps)
        return [None if s < 0 else int(s) for s in steps]

    @property
    def updates(self) -> np.ndarray:
        """θₖ₊₁ − θₖ: the update each step actually took, (steps, n)."""
        return np.diff(self.params, axis=-2)


def scan_length(steps: int) -> int:
    return max(64, 1 << (int(steps) - 1).bit_length())


def step_extras(landscape: Landscape, theta, sample) -> dict:
    """The keyword arguments a step's ``update`` gets about this sample's objective."""
    loss_fn = functools.partial(landscape.sample_loss, sample=sample)
    value, grad = jax.value_and_grad(loss_fn)(theta)
    extras = dict(value=value, grad=grad, value_fn=loss_fn, hvp=hessian_vector_product(loss_fn, theta))
    if landscape.has_residuals:
        extras["ggn_vp"] = gauss_newton_vector_product(lambda t: landscape.residuals(t, sample), theta)
    return extras


def _tree_where(condition, new, old):
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)


@functools.partial(jax.jit, static_argnames=("length", "observe"))
def _run(landscape, optimizer, x0, seed, centre, radius, length, observe):
    transformation = optimizer.transformation
    x0 = jnp.asarray(x0, jnp.float32)

    def step(carry, key):
        theta, state, diverged_step, k = carry
        extras = step_extras(landscape, theta, landscape.sample(key))
        updates, new_state = transformation.update(extras["grad"], state, theta, **extras)
        new_theta = theta + updates
        bad = ~jnp.all(jnp.isfinite(new_theta)) | (jnp.linalg.norm(new_theta - centre) > radius)
        stopped = (diverged_step >= 0) | bad
        diverged_step = jnp.where((diverged_step < 0) & bad, k + 1, diverged_step)
        theta = jnp.where(stopped, theta, new_theta)
        state = _tree_where(stopped, state, new_state)
        record = (theta, landscape.loss(theta), extras["grad"], observe(state, theta) if observe else None)
        return (theta, state, diverged_step, k + 1), record

    keys = jax.random.split(jax.random.key(seed), length + 1)
    carry = (x0, transformation.init(x0), jnp.int32(-1), jnp.int32(0))
    (theta, _, diverged_step, _), (params, loss, grads, observed) = jax.lax.scan(step, carry, keys[:-1])
    last_grad = step_extras(landscape, theta, landscape.sample(keys[-1]))["grad"]
    params = jnp.concatenate([x0[None], params])
    loss = jnp.concatenate([landscape.loss(x0)[None], loss])
    grads = jnp.concatenate([grads, last_grad[None]])
    return Trajectory(params, loss, grads, diverged_step, observed)


_run_batch = jax.jit(
    jax.vmap(_run.__wrapped__, in_axes=(None, None, 0, 0, None, None, None, None)),
    static_argnames=("length", "observe"),
)


def _check_compatible(landscape: Landscape, optimizer: Optimizer):
    if "dense_layers" in optimizer.info.needs:
        raise ValueError(
            f"{optimizer.info.title} approximates the curvature of a network layer by layer (a Kronecker "
            f"product per dense layer), and the {landscape.title} has no layers: it runs on the Scale-up page."
        )
    if "ggn_vp" in optimizer.info.needs and not landscape.has_residuals:
        raise ValueError(
            f"{optimizer.info.title} needs a convex outer loss (L = ℓ∘f), and the "
            f"{landscape.title} has none: its Gauss–Newton matrix is not defined."
        )


def _cut(trajectory: Trajectory, steps: int) -> Trajectory:
    """Host-side NumPy arrays cut to ``steps``: slicing on the host compiles nothing."""
    run = jax.device_get(trajectory)
    step_axis = run.params.ndim - 2  # 1 for a batch of runs
    first = lambda a, n: np.take(a, np.arange(n), axis=step_axis)  # noqa: E731
    return Trajectory(
        params=first(run.params, steps + 1),
        loss=first(run.loss, steps + 1),
        grads=first(run.grads, steps + 1),
        diverged_step=np.where(run.diverged_step > steps, -1, run.diverged_step),
        observed=jax.tree.map(lambda a: first(a, steps), run.observed),
    )


def _geometry(landscape: Landscape):
    (x0, x1), (y0, y1) = landscape.bounds
    centre = np.zeros(len(landscape.default_start), np.float32)
    centre[:2] = ((x0 + x1) / 2, (y0 + y1) / 2)
    return centre, np.float32(landscape.escape_radius)


def run_trajectory(
    landscape: Landscape,
    optimizer: Optimizer,
    x0=None,
    steps: int = 200,
    seed: int = 0,
    observe: Callable | None = None,
) -> Trajectory:
    """One run from ``x0`` (default: the landscape's default start)."""
    _check_compatible(landscape, optimizer)
    x0 = landscape.default_start if x0 is None else x0
    centre, radius = _geometry(landscape)
    run = _run(landscape, optimizer, jnp.asarray(x0, jnp.float32), seed, centre, radius, scan_length(steps), observe)
    return _cut(run, steps)


def run_trajectories(
    landscape: Landscape,
    optimizer: Optimizer,
    x0s,
    seeds,
    steps: int = 200,
    observe: Callable | None = None,
) -> Trajectory:
    """Many runs at once (``vmap``): one per row of ``x0s`` and entry of ``seeds``."""
    _check_compatible(landscape, optimizer)
    x0s, seeds = np.broadcast_arrays(np.asarray(x0s, np.float32), np.asarray(seeds, np.int32)[:, None])
    centre, radius = _geometry(landscape)
    run = _run_batch(landscape, optimizer, x0s, seeds[:, 0], centre, radius, scan_length(steps), observe)
    return _cut(run, steps)
