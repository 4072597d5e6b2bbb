"""The explorer's starting values (``optimizers.starting_values``): every optimizer on every
landscape does, from its starting values, what the table says it does; every value lies on the
sliders' grid; and the reasons given for the overrides hold (Rosenbrock's Hessian derived by hand).

One run per (landscape, optimizer) cell, cached: each cell compiles one program (a landscape
class and an optimizer structure), and the hint tests (``test_hints.py``) rerun those programs
with other hyperparameters, starts and landscape parameters, which are traced and compile nothing.
"""

from __future__ import annotations

import functools
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from landscapes import LANDSCAPES, get_landscape, hessian_at
from optimizers import OPTIMIZERS, get_optimizer, run_trajectories, run_trajectory
from optimizers.starting_values import (
    ADADELTA_EPS,
    CONVERGED,
    FAILURES,
    LOCAL_RADIUS,
    MLBFGS_LOCAL_PAIRS,
    RASTRIGIN_LOSS,
    RASTRIGIN_MINIMUM,
    SEEDS,
    STARTS,
    STEPS,
    starting_values,
    target,
)
from ui.controls import slider_grid

CELLS = [(landscape, optimizer) for landscape in LANDSCAPES for optimizer in OPTIMIZERS]


class Run:
    """A run (deterministic) or a batch of ``SEEDS`` runs (stochastic), seeds first, in float64."""

    def __init__(self, landscape, trajectory):
        batch = np.ndim(trajectory.diverged_step) == 1
        params = np.asarray(trajectory.params, np.float64)
        self.params = params if batch else params[None]
        self.loss = np.asarray(trajectory.loss, np.float64).reshape(len(self.params), -1)
        self.diverged_at = list(trajectory.diverged_at) if batch else [trajectory.diverged_at]
        lowest = landscape.minimum_loss
        self.excess = self.loss - lowest if np.isfinite(lowest) else self.loss  # L itself where L* = −∞

    @property
    def final(self) -> float:
        """The final L − L* (L where unbounded), mean over seeds: what the explorer's table shows."""
        return float(self.excess[:, -1].mean())

    @property
    def diverged(self) -> int:
        return sum(step is not None for step in self.diverged_at)


@functools.lru_cache(maxsize=None)
def run(
    landscape: str,
    optimizer: str,
    steps: int = STEPS,
    x0: tuple | None = None,
    landscape_parameters: tuple = (),
    **hyperparameters,
) -> Run:
    """``optimizer`` on ``landscape`` from its starting values, any of them replaced by ``hyperparameters``."""
    ls = get_landscape(landscape, **dict(landscape_parameters))
    method = get_optimizer(optimizer, **{**starting_values(landscape, optimizer), **hyperparameters})
    start = ls.default_start if x0 is None else np.asarray(x0, np.float32)
    if ls.is_stochastic:
        return Run(ls, run_trajectories(ls, method, start, np.arange(SEEDS), steps))
    return Run(ls, run_trajectory(ls, method, start, steps))


@pytest.fixture(scope="module", autouse=True)
def every_cell_run():
    """Every cell once, up front, one per core: compiling, most of the time here, runs outside the GIL.
    Each cell is its own program (a landscape class and an optimizer structure); everything else the tests
    run reuses one of them, with other hyperparameters, starts or landscape parameters (all traced)."""
    applicable = [cell for cell in CELLS if target(*cell).outcome != "not_applicable"]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(lambda cell: run(*cell), applicable))


def registry(optimizer: str) -> dict:
    return {name: spec.default for name, spec in OPTIMIZERS[optimizer].hyperparameters.items()}


def critical(landscape: str, kind: str) -> np.ndarray:
    return np.array([p.location for p in get_landscape(landscape).critical_points() if p.kind == kind])


def top_curvature(landscape: str, point) -> float:
    return float(np.linalg.eigvalsh(hessian_at(get_landscape(landscape), point))[-1])


# --- the table ----------------------------------------------------------------------
def test_the_table_covers_every_optimizer_on_every_landscape():
    assert list(STARTS) == list(LANDSCAPES)
    for landscape, row in STARTS.items():
        assert set(row) == set(OPTIMIZERS), landscape


@pytest.mark.parametrize("landscape, optimizer", CELLS)
def test_starting_values_are_the_defaults_overlaid_and_lie_on_the_slider_grid(landscape, optimizer):
    specs = OPTIMIZERS[optimizer].hyperparameters
    overrides = STARTS[landscape][optimizer].overrides
    assert set(overrides) <= set(specs), "overrides name hyperparameters the registry knows"
    values = starting_values(landscape, optimizer)
    assert values == {name: overrides.get(name, spec.default) for name, spec in specs.items()}
    for name, value in values.items():
        assert value in slider_grid(specs[name]), f"{name} = {value} is off the slider grid"
    get_optimizer(optimizer, **values)  # in range
    assert not overrides or STARTS[landscape][optimizer].why, "every override says why"


