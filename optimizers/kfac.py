"""K-FAC: Kronecker-factored approximate curvature, for networks of dense layers.

A dense layer computes s = ā W (W of shape (n_in, n_out) stacked over the bias
row, ā = (a, 1)). Its gradient is ∇W = E[ā gᵀ] with g = ∂ℓ/∂s, and its block
of the Fisher F = E[vec(∇W) vec(∇W)ᵀ] is approximated by a Kronecker product,
as if ā and g were independent:

    F_W ≈ A ⊗ G,    A = E[ā āᵀ],    G = E[g gᵀ]

(vec row by row, as W is stored, so (A ⊗ G) vec(V) = vec(A V G)). The targets
behind g are **sampled from the model's predictive distribution**, which makes
F the true Fisher; for softmax cross-entropy and squared error it equals the
generalised Gauss–Newton matrix. The data's own targets give the empirical
Fisher, a different matrix (Kunstner et al., NeurIPS 2019); the expectation
over all targets gives the exact factors. The factors are averaged over steps,

    A ← weighted average with weights ρᵗ⁻ˢ of the batch estimates (ρ = ``curvature_ema``)

as kfac-jax does (normalised by the sum of the weights, so step 1 uses its own
batch alone). Every T_inv steps (``inverse_interval``) the damped factors are
inverted with factored Tikhonov damping and the π-correction,

    (A + π√λ I)⁻¹ and (G + √λ/π I)⁻¹,    π = √((tr A / dim A) / (tr G / dim G)),

and between refreshes those inverses are reused. The update of each layer is

    Δ = (A + π√λ I)⁻¹ ∇W (G + √λ/π I)⁻¹      (the preconditioned gradient)
    δ = −α Δ + μ δ₋₁                          (δ₋₁ the previous step)

with α and μ fixed (``learning_rate``, ``momentum``) or, with ``adaptive_step``,
K-FAC's own rule (§7): the pair that minimises the quadratic model

    M(δ) = gᵀδ + ½ δᵀ(C + λI)δ,   C the exact curvature (Gauss–Newton) of the minibatch,

over the plane of Δ and δ₋₁, a 2×2 solve from gᵀΔ, gᵀδ₋₁ and C- and
λ-products (two Gauss–Newton-vector products, ``ggn_vp``). With ``adaptive``,
λ follows Levenberg–Marquardt every T_λ steps (``damping_interval``), on the
reduction ratio of the step on the same minibatch,

    ρ = (L(θ + δ) − L(θ)) / (gᵀδ + ½ δᵀCδ),
    λ ← λ/ω if ρ < ¼,   λ ← ω λ if ρ > ¾,   ω = decay^T_λ

(λ left out of the model, as in kfac-jax; with fixed α and μ, C there is
K-FAC's own A ⊗ G). A new λ enters the preconditioner at the next refresh.

What ``update`` needs beyond the gradient comes through its keyword arguments:
``dense_layers`` (each layer's inputs a and output gradients g, from
``optimizers.curvature.dense_layer_statistics`` with the same ``fisher`` mode),
``ggn_vp`` (for ``adaptive_step``), ``value`` and ``value_fn`` (for
``adaptive``). Every parameter must belong to a dense layer: a mapping with a
2-D ``w`` and optionally a 1-D ``b`` (``kernel``/``bias`` too).

Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored
Approximate Curvature", ICML 2015; the damping, averaging and step rules as in
kfac-jax (github.com/google-deepmind/kfac-jax: ``curvature_ema`` 0.95,
inverses every 5 steps, damping adapted every 5 steps by 0.9⁵, ρ thresholds ¼
and ¾). Differences: kfac-jax scales its empirical-Fisher factor G by a further
1/batch; here the empirical Fisher is (1/B) Σₙ ∇ℓₙ∇ℓₙᵀ, on the Fisher's scale.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optimizers.curvature import FISHER_MODES, DenseLayer, dense_layers, require, tree_dot

DAMPING_RANGE = (1e-8, 1e8)
LOWER_THRESHOLD, UPPER_THRESHOLD = 0.25, 0.75


class KFACState(NamedTuple):
    count: jax.Array  # steps taken
    ema_weight: jax.Array  # Σ ρᵗ⁻ˢ: the total weight of the factors' running averages
    factors_a: tuple  # A = E[ā āᵀ] per layer
    factors_g: tuple  # G = E[g gᵀ] per layer
    inverses_a: tuple  # (A + π√λ I)⁻¹ of the last refresh
    inverses_g: tuple  # (G + √λ/π I)⁻¹ of the last refresh
    velocity: Any  # δ₋₁, the previous step
    damping: jax.Array  # λ
    learning_rate: jax.Array  # α of the last step
    momentum: jax.Array  # μ of the last step
    reduction_ratio: jax.Array  # ρ of the last damping adaptation (nan before the first)


def layers_of(params) -> tuple[DenseLayer, ...]:
    """The dense layers, checking that they hold every parameter."""
    layers = dense_layers(params)
    covered = {i for layer in layers for i in (layer.weight, layer.bias) if i is not None}
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    rest = [path or "(the parameters)" for i, path in enumerate(paths) if i not in covered]
    if rest:
        raise ValueError(
            "K-FAC preconditions dense layers (a mapping with a 2-D weight 'w' and a 1-D bias 'b'); "
            f"these parameters belong to none: {', '.join(rest)}"
        )
    return layers


def _sizes(layer: DenseLayer, leaves) -> tuple[int, int]:
    n_in, n_out = leaves[layer.weight].shape
    return n_in + (layer.bias is not None), n_out


def damped_inverses(a, g, damping):
    """(A + π√λ I)⁻¹ and (G + √λ/π I)⁻¹, π = √((tr A/dim A)/(tr G/dim G)); the inverses of √λ I
    where a factor is 0 (as kfac-jax)."""
    norm_a, norm_g = jnp.trace(a) / a.shape[0], jnp.trace(g) / g.shape[0]
    regular = (norm_a > 0) & (norm_g > 0)
    pi = jnp.sqrt(jnp.where(regular, norm_a, 1.0) / jnp.where(regular, norm_g, 1.0))
    root = jnp.sqrt(damping)
    eye_a, eye_g = jnp.eye(a.shape[0], dtype=a.dtype), jnp.eye(g.shape[0], dtype=g.dtype)
    a_damped = jnp.where(regular, a + pi * root * eye_a, root * eye_a)
    g_damped = jnp.where(regular, g + root / pi * eye_g, root * eye_g)
    return _psd_inverse(a_damped), _psd_inverse(g_damped)


def _psd_inverse(m):
    return jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(m, lower=True), jnp.eye(m.shape[0], dtype=m.dtype))


def batch_factors(inputs, output_grads, has_bias: bool):
    """This minibatch's A = āᵀā / B and G = Σₛ gₛᵀgₛ / B."""
    batch = inputs.shape[0]
    if has_bias:
        inputs = jnp.concatenate([inputs, jnp.ones_like(inputs[:, :1])], axis=1)
    return inputs.T @ inputs / batch, jnp.einsum("sbi,sbj->ij", output_grads, output_grads) / batch


