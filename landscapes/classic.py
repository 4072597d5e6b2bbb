"""Classic test functions of optimization, and the simplest network, with their critical points.

* ``Beale``: L = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²
  (Beale, "On an iterative method for finding a local minimum of a function
  of more than one variable", 1958). Minimum L = 0 at (3, 0.5); steep walls
  and a flat plateau: along x = 0 the loss is the constant 14.203125. In
  [−4.5, 4.5]² it has two saddles: (0, 1), where the Hessian is
  [[0, 27.75], [27.75, 0]], and (0.100538, −2.644514), found by Newton's
  method in float64. As least squares: rᵢ = √2 (cᵢ − x + x yⁱ), three residuals.
* ``Himmelblau``: L = (x² + y − 11)² + (x + y² − 7)² (Himmelblau, "Applied
  Nonlinear Programming", 1972). Four minima with L = 0: (3, 2),
  (−2.805118, 3.131312), (−3.779310, −3.283186), (3.584428, −1.848126); a
  maximum at (−0.270845, −0.923039) (L = 181.617); four saddles between the
  minima. As least squares: r = √2 (x² + y − 11, x + y² − 7).
* ``Rastrigin``: L = 2A + Σᵢ (xᵢ² − A cos 2πxᵢ) (Rastrigin, 1974; Mühlenbein,
  Schomisch and Born, "The parallel genetic algorithm as function
  optimizer", Parallel Computing, 1991, with A = 10 on [−5.12, 5.12]ⁿ). A
  bowl covered in ripples: the global minimum L = 0 at the origin, a local
  minimum near every integer point. It is separable, so its critical points
  are the pairs of the 1-D ones (roots of 2x + 2πA sin 2πx, found here by
  bisection): minimum × minimum is a minimum, maximum × maximum a maximum,
  the mixed pairs saddles; with A = 10 in the view that is 11² = 121 minima,
  10² = 100 maxima and 220 saddles. As least squares (xᵢ² + A(1 − cos 2πxᵢ) =
  xᵢ² + 2A sin² πxᵢ): r = (√2 x, √2 y, 2√A sin πx, 2√A sin πy), four residuals.
* ``LinearNet``: L = ½(1 − w₁w₂)², a network y = w₂ w₁ x with one unit per
  layer fitted to y = x (Baldi and Hornik, "Neural networks and principal
  component analysis: learning from examples without local minima", Neural
  Networks, 1989; Saxe, McClelland and Ganguli, "Exact solutions to the
  nonlinear dynamics of learning in deep linear neural networks", ICLR 2014).
  A saddle at the origin (Hessian [[0, −1], [−1, 0]]) and no other isolated
  critical point: every point of the hyperbola w₁w₂ = 1 is a minimum with
  L = 0, and the Hessian there, [[w₂², 1], [1, w₁²]], is singular (flat along
  the curve). ``critical_points()`` lists the saddle and six points of the
  curve, (t, 1/t) for t = ±½, ±1, ±2, as minima; ``minimum_set`` names the
  whole curve and ``on_minimum_set`` samples it. As least squares: r = 1 − w₁w₂.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, pytree_dataclass

SQRT2 = float(np.sqrt(2.0))


@pytree_dataclass
class Beale(Landscape):
    name = "beale"
    title = "Beale"
    log_scale = True

    def loss(self, theta):
        x, y = theta
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2

    def residuals(self, theta, sample=None):
        x, y = theta
        return SQRT2 * jnp.stack([1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3])

    def critical_points(self):
        return [
            CriticalPoint(np.array([3.0, 0.5]), "minimum"),
            CriticalPoint(np.array([0.0, 1.0]), "saddle"),
            CriticalPoint(np.array([0.10053793732416, -2.64451358502313]), "saddle"),
        ]

    @property
    def minimum_loss(self):
        return 0.0

    @property
    def default_start(self):
        return np.array([1.0, 1.5])

    @property
    def bounds(self):
        return (-4.5, 4.5), (-4.5, 4.5)


@pytree_dataclass
class Himmelblau(Landscape):
    name = "himmelblau"
    title = "Himmelblau"
    log_scale = True

    def loss(self, theta):
        x, y = theta
        return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2

    def residuals(self, theta, sample=None):
        x, y = theta
        return SQRT2 * jnp.stack([x**2 + y - 11.0, x + y**2 - 7.0])

    def critical_points(self):
        # Newton-polished in float64 from the published values (12 digits)
        return [
            CriticalPoint(np.array([3.0, 2.0]), "minimum"),
            CriticalPoint(np.array([-2.80511808695274, 3.13131251825057]), "minimum"),
            CriticalPoint(np.array([-3.77931025337775, -3.28318599128617]), "minimum"),
            CriticalPoint(np.array([3.58442834033049, -1.84812652696440]), "minimum"),
            CriticalPoint(np.array([-0.27084459066735, -0.92303855647998]), "maximum"),
            CriticalPoint(np.array([0.08667750455540, 2.88425470117478]), "saddle"),
            CriticalPoint(np.array([-3.07302575076439, -0.08135304428797]), "saddle"),
            CriticalPoint(np.array([-0.12796134673068, -1.95371498024458]), "saddle"),
            CriticalPoint(np.array([3.38515418360702, 0.07385187983775]), "saddle"),
        ]

    @property
    def minimum_loss(self):
        return 0.0

    @property
    def default_start(self):
        return np.array([0.0, 0.0])  # 0.96 from the maximum: where a run goes depends on the method

    @property
    def bounds(self):
        return (-5.0, 5.0), (-5.0, 5.0)


def _rastrigin_1d(a: float, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The minima and maxima in [low, high] of x² − a cos 2πx: roots of 2x + 2πa sin 2πx, by bisection."""
    slope = lambda x: 2.0 * x + 2.0 * np.pi * a * np.sin(2.0 * np.pi * x)  # noqa: E731
    xs = np.linspace(low, high, 40_001)
    s = slope(xs)
    lo, hi = xs[:-1][np.sign(s[:-1]) != np.sign(s[1:])], xs[1:][np.sign(s[:-1]) != np.sign(s[1:])]
    exact = xs[s == 0.0]
    for _ in range(60):
        mid = (lo + hi) / 2
        left = np.sign(slope(lo)) == np.sign(slope(mid))
        lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
    roots = np.sort(np.concatenate([(lo + hi) / 2, exact]))
    roots = roots[np.concatenate([[True], np.diff(roots) > 1e-9])]  # an exact zero on the grid is found twice
    roots[np.abs(roots) < 1e-12] = 0.0
    curvature = 2.0 + 4.0 * np.pi**2 * a * np.cos(2.0 * np.pi * roots)
    return roots[curvature > 0], roots[curvature < 0]


