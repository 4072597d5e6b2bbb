"""Yogi, AdaDelta, Duda's parabola, learning-rate schedules and iterate averaging: against optax's own
implementations and schedules, closed forms on quadratics and hand-derived steps."""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from landscapes import get_landscape
from optimizers import (
    OPTIMIZERS,
    averaged_iterate,
    averaged_path,
    find_average,
    get_optimizer,
    learning_rates,
    run_trajectories,
    run_trajectory,
    scan_length,
    schedule_curve,
    theory,
    with_averaging,
    with_schedule,
)
from optimizers.schedules import SCHEDULES
from test_engine import count_compilations




def optax_path(landscape, transformation, x0, steps, seed):
    """The engine's samples (one key per step of the scan length), stepped by an optax transformation."""
    keys = jax.random.split(jax.random.key(seed), scan_length(steps) + 1)[:steps]

    def step(carry, key):
        theta, state = carry
        grad = jax.grad(landscape.sample_loss)(theta, landscape.sample(key))
        updates, state = transformation.update(grad, state, theta)
        theta = optax.apply_updates(theta, updates)
        return (theta, state), theta

    x0 = jnp.asarray(x0, jnp.float32)
    _, path = jax.jit(lambda x0, keys: jax.lax.scan(step, (x0, transformation.init(x0)), keys))(x0, keys)
    return np.concatenate([np.asarray(x0)[None], np.asarray(path)])


def eigen_error(ls, params):
    """Qᵀ(θ − θ*), in float64."""
    return (np.asarray(params, np.float64) - np.asarray(ls.minimum, np.float64)) @ np.asarray(ls.eigenvectors, np.float64)


def excess_loss(ls, params):
    """½ Σ λᵢ xᵢ², computed here rather than by the landscape."""
    return 0.5 * (eigen_error(ls, params) ** 2 @ np.asarray(ls.eigenvalues, np.float64))


# --- Yogi and AdaDelta against optax --------------------------------------------------------
STEPS = 150


@pytest.mark.parametrize(
    "name, settings, reference",
    [
        # optax.yogi starts both moments at 1e-6: so does ours (initial_accumulator_value)
        ("yogi", dict(learning_rate=0.05, b1=0.8, b2=0.99, eps=1e-3), lambda s: optax.yogi(s["learning_rate"], s["b1"], s["b2"], s["eps"])),
        # optax.adadelta without a learning rate climbs (+1 · step): give it ours
        ("adadelta", dict(learning_rate=2.0, rho=0.8, eps=1e-4), lambda s: optax.adadelta(s["learning_rate"], s["rho"], s["eps"])),
    ],
)
def test_matches_optax_step_by_step(name, settings, reference):
    """On the noisy quadratic the sampled g² falls above and below v, so Yogi's sign(v − g²) takes both values."""
    ls = get_landscape("noisy_quadratic", noise_scale=1.0)
    ours = run_trajectory(ls, get_optimizer(name, **settings), steps=STEPS, seed=7)
    theirs = optax_path(ls, reference(settings), ls.default_start, STEPS, seed=7)
    assert ours.diverged_at is None
    np.testing.assert_allclose(ours.params, theirs, rtol=2e-4, atol=2e-5)
    assert ours.loss[-1] < 0.05 * ours.loss[0]  # and it descends


def test_adadelta_first_step_is_the_square_root_of_eps_over_one_minus_rho_whatever_the_gradient():
    """Hand-derived: E[g²] = (1 − ρ)g², E[Δ²] = 0, so Δ = √ε / √((1 − ρ)g² + ε) · g ≈ √(ε/(1 − ρ)) sign(g)."""
    rho, eps = 0.9, 1e-6
    transformation = OPTIMIZERS["adadelta"].factory(learning_rate=1.0, rho=rho, eps=eps)
    for scale in (1.0, 100.0):
        g = jnp.array([scale, -2 * scale])
        step, _ = transformation.update(g, transformation.init(jnp.zeros(2)), jnp.zeros(2))
        expected = -np.sqrt(eps) / np.sqrt((1 - rho) * np.asarray(g) ** 2 + eps) * np.asarray(g)
        np.testing.assert_allclose(step, expected, rtol=1e-5)
        np.testing.assert_allclose(np.abs(step), np.sqrt(eps / (1 - rho)), rtol=1e-3)


