"""Sweeps (``optimizers.sweeps``): one vmapped program gives the runs of K separate calls, and a new
set of values never compiles; the window of values each run sweeps; the sensitivity chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landscapes import get_landscape
from optimizers import OPTIMIZERS, get_optimizer, run_trajectories, run_trajectory
from optimizers.sweeps import NEAR, POINTS, default_swept, diverged_at, run_grid, run_sweep, sweep_window
from test_engine import count_compilations
from ui.controls import slider_grid

STEPS = 120


def separate_runs(landscape, optimizer, name, values, seeds):
    """Each value's runs as the app computes a run: ``run_trajectory`` (one seed) or ``run_trajectories``."""
    for value in values:
        method = optimizer.replace(**{name: value})
        if len(seeds) == 1:
            run = run_trajectory(landscape, method, steps=STEPS, seed=seeds[0])
            yield run.params[None], run.loss[None], run.grads[None], [run.diverged_at]
        else:
            run = run_trajectories(landscape, method, np.asarray(landscape.default_start, np.float32), seeds, STEPS)
            yield run.params, run.loss, run.grads, run.diverged_at


# The vmapped program is bit for bit the separate runs for these. (Under vmap XLA fuses some
# optimizers' arithmetic differently, contracting a·b + c into one rounding in one program and not
# in the other: Adam, Newton's solve and the Gauss–Newton's conjugate gradients differ from the
# separate runs in the last bit of float32, checked below to that precision.)
EXACT = [
    ("quadratic", "gd", {}, "learning_rate", [1e-3, 0.1, 1.0, 1.9, 2.2, 5.0]),  # 2/λ_max = 2: the last two diverge
    ("quadratic", "momentum", {}, "momentum", [0.0, 0.5, 0.9, 0.99]),
    ("rosenbrock", "lbfgs", {}, "learning_rate", [0.1, 0.5, 1.0, 2.0]),
    ("rosenbrock", "lbfgs", {}, "memory_size", [1, 3, 10]),  # a whole-number leaf, traced as int32
    ("quadratic", "gd", {"line_search": 2}, "learning_rate", [0.01, 1.0, 10.0]),
    ("noisy_quadratic", "mlbfgs", {}, "pair_interval", [1, 5, 20]),  # values × seeds
    ("noisy_quadratic", "momentum", {}, "learning_rate", [0.01, 0.1, 0.5]),
]
ROUNDING = [
    ("quadratic", "adam", {}, "learning_rate", [1e-3, 0.05, 0.3, 3.0]),
    ("noisy_quadratic", "adam", {}, "b2", [0.9, 0.99, 0.999]),
    ("quadratic", "newton", {}, "damping", [0.0, 0.1, 10.0]),
    ("rosenbrock", "damped_ggn", {"adaptive": True}, "damping", [1e-3, 1.0]),
]


@pytest.mark.parametrize("exact", [True, False])
def test_a_sweep_equals_separate_runs(exact):
    for landscape_name, name, options, swept, values in EXACT if exact else ROUNDING:
        landscape = get_landscape(landscape_name)
        optimizer = get_optimizer(name, **options)
        seeds = [3, 4, 5] if landscape.is_stochastic else [0]
        sweep = run_sweep(landscape, optimizer, swept, values, steps=STEPS, seeds=seeds)
        assert sweep.params.shape == (len(values), len(seeds), STEPS + 1, 2)
        for i, (params, loss, grads, diverged) in enumerate(separate_runs(landscape, optimizer, swept, values, seeds)):
            where = f"{name} {swept}={values[i]} on {landscape_name}"
            assert diverged_at(sweep)[i] == list(diverged), where
            if exact:
                np.testing.assert_array_equal(sweep.params[i], params, err_msg=where)
                np.testing.assert_array_equal(sweep.loss[i], loss, err_msg=where)
                np.testing.assert_array_equal(sweep.grads[i], grads, err_msg=where)
            else:
                np.testing.assert_allclose(sweep.params[i], params, rtol=1e-5, atol=1e-6, err_msg=where)
                np.testing.assert_allclose(sweep.loss[i], loss, rtol=1e-4, atol=1e-7, err_msg=where)
    if exact:
        assert diverged_at(run_sweep(get_landscape("quadratic"), get_optimizer("gd"), "learning_rate", [1.9, 2.2],
                                     steps=STEPS))[1] != [None]  # fmt: skip


