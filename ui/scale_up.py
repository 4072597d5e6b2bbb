"""The Scale-up page's controls and views (``pages/scale_up.py`` puts them together).

The view state (``declare``, read by ``ui.viewstate``) is every key of the
page's link: ``task``, ``depth``, ``width``, ``activation``, ``batch``,
``steps``, ``seed``, ``opt`` (repeated, one per chosen optimizer) and each
chosen optimizer's settings as ``<optimizer>.<setting>``; ``lesson``
(``lessons/scale_up/``) and ``hide``. The training, timing
and memory figures come from ``scaleup.training``; this module only asks for
them and draws them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitInvalidLayoutContextError
from plotly.subplots import make_subplots

from optimizers import OPTIMIZERS, Optimizer
from parameters import Parameter
from scaleup import (
    ACTIVATIONS,
    MLP_DEFAULTS,
    NEWTON_MAX_PARAMETERS,
    TASKS,
    Dataset,
    Model,
    Run,
    check_supported,
    device_description,
    load_task,
    make_optimizer,
    model_for,
)
from scaleup.explanations import COST_PER_STEP
from scaleup.parallel import batch_split
from scaleup.training import BLOW_UP, DENSE_CURVATURE
from ui import batch_study, controls
from ui.chart import chart
from ui.runs import f32
from ui.optimizer_fields import setting_fields
from ui.viewstate import Choice, Multi, Number

PAGE = "scale_up"
DEPTH = Parameter(2, 1, 4, integer=True, label="Hidden layers")
WIDTH = Parameter(16, 4, 1024, log=True, integer=True, label="Width (units per hidden layer)")
STEPS = Parameter(500, 100, 5000, log=True, integer=True, label="Steps")
SEED = Parameter(0, 0, 9999, integer=True, label="Seed (data split, initial weights, minibatches)")
OPTIMIZER_TITLES = {name: info.title for name, info in OPTIMIZERS.items()}
BATCHES = (0, 16, 32, 64, 128, 256, 512)  # 0: the whole training set
UPDATES_PER_RUN = 20  # chunks per run: how often the curves are redrawn
MIN_CHUNK = 5
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
RESULTS = "scaleup.results"  # the last training of this session, kept across reruns


class Settings(NamedTuple):
    lesson: str
    task: str
    depth: int
    width: int
    activation: str
    batch: int
    steps: int
    seed: int
    optimizers: tuple[str, ...]


def title(name: str) -> str:
    return OPTIMIZERS[name].title


def batch_title(batch: int) -> str:
    return "full batch" if batch == 0 else str(batch)


def on_gpu() -> bool:
    return not device_description().startswith("CPU")


def chunk_steps(steps: int) -> int:
    return max(steps // UPDATES_PER_RUN, MIN_CHUNK)


# --- the view state ------------------------------------------------------------------
def setting_key(name: str, setting: str) -> str:
    return f"{name}.{setting}"


def setting_names(name: str) -> list[str]:
    info = OPTIMIZERS[name]
    return [*info.hyperparameters, *info.options]


def declare(view: dict):
    """The Scale-up page's controls in page order; ``view`` holds the values of those before."""
    yield Choice("task", "Task", "spirals", options=tuple(TASKS), titles={k: t.title for k, t in TASKS.items()})
    yield Number("depth", DEPTH.label, DEPTH.default, spec=DEPTH)
    yield Number("width", WIDTH.label, WIDTH.default, spec=WIDTH)
    yield Choice("activation", "Activation", "tanh", options=tuple(ACTIVATIONS))
    yield Choice("batch", "Batch size", 128, options=BATCHES, titles={b: batch_title(b) for b in BATCHES})
    yield Number("steps", STEPS.label, STEPS.default, spec=STEPS)
    yield Number("seed", SEED.label, SEED.default, spec=SEED, box=True)
    yield Multi("opt", "Optimizers", ("adam", "mlbfgs"), options=tuple(OPTIMIZERS), titles=OPTIMIZER_TITLES)
    for name in view["opt"]:
        yield from setting_fields(name, name, MLP_DEFAULTS.get(name, {}))  # defaults for MLPs where they differ
    yield from batch_study.declare(view)  # the batch-size study's section, keys study.*


