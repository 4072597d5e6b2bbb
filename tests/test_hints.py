"""Every number in the explorer's hints (``ui.explanations``), measured with the library or
derived by hand. Each test first checks that the hint still says what it measures.

The runs reuse ``test_starting_values.run``: the landscape with its default parameters, its
default start, the optimizer's starting values, 300 steps (8 seeds where noisy), any of which a
test may change; hyperparameters, starts and landscape parameters are traced, so these runs
reuse the programs compiled for the starting values.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import LANDSCAPES, get_landscape, hessian_at
from optimizers import OPTIMIZERS, gauss_newton_vector_product
from optimizers.starting_values import CONVERGED, starting_values, target
from test_starting_values import rosenbrock_hessian, run
from ui.explanations import LOOK_FOR, look_for


def says(optimizer: str, landscape: str, *fragments: str):
    hint = look_for(optimizer, landscape)
    for fragment in fragments:
        assert fragment in hint, f"the {optimizer}/{landscape} hint no longer says {fragment!r}"


def steps_between_decades(error: np.ndarray, decades: int) -> np.ndarray:
    """Steps from each tenth of the initial error to the next: the first step below 10⁻ᵈ, d = 1 … decades."""
    relative = error / error[0]
    return np.diff([int(np.argmax(relative < 10.0**-d)) for d in range(1, decades + 1)])


def distance_from(point, result) -> np.ndarray:
    return np.linalg.norm(result.params[0] - np.asarray(point), axis=-1)


def test_every_hint_names_a_known_optimizer_and_landscape():
    assert set(LOOK_FOR) <= set(OPTIMIZERS)
    for hints in LOOK_FOR.values():
        assert set(hints) <= set(LANDSCAPES) | {"*"}


# --- gradient descent ----------------------------------------------------------------
def test_gd_quadratic():
    says("gd", "quadratic", "α > 2/λ_max = 2.0", "largest curvature is 1, whatever κ", "1 − α/κ", "5·10⁻⁴")
    for kappa in (10.0, 1e4):
        hessian = hessian_at(get_landscape("quadratic", condition_number=kappa), [0.0, 0.0])
        assert np.isclose(np.linalg.eigvalsh(hessian)[-1], 1.0)
    assert run("quadratic", "gd", learning_rate=2.2).diverged == 1
    assert run("quadratic", "gd", learning_rate=1.8).final < CONVERGED
    # near α = 2 the steep component (y, λ = 1) changes sign every step
    steep = run("quadratic", "gd", learning_rate=1.9).params[0, :30, 1]
    assert np.all(np.sign(steep[1:]) == -np.sign(steep[:-1]))
    # the shallow component (x, λ = 1/κ) shrinks by 1 − α/κ per step
    for kappa in (10.0, 100.0):
        shallow = run("quadratic", "gd", landscape_parameters=(("condition_number", kappa),)).params[0, :50, 0]
        assert np.allclose(shallow[1:] / shallow[:-1], 1 - 0.1 / kappa, rtol=1e-5)
    assert 4.5e-4 < run("quadratic", "gd").final < 5.5e-4


def test_gd_noise_floor():
    """Per eigen-direction ½λ·Var(x) = αλσ²/(2B(2 − αλ)) (Zhang et al., 2019), reached after ~1/(αλ_min) steps."""
    says("gd", "noisy_quadratic", "αλᵢσ²/(2B(2 − αλᵢ))", "0.012 at α = 1")
    eigenvalues, sigma = np.array([0.1, 1.0]), 0.3

    def floor(alpha, batch):
        return float(np.sum(alpha * eigenvalues * sigma**2 / (2 * batch * (2 - alpha * eigenvalues))))

    assert round(floor(1.0, 4), 3) == 0.012
    measured = {}
    for alpha, batch in ((1.0, 4), (1.0, 16), (0.3, 4)):
        result = run("noisy_quadratic", "gd", learning_rate=alpha, landscape_parameters=(("batch_size", batch),))
        measured[alpha, batch] = result.excess[:, 150:].mean()
        assert measured[alpha, batch] == pytest.approx(floor(alpha, batch), rel=0.15)
    assert measured[0.3, 4] < measured[1.0, 4] and measured[1.0, 16] < measured[1.0, 4]


def test_gd_rosenbrock():
    says("gd", "rosenbrock", "1506 at the start and 1002 at the minimum", "α < 2/λ_max = 2.0·10⁻³",
         "α = 0.1 leaves the landscape at step 2", "α = 10⁻³", "L ≈ 3 after 300 steps")  # fmt: skip
    # the numbers 1506, 1002 and 2.0·10⁻³ and the departure at step 2: test_starting_values
    _, vectors = np.linalg.eigh(rosenbrock_hessian(1.0, 1.0))
    nudged = tuple(1.0 + 1e-3 * vectors[:, -1])  # off the minimum along the steepest direction
    assert distance_from((1, 1), run("rosenbrock", "gd", x0=nudged, learning_rate=1.8e-3))[-1] < 1e-5
    assert distance_from((1, 1), run("rosenbrock", "gd", x0=nudged, learning_rate=2.2e-3))[-1] > 1e-2
    assert 2.5 < run("rosenbrock", "gd").final < 3.5


# --- momentum -------------------------------------------------------------------------
def test_momentum_quadratic_stability():
    says("momentum", "quadratic", "α > (2 + 2β)/λ_max, 3.8 here at β = 0.9")
    assert run("quadratic", "momentum", learning_rate=3.6).final < CONVERGED
    assert run("quadratic", "momentum", learning_rate=3.9).diverged == 1


def test_optimal_momentum_steps_per_decade():
    """At the best parameters the error shrinks by r = (√κ − 1)/(√κ + 1) per step (GD: (κ − 1)/(κ + 1)),
    so a decade takes ln 10 / ln(1/r) ≈ (ln 10 / 2)·√κ = 1.15√κ steps; momentum's critically damped error
    also carries a factor 1 + k(1 − r), which adds a step or two per decade."""
    says("momentum", "quadratic", "about 1.15√κ steps, against 1.15κ")
    says("momentum", "quadratic", "κ = 100, 12–14 steps per decade against 115")
    kappa = 100.0
    root = math.sqrt(kappa)
    assert round(math.log(10) / math.log((root + 1) / (root - 1)), 1) == round(math.log(10) / 2 * root, 1) == 11.5
    assert round(math.log(10) / math.log((kappa + 1) / (kappa - 1))) == 115
    parameters = (("condition_number", kappa),)
    alpha, beta = (2 / (1 / root + 1)) ** 2, ((root - 1) / (root + 1)) ** 2
    heavy_ball = run("quadratic", "momentum", landscape_parameters=parameters, learning_rate=alpha, momentum=beta)
    best_gd_rate = 2 / (1 / kappa + 1)
    gradient_descent = run("quadratic", "gd", steps=500, landscape_parameters=parameters, learning_rate=best_gd_rate)
    assert set(steps_between_decades(distance_from((0, 0), heavy_ball), 5)) <= {12, 13, 14}
    assert set(steps_between_decades(distance_from((0, 0), gradient_descent), 4)) <= {114, 115, 116}


def test_momentum_rosenbrock():
    says("momentum", "rosenbrock", "λ_max = 1002", "α < (2 + 2β)/λ_max = 3.8·10⁻³", "leaves the landscape at step 2",
         "L ≈ 0.01 after 300 steps, where gradient descent is at 3")  # fmt: skip
    _, vectors = np.linalg.eigh(rosenbrock_hessian(1.0, 1.0))
    nudged = tuple(1.0 + 1e-3 * vectors[:, -1])
    assert distance_from((1, 1), run("rosenbrock", "momentum", x0=nudged, learning_rate=3.6e-3))[-1] < 1e-4
    assert distance_from((1, 1), run("rosenbrock", "momentum", x0=nudged, learning_rate=3.9e-3))[-1] > 1e-2
    assert 0.005 < run("rosenbrock", "momentum").final < 0.015


# --- Nesterov -------------------------------------------------------------------------
def test_nesterov_quadratic_stability():
    """z ← βz + λx, x ← x − α(λx + βz) is (x, αz) ↦ [[1 − u(1 + β), −β²], [u, β]] (x, αz), u = αλ: its
    characteristic polynomial t² − (1 + β)(1 − u)t + β(1 − u) has a root −1 at u = (2 + 2β)/(1 + 2β)."""
    says("nesterov", "quadratic", "(2 + 2β)/(1 + 2β), that is α > 1.36 here at β = 0.9", "stable up to 3.8")
    beta = 0.9
    threshold = (2 + 2 * beta) / (1 + 2 * beta)
    assert round(threshold, 2) == 1.36

    def spectral_radius(u):
        return max(abs(np.linalg.eigvals(np.array([[1 - u * (1 + beta), -(beta**2)], [u, beta]]))))

    assert spectral_radius(threshold - 0.01) < 1 < spectral_radius(threshold + 0.01)
    assert run("quadratic", "nesterov", learning_rate=1.3).final < CONVERGED
    assert run("quadratic", "nesterov", learning_rate=1.5).diverged == 1


def test_nesterov_rosenbrock():
    says("nesterov", "rosenbrock", "α = 0.1 leaves the landscape at step 2 (λ_max = 1506", "L ≈ 0.02 in 300 steps")
    assert 0.015 < run("rosenbrock", "nesterov").final < 0.025


# --- Adam and RMSProp -------------------------------------------------------------------
def test_adam_quadratic_converges():
    says("adam", "quadratic", "first step is α in each coordinate", "α = 0.05, L − L* is below 10⁻¹³ after 300 steps",
         "‖θ − θ*‖ ≈ 4·10⁻⁷", "RMSProp")  # fmt: skip
    result = run("quadratic", "adam")
    steps = np.diff(result.params[0], axis=0)
    assert np.allclose(np.abs(steps[0]), 0.05, rtol=1e-5)  # m̂/√v̂ = g/|g| on the first step
    assert np.abs(steps[-100:]).max() < 1e-5
    assert result.final < 1e-13
    assert 3e-7 < distance_from((0, 0), result)[-1] < 5e-7


def test_adam_rosenbrock():
    says("adam", "rosenbrock", "α = 0.05 it is at L ≈ 1.2 after 300 steps", "α = 10⁻³ is at 3")
    assert 1.1 < run("rosenbrock", "adam").final < 1.3


def test_rmsprop_jitters_on_the_quadratic():
    says("rmsprop", "quadratic", "1/(1 − ρ) = 10 steps", "reach 0.03 in the last 100 of 300 steps (L − L* ≈ 10⁻⁵)",
         "α = 0.1 it bounces by 0.1 per coordinate (L − L* ≈ 1.4·10⁻³)")  # fmt: skip
    small = run("quadratic", "rmsprop")  # its starting α = 0.01
    assert 0.025 < np.linalg.norm(np.diff(small.params[0, -101:], axis=0), axis=-1).max() < 0.035
    assert 5e-6 < small.final < 2e-5
    large = run("quadratic", "rmsprop", learning_rate=0.1)
    assert np.allclose(np.abs(np.diff(large.params[0, -101:], axis=0)).mean(axis=0), 0.1, rtol=0.01)
    assert 1.3e-3 < large.final < 1.5e-3


# --- Newton and saddle-free Newton ---------------------------------------------------
def test_newton_quadratic_one_step():
    says("newton", "quadratic", "one step, whatever κ")
    for kappa in (10.0, 1e4):
        assert run("quadratic", "newton", landscape_parameters=(("condition_number", kappa),)).excess[0, 1] < 1e-12


def test_newton_keeps_one_batch_of_noise():
    """Newton lands on each minibatch's minimum c ~ N(θ*, σ²A⁻¹/B): L − L* = ½(c − θ*)ᵀA(c − θ*), mean σ²n/(2B);
    the steps' samples are independent, so 8 seeds × 200 steps pin the mean to a few per cent."""
    says("newton", "noisy_quadratic", "σ²n/(2B) = 0.0225 here (n = 2)")
    assert run("noisy_quadratic", "newton").excess[:, 100:].mean() == pytest.approx(0.0225, rel=0.1)


