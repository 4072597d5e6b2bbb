"""Each method's curvature model as a dense preconditioner P, and the spectrum of P·H.

A second-order method steps θ ← θ − α P g with P its model of the inverse
Hessian. On a quadratic with Hessian H, the error then evolves by I − α P H,
so the eigenvalues of P·H say how good the model is: an exact Newton step has
P·H = I, all eigenvalues 1; a model that is off by a factor c along some
direction shows c there.

    Adam                 P = diag(1 / (√v̂ + ε)),  v̂ = v / (1 − β₂ᵗ)     (from squared gradients, not curvature)
    L-BFGS, mL-BFGS      P = H_k, the two-loop recursion's inverse-Hessian approximation
                         applied to the basis vectors (newest ``memory_size`` pairs; before the
                         first pair P = I, although the methods shorten that first step to unit length)
    damped Gauss–Newton  P = (G + λ I)⁻¹, λ the damping the step used (it moves if adaptive)
    Newton               P = (H + λ I)⁻¹
    saddle-free Newton   P = (|H| + λ I)⁻¹ (P·H has −1 along negative curvature)

The engine's ``observe(opt_state, θ)`` sees the state only, not the traced
hyperparameters (ε, β₂, the history length m, λ), so it records the part of
the state P is built from (``OBSERVERS``) and ``preconditioners`` turns the
record into dense matrices in one jitted call with the hyperparameters
traced. Index j of the result is the P used for the step from θⱼ to θⱼ₊₁.

The spectrum uses the symmetric form H^{1/2} P_sym H^{1/2} (P_sym = (P + Pᵀ)/2;
every P above is symmetric in exact arithmetic) when H is positive
semi-definite, and the real parts of eig(P·H) otherwise (a saddle).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from landscapes import Landscape
from optimizers.curvature import dense_matrix, gauss_newton_vector_product
from optimizers.engine import Trajectory, run_trajectory, scan_length
from optimizers.lbfgs import PairMemory, inverse_hessian_product
from optimizers.registry import Optimizer

PRECONDITIONED = ("adam", "lbfgs", "mlbfgs", "damped_ggn", "newton", "saddle_free_newton")


# --- what the engine records after each step (module-level: stable, hashable, compiled once) ---
def observe_adam(state, theta):
    return state.count, ravel_pytree(state.nu)[0]


def observe_lbfgs(state, theta):
    return state[0].memory  # optax.chain(scale_by_lbfgs, scale_by_learning_rate)


def observe_mlbfgs(state, theta):
    return state.blocks[0].memory


def observe_damping(state, theta):
    return state.damping


def observe_nothing(state, theta):
    return None


OBSERVERS: dict[str, Callable] = {
    "adam": observe_adam,
    "lbfgs": observe_lbfgs,
    "mlbfgs": observe_mlbfgs,
    "damped_ggn": observe_damping,
    "newton": observe_nothing,
    "saddle_free_newton": observe_nothing,
}


def observer(name: str) -> Callable | None:
    """The ``observe`` to pass to ``run_trajectory`` for optimizer ``name`` (None: no curvature model)."""
    return OBSERVERS.get(name)


# --- dense P from the record ----------------------------------------------
def _dense_inverse_hessian(memory: PairMemory, memory_size) -> jax.Array:
    n = memory.s.shape[-1]
    return jax.vmap(lambda e: inverse_hessian_product(memory, e, memory_size), out_axes=1)(jnp.eye(n, dtype=memory.s.dtype))


def _hessian(landscape: Landscape, theta) -> jax.Array:
    return jax.hessian(landscape.loss)(theta)


@jax.jit
def _preconditioners(landscape: Landscape, optimizer: Optimizer, observed, params) -> jax.Array:
    """(steps, n, n); ``params`` are θ₀ … θ_{steps−1}. The optimizer's name is static, its hyperparameters traced."""
    h = optimizer.hyperparams
    name = optimizer.name
    n = params.shape[-1]
    eye = jnp.eye(n, dtype=params.dtype)
    if name == "adam":
        count, nu = observed
        v_hat = nu / (1.0 - h["b2"] ** count.astype(nu.dtype))[:, None]
        return jax.vmap(jnp.diag)(1.0 / (jnp.sqrt(v_hat) + h["eps"]))
    if name in ("lbfgs", "mlbfgs"):
        return jax.vmap(lambda memory: _dense_inverse_hessian(memory, h["memory_size"]))(observed)
    if name == "newton":
        return jax.vmap(lambda theta: jnp.linalg.inv(_hessian(landscape, theta) + h["damping"] * eye))(params)
    if name == "saddle_free_newton":

        def saddle_free(theta):
            lam, q = jnp.linalg.eigh(_hessian(landscape, theta))
            return (q / (jnp.abs(lam) + h["damping"])) @ q.T

        return jax.vmap(saddle_free)(params)
    if name == "damped_ggn":
        used = jnp.concatenate([jnp.asarray(h["damping"], observed.dtype)[None], observed[:-1]])  # λ before each step

        def damped_inverse(theta, lam):
            ggn = dense_matrix(gauss_newton_vector_product(landscape.residuals, theta), theta)
            return jnp.linalg.inv(ggn + lam * eye)

        return jax.vmap(damped_inverse)(params, used)
    raise ValueError(f"{name} has no curvature model to draw; choose one of: {', '.join(PRECONDITIONED)}")


