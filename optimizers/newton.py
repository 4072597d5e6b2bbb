"""Damped Newton's method.

    θ ← θ − α (H + λ I)⁻¹ g

with H = ∇²L(θ), formed densely from Hessian-vector products (``hvp=`` in
``update``). On a quadratic, α = 1 and λ = 0 land on the critical point in one
step, whatever its type: a saddle attracts Newton as strongly as a minimum
does (Dauphin et al., "Identifying and attacking the saddle point problem in
high-dimensional non-convex optimization", NeurIPS 2014). The damping λ blends
the step towards gradient descent with step α/λ, and keeps it finite where H
is singular. Cost: n Hessian-vector products and an n×n solve per step, which
is why it is reserved for small problems.
"""

import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from optimizers.curvature import dense_matrix, require


def newton(learning_rate: float = 1.0, damping: float = 0.0) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, **extra_args):
        hessian = dense_matrix(require(extra_args, "hvp", "newton"), grads)
        g, unravel = ravel_pytree(grads)
        step = -learning_rate * jnp.linalg.solve(hessian + damping * jnp.eye(g.size), g)
        return unravel(step), state

    return optax.GradientTransformationExtraArgs(init, update)
