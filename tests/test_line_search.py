"""Exact and backtracking line searches (optax's) for gradient descent and L-BFGS, against
closed forms on quadratics, a conjugate-gradient written out here, and the Armijo condition."""

import numpy as np
import pytest

from landscapes import get_landscape, quadratic_from_spectrum
from optimizers import LINE_SEARCHES, get_optimizer, run_trajectories, run_trajectory
from optimizers.preconditioners import run_with_preconditioner
from optimizers.line_search import ARMIJO_SLOPE

EXACT, BACKTRACKING = LINE_SEARCHES.index("exact"), LINE_SEARCHES.index("backtracking")


def test_line_search_codes_name_the_searches():
    assert LINE_SEARCHES == ("none", "backtracking", "exact")
    assert dict(get_optimizer("lbfgs", line_search=2).options)["line_search"] == 2
    assert dict(get_optimizer("gd").options)["line_search"] == 0
    with pytest.raises(ValueError, match=r"line_search must lie in \[0, 2\]"):
        get_optimizer("gd", line_search=3)


@pytest.mark.parametrize("learning_rate", [0.1, 1.0, 5.0])
def test_steepest_descent_with_the_exact_search_takes_cauchys_step_and_zig_zags_at_right_angles(learning_rate):
    """On L = ½θᵀAθ the minimiser along −g is η = gᵀg / gᵀAg, the next gradient is orthogonal to the
    last, and from the worst start x ∝ (1/λ₁, 1/λ₂) (in the eigenbasis) each step multiplies the loss by
    exactly ((κ − 1)/(κ + 1))² (Kantorovich; Nocedal & Wright Thm 3.3), whatever α, the first trial, is."""
    kappa = 10.0
    ls = get_landscape("quadratic", condition_number=kappa, angle=0.4)
    a = np.asarray(ls.hessian, np.float64)
    lam, q = np.linalg.eigh(a)
    start = q @ (1.0 / lam)
    start *= 2.0 / np.linalg.norm(start)
    traj = run_trajectory(ls, get_optimizer("gd", learning_rate=learning_rate, line_search=EXACT), x0=start, steps=40)
    assert traj.diverged_at is None
    theta = np.asarray(traj.params, np.float64)
    g = theta[:-1] @ a  # the exact gradient Aθ (minimum at 0)
    cauchy = np.einsum("ij,ij->i", g, g) / np.einsum("ij,jk,ik->i", g, a, g)
    taken = -np.einsum("ij,ij->i", traj.updates, g) / np.einsum("ij,ij->i", g, g)
    np.testing.assert_allclose(taken, cauchy, rtol=1e-5)  # measured: ≤ 3·10⁻⁷
    cosine = np.einsum("ij,ij->i", g[1:], g[:-1]) / (np.linalg.norm(g[1:], axis=1) * np.linalg.norm(g[:-1], axis=1))
    assert np.abs(cosine).max() < 1e-5  # measured: ≤ 4·10⁻⁷
    loss = 0.5 * np.einsum("ij,jk,ik->i", theta, a, theta)
    np.testing.assert_allclose(loss[1:] / loss[:-1], ((kappa - 1) / (kappa + 1)) ** 2, rtol=1e-5)


def conjugate_gradient(a, minimum, x, steps):
    """Hestenes & Stiefel (1952) on ½(x − x*)ᵀA(x − x*), in float64: the iterates."""
    path, r = [x], a @ (x - minimum)
    p = -r
    for _ in range(steps):
        x = x + (r @ r) / (p @ a @ p) * p
        r_next = a @ (x - minimum)
        p = -r_next + (r_next @ r_next) / (r @ r) * p
        r = r_next
        path.append(x)
    return np.array(path)


N = 6


def lbfgs_on_a_quadratic(seed, **settings):
    ls = quadratic_from_spectrum(np.geomspace(0.01, 1.0, N), seed=seed)
    a = np.asarray(ls.hessian, np.float64)
    run = run_with_preconditioner(ls, get_optimizer("lbfgs", memory_size=10, **settings), a, x0=np.ones(N), steps=N + 1)
    theta = np.asarray(run.trajectory.params, np.float64)
    s = np.diff(theta, axis=0)[:N]  # the n pairs the model after n steps holds
    y = s @ a  # y = A s on a quadratic
    h = run.preconditioners[N]  # the two-loop recursion's H built from those n pairs, for step n + 1
    residuals = np.linalg.norm(y @ h.T - s, axis=1) / np.linalg.norm(s, axis=1)  # ‖H yᵢ − sᵢ‖/‖sᵢ‖, oldest first
    inverse = np.linalg.inv(a)
    return ls, a, run.trajectory, residuals, np.linalg.norm(h - inverse) / np.linalg.norm(inverse)


@pytest.mark.parametrize("seed", range(3))
def test_lbfgs_with_exact_searches_is_conjugate_gradient_and_keeps_every_secant_equation(seed):
    """Nocedal & Wright Thm 6.4 / §7.2: on a quadratic, with exact line searches and m ≥ n, L-BFGS
    reproduces CG's iterates, reaches the minimum in n steps, and H yᵢ = sᵢ for every stored pair,
    so H = A⁻¹ once n pairs span the space. Measured: residuals ≤ 2·10⁻⁶, ‖H − A⁻¹‖/‖A⁻¹‖ ≤ 4·10⁻⁷."""
    ls, a, traj, residuals, error = lbfgs_on_a_quadratic(seed, learning_rate=1.0, line_search=EXACT)
    assert traj.diverged_at is None
    minimum = np.asarray(ls.minimum, np.float64)
    cg = conjugate_gradient(a, minimum, np.ones(N), N)
    scale = np.linalg.norm(np.ones(N) - minimum)
    assert np.linalg.norm(np.asarray(traj.params[: N + 1], np.float64) - cg, axis=1).max() < 1e-3 * scale
    relative_loss = np.asarray(traj.loss, np.float64) / float(traj.loss[0])
    assert relative_loss[N - 1] > 1e-8 and relative_loss[N] < 1e-10  # n steps, not fewer (float32: ~10⁻¹³)
    assert residuals.max() < 1e-4
    assert error < 1e-4


