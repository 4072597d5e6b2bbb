"""The Landscape Explorer's view state, controls and views (``pages/explorer.py`` puts them together).

The view state (``declare``, read by ``ui.viewstate``) is every key of the
page's link: ``landscape`` and its parameters by name, ``gradient_noise``;
run slots ``run1`` … ``run6`` (an optimizer or ``none``) with their settings
as ``run1.learning_rate``, ``run1.adaptive``, ...; ``steps``, ``seed`` and
``seeds`` (noisy runs), ``x0``, ``y0``, ``view3d``; ``lesson``
(``lessons/explorer/``) and ``hide``.
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
from optimizers import LINE_SEARCHES, OPTIMIZERS, theory
from optimizers.starting_values import starting_values
from parameters import Parameter
from ui import controls, plots, viewstate
from ui.chart import chart, clicked_point
from ui.explanations import look_for
from ui.runs import Items, RunResult, build_landscape, compute_run, contour_grid, items
from ui.optimizer_fields import setting_fields
from ui.viewstate import Choice, Number, Toggle

PAGE = "explorer"
SLOTS = 6
NONE = "none"
DEFAULT_RUNS = ("gd", "momentum", "adam", "lbfgs")
STEPS = Parameter(300, 10, 2000, log=True, integer=True, label="steps")
SEED = Parameter(0, 0, 2**31 - 1, integer=True, label="seed")
SEEDS = Parameter(8, 2, 64, log=True, integer=True, label="noisy runs (seeds)")
OPTIONS_SHOWN = {"adaptive", "line_search"}  # the structural options that matter in 2-D
SYMBOLS = {"learning_rate": "α", "momentum": "β", "damping": "λ", "max_learning_rate": "α_max", "pair_interval": "T"}
PLOT_KEY = "landscape_plot"
LANDSCAPE_TITLES = {name: info.title for name, info in LANDSCAPES.items()}
RUN_TITLES = {NONE: "none", **{name: info.title for name, info in OPTIMIZERS.items()}}
NOISE_HELP = "Adds a random tilt ξᵀθ, ξ ~ N(0, σ²I), to the loss each step: noisy gradients, exact curvature."


def slot_key(slot: int) -> str:
    return f"run{slot}"


def setting_key(slot: int, name: str) -> str:
    return f"run{slot}.{name}"


class RunSpec(NamedTuple):
    slot: int
    optimizer: str
    settings: Items

    @property
    def color(self) -> str:
        return plots.PALETTE[self.slot - 1][1]

    @property
    def label(self) -> str:
        """The title with the settings that tell two runs of one optimizer apart."""
        values = dict(self.settings)
        shown = [f"{SYMBOLS[k]}={controls.format_number(values[k])}" for k in SYMBOLS if k in values]
        if values.get("adaptive"):
            shown.append("adaptive")
        if values.get("line_search"):
            shown.append(f"{LINE_SEARCHES[values['line_search']]} line search")
        return " ".join([OPTIMIZERS[self.optimizer].title, *shown])


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
def default_start(landscape: str) -> tuple[float, float]:
    x, y = build_landscape(landscape, ()).default_start[:2]
    return float(x), float(y)


def start_ranges(landscape: str) -> list[tuple[float, float]]:
    """Where a start may lie, per axis: within half the escape radius of the view's centre, so a run
    that starts there is not counted as diverged before its first step."""
    info = build_landscape(landscape, ())
    reach = float(np.floor(info.escape_radius / 2))
    return [(round((a + b) / 2 - reach), round((a + b) / 2 + reach)) for a, b in info.bounds]


def _depends_on_landscape(key: str) -> bool:
    """What starts afresh on a new landscape: the start, and each run's settings (they start at values
    that work on the landscape)."""
    return key in ("x0", "y0") or (key.startswith("run") and "." in key)


def is_stochastic(view: dict, landscape: str) -> bool:
    parameters = items({k: view[k] for k in LANDSCAPES[landscape].parameters})
    return build_landscape(landscape, parameters, view["gradient_noise"]).is_stochastic


def declare(view: dict):
    """The explorer's controls in page order; ``view`` holds the values of those before."""
    yield Choice("landscape", "Landscape", "quadratic", options=tuple(LANDSCAPES), titles=LANDSCAPE_TITLES,
                 resets=_depends_on_landscape)  # fmt: skip
    landscape = view["landscape"]
    for name, spec in LANDSCAPES[landscape].parameters.items():
        yield Number(name, spec.label or name, spec.default, spec=spec)
    yield Number("gradient_noise", GRADIENT_NOISE_SPEC.label, GRADIENT_NOISE_SPEC.default, spec=GRADIENT_NOISE_SPEC,
                 help=NOISE_HELP)  # fmt: skip
    for slot in range(1, SLOTS + 1):
        prefix = slot_key(slot) + "."
        yield Choice(slot_key(slot), f"Run {slot}", DEFAULT_RUNS[slot - 1] if slot <= len(DEFAULT_RUNS) else NONE,
                     options=tuple(RUN_TITLES), titles=RUN_TITLES, resets=lambda key, p=prefix: key.startswith(p))  # fmt: skip
        if view[slot_key(slot)] != NONE:
            optimizer = view[slot_key(slot)]  # its sliders start at values that work on this landscape
            yield from setting_fields(slot_key(slot), optimizer, starting_values(landscape, optimizer), options=OPTIONS_SHOWN)
    yield Number("steps", STEPS.label, STEPS.default, spec=STEPS)
    if is_stochastic(view, landscape):
        yield Number("seed", SEED.label, SEED.default, spec=SEED, box=True, help="Seeds seed, seed + 1, … give the noisy runs.")
        yield Number("seeds", SEEDS.label, SEEDS.default, spec=SEEDS, help="How many seeds to run and draw as a cloud.")
    starts = zip(("x0", "y0"), ("start x", "start y"), default_start(landscape), start_ranges(landscape))
    for key, label, value, (low, high) in starts:
        yield Number(key, label, value, spec=Parameter(value, low, high), box=True, step=0.1)
    yield Toggle("view3d", "3-D surface view", False)


