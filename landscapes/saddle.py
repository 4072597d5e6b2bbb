"""Saddles: where Newton's method is attracted and other methods escape.

Newton's step −H⁻¹g moves towards the nearest critical point of the local
quadratic model, whatever its type, so it is drawn into saddles (Dauphin et al.,
"Identifying and attacking the saddle point problem in high-dimensional
non-convex optimization", NeurIPS 2014). Gradient descent is pushed away along
the negative-curvature direction.

* ``BoundedSaddle``: L = x² + ¼(y² − 1)². A saddle at the origin (curvatures
  2 and −1) between two minima at (0, ±1), so every method has somewhere to go.
  As least squares: r = (√2·x, (y² − 1)/√2), L = ½‖r‖².
* ``PureSaddle``: L = ½(x² − y²), unbounded below; it has no convex-outer-loss
  form, so the Gauss–Newton methods do not apply to it.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, pytree_dataclass


@pytree_dataclass
class BoundedSaddle(Landscape):
    name = "saddle"
    title = "Saddle between two minima"

    def loss(self, theta):
        x, y = theta
        return x**2 + 0.25 * (y**2 - 1.0) ** 2

    def residuals(self, theta, sample=None):
        x, y = theta
        return jnp.stack([jnp.sqrt(2.0) * x, (y**2 - 1.0) / jnp.sqrt(2.0)])

    def critical_points(self):
        return [
            CriticalPoint(np.array([0.0, 0.0]), "saddle"),
            CriticalPoint(np.array([0.0, 1.0]), "minimum"),
            CriticalPoint(np.array([0.0, -1.0]), "minimum"),
        ]

    @property
    def default_start(self):
        return np.array([-1.5, 0.3])  # |y| < 1/√3: Newton sees negative curvature along y

    @property
    def bounds(self):
        return (-2.0, 2.0), (-1.75, 1.75)


@pytree_dataclass
class PureSaddle(Landscape):
    name = "pure_saddle"
    title = "Pure saddle ½(x² − y²)"

    def loss(self, theta):
        x, y = theta
        return 0.5 * (x**2 - y**2)

    def critical_points(self):
        return [CriticalPoint(np.array([0.0, 0.0]), "saddle")]

    @property
    def default_start(self):
        return np.array([-1.5, 0.05])

    @property
    def bounds(self):
        return (-2.0, 2.0), (-2.0, 2.0)
