"""The eigenspace page's mathematics: closed forms against matrix powers and the
engine, optimal parameters, each method's curvature model against independent
references, and the page itself (AppTest)."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import page_checks
from page_checks import check_page
from landscapes import NoisyQuadratic, get_landscape, log_uniform_spectrum, quadratic_from_spectrum
from landscapes.local_model import IndefiniteQuadratic, LocalQuadratic, critical_point_model
from optimizers import get_optimizer, run_trajectory
from optimizers import theory
from optimizers.preconditioners import (
    distance_from_newton,
    preconditioned_spectrum,
    run_with_preconditioner,
)


def momentum_r(lam, alpha, beta) -> np.ndarray:
    """Goh's R for one direction, written out here: (z, x) ↦ (βz + λx, x − α(βz + λx))."""
    return np.array([[beta, lam], [-alpha * beta, 1 - alpha * lam]], np.float64)


def matrix_power_components(eigenvalues, x0, alpha, beta, steps):
    """Independent reference: (z, x)ᵏ = Rᵏ (0, x⁰) with numpy.linalg.matrix_power."""
    out = np.empty((steps + 1, len(eigenvalues)))
    for i, lam in enumerate(eigenvalues):
        r = momentum_r(lam, alpha, beta)
        out[:, i] = [(np.linalg.matrix_power(r, k) @ [0.0, x0[i]])[1] for k in range(steps + 1)]
    return out


def eigen_error(ls, params):
    q = np.asarray(ls.eigenvectors, np.float64)
    return (np.asarray(params, np.float64) - np.asarray(ls.minimum, np.float64)) @ q


def random_spectrum(rng, n):
    return np.sort(10 ** rng.uniform(-3, 0, n))


# --- closed forms ----------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_momentum_closed_form_matches_matrix_powers_in_every_regime(seed):
    rng = np.random.default_rng(seed)
    lam = np.concatenate([random_spectrum(rng, 6), [-0.3, 0.0]])  # a saddle's negative direction and a flat one
    alpha = 10 ** rng.uniform(-1, 0.3)
    beta = [rng.uniform(0, 0.99), float(theory.critical_momentum(lam[2], alpha)), 0.0][seed % 3]
    beta = min(beta, 0.99)
    x0 = rng.standard_normal(lam.size)
    predicted = theory.momentum_components(lam, x0, alpha, beta, 150)
    reference = matrix_power_components(lam, x0, alpha, beta, 150)
    scale = np.maximum(np.abs(reference).max(axis=0), 1e-300)
    np.testing.assert_allclose(predicted / scale, reference / scale, atol=1e-9)


@pytest.mark.parametrize("wanted", ["real", "repeated", "complex"])
def test_each_root_regime_is_reached_and_correct(wanted):
    lam, alpha = np.array([0.04, 0.25, 1.0]), 1.0
    beta = {"real": 0.05, "repeated": float(theory.critical_momentum(0.25, alpha)), "complex": 0.9}[wanted]
    regimes = theory.regime(lam, alpha, beta)
    assert wanted in regimes
    x0 = np.ones(3)
    np.testing.assert_allclose(
        theory.momentum_components(lam, x0, alpha, beta, 200),
        matrix_power_components(lam, x0, alpha, beta, 200),
        atol=1e-12,
        rtol=1e-9,
    )
    # and the modulus of the larger root is the component's rate
    sigma1, sigma2 = theory.momentum_roots(lam, alpha, beta)
    np.testing.assert_allclose(np.maximum(abs(sigma1), abs(sigma2)), theory.momentum_component_rate(lam, alpha, beta))
    if wanted == "complex":
        np.testing.assert_allclose(abs(sigma1[regimes == "complex"]), np.sqrt(beta))


def test_nearly_repeated_roots_have_no_cancellation():
    lam, alpha = np.array([0.25]), 1.0
    critical = float(theory.critical_momentum(0.25, alpha))
    for beta in (critical * (1 - 1e-10), critical, critical * (1 + 1e-10)):
        np.testing.assert_allclose(
            theory.momentum_components(lam, [1.0], alpha, beta, 300),
            matrix_power_components(lam, [1.0], alpha, beta, 300),
            rtol=1e-7,
            atol=1e-14,
        )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n", [2, 12])