def _reset_start():
    """Reset the start: back to the landscape's own."""
    controls.forget(PAGE, ("x0", "y0"))


def _on_plot_click():
    """A click on the landscape moves the start there."""
    point = clicked_point(PLOT_KEY)
    if point:
        st.session_state["x0"], st.session_state["y0"] = (round(v, 3) for v in point)


# --- the sidebar -------------------------------------------------------------------
def _slot_widgets(view, slot: int, where):
    colour_name = plots.PALETTE[slot - 1][0]
    box = where.container(border=True)
    controls.widget(view, slot_key(slot), where=box, label=f":{colour_name}[●] Run {slot}")
    controls.setting_widgets(view, slot_key(slot), box)


def _run_widgets(view, where):
    """The used slots, and one empty slot after the last used one to add a run."""
    used = [slot for slot in range(1, SLOTS + 1) if view[slot_key(slot)] != NONE]
    last = max(used, default=0)
    for slot in range(1, min(last + 1, SLOTS) + 1):
        if view[slot_key(slot)] != NONE or slot == last + 1:
            _slot_widgets(view, slot, where)


def settings_of(view: dict) -> Settings:
    """The settings a view state describes (a page's, a lesson's or a link's)."""
    fields = viewstate.fields_of(declare, view)
    landscape = view["landscape"]
    parameters = items({k: view[k] for k in LANDSCAPES[landscape].parameters})
    runs = []
    for slot in range(1, SLOTS + 1):
        optimizer = view[slot_key(slot)]
        if optimizer != NONE:
            prefix = slot_key(slot) + "."
            values = {k[len(prefix):]: view[k] for k in fields if k.startswith(prefix)}
            runs.append(RunSpec(slot, optimizer, items(values)))
    stochastic = "seeds" in fields
    seed, seeds = (view["seed"], view["seeds"]) if stochastic else (0, 1)
    return Settings(landscape, parameters, float(view["gradient_noise"]), tuple(runs), int(view["steps"]), int(seed),
                    int(seeds), (float(view["x0"]), float(view["y0"])), bool(view["view3d"]), view["lesson"])  # fmt: skip


def sidebar_controls(view) -> Settings:
    """Draw the sidebar; the settings it holds."""
    bar = st.sidebar
    controls.widget(view, "lesson", where=bar)
    bar.subheader("Landscape")
    controls.widget(view, "landscape", where=bar)
    bar.caption(LANDSCAPES[view["landscape"]].summary)
    for name in LANDSCAPES[view["landscape"]].parameters:
        controls.widget(view, name, where=bar)
    controls.widget(view, "gradient_noise", where=bar)
    bar.subheader("Optimizers")
    _run_widgets(view, bar)
    bar.subheader("Run")
    for key in ("steps", "seed", "seeds"):
        if key in view.fields:
            controls.widget(view, key, where=bar)
    left, right = bar.columns(2)
    controls.widget(view, "x0", where=left)
    controls.widget(view, "y0", where=right)
    if not controls.is_hidden(view, "x0"):
        bar.button("Reset the start", on_click=_reset_start, help="Or click on the landscape to start there.")
    controls.widget(view, "view3d", where=bar)
    controls.save_lesson_button(view, where=bar)
    return settings_of(view.state)


