"""Gradient descent.

    θ ← θ − α g

Cauchy, "Méthode générale pour la résolution des systèmes d'équations
simultanées", Comptes Rendus 1847. On a quadratic each eigen-component of the
error shrinks by |1 − αλᵢ| per step: stable iff 0 < αλᵢ < 2, and the slowest
component sets the pace when the condition number is large.
"""

import jax
import optax


def gd(learning_rate: float) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, **extra_args):
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformationExtraArgs(init, update)