def test_drawn_theory_equals_measured_components(seed, n):
    rng = np.random.default_rng(100 + seed)
    ls = quadratic_from_spectrum(random_spectrum(rng, n) if n > 2 else [1 / 10 ** rng.uniform(0.5, 3), 1.0], seed=seed)
    lam = np.asarray(ls.eigenvalues, np.float64)
    x0 = rng.standard_normal(n)
    steps = 80
    alpha = 1.5 / lam.max()
    runs = {
        "gd": dict(learning_rate=alpha),
        "momentum": dict(learning_rate=alpha, momentum=[0.5, 0.9, float(theory.critical_momentum(lam[0], alpha))][seed]),
    }
    for name, settings in runs.items():
        traj = run_trajectory(ls, get_optimizer(name, **settings), x0=np.asarray(ls.minimum) + np.asarray(ls.eigenvectors) @ x0, steps=steps)
        measured = eigen_error(ls, traj.params)
        drawn = theory.theory_components(name, lam, measured[0], settings, steps)
        np.testing.assert_allclose(measured, drawn, atol=3e-5 * np.abs(x0).max())


def test_gd_and_momentum_rates_against_brute_force():
    rng = np.random.default_rng(5)
    lam = random_spectrum(rng, 9)
    alphas, betas = np.linspace(0.01, 4 / lam.max(), 37), np.linspace(0, 0.99, 23)
    grid = theory.momentum_rate_grid(lam, alphas, betas)
    brute = np.array(
        [[max(np.abs(np.linalg.eigvals(momentum_r(l, a, b))).max() for l in lam) for a in alphas] for b in betas]
    )
    np.testing.assert_allclose(grid, brute, rtol=1e-6, atol=1e-6)  # repeated roots: eigvals is only √eps accurate
    np.testing.assert_allclose(theory.gd_rate(lam, alphas), [np.abs(1 - a * lam).max() for a in alphas])


@pytest.mark.parametrize("kappa", [10.0, 100.0, 1000.0])
def test_measured_rate_at_the_optimal_parameters(kappa):
    ls = get_landscape("quadratic", condition_number=kappa, angle=0.4)
    lam = np.asarray(ls.eigenvalues, np.float64)
    gd, heavy = theory.optimal_gd(lam), theory.optimal_momentum(lam)
    assert gd.learning_rate == pytest.approx(2 / (1 / kappa + 1))
    assert gd.rate == pytest.approx((kappa - 1) / (kappa + 1))
    root = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    assert heavy.learning_rate == pytest.approx((2 / (np.sqrt(1 / kappa) + 1)) ** 2)
    assert heavy.momentum == pytest.approx(root**2)
    assert heavy.rate == pytest.approx(root)
    assert theory.gd_rate(lam, gd.learning_rate) == pytest.approx(gd.rate)
    assert theory.momentum_rate(lam, heavy.learning_rate, heavy.momentum) == pytest.approx(heavy.rate, rel=1e-6)

    steps = 240

    def measured(name, **settings):
        traj = run_trajectory(ls, get_optimizer(name, **settings), x0=np.array([1.0, 1.0]), steps=steps)
        norms = np.linalg.norm(eigen_error(ls, traj.params), axis=1)
        usable = np.flatnonzero(norms > 1e-25 * norms[0])[-1]  # stay above float32's floor
        first = usable // 2
        return (norms[usable] / norms[first]) ** (1 / (usable - first)), usable

    rate, _ = measured("gd", learning_rate=gd.learning_rate)
    assert rate == pytest.approx((kappa - 1) / (kappa + 1), rel=2e-3)
    rate, usable = measured("momentum", learning_rate=heavy.learning_rate, momentum=heavy.momentum)
    # critically damped modes decay like (1 + k(1 − r)) rᵏ: over [k/2, k] that adds at most 2^(2/k)
    assert root * (1 - 1e-3) <= rate <= root * 2 ** (2 / usable)


def test_a_negative_eigenvalue_has_no_optimal_parameters():
    lam = [-1.0, 2.0]
    assert theory.optimal_gd(lam) is None and theory.optimal_momentum(lam) is None
    assert np.all(theory.gd_rate(lam, np.linspace(0.01, 2, 50)) > 1)
    assert np.all(theory.momentum_rate_grid(lam, np.linspace(0.01, 2, 20), np.linspace(0, 0.99, 10)) > 1)


