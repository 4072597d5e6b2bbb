"""Nesterov's accelerated gradient, in the "look-ahead momentum" form.

    z ← β z + g
    θ ← θ − α (g + β z)

Nesterov, "A method of solving a convex programming problem with convergence
rate O(1/k²)", Soviet Math. Doklady 1983; this form is Sutskever, Martens,
Dahl & Hinton, "On the importance of initialization and momentum in deep
learning", ICML 2013. The step uses the velocity it is about to have, which
damps the overshoot of heavy-ball momentum. Same convention as
``optax.sgd(α, momentum=β, nesterov=True)``.
"""

import jax
import optax

from optimizers.momentum import MomentumState


def nesterov(learning_rate: float, momentum: float) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return MomentumState(velocity=optax.tree.zeros_like(params))

    def update(grads, state, params=None, **extra_args):
        z = jax.tree.map(lambda z, g: momentum * z + g, state.velocity, grads)
        step = jax.tree.map(lambda g, z: -learning_rate * (g + momentum * z), grads, z)
        return step, MomentumState(z)

    return optax.GradientTransformationExtraArgs(init, update)