def test_new_values_and_a_new_current_value_do_not_compile():
    landscape = get_landscape("noisy_quadratic")
    optimizer = get_optimizer("momentum", learning_rate=0.1)
    run_sweep(landscape, optimizer, "learning_rate", [0.01, 0.1], steps=300, seeds=[0, 1])  # compiles
    with count_compilations() as compilations:
        moved = [
            run_sweep(landscape, optimizer, "learning_rate", list(np.geomspace(1e-3, 1.0, POINTS)), steps=300, seeds=[0, 1]),
            run_sweep(landscape, optimizer.replace(momentum=0.5, learning_rate=0.3), "learning_rate", [0.2], steps=290,
                      seeds=[7, 8]),  # fmt: skip
            run_sweep(get_landscape("noisy_quadratic", condition_number=1e3, noise_scale=1.0), optimizer, "learning_rate",
                      [0.05, 0.5], steps=300, seeds=[0, 1]),  # fmt: skip
        ]
    assert compilations == []
    assert moved[0].params.shape[0] == POINTS and moved[1].params.shape == (1, 2, 291, 2)
    assert not np.allclose(moved[0].params[0], moved[0].params[-1])  # the values were really used


def test_a_bad_sweep_is_refused_with_a_reason():
    landscape, optimizer = get_landscape("quadratic"), get_optimizer("gd")
    with pytest.raises(ValueError, match="no hyperparameter 'momentum'"):
        run_sweep(landscape, optimizer, "momentum", [0.5])
    with pytest.raises(ValueError, match="learning_rate must lie in"):
        run_sweep(landscape, optimizer, "learning_rate", [0.1, 20.0])
    with pytest.raises(ValueError, match="1 to 25 values"):
        run_sweep(landscape, optimizer, "learning_rate", list(np.geomspace(0.01, 1, POINTS + 1)))
    with pytest.raises(ValueError, match="convex outer loss"):
        run_sweep(get_landscape("pure_saddle"), get_optimizer("damped_ggn"), "damping", [1.0])


def test_the_window_is_the_sliders_own_points_within_a_decade():
    rate = OPTIMIZERS["gd"].hyperparameters["learning_rate"]
    grid = slider_grid(rate)
    for current in (0.1, 0.05, 1e-5, 10.0, 0.0123):  # on the grid, at both ends, off the grid (a link's value)
        window = sweep_window(grid, current)
        assert current in window and len(window) <= POINTS and window == sorted(window)
        assert all(v in grid for v in window if v != current)
        assert min(window) >= current / 10 * (1 - 1e-9) and max(window) <= current * 10 * (1 + 1e-9)
        assert rate.low <= min(window) and max(window) <= rate.high
    assert len(sweep_window(grid, 0.1)) == POINTS and sweep_window(grid, 0.1)[::12] == [0.01, 0.1, 1.0]
    here = grid.index(0.1)
    assert {grid[here + k] for k in range(-NEAR, NEAR + 1)} <= set(sweep_window(grid, 0.1))  # a small move stays in it
    assert len(sweep_window(grid, 10.0)) == POINTS  # at the end of the range the other side takes the room
    damping = OPTIMIZERS["newton"].hyperparameters["damping"]
    undamped = sweep_window(slider_grid(damping), 0.0)  # no decades around 0: the whole range, thinned
    assert undamped[0] == 0.0 and undamped[-1] >= 1e3 and len(undamped) <= POINTS
    memory = OPTIMIZERS["lbfgs"].hyperparameters["memory_size"]
    assert all(isinstance(v, int) for v in sweep_window(slider_grid(memory), 10))


