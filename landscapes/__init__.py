"""2-D loss landscapes (and n-D quadratics) for the optimizers to run on.

>>> from landscapes import get_landscape
>>> ls = get_landscape("quadratic", condition_number=100.0, angle=0.3)
>>> float(ls.loss(ls.critical_points()[0].location))
0.0
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from landscapes.base import CriticalPoint, Landscape, classify, hessian_at
from landscapes.noisy import NoisyQuadratic, WithGradientNoise, minibatch_quadratic
from landscapes.quadratic import (
    Quadratic,
    ill_conditioned_quadratic,
    log_uniform_spectrum,
    quadratic_from_spectrum,
)
from landscapes.rosenbrock import Rosenbrock
from landscapes.saddle import BoundedSaddle, PureSaddle
from parameters import Parameter, choose, validate


class LandscapeInfo(NamedTuple):
    build: Callable[..., Landscape]
    title: str
    parameters: dict[str, Parameter]
    summary: str


CONDITION = Parameter(10.0, 1.0, 1e4, log=True, label="condition number κ")
ANGLE = Parameter(0.0, -3.1416, 3.1416, label="rotation angle (radians)")

LANDSCAPES: dict[str, LandscapeInfo] = {
    "quadratic": LandscapeInfo(
        lambda condition_number, angle: ill_conditioned_quadratic(condition_number, angle),
        "Ill-conditioned quadratic",
        {"condition_number": CONDITION, "angle": ANGLE},
        "½(θ−θ*)ᵀA(θ−θ*) with eigenvalues 1/κ and 1: a long, narrow valley when κ is large.",
    ),
    "saddle": LandscapeInfo(
        lambda: BoundedSaddle(),
        "Saddle between two minima",
        {},
        "x² + ¼(y²−1)²: a saddle at the origin, minima at (0, ±1).",
    ),
    "pure_saddle": LandscapeInfo(
        lambda: PureSaddle(),
        "Pure saddle",
        {},
        "½(x² − y²): unbounded below, no convex outer loss.",
    ),
    "rosenbrock": LandscapeInfo(
        lambda a, b: Rosenbrock(a=a, b=b),
        "Rosenbrock",
        {"a": Parameter(1.0, -2.0, 2.0, label="a"), "b": Parameter(100.0, 1.0, 1000.0, log=True, label="b")},
        "(a−x)² + b(y−x²)²: a curved valley with its minimum at (a, a²).",
    ),
    "noisy_quadratic": LandscapeInfo(
        lambda condition_number, angle, noise_scale, batch_size: minibatch_quadratic(
            ill_conditioned_quadratic(condition_number, angle), noise_scale, batch_size
        ),  # σ = 0: the exact quadratic
        "Noisy quadratic",
        {
            "condition_number": CONDITION,
            "angle": ANGLE,
            "noise_scale": Parameter(0.3, 0.0, 3.0, label="noise scale σ"),
            "batch_size": Parameter(4, 1, 1024, log=True, integer=True, label="batch size B"),
        },
        "Each step sees a minibatch whose minimum is shifted at random (Zhang et al., 2019).",
    ),
}

GRADIENT_NOISE = Parameter(0.0, 0.0, 10.0, label="gradient noise σ")


def get_landscape(name: str, gradient_noise: float = 0.0, **parameters) -> Landscape:
    """Build a landscape by name; ``gradient_noise`` > 0 adds a random tilt each step."""
    info = choose("landscape", name, LANDSCAPES)
    landscape = info.build(**validate(name, parameters, info.parameters))
    noise = GRADIENT_NOISE.check("gradient_noise", gradient_noise)
    return WithGradientNoise(landscape, noise) if noise > 0 else landscape


__all__ = [
    "LANDSCAPES",
    "BoundedSaddle",
    "CriticalPoint",
    "Landscape",
    "LandscapeInfo",
    "NoisyQuadratic",
    "PureSaddle",
    "Quadratic",
    "Rosenbrock",
    "WithGradientNoise",
    "classify",
    "get_landscape",
    "hessian_at",
    "ill_conditioned_quadratic",
    "log_uniform_spectrum",
    "quadratic_from_spectrum",
    "minibatch_quadratic",
]