def test_newton_at_the_saddles():
    says("newton", "saddle", "|y| = 0.3 is below 1/√3", "3y² − 1, is negative")
    saddle = get_landscape("saddle")
    x, y = saddle.default_start
    assert abs(y) < 1 / math.sqrt(3)
    assert np.isclose(hessian_at(saddle, saddle.default_start)[1, 1], 3 * y**2 - 1) and 3 * y**2 - 1 < 0
    says("newton", "pure_saddle", "One step lands exactly on the saddle")
    assert np.all(run("pure_saddle", "newton").params[0, 1] == 0.0)


def test_newton_rosenbrock_jumps_uphill_first():
    says("newton", "rosenbrock", "climbs from 24 to about 1400 at step 2")
    loss = run("rosenbrock", "newton").loss[0]
    assert round(loss[0]) == 24 and int(np.argmax(loss)) == 2 and 1300 < loss[2] < 1500
    assert loss[-1] < CONVERGED


def test_saddle_free_newton_at_the_saddles():
    says("saddle_free_newton", "saddle", "within 7 steps")
    assert int(np.argmax(run("saddle", "saddle_free_newton").excess[0] < CONVERGED)) <= 7
    says("saddle_free_newton", "pure_saddle", "nearly doubling y every step", "|H| = I")
    assert np.allclose(np.abs(np.linalg.eigvalsh(hessian_at(get_landscape("pure_saddle"), [0.3, -0.2]))), 1.0)
    y = run("pure_saddle", "saddle_free_newton").params[0, :10, 1]
    assert np.all((1.99 < y[1:] / y[:-1]) & (y[1:] / y[:-1] <= 2.0))


