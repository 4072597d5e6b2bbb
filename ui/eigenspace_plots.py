"""Figures of the Eigenspace page: the error along one eigen-direction with the
closed forms drawn over it, gradient descent's rate against α, momentum's rate
over the (α, β) plane, and the spectrum of each method's preconditioned
Hessian P·H.

Plotting only: every number drawn comes from ``optimizers.theory`` and
``optimizers.preconditioners``. Arrays go to plotly as float32, and curves are
cut where they leave the drawable range, so no figure carries a non-finite value.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optimizers import theory
from ui import plots

FLOOR = 1e-16  # |xᵢᵏ| below FLOOR·|xᵢ⁰| is drawn at that floor on the log axis
CEILING = 1e8  # a diverging curve is cut once it exceeds CEILING·|xᵢ⁰|
SPECTRUM_RANGE = (1e-8, 1e8)  # eigenvalues of P·H are clipped to this range (log axis)
MAX_POINTS = 400  # per spectrum line: longer runs are thinned
RATE_CAP = 1.2  # rates above this share the darkest colour


def clip_log_curve(values, start_scale: float) -> np.ndarray:
    """|x| for a log axis: values below FLOOR·scale (exact zeros among them) drawn at that floor, the
    curve cut only where it diverges past CEILING·scale or turns non-finite.

    A zero is one step's value, not the end of the run: momentum passes through 0 and rings on."""
    values = np.abs(np.asarray(values, np.float64))
    scale = max(float(start_scale), 1e-30)
    bad = ~np.isfinite(values) | (values > CEILING * scale)
    end = int(np.argmax(bad)) if bad.any() else values.size
    return np.maximum(values[:end], FLOOR * scale)


def direction_title(i: int, eigenvalue: float) -> str:
    return f"direction {i + 1}: λ = {eigenvalue:.4g}"


def direction_figure(
    i: int,
    eigenvalue: float,
    measured: Sequence[tuple[str, str, np.ndarray]],
    predicted: Sequence[tuple[str, np.ndarray]],
    *,
    height: int = 300,
) -> go.Figure:
    """|xᵢᵏ| against k (log axis): ``measured`` as (label, colour, xᵢ), ``predicted`` as (label, xᵢ), dotted on top."""
    scale = max([abs(float(x[0])) for _, _, x in measured] + [1e-12])
    curves = [plots.LossCurve(label, clip_log_curve(x, scale), color=color) for label, color, x in measured]
    curves += [
        plots.LossCurve(f"{label}: closed form", clip_log_curve(x, scale), color="#111111", dash="dot")
        for label, x in predicted
    ]
    figure = plots.loss_curve_figure(
        curves, y_title="|xᵢᵏ|", floor=None, height=height, title=direction_title(i, eigenvalue)
    )
    figure.update_layout(showlegend=False, margin=dict(b=10))  # the page draws one legend for the row
    return figure


def gd_rate_figure(eigenvalues, learning_rate: float, *, height: int = 380) -> go.Figure:
    """maxᵢ|1 − αλᵢ| against α, with the current α and the optimum marked."""
    lam = np.asarray(eigenvalues, np.float64)
    top = 2.4 / max(float(np.abs(lam).max()), 1e-12)
    alphas = np.linspace(0.0, max(top, 1.2 * learning_rate), 400)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=plots.f32(alphas), y=plots.f32(np.minimum(theory.gd_rate(lam, alphas), 2.0)), mode="lines",
        name="rate maxᵢ|1 − αλᵢ|", line=dict(color="#1f77b4", width=2.2),
        hovertemplate="α = %{x:.4g}<br>rate = %{y:.4f}<extra></extra>",
    ))  # fmt: skip
    fig.add_hline(y=1.0, line=dict(color="grey", dash="dash", width=1))
    best = theory.optimal_gd(lam)
    if best is not None:
        fig.add_trace(_marked_point(
            best.learning_rate, best.rate, f"optimal α = {best.learning_rate:.4g} (rate {best.rate:.4f})", optimal=True
        ))  # fmt: skip
    current = float(theory.gd_rate(lam, learning_rate))
    fig.add_trace(_marked_point(learning_rate, min(current, 2.0), f"current α = {learning_rate:.4g} (rate {current:.4f})"))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), title="Gradient descent: rate against α",
        xaxis_title="learning rate α", yaxis=dict(title="rate (above 1: diverges)", range=[0, 2.05]),
        legend=dict(orientation="h", yanchor="top", y=-0.3, x=0.0),
    )  # fmt: skip
    return fig


def rate_map_alpha_range(eigenvalues, learning_rate: float) -> float:
    """The momentum rate map's largest α: past 4/|λ|max every β diverges (and the current α is on the map)."""
    return max(4.2 / max(float(np.abs(np.asarray(eigenvalues)).max()), 1e-12), 1.05 * learning_rate)


