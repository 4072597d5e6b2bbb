"""The Landscape Explorer's controls and views (``pages/explorer.py`` puts them together).

URL keys: ``landscape`` and its parameters by name, ``gradient_noise``; run
slots ``run1`` … ``run6`` (an optimizer or none) with their settings as
``run1.learning_rate``, ``run1.adaptive``, ...; ``steps``, ``seed``,
``seeds`` (noisy runs), ``x0``, ``y0``, ``view3d``, ``lesson``. A link with
``preset=<name>`` applies a lesson preset and is then rewritten as those keys.
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
from optimizers import OPTIMIZERS
from parameters import Parameter
from ui import controls, plots
from ui.chart import chart, clicked_point
from ui.explanations import look_for
from ui.presets import PRESETS
from ui.runs import Items, RunResult, build_landscape, compute_run, contour_grid, items

SLOTS = 6
NONE = "none"
DEFAULT_RUNS = ("gd", "momentum", "adam", "lbfgs")
STEPS = Parameter(300, 10, 2000, log=True, integer=True, label="steps")
SEED = Parameter(0, 0, 2**31 - 1, integer=True, label="seed")
SEEDS = Parameter(8, 2, 64, log=True, integer=True, label="noisy runs (seeds)")
START = Parameter(0.0, -100.0, 100.0)
PRIMARY = {"learning_rate", "momentum", "b1", "b2", "decay", "damping", "max_learning_rate", "memory_size"}
PRIMARY |= {"param_decay", "grad_decay", "pair_interval"}
SWITCHES = {"adaptive": "adaptive damping (Levenberg–Marquardt)"}  # structural options that matter in 2-D
SYMBOLS = {"learning_rate": "α", "momentum": "β", "damping": "λ", "max_learning_rate": "α_max", "pair_interval": "T"}
PLOT_KEY = "landscape_plot"
LESSON_HELP = "Each lesson sets up one phenomenon; every control stays free to move."


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


# --- presets -------------------------------------------------------------------
def default_start(landscape: str) -> tuple[float, float]:
    x, y = build_landscape(landscape, ()).default_start[:2]
    return float(x), float(y)


def optimizer_state(slot: int, optimizer: str, settings: dict | None = None) -> dict:
    """Widget values for one run slot: its optimizer's defaults, overridden by ``settings``."""
    settings = settings or {}
    info = OPTIMIZERS[optimizer]
    state = {setting_key(slot, k): settings.get(k, spec.default) for k, spec in info.hyperparameters.items()}
    state |= {setting_key(slot, k): bool(settings.get(k, info.options[k].default)) for k in SWITCHES if k in info.options}
    return state


def preset_state(name: str) -> dict:
    """Every control's value for a lesson preset."""
    preset = PRESETS[name]
    landscape = preset["landscape"]
    start = preset.get("start") or default_start(landscape)
    state = dict(
        lesson=name, landscape=landscape, gradient_noise=preset.get("gradient_noise", 0.0), steps=preset["steps"],
        seed=preset.get("seed", 0), seeds=preset.get("seeds", SEEDS.default), x0=start[0], y0=start[1], view3d=False,
    )  # fmt: skip
    parameters = LANDSCAPES[landscape].parameters
    state |= {k: preset["landscape_params"].get(k, spec.default) for k, spec in parameters.items()}
    for slot in range(1, SLOTS + 1):
        if slot <= len(preset["runs"]):
            optimizer, settings = preset["runs"][slot - 1]
            state[slot_key(slot)] = optimizer
            state |= optimizer_state(slot, optimizer, settings)
        else:
            state[slot_key(slot)] = NONE
    return state


def control_default(key: str, state: dict):
    """A control's default value (``state`` gives the optimizer of a run slot)."""
    fixed = dict(lesson=controls.NO_LESSON, landscape="quadratic", gradient_noise=GRADIENT_NOISE_SPEC.default, steps=STEPS.default,
                 seed=SEED.default, seeds=SEEDS.default, view3d=False)  # fmt: skip
    if key in fixed:
        return fixed[key]
    if key in ("x0", "y0"):
        return default_start(state["landscape"])[key == "y0"]
    if key.startswith("run"):
        slot, _, name = key[3:].partition(".")
        if not name:
            return DEFAULT_RUNS[int(slot) - 1] if int(slot) <= len(DEFAULT_RUNS) else NONE
        info = OPTIMIZERS[state[slot_key(int(slot))]]
        return {**info.hyperparameters, **info.options}[name].default
    return LANDSCAPES[state["landscape"]].parameters[key].default


def url_text(key: str, value, state: dict) -> str:
    """How the control ``key`` writes ``value`` in the URL."""
    if key in ("lesson", "landscape") or (key.startswith("run") and "." not in key):
        return value if value == NONE else (PRESETS[value]["title"] if key == "lesson" else
                                            LANDSCAPES[value].title if key == "landscape" else OPTIMIZERS[value].title)
    if isinstance(value, bool):
        return str(value).lower()
    if key in ("x0", "y0", "seed"):
        return str(value)
    spec = {"steps": STEPS, "seeds": SEEDS, "gradient_noise": GRADIENT_NOISE_SPEC}.get(key)
    if key.startswith("run"):
        slot, _, name = key[3:].partition(".")
        spec = OPTIMIZERS[state[slot_key(int(slot))]].hyperparameters[name]
    spec = spec or LANDSCAPES[state["landscape"]].parameters[key]
    return controls.format_number(value, spec.integer)