def test_unknown_names_raise_listing_the_choices():
    with pytest.raises(ValueError, match="rosenbrock"):
        starting_values("banana", "gd")
    with pytest.raises(ValueError, match="momentum"):
        starting_values("rosenbrock", "sgd")


def test_failures_are_stated_with_their_cause():
    for landscape, optimizer in CELLS:
        stated = target(landscape, optimizer)
        assert stated.fails_by_nature == (stated.outcome in FAILURES)
        if stated.fails_by_nature or stated.outcome in ("reaches", "local_minimum", "follows_valley"):
            assert stated.why, (landscape, optimizer)
        if stated.outcome == "local_minimum" or stated.outcome.startswith("stuck_at_"):
            kind = stated.outcome[len("stuck_at_"):] if stated.outcome.startswith("stuck_at_") else "minimum"
            assert stated.at is not None or len(critical(landscape, kind)) == 1, "which one it ends on"
        else:
            assert stated.at is None
    failing = {(l, o) for l, o in CELLS if target(l, o).fails_by_nature}
    assert failing == {
        ("pure_saddle", "damped_ggn"),
        ("pure_saddle", "adamqlr"),
        ("noisy_quadratic", "lbfgs"),
    } | {(landscape, "kfac") for landscape in LANDSCAPES} | {
        (landscape, "newton") for landscape in ("saddle", "pure_saddle", "beale", "himmelblau", "rastrigin", "linear_net", "custom")
    }  # fmt: skip


# --- every cell does what the table says -------------------------------------------------
@pytest.mark.parametrize("landscape, optimizer", CELLS)
def test_every_optimizer_meets_its_target_from_its_starting_values(landscape, optimizer):
    stated = target(landscape, optimizer)
    if stated.outcome == "not_applicable":
        with pytest.raises(ValueError, match="convex outer loss|has no layers"):
            run(landscape, optimizer)
        return
    ls = get_landscape(landscape)
    result = run(landscape, optimizer)
    end = result.params[:, -1]  # each seed's last point on the landscape
    if stated.outcome == "converges":
        assert result.diverged == 0
        assert result.final < CONVERGED
    elif stated.outcome == "reaches":
        assert result.diverged == 0
        assert result.final < stated.loss
        assert result.final > CONVERGED, "a run that converges should say so"
    elif stated.outcome == "local_minimum":
        assert np.min(np.linalg.norm(critical(landscape, "minimum") - stated.at, axis=-1)) < 1e-3, "a listed minimum"
        assert result.diverged == 0
        assert np.all(np.linalg.norm(end - stated.at, axis=-1) < LOCAL_RADIUS)
        assert result.final == pytest.approx(stated.loss, rel=0.01) and stated.loss > CONVERGED
    elif stated.outcome == "follows_valley":
        (x0, x1), (y0, y1) = ls.bounds
        assert np.all((end[:, 0] < x0) | (end[:, 0] > x1) | (end[:, 1] < y0) | (end[:, 1] > y1)), "out of the view"
        assert result.final < stated.loss  # leaving the landscape along the valley is allowed
    elif stated.outcome == "escapes":
        assert result.final < stated.loss  # leaving the landscape is allowed: L is unbounded below
    elif stated.outcome in ("stuck_at_saddle", "stuck_at_maximum"):
        points = critical(landscape, stated.outcome[len("stuck_at_"):])
        where = points[0] if stated.at is None else np.asarray(stated.at)
        assert np.min(np.linalg.norm(points - where, axis=-1)) < 1e-3, "a listed critical point of that kind"
        assert np.allclose(end, where, atol=1e-3)
        assert result.diverged == 0
    elif stated.outcome == "diverges":
        assert result.diverged >= 1
    else:
        raise AssertionError(f"unknown outcome {stated.outcome}")


# --- the reasons for the overrides --------------------------------------------------------
def rosenbrock_hessian(x, y, a=1.0, b=100.0):
    """∇² of (a − x)² + b(y − x²)², by hand."""
    return np.array([[2 - 4 * b * (y - x**2) + 8 * b * x**2, -4 * b * x], [-4 * b * x, 2 * b]])