# --- local models ----------------------------------------------------------
def test_local_models_at_rosenbrocks_minimum_and_the_saddle():
    rosen = critical_point_model(get_landscape("rosenbrock"))
    assert isinstance(rosen, LocalQuadratic)
    np.testing.assert_allclose(rosen.hessian, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-5)
    saddle = critical_point_model(get_landscape("saddle"), "saddle")
    assert isinstance(saddle, IndefiniteQuadratic) and not saddle.has_residuals
    np.testing.assert_allclose(saddle.eigenvalues, [-1.0, 2.0], atol=1e-5)
    assert saddle.critical_points()[0].kind == "saddle"
    # the model agrees with the landscape to second order
    ls = get_landscape("rosenbrock")
    d = jnp.array([1e-2, -2e-2])
    assert float(rosen.loss(jnp.array([1.0, 1.0]) + d)) == pytest.approx(float(ls.loss(jnp.array([1.0, 1.0]) + d)), rel=0.05)
    with pytest.raises(ValueError):
        run_trajectory(saddle, get_optimizer("damped_ggn"), steps=2)


# --- curvature models ------------------------------------------------------
def test_newton_preconditioned_spectrum_is_all_ones():
    for ls in (
        get_landscape("quadratic", condition_number=1e4, angle=0.3),
        quadratic_from_spectrum(log_uniform_spectrum(20, 1e-3, 1.0), seed=1),
        critical_point_model(get_landscape("saddle"), "saddle"),
    ):
        run = run_with_preconditioner(ls, get_optimizer("newton"), ls.hessian, steps=3)
        np.testing.assert_allclose(run.spectrum, 1.0, atol=1e-3)


