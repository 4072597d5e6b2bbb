"""The Eigenspace page's controls, computations and views (``pages/eigenspace.py`` puts them together).

The view state (``declare``, read by ``ui.viewstate``) is every key of the
page's link: ``problem``; ``condition_number``, ``angle`` (2-D quadratic);
``dimension``, ``lambda_min``, ``lambda_max`` (n-D spectrum); ``noise_scale``,
``batch_size``, ``seed``; ``steps``; ``methods`` (one entry per optimizer)
with their settings as ``gd.learning_rate``, ``momentum.momentum``, ...;
``directions`` (n-D); ``effective``; the batch-size section's ``nqm.*``
(``ui.nqm``); ``lesson`` (``lessons/eigenspace/``) and ``hide``.

All mathematics lives in the library: ``optimizers.theory`` (closed forms,
rates, optimal parameters), ``optimizers.preconditioners`` (each method's P
and the spectrum of P·H) and ``landscapes.local_model`` (the quadratic model
at a critical point). This module only wires them to widgets and figures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pandas as pd
import streamlit as st

from landscapes import LANDSCAPES, Quadratic, get_landscape, minibatch_quadratic
from landscapes import ill_conditioned_quadratic, log_uniform_spectrum, quadratic_from_spectrum
from landscapes.local_model import critical_point_model
from optimizers import OPTIMIZERS, get_optimizer, run_trajectory, theory
from optimizers.sweeps import run_grid
from optimizers.preconditioners import PRECONDITIONED, distance_from_newton, first_step_within, run_with_preconditioner
from parameters import Parameter
from ui import controls, eigenspace_plots, plots, viewstate
from ui import nqm as nqm_section
from ui.chart import chart, picked_point, sweep_data
from ui.explanations import look_for
from ui.explorer import _docstring_markdown
from ui.optimizer_fields import setting_fields
from ui.runs import Grid, Items, RunResult, items, loss_grid
from ui.viewstate import Choice, Multi, Number, Toggle

PAGE = "eigenspace"
RESULTS = "eigenspace_results"  # the fragment a move of a method's number reruns alone (``results``)
PROBLEMS = {
    "quadratic": "2-D quadratic (condition number, angle)",
    "spectrum": "n-D quadratic, log-uniform spectrum",
    "rosenbrock": "Rosenbrock's minimum (local quadratic model)",
    "saddle": "The saddle of x² + ¼(y² − 1)² (local quadratic model)",
}
CONDITION = LANDSCAPES["quadratic"].parameters["condition_number"]
ANGLE = LANDSCAPES["quadratic"].parameters["angle"]
DIMENSION = Parameter(20, 2, 50, integer=True, label="dimension n")
LAMBDA_MIN = Parameter(1e-3, 1e-4, 100.0, log=True, label="smallest eigenvalue λ₁")
LAMBDA_MAX = Parameter(1.0, 0.5, 100.0, log=True, label="largest eigenvalue λₙ")
MAX_CONDITION = 1e4
NOISE = LANDSCAPES["noisy_quadratic"].parameters["noise_scale"]._replace(default=0.0)
BATCH = LANDSCAPES["noisy_quadratic"].parameters["batch_size"]
STEPS = Parameter(200, 10, 1000, log=True, integer=True, label="steps")
SEED = Parameter(0, 0, 2**31 - 1, integer=True, label="seed")
DEFAULT_METHODS = ("gd", "momentum", "adam", "lbfgs", "newton")
MAX_DIRECTIONS = 6
# This page's defaults where the registry's suit the 2-D explorer less well than a quadratic with λ_max = 1.
PAGE_DEFAULTS = {
    "gd": {"learning_rate": 1.0},
    "momentum": {"learning_rate": 1.0, "momentum": 0.5},
    "nesterov": {"learning_rate": 1.0, "momentum": 0.5},
    "adam": {"learning_rate": 0.1},
    "mlbfgs": {"learning_rate": 1.0},
}
STEP_SIZED = ("gd", "momentum", "nesterov")  # their α is rescaled to 1/|λ|max when the problem changes
# One colour per optimizer, in registry order; the palette repeats past its end (each box also names its method).
PALETTE = ("#1f77b4", "#d62728", "#8c564b", "#2ca02c", "#e377c2", "#bcbd22", "#111111", "#7f7f7f", "#ff7f0e",
           "#9467bd", "#17becf", "#006d2c", "#e6550d", "#3182bd", "#636363", "#31a354")  # fmt: skip
COLORS = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(OPTIMIZERS)}
METHOD_TITLES = {name: info.title for name, info in OPTIMIZERS.items()}
NOISE_HELP = (
    "0: the exact quadratic. Above 0: each step sees a minibatch whose minimum is shifted at random "
    "(Zhang et al., 2019); at the saddle, a random gradient tilt instead."
)
EFFECTIVE_HELP = (
    "Off: P·H with P the method's inverse-curvature model. On: αP·H, which is 1 for the step that lands on the minimum."
)
TOLERANCE = 0.1  # "close to Newton": every eigenvalue of P·H within a factor e^0.1 ≈ 1.105 of 1
RATE_MAP_KEY = "momentum_rate_plot"
PICK_NODES = 16  # per axis of the (α, β) grid the rate map's point can be dragged over
# Numbers per grid node sent for the error curves (steps kept × directions drawn): every step of two
# directions at the default 200 steps; longer runs, or more directions, are sampled at evenly spaced
# steps, so that a grid stays under 300 kB (tested) and a page's rerun that sends it stays quick.
PICK_VALUES = 402

def setting_key(name: str, setting: str) -> str:
    return f"{name}.{setting}"


def round_for_url(value: float) -> float:
    """Six significant figures: a value set by a button is short in a link."""
    return float(f"{value:.6g}")


# --- the problem -----------------------------------------------------------------
class Settings(NamedTuple):
    problem: str
    parameters: Items  # the problem's own parameters
    noise_scale: float
    batch_size: int
    seed: int
    steps: int
    methods: tuple[tuple[str, Items], ...]  # (optimizer, settings)
    directions: tuple[int, ...]
    effective: bool  # scale P by the learning rate α
    lesson: str


@st.cache_resource(max_entries=64, show_spinner=False)
def build_problem(problem: str, parameters: Items) -> Quadratic:
    """The quadratic the page studies (``st.cache_resource``: built once per setting, shared)."""
    values = dict(parameters)
    if problem == "quadratic":
        return ill_conditioned_quadratic(values["condition_number"], values["angle"])
    if problem == "spectrum":
        spectrum = log_uniform_spectrum(values["dimension"], values["lambda_min"], values["lambda_max"])
        return quadratic_from_spectrum(spectrum, seed=0)
    if problem == "rosenbrock":
        return critical_point_model(get_landscape("rosenbrock"), "minimum")
    if problem == "saddle":
        return critical_point_model(get_landscape("saddle"), "saddle")
    raise ValueError(f"unknown problem {problem!r}")


def eigen_data(quadratic: Quadratic) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """λ (ascending), Q and θ* in float64."""
    return (
        np.asarray(quadratic.eigenvalues, np.float64),
        np.asarray(quadratic.eigenvectors, np.float64),
        np.asarray(quadratic.minimum, np.float64),
    )


def hessian64(quadratic: Quadratic) -> np.ndarray:
    lam, q, _ = eigen_data(quadratic)
    return (q * lam) @ q.T


def start_point(problem: str, quadratic: Quadratic) -> np.ndarray:
    """2-D: the landscape's default start; n-D: every eigen-component of the error starts at 1."""
    lam, q, minimum = eigen_data(quadratic)
    if problem == "spectrum":
        return (minimum + q @ np.ones(lam.size)).astype(np.float32)
    return np.asarray(quadratic.default_start, np.float32)


