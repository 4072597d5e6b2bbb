"""Saddle-free Newton.

    H = Σᵢ λᵢ vᵢ vᵢᵀ,   |H| = Σᵢ |λᵢ| vᵢ vᵢᵀ
    θ ← θ − α (|H| + λ I)⁻¹ g

Dauphin, Pascanu, Gulcehre, Cho, Ganguli & Bengio, "Identifying and attacking
the saddle point problem in high-dimensional non-convex optimization",
NeurIPS 2014. Taking absolute values of the eigenvalues keeps Newton's
rescaling of each direction but flips the sign of the step along negative
curvature, so a saddle repels instead of attracting.
"""

import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from optimizers.curvature import dense_matrix, require


def saddle_free_newton(learning_rate: float = 1.0, damping: float = 1e-3):
    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, **extra_args):
        hessian = dense_matrix(require(extra_args, "hvp", "saddle_free_newton"), grads)
        eigenvalues, eigenvectors = jnp.linalg.eigh(hessian)
        g, unravel = ravel_pytree(grads)
        g_eig = eigenvectors.T @ g  # g in H's eigenbasis
        step = -learning_rate * eigenvectors @ (g_eig / (jnp.abs(eigenvalues) + damping))
        return unravel(step), state

    return optax.GradientTransformationExtraArgs(init, update)