# --- the parabola along the momentum ---------------------------------------------------------
PARABOLA_STEPS = 300  # one scan length for every run here: one compilation per landscape


def curvature(state, theta):
    return state.curvature


@pytest.mark.parametrize("direction", [0, 1])
def test_parabola_recovers_the_eigenvalue_along_an_eigenvector_and_jumps_to_the_minimum(direction):
    """Started on an eigen-axis, every gradient and so v̂ lie along qᵢ: the fit g = λ(θ − p) is exact,
    λ = λᵢ from the second step on, and with η = 1 that step lands on θ* (Newton along v̂)."""
    ls = get_landscape("quadratic", condition_number=10.0, angle=0.3)
    q, lam = np.asarray(ls.eigenvectors), np.asarray(ls.eigenvalues)
    x0 = np.asarray(ls.minimum) + 1.5 * q[:, direction]
    traj = run_trajectory(ls, get_optimizer("parabola", max_step=10.0), x0=x0, steps=PARABOLA_STEPS, observe=curvature)
    assert traj.observed[0] == 0.0  # step 1: no fit yet, a momentum step
    np.testing.assert_allclose(traj.observed[1:20], lam[direction], rtol=1e-4)
    np.testing.assert_allclose(traj.params[2:20], np.broadcast_to(ls.minimum, (18, 2)), atol=1e-5)
    # with the default step clip (1.0) the jump is cut to unit length, and the next step finishes it
    clipped = run_trajectory(ls, get_optimizer("parabola"), x0=x0, steps=PARABOLA_STEPS, observe=curvature)
    assert np.linalg.norm(clipped.params[2] - clipped.params[1]) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(clipped.params[3], ls.minimum, atol=1e-5)


def test_parabola_is_repelled_from_the_pure_saddle_doubling_its_distance_each_step():
    """½(x² − y²) from (0, 0.01), α = 0.1: step 1 is momentum, y₁ = 1.1·y₀; from step 2 the fit along
    v̂ = ŷ is exact, λ = −1 and p = 0, and η = 1 moves away from p by its distance: yₖ = 0.011·2^(k−1)
    until a step exceeds max_step = 1 (k ≤ 8). Gradient descent would be at 0.01·1.1⁸ = 0.021."""
    ls = get_landscape("pure_saddle")
    traj = run_trajectory(ls, get_optimizer("parabola", learning_rate=0.1), x0=np.array([0.0, 0.01]), steps=PARABOLA_STEPS, observe=curvature)
    k = np.arange(1, 9)
    np.testing.assert_allclose(traj.params[1:9, 1], 0.011 * 2.0 ** (k - 1), rtol=1e-4)
    np.testing.assert_array_equal(traj.params[:, 0], 0.0)
    np.testing.assert_allclose(traj.observed[1:8], -1.0, rtol=1e-4)
    assert traj.params[9, 1] == pytest.approx(traj.params[8, 1] + 1.0, rel=1e-5)  # clipped to max_step
    assert traj.loss[9] < -2.0


@pytest.mark.parametrize("x0", [(0.0, 0.01), (0.05, 0.01), (0.3, -1e-3)])
def test_parabola_leaves_the_bounded_saddle_for_a_minimum(x0):
    """x² + ¼(y² − 1)², saddle at 0 with curvature −1 along y: the fit sees λ < 0 and leaves for (0, ±1)."""
    ls = get_landscape("saddle")
    traj = run_trajectory(ls, get_optimizer("parabola"), x0=np.array(x0), steps=PARABOLA_STEPS, observe=curvature)
    assert traj.diverged_at is None
    np.testing.assert_allclose(np.abs(traj.params[-1]), [0.0, 1.0], atol=1e-5)
    assert traj.observed.min() < -0.5  # it fitted the negative curvature on the way


@pytest.mark.parametrize("angle", [0.0, 0.3, 0.7, -1.2, 2.5])
def test_parabola_converges_on_the_ill_conditioned_quadratic_where_momentum_crawls(angle):
    """κ = 100 from the default start, registry defaults (α = 0.1, β = 0.9): below 1e-8 by step 140 and
    below 1e-20 at step 300 (measured 107–136 and ≤ 6e-24); heavy ball with the same α, β is still
    above 1e-6 at step 300 (measured 2.5e-6 to 4.8e-5)."""
    ls = get_landscape("quadratic", condition_number=100.0, angle=angle)
    ours = run_trajectory(ls, get_optimizer("parabola"), steps=PARABOLA_STEPS, observe=curvature)
    heavy_ball = run_trajectory(ls, get_optimizer("momentum", learning_rate=0.1, momentum=0.9), steps=PARABOLA_STEPS)
    loss = excess_loss(ls, ours.params)
    assert ours.diverged_at is None and np.argmax(loss < 1e-8) <= 140 and loss[-1] < 1e-20
    assert excess_loss(ls, heavy_ball.params)[-1] > 1e-6


