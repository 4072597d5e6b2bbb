"""AdamQLR: Adam's direction, with its step length and damping chosen the way
K-FAC chooses them.

    d = m̂ / (√v̂ + ε)                         (Adam's direction, see ``adam``)
    κ = dᵀ G d + λ dᵀd                        (curvature along d; G the GGN)
    α = clip(−gᵀd / κ, −α_max, α_max)         (minimiser of the damped model along d)
    θ ← θ + α d
    ρ = (L(θ + αd) − L(θ)) / (½ α² κ + α gᵀd) (same minibatch; λ inside the model)
    λ ← ½ λ if ρ > ¾,   λ ← 2 λ if ρ < ¼

A zero direction (κ = 0: at a critical point, or once the gradient underflows)
takes a zero step, α = 0, and a step whose predicted reduction is 0 leaves λ
as it is, instead of the 0/0 that would stop the run.

Clarke & Hernández-Lobato, "Studying K-FAC Heuristics by Viewing Adam through
a Second-Order Lens", ICML 2024. No learning rate to tune: the curvature sets
the step, damping keeps it honest. Untuned defaults λ₀ = 10⁻³, α_max = 0.1.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from optimizers.adam import AdamState, init_adam_state, scale_by_adam_moments
from optimizers.curvature import require, tree_dot

DAMPING_INCREASE, DAMPING_DECREASE = 2.0, 0.5
DAMPING_RANGE = (1e-8, 1e8)


class AdamQLRState(NamedTuple):
    adam: AdamState
    damping: jax.Array  # λ
    step_size: jax.Array  # α of the last step


def adamqlr(b1=0.9, b2=0.999, eps=1e-8, damping=1e-3, max_learning_rate=0.1):
    def init(params):
        return AdamQLRState(init_adam_state(params), jnp.asarray(damping, jnp.float32), jnp.zeros([]))

    def update(grads, state, params=None, **extra_args):
        ggn_vp = require(extra_args, "ggn_vp", "adamqlr")
        value = require(extra_args, "value", "adamqlr")
        value_fn = require(extra_args, "value_fn", "adamqlr")
        d, adam_state = scale_by_adam_moments(state.adam, grads, b1, b2, eps)
        lam = state.damping
        g_d = tree_dot(grads, d)
        kappa = tree_dot(d, ggn_vp(d)) + lam * tree_dot(d, d)
        # κ = 0 only for a zero direction (G is PSD, λ > 0), e.g. at a critical point or once g
        # underflows: the model is flat along d and the step is zero, not 0/0
        curved = kappa > 0
        alpha = jnp.clip(jnp.where(curved, -g_d / jnp.where(curved, kappa, 1.0), 0.0), -max_learning_rate, max_learning_rate)
        step = jax.tree.map(lambda d: alpha * d, d)
        predicted = 0.5 * alpha**2 * kappa + alpha * g_d
        # a step that predicts no change says nothing about the model: λ stays as it is
        informative = predicted != 0
        rho = (value_fn(optax.apply_updates(params, step)) - value) / jnp.where(informative, predicted, 1.0)
        lam = jnp.where(rho > 0.75, lam * DAMPING_DECREASE, jnp.where(rho < 0.25, lam * DAMPING_INCREASE, lam))
        lam = jnp.where(informative, lam, state.damping)
        return step, AdamQLRState(adam_state, jnp.clip(lam, *DAMPING_RANGE), alpha)

    return optax.GradientTransformationExtraArgs(init, update)
