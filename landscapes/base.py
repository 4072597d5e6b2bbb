"""What every 2-D landscape knows about itself.

A landscape is a frozen dataclass registered as a JAX pytree: its numeric
parameters (condition number, angle, noise scale, ...) are pytree leaves, so a
jitted function that takes a landscape as an argument traces them and does not
recompile when a slider moves them. Only the landscape's class is static.

Stochastic landscapes draw a *sample* per step (a minibatch, a gradient-noise
tilt); every optimizer then sees one consistent objective ``sample_loss`` for
that step: its gradient, its curvature and its re-evaluations agree.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class CriticalPoint(NamedTuple):
    location: np.ndarray  # shape (2,) for the 2-D landscapes
    kind: Literal["minimum", "saddle", "maximum"]


def pytree_dataclass(cls):
    """Class decorator: a frozen dataclass whose fields are traced pytree leaves."""
    return jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True)(cls))


class Landscape:
    """Base class. Subclasses define ``loss`` and the plotting metadata.

    Deterministic by default: ``sample`` returns ``None`` and ``sample_loss``
    is the exact loss. Least-squares landscapes (L = ½‖r‖²) also define
    ``residuals``; that is the convex-outer-loss structure the Gauss–Newton
    methods need.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    log_scale: ClassVar[bool] = False  # draw contours of log(L − L* + ε)

    # --- the objective -------------------------------------------------
    def loss(self, theta: jax.Array) -> jax.Array:
        """The exact (expected) objective, used for plotting and loss curves."""
        raise NotImplementedError

    def sample(self, key: jax.Array) -> Any:
        """Randomness for one step (a minibatch); ``None`` when deterministic."""
        del key
        return None

    def sample_loss(self, theta: jax.Array, sample: Any) -> jax.Array:
        """The objective the optimizer sees on one step."""
        del sample
        return self.loss(theta)

    def residuals(self, theta: jax.Array, sample: Any = None) -> jax.Array:
        """r(θ) with ``sample_loss = ½‖r‖²`` (plus terms without curvature)."""
        raise NotImplementedError(f"{self.title} is not a least-squares problem")

    @property
    def has_residuals(self) -> bool:
        return type(self).residuals is not Landscape.residuals

    @property
    def is_stochastic(self) -> bool:
        """Whether each step draws a sample (a minibatch, a noise tilt)."""
        return type(self).sample is not Landscape.sample

    @property
    def dimension(self) -> int:
        """The length of θ (known from shapes alone, so also while tracing)."""
        return 2

    # --- what the app draws --------------------------------------------
    def critical_points(self) -> list[CriticalPoint]:
        raise NotImplementedError

    @property
    def default_start(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x_min, x_max), (y_min, y_max)) of the default view."""
        raise NotImplementedError

    @property
    def escape_radius(self) -> float:
        """A run farther than this from the view's centre has diverged."""
        (x0, x1), (y0, y1) = self.bounds
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        return float(np.hypot(x1 - x0, y1 - y0) * 10 + np.linalg.norm(centre))

    @functools.cached_property
    def minimum_loss(self) -> float:
        """The lowest value of ``loss`` (−∞ when unbounded below); worked out once per landscape."""
        minima = [p for p in self.critical_points() if p.kind == "minimum"]
        if not minima:
            return -np.inf
        return float(min(self.loss(jnp.asarray(p.location)) for p in minima))


def hessian_at(ls: Landscape, theta) -> np.ndarray:
    """The exact Hessian of ``ls.loss`` at a point (for classifying critical points)."""
    return np.asarray(jax.hessian(ls.loss)(jnp.asarray(theta, jnp.float32)))


def classify(hessian: np.ndarray) -> Literal["minimum", "saddle", "maximum"]:
    eigenvalues = np.linalg.eigvalsh(hessian)
    if np.all(eigenvalues > 0):
        return "minimum"
    if np.all(eigenvalues < 0):
        return "maximum"
    return "saddle"
