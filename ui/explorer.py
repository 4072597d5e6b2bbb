"""The Landscape Explorer's view state, controls and views (``pages/explorer.py`` puts them together).

The view state (``declare``, read by ``ui.viewstate``) is every key of the
page's link: ``landscape`` and its parameters by name, ``gradient_noise``;
run slots ``run1`` … ``run6`` (an optimizer or ``none``) with their settings
as ``run1.learning_rate``, ``run1.adaptive``, ...; ``steps``, ``seed`` and
``seeds`` (noisy runs), ``x0``, ``y0``, ``view3d``; ``lesson``
(``lessons/explorer/``) and ``hide``. A run's learning-rate schedule is ``run1.schedule``
(``constant`` unless given) with its numbers as ``run1.schedule.decay_steps``, ...; its iterate
averaging ``run1.average`` (``none``, ``polyak``, ``ema``) with ``run1.average.decay`` and
``run1.average.start``; the hyperparameter its scrub control and sensitivity line go over is
``run1.sweep`` (its learning rate unless given). A landscape given by a formula (``custom``) takes
it as ``formula`` and, where the reader sets them, the view as ``x_min``, ``x_max``, ``y_min``, ``y_max``.
"""

from __future__ import annotations

import functools
import io
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from landscapes import LANDSCAPES
from landscapes import GRADIENT_NOISE as GRADIENT_NOISE_SPEC
from optimizers import LINE_SEARCHES, OPTIMIZERS, get_optimizer, theory
from optimizers.seeds import excess_loss, seed_statistics
from optimizers.starting_values import starting_values
from optimizers.sweeps import default_swept, diverged_at, run_sweep, sweep_window
from parameters import Parameter
from ui import controls, plots, viewstate
from ui.chart import chart, clicked_point, scrubbed, sweep_data
from ui.explanations import look_for
from ui.runs import Items, RunResult, build_landscape, compute_run, contour_grid, f32, items
from ui.optimizer_fields import AVERAGE, CONSTANT, NO_AVERAGE, PRIMARY, SCHEDULE
from ui.optimizer_fields import setting_fields, split_wrappers, wrapper_fields
from landscapes import parse_formula
from optimizers import learning_rates
from optimizers.averaging import AVERAGING
from optimizers.schedules import SCHEDULE_TITLES
from ui.runs import build_method
from ui.viewstate import Choice, Number, Text, Toggle

PAGE = "explorer"
SLOTS = 6
NONE = "none"
DEFAULT_RUNS = ("gd", "momentum", "adam", "lbfgs")
STEPS = Parameter(300, 10, 2000, log=True, integer=True, label="steps")
SEED = Parameter(0, 0, 2**31 - 1, integer=True, label="seed")
SEEDS = Parameter(8, 2, 64, log=True, integer=True, label="noisy runs (seeds)")
OPTIONS_SHOWN = {"adaptive", "line_search"}  # the structural options that matter in 2-D
SWEEP = "sweep"  # run<k>.sweep: the hyperparameter a run's scrub control and sensitivity chart go over
SYMBOLS = {"learning_rate": "α", "momentum": "β", "damping": "λ", "max_learning_rate": "α_max", "pair_interval": "T"}
PLOT_KEY = "landscape_plot"
RESULTS = "explorer_results"  # the fragment a move of a number control reruns alone (``results``)
LANDSCAPE_TITLES = {name: info.title for name, info in LANDSCAPES.items()}
RUN_TITLES = {NONE: "none", **{name: info.title for name, info in OPTIMIZERS.items()}}
NOISE_HELP = "Adds a random tilt ξᵀθ, ξ ~ N(0, σ²I), to the loss each step: noisy gradients, exact curvature."
FORMULA_LABEL = "L(x, y) ="
FORMULA_HELP = ("A formula in x and y: + − * / **, numbers, pi, e and functions such as sin, cos, exp, log, sqrt, "
                "abs, tanh, arctan, min, max. Press Enter to draw it; the link then holds it.")  # fmt: skip
AVERAGE_SHORT = {"polyak": "Polyak–Ruppert averaged", "ema": "EMA-averaged"}


def slot_key(slot: int) -> str:
    return f"run{slot}"


def setting_key(slot: int, name: str) -> str:
    return f"run{slot}.{name}"


