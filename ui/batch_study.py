"""The Scale-up page's section "Batch size: when curvature pays": the measured batch-size study.

Its controls are keys of the page's link, prefixed ``study.`` (``declare``, which ``ui.scale_up.declare``
yields from): ``study.task``, ``study.batch`` (repeated; 0 is the full batch), ``study.opt`` (repeated),
``study.grid`` (values per optimizer), ``study.seeds``, ``study.target``, ``study.steps``. The study
itself, its protocol and every number come from ``scaleup.batch_size``; this module runs it chunk by
chunk with a progress bar and a Stop button, caches finished studies by their settings, and draws them.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from optimizers import OPTIMIZERS
from parameters import Parameter
from scaleup import TASKS
from scaleup.batch_size import (
    DEFAULT_OPTIMIZERS,
    EXACT_UP_TO,
    RESOLUTION,
    Study,
    StudySpec,
    critical_batch,
    iterate_study,
    swept,
)
from ui import controls
from ui.chart import chart
from ui.viewstate import Choice, Multi, Number

PREFIX = "study."
BATCH_OPTIONS = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 0)  # 0: the whole training set
GRID = Parameter(StudySpec.grid_points, 1, 9, integer=True, label="Grid values per optimizer (half a decade apart)")
SEEDS = Parameter(3, 1, 5, integer=True, label="Seeds")
TARGET = Parameter(StudySpec.target, 0.001, 2.0, log=True, label="Target training loss")
MAX_STEPS = Parameter(StudySpec.max_steps, 50, 5000, log=True, integer=True, label="At most this many steps")
CHUNK = 50  # steps per compiled chunk: the progress bar moves, and Stop is seen, after each
RESULT = "study.result"  # this session's last study, finished or not
SECOND_ORDER = ("kfac", "damped_ggn", "mlbfgs")
COLOURS = {"gd": "#1f77b4", "momentum": "#ff7f0e", "adam": "#2ca02c", "kfac": "#d62728", "mlbfgs": "#9467bd",
           "damped_ggn": "#8c564b"}  # fmt: skip
NETWORK = dict(width=32, depth=1, activation="tanh")  # StudySpec's network: one hidden layer of 32 tanh units


def batch_title(batch: int) -> str:
    return "full batch" if batch == 0 else str(batch)


def declare(view: dict):
    """The section's controls (keys ``study.*``), in the order drawn."""
    yield Choice(PREFIX + "task", "Task", "digits", options=tuple(TASKS), titles={k: t.title for k, t in TASKS.items()})
    yield Multi(PREFIX + "batch", "Batch sizes", StudySpec.batch_sizes, options=BATCH_OPTIONS,
                titles={b: batch_title(b) for b in BATCH_OPTIONS})  # fmt: skip
    yield Multi(PREFIX + "opt", "Optimizers", DEFAULT_OPTIMIZERS, options=DEFAULT_OPTIMIZERS,
                titles={name: OPTIMIZERS[name].title for name in DEFAULT_OPTIMIZERS})  # fmt: skip
    yield Number(PREFIX + "grid", GRID.label, GRID.default, spec=GRID)
    yield Number(PREFIX + "seeds", SEEDS.label, SEEDS.default, spec=SEEDS)
    yield Number(PREFIX + "target", TARGET.label, TARGET.default, spec=TARGET)
    yield Number(PREFIX + "steps", MAX_STEPS.label, MAX_STEPS.default, spec=MAX_STEPS)


def spec_of(view) -> StudySpec:
    state = view.state
    batches = sorted(state[PREFIX + "batch"], key=lambda b: b or 10**9)  # full batch last
    chosen = [name for name in DEFAULT_OPTIMIZERS if name in state[PREFIX + "opt"]]
    steps = int(state[PREFIX + "steps"])
    return StudySpec(
        task=state[PREFIX + "task"], **NETWORK, batch_sizes=tuple(batches), optimizers=tuple(chosen),
        grid_points=int(state[PREFIX + "grid"]), seeds=tuple(range(int(state[PREFIX + "seeds"]))),
        target=float(state[PREFIX + "target"]), max_steps=steps, chunk_steps=min(CHUNK, steps),
    )  # fmt: skip


# --- the cache of finished studies ------------------------------------------------------------------
class _NotStored(LookupError):
    pass


