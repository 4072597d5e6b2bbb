"""Plotly figures shared by the pages: the landscape with trajectories (and its
playback), the 3-D surface, and loss curves.

Everything sent to the browser is float32 (plotly sends NumPy arrays as typed
arrays, so this halves the page). The playback's frames update only the
moving markers and arrows, never the contour, and use ``redraw: False``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import plotly.graph_objects as go

from landscapes import Landscape
from ui.runs import Grid, RunResult

# (Streamlit's colour name for markdown labels, plotly colour): the sidebar and the plots agree.
PALETTE = (
    ("blue", "#1f77b4"),
    ("red", "#d62728"),
    ("green", "#2ca02c"),
    ("orange", "#ff7f0e"),
    ("violet", "#9467bd"),
    ("gray", "#555555"),
)
MAX_FRAMES = 150
FRAME_MS = 60
LOG_FLOOR = 1e-12  # where an excess loss of exactly 0 is drawn on a log axis
CONTOUR_SCALE = [[0.0, "#f7fbff"], [0.35, "#deebf7"], [0.7, "#c6dbef"], [1.0, "#9ecae1"]]
CRITICAL_STYLE = {
    "minimum": dict(symbol="star", color="#ffd700", size=16),
    "saddle": dict(symbol="x", color="#111111", size=12),
    "maximum": dict(symbol="triangle-up", color="#111111", size=12),
}


class Drawn(NamedTuple):
    """One optimizer's runs as the figures draw them."""

    label: str
    color: str
    run: RunResult


def f32(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


# --- what is plotted ---------------------------------------------------------
def excess_loss(loss, minimum_loss: float) -> np.ndarray:
    """L − L* where the landscape has a lowest value, else L itself (unbounded below)."""
    loss = np.asarray(loss, np.float64)
    return np.maximum(loss - minimum_loss, 0.0) if np.isfinite(minimum_loss) else loss


def height_label(landscape: Landscape) -> str:
    return "log₁₀(L − L* + ε)" if landscape.log_scale else "L"


def heights(loss, landscape: Landscape, epsilon: float) -> np.ndarray:
    """The contour's variable: log₁₀(L − L* + ε) on badly scaled landscapes, L elsewhere."""
    if landscape.log_scale:
        return f32(np.log10(excess_loss(loss, landscape.minimum_loss) + epsilon))
    return f32(loss)


def contour_epsilon(grid: Grid, landscape: Landscape) -> float:
    """ε: six decades below the largest excess loss in view, so the contours span six decades."""
    return 1e-6 * float(np.max(excess_loss(grid.loss, landscape.minimum_loss))) or 1e-12


def frame_steps(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps + 1, MAX_FRAMES)).round().astype(int))


def _in_view(points: np.ndarray, landscape: Landscape) -> np.ndarray:
    (x0, x1), (y0, y1) = landscape.bounds
    return (points[..., 0] >= x0) & (points[..., 0] <= x1) & (points[..., 1] >= y0) & (points[..., 1] <= y1)


def divergence_marks(drawn: Drawn, landscape: Landscape) -> list[tuple[float, float, str]]:
    """(x, y, text) for each diverged seed: its last point inside the view."""
    marks = []
    for seed, step in enumerate(drawn.run.diverged_at):
        if step is None:
            continue
        path = drawn.run.params[seed, :step]
        inside = np.flatnonzero(_in_view(path, landscape))
        x, y = path[inside[-1] if inside.size else -1]
        marks.append((float(x), float(y), f"diverged at step {step}"))
    return marks


# --- the landscape with trajectories -----------------------------------------
def _critical_point_traces(landscape: Landscape, three_d=False, grid_heights=None) -> list:
    traces = []
    for kind, style in CRITICAL_STYLE.items():
        points = np.array([p.location[:2] for p in landscape.critical_points() if p.kind == kind], np.float32)
        if not len(points):
            continue
        marker = dict(symbol=style["symbol"], color=style["color"], size=style["size"], line=dict(color="#111", width=1))
        common = dict(name=kind, mode="markers", legendgroup="critical", hovertemplate=f"{kind} (%{{x:.2f}}, %{{y:.2f}})<extra></extra>")
        if three_d:
            marker.update(size=6, symbol={"star": "diamond", "triangle-up": "diamond"}.get(style["symbol"], style["symbol"]))
            traces.append(go.Scatter3d(x=points[:, 0], y=points[:, 1], z=grid_heights(points), marker=marker, **common))
        else:
            traces.append(go.Scatter(x=points[:, 0], y=points[:, 1], marker=marker, **common))
    return traces


def _rounded(values) -> list[float]:
    """Frame data as short lists: a few numbers per trace, cheaper as text than as typed arrays."""
    return [round(float(v), 5) for v in values]


