"""Iterate averaging for any optimizer: the run is the optimizer's own, and an average of its
iterates θ₀, θ₁, … is kept beside it.

    Polyak–Ruppert:  θ̄ₖ = (θₛ + … + θₖ) / (k − s + 1)        (θ̄ₖ = θₖ while k ≤ s, s = ``start``)
    moving average:  θ̃ₖ = β θ̃ₖ₋₁ + (1 − β) θₖ               (θ̃ₖ = θₖ while k ≤ s)

Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging",
SIAM J. Control Optim. 30(4), 1992; Ruppert, "Efficient Estimations from a
Slowly Convergent Robbins–Monro Process", Cornell tech. report 781, 1988.
With a constant step, SGD does not converge: it hovers at a noise floor. On
the noisy quadratic (gradient noise of covariance σ²A/B) GD's component
along an eigen-direction λ is xₖ₊₁ = (1 − αλ)xₖ − αξₖ, whose excess loss
settles at αλσ²/(2B(2 − αλ)) (``theory.gd_noise_floor``). The iterates
scatter around the minimum, so their average is far closer to it: over N
steps of the stationary scatter the Polyak average's excess loss is about
σ²/(2BN) per direction, whatever α and λ (the Cramér–Rao bound of N
minibatches). The moving average keeps a window of about 1/(1 − β) steps, so
it also follows a run that is still moving.

The average is not the iterate: the optimizer steps from θₖ as it would
without averaging, and the average lives in the state (``AveragingState``).
``run_trajectory(..., observe=averaged_iterate)`` records it after each
step, and ``averaged_path(trajectory)`` gives θ̄₀ … θ̄ₖ beside
``trajectory.params``; in a training loop, ``find_average(opt_state)`` is the
point to evaluate.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optimizers.wrapper import Wrapper
from parameters import Parameter, choose

START = Parameter(0, 0, 100_000, integer=True, label="start averaging at step s")

AVERAGING: dict[str, dict[str, Parameter]] = {
    "polyak": {"start": START},
    "ema": {"decay": Parameter(0.99, 0.0, 0.99999, label="EMA β of the iterates"), "start": START},
}

AVERAGING_TITLES = {"polyak": "Polyak–Ruppert average", "ema": "moving average of the iterates"}


class AveragingState(NamedTuple):
    count: jax.Array  # k, steps taken
    average: optax.Params  # θ̄ₖ (θ₀ before the first step)
    inner: Any  # the averaged optimizer's state


def averaging(
    inner: optax.GradientTransformation, kind: str = "polyak", decay: float = 0.99, start: int = 0
) -> optax.GradientTransformationExtraArgs:
    """``inner``, unchanged, with the average of its iterates in the state (``kind``: "polyak" or "ema")."""
    inner = optax.with_extra_args_support(inner)
    choose("averaging", kind, AVERAGING)

    def init(params):
        return AveragingState(jnp.zeros([], jnp.int32), params, inner.init(params))

    def update(grads, state, params=None, **extra_args):
        if params is None:
            raise ValueError("averaging needs the parameters θ: pass them to update(grads, state, params)")
        updates, inner_state = inner.update(grads, state.inner, params, **extra_args)
        k = state.count + 1  # θₖ = θₖ₋₁ + u is the new iterate
        weight = 1.0 / (k - start + 1) if kind == "polyak" else 1.0 - decay
        weight = jnp.where(k <= start, 1.0, weight)
        average = jax.tree.map(
            lambda a, x, u: a + weight * (x + u - a), state.average, params, updates
        )
        return updates, AveragingState(k, average, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


def find_average(state):
    """The average in an optimizer state (the outermost ``AveragingState`` in it), or None."""
    if isinstance(state, AveragingState):
        return state.average
    if isinstance(state, tuple):
        for part in state:
            found = find_average(part)
            if found is not None:
                return found
    return None


def averaged_iterate(state, theta):
    """The engine's ``observe``: the average after each step."""
    average = find_average(state)
    if average is None:
        raise ValueError("observe=averaged_iterate needs an optimizer made with with_averaging(...)")
    return average


def averaged_path(trajectory) -> np.ndarray:
    """θ̄₀ … θ̄ₖ, the same shape as ``trajectory.params``, from a run with ``observe=averaged_iterate``."""
    if trajectory.observed is None:
        raise ValueError("run the trajectory with observe=averaged_iterate to record the average")
    params = np.asarray(trajectory.params)
    return np.concatenate([params[..., :1, :], np.asarray(trajectory.observed)], axis=-2)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Averaged(Wrapper):
    """An optimizer (an ``Optimizer`` or another wrapper) with its iterates averaged: a pytree whose leaves
    are the optimizer's hyperparameters and ``decay``/``start``; the kind is static."""

    KINDS: ClassVar = AVERAGING
    TITLES: ClassVar = AVERAGING_TITLES
    WHAT: ClassVar = "averaging"

    def wrap(self, inner):
        return averaging(inner, self.kind, **self.params)


def with_averaging(optimizer, kind: str = "polyak", **params) -> Averaged:
    """``optimizer`` with the average of its iterates kept in its state (``AVERAGING`` lists the numbers)."""
    return Averaged.around(optimizer, kind, **params)
