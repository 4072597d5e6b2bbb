"""mL-BFGS: momentum-based L-BFGS for stochastic optimisation.

Plain L-BFGS builds its curvature pairs from consecutive minibatch gradients,
whose difference is mostly noise. mL-BFGS builds them from moving averages:

    every step    Mθ ← β_p Mθ + (1 − β_p) θ,    Mg ← β_g Mg + (1 − β_g) g
                  (started at θ₀ and g₀ on step 1)
    every T steps s = Mθ − Mθ′,   y = Mg − Mg′    (′: T steps ago), on the
                  steps n = T, 2T, 3T, … (counted from 1, n ≥ 2); the first of
                  them only takes the snapshot, so the first pair comes on step
                  2T (step 3 when T = 1), as in the authors' code
    pair damping  μ = sᵀy / sᵀs
                  φ = (1 − σ_L)/(1 − μ) if μ < σ_L,  (σ_H − 1)/(μ − 1) if μ > σ_H,  else 1
                  φ ← min(φ, 1 − damping),   ŷ = φ y + (1 − φ) s
                  (so sᵀŷ/sᵀs lies in [σ_L, σ_H]); keep the newest m pairs (s, ŷ)
    direction     d = H g by the L-BFGS two-loop recursion, H⁰ = sᵀŷ/ŷᵀŷ · I
    step clip     d ← d · min(1, √(κ_clip / gᵀd))      (the authors' "KL clip")
    warm-up       until the first pair exists, d = g · min(1, 1/‖g‖), unclipped
    heavy ball    b ← μ_b b + d,   θ ← θ − α b

Niu, Fabian, Lee, Soltanolkotabi & Avestimehr, "mL-BFGS: A Momentum-based
L-BFGS for Distributed Large-Scale Neural Network Optimization", TMLR 2023.
The authors' defaults are β_p 0.9, β_g 0.99, T 100, m 100, damping 0.2,
σ_L 0.01, σ_H 1. Ours suit the 2-D noisy quadratic: β_p = β_g = 0.99 (equal
decays keep y = A s exact on a quadratic), T 20, m 10, momentum 0.3, and σ_H
10⁴, since σ_H must exceed the landscape's largest curvature or the damping
erases it. The bounds σ_L, σ_H compare sᵀy with sᵀs, so they depend on the
scale of the curvature. Averaging is for noise: on a deterministic curved
valley (Rosenbrock) it mixes curvature from different places, and β = 0 works
better there.

The authors' code (github yuehniu/mL-BFGS) bounds the step after the two-loop
recursion: ``opt/slim.py`` by the clip above (κ_clip 1 in their scripts),
``opt/slimblock.py`` by normalising d to unit length. Without such a bound a
pair dominated by noise can make H, and the step, explode. Like theirs, the
clip acts on the quasi-Newton direction only. Their warm-up, before the first
pair, is plain SGD with momentum, d = g with the same α; ours shortens g to at
most unit length, as L-BFGS's first step does, because one α serves both
phases and is sized for the quasi-Newton direction: at Rosenbrock's start
(‖g‖ ≈ 230) the plain gradient step at α = 1 would leave the view at once.

``block_diagonal=True`` keeps one history per parameter array (per layer):
the block-diagonal variant of the authors' code, which keeps the cost linear
in the number of parameters of each layer.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from optimizers.lbfgs import PairMemory, empty_memory, inverse_hessian_product, is_curvature_pair, remember


class BlockState(NamedTuple):
    """The state of one block: the whole parameter vector, or one layer."""

    param_ema: jax.Array  # Mθ
    grad_ema: jax.Array  # Mg
    param_anchor: jax.Array  # Mθ at the last pair boundary
    grad_anchor: jax.Array  # Mg at the last pair boundary
    memory: PairMemory  # (s, ŷ) pairs
    velocity: jax.Array  # b


class MLBFGSState(NamedTuple):
    count: jax.Array  # steps taken
    blocks: tuple[BlockState, ...]


def damped_pair(s, y, damping, sigma_low, sigma_high):
    """ŷ = φ y + (1 − φ) s, with φ keeping sᵀŷ/sᵀs within [σ_L, σ_H]."""
    mu = jnp.vdot(s, y) / jnp.vdot(s, s)
    phi = jnp.where(mu < sigma_low, (1 - sigma_low) / (1 - mu), 1.0)
    phi = jnp.where(mu > sigma_high, (sigma_high - 1) / (mu - 1), phi)
    phi = jnp.minimum(phi, 1 - damping)
    return phi * y + (1 - phi) * s


def mlbfgs(
    learning_rate: float = 0.5,
    momentum: float = 0.3,
    param_decay: float = 0.99,
    grad_decay: float = 0.99,
    pair_interval: int = 20,
    memory_size: int = 10,
    damping: float = 0.2,
    sigma_low: float = 0.01,
    sigma_high: float = 1e4,
    kl_clip: float = 1.0,
    memory_capacity: int = 50,
    block_diagonal: bool = False,
) -> optax.GradientTransformationExtraArgs:
    def to_blocks(tree) -> list[jax.Array]:
        if block_diagonal:
            return [leaf.ravel() for leaf in jax.tree.leaves(tree)]
        return [ravel_pytree(tree)[0]]

    def from_blocks(blocks, like):
        if block_diagonal:
            leaves, treedef = jax.tree.flatten(like)
            return treedef.unflatten([b.reshape(leaf.shape) for b, leaf in zip(blocks, leaves)])
        return ravel_pytree(like)[1](blocks[0])

    def init(params):
        def block(theta):
            zeros = jnp.zeros_like(theta)
            return BlockState(zeros, zeros, zeros, zeros, empty_memory(memory_capacity, theta.size, theta.dtype), zeros)

        return MLBFGSState(jnp.zeros([], jnp.int32), tuple(block(theta) for theta in to_blocks(params)))

    def update_block(k, block: BlockState, theta, g):
        first = k == 0
        param_ema = jnp.where(first, theta, param_decay * block.param_ema + (1 - param_decay) * theta)
        grad_ema = jnp.where(first, g, grad_decay * block.grad_ema + (1 - grad_decay) * g)

        # the authors' schedule, steps n = k + 1 counted from 1: step 1 only starts the averages, the
        # boundaries are the later multiples of T, the first of them (n = max(T, 2)) only snapshots
        n = k + 1
        boundary = (n % pair_interval == 0) & (n >= 2)
        has_anchor = n > jnp.maximum(pair_interval, 2)

        def new_pair():  # only at a boundary: skipped work on the steps between
            s, y = param_ema - block.param_anchor, grad_ema - block.grad_anchor
            y_hat = damped_pair(s, y, damping, sigma_low, sigma_high)
            return remember(block.memory, s, y_hat, has_anchor & is_curvature_pair(s, y_hat)), param_ema, grad_ema

        memory, param_anchor, grad_anchor = jax.lax.cond(
            boundary, new_pair, lambda: (block.memory, block.param_anchor, block.grad_anchor)
        )

        quasi_newton = memory.count > 0
        warm_up = g * jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g))
        d = jnp.where(quasi_newton, inverse_hessian_product(memory, g, memory_size), warm_up)
        clip = jnp.minimum(1.0, jnp.sqrt(kl_clip / jnp.maximum(jnp.vdot(g, d), 1e-30)))  # gᵀHg ≤ κ_clip
        d = jnp.where(quasi_newton, d * clip, d)  # the authors clip the quasi-Newton direction only
        velocity = momentum * block.velocity + d
        return BlockState(param_ema, grad_ema, param_anchor, grad_anchor, memory, velocity)

    def update(grads, state, params=None, **extra_args):
        blocks = tuple(
            update_block(state.count, block, theta, g)
            for block, theta, g in zip(state.blocks, to_blocks(params), to_blocks(grads))
        )
        step = from_blocks([-learning_rate * block.velocity for block in blocks], grads)
        return step, MLBFGSState(state.count + 1, blocks)

    return optax.GradientTransformationExtraArgs(init, update)