def test_a_run_sweeps_its_learning_rate_by_default():
    for name, info in OPTIMIZERS.items():
        swept = default_swept(list(info.hyperparameters))
        assert swept in info.hyperparameters, name
        assert swept == "learning_rate" or "learning_rate" not in info.hyperparameters, name
    assert default_swept(list(OPTIMIZERS["adamqlr"].hyperparameters)) == "max_learning_rate"  # AdamQLR's step clip


# --- the sensitivity chart -------------------------------------------------------------------------
def gd_sweep_view(values):
    from ui import plots
    from ui.runs import RunResult

    landscape = get_landscape("quadratic", condition_number=10.0)  # λ_max = 1: gradient descent is stable for α < 2
    sweep = run_sweep(landscape, get_optimizer("gd"), "learning_rate", values, steps=300)
    runs = [RunResult(sweep.params[i], sweep.loss[i], sweep.grads[i], tuple(d)) for i, d in enumerate(diverged_at(sweep))]
    return landscape, plots.sweep_view("learning_rate", values, runs, landscape, "#1f77b4")


def test_the_sensitivity_chart_marks_the_settings_that_diverged():
    from ui import plots

    values = [0.5, 1.0, 1.5, 1.9, 2.2, 3.0, 5.0]
    landscape, view = gd_sweep_view(values)
    assert [bool(d) for d in view.diverged] == [v > 2 for v in values]
    assert all(d.startswith("diverged at step") for d in view.diverged[4:])
    assert np.all(np.isfinite(view.final[:4])) and view.final[3] > view.final[1]  # α = 1.9 rings, α = 1 is fastest
    assert list(view.reached[:4] > 0) == [True] * 4 and list(view.reached[4:]) == [-1] * 3
    drawn = plots.Drawn("Gradient descent", "#1f77b4", None)
    figure = plots.sensitivity_figure([(drawn, view, 1)], landscape, x_title="learning rate α", log_x=True).to_dict()
    marked = [t for t in figure["data"] if t.get("name") == "diverged"]
    assert len(marked) == 1 and np.allclose(marked[0]["x"], [2.2, 3.0, 5.0])
    assert marked[0]["customdata"][0].startswith("diverged at step")
    line = next(t for t in figure["data"] if t.get("name") == "Gradient descent")
    assert np.all(np.isnan(np.asarray(line["y"])[4:])) and np.all(np.isfinite(np.asarray(line["y"])[:4]))  # no value drawn
    (band,) = figure["layout"]["shapes"]  # the diverged settings shaded, from halfway between 1.9 and 2.2 on
    assert np.sqrt(1.9 * 2.2) == pytest.approx(band["x0"]) and band["x1"] >= 5.0
    ring = next(t for t in figure["data"] if t.get("name") == "current")
    assert ring["x"] == [1.0]


def test_the_page_marks_a_diverging_learning_rate_in_its_sensitivity_chart():
    import page_checks

    at = page_checks.open_page("pages/explorer.py", {"condition_number": "10", "run1": "gd", "run1.learning_rate": "1",
                                                     "run2": "none", "run3": "none", "run4": "none"})  # fmt: skip
    specs = page_checks.check_page(at, charts=3, gaps=True)
    sensitivity = specs[-1]
    (marked,) = [t for t in sensitivity["data"] if t.get("name") == "diverged"]
    diverged = np.fromiter(page_checks.numbers_in(marked["x"]), float)
    window = sweep_window(slider_grid(OPTIMIZERS["gd"].hyperparameters["learning_rate"]), 1.0)
    assert list(diverged) == pytest.approx([v for v in window if v > 2])  # 2/λ_max = 2
    assert sensitivity["layout"]["shapes"], "the diverged settings are not shaded"


