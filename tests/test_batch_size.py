"""The batch-size study (``scaleup.batch_size``): its lanes train as ``train`` does, its steps to target
agree with a NumPy loop of full-batch gradient descent on linear regression, Stop stops, and new grid
values reuse the compiled program. Tiny networks, few steps: seconds."""

import dataclasses
import math

import numpy as np
import pytest

from scaleup import load_task, make_optimizer, train
from scaleup.batch_size import (
    EXACT_UP_TO,
    RESOLUTION,
    CENTRES,
    Cell,
    Study,
    critical_batch,
    StudySpec,
    evaluation_steps,
    grid,
    iterate_study,
    markdown_table,
    run_study,
    scaling_slope,
    swept,
)
from scaleup.training import init_state
from test_engine import count_compilations

# --- lanes against separate runs -------------------------------------------------------------------
LANES = StudySpec(
    task="spirals", width=8, depth=1, batch_sizes=(32,), optimizers=("gd", "kfac"), seeds=(0, 1),
    grids=(("gd", (0.1, 0.5)), ("kfac", (0.3, 3.0))), target=1e-6, max_steps=20, chunk_steps=10,
)  # fmt: skip


@pytest.fixture(scope="module")
def spirals():
    return load_task("spirals", seed=0)


@pytest.fixture(scope="module")
def lanes_study(spirals):
    return run_study(LANES, spirals)


@pytest.mark.parametrize("name, setting", [("gd", "learning_rate"), ("kfac", "damping")])
def test_every_lane_trains_as_a_separate_run_with_its_seed_and_value(spirals, lanes_study, name, setting):
    """``train`` (its own compiled chunk, ``evaluate`` for the full loss) with the lane's seed and value."""
    cell = lanes_study.cell(32, name)
    assert cell.values == dict(LANES.grids)[name] and cell.swept == setting
    columns = [int(np.flatnonzero(cell.evaluated == t)[0]) for t in (10, 20)]
    for i, value in enumerate(cell.values):
        for j, seed in enumerate(LANES.seeds):
            run = train(LANES.model(spirals), spirals, make_optimizer(name, **{setting: value}), steps=20,
                        batch_size=32, chunk_steps=10, seed=seed)  # fmt: skip
            separate = [e["train_loss"] for e in run.evaluations[1:]]
            np.testing.assert_allclose(cell.losses[i, j, columns], separate, rtol=2e-5)
    assert not np.allclose(cell.losses[0, 0], cell.losses[1, 0], equal_nan=True)  # the values were really used
    assert not np.allclose(cell.losses[0, 0], cell.losses[0, 1], equal_nan=True)  # and the seeds


def test_a_target_nobody_reaches_is_reported_as_not_reached(lanes_study):
    for row in lanes_study.rows():
        assert not row["reached"] and row["steps_median"] is None and row["seeds_reached"] == 0
    assert "not reached in 20" in markdown_table(lanes_study)
    assert lanes_study.complete and scaling_slope(lanes_study, "gd") is None


# --- steps to target against a NumPy loop -----------------------------------------------------------
CROSSING = 121  # where the slow rate's loss passes the target: not an evaluated step (those go by 2 there)
LINEAR_RATES = (0.01, 0.1, 5.0)  # slow, fast, divergent (λ_max of the Hessian is about 1.09 here)


def numpy_losses(x, y, params, rate, steps):
    """½·mean squared error of full-batch gradient descent on a linear model, in float64: L(θ_0 … θ_steps)."""
    w, b = np.asarray(params[0]["w"], np.float64), np.asarray(params[0]["b"], np.float64)
    losses = []
    for _ in range(steps + 1):
        residual = x @ w + b - y
        losses.append(0.5 * np.mean(np.sum(residual**2, axis=1)))
        w, b = w - rate * x.T @ residual / len(x), b - rate * residual.mean(axis=0)
    return np.array(losses)