class RunSpec(NamedTuple):
    slot: int
    optimizer: str
    settings: Items  # the optimizer's own hyperparameters and options
    schedule: str = CONSTANT  # a kind in optimizers.SCHEDULES
    schedule_params: Items = ()
    average: str = NO_AVERAGE  # none, or a kind in optimizers.averaging.AVERAGING
    average_params: Items = ()
    swept: str | None = None  # the hyperparameter its sweep goes over (None: the default, its learning rate)

    @property
    def color(self) -> str:
        return plots.PALETTE[self.slot - 1][1]

    @property
    def wrapped(self) -> bool:
        """Under a schedule or with its iterates averaged."""
        return self.schedule != CONSTANT or self.average != NO_AVERAGE

    @property
    def wrappers(self) -> tuple:
        """``compute_run``'s schedule and averaging arguments."""
        return self.schedule, self.schedule_params, self.average, self.average_params

    def method(self):
        """The optimizer the run uses, wrappers included (``ValueError`` for an impossible one)."""
        return build_method(self.optimizer, self.settings, *self.wrappers)

    @property
    def wrapper_label(self) -> str:
        """What the legend adds for the schedule and the averaging ("" for neither)."""
        parts = []
        if self.schedule == "warmup_cosine":  # a warm-up whose cosine ends at α is a warm-up alone
            values = dict(self.schedule_params)
            parts.append(f"warm-up over {int(values['warmup_steps'])} steps"
                         + ("" if values["end_value"] == 1 else ", cosine decay"))  # fmt: skip
        elif self.schedule != CONSTANT:
            parts.append(SCHEDULE_TITLES[self.schedule])
        if self.average != NO_AVERAGE:
            values = dict(self.average_params)
            what = AVERAGE_SHORT[self.average]
            if self.average == "ema":
                what += f" β={controls.format_number(values.get('decay', AVERAGING['ema']['decay'].default))}"
            if values.get("start"):
                what += f" from step {int(values['start'])}"
            parts.append(what)
        return "".join(f" · {part}" for part in parts)

    @property
    def label(self) -> str:
        """The title with the settings that tell two runs of one optimizer apart."""
        values = dict(self.settings)
        shown = [f"{SYMBOLS[k]}={controls.format_number(values[k])}" for k in SYMBOLS if k in values]
        if values.get("adaptive"):
            shown.append("adaptive")
        if values.get("line_search"):
            shown.append(f"{LINE_SEARCHES[values['line_search']]} line search")
        return " ".join([OPTIMIZERS[self.optimizer].title, *shown]) + self.wrapper_label


class Settings(NamedTuple):
    landscape: str
    landscape_parameters: Items
    gradient_noise: float
    runs: tuple[RunSpec, ...]
    steps: int
    seed: int
    seeds: int  # 1 on a deterministic landscape
    start: tuple[float, float]
    view_3d: bool
    lesson: str


# --- the view state ------------------------------------------------------------------
@functools.lru_cache(maxsize=256)  # asked for by every run's view; each answer reads the landscape from JAX
def default_start(landscape: str, parameters: Items = ()) -> tuple[float, float]:
    x, y = build_landscape(landscape, parameters).default_start[:2]
    return float(x), float(y)


@functools.lru_cache(maxsize=256)
def start_ranges(landscape: str, parameters: Items = ()) -> tuple[tuple[float, float], ...]:
    """Where a start may lie, per axis: within half the escape radius of the view's centre, so a run
    that starts there is not counted as diverged before its first step."""
    info = build_landscape(landscape, parameters)
    reach = float(np.floor(info.escape_radius / 2))
    return tuple((round((a + b) / 2 - reach), round((a + b) / 2 + reach)) for a, b in info.bounds)


def _depends_on_landscape(key: str) -> bool:
    """What starts afresh on a new landscape: the start, and each run's settings (they start at values
    that work on the landscape)."""
    return key in ("x0", "y0") or (key.startswith("run") and "." in key)


def _depends_on_formula(key: str) -> bool:
    """What starts afresh on a new formula: its view and the start, both chosen from its critical points."""
    return key in ("x0", "y0", "x_min", "x_max", "y_min", "y_max")


def landscape_texts(view: dict, landscape: str) -> dict[str, str]:
    """The landscape's text parameters (a formula) in ``view``; one that is missing or refused reads as its
    default (a view state holds only accepted ones, but ``viewstate.fields_of`` may be given any)."""
    texts = {}
    for name, default in (LANDSCAPES[landscape].text or {}).items():
        texts[name] = default
        if isinstance(view.get(name), str):
            try:
                parse_formula(view[name])
                texts[name] = view[name]
            except ValueError:
                pass
    return texts


def automatic_view(landscape: str, text: Items) -> dict[str, float]:
    """The view a landscape that chooses its own (``LandscapeInfo.optional``) takes for the text
    parameters ``text`` (a formula): its bounds by name."""
    (x0, x1), (y0, y1) = build_landscape(landscape, text).bounds
    return dict(zip(("x_min", "x_max", "y_min", "y_max"), (float(x0), float(x1), float(y0), float(y1))))