def _arrow(start, vector) -> dict:
    return dict(x=_rounded([start[0], start[0] + vector[0]]), y=_rounded([start[1], start[1] + vector[1]]))


def _moving_data(drawn: Drawn, k: int) -> list[dict]:
    """At step k: every seed's position, the update taken and the −∇L direction (first seed)."""
    run = drawn.run
    last = k >= run.params.shape[1] - 1
    update = np.zeros(2, np.float32) if last else run.params[0, k + 1] - run.params[0, k]
    gradient = run.grads[0, k]
    length, norm = np.linalg.norm(update), np.linalg.norm(gradient)
    direction = -gradient / norm * length if norm > 0 and length > 0 else np.zeros(2, np.float32)
    here = run.params[:, k]
    return [
        dict(x=_rounded(here[:, 0]), y=_rounded(here[:, 1])),
        _arrow(run.params[0, k], update),
        _arrow(run.params[0, k], direction),
    ]


def _moving_traces(drawn: Drawn) -> list[go.Scatter]:
    """The traces the playback moves, at step 0: positions, the update arrow, the −∇L arrow."""
    here, update, gradient = _moving_data(drawn, 0)
    seeds = drawn.run.params.shape[0]
    arrow = dict(mode="lines+markers", hoverinfo="skip", showlegend=False, legendgroup=drawn.label)
    head = dict(symbol="arrow", angleref="previous", size=[0, 13], color=drawn.color)
    return [
        go.Scatter(
            **here, mode="markers", showlegend=False, legendgroup=drawn.label, hoverinfo="skip",
            marker=dict(color=drawn.color, size=[11] + [6] * (seeds - 1), line=dict(color="white", width=1.5)),
        ),
        go.Scatter(**update, line=dict(color=drawn.color, width=2.5), marker=head, **arrow),
        go.Scatter(**gradient, line=dict(color=drawn.color, width=2.5, dash="dot"), marker=head, **arrow),
    ]  # fmt: skip


class FigureWithFrames(go.Figure):
    """A figure whose animation frames stay plain dicts.

    Plotly validates every object it builds: for a few hundred frames of
    several traces that takes seconds per rerun. The frames only move the
    points of traces that were built (and validated) the ordinary way.
    """

    def __init__(self, figure: go.Figure, frames: list[dict]):
        super().__init__(figure)
        self._plain_frames = frames

    def to_dict(self):
        spec = super().to_dict()
        spec["frames"] = self._plain_frames
        return spec


def _static_traces(drawn: Drawn, landscape: Landscape) -> list:
    run = drawn.run
    traces = []
    if len(run.params) > 1:  # the seeds as a faint cloud, their mean on top
        nan = np.full((len(run.params), 1, 2), np.nan, np.float32)
        cloud = np.concatenate([run.params, nan], axis=1).reshape(-1, 2)
        traces.append(go.Scatter(
            x=f32(cloud[:, 0]), y=f32(cloud[:, 1]), mode="lines", line=dict(color=drawn.color, width=1),
            opacity=0.22, hoverinfo="skip", showlegend=False, legendgroup=drawn.label,
        ))  # fmt: skip
        path, what = run.params.mean(axis=0), " (mean of seeds)"
    else:
        path, what = run.params[0], ""
    traces.append(go.Scatter(
        x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines+markers", name=drawn.label, legendgroup=drawn.label,
        line=dict(color=drawn.color, width=2.5), marker=dict(size=4, color=drawn.color),
        hovertemplate=f"{drawn.label}{what}<br>step %{{pointNumber}}: (%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
    ))  # fmt: skip
    for x, y, text in divergence_marks(drawn, landscape):
        traces.append(go.Scatter(
            x=f32([x]), y=f32([y]), mode="markers+text", text=[f"✕ {text}"], textposition="top center",
            textfont=dict(color=drawn.color, size=13), showlegend=False, legendgroup=drawn.label,
            marker=dict(symbol="x", size=16, color=drawn.color, line=dict(color="#111", width=1)),
            hovertemplate=f"{drawn.label}: {text}<extra></extra>",
        ))  # fmt: skip
    return traces


def _click_targets(grid: Grid, z: np.ndarray, landscape: Landscape, every: int = 2) -> go.Scatter:
    """Invisible points over the view: a contour sends no clicks, these do (and carry the hover read-out)."""
    x, y = np.meshgrid(grid.xs[::every], grid.ys[::every])
    return go.Scatter(
        x=f32(x.ravel()), y=f32(y.ravel()), customdata=f32(z[::every, ::every].ravel()), mode="markers",
        marker=dict(size=10, opacity=0), name="click to start here", showlegend=False,
        hovertemplate=f"(%{{x:.3f}}, %{{y:.3f}})<br>{height_label(landscape)} = %{{customdata:.3g}}<extra></extra>",
    )  # fmt: skip