# --- Gauss–Newton, L-BFGS, mL-BFGS -----------------------------------------------------
def test_gauss_newton_has_no_curvature_along_y_at_the_saddle():
    says("damped_ggn", "saddle", "curvature along y is zero")
    saddle = get_landscape("saddle")
    along_y = gauss_newton_vector_product(saddle.residuals, jnp.zeros(2))(jnp.array([0.0, 1.0]))
    assert np.allclose(along_y, 0.0)
    for name in ("damped_ggn", "adamqlr"):
        says(name, "pure_saddle", "no convex outer loss ℓ∘f")  # the engine's refusal: test_starting_values


def test_lbfgs_quadratic_and_under_noise():
    says("lbfgs", "quadratic", "L − L* < 10⁻¹²) within 7 steps at α = 1")
    assert int(np.argmax(run("quadratic", "lbfgs").excess[0] < 1e-12)) <= 7
    says("lbfgs", "noisy_quadratic", "at α = 1 some of the 8 seeds leave the landscape within 300 steps")
    assert run("noisy_quadratic", "lbfgs").diverged >= 1


def test_mlbfgs_under_noise_stays_below_its_start():
    says("mlbfgs", "noisy_quadratic", "none of the 8 seeds climbs above its starting loss or leaves")
    says("mlbfgs", "noisy_quadratic", "where plain L-BFGS's do")
    smoothed, plain = run("noisy_quadratic", "mlbfgs"), run("noisy_quadratic", "lbfgs")
    assert smoothed.diverged == 0 and np.all(smoothed.excess <= smoothed.excess[:, :1])
    assert plain.diverged >= 1 and np.any(plain.excess > plain.excess[:, :1])


