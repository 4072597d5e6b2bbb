"""Learning-rate schedules for any optimizer: its update times a factor s(t).

    u ← s(t) · u,    t = the number of steps taken before this one (0 on the first)

For a method whose update is −α·d (all of them but AdamQLR, whose step size
comes from its own model) that is the learning rate α·s(t): the optimizer's α
is the schedule's peak. The count starts at 0 on the first update, as in
``optax.scale_by_schedule``, so ``optax.adam(optax.cosine_decay_schedule(α, T))``
and ``with_schedule(get_optimizer("adam", learning_rate=α), "cosine",
decay_steps=T)`` take the same steps. The kinds are optax's own schedules
(``optax.schedules``), with peak 1:

* ``constant``: s = 1.
* ``exponential``: s = max(r^(t/T), end_value)  (``exponential_decay``).
* ``cosine``: s = a + (1 − a)·½(1 + cos(π·min(t, T)/T)), a = ``alpha``
  (``cosine_decay_schedule``; Loshchilov & Hutter, "SGDR: Stochastic Gradient
  Descent with Warm Restarts", ICLR 2017).
* ``warmup_cosine``: linear from ``init_value`` to 1 over the first W steps,
  then cosine down to ``end_value`` at step D, the warm-up included
  (``warmup_cosine_decay_schedule``; Goyal et al., "Accurate, Large Minibatch
  SGD: Training ImageNet in 1 Hour", 2017, for the warm-up).
* ``piecewise_constant``: step decay, s = 1, times γ from step b₁ on and γ
  again from b₂ on (``join_schedules`` of ``constant_schedule``\\ s, the same
  values as ``piecewise_constant_schedule(1, {b₁: γ, b₂: γ})``).
* ``polynomial``: s = e + (1 − e)(1 − min(t, T)/T)^power (``polynomial_schedule``).

Every number is a traced leaf of the ``Scheduled`` pytree (only the kind is
static), so a new value reuses the compiled code. optax's factories check
some arguments in Python (``transition_steps > 0``, ``decay_rate ≠ 0``,
``peak_value == 0``), which a traced value cannot pass; those enter as a change
of the count instead, which is exact: optax's schedule over T steps at count t
is its schedule over one step at count t/T, the warm-up and the cosine of
``warmup_cosine`` are its one-step pieces at t/W and 1 + (t − W)/(D − W), and
r^(t/T) is optax's decay by 1/e at count (t/T)·ln(1/r).

``learning_rates(optimizer, steps)`` gives α·s(t) for the steps of a run, for
drawing α against the step.
"""

from __future__ import annotations

import math
import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optimizers.wrapper import Wrapper
from parameters import Parameter, choose, validate


def _steps(default: int, label: str) -> Parameter:
    return Parameter(default, 1, 100_000, log=True, integer=True, label=label)


FRACTION = lambda default, label: Parameter(default, 0.0, 1.0, label=label)  # noqa: E731

SCHEDULES: dict[str, dict[str, Parameter]] = {
    "constant": {},
    "exponential": {
        "decay_rate": Parameter(0.5, 1e-3, 1.0, log=True, label="decay rate r per T steps"),
        "transition_steps": _steps(100, "T"),
        "end_value": FRACTION(0.0, "floor (× α)"),
    },
    "cosine": {"decay_steps": _steps(300, "decay steps T"), "alpha": FRACTION(0.0, "final value (× α)")},
    "warmup_cosine": {
        "init_value": FRACTION(0.0, "start value (× α)"),
        "warmup_steps": _steps(30, "warm-up steps W"),
        "decay_steps": _steps(300, "total steps D (with the warm-up)"),
        "end_value": FRACTION(0.0, "final value (× α)"),
    },
    "piecewise_constant": {
        "boundary_1": _steps(150, "first drop at step b₁"),
        "boundary_2": _steps(225, "second drop at step b₂"),
        "scale": FRACTION(0.1, "factor γ at each drop"),
    },
    "polynomial": {
        "transition_steps": _steps(300, "decay steps T"),
        "power": Parameter(1.0, 0.1, 10.0, log=True, label="power"),
        "end_value": FRACTION(0.0, "final value (× α)"),
    },
}

SCHEDULE_TITLES = {
    "constant": "constant",
    "exponential": "exponential decay",
    "cosine": "cosine decay",
    "warmup_cosine": "linear warm-up, cosine decay",
    "piecewise_constant": "step decay",
    "polynomial": "polynomial decay",
}


def _exponential(t, decay_rate, transition_steps, end_value):
    count = t / transition_steps * -jnp.log(decay_rate)  # r^(t/T) = (1/e)^((t/T)·ln(1/r))
    return optax.schedules.exponential_decay(1.0, 1, math.exp(-1.0), end_value=end_value)(count)


def _cosine(t, decay_steps, alpha):
    return optax.schedules.cosine_decay_schedule(1.0, 1, alpha=alpha)(t / decay_steps)