def landscape_parameters(view: dict, landscape: str) -> Items:
    """The landscape's parameters in ``view`` as ``build_landscape`` takes them: its numbers, its texts
    (a formula), and the view it would choose itself only where the reader moved it (an empty range in
    x or y, as a min above its max, is left out: the automatic view)."""
    info = LANDSCAPES[landscape]
    values = {k: view[k] for k in info.parameters if k not in info.optional and k in view}
    values |= landscape_texts(view, landscape)
    if info.optional and all(k in view for k in info.optional):
        given = {k: view[k] for k in info.optional}
        automatic = automatic_view(landscape, items(values))
        ordered = given["x_min"] < given["x_max"] and given["y_min"] < given["y_max"]
        if ordered and any(given[k] != automatic[k] for k in given):
            values |= given
    return items(values)


def empty_view(view: dict, landscape: str) -> bool:
    """The reader's view has an empty range (it is then left out: the automatic view is drawn)."""
    info = LANDSCAPES[landscape]
    if not info.optional or not all(k in view for k in info.optional):
        return False
    return not (view["x_min"] < view["x_max"] and view["y_min"] < view["y_max"])


def is_stochastic(view: dict, landscape: str) -> bool:
    return build_landscape(landscape, landscape_parameters(view, landscape), view["gradient_noise"]).is_stochastic


def landscape_fields(view: dict, landscape: str):
    """A landscape's parameters: its texts (a formula, checked by the formula parser, so a bad one is
    refused with its reason and position), then its numbers; a view it would choose itself starts at
    that choice."""
    info = LANDSCAPES[landscape]
    for name, default in (info.text or {}).items():
        yield Text(name, FORMULA_LABEL, default, validate=parse_formula, help=FORMULA_HELP, resets=_depends_on_formula)
    automatic = {}
    if info.optional:
        automatic = automatic_view(landscape, items(landscape_texts(view, landscape)))
    for name, spec in info.parameters.items():
        if name in automatic:  # a number box at the automatic view's end
            yield Number(name, spec.label or name, automatic[name], spec=spec._replace(default=automatic[name]),
                         box=True, step=0.5, help="Starts at the view chosen around the critical points found.")  # fmt: skip
        else:
            yield Number(name, spec.label or name, spec.default, spec=spec)


def declare(view: dict):
    """The explorer's controls in page order; ``view`` holds the values of those before."""
    yield Choice("landscape", "Landscape", "quadratic", options=tuple(LANDSCAPES), titles=LANDSCAPE_TITLES,
                 resets=_depends_on_landscape)  # fmt: skip
    landscape = view["landscape"]
    yield from landscape_fields(view, landscape)
    yield Number("gradient_noise", GRADIENT_NOISE_SPEC.label, GRADIENT_NOISE_SPEC.default, spec=GRADIENT_NOISE_SPEC,
                 help=NOISE_HELP)  # fmt: skip
    for slot in range(1, SLOTS + 1):
        prefix = slot_key(slot) + "."
        yield Choice(slot_key(slot), f"Run {slot}", DEFAULT_RUNS[slot - 1] if slot <= len(DEFAULT_RUNS) else NONE,
                     options=tuple(RUN_TITLES), titles=RUN_TITLES, resets=lambda key, p=prefix: key.startswith(p))  # fmt: skip
        if view[slot_key(slot)] != NONE:
            optimizer = view[slot_key(slot)]  # its sliders start at values that work on this landscape
            yield from setting_fields(slot_key(slot), optimizer, starting_values(landscape, optimizer), options=OPTIONS_SHOWN)
            yield from sweep_field(slot, optimizer)
            yield from wrapper_fields(slot_key(slot), view)
    yield Number("steps", STEPS.label, STEPS.default, spec=STEPS)
    if is_stochastic(view, landscape):
        yield Number("seed", SEED.label, SEED.default, spec=SEED, box=True, help="Seeds seed, seed + 1, … give the noisy runs.")
        yield Number("seeds", SEEDS.label, SEEDS.default, spec=SEEDS, help="How many seeds to run and draw as a cloud.")
    parameters = landscape_parameters(view, landscape)
    starts = zip(("x0", "y0"), ("start x", "start y"), default_start(landscape, parameters), start_ranges(landscape, parameters))
    for key, label, value, (low, high) in starts:
        yield Number(key, label, value, spec=Parameter(value, low, high), box=True, step=0.1)
    yield Toggle("view3d", "3-D surface view", False)


def sweep_field(slot: int, optimizer: str):
    """Which of the run's hyperparameters its scrub control and the sensitivity chart go over."""
    hyperparameters = OPTIMIZERS[optimizer].hyperparameters
    if hyperparameters:
        yield Choice(setting_key(slot, SWEEP), "scrub and sensitivity over", default_swept(list(hyperparameters)),
                     options=tuple(hyperparameters), titles={n: p.label or n for n, p in hyperparameters.items()},
                     help="The hyperparameter this run's scrub control (under the landscape) and its line in the "
                          "sensitivity chart go over, at the slider's values within a decade of the current one.")  # fmt: skip