@st.cache_data(show_spinner=False, max_entries=32)
def _stored(settings: str, _study: Study | None = None) -> Study:
    """A finished study by its settings (``repr`` of its ``StudySpec``): stored by the call that passes it;
    a lookup of settings never stored raises, and an exception is never cached."""
    if _study is None:
        raise _NotStored(settings)
    return _study


def cached(spec: StudySpec) -> Study | None:
    try:
        return _stored(repr(spec))
    except _NotStored:
        return None


def remember(study: Study):
    if study.complete:
        _stored(repr(study.spec), study)


# --- what is drawn ----------------------------------------------------------------------------------
def figure(study: Study) -> go.Figure:
    """Median steps to target against batch size, log–log, per optimizer (bars: fastest to slowest seed);
    open markers at the cap where an optimizer did not reach; a slope −1 line for reference. Finished
    cells only."""
    fig = go.Figure()
    rows = pd.DataFrame(study.rows())
    rows = rows[rows.complete]  # a stopped cell's figures are not final: only the table lists it
    cap = study.spec.max_steps
    for name in dict.fromkeys(rows.optimizer):
        mine = rows[rows.optimizer == name].sort_values("batch_size")
        hit = mine[mine.reached]
        upper = (hit.steps_slowest.fillna(cap) - hit.steps_median).to_numpy(float)
        lower = (hit.steps_median - hit.steps_fastest).to_numpy(float)
        fig.add_trace(go.Scatter(
            x=hit.batch_size.to_numpy(float), y=hit.steps_median.to_numpy(float), mode="lines+markers",
            name=OPTIMIZERS[name].title, line=dict(color=COLOURS.get(name)), legendgroup=name,
            error_y=dict(type="data", array=upper, arrayminus=lower, thickness=1, width=3),
            customdata=hit.best_value.to_numpy(float),
            hovertemplate=f"{OPTIMIZERS[name].title}<br>batch %{{x}}<br>median %{{y}} steps<br>"
                          f"{swept(name).replace('_', ' ')} %{{customdata:.3g}}<extra></extra>",
        ))  # fmt: skip
        missed = mine[~mine.reached]
        if len(missed):
            fig.add_trace(go.Scatter(
                x=missed.batch_size.to_numpy(float), y=np.full(len(missed), float(cap)), mode="markers",
                marker=dict(symbol="x-open", size=10, color=COLOURS.get(name)), legendgroup=name, showlegend=False,
                hovertemplate=f"{OPTIMIZERS[name].title}: not reached within %{{y}} steps at batch %{{x}}<extra></extra>",
            ))  # fmt: skip
    reference = reference_line(study)
    if reference is not None:
        (b0, s0), label = reference
        xs = np.array(sorted({c.batch_size for c in study.cells}), float)
        fig.add_trace(go.Scatter(x=xs, y=s0 * b0 / xs, mode="lines", name=label,
                                 line=dict(color="#7f7f7f", dash="dash", width=1)))  # fmt: skip
    fig.update_xaxes(type="log", title_text="batch size (log)")
    fig.update_yaxes(type="log", title_text=f"steps to training loss ≤ {study.spec.target:g} (log)")
    shown = [v for column in ("steps_median", "steps_fastest", "steps_slowest") for v in rows[column] if v is not None]
    shown += [cap] if not rows.reached.all() else []
    shown = [float(v) for v in shown if np.isfinite(float(v))]
    if shown:  # the axis spans the measurements; the reference line may leave it
        fig.update_yaxes(range=[np.log10(min(shown)) - 0.15, np.log10(max(shown)) + 0.15])
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


def reference_line(study: Study):
    """((batch, steps), label) of the perfect-scaling line: through the first optimizer's point at the
    smallest batch where it reached the target; None when none reached."""
    for cell in study.cells:
        if cell.reached and cell.complete:
            smallest = min(c.batch_size for c in study.cells if c.optimizer == cell.optimizer and c.reached)
            anchor = study.cell(smallest, cell.optimizer)
            title = OPTIMIZERS[cell.optimizer].title
            return (smallest, anchor.median), f"perfect scaling, slope −1 (through {title} at batch {smallest})"
    return None