def test_saddle_free_newton_shows_minus_one_along_negative_curvature():
    ls = critical_point_model(get_landscape("saddle"), "saddle")
    run = run_with_preconditioner(ls, get_optimizer("saddle_free_newton", damping=0.0), ls.hessian, steps=2)
    np.testing.assert_allclose(run.spectrum, [[-1.0, 1.0]] * 2, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_lbfgs_model_tends_to_the_inverse_hessian(seed):
    rng = np.random.default_rng(seed)
    ls = get_landscape("quadratic", condition_number=10 ** rng.uniform(0.5, 4), angle=rng.uniform(-3, 3))
    run = run_with_preconditioner(ls, get_optimizer("lbfgs"), ls.hessian, steps=20)
    distance = distance_from_newton(run.spectrum)
    assert distance[0] > 1  # no pairs yet: P = I
    assert distance[-1] < 0.02


def test_lbfgs_matrix_is_the_bfgs_recursion_over_the_stored_pairs():
    """Independent reference: Hₖ₊₁ = (I − ρ s yᵀ) Hₖ (I − ρ y sᵀ) + ρ s sᵀ from H₀ = γI, dense."""
    ls = quadratic_from_spectrum(log_uniform_spectrum(5, 0.05, 1.0), seed=4)
    m = 3
    run = run_with_preconditioner(ls, get_optimizer("lbfgs", memory_size=m), ls.hessian, x0=np.ones(5), steps=6)
    params, grads = np.asarray(run.trajectory.params, np.float64), np.asarray(run.trajectory.grads, np.float64)
    for j in range(1, 6):
        pairs = [(params[i] - params[i - 1], grads[i] - grads[i - 1]) for i in range(1, j + 1)][-m:]
        s_new, y_new = pairs[-1]
        h = np.eye(5) * (s_new @ y_new) / (y_new @ y_new)
        for s, y in pairs:
            rho = 1 / (s @ y)
            v = np.eye(5) - rho * np.outer(y, s)
            h = v.T @ h @ v + rho * np.outer(s, s)
        np.testing.assert_allclose(run.preconditioners[j], h, rtol=2e-3, atol=2e-3 * np.abs(h).max())


def test_adam_matrix_is_the_bias_corrected_second_moment():
    ls = get_landscape("quadratic", condition_number=30.0, angle=0.5)
    b2, eps = 0.99, 1e-3
    run = run_with_preconditioner(ls, get_optimizer("adam", learning_rate=0.05, b2=b2, eps=eps), ls.hessian, steps=12)
    grads = np.asarray(run.trajectory.grads, np.float64)
    for j in range(12):
        t = j + 1
        v = sum((1 - b2) * b2 ** (t - 1 - i) * grads[i] ** 2 for i in range(t))
        np.testing.assert_allclose(np.diag(run.preconditioners[j]), 1 / (np.sqrt(v / (1 - b2**t)) + eps), rtol=1e-4)


def test_damped_gauss_newton_matrix_and_noise():
    quad = get_landscape("quadratic", condition_number=100.0, angle=0.2)
    noisy = NoisyQuadratic(quad, 1.0, 2.0)
    for ls in (quad, noisy):
        run = run_with_preconditioner(ls, get_optimizer("damped_ggn", damping=0.1), quad.hessian, steps=5)
        expected = np.linalg.inv(np.asarray(quad.hessian, np.float64) + 0.1 * np.eye(2))
        np.testing.assert_allclose(run.preconditioners, np.broadcast_to(expected, (5, 2, 2)), rtol=1e-4)
        lam = np.asarray(quad.eigenvalues, np.float64)
        np.testing.assert_allclose(run.spectrum[-1], np.sort(lam / (lam + 0.1)), rtol=1e-4)


def test_spectrum_forms_agree():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    h = a @ a.T + 0.1 * np.eye(4)
    b = rng.standard_normal((3, 4, 4))
    p = b @ np.swapaxes(b, -1, -2)
    reference = np.sort(np.linalg.eigvals(p @ h).real, axis=-1)
    np.testing.assert_allclose(preconditioned_spectrum(p, h), reference, rtol=1e-8)


def test_new_hyperparameters_do_not_recompile(caplog):
    ls = get_landscape("quadratic", condition_number=50.0)
    for name in ("lbfgs", "adam", "newton"):
        run_with_preconditioner(ls, get_optimizer(name), ls.hessian, steps=30)
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level(logging.WARNING, logger="jax"):
            other = get_landscape("quadratic", condition_number=7.0, angle=1.0)
            run_with_preconditioner(other, get_optimizer("lbfgs", learning_rate=0.5, memory_size=3), other.hessian, steps=30)
            run_with_preconditioner(other, get_optimizer("adam", learning_rate=0.2, eps=1e-3), other.hessian, steps=30)
            run_with_preconditioner(other, get_optimizer("newton", damping=0.5), other.hessian, steps=30)
            run_with_preconditioner(other, get_optimizer("adam"), other.hessian, steps=50)  # same scan length
    finally:
        jax.config.update("jax_log_compiles", False)
    compiles = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage() or "compil" in r.getMessage().lower()]
    assert not compiles, compiles


# --- the page ----------------------------------------------------------------
PAGE = "pages/eigenspace.py"


def open_page(query: dict | None = None, run: bool = True):
    return page_checks.open_page(PAGE, query, run)


def test_page_defaults_draw_every_panel():
    at = open_page()
    check_page(at, charts=7)  # 2 landscapes, 2 directions, 2 rates, 1 spectrum
    assert not at.warning
    assert any("Eigenspace" in t.value for t in at.title)


def test_optimal_buttons_set_the_closed_form_values():
    at = open_page({"condition_number": "50", "methods": ["gd", "momentum"]})
    kappa = 50.0
    at.button(key="optimal_gd").click().run()
    assert at.select_slider(key="gd.learning_rate").value == pytest.approx(2 / (1 / kappa + 1), rel=1e-5)
    at.button(key="optimal_momentum").click().run()
    root = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    assert at.select_slider(key="momentum.learning_rate").value == pytest.approx((2 / (np.sqrt(1 / kappa) + 1)) ** 2, rel=1e-5)
    assert at.select_slider(key="momentum.momentum").value == pytest.approx(root**2, rel=1e-5)
    check_page(at, charts=4)


