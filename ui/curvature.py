"""The Network curvature page's controls and views (``pages/curvature.py`` puts them together).

The view state (``declare``, read by ``ui.viewstate``) is every key of the page's link: ``task``,
``depth``, ``width``, ``activation``, ``batch`` (the examples the matrices are computed on),
``step`` (a saved point of the training run), ``seed``, ``matrices`` (repeated, one per matrix
shown); ``lesson`` (``lessons/curvature/``) and ``hide``. Every matrix, error and eigenvalue comes
from ``scaleup.curvature_matrices``; this module caches them, draws them and says what they show.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from parameters import Parameter
from scaleup import ACTIVATIONS, TASKS, Dataset, load_task, model_for
from scaleup import curvature_matrices as cm
from scaleup.training import MLP_DEFAULTS, Model
from ui import controls
from ui.chart import chart
from ui.viewstate import Choice, Multi, Number

PAGE = "curvature"
DEPTH = Parameter(2, 1, 3, integer=True, label="Hidden layers")
WIDTH = Parameter(12, 2, 32, integer=True, label="Width (units per hidden layer)")
SEED = Parameter(0, 0, 9999, integer=True, label="Seed (data split, initial weights, minibatches)")
BATCHES = (32, 64, 128, 256, 512)
MAX_CELLS = 360  # a heatmap shows at most this many rows and columns; larger matrices are pooled
DECADES = 6  # the colour scale spans this many powers of ten below the largest |entry|
RELATIVE_ZERO = 1e-6  # eigenvalues below this fraction of a matrix's largest are float32 rounding
OUTLINE = "#d62728"
SHORT = {"hessian": "H", "ggn": "GGN", "empirical": "F̂", "kfac": "K-FAC", "fisher": "F"}


def step_title(step: int) -> str:
    return "0 (initialization)" if step == 0 else f"{step}"


def declare(view: dict):
    """The page's controls in page order."""
    yield Choice("task", "Task", "spirals", options=tuple(TASKS), titles={k: t.title for k, t in TASKS.items()})
    yield Number("depth", DEPTH.label, DEPTH.default, spec=DEPTH)
    yield Number("width", WIDTH.label, WIDTH.default, spec=WIDTH)
    yield Choice("activation", "Activation", "tanh", options=tuple(ACTIVATIONS))
    yield Choice("batch", "Examples in the batch", 256, options=BATCHES,
                 help="The matrices are those of the loss on the first this many training examples.")  # fmt: skip
    yield Choice("step", "Training step", 0, options=cm.SNAPSHOT_STEPS, titles={s: step_title(s) for s in cm.SNAPSHOT_STEPS},
                 help="The parameters saved at this step of one training run (Adam, minibatches of 128).")  # fmt: skip
    yield Number("seed", SEED.label, SEED.default, spec=SEED, box=True)
    yield Multi("matrices", "Matrices", tuple(cm.MATRICES), options=tuple(cm.MATRICES), titles=cm.MATRICES)


class Settings(NamedTuple):
    task: str
    depth: int
    width: int
    activation: str
    batch: int
    step: int
    seed: int
    matrices: tuple[str, ...]


def sidebar_controls(view) -> Settings:
    bar = st.sidebar
    for key in ("lesson", "task"):
        controls.widget(view, key, where=bar)
    bar.caption(TASKS[view["task"]].description)
    for key in ("depth", "width", "activation", "batch"):
        controls.widget(view, key, where=bar)
    step_slider(view, bar)
    for key in ("seed", "matrices"):
        controls.widget(view, key, where=bar)
    controls.save_lesson_button(view, where=bar)
    return Settings(view["task"], int(view["depth"]), int(view["width"]), view["activation"], int(view["batch"]),
                    int(view["step"]), int(view["seed"]), tuple(view["matrices"]))  # fmt: skip


def step_slider(view, where):
    """The snapshot step as a slider over the saved points (a ``Choice`` of the view state)."""
    field = view.fields["step"]
    if controls.is_hidden(view, "step"):
        return view["step"]
    return where.select_slider(field.label, options=field.options, format_func=field.title, key="step", help=field.help)


# --- computed once per setting -------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=4)
def dataset(task: str, seed: int) -> Dataset:
    return load_task(task, seed)


def network(settings: Settings) -> tuple[Dataset, Model]:
    data = dataset(settings.task, settings.seed)
    return data, model_for(data.info, width=settings.width, depth=settings.depth, activation=settings.activation)


@st.cache_resource(show_spinner="Training the network and saving its parameters…", max_entries=16)
def snapshots(task: str, model: Model, seed: int) -> dict[int, cm.Snapshot]:
    return {s.step: s for s in cm.training_snapshots(model, dataset(task, seed), seed)}


