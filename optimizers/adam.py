"""Adam.

    m ← β₁ m + (1 − β₁) g            (first moment)
    v ← β₂ v + (1 − β₂) g²           (second moment, element-wise)
    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
    θ ← θ − α m̂ / (√v̂ + ε)

Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015. Read as
a second-order method, 1/(√v̂ + ε) is a diagonal preconditioner built from
squared gradients, not from curvature: on a rotated quadratic it cannot undo
the rotation. Same defaults as ``optax.adam``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdamState(NamedTuple):
    count: jax.Array  # t, steps taken
    mu: optax.Params  # m
    nu: optax.Params  # v


def scale_by_adam_moments(state: AdamState, grads, b1, b2, eps):
    """One moment update; returns the direction m̂/(√v̂+ε) and the new state."""
    t = state.count + 1
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g**2, state.nu, grads)
    m_hat = jax.tree.map(lambda m: m / (1 - b1**t), m)
    v_hat = jax.tree.map(lambda v: v / (1 - b2**t), v)
    direction = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), m_hat, v_hat)
    return direction, AdamState(t, m, v)


def init_adam_state(params) -> AdamState:
    zeros = optax.tree.zeros_like(params)
    return AdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)


def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    def update(grads, state, params=None, **extra_args):
        direction, state = scale_by_adam_moments(state, grads, b1, b2, eps)
        return jax.tree.map(lambda d: -learning_rate * d, direction), state

    return optax.GradientTransformationExtraArgs(init_adam_state, update)
