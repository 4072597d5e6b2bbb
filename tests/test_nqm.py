"""The noisy quadratic model's exact expected loss (optimizers.nqm) against independent references:
GD's closed form (optimizers.theory), a direct NumPy simulation of minibatch SGD, and Monte-Carlo runs
of the app's own engine and optimizers on the same quadratic with the same noise; then the batch-size
findings of Zhang et al. (NeurIPS 2019) the Eigenspace page states."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import NoisyQuadratic, quadratic_from_spectrum
from optimizers import averaged_iterate, averaged_path, get_optimizer, nqm, run_trajectories, theory
from optimizers import with_averaging, with_schedule
from test_engine import count_compilations

KAPPA, DIMENSION, TARGET = 1000.0, 100, 0.01  # the page's defaults: target 1 % of the starting loss
LEVELS = 10  # the small checks' step grid, up to 2¹³ steps (one compiled program per structure)


# --- the recurrence against independent references ------------------------------------------------
@pytest.mark.parametrize("alpha, batch", [(1.0, 4.0), (0.05, 1.0), (1.9, 64.0)])
def test_gd_recurrence_is_thetas_closed_form(alpha, batch):
    """SGD (γ = 0, β = 0, no average) is theory's E[Lₖ] = Σ (1 − αhᵢ)^{2k} ℓᵢ(0) + fᵢ(1 − (1 − αhᵢ)^{2k}),
    with noise σ² = 1 (C = H) and every coordinate starting at 1."""
    h = nqm.spectrum(50.0, 12)
    expected = theory.gd_expected_excess_loss(h, np.ones_like(h), alpha, 1.0, batch, 300)
    np.testing.assert_allclose(nqm.expected_loss_by_steps(h, 0.0, alpha, 0.0, batch, 300), expected, rtol=1e-10)


def test_recurrence_matches_a_direct_numpy_simulation_of_minibatch_sgd():
    """Independent of the second-moment algebra: many runs of θ ← θ − α(Hθ + ξ), ξ ~ N(0, H/B), drawn
    with NumPy; the sample mean of L lies within 4 standard errors of the recurrence at every checkpoint."""
    rng = np.random.default_rng(0)
    h = nqm.spectrum(20.0, 6)
    alpha, batch, runs, steps = 0.4, 2.0, 20000, 60
    theta = np.ones((runs, h.size))
    losses = [0.5 * (h * theta**2).sum(axis=1)]
    for _ in range(steps):
        theta = theta - alpha * (h * theta + rng.standard_normal(theta.shape) * np.sqrt(h / batch))
        losses.append(0.5 * (h * theta**2).sum(axis=1))
    losses = np.array(losses)
    expected = nqm.expected_loss_by_steps(h, 0.0, alpha, 0.0, batch, steps)
    error = losses.std(axis=1) / np.sqrt(runs)
    checks = [1, 5, 20, 60]
    assert np.all(np.abs(losses.mean(axis=1)[checks] - expected[checks]) <= 4 * error[checks])


def test_the_step_grid_holds_the_step_by_step_losses():
    """The doubling evaluation (maps composed and squared) equals iterating one step at a time."""
    h = nqm.spectrum(100.0, 20)
    cases = [(0.0, 0.3, 0.0, 0.0, 1.0), (0.0, 0.3, 0.9, 0.0, 1.0), (0.5, 0.1, 0.5, 0.9, 1.0), (1.0, 0.2, 0.0, 0.0, 4.0),
             (0.5, 0.1, 0.8, 0.95, 3.0)]  # fmt: skip
    for gamma, alpha, beta, rho, decay in cases:
        curves = nqm.loss_curves(h, gamma, [alpha], [beta], average=rho, decay=decay, levels=LEVELS)
        grid = curves.loss(7.0)[0]
        if decay > 1:  # each grid length T is its own run: α for T/2 steps, then α/decay
            reference = [nqm.expected_loss_by_steps(h, gamma, alpha, beta, 7.0, t, rho, decay, t // 2)[-1]
                         for t in curves.steps[:50]]  # fmt: skip
            np.testing.assert_allclose(grid[:50], reference, rtol=1e-10)
        else:
            reference = nqm.expected_loss_by_steps(h, gamma, alpha, beta, 7.0, int(curves.steps[-1]), rho)
            np.testing.assert_allclose(grid, reference[curves.steps], rtol=1e-10)


def test_the_step_grid():
    steps = nqm.step_grid(4)
    np.testing.assert_array_equal(steps[:32], np.arange(1, 33))
    np.testing.assert_array_equal(steps[32:48], np.arange(34, 65, 2))
    np.testing.assert_array_equal(steps[48:], np.arange(68, 129, 4))
    grid = nqm.step_grid()
    spacing = np.diff(grid) / grid[:-1]
    assert spacing[grid[:-1] >= 32].max() <= 1 / 16 and grid[-1] == 2**24


# --- Monte Carlo with the app's engine on the same noisy quadratic ------------------------------------
H = nqm.spectrum(30.0, 6)
QUADRATIC = quadratic_from_spectrum(H, seed=None)  # axis-aligned: θ is the eigenbasis coordinate x
SEEDS = 4096


def test_the_landscapes_noise_is_zhangs_c_equals_h_over_b():
    """NoisyQuadratic with σ = 1: a minibatch gradient at any θ is Hθ + ξ with Cov ξ = H/B."""
    landscape = NoisyQuadratic(QUADRATIC, 1.0, 8.0)
    theta = jnp.linspace(-1.0, 1.0, H.size)
    grad = jax.vmap(lambda key: jax.grad(landscape.sample_loss)(theta, landscape.sample(key)))
    samples = np.asarray(grad(jax.random.split(jax.random.key(1), 40000)), np.float64)
    noise = samples - H * np.asarray(theta, np.float64)
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=5 * np.sqrt(H / 8 / 40000).max())
    np.testing.assert_allclose(np.cov(noise.T), np.diag(H / 8.0), atol=0.03 * H.max() / 8)


def monte_carlo(optimizer, batch, steps, averaged=False):
    """The engine's runs from θ₀ = 1, vmapped over seeds: E[L] per step and its standard error."""
    landscape = NoisyQuadratic(QUADRATIC, 1.0, float(batch))
    observe = averaged_iterate if averaged else None
    runs = run_trajectories(landscape, optimizer, np.ones(H.size), np.arange(SEEDS), steps, observe=observe)
    assert all(step is None for step in runs.diverged_at)
    path = averaged_path(runs) if averaged else runs.params
    loss = 0.5 * (H * np.asarray(path, np.float64) ** 2).sum(axis=-1)
    return loss.mean(axis=0), loss.std(axis=0) / np.sqrt(SEEDS)