def table(study: Study) -> pd.DataFrame:
    rows = []
    for row in study.rows():
        full = row["batch_size"] == study.n_train
        slowest = row["steps_slowest"]
        rows.append({
            "batch": f"{row['batch_size']} (full)" if full else str(row["batch_size"]),
            "optimizer": row["title"],
            "best value": (f"{row['swept'].replace('_', ' ')} {row['best_value']:.3g}"
                           + (" (grid end)" if row["best_at_grid_edge"] else "")) if row["reached"] else "—",
            "median steps": row["steps_median"],
            "fastest seed": row["steps_fastest"],
            "slowest seed": "not reached" if slowest is None and row["seeds_reached"] else slowest,
            "seeds reached": f"{row['seeds_reached']}/{row['seeds']}",
            "finished": "yes" if row["complete"] else "stopped",
        })  # fmt: skip
    return pd.DataFrame(rows)


def lanes_csv(study: Study) -> str:
    """Every lane: batch size, optimizer, swept hyperparameter, its value, seed, steps to target
    (empty: not reached), diverged, and whether the value is the cell's best."""
    records = []
    for cell in study.cells:
        for i, value in enumerate(cell.values):
            for j, seed in enumerate(cell.seeds):
                steps = cell.steps[i, j]
                records.append(dict(
                    batch_size=cell.batch_size, optimizer=cell.optimizer, hyperparameter=cell.swept, value=value,
                    seed=seed, steps_to_target=int(steps) if np.isfinite(steps) else None,
                    diverged=bool(cell.diverged[i, j]), best_value=i == cell.best, target=study.spec.target,
                    steps_run=cell.steps_run,
                ))  # fmt: skip
    buffer = io.StringIO()
    pd.DataFrame(records).astype({"steps_to_target": "Int64"}).to_csv(buffer, index=False)
    return buffer.getvalue()


def _ratio(study: Study, batch: int, slow: str, fast: str) -> float | None:
    try:
        a, b = study.cell(batch, slow), study.cell(batch, fast)
    except StopIteration:
        return None
    return a.median / b.median if a.reached and b.reached and a.complete and b.complete else None


