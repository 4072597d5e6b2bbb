"""RMSProp.

    ν ← ρ ν + (1 − ρ) g²
    θ ← θ − α g / √(ν + ε)

Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning",
Coursera 2012. Adam without the first moment and without bias correction; ε
sits inside the square root, as in ``optax.rmsprop``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class RMSPropState(NamedTuple):
    nu: optax.Params  # ν


def rmsprop(learning_rate: float, decay: float = 0.9, eps: float = 1e-8):
    def init(params):
        return RMSPropState(optax.tree.zeros_like(params))

    def update(grads, state, params=None, **extra_args):
        nu = jax.tree.map(lambda n, g: decay * n + (1 - decay) * g**2, state.nu, grads)
        step = jax.tree.map(lambda g, n: -learning_rate * g / jnp.sqrt(n + eps), grads, nu)
        return step, RMSPropState(nu)

    return optax.GradientTransformationExtraArgs(init, update)
