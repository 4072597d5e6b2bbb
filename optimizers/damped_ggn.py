"""Damped generalised Gauss–Newton, with optional Levenberg–Marquardt damping.

For L(θ) = ℓ(f(θ)) with ℓ convex in the outputs f, the GGN matrix
G = Jᵀ H_ℓ J (J = ∂f/∂θ) drops the Σₖ (∂ℓ/∂fₖ) ∇²fₖ part of the Hessian and
is positive semi-definite everywhere. Each step solves, matrix-free by
conjugate gradient on GGN-vector products (``ggn_vp=`` in ``update``):

    (G + λ I) δ = −g,      θ ← θ + α δ

Levenberg–Marquardt adaptation (``adaptive=True``; Martens, "Deep learning via
Hessian-free optimization", ICML 2010): with the local model
M(δ) = gᵀδ + ½ δᵀGδ (λ left out, as in kfac-jax) and the reduction ratio

    ρ = (L(θ + αδ) − L(θ)) / M(αδ),

λ ← 3/2 · λ if ρ < ¼ and λ ← 2/3 · λ if ρ > ¾. A step that does not lower the
loss on the same minibatch is rejected (θ stays) and λ rises, whatever ρ says
(with α ≠ 1 the model can predict an increase correctly). Large λ turns the
step into gradient descent with step α/λ; small λ trusts the model fully.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.scipy.sparse.linalg import cg

from optimizers.curvature import require, tree_dot

DAMPING_INCREASE, DAMPING_DECREASE = 1.5, 2.0 / 3.0
DAMPING_RANGE = (1e-8, 1e8)


class DampedGGNState(NamedTuple):
    damping: jax.Array  # λ (constant unless adaptive)
    reduction_ratio: jax.Array  # ρ of the last step (nan when not adaptive)


def damped_ggn(
    learning_rate: float = 1.0,
    damping: float = 1e-3,
    adaptive: bool = False,
    cg_iterations: int = 50,
) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return DampedGGNState(jnp.asarray(damping, jnp.float32), jnp.asarray(jnp.nan, jnp.float32))

    def update(grads, state, params=None, **extra_args):
        ggn_vp = require(extra_args, "ggn_vp", "damped_ggn")
        lam = state.damping
        damped_ggn_vp = lambda v: jax.tree.map(lambda gv, v: gv + lam * v, ggn_vp(v), v)
        direction, _ = cg(damped_ggn_vp, grads, maxiter=cg_iterations)  # (G + λI)⁻¹ g
        direction = jax.tree.map(lambda d: jnp.where(jnp.isfinite(d), d, 0.0), direction)  # CG: 0/0 once g underflows
        step = jax.tree.map(lambda d: -learning_rate * d, direction)
        if not adaptive:
            return step, state
        return levenberg_marquardt(step, grads, params, state, ggn_vp, extra_args)

    return optax.GradientTransformationExtraArgs(init, update)


def levenberg_marquardt(step, grads, params, state, ggn_vp, extra_args):
    value = require(extra_args, "value", "damped_ggn(adaptive=True)")
    value_fn = require(extra_args, "value_fn", "damped_ggn(adaptive=True)")
    new_value = value_fn(optax.apply_updates(params, step))
    predicted = tree_dot(grads, step) + 0.5 * tree_dot(step, ggn_vp(step))  # M(αδ) − M(0)
    rho = (new_value - value) / predicted
    accepted = new_value < value  # false for nan too
    lam = jnp.where(rho > 0.75, state.damping * DAMPING_DECREASE, state.damping)
    lam = jnp.where((rho < 0.25) | ~accepted, state.damping * DAMPING_INCREASE, lam)
    step = jax.tree.map(lambda s: jnp.where(accepted, s, 0.0), step)
    return step, DampedGGNState(jnp.clip(lam, *DAMPING_RANGE), rho)