def test_rosenbrock_curvature_at_the_start_and_the_minimum():
    rosenbrock = get_landscape("rosenbrock")
    start = rosenbrock.default_start
    assert np.allclose(hessian_at(rosenbrock, start), rosenbrock_hessian(*start), rtol=1e-5)
    top_at_start = np.linalg.eigvalsh(rosenbrock_hessian(*start))[-1]
    low_at_minimum, top_at_minimum = np.linalg.eigvalsh(rosenbrock_hessian(1.0, 1.0))
    assert round(top_at_start) == 1506 and round(top_at_minimum) == 1002 and round(low_at_minimum, 1) == 0.4
    assert round(0.1 * top_at_start) == 151  # the registry's α = 0.1
    assert round(2 / top_at_start, 4) == 0.0013 and round(2 / top_at_minimum, 4) == 0.0020
    assert round(3.8 / top_at_minimum, 4) == 0.0038  # heavy ball, β = 0.9
    assert round(3.8 / 2.8, 2) == 1.36  # Nesterov's (2 + 2β)/(1 + 2β) at β = 0.9
    assert 1e-3 * top_at_start < 2 and 1e-3 * top_at_minimum < 2, "the override keeps gradient descent stable"


LEAVES = [(l, o, int(m[1])) for l, o in CELLS if (m := re.match(r"α = 0.1 leaves the landscape at step (\d+)", STARTS[l][o].why))]


@pytest.mark.parametrize("landscape, optimizer, step", LEAVES)
def test_the_registry_learning_rate_leaves_the_landscape_at_the_step_stated(landscape, optimizer, step):
    registry_rate = OPTIMIZERS[optimizer].hyperparameters["learning_rate"].default
    assert registry_rate == 0.1
    assert run(landscape, optimizer, learning_rate=registry_rate).diverged_at == [step]
    assert len(LEAVES) == 4 * 4 and ("rosenbrock", "gd", 2) in LEAVES  # gd, heavy ball, Nesterov, parabola


def test_mlbfgs_defaults_set_for_noise_fail_on_rosenbrock():
    defaults = {name: spec.default for name, spec in OPTIMIZERS["mlbfgs"].hyperparameters.items()}
    assert (defaults["param_decay"], defaults["grad_decay"], defaults["pair_interval"]) == (0.99, 0.99, 20)
    assert round(1 / (1 - defaults["param_decay"])) == 100  # the averages' span in steps
    at_300 = run("rosenbrock", "mlbfgs", **defaults)
    assert at_300.diverged == 0 and 0.75 < at_300.final < 0.85  # "L ≈ 0.8 after 300 steps"
    assert run("rosenbrock", "mlbfgs", steps=600, **defaults).diverged_at == [540]


def test_adamqlr_on_rosenbrock_is_held_back_by_its_step_clip():
    clipped = run("rosenbrock", "adamqlr").final
    assert run("rosenbrock", "adamqlr", max_learning_rate=1.0).final < 1e-3 * clipped


def test_rmsprop_forgets_within_ten_steps():
    assert round(1 / (1 - OPTIMIZERS["rmsprop"].hyperparameters["decay"].default)) == 10


def test_newton_noise_floor_closed_form():
    """A minibatch's minimum c ~ N(θ*, σ²A⁻¹/B): ½(c − θ*)ᵀA(c − θ*) has mean σ²n/(2B)."""
    ls = get_landscape("noisy_quadratic")
    sigma, batch, n = float(ls.noise_scale), float(ls.batch_size), ls.dimension
    assert round(sigma**2 * n / (2 * batch), 4) == 0.0225


