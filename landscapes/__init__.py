"""2-D loss landscapes (and n-D quadratics) for the optimizers to run on.

>>> from landscapes import get_landscape
>>> ls = get_landscape("quadratic", condition_number=100.0, angle=0.3)
>>> float(ls.loss(ls.critical_points()[0].location))
0.0
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from landscapes.base import CriticalPoint, Landscape, classify, hessian_at
from landscapes.classic import Beale, Himmelblau, LinearNet, Rastrigin
from landscapes.custom import DEFAULT_FORMULA, Custom
from landscapes.formula import FormulaError, parse_formula
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
    text: Mapping[str, str] | None = None  # parameters that are text (a formula), with their defaults
    optional: tuple[str, ...] = ()  # parameters the landscape chooses itself when they are not given


CONDITION = Parameter(10.0, 1.0, 1e4, log=True, label="condition number κ")
ANGLE = Parameter(0.0, -3.1416, 3.1416, label="rotation angle (radians)")

VIEW = {
    "x_min": Parameter(-5.0, -100.0, 100.0, label="view: smallest x"),
    "x_max": Parameter(5.0, -100.0, 100.0, label="view: largest x"),
    "y_min": Parameter(-5.0, -100.0, 100.0, label="view: smallest y"),
    "y_max": Parameter(5.0, -100.0, 100.0, label="view: largest y"),
}

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
    "beale": LandscapeInfo(
        lambda: Beale(),
        "Beale",
        {},
        "(1.5−x+xy)² + (2.25−x+xy²)² + (2.625−x+xy³)²: a flat plateau between steep walls, minimum at (3, 0.5).",
    ),
    "himmelblau": LandscapeInfo(
        lambda: Himmelblau(),
        "Himmelblau",
        {},
        "(x²+y−11)² + (x+y²−7)²: four minima of equal height, a maximum and four saddles between them.",
    ),
    "rastrigin": LandscapeInfo(
        lambda a: Rastrigin(a=a),
        "Rastrigin",
        {"a": Parameter(10.0, 0.0, 20.0, label="ripple amplitude A")},
        "2A + Σ(xᵢ² − A cos 2πxᵢ): a bowl covered in local minima, the global one at the origin.",
    ),
    "linear_net": LandscapeInfo(
        lambda: LinearNet(),
        "Two-layer linear net",
        {},
        "½(1 − w₁w₂)²: a saddle at the origin and a hyperbola w₁w₂ = 1 of minima.",
    ),
    "custom": LandscapeInfo(
        lambda formula, **view: Custom(formula, **view),
        "Your own formula",
        VIEW,
        "A formula in x and y; its critical points found by Newton's method, the view chosen around them.",
        text={"formula": DEFAULT_FORMULA},
        optional=tuple(VIEW),  # all four or none: none chooses the view automatically
    ),
}

# Every landscape has its row in ``optimizers.starting_values.STARTS`` and is in the explorer's list:
# none is kept apart any more (the name stays for code that merges it).
MORE_LANDSCAPES: dict[str, LandscapeInfo] = {}
ALL_LANDSCAPES: dict[str, LandscapeInfo] = {**LANDSCAPES, **MORE_LANDSCAPES}

GRADIENT_NOISE = Parameter(0.0, 0.0, 10.0, label="gradient noise σ")


def get_landscape(name: str, gradient_noise: float = 0.0, **parameters) -> Landscape:
    """Build a landscape by name; ``gradient_noise`` > 0 adds a random tilt each step.

    ``get_landscape("custom", formula="x**2 + 3*sin(y)")`` builds the reader's own landscape
    (``landscapes.formula`` says what a formula may contain); a refused formula raises ``ValueError``.
    """
    info = choose("landscape", name, ALL_LANDSCAPES)
    text = dict(info.text or {})
    allowed = [*info.parameters, *text]
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has no parameter {', '.join(unknown)}; allowed: {', '.join(allowed) or 'none'}")
    words = {key: parameters.pop(key, default) for key, default in text.items()}
    specs = {key: spec for key, spec in info.parameters.items() if key not in info.optional or key in parameters}
    landscape = info.build(**words, **validate(name, parameters, specs))
    noise = GRADIENT_NOISE.check("gradient_noise", gradient_noise)
    return WithGradientNoise(landscape, noise) if noise > 0 else landscape


__all__ = [
    "ALL_LANDSCAPES",
    "LANDSCAPES",
    "MORE_LANDSCAPES",
    "Beale",
    "BoundedSaddle",
    "CriticalPoint",
    "Custom",
    "FormulaError",
    "Himmelblau",
    "Landscape",
    "LandscapeInfo",
    "LinearNet",
    "Rastrigin",
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
    "parse_formula",
]
