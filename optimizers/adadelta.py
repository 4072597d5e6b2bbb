"""AdaDelta.

    E[g²] ← ρ E[g²] + (1 − ρ) g²                       (running mean of squared gradients)
    Δ = √(E[Δ²] + ε) / √(E[g²] + ε) · g                 (E[Δ²] from the step before)
    E[Δ²] ← ρ E[Δ²] + (1 − ρ) Δ²                       (running mean of squared steps)
    θ ← θ − α Δ

Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv 1212.5701 (2012).
The ratio of the two root-mean-squares has the units of θ/g, those of an
inverse curvature: Zeiler reads it as a diagonal, Newton-like step size
built from the steps and gradients seen so far, so that no learning rate is
needed (α = 1, the default here). The first step is √(ε/(1 − ρ)) ≈ 0.003 per
coordinate whatever the gradient's size, and the steps grow as E[Δ²] fills up.

Same conventions as ``optax.adadelta`` (the twin in the tests): ε inside both
roots, both averages start at zero, and E[Δ²] averages the steps before α.
Unlike ``optax.adadelta``, whose default ``learning_rate=None`` scales by +1
and so climbs the gradient, α here is always a step size and the update
descends.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdaDeltaState(NamedTuple):
    e_g: optax.Params  # E[g²]
    e_x: optax.Params  # E[Δ²]


def adadelta(learning_rate: float = 1.0, rho: float = 0.9, eps: float = 1e-6) -> optax.GradientTransformationExtraArgs:
    def init(params):
        zeros = optax.tree.zeros_like(params)
        return AdaDeltaState(e_g=zeros, e_x=zeros)

    def update(grads, state, params=None, **extra_args):
        e_g = jax.tree.map(lambda e, g: rho * e + (1 - rho) * g**2, state.e_g, grads)
        delta = jax.tree.map(lambda g, eg, ex: jnp.sqrt(ex + eps) / jnp.sqrt(eg + eps) * g, grads, e_g, state.e_x)
        e_x = jax.tree.map(lambda e, d: rho * e + (1 - rho) * d**2, state.e_x, delta)
        return jax.tree.map(lambda d: -learning_rate * d, delta), AdaDeltaState(e_g, e_x)

    return optax.GradientTransformationExtraArgs(init, update)