@pytree_dataclass
class Rastrigin(Landscape):
    a: float = 10.0  # the ripples' amplitude A

    name = "rastrigin"
    title = "Rastrigin"

    def loss(self, theta):
        return jnp.sum(theta**2 - self.a * jnp.cos(2.0 * jnp.pi * theta)) + 2.0 * self.a

    def residuals(self, theta, sample=None):
        return jnp.concatenate([SQRT2 * theta, 2.0 * jnp.sqrt(self.a) * jnp.sin(jnp.pi * theta)])

    def critical_points(self):
        (low, high), _ = self.bounds
        minima, maxima = _rastrigin_1d(float(self.a), low, high)
        points = []
        for kind, xs, ys in [("minimum", minima, minima), ("maximum", maxima, maxima),
                             ("saddle", minima, maxima), ("saddle", maxima, minima)]:
            points += [CriticalPoint(np.array([x, y]), kind) for x in xs for y in ys]
        return points

    @property
    def minimum_loss(self):
        return 0.0  # x² − A cos 2πx + A ≥ x² ≥ 0, with equality at 0 only

    @property
    def default_start(self):
        return np.array([2.7, -1.6])

    @property
    def bounds(self):
        return (-5.12, 5.12), (-5.12, 5.12)


@pytree_dataclass
class LinearNet(Landscape):
    name = "linear_net"
    title = "Two-layer linear net"
    minimum_set = "the hyperbola w₁w₂ = 1: every point of it is a minimum with L = 0"

    def loss(self, theta):
        w1, w2 = theta
        return 0.5 * (1.0 - w1 * w2) ** 2

    def residuals(self, theta, sample=None):
        w1, w2 = theta
        return jnp.stack([1.0 - w1 * w2])

    def critical_points(self):
        samples = [CriticalPoint(p, "minimum") for p in self.on_minimum_set(np.array([1.0, -1.0, 2.0, 0.5, -2.0, -0.5]))]
        return [CriticalPoint(np.array([0.0, 0.0]), "saddle"), *samples]

    @staticmethod
    def on_minimum_set(t) -> np.ndarray:
        """Points (t, 1/t) of the curve of minima, one per nonzero ``t``: shape (len(t), 2)."""
        t = np.asarray(t, np.float64)
        return np.stack([t, 1.0 / t], -1)

    @property
    def minimum_loss(self):
        return 0.0

    @property
    def default_start(self):
        return np.array([0.1, 0.05])  # a small initialisation: near the saddle, a long plateau first

    @property
    def bounds(self):
        return (-2.5, 2.5), (-2.5, 2.5)