# --- the reasons on the new landscapes, and for the new optimizers -----------------------------------
def stated_number(text: str, pattern: str) -> float:
    """The number a reason states where ``pattern`` (a regular expression with one group) finds it."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} is not in {text!r}"
    return float(match.group(1))


ADADELTA_SLOW = [landscape for landscape in LANDSCAPES if STARTS[landscape]["adadelta"].overrides == ADADELTA_EPS]


@pytest.mark.parametrize("landscape", ADADELTA_SLOW)
def test_adadelta_at_the_registry_epsilon_crawls_as_stated(landscape):
    why = STARTS[landscape]["adadelta"].why
    stated = stated_number(why, r"is still (\d+\.\d+) after 300 steps")
    digits = len(str(stated).split(".")[1])
    default = run(landscape, "adadelta", **registry("adadelta"))
    assert default.diverged == 0 and round(default.final, digits) == stated


def test_adadeltas_first_step_is_the_root_of_epsilon_over_one_minus_rho():
    rho = registry("adadelta")["rho"]
    assert registry("adadelta")["eps"] == 1e-6 and ADADELTA_EPS == {"eps": 1e-4}
    assert round(math.sqrt(1e-6 / (1 - rho)), 3) == 0.003 and round(math.sqrt(1e-4 / (1 - rho)), 2) == 0.03
    for eps in (1e-6, 1e-4):  # every coordinate's first step, where (1 − ρ)g² ≫ ε
        first = np.abs(run("quadratic", "adadelta", eps=eps).params[0, 1] - get_landscape("quadratic").default_start)
        assert np.allclose(first, math.sqrt(eps / (1 - rho)), rtol=0.02)
    assert ADADELTA_SLOW == ["quadratic", "saddle", "rosenbrock", "noisy_quadratic", "beale", "himmelblau", "custom"]


MLBFGS_LOCAL = [
    (landscape, stated)
    for landscape in LANDSCAPES
    if landscape != "rosenbrock" and MLBFGS_LOCAL_PAIRS.items() <= STARTS[landscape]["mlbfgs"].overrides.items()
    for stated in [re.search(r"L (?:is still|=) (\d+\.\d+)", STARTS[landscape]["mlbfgs"].why)]
    if stated
]


@pytest.mark.parametrize("landscape, stated", MLBFGS_LOCAL)
def test_mlbfgs_defaults_set_for_noise_fall_short_on_deterministic_landscapes(landscape, stated):
    stated_loss = float(stated.group(1))
    default = run(landscape, "mlbfgs", **registry("mlbfgs"))
    assert default.diverged == 0 and round(default.final, len(stated.group(1).split(".")[1])) == stated_loss
    assert [landscape for landscape, _ in MLBFGS_LOCAL] == ["beale", "himmelblau", "rastrigin"]


def test_the_leaps_the_defaults_take_before_they_leave():
    """L's peak and its step, and the step a run leaves the landscape, as the reasons state them."""
    sfn_beale = run("beale", "saddle_free_newton", **registry("saddle_free_newton"))
    assert sfn_beale.diverged_at == [16] and round(sfn_beale.loss.max()) == 34151 and sfn_beale.loss.argmax() == 6
    sfn_custom = run("custom", "saddle_free_newton", **registry("saddle_free_newton"))
    assert sfn_custom.diverged_at == [10] and round(sfn_custom.loss.max()) == 2033
    mlbfgs_custom = run("custom", "mlbfgs", **registry("mlbfgs"))
    assert mlbfgs_custom.diverged_at == [80] and round(mlbfgs_custom.loss.max()) == 1131
    assert mlbfgs_custom.loss.argmax() == 40
    assert run("custom", "lbfgs").diverged_at == [39]  # along the valley: its target allows it
    assert "34151 at step 6" in STARTS["beale"]["saddle_free_newton"].why and "step 16" in STARTS["beale"]["saddle_free_newton"].why
    assert "2033" in STARTS["custom"]["saddle_free_newton"].why and "step 10" in STARTS["custom"]["saddle_free_newton"].why
    assert "1131 at step 40" in STARTS["custom"]["mlbfgs"].why and "step 80" in STARTS["custom"]["mlbfgs"].why
    assert "at step 39" in STARTS["custom"]["lbfgs"].target.why


def test_beale_steep_start_and_flat_minimum():
    start = get_landscape("beale").default_start
    assert round(top_curvature("beale", start), 1) == 281.5 and round(0.1 * top_curvature("beale", start)) == 28
    low, high = np.linalg.eigvalsh(hessian_at(get_landscape("beale"), [3.0, 0.5]))
    assert round(low, 2) == 0.30 and round(high) == 49
    assert round(float(np.linalg.eigvalsh(hessian_at(get_landscape("beale"), start))[0]), 1) == -51.5  # Newton's


def test_himmelblau_curvature_at_the_minimum_and_at_the_start():
    assert round(top_curvature("himmelblau", [3.0, 2.0]), 1) == 82.3
    assert round(0.1 * top_curvature("himmelblau", [3.0, 2.0]), 1) == 8.2
    assert 0.01 * top_curvature("himmelblau", [3.0, 2.0]) < 2, "the override is stable at (3, 2)"
    assert np.allclose(np.linalg.eigvalsh(hessian_at(get_landscape("himmelblau"), [0.0, 0.0])), [-42.0, -26.0])
    (maximum,) = critical("himmelblau", "maximum")
    assert round(float(get_landscape("himmelblau").loss(maximum.astype(np.float32))), 1) == 181.6


def test_rmsprop_walks_to_himmelblaus_minimum_at_alpha_per_coordinate():
    result = run("himmelblau", "rmsprop")
    steps = np.abs(np.diff(result.params[0, :201, 0]))
    assert np.median(steps) == pytest.approx(0.01, rel=0.05)  # α = 0.01 per coordinate
    assert result.excess[0, 200] > 1 and result.final < 0.1 and np.allclose(result.params[0, -1], [3, 2], atol=0.05)


