"""Rosenbrock's banana valley: L = (a − x)² + b (y − x²)².

A curved, narrow valley with its minimum at (a, a²); the standard test of
whether an optimizer can follow curvature that changes direction (Rosenbrock,
"An automatic method for finding the greatest or least value of a function",
The Computer Journal, 1960). The standard start is (−1.2, 1).

As least squares, r = (√2 (a − x), √(2b) (y − x²)) and L = ½‖r‖²; its
Gauss–Newton matrix JᵀJ is positive semi-definite even where the Hessian is not.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, pytree_dataclass


@pytree_dataclass
class Rosenbrock(Landscape):
    a: float = 1.0
    b: float = 100.0

    name = "rosenbrock"
    title = "Rosenbrock"
    log_scale = True

    def loss(self, theta):
        x, y = theta
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def residuals(self, theta, sample=None):
        x, y = theta
        return jnp.stack([jnp.sqrt(2.0) * (self.a - x), jnp.sqrt(2.0 * self.b) * (y - x**2)])

    def critical_points(self):
        a = float(self.a)
        return [CriticalPoint(np.array([a, a * a]), "minimum")]

    @property
    def default_start(self):
        return np.array([-1.2, 1.0])

    @property
    def bounds(self):
        a = float(self.a)
        return (-2.0 * max(1.0, abs(a)), 2.0 * max(1.0, abs(a))), (-1.0, max(3.0, a * a + 2.0))