# --- controls -----------------------------------------------------------------------
def sidebar_controls(view) -> Settings:
    """Draw the sidebar; the settings it holds (each optimizer's own settings are drawn with its explanation)."""
    bar = st.sidebar
    for key in ("lesson", "task"):
        controls.widget(view, key, where=bar)
    bar.caption(TASKS[view["task"]].description)
    for key in ("depth", "width", "activation", "batch", "steps", "seed", "opt"):
        controls.widget(view, key, where=bar)
    controls.save_lesson_button(view, where=bar)
    return Settings(view["lesson"], view["task"], int(view["depth"]), int(view["width"]), view["activation"],
                    int(view["batch"]), int(view["steps"]), int(view["seed"]), tuple(view["opt"]))  # fmt: skip


def optimizer_controls(view, settings: Settings, model: Model) -> dict[str, Optimizer]:
    """Each chosen optimizer's settings and explanation in an expander; the optimizers this network allows.

    The others get a warning that says why."""
    chosen = {}
    for name in settings.optimizers:
        with st.expander(f"{title(name)}: settings, and how it works") as box:
            values = {key: controls.widget(view, setting_key(name, key), where=box) for key in setting_names(name)}
            box.markdown(f"**Cost of one step on a network of n parameters:** {COST_PER_STEP[name]}")
            box.markdown(OPTIMIZERS[name].explanation)
        try:
            check_supported(model, name)
            chosen[name] = make_optimizer(name, **values)
        except ValueError as error:
            st.warning(f"**{title(name)} is unavailable here.** {error}")
    for name in DENSE_CURVATURE:
        if name in settings.optimizers:
            st.caption(
                f"{title(name)} forms the full n×n Hessian from n Hessian-vector products on every step: "
                f"available up to {NEWTON_MAX_PARAMETERS:,} parameters; this network has {model.parameter_count:,}."
            )
    return chosen


# --- the network -------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def dataset(task: str, seed: int) -> Dataset:
    return load_task(task, seed)


def network(settings: Settings) -> tuple[Dataset, Model]:
    data = dataset(settings.task, settings.seed)
    return data, model_for(data.info, width=settings.width, depth=settings.depth, activation=settings.activation)


def device_line(settings: Settings, data: Dataset) -> str:
    """The device, and how each minibatch is split over the devices when there are several."""
    missing = "" if on_gpu() else " — no GPU found; with one, the same code runs there."
    devices = jax.device_count()
    if devices == 1:
        return f"**Device:** {device_description()}{missing}"
    _, used, per_device = batch_split(settings.batch, data.n_train)
    batch = used * per_device
    split = (f"each minibatch of {batch} is split into {used} × {per_device}, one part per device" if used > 1 else
             f"a minibatch of {batch} does not split evenly over {devices}, so it trains on one device")  # fmt: skip
    return f"**Devices:** {devices} × {device_description()}{missing} Data parallel: {split}."


def network_summary(settings: Settings, data: Dataset, model: Model) -> str:
    loss = "softmax cross-entropy" if data.info.kind == "classification" else "squared error"
    if model.parameter_count <= NEWTON_MAX_PARAMETERS:
        limit = f"Within the {NEWTON_MAX_PARAMETERS:,}-parameter limit of the dense-Hessian methods."
    else:
        limit = (f"Above the {NEWTON_MAX_PARAMETERS:,}-parameter limit of the dense-Hessian methods "
                 "(Newton, saddle-free Newton).")  # fmt: skip
    return (
        f"**Network:** {' → '.join(map(str, model.sizes))} ({settings.activation}), "
        f"**{model.parameter_count:,} parameters**; {data.n_train} training and {int(data.x_test.shape[0])} held-out "
        f"examples; {loss} loss. {limit}"
    )


# --- figures and table --------------------------------------------------------------
def _add_run_traces(fig: go.Figure, name: str, run: Run, colour: str, classification: bool):
    """Both columns: faint per-step minibatch losses, and markers at each chunk's evaluation."""
    evaluations = pd.DataFrame(run.evaluations)
    losses = run.loss_curve
    stride = max(1, len(losses) // 500)  # at most about 500 points per faint line
    held_out = evaluations.test_accuracy if classification else evaluations.test_loss
    steps, seconds = np.arange(1, len(losses) + 1), run.time_axis[: len(losses)]
    for col, x_step, x_evaluation in ((1, steps, evaluations.step), (2, seconds, evaluations.seconds)):
        fig.add_trace(go.Scatter(
            x=x_step[::stride], y=f32(losses[::stride]), mode="lines", line=dict(color=colour, width=1),
            opacity=0.3, legendgroup=name, showlegend=False, hoverinfo="skip",
        ), row=1, col=col)  # fmt: skip
        fig.add_trace(go.Scatter(
            x=x_evaluation, y=evaluations.train_loss, mode="lines+markers", name=run.label, line=dict(color=colour),
            legendgroup=name, showlegend=col == 1,
        ), row=1, col=col)  # fmt: skip
        fig.add_trace(go.Scatter(
            x=x_evaluation, y=held_out, mode="lines+markers", line=dict(color=colour), legendgroup=name,
            showlegend=False,
        ), row=2, col=col)  # fmt: skip


def figure(runs: dict[str, Run], classification: bool) -> go.Figure:
    """Training loss (top) and held-out figure (bottom), against steps (left) and seconds (right)."""
    fig = make_subplots(
        rows=2, cols=2, shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.12,
        subplot_titles=("training loss against step", "training loss against seconds (compile and warm-up excluded)",
                        "held-out accuracy" if classification else "held-out loss", ""),
    )  # fmt: skip
    for i, (name, run) in enumerate(runs.items()):
        _add_run_traces(fig, name, run, COLOURS[i % len(COLOURS)], classification)
    fig.update_yaxes(type="log", row=1)
    if not classification:
        fig.update_yaxes(type="log", row=2)
    fig.update_xaxes(title_text="step", col=1, row=2)
    fig.update_xaxes(title_text="seconds", col=2, row=2)
    fig.update_layout(height=620, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.12))
    return fig


