"""The local quadratic model of a landscape at a critical point.

At a critical point θc (∇L(θc) = 0) the second-order Taylor expansion is

    M(θ) = L(θc) + ½ (θ − θc)ᵀ H (θ − θc),   H = ∇²L(θc) = Q diag(λ) Qᵀ,

a quadratic with H's eigenvalues and eigenvectors (``jax.hessian``, then
``eigh``). The constant L(θc) is dropped: it moves no optimizer.

Near Rosenbrock's minimum (1, 1) the model has eigenvalues ≈ 0.40 and ≈ 1002
(κ ≈ 2500): the banana valley, straightened. At the saddle of
x² + ¼(y² − 1)² the eigenvalues are 2 and −1: an indefinite quadratic,
unbounded below. It has no convex outer loss (no Gauss–Newton matrix), and
gradient descent and momentum move away from the critical point along the
negative direction for every step size, so the optimal parameters of the
closed forms do not exist there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, classify, pytree_dataclass
from landscapes.quadratic import Quadratic


def _kind(eigenvalues) -> str:
    return classify(np.diag(np.asarray(eigenvalues, np.float64)))


@pytree_dataclass
class LocalQuadratic(Quadratic):
    """A positive-definite local model: a quadratic whose minimum is the critical point."""

    title = "Local quadratic model"


@pytree_dataclass
class IndefiniteQuadratic(Quadratic):
    """A local model with a negative eigenvalue: a saddle (or a maximum), unbounded below."""

    title = "Local quadratic model (indefinite)"
    log_scale = False
    residuals = Landscape.residuals  # no convex outer loss: the Gauss–Newton methods do not apply

    def critical_points(self):
        return [CriticalPoint(np.asarray(self.minimum), _kind(self.eigenvalues))]

    @property
    def condition_number(self) -> float:
        lam = np.abs(np.asarray(self.eigenvalues))
        return float(lam.max() / lam.min())


_hessian = jax.jit(lambda landscape, theta: jax.hessian(landscape.loss)(theta))


def local_quadratic(landscape: Landscape, point) -> Quadratic:
    """The quadratic model of ``landscape`` at ``point`` (a critical point: the gradient is not checked here)."""
    point = jnp.asarray(point, jnp.float32)
    hessian = np.asarray(_hessian(landscape, point), np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
    cls = LocalQuadratic if eigenvalues.min() > 0 else IndefiniteQuadratic
    return cls(
        eigenvalues=jnp.asarray(eigenvalues, jnp.float32),
        eigenvectors=jnp.asarray(eigenvectors, jnp.float32),
        minimum=point,
    )


def critical_point_model(landscape: Landscape, kind: str = "minimum", index: int = 0) -> Quadratic:
    """The local model at the ``index``-th critical point of the given kind (``"minimum"``, ``"saddle"``)."""
    points = [p.location for p in landscape.critical_points() if p.kind == kind]
    if not points:
        raise ValueError(f"{landscape.title} has no {kind}")
    return local_quadratic(landscape, points[index])
