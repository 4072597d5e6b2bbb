"""The noisy quadratic model (NQM) in closed form: the expected loss at every step, and the steps to a
target loss against the batch size, for SGD, heavy-ball momentum and preconditioned SGD.

Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue & Grosse, "Which Algorithmic Choices Matter at
Which Batch Sizes? Insights From a Noisy Quadratic Model", NeurIPS 2019.

**The model.** In the Hessian's eigenbasis L(θ) = ½ Σᵢ hᵢ θᵢ² (minimum at 0). A minibatch of size B
gives the gradient Hθ + ξ with Cov ξ = C/B and C = H, the paper's choice (``landscapes.NoisyQuadratic``
with σ = 1 draws exactly this noise). The spectrum runs from h₁ = 1 down to hₙ = 1/κ,

    hᵢ = 1 / (1 + (κ − 1)(i − 1)/(n − 1)),      i = 1 … n,

which for n = κ is the paper's hᵢ = 1/i. Every coordinate starts at θᵢ = 1.

**The methods.** Preconditioned heavy-ball momentum with P = H^(−γ) and step αₜ,

    zₜ₊₁ = β zₜ + P gₜ,    θₜ₊₁ = θₜ − αₜ zₜ₊₁,    z₀ = 0       (as in optimizers.momentum)

γ = 0 is SGD (β = 0) or heavy ball; γ = ½ models Adam's diagonal scaling (Adam-like), γ = 1 an exact
curvature model (Newton, K-FAC-like). Optionally the iterates are averaged, θ̃ₜ₊₁ = ρ θ̃ₜ + (1 − ρ) θₜ₊₁
with θ̃₀ = θ₀ (an exponential moving average, ``optimizers.averaging``'s "ema"), and the loss is that
of θ̃.

**Exact second moments.** Per coordinate (p = h^(−γ), a = αph) the vector yₜ = (θₜ, zₜ, θ̃ₜ) is linear
in the noise, yₜ₊₁ = A yₜ + b ξₜ with Var ξₜ = h/B and

    A = [[1 − a,           −αβ,          0],
         [ph,               β,           0],
         [(1 − ρ)(1 − a),  −(1 − ρ)αβ,   ρ]],       b = (−αp, p, −(1 − ρ)αp),

so its second-moment matrix Sₜ = E[yₜyₜᵀ] (the mean's square included) follows, exactly,

    Sₜ₊₁ = A Sₜ Aᵀ + (h/B) b bᵀ,      S₀ = u uᵀ,  u = (1, 0, 1),

and E[L(θₜ)] = ½ Σᵢ hᵢ Sₜ[0, 0] (the iterate) or ½ Σᵢ hᵢ Sₜ[2, 2] (the average). With β = 0, γ = 0 and
no averaging this is E[θₜ²] = (1 − αh)² E[θₜ₋₁²] + α²h/B, whose sum is ``theory.gd_expected_excess_loss``.
Without averaging the third row and column are left out (2×2); heavy ball's (E θ², E θz, E z²) is the
paper's 3×3 transition of (E θₜ², E θₜθₜ₋₁, E θ²ₜ₋₁) in other coordinates.

Two facts make it cheap. (1) t steps at a constant α are the affine map S ↦ Aᵗ S Aᵗᵀ + Nₜ/B, and maps
compose: (P, N) after (P′, N′) is (P P′, P N′ Pᵀ + N); squaring doubles the steps. (2) S is linear
in 1/B, Sₜ = Dₜ + Eₜ/B (the start's part and the noise's part at B = 1), so one pass over the steps
gives the expected loss Lₜ(B) = D(t) + E(t)/B at every batch size at once.

**Learning-rate decay** (optional, a factor d > 1): a run of T = 2m steps takes α for its first m
steps and α/d for the last m (a step decay at half-way; the velocity z carries over, so at the drop
the update is α/d · (βz + Pg), as with ``optimizers.schedules``' ``piecewise_constant``). Its loss at
the end, Aᵢᵐ-maps of both phases composed, is again exact; "steps" then means the run's length T.

**Steps to the target.** The loss is evaluated on a step grid: every step up to 32, then 16 points
per doubling (34, 36, … 64, 68, … 128, …, up to 2²⁴): spacing at most 1/16 of the step. The steps to
reach a target are the first grid point where E[L] ≤ target (a run with decay: the first grid
length T whose run ends at or below it). Each method takes, at each batch size, its best α (and β)
from a grid (``LEARNING_RATES``, 6 per decade from 10⁻⁶; ``MOMENTA``, 0 to 0.999); settings where the recurrence is unstable
(a ≥ 2(1 + β) in some coordinate) are left out.

**Critical batch size.** Perfect scaling is steps ∝ 1/B: S(B) = S(B₀) B₀/B from the smallest batch
B₀. The critical batch size B* is where the steps first reach twice that line, S(B) = 2 S(B₀) B₀/B
(log-linear interpolation between grid batches; None if it stays within a factor 2 up to the largest
batch). For S(B) = S_min (1 + B_noise/B) this is B* = B_noise + 2 from B₀ = 1 (McCandlish et al., "An Empirical Model
of Large-Batch Training", 2018).

Everything runs in float64 (``jax.enable_x64`` inside the calls only): 2²⁴ steps of a factor near 1
lose all of float32's digits. Cost, measured on the project's 2-core machine (CPU time, compiled): the
curves of all four methods at κ = 1000, n = 100 take 0.25 s (heavy ball's 320 settings most of it);
with the EMA and the decay (3×3 maps, two phases) 1.9 s; at n = 300 with both 4.5 s. A new target or
batch size reuses the curves (the page caches them) and costs only ``first_below``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PER_OCTAVE = 16
LEVELS = 21  # the step grid reaches 32 · 2^(LEVELS − 2) = 2²⁴
LEARNING_RATES = 10.0 ** np.arange(-6.0, 0.65, 1 / 6)  # 10⁻⁶ … 3.2, 6 per decade
MOMENTA = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999)
BATCH_SIZES = 2.0 ** np.arange(0, 21)  # 1 … 2²⁰
SCALING_FACTOR = 2.0  # the critical batch size: steps twice the perfect-scaling line


class Method(NamedTuple):
    title: str
    gamma: float  # P = H^(−γ)
    momenta: tuple[float, ...]  # the β searched (0 alone: no momentum)


METHODS = {
    "sgd": Method("SGD", 0.0, (0.0,)),
    "momentum": Method("Heavy-ball momentum", 0.0, MOMENTA),
    "adam": Method("Adam-like, P = H^(−½)", 0.5, (0.0,)),
    "kfac": Method("K-FAC-like, P = H^(−1)", 1.0, (0.0,)),
}


# --- the problem ------------------------------------------------------------------------------
def spectrum(kappa: float, dimension: int) -> np.ndarray:
    """hᵢ = 1/(1 + (κ − 1)(i − 1)/(n − 1)): from 1 down to 1/κ (hᵢ = 1/i when n = κ)."""
    i = np.arange(dimension, dtype=np.float64)
    return 1.0 / (1.0 + (kappa - 1.0) * i / max(dimension - 1, 1))


def initial_loss(h) -> float:
    """L(θ₀) = ½ Σ hᵢ: every coordinate starts at 1."""
    return 0.5 * float(np.sum(h))


def step_grid(levels: int = LEVELS) -> np.ndarray:
    """1 … 32 one by one, then 16 points per doubling: 34, 36, … 64, 68, … (int64)."""
    steps = [np.arange(1, PER_OCTAVE + 1)]
    for level in range(1, levels):
        stride = 2 ** (level - 1)
        steps.append(PER_OCTAVE * stride + stride * np.arange(1, PER_OCTAVE + 1))
    return np.concatenate(steps).astype(np.int64)


def stable(h, gamma, learning_rate, momentum) -> np.ndarray:
    """0 < αh^(1−γ) < 2(1 + β) in every coordinate (Jury's test for θₜ₊₁ = (1 + β − a)θₜ − βθₜ₋₁)."""
    a = np.asarray(learning_rate)[..., None] * np.asarray(h, np.float64) ** (1.0 - gamma)
    return np.all((a > 0) & (a < 2.0 * (1.0 + np.asarray(momentum)[..., None])), axis=-1)


# --- one step's map ------------------------------------------------------------------------------
def transition(h, gamma, learning_rate, momentum, rho, averaged: bool):
    """A and the noise's h b bᵀ (at B = 1) for each coordinate: shapes (..., n, d, d), d = 3 with the
    average (EMA ρ), else 2. Broadcasts α, β (a leading axis) against h."""
    xp = jnp if isinstance(h, jax.Array) else np
    alpha, beta = learning_rate[..., None], momentum[..., None]
    p = h ** (-gamma)
    a = alpha * p * h
    zero, one = 0.0 * a, 1.0 + 0.0 * a
    rho = rho + 0.0 * a
    rows = [[1.0 - a, -alpha * beta * one, zero], [p * h * one, beta * one, zero],
            [(1.0 - rho) * (1.0 - a), -(1.0 - rho) * alpha * beta * one, rho]]  # fmt: skip
    b = [-alpha * p * one, p * one, -(1.0 - rho) * alpha * p * one]
    d = 3 if averaged else 2
    A = xp.stack([xp.stack(row[:d], axis=-1) for row in rows[:d]], axis=-2)
    bv = xp.stack(b[:d], axis=-1)
    return A, h[..., None, None] * bv[..., :, None] * bv[..., None, :]


def _matmul(x, y):
    """Products of d×d matrices stored entry-first, (d, d, settings, n): each entry a sum of d elementwise
    products over whole (settings, n) arrays, which vectorises (tiny batched dot products do not)."""
    return sum(x[:, k, None] * y[None, k, :] for k in range(x.shape[0]))


def _compose(later, earlier):
    """(P, N) after (P′, N′): S ↦ P(P′SP′ᵀ + N′)Pᵀ + N."""
    p, n = later
    p0, n0 = earlier
    return _matmul(p, p0), _matmul(_matmul(p, n0), jnp.swapaxes(p, 0, 1)) + n


# --- the expected loss, step by step (the definition; NumPy, float64) ----------------------------
def expected_loss_by_steps(h, gamma, learning_rate, momentum, batch_size, steps: int, average: float = 0.0,
                           decay: float = 1.0, decay_at: int | None = None) -> np.ndarray:  # fmt: skip
    """E[L] at steps 0 … ``steps`` of one run, iterating Sₜ₊₁ = A Sₜ Aᵀ + (h/B) b bᵀ; with ``decay``
    the step is α/decay from step ``decay_at`` on (the run of length 2·decay_at)."""
    h = np.asarray(h, np.float64)
    q = 2 if average > 0 else 0
    maps = [transition(h, gamma, np.float64(rate), np.float64(momentum), average, average > 0)
            for rate in (learning_rate, learning_rate / decay)]  # fmt: skip
    d = maps[0][0].shape[-1]
    u = np.array([1.0, 0.0, 1.0][:d])
    s = np.broadcast_to(np.outer(u, u), (h.size, d, d)).copy()
    out = np.empty(steps + 1)
    out[0] = 0.5 * np.sum(h * s[:, q, q])
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            a, noise = maps[1] if decay_at is not None and t >= decay_at else maps[0]
            s = a @ s @ np.swapaxes(a, -1, -2) + noise / batch_size
            out[t + 1] = 0.5 * np.sum(h * s[:, q, q])
    return out


# --- the expected loss on the step grid, for a grid of settings at once (JAX, float64) -----------
@functools.partial(jax.jit, static_argnames=("average", "decay", "levels"))
def _loss_parts(h, weights, gamma, learning_rates, momenta, rho, decay_factor, average: bool, decay: bool,
                levels: int):  # fmt: skip
    """D and E on the step grid, (settings, grid), for settings (α, β) along the first axis."""
    entry_first = lambda m: jnp.moveaxis(m, (-2, -1), (0, 1))  # (settings, n, d, d) → (d, d, settings, n)  # noqa: E731
    A1, N1 = map(entry_first, transition(h, gamma, learning_rates, momenta, rho, average))
    A2, N2 = map(entry_first, transition(h, gamma, learning_rates / decay_factor, momenta, rho, average))
    d = A1.shape[0]
    q = 2 if average else 0
    eye = jnp.eye(d)[:, :, None, None] + jnp.zeros_like(A1)
    identity = (eye, jnp.zeros_like(A1))

    def parts(first, second):
        (p1, n1), (p2, n2) = first, second
        v = p1[:, 0] + (p1[:, 2] if average else 0.0)  # P u with u = (1, 0, 1): (d, settings, n)
        if not decay:
            return v[q] ** 2 @ weights, n1[q, q] @ weights  # weights (n,): ½hᵢ, 0 for padding
        r = p2[q]  # the second phase's row for the loss
        deterministic = sum(r[i] * v[i] for i in range(d)) ** 2
        noise = sum(r[i] * n1[i, j] * r[j] for i in range(d) for j in range(d)) + n2[q, q]
        return deterministic @ weights, noise @ weights

    def level(carry, square):
        step1, step2, acc1, acc2 = carry

        def advance(accs, _):
            acc1, acc2 = _compose(step1, accs[0]), _compose(step2, accs[1]) if decay else accs[1]
            return (acc1, acc2), parts(acc1, acc2)

        (acc1, acc2), (deterministic, noise) = jax.lax.scan(advance, (acc1, acc2), None, length=PER_OCTAVE)
        step1 = jax.tree.map(lambda new, old: jnp.where(square, new, old), _compose(step1, step1), step1)
        if decay:
            step2 = jax.tree.map(lambda new, old: jnp.where(square, new, old), _compose(step2, step2), step2)
        return (step1, step2, acc1, acc2), (deterministic, noise)

    squares = jnp.arange(levels) >= 1  # level 0 and level 1 both step by 1
    carry = ((A1, N1), (A2, N2), identity, identity)
    _, (deterministic, noise) = jax.lax.scan(level, carry, squares)
    # (levels, PER_OCTAVE, settings) → (settings, grid)
    flat = lambda x: jnp.moveaxis(x.reshape(levels * PER_OCTAVE, -1), 0, -1)  # noqa: E731
    return flat(deterministic), flat(noise)


def _padded(h) -> tuple[np.ndarray, np.ndarray]:
    """h padded to a multiple of 64 with weight-0 coordinates, so a new n rarely compiles."""
    h = np.asarray(h, np.float64)
    size = 64 * -(-h.size // 64)
    weights = np.zeros(size)
    weights[: h.size] = 0.5 * h
    return np.concatenate([h, np.ones(size - h.size)]), weights


class Curves(NamedTuple):
    """E[L] at the step grid, as D + E/B, for each setting of a grid (rows)."""

    steps: np.ndarray  # (grid,): run lengths (with decay, T = 2m)
    learning_rates: np.ndarray  # (settings,)
    momenta: np.ndarray  # (settings,)
    deterministic: np.ndarray  # (settings, grid): D, the start's part
    noise: np.ndarray  # (settings, grid): E, the noise's part at B = 1
    stable: np.ndarray  # (settings,) bool

    def loss(self, batch_size) -> np.ndarray:
        """E[L] for each setting and grid step at batch size B: (settings, grid)."""
        return self.deterministic + self.noise / batch_size


def loss_curves(h, gamma: float, learning_rates, momenta, average: float = 0.0, decay: float = 1.0,
                levels: int = LEVELS) -> Curves:  # fmt: skip
    """The expected loss on the step grid for every (α, β) pair given (1-D arrays of one length)."""
    learning_rates = np.asarray(learning_rates, np.float64)
    momenta = np.broadcast_to(np.asarray(momenta, np.float64), learning_rates.shape)
    padded, weights = _padded(h)
    with jax.enable_x64(True):
        deterministic, noise = _loss_parts(
            jnp.asarray(padded), jnp.asarray(weights), jnp.float64(gamma), jnp.asarray(learning_rates),
            jnp.asarray(momenta), jnp.float64(average), jnp.float64(decay), average > 0, decay > 1, levels,
        )  # fmt: skip
        deterministic, noise = np.asarray(deterministic), np.asarray(noise)
    steps = step_grid(levels) * (2 if decay > 1 else 1)
    return Curves(steps, learning_rates, momenta, deterministic, noise, stable(h, gamma, learning_rates, momenta))


# --- steps to the target at every batch size -------------------------------------------------------
def first_below(curves: Curves, target: float, batch_sizes) -> np.ndarray:
    """The first grid step with E[L] ≤ target, per setting and batch size: (settings, batches), inf if never
    (or the setting is unstable)."""
    batch = np.asarray(batch_sizes, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = curves.deterministic[:, None, :] + curves.noise[:, None, :] / batch[None, :, None]
        reached = np.isfinite(loss) & (loss <= target)
    found = reached.any(axis=-1) & curves.stable[:, None]
    first = curves.steps[np.argmax(reached, axis=-1)].astype(np.float64)
    return np.where(found, first, np.inf)


class Study(NamedTuple):
    """One method's steps to the target against the batch size, each at its best (α, β)."""

    batch_sizes: np.ndarray
    steps: np.ndarray  # (batches,), inf where no setting reaches the target
    learning_rate: np.ndarray  # the best α per batch size (nan where none)
    momentum: np.ndarray
    setting: np.ndarray  # the best setting's row in the curves, per batch size (−1 where none)
    critical_batch_size: float | None


def critical_batch_size(batch_sizes, steps, factor: float = SCALING_FACTOR) -> float | None:
    """Where S(B) first reaches ``factor`` × the perfect-scaling line S(B₀)B₀/B (log-log interpolation)."""
    batch = np.asarray(batch_sizes, np.float64)
    steps = np.asarray(steps, np.float64)
    if not np.isfinite(steps[0]):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.log(steps * batch / (steps[0] * batch[0]))  # log of S(B)/line(B), 0 at B₀
    threshold = np.log(factor)
    above = np.flatnonzero(~(excess < threshold))  # nan (inf steps) counts as above
    if not above.size:
        return None
    k = int(above[0])
    if not np.isfinite(excess[k]):
        return float(batch[k])
    low, high = excess[k - 1], excess[k]
    fraction = (threshold - low) / (high - low)
    return float(np.exp(np.log(batch[k - 1]) + fraction * (np.log(batch[k]) - np.log(batch[k - 1]))))


def settings_grid(method: Method) -> tuple[np.ndarray, np.ndarray]:
    """Every (α, β) the search tries: α from ``LEARNING_RATES`` for each β of the method."""
    alpha, beta = np.meshgrid(LEARNING_RATES, np.asarray(method.momenta, np.float64))
    return alpha.ravel(), beta.ravel()


def best(curves: Curves, target: float, batch_sizes=BATCH_SIZES) -> Study:
    """At each batch size the setting (row of ``curves``) that reaches E[L] ≤ ``target`` in the fewest steps."""
    steps = first_below(curves, target, batch_sizes)
    row = np.argmin(steps, axis=0)
    best_steps = steps.min(axis=0)
    found = np.isfinite(best_steps)
    pick = lambda values: np.where(found, values[row], np.nan)  # noqa: E731
    return Study(np.asarray(batch_sizes, np.float64), best_steps, pick(curves.learning_rates), pick(curves.momenta),
                 np.where(found, row, -1), critical_batch_size(batch_sizes, best_steps))  # fmt: skip


def study(h, method: Method, target: float, batch_sizes=BATCH_SIZES, average: float = 0.0, decay: float = 1.0,
          levels: int = LEVELS) -> tuple[Study, Curves]:  # fmt: skip
    """Steps to reach E[L] ≤ ``target`` at each batch size, minimised over the method's (α, β) grid."""
    curves = loss_curves(h, method.gamma, *settings_grid(method), average=average, decay=decay, levels=levels)
    return best(curves, target, batch_sizes), curves