def momentum_rate_figure(
    eigenvalues, learning_rate: float, momentum: float, *, resolution: int = 121, height: int = 420
) -> go.Figure:
    """Heatmap of momentum's rate over (α, β), the current point and the optimum marked.

    Dragging on it (rather than zooming) picks a setting: its drag mode is off."""
    lam = np.asarray(eigenvalues, np.float64)
    alphas = np.linspace(0.0, rate_map_alpha_range(lam, learning_rate), resolution)
    betas = np.linspace(0.0, 0.999, resolution)
    grid = np.minimum(theory.momentum_rate_grid(lam, alphas, betas), RATE_CAP)
    edge = 1.0 / RATE_CAP
    fig = go.Figure(go.Heatmap(
        x=plots.f32(alphas), y=plots.f32(betas), z=plots.f32(grid), zmin=0.0, zmax=RATE_CAP,
        colorscale=[[0.0, "#08306b"], [0.5 * edge, "#4292c6"], [0.97 * edge, "#f7fbff"], [edge, "#fcbba1"], [1.0, "#a50f15"]],
        colorbar=dict(title=dict(text="rate", side="right"), thickness=12, tickvals=[0, 0.5, 0.9, 1.0, RATE_CAP],
                      ticktext=["0", "0.5", "0.9", "1", f"≥{RATE_CAP}"]),
        hovertemplate="α = %{x:.4g}<br>β = %{y:.3f}<br>rate = %{z:.4f}<extra></extra>",
    ))  # fmt: skip
    best = theory.optimal_momentum(lam)
    if best is not None:
        fig.add_trace(_marked_point(
            best.learning_rate, best.momentum,
            f"optimal (α, β) = ({best.learning_rate:.4g}, {best.momentum:.4f}), rate {best.rate:.4f}", optimal=True,
        ))  # fmt: skip
    current = float(theory.momentum_rate(lam, learning_rate, momentum))
    fig.add_trace(_marked_point(
        learning_rate, momentum, f"current (α, β) = ({learning_rate:.4g}, {momentum:.4g}), rate {min(current, 99.0):.4f}"
    ))  # fmt: skip
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), title="Momentum: rate over the (α, β) plane",
        xaxis=dict(title="learning rate α", range=[0, float(alphas[-1])]), yaxis=dict(title="momentum β", range=[0, 1]),
        legend=dict(orientation="h", yanchor="top", y=-0.3, x=0.0), dragmode=False,
    )  # fmt: skip
    return fig


def _marked_point(x: float, y: float, name: str, optimal: bool = False) -> go.Scatter:
    """One point of a rate figure: the optimum from the closed forms (a gold star) or the current setting."""
    style = dict(symbol="star", size=15, color="#ffd700", line=dict(color="#111", width=1)) if optimal else dict(
        size=12, color="#d62728", line=dict(color="white", width=1.5)
    )
    return go.Scatter(x=plots.f32([x]), y=plots.f32([y]), mode="markers", name=name, marker=style)


def _thin(length: int) -> np.ndarray:
    return np.unique(np.linspace(0, length - 1, min(length, MAX_POINTS)).round().astype(int))


def spectrum_figure(
    spectra: dict[str, np.ndarray], titles: dict[str, str], colors: dict[str, str], *, title: str = ""
) -> go.Figure:
    """Eigenvalues of P·H against the step, one panel per method; the dashed line at 1 is exact Newton."""
    names = list(spectra)
    cols = max(1, min(len(names), 3))
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[titles[n] for n in names] or [""], horizontal_spacing=0.07,
        vertical_spacing=0.16 if rows > 1 else 0.0,
    )  # fmt: skip
    for panel, name in enumerate(names):
        row, col = panel // cols + 1, panel % cols + 1
        values = np.asarray(spectra[name], np.float64)
        if values.ndim != 2 or values.shape[0] == 0:
            continue
        keep = _thin(values.shape[0])
        values = values[keep]
        steps = plots.f32(keep + 1)
        finite = np.isfinite(values)
        positive = bool(np.all(values[finite] > 0)) if finite.any() else True
        low, high = SPECTRUM_RANGE
        shown = np.clip(values, low, high) if positive else np.clip(values, -high, high)
        n = values.shape[1]
        for i in range(n):
            ok = finite[:, i]
            fig.add_trace(go.Scatter(
                x=steps[ok], y=plots.f32(shown[ok, i]), mode="lines", showlegend=False,
                line=dict(color=colors[name], width=1.3), opacity=0.5 if n > 6 else 0.95,
                hovertemplate=f"{titles[name]}<br>step %{{x}}<br>μ{i + 1} = %{{y:.4g}}<extra></extra>",
            ), row=row, col=col)  # fmt: skip
        fig.add_hline(y=1.0, line=dict(color="#111", dash="dash", width=1), row=row, col=col)
        drawn = shown[finite]
        if positive and drawn.size:  # at least one decade either side of 1, so a flat line at 1 reads as such
            span = [min(np.log10(drawn.min()), -1.0) - 0.05, max(np.log10(drawn.max()), 1.0) + 0.05]
            fig.update_yaxes(type="log", range=span, **plots.decade_ticks(np.power(10.0, span)), row=row, col=col)
        else:
            fig.update_yaxes(type="linear", row=row, col=col)
    fig.update_xaxes(title_text="step", row=rows)
    fig.update_yaxes(title_text="eigenvalues of P·H", col=1)
    fig.update_layout(height=290 * rows + 60, margin=dict(l=10, r=10, t=60 if title else 40, b=10), title=title or None)
    return fig
