"""Quadratics: L(θ) = ½ (θ − θ*)ᵀ A (θ − θ*),  A = Q diag(λ) Qᵀ.

The error in the Hessian's eigenbasis, x = Qᵀ(θ − θ*), separates into
independent components; that is what the eigenspace view draws (Goh, "Why
Momentum Really Works", Distill 2017).

The 2-D ill-conditioned quadratic has eigenvalues (1/κ, 1): the largest is
always 1, so the stable learning rates of gradient descent (α < 2/λ_max = 2)
do not move when the condition number κ does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, pytree_dataclass


def rotation_2d(angle) -> jax.Array:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.array([[c, -s], [s, c]])


def random_rotation(dimension: int, seed: int = 0) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian, signs fixed)."""
    gaussian = np.random.default_rng(seed).standard_normal((dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))


def log_uniform_spectrum(dimension: int, smallest: float, largest: float) -> np.ndarray:
    """Eigenvalues spread evenly on a log scale from ``smallest`` to ``largest``."""
    return np.geomspace(smallest, largest, dimension)


@pytree_dataclass
class Quadratic(Landscape):
    """A quadratic of any dimension, given by its spectrum and eigenvectors."""

    eigenvalues: jax.Array  # λ, shape (n,)
    eigenvectors: jax.Array  # Q, columns are eigenvectors, shape (n, n)
    minimum: jax.Array  # θ*, shape (n,)

    name = "quadratic"
    title = "Ill-conditioned quadratic"
    log_scale = True

    @property
    def hessian(self) -> jax.Array:
        return (self.eigenvectors * self.eigenvalues) @ self.eigenvectors.T

    @property
    def condition_number(self) -> float:
        return float(jnp.max(self.eigenvalues) / jnp.min(self.eigenvalues))

    def to_eigenbasis(self, theta: jax.Array) -> jax.Array:
        """x = Qᵀ(θ − θ*), for one point or a trajectory of shape (..., n)."""
        return (theta - self.minimum) @ self.eigenvectors

    def loss(self, theta):
        x = self.to_eigenbasis(theta)
        return 0.5 * jnp.sum(self.eigenvalues * x**2)

    def residuals(self, theta, sample=None):
        return jnp.sqrt(self.eigenvalues) * self.to_eigenbasis(theta)  # A^{1/2} in the eigenbasis

    def critical_points(self):
        return [CriticalPoint(np.asarray(self.minimum), "minimum")]

    @property
    def dimension(self):
        return self.minimum.shape[-1]

    @property
    def default_start(self):
        return np.asarray(self.minimum) + np.resize([-2.0, 1.5], self.dimension)

    @property
    def bounds(self):
        x, y = np.asarray(self.minimum)[:2]
        return (x - 2.5, x + 2.5), (y - 2.5, y + 2.5)


def ill_conditioned_quadratic(condition_number: float = 10.0, angle: float = 0.0) -> Quadratic:
    """2-D quadratic with eigenvalues (1/κ, 1), eigenvectors rotated by ``angle`` radians."""
    return Quadratic(
        eigenvalues=jnp.array([1.0 / condition_number, 1.0]),
        eigenvectors=rotation_2d(angle),
        minimum=jnp.zeros(2),
    )


def quadratic_from_spectrum(eigenvalues, seed: int | None = 0, minimum=None) -> Quadratic:
    """n-D quadratic with the given eigenvalues and random (or, with ``seed=None``, axis-aligned) eigenvectors."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float32)
    n = len(eigenvalues)
    q = np.eye(n) if seed is None else random_rotation(n, seed)
    return Quadratic(
        eigenvalues=jnp.asarray(eigenvalues),
        eigenvectors=jnp.asarray(q, jnp.float32),
        minimum=jnp.zeros(n) if minimum is None else jnp.asarray(minimum, jnp.float32),
    )