def stacked(layer: DenseLayer, leaves):
    """W with its bias as a last row: the (n_in + 1, n_out) matrix of s = ā W."""
    w = leaves[layer.weight]
    return w if layer.bias is None else jnp.concatenate([w, leaves[layer.bias][None]], axis=0)


def unstacked(layers, matrices, like):
    """The inverse of ``stacked`` over all layers: a pytree shaped like ``like``."""
    leaves, treedef = jax.tree.flatten(like)
    out = list(leaves)
    for layer, m in zip(layers, matrices):
        n_in = leaves[layer.weight].shape[0]
        out[layer.weight] = m[:n_in]
        if layer.bias is not None:
            out[layer.bias] = m[n_in]
    return treedef.unflatten(out)


def precondition(layers, grads, inverses_a, inverses_g):
    """Layer by layer, (A + π√λ I)⁻¹ ∇W (G + √λ/π I)⁻¹."""
    leaves = jax.tree.leaves(grads)
    return unstacked(layers, [ia @ stacked(l, leaves) @ ig for l, ia, ig in zip(layers, inverses_a, inverses_g)], grads)


def kronecker_product(layers, vector, factors_a, factors_g):
    """(A ⊗ G) v, layer by layer: A V G."""
    leaves = jax.tree.leaves(vector)
    return unstacked(layers, [a @ stacked(l, leaves) @ g for l, a, g in zip(layers, factors_a, factors_g)], vector)


