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
* ``local_minimum``: every run ends within ``LOCAL_RADIUS`` of ``at``, a minimum
  of the landscape other than the lowest, where L − L* is the stated ``loss``
  (to 1 %), and none diverges (``why`` says why that one: on Rastrigin, each
  ripple is a basin, and a descent method stays in the one it starts in);
* ``follows_valley``: the run goes down a valley that leads out of the view,
  along which L falls towards a value above L* (``why`` says which), and never
  reaches the minimum: it ends outside the view with the final L − L* below
  the stated ``loss``; leaving the landscape along the valley is allowed;
* ``escapes``: where L is unbounded below (``pure_saddle``, L* = −∞), the final
  L is below the stated ``loss``; leaving the landscape is how such a run
  ends, not a divergence;

or, where the method fails by nature, the failure and its cause in ``why``:

* ``stuck_at_saddle``, ``stuck_at_maximum``: the run ends on that critical
  point (``at``, or the landscape's only one of the kind): Newton's step goes
  to the nearest critical point of its local model, whatever its type;
* ``diverges``: some seed leaves the landscape whatever the step (plain
  L-BFGS on noisy gradients);
* ``not_applicable``: the engine refuses the pair with a ``ValueError``
  (the Gauss–Newton methods need a least-squares form L = ½‖r‖²; K-FAC needs
  a network's dense layers, which no 2-D landscape has).

On the two-layer linear net, whose minima are the hyperbola w₁w₂ = 1 (L = 0
all along it), ``converges`` means L − L* below ``CONVERGED`` wherever on it
the run ends.

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

LOCAL_RADIUS = 0.02  # "ends at" a local minimum: within this distance (Rastrigin's ripples are 1 apart)

Outcome = Literal[
    "converges", "reaches", "local_minimum", "follows_valley", "escapes",
    "stuck_at_saddle", "stuck_at_maximum", "diverges", "not_applicable",
]  # fmt: skip
FAILURES = frozenset({"stuck_at_saddle", "stuck_at_maximum", "diverges", "not_applicable"})  # by nature


@dataclasses.dataclass(frozen=True)
class Target:
    """What a run from the starting values does in ``STEPS`` steps (see the module docstring)."""

    outcome: Outcome
    loss: float | None = None  # the bound on L − L* ("reaches", "follows_valley") or L ("escapes"), or
    # L − L* at the local minimum it ends on ("local_minimum")
    why: str = ""  # what limits it, or why it fails
    at: tuple[float, float] | None = None  # the critical point it ends on ("local_minimum", "stuck_at_…")

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


def local_minimum(at: tuple[float, float], loss: float, why: str) -> Target:
    return Target("local_minimum", loss, why, at)


def follows_valley(loss: float, why: str) -> Target:
    return Target("follows_valley", loss, why)


NEWTON_MODEL = "Newton's step −H⁻¹g goes to the critical point of the local quadratic model, whatever its type"
NEWTON_AT_THE_SADDLE = Target("stuck_at_saddle", why=f"{NEWTON_MODEL}, so a saddle attracts it (Dauphin et al., 2014)")


def newton_stuck(kind: str, at: tuple[float, float], how: str) -> Target:
    """Newton caught by the critical point ``at`` of ``kind`` ("saddle", "maximum"), reached as ``how`` says."""
    return Target(f"stuck_at_{kind}", why=f"{NEWTON_MODEL}: {how}", at=at)


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


def leaves_at(step: int, why: str) -> str:
    """Why the registry's α = 0.1 fails: the step at which it leaves the landscape, and the curvature behind it."""
    return f"α = 0.1 leaves the landscape at step {step}: {why}"


# mL-BFGS's β = 0.99 and T = 20 are set for noise; on a deterministic landscape its pairs should be local.
MLBFGS_LOCAL_PAIRS = {"param_decay": 0.0, "grad_decay": 0.0, "pair_interval": 3}


def mlbfgs_set_for_noise(what: str) -> str:
    return (
        "β = 0.99 and a pair every T = 20 steps are set for noise: its averages span ~100 steps and mix curvature "
        f"from far-apart places, and {what}. Without averaging (β = 0) and with a pair every 3 steps its pairs are "
        "the local curvature"
    )


ADADELTA_EPS = {"eps": 1e-4}


def adadelta_slow(after: str) -> str:
    """Why AdaDelta's registry ε = 10⁻⁶ is too small on a landscape of unit scale."""
    return (
        "at ε = 10⁻⁶ its first step is √(ε/(1 − ρ)) ≈ 0.003 per coordinate and its steps grow only as E[Δ²] fills "
        f"up: {after} after 300 steps; ε = 10⁻⁴ starts at 0.03"
    )


# Beale: (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², start (1, 1.5), L = 41.25.
BEALE_FLAT = "the valley's floor towards (3, 0.5) is flat: the curvature at the minimum is 0.30 along it, 49 across"
BEALE_STEEP = "at the start λ_max = 281.5, so αλ_max = 28, and the walls are steeper still away from the minimum"
# Himmelblau: (x² + y − 11)² + (x + y² − 7)², start (0, 0) near the maximum, L = 170.
HIMMELBLAU_STEEP = "at the minimum (3, 2) λ_max = 82.3, so αλ_max = 8.2, far past the stable range αλ < 2"
# Rastrigin, A = 10, start (2.7, −1.6): the start lies in the ripple of the local minimum (2.98, −1.99).
RASTRIGIN_MINIMUM = (2.9849, -1.9899)
RASTRIGIN_LOSS = 12.93  # L there (12.9344): the ripples' 2A − A cos … plus the bowl's x² + y²
RASTRIGIN_BASIN = (
    "every ripple is a basin and a descent method stays in the one it starts in: the start (2.7, −1.6) lies in "
    "that of (2.98, −1.99), not of the global minimum at the origin"
)
RASTRIGIN_RIPPLES = (
    "the curvature at every ripple's minimum is about 2 + 4π²A = 397, so a fixed step settles only for "
    "α < 2/397 = 5.0·10⁻³; at α = 0.1 it bounces from ripple to ripple and never settles"
)
# The reader's own formula at its default, (1.5 − x + xy)² + (2.25 − x + xy²)² (Beale's first two terms), with
# the view it chooses, [−1, 4] × [−2.67, 2], and its start (−0.24, −2.14), L = 7.0.
CUSTOM_VALLEY = (
    "the start lies on the side of a valley that runs out of the view to y → −∞ (x → 0 from below, xy² → −2.25), "
    "along which L falls towards 1.5² = 2.25, never to the minimum L = 0 at (3, 0.5)"
)


IN_THE_RIPPLE = Target("local_minimum", RASTRIGIN_LOSS, RASTRIGIN_BASIN, RASTRIGIN_MINIMUM)
RIPPLE_STEP = {"learning_rate": 1e-3}  # αλ ≈ 0.4 in a ripple's minimum


def custom_steep(step: int) -> str:
    return leaves_at(step, "at the start λ_max = 45.6, and the valley narrows as it descends")


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
        "yogi": Start(CONVERGES),
        "adadelta": Start(CONVERGES, ADADELTA_EPS, adadelta_slow("L − L* is still 0.12")),
        "parabola": Start(CONVERGES),
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
        "yogi": Start(CONVERGES),
        "adadelta": Start(CONVERGES, ADADELTA_EPS, adadelta_slow("L − L* is still 0.17")),
        "parabola": Start(CONVERGES),
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
        "yogi": Start(escapes(-1.0)),
        "adadelta": Start(escapes(-1.0)),
        "parabola": Start(escapes(-1.0)),
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
            dict(MLBFGS_LOCAL_PAIRS),
            "β = 0.99 is set for noise: its averages span ~1/(1 − β) = 100 steps, so on this deterministic curved "
            "valley a pair mixes curvature from far-apart places; with a pair only every T = 20 steps it is still "
            "at L ≈ 0.8 after 300 steps and leaves the landscape at step 540. Without averaging (β = 0) and with a "
            "pair every 3 steps its pairs are the local curvature",
        ),
        "adamqlr": Start(reaches(0.1, "its step clip α_max = 0.1 limits each step along the valley")),
        "kfac": Start(NO_LAYERS),
        "yogi": Start(reaches(2.0, "steps of about α per coordinate: at α = 0.05 it is still on its way along the valley")),
        "adadelta": Start(
            reaches(2.0, "steps of about its running ratio √E[Δ²]/√E[g²] per coordinate along the curved floor"),
            ADADELTA_EPS,
            adadelta_slow("L is still 3.0"),
        ),
        "parabola": Start(
            reaches(1.5, "at α = 10⁻³ the floor is still being followed after 300 steps"),
            {"learning_rate": ROSENBROCK_LEARNING_RATE},
            too_steep("αλ < 2 (its first step is −αg, as gradient descent's)"),
        ),
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
        "yogi": Start(reaches(2e-3, "noise floor")),
        "adadelta": Start(reaches(2e-3, "noise floor"), ADADELTA_EPS, adadelta_slow("L − L* is still 0.15")),
        "parabola": Start(reaches(3e-3, "noise floor")),
    },
    # Beale, start (1, 1.5), L = 41.25: steep walls around a flat, curved valley; minimum L = 0 at (3, 0.5).
    "beale": {
        "gd": Start(reaches(0.02, BEALE_FLAT), {"learning_rate": 0.01}, leaves_at(2, BEALE_STEEP)),
        "momentum": Start(reaches(3e-4, BEALE_FLAT), {"learning_rate": 2.2e-3}, leaves_at(2, BEALE_STEEP)),
        "nesterov": Start(reaches(4e-4, BEALE_FLAT), {"learning_rate": 2.2e-3}, leaves_at(2, BEALE_STEEP)),
        "adam": Start(reaches(0.03, BEALE_FLAT)),
        "rmsprop": Start(reaches(0.03, BEALE_FLAT)),
        "adagrad": Start(reaches(0.01, BEALE_FLAT)),
        "newton": Start(
            newton_stuck("saddle", (0.0, 1.0), "from (1, 1.5), where H has a negative eigenvalue (−51.5), it lands on "
                         "the saddle (0, 1) on the plateau x = 0, L = 14.2")  # fmt: skip
        ),
        "saddle_free_newton": Start(
            CONVERGES,
            {"damping": 1.0},
            "at λ = 10⁻³ |H| + λI is nearly singular where an eigenvalue of H passes through zero: a step leaps "
            "along the plateau, L climbs to 34151 at step 6 and it leaves the landscape at step 16; λ = 1 keeps "
            "each step below ‖g‖/λ",
        ),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(CONVERGES),
        "mlbfgs": Start(CONVERGES, dict(MLBFGS_LOCAL_PAIRS), mlbfgs_set_for_noise("L is still 0.25 after 300 steps")),
        "adamqlr": Start(reaches(1e-3, BEALE_FLAT)),
        "kfac": Start(NO_LAYERS),
        "yogi": Start(reaches(0.03, BEALE_FLAT)),
        "adadelta": Start(reaches(0.2, BEALE_FLAT), ADADELTA_EPS, adadelta_slow("L is still 6.3")),
        "parabola": Start(CONVERGES, {"learning_rate": 0.01}, leaves_at(2, BEALE_STEEP)),
    },
    # Himmelblau, start (0, 0) next to the maximum, L = 170: four minima with L = 0; a run ends in one of them.
    "himmelblau": {
        "gd": Start(CONVERGES, {"learning_rate": 0.01}, leaves_at(4, HIMMELBLAU_STEEP)),
        "momentum": Start(CONVERGES, {"learning_rate": 0.01}, leaves_at(4, HIMMELBLAU_STEEP)),
        "nesterov": Start(CONVERGES, {"learning_rate": 0.01}, leaves_at(3, HIMMELBLAU_STEEP)),
        "adam": Start(CONVERGES),
        "rmsprop": Start(
            reaches(0.1, "steps of about α = 0.01 per coordinate: (3, 2) is 3 away in x, so it arrives only near step 300")
        ),
        "adagrad": Start(CONVERGES),
        "newton": Start(
            newton_stuck("maximum", (-0.2708, -0.9230), "at the start (0, 0) both eigenvalues of H are negative (−42 "
                         "and −26), so the model is a cap, and it climbs to the maximum (−0.27, −0.92), L = 181.6")  # fmt: skip
        ),
        "saddle_free_newton": Start(CONVERGES),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(CONVERGES),
        "mlbfgs": Start(CONVERGES, dict(MLBFGS_LOCAL_PAIRS), mlbfgs_set_for_noise("L is still 1.7 after 300 steps")),
        "adamqlr": Start(CONVERGES),
        "kfac": Start(NO_LAYERS),
        "yogi": Start(CONVERGES),
        "adadelta": Start(CONVERGES, ADADELTA_EPS, adadelta_slow("L is still 3.2")),
        "parabola": Start(CONVERGES, {"learning_rate": 0.01}, leaves_at(6, HIMMELBLAU_STEEP)),
    },
    # Rastrigin (A = 10), start (2.7, −1.6), L = 41.0: a local minimum in every ripple; the global one at 0.
    "rastrigin": {
        "gd": Start(IN_THE_RIPPLE, RIPPLE_STEP, RASTRIGIN_RIPPLES),
        "momentum": Start(IN_THE_RIPPLE, RIPPLE_STEP, RASTRIGIN_RIPPLES),
        "nesterov": Start(IN_THE_RIPPLE, RIPPLE_STEP, RASTRIGIN_RIPPLES),
        "adam": Start(IN_THE_RIPPLE),
        "rmsprop": Start(local_minimum(RASTRIGIN_MINIMUM, RASTRIGIN_LOSS, RASTRIGIN_BASIN + "; it jitters around it")),
        "adagrad": Start(IN_THE_RIPPLE),
        "newton": Start(
            newton_stuck("saddle", (-4.9747, -1.5076), "from the start, where both eigenvalues of H are negative, its "
                         "second step jumps 7 in x, and it stops on the saddle (−4.97, −1.51), L = 47.1")  # fmt: skip
        ),
        "saddle_free_newton": Start(
            IN_THE_RIPPLE,
            {"damping": 10.0},
            "at λ = 10⁻³ its steps are long where |H| is small, between ripples: it ends on the "
            "local minimum (2.98, 14.92), L = 233, outside the view",
        ),
        "damped_ggn": Start(
            local_minimum(
                (2.9849, 1.9899), RASTRIGIN_LOSS,
                "the Gauss–Newton model ignores the ripples' negative curvature, so its steps are long: it crosses to "
                "the ripple of (2.98, 1.99), the mirror image of the start's, as high",
            )
        ),  # fmt: skip
        "lbfgs": Start(
            IN_THE_RIPPLE,
            {"learning_rate": 0.1},
            "at α = 1 its steps cross ripples (the first, with no curvature pairs yet, is 1 long, a ripple's width) and "
            "it ends on the local minimum (2.98, 10.94), L = 129, outside the view",
        ),
        "mlbfgs": Start(
            IN_THE_RIPPLE,
            dict(MLBFGS_LOCAL_PAIRS),
            mlbfgs_set_for_noise("after 300 steps it is still circling the minimum, L = 13.3"),
        ),
        "adamqlr": Start(IN_THE_RIPPLE),
        "kfac": Start(NO_LAYERS),
        "yogi": Start(IN_THE_RIPPLE),
        "adadelta": Start(local_minimum(RASTRIGIN_MINIMUM, RASTRIGIN_LOSS, RASTRIGIN_BASIN + "; it is still closing in")),
        "parabola": Start(IN_THE_RIPPLE, RIPPLE_STEP, RASTRIGIN_RIPPLES),
    },
    # ½(1 − w₁w₂)², start (0.1, 0.05) near the saddle at the origin, L = 0.495: minima all along w₁w₂ = 1.
    "linear_net": {
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
        "yogi": Start(CONVERGES),
        "adadelta": Start(CONVERGES),
        "parabola": Start(CONVERGES),
    },
    # The reader's formula at its default: only Gauss–Newton reaches the minimum; the rest go down a valley.
    "custom": {
        "gd": Start(follows_valley(6.0, CUSTOM_VALLEY), {"learning_rate": 0.01}, custom_steep(4)),
        "momentum": Start(follows_valley(5.0, CUSTOM_VALLEY), {"learning_rate": 1e-3}, custom_steep(5)),
        "nesterov": Start(follows_valley(5.0, CUSTOM_VALLEY), {"learning_rate": 1e-3}, custom_steep(3)),
        "adam": Start(follows_valley(4.0, CUSTOM_VALLEY)),
        "rmsprop": Start(follows_valley(5.0, CUSTOM_VALLEY)),
        "adagrad": Start(follows_valley(5.0, CUSTOM_VALLEY)),
        "newton": Start(
            newton_stuck("saddle", (0.0, -5 / 3), "from the start it lands on the saddle (0, −5/3), L = 7.31")
        ),
        "saddle_free_newton": Start(
            follows_valley(3.0, CUSTOM_VALLEY),
            {"damping": 1.0},
            "at λ = 10⁻³ its steps along the flattening valley overshoot and grow: L climbs to 2033 and it leaves the "
            "landscape at step 10; λ = 1 keeps each step below ‖g‖/λ",
        ),
        "damped_ggn": Start(CONVERGES),
        "lbfgs": Start(follows_valley(3.0, CUSTOM_VALLEY + "; it leaves the landscape along it at step 39")),
        "mlbfgs": Start(
            follows_valley(3.0, CUSTOM_VALLEY),
            {**MLBFGS_LOCAL_PAIRS, "learning_rate": 0.1},
            mlbfgs_set_for_noise("its steps jump: L climbs to 1131 at step 40 and it leaves the landscape at step 80")
            + ", and at α = 0.1 it follows the valley",
        ),
        "adamqlr": Start(follows_valley(4.0, CUSTOM_VALLEY)),
        "kfac": Start(NO_LAYERS),
        "yogi": Start(follows_valley(4.0, CUSTOM_VALLEY)),
        "adadelta": Start(follows_valley(6.5, CUSTOM_VALLEY), ADADELTA_EPS, adadelta_slow("L is still 6.3")),
        "parabola": Start(follows_valley(5.0, CUSTOM_VALLEY), {"learning_rate": 1e-3}, custom_steep(11)),
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
