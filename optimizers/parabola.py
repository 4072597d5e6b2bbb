"""Heavy-ball momentum with a parabola fitted along its direction (Duda's online parabola model).

Along the unit momentum direction v̂ the gradient of a smooth loss is nearly
linear in the position, g ≈ λ(θ − p): a parabola with curvature λ and vertex
p. With θ = θ⃗·v̂ and g = g⃗·v̂, exponential moving averages ⟨·⟩ (rate β) of
θ, g, gθ and θ² give its weighted least-squares fit

    λ = (⟨gθ⟩ − ⟨g⟩⟨θ⟩) / (⟨θ²⟩ − ⟨θ⟩²),    p = ⟨θ⟩ − ⟨g⟩/λ,

and the step along v̂ uses it, the rest is heavy-ball momentum:

    v̂ = z / ‖z‖                                    (z: the momentum before this step)
    g_fit = ⟨g⟩ + λ (θ − ⟨θ⟩) = λ (θ − p)          (the fitted gradient here)
    s = clip(−η g_fit / |λ|, ±max_step)            (λ > 0: a fraction η of the way to p;
                                                    λ < 0: away from p, repelled from a saddle)
    z ← β_m z + g
    θ ← θ + s v̂ − α (z − (z·v̂) v̂)                 (plain momentum in the orthogonal complement)

Because z before the step lies along v̂, the complement's part of the
momentum step is −α times the new gradient's component orthogonal to v̂:
gradient descent there, as the paper suggests. With η = 1 and λ > 0 the
step along v̂ is Newton's step on the fitted parabola; with λ < 0 it is the
saddle-free Newton step (|λ| for λ), which a saddle repels.

Here α is ``learning_rate``, β_m ``momentum``, β ``decay`` and η
``step_fraction``.

Duda, "SGD momentum optimizer with step estimation by online parabola
model", arXiv 1907.07063 (2019), which builds on his arXiv 1901.11457
(2019): the same online linear regression of gradients, in several
directions at once.

How the averages are kept, and what happens when v̂ turns:

* The first moments are kept as vectors, θ̄ = ⟨θ⃗⟩ and ḡ = ⟨g⃗⟩, and
  projected on the current v̂ when used: ⟨θ⟩ = θ̄·v̂, ⟨g⟩ = ḡ·v̂ are exact
  for any turn of v̂.
* The second moments are kept centred, as the exponentially weighted
  variance V = ⟨θ²⟩ − ⟨θ⟩² and covariance C = ⟨gθ⟩ − ⟨g⟩⟨θ⟩ updated from
  the deviations from the means, dθ = (θ⃗ − θ̄)·v̂, dg = (g⃗ − ḡ)·v̂:
  V ← β(V + (1 − β) dθ²), C ← β(C + (1 − β) dθ dg), then λ = C/V. For a
  fixed v̂ this is exactly the fit above, and it does not cancel large
  ⟨θ²⟩ against ⟨θ⟩² in float32 when θ is far from the origin.
* V and C are scalars along the v̂ of the steps that made them. When v̂
  turns by φ, their old values are discounted by cos²φ before the update:
  the older deviations, measured along the old direction, count less, and
  a reversal of v̂ (φ = π) keeps them (λ does not depend on the sign of v̂).
  This is a heuristic, and it has limits. A slow drift of v̂ is discounted
  little, and far-apart old points weigh more than close new ones in a
  least-squares fit, so the fit can keep one line's λ after v̂ has drifted
  to another: early in a run, while v̂ still turns, λ can even come out
  negative on a convex quadratic; with κ = 1000 (default start, 300 steps)
  runs that reached L < 1e−8 bounced back up to 8e−3 before settling again,
  though each still ended below heavy ball with the same α and β.

Guards: until there is a fit (the first step, a zero momentum, or a spread
V of at most ``MIN_VARIANCE`` along v̂, as when the run has converged and the
deviations are rounding), the whole step is plain momentum, θ ← θ − α z.
A curvature near zero asks for a huge step: |λ| is floored at ``TINY`` and
the step along v̂ is clipped to ``max_step``.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

TINY = 1e-12  # below this a norm or |λ| counts as zero
MIN_VARIANCE = 1e-12  # V below this (a spread < 1e-6 along v̂: float32 rounding at unit scale) is no fit


class ParabolaState(NamedTuple):
    count: jax.Array  # steps taken
    velocity: optax.Params  # z
    mean_params: optax.Params  # θ̄ = ⟨θ⃗⟩
    mean_grads: optax.Params  # ḡ = ⟨g⃗⟩
    variance: jax.Array  # V = ⟨θ²⟩ − ⟨θ⟩² along v̂
    covariance: jax.Array  # C = ⟨gθ⟩ − ⟨g⟩⟨θ⟩ along v̂
    direction: optax.Params  # the v̂ of the last step
    curvature: jax.Array  # λ of the last step's fit (0 where there was none)


def parabola(
    learning_rate: float,
    momentum: float = 0.9,
    decay: float = 0.9,
    step_fraction: float = 1.0,
    max_step: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
    def init(params):
        zeros = optax.tree.zeros_like(params)
        scalar = jnp.zeros([], jnp.float32)
        return ParabolaState(jnp.zeros([], jnp.int32), zeros, zeros, zeros, scalar, scalar, zeros, scalar)

    def update(grads, state, params=None, **extra_args):
        if params is None:
            raise ValueError("parabola needs the parameters θ: pass them to update(grads, state, params)")
        first = state.count == 0
        norm = optax.tree.norm(state.velocity)
        v = optax.tree.scale(1.0 / jnp.maximum(norm, TINY), state.velocity)  # v̂ (zero before the first step)
        along = lambda tree: optax.tree.vdot(tree, v)  # noqa: E731

        # deviations from the old means along v̂ (none on the first step, which starts the means)
        d_theta = jnp.where(first, 0.0, along(optax.tree.sub(params, state.mean_params)))
        d_grad = jnp.where(first, 0.0, along(optax.tree.sub(grads, state.mean_grads)))
        ema = lambda mean, x: jax.tree.map(lambda m, x: jnp.where(first, x, m + (1 - decay) * (x - m)), mean, x)  # noqa: E731
        mean_params, mean_grads = ema(state.mean_params, params), ema(state.mean_grads, grads)
        kept = optax.tree.vdot(state.direction, v) ** 2  # cos²φ, φ the turn of v̂ since the last step
        variance = decay * (kept * state.variance + (1 - decay) * d_theta**2)
        covariance = decay * (kept * state.covariance + (1 - decay) * d_theta * d_grad)

        fit = (norm > TINY) & (variance > MIN_VARIANCE)
        curvature = jnp.where(fit, covariance / jnp.where(fit, variance, 1.0), 0.0)  # λ
        fitted_grad = along(mean_grads) + curvature * along(optax.tree.sub(params, mean_params))  # λ(θ − p)
        step_along = jnp.clip(-step_fraction * fitted_grad / jnp.maximum(jnp.abs(curvature), TINY), -max_step, max_step)

        z = jax.tree.map(lambda z, g: momentum * z + g, state.velocity, grads)
        complement = optax.tree.add_scale(z, -along(z), v)  # z − (z·v̂)v̂
        step = jax.tree.map(
            lambda z, c, v: jnp.where(fit, step_along * v - learning_rate * c, -learning_rate * z), z, complement, v
        )
        new_state = ParabolaState(
            state.count + 1, z, mean_params, mean_grads, variance, covariance, v, curvature.astype(jnp.float32)
        )
        return step, new_state

    return optax.GradientTransformationExtraArgs(init, update)