def test_playback_arrows_agree_for_gradient_descent_in_both_panels():
    """Gradient descent steps along −∇L, so its update arrow and its −∇L arrow (drawn as long as
    the update) must coincide, in θ and in the eigenbasis (where the gradient is Qᵀ∇L = Λx)."""
    import json

    at = open_page({"methods": ["gd"], "gd.learning_rate": "0.5"})
    check_page(at, charts=2)
    panels = [json.loads(chart.proto.bytes)["playback"] for chart in page_checks.chart_elements(at)[:2]]
    for playback in panels:
        moving = [f["data"] for f in playback["frames"] if np.hypot(np.diff(f["data"][1]["x"]), np.diff(f["data"][1]["y"])) > 0.01]
        assert len(moving) >= 5  # frames before the run has converged (coordinates are rounded to 1e-4)
        for _, update, descent in moving:
            np.testing.assert_allclose([descent["x"][1], descent["y"][1]], [update["x"][1], update["y"][1]], atol=2e-3)


def test_optimal_buttons_are_disabled_at_the_saddle():
    at = open_page({"problem": "saddle", "methods": ["gd", "momentum", "damped_ggn", "newton"]})
    check_page(at, charts=4)
    assert at.button(key="optimal_gd").disabled and at.button(key="optimal_momentum").disabled
    assert any("Gauss–Newton does not apply" in w.value for w in at.warning)


def eigenspace_lessons():
    from ui import eigenspace, lessons

    return lessons.load(eigenspace.PAGE, eigenspace.declare).lessons


def test_lessons_run_and_draw_finite_figures():
    at = open_page()
    for name, lesson in eigenspace_lessons().items():
        at.selectbox(key="lesson").set_value(name).run()
        check_page(at, charts=3)
        assert any(lesson.view.title in i.value for i in at.info)
        assert not [note for note in page_checks.notes(at) if "link" in note or "Lesson file" in note]