def _table_row(run: Run, gpu: bool) -> dict:
    last = run.evaluations[-1]
    accuracy = "test_accuracy" in last
    row = {
        "optimizer": run.label,
        "compile s": f"{run.compile_seconds:.2f}" + (" (reused)" if run.compile_cached else ""),
        "ms / step": run.per_step_seconds * 1e3,
        "steps": run.steps_done,
        "training s": run.seconds,
        "warm-up s": run.warmup_seconds,
        "training loss": last["train_loss"],
        "held-out accuracy" if accuracy else "held-out loss": last["test_accuracy" if accuracy else "test_loss"],
        "memory MiB (estimate)": run.memory.estimate_bytes / 2**20 if run.memory else None,
    }
    if gpu:
        row["device peak MiB"] = (run.device_peak_bytes or 0) / 2**20
    return row | {"diverged at step": run.diverged_at}


def table(runs: dict[str, Run]) -> pd.DataFrame:
    gpu = on_gpu()
    return pd.DataFrame([_table_row(run, gpu) for run in runs.values()])


def results_figure(results: dict, classification: bool) -> go.Figure:
    """The figure of ``results``, built again only when a run has advanced since it was last built
    (a rerun after training, from any widget, then costs nothing)."""
    progress = tuple(run.steps_done for run in results["runs"].values())
    if results.get("figure_at") != progress:
        results["figure"], results["figure_at"] = figure(results["runs"], classification), progress
    return results["figure"]


def show(results: dict, classification: bool):
    """The live figure and the table. Drawn straight into the page, not into a placeholder: a rerun then
    leaves the figure on screen until its next drawing replaces it in place."""
    if results["runs"]:
        chart(results_figure(results, classification), key="training_chart")
        number = st.column_config.NumberColumn
        timing = {  # the timing columns' headings on the page say which statistic each one is
            "ms / step": number("median ms / step", format="%.3f", help=(
                "The median over the chunks of a chunk's wall-clock divided by its steps (compile and warm-up "
                "excluded).")),
            "training s": number("total training s (excl. compile, warm-up)", format="%.3f", help=(
                "The sum of the chunks' wall-clock: the last point of the plots against seconds. About median "
                "ms / step × steps when the machine ran evenly.")),
            "warm-up s": number("warm-up s", format="%.3f", help=(
                "One chunk run after compiling and timed apart, its result discarded: a program's first "
                "execution pays one-off costs.")),
        }  # fmt: skip
        st.dataframe(table(results["runs"]), hide_index=True, width="stretch", column_config=timing)


# --- training ------------------------------------------------------------------------
class Job(NamedTuple):
    """What Train trains: the chosen optimizers on this network and data."""

    settings: Settings
    data: Dataset
    model: Model
    chosen: dict[str, Optimizer]

    @property
    def classification(self) -> bool:
        return self.data.info.kind == "classification"

    def config(self) -> dict:
        """What a training depends on: results from another configuration are marked as earlier ones."""
        settings = self.settings
        return dict(
            task=settings.task, seed=settings.seed, sizes=self.model.sizes, activation=settings.activation,
            batch=settings.batch, steps=settings.steps,
            optimizers={name: (opt.hyperparams, opt.options) for name, opt in self.chosen.items()},
        )  # fmt: skip