def findings(study: Study) -> list[str]:
    """Plain sentences about this result, each read off its numbers, and how it compares with the
    closed-form noisy quadratic model's shape (perfect scaling, then saturation at a critical batch size,
    later for preconditioned methods)."""
    lines = []
    batches = sorted({c.batch_size for c in study.cells if c.complete})
    names = list(dict.fromkeys(c.optimizer for c in study.cells if c.complete))
    if len(batches) < 2:
        if len(study.spec.batch_sizes) < 2:
            return ["Choose at least two batch sizes to see how the steps change with the batch."]
        return ["Fewer than two batch sizes are finished: nothing to compare yet."]
    small, large = batches[0], batches[-1]
    gd_small = next((c for c in study.cells if c.batch_size == small and c.optimizer == "gd" and c.complete), None)
    gd_reached_small = gd_small is not None and gd_small.reached
    for name in names:
        a, b = (next((c for c in study.cells if c.batch_size == x and c.optimizer == name and c.complete), None)
                for x in (small, large))  # fmt: skip
        title = OPTIMIZERS[name].title
        if a is None or b is None:
            continue
        if not (a.reached and b.reached):
            if name in SECOND_ORDER and b.reached and gd_reached_small:
                continue  # said below, beside gradient descent's count at the small batch
            where = " and ".join(f"batch {x}" for x, c in ((small, a), (large, b)) if not c.reached)
            lines.append(f"{title} did not reach the target at {where} within {study.spec.max_steps} steps.")
            continue
        fell, ideal = a.median / b.median, large / small
        efficiency = fell / ideal
        shape = ("close to perfect scaling" if efficiency >= 0.7 else
                 "far from perfect scaling: the steps saturate" if efficiency <= 0.3 else "part of perfect scaling")  # fmt: skip
        lines.append(f"{title}: from batch {small} to {large} ({ideal:.0f}× larger) its median steps fell "
                     f"{fell:.1f}× ({a.median:.0f} → {b.median:.0f}), {shape}.")  # fmt: skip
    for name in names:  # faster than perfect scaling between neighbouring batch sizes
        mine = sorted((c for c in study.cells if c.optimizer == name and c.complete and c.reached),
                      key=lambda c: c.batch_size)  # fmt: skip
        for a, b in zip(mine, mine[1:]):
            fell, ideal = a.median / b.median, b.batch_size / a.batch_size
            if fell > 1.2 * ideal:
                lines.append(f"{OPTIMIZERS[name].title} fell faster than perfect scaling from batch {a.batch_size} to "
                             f"{b.batch_size} ({a.median:.0f} → {b.median:.0f}, {fell:.1f}× for a {ideal:.0f}× larger "
                             "batch), which the noisy quadratic model's curves never do (perfect scaling is their "
                             "steepest).")  # fmt: skip
    gaps = [(name, _ratio(study, small, "gd", name), _ratio(study, large, "gd", name)) for name in SECOND_ORDER]
    for name, at_small, at_large in gaps:
        if at_small is None or at_large is None:
            continue
        title = OPTIMIZERS[name].title
        trend = ("wider at the large batch, as the noisy quadratic model predicts" if at_large > at_small * 1.2 else
                 "not wider at the large batch, unlike the noisy quadratic model, where preconditioning pays "
                 "more as the batch grows")  # fmt: skip
        lines.append(f"{title} needed {at_small:.1f}× fewer steps than gradient descent at batch {small} and "
                     f"{at_large:.1f}× fewer at batch {large}: the gap is {trend}.")  # fmt: skip
    for name in SECOND_ORDER:
        cell = next((c for c in study.cells if c.batch_size == small and c.optimizer == name and c.complete), None)
        if gd_small is not None and cell is not None and gd_small.reached and not cell.reached:
            lines.append(f"At batch {small} {OPTIMIZERS[name].title} did not reach the target while gradient descent "
                         f"did ({gd_small.median:.0f} steps): unlike the noisy quadratic model, where preconditioning "
                         "costs no steps at small batches (at the Eigenspace page's defaults its Adam-like and "
                         "K-FAC-like methods need about 5 times fewer than SGD at batch 1).")  # fmt: skip
    critical = {name: critical_batch(study, name) for name in names}
    known = {name: found for name, found in critical.items() if found is not None}
    if known:
        parts = [f"{OPTIMIZERS[name].title} {'none up to ' if c == large else ''}{c} (line through batch {a})"
                 for name, (a, c) in known.items()]  # fmt: skip
        lines.append("Critical batch size, the largest measured batch whose steps stay within twice the "
                     "perfect-scaling line: " + "; ".join(parts) + ".")  # fmt: skip
        if "gd" in known and known["gd"][1] < large:  # gradient descent saturated within the measured batches
            later = [OPTIMIZERS[n].title for n in SECOND_ORDER if n in known and known[n][1] > known["gd"][1]]
            not_later = [OPTIMIZERS[n].title for n in SECOND_ORDER if n in known and known[n][1] <= known["gd"][1]]
            if later:
                lines.append(f"{', '.join(later)} saturate{'s' if len(later) == 1 else ''} at a larger batch than "
                             "gradient descent, as the noisy quadratic model predicts for preconditioned methods.")  # fmt: skip
            if not_later:
                lines.append(f"{', '.join(not_later)} saturate{'s' if len(not_later) == 1 else ''} no later than "
                             "gradient descent, unlike the noisy quadratic model's preconditioned methods.")  # fmt: skip
    return lines


# --- running --------------------------------------------------------------------------------------
def _run(spec: StudySpec, boxes) -> Study | None:
    """The study chunk by chunk, the progress bar moved after each and the figure redrawn after each
    finished cell. A click on Stop reruns the page, which ends this loop between two Streamlit calls;
    the session keeps the study so far."""
    progress = boxes["progress"].progress(0.0, "compiling the first chunk…")
    study, finished = None, 0
    try:
        for step in iterate_study(spec):
            study = step.study
            st.session_state[RESULT] = study
            title = OPTIMIZERS[step.optimizer].title
            progress.progress(min(step.fraction, 1.0), f"batch {step.batch_size}, {title}: step {step.steps_done}")
            done = sum(cell.complete for cell in study.cells)
            if done > finished:
                finished = done
                _draw(study, boxes)
    except ValueError as error:  # the settings the study refuses (kept short: never a traceback)
        boxes["progress"].error(f"The study could not run: {error}")
        return None
    boxes["progress"].empty()
    if study is not None:
        remember(study)
    return study


def _draw(study: Study, boxes):
    if any(cell.complete for cell in study.cells):
        with boxes["chart"]:
            chart(figure(study), key=f"batch_study_chart_{next(boxes['drawings'])}")
    boxes["table"].dataframe(table(study), hide_index=True, width="stretch")