def test_mlbfgs_rosenbrock():
    says("mlbfgs", "rosenbrock", "β = 0.99 for both averages, a pair every T = 20 steps", "1/(1 − β) = 100 steps",
         "L ≈ 0.8 after 300 steps and leaves the landscape at step 540", "β = 0 and T = 3, and converges")  # fmt: skip
    # the registry's values, 0.8 and step 540: test_starting_values; converging from β = 0, T = 3: its table
    chosen = starting_values("rosenbrock", "mlbfgs")
    assert (chosen["param_decay"], chosen["grad_decay"], chosen["pair_interval"]) == (0.0, 0.0, 3)


# --- the new landscapes ------------------------------------------------------------------------
def test_gd_beale():
    says("gd", "beale", "α = 0.1 leaves the landscape at step 2 (λ_max = 281.5 at the start)",
         "At α = 0.01 it is at L ≈ 0.007 after 300 steps", "0.30 along it and 49 across")  # fmt: skip
    # 281.5, 0.30 and 49: test_starting_values (the reasons on Beale); here the run and the override
    assert starting_values("beale", "gd")["learning_rate"] == 0.01
    assert run("beale", "gd", learning_rate=0.1).diverged_at == [2]
    assert 0.0065 < run("beale", "gd").final < 0.0085


def test_gd_rastrigin_settles_in_the_starts_ripple():
    says("gd", "rastrigin", "from (2.7, −1.6)", "(2.98, −1.99)", "L = 12.93", "2 + 4π²A = 397",
         "α < 2/397 = 5.0·10⁻³", "α = 10⁻³")  # fmt: skip
    ls = get_landscape("rastrigin")
    assert np.allclose(ls.default_start, [2.7, -1.6]) and float(ls.a) == 10.0
    assert round(2 + 4 * math.pi**2 * 10) == 397 and round(2 / 397, 4) == 0.0050
    assert starting_values("rastrigin", "gd")["learning_rate"] == 1e-3
    result = run("rastrigin", "gd")
    assert np.allclose(result.params[0, -1], [2.9849, -1.9899], atol=1e-3) and round(result.final, 2) == 12.93
    assert ls.minimum_loss == 0.0 and float(ls.loss(jnp.zeros(2))) == 0.0  # the global minimum it never sees


def test_gd_custom_follows_the_valley_until_it_is_too_narrow():
    says("gd", "custom", "towards y → −∞", "towards 2.25", "L = 0 at (3, 0.5)", "2/α = 200 at α = 0.01",
         "189 where it ends, near y = −3.1")  # fmt: skip
    # the valley's floor falling towards 2.25: test_starting_values
    assert starting_values("custom", "gd")["learning_rate"] == 0.01
    result = run("custom", "gd")
    end = result.params[0, -1]
    assert round(end[1], 1) == -3.1 and result.final > 2.25
    assert round(float(np.linalg.eigvalsh(hessian_at(get_landscape("custom"), end))[-1])) == 189
    assert float(get_landscape("custom").loss(jnp.array([3.0, 0.5]))) == 0.0