def method_caption(steps: int) -> str:
    chunk = chunk_steps(steps)
    rounded = f" ({steps} steps rounded up to whole chunks)" if steps % chunk else ""
    return (
        f"Each optimizer runs in compiled chunks of {chunk} steps (`lax.scan`){rounded}, taking turns, so a busy "
        "machine slows them alike. Compile time is measured apart from training time, and so is one warm-up chunk "
        "run after compiling and discarded (a program's first execution pays one-off costs). Training seconds: the "
        "sum of the chunks; ms / step: the median chunk divided by its steps. Faint lines: the minibatch "
        "loss each step saw; markers: the full training loss after each chunk. Memory: the compiled chunk's own "
        "estimate from XLA (temporaries + arguments + outputs), the same measure on every device"
        + ("; device peak: the GPU's measured high-water mark for the whole process so far." if on_gpu() else
           "; no measured peak on the CPU.")
    )  # fmt: skip


def start_training(job: Job, progress) -> dict:
    """Compile and warm up every chosen optimizer's chunk (with a word on each); the results to train into."""
    results = dict(config=job.config(), runs={}, training=True, stopped=False)
    st.session_state[RESULTS] = results
    chunk = chunk_steps(job.settings.steps)
    for name, optimizer in job.chosen.items():
        progress.progress(0.0, f"compiling and warming up {title(name)}…")
        results["runs"][name] = Run(job.model, job.data, optimizer, job.settings.batch, chunk, job.settings.seed)
    return results


def train_round(job: Job, results: dict):
    """One chunk of every run, in turns; the training ends after the last."""
    for run in results["runs"].values():
        run.advance()
    if min(run.steps_done for run in results["runs"].values()) >= job.settings.steps:
        results["training"] = False


def stopped_by(error: Exception, results: dict | None) -> dict:
    """The results after an error (e.g. out of device memory for a very wide net): the training ends,
    what was done stays, and the error is said in words."""
    results = results if results is not None else dict(runs={}, config=None)
    first_line = str(error).splitlines()[0] if str(error) else ""
    results.update(training=False, stopped=True, error=f"{type(error).__name__}: {first_line}")
    st.session_state[RESULTS] = results
    return results


def status_line(job: Job, results: dict | None, progress):
    """Under the buttons: the progress while training, else what the results shown are."""
    if not results:
        progress.info("Press **Train** to compile and train the chosen optimizers.")
    elif results.get("training"):
        steps = job.settings.steps
        done = min(min(run.steps_done for run in results["runs"].values()), steps)
        progress.progress(done / steps, f"step {done} of {steps}")
    elif results["config"] != job.config():
        progress.info("These results are from earlier settings; press **Train** to run the current ones.")
    elif results["stopped"]:
        progress.info("Stopped early; the results so far are shown.")


@st.fragment
def training_view(job: Job):
    """Train and Stop, the progress, the live figure and table.

    The training view reruns on its own (``st.fragment``), one round of chunks per rerun: it draws what
    is done, then trains the next round, then reruns. The figure is the same chart element every time,
    redrawn in place and shown while the next round computes, and a click on Stop is seen between two
    rounds. The rest of the page does not rerun while it trains."""
    left, right = st.columns([1, 1])
    train = left.button("Train", key="train", type="primary", disabled=not job.chosen)
    stop = right.button("Stop", key="stop", help="Stops after the current chunk; the results so far stay.")
    progress = st.empty()  # the compile messages, then the progress bar
    results = st.session_state.get(RESULTS)
    try:
        if train:
            results = start_training(job, progress)
        elif stop and results and results.get("training"):
            results.update(training=False, stopped=True)
    except Exception as error:  # the partial results start_training keeps, or the earlier ones
        results = stopped_by(error, st.session_state.get(RESULTS))
    status_line(job, results, progress)
    if results and results.get("error"):
        st.error(f"Training stopped with an error: {results['error']}", icon=":material/error:")
    if results:
        show(results, job.classification)
    st.caption(method_caption(job.settings.steps))
    for run in (results or {}).get("runs", {}).values():
        if run.diverged_at is not None:
            st.warning(
                f"{run.label} diverged at step {run.diverged_at} (its loss became non-finite or grew "
                f"{BLOW_UP:.0e} times its start); it stopped there."
            )
    if results and results.get("training"):
        try:
            train_round(job, results)
        except Exception as error:
            stopped_by(error, results)
        next_round()  # to draw this round (and, while training, to train the next)


def next_round():
    """Rerun for the next round: the training view alone when it is running on its own (after a click
    in it), the page when the page is running (Streamlit allows a fragment's rerun only then)."""
    try:
        st.rerun(scope="fragment")
    except StreamlitInvalidLayoutContextError:
        st.rerun()
