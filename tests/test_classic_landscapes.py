"""Beale, Himmelblau, Rastrigin and the two-layer linear net against the literature and hand-derived
gradients and Hessians (NumPy, float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import LANDSCAPES, MORE_LANDSCAPES, get_landscape

CLASSIC = ["beale", "himmelblau", "rastrigin", "linear_net"]
C = np.array([1.5, 2.25, 2.625])  # Beale's constants


# --- hand-written references ------------------------------------------------------
def beale(x, y):
    return sum((c - x + x * y**i) ** 2 for i, c in enumerate(C, 1))


def beale_gradient(x, y):
    return sum(2 * (c - x + x * y**i) * np.array([y**i - 1, i * x * y ** (i - 1)]) for i, c in enumerate(C, 1))


def beale_hessian(x, y):
    """2 Σ (∇rᵢ∇rᵢᵀ + rᵢ∇²rᵢ), rᵢ = cᵢ − x + x yⁱ."""
    h = np.zeros((2, 2))
    for i, c in enumerate(C, 1):
        r, g = c - x + x * y**i, np.array([y**i - 1, i * x * y ** (i - 1)])
        second = np.array([[0, i * y ** (i - 1)], [i * y ** (i - 1), i * (i - 1) * x * y ** max(i - 2, 0)]])
        h += 2 * (np.outer(g, g) + r * second)
    return h


def himmelblau(x, y):
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def himmelblau_gradient(x, y):
    return np.array([4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7), 2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7)])


def himmelblau_hessian(x, y):
    return np.array([[12 * x**2 + 4 * y - 42, 4 * x + 4 * y], [4 * x + 4 * y, 12 * y**2 + 4 * x - 26]])


def rastrigin(x, y, a=10.0):
    return 2 * a + x**2 - a * np.cos(2 * np.pi * x) + y**2 - a * np.cos(2 * np.pi * y)


def rastrigin_gradient(x, y, a=10.0):
    return np.array([2 * x + 2 * np.pi * a * np.sin(2 * np.pi * x), 2 * y + 2 * np.pi * a * np.sin(2 * np.pi * y)])


def rastrigin_hessian(x, y, a=10.0):
    return np.diag([2 + 4 * np.pi**2 * a * np.cos(2 * np.pi * x), 2 + 4 * np.pi**2 * a * np.cos(2 * np.pi * y)])


def linear_net(w1, w2):
    return 0.5 * (1 - w1 * w2) ** 2


def linear_net_gradient(w1, w2):
    return -(1 - w1 * w2) * np.array([w2, w1])


def linear_net_hessian(w1, w2):
    return np.array([[w2**2, 2 * w1 * w2 - 1], [2 * w1 * w2 - 1, w1**2]])


REFERENCE = {
    "beale": (beale, beale_gradient, beale_hessian),
    "himmelblau": (himmelblau, himmelblau_gradient, himmelblau_hessian),
    "rastrigin": (rastrigin, rastrigin_gradient, rastrigin_hessian),
    "linear_net": (linear_net, linear_net_gradient, linear_net_hessian),
}


def kind_of(hessian):
    w = np.linalg.eigvalsh(hessian)
    scale = 1e-9 * max(1.0, np.max(np.abs(w)))
    return "minimum" if w[0] > scale else "maximum" if w[-1] < -scale else "saddle" if w[0] < -scale < scale < w[-1] else "flat"


def located(ls, kind):
    return np.array([p.location for p in ls.critical_points() if p.kind == kind]).reshape(-1, 2)


# --- the literature -------------------------------------------------------------------
def test_beales_minimum_and_saddles():
    ls = get_landscape("beale")
    assert np.allclose(located(ls, "minimum"), [[3.0, 0.5]])
    assert beale(3.0, 0.5) == 0.0 and ls.minimum_loss == 0.0
    assert np.allclose(beale_hessian(0.0, 1.0), [[0, 27.75], [27.75, 0]])  # 2(1.5 + 2·2.25 + 3·2.625)
    assert np.allclose(located(ls, "saddle"), [[0.0, 1.0], [0.100538, -2.644514]], atol=1e-6)
    assert np.ptp([beale(0.0, y) for y in np.linspace(-4.5, 4.5, 7)]) == 0.0  # x = 0: L = 14.203125 flat


def test_himmelblaus_four_minima_maximum_and_four_saddles():
    ls = get_landscape("himmelblau")
    published = [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]]
    assert np.allclose(np.sort(located(ls, "minimum"), 0), np.sort(published, 0), atol=1e-6)
    (maximum,) = located(ls, "maximum")
    assert np.allclose(maximum, [-0.270845, -0.923039], atol=1e-6)
    assert himmelblau(*maximum) == pytest.approx(181.617, abs=1e-3)
    assert len(located(ls, "saddle")) == 4 and ls.minimum_loss == 0.0


def test_rastrigins_global_minimum_and_its_neighbour():
    """Global minimum 0 at the origin; the next best minima, (±0.994959, 0) and (0, ±0.994959), at
    L = 0.994959 (the value a search stuck one ripple away reports), with A = 10."""
    ls = get_landscape("rastrigin")
    minima = located(ls, "minimum")
    assert ls.minimum_loss == 0.0 and [0.0, 0.0] in minima.tolist()
    values = np.array([rastrigin(*p) for p in minima])
    order = np.argsort(values)
    assert values[order[0]] == 0.0 and values[order[1:5]] == pytest.approx([0.994959] * 4, abs=1e-6)
    assert values[order[5]] > 1.9  # the next ones, (±0.994959, ±0.994959), at twice that
    assert np.allclose(np.sort(np.abs(minima[order[1:5]]), 1), [[0.0, 0.994959]] * 4, atol=1e-6)
    # one minimum per integer, one maximum per half-integer, in [−5.12, 5.12] on each axis
    assert (len(minima), len(located(ls, "maximum")), len(located(ls, "saddle"))) == (121, 100, 220)
    assert np.allclose(np.sort(np.unique(np.round(minima[:, 0]))), np.arange(-5, 6))


def test_rastrigins_amplitude_changes_the_ripples():
    flat = get_landscape("rastrigin", a=0.0)
    assert [(p.location.tolist(), p.kind) for p in flat.critical_points()] == [([0.0, 0.0], "minimum")]
    low = get_landscape("rastrigin", a=1.0)  # fewer ripples deep enough to hold a critical point
    xs = np.linspace(-5.12, 5.12, 2_000_000)  # 0 is no grid point, so each sign change is one root
    s = 2 * xs + 2 * np.pi * np.sin(2 * np.pi * xs)
    roots_1d = int(np.sum(np.sign(s[1:]) != np.sign(s[:-1])))
    assert 1 < roots_1d < 21 and len(low.critical_points()) == roots_1d**2


def test_the_linear_net_has_a_saddle_at_the_origin_and_a_curve_of_minima():
    ls = get_landscape("linear_net")
    assert located(ls, "saddle").tolist() == [[0.0, 0.0]]
    assert np.allclose(linear_net_hessian(0.0, 0.0), [[0, -1], [-1, 0]])
    minima = located(ls, "minimum")
    assert len(minima) == 6 and np.allclose(minima[:, 0] * minima[:, 1], 1.0)
    assert ls.minimum_loss == 0.0 and "w₁w₂ = 1" in ls.minimum_set
    for w1, w2 in minima:  # flat along the curve: eigenvalues 0 and w₁² + w₂²
        assert np.allclose(np.linalg.eigvalsh(linear_net_hessian(w1, w2)), [0.0, w1**2 + w2**2], atol=1e-12)
    curve = ls.on_minimum_set(np.linspace(0.3, 3.0, 7))
    assert np.allclose([linear_net(*p) for p in curve], 0.0) and np.allclose([linear_net_gradient(*p) for p in curve], 0)


# --- every listed point, every landscape ---------------------------------------------------
@pytest.mark.parametrize("name", CLASSIC)
def test_listed_critical_points_are_stationary_and_of_their_type_by_hand_derived_derivatives(name):
    ls = get_landscape(name)
    f, gradient, hessian = REFERENCE[name]
    for point in ls.critical_points():
        x, y = point.location
        scale = 1.0 + np.abs(hessian(x, y)).max()
        assert np.linalg.norm(gradient(x, y)) < 1e-10 * scale, (point, gradient(x, y))
        kind = kind_of(hessian(x, y))
        assert kind == point.kind or (name == "linear_net" and point.kind == "minimum" and kind == "flat"), point
        assert np.allclose(gradient(x, y), [(f(x + 1e-6, y) - f(x - 1e-6, y)) / 2e-6,
                                            (f(x, y + 1e-6) - f(x, y - 1e-6)) / 2e-6], atol=1e-6 * scale)
    (x0, x1), (y0, y1) = ls.bounds
    assert all(x0 <= p.location[0] <= x1 and y0 <= p.location[1] <= y1 for p in ls.critical_points())
    sx, sy = ls.default_start
    assert x0 < sx < x1 and y0 < sy < y1 and np.linalg.norm(gradient(sx, sy)) > 0.1


@pytest.mark.parametrize("name", CLASSIC)
def test_loss_gradient_hessian_and_residuals_agree_with_the_hand_derived_ones(name):
    ls = get_landscape(name)
    f, gradient, hessian = REFERENCE[name]
    points = np.random.default_rng(2).uniform(-2, 2, (6, 2))
    everything = jax.jit(jax.vmap(lambda t: (ls.loss(t), jax.grad(ls.loss)(t), jax.hessian(ls.loss)(t), ls.residuals(t))))
    with jax.enable_x64(True):
        values, grads, hessians, residuals = (np.asarray(a) for a in everything(jnp.asarray(points)))
    count = {"beale": 3, "himmelblau": 2, "rastrigin": 4, "linear_net": 1}[name]
    assert residuals.shape == (len(points), count) and ls.has_residuals
    for p, value, g, h, r in zip(points, values, grads, hessians, residuals):
        assert value == pytest.approx(f(*p), rel=1e-12)
        assert 0.5 * np.sum(r**2) == pytest.approx(f(*p), rel=1e-12)
        assert np.allclose(g, gradient(*p), rtol=1e-10, atol=1e-10)
        assert np.allclose(h, hessian(*p), rtol=1e-10, atol=1e-10)


def test_rastrigins_amplitude_is_a_traced_leaf():
    traces = []

    @jax.jit
    def value(ls, theta):
        traces.append(1)
        return ls.loss(theta)

    theta = jnp.array([0.3, -0.2])
    for a in (10.0, 3.0):
        assert float(value(get_landscape("rastrigin", a=a), theta)) == pytest.approx(rastrigin(0.3, -0.2, a), rel=1e-5)
    assert len(traces) == 1


# --- runs ----------------------------------------------------------------------------------------
def test_gradient_descent_on_the_linear_net_keeps_the_layers_balanced():
    """Gradient flow conserves w₁² − w₂² (d/dt w₁² = d/dt w₂² = 2w₁w₂(1 − w₁w₂)): from the small start the
    run escapes the saddle and lands where w₁w₂ = 1 and w₁² − w₂² is what it was (Du, Hu and Lee, 2018)."""
    from optimizers import get_optimizer, run_trajectory

    ls = get_landscape("linear_net")
    w1, w2 = ls.default_start
    traj = run_trajectory(ls, get_optimizer("gd", learning_rate=0.05), steps=400)
    e1, e2 = traj.params[-1]
    assert traj.diverged_at is None and e1 * e2 == pytest.approx(1.0, abs=1e-4)
    assert e1**2 - e2**2 == pytest.approx(w1**2 - w2**2, abs=2e-3)


def test_gauss_newton_on_himmelblau_ends_on_a_published_minimum():
    from optimizers import get_optimizer, run_trajectory

    traj = run_trajectory(get_landscape("himmelblau"), get_optimizer("damped_ggn"), steps=40)
    published = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]])
    assert traj.diverged_at is None and np.min(np.linalg.norm(published - traj.params[-1], axis=1)) < 1e-4


def test_the_registry_lists_them_with_the_explorers_landscapes():
    assert list(LANDSCAPES) == ["quadratic", "saddle", "pure_saddle", "rosenbrock", "noisy_quadratic", *CLASSIC, "custom"]
    assert not MORE_LANDSCAPES
    for name in [*CLASSIC, "custom"]:
        info = LANDSCAPES[name]
        assert info.title and info.summary.endswith(".")
        assert get_landscape(name).title == info.title
    with pytest.raises(ValueError, match="a must lie in"):
        get_landscape("rastrigin", a=-1.0)
    with pytest.raises(ValueError, match="beale, himmelblau"):
        get_landscape("bael")
