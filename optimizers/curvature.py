"""Curvature as matrix-vector products, built from the loss and passed to the
second-order optimizers through their ``update`` keyword arguments
(``hvp=...``, ``ggn_vp=...``), never through globals.

    Hessian-vector product   H v = ∂/∂ε ∇L(θ + ε v)            (forward over reverse)
    GGN-vector product       G v = Jᵀ H_ℓ J v,  L = ℓ ∘ f        (Schraudolph 2002;
                             J v by jvp of f, H_ℓ by jvp of ∇ℓ, Jᵀ by vjp of f)

``dense_matrix`` turns either product into an n×n matrix by applying it to the
n basis vectors: exact and cheap for the 2-D landscapes and small networks.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

MatVec = Callable  # pytree -> pytree, linear


def hessian_vector_product(loss_fn: Callable, params) -> MatVec:
    grad_fn = jax.grad(loss_fn)
    return lambda v: jax.jvp(grad_fn, (params,), (v,))[1]


def ggn_vector_product(model_fn: Callable, outer_loss_fn: Callable, params) -> MatVec:
    """G v for L(θ) = ℓ(f(θ)) with ℓ convex in f's outputs."""
    outputs, pullback = jax.vjp(model_fn, params)
    outer_grad = jax.grad(outer_loss_fn)

    def product(v):
        jv = jax.jvp(model_fn, (params,), (v,))[1]
        h_jv = jax.jvp(outer_grad, (outputs,), (jv,))[1]
        return pullback(h_jv)[0]

    return product


def half_squared_norm(residuals: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum(residuals**2)


def gauss_newton_vector_product(residual_fn: Callable, params) -> MatVec:
    """JᵀJ v for L = ½‖r(θ)‖² (H_ℓ = I)."""
    return ggn_vector_product(residual_fn, half_squared_norm, params)


def dense_matrix(matvec: MatVec, like) -> jax.Array:
    """The n×n matrix of a linear map on pytrees shaped like ``like``."""
    flat, unravel = ravel_pytree(like)
    basis = jnp.eye(flat.size, dtype=flat.dtype)
    return jax.vmap(lambda e: ravel_pytree(matvec(unravel(e)))[0], out_axes=1)(basis)


def tree_dot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def require(extra_args: dict, name: str, method: str):
    if extra_args.get(name) is None:
        raise ValueError(f"{method} needs the keyword argument {name}= in update()")
    return extra_args[name]
