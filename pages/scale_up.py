"""Scale-up: the app's optimizers (the same objects as on the 2-D pages)
training small MLPs, compared per step and per second, with memory.

Every control lives in the URL (``task``, ``depth``, ``width``, ``activation``,
``batch``, ``steps``, ``seed``, ``opt``, ``lesson`` and ``<optimizer>.<setting>``);
``preset=<name>`` opens a lesson of ``scaleup.presets``. The training, timing
and memory figures come from ``scaleup.training``; this file only draws them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from optimizers import OPTIMIZERS
from parameters import Parameter
from scaleup import (
    ACTIVATIONS,
    MLP_DEFAULTS,
    NEWTON_MAX_PARAMETERS,
    TASKS,
    Run,
    check_supported,
    device_description,
    load_task,
    make_optimizer,
    model_for,
)
from scaleup.explanations import COST_PER_STEP
from scaleup.presets import PAGE_DEFAULTS, PRESETS
from scaleup.training import DENSE_CURVATURE
from ui import controls, shell

WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCHES = (0, 16, 32, 64, 128, 256, 512)
STEPS = (100, 200, 500, 1000, 2000, 5000)
UPDATES_PER_RUN = 20  # chunks per run: how often the curves are redrawn
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
DEFAULTS = dict(PAGE_DEFAULTS, lesson=None)

batch_label = lambda b: "full batch" if b == 0 else str(b)  # noqa: E731
title = lambda name: OPTIMIZERS[name].title  # noqa: E731


def setting_default(name: str, key: str, spec: Parameter):
    return MLP_DEFAULTS.get(name, {}).get(key, spec.default)


def settings_specs(name: str) -> dict[str, Parameter]:
    info = OPTIMIZERS[name]
    return {**info.hyperparameters, **info.options}


def preset_state(name: str) -> dict:
    """Every control's value for lesson ``name``: the preset's, else the page's and the optimizers' defaults."""
    preset = PRESETS[name]
    state = {key: preset.get(key, default) for key, default in PAGE_DEFAULTS.items()}
    for optimizer in OPTIMIZERS:
        for key, spec in settings_specs(optimizer).items():
            value = preset.get("settings", {}).get(optimizer, {}).get(key, setting_default(optimizer, key, spec))
            state[f"{optimizer}.{key}"] = bool(value) if isinstance(spec.default, bool) else value
    return state | {"lesson": name}


def on_lesson_change():
    if st.session_state.get("lesson") in PRESETS:
        controls.set_state(preset_state(st.session_state["lesson"]))


def apply_preset_from_link():
    """``?preset=name``: set every control to the lesson's values; the bound widgets then write the URL."""
    if "preset" not in st.query_params:
        return
    name = st.query_params["preset"]
    del st.query_params["preset"]
    if name not in PRESETS:
        controls.note(f"The link's `preset={name}` is not a lesson; choose one of: {', '.join(PRESETS)}.")
        return
    controls.set_state(preset_state(name))


# ---- URL values that the widgets will ignore: say so, and say what is used instead ----
def check_url(key: str, valid, fallback: str):
    raw = st.query_params.get_all(key)
    if raw and not valid(raw):
        controls.note(f"The link's `{key}={', '.join(raw)}` is not a valid value; using {fallback}.")


def check_choice(key, options, fmt, default):
    labels = {fmt(option) for option in options}
    fallback = "the default" if isinstance(default, list) else "none" if default is None else f"`{fmt(default)}`"
    check_url(key, lambda raw: all(r in labels for r in raw), fallback)


def check_number(key, spec: Parameter, default):
    def valid(raw):
        try:
            spec.check(key, raw[-1])
            return True
        except ValueError:
            return False

    check_url(key, valid, f"`{default:g}` (allowed: {spec.low:g} to {spec.high:g})")


def choice(widget, label, options, key, fmt=str, **kwargs):
    default = DEFAULTS[key]
    check_choice(key, options, fmt, default)
    if widget is st.multiselect:
        return widget(label, options, default=default, format_func=fmt, key=key, bind="query-params", **kwargs)
    if widget is st.select_slider:
        return widget(label, options, value=default, format_func=fmt, key=key, bind="query-params", **kwargs)
    index = None if default is None else list(options).index(default)
    return widget(label, options, index=index, format_func=fmt, key=key, bind="query-params", **kwargs)


def setting_widget(name: str, key: str, spec: Parameter):
    default = setting_default(name, key, spec)
    widget_key = f"{name}.{key}"
    label = spec.label or key.replace("_", " ")
    if isinstance(spec.default, bool):
        check_url(widget_key, lambda raw: raw[-1].lower() in ("true", "false"), f"`{str(bool(default)).lower()}`")
        return st.checkbox(label, value=bool(default), key=widget_key, bind="query-params")
    check_number(widget_key, spec, default)
    if spec.integer:
        return st.number_input(label, int(spec.low), int(spec.high), int(default), 1, key=widget_key, bind="query-params")
    step = 10.0 ** np.floor(np.log10(abs(default))) / 10 if default else 0.01
    return st.number_input(
        label, float(spec.low), float(spec.high), float(default), float(step), format="%g", key=widget_key, bind="query-params"
    )