# --- schedules -------------------------------------------------------------------------------
OPTAX_SCHEDULES = {
    "constant": [({}, lambda: optax.constant_schedule(1.0))],
    "exponential": [
        (dict(decay_rate=0.3, transition_steps=50, end_value=0.05), lambda: optax.exponential_decay(1.0, 50, 0.3, end_value=0.05)),
        (dict(decay_rate=0.9, transition_steps=7), lambda: optax.exponential_decay(1.0, 7, 0.9)),
    ],
    "cosine": [
        (dict(decay_steps=250, alpha=0.1), lambda: optax.cosine_decay_schedule(1.0, 250, alpha=0.1)),
        (dict(decay_steps=33), lambda: optax.cosine_decay_schedule(1.0, 33)),
    ],
    "warmup_cosine": [
        (dict(init_value=0.1, warmup_steps=40, decay_steps=300, end_value=0.02), lambda: optax.warmup_cosine_decay_schedule(0.1, 1.0, 40, 300, 0.02)),
        (dict(warmup_steps=1, decay_steps=2), lambda: optax.warmup_cosine_decay_schedule(0.0, 1.0, 1, 2)),
    ],
    "piecewise_constant": [
        (dict(boundary_1=100, boundary_2=250, scale=0.3), lambda: optax.piecewise_constant_schedule(1.0, {100: 0.3, 250: 0.3})),
        (dict(boundary_1=5, boundary_2=5), lambda: optax.piecewise_constant_schedule(1.0, {5: 0.01})),
    ],
    "polynomial": [
        (dict(transition_steps=200, power=2.0, end_value=0.1), lambda: optax.polynomial_schedule(1.0, 0.1, 2.0, 200)),
        (dict(transition_steps=60, power=0.5), lambda: optax.polynomial_schedule(1.0, 0.0, 0.5, 60)),
    ],
}


def test_every_schedule_is_tested():
    assert set(OPTAX_SCHEDULES) == set(SCHEDULES)


@pytest.mark.parametrize("kind", list(OPTAX_SCHEDULES))
def test_schedules_give_optaxs_values(kind):
    counts = np.arange(400)
    for params, reference in OPTAX_SCHEDULES[kind]:
        expected = np.broadcast_to(np.asarray(reference()(jnp.asarray(counts))), counts.shape)
        np.testing.assert_allclose(schedule_curve(kind, 400, **params), expected, atol=3e-7)


@pytest.mark.parametrize(
    "kind, params, factor",
    [
        ("cosine", dict(decay_steps=60), lambda k: 0.5 * (1 + np.cos(np.pi * min(k, 60) / 60))),
        ("piecewise_constant", dict(boundary_1=20, boundary_2=40, scale=0.5), lambda k: 0.5 ** ((k >= 20) + (k >= 40))),
    ],
)
def test_scheduled_gd_is_gd_with_the_scheduled_step(kind, params, factor):
    """xᵢ ← (1 − α s(k) λᵢ) xᵢ, the step k + 1 using s(k): hand-written s, float64."""
    ls = get_landscape("quadratic", condition_number=10.0, angle=0.3)
    alpha, steps = 1.5, 80
    opt = with_schedule(get_optimizer("gd", learning_rate=alpha), kind, **params)
    traj = run_trajectory(ls, opt, steps=steps)
    lam = np.asarray(ls.eigenvalues, np.float64)
    x = [eigen_error(ls, ls.default_start)]
    for k in range(steps):
        x.append((1 - alpha * factor(k) * lam) * x[-1])
    np.testing.assert_allclose(eigen_error(ls, traj.params), np.array(x), atol=2e-6)
    np.testing.assert_allclose(learning_rates(opt, steps), [alpha * factor(k) for k in range(steps)], atol=1e-6)


