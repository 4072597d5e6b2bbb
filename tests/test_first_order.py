"""First-order optimizers against optax's own, and against Goh's closed forms on quadratics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from landscapes import LANDSCAPES, get_landscape
from optimizers import get_optimizer, run_trajectory, scan_length

STEPS = 150
# learning-rate scale that keeps every landscape's run bounded for STEPS steps
SCALE = {"quadratic": 1.0, "saddle": 0.3, "pure_saddle": 0.02, "rosenbrock": 0.002, "noisy_quadratic": 1.0}

CASES = {
    "gd": (dict(learning_rate=0.5), lambda s: optax.sgd(s["learning_rate"])),
    "momentum": (
        dict(learning_rate=0.3, momentum=0.8),
        lambda s: optax.sgd(s["learning_rate"], momentum=s["momentum"]),
    ),
    "nesterov": (
        dict(learning_rate=0.3, momentum=0.8),
        lambda s: optax.sgd(s["learning_rate"], momentum=s["momentum"], nesterov=True),
    ),
    "adam": (dict(learning_rate=0.05, b1=0.8, b2=0.99), lambda s: optax.adam(s["learning_rate"], s["b1"], s["b2"])),
    "rmsprop": (dict(learning_rate=0.02, decay=0.9), lambda s: optax.rmsprop(s["learning_rate"], decay=s["decay"])),
    "adagrad": (dict(learning_rate=0.3), lambda s: optax.adagrad(s["learning_rate"])),
}


def optax_trajectory(landscape, transformation, x0, steps, seed):
    """The same samples as the engine draws, stepped by optax."""
    keys = jax.random.split(jax.random.key(seed), scan_length(steps) + 1)
    theta, state = jnp.asarray(x0, jnp.float32), transformation.init(jnp.asarray(x0, jnp.float32))
    path = [theta]
    for k in range(steps):
        grad = jax.grad(landscape.sample_loss)(theta, landscape.sample(keys[k]))
        updates, state = transformation.update(grad, state, theta)
        theta = optax.apply_updates(theta, updates)
        path.append(theta)
    return np.asarray(path)


@pytest.mark.parametrize("landscape_name", [name for name in LANDSCAPES if name in SCALE])  # those with a scale set
@pytest.mark.parametrize("name", list(CASES))
def test_matches_optax(name, landscape_name):
    settings, reference = CASES[name]
    settings = dict(settings, learning_rate=settings["learning_rate"] * SCALE[landscape_name])
    ls = get_landscape(landscape_name)
    ours = run_trajectory(ls, get_optimizer(name, **settings), steps=STEPS, seed=7)
    assert ours.diverged_at is None
    theirs = optax_trajectory(ls, reference(settings), ls.default_start, STEPS, seed=7)
    np.testing.assert_allclose(ours.params, theirs, rtol=2e-4, atol=2e-5)


def random_quadratic(seed):
    rng = np.random.default_rng(seed)
    kappa, angle = 10 ** rng.uniform(0.5, 3), rng.uniform(-np.pi, np.pi)
    return get_landscape("quadratic", condition_number=kappa, angle=angle), kappa


def eigen_error(ls, params):
    """x = Qᵀ(θ − θ*): the error in the Hessian's eigenbasis, computed independently of the engine."""
    q = np.asarray(ls.eigenvectors, np.float64)
    return (np.asarray(params, np.float64) - np.asarray(ls.minimum)) @ q


@pytest.mark.parametrize("seed", range(4))
def test_gd_follows_the_closed_form(seed):
    """xᵢᵏ = (1 − αλᵢ)ᵏ xᵢ⁰."""
    ls, _ = random_quadratic(seed)
    alpha, steps = 1.3, 60
    traj = run_trajectory(ls, get_optimizer("gd", learning_rate=alpha), steps=steps)
    x = eigen_error(ls, traj.params)
    lam = np.asarray(ls.eigenvalues, np.float64)
    predicted = x[0] * (1 - alpha * lam) ** np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(x, predicted, atol=2e-5)


