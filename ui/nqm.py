"""The Eigenspace page's batch-size section: Zhang et al.'s noisy quadratic model (``optimizers.nqm``).

Its controls are part of the Eigenspace page's view state (``declare``, called from
``ui.eigenspace.declare``), so they are in the page's link: ``nqm.kappa``, ``nqm.dim``,
``nqm.target``, ``nqm.methods``, ``nqm.average``, ``nqm.decay`` and ``nqm.batch`` (the batch size
of the loss curves). All mathematics is in ``optimizers.nqm``; this module draws it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from optimizers import nqm
from parameters import Parameter
from ui import controls
from ui.chart import chart
from ui.explorer import _docstring_markdown
from ui.viewstate import Multi, Number

KAPPA = Parameter(1000.0, 10.0, 1e4, log=True, label="condition number κ")
DIMENSION = Parameter(100, 10, 300, log=True, integer=True, label="dimension n")
TARGET = Parameter(0.01, 1e-4, 0.5, log=True, label="target: fraction of the starting loss")
AVERAGE = Parameter(0.0, 0.0, 0.999, label="EMA of the iterates ρ (0: off)")
DECAY = Parameter(1.0, 1.0, 100.0, log=True, label="step decay d: α/d for the second half (1: off)")
BATCH = Parameter(64, 1, 1_000_000, log=True, integer=True, label="batch size of the loss curves")
METHOD_TITLES = {name: method.title for name, method in nqm.METHODS.items()}
COLORS = {"sgd": "#1f77b4", "momentum": "#d62728", "adam": "#2ca02c", "kfac": "#9467bd"}
KEYS = ("nqm.kappa", "nqm.dim", "nqm.target", "nqm.methods", "nqm.average", "nqm.decay", "nqm.batch")


def declare(view: dict):
    """The section's fields, in the order the section draws them."""
    yield Number("nqm.kappa", KAPPA.label, KAPPA.default, spec=KAPPA)
    yield Number("nqm.dim", DIMENSION.label, DIMENSION.default, spec=DIMENSION,
                 help="hᵢ = 1/(1 + (κ − 1)(i − 1)/(n − 1)): from 1 down to 1/κ; n = κ gives the paper's hᵢ = 1/i.")  # fmt: skip
    yield Number("nqm.target", TARGET.label, TARGET.default, spec=TARGET,
                 help="Every coordinate starts at 1, so the starting loss is ½ Σ hᵢ.")  # fmt: skip
    yield Multi("nqm.methods", "Methods", tuple(nqm.METHODS), options=tuple(nqm.METHODS), titles=METHOD_TITLES)
    yield Number("nqm.average", AVERAGE.label, AVERAGE.default, spec=AVERAGE,
                 help="Above 0: the dashed lines are each method with θ̃ ← ρθ̃ + (1 − ρ)θ, its loss that of θ̃.")  # fmt: skip
    yield Number("nqm.decay", DECAY.label, DECAY.default, spec=DECAY,
                 help="Above 1: the dashed lines are runs of T steps that take α for T/2 steps, then α/d; "
                      "the steps are the shortest such run that ends at the target.")  # fmt: skip
    yield Number("nqm.batch", BATCH.label, BATCH.default, spec=BATCH)


class NQMSettings(NamedTuple):
    kappa: float
    dimension: int
    target: float  # a fraction of the starting loss
    methods: tuple[str, ...]
    average: float
    decay: float
    batch: int

    @property
    def varied(self) -> bool:
        return self.average > 0 or self.decay > 1

    def variant_label(self) -> str:
        parts = ([f"EMA ρ = {self.average:g}"] if self.average > 0 else []) + (
            [f"step decay d = {self.decay:g}"] if self.decay > 1 else [])  # fmt: skip
        return ", ".join(parts)


def settings_of(view: dict) -> NQMSettings:
    return NQMSettings(float(view["nqm.kappa"]), int(view["nqm.dim"]), float(view["nqm.target"]), tuple(view["nqm.methods"]),
                       float(view["nqm.average"]), float(view["nqm.decay"]), int(view["nqm.batch"]))  # fmt: skip


