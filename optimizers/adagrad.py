"""AdaGrad.

    S ← S + g²        (S₀ = 0.1, as in ``optax.adagrad``)
    θ ← θ − α g / √(S + ε)

Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
Stochastic Optimization", JMLR 2011. The accumulated squares only grow, so the
steps shrink like 1/√t: robust to noise, slow on a long run.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdaGradState(NamedTuple):
    sum_of_squares: optax.Params  # S


def adagrad(learning_rate: float, initial_accumulator_value: float = 0.1, eps: float = 1e-7):
    def init(params):
        return AdaGradState(jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None, **extra_args):
        s = jax.tree.map(lambda s, g: s + g**2, state.sum_of_squares, grads)
        step = jax.tree.map(lambda g, s: -learning_rate * g / jnp.sqrt(s + eps), grads, s)
        return step, AdaGradState(s)

    return optax.GradientTransformationExtraArgs(init, update)
