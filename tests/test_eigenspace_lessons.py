"""The Eigenspace lessons say only what is measured: every lesson states its claims (``[[claims]]``)
and each one is checked here with the library alone (``landscapes``, ``optimizers``), from the
lesson's own view state, not from the page.

A claim is a table: ``claim`` (its kind), ``method`` (an optimizer of the lesson), and the kind's
own entries below. ``with`` moves controls first, in the link's spelling, as
``?lesson=<name>&<key>=<value>`` would (``with = { "lbfgs.line_search" = "none" }``). Directions
are numbered as on the page, from the smallest eigenvalue (1). Steps count from 0 (the start).

    rate            the measured error's rate along ``direction``, ``value`` ± ``tolerance``: the
                    largest root of the recursion xᵏ⁺¹ = a xᵏ (GD) or a xᵏ + b xᵏ⁻¹ (momentum)
                    fitted to the run's xᵢ from step ``from`` (0) to ``to`` (the end)
    decade_steps    ln 10 / −ln(that rate) is ``value`` ± ``tolerance``
    decade_crossings  the steps between the envelope's crossings of 10⁻¹, 10⁻², … (relative to
                    |xᵢ⁰|) lie in [``low``, ``high``] (with median ``median``; the first crossing
                    at step ``first``)
    factor          xᵢᵏ⁺¹/xᵢᵏ (median over the first ``WINDOW`` steps, signed) is ``value`` ± ``tolerance``
    closed_form     max over steps and directions of |x − closed form| ≤ ``tolerance``·max|x⁰|
    error_ratio     |xᵢ| at ``step`` (the end) over |xᵢ⁰|: ``value`` ± ``tolerance`` or below ``below``;
                    without ``direction`` every direction
    error_norm      ‖x‖ at ``step`` over ‖x⁰‖ is below ``below``
    step_median     the median step length ‖xᵏ⁺¹ − xᵏ‖ from step ``from`` on is below ``below`` / above ``above``
    sign_changes    xᵢ changes sign ``value`` times (or at least ``at_least``)
    diverges        the run stops (diverges) at ``step``
    seeds_diverge   ``value`` of ``seeds`` seeds (seed, seed + 1, …) diverge
    nearest_at_end  the method ends nearest the minimum of the lesson's methods
    loss            the loss at ``step`` is ``value`` ± ``tolerance``, or below ``below``
    eigenvalues     the problem's eigenvalues (or, given two, its smallest and largest) are ``values``
                    (relative ``tolerance``)
    condition_number  λₙ/λ₁ is ``value`` ± ``tolerance``
    critical_point  the quadratic's centre θ* is ``values``
    settings        the lesson's controls hold ``values`` (a table of link keys and values)
    at_optimum      the lesson's α (and β) are the closed forms' optimal ones, to 6 figures
    no_optimum      no optimal GD or momentum parameters exist (a negative eigenvalue)
    theory_rate     the closed-form rate (of ``direction``, or the slowest) is ``value`` ± ``tolerance``
    theory_decade_steps  ln 10 / −ln(closed-form rate) is ``value`` ± ``tolerance`` (and, rounded to
                    two figures, ``per_sqrt_kappa``·√κ)
    roots           momentum's R has ``kind`` (real, repeated, complex) roots along ``direction``
                    (repeated: |T² − 4β| ≤ ``within``·max(T², 4β), default 10⁻⁹)
    rate_band       momentum at the lesson's β: the rate is √β for every α in [``low``, ``high``],
                    and above it just outside
    critical_momentum  (1 − √(αλᵢ))² is ``value``
    complex_for_every_momentum  along ``direction`` the roots are complex for every β in (0, 1)
    stability_limit  momentum along ``direction``: rate < 1 just below αλ = ``value``, > 1 just above
    grows_for_every_step  GD's factor 1 − αλᵢ exceeds 1 for every α the slider offers
    first_within    the first step whose P·H has every |ln μ| ≤ ``tolerance`` is ``step``
    stays_within    from ``from`` to the end every |ln μ| ≤ ``tolerance``
    never_within    no step has every |ln μ| ≤ ``tolerance`` (the page's 10 %: 0.1)
    final_ph_range  the last step's μ span ``low`` to ``high`` (relative ``tolerance``)
    ph              μ is ``value`` ± ``tolerance`` at every step from ``from`` (1) on; μ is the
                    ``index``-th smallest eigenvalue of P·H (a line of the page's chart), or μ along
                    eigen-direction ``direction``, λᵢ qᵢᵀPqᵢ
    ph_range        μ lies in [``low``, ``high``] from ``from`` on
    ph_median       the median of μ from ``from`` on: ``value`` ± ``tolerance`` or below ``below``
    ph_max          the largest μ of the run (any step, any index) is ``value`` ± ``tolerance`` (at a
                    step within 10 of ``near_step``)
    error_change    |xᵢ| at step ``to`` over |xᵢ| at step ``from`` is ``value`` ± ``tolerance`` (or below
                    ``below``)
    pairs_within_degrees  the pairs s of the last step's model (L-BFGS, mL-BFGS: the newest m) lie
                    within ``value`` degrees of each other (as lines)
    pairs_exact     those pairs have ‖y − As‖ ≤ ``tolerance``‖As‖
    pairs_noisy     those pairs have a median ‖y‖/‖As‖ of at least ``above``
    secant          at every step from ``from`` (3, the first with two pairs) to ``to`` (the end),
                    P yⱼ = sⱼ (to ``tolerance``, relative to ‖sⱼ‖) for the newest pair, and for the older ones too (``holds`` =
                    "all") or not (``holds`` = "newest": some older residual above ``older_above``)
    same_as_cg      the iterates up to ``steps`` are conjugate gradient's (float64) to within
                    ``tolerance``·‖x⁰‖

The batch-size section (``optimizers.nqm``, at the lesson's ``nqm.*`` controls) has claims of its own,
on ``nqm_method`` (one of ``nqm.METHODS``), plain or, with ``variant = true``, with the section's EMA
and decay; ``batch`` is a batch size of the study's grid:

    nqm_steps       the best steps to the target at ``batch`` are ``value``
    nqm_steps_from  the best steps are ``value`` at ``batch`` and at every larger batch
    nqm_critical    the critical batch size is ``value`` ± ``tolerance``
    nqm_scaling     from B = 1 to ``to`` each doubling multiplies the steps by ``low`` … ``high``
    nqm_best_learning_rate  the best α at ``batch`` is ``value`` ± ``tolerance``
    nqm_best_momentum  the best β at ``batch`` is ``value``
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import pytest

from landscapes import get_landscape, ill_conditioned_quadratic, log_uniform_spectrum, minibatch_quadratic
from landscapes import quadratic_from_spectrum
from landscapes.local_model import critical_point_model
from optimizers import OPTIMIZERS, get_optimizer, nqm, run_trajectory, theory
from optimizers.preconditioners import PRECONDITIONED, distance_from_newton, first_step_within, observer
from optimizers.preconditioners import run_with_preconditioner
from ui import controls, eigenspace, lessons, viewstate

LESSONS = lessons.load(eigenspace.PAGE, eigenspace.declare).lessons
VIEWS = {name: lesson.view for name, lesson in LESSONS.items()}
WINDOW = 10  # the steps a factor is measured over


# --- the lesson's settings and runs, from the library ------------------------------------------
def lesson_state_of(name: str, moved: dict | None = None) -> dict:
    """The lesson's view state, with ``moved`` controls as a link would move them (no note allowed)."""
    query = {viewstate.LESSON: [name]}
    query.update({key: list(lessons.link_texts(value)) for key, value in (moved or {}).items()})
    reading = viewstate.read(eigenspace.declare, query, VIEWS)
    assert not reading.notes, [note.plain() for note in reading.notes]
    return reading.state