def test_himmelblau_minimum_depends_on_the_method():
    says("momentum", "himmelblau", "from (0, 0) at α = 0.01", "ends at (3, 2)", "at (3.58, −1.85)")
    assert starting_values("himmelblau", "gd")["learning_rate"] == starting_values("himmelblau", "momentum")["learning_rate"] == 0.01
    assert np.allclose(run("himmelblau", "gd").params[0, -1], [3.0, 2.0], atol=1e-4)
    assert np.allclose(run("himmelblau", "momentum").params[0, -1], [3.5844, -1.8481], atol=1e-4)


def test_newton_climbs_to_himmelblaus_maximum():
    says("newton", "himmelblau", "both curvatures are negative (−42 and −26)", "(−0.27, −0.92), L = 181.6",
         "within 3 steps")  # fmt: skip
    ls = get_landscape("himmelblau")
    assert np.allclose(np.linalg.eigvalsh(hessian_at(ls, [0.0, 0.0])), [-42.0, -26.0])
    result = run("himmelblau", "newton")
    assert np.allclose(result.params[0, 3:], [-0.2708, -0.9230], atol=1e-3) and round(result.final, 1) == 181.6


def test_newton_on_beales_plateau():
    says("newton", "beale", "the saddle (0, 1) within 5 steps", "plateau x = 0 where L = 14.2 whatever y")
    ls = get_landscape("beale")
    plateau = [float(ls.loss(jnp.array([0.0, y]))) for y in np.linspace(-4, 4, 9)]
    assert np.allclose(plateau, 1.5**2 + 2.25**2 + 2.625**2) and round(plateau[0], 1) == 14.2
    assert np.allclose(run("beale", "newton").params[0, 5:], [0.0, 1.0], atol=1e-6)


def test_newton_lands_on_the_linear_nets_saddle_in_two_steps():
    says("newton", "linear_net", "in two steps", "L ≈ ½ − w₁w₂")
    result = run("linear_net", "newton")
    assert np.abs(result.params[0, 1]).max() > 1e-4 and np.allclose(result.params[0, 2:], 0.0, atol=1e-7)
    w = np.array([0.1, 0.05])  # ½(1 − w₁w₂)² = ½ − w₁w₂ + ½(w₁w₂)²: the last term is 1.25·10⁻⁵ here
    assert 0.5 * (1 - w[0] * w[1]) ** 2 - (0.5 - w[0] * w[1]) == pytest.approx(0.5 * (w[0] * w[1]) ** 2)


def test_gauss_newton_on_rastrigin_and_the_custom_formula():
    says("damped_ggn", "rastrigin", "mirror minimum (2.98, 1.99), as high, L = 12.93")
    result = run("rastrigin", "damped_ggn")
    assert np.allclose(result.params[0, -1], [2.9849, 1.9899], atol=1e-3) and round(result.final, 2) == 12.93
    says("damped_ggn", "custom", "the only method here that reaches the minimum (3, 0.5)")
    reaching = [o for o in OPTIMIZERS if target("custom", o).outcome == "converges"]
    assert reaching == ["damped_ggn"] and np.allclose(run("custom", "damped_ggn").params[0, -1], [3.0, 0.5], atol=1e-4)


# --- the new optimizers ------------------------------------------------------------------------
def test_adadelta_quadratic():
    says("adadelta", "quadratic", "ε = 10⁻⁶ its first step is 0.003", "still 0.12 after 300 steps", "ε = 10⁻⁴, 0.03")
    # the first steps √(ε/(1 − ρ)) and the 0.12: test_starting_values; converging from ε = 10⁻⁴: its table
    assert starting_values("quadratic", "adadelta")["eps"] == 1e-4
    assert run("quadratic", "adadelta").final < CONVERGED


def test_the_new_optimizers_hints_name_their_sources():
    says("yogi", "*", "(1 − β₂)g²", "Zaheer et al., 2018")
    says("adadelta", "*", "√(ε/(1 − ρ))", "Zeiler, 2012")
    says("parabola", "*", "Duda, 2019")
    for name, source in (("yogi", "Zaheer"), ("adadelta", "Zeiler"), ("parabola", "Duda")):
        assert source in OPTIMIZERS[name].explanation