@pytest.fixture(scope="module")
def linear():
    """The teacher task with no hidden layer (a linear model), the NumPy losses of each rate, a target."""
    data = load_task("teacher", seed=0)
    spec = StudySpec(task="teacher", depth=0, batch_sizes=(0,), optimizers=("gd",), seeds=(0,),
                     grids=(("gd", LINEAR_RATES),), max_steps=400, chunk_steps=40)  # fmt: skip
    model = spec.model(data)
    assert model.sizes == (8, 1)
    start = init_state(model, make_optimizer("gd"), data.n_train, seed=0).params
    x, y = np.asarray(data.x_train, np.float64), np.asarray(data.y_train, np.float64)
    losses = {rate: numpy_losses(x, y, start, rate, 400) for rate in LINEAR_RATES[:2]}
    slow = losses[LINEAR_RATES[0]]
    # the slow rate crosses the target between steps 120 and 121, past the exact range
    target = float((slow[CROSSING - 1] + slow[CROSSING]) / 2)
    assert slow[CROSSING - 1] - slow[CROSSING] > 1e-3 * target  # far from float32's rounding
    return data, dataclasses.replace(spec, target=target), losses


def first_below(losses, target):
    return int(np.flatnonzero(losses[1:] <= target)[0]) + 1


def test_steps_to_target_of_full_batch_gradient_descent_match_a_numpy_loop(linear):
    data, spec, losses = linear
    cell = run_study(spec, data).cell(data.n_train, "gd")
    evaluated = evaluation_steps(spec.max_steps)
    fast = first_below(losses[LINEAR_RATES[1]], spec.target)
    assert fast < EXACT_UP_TO and cell.steps[1, 0] == fast  # every step is evaluated up to EXACT_UP_TO
    assert cell.diverged[2, 0] and math.isinf(cell.steps[2, 0])  # α = 5 > 2/λ_max
    row = cell.row()
    assert row["best_value"] == LINEAR_RATES[1] and row["steps_median"] == fast and row["reached"]
    assert not row["best_at_grid_edge"]  # the divergent rate lies beyond it
    # the cell ended after its first chunk: the slow rate (its crossing at 121) could no longer beat step `fast`
    assert cell.complete and cell.steps_run == spec.chunk_steps and math.isinf(cell.steps[0, 0])
    assert not cell.diverged[0, 0]
    # at the evaluated steps the full loss is the NumPy loss
    for i, rate in enumerate(LINEAR_RATES[:2]):
        seen = np.isfinite(cell.losses[i, 0])
        np.testing.assert_allclose(cell.losses[i, 0, seen], losses[rate][evaluated[seen]], rtol=1e-4)


def slow_only(spec):
    return dataclasses.replace(spec, grids=(("gd", LINEAR_RATES[:1]),))


def test_past_the_exact_range_the_count_is_the_first_evaluated_step_at_or_after_the_crossing(linear):
    data, spec, losses = linear
    cell = run_study(slow_only(spec), data).cell(data.n_train, "gd")
    evaluated = evaluation_steps(spec.max_steps)
    slow = first_below(losses[LINEAR_RATES[0]], spec.target)
    assert slow == CROSSING and slow not in evaluated
    assert cell.steps[0, 0] == evaluated[evaluated >= slow][0] == slow + 1 <= slow * (1 + RESOLUTION)
    assert cell.complete and cell.steps_run == 4 * spec.chunk_steps  # the chunk of steps 121–160, in which it got there


def test_stop_ends_the_study_after_the_chunk_it_is_asked_in(linear):
    data, spec, _ = linear
    asked = []
    study = run_study(dataclasses.replace(slow_only(spec), batch_sizes=(0, 0)), data,
                      stop=lambda p: asked.append(p) or True)  # fmt: skip
    assert len(asked) == 1 and study.stopped and not study.complete
    assert len(study.cells) == 1 and study.cells[0].steps_run == spec.chunk_steps and not study.cells[0].complete


def test_new_grid_values_reuse_the_compiled_study(linear):
    data, spec, losses = linear
    run_study(spec, data)  # compiled (earlier tests did it too when they ran first)
    moved = dataclasses.replace(spec, grids=(("gd", (0.07, 0.2, 4.0)),), target=spec.target * 1.01, seeds=(3,))
    with count_compilations() as compilations:
        study = run_study(moved, data)
    assert compilations == []
    assert study.cells[0].values == (0.07, 0.2, 4.0)
    assert study.cells[0].steps[1, 0] != first_below(losses[LINEAR_RATES[1]], spec.target)  # a new run


