"""Closed forms for gradient descent and heavy-ball momentum on a quadratic.

L(θ) = ½ (θ − θ*)ᵀ A (θ − θ*),  A = Q diag(λ) Qᵀ, error in the eigenbasis
x = Qᵀ(θ − θ*). The gradient is A(θ − θ*), so in the eigenbasis every
component evolves on its own (Goh, "Why Momentum Really Works", Distill 2017;
the formulas below are derived anew, the article's printed ones carry errata).

Gradient descent, θ ← θ − α g, gives xᵢ ← (1 − αλᵢ) xᵢ, so

    xᵢᵏ = (1 − αλᵢ)ᵏ xᵢ⁰,      rate(α) = maxᵢ |1 − αλᵢ|,

best α = 2/(λ₁ + λₙ) with rate (κ − 1)/(κ + 1), κ = λₙ/λ₁ (only if all λᵢ > 0).

Heavy ball, z ← βz + g, θ ← θ − αz: per component (gᵢ = λᵢxᵢ)

    (zᵢ, xᵢ) ← R (zᵢ, xᵢ),   R = [[β, λ], [−αβ, 1 − αλ]],   z⁰ = 0.

R has trace T = 1 + β − αλ and determinant β, so its eigenvalues are
σ₁,₂ = ½(T ± √(T² − 4β)). By Cayley–Hamilton Rᵏ = Uₖ R − β Uₖ₋₁ I with
Uₖ = (σ₁ᵏ − σ₂ᵏ)/(σ₁ − σ₂) (U₀ = 0, U₁ = 1), and with z⁰ = 0 only the (2, 2)
entry matters:

    xᵏ / x⁰ = Uₖ₊₁ − β Uₖ                                  (σ₁ + σ₂ = T, σ₁σ₂ = β)

* real distinct roots (T² > 4β), σ₁ the one of larger modulus, q = σ₂/σ₁ ∈ [0, 1):
      xᵏ/x⁰ = σ₁ᵏ (Sₖ₊₁ − q σ₁ Sₖ),   Sₖ = (1 − qᵏ)/(1 − q) = expm1(k ln q)/expm1(ln q)
  (written this way there is no cancellation as the roots merge);
* repeated root σ = T/2 (T² = 4β, so β = σ²):
      xᵏ/x⁰ = σᵏ (1 + k(1 − σ));
* complex roots σ = r e^{±iφ}, r = √β, cos φ = T/(2√β):
      xᵏ/x⁰ = rᵏ (sin((k + 1)φ) − r sin(kφ)) / sin φ.

The component's rate is the larger modulus, max(|σ₁|, |σ₂|) = (|T| + √(T² − 4β))/2
when real and √β when complex. It converges iff 0 < αλ < 2 + 2β. Critical
damping β = (1 − √(αλ))² makes the roots meet at 1 − √(αλ). The best pair,
critically damping both λ₁ and λₙ, is α = (2/(√λ₁ + √λₙ))²,
β = ((√κ − 1)/(√κ + 1))², with rate √β = (√κ − 1)/(√κ + 1).

A negative eigenvalue (a saddle's local model) needs no special case: GD's
factor 1 − αλ > 1 and momentum's σ₁ > 1 grow that component for every α > 0,
so no step size converges and the optimal parameters do not exist
(``optimal_gd`` and ``optimal_momentum`` return ``None``).

Under minibatch noise of covariance σ²A/B (the noisy quadratic of Zhang et al.,
NeurIPS 2019), GD's component is xᵢ ← (1 − αλᵢ)xᵢ − αξᵢ with Var ξᵢ = σ²λᵢ/B,
so its expected excess loss ℓᵢ = ½λᵢE[xᵢ²] follows

    E[ℓᵢ(k)] = (1 − αλᵢ)^{2k} ℓᵢ(0) + fᵢ (1 − (1 − αλᵢ)^{2k}),
    fᵢ = αλᵢσ² / (2B(2 − αλᵢ))                   (the noise floor, for 0 < αλᵢ < 2).

Everything here is NumPy in float64: evaluated on the host, nothing to compile.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _steps(steps: int) -> np.ndarray:
    return np.arange(int(steps) + 1, dtype=np.float64)[:, None]  # (steps + 1, 1)


# --- gradient descent ------------------------------------------------------
def gd_noise_floor(eigenvalues, learning_rate, noise_scale, batch_size) -> np.ndarray:
    """fᵢ = αλᵢσ²/(2B(2 − αλᵢ)): GD's stationary expected excess loss along each eigen-direction."""
    lam = np.asarray(eigenvalues, np.float64)
    step = learning_rate * lam
    return step * noise_scale**2 / (2.0 * batch_size * (2.0 - step))