@pytest.mark.parametrize("seed", range(4))
def test_momentum_follows_the_closed_form(seed):
    """(zᵢ, xᵢ) is multiplied each step by R = [[β, λᵢ], [−αβ, 1 − αλᵢ]] (Goh 2017, derived anew)."""
    ls, _ = random_quadratic(seed)
    alpha, beta, steps = 0.9, 0.7, 60
    traj = run_trajectory(ls, get_optimizer("momentum", learning_rate=alpha, momentum=beta), steps=steps)
    x = eigen_error(ls, traj.params)
    for i, lam in enumerate(np.asarray(ls.eigenvalues, np.float64)):
        r = np.array([[beta, lam], [-alpha * beta, 1 - alpha * lam]])
        predicted = [(np.linalg.matrix_power(r, k) @ [0.0, x[0, i]])[1] for k in range(steps + 1)]
        np.testing.assert_allclose(x[:, i], predicted, atol=2e-5)


def measured_rate(ls, optimizer, steps=400):
    traj = run_trajectory(ls, optimizer, x0=np.array([1.0, 1.0]), steps=steps)
    norms = np.linalg.norm(eigen_error(ls, traj.params), axis=1)
    half = steps // 2
    return (norms[steps] / norms[half]) ** (1 / (steps - half))


def test_optimal_gd_step_gives_the_predicted_rate():
    """α = 2/(λ₁+λₙ) gives (κ−1)/(κ+1)."""
    kappa = 50.0
    ls = get_landscape("quadratic", condition_number=kappa, angle=0.7)
    alpha = 2 / (1 / kappa + 1)
    rate = measured_rate(ls, get_optimizer("gd", learning_rate=alpha))
    assert rate == pytest.approx((kappa - 1) / (kappa + 1), rel=2e-3)


def test_optimal_momentum_gives_the_predicted_rate():
    """α = (2/(√λ₁+√λₙ))², β = ((√κ−1)/(√κ+1))² give (√κ−1)/(√κ+1)."""
    kappa = 50.0
    ls = get_landscape("quadratic", condition_number=kappa, angle=0.7)
    alpha = (2 / (np.sqrt(1 / kappa) + 1)) ** 2
    root = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    rate = measured_rate(ls, get_optimizer("momentum", learning_rate=alpha, momentum=root**2), steps=300)
    # critically damped modes decay like k·rᵏ: over 150 steps that adds at most (300/150)^(1/150) ≈ 1.005
    assert root <= rate <= root * 1.01


def test_d2l_example_crawls_diverges_and_momentum_rescues():
    """d2l.ai: L = 0.1x₁² + 2x₂², i.e. eigenvalues 0.2 and 4 = 4·(1/20, 1); our quadratic with κ = 20 and α scaled by 4."""
    ls = get_landscape("quadratic", condition_number=20.0)
    crawl = run_trajectory(ls, get_optimizer("gd", learning_rate=0.4 * 4), steps=20)
    blow = run_trajectory(ls, get_optimizer("gd", learning_rate=0.6 * 4), steps=200)
    rescued = run_trajectory(ls, get_optimizer("momentum", learning_rate=0.6 * 4, momentum=0.5), steps=200)
    assert crawl.diverged_at is None and abs(float(crawl.params[-1, 0])) > 0.3  # still far along x₁
    assert blow.diverged_at is not None
    assert rescued.diverged_at is None and float(rescued.loss[-1]) < 1e-6


@pytest.mark.parametrize("seed", range(2))
def test_nesterov_iterates_are_sutskevers_look_ahead_points(seed):
    """Bengio et al. (2013): the stored θ is ϑ + βv, with Sutskever et al.'s (2013)
    v ← βv − α∇L(ϑ + βv), ϑ ← ϑ + v, here run in float64 on the quadratic's exact gradient."""
    ls, _ = random_quadratic(seed)
    alpha, beta, steps = 0.5, 0.8, 60
    traj = run_trajectory(ls, get_optimizer("nesterov", learning_rate=alpha, momentum=beta), steps=steps)
    a, minimum = np.asarray(ls.hessian, np.float64), np.asarray(ls.minimum, np.float64)
    point, velocity, look_ahead = np.asarray(ls.default_start, np.float64), np.zeros(2), []
    for _ in range(steps + 1):
        look_ahead.append(point + beta * velocity)
        velocity = beta * velocity - alpha * a @ (point + beta * velocity - minimum)
        point = point + velocity
    np.testing.assert_allclose(traj.params, np.array(look_ahead), atol=2e-5)