def _reset_start():
    """Reset the start: back to the landscape's own."""
    controls.forget(PAGE, ("x0", "y0"))


def _on_plot_click():
    """A click on the landscape moves the start there."""
    point = clicked_point(PLOT_KEY)
    if point:
        st.session_state["x0"], st.session_state["y0"] = (round(v, 3) for v in point)


# --- the sidebar -------------------------------------------------------------------
def _is_wrapper_key(slot: int, key: str) -> bool:
    return key.split(".", 2)[1] in (SCHEDULE, AVERAGE)


def _slot_widgets(view, slot: int, where):
    colour_name = plots.PALETTE[slot - 1][0]
    box = where.container(border=True)
    controls.widget(view, slot_key(slot), where=box, label=f":{colour_name}[●] Run {slot}")
    keys = [k for k in view.fields if k.startswith(slot_key(slot) + ".")]
    more = None
    for key in [k for k in keys if not _is_wrapper_key(slot, k)]:  # the optimizer's own settings
        primary = key.split(".", 1)[1] in PRIMARY
        if not primary and not controls.is_hidden(view, key):
            more = more or box.expander("more settings")
        controls.widget(view, key, where=box if primary else more, alone=True)  # a run's numbers change only its run
    wrappers = [k for k in keys if _is_wrapper_key(slot, k)]
    if wrappers and not all(controls.is_hidden(view, k) for k in wrappers):
        chosen = [view[setting_key(slot, SCHEDULE)] != CONSTANT, view[setting_key(slot, AVERAGE)] != NO_AVERAGE]
        title = "schedule and averaging" + (": " + ", ".join(
            w for w, on in zip(("scheduled", "averaged"), chosen) if on) if any(chosen) else "")  # fmt: skip
        inner = box.expander(title, expanded=any(chosen))
        for key in wrappers:
            controls.widget(view, key, where=inner, alone=True)


def _run_widgets(view, where):
    """The used slots, and one empty slot after the last used one to add a run."""
    used = [slot for slot in range(1, SLOTS + 1) if view[slot_key(slot)] != NONE]
    last = max(used, default=0)
    for slot in range(1, min(last + 1, SLOTS) + 1):
        if view[slot_key(slot)] != NONE or slot == last + 1:
            _slot_widgets(view, slot, where)


def _landscape_widgets(view, bar):
    """The landscape's parameters: a formula's box, the view it chose (in two columns), the numbers."""
    info = LANDSCAPES[view["landscape"]]
    for name in info.text or {}:
        controls.widget(view, name, where=bar)
    optional = [name for name in info.parameters if name in info.optional]
    for name in info.parameters:
        if name not in optional:
            controls.widget(view, name, where=bar)
    if optional and not all(controls.is_hidden(view, k) for k in optional):
        with bar.expander("view (chosen around the critical points; or set it)"):
            for pair in (optional[:2], optional[2:]):
                columns = st.columns(len(pair))
                for name, column in zip(pair, columns):
                    controls.widget(view, name, where=column)
            if empty_view(view.state, view["landscape"]):
                st.caption("A range is empty (its smallest value is not below its largest): drawing the automatic view.")
            if any(k in dict(landscape_parameters(view.state, view["landscape"])) for k in optional):
                st.button("Choose the view again", on_click=controls.forget, args=(PAGE, optional))


def settings_of(view: dict) -> Settings:
    """The settings a view state describes (a page's, a lesson's or a link's)."""
    fields = viewstate.fields_of(declare, view)
    landscape = view["landscape"]
    parameters = landscape_parameters(view, landscape)
    runs = []
    for slot in range(1, SLOTS + 1):
        optimizer = view[slot_key(slot)]
        if optimizer != NONE:
            prefix = slot_key(slot) + "."
            values = {k[len(prefix):]: view[k] for k in fields if k.startswith(prefix)}
            swept = values.pop(SWEEP, None)
            own, schedule, schedule_params, average, average_params = split_wrappers(values)
            runs.append(RunSpec(slot, optimizer, items(own), schedule, items(schedule_params), average,
                                items(average_params), swept))  # fmt: skip
    stochastic = "seeds" in fields
    seed, seeds = (view["seed"], view["seeds"]) if stochastic else (0, 1)
    return Settings(landscape, parameters, float(view["gradient_noise"]), tuple(runs), int(view["steps"]), int(seed),
                    int(seeds), (float(view["x0"]), float(view["y0"])), bool(view["view3d"]), view["lesson"])  # fmt: skip