def test_scheduled_adam_takes_optaxs_steps_with_the_same_schedule():
    ls = get_landscape("noisy_quadratic", noise_scale=0.5)
    alpha = 0.2
    ours = with_schedule(get_optimizer("adam", learning_rate=alpha), "warmup_cosine", init_value=0.1, warmup_steps=20, decay_steps=120, end_value=0.05)
    schedule = optax.warmup_cosine_decay_schedule(0.1 * alpha, alpha, 20, 120, 0.05 * alpha)
    traj = run_trajectory(ls, ours, steps=STEPS, seed=3)
    np.testing.assert_allclose(traj.params, optax_path(ls, optax.adam(schedule), ls.default_start, STEPS, 3), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: with_schedule(get_optimizer("gd"), "linear"), "choose one of: constant, exponential"),
        (lambda: with_schedule(get_optimizer("gd"), "cosine", steps=10), "allowed: decay_steps, alpha"),
        (lambda: with_schedule(get_optimizer("gd"), "warmup_cosine", warmup_steps=300, decay_steps=300), "warmup_steps"),
        (lambda: with_schedule(get_optimizer("gd"), "piecewise_constant", boundary_1=50, boundary_2=10), "boundary_1"),
        (lambda: with_schedule(get_optimizer("gd"), "exponential", decay_rate=0.0), r"decay_rate must lie in"),
        (lambda: with_averaging(get_optimizer("gd"), "median"), "choose one of: polyak, ema"),
    ],
)
def test_bad_schedules_and_averages_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- iterate averaging -----------------------------------------------------------------------
SIGMA, BATCH, ALPHA = 1.0, 1, 0.5


AVERAGED_STEPS, SEEDS = 1000, 64


def noisy_runs(kind, steps=AVERAGED_STEPS, seeds=SEEDS, **params):
    """GD with a constant step on the noisy quadratic (κ = 10), started at the minimum, batched over seeds
    (one compiled program per kind: ``start`` and ``decay`` are leaves)."""
    ls = get_landscape("noisy_quadratic", condition_number=10.0, angle=0.4, noise_scale=SIGMA, batch_size=BATCH)
    opt = with_averaging(get_optimizer("gd", learning_rate=ALPHA), kind, **params)
    runs = run_trajectories(ls, opt, np.asarray(ls.quadratic.minimum), np.arange(seeds), steps=steps, observe=averaged_iterate)
    assert all(step is None for step in runs.diverged_at)
    return ls, runs


def test_polyak_average_is_the_mean_of_the_path_and_its_start_option_starts_it_later():
    _, runs = noisy_runs("polyak")
    _, late = noisy_runs("polyak", start=50)
    np.testing.assert_array_equal(late.params, runs.params)  # the iterates are the optimizer's own
    for seed in (0, 1):
        path = runs.params[seed].astype(np.float64)
        means = np.cumsum(path, axis=0) / np.arange(1, len(path) + 1)[:, None]
        np.testing.assert_allclose(averaged_path(runs)[seed], means, atol=2e-6)
        averaged = averaged_path(late)[seed]
        np.testing.assert_allclose(averaged[:51], path[:51], atol=1e-7)
        np.testing.assert_allclose(averaged[50:], np.cumsum(path[50:], axis=0) / np.arange(1, len(path) - 49)[:, None], atol=2e-6)