def test_lessons_at_the_optimal_parameters_hold_the_closed_forms_values():
    """The lesson files write the optimal (α, β) out; they must be Polyak's and the GD optimum, to 6 figures."""
    from ui import eigenspace
    from ui.viewstate import lesson_state

    for name in ("optimal_momentum", "rosenbrock"):  # the lessons drawn at the gold stars
        state = lesson_state(eigenspace.declare, {n: l.view for n, l in eigenspace_lessons().items()}, name)
        lam = np.asarray(eigenspace.problem_of(state).eigenvalues, np.float64)
        kappa = lam.max() / lam.min()
        assert state["gd.learning_rate"] == pytest.approx(2 / (lam.min() + lam.max()), rel=1e-5)
        assert state["momentum.learning_rate"] == pytest.approx((2 / (np.sqrt(lam.min()) + np.sqrt(lam.max()))) ** 2, rel=1e-5)
        assert state["momentum.momentum"] == pytest.approx(((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2, rel=1e-5)


def test_preset_link_applies_optimal_parameters():
    at = open_page({"preset": "optimal_momentum"})
    check_page(at, charts=4)
    kappa = 100.0  # the lesson's eigenvalues 0.01 and 1: Polyak's β* = ((√κ − 1)/(√κ + 1))² = (9/11)²
    assert at.select_slider(key="momentum.momentum").value == pytest.approx(((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2, rel=1e-5)


def test_preset_link_is_rewritten_as_a_link_that_reopens_it():
    at = open_page({"preset": "optimal_momentum"})
    at.select_slider(key="steps").set_value(100).run()
    link = page_checks.link(at)
    assert link == {"lesson": ["optimal_momentum"], "steps": ["100"]}
    again = open_page(link)
    assert not again.warning
    at.run()  # the steps reran only the results; the whole page again, to read its sidebar
    for key in ("momentum.momentum", "momentum.learning_rate", "gd.learning_rate"):
        assert again.select_slider(key=key).value == at.select_slider(key=key).value


def test_a_methods_number_reruns_only_the_results():
    """Gradient descent's α changes only its runs: the results fragment reruns alone, with the link;
    the problem's own numbers, from which the sidebar derives its warning, rerun the whole page."""
    at = open_page()
    at.select_slider(key="gd.learning_rate").set_value(0.2).run()
    assert not at.exception and not at.title and not at.sidebar.select_slider
    assert page_checks.link(at) == {"gd.learning_rate": ["0.2"]}
    page_checks.check_page(at, charts=4)
    at.run()  # the whole page again (AppTest holds only what the last run drew)
    at.select_slider(key="condition_number").set_value(30.0).run()
    assert not at.exception and at.title and at.sidebar.select_slider


def test_slider_extremes():
    at = open_page({
        "problem": "spectrum", "dimension": "50", "lambda_min": "0.0001", "lambda_max": "1",
        "steps": "1000", "noise_scale": "3", "batch_size": "1",
        "methods": ["gd", "momentum", "lbfgs", "newton"], "gd.learning_rate": "10", "momentum.momentum": "0.999",
        "directions": ["1", "25", "50"],
    })  # fmt: skip
    check_page(at, charts=5)
    at = open_page({"condition_number": "10000", "angle": "3.1416", "methods": ["gd", "momentum", "adam"],
                    "steps": "10", "gd.learning_rate": "0.00001", "adam.eps": "1"})  # fmt: skip
    check_page(at, charts=5)


def test_bad_url_values_fall_back_with_a_note():
    at = open_page({"condition_number": "abc", "methods": ["gd", "nonsense"], "problem": "spectrum",
                    "lambda_min": "50", "lambda_max": "1"})  # fmt: skip
    check_page(at, charts=2)
    notes = " ".join(page_checks.notes(at))
    assert "nonsense" in notes and "λ₁" in notes


def test_gd_noise_floor_matches_monte_carlo_over_seeds():
    """The closed form E[L − L*] of GD on the noisy quadratic against the engine's own runs, 256 seeds;
    at the explorer's noise-floor lesson (κ 10, σ 0.3, B 4, α 1) the floor is Σᵢ αλᵢσ²/(2B(2 − αλᵢ))."""
    from optimizers import run_trajectories

    landscape = get_landscape("noisy_quadratic", condition_number=10.0, angle=0.5, noise_scale=0.3, batch_size=4)
    q = landscape.quadratic
    lam = np.asarray(q.eigenvalues, np.float64)
    np.testing.assert_allclose(theory.gd_noise_floor(lam, 1.0, 0.3, 4.0).sum(), 0.1 * 0.09 / (8 * 1.9) + 0.09 / 8, rtol=1e-6)
    x0 = np.asarray(landscape.default_start, np.float64)
    components = (x0 - np.asarray(q.minimum, np.float64)) @ np.asarray(q.eigenvectors, np.float64)
    for alpha in (1.0, 0.05):
        runs = run_trajectories(landscape, get_optimizer("gd", learning_rate=alpha), x0, np.arange(256), 300)
        measured = np.asarray(runs.loss, np.float64).mean(axis=0)
        expected = theory.gd_expected_excess_loss(lam, components, alpha, 0.3, 4.0, 300)
        np.testing.assert_allclose(measured[[0, 10, 30, 100, 300]], expected[[0, 10, 30, 100, 300]], rtol=0.12)


# --- the batch-size section (the noisy quadratic model) ----------------------------------------
def nqm_figures(at) -> tuple[dict, dict]:
    """The section's steps-against-batch-size figure (the one marking B*) and its loss-curves figure after it."""
    specs = page_checks.figures(at)
    index = next(i for i, spec in enumerate(specs) if any(str(t.get("name", "")).startswith("B* = ") for t in spec["data"]))
    return specs[index], specs[index + 1]


def test_nqm_section_draws_the_librarys_steps_and_critical_batch_sizes():
    """At the defaults: one curve per method with the library's best steps at each batch size, and B* marked."""
    from optimizers import nqm

    at = open_page({"methods": ["gd"]})
    check_page(at, charts=4)
    steps, loss = nqm_figures(at)
    h = nqm.spectrum(1000.0, 100)
    for name, method in nqm.METHODS.items():
        study = nqm.study(h, method, 0.01 * nqm.initial_loss(h))[0]
        trace = next(t for t in steps["data"] if t.get("name") == method.title)
        drawn = np.fromiter(page_checks.numbers_in(trace["y"]), float)
        np.testing.assert_allclose(drawn, study.steps[np.isfinite(study.steps)], rtol=1e-6)
        assert f"B* = {float(f'{study.critical_batch_size:.3g}'):,.0f}" in page_checks.trace_names(steps)
    assert len(loss["data"]) == 4  # one loss curve per method (the target is a layout line)
    table = at.table[-1].value
    assert list(table["method"]) == [m.title for m in nqm.METHODS.values()]


def test_nqm_section_at_the_extremes_of_its_controls():
    at = open_page({"methods": ["gd"], "nqm.kappa": "10000", "nqm.dim": "300", "nqm.target": "0.0001",
                    "nqm.average": "0.999", "nqm.decay": "100", "nqm.batch": "1000000"})  # fmt: skip
    check_page(at, charts=4)
    assert not at.warning
    steps, _ = nqm_figures(at)
    assert any("EMA ρ = 0.999, step decay d = 100" in str(t.get("name")) for t in steps["data"])
    at = open_page({"methods": ["gd"], "nqm.kappa": "10", "nqm.dim": "10", "nqm.target": "0.5", "nqm.average": "0",
                    "nqm.decay": "1", "nqm.batch": "1", "nqm.methods": ["kfac"]})  # fmt: skip
    check_page(at, charts=4)
    steps, loss = nqm_figures(at)
    assert [t["name"].split(" (")[0] for t in loss["data"]] == ["K-FAC-like, P = H^(−1)"]
    at = open_page({"methods": ["gd"], "nqm.methods": ""})
    check_page(at, charts=2)
    assert any("Choose at least one method for the noisy quadratic model" in i.value for i in at.info)


def test_nqm_hostile_link_values_fall_back_with_plain_notes():
    at = open_page({"methods": ["gd"], "nqm.kappa": "<script>x</script>", "nqm.dim": "1e9", "nqm.target": "inf",
                    "nqm.methods": ["sgd", "**bold**"], "nqm.average": "1.5", "nqm.decay": "nan", "nqm.batch": "2.5"})  # fmt: skip
    check_page(at, charts=4)
    notes = " ".join(page_checks.notes(at))
    for key in ("nqm.kappa", "nqm.dim", "nqm.target", "nqm.methods", "nqm.average", "nqm.decay", "nqm.batch"):
        assert key in notes, key
    assert all("<script>" not in w.value and "**bold**" not in w.value for w in at.warning)  # escaped, never markup
    link = page_checks.link(at)
    assert link.get("nqm.methods") == ["sgd"] and not any(k in link for k in ("nqm.kappa", "nqm.dim", "nqm.batch"))
    steps, _ = nqm_figures(at)
    assert page_checks.trace_names(steps) >= {"SGD"}


def dequantized(q: dict) -> np.ndarray:
    """What chart.js decodes from ``plots.quantized``."""
    import base64

    levels = np.frombuffer(base64.b64decode(q["b64"]), "<i2").astype(np.float64)
    values = q["lo"] + (levels + 32767) * (q["hi"] - q["lo"]) / 65534
    return np.where(levels == -32768, np.nan, values).reshape(q["shape"])


@pytest.mark.parametrize(
    "problem, parameters, noise, steps",
    [
        ("quadratic", {"condition_number": 10.0, "angle": 0.0}, 0.0, 200),
        ("quadratic", {"condition_number": 100.0, "angle": 0.5}, 0.5, 1000),  # noisy, thinned to every 5th step
        ("spectrum", {"dimension": 50, "lambda_min": 1e-3, "lambda_max": 1.0}, 0.0, 300),
        ("saddle", {}, 0.0, 100),  # a negative eigenvalue: every node diverges along it
    ],
)
def test_the_rate_maps_grid_holds_each_nodes_run_as_the_page_draws_it(problem, parameters, noise, steps):
    """Every node of the rate map's precomputed grid is the run the page computes for that (α, β)
    (``compute_method``, one ``run_trajectory``), cut and floored as the direction charts draw it,
    to the grid's 16-bit precision; a node that diverges is cut where it diverged."""
    from ui import eigenspace, eigenspace_plots
    from ui.chart import encode
    from ui.runs import items

    parameters = items(parameters)
    quadratic = eigenspace.build_problem(problem, parameters)
    lam, _, _ = eigenspace.eigen_data(quadratic)
    directions = (0, 25, 49)[: lam.size] if lam.size > 2 else (0, 1)
    alphas, betas = eigenspace.pick_axes(lam)
    assert len(alphas) >= 12 and len(betas) == eigenspace.PICK_NODES and betas[0] == 0.0
    assert max(alphas) <= eigenspace_plots.rate_map_alpha_range(lam, 0.0)
    batch = 8 if noise else eigenspace.BATCH.default
    settings = items({"learning_rate": 1.0, "momentum": 0.5})
    grid = eigenspace.pick_grid(problem, parameters, noise, batch, 3, steps, settings, directions, alphas, betas)
    assert len(encode(grid)) < 300_000  # bytes sent once per grid
    curves = dequantized(grid["curves"])
    kept = np.asarray(grid["steps"])
    assert curves.shape == (len(alphas), len(betas), kept.size, len(directions)) and kept[-1] == steps
    # The grid's 16 bits (of log10|x|), and float32: under vmap XLA rounds some arithmetic differently in
    # the last bit, so the two runs agree to a few units of θ's float32 resolution, not exactly.
    relative = 10 ** ((grid["curves"]["hi"] - grid["curves"]["lo"]) / 65534) - 1 + 1e-3
    rng = np.random.default_rng(0)
    nodes = [(int(rng.integers(len(alphas))), int(rng.integers(len(betas)))) for _ in range(4)] + [(len(alphas) - 1, 0)]
    for i, j in nodes:
        node = items({"learning_rate": alphas[i], "momentum": betas[j]})
        run = eigenspace.compute_method(problem, parameters, noise, batch, 3, "momentum", node, steps)
        end = run.components.shape[0] if run.diverged_at is None else run.diverged_at
        for d, direction in enumerate(directions):
            drawn = eigenspace_plots.clip_log_curve(run.components[:end, direction], abs(run.components[0, direction]))
            inside = kept < drawn.size
            resolution = 64 * np.finfo(np.float32).eps * float(np.abs(run.params).max())
            np.testing.assert_allclose(10 ** curves[i, j, inside, d], drawn[kept[inside]], rtol=relative, atol=resolution)
            assert np.isnan(curves[i, j, ~inside, d]).all()
        assert grid["rates"][i][j] == pytest.approx(float(theory.momentum_rate(lam, alphas[i], betas[j])), abs=1e-6)
    assert ("is drawn at" in eigenspace.pick_caption(grid, steps)) == (kept.size < steps + 1)  # says when sampled
    assert (len(alphas) - 1, 0) in nodes  # α ≈ 4.2/λ_max with β = 0 diverges: its curves are cut
    assert np.isnan(curves[-1, 0, -1]).all()


def test_moving_momentums_own_sliders_leaves_the_rate_maps_grid_as_it_was():
    """The grid does not depend on momentum's current (α, β), not even on an α beyond the map's usual
    edge 4.2/λmax (the map then widens): a move of either is not a new grid to compute and send."""
    from ui import eigenspace, viewstate
    from ui.runs import items

    settings = eigenspace.settings_of(viewstate.defaults(eigenspace.declare))
    edge = 4.2 / float(eigenspace.eigen_data(eigenspace.build_problem(settings.problem, settings.parameters))[0].max())

    def with_momentum(alpha, beta):
        return settings._replace(methods=tuple(
            (name, items({"learning_rate": alpha, "momentum": beta}) if name == "momentum" else values)
            for name, values in settings.methods
        ))  # fmt: skip

    for alpha, beta in ((1.3, 0.8), (0.5 * edge, 0.0), (1.5 * edge, 0.5), (3 * edge, 0.99)):
        moved = with_momentum(alpha, beta)
        assert dict(settings.methods)["momentum"] != dict(moved.methods)["momentum"]
        assert eigenspace.pick_arguments(moved) == eigenspace.pick_arguments(settings) is not None, alpha
    from ui import controls

    alphas = eigenspace.pick_arguments(settings)[-2]
    offered = controls.slider_grid(eigenspace.OPTIMIZERS["momentum"].hyperparameters["learning_rate"])
    assert max(alphas) == max(v for v in offered if v <= edge)  # the last node: the slider's last value on the map
    assert eigenspace.pick_arguments(settings._replace(methods=(("gd", items({"learning_rate": 1.0})),))) is None


def test_with_no_eigen_direction_to_draw_there_is_no_rate_map_grid():
    """An n-D problem with every direction unticked draws no error curve, so the map is a picture, not a control."""
    from ui import eigenspace, viewstate

    view = viewstate.read(eigenspace.declare, {"problem": ["spectrum"]}, {}).state
    settings = eigenspace.settings_of({**view, "directions": []})
    assert settings.directions == () and "momentum" in dict(settings.methods)
    assert eigenspace.pick_arguments(settings) is None and eigenspace.rate_picker(settings) is None