def gd_expected_excess_loss(eigenvalues, x0, learning_rate, noise_scale, batch_size, steps: int) -> np.ndarray:
    """E[L(θₖ) − L*] for k = 0 … steps, summed over the directions, from the components x⁰ = Qᵀ(θ₀ − θ*)."""
    lam = np.asarray(eigenvalues, np.float64)
    start = 0.5 * lam * np.asarray(x0, np.float64) ** 2
    shrink = gd_factors(lam, learning_rate) ** (2 * _steps(steps))
    floor = gd_noise_floor(lam, learning_rate, noise_scale, batch_size)
    return (shrink * start + floor * (1.0 - shrink)).sum(axis=1)



def gd_factors(eigenvalues, learning_rate) -> np.ndarray:
    """1 − αλᵢ: what one step multiplies each component by."""
    return 1.0 - learning_rate * np.asarray(eigenvalues, np.float64)


def gd_components(eigenvalues, x0, learning_rate, steps: int) -> np.ndarray:
    """xᵢᵏ = (1 − αλᵢ)ᵏ xᵢ⁰ for k = 0 … steps: shape (steps + 1, n)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x0, np.float64) * gd_factors(eigenvalues, learning_rate) ** _steps(steps)


def gd_rate(eigenvalues, learning_rates) -> np.ndarray:
    """maxᵢ |1 − αλᵢ| for each α (any shape)."""
    lam = np.asarray(eigenvalues, np.float64)
    alpha = np.asarray(learning_rates, np.float64)[..., None]
    return np.max(np.abs(1.0 - alpha * lam), axis=-1)


# --- heavy-ball momentum ---------------------------------------------------
def momentum_matrix(eigenvalue, learning_rate, momentum) -> np.ndarray:
    """R = [[β, λ], [−αβ, 1 − αλ]], acting on (zᵢ, xᵢ)."""
    return np.array([[momentum, eigenvalue], [-learning_rate * momentum, 1.0 - learning_rate * eigenvalue]], np.float64)


def momentum_roots(eigenvalues, learning_rate, momentum) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues σ₁, σ₂ of R (complex dtype), |σ₁| ≥ |σ₂|."""
    trace = 1.0 + momentum - learning_rate * np.asarray(eigenvalues, np.float64)
    root = np.sqrt((trace**2 - 4.0 * momentum).astype(np.complex128))
    sign = np.where(trace >= 0, 1.0, -1.0)
    first = 0.5 * (trace + sign * root)
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.where(first != 0, momentum / np.where(first != 0, first, 1.0), 0.0)
    return first, second


def momentum_component_rate(eigenvalues, learning_rate, momentum) -> np.ndarray:
    """max(|σ₁|, |σ₂|) per component; broadcasts over α, β and λ."""
    lam = np.asarray(eigenvalues, np.float64)
    trace = 1.0 + momentum - learning_rate * lam
    discriminant = trace**2 - 4.0 * momentum
    real = 0.5 * (np.abs(trace) + np.sqrt(np.maximum(discriminant, 0.0)))
    return np.where(discriminant >= 0, real, np.sqrt(np.maximum(momentum, 0.0) + 0.0 * lam))


def regime(eigenvalues, learning_rate, momentum, tolerance: float = 1e-9) -> np.ndarray:
    """'real', 'repeated' or 'complex' roots of R, per component."""
    trace = 1.0 + momentum - learning_rate * np.asarray(eigenvalues, np.float64)
    discriminant = trace**2 - 4.0 * momentum
    scale = np.maximum(trace**2, 4.0 * momentum) + 1e-300
    return np.where(
        np.abs(discriminant) <= tolerance * scale, "repeated", np.where(discriminant > 0, "real", "complex")
    )


