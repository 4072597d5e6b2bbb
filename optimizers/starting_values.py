"""Where an optimizer's sliders start on each landscape: values that work there.

The registry's defaults (``optimizers.OPTIMIZERS``) are one value per method,
and some fail on some landscapes without a word: on Rosenbrock, momentum and
Nesterov at α = 0.1 leave the landscape at step 2, and mL-BFGS's β = 0.99
(set for the noisy quadratic) mixes curvature from all along the curved
valley. ``STARTS[landscape][optimizer]`` lists every optimizer on every
landscape: the overrides of the registry's defaults that it needs (none where
the defaults already work) and what a run with those values does,

    from the landscape's default start (``get_landscape(name).default_start``),
    with its default parameters, in ``STEPS`` = 300 steps (the explorer's
    default), on a stochastic landscape over ``SEEDS`` = 8 seeds (mean over
    seeds of the final L − L*),

as a ``Target`` that ``tests/test_starting_values.py`` checks cell by cell:

* ``converges``: the final L − L* is below ``CONVERGED``, and no run diverges;
* ``reaches``: the final L − L* is below the stated ``loss``, and no run
  diverges (``why`` says what keeps it there: a slow direction, a noise floor);
* ``escapes``: where L is unbounded below (``pure_saddle``, L* = −∞), the final
  L is below the stated ``loss``; leaving the landscape is how such a run
  ends, not a divergence;

or, where the method fails by nature, the failure and its cause in ``why``:

* ``stuck_at_saddle``: the run ends on the landscape's saddle (Newton's step
  goes to the nearest critical point of its local model, whatever its type);
* ``diverges``: some seed leaves the landscape whatever the step (plain
  L-BFGS on noisy gradients);
* ``not_applicable``: the engine refuses the pair with a ``ValueError``
  (the Gauss–Newton methods need a least-squares form L = ½‖r‖²; K-FAC needs
  a network's dense layers, which no 2-D landscape has).

Every value lies on the app's slider grid (``ui.controls.slider_grid``: E24
mantissas such as 1.0, 1.5, 2.2, 4.7 × 10ᵏ on log sliders, round steps such
as 0.5 or 0.99 on linear ones), so a link that carries it stays short.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Mapping

from optimizers.registry import OPTIMIZERS
from parameters import choose

STEPS = 300  # the explorer's default number of steps
SEEDS = 8  # the explorer's default number of noisy runs
CONVERGED = 1e-8  # L − L* below this counts as converged (float32 runs end near 1e-14)

Outcome = Literal["converges", "reaches", "escapes", "stuck_at_saddle", "diverges", "not_applicable"]
FAILURES = frozenset({"stuck_at_saddle", "diverges", "not_applicable"})  # by nature, not by a bad setting


@dataclasses.dataclass(frozen=True)
class Target:
    """What a run from the starting values does in ``STEPS`` steps (see the module docstring)."""

    outcome: Outcome
    loss: float | None = None  # the bound for "reaches" (on L − L*) and "escapes" (on L)
    why: str = ""  # what limits it, or why it fails

    @property
    def fails_by_nature(self) -> bool:
        return self.outcome in FAILURES


@dataclasses.dataclass(frozen=True)
class Start:
    """One optimizer on one landscape: overrides of the registry's defaults, and its target."""

    target: Target
    overrides: Mapping[str, float] = dataclasses.field(default_factory=dict)
    why: str = ""  # why the registry's defaults do not do here (empty: they do)


CONVERGES = Target("converges")


def reaches(loss: float, why: str) -> Target:
    return Target("reaches", loss, why)


def escapes(loss: float) -> Target:
    return Target("escapes", loss, "L is unbounded below: a run that works leaves the saddle for good")


NEWTON_AT_THE_SADDLE = Target(
    "stuck_at_saddle",
    why="Newton's step −H⁻¹g goes to the critical point of the local quadratic model, whatever its type, "
    "so a saddle attracts it (Dauphin et al., 2014)",
)
NO_LEAST_SQUARES_FORM = Target(
    "not_applicable",
    why="½(x² − y²) has no convex outer loss ℓ∘f (it is unbounded below): its Gauss–Newton matrix is not defined",
)