class Computed(NamedTuple):
    curvature: cm.Curvature
    spectra: dict[str, np.ndarray]
    errors: dict
    train_loss: float


@st.cache_resource(show_spinner="Computing the matrices and their eigenvalues…", max_entries=12)
def computed(task: str, model: Model, seed: int, batch: int, step: int) -> Computed | None:
    """The matrices at the saved step (None if the training diverged before it). Not copied per rerun
    (``cache_resource``): the page only reads them."""
    snapshot = snapshots(task, model, seed).get(step)
    if snapshot is None:
        return None
    x, y = cm.batch_of(dataset(task, seed), batch)
    found = cm.curvature(model, snapshot.params, x, y)
    return Computed(found, cm.spectra(found), cm.relative_errors(found), snapshot.train_loss)


def network_summary(settings: Settings, data: Dataset, model: Model) -> str:
    loss = "softmax cross-entropy" if data.info.kind == "classification" else "squared error"
    batch = min(settings.batch, data.n_train)
    return (
        f"**Network:** {' → '.join(map(str, model.sizes))} ({settings.activation}), **{model.parameter_count:,} "
        f"parameters**, {loss}; each matrix is {model.parameter_count:,} × {model.parameter_count:,}, computed on "
        f"the first {batch} training examples."
    )


def too_large(model: Model) -> str | None:
    if model.parameter_count <= cm.MAX_PARAMETERS:
        return None
    return (
        f"This network has {model.parameter_count:,} parameters; the dense matrices here are limited to "
        f"{cm.MAX_PARAMETERS:,} (each holds n² entries and the Hessian takes n Hessian-vector products). "
        "Make it narrower or shallower."
    )


# --- heatmaps ---------------------------------------------------------------------------------------
def pooled(magnitude: np.ndarray, cells: int = MAX_CELLS) -> tuple[np.ndarray, int]:
    """The largest |entry| of each s × s tile (s = 1 when the matrix fits), and s."""
    n = magnitude.shape[0]
    size = max(1, math.ceil(n / cells))
    if size == 1:
        return magnitude, 1
    tiles = math.ceil(n / size)
    padded = np.zeros((tiles * size, tiles * size))
    padded[:n, :n] = magnitude
    return padded.reshape(tiles, size, tiles, size).max(axis=(1, 3)), size


