"""Statistics over seeds (``optimizers.seeds``) on small batches built by hand, with the answers worked out here."""

import numpy as np
import pytest

from optimizers.seeds import excess_loss, frozen_seeds, mean_over_running, running_mask, seed_statistics


def moving_params(seeds: int, length: int) -> np.ndarray:
    """Paths that move by 0.1 every step (never frozen)."""
    steps = np.arange(length, dtype=float)[None, :, None] * 0.1
    return np.broadcast_to(steps, (seeds, length, 2)) + np.arange(seeds)[:, None, None]


def test_a_diverged_seed_leaves_the_mean_at_the_step_it_diverged():
    # Seed 1 diverges at step 2: the engine keeps its last good point, whose loss (0.001) would
    # pull the mean down from step 2 on if it were counted.
    loss = np.array([[4.0, 2.0, 1.0, 0.5], [4.0, 3.0, 0.001, 0.001]])
    stats = seed_statistics(loss, moving_params(2, 4), [None, 2])
    np.testing.assert_allclose(stats.mean, [4.0, 2.5, 1.0, 0.5])
    np.testing.assert_array_equal(stats.running, [2, 2, 1, 1])
    assert stats.first_divergence == 2
    np.testing.assert_array_equal(stats.diverged, [False, True])
    assert stats.final_excess == pytest.approx(0.5)  # seed 0 alone, not (0.5 + 0.001)/2
    assert stats.converging == 1


def test_the_band_is_the_10_and_90_percentiles_of_the_running_seeds():
    # Eleven seeds with final losses 0, 1, …, 10: the 10th and 90th percentiles are 1 and 9.
    # Then seed 10 (the highest) diverges at the last step: 0 … 9 remain, percentiles 0.9 and 8.1
    # (linear interpolation between order statistics: position 0.1·9 = 0.9 and 0.9·9 = 8.1).
    values = np.arange(11, dtype=float)
    loss = np.stack([values, values], axis=1)
    stats = seed_statistics(loss, moving_params(11, 2), [None] * 10 + [1])
    np.testing.assert_allclose([stats.low[0], stats.high[0]], [1.0, 9.0])
    np.testing.assert_allclose([stats.low[1], stats.high[1]], [0.9, 8.1])
    np.testing.assert_allclose(stats.mean, [5.0, 4.5])


def test_a_seed_that_stops_moving_without_diverging_froze():
    length = 30
    params = moving_params(3, length).copy()
    params[1, 15:] = params[1, 15]  # seed 1 stops at step 15
    params[2, -5:] = params[2, -5]  # seed 2 stops only 4 steps before the end: too recent to tell
    loss = np.ones((3, length))
    loss[1] = 1e-3  # a stalled seed's loss is not a converged one's
    stats = seed_statistics(loss, params, [None, None, None])
    np.testing.assert_array_equal(stats.frozen, [False, True, False])
    assert not stats.diverged.any()
    assert stats.final_excess == pytest.approx(1.0)  # seeds 0 and 2
    np.testing.assert_allclose(stats.mean[-1], (1 + 1e-3 + 1) / 3)  # a frozen seed is still running


def test_freezing_is_a_move_below_one_millionth_over_the_last_ten_steps():
    params = np.zeros((3, 12, 2))
    params[0, -11, 0] = 0.9e-6  # within 1e-6 of the end eleven points back: frozen
    params[1, -11, 0] = 1.1e-6  # just outside
    params[2, -12, 0] = 1.0  # outside, but twelve points back: not among the last ten steps
    np.testing.assert_array_equal(frozen_seeds(params, [None] * 3), [True, False, True])
    assert not frozen_seeds(params[:, :10], [None] * 3).any()  # nine steps: too short to tell


def test_a_seed_frozen_by_diverging_counts_as_diverged_only():
    params = np.zeros((1, 20, 2))
    params[0, :5, 0] = np.arange(5)  # moves, then the engine holds it from step 5
    stats = seed_statistics(np.ones((1, 20)), params, [5])
    assert stats.diverged[0] and not stats.frozen[0]


def test_when_every_seed_failed_nothing_is_left_to_average():
    params = moving_params(2, 12).copy()
    params[1] = 0.0  # frozen from the start
    stats = seed_statistics(np.ones((2, 12)), params, [3, None])
    assert stats.final_excess is None and stats.converging == 0
    assert np.isnan(stats.mean[3:]).sum() == 0  # seed 1 still runs: the curve goes on
    everyone = seed_statistics(np.ones((2, 12)), moving_params(2, 12), [3, 5])
    assert np.all(np.isnan(everyone.mean[5:])) and np.all(np.isnan(everyone.low[5:]))
    np.testing.assert_array_equal(everyone.running[[0, 3, 4, 5]], [2, 1, 1, 0])


def test_excess_loss_is_measured_from_the_minimum_and_is_the_loss_without_one():
    np.testing.assert_allclose(excess_loss([1.5, 0.9999999], 1.0), [0.5, 0.0])
    np.testing.assert_allclose(excess_loss([-3.0, 2.0], -np.inf), [-3.0, 2.0])
    stats = seed_statistics(np.array([[3.0, 2.0]]), moving_params(1, 2), [None], minimum_loss=1.0)
    np.testing.assert_allclose(stats.mean, [2.0, 1.0])


def test_the_mean_path_leaves_out_diverged_seeds():
    params = np.array([[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [[4.0, 0.0], [9.0, 9.0], [9.0, 9.0]]])
    np.testing.assert_allclose(mean_over_running(params, [None, 1]), [[2.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(running_mask([None, 1, 0], 3), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