# --- runs -------------------------------------------------------------------------
class MethodRun(NamedTuple):
    params: np.ndarray  # (steps + 1, n) float32
    loss: np.ndarray  # (steps + 1,)
    grads: np.ndarray  # (steps + 1, n) float32: the gradient the optimizer saw
    diverged_at: int | None
    components: np.ndarray  # (steps + 1, n): x = Qᵀ(θ − θ*), float64
    predicted: np.ndarray | None  # the closed form (GD, momentum), same shape
    spectrum: np.ndarray | None  # (steps, n): eigenvalues of P·H (methods with a curvature model)


@st.cache_data(max_entries=256, show_spinner=False)
def compute_method(
    problem: str, parameters: Items, noise_scale: float, batch_size: int, seed: int, name: str, settings: Items,
    steps: int,
) -> MethodRun:  # fmt: skip
    """One optimizer on the problem; raises ``ValueError`` when it does not apply."""
    quadratic = build_problem(problem, parameters)
    landscape = minibatch_quadratic(quadratic, noise_scale, batch_size)
    optimizer = get_optimizer(name, **dict(settings))
    x0 = start_point(problem, quadratic)
    spectrum = None
    if name in PRECONDITIONED:
        run = run_with_preconditioner(landscape, optimizer, hessian64(quadratic), x0, steps, seed)
        trajectory, spectrum = run.trajectory, run.spectrum
    else:
        trajectory = run_trajectory(landscape, optimizer, x0, steps, seed)
    lam, q, minimum = eigen_data(quadratic)
    components = (np.asarray(trajectory.params, np.float64) - minimum) @ q
    predicted = theory.theory_components(name, lam, components[0], dict(settings), steps)
    return MethodRun(
        np.asarray(trajectory.params, np.float32), np.asarray(trajectory.loss, np.float32),
        np.asarray(trajectory.grads, np.float32), trajectory.diverged_at, components, predicted, spectrum,
    )  # fmt: skip


@controls.results_fragment(RESULTS)
def results(view: controls.PageView, lesson_place):
    """The runs and every chart drawn from them, the batch-size section and the downloads, and (in the
    sidebar's ``lesson_place``) the button that saves the view. A move of a method's number, the
    steps, the noise or the seed reruns this alone (``controls.fragment_view``); the methods'
    explanations, which follow only the choices, are not sent again."""
    settings = settings_of(view.state)
    done, problems = compute(settings)
    controls.show_problems(problems)
    if not settings.methods:
        st.info("Choose at least one method in the sidebar.")
    picker = rate_picker(settings)  # momentum's runs over the rate map's (α, β) grid
    if len(settings.directions) == 2 and settings.problem != "spectrum":
        st.subheader("The runs, and the same runs in the eigenbasis")
        trajectory_views(settings, done)
    st.subheader("Error along each eigen-direction")
    direction_views(settings, done, picker)
    st.subheader("Rates: gradient descent and momentum")
    rate_views(settings, picker)
    st.subheader("Curvature models: eigenvalues of P·H")
    spectra = curvature_views(settings, done)
    st.subheader("Batch size: the noisy quadratic model")
    nqm_section.section(view)
    left, right = st.columns(2)
    left.download_button(
        "Download the eigen-components (CSV)", data=lambda: components_csv(settings, done),
        file_name="eigen_components.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    right.download_button(
        "Download the P·H spectra (CSV)", data=lambda: spectra_csv(spectra),
        file_name="preconditioned_spectra.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
        disabled=not spectra,
    )  # fmt: skip
    controls.save_lesson_button(view, where=lesson_place)