def test_lbfgs_with_a_fixed_step_keeps_only_the_newest_secant_equation():
    """The same quadratic (seed 0) with α = 1 and no line search, after n + 1 = 7 steps: measured
    residuals 1.44, 1.07, 0.63, 0.53, 0.21, 0 (oldest → newest) and ‖H − A⁻¹‖/‖A⁻¹‖ = 0.79."""
    _, _, traj, residuals, error = lbfgs_on_a_quadratic(0, learning_rate=1.0)
    assert traj.diverged_at is None
    assert residuals[-1] < 1e-5
    assert residuals[:-1].min() > 0.1
    assert error > 0.5


def rosenbrock_numpy(theta):
    x, y = theta[..., 0], theta[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rosenbrock_gradient_numpy(theta):
    x, y = theta[..., 0], theta[..., 1]
    return np.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], axis=-1)


@pytest.mark.parametrize("name, learning_rate", [("gd", 1.0), ("gd", 0.01), ("lbfgs", 1.0)])
def test_backtracking_satisfies_armijo_at_every_step(name, learning_rate):
    """L(θ + u) ≤ L(θ) + c₁ gᵀu for every update u taken (c₁ = 10⁻⁴), in float64 on Rosenbrock.
    For gradient descent also: the step is α·½ʲ along −g, and twice it fails the condition
    (backtracking takes the first, i.e. longest, step that passes; up to float32 round-off)."""
    ls = get_landscape("rosenbrock")
    traj = run_trajectory(ls, get_optimizer(name, learning_rate=learning_rate, line_search=BACKTRACKING), steps=300)
    assert traj.diverged_at is None
    theta = np.asarray(traj.params, np.float64)
    u, g, loss = np.diff(theta, axis=0), rosenbrock_gradient_numpy(theta[:-1]), rosenbrock_numpy(theta[:-1])
    slack = 1e-5 * loss  # the engine evaluates the loss in float32
    assert np.all(rosenbrock_numpy(theta[1:]) <= loss + ARMIJO_SLOPE * np.einsum("ij,ij->i", g, u) + slack)
    assert loss[-1] < loss[0]
    if name == "lbfgs":
        np.testing.assert_allclose(theta[-1], [1.0, 1.0], atol=1e-3)
        return
    moving = np.linalg.norm(u, axis=1) > 1e-4  # well above float32's spacing near |θ| ≈ 1 (1.2·10⁻⁷)
    assert moving.sum() > 100
    eta = np.linalg.norm(u, axis=1)[moving] / np.linalg.norm(g, axis=1)[moving]
    halvings = np.log2(learning_rate / eta)
    np.testing.assert_allclose(halvings, np.round(halvings), atol=1e-3)
    np.testing.assert_allclose(u[moving], -eta[:, None] * g[moving], rtol=1e-3, atol=1e-6)
    backtracked = np.round(halvings) > 0
    doubled = theta[:-1][moving] - 2 * eta[:, None] * g[moving]
    sufficient = loss[moving] - ARMIJO_SLOPE * 2 * eta * np.einsum("ij,ij->i", g[moving], g[moving])
    assert backtracked.any()
    assert np.all(rosenbrock_numpy(doubled)[backtracked] > sufficient[backtracked] - slack[moving][backtracked])


def test_line_searches_run_batched_on_a_noisy_landscape():
    """On a minibatch the search minimises that sample's loss; every run stays finite and descends."""
    ls = get_landscape("noisy_quadratic")
    for name in ("gd", "lbfgs"):
        for code in (BACKTRACKING, EXACT):
            traj = run_trajectories(ls, get_optimizer(name, line_search=code), ls.default_start, seeds=range(4), steps=60)
            assert traj.diverged_at == [None] * 4
            assert np.all(np.isfinite(traj.params))
            assert np.all(traj.loss[:, -1] < traj.loss[:, 0])


def test_fixed_step_lbfgs_converges_fast_with_h_far_from_the_inverse_hessian():
    """Fast convergence does not need H = A⁻¹ (20-D quadratic, λ 0.01…1, α = 1, m = 10).
    Measured after 80 steps: loss down by a factor 5·10¹⁷, ‖H − A⁻¹‖/‖A⁻¹‖ = 0.55."""
    n = 20
    ls = quadratic_from_spectrum(np.geomspace(0.01, 1.0, n), seed=0)
    a = np.asarray(ls.hessian, np.float64)
    run = run_with_preconditioner(ls, get_optimizer("lbfgs", learning_rate=1.0, memory_size=10), a, x0=np.ones(n), steps=80)
    loss = np.asarray(run.trajectory.loss, np.float64)
    inverse = np.linalg.inv(a)
    error = np.linalg.norm(run.preconditioners[-1] - inverse) / np.linalg.norm(inverse)
    assert loss[-1] < 1e-16 * loss[0]
    assert error > 0.4