@st.cache_resource(show_spinner=False)
def dataset(task: str, seed: int):
    return load_task(task, seed)


# ---- page ----
shell.run_through_entrypoint()
controls.begin_page()
apply_preset_from_link()
if not shell.is_embedded():
    st.title("Scale-up: optimizers training neural networks")
st.markdown(
    "Whether second-order methods pay off in deep learning is decided by **wall-clock time and memory**, "
    "not by the number of steps. Here the very optimizers of the 2-D pages train small multilayer "
    "perceptrons; compare the loss per step with the loss per second."
)
gpu = not device_description().startswith("CPU")
st.markdown(f"**Device:** {device_description()}" + ("" if gpu else " — no GPU found; with one, the same code runs there."))
notes_box, lesson_box = st.container(), st.container()

with st.sidebar:
    lesson = choice(st.selectbox, "Lesson", list(PRESETS), "lesson", lambda p: PRESETS[p]["title"],
                    placeholder="— pick a lesson —", on_change=on_lesson_change,
                    help="Each lesson sets up one comparison; every control stays free to move.")
    task = choice(st.selectbox, "Task", list(TASKS), "task", lambda t: TASKS[t].title)
    st.caption(TASKS[task].description)
    check_url("depth", lambda raw: raw[-1].isdigit() and 1 <= int(raw[-1]) <= 4, f"`{DEFAULTS['depth']}` (allowed: 1 to 4)")
    depth = st.slider("Hidden layers", 1, 4, DEFAULTS["depth"], key="depth", bind="query-params")
    width = choice(st.select_slider, "Width (units per hidden layer)", WIDTHS, "width")
    activation = choice(st.selectbox, "Activation", list(ACTIVATIONS), "activation")
    batch = choice(st.select_slider, "Batch size", BATCHES, "batch", batch_label)
    steps = choice(st.select_slider, "Steps", STEPS, "steps")
    check_url("seed", lambda raw: raw[-1].isdigit() and int(raw[-1]) <= 9999, "`0` (allowed: 0 to 9999)")
    seed = st.number_input("Seed (data split, initial weights, minibatches)", 0, 9999, DEFAULTS["seed"], key="seed", bind="query-params")

data = dataset(task, int(seed))
model = model_for(data.info, width=width, depth=depth, activation=activation)
st.markdown(
    f"**Network:** {' → '.join(map(str, model.sizes))} ({activation}), **{model.parameter_count:,} parameters**; "
    f"{data.n_train} training and {int(data.x_test.shape[0])} held-out examples; "
    f"{'softmax cross-entropy' if data.info.kind == 'classification' else 'squared error'} loss. "
    + (f"Within the {NEWTON_MAX_PARAMETERS:,}-parameter limit of the dense-Hessian methods."
       if model.parameter_count <= NEWTON_MAX_PARAMETERS else
       f"Above the {NEWTON_MAX_PARAMETERS:,}-parameter limit of the dense-Hessian methods (Newton, saddle-free Newton).")
)

names = choice(st.multiselect, "Optimizers", list(OPTIMIZERS), "opt", title)
chosen, skipped = {}, {}
for name in names:
    info = OPTIMIZERS[name]
    with st.expander(f"{info.title}: settings, and how it works"):
        values = {key: setting_widget(name, key, spec) for key, spec in settings_specs(name).items()}
        st.markdown(f"**Cost of one step on a network of n parameters:** {COST_PER_STEP[name]}")
        st.markdown(info.explanation)
    try:
        check_supported(model, name)
        chosen[name] = make_optimizer(name, **values)
    except ValueError as error:
        skipped[name] = str(error)
for name in DENSE_CURVATURE:
    if name in names:
        st.caption(
            f"{title(name)} forms the full n×n Hessian from n Hessian-vector products on every step: "
            f"available up to {NEWTON_MAX_PARAMETERS:,} parameters; this network has {model.parameter_count:,}."
        )
for name, reason in skipped.items():
    st.warning(f"**{title(name)} is unavailable here.** {reason}")
controls.show_url_notes(notes_box)
if lesson in PRESETS:
    lesson_box.info(f"**{PRESETS[lesson]['title']}.** {PRESETS[lesson]['lesson']}", icon=":material/school:")

config = dict(task=task, seed=int(seed), sizes=model.sizes, activation=activation, batch=batch, steps=steps,
              optimizers={name: (opt.hyperparams, opt.options) for name, opt in chosen.items()})