def compute(settings: Settings) -> tuple[dict[str, MethodRun], list[str]]:
    done, problems = {}, []
    for name, values in settings.methods:
        try:
            done[name] = compute_method(
                settings.problem, settings.parameters, settings.noise_scale, settings.batch_size, settings.seed,
                name, values, settings.steps,
            )  # fmt: skip
        except ValueError as error:
            problems.append(f"**{OPTIMIZERS[name].title} does not apply here.** {error}")
    return done, problems


# --- the momentum rate map as a control -------------------------------------------
def pick_axes(lam: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (α, β) nodes the rate map's point can be dragged to: for each of PICK_NODES evenly spaced
    points along each of the map's axes, the nearest value its slider offers there. The α axis ends
    at 4.2/|λ|max (past 4/|λ|max every β diverges), wherever momentum's own α is: the map widens to
    show an α beyond it, but the grid, and what is sent for it, stays as it is."""
    specs = OPTIMIZERS["momentum"].hyperparameters
    top = eigenspace_plots.rate_map_alpha_range(lam, 0.0)

    def spread(spec: Parameter, low: float, high: float) -> tuple[float, ...]:
        grid = np.asarray(controls.slider_grid(spec), np.float64)
        grid = grid[grid <= high]
        return tuple(sorted({float(grid[np.argmin(np.abs(grid - t))]) for t in np.linspace(low, high, PICK_NODES)}))

    return spread(specs["learning_rate"], top / PICK_NODES, top), spread(specs["momentum"], 0.0, specs["momentum"].high)


@st.cache_data(max_entries=32, show_spinner=False)
def pick_grid(
    problem: str, parameters: Items, noise_scale: float, batch_size: int, seed: int, steps: int, settings: Items,
    directions: tuple[int, ...], alphas: tuple[float, ...], betas: tuple[float, ...],
) -> dict:  # fmt: skip
    """Momentum's runs at every (α, β) node of the rate map, all in one program (``run_grid``), as the
    direction charts draw them (|xᵢᵏ| cut where the run diverged, ``clip_log_curve``), in log10 and
    at most PICK_VALUES numbers per node; with each node's rate, and what the closed form needs
    (λᵢ, xᵢ⁰), for ``ui.chart.sweep_data``. Raises ``ValueError`` where momentum does not apply."""
    quadratic = build_problem(problem, parameters)
    landscape = minibatch_quadratic(quadratic, noise_scale, batch_size)
    optimizer = get_optimizer("momentum", **dict(settings))
    x0 = start_point(problem, quadratic)
    grid = run_grid(landscape, optimizer, {"learning_rate": alphas, "momentum": betas}, x0, steps, seed)
    lam, q, minimum = eigen_data(quadratic)
    columns = list(directions)
    components = (grid.params.astype(np.float64) - minimum) @ q[:, columns]  # (α, β, steps + 1, directions)
    start = components[0, 0, 0]
    scales = np.maximum(np.abs(start), 1e-12)  # as direction_figure's: every method starts at x⁰
    kept = np.unique(np.linspace(0, steps, min(steps + 1, PICK_VALUES // len(columns))).round().astype(int))
    curves = np.full(components.shape[:2] + (kept.size, len(columns)), np.nan)
    for (i, j), stop in np.ndenumerate(grid.diverged_step):
        end = steps + 1 if stop < 0 else int(stop)
        for d in range(len(columns)):
            shown = eigenspace_plots.clip_log_curve(components[i, j, :end, d], scales[d])
            inside = kept < shown.size
            curves[i, j, inside, d] = np.log10(shown[kept[inside]])
    alpha, beta = np.meshgrid(np.asarray(alphas), np.asarray(betas), indexing="ij")
    data = {
        "alphas": list(alphas), "betas": list(betas), "steps": kept.tolist(), "curves": plots.quantized(curves),
        "rates": np.round(theory.momentum_rate(lam, alpha, beta), 6).tolist(), "eigenvalues": lam[columns].tolist(),
        "start": start.tolist(), "scales": scales.tolist(), "floor": eigenspace_plots.FLOOR,
        "ceiling": eigenspace_plots.CEILING,
    }  # fmt: skip
    data["name"] = "momentum grid " + hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return data


def pick_arguments(settings: Settings) -> tuple | None:
    """``pick_grid``'s arguments for a setting of the page (None without momentum among its methods, or
    with no eigen-direction to draw): the same for every α and β of momentum's own, so that moving them
    leaves the grid as it was (not sent again)."""
    chosen = dict(settings.methods)
    if "momentum" not in chosen or not settings.directions:
        return None
    alphas, betas = pick_axes(eigen_data(build_problem(settings.problem, settings.parameters))[0])
    others = items({k: v for k, v in chosen["momentum"] if k not in ("learning_rate", "momentum")})  # the grid sets α and β
    return (settings.problem, settings.parameters, settings.noise_scale, settings.batch_size, settings.seed,
            settings.steps, others, settings.directions, alphas, betas)  # fmt: skip


def rate_picker(settings: Settings) -> dict | None:
    """The rate map's grid of momentum runs (``pick_grid``) for the page's current setting; None
    without momentum among the methods, or where it does not apply."""
    arguments = pick_arguments(settings)
    try:
        return None if arguments is None else pick_grid(*arguments)
    except ValueError:
        return None


def pick_caption(grid: dict, steps: int) -> str:
    """What the rate map as a control does, and, where the grid's runs are sampled (``PICK_VALUES``), how."""
    text = ("Press on the map and drag: a ring marks the nearest of a grid of settings whose runs were computed "
            "ahead, and the error curves above follow it (momentum's measured line and its closed form). Let go to "
            "set momentum's sliders there.")  # fmt: skip
    kept = grid["steps"]
    if len(kept) < steps + 1:
        text += (f" While you drag, the measured line is drawn at {len(kept)} of the {steps + 1} steps, evenly "
                 "spaced (the closed form at every step); letting go draws every step.")  # fmt: skip
    return text