def lesson_settings(name: str, moved: dict | None = None) -> eigenspace.Settings:
    return eigenspace.settings_of(lesson_state_of(name, moved))


def fields_of(state: dict) -> dict:
    return viewstate.fields_of(eigenspace.declare, state)


class Problem(NamedTuple):
    eigenvalues: np.ndarray  # ascending, float64
    eigenvectors: np.ndarray  # columns
    minimum: np.ndarray
    hessian: np.ndarray
    quadratic: object
    start: np.ndarray


@functools.cache
def problem_of(problem: str, parameters) -> Problem:
    values = dict(parameters)
    if problem == "quadratic":
        quadratic = ill_conditioned_quadratic(values["condition_number"], values["angle"])
    elif problem == "spectrum":
        spectrum = log_uniform_spectrum(values["dimension"], values["lambda_min"], values["lambda_max"])
        quadratic = quadratic_from_spectrum(spectrum, seed=0)
    else:
        quadratic = critical_point_model(get_landscape(problem), "minimum" if problem == "rosenbrock" else "saddle")
    lam = np.asarray(quadratic.eigenvalues, np.float64)
    q = np.asarray(quadratic.eigenvectors, np.float64)
    minimum = np.asarray(quadratic.minimum, np.float64)
    # the page's start: n-D, every eigen-component of the error at 1; 2-D, the landscape's default start
    start = minimum + q @ np.ones(lam.size) if problem == "spectrum" else np.asarray(quadratic.default_start)
    return Problem(lam, q, minimum, (q * lam) @ q.T, quadratic, start.astype(np.float32))