# --- computing (cached: a new target or batch size reuses the curves) ---------------------------------
@st.cache_resource(max_entries=48, show_spinner=False)
def curves_for(kappa: float, dimension: int, method: str, average: float, decay: float) -> nqm.Curves:
    """E[L] on the step grid for the method's whole (α, β) grid (shared, never modified)."""
    h = nqm.spectrum(kappa, dimension)
    alphas, betas = nqm.settings_grid(nqm.METHODS[method])
    return nqm.loss_curves(h, nqm.METHODS[method].gamma, alphas, betas, average=average, decay=decay)


class Found(NamedTuple):
    study: nqm.Study
    curves: nqm.Curves


def found_for(settings: NQMSettings, method: str, variant: bool, batch_sizes=nqm.BATCH_SIZES) -> Found:
    """One method's study: plain, or (``variant``) with the section's EMA and decay."""
    average, decay = (settings.average, settings.decay) if variant else (0.0, 1.0)
    curves = curves_for(settings.kappa, settings.dimension, method, average, decay)
    target = settings.target * nqm.initial_loss(nqm.spectrum(settings.kappa, settings.dimension))
    study = nqm.best(curves, target, batch_sizes)
    return Found(study, curves)


# --- figures -------------------------------------------------------------------------------------------
def _on_curve(study: nqm.Study, batch: float) -> float:
    """The steps at ``batch`` on the drawn (log-log linear) curve."""
    x, y = np.log(study.batch_sizes), np.log(study.steps)
    keep = np.isfinite(y)
    return float(np.exp(np.interp(np.log(batch), x[keep], y[keep])))


def steps_figure(studies: dict[tuple[str, bool], nqm.Study], settings: NQMSettings) -> go.Figure:
    figure = go.Figure()
    for (name, variant), study in studies.items():
        keep = np.isfinite(study.steps)
        if not keep.any():
            continue
        title = METHOD_TITLES[name] + (f", {settings.variant_label()}" if variant else "")
        hover = [f"B = {b:g}: {s:.0f} steps at α = {a:.3g}" + (f", β = {m:g}" if name == "momentum" else "")
                 for b, s, a, m in zip(study.batch_sizes[keep], study.steps[keep], study.learning_rate[keep],
                                       study.momentum[keep])]  # fmt: skip
        figure.add_trace(go.Scatter(
            x=study.batch_sizes[keep].astype(np.float32), y=study.steps[keep].astype(np.float32), mode="lines+markers",
            name=title, line=dict(color=COLORS[name], dash="dash" if variant else "solid"), marker=dict(size=5),
            hovertext=hover, hoverinfo="text",
        ))  # fmt: skip
        first = int(np.flatnonzero(keep)[0])
        if not variant and first == 0:  # the perfect-scaling line from B₀, down to half the curve's fewest steps
            line = study.steps[0] * study.batch_sizes[0] / study.batch_sizes
            batch = study.batch_sizes[line >= 0.5 * study.steps[keep].min()]
            figure.add_trace(go.Scatter(
                x=batch.astype(np.float32), y=(study.steps[0] * study.batch_sizes[0] / batch).astype(np.float32),
                mode="lines", line=dict(color=COLORS[name], dash="dot", width=1), opacity=0.5, showlegend=False,
                hoverinfo="skip",
            ))  # fmt: skip
        if study.critical_batch_size is not None:
            critical = study.critical_batch_size
            figure.add_trace(go.Scatter(
                x=[np.float32(critical)], y=[np.float32(_on_curve(study, critical))], mode="markers",
                marker=dict(symbol="diamond", size=12, color=COLORS[name], line=dict(color="white", width=1)),
                name=f"B* = {_batch_text(critical)}", showlegend=False, hoverinfo="text",
                hovertext=f"{title}: critical batch size B* ≈ {_batch_text(critical)}",
            ))  # fmt: skip
    figure.update_layout(
        height=460, margin=dict(t=10, b=40, l=60, r=10), legend=dict(orientation="h", y=-0.18),
        xaxis=dict(type="log", title=dict(text="batch size B"), dtick=1),
        yaxis=dict(type="log", title=dict(text="steps to the target"), dtick=1),
    )  # fmt: skip
    return figure