def _on_pick():
    """The rate map let go: momentum's sliders take the (α, β) node it was let go at (and the link follows)."""
    point = picked_point(RATE_MAP_KEY)
    if point is None:
        return
    for setting, value in zip(("learning_rate", "momentum"), point):
        spec = OPTIMIZERS["momentum"].hyperparameters[setting]
        try:
            st.session_state[setting_key("momentum", setting)] = spec.check(setting, value)
        except ValueError:
            pass  # not a value this slider takes: left as it is


# --- the view state ------------------------------------------------------------------
def problem_specs(problem: str) -> dict[str, Parameter]:
    if problem == "quadratic":
        return {"condition_number": CONDITION, "angle": ANGLE}
    if problem == "spectrum":
        return {"dimension": DIMENSION, "lambda_min": LAMBDA_MIN, "lambda_max": LAMBDA_MAX}
    return {}


def valid_parameters(problem: str, values: dict) -> tuple[Items, str | None]:
    """The problem's parameters as used, and a message when they had to be changed (κ above 10⁴)."""
    if problem == "spectrum":
        low, high = values["lambda_min"], values["lambda_max"]
        if low > high or high / low > MAX_CONDITION:
            fixed = min(max(low, high / MAX_CONDITION), high)
            message = f"λ₁ = {low:g} with λₙ = {high:g} gives κ outside [1, 10⁴]: using λ₁ = {fixed:.4g}."
            return items({**values, "lambda_min": fixed}), message
    return items(values), None


def problem_of(view: dict) -> Quadratic:
    values = {k: view[k] for k in problem_specs(view["problem"])}
    return build_problem(view["problem"], valid_parameters(view["problem"], values)[0])


def step_size_for(quadratic: Quadratic) -> float:
    """The first-order methods' starting α on a problem: the slider value nearest 1/|λ|max."""
    lam = eigen_data(quadratic)[0]
    grid = np.array(controls.slider_grid(OPTIMIZERS["gd"].hyperparameters["learning_rate"]))
    return float(grid[np.argmin(np.abs(np.log(grid) - np.log(1.0 / np.abs(lam).max())))])


def _rescaled_by_problem(key: str) -> bool:
    name, _, setting = key.partition(".")
    return name in STEP_SIZED and setting == "learning_rate"


def method_fields(name: str, quadratic: Quadratic):
    defaults = dict(PAGE_DEFAULTS.get(name, {}))
    if name in STEP_SIZED:
        defaults["learning_rate"] = step_size_for(quadratic)
    yield from setting_fields(name, name, defaults, options={"adaptive", "line_search"})