def _warmup_cosine(t, init_value, warmup_steps, decay_steps, end_value):
    count = jnp.where(t < warmup_steps, t / warmup_steps, 1.0 + (t - warmup_steps) / (decay_steps - warmup_steps))
    return optax.schedules.warmup_cosine_decay_schedule(init_value, 1.0, 1, 2, end_value=end_value)(count)


def _piecewise_constant(t, boundary_1, boundary_2, scale):
    pieces = [optax.schedules.constant_schedule(value) for value in (1.0, scale, scale * scale)]
    return optax.schedules.join_schedules(pieces, [boundary_1, boundary_2])(t)


def _polynomial(t, transition_steps, power, end_value):
    return optax.schedules.polynomial_schedule(1.0, end_value, power, 1)(t / transition_steps)


_FACTORS = {
    "constant": lambda t: optax.schedules.constant_schedule(1.0)(t),
    "exponential": _exponential,
    "cosine": _cosine,
    "warmup_cosine": _warmup_cosine,
    "piecewise_constant": _piecewise_constant,
    "polynomial": _polynomial,
}


def schedule_factor(kind: str, count, **params) -> jax.Array:
    """s(count) for a schedule ``kind`` with its (possibly traced) numbers; ``count`` may be an array."""
    t = jnp.asarray(count)
    return jnp.broadcast_to(jnp.asarray(_FACTORS[kind](t, **params), jnp.float32), t.shape)


def check_schedule(kind: str, **params) -> dict:
    """The schedule's numbers with defaults filled in and ranges checked; ``ValueError`` otherwise."""
    choose("schedule", kind, SCHEDULES)
    values = validate(f"schedule {kind}", params, SCHEDULES[kind])
    if kind == "warmup_cosine" and not values["warmup_steps"] < values["decay_steps"]:
        raise ValueError("warmup_steps must be smaller than decay_steps (which counts the warm-up)")
    if kind == "piecewise_constant" and not values["boundary_1"] <= values["boundary_2"]:
        raise ValueError("boundary_1 must not come after boundary_2")
    return values


class ScheduleState(NamedTuple):
    count: jax.Array  # t, steps taken
    inner: Any  # the scheduled optimizer's state


def scheduled(inner: optax.GradientTransformation, kind: str, **params) -> optax.GradientTransformationExtraArgs:
    """``inner`` with its updates multiplied by the schedule's factor at the step count."""
    inner = optax.with_extra_args_support(inner)

    def init(parameters):
        return ScheduleState(jnp.zeros([], jnp.int32), inner.init(parameters))

    def update(grads, state, parameters=None, **extra_args):
        updates, inner_state = inner.update(grads, state.inner, parameters, **extra_args)
        factor = schedule_factor(kind, state.count, **params)
        return jax.tree.map(lambda u: (factor * u).astype(u.dtype), updates), ScheduleState(state.count + 1, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Scheduled(Wrapper):
    """An optimizer (an ``Optimizer`` or another wrapper) under a schedule: a pytree whose leaves are the
    optimizer's hyperparameters and the schedule's numbers; the kind is static. ``run_trajectory``,
    ``run_trajectories`` and the Scale-up trainer take it as they take an ``Optimizer``."""

    KINDS: ClassVar = SCHEDULES
    TITLES: ClassVar = SCHEDULE_TITLES
    WHAT: ClassVar = "schedule"

    @classmethod
    def check(cls, kind: str, **params) -> dict:
        return check_schedule(kind, **params)

    def wrap(self, inner):
        return scheduled(inner, self.kind, **self.params)


def with_schedule(optimizer, kind: str, **params) -> Scheduled:
    """``optimizer`` with its step scaled by the schedule ``kind`` (see ``SCHEDULES`` for the numbers)."""
    return Scheduled.around(optimizer, kind, **params)


def schedule_curve(kind: str, steps: int, **params) -> np.ndarray:
    """s(t) for t = 0 … steps − 1: the factor of each of a run's steps (float64, on the host)."""
    values = check_schedule(kind, **params)
    return np.asarray(schedule_factor(kind, np.arange(int(steps), dtype=np.int32), **values), np.float64)


def learning_rates(optimizer, steps: int) -> np.ndarray:
    """The learning rate of each of a run's ``steps`` steps: α·s(t), the product of every schedule wrapped
    around the optimizer times its ``learning_rate`` (1 for a method without one: then the factor alone)."""
    factor = np.ones(int(steps))
    while hasattr(optimizer, "optimizer"):  # a wrapper: Scheduled, Averaged
        if isinstance(optimizer, Scheduled):
            factor = factor * schedule_curve(optimizer.kind, steps, **optimizer.params)
        optimizer = optimizer.optimizer
    return float(optimizer.hyperparams.get("learning_rate", 1.0)) * factor