CASES = {  # the app's optimizer → the recurrence's (γ, α, β, ρ, decay)
    "gd": (lambda: get_optimizer("gd", learning_rate=0.5), (0.0, 0.5, 0.0, 0.0, 1.0), False),
    "momentum": (lambda: get_optimizer("momentum", learning_rate=0.2, momentum=0.8), (0.0, 0.2, 0.8, 0.0, 1.0), False),
    "newton": (lambda: get_optimizer("newton", learning_rate=0.3, damping=0.0), (1.0, 0.3, 0.0, 0.0, 1.0), False),
    "gd_ema": (lambda: with_averaging(get_optimizer("gd", learning_rate=0.5), "ema", decay=0.9),
               (0.0, 0.5, 0.0, 0.9, 1.0), True),
    "momentum_step_decay": (
        lambda: with_schedule(get_optimizer("momentum", learning_rate=0.2, momentum=0.8), "piecewise_constant",
                              boundary_1=40, boundary_2=100_000, scale=0.25),
        (0.0, 0.2, 0.8, 0.0, 4.0), False),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_recurrence_matches_monte_carlo_runs_of_the_engine(case):
    """4096 seeds of the app's optimizer (γ = 1 is Newton: P = H⁻¹ exactly on a quadratic). At every
    checkpoint the seeds' mean loss lies within 4 standard errors of the recurrence, while the noise's
    share of the expected loss is over 8 standard errors (the test would see a wrong noise term)."""
    make, (gamma, alpha, beta, rho, decay), averaged = CASES[case]
    batch, steps = 4.0, 80
    mean, error = monte_carlo(make(), batch, steps, averaged)
    decay_at = 40 if decay > 1 else None
    expected = nqm.expected_loss_by_steps(H, gamma, alpha, beta, batch, steps, rho, decay, decay_at)
    noiseless = nqm.expected_loss_by_steps(H, gamma, alpha, beta, np.inf, steps, rho, decay, decay_at)
    checks = np.array([2, 10, 30, 50, 80])
    z = np.abs(mean[checks] - expected[checks]) / error[checks]
    assert z.max() <= 4.0, z
    assert np.min((expected - noiseless)[checks[1:]] / error[checks[1:]]) > 8


# --- steps to the target ------------------------------------------------------------------------------
def first_crossing_on_grid(losses, target, grid):
    """The first step with E[L] ≤ target, rounded up to the step grid."""
    first = int(np.argmax(np.asarray(losses) <= target))
    return grid[np.searchsorted(grid, first)]


@pytest.mark.parametrize("gamma, alpha, beta, rho", [(0.0, 0.5, 0.0, 0.0), (0.0, 0.2, 0.9, 0.0), (0.5, 0.3, 0.5, 0.9)])
def test_first_below_is_the_first_step_under_the_target_rounded_to_the_grid(gamma, alpha, beta, rho):
    h = nqm.spectrum(100.0, 10)
    target = 0.05 * nqm.initial_loss(h)
    curves = nqm.loss_curves(h, gamma, [alpha], [beta], average=rho, levels=LEVELS)
    found = nqm.first_below(curves, target, [64.0, 1024.0])[0]
    assert np.isfinite(found).all() and found[0] >= found[1] > 16
    for batch, steps in zip((64.0, 1024.0), found):
        losses = nqm.expected_loss_by_steps(h, gamma, alpha, beta, batch, int(curves.steps[-1]), rho)
        assert steps == first_crossing_on_grid(losses, target, curves.steps)


def test_with_decay_the_steps_are_the_shortest_run_that_ends_below_the_target():
    h = nqm.spectrum(100.0, 10)
    target = 0.02 * nqm.initial_loss(h)
    curves = nqm.loss_curves(h, 0.0, [0.5], [0.0], decay=10.0, levels=LEVELS)
    steps = nqm.first_below(curves, target, [4.0])[0, 0]
    for length in curves.steps:  # each length's run from the start, until one ends at the target
        if nqm.expected_loss_by_steps(h, 0.0, 0.5, 0.0, 4.0, int(length), 0.0, 10.0, int(length) // 2)[-1] <= target:
            break
    assert steps == length > 32


def test_unstable_settings_never_count():
    h = nqm.spectrum(10.0, 4)
    assert nqm.stable(h, 0.0, 1.99, 0.0) and not nqm.stable(h, 0.0, 2.01, 0.0)
    assert nqm.stable(h, 0.0, 3.9, 0.99) and not nqm.stable(h, 0.0, 4.0, 0.99)
    curves = nqm.loss_curves(h, 0.0, [2.01], [0.0], levels=LEVELS)
    assert np.isinf(nqm.first_below(curves, 1e9, [1.0])).all()


def test_critical_batch_size_of_the_mccandlish_form():
    """S(B) = S_min(1 + B_noise/B) on a fine grid: twice the perfect-scaling line from B₀ = 1 at
    B = B_noise + 2 (solve (B + B_noise)/(1 + B_noise) = 2)."""
    batch = 2.0 ** np.arange(0, 16, 0.25)
    for noise_scale in (30.0, 500.0):
        steps = 1000.0 * (1 + noise_scale / batch)
        assert nqm.critical_batch_size(batch, steps) == pytest.approx(noise_scale + 2, rel=0.02)
    assert nqm.critical_batch_size(batch, 1000.0 / batch) is None  # perfect scaling throughout


# --- Zhang et al.'s findings, at the page's defaults ------------------------------------------------------
@pytest.fixture(scope="module")
def studies():
    h = nqm.spectrum(KAPPA, DIMENSION)
    target = TARGET * nqm.initial_loss(h)
    return {name: nqm.study(h, method, target)[0] for name, method in nqm.METHODS.items()}


def test_perfect_scaling_at_small_batches(studies):
    """Doubling B from 1 to 16 halves every method's steps: each doubling multiplies them by 0.42 … 0.58
    (the grids of α and of steps are coarser than that), and 1 → 16 by 1/16 within 15 %."""
    for name, found in studies.items():
        ratios = found.steps[1:5] / found.steps[:4]
        assert np.all((0.42 <= ratios) & (ratios <= 0.58)), (name, ratios)
        assert found.steps[4] * 16 / found.steps[0] == pytest.approx(1.0, abs=0.15), name


def test_momentum_gains_nothing_at_small_batches_and_extends_perfect_scaling(studies):
    """At B ≤ 4 heavy ball's best steps are within 10 % of SGD's; its critical batch size is over 10 times SGD's,
    and at the largest batches it needs under a tenth of SGD's steps."""
    sgd, heavy = studies["sgd"], studies["momentum"]
    np.testing.assert_allclose(heavy.steps[:3] / sgd.steps[:3], 1.0, atol=0.1)
    assert heavy.critical_batch_size > 10 * sgd.critical_batch_size
    assert heavy.steps[-1] < 0.1 * sgd.steps[-1]


def test_critical_batch_size_grows_with_the_preconditioning_power(studies):
    """γ = 0, ½, 1: each critical batch size is over 5 times the last; preconditioning is already about
    5 times faster at B = 1 (a constant factor in the perfect-scaling region, not a coincidence)."""
    critical = [studies[name].critical_batch_size for name in ("sgd", "adam", "kfac")]
    assert critical[1] > 5 * critical[0] and critical[2] > 5 * critical[1], critical
    assert 4 < studies["sgd"].steps[0] / studies["adam"].steps[0] < 7
    assert 4 < studies["sgd"].steps[0] / studies["kfac"].steps[0] < 7


def test_saturation_and_the_best_learning_rate_scaling(studies):
    """Past the critical batch size the steps stop falling (the last four batch sizes within 10 %), and in the
    perfect-scaling region SGD's best α grows with B."""
    for name, found in studies.items():
        tail = found.steps[-4:]
        assert tail.max() <= 1.1 * tail.min(), (name, tail)
    sgd = studies["sgd"]
    assert np.all(np.diff(sgd.learning_rate[:6]) > 0), sgd.learning_rate[:6]


def test_averaging_and_decay_help_at_small_batches_and_cost_at_large_ones():
    """SGD with an EMA of the iterates (ρ = 0.99) or a ten-fold step decay at half-way needs under half the
    steps at B = 1, and more steps than plain SGD at the largest batch."""
    h = nqm.spectrum(KAPPA, DIMENSION)
    target = TARGET * nqm.initial_loss(h)
    plain = nqm.study(h, nqm.METHODS["sgd"], target)[0]
    for options in (dict(average=0.99), dict(decay=10.0)):
        varied = nqm.study(h, nqm.METHODS["sgd"], target, **options)[0]
        assert varied.steps[0] < 0.5 * plain.steps[0], options
        assert varied.steps[-1] > plain.steps[-1], options


def test_new_kappa_target_and_options_values_do_not_recompile():
    h = nqm.spectrum(KAPPA, DIMENSION)
    nqm.study(h, nqm.METHODS["adam"], 0.01, average=0.9, decay=3.0)
    with count_compilations() as compilations:
        other = nqm.spectrum(300.0, 90)  # n pads to the same 128 coordinates (a multiple of 64)
        nqm.study(other, nqm.METHODS["kfac"], 0.05, average=0.5, decay=7.0)
    assert compilations == []