def sidebar_controls(view):
    """Draw the sidebar; the place at its end for the button that saves the view as a lesson."""
    bar = st.sidebar
    controls.widget(view, "lesson", where=bar)
    bar.subheader("Landscape")
    controls.widget(view, "landscape", where=bar)
    bar.caption(LANDSCAPES[view["landscape"]].summary)
    _landscape_widgets(view, bar)
    controls.widget(view, "gradient_noise", where=bar, alone=True)
    bar.subheader("Optimizers")
    _run_widgets(view, bar)
    bar.subheader("Run")
    for key in ("steps", "seed", "seeds"):
        if key in view.fields:
            controls.widget(view, key, where=bar, alone=True)
    left, right = bar.columns(2)
    controls.widget(view, "x0", where=left, alone=True)
    controls.widget(view, "y0", where=right, alone=True)
    if not controls.is_hidden(view, "x0"):
        bar.button("Reset the start", on_click=_reset_start, help="Or click on the landscape to start there.")
    controls.widget(view, "view3d", where=bar)
    return bar.container()  # the save button's place: ``results`` draws it, with the values it saves


# --- computing and drawing ---------------------------------------------------------------
@controls.results_fragment(RESULTS)
def results(view: controls.PageView, lesson_place):
    """The runs and everything drawn from them: the landscape with their paths, the loss curves, the
    table and the sensitivity chart, and (in the sidebar's ``lesson_place``) the button that saves the
    view. A move of a number control reruns this alone: the sidebar, the lesson, the notes and the
    optimizers' explanations (which follow only the choices) are not sent again (``controls.fragment_view``)."""
    settings = settings_of(view.state)
    done, problems = compute(settings)
    controls.show_problems(problems)
    if not settings.runs:
        st.info("Choose an optimizer for Run 1 in the sidebar.")
    drawn = [d for _, d in done]
    swept = compute_sweeps(settings, done)  # each run at nearby values of its learning rate, for scrubbing
    landscape_view(settings, drawn, swept)
    loss_column, table_column = st.columns([3, 2])
    with loss_column:
        loss_view(settings, done, swept)
        schedule_view(settings, done)  # α against the step, for the runs under a schedule
    with table_column:
        st.table(summary_table(settings, drawn), hide_index=True)  # plain HTML: drawn with the page, not after it
        st.download_button(
            "Download the trajectories (CSV)", data=lambda: trajectories_csv(settings, done),
            file_name="trajectories.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
        )  # fmt: skip
        st.caption("The picture: the camera icon in the plot's toolbar saves it as a PNG.")
    sensitivity_view(settings, swept)
    controls.save_lesson_button(view, where=lesson_place)


def compute(settings: Settings) -> tuple[list[tuple[RunSpec, plots.Drawn]], list[str]]:
    """The runs that can be done, and a plain message for each that cannot."""
    done, problems = [], []
    for spec in settings.runs:
        try:
            run = compute_run(
                settings.landscape, settings.landscape_parameters, settings.gradient_noise, spec.optimizer,
                spec.settings, settings.start, settings.steps, settings.seed, settings.seeds, *spec.wrappers,
            )  # fmt: skip
        except ValueError as error:
            problems.append(f"Run {spec.slot}, {OPTIMIZERS[spec.optimizer].title}: {error}")
            continue
        done.append((spec, plots.Drawn(spec.label, spec.color, run)))
    return done, problems


def landscape_view(settings: Settings, drawn: list[plots.Drawn], swept: "list[Swept]" = ()):
    """The landscape with the runs; with ``swept``, a scrub control per run under the playback."""
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    grid = contour_grid(settings.landscape, settings.landscape_parameters)
    if settings.view_3d:
        chart(plots.surface_figure(grid, landscape, drawn, settings.start), key="surface_plot")
        return
    view_key = f"{settings.landscape}{settings.landscape_parameters}"
    figure = plots.landscape_figure(grid, landscape, drawn, settings.start, view_key=view_key)
    scrub = plots.scrub_layer(
        figure, [(s.drawn, s.spec.slot, s.title, s.view, s.index, s.texts, setting_key(s.spec.slot, s.view.name)) for s in swept]
    ) if swept else None  # fmt: skip
    chart(
        figure, key=PLOT_KEY, on_click=_on_plot_click,
        config={"scrollZoom": True, "toImageButtonOptions": {"filename": "landscape", "scale": 2}},
        scrub=scrub, on_scrub=_on_scrub if scrub else None,
    )  # fmt: skip
    for s in swept if scrub else ():
        sweep_data(s.view.scrub, key=f"sweep_{slot_key(s.spec.slot)}")
    st.caption(
        "▶ plays the steps; the slider scrubs. At the current step, the solid arrow is the update each method "
        "took and the dotted one the direction of −∇L, drawn as long as the update. Click the landscape to start there."
        + (" Drag a run's scrub control to see its path at each nearby value of its hyperparameter at once; "
           "let go to set it. Dragging the run's own slider in the sidebar does the same until you let go (at the "
           "nearest value its scrub control has, which it names), then the page draws the slider's value." if scrub else "")
    )