def test_a_run_can_sweep_another_hyperparameter_and_the_chart_follows_the_closed_form():
    """``run1.sweep=momentum``: heavy ball at α = 2.5 on a quadratic with λ_max = 1 is stable exactly when
    αλ < 2(1 + β), that is β > 0.25 (Polyak 1964; Goh 2017), so the settings below 0.25 diverge."""
    import page_checks

    at = page_checks.open_page("pages/explorer.py", {
        "condition_number": "10", "run1": "momentum", "run1.learning_rate": "2.5", "run1.momentum": "0.9",
        "run1.sweep": "momentum", "run2": "none", "run3": "none", "run4": "none"})  # fmt: skip
    specs = page_checks.check_page(at, charts=3, gaps=True)
    sensitivity = specs[-1]
    window = sweep_window(slider_grid(OPTIMIZERS["momentum"].hyperparameters["momentum"]), 0.9)
    line = next(t for t in sensitivity["data"] if t.get("name", "").startswith("Heavy-ball momentum"))
    assert list(np.fromiter(page_checks.numbers_in(line["x"]), float)) == pytest.approx(window)
    (marked,) = [t for t in sensitivity["data"] if t.get("name") == "diverged"]
    diverged = np.fromiter(page_checks.numbers_in(marked["x"]), float)
    assert list(diverged) == pytest.approx([b for b in window if b < 0.25]) and len(diverged) > 0
    label = OPTIMIZERS["momentum"].hyperparameters["momentum"].label
    assert label and label in json.dumps(sensitivity["layout"], ensure_ascii=False)  # the axis says what is swept
    assert any("sensitive" in h.value and "setting" in h.value for h in at.subheader)


def test_a_grid_equals_separate_runs_at_every_setting():
    """run_grid over momentum's (α, β) plane: each node is the run ``run_trajectory`` gives for it,
    exactly on the quadratic, and on the noisy quadratic's minibatches for the same seed."""
    axes = {"learning_rate": [0.1, 1.0, 2.5], "momentum": [0.0, 0.5, 0.9, 0.999]}  # α = 2.5, β = 0: diverges
    for landscape_name in ("quadratic", "noisy_quadratic"):
        landscape = get_landscape(landscape_name)
        optimizer = get_optimizer("momentum")
        grid = run_grid(landscape, optimizer, axes, steps=STEPS, seed=7)
        assert grid.params.shape == (3, 4, STEPS + 1, 2)
        for i, alpha in enumerate(axes["learning_rate"]):
            for j, beta in enumerate(axes["momentum"]):
                run = run_trajectory(landscape, optimizer.replace(learning_rate=alpha, momentum=beta), steps=STEPS, seed=7)
                where = f"α={alpha}, β={beta} on {landscape_name}"
                np.testing.assert_array_equal(grid.params[i, j], run.params, err_msg=where)
                np.testing.assert_array_equal(grid.loss[i, j], run.loss, err_msg=where)
                assert (None if grid.diverged_step[i, j] < 0 else int(grid.diverged_step[i, j])) == run.diverged_at, where
        assert grid.diverged_step[2, 0] >= 0, landscape_name  # α = 2.5 > 2/λ_max with β = 0


def test_a_new_grid_does_not_compile_and_a_bad_one_is_refused():
    landscape, optimizer = get_landscape("quadratic"), get_optimizer("momentum")
    run_grid(landscape, optimizer, {"learning_rate": [0.1, 0.2], "momentum": [0.0, 0.5]}, steps=STEPS)
    with count_compilations() as compiled:
        run_grid(landscape, optimizer, {"learning_rate": [0.3, 0.7, 1.1], "momentum": [0.2, 0.8]}, steps=STEPS)
    assert not compiled
    with pytest.raises(ValueError, match="no hyperparameter"):
        run_grid(landscape, optimizer, {"damping": [1.0]})
    with pytest.raises(ValueError, match="combinations"):
        run_grid(landscape, optimizer, {"learning_rate": [0.1] * 30, "momentum": [0.5] * 30})
    with pytest.raises(ValueError, match="whole number"):
        run_grid(landscape, get_optimizer("lbfgs"), {"memory_size": [1, 3]})