def preconditioners(landscape: Landscape, optimizer: Optimizer, trajectory: Trajectory) -> np.ndarray:
    """P used at each step of a run made with ``observe=observer(optimizer.name)``: (steps, n, n), float64."""
    steps = trajectory.params.shape[0] - 1
    if steps == 0:
        n = trajectory.params.shape[-1]
        return np.zeros((0, n, n))
    # padded (repeating the last row) to the engine's power-of-two scan length: a new step count compiles nothing
    length = scan_length(steps)
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], length - steps, axis=0)])  # noqa: E731
    params = pad(np.asarray(trajectory.params[:-1], np.float32))
    observed = jax.tree.map(lambda a: pad(np.asarray(a)), trajectory.observed)
    matrices = _preconditioners(landscape, optimizer, observed, params)
    return np.asarray(matrices, np.float64)[:steps]


def preconditioned_spectrum(matrices, hessian) -> np.ndarray:
    """Eigenvalues of P·H for each P in ``matrices`` (…, n, n): sorted, real, shape (…, n).

    H positive semi-definite: eigvalsh of H^{1/2} P_sym H^{1/2}. Indefinite: real parts of eig(P·H).
    """
    matrices = np.asarray(matrices, np.float64)
    hessian = np.asarray(hessian, np.float64)
    hessian = 0.5 * (hessian + hessian.T)
    lam, q = np.linalg.eigh(hessian)
    with np.errstate(all="ignore"):
        if lam.min() >= -1e-12 * max(1.0, abs(lam).max()):
            root = (q * np.sqrt(np.maximum(lam, 0.0))) @ q.T
            symmetric = 0.5 * (matrices + np.swapaxes(matrices, -1, -2))
            product = root @ symmetric @ root
            finite = np.all(np.isfinite(product), axis=(-2, -1))
            safe = np.where(finite[..., None, None], product, 0.0)
            values = np.linalg.eigvalsh(safe)
        else:
            product = matrices @ hessian
            finite = np.all(np.isfinite(product), axis=(-2, -1))
            safe = np.where(finite[..., None, None], product, 0.0)
            values = np.sort(np.linalg.eigvals(safe).real, axis=-1)
    return np.where(finite[..., None], values, np.nan)


class CurvatureRun(NamedTuple):
    trajectory: Trajectory
    preconditioners: np.ndarray  # (steps, n, n)
    spectrum: np.ndarray  # (steps, n): eigenvalues of P·H, ascending


def run_with_preconditioner(
    landscape: Landscape, optimizer: Optimizer, hessian, x0=None, steps: int = 200, seed: int = 0
) -> CurvatureRun:
    """Run ``optimizer`` recording its curvature model; P·H uses the fixed ``hessian`` (a quadratic's)."""
    if optimizer.name not in OBSERVERS:
        raise ValueError(f"{optimizer.info.title} has no curvature model to draw")
    trajectory = run_trajectory(landscape, optimizer, x0, steps, seed, observe=observer(optimizer.name))
    matrices = preconditioners(landscape, optimizer, trajectory)
    return CurvatureRun(trajectory, matrices, preconditioned_spectrum(matrices, hessian))


def distance_from_newton(spectrum) -> np.ndarray:
    """maxᵢ |ln μᵢ| per step (μ the eigenvalues of P·H): 0 for an exact Newton model, ∞ for μ ≤ 0."""
    spectrum = np.asarray(spectrum, np.float64)
    with np.errstate(all="ignore"):
        logs = np.where(spectrum > 0, np.abs(np.log(np.where(spectrum > 0, spectrum, 1.0))), np.inf)
    return np.max(logs, axis=-1)


def first_step_within(spectrum, tolerance: float = 0.1) -> int | None:
    """The first step (1-based) whose P·H eigenvalues all lie within a factor e^tolerance of 1; None if never."""
    reached = np.flatnonzero(distance_from_newton(spectrum) <= tolerance)
    return int(reached[0]) + 1 if reached.size else None