def _playback_layout(steps: Sequence[int]) -> dict:
    still = dict(frame=dict(duration=0, redraw=False), mode="immediate", transition=dict(duration=0))
    play = dict(frame=dict(duration=FRAME_MS, redraw=False), fromcurrent=True, transition=dict(duration=0))
    return dict(
        updatemenus=[dict(
            type="buttons", direction="left", showactive=False, x=0.0, y=-0.06, xanchor="left", yanchor="top",
            pad=dict(t=0, r=8), buttons=[
                dict(label="▶ play", method="animate", args=[None, play]),
                dict(label="❚❚ pause", method="animate", args=[[None], still]),
            ],
        )],
        sliders=[dict(
            active=0, x=0.2, len=0.8, y=-0.04, yanchor="top", pad=dict(t=0, b=0),
            currentvalue=dict(prefix="step ", font=dict(size=13)), transition=dict(duration=0),
            steps=[dict(method="animate", label=str(k), args=[[str(k)], still]) for k in steps],
        )],
    )  # fmt: skip


def landscape_figure(
    grid: Grid,
    landscape: Landscape,
    runs: Sequence[Drawn],
    start: Sequence[float],
    *,
    view_key: str = "",
    height: int = 640,
) -> go.Figure:
    """Contours, critical points, one trajectory per run, and playback of the steps."""
    epsilon = contour_epsilon(grid, landscape)
    z = heights(grid.loss, landscape, epsilon)
    fig = go.Figure()
    fig.add_trace(go.Contour(
        x=grid.xs, y=grid.ys, z=z, colorscale=CONTOUR_SCALE, ncontours=28, hoverinfo="skip",
        line=dict(width=0.6, color="rgba(40,50,80,0.5)"), name="landscape", showlegend=False,
        colorbar=dict(title=dict(text=height_label(landscape), side="right"), thickness=12, len=0.8),
    ))  # fmt: skip
    fig.add_trace(_click_targets(grid, z, landscape))
    for trace in _critical_point_traces(landscape):
        fig.add_trace(trace)
    fig.add_trace(go.Scatter(
        x=f32([start[0]]), y=f32([start[1]]), mode="markers", name="start",
        marker=dict(symbol="circle", size=12, color="white", line=dict(color="#111", width=2)),
        hovertemplate="start (%{x:.3f}, %{y:.3f})<extra></extra>",
    ))  # fmt: skip
    for drawn in runs:
        for trace in _static_traces(drawn, landscape):
            fig.add_trace(trace)
    moving = []
    for drawn in runs:
        moving += range(len(fig.data), len(fig.data) + 3)
        fig.add_traces(_moving_traces(drawn))
    (x0, x1), (y0, y1) = landscape.bounds
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=90 if runs else 10), uirevision=view_key,
        xaxis=dict(range=[x0, x1], title="x", constrain="domain", showgrid=False, zeroline=False),
        yaxis=dict(range=[y0, y1], title="y", scaleanchor="x", scaleratio=1, showgrid=False, zeroline=False),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0, bgcolor="rgba(255,255,255,0.7)"),
        clickmode="event+select", dragmode="pan", hovermode="closest",
    )  # fmt: skip
    if not runs:
        return fig
    steps = frame_steps(runs[0].run.params.shape[1] - 1)
    fig.update_layout(**_playback_layout(steps))
    frames = [dict(name=str(k), traces=moving, data=[t for d in runs for t in _moving_data(d, k)]) for k in steps]
    return FigureWithFrames(fig, frames)