def loss_figure(found: dict[tuple[str, bool], Found], settings: NQMSettings, target: float) -> go.Figure:
    figure = go.Figure()
    batch = float(settings.batch)
    for (name, variant), (_, curves) in found.items():
        steps = nqm.first_below(curves, target, [batch])[:, 0]
        if not np.isfinite(steps.min()):
            continue
        row = int(np.argmin(steps))
        loss = curves.loss(batch)[row]
        keep = np.isfinite(loss) & (loss > 0)
        reached = float(steps[row])
        shown = keep & (curves.steps <= max(4 * reached, 64))
        title = METHOD_TITLES[name] + (f", {settings.variant_label()}" if variant else "")
        if name == "momentum":
            title += f" (α = {curves.learning_rates[row]:.3g}, β = {curves.momenta[row]:g})"
        else:
            title += f" (α = {curves.learning_rates[row]:.3g})"
        figure.add_trace(go.Scatter(
            x=curves.steps[shown].astype(np.float32), y=loss[shown].astype(np.float32), mode="lines", name=title,
            line=dict(color=COLORS[name], dash="dash" if variant else "solid"),
        ))  # fmt: skip
    figure.add_hline(y=target, line=dict(color="#111111", dash="dot", width=1))
    figure.update_layout(
        height=380, margin=dict(t=10, b=40, l=60, r=10), legend=dict(orientation="h", y=-0.2),
        xaxis=dict(type="log", dtick=1, title=dict(
            text="step" + (" (dashed, with the step decay: the length T of the run)" if settings.decay > 1 else ""))),
        yaxis=dict(type="log", title=dict(text="expected loss E[L]"), dtick=1),
    )  # fmt: skip
    return figure


# --- the section -----------------------------------------------------------------------------------------
def _batch_text(value: float) -> str:
    """A batch size to three figures, written out: 162, 1,190, 27,600."""
    return f"{float(f'{value:.3g}'):,.0f}"


def _format_steps(value: float) -> str:
    return "not within 2²⁴ steps" if not np.isfinite(value) else f"{value:,.0f}"