class Run(NamedTuple):
    components: np.ndarray  # (steps + 1, n): x = Qᵀ(θ − θ*), cut where the run diverged
    loss: np.ndarray
    diverged_at: int | None
    predicted: np.ndarray | None  # the closed form
    spectrum: np.ndarray | None  # (steps, n): eigenvalues of P·H, ascending
    along: np.ndarray | None  # (steps, n): λᵢ qᵢᵀ P qᵢ
    matrices: np.ndarray | None  # (steps, n, n): P for each step
    memory: object | None  # L-BFGS, mL-BFGS: the stored pairs after each step (s, y, count)
    memory_size: int | None  # m: the two-loop recursion uses the newest m pairs


def landscape_of(settings: eigenspace.Settings):
    return minibatch_quadratic(problem_of(settings.problem, settings.parameters).quadratic, settings.noise_scale,
                               settings.batch_size)  # fmt: skip


@functools.cache
def method_run(settings: eigenspace.Settings, name: str) -> Run:
    problem = problem_of(settings.problem, settings.parameters)
    values = dict(dict(settings.methods)[name])
    optimizer = get_optimizer(name, **values)
    spectrum = along = matrices = memory = None
    if name in PRECONDITIONED:
        run = run_with_preconditioner(landscape_of(settings), optimizer, problem.hessian, problem.start, settings.steps,
                                      settings.seed)  # fmt: skip
        trajectory, spectrum = run.trajectory, run.spectrum
        q, lam = problem.eigenvectors, problem.eigenvalues
        matrices = run.preconditioners
        along = lam * np.einsum("ji,sjk,ki->si", q, matrices, q)
        if name in ("lbfgs", "mlbfgs"):
            memory = trajectory.observed
    else:
        trajectory = run_trajectory(landscape_of(settings), optimizer, problem.start, settings.steps, settings.seed)
    end = settings.steps + 1 if trajectory.diverged_at is None else trajectory.diverged_at
    components = ((np.asarray(trajectory.params, np.float64) - problem.minimum) @ problem.eigenvectors)[:end]
    predicted = theory.theory_components(name, problem.eigenvalues, components[0], values, settings.steps)
    return Run(components, np.asarray(trajectory.loss, np.float64)[:end], trajectory.diverged_at, predicted, spectrum,
               along, matrices, memory, values.get("memory_size"))  # fmt: skip