chunk_steps = max(steps // UPDATES_PER_RUN, 5)


def figure(runs: dict[str, Run]) -> go.Figure:
    classification = data.info.kind == "classification"
    fig = make_subplots(
        rows=2, cols=2, shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.12,
        subplot_titles=("training loss against step", "training loss against seconds (compile excluded)",
                        "held-out accuracy" if classification else "held-out loss", ""),
    )
    for i, (name, run) in enumerate(runs.items()):
        colour = COLOURS[i % len(COLOURS)]
        evaluations = pd.DataFrame(run.evaluations)
        losses = run.loss_curve
        stride = max(1, len(losses) // 500)
        for col, x_batch, x_eval in ((1, np.arange(1, len(losses) + 1), evaluations.step),
                                     (2, run.time_axis[: len(losses)], evaluations.seconds)):
            fig.add_trace(go.Scatter(x=x_batch[::stride], y=losses[::stride].astype(np.float32), mode="lines",
                                     line=dict(color=colour, width=1), opacity=0.3, legendgroup=name, showlegend=False,
                                     hoverinfo="skip"), row=1, col=col)
            fig.add_trace(go.Scatter(x=x_eval, y=evaluations.train_loss, mode="lines+markers", name=run.label,
                                     line=dict(color=colour), legendgroup=name, showlegend=col == 1), row=1, col=col)
            held_out = evaluations.test_accuracy if classification else evaluations.test_loss
            fig.add_trace(go.Scatter(x=x_eval, y=held_out, mode="lines+markers", line=dict(color=colour),
                                     legendgroup=name, showlegend=False), row=2, col=col)
    fig.update_yaxes(type="log", row=1)
    if not classification:
        fig.update_yaxes(type="log", row=2)
    fig.update_xaxes(title_text="step", col=1, row=2)
    fig.update_xaxes(title_text="seconds", col=2, row=2)
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.12))
    return fig


def table(runs: dict[str, Run]) -> pd.DataFrame:
    rows = []
    for run in runs.values():
        last = run.evaluations[-1]
        row = {
            "optimizer": run.label,
            "compile s": f"{run.compile_seconds:.2f}" + (" (reused)" if run.compile_cached else ""),
            "ms / step": run.per_step_seconds * 1e3,
            "steps": run.steps_done,
            "training s": run.seconds,
            "training loss": last["train_loss"],
            "held-out accuracy" if "test_accuracy" in last else "held-out loss": last.get("test_accuracy", last["test_loss"]),
            "memory MiB (estimate)": run.memory.estimate_bytes / 2**20 if run.memory else None,
        }
        if gpu:
            row["device peak MiB"] = (run.device_peak_bytes or 0) / 2**20
        row["diverged at step"] = run.diverged_at
        rows.append(row)
    return pd.DataFrame(rows)


def show(results, chart, table_box):
    runs = results["runs"]
    if not runs:
        return
    chart.plotly_chart(figure(runs), width="stretch")
    table_box.dataframe(table(runs), hide_index=True, width="stretch")


left, right = st.columns([1, 1])
train = left.button("Train", key="train", type="primary", disabled=not chosen)
right.button("Stop", key="stop", help="Stops after the current chunk; the results so far stay.")
progress_box, chart, table_box = st.empty(), st.empty(), st.empty()
st.caption(
    f"Each optimizer runs in compiled chunks of {chunk_steps} steps (`lax.scan`), taking turns, so a busy machine "
    "slows them alike. Compile time is measured apart from training time. Faint lines: the minibatch loss each step "
    "saw; markers: the full training loss after each chunk. Memory: the compiled chunk's own estimate from XLA "
    "(temporaries + arguments + outputs), the same measure on every device"
    + ("; device peak: the GPU's measured high-water mark for the whole process so far." if gpu else
       "; no measured peak on the CPU.")
)

def train_all(results: dict):
    """Compile every chosen optimizer's chunk, then run the chunks in turns, redrawing after each round.
    A click on Stop reruns the page, which ends this loop between two Streamlit calls; ``results`` keeps
    what was done."""
    progress = progress_box.progress(0.0, "compiling…")
    for name, optimizer in chosen.items():
        progress.progress(0.0, f"compiling {title(name)}…")
        results["runs"][name] = Run(model, data, optimizer, batch, chunk_steps, int(seed))
    for chunk in range(-(-steps // chunk_steps)):
        for run in results["runs"].values():
            run.advance()
        done = min((chunk + 1) * chunk_steps, steps)
        progress.progress(done / steps, f"step {done} of {steps}")
        show(results, chart, table_box)
    results["stopped"] = False
    progress_box.empty()


if train:
    results = dict(config=config, runs={}, stopped=True)
    st.session_state["scaleup.results"] = results
    try:
        train_all(results)
    except Exception as error:  # e.g. out of device memory for a very wide net: say so, keep what was done
        results["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        progress_box.empty()

results = st.session_state.get("scaleup.results")
if results and results.get("error"):
    st.error(f"Training stopped with an error: {results['error']}", icon=":material/error:")
if results and not train:
    if results["config"] != config:
        progress_box.info("These results are from earlier settings; press **Train** to run the current ones.")
    elif results["stopped"]:
        progress_box.info("Stopped early; the results so far are shown.")
    show(results, chart, table_box)
elif not results:
    progress_box.info("Press **Train** to compile and train the chosen optimizers.")
for run in (results or {}).get("runs", {}).values():
    if run.diverged_at is not None:
        st.warning(f"{run.label} diverged (non-finite loss) at step {run.diverged_at}; it stopped there.")