def test_averages_end_far_below_gds_noise_floor_as_the_closed_forms_say():
    """Per eigen-direction xₖ₊₁ = ρxₖ − αξₖ, ρ = 1 − αλ, Var ξ = σ²λ/B, x₀ = 0 (derived here):
    the iterate's floor is ½λ·α²(σ²λ/B)/(1 − ρ²) = αλσ²/(2B(2 − αλ)) (theory.gd_noise_floor);
    the mean of θ₀ … θ_N is −α/(N+1) Σₘ ξₘ (1 − ρ^(N−m))/(1 − ρ), so its variance is a finite sum;
    the stationary moving average y = (1 − β) Σⱼ βʲ x₋ⱼ has Var y = Var x · (1 − β)/(1 + β) · (1 + βρ)/(1 − βρ).
    α = 0.5, σ = 1, B = 1, λ = (0.1, 1), 1000 steps, 64 seeds: floor 0.1795 (measured 0.1796), Polyak
    average at step 1000 9.8e-4 (measured 9.2e-4; σ²n/(2BN) = 1e-3), EMA with β = 0.99 4.58e-3 (measured 4.52e-3)."""
    steps, beta = AVERAGED_STEPS, 0.99
    ls, polyak = noisy_runs("polyak")
    _, ema = noisy_runs("ema", decay=beta)
    q = ls.quadratic
    lam = np.asarray(q.eigenvalues, np.float64)
    rho, noise = 1 - ALPHA * lam, SIGMA**2 * lam / BATCH

    floor = theory.gd_noise_floor(lam, ALPHA, SIGMA, BATCH).sum()
    assert floor == pytest.approx((0.5 * lam * ALPHA**2 * noise / (1 - rho**2)).sum(), rel=1e-12)
    measured_floor = excess_loss(q, polyak.params[:, 200:]).mean()
    assert measured_floor == pytest.approx(floor, rel=0.1)

    m = np.arange(steps)[:, None]
    var_mean = ALPHA**2 * noise / (steps + 1) ** 2 * (((1 - rho ** (steps - m)) / (1 - rho)) ** 2).sum(axis=0)
    polyak_expected = (0.5 * lam * var_mean).sum()
    polyak_measured = excess_loss(q, averaged_path(polyak)[:, -1]).mean()
    assert polyak_measured == pytest.approx(polyak_expected, rel=0.3)
    assert polyak_measured < floor / 50

    var_x = ALPHA**2 * noise / (1 - rho**2)
    ema_expected = (0.5 * lam * var_x * (1 - beta) / (1 + beta) * (1 + beta * rho) / (1 - beta * rho)).sum()
    ema_measured = excess_loss(q, averaged_path(ema)[:, 500:]).mean()  # β⁵⁰⁰ < 0.007: stationary
    assert ema_measured == pytest.approx(ema_expected, rel=0.2)
    assert ema_measured < floor / 20
    np.testing.assert_array_equal(ema.params, polyak.params)  # averaging never changes the run


# --- composition and compilation -------------------------------------------------------------
def test_new_values_do_not_recompile():
    """Every number is a leaf: the optimizer's hyperparameters, the schedule's and the average's."""
    ls = get_landscape("noisy_quadratic", noise_scale=1.0)

    def nested(lr, beta, warmup, decay, start):
        scheduled = with_schedule(get_optimizer("parabola", learning_rate=lr, decay=beta), "warmup_cosine", warmup_steps=warmup, decay_steps=decay)
        return with_averaging(scheduled, "ema", decay=0.9, start=start)

    runs = [
        (get_optimizer("yogi"), get_optimizer("yogi", learning_rate=0.01, b2=0.9, initial_accumulator_value=1e-3)),
        (get_optimizer("adadelta"), get_optimizer("adadelta", learning_rate=0.3, rho=0.5)),
        (nested(0.1, 0.9, 20, 100, 0), nested(0.02, 0.5, 7, 300, 30)),
    ]
    for first, _ in runs:
        run_trajectory(ls, first, steps=STEPS, seed=7, observe=averaged_iterate if hasattr(first, "kind") else None)
    with count_compilations() as compilations:
        moved = [
            (run_trajectory(ls, a, steps=STEPS, observe=averaged_iterate if hasattr(a, "kind") else None),
             run_trajectory(ls, b, steps=140, observe=averaged_iterate if hasattr(b, "kind") else None))
            for a, b in runs
        ]
    assert compilations == []
    for a, b in moved:
        assert not np.allclose(a.params[:141], b.params)
    replaced = runs[2][0].replace(decay=0.5, learning_rate=0.02)  # the EMA's decay and the parabola's α
    assert replaced.params["decay"] == 0.5 and replaced.optimizer.optimizer.hyperparams["learning_rate"] == 0.02
    assert replaced.optimizer.optimizer.hyperparams["decay"] == 0.9  # the parabola's own decay is kept


def test_wrappers_pass_through_what_the_optimizer_needs_and_the_state_holds_the_average():
    opt = with_averaging(with_schedule(get_optimizer("newton"), "cosine", decay_steps=10), "polyak")
    assert opt.needs == frozenset({"hvp"}) and opt.name == "newton"
    assert opt.title == "Newton, cosine decay, Polyak–Ruppert average"
    state = opt.init({"w": jnp.ones(3)})
    np.testing.assert_array_equal(find_average(state)["w"], np.ones(3))
    assert find_average(get_optimizer("adam").init(jnp.ones(2))) is None