def test_rastrigins_ripples_and_the_local_minimum_of_the_start():
    a = float(get_landscape("rastrigin").a)
    assert round(2 + 4 * math.pi**2 * a) == 397 and round(2 / 397, 4) == 0.0050
    curvatures = [top_curvature("rastrigin", p) for p in critical("rastrigin", "minimum")]
    assert 390 < min(curvatures) and max(curvatures) < 397.5 and 1e-3 * max(curvatures) < 2
    (here,) = [p for p in critical("rastrigin", "minimum") if np.linalg.norm(p - RASTRIGIN_MINIMUM) < 1e-3]
    assert round(float(get_landscape("rastrigin").loss(here.astype(np.float32))), 2) == RASTRIGIN_LOSS == 12.93
    for optimizer in ("gd", "momentum", "nesterov", "parabola"):  # α = 0.1 never settles in a ripple
        bouncing = run("rastrigin", optimizer, learning_rate=0.1).params[0, -1]
        assert np.min(np.linalg.norm(critical("rastrigin", "minimum") - bouncing, axis=-1)) > LOCAL_RADIUS, optimizer


def test_rastrigins_long_steps_end_far_away():
    sfn = run("rastrigin", "saddle_free_newton", **registry("saddle_free_newton"))
    assert np.allclose(sfn.params[0, -1], [2.9849, 14.9212], atol=1e-3) and round(sfn.final) == 233
    lbfgs = run("rastrigin", "lbfgs", **registry("lbfgs"))
    assert np.isclose(np.linalg.norm(lbfgs.params[0, 1] - lbfgs.params[0, 0]), 1.0, rtol=1e-4)  # its first step
    assert np.allclose(lbfgs.params[0, -1], [2.9849, 10.9434], atol=1e-3) and round(lbfgs.final) == 129
    newton = run("rastrigin", "newton")
    assert round(abs(newton.params[0, 2, 0] - newton.params[0, 1, 0])) == 7 and round(newton.final, 1) == 47.1
    assert np.all(np.linalg.eigvalsh(hessian_at(get_landscape("rastrigin"), get_landscape("rastrigin").default_start)) < 0)
    for optimizer, stated in (("saddle_free_newton", "(2.98, 14.92), L = 233"), ("lbfgs", "(2.98, 10.94), L = 129"),
                              ("newton", "jumps 7 in x")):  # fmt: skip
        assert stated in (STARTS["rastrigin"][optimizer].why or STARTS["rastrigin"][optimizer].target.why)


def test_newton_lands_where_the_table_says_with_the_loss_stated():
    for landscape, loss in (("beale", 14.2), ("himmelblau", 181.6), ("custom", 7.31)):
        assert f"L = {loss}" in target(landscape, "newton").why
        assert round(run(landscape, "newton").final, len(str(loss).split(".")[1])) == loss


def valley_floor(y):
    """min over x of the default formula (1.5 − x + xy)² + (2.25 − x + xy²)² at height y: least squares in x."""
    a, b = 1 - y, 1 - y**2
    return (1.5 * b - 2.25 * a) ** 2 / (a**2 + b**2)


def test_the_default_formulas_valley_falls_towards_two_and_a_quarter():
    ls = get_landscape("custom")
    assert ls.formula == "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2"
    ys = -np.geomspace(3.0, 1e4, 30)
    floor = valley_floor(ys)
    assert np.all(np.diff(floor) < 0) and np.all(floor > 2.25) and floor[-1] == pytest.approx(2.25, abs=1e-3)
    x_floor = (1.5 * (1 - ys) + 2.25 * (1 - ys**2)) / ((1 - ys) ** 2 + (1 - ys**2) ** 2)
    assert np.all(x_floor < 0) and abs(x_floor[-1]) < 1e-6 and x_floor[-1] * ys[-1] ** 2 == pytest.approx(-2.25, rel=1e-3)
    (_, _), (y_min, _) = ls.bounds
    assert round(top_curvature("custom", ls.default_start), 1) == 45.6
    for optimizer in OPTIMIZERS:
        if target("custom", optimizer).outcome == "follows_valley":
            result = run("custom", optimizer)
            assert np.all(result.params[:, -1, 1] < y_min) and np.all(result.excess[:, -1] > 2.25), optimizer
            assert np.all(result.excess[:, -1] >= valley_floor(result.params[:, -1, 1]) - 1e-4), optimizer