def preset_query(name: str) -> dict[str, str]:
    """The URL of a preset's view: each control that differs from its default."""
    state = preset_state(name)
    shown = {k: v for k, v in state.items() if not (k.startswith("run") and "." in k and state[k.split(".")[0]] == NONE)}
    return {k: url_text(k, v, state) for k, v in shown.items() if v != control_default(k, state)}


def apply_preset_from_link():
    controls.apply_preset_from_link(PRESETS, preset_state, preset_query)


def _on_landscape_change():
    """A new landscape, or Reset the start: the start goes back to the landscape's own."""
    st.session_state["x0"], st.session_state["y0"] = default_start(st.session_state["landscape"])


def _on_optimizer_change(slot: int):
    optimizer = st.session_state[slot_key(slot)]
    if optimizer != NONE:
        controls.set_state(optimizer_state(slot, optimizer))


def _on_plot_click():
    """A click on the landscape moves the start there."""
    point = clicked_point(PLOT_KEY)
    if point:
        st.session_state["x0"], st.session_state["y0"] = (round(v, 3) for v in point)


# --- the sidebar -------------------------------------------------------------------
def _landscape_controls(where) -> tuple[str, Items, float]:
    titles = {k: info.title for k, info in LANDSCAPES.items()}
    name = controls.choice(
        "landscape", list(LANDSCAPES), titles, label="Landscape", default="quadratic", where=where,
        on_change=_on_landscape_change,
    )  # fmt: skip
    where.caption(LANDSCAPES[name].summary)
    values = {k: controls.parameter_slider(k, spec, where=where) for k, spec in LANDSCAPES[name].parameters.items()}
    noise = controls.parameter_slider(
        "gradient_noise", GRADIENT_NOISE_SPEC, where=where,
        help="Adds a random tilt ξᵀθ, ξ ~ N(0, σ²I), to the loss each step: noisy gradients, exact curvature.",
    )  # fmt: skip
    return name, items(values), float(noise)


def _slot_controls(slot: int, where) -> RunSpec | None:
    colour_name = plots.PALETTE[slot - 1][0]
    default = DEFAULT_RUNS[slot - 1] if slot <= len(DEFAULT_RUNS) else NONE
    titles = {NONE: "none", **{k: info.title for k, info in OPTIMIZERS.items()}}
    box = where.container(border=True)
    optimizer = controls.choice(
        slot_key(slot), [NONE, *OPTIMIZERS], titles, label=f":{colour_name}[●] Run {slot}", default=default,
        where=box, on_change=functools.partial(_on_optimizer_change, slot),
    )  # fmt: skip
    if optimizer == NONE:
        return None
    info = OPTIMIZERS[optimizer]
    more = None
    values = {}
    for name, spec in info.hyperparameters.items():
        if name not in PRIMARY:
            more = more or box.expander("more settings")
        values[name] = controls.parameter_slider(setting_key(slot, name), spec, where=box if name in PRIMARY else more)
    for name, label in SWITCHES.items():
        if name in info.options:
            values[name] = controls.toggle(
                setting_key(slot, name), label=label, default=bool(info.options[name].default), where=box
            )
    return RunSpec(slot, optimizer, items(values))


def _run_controls(where) -> tuple[RunSpec, ...]:
    runs, previous_used = [], True
    for slot in range(1, SLOTS + 1):
        used = st.session_state.get(slot_key(slot), DEFAULT_RUNS[slot - 1] if slot <= len(DEFAULT_RUNS) else NONE)
        if slot_key(slot) in st.query_params:
            used = st.query_params[slot_key(slot)]
        if not (previous_used or used != NONE):
            continue  # one empty slot after the last run serves as "add a run"
        spec = _slot_controls(slot, where)
        previous_used = spec is not None
        if spec:
            runs.append(spec)
    return tuple(runs)


def sidebar_controls() -> Settings:
    """Draw the sidebar; the settings it holds."""
    bar = st.sidebar
    lesson = controls.lesson_picker(PRESETS, preset_state, where=bar, help=LESSON_HELP)
    bar.subheader("Landscape")
    landscape, parameters, noise = _landscape_controls(bar)
    bar.subheader("Optimizers")
    runs = _run_controls(bar)
    bar.subheader("Run")
    steps = controls.parameter_slider("steps", STEPS, where=bar)
    stochastic = build_landscape(landscape, parameters, noise).is_stochastic
    seed, seeds = 0, 1
    if stochastic:
        seed = controls.number("seed", SEED, where=bar, help="Seeds seed, seed + 1, … give the noisy runs.")
        seeds = controls.parameter_slider("seeds", SEEDS, where=bar, help="How many seeds to run and draw as a cloud.")
    x_default, y_default = default_start(landscape)
    left, right = bar.columns(2)
    x0 = controls.number("x0", START._replace(default=x_default), label="start x", where=left, step=0.1)
    y0 = controls.number("y0", START._replace(default=y_default), label="start y", where=right, step=0.1)
    bar.button("Reset the start", on_click=_on_landscape_change, help="Or click on the landscape to start there.")
    view_3d = controls.toggle("view3d", label="3-D surface view", where=bar)
    controls.end_controls()
    return Settings(landscape, parameters, noise, runs, int(steps), int(seed), int(seeds), (x0, y0), view_3d, lesson)


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


def loss_view(settings: Settings, drawn: list[plots.Drawn]):
    landscape = build_landscape(settings.landscape, settings.landscape_parameters)
    bounded = np.isfinite(landscape.minimum_loss)
    figure = plots.loss_curve_figure(
        plots.run_loss_curves(drawn, landscape), y_title="L − L*" if bounded else "L", log_y=bounded,
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