def expected_curves(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]]) -> list[plots.LossCurve]:
    """Gradient descent (fixed step) on the noisy quadratic: its expected loss in closed form, dotted."""
    if settings.landscape != "noisy_quadratic" or settings.gradient_noise:
        return []
    values = dict(settings.landscape_parameters)
    quadratic = build_landscape(settings.landscape, settings.landscape_parameters).quadratic
    lam, q = np.asarray(quadratic.eigenvalues, np.float64), np.asarray(quadratic.eigenvectors, np.float64)
    x0 = (np.asarray(settings.start, np.float64) - np.asarray(quadratic.minimum, np.float64)) @ q
    curves = []
    for spec, d in done:
        alpha = dict(spec.settings).get("learning_rate")
        constant = spec.schedule == CONSTANT  # the closed form is for a fixed step
        if spec.optimizer == "gd" and constant and not dict(spec.settings).get("line_search") and np.all(alpha * lam < 2):
            expected = theory.gd_expected_excess_loss(lam, x0, alpha, values["noise_scale"], values["batch_size"], settings.steps)
            # dark, so that it shows over the run's own mean and band
            curves.append(plots.LossCurve(f"{d.label}: expected (closed form)", expected, "#222222", dash="dot"))
    return curves


def loss_view(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]], swept: "list[Swept]" = ()):
    """The loss curves; with ``swept``, each run's curve follows its scrub control."""
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    bounded = np.isfinite(landscape.minimum_loss)
    curves = plots.run_loss_curves([d for _, d in done], landscape) + expected_curves(settings, done)
    figure = plots.loss_curve_figure(
        curves, y_title="L − L*" if bounded else "L", log_y=bounded,
        title="Loss: mean of the running seeds, 10–90 % band" if settings.seeds > 1 else "Loss against step", height=420,
    )  # fmt: skip
    targets = plots.loss_targets(figure.to_dict(), [s.drawn for s in swept]) if swept else None
    chart(figure, key="loss_plot", targets=targets)


def schedule_view(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]]):
    """α against the step for the runs under a learning-rate schedule (nothing when there is none)."""
    scheduled = [(spec, d) for spec, d in done if spec.schedule != CONSTANT]
    if not scheduled:
        return
    runs = [(d.label, d.color, learning_rates(spec.method(), settings.steps)) for spec, d in scheduled]
    chart(plots.learning_rate_figure(runs), key="schedule_plot")
    st.caption("The learning rate of each step, α·s(t), for the runs under a schedule (the optimizer's α is its peak).")


def summary_table(settings: Settings, drawn: list[plots.Drawn]) -> pd.DataFrame:
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    final = "final L − L*" if np.isfinite(landscape.minimum_loss) else "final L"
    rows = []
    for d in drawn:
        stats = seed_statistics(d.run.loss, d.run.params, d.run.diverged_at, landscape.minimum_loss)
        if stats.seeds == 1:  # one exact run: one that converged stops moving too, so no "froze" here
            verdict = "no" if stats.first_divergence is None else f"at step {stats.first_divergence}"
            value = "—" if np.isnan(stats.mean[-1]) else f"{stats.mean[-1]:.1e}"  # NaN: it diverged
            rows.append({"run": d.label, final: value, **final_of_average(d.run, left=np.ones(1, bool),
                         minimum_loss=landscape.minimum_loss), "diverged": verdict})  # fmt: skip
            continue
        # A diverged seed sits at its last good point and a frozen one has stalled: neither converged.
        value = "— (none left)" if stats.final_excess is None else f"{stats.final_excess:.1e}"
        rows.append({
            "run": d.label, f"{final}, mean of the seeds that neither diverged nor froze": value,
            **final_of_average(d.run, left=~stats.diverged & ~stats.frozen, minimum_loss=landscape.minimum_loss),
            "diverged": f"{int(stats.diverged.sum())} of {stats.seeds}", "froze": f"{int(stats.frozen.sum())} of {stats.seeds}",
        })  # fmt: skip
    table = pd.DataFrame(rows)
    if AVERAGE_COLUMN in table:  # beside the final loss it compares with; blank for the runs without averaging
        table.insert(2, AVERAGE_COLUMN, table.pop(AVERAGE_COLUMN).fillna(""))
    return table


AVERAGE_COLUMN = "… of the average of the iterates"