def _protocol(spec: StudySpec) -> str:
    return (
        f"**How it is measured** (`scaleup/batch_size.py`): each optimizer trains a {NETWORK['depth']}-hidden-layer "
        f"network of {NETWORK['width']} {NETWORK['activation']} units at every batch size, at each of its grid values "
        "(learning rate; K-FAC picks its own step and momentum, so its grid is its initial damping) and each seed. "
        "Steps to target: the first step after which the loss on the **whole training set** is ≤ the target (every "
        f"step evaluated up to {EXACT_UP_TO}, then steps at most {RESOLUTION:.0%} apart); a run that diverges or "
        f"does not get there within {spec.max_steps} steps has not reached it. Per grid value the median over seeds "
        "(not reached counts as infinite); the best value is the lowest median. Bars: fastest to slowest seed at "
        "that value; ×: not reached, drawn at the cap. Grid values and seeds run as vmapped lanes of one compiled "
        "program (K-FAC's one after another inside it)."
    )


def section(view):
    """Draw the section: controls, Start/Stop, progress, the figure, the table, the words, the CSV."""
    st.header("Batch size: when curvature pays")
    st.markdown(
        "With small batches every method is limited by gradient noise; with large batches optimization itself "
        "is the bottleneck, and preconditioning and momentum may cut the number of steps (Shallue et al. 2018; "
        "Zhang et al. 2019). Here it is measured: steps to a target training loss against the batch size, each "
        "optimizer at its best grid value."
    )
    st.markdown(
        "Measured with this section's default settings (BENCHMARKS.md, \"Batch-size study\", 329 s on 2 CPU "
        "cores): gradient descent's steps fell 2.9× from batch 8 to 32 and then stayed near 240 from batch 128 "
        "to the full set; at the full batch K-FAC needed 7 steps, damped Gauss–Newton 13, heavy ball 27, Adam 29, "
        "mL-BFGS 65 and gradient descent 237. At batch 8 K-FAC, damped Gauss–Newton and mL-BFGS did not reach the "
        "target within 3000 steps while gradient descent did, unlike the noisy quadratic model, where preconditioning "
        "costs no steps at small batches (at the Eigenspace page's defaults its Adam-like and K-FAC-like methods "
        "need about 5 times fewer than SGD at batch 1)."
    )
    left, middle, right = st.columns(3)
    controls.widget(view, PREFIX + "task", where=left)
    controls.widget(view, PREFIX + "batch", where=left)
    controls.widget(view, PREFIX + "opt", where=middle)
    controls.widget(view, PREFIX + "target", where=middle)
    for key in ("grid", "seeds", "steps"):
        controls.widget(view, PREFIX + key, where=right)
    spec = spec_of(view)
    ready = bool(spec.batch_sizes and spec.optimizers)
    start_col, stop_col = st.columns(2)
    start = start_col.button("Start the study", key="study_start", type="primary", disabled=not ready)
    stop_col.button("Stop the study", key="study_stop", help="Stops after the current chunk; the results so far stay.")
    if not ready:
        st.info("Choose at least one batch size and one optimizer.")
    boxes = dict(progress=st.empty(), chart=st.empty(), table=st.empty(), drawings=itertools.count())
    study = cached(spec)
    if start and study is None:
        study = _run(spec, boxes)
    elif study is not None:
        boxes["progress"].caption(f"Finished earlier with these settings (cached): drawn at once, in {study.seconds:.0f} s of computing then.")
    else:
        earlier = st.session_state.get(RESULT)
        if earlier is not None and earlier.spec == spec:
            study = earlier
            boxes["progress"].info("The study stopped early; its results so far are shown.")
        elif ready:
            cells = len(spec.batch_sizes) * len(spec.optimizers)
            lanes = spec.grid_points * len(spec.seeds)
            boxes["progress"].info(
                f"Press **Start the study**: {cells} batch-size × optimizer cells, {lanes} runs each "
                f"(grid values × seeds), at most {spec.max_steps} steps per run."
            )
    if study is not None and study.cells:
        _draw(study, boxes)
        for line in findings(study):
            st.markdown(f"- {line}")
        st.download_button(
            "Download every run (CSV)", lanes_csv(study), file_name="batch_size_study.csv", mime="text/csv",
            key="study_csv",
        )
    st.caption(_protocol(spec))