def newest_pairs(run: Run, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (s, y) the model P of step ``index`` + 1 is built from, oldest first: the newest m stored."""
    count = int(np.asarray(run.memory.count)[index])
    capacity = run.memory.s.shape[1]
    slots = [(count - 1 - j) % capacity for j in range(min(count, run.memory_size, capacity))][::-1]
    return np.asarray(run.memory.s, np.float64)[index, slots], np.asarray(run.memory.y, np.float64)[index, slots]


def secant_residuals(run: Run, index: int) -> np.ndarray:
    """‖P yⱼ − sⱼ‖/‖sⱼ‖ for each pair of step ``index`` + 1's model, oldest first."""
    s, y = newest_pairs(run, index)
    return np.linalg.norm(y @ run.matrices[index].T - s, axis=1) / np.linalg.norm(s, axis=1)


def conjugate_gradient(problem: Problem, steps: int) -> np.ndarray:
    """Conjugate gradient's iterates x = Qᵀ(θ − θ*) from the page's start, in float64 (Hestenes–Stiefel)."""
    lam = problem.eigenvalues
    x = (problem.start.astype(np.float64) - problem.minimum) @ problem.eigenvectors
    residual = -lam * x
    direction, iterates = residual.copy(), [x.copy()]
    for _ in range(steps):
        step = residual @ residual / (direction @ (lam * direction))
        x = x + step * direction
        new = residual - step * lam * direction
        direction = new + (new @ new) / (residual @ residual) * direction
        residual = new
        iterates.append(x.copy())
    return np.array(iterates)


@functools.cache
def diverged_seeds(settings: eigenspace.Settings, name: str, seeds: int) -> int:
    """How many of the seeds ``seed`` … ``seed + seeds − 1`` diverge: each run as the page makes it with
    that seed (recording the curvature model, so the program compiled for the lesson's run serves)."""
    problem = problem_of(settings.problem, settings.parameters)
    optimizer = get_optimizer(name, **dict(dict(settings.methods)[name]))
    landscape = landscape_of(settings)
    runs = [run_trajectory(landscape, optimizer, problem.start, settings.steps, seed, observe=observer(name))
            for seed in settings.seed + np.arange(seeds)]  # fmt: skip
    return sum(run.diverged_at is not None for run in runs)


# --- measurements -------------------------------------------------------------------------------
def fitted_rate(x: np.ndarray, start: int, stop: int, order: int) -> float:
    """The rate of the measured error itself: the largest root (in modulus) of the linear recursion
    fitted by least squares to xᵏ, k = start … stop: xᵏ⁺¹ = a xᵏ (order 1, GD) or a xᵏ + b xᵏ⁻¹
    (order 2, momentum). Unlike a ratio of amplitudes it does not depend on where an oscillation is."""
    x = x[start : stop + 1]
    rows = np.stack([x[order - 1 - j : len(x) - 1 - j] for j in range(order)], axis=1)
    coefficients = np.linalg.lstsq(rows, x[order:], rcond=None)[0]
    return float(np.abs(np.roots(np.concatenate([[1.0], -coefficients]))).max())


def measured_rate(run: Run, claim: dict, settings) -> float:
    order = 1 if claim["method"] == "gd" else 2
    stop = claim.get("to", len(run.components) - 1)
    return fitted_rate(run.components[:, claim["direction"] - 1], claim.get("from", 0), stop, order)


def decade_crossings(x: np.ndarray) -> np.ndarray:
    """The first step after which |x| stays below 10⁻ᵏ|x⁰|, for each decade k reached."""
    envelope = np.maximum.accumulate(np.abs(x)[::-1])[::-1] / abs(x[0])
    return np.array([int(np.argmax(envelope < 10.0**-k)) for k in range(1, 40) if envelope[-1] < 10.0**-k])


def near(measured: float, claim: dict) -> bool:
    return abs(measured - claim["value"]) <= claim["tolerance"]


def momentum_values(settings, name):
    values = dict(dict(settings.methods)[name])
    return float(values["learning_rate"]), float(values.get("momentum", 0.0))


def mu_of(run: Run, claim: dict) -> np.ndarray:
    """μ from step ``from`` (1-based, default 1) on: the ``index``-th smallest eigenvalue of P·H (a line
    of the page's chart), or μ along eigen-direction ``direction``, λᵢ qᵢᵀPqᵢ."""
    rows = slice(claim.get("from", 1) - 1, None)
    if "index" in claim:
        return run.spectrum[rows, claim["index"] - 1]
    return run.along[rows, claim["direction"] - 1]


def check_claim(name: str, claim: dict):
    settings = lesson_settings(name, claim.get("with"))
    problem = problem_of(settings.problem, settings.parameters)
    lam = problem.eigenvalues
    kind, method = claim["claim"], claim.get("method")
    i = claim.get("direction", 1) - 1
    run = method_run(settings, method) if method and kind not in THEORY else None
    if kind == "rate":
        rate = measured_rate(run, claim, settings)
        assert near(rate, claim), rate
    elif kind == "decade_steps":
        steps = math.log(10) / -math.log(measured_rate(run, claim, settings))
        assert near(steps, claim), steps
    elif kind == "decade_crossings":
        gaps = np.diff(decade_crossings(run.components[:, i]))
        assert gaps.size >= 2 and claim["low"] <= gaps.min() and gaps.max() <= claim["high"], gaps
        assert "median" not in claim or np.median(gaps) == claim["median"], gaps
        assert "first" not in claim or decade_crossings(run.components[:, i])[0] == claim["first"]
    elif kind == "factor":
        x = run.components[: WINDOW + 1, i]
        factor = float(np.median(x[1:] / x[:-1]))
        assert near(factor, claim), factor
    elif kind == "closed_form":
        deviation = np.abs(run.components - run.predicted[: len(run.components)]).max()
        deviation /= np.abs(run.components[0]).max()
        assert deviation <= claim["tolerance"], deviation
    elif kind == "error_ratio":
        step = claim.get("step", settings.steps)
        ratio = np.abs(run.components[step]) / np.abs(run.components[0])
        ratio = ratio[i] if "direction" in claim else ratio.max()
        assert ratio < claim["below"] if "below" in claim else near(ratio, claim), ratio
    elif kind == "error_change":
        ratio = abs(run.components[claim["to"], i] / run.components[claim["from"], i])
        assert ratio < claim["below"] if "below" in claim else near(ratio, claim), ratio
    elif kind == "error_norm":
        ratio = np.linalg.norm(run.components[claim["step"]]) / np.linalg.norm(run.components[0])
        assert ratio < claim["below"], ratio
    elif kind == "step_median":
        lengths = np.linalg.norm(np.diff(run.components, axis=0), axis=1)[claim["from"] :]
        median = float(np.median(lengths))
        assert median < claim["below"] if "below" in claim else median > claim["above"], median
    elif kind == "sign_changes":
        signs = np.sign(run.components[:, i])
        changes = int((np.diff(signs[signs != 0]) != 0).sum())
        assert changes >= claim["at_least"] if "at_least" in claim else changes == claim["value"], changes
    elif kind == "diverges":
        assert run.diverged_at == claim["step"], run.diverged_at
    elif kind == "seeds_diverge":
        count = diverged_seeds(settings, method, claim["seeds"])
        assert count == claim["value"], count
    elif kind == "nearest_at_end":
        ends = {n: np.linalg.norm(method_run(settings, n).components[-1]) for n, _ in settings.methods}
        assert all(method_run(settings, n).diverged_at is None for n in ends)
        assert min(ends, key=ends.get) == method, ends
    elif kind == "loss":
        loss = run.loss[claim["step"]]
        assert loss < claim["below"] if "below" in claim else near(loss, claim), loss
    elif kind == "eigenvalues":
        shown = lam if len(claim["values"]) == lam.size else lam[[0, -1]]
        assert shown == pytest.approx(claim["values"], rel=claim["tolerance"]), lam
    elif kind == "condition_number":
        assert near(lam.max() / lam.min(), claim), lam.max() / lam.min()
    elif kind == "critical_point":
        assert problem.minimum == pytest.approx(claim["values"], abs=1e-6), problem.minimum
    elif kind == "settings":
        state = lesson_state_of(name, claim.get("with"))
        for key, value in claim["values"].items():
            assert list(lessons.link_texts(value)) == list(fields_of(state)[key].write(state[key])), (key, state[key])
    elif kind in THEORY:
        THEORY[kind](claim, settings, lam)
    elif kind in NQM_CLAIMS:
        NQM_CLAIMS[kind](claim, nqm_study_of(name, claim))
    elif kind == "first_within":
        found = first_step_within(run.spectrum, claim["tolerance"])
        assert found == claim["step"], (found, distance_from_newton(run.spectrum)[:30])
    elif kind == "stays_within":
        distance = distance_from_newton(run.spectrum)[claim["from"] - 1 :]
        assert distance.max() <= claim["tolerance"], distance.max()
    elif kind == "never_within":
        assert first_step_within(run.spectrum, claim["tolerance"]) is None
    elif kind == "final_ph_range":
        final = run.spectrum[-1]
        assert final.min() == pytest.approx(claim["low"], rel=claim["tolerance"]), final
        assert final.max() == pytest.approx(claim["high"], rel=claim["tolerance"]), final
    elif kind == "ph":
        values = mu_of(run, claim)
        assert np.abs(values - claim["value"]).max() <= claim["tolerance"], (values.min(), values.max())
    elif kind == "ph_range":
        values = mu_of(run, claim)
        assert claim["low"] <= values.min() and values.max() <= claim["high"], (values.min(), values.max())
    elif kind == "ph_median":
        median = float(np.median(mu_of(run, claim)))
        assert median < claim["below"] if "below" in claim else near(median, claim), median
    elif kind == "ph_max":
        largest = float(np.nanmax(run.spectrum))
        step = int(np.unravel_index(np.nanargmax(run.spectrum), run.spectrum.shape)[0]) + 1  # as the chart counts
        assert near(largest, claim), largest
        assert "near_step" not in claim or abs(step - claim["near_step"]) <= 10, step
    elif kind == "pairs_within_degrees":
        s = newest_pairs(run, -1)[0]
        s = s / np.linalg.norm(s, axis=1, keepdims=True)
        degrees = np.degrees(np.arccos(np.clip(np.abs(s @ s.T), 0, 1))).max()
        assert len(s) >= 2 and degrees <= claim["value"], degrees
    elif kind in ("pairs_exact", "pairs_noisy"):
        s, y = newest_pairs(run, -1)
        exact = s @ problem.hessian  # A s (A symmetric)
        if kind == "pairs_exact":
            error = (np.linalg.norm(y - exact, axis=1) / np.linalg.norm(exact, axis=1)).max()
            assert error <= claim["tolerance"], error
        else:
            ratio = float(np.median(np.linalg.norm(y, axis=1) / np.linalg.norm(exact, axis=1)))
            assert ratio >= claim["above"], ratio
    elif kind == "secant":
        counts = np.asarray(run.memory.count)
        steps = range(claim.get("from", 3), claim.get("to", len(counts)) + 1)
        residuals = [secant_residuals(run, step - 1) for step in steps]
        assert all(len(r) >= 2 for r in residuals), [len(r) for r in residuals]
        newest = max(r[-1] for r in residuals)
        older = max(r[:-1].max() for r in residuals)
        assert newest <= claim["tolerance"], newest
        if claim["holds"] == "all":
            assert older <= claim["tolerance"], older
        else:
            assert claim["holds"] == "newest" and older > claim["older_above"], older
    elif kind == "same_as_cg":
        cg = conjugate_gradient(problem, claim["steps"])
        deviation = np.linalg.norm(run.components[: claim["steps"] + 1] - cg, axis=1).max() / np.linalg.norm(cg[0])
        assert deviation <= claim["tolerance"], deviation
    else:
        raise AssertionError(f"unknown claim {kind!r}")


# --- claims on the closed forms (optimizers.theory) at the lesson's parameters -------------------
def _at_optimum(claim, settings, lam):
    values = dict(dict(settings.methods)[claim["method"]])
    if claim["method"] == "gd":
        assert values["learning_rate"] == pytest.approx(theory.optimal_gd(lam).learning_rate, rel=1e-5)
    else:
        best = theory.optimal_momentum(lam)
        assert values["learning_rate"] == pytest.approx(best.learning_rate, rel=1e-5)
        assert values["momentum"] == pytest.approx(best.momentum, rel=1e-5)


def _no_optimum(claim, settings, lam):
    assert theory.optimal_gd(lam) is None and theory.optimal_momentum(lam) is None


def _closed_form_rate(claim, settings, lam):
    alpha, beta = momentum_values(settings, claim["method"])
    if claim["method"] == "gd":
        rates = np.abs(theory.gd_factors(lam, alpha))
    else:
        rates = theory.momentum_component_rate(lam, alpha, beta)
    return float(rates[claim["direction"] - 1] if "direction" in claim else rates.max())


def _theory_rate(claim, settings, lam):
    rate = _closed_form_rate(claim, settings, lam)
    assert near(rate, claim), rate


def _theory_decade_steps(claim, settings, lam):
    steps = math.log(10) / -math.log(_closed_form_rate(claim, settings, lam))
    assert near(steps, claim), steps
    if "per_sqrt_kappa" in claim:
        assert round(steps / math.sqrt(lam.max() / lam.min()), 2) == claim["per_sqrt_kappa"], steps


def _roots(claim, settings, lam):
    alpha, beta = momentum_values(settings, claim["method"])
    found = theory.regime(lam, alpha, beta, tolerance=claim.get("within", 1e-9))[claim["direction"] - 1]
    assert found == claim["kind"], found


def _rate_band(claim, settings, lam):
    alpha, beta = momentum_values(settings, claim["method"])
    inside = theory.momentum_rate(lam, np.linspace(claim["low"], claim["high"], 200), beta)
    assert np.allclose(inside, math.sqrt(beta), rtol=1e-9)
    outside = theory.momentum_rate(lam, np.array([claim["low"] - 0.01, claim["high"] + 0.01]), beta)
    assert (outside > math.sqrt(beta) + 1e-6).all(), outside


def _critical_momentum(claim, settings, lam):
    alpha, _ = momentum_values(settings, claim["method"])
    critical = float(theory.critical_momentum(lam[claim["direction"] - 1], alpha))
    assert critical == pytest.approx(claim["value"], rel=1e-6), critical


def _complex_for_every_momentum(claim, settings, lam):
    alpha, _ = momentum_values(settings, claim["method"])
    betas = np.linspace(0.001, 0.999, 999)
    found = {str(theory.regime(lam[claim["direction"] - 1 : claim["direction"]], alpha, b)[0]) for b in betas}
    assert found == {"complex"}, found


def _stability_limit(claim, settings, lam):
    _, beta = momentum_values(settings, claim["method"])
    eigenvalue = lam[claim["direction"] - 1]
    below, above = (claim["value"] * f / eigenvalue for f in (0.999, 1.001))  # α with αλ just below / above
    rate = functools.partial(theory.momentum_component_rate, eigenvalue, momentum=beta)
    assert rate(below) < 1 < rate(above)
    alpha, _ = momentum_values(settings, claim["method"])
    assert alpha * lam.max() < claim["value"]  # the lesson's own α is inside


def _grows_for_every_step(claim, settings, lam):
    alphas = np.array(controls.slider_grid(OPTIMIZERS["gd"].hyperparameters["learning_rate"]))
    assert (theory.gd_factors(lam[claim["direction"] - 1], alphas) > 1).all()


THEORY = {
    "at_optimum": _at_optimum,
    "no_optimum": _no_optimum,
    "theory_rate": _theory_rate,
    "theory_decade_steps": _theory_decade_steps,
    "roots": _roots,
    "rate_band": _rate_band,
    "critical_momentum": _critical_momentum,
    "complex_for_every_momentum": _complex_for_every_momentum,
    "stability_limit": _stability_limit,
    "grows_for_every_step": _grows_for_every_step,
}


# --- claims on the batch-size section (optimizers.nqm) at the lesson's nqm.* controls ------------
@functools.cache
def nqm_study(kappa: float, dimension: int, target: float, method: str, average: float, decay: float) -> nqm.Study:
    h = nqm.spectrum(kappa, dimension)
    return nqm.study(h, nqm.METHODS[method], target * nqm.initial_loss(h), average=average, decay=decay)[0]


def nqm_study_of(name: str, claim: dict) -> nqm.Study:
    state = lesson_state_of(name, claim.get("with"))
    average, decay = (state["nqm.average"], state["nqm.decay"]) if claim.get("variant") else (0.0, 1.0)
    return nqm_study(float(state["nqm.kappa"]), int(state["nqm.dim"]), float(state["nqm.target"]), claim["nqm_method"],
                     float(average), float(decay))  # fmt: skip


def _at_batch(study: nqm.Study, batch) -> int:
    found = np.flatnonzero(study.batch_sizes == batch)
    assert found.size == 1, f"batch {batch} is not on the study's grid"
    return int(found[0])


def _nqm_steps(claim, study):
    steps = study.steps[_at_batch(study, claim["batch"])]
    assert steps == claim["value"], steps


def _nqm_steps_from(claim, study):
    steps = study.steps[_at_batch(study, claim["batch"]) :]
    assert np.all(steps == claim["value"]), steps


def _nqm_critical(claim, study):
    assert study.critical_batch_size is not None and near(study.critical_batch_size, claim), study.critical_batch_size


def _nqm_scaling(claim, study):
    ratios = study.steps[1 : _at_batch(study, claim["to"]) + 1] / study.steps[: _at_batch(study, claim["to"])]
    assert ratios.size and claim["low"] <= ratios.min() and ratios.max() <= claim["high"], ratios


def _nqm_best_learning_rate(claim, study):
    assert near(study.learning_rate[_at_batch(study, claim["batch"])], claim), study.learning_rate


def _nqm_best_momentum(claim, study):
    assert study.momentum[_at_batch(study, claim["batch"])] == claim["value"], study.momentum


NQM_CLAIMS = {
    "nqm_steps": _nqm_steps,
    "nqm_steps_from": _nqm_steps_from,
    "nqm_critical": _nqm_critical,
    "nqm_scaling": _nqm_scaling,
    "nqm_best_learning_rate": _nqm_best_learning_rate,
    "nqm_best_momentum": _nqm_best_momentum,
}


# --- the tests -----------------------------------------------------------------------------------
def test_every_lesson_states_claims():
    assert {path.stem for path in lessons.FOLDER.joinpath(eigenspace.PAGE).glob("*.toml")} == set(LESSONS)
    for name, lesson in LESSONS.items():
        assert lesson.claims, f"{name} states no claim"
        for claim in lesson.claims:
            method = claim.get("method")
            assert method is None or method in dict(lesson_settings(name, claim.get("with")).methods), (name, claim)


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_claims_hold(name):
    failed = []
    for claim in LESSONS[name].claims:
        try:
            check_claim(name, claim)
        except AssertionError as error:
            failed.append(f"{claim}: measured {error}")
    assert not failed, "\n".join(failed)


def test_the_curvature_caption_reads_p_as_the_step_uses_it():
    """The page's caption: L-BFGS with a fixed step and Newton step θ ← θ − αPg with the P drawn for that
    step (index j: the step from θⱼ), so the error changes by I − αP·H; Adam's P multiplies m̂, not g."""
    settings = lesson_settings("curvature", {"lbfgs.line_search": "none"})
    problem = problem_of(settings.problem, settings.parameters)
    q, lam = problem.eigenvectors, problem.eigenvalues
    for name, first in (("lbfgs", 1), ("newton", 0), ("adam", 1)):
        run = method_run(settings, name)
        alpha = float(dict(dict(settings.methods)[name])["learning_rate"])
        x = run.components
        k = np.arange(first, 40)
        k = k[np.linalg.norm(x[k + 1] - x[k], axis=1) > 1e-9 * np.linalg.norm(x[0])]  # steps that move
        steps = np.einsum("ij,kjl,lm->kim", q.T, run.matrices[k], q) @ (lam * x[k])[..., None]
        predicted = x[k] - alpha * steps[..., 0]
        error = np.linalg.norm(x[k + 1] - predicted, axis=1) / np.linalg.norm(x[k + 1] - x[k], axis=1)
        assert k.size >= 1
        if name == "adam":
            assert np.median(error) > 0.1, np.median(error)  # its step is α P m̂: momentum mixes in older gradients
        else:
            assert error.max() < 1e-3, error.max()