# --- computing and drawing ---------------------------------------------------------------
def compute(settings: Settings) -> tuple[list[tuple[RunSpec, plots.Drawn]], list[str]]:
    """The runs that can be done, and a plain message for each that cannot."""
    done, problems = [], []
    for spec in settings.runs:
        try:
            run = compute_run(
                settings.landscape, settings.landscape_parameters, settings.gradient_noise, spec.optimizer,
                spec.settings, settings.start, settings.steps, settings.seed, settings.seeds,
            )  # fmt: skip
        except ValueError as error:
            problems.append(f"Run {spec.slot}, {OPTIMIZERS[spec.optimizer].title}: {error}")
            continue
        done.append((spec, plots.Drawn(spec.label, spec.color, run)))
    return done, problems


def landscape_view(settings: Settings, drawn: list[plots.Drawn]):
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    grid = contour_grid(settings.landscape, settings.landscape_parameters)
    if settings.view_3d:
        chart(plots.surface_figure(grid, landscape, drawn, settings.start), key="surface_plot")
        return
    view_key = f"{settings.landscape}{settings.landscape_parameters}"
    figure = plots.landscape_figure(grid, landscape, drawn, settings.start, view_key=view_key)
    chart(
        figure, key=PLOT_KEY, on_click=_on_plot_click,
        config={"scrollZoom": True, "toImageButtonOptions": {"filename": "landscape", "scale": 2}},
    )  # fmt: skip
    st.caption(
        "▶ plays the steps; the slider scrubs. At the current step, the solid arrow is the update each method "
        "took and the dotted one the direction of −∇L, drawn as long as the update. Click the landscape to start there."
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
        if spec.optimizer == "gd" and not dict(spec.settings).get("line_search") and np.all(alpha * lam < 2):
            expected = theory.gd_expected_excess_loss(lam, x0, alpha, values["noise_scale"], values["batch_size"], settings.steps)
            curves.append(plots.LossCurve(f"{d.label}: expected (closed form)", expected, d.color, dash="dot"))
    return curves


def loss_view(settings: Settings, done: list[tuple[RunSpec, plots.Drawn]]):
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    bounded = np.isfinite(landscape.minimum_loss)
    curves = plots.run_loss_curves([d for _, d in done], landscape) + expected_curves(settings, done)
    figure = plots.loss_curve_figure(
        curves, y_title="L − L*" if bounded else "L", log_y=bounded,
        title="Loss: mean of the running seeds, 10–90 % band" if settings.seeds > 1 else "Loss against step", height=420,
    )  # fmt: skip
    chart(figure, key="loss_plot")


def summary_table(settings: Settings, drawn: list[plots.Drawn]) -> pd.DataFrame:
    from optimizers.seeds import seed_statistics

    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    final = "final L − L*" if np.isfinite(landscape.minimum_loss) else "final L"
    rows = []
    for d in drawn:
        stats = seed_statistics(d.run.loss, d.run.params, d.run.diverged_at, landscape.minimum_loss)
        if stats.seeds == 1:  # one exact run: one that converged stops moving too, so no "froze" here
            verdict = "no" if stats.first_divergence is None else f"at step {stats.first_divergence}"
            value = "—" if np.isnan(stats.mean[-1]) else f"{stats.mean[-1]:.1e}"  # NaN: it diverged
            rows.append({"run": d.label, final: value, "diverged": verdict})
            continue
        # A diverged seed sits at its last good point and a frozen one has stalled: neither converged.
        value = "— (none left)" if stats.final_excess is None else f"{stats.final_excess:.1e}"
        rows.append({
            "run": d.label, f"{final}, mean of the seeds that neither diverged nor froze": value,
            "diverged": f"{int(stats.diverged.sum())} of {stats.seeds}", "froze": f"{int(stats.frozen.sum())} of {stats.seeds}",
        })  # fmt: skip
    return pd.DataFrame(rows)


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
                st.markdown(f"**What to look for here.** {hint}")
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
        }))  # fmt: skip
    buffer = io.StringIO()
    if frames:
        pd.concat(frames).to_csv(buffer, index=False, float_format="%.7g")
    return buffer.getvalue()