def table(studies: dict[tuple[str, bool], nqm.Study], settings: NQMSettings) -> pd.DataFrame:
    rows = []
    for (name, variant), study in studies.items():
        critical = study.critical_batch_size
        if critical is not None:
            critical_text = _batch_text(critical)
        elif np.isfinite(study.steps[0]):
            critical_text = "beyond the largest batch"
        else:  # the perfect-scaling line starts at B = 1
            critical_text = "— (no perfect-scaling line: B = 1 needs over 2²⁴ steps)"
        rows.append({
            "method": METHOD_TITLES[name] + (f", {settings.variant_label()}" if variant else ""),
            "steps at B = 1": _format_steps(study.steps[0]),
            f"steps at B = {study.batch_sizes[-1]:,.0f}": _format_steps(study.steps[-1]),
            "critical batch size B*": critical_text,
            "best α at B = 1": "—" if np.isnan(study.learning_rate[0]) else f"{study.learning_rate[0]:.3g}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def reading(studies: dict[tuple[str, bool], nqm.Study]) -> str:
    """What the numbers drawn say, computed from them (nothing here is a fixed claim)."""
    sentences = []
    plain = {name: study for (name, variant), study in studies.items() if not variant}
    if "sgd" in plain and "momentum" in plain and np.isfinite(plain["sgd"].steps[0]) and np.isfinite(plain["momentum"].steps[0]):
        ratio = plain["momentum"].steps[0] / plain["sgd"].steps[0]
        sentences.append(f"At B = 1 heavy ball needs {ratio:.2f} times SGD's steps")
        sgd_b, heavy_b = plain["sgd"].critical_batch_size, plain["momentum"].critical_batch_size
        if sgd_b and heavy_b:
            sentences[-1] += f", and its critical batch size is {heavy_b / sgd_b:.3g} times SGD's ({_batch_text(heavy_b)} against {_batch_text(sgd_b)})."
        else:
            sentences[-1] += "."
    criticals = [(nqm.METHODS[n].gamma, plain[n].critical_batch_size) for n in ("sgd", "adam", "kfac") if n in plain]
    if len(criticals) >= 2 and all(c is not None for _, c in criticals):
        sentences.append("Critical batch size by preconditioning power: " + ", ".join(
            f"γ = {g:g}: {_batch_text(c)}" for g, c in criticals) + ".")  # fmt: skip
    return " ".join(sentences)


class Drawing(NamedTuple):
    steps: go.Figure
    reading: str
    table: pd.DataFrame
    loss: go.Figure


@st.cache_resource(max_entries=32, show_spinner=False)
def drawing(settings: NQMSettings) -> Drawing:
    """What the section shows for ``settings``, built once: a control elsewhere on the page then reruns
    the section without recomputing its studies and figures."""
    variants = (False, True) if settings.varied else (False,)
    found = {(name, variant): found_for(settings, name, variant) for name in settings.methods for variant in variants}
    studies = {key: value.study for key, value in found.items()}
    target = settings.target * nqm.initial_loss(nqm.spectrum(settings.kappa, settings.dimension))
    return Drawing(steps_figure(studies, settings), reading(studies), table(studies, settings),
                   loss_figure(found, settings, target))  # fmt: skip


def section(view):
    """Controls, the steps-against-batch-size figure, the table and the loss curves at one batch size."""
    settings = settings_of(view.state)
    st.markdown(
        "Zhang et al., *Which Algorithmic Choices Matter at Which Batch Sizes? Insights From a Noisy Quadratic "
        "Model* (NeurIPS 2019): on L = ½ Σ hᵢθᵢ² a minibatch of size B sees the gradient Hθ + ξ with "
        "Cov ξ = H/B, and the expected loss of SGD, heavy ball and H^(−γ)-preconditioned SGD is exact at every "
        "step. How many steps does each need to reach a target, at its best learning rate, as the batch grows?"
    )
    left, middle, right = st.columns(3)
    for column, keys in ((left, ("nqm.kappa", "nqm.dim", "nqm.target")), (middle, ("nqm.methods", "nqm.batch")),
                         (right, ("nqm.average", "nqm.decay"))):  # fmt: skip
        for key in keys:
            controls.widget(view, key, where=column)
    if not settings.methods:
        st.info("Choose at least one method for the noisy quadratic model.")
        return
    drawn = drawing(settings)
    chart(drawn.steps, key="nqm_steps_plot")
    st.caption(
        "Each point: the fewest steps for which the expected loss E[L] reaches the target, over a grid of α "
        "(6 per decade, 10⁻⁶ to 3.2) and, for heavy ball, β (0 to 0.999), at that batch size; steps are counted one by one up to 32, "
        "then on 16 points per doubling. Dotted: perfect scaling, steps ∝ 1/B from B = 1. ◆: the critical "
        "batch size B*, where the steps reach twice the perfect-scaling line (for steps S_min(1 + B_noise/B) that "
        "is about B_noise, McCandlish et al. 2018). The loss is exact: the second moments of every coordinate follow a linear "
        "recurrence (no sampling)."
        + ("" if not settings.varied else " Dashed: the same methods with " + settings.variant_label() + ".")
    )
    if drawn.reading:
        st.markdown(drawn.reading)
    st.table(drawn.table, hide_index=True)
    st.markdown(f"**Expected loss at B = {settings.batch:,}**, each method at its best setting for that batch size")
    chart(drawn.loss, key="nqm_loss_plot")
    st.caption(
        f"Dotted: the target, {settings.target:g} of the starting loss ½ Σ hᵢ = {nqm.initial_loss(nqm.spectrum(settings.kappa, settings.dimension)):.4g}. "
        "With a step decay the dashed curve is the loss at the end of a run of T steps, plotted against T."
    )
    with st.expander("The noisy quadratic model, derived"):
        st.markdown(_docstring_markdown(nqm.__doc__))
