"""Yogi.

    m ← β₁ m + (1 − β₁) g                           (first moment, as Adam)
    v ← v − (1 − β₂) sign(v − g²) g²                (second moment, element-wise)
    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
    θ ← θ − α m̂ / (√v̂ + ε)

Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex
Optimization", NeurIPS 2018. Adam's v ← β₂v + (1 − β₂)g² can be written
v ← v − (1 − β₂)(v − g²): when g² falls far below v, v shrinks by a fixed
fraction of itself and the effective step α/√v̂ can grow quickly. Yogi moves v
towards g² by (1 − β₂)g² only, so v changes additively and no faster than the
gradients it sees; the step grows slowly after a burst of large gradients.

Same conventions as ``optax.yogi`` (the twin in the tests): Adam's bias
correction as above, ε = 1e-3 outside the root, and both moments start at
m₀ = v₀ = 10⁻⁶ (``initial_accumulator_value``), not at zero, so the first
step is not exactly Adam's.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class YogiState(NamedTuple):
    count: jax.Array  # t, steps taken
    mu: optax.Params  # m
    nu: optax.Params  # v


def yogi(
    learning_rate: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    initial_accumulator_value: float = 1e-6,
) -> optax.GradientTransformationExtraArgs:
    def init(params):
        start = optax.tree.full_like(params, initial_accumulator_value)
        return YogiState(count=jnp.zeros([], jnp.int32), mu=start, nu=start)

    def update(grads, state, params=None, **extra_args):
        t = state.count + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        v = jax.tree.map(lambda v, g: v - (1 - b2) * jnp.sign(v - g**2) * g**2, state.nu, grads)
        step = jax.tree.map(
            lambda m, v: -learning_rate * (m / (1 - b1**t)) / (jnp.sqrt(v / (1 - b2**t)) + eps), m, v
        )
        return step, YogiState(t, m, v)

    return optax.GradientTransformationExtraArgs(init, update)