def final_of_average(run: RunResult, left: np.ndarray, minimum_loss: float) -> dict[str, str]:
    """The summary table's column for a run with iterate averaging: the final L − L* at the average,
    over the same seeds as the run's own column (blank for a run without averaging)."""
    if run.averaged_loss is None:
        return {}
    final = excess_loss(run.averaged_loss, minimum_loss)[left, -1]
    return {AVERAGE_COLUMN: f"{final.mean():.1e}" if final.size and np.isfinite(final).all() else "—"}


def explanations(settings: Settings):
    seen = set()
    for spec in settings.runs:
        if spec.optimizer in seen:
            continue
        seen.add(spec.optimizer)
        info = OPTIMIZERS[spec.optimizer]
        with st.expander(f"How {info.title} works"):
            hint = look_for(spec.optimizer, settings.landscape)
            if hint:
                st.markdown(f"**What to look for here** (from the landscape's default start, with the sliders' starting "
                            f"values). {hint}")  # fmt: skip
            st.markdown(_docstring_markdown(info.explanation))


def _docstring_markdown(text: str) -> str:
    """Docstring → markdown: indented lines (the equations) become a code block."""
    lines, block = [], []
    for line in text.splitlines():
        if line.startswith("    "):
            block.append(line[4:])
            continue
        if block:
            lines += ["```text", *block, "```"]
            block = []
        lines.append(line.replace("``", "`"))
    if block:
        lines += ["```text", *block, "```"]
    return "\n".join(lines)


def averaged_columns(run: RunResult) -> dict[str, np.ndarray]:
    """With iterate averaging, the average θ̄ₖ and its loss L(θ̄ₖ) beside each step (empty in the CSV
    of a run without it)."""
    if run.averaged is None:
        return {}
    return {"average_x": run.averaged[..., 0].ravel(), "average_y": run.averaged[..., 1].ravel(),
            "average_loss": run.averaged_loss.ravel()}  # fmt: skip


def trajectories_csv(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]]) -> str:
    """Every run, seed and step as one table."""
    frames = []
    for spec, d in done:
        run: RunResult = d.run
        seeds, length = run.loss.shape
        frames.append(pd.DataFrame({
            "run": d.label, "optimizer": spec.optimizer, "seed": np.repeat(settings.seed + np.arange(seeds), length),
            "step": np.tile(np.arange(length), seeds), "x": run.params[..., 0].ravel(), "y": run.params[..., 1].ravel(),
            "loss": run.loss.ravel(), "grad_x": run.grads[..., 0].ravel(), "grad_y": run.grads[..., 1].ravel(),
            "diverged_at": np.repeat([-1 if s is None else s for s in run.diverged_at], length),
            **averaged_columns(run),
        }))  # fmt: skip
    buffer = io.StringIO()
    if frames:
        pd.concat(frames).to_csv(buffer, index=False, float_format="%.7g")
    return buffer.getvalue()


# --- sweeps: each run over nearby values of one hyperparameter, for scrubbing and the sensitivity chart ---
SWEEP_SEEDS = 8  # a noisy run's sweep runs its first seeds only
SENSITIVITY_KEY = "sensitivity_plot"


class Swept(NamedTuple):
    """A run and its sweep, as the views draw them."""

    spec: RunSpec
    drawn: plots.Drawn
    view: plots.SweepView
    index: int  # the current value's position among the swept values
    title: str  # the swept hyperparameter's label
    texts: list[str]  # each swept value as its slider writes it


def swept_name(spec: RunSpec) -> str | None:
    """The hyperparameter a run's sweep goes over: its own choice, else its learning rate (None for none)."""
    hyperparameters = list(OPTIMIZERS[spec.optimizer].hyperparameters)
    return spec.swept if spec.swept in hyperparameters else default_swept(hyperparameters)


def _sweep_context(settings: Settings, spec: RunSpec, name: str) -> tuple:
    """Everything a run's sweep depends on except the swept value itself."""
    others = tuple((k, v) for k, v in spec.settings if k != name)
    return (settings.landscape, settings.landscape_parameters, settings.gradient_noise, spec.optimizer, others, name,
            settings.start, settings.steps, settings.seed, min(settings.seeds, SWEEP_SEEDS))  # fmt: skip


def sweep_values(settings: Settings, spec: RunSpec, name: str) -> tuple:
    """The values a run sweeps: its slider's points within a decade of the current value, the nearest
    ones all (``optimizers.sweeps.sweep_window``). While the current value stays among them and nothing else
    about the run changes, they stay the same: a value let go from a scrub control is then a sweep
    already computed (one rerun, its sweep from the cache)."""
    current = dict(spec.settings)[name]
    context, key = _sweep_context(settings, spec, name), f"_sweep.{slot_key(spec.slot)}"
    held = st.session_state.get(key)
    if held and held[0] == context and current in held[1]:
        return held[1]
    values = tuple(sweep_window(controls.slider_grid(OPTIMIZERS[spec.optimizer].hyperparameters[name]), current))
    st.session_state[key] = (context, values)
    return values