def momentum_components(eigenvalues, x0, learning_rate, momentum, steps: int) -> np.ndarray:
    """xᵢᵏ for k = 0 … steps from the roots of R (no matrix powers): shape (steps + 1, n)."""
    lam = np.atleast_1d(np.asarray(eigenvalues, np.float64))
    x0 = np.broadcast_to(np.asarray(x0, np.float64), lam.shape)
    alpha, beta = float(learning_rate), float(momentum)
    k = _steps(steps)
    trace = 1.0 + beta - alpha * lam
    discriminant = trace**2 - 4.0 * beta
    out = np.empty((k.shape[0], lam.size))

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        real = discriminant >= 0
        if np.any(real):
            t, d = trace[real], discriminant[real]
            sigma1 = 0.5 * (t + np.where(t >= 0, 1.0, -1.0) * np.sqrt(d))  # larger modulus
            nonzero = sigma1 != 0
            safe = np.where(nonzero, sigma1, 1.0)
            log_q = np.where(nonzero, np.log(beta / safe**2) if beta > 0 else -np.inf, 0.0)  # q = σ₂/σ₁ = β/σ₁²

            def s(kk):  # Sₖ = (1 − qᵏ)/(1 − q), = k when q = 1, = 1 (k ≥ 1) when q = 0
                ratio = np.expm1(kk * log_q) / np.expm1(log_q)
                ratio = np.where(np.isneginf(log_q), np.where(kk > 0, 1.0, 0.0), ratio)
                return np.where(log_q == 0, kk, ratio)

            power = np.sign(safe) ** k * np.abs(safe) ** k
            value = power * (s(k + 1) - np.exp(log_q) * safe * s(k))
            # σ₁ = 0 only when T = 0 and β = 0 (GD with αλ = 1): zero after one step
            value = np.where(nonzero, value, np.where(k == 0, 1.0, 0.0))
            out[:, real] = value
        if np.any(~real):
            t = trace[~real]
            r = np.sqrt(beta)
            phi = np.arccos(np.clip(t / (2.0 * r), -1.0, 1.0))
            out[:, ~real] = r**k * (np.sin((k + 1) * phi) - r * np.sin(k * phi)) / np.sin(phi)
    out[0] = 1.0
    return out * x0


def momentum_rate(eigenvalues, learning_rates, momenta) -> np.ndarray:
    """maxᵢ of the component rates, broadcast over α and β arrays.

    The component rate is unimodal in αλ (it falls to √β through the complex
    region, then rises), so the maximum over all λᵢ is attained at λ₁ or λₙ.
    """
    lam = np.asarray(eigenvalues, np.float64)
    extremes = np.array([lam.min(), lam.max()])
    alpha = np.asarray(learning_rates, np.float64)[..., None]
    beta = np.asarray(momenta, np.float64)[..., None]
    return np.max(momentum_component_rate(extremes, alpha, beta), axis=-1)


def momentum_rate_grid(eigenvalues, learning_rates, momenta) -> np.ndarray:
    """The rate over the (α, β) plane: shape (len(momenta), len(learning_rates)), rows are β."""
    alpha, beta = np.meshgrid(np.asarray(learning_rates, np.float64), np.asarray(momenta, np.float64))
    return momentum_rate(eigenvalues, alpha, beta)


def critical_momentum(eigenvalue, learning_rate) -> np.ndarray:
    """β = (1 − √(αλ))²: the roots of R coincide at 1 − √(αλ)."""
    return (1.0 - np.sqrt(learning_rate * np.asarray(eigenvalue, np.float64))) ** 2


# --- optimal parameters ----------------------------------------------------
class OptimalGD(NamedTuple):
    learning_rate: float
    rate: float


class OptimalMomentum(NamedTuple):
    learning_rate: float
    momentum: float
    rate: float


def _extremes(eigenvalues):
    lam = np.asarray(eigenvalues, np.float64)
    return float(lam.min()), float(lam.max())


def optimal_gd(eigenvalues) -> OptimalGD | None:
    """α = 2/(λ₁ + λₙ), rate (κ − 1)/(κ + 1); ``None`` unless every λᵢ > 0."""
    low, high = _extremes(eigenvalues)
    if low <= 0:
        return None
    kappa = high / low
    return OptimalGD(2.0 / (low + high), (kappa - 1.0) / (kappa + 1.0))


def optimal_momentum(eigenvalues) -> OptimalMomentum | None:
    """α = (2/(√λ₁ + √λₙ))², β = ((√κ − 1)/(√κ + 1))², rate (√κ − 1)/(√κ + 1); ``None`` unless every λᵢ > 0."""
    low, high = _extremes(eigenvalues)
    if low <= 0:
        return None
    root = np.sqrt(high / low)
    rate = (root - 1.0) / (root + 1.0)
    return OptimalMomentum(float((2.0 / (np.sqrt(low) + np.sqrt(high))) ** 2), float(rate**2), float(rate))


def theory_components(name: str, eigenvalues, x0, hyperparameters: dict, steps: int) -> np.ndarray | None:
    """The closed-form prediction for optimizer ``name`` (GD, momentum), else ``None``."""
    if name == "gd":
        return gd_components(eigenvalues, x0, hyperparameters["learning_rate"], steps)
    if name == "momentum":
        return momentum_components(
            eigenvalues, x0, hyperparameters["learning_rate"], hyperparameters["momentum"], steps
        )
    return None


HAS_THEORY = ("gd", "momentum")