def declare(view: dict):
    """The Eigenspace page's controls in page order; ``view`` holds the values of those before."""
    yield Choice("problem", "Quadratic", "quadratic", options=tuple(PROBLEMS), titles=PROBLEMS, resets=_rescaled_by_problem)
    for name, spec in problem_specs(view["problem"]).items():
        yield Number(name, spec.label or name, spec.default, spec=spec)
    yield Number("noise_scale", NOISE.label, NOISE.default, spec=NOISE, help=NOISE_HELP)
    if view["noise_scale"] > 0:
        yield Number("batch_size", BATCH.label, BATCH.default, spec=BATCH)
        yield Number("seed", SEED.label, SEED.default, spec=SEED, box=True)
    yield Number("steps", STEPS.label, STEPS.default, spec=STEPS)
    yield Multi("methods", "Methods", DEFAULT_METHODS, options=tuple(OPTIMIZERS), titles=METHOD_TITLES)
    quadratic = problem_of(view)
    for name in view["methods"]:
        yield from method_fields(name, quadratic)
    n = eigen_data(quadratic)[0].size
    if n > 2:
        yield Multi("directions", "Eigen-directions to draw", tuple(sorted({0, n // 2, n - 1})), options=tuple(range(n)),
                    names={i: str(i + 1) for i in range(n)}, max_selections=MAX_DIRECTIONS,
                    help="Numbered from the smallest eigenvalue (1) to the largest (n).")  # fmt: skip
    yield Toggle("effective", "Curvature models: include α (the step actually taken)", False, help=EFFECTIVE_HELP)
    yield from nqm_section.declare(view)  # the batch-size section's controls (``nqm.*``)


def optimal_state(quadratic: Quadratic, names) -> dict:
    """Slider values for the closed forms' optimal parameters (GD: α; momentum: α and β), to 6 figures."""
    lam = eigen_data(quadratic)[0]
    state = {}
    best_gd, best_momentum = theory.optimal_gd(lam), theory.optimal_momentum(lam)
    if "gd" in names and best_gd is not None:
        state[setting_key("gd", "learning_rate")] = round_for_url(best_gd.learning_rate)
    if "momentum" in names and best_momentum is not None:
        state[setting_key("momentum", "learning_rate")] = round_for_url(best_momentum.learning_rate)
        state[setting_key("momentum", "momentum")] = round_for_url(best_momentum.momentum)
    return state


def _set_optimal(settings: Settings, names):
    """A button's callback: the sliders move to the optimal parameters."""
    for key, value in optimal_state(build_problem(settings.problem, settings.parameters), names).items():
        st.session_state[key] = value


# --- the sidebar ----------------------------------------------------------------------
def _method_widgets(view, name: str, where):
    box = where.container(border=True)
    box.markdown(f"<span style='color:{COLORS[name]}'>●</span> **{OPTIMIZERS[name].title}**", unsafe_allow_html=True)
    controls.setting_widgets(view, name, box, alone=True)  # a method's numbers change only its runs


def settings_of(view: dict) -> Settings:
    """The settings a view state describes (a page's, a lesson's or a link's)."""
    fields = viewstate.fields_of(declare, view)
    problem = view["problem"]
    parameters, _ = valid_parameters(problem, {k: view[k] for k in problem_specs(problem)})
    noisy = view["noise_scale"] > 0
    methods = tuple(
        (name, items({k.split(".", 1)[1]: view[k] for k in fields if k.startswith(name + ".")}))
        for name in view["methods"]
    )
    n = eigen_data(build_problem(problem, parameters))[0].size
    directions = tuple(view["directions"]) if n > 2 else tuple(range(n))
    return Settings(problem, parameters, float(view["noise_scale"]), int(view["batch_size"]) if noisy else BATCH.default,
                    int(view["seed"]) if noisy else 0, int(view["steps"]), methods, directions, bool(view["effective"]),
                    view["lesson"])  # fmt: skip


def sidebar_controls(view):
    """Draw the sidebar; the place at its end for the button that saves the view as a lesson."""
    bar = st.sidebar
    controls.widget(view, "lesson", where=bar)
    bar.subheader("Quadratic")
    controls.widget(view, "problem", where=bar)
    for name in problem_specs(view["problem"]):
        controls.widget(view, name, where=bar)
    message = valid_parameters(view["problem"], {k: view[k] for k in problem_specs(view["problem"])})[1]
    if message:
        bar.warning(message, icon=":material/warning:")
    for key in ("noise_scale", "batch_size", "seed", "steps"):
        if key in view.fields:
            controls.widget(view, key, where=bar, alone=True)
    bar.subheader("Optimizers")
    controls.widget(view, "methods", where=bar)
    for name in view["methods"]:
        _method_widgets(view, name, bar)
    if "directions" in view.fields:
        controls.widget(view, "directions", where=bar)
    controls.widget(view, "effective", where=bar)
    return bar.container()  # the save button's place: ``results`` draws it, with the values it saves


# --- views --------------------------------------------------------------------------------
def problem_summary(settings: Settings) -> str:
    quadratic = build_problem(settings.problem, settings.parameters)
    lam = eigen_data(quadratic)[0]
    shown = ", ".join(f"{v:.4g}" for v in (lam if lam.size <= 6 else [lam[0], lam[1], lam[-2], lam[-1]]))
    if lam.size > 6:
        shown = shown.replace(f"{lam[1]:.4g}, ", f"{lam[1]:.4g}, …, ", 1)
    text = f"**Eigenvalues** λ = ({shown}), n = {lam.size}"
    if lam.min() > 0:
        text += f"; condition number κ = {lam.max() / lam.min():.4g}."
    else:
        text += (
            ". **Indefinite:** a negative eigenvalue makes this a saddle. Along it gradient descent and momentum grow "
            "for every α > 0, so their rates exceed 1 everywhere and there are no optimal parameters; the closed forms "
            "still describe every direction. Gauss–Newton needs a convex outer loss and does not apply."
        )
    if settings.noise_scale > 0:
        text += (
            " **Noisy:** the closed forms draw the expected error (the noise averages out of the linear recursion); "
            "a single run scatters around it and settles at a noise floor."
        )
    return text


def _drawn(name: str, params: np.ndarray, grads: np.ndarray, loss: np.ndarray, diverged_at) -> plots.Drawn:
    run = RunResult(plots.f32(params[None, :, :2]), plots.f32(loss[None]), plots.f32(grads[None, :, :2]), (diverged_at,))
    return plots.Drawn(OPTIMIZERS[name].title, COLORS[name], run)


def legend(done: dict[str, MethodRun], closed_form: bool = False) -> str:
    """One legend line for a row of figures (their own legends are hidden)."""
    entries = [f"<span style='color:{COLORS[n]}'>━━</span> {OPTIMIZERS[n].title}" for n in done]
    if closed_form and any(run.predicted is not None for run in done.values()):
        entries.append("<span style='color:#111'>┈┈</span> closed form")
    return "<small>" + " &nbsp; ".join(entries) + "</small>"


class EigenView(NamedTuple):
    """The 2-D problem in its original coordinates and in its eigenbasis, with a contour grid for each."""

    eigen_view: Quadratic
    start: np.ndarray
    x0: np.ndarray
    original_bounds: tuple  # ((x0, x1), (y0, y1)) of the original-coordinates panel
    eigen_bounds: tuple  # the same for the eigenbasis panel, a square about 0
    original_grid: Grid
    eigen_grid: Grid


@st.cache_resource(max_entries=64, show_spinner=False)
def eigen_view(problem: str, parameters: Items, scale: float = 1.0, resolution: int = 101) -> EigenView:
    """Computed once per problem and ``scale`` (shared, never modified): a slider on a method leaves it as
    it is unless its runs leave the view. ``scale`` widens both panels about their centres."""
    quadratic = build_problem(problem, parameters)
    _, q, minimum = eigen_data(quadratic)
    start = start_point(problem, quadratic)
    rotated = dataclasses.replace(quadratic, eigenvectors=jnp.eye(2, dtype=jnp.float32), minimum=jnp.zeros(2, jnp.float32))
    x0 = (start - minimum) @ q
    half = 1.15 * max(float(np.abs(x0).max()), 2.5)
    original_bounds = plots.widened(quadratic.bounds, scale)
    eigen_bounds = plots.widened(((-half, half), (-half, half)), scale)
    original_grid = loss_grid(quadratic, original_bounds, resolution)
    eigen_grid = loss_grid(rotated, eigen_bounds, resolution)
    return EigenView(rotated, start, x0, original_bounds, eigen_bounds, original_grid, eigen_grid)


def trajectory_views(settings: Settings, done: dict[str, MethodRun]):
    """2-D: the runs in the original coordinates and in the eigenbasis, side by side.

    Both panels widen together, in steps, until they hold every path that did not diverge: at its
    optimal parameters momentum swings out past the default view."""
    quadratic = build_problem(settings.problem, settings.parameters)
    q = eigen_data(quadratic)[1]
    view = eigen_view(settings.problem, settings.parameters)
    kept = [r for r in done.values() if r.diverged_at is None]  # a diverged run is marked where it leaves
    scale = max(
        plots.covering_scale(view.original_bounds, [r.params for r in kept]),
        plots.covering_scale(view.eigen_bounds, [r.components for r in kept]),
    )
    if scale > 1:
        view = eigen_view(settings.problem, settings.parameters, scale)
    originals = [_drawn(n, r.params, r.grads, r.loss, r.diverged_at) for n, r in done.items()]
    # In the eigenbasis x = Qᵀ(θ − θ*) the gradient is Qᵀ∇L: rows g ↦ g Q.
    eigens = [_drawn(n, r.components, r.grads @ q, r.loss, r.diverged_at) for n, r in done.items()]
    st.markdown(legend(done), unsafe_allow_html=True)
    left, right = st.columns(2)
    key = f"{settings.problem}{settings.parameters}{scale}"
    with left:
        st.markdown("**Original coordinates θ**")
        figure = plots.landscape_figure(
            view.original_grid, quadratic, originals, view.start, view_key=key, height=460, bounds=view.original_bounds
        )
        figure.update_layout(showlegend=False, margin=dict(t=10))
        chart(figure, key="eigen_original_plot")
    with right:
        st.markdown(r"**Eigenbasis x = Qᵀ(θ − θ\*)**: x₁ along λ₁, x₂ along λ₂")
        figure = plots.landscape_figure(
            view.eigen_grid, view.eigen_view, eigens, view.x0, view_key=key, height=460, bounds=view.eigen_bounds
        )
        figure.update_layout(
            showlegend=False, margin=dict(t=10), xaxis=dict(title=dict(text="x₁")), yaxis=dict(title=dict(text="x₂"))
        )  # fmt: skip
        chart(figure, key="eigen_basis_plot")
    angle = np.degrees(np.arctan2(q[1, 0], q[0, 0]))
    st.caption(
        f"The same runs in both panels. The eigenbasis rotates the picture by {round(-angle, 1) + 0.0:.1f}° (and flips an axis where "
        "Q has a reflection) so that the valley's axes become the coordinate axes: each coordinate then evolves on "
        "its own. ▶ plays the steps in each panel."
    )


def _pick_follower(figure, grid: dict | None, panel: int) -> dict | None:
    """How direction chart ``panel`` follows the rate map's point: momentum's measured and closed-form lines."""
    if grid is None:
        return None
    title = OPTIMIZERS["momentum"].title
    names = [trace.get("name") for trace in figure.to_dict()["data"]]  # a PlainFigure: a shallow copy
    if title not in names or f"{title}: closed form" not in names:
        return None
    return {"grid": grid["name"], "direction": panel, "measured": names.index(title), "closed": names.index(f"{title}: closed form")}


def direction_views(settings: Settings, done: dict[str, MethodRun], picker: dict | None = None):
    """One chart per eigen-direction; with ``picker`` (``rate_picker``), momentum's lines follow the rate map's point."""
    quadratic = build_problem(settings.problem, settings.parameters)
    lam = eigen_data(quadratic)[0]
    if not settings.directions:
        st.info("Choose eigen-directions to draw in the sidebar.")
        return
    st.markdown(legend(done, closed_form=True), unsafe_allow_html=True)
    columns = st.columns(min(len(settings.directions), 3 if lam.size > 2 else 2))
    for panel, i in enumerate(settings.directions):
        measured, predicted = [], []
        for name, run in done.items():
            end = run.components.shape[0] if run.diverged_at is None else run.diverged_at
            measured.append((OPTIMIZERS[name].title, COLORS[name], run.components[:end, i]))
            if run.predicted is not None:
                predicted.append((OPTIMIZERS[name].title, run.predicted[:, i]))
        with columns[panel % len(columns)]:
            figure = eigenspace_plots.direction_figure(i, float(lam[i]), measured, predicted)
            chart(figure, key=f"direction_plot_{i}", follows=_pick_follower(figure, picker, panel))
    st.caption(
        "Solid: the measured error |xᵢᵏ| along each eigen-direction. Dotted: the closed forms, "
        "GD xᵢᵏ = (1 − αλᵢ)ᵏxᵢ⁰ and momentum from the roots of R = [[β, λᵢ], [−αβ, 1 − αλᵢ]]. "
        "A curve that stops has diverged."
    )


def rate_views(settings: Settings, picker: dict | None = None):
    """GD's rate against α and momentum's over (α, β); with ``picker`` (``rate_picker``) the latter is a control."""
    quadratic = build_problem(settings.problem, settings.parameters)
    lam = eigen_data(quadratic)[0]
    chosen = dict(settings.methods)
    if "gd" not in chosen and "momentum" not in chosen:
        st.caption("Add gradient descent or heavy-ball momentum to the methods to see their rates.")
        return
    best_gd, best_momentum = theory.optimal_gd(lam), theory.optimal_momentum(lam)
    reason = "no step size converges along a negative eigenvalue" if best_gd is None else None
    left, right = st.columns(2)
    if "gd" in chosen:
        alpha = float(dict(chosen["gd"])["learning_rate"])
        with left:
            figure = plots.cached_figure(
                ("gd_rate", settings.problem, settings.parameters, alpha), lambda: eigenspace_plots.gd_rate_figure(lam, alpha)
            )
            chart(figure, key="gd_rate_plot")
            label = "Set the optimal α" if best_gd is None else f"Set the optimal α = 2/(λ₁ + λₙ) = {best_gd.learning_rate:.4g}"
            st.button(label, key="optimal_gd", on_click=_set_optimal, args=(settings, ["gd"]), disabled=best_gd is None, help=reason,
                      icon=":material/star:")  # fmt: skip
    if "momentum" in chosen:
        values = dict(chosen["momentum"])
        with right:
            alpha, beta = float(values["learning_rate"]), float(values["momentum"])
            figure = plots.cached_figure(
                ("momentum_rate", settings.problem, settings.parameters, alpha, beta),
                lambda: eigenspace_plots.momentum_rate_figure(lam, alpha, beta),
            )
            pick = None
            if picker is not None:
                sweep_data(picker, key="momentum_grid")
                pick = {"grid": picker["name"], "current": [alpha, beta]}
            chart(figure, key=RATE_MAP_KEY, pick=pick, on_pick=_on_pick if pick else None)
            if pick:
                st.caption(pick_caption(picker, settings.steps))
            label = "Set the optimal (α, β)"
            if best_momentum is not None:
                label += f" = ({best_momentum.learning_rate:.4g}, {best_momentum.momentum:.4g})"
            st.button(label, key="optimal_momentum", on_click=_set_optimal,
                      args=(settings, ["momentum"]), disabled=best_momentum is None,
                      help=reason, icon=":material/star:")  # fmt: skip
    if best_gd is None:
        st.warning("This quadratic has a negative eigenvalue: every rate is above 1 and the optimal parameters do not exist.")
    else:
        st.caption(
            f"κ = {lam.max() / lam.min():.4g}. Best GD: α = 2/(λ₁ + λₙ), rate (κ − 1)/(κ + 1) = {best_gd.rate:.4f}. "
            f"Best momentum: α = (2/(√λ₁ + √λₙ))², β = ((√κ − 1)/(√κ + 1))², rate (√κ − 1)/(√κ + 1) = "
            f"{best_momentum.rate:.4f}. In the heatmap's uniform band the roots are complex and the rate is √β."
        )


def curvature_views(settings: Settings, done: dict[str, MethodRun]):
    with_model = {name: run for name, run in done.items() if run.spectrum is not None}
    if not with_model:
        names = ", ".join(OPTIMIZERS[n].title for n in PRECONDITIONED)
        st.caption(f"Add a method with a curvature model ({names}) to see how it converges to the true curvature.")
        return None
    chosen = dict(settings.methods)
    spectra = {}
    for name, run in with_model.items():
        scale = float(dict(chosen[name]).get("learning_rate", 1.0)) if settings.effective else 1.0
        spectra[name] = run.spectrum * scale
    titles = {n: OPTIMIZERS[n].title for n in spectra}
    key = ("spectrum", *settings._replace(methods=tuple((n, v) for n, v in settings.methods if n in spectra),
                                         directions=(), lesson=""))  # fmt: skip
    figure = plots.cached_figure(key, lambda: eigenspace_plots.spectrum_figure(spectra, titles, COLORS))
    chart(figure, key="spectrum_plot")
    rows = []
    for name, spectrum in spectra.items():
        reached = first_step_within(spectrum, TOLERANCE)
        distance = distance_from_newton(spectrum)
        final = spectrum[-1] if spectrum.size else spectrum
        finite = final[np.isfinite(final)]
        rows.append({
            "method": titles[name],
            "first step within 10 % of 1": "never" if reached is None else str(reached),
            "final max |ln μ|": _log_distance_text(distance[-1], final) if distance.size else "—",
            "worst max |ln μ| after that step": _worst_text(distance[reached - 1 :]) if reached else "—",
            "final μ range": f"{finite.min():.3g} … {finite.max():.3g}" if finite.size else "—",
        })  # fmt: skip
    st.table(pd.DataFrame(rows), hide_index=True)
    st.caption(
        "The lines are the eigenvalues μ of P·H at each step (H^{1/2}PH^{1/2}; real parts of eig(P·H) at a saddle), "
        "P each method's model of the inverse curvature. Newton's (H + λI)⁻¹ and Gauss–Newton's (G + λI)⁻¹ step "
        "θ ← θ − αPg, and L-BFGS's two-loop matrix θ ← θ − ηPg (η = α, or the line search's step; its first "
        "step, before any pair, is g shortened to at most unit length): on the exact quadratic the error along an "
        "eigenvector of P·H then changes by 1 − αμ (1 − ημ) in that step. Adam's diag(1/(√v̂ + ε)) multiplies the "
        "averaged gradient m̂, not g, and mL-BFGS's two-loop matrix, built from averaged and damped pairs, gives a "
        "direction Pg that is clipped and fed to heavy-ball momentum: for these two, μ says how P compares with the "
        "curvature, not how much one step shrinks the error. All at 1 (dashed) is an exact Newton model."
    )
    return spectra


def _log_distance_text(distance: float, eigenvalues: np.ndarray) -> str:
    """max |ln μ| as the table shows it: ln μ has no value for μ ≤ 0 (where ``distance_from_newton``
    gives ∞), so say which μ there is instead of printing inf."""
    if np.isfinite(distance):
        return f"{distance:.3g}"
    lowest = float(np.nanmin(eigenvalues))
    return f"undefined (μ = {lowest:.3g}: a negative eigenvalue)" if lowest < 0 else "undefined (μ = 0)"


def _worst_text(distances: np.ndarray) -> str:
    worst = float(distances.max())
    return f"{worst:.3g}" if np.isfinite(worst) else "undefined (a μ ≤ 0 later)"


def components_csv(settings: Settings, done: dict[str, MethodRun]) -> str:
    """Every method, step and eigen-direction: measured error, closed form, and the run's θ and loss."""
    lam = eigen_data(build_problem(settings.problem, settings.parameters))[0]
    frames = []
    for name, run in done.items():
        length, n = run.components.shape
        predicted = run.predicted if run.predicted is not None else np.full_like(run.components, np.nan)
        frames.append(pd.DataFrame({
            "optimizer": name, "step": np.repeat(np.arange(length), n), "direction": np.tile(np.arange(1, n + 1), length),
            "eigenvalue": np.tile(lam, length), "x_measured": run.components.ravel(), "x_closed_form": predicted.ravel(),
            "loss": np.repeat(run.loss, n), "diverged_at": -1 if run.diverged_at is None else run.diverged_at,
        }))  # fmt: skip
    buffer = io.StringIO()
    if frames:
        pd.concat(frames).to_csv(buffer, index=False, float_format="%.8g")
    return buffer.getvalue()


def spectra_csv(spectra: dict[str, np.ndarray] | None) -> str:
    frames = []
    for name, spectrum in (spectra or {}).items():
        steps, n = spectrum.shape
        frames.append(pd.DataFrame({
            "optimizer": name, "step": np.repeat(np.arange(1, steps + 1), n), "index": np.tile(np.arange(1, n + 1), steps),
            "eigenvalue_of_PH": spectrum.ravel(),
        }))  # fmt: skip
    buffer = io.StringIO()
    if frames:
        pd.concat(frames).to_csv(buffer, index=False, float_format="%.8g")
    return buffer.getvalue()


def explanations(settings: Settings):
    with st.expander("The closed forms, derived"):
        st.markdown(_docstring_markdown(theory.__doc__))
    with st.expander("How the curvature models are read off"):
        from optimizers import preconditioners

        st.markdown(_docstring_markdown(preconditioners.__doc__))
    for name, _ in settings.methods:
        info = OPTIMIZERS[name]
        with st.expander(f"How {info.title} works"):
            hint = look_for(name, "*")  # the landscape hints speak of the explorer's runs, not of this page's
            if hint:
                st.markdown(f"**What to look for.** {hint}")
            st.markdown(_docstring_markdown(info.explanation))


__all__ = [
    "PROBLEMS",
    "Settings",
    "declare",
    "build_problem",
    "components_csv",
    "compute",
    "curvature_views",
    "direction_views",
    "explanations",
    "problem_summary",
    "rate_views",
    "results",
    "sidebar_controls",
    "spectra_csv",
    "trajectory_views",
]
