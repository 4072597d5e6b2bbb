"""Heavy-ball momentum.

    z ← β z + g
    θ ← θ − α z

Polyak, "Some methods of speeding up the convergence of iteration methods",
USSR Comput. Math. & Math. Phys. 1964. On a quadratic, the best (α, β) turn the
rate (κ−1)/(κ+1) of gradient descent into (√κ−1)/(√κ+1) (Goh, "Why Momentum
Really Works", Distill 2017). Same convention as ``optax.sgd(α, momentum=β)``.
"""

from typing import NamedTuple

import jax
import optax


class MomentumState(NamedTuple):
    velocity: optax.Params  # z


def momentum(learning_rate: float, momentum: float) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return MomentumState(velocity=optax.tree.zeros_like(params))

    def update(grads, state, params=None, **extra_args):
        z = jax.tree.map(lambda z, g: momentum * z + g, state.velocity, grads)
        return jax.tree.map(lambda z: -learning_rate * z, z), MomentumState(z)

    return optax.GradientTransformationExtraArgs(init, update)
