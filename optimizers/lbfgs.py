"""L-BFGS: a quasi-Newton method that remembers the last m curvature pairs.

    sₖ = θₖ − θₖ₋₁,   yₖ = gₖ − gₖ₋₁,   ρₖ = 1 / sₖᵀyₖ
    d = Hₖ gₖ by the two-loop recursion over the newest m pairs, from
        H⁰ = γ I,  γ = sᵀy / yᵀy of the newest pair
    θ ← θ − α d                    (line_search = 0, "none": the default)
    θ ← θ − η d,  η along φ(η) = L(θ − η d):
        η = α·½ʲ, the first with φ(η) ≤ φ(0) − c₁ η gᵀd    (1, "backtracking", Armijo)
        η = argmin φ                                        (2, "exact")

Nocedal, "Updating quasi-Newton matrices with limited storage", Math. Comp.
1980; Liu & Nocedal, Math. Programming 1989. The first step has no pairs and
takes d = g · min(1, 1/‖g‖), as ``optax.scale_by_lbfgs`` does. With a line
search α is its first trial step (``optimizers.line_search``): backtracking
never goes beyond it, the exact search does when φ still falls there.

H is the BFGS inverse-Hessian approximation. Each BFGS update makes the newest
secant equation hold, H yₖ = sₖ (on a quadratic y = A s: H is right along the
last step); it keeps an older one, H yᵢ = sᵢ, when the new step is A-conjugate
to sᵢ (sₖᵀA sᵢ = 0), and in general only then. Exact line searches on a
quadratic give exactly that: then L-BFGS with m ≥ n is the conjugate gradient
method, H yᵢ = sᵢ holds for every stored pair (the hereditary property), and
after n steps H = A⁻¹ and θ is the minimum (Nocedal & Wright, "Numerical
Optimization", Thm 6.4 and §7.2). With a fixed step, the default here, only
the newest secant equation holds: on a 6-D quadratic (λ from 0.01 to 1), after
7 steps, ‖H yᵢ − sᵢ‖/‖sᵢ‖ is 1.44, 1.07, 0.63, 0.53, 0.21, 0 from the oldest
pair to the newest and ‖H − A⁻¹‖/‖A⁻¹‖ = 0.79. Fast convergence does not need
H = A⁻¹: on a 20-D quadratic (λ from 0.01 to 1) the fixed-step method lowers
the loss 5·10¹⁷-fold in 80 steps while ‖H − A⁻¹‖/‖A⁻¹‖ is still 0.55.

A pair with sᵀy ≤ 0 (negative curvature, or noise) is skipped. That is the
only safeguard: on a noisy objective consecutive gradients come from different
minibatches, y is dominated by noise, and plain L-BFGS becomes erratic; see
``mlbfgs`` for the momentum-based fix. By default the step length is the
fixed α, so that the contrast with mL-BFGS is about the curvature pairs alone.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from optimizers.line_search import line_search_code, with_line_search

CURVATURE_TOLERANCE = 1e-10  # skip pairs with sᵀy ≤ tol · ‖s‖‖y‖


class PairMemory(NamedTuple):
    """The last ``capacity`` pairs (s, y) in a ring buffer, newest at (count − 1) % capacity."""

    s: jax.Array  # (capacity, n)
    y: jax.Array  # (capacity, n)
    count: jax.Array  # pairs stored so far


def empty_memory(capacity: int, n: int, dtype=jnp.float32) -> PairMemory:
    zeros = jnp.zeros((capacity, n), dtype)
    return PairMemory(zeros, zeros, jnp.zeros([], jnp.int32))


def is_curvature_pair(s, y) -> jax.Array:
    sy = jnp.vdot(s, y)
    return (sy > CURVATURE_TOLERANCE * jnp.linalg.norm(s) * jnp.linalg.norm(y)) & jnp.isfinite(sy)


def remember(memory: PairMemory, s, y, keep) -> PairMemory:
    """Store (s, y) in the oldest slot when ``keep`` is true."""
    slot = memory.count % memory.s.shape[0]
    return PairMemory(
        memory.s.at[slot].set(jnp.where(keep, s, memory.s[slot])),
        memory.y.at[slot].set(jnp.where(keep, y, memory.y[slot])),
        memory.count + keep.astype(jnp.int32),
    )


def inverse_hessian_product(memory: PairMemory, v: jax.Array, memory_size) -> jax.Array:
    """H v by the two-loop recursion over the newest ``memory_size`` pairs (H = I without pairs).

    The loops read each pair in place from the ring buffer (newest first, then back), so the
    buffer is never copied; slots beyond the pairs in use get ρ = 0 and leave the vector as it is."""
    capacity = memory.s.shape[0]
    age = jnp.arange(capacity)  # 0 = newest
    slots = (memory.count - 1 - age) % capacity
    used = age < jnp.minimum(memory.count, memory_size)

    def newest_to_oldest(q, slot_used):
        slot, in_use = slot_used
        s_i, y_i = memory.s[slot], memory.y[slot]
        rho_i = jnp.where(in_use, 1.0 / jnp.where(in_use, jnp.vdot(s_i, y_i), 1.0), 0.0)
        a_i = rho_i * jnp.vdot(s_i, q)
        return q - a_i * y_i, (rho_i, a_i)

    q, (rho, a) = jax.lax.scan(newest_to_oldest, v, (slots, used))
    s_new, y_new = memory.s[slots[0]], memory.y[slots[0]]
    yy = jnp.vdot(y_new, y_new)
    gamma = jnp.where((memory.count > 0) & (yy > 0), jnp.vdot(s_new, y_new) / jnp.where(yy > 0, yy, 1.0), 1.0)  # H⁰ = γ I

    def oldest_to_newest(r, pair):
        slot, rho_i, a_i = pair
        b_i = rho_i * jnp.vdot(memory.y[slot], r)
        return r + (a_i - b_i) * memory.s[slot], None

    r, _ = jax.lax.scan(oldest_to_newest, gamma * q, (slots, rho, a), reverse=True)
    return r


class LBFGSState(NamedTuple):
    count: jax.Array  # steps taken
    previous_params: jax.Array  # θₖ₋₁, flattened
    previous_grads: jax.Array  # gₖ₋₁, flattened
    memory: PairMemory


def scale_by_lbfgs(memory_size: int = 10, memory_capacity: int = 50):
    """The direction d = H g (to be scaled by −α). ``memory_size`` ≤ ``memory_capacity`` may be traced."""

    def init(params):
        flat, _ = ravel_pytree(params)
        zeros = jnp.zeros_like(flat)
        return LBFGSState(jnp.zeros([], jnp.int32), zeros, zeros, empty_memory(memory_capacity, flat.size, flat.dtype))

    def update(grads, state, params=None, **extra_args):
        g, unravel = ravel_pytree(grads)
        theta, _ = ravel_pytree(params)
        s, y = theta - state.previous_params, g - state.previous_grads
        memory = remember(state.memory, s, y, (state.count > 0) & is_curvature_pair(s, y))
        first_step = g * jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g))
        direction = jnp.where(memory.count > 0, inverse_hessian_product(memory, g, memory_size), first_step)
        return unravel(direction), LBFGSState(state.count + 1, theta, g, memory)

    return optax.GradientTransformationExtraArgs(init, update)


def lbfgs(learning_rate: float = 1.0, memory_size: int = 10, memory_capacity: int = 50, line_search: int = 0):
    """``line_search``: 0 none (step α), 1 backtracking from α, 2 exact (α the first trial); see ``line_search``.

    Either way the state's first field is ``scale_by_lbfgs``'s state (the pairs)."""
    if line_search_code(line_search) != 0:
        return with_line_search(scale_by_lbfgs(memory_size, memory_capacity), line_search, learning_rate)
    return optax.chain(scale_by_lbfgs(memory_size, memory_capacity), optax.scale_by_learning_rate(learning_rate))