def solve_quadratic_model(curvature, gram, linear, damping):
    """The coefficients (w₀, w₁) minimising wᵀb + ½ wᵀ(C + λD)w for the 2×2 C, D and b of the two
    directions; w₁ = 0 while the second direction is zero (the first step). Returns (w, model change
    with λ left out)."""
    m = curvature + damping * gram
    det = m[0, 0] * m[1, 1] - m[0, 1] ** 2
    two = (m[1, 1] > 0) & (det > 1e-12 * m[0, 0] * m[1, 1])
    safe_det = jnp.where(two, det, 1.0)
    w0_two = -(m[1, 1] * linear[0] - m[0, 1] * linear[1]) / safe_det
    w1_two = -(m[0, 0] * linear[1] - m[0, 1] * linear[0]) / safe_det
    w0_one = jnp.where(m[0, 0] > 0, -linear[0] / jnp.where(m[0, 0] > 0, m[0, 0], 1.0), 0.0)
    w = jnp.stack([jnp.where(two, w0_two, w0_one), jnp.where(two, w1_two, 0.0)])
    return w, 0.5 * w @ curvature @ w + w @ linear


def _gram(vectors, products):
    return jnp.array([[tree_dot(u, v) for v in products] for u in vectors])


def kfac(
    learning_rate: float = 1.0,
    momentum: float = 0.0,
    damping: float = 1.0,
    curvature_ema: float = 0.95,
    inverse_interval: int = 5,
    damping_interval: int = 5,
    damping_decay: float = 0.9,
    adaptive: bool = True,
    adaptive_step: bool = True,
    fisher: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """K-FAC (see the module docstring). ``fisher``: 0 sampled (the Fisher), 1 empirical, 2 exact,
    the index into ``optimizers.curvature.FISHER_MODES``; ``learning_rate`` and ``momentum`` act only
    without ``adaptive_step``."""
    mode = FISHER_MODES[int(fisher)]

    def init(params):
        layers = layers_of(params)
        leaves = jax.tree.leaves(params)
        sizes = [_sizes(layer, leaves) for layer in layers]
        zeros = lambda n: jnp.zeros((n, n), jnp.float32)  # noqa: E731
        return KFACState(
            count=jnp.zeros([], jnp.int32),
            ema_weight=jnp.zeros([], jnp.float32),
            factors_a=tuple(zeros(n_in) for n_in, _ in sizes),
            factors_g=tuple(zeros(n_out) for _, n_out in sizes),
            inverses_a=tuple(zeros(n_in) for n_in, _ in sizes),
            inverses_g=tuple(zeros(n_out) for _, n_out in sizes),
            velocity=jax.tree.map(jnp.zeros_like, params),
            damping=jnp.asarray(damping, jnp.float32),
            learning_rate=jnp.zeros([], jnp.float32),
            momentum=jnp.zeros([], jnp.float32),
            reduction_ratio=jnp.asarray(jnp.nan, jnp.float32),
        )

    def update(grads, state, params=None, **extra_args):
        stats = require(extra_args, "dense_layers", "kfac")
        if stats.fisher != mode:
            raise ValueError(f"kfac(fisher={mode!r}) got dense_layers computed with fisher={stats.fisher!r}")
        layers = layers_of(grads)
        if len(stats.inputs) != len(layers):
            raise ValueError(f"dense_layers has {len(stats.inputs)} layers, the parameters {len(layers)}")

        # the factors: this minibatch's, in the running average
        weight = curvature_ema * state.ema_weight + 1.0
        new = [
            batch_factors(a, g, layer.bias is not None) for layer, a, g in zip(layers, stats.inputs, stats.output_grads)
        ]
        factors_a = tuple(old + (a - old) / weight for old, (a, _) in zip(state.factors_a, new))
        factors_g = tuple(old + (g - old) / weight for old, (_, g) in zip(state.factors_g, new))

        # their damped inverses, every T_inv steps (and on the first)
        lam = state.damping
        inverses_a, inverses_g = jax.lax.cond(
            state.count % inverse_interval == 0,
            lambda: tuple(zip(*[damped_inverses(a, g, lam) for a, g in zip(factors_a, factors_g)])),
            lambda: (state.inverses_a, state.inverses_g),
        )
        inverses_a, inverses_g = tuple(inverses_a), tuple(inverses_g)
        preconditioned = precondition(layers, grads, inverses_a, inverses_g)
        directions = (preconditioned, state.velocity)
        linear = jnp.array([tree_dot(grads, d) for d in directions])

        if adaptive_step:  # α, μ from the exact quadratic model on the plane of Δ and δ₋₁
            ggn_vp = require(extra_args, "ggn_vp", "kfac(adaptive_step=True)")
            both = jax.tree.map(lambda d, v: jnp.stack([d, v]), *directions)
            curved = jax.vmap(ggn_vp)(both)  # C Δ and C δ₋₁ in one batched product
            curved = [jax.tree.map(lambda c, i=i: c[i], curved) for i in range(2)]
            curvature = _gram(directions, curved)
            curvature = 0.5 * (curvature + curvature.T)
            w, model_change = solve_quadratic_model(curvature, _gram(directions, directions), linear, lam)
        else:
            w = jnp.stack([-jnp.asarray(learning_rate, jnp.float32), jnp.asarray(momentum, jnp.float32)])
            model_change = None
        step = jax.tree.map(lambda d, v: w[0] * d + w[1] * v, *directions)

        new_lam, rho = lam, state.reduction_ratio
        if adaptive:
            value = require(extra_args, "value", "kfac(adaptive=True)")
            value_fn = require(extra_args, "value_fn", "kfac(adaptive=True)")
            if model_change is None:  # fixed α and μ: K-FAC's own A ⊗ G in the model
                curved = kronecker_product(layers, step, factors_a, factors_g)
                model_change = tree_dot(grads, step) + 0.5 * tree_dot(step, curved)

            def adapt():
                ratio = (value_fn(optax.apply_updates(params, step)) - value) / model_change
                omega = jnp.asarray(damping_decay, jnp.float32) ** damping_interval
                known = jnp.nan_to_num(ratio, nan=-100.0)
                changed = jnp.where(known > UPPER_THRESHOLD, lam * omega, lam)
                changed = jnp.where(known < LOWER_THRESHOLD, lam / omega, changed)
                return jnp.clip(changed, *DAMPING_RANGE).astype(jnp.float32), ratio.astype(jnp.float32)

            new_lam, rho = jax.lax.cond(
                (state.count + 1) % damping_interval == 0, adapt, lambda: (lam, state.reduction_ratio)
            )

        return step, KFACState(
            count=state.count + 1,
            ema_weight=weight,
            factors_a=factors_a,
            factors_g=factors_g,
            inverses_a=inverses_a,
            inverses_g=inverses_g,
            velocity=step,
            damping=new_lam,
            learning_rate=-w[0],
            momentum=w[1],
            reduction_ratio=rho,
        )

    return optax.GradientTransformationExtraArgs(init, update)