def heatmap_figure(found: cm.Curvature, keys: tuple[str, ...]) -> tuple[go.Figure, int]:
    """log₁₀|entries| of each matrix on one colour scale (the largest |entry| of all, DECADES below it),
    the layer blocks outlined; and the tile size s of the pooling."""
    columns = 2 if len(keys) > 1 else 1
    rows = math.ceil(len(keys) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"|{cm.MATRICES[k]}|" for k in keys],
                        horizontal_spacing=0.08, vertical_spacing=0.08)  # fmt: skip
    top = max(float(np.abs(found.matrix(k)).max()) for k in keys)
    high = math.log10(top) if top > 0 else 0.0
    low = high - DECADES
    n = found.hessian.shape[0]
    size = 1
    for i, key in enumerate(keys):
        row, col = i // columns + 1, i % columns + 1
        tiles, size = pooled(np.abs(found.matrix(key)))
        z = np.log10(np.maximum(tiles, 10.0**low)).astype(np.float32)
        centre = (size - 1) / 2
        fig.add_trace(go.Heatmap(
            z=z, x0=centre, dx=size, y0=centre, dy=size, coloraxis="coloraxis", name=SHORT[key],
            hovertemplate=f"{SHORT[key]}: row %{{y}}, column %{{x}}<br>log₁₀|entry| %{{z:.2f}}<extra></extra>",
        ), row=row, col=col)  # fmt: skip
        for block in found.blocks:
            fig.add_shape(type="rect", x0=block.start - 0.5, x1=block.stop - 0.5, y0=block.start - 0.5,
                          y1=block.stop - 0.5, line=dict(color=OUTLINE, width=1.5), row=row, col=col)  # fmt: skip
        fig.update_xaxes(range=[-0.5, n - 0.5], showgrid=False, zeroline=False, constrain="domain", row=row, col=col)
        fig.update_yaxes(range=[n - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor=f"x{i + 1 if i else ''}",
                         row=row, col=col)  # fmt: skip
    ticks = list(range(math.ceil(low), math.floor(high) + 1))
    fig.update_layout(
        coloraxis=dict(colorscale="Greys", cmin=low, cmax=high, colorbar=dict(
            title=dict(text="|entry|"), tickvals=ticks, ticktext=[f"1e{t}" for t in ticks])),
        height=430 * rows, margin=dict(l=10, r=10, t=40, b=10), showlegend=False,
    )  # fmt: skip
    return fig, size


# --- the relative errors ------------------------------------------------------------------------------
def comparison_title(approximation: str, reference: str) -> str:
    return f"{SHORT[approximation]} against {SHORT[reference]}"


def error_table(errors: dict, blocks: tuple[cm.Block, ...]) -> pd.DataFrame:
    """One row per part (each layer's diagonal block, the off-diagonal blocks, the whole matrix),
    one column per comparison: ‖M − R‖_F / ‖R‖_F."""
    rows = []
    for part in cm.parts(blocks):
        size = next((f"{b.size} × {b.size}" for b in blocks if b.name == part), "")
        title = {"off-diagonal": "between layers (off-diagonal blocks)", "whole": "whole matrix"}.get(part, part)
        rows.append({"block": title, "size": size,
                     **{comparison_title(m, r): errors[(m, r)][part] for m, r in cm.COMPARISONS}})  # fmt: skip
    return pd.DataFrame(rows)


def errors_csv(errors: dict, blocks) -> str:
    return error_table(errors, blocks).to_csv(index=False, float_format="%.9g")


# --- spectra -------------------------------------------------------------------------------------------
class Spectrum(NamedTuple):
    positive: tuple[np.ndarray, np.ndarray]  # (rank, |λ|) of the eigenvalues above rounding
    negative: tuple[np.ndarray, np.ndarray]
    zero: int  # how many lie within rounding of 0 (not drawn)


def spectrum(values: np.ndarray) -> Spectrum:
    """|λ| sorted from the largest, rank 1 first; the ones below ``RELATIVE_ZERO`` of the largest counted apart."""
    floor = cm.numerical_zero(values, RELATIVE_ZERO)
    order = np.argsort(-np.abs(values), kind="stable")
    ranked = values[order]
    rank = np.arange(1, ranked.size + 1)
    drawn = np.abs(ranked) > floor
    positive, negative = drawn & (ranked > 0), drawn & (ranked < 0)
    return Spectrum((rank[positive], ranked[positive]), (rank[negative], -ranked[negative]), int((~drawn).sum()))


def spectra_figure(values: dict[str, np.ndarray], keys: tuple[str, ...]) -> go.Figure:
    """The eigenvalues of each matrix side by side on one log axis: |λ| against its rank by magnitude;
    negative eigenvalues as open red circles at |λ|."""
    found = {key: spectrum(values[key]) for key in keys}
    titles = [f"{cm.MATRICES[k]}<br><sup>{found[k].negative[0].size} negative, {found[k].zero} ≈ 0</sup>" for k in keys]
    fig = make_subplots(rows=1, cols=len(keys), shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.03)
    for i, key in enumerate(keys):
        s = found[key]
        fig.add_trace(go.Scatter(x=s.positive[0], y=s.positive[1].astype(np.float32), mode="markers",
                                 marker=dict(size=4, color="#1f77b4"), name="λ > 0", legendgroup="positive",
                                 showlegend=i == 0), row=1, col=i + 1)  # fmt: skip
        fig.add_trace(go.Scatter(x=s.negative[0], y=s.negative[1].astype(np.float32), mode="markers",
                                 marker=dict(size=6, color=OUTLINE, symbol="circle-open"), name="λ < 0 (drawn at |λ|)",
                                 legendgroup="negative", showlegend=i == 0), row=1, col=i + 1)  # fmt: skip
        fig.update_xaxes(title_text="rank by |λ|", type="log", row=1, col=i + 1)
    fig.update_yaxes(type="log", title_text="|λ|", row=1, col=1)
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h", y=-0.2))
    return fig


# --- words --------------------------------------------------------------------------------------------
def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def observations(done: Computed) -> list[str]:
    """What the pictures show, each sentence either a tested property of the matrices or a number
    computed here from them."""
    found, values, errors = done.curvature, done.spectra, done.errors
    h, g = spectrum(values["hessian"]), values["ggn"]
    lines = []
    top = float(np.abs(values["hessian"]).max())
    most_negative, ggn_smallest = float(values["hessian"].min()), float(g.min())
    relative = abs(ggn_smallest) / (float(np.abs(g).max()) or 1.0)
    ggn_words = f"the GGN's smallest eigenvalue is {ggn_smallest:.2g}" + (
        "." if ggn_smallest >= 0 else f", {relative:.0e} of its largest: "
        + ("within float32 rounding of 0." if relative <= RELATIVE_ZERO else "more than float32 rounding.")
    )
    if h.negative[0].size:
        lines.append(
            "**The Gauss–Newton matrix is positive semi-definite where the Hessian is not.** GGN = Jᵀ∇²ℓ J with ℓ convex "
            "in the network's outputs; the Hessian adds the outputs' own second derivatives weighted by ∂ℓ/∂f, a term "
            f"of either sign. Here the Hessian has {_count(h.negative[0].size, 'negative eigenvalue')} (open circles), "
            f"the most negative {most_negative:.3g}, {abs(most_negative) / top:.1%} of its largest |λ|; " + ggn_words
        )
    else:
        lines.append(
            "**The Gauss–Newton matrix is positive semi-definite** (GGN = Jᵀ∇²ℓ J with ℓ convex in the outputs). "
            "At these parameters the Hessian has no negative eigenvalue above float32 rounding either; " + ggn_words
        )
    lines.append(
        "**The GGN is the Fisher.** For softmax cross-entropy and squared error ∇²ℓ in the outputs is the outputs' "
        "Fisher, so GGN = F. Computed apart (F from per-example gradients under the model's own predictive "
        f"distribution), the two differ here by at most {found.fisher_minus_ggn:.1e} of the GGN's largest entry: one "
        "picture shows both."
    )
    kfac = errors[("kfac", "ggn")]
    within = [kfac[b.name] for b in found.blocks]
    if len(found.blocks) > 1:
        lines.append(
            "**K-FAC keeps the within-layer structure and drops the rest.** Its diagonal blocks A ⊗ G differ from the "
            f"GGN's by a relative Frobenius error of {min(within):.2f} to {max(within):.2f}; between layers it keeps "
            f"nothing (error 1: those entries are zero), so over the whole matrix its error is {kfac['whole']:.2f}."
        )
    empirical = errors[("empirical", "ggn")]["whole"]
    against_h = errors[("empirical", "hessian")]["whole"]
    lines.append(
        "**The empirical Fisher can be far from both.** It puts the data's labels where the Fisher averages over the "
        f"model's own predictions: here its relative error is {empirical:.2f} against the GGN and {against_h:.2f} "
        f"against the Hessian (K-FAC's is {kfac['whole']:.2f} against the GGN)."
    )
    last = found.blocks[-1].name
    lines.append(
        "**The output layer's block of the Hessian is the GGN's** (the outputs are linear in that layer's parameters, "
        f"so the extra term vanishes there): the table's H-against-GGN error on {last} is "
        f"{errors[('hessian', 'ggn')][last]:.1g}."
    )
    return lines


EXPLANATION = r"""
For the loss $L(\theta) = \frac1B\sum_n \ell(f(x_n;\theta), y_n)$ of a minibatch, with $J_n = \partial f(x_n)/\partial\theta$:

* **Hessian** $H = \nabla^2 L$, by $n$ Hessian-vector products (forward over reverse).
* **Gauss–Newton** $\mathrm{GGN} = \frac1B\sum_n J_n^\top \nabla_f^2\ell_n\, J_n$, by $n$ Gauss–Newton-vector products (Schraudolph 2002).
* **Fisher** $F = \frac1B\sum_n \mathbb E_{y\sim p(y\mid x_n)}[\nabla_\theta\ell\,\nabla_\theta\ell^\top]$, exactly (every label, weighted by $p$, or the Gaussian's identity), from per-example gradients: equal to the GGN for these likelihoods (Martens, JMLR 2020).
* **Empirical Fisher** $\hat F = \frac1B\sum_n \nabla_\theta\ell(f_n, y_n)\nabla_\theta\ell(f_n, y_n)^\top$, the data's labels in place of the expectation (Kunstner et al., NeurIPS 2019).
* **K-FAC** $\mathrm{blockdiag}(A_1\otimes G_1,\dots)$, $A_l = \mathbb E[\bar a\bar a^\top]$ of the layer's inputs (with a 1 for the bias), $G_l = \mathbb E[g g^\top]$ of the gradients at its outputs under the model's own predictive distribution, taken exactly (Martens & Grosse, ICML 2015), the same factors as the K-FAC optimizer with `fisher = exact` on one batch.

Each matrix is in the order of the flattened parameters: per layer its bias, then its weight row by row; the outlines are the layers. The parameters are those of one training run (Adam at learning rate {lr}, minibatches of {batch}, from the seed's initial weights), saved at steps {steps}. All five matrices are computed in float32 and symmetrised; the eigenvalues in float64.
"""


def explanation() -> str:
    steps = ", ".join(map(str, cm.SNAPSHOT_STEPS))
    return (EXPLANATION.replace("{lr}", str(MLP_DEFAULTS["adam"]["learning_rate"]))
            .replace("{batch}", str(cm.TRAINING["batch_size"])).replace("{steps}", steps))  # fmt: skip