NO_LAYERS = Target(
    "not_applicable",
    why="K-FAC's curvature is a Kronecker product per dense layer of a network; a 2-D landscape has no layers",
)

RMSPROP_JITTERS = reaches(1e-4, "its g² average forgets within ~10 steps, so its steps stay large near the minimum")
ROSENBROCK_LEARNING_RATE = 1e-3  # αλ_max = 1.5 at the start and 1.0 at the minimum: inside αλ < 2 at both


def too_steep(stable_range: str) -> str:
    """Why the registry's α = 0.1 fails on Rosenbrock, for a method stable while αλ lies in ``stable_range``."""
    return (
        "α = 0.1 leaves the landscape at step 2: at the start λ_max = 1506, so αλ_max = 151, far past the "
        f"stable range {stable_range}"
    )


STARTS: dict[str, dict[str, Start]] = {
    # ½(θ−θ*)ᵀA(θ−θ*) with eigenvalues 1/κ = 0.1 and 1: the registry's defaults are set for it.
    "quadratic": {
        "gd": Start(reaches(1e-3, "the shallow direction shrinks by 1 − α/κ = 0.99 per step")),
        "momentum": Start(CONVERGES),
        "nesterov": Start(CONVERGES),
        "adam": Start(CONVERGES),
        "rmsprop": Start(RMSPROP_JITTERS),
        "adagrad": Start(CONVERGES),
        "newton": Start(CONVERGES),
        "saddle_free_newton": Start(CONVERGES),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(CONVERGES),
        "mlbfgs": Start(CONVERGES),
        "adamqlr": Start(CONVERGES),
        "kfac": Start(NO_LAYERS),
    },
    # x² + ¼(y² − 1)², start (−1.5, 0.3): every descent method reaches a minimum (0, ±1); Newton is caught.
    "saddle": {
        "gd": Start(CONVERGES),
        "momentum": Start(CONVERGES),
        "nesterov": Start(CONVERGES),
        "adam": Start(CONVERGES),
        "rmsprop": Start(RMSPROP_JITTERS),
        "adagrad": Start(CONVERGES),
        "newton": Start(NEWTON_AT_THE_SADDLE),
        "saddle_free_newton": Start(CONVERGES),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(CONVERGES),
        "mlbfgs": Start(CONVERGES),
        "adamqlr": Start(CONVERGES),
        "kfac": Start(NO_LAYERS),
    },
    # ½(x² − y²), start (−1.5, 0.05), L = 1.12: success is leaving the saddle downhill, past L = −1.
    "pure_saddle": {
        "gd": Start(escapes(-1.0)),
        "momentum": Start(escapes(-1.0)),
        "nesterov": Start(escapes(-1.0)),
        "adam": Start(escapes(-1.0)),
        "rmsprop": Start(escapes(-1.0)),
        "adagrad": Start(escapes(-1.0)),
        "newton": Start(NEWTON_AT_THE_SADDLE),
        "saddle_free_newton": Start(escapes(-1.0)),
        "damped_ggn": Start(NO_LEAST_SQUARES_FORM),
        "lbfgs": Start(escapes(-1.0)),
        "mlbfgs": Start(escapes(-1.0)),
        "adamqlr": Start(NO_LEAST_SQUARES_FORM),
        "kfac": Start(NO_LAYERS),
    },
    # (1 − x)² + 100(y − x²)², start (−1.2, 1), L = 24.2: steep walls (λ_max 1506 at the start, 1002 at the
    # minimum) around a curved floor. The first-order methods with a fixed α need α ~ 10⁻³ and then crawl.
    "rosenbrock": {
        "gd": Start(
            reaches(4.0, "α must stay below 2/λ_max of the steep walls, and along the floor the curvature is ~0.4: it crawls"),
            {"learning_rate": ROSENBROCK_LEARNING_RATE},
            too_steep("αλ < 2"),
        ),
        "momentum": Start(
            reaches(0.02, "at α = 10⁻³ the floor is still being followed after 300 steps"),
            {"learning_rate": ROSENBROCK_LEARNING_RATE},
            too_steep("αλ < 2 + 2β = 3.8 (β = 0.9)"),
        ),
        "nesterov": Start(
            reaches(0.03, "at α = 10⁻³ the floor is still being followed after 300 steps"),
            {"learning_rate": ROSENBROCK_LEARNING_RATE},
            too_steep("αλ < (2 + 2β)/(1 + 2β) = 1.36 (β = 0.9)"),
        ),
        "adam": Start(reaches(2.0, "steps of about α per coordinate: at α = 0.05 it is still on its way along the valley")),
        "rmsprop": Start(reaches(1.0, "steps of about α per coordinate along the curved floor")),
        "adagrad": Start(reaches(3.0, "its steps shrink as squared gradients accumulate")),
        "newton": Start(CONVERGES),
        "saddle_free_newton": Start(CONVERGES),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(CONVERGES),
        "mlbfgs": Start(
            CONVERGES,
            {"param_decay": 0.0, "grad_decay": 0.0, "pair_interval": 3},
            "β = 0.99 is set for noise: its averages span ~1/(1 − β) = 100 steps, so on this deterministic curved "
            "valley a pair mixes curvature from far-apart places; with a pair only every T = 20 steps it is still "
            "at L ≈ 0.8 after 300 steps and leaves the landscape at step 540. Without averaging (β = 0) and with a "
            "pair every 3 steps its pairs are the local curvature",
        ),
        "adamqlr": Start(reaches(0.1, "its step clip α_max = 0.1 limits each step along the valley")),
        "kfac": Start(NO_LAYERS),
    },
    # The quadratic seen through minibatches (σ 0.3, B 4): nothing converges; each method has a noise floor.
    "noisy_quadratic": {
        "gd": Start(reaches(2e-3, "noise floor Σ αλσ²/(2B(2 − αλ)), plus what is left along the slow direction")),
        "momentum": Start(reaches(1e-2, "noise floor")),
        "nesterov": Start(reaches(1e-2, "noise floor")),
        "adam": Start(reaches(3e-3, "noise floor")),
        "rmsprop": Start(reaches(2e-3, "noise floor")),
        "adagrad": Start(reaches(2e-3, "noise floor")),
        "newton": Start(reaches(0.05, "it lands on each minibatch's own minimum: L − L* ≈ σ²n/(2B) = 0.0225")),
        "saddle_free_newton": Start(reaches(0.05, "as Newton: |H| = H on this convex quadratic")),
        "damped_ggn": Start(reaches(0.05, "as Newton: the Gauss–Newton matrix of a quadratic is H")),
        "lbfgs": Start(
            Target(
                "diverges",
                why="plain L-BFGS's pairs y = gₖ − gₖ₋₁ come from two different minibatches, so they are mostly "
                "noise: a pair with a small sᵀy inflates H, and the step, until the run leaves the landscape",
            )
        ),
        "mlbfgs": Start(reaches(0.02, "noise floor; the averages keep its curvature pairs from the noise")),
        "adamqlr": Start(reaches(3e-3, "noise floor")),
        "kfac": Start(NO_LAYERS),
    },
}


def starting_values(landscape: str, optimizer: str) -> dict[str, float | int]:
    """Every hyperparameter of ``optimizer`` as its sliders start on ``landscape``: the registry's
    defaults overlaid with ``STARTS``. Unknown names raise ``ValueError``."""
    starts = choose("landscape", landscape, STARTS)
    info = choose("optimizer", optimizer, OPTIMIZERS)
    defaults = {name: spec.default for name, spec in info.hyperparameters.items()}
    return {**defaults, **starts[optimizer].overrides}


def target(landscape: str, optimizer: str) -> Target:
    """What a run from ``starting_values(landscape, optimizer)`` does (see the module docstring)."""
    return choose("optimizer", optimizer, choose("landscape", landscape, STARTS)).target