@st.cache_data(max_entries=256, show_spinner=False)
def compute_sweep(
    landscape_name: str,
    landscape_parameters: Items,
    gradient_noise: float,
    optimizer: str,
    others: Items,
    name: str,
    values: tuple,
    start: tuple[float, float],
    steps: int,
    seed: int,
    seeds: int,
    color: str,
) -> plots.SweepView:
    """A run (``others``: its settings but ``name``) at each of ``values`` of ``name``, with its first
    ``seeds`` seeds, in one program (``optimizers.sweeps.run_sweep``), reduced to what the page draws.
    Raises ``ValueError`` for an impossible combination."""
    landscape = build_landscape(landscape_name, landscape_parameters, gradient_noise)
    method = get_optimizer(optimizer, **dict(others))
    sweep = run_sweep(landscape, method, name, values, np.asarray(start, np.float32), steps, seed + np.arange(seeds))
    runs = [
        RunResult(f32(sweep.params[i, ..., :2]), f32(sweep.loss[i]), f32(sweep.grads[i, ..., :2]), tuple(stopped))
        for i, stopped in enumerate(diverged_at(sweep))
    ]
    return plots.sweep_view(name, values, runs, build_landscape(landscape_name, landscape_parameters), color)


def compute_sweeps(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]]) -> list[Swept]:
    """Every drawn run's sweep (a run that cannot be swept is left out)."""
    swept = []
    for spec, drawn in done:
        name = swept_name(spec)
        if name is None or spec.wrapped:  # a sweep runs the optimizer alone, without schedule or averaging
            continue
        values = sweep_values(settings, spec, name)
        context = _sweep_context(settings, spec, name)
        try:
            view = compute_sweep(*context[:4], context[4], name, values, *context[6:], spec.color)
        except ValueError:
            continue
        parameter = OPTIMIZERS[spec.optimizer].hyperparameters[name]
        texts = [controls.format_number(v, integer=parameter.integer) for v in values]
        swept.append(Swept(spec, drawn, view, values.index(dict(spec.settings)[name]), parameter.label or name, texts))
    return swept


def _on_scrub():
    """A scrub control let go: its run's slider takes the value (and the link follows)."""
    moved = scrubbed(PLOT_KEY)
    if not moved:
        return
    slot, name, value = moved
    optimizer = st.session_state.get(slot_key(slot))
    parameter = OPTIMIZERS[optimizer].hyperparameters.get(name) if optimizer in OPTIMIZERS else None
    if parameter is None:
        return
    try:
        st.session_state[setting_key(slot, name)] = parameter.check(name, value)
    except ValueError:
        pass  # not a value this slider takes: left as it is


def sensitivity_view(settings: Settings, swept: list[Swept]):
    """Final L − L* and steps to the tolerance against each run's swept hyperparameter."""
    if not swept:
        return
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    titles = list(dict.fromkeys(s.title for s in swept))
    specs = [OPTIMIZERS[s.spec.optimizer].hyperparameters[s.view.name] for s in swept]
    log_x = all(p.log or (p.low == 0 and p.high >= 1000) for p in specs)
    figure = plots.sensitivity_figure(
        [(s.drawn, s.view, s.index) for s in swept], landscape, x_title=" / ".join(titles), log_x=log_x,
    )  # fmt: skip
    st.subheader("How sensitive is each run to its " + ("learning rate" if titles == ["learning rate α"] else "setting") + "?")
    chart(figure, key=SENSITIVITY_KEY, targets=figure.targets, drag_scrubs=True)
    noisy = f" over its first {min(settings.seeds, SWEEP_SEEDS)} seeds" if settings.seeds > 1 else ""
    st.caption(
        f"Each run at its slider's values within a decade of its own (ringed){noisy}, all computed at once. "
        f"× and shading: the settings that diverged. Below: the first step with L − L* ≤ {plots.TOLERANCE:.0e} "
        "(none drawn where it is never reached). The filled point follows a scrub control; pressing on the chart and "
        "dragging sideways moves the scrub control of the run whose line is nearest, and letting go sets it."
    )


def warm_sweeps(settings: Settings):
    """The sweeps of ``settings``' runs computed once outside Streamlit (``ui.serve`` at server start):
    their programs are then compiled when the first visitor asks."""
    for spec in settings.runs:
        name = swept_name(spec)
        if name is None or spec.wrapped:
            continue
        current = dict(spec.settings)[name]
        values = tuple(sweep_window(controls.slider_grid(OPTIMIZERS[spec.optimizer].hyperparameters[name]), current))
        context = _sweep_context(settings, spec, name)
        try:
            compute_sweep.__wrapped__(*context[:4], context[4], name, values, *context[6:], spec.color)
        except ValueError:
            pass
