"""The explorer's starting values (``optimizers.starting_values``): every optimizer on every
landscape does, from its starting values, what the table says it does; every value lies on the
sliders' grid; and the reasons given for the overrides hold (Rosenbrock's Hessian derived by hand).

One run per (landscape, optimizer) cell, cached: each cell compiles one program (a landscape
class and an optimizer structure), and the hint tests (``test_hints.py``) rerun those programs
with other hyperparameters, starts and landscape parameters, which are traced and compile nothing.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from landscapes import LANDSCAPES, get_landscape, hessian_at
from optimizers import OPTIMIZERS, get_optimizer, run_trajectories, run_trajectory
from optimizers.starting_values import CONVERGED, FAILURES, SEEDS, STARTS, STEPS, starting_values, target
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
    """Every cell once, up front, one per core: compiling, most of the time here, runs outside the GIL."""
    applicable = [cell for cell in CELLS if target(*cell).outcome != "not_applicable"]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(lambda cell: run(*cell), applicable))


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
        if stated.fails_by_nature or stated.outcome == "reaches":
            assert stated.why, (landscape, optimizer)
    failing = {(l, o) for l, o in CELLS if target(l, o).fails_by_nature}
    assert failing == {
        ("saddle", "newton"),
        ("pure_saddle", "newton"),
        ("pure_saddle", "damped_ggn"),
        ("pure_saddle", "adamqlr"),
        ("noisy_quadratic", "lbfgs"),
    } | {(landscape, "kfac") for landscape in LANDSCAPES}


# --- every cell does what the table says -------------------------------------------------
@pytest.mark.parametrize("landscape, optimizer", CELLS)
def test_every_optimizer_meets_its_target_from_its_starting_values(landscape, optimizer):
    stated = target(landscape, optimizer)
    if stated.outcome == "not_applicable":
        with pytest.raises(ValueError, match="convex outer loss|has no layers"):
            run(landscape, optimizer)
        return
    result = run(landscape, optimizer)
    if stated.outcome == "converges":
        assert result.diverged == 0
        assert result.final < CONVERGED
    elif stated.outcome == "reaches":
        assert result.diverged == 0
        assert result.final < stated.loss
        assert result.final > CONVERGED, "a run that converges should say so"
    elif stated.outcome == "escapes":
        assert result.final < stated.loss  # leaving the landscape is allowed: L is unbounded below
    elif stated.outcome == "stuck_at_saddle":
        (saddle,) = [p.location for p in get_landscape(landscape).critical_points() if p.kind == "saddle"]
        assert np.allclose(result.params[:, -1], saddle, atol=1e-3)
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


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov"])
def test_the_registry_learning_rate_leaves_rosenbrock_at_step_2(optimizer):
    registry_rate = OPTIMIZERS[optimizer].hyperparameters["learning_rate"].default
    assert registry_rate == 0.1
    assert run("rosenbrock", optimizer, learning_rate=registry_rate).diverged_at == [2]


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