def test_progress_fractions_rise_to_one(linear):
    data, spec, _ = linear
    fractions = [p.fraction for p in iterate_study(dataclasses.replace(slow_only(spec), batch_sizes=(0, 0)), data)]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0) and 0 < fractions[0] < 0.5


# --- the protocol's pieces --------------------------------------------------------------------------
def test_evaluation_steps_every_step_then_two_percent_apart():
    steps = evaluation_steps(3000)
    np.testing.assert_array_equal(steps[:EXACT_UP_TO], np.arange(1, EXACT_UP_TO + 1))
    gaps = np.diff(steps[EXACT_UP_TO - 1 :])
    assert np.all(gaps >= 1) and np.all(gaps <= RESOLUTION * steps[EXACT_UP_TO - 1 : -1])
    assert steps[-1] == 3000 and len(steps) < 300
    np.testing.assert_array_equal(evaluation_steps(7), np.arange(1, 8))


def test_grid_is_half_decades_around_the_centre_clipped_to_the_range():
    np.testing.assert_allclose(grid("gd", 3, centre=1.0), [10**-0.5, 1.0, 10**0.5], rtol=1e-5)
    np.testing.assert_allclose(grid("adam", 4, centre=0.01), [0.001, 10**-2.5, 0.01, 10**-1.5], rtol=1e-5)
    assert grid("gd", 5, centre=3.0)[-1] == 10.0  # 30 clipped to the learning rate's maximum
    assert grid("gd", 7, centre=3.0).count(10.0) == 1  # and not repeated
    assert swept("kfac") == "damping" and grid("kfac", 1) == (CENTRES["kfac"],)  # K-FAC's grid: its initial damping
    assert all(swept(name) == "learning_rate" for name in ("gd", "momentum", "adam", "mlbfgs", "damped_ggn"))


def cell_with(steps, diverged=None):
    steps = np.asarray(steps, float)
    shape = steps.shape
    return Cell(64, "gd", "learning_rate", tuple(range(shape[0])), tuple(range(shape[1])), steps,
                np.zeros(shape, bool) if diverged is None else np.asarray(diverged), np.arange(1), np.zeros(shape + (1,)))  # fmt: skip


def test_median_over_seeds_counts_not_reached_as_infinite_and_ties_go_to_the_smaller_value():
    inf = math.inf
    cell = cell_with([[30, 10, inf], [20, 20, 25], [20, 20, 21]])
    np.testing.assert_array_equal(cell.medians, [30, 20, 20])
    assert cell.best == 1 and cell.median == 20 
    assert not cell.at_edge  # value 1 is inside the grid
    row = cell.row()
    assert (row["steps_fastest"], row["steps_slowest"], row["seeds_reached"]) == (20, 25, 3)
    even = cell_with([[10, inf]])
    assert math.isinf(even.median) and not even.reached and even.row()["steps_median"] is None


def test_the_critical_batch_is_the_last_within_twice_the_perfect_scaling_line():
    inf = math.inf
    medians = {8: 800, 32: 300, 128: 250, 512: 60}  # 300 ≤ 2·200; 250 > 2·50: saturated at 32, whatever comes later
    cells = [cell_with([[m]]) for m in medians.values()]
    for cell, batch in zip(cells, medians):
        cell.batch_size, cell.complete = batch, True
    study = Study(StudySpec(), 1438, 2.3, (64, 32, 10), cells)
    assert critical_batch(study, "gd") == (8, 32)
    assert math.isclose(scaling_slope(study, "gd"), np.polyfit(np.log(list(medians)), np.log(list(medians.values())), 1)[0])
    cells[0].steps[:] = inf  # not reached at 8: the line runs through batch 32
    assert critical_batch(study, "gd") == (32, 32)
    cells[1].steps[:] = inf
    assert critical_batch(study, "gd") == (128, 512)  # 60 ≤ 2·250/4
    cells[2].steps[:] = inf
    assert critical_batch(study, "gd") is None
