"""Landscapes against hand-derived facts: critical points, least-squares forms, noise statistics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import LANDSCAPES, classify, get_landscape, quadratic_from_spectrum

NAMES = list(LANDSCAPES)


@pytest.mark.parametrize("name", NAMES)
def test_critical_points_are_stationary_and_of_the_stated_type(name):
    """In float64, at the locations as listed: rounded to float32, Rastrigin's (|θ| ≈ 5, curvature ≈ 400) have
    gradients of 4·10⁻⁵. A point listed as a minimum on a curve of minima (``minimum_set``: the linear net's
    w₁w₂ = 1) has a singular Hessian, flat along the curve, which ``classify`` calls a saddle: it is checked
    to be positive semi-definite with one zero eigenvalue, and L there to be L*."""
    ls = get_landscape(name)
    points = ls.critical_points()
    at_each = jax.jit(jax.vmap(lambda t: (jax.grad(ls.loss)(t), jax.hessian(ls.loss)(t), ls.loss(t))))
    with jax.enable_x64(True):
        results = at_each(jnp.asarray(np.array([p.location for p in points]), jnp.float64))
    for point, gradient, hessian, value in zip(points, *(np.asarray(r) for r in results)):
        assert np.allclose(gradient, 0.0, atol=1e-5)
        if point.kind == "minimum" and getattr(ls, "minimum_set", None):
            low, high = np.linalg.eigvalsh(hessian)
            assert abs(low) <= 1e-9 * high and value == pytest.approx(ls.minimum_loss, abs=1e-12)
        else:
            assert classify(hessian) == point.kind


def test_quadratic_hessian_is_the_rotated_spectrum():
    kappa, angle = 100.0, 0.3
    ls = get_landscape("quadratic", condition_number=kappa, angle=angle)
    c, s = np.cos(angle), np.sin(angle)
    q = np.array([[c, -s], [s, c]])
    expected = q @ np.diag([1 / kappa, 1.0]) @ q.T
    assert np.allclose(jax.hessian(ls.loss)(jnp.array([0.3, -0.7])), expected, atol=1e-6)


def test_saddle_and_rosenbrock_closed_forms():
    saddle, rosen = get_landscape("saddle"), get_landscape("rosenbrock", a=1.0, b=100.0)
    x, y = 0.7, -0.4
    assert np.isclose(saddle.loss(jnp.array([x, y])), x**2 + 0.25 * (y**2 - 1) ** 2)
    assert np.isclose(rosen.loss(jnp.array([x, y])), (1 - x) ** 2 + 100 * (y - x**2) ** 2, rtol=1e-6)
    assert np.allclose(jax.hessian(saddle.loss)(jnp.zeros(2)), np.diag([2.0, -1.0]))


@pytest.mark.parametrize("name", [n for n in NAMES if get_landscape(n).has_residuals])
def test_residuals_reproduce_the_loss(name):
    ls = get_landscape(name)
    sample = ls.sample(jax.random.key(3))
    for theta in np.random.default_rng(0).uniform(-2, 2, (5, 2)).astype(np.float32):
        r = ls.residuals(jnp.asarray(theta), sample)
        assert np.isclose(0.5 * jnp.sum(r**2), ls.sample_loss(jnp.asarray(theta), sample), rtol=1e-5)


def test_pure_saddle_has_no_gauss_newton_form():
    assert not get_landscape("pure_saddle").has_residuals
    assert get_landscape("rosenbrock", gradient_noise=0.5).has_residuals


def test_noisy_quadratic_gradient_noise_has_the_papers_covariance():
    """Zhang et al. 2019 with C = A: minibatch gradients have mean A(θ−θ*) and covariance σ²A/B."""
    sigma, batch = 0.5, 8
    ls = get_landscape("noisy_quadratic", condition_number=10.0, angle=0.4, noise_scale=sigma, batch_size=batch)
    a = np.asarray(ls.quadratic.hessian)
    theta = jnp.array([0.8, -0.3])
    keys = jax.random.split(jax.random.key(0), 40_000)
    grads = np.asarray(jax.vmap(lambda k: jax.grad(ls.sample_loss)(theta, ls.sample(k)))(keys))
    assert np.allclose(grads.mean(0), a @ np.asarray(theta), atol=0.01)
    assert np.allclose(np.cov(grads.T), sigma**2 * a / batch, atol=0.002)
    # the curvature of every sample is the true A
    assert np.allclose(jax.hessian(ls.sample_loss)(theta, ls.sample(keys[0])), a, atol=1e-6)


def test_gradient_noise_tilts_without_changing_curvature():
    ls = get_landscape("rosenbrock", gradient_noise=0.3)
    theta = jnp.array([0.2, 0.5])
    keys = jax.random.split(jax.random.key(1), 20_000)
    grads = np.asarray(jax.vmap(lambda k: jax.grad(ls.sample_loss)(theta, ls.sample(k)))(keys))
    assert np.allclose(grads.mean(0), jax.grad(ls.loss)(theta), atol=0.01)
    assert np.allclose(np.cov(grads.T), 0.09 * np.eye(2), atol=0.005)
    assert np.allclose(jax.hessian(ls.sample_loss)(theta, ls.sample(keys[0])), jax.hessian(ls.loss)(theta), rtol=1e-5)


def test_gradient_noise_on_a_minibatch_landscape_adds_its_variance_inside_jit():
    """The tilt's shape comes from the landscape's dimension, so the engine can trace it."""
    from landscapes import WithGradientNoise

    noisy = get_landscape("noisy_quadratic", condition_number=4.0, noise_scale=0.2, batch_size=2)
    ls = WithGradientNoise(noisy, 0.3)
    theta = jnp.array([0.5, -0.5])
    keys = jax.random.split(jax.random.key(2), 20_000)
    grads = jax.jit(jax.vmap(lambda k: jax.grad(ls.sample_loss)(theta, ls.sample(k))))(keys)
    a = np.asarray(noisy.quadratic.hessian)
    assert np.allclose(np.cov(np.asarray(grads).T), 0.2**2 * a / 2 + 0.09 * np.eye(2), atol=0.006)
    assert WithGradientNoise(quadratic_from_spectrum(np.ones(7)), 0.1).sample(keys[0])[1].shape == (7,)


def test_minibatch_quadratic_uses_the_papers_noise_where_a_inverse_exists_and_a_tilt_elsewhere():
    from landscapes import NoisyQuadratic, WithGradientNoise, minibatch_quadratic
    from landscapes.local_model import critical_point_model

    valley = get_landscape("quadratic", condition_number=10.0)
    assert minibatch_quadratic(valley, 0.0, 4) is valley
    assert isinstance(minibatch_quadratic(valley, 0.3, 4), NoisyQuadratic)
    saddle = critical_point_model(get_landscape("saddle"), "saddle")  # eigenvalues of both signs: no A⁻¹
    noisy = minibatch_quadratic(saddle, 0.3, 4)
    assert isinstance(noisy, WithGradientNoise)
    theta = jnp.array([0.2, -0.1])
    keys = jax.random.split(jax.random.key(3), 20_000)
    grads = np.asarray(jax.vmap(lambda k: jax.grad(noisy.sample_loss)(theta, noisy.sample(k)))(keys))
    assert np.allclose(np.cov(grads.T), 0.3**2 / 4 * np.eye(2), atol=0.002)  # σ²/B per coordinate


def test_the_noisy_quadratic_without_noise_is_the_exact_quadratic():
    exact = get_landscape("noisy_quadratic", condition_number=10.0, angle=0.5, noise_scale=0.0, batch_size=4)
    assert not exact.is_stochastic  # one run, no cloud of identical seeds
    valley = get_landscape("quadratic", condition_number=10.0, angle=0.5)
    theta = jnp.array([0.3, -1.2])
    assert float(exact.loss(theta)) == pytest.approx(float(valley.loss(theta)))


def test_n_dimensional_quadratic_from_a_spectrum():
    eigenvalues = np.geomspace(1e-2, 1.0, 20)
    ls = quadratic_from_spectrum(eigenvalues, seed=4)
    h = np.asarray(jax.hessian(ls.loss)(jnp.zeros(20)))
    assert np.allclose(np.linalg.eigvalsh(h), eigenvalues, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: get_landscape("banana"), "choose one of"),
        (lambda: get_landscape("quadratic", condition_number=1e9), "condition_number"),
        (lambda: get_landscape("quadratic", kappa=3.0), "allowed: condition_number, angle"),
        (lambda: get_landscape("noisy_quadratic", batch_size=2.5), "whole number"),
        (lambda: get_landscape("rosenbrock", b="abc"), "must be a number"),
    ],
)
def test_bad_names_and_values_raise_value_errors_that_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()