def surface_figure(grid: Grid, landscape: Landscape, runs: Sequence[Drawn], start, *, height: int = 640) -> go.Figure:
    """The landscape as a 3-D surface with each run's path lying on it (the mean path for noisy runs)."""
    epsilon = contour_epsilon(grid, landscape)
    surface = heights(grid.loss, landscape, epsilon)

    def on_surface(points):  # the surface's height at points (nearest grid node)
        i = np.clip(np.searchsorted(grid.ys, points[:, 1]), 0, len(grid.ys) - 1)
        j = np.clip(np.searchsorted(grid.xs, points[:, 0]), 0, len(grid.xs) - 1)
        return surface[i, j]

    fig = go.Figure(go.Surface(
        x=grid.xs, y=grid.ys, z=surface, colorscale="Blues", reversescale=True, opacity=0.85, showscale=False,
        name="landscape", hovertemplate="(%{x:.2f}, %{y:.2f})<br>%{z:.3g}<extra></extra>",
    ))  # fmt: skip
    for trace in _critical_point_traces(landscape, three_d=True, grid_heights=on_surface):
        fig.add_trace(trace)
    for drawn in runs:
        path = drawn.run.params.mean(axis=0)
        z = heights(drawn.run.loss.mean(axis=0), landscape, epsilon)
        keep = _in_view(path, landscape)
        fig.add_trace(go.Scatter3d(
            x=f32(np.where(keep, path[:, 0], np.nan)), y=f32(np.where(keep, path[:, 1], np.nan)), z=f32(z),
            mode="lines+markers", name=drawn.label, line=dict(color=drawn.color, width=5),
            marker=dict(size=2.5, color=drawn.color),
        ))  # fmt: skip
    (x0, x1), (y0, y1) = landscape.bounds
    fig.update_layout(
        height=height, margin=dict(l=0, r=0, t=30, b=0),
        scene=dict(xaxis=dict(title="x", range=[x0, x1]), yaxis=dict(title="y", range=[y0, y1]),
                   zaxis=dict(title=height_label(landscape)), aspectmode="manual", aspectratio=dict(x=1, y=1, z=0.6)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0),
    )  # fmt: skip
    return fig


# --- loss curves ---------------------------------------------------------------
class LossCurve(NamedTuple):
    """One line of a loss-curve figure, with an optional band and a marked point."""

    label: str
    y: np.ndarray
    x: np.ndarray | None = None  # default: 0, 1, 2, ... (steps)
    color: str | None = None
    low: np.ndarray | None = None  # a shaded band from low to high (e.g. over seeds)
    high: np.ndarray | None = None
    marker_at: int | None = None  # index of a point to mark (e.g. where a run diverged)
    marker_text: str = ""
    dash: str | None = None


def loss_curve_figure(
    curves: Sequence[LossCurve],
    *,
    x_title: str = "step",
    y_title: str = "loss",
    log_y: bool = True,
    log_x: bool = False,
    floor: float | None = LOG_FLOOR,
    height: int = 340,
    title: str | None = None,
) -> go.Figure:
    """Loss (or any positive quantity) against steps for several runs; hover reads all of them at once."""

    def shown(values):
        values = f32(values)
        return np.maximum(values, floor) if (log_y and floor is not None) else values

    fig = go.Figure()
    for curve in curves:
        x = f32(np.arange(len(curve.y)) if curve.x is None else curve.x)
        if curve.low is not None and curve.high is not None:
            fig.add_trace(go.Scatter(
                x=np.concatenate([x, x[::-1]]), y=np.concatenate([shown(curve.high), shown(curve.low)[::-1]]),
                fill="toself", fillcolor=curve.color, opacity=0.18, line=dict(width=0), hoverinfo="skip",
                showlegend=False, legendgroup=curve.label,
            ))  # fmt: skip
        fig.add_trace(go.Scatter(
            x=x, y=shown(curve.y), mode="lines", name=curve.label, legendgroup=curve.label,
            line=dict(color=curve.color, width=2.2, dash=curve.dash), hovertemplate="%{y:.3g}",
        ))  # fmt: skip
        if curve.marker_at is not None:
            i = int(curve.marker_at)
            fig.add_trace(go.Scatter(
                x=x[i : i + 1], y=shown(curve.y)[i : i + 1], mode="markers+text", text=[curve.marker_text],
                textposition="top right", marker=dict(symbol="x", size=13, color=curve.color),
                showlegend=False, legendgroup=curve.label, hovertemplate=f"{curve.marker_text}<extra></extra>",
            ))  # fmt: skip
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title, hovermode="x unified",
        xaxis=dict(title=x_title, type="log" if log_x else "linear"),
        yaxis=dict(title=y_title, type="log" if log_y else "linear", exponentformat="power"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0),
    )  # fmt: skip
    return fig


def run_loss_curves(runs: Sequence[Drawn], landscape: Landscape) -> list[LossCurve]:
    """The explorer's curves: L − L* per run (mean over seeds, with a 10–90 % band when noisy)."""
    curves = []
    for drawn in runs:
        excess = excess_loss(drawn.run.loss, landscape.minimum_loss)
        band = np.percentile(excess, [10, 90], axis=0) if len(excess) > 1 else (None, None)
        diverged = drawn.run.diverged_at[0]
        mean = excess.mean(axis=0)
        if len(excess) == 1 and diverged is not None:
            mean[diverged:] = np.nan  # the run stopped: no frozen tail
        curves.append(LossCurve(
            label=drawn.label, y=mean, color=drawn.color, low=band[0], high=band[1],
            marker_at=None if diverged is None else diverged - 1,
            marker_text="" if diverged is None else f"diverged at step {diverged}",
        ))  # fmt: skip
    return curves
