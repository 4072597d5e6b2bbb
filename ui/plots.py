"""Plotly figures shared by the pages: the landscape with trajectories (and its
playback), the 3-D surface, and loss curves.

Everything sent to the browser is float32 (``ui.chart`` sends NumPy arrays as
typed arrays, so this halves the page). The playback's frames update only the
moving markers and arrows, never the contour; ``ui.chart`` plays them with its
own controls, outside plotly, so that redrawing the figure does not redraw a
plotly slider with a label per step. The landscape and loss figures are
written as plain dicts (``PlainFigure``): plotly's validation of every
property cost more than the rest of a rerun.

Each slider move redraws the figures in the browser, so what a draw costs is
felt under the mouse: margins that fit (no extra redraw to widen them), at
most STEP_DOTS dots per path, the contours as one picture.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
from typing import Callable, NamedTuple, Sequence

import numpy as np
import PIL.Image
import plotly.graph_objects as go
import streamlit as st

from landscapes import Landscape
from optimizers.seeds import excess_loss, frozen_seeds, mean_over_running, seed_statistics
from ui.runs import PICTURE_UPSAMPLE, Grid, RunResult, f32

# (Streamlit's colour name for markdown labels, plotly colour): the sidebar and the plots agree.
PALETTE = (
    ("blue", "#1f77b4"),
    ("red", "#d62728"),
    ("green", "#2ca02c"),
    ("orange", "#ff7f0e"),
    ("violet", "#9467bd"),
    ("gray", "#555555"),
)
MAX_FRAMES = 50  # playback frames, each sent with the figure
STEP_DOTS = 100  # a path shows a dot at every step up to this many, then at evenly spaced steps
CLOUD_POINTS = 200  # per seed in a noisy run's faint cloud (64 seeds × 2000 steps were 6 MB a rerun)
CLICK_POINTS = 40  # click targets per side of the landscape
FRAME_MS = 60
LOG_FLOOR = 1e-12  # where an excess loss of exactly 0 is drawn on a log axis
CONTOUR_SCALE = [[0.0, "#f7fbff"], [0.35, "#deebf7"], [0.7, "#c6dbef"], [1.0, "#9ecae1"]]
CONTOUR_BANDS = 28
CONTOUR_LINE = (40, 50, 80)
LINE_WEIGHT = 0.4  # how much of CONTOUR_LINE a contour pixel takes
LINE_PX = 1.0  # contour lines are this many pixels wide
MIN_SPACING = 3.0  # contour lines closer than this many pixels fade out
UPSAMPLE = PICTURE_UPSAMPLE  # the contour picture has this many pixels per grid step, about the size it is drawn
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


# --- what is plotted ---------------------------------------------------------
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


VIEW_SCALES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)  # a view widens in these steps (each one a cached picture)


def widened(bounds, scale: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """``bounds`` ((x0, x1), (y0, y1)) widened ``scale`` times about their centre."""
    return tuple(((a + b) / 2 - scale * (b - a) / 2, (a + b) / 2 + scale * (b - a) / 2) for a, b in bounds)


def covering_scale(bounds, paths: Sequence[np.ndarray], margin: float = 0.03) -> float:
    """The least of VIEW_SCALES whose widened ``bounds`` hold every finite point of ``paths`` ((steps, ≥2) each)
    with ``margin`` of the width to spare; the largest if none does (a path that ran far off)."""
    points = np.concatenate([np.asarray(p, np.float64)[:, :2] for p in paths] or [np.zeros((0, 2))])
    points = points[np.all(np.isfinite(points), axis=1)]
    for scale in VIEW_SCALES:
        (x0, x1), (y0, y1) = widened(bounds, scale * (1 - 2 * margin))
        if np.all((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)):
            return scale
    return VIEW_SCALES[-1]


def frame_steps(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps + 1, MAX_FRAMES)).round().astype(int))


def _in_view(points: np.ndarray, landscape: Landscape) -> np.ndarray:
    (x0, x1), (y0, y1) = landscape.bounds
    return (points[..., 0] >= x0) & (points[..., 0] <= x1) & (points[..., 1] >= y0) & (points[..., 1] <= y1)


class DivergenceMarks(NamedTuple):
    """Where a run's diverged seeds left the view, and one label for them all."""

    x: np.ndarray  # per diverged seed: its last point inside the view
    y: np.ndarray
    steps: list[int]  # per diverged seed: the step it diverged
    label: str  # "diverged at step N", or "k of n seeds diverged, first at step N"
    first: int  # index of the seed that diverged first, which carries the label


def divergence_label(diverged_at: Sequence[int | None]) -> str:
    """One line for all of a run's diverged seeds ("" if none diverged)."""
    steps = [step for step in diverged_at if step is not None]
    if not steps:
        return ""
    if len(diverged_at) == 1:
        return f"diverged at step {steps[0]}"
    return f"{len(steps)} of {len(diverged_at)} seeds diverged, first at step {min(steps)}"


def divergence_marks(drawn: Drawn, landscape: Landscape) -> DivergenceMarks | None:
    """The diverged seeds' exit points with one label (labels per seed piled up), or None if none diverged."""
    points, steps = [], []
    for seed, step in enumerate(drawn.run.diverged_at):
        if step is None:
            continue
        path = drawn.run.params[seed, :step]
        inside = np.flatnonzero(_in_view(path, landscape))
        points.append(path[inside[-1] if inside.size else -1])
        steps.append(step)
    if not steps:
        return None
    points = np.asarray(points, np.float32)
    return DivergenceMarks(points[:, 0], points[:, 1], steps, divergence_label(drawn.run.diverged_at), int(np.argmin(steps)))


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_figure(key: tuple, _build: Callable[[], go.Figure]) -> "PlainFigure":
    """``_build()`` once per ``key``, which must name everything the figure shows, kept as the dict
    plotly.js reads (a ``go.Figure`` would be validated and copied again on every rerun).

    Shared by all sessions and never modified after it is built: a slider that
    does not touch a figure then costs it nothing."""
    return PlainFigure(_build().to_dict())


# --- figures as plain dicts ---------------------------------------------------
class PlainFigure:
    """A figure held as the dict plotly.js reads, with the two methods of ``go.Figure`` the app uses.

    Plotly validates and deep-copies every property of a ``go.Figure`` as it is
    built and again when it is serialised: for the landscape with a few
    hundred steps and its playback frames that took over 100 ms per rerun.
    These figures are written as dicts in plotly's schema instead; ``ui.chart``
    sends their NumPy arrays as typed arrays, as plotly itself does.
    """

    def __init__(self, spec: dict, playback: dict | None = None):
        self._spec = spec
        self.playback = playback  # for ui.chart: {"steps", "frames" (Plotly.animate's), "frame_ms"}

    def update_layout(self, **changes) -> "PlainFigure":
        """Nested dicts are merged, as plotly's own ``update_layout`` does."""
        _merge(self._spec.setdefault("layout", {}), changes)
        return self

    def to_dict(self) -> dict:
        return dict(self._spec)


def _merge(target: dict, changes: dict):
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _rounded(values, digits: int = 4) -> list:
    """Frame data as short lists: a few numbers per trace, cheaper as text than as typed arrays."""
    return np.round(np.asarray(values, np.float64), digits).tolist()


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
            traces.append(dict(type="scatter", x=points[:, 0], y=points[:, 1], marker=marker, **common))
    return traces


class Playback(NamedTuple):
    """One run at the playback's frame steps: every seed's position, and the first seed's two arrows."""

    here: np.ndarray  # (frames, seeds, 2)
    origin: np.ndarray  # (frames, 2): the first seed's position
    update: np.ndarray  # (frames, 2): where the update took it
    descent: np.ndarray  # (frames, 2): origin + the −∇L direction, drawn as long as the update


def playback(drawn: Drawn, steps: np.ndarray) -> Playback:
    params, grads = drawn.run.params, drawn.run.grads
    last = params.shape[1] - 1
    k = np.minimum(steps, last)
    origin = params[0, k]
    update = params[0, np.minimum(k + 1, last)] - origin  # zero at the last step
    gradient = grads[0, k]
    length = np.linalg.norm(update, axis=-1, keepdims=True)
    norm = np.linalg.norm(gradient, axis=-1, keepdims=True)
    moving = (norm > 0) & (length > 0)
    direction = np.where(moving, -gradient / np.where(moving, norm, 1.0) * length, 0.0)
    return Playback(np.swapaxes(params[:, k], 0, 1), origin, origin + update, origin + direction)


def _segment(a: np.ndarray, b: np.ndarray) -> dict:
    """Per frame, a two-point line a → b."""
    pairs = _rounded(np.stack([a, b], axis=1))  # (frames, 2 points, 2 coordinates)
    return dict(x=[[p[0][0], p[1][0]] for p in pairs], y=[[p[0][1], p[1][1]] for p in pairs])


def _moving_frames(play: Playback) -> list[list[dict]]:
    """Per frame, the data of the run's three moving traces: positions, update arrow, −∇L arrow."""
    here = _rounded(play.here)
    update, descent = _segment(play.origin, play.update), _segment(play.origin, play.descent)
    return [
        [
            dict(type="scatter", x=[p[0] for p in here[i]], y=[p[1] for p in here[i]]),
            dict(type="scatter", x=update["x"][i], y=update["y"][i]),
            dict(type="scatter", x=descent["x"][i], y=descent["y"][i]),
        ]
        for i in range(len(here))
    ]


def _moving_traces(drawn: Drawn, first: list[dict]) -> list[dict]:
    """The traces the playback moves, at the first frame: positions, the update arrow, the −∇L arrow."""
    here, update, descent = ({k: v for k, v in trace.items() if k != "type"} for trace in first)
    seeds = drawn.run.params.shape[0]
    arrow = dict(type="scatter", mode="lines+markers", hoverinfo="skip", showlegend=False, legendgroup=drawn.label)
    head = dict(symbol="arrow", angleref="previous", size=[0, 13], color=drawn.color)
    return [
        dict(
            type="scatter", **here, mode="markers", showlegend=False, legendgroup=drawn.label, hoverinfo="skip",
            marker=dict(color=drawn.color, size=[11] + [6] * (seeds - 1), line=dict(color="white", width=1.5)),
            meta=_role("here", drawn),
        ),
        dict(**update, line=dict(color=drawn.color, width=2.5), marker=head, **arrow, meta=_role("update", drawn)),
        dict(**descent, line=dict(color=drawn.color, width=2.5, dash="dot"), marker=head, **arrow, meta=_role("descent", drawn)),
    ]  # fmt: skip


def _role(role: str, drawn: Drawn) -> dict:
    """A trace's ``meta``: what it draws of which run (a run's colour names its slot), for the scrub controls."""
    return {"role": role, "run": drawn.color}


def _static_traces(drawn: Drawn, landscape: Landscape) -> list[dict]:
    run = drawn.run
    traces = []
    if len(run.params) > 1:  # the seeds as a faint cloud, their mean on top
        steps = run.params.shape[1] - 1
        keep = np.unique(np.linspace(0, steps, min(steps + 1, CLOUD_POINTS)).round().astype(int))
        nan = np.full((len(run.params), 1, 2), np.nan, np.float32)
        cloud = np.concatenate([run.params[:, keep], nan], axis=1).reshape(-1, 2)
        traces.append(dict(
            type="scatter", x=f32(cloud[:, 0]), y=f32(cloud[:, 1]), mode="lines", line=dict(color=drawn.color, width=1),
            opacity=0.22, hoverinfo="skip", showlegend=False, legendgroup=drawn.label, meta=_role("cloud", drawn),
        ))  # fmt: skip
        path, what = mean_over_running(run.params, run.diverged_at), " (mean of the seeds still running)"
    else:
        path, what = run.params[0], ""
    traces.append(dict(
        type="scatter", x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines+markers", name=drawn.label,
        legendgroup=drawn.label, line=dict(color=drawn.color, width=2.5), meta=_role("path", drawn),
        marker=dict(size=4, color=drawn.color, maxdisplayed=STEP_DOTS),  # a drawn dot costs the browser per redraw
        hovertemplate=f"{drawn.label}{what}<br>step %{{pointNumber}}: (%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
    ))  # fmt: skip
    return traces


def _divergence_layer(drawn: Drawn, landscape: Landscape) -> tuple[list[dict], list[dict]]:
    """Traces and annotations marking where a run's diverged seeds left, drawn over every run's paths.

    One × per diverged seed, one label per run: a label per seed piled up unreadably."""
    marks = divergence_marks(drawn, landscape)
    if marks is None:
        return [], []
    cross = dict(
        type="scatter", x=marks.x, y=marks.y, mode="markers", showlegend=False, legendgroup=drawn.label,
        marker=dict(symbol="x", size=16 if len(marks.steps) == 1 else 11, color=drawn.color, line=dict(color="#111", width=1)),
        customdata=f32(marks.steps), hovertemplate=f"{drawn.label}: diverged at step %{{customdata:.0f}}<extra></extra>",
        meta=_role("cross", drawn),
    )  # fmt: skip
    (x0, x1), (y0, y1) = landscape.bounds
    x, y = float(marks.x[marks.first]), float(marks.y[marks.first])
    right, high = x > (x0 + x1) / 2, y > y0 + 0.75 * (y1 - y0)  # exits lie at the edges: the label goes inwards
    label = dict(
        x=x, y=y, xref="x", yref="y", text=marks.label, showarrow=False, xanchor="right" if right else "left",
        yanchor="top" if high else "bottom", xshift=-8 if right else 8, yshift=-8 if high else 8, name=f"diverged {drawn.color}",
        font=dict(color=drawn.color, size=13), bgcolor="rgba(255,255,255,0.85)", borderpad=2,
    )  # fmt: skip
    return [cross], [label]


def _band_colors(bands: int) -> np.ndarray:
    """(bands, 3) RGB: CONTOUR_SCALE sampled at each band's middle."""
    return _scale_colors((np.arange(bands) + 0.5) / bands)


def _png_data_uri(rgb: np.ndarray) -> str:
    """An RGB array (rows top to bottom) as a PNG data URI, in 256 colours chosen for the picture.

    The picture goes with every redraw of its figure: the smooth fill and anti-aliased lines took
    three times the bytes in full colour, and the palette stays within 2 levels of every pixel."""
    buffer = io.BytesIO()
    picture = PIL.Image.fromarray(rgb, "RGB").quantize(256, method=PIL.Image.Quantize.MAXCOVERAGE, dither=PIL.Image.Dither.NONE)
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@functools.lru_cache(maxsize=64)
def _contour_image(z_bytes: bytes, shape: tuple[int, int], low: float, high: float) -> str:
    """The picture of ``z`` (one value per pixel, rows along y upwards) as a PNG data URI."""
    z = np.frombuffer(z_bytes, np.float32).reshape(shape).astype(np.float64)
    return _png_data_uri(np.round(contour_pixels(z, low, high)[::-1]).astype(np.uint8))  # PNG rows run top to bottom


def contour_pixels(z: np.ndarray, low: float, high: float, bands: int = CONTOUR_BANDS) -> np.ndarray:
    """(rows, columns, 3) RGB: ``z`` in CONTOUR_BANDS filled bands between ``low`` and ``high``, with a
    line of LINE_PX pixels where one band meets the next.

    Where the lines come closer than MIN_SPACING pixels (a log-scaled loss near a valley floor packs
    ever more of them into each pixel) they cannot be drawn apart: drawing them anyway filled the
    floor with line colour, speckled with whatever band a pixel happened to land in. There the
    lines fade out and the fill turns into the colour scale's continuous colour, so a valley floor
    reads as a smooth light stripe. Each line is anti-aliased by its distance to the pixel."""
    level = (z - low) / max(high - low, 1e-30) * bands  # the lines lie where this is an integer
    spacing = 1.0 / np.maximum(_steepest_change(level), 1e-9)  # pixels from one line to the next
    # 1 from 2·MIN_SPACING on, 0 below MIN_SPACING; the closest spacing nearby decides, or a line
    # crossing a valley floor left a lone dot in each floor pixel it could be drawn in.
    resolved = np.clip(_lowest_around(spacing) / MIN_SPACING - 1.0, 0.0, 1.0)
    band = np.clip(np.floor(level).astype(int), 0, bands - 1)
    smooth = _scale_colors(np.clip(level / bands, 0.0, 1.0))
    fill = smooth + resolved[..., None] * (_band_colors(bands)[band] - smooth)
    nearest = np.clip(np.round(level), 1, bands - 1)  # no line on the picture's outer edge values
    distance = np.abs(level - nearest) * spacing  # pixels from the centre of the nearest line
    coverage = np.clip(LINE_PX / 2 + 0.5 - distance, 0.0, 1.0) * resolved
    return fill + (LINE_WEIGHT * coverage)[..., None] * (np.array(CONTOUR_LINE, float) - fill)


def _steepest_change(level: np.ndarray) -> np.ndarray:
    """Per pixel, how much ``level`` changes to a neighbour, the larger of the two sides along each axis.

    A central difference would read 0 on the crease of a valley floor (|y| is flat there on
    average), and that one row would get lines and band colours amid the smooth fill."""
    steps = []
    for axis in (0, 1):
        forward = np.abs(np.diff(level, axis=axis, append=np.take(level, [-1], axis=axis)))
        backward = np.abs(np.diff(level, axis=axis, prepend=np.take(level, [0], axis=axis)))
        steps.append(np.maximum(forward, backward))
    return np.hypot(*steps)


def _lowest_around(values: np.ndarray, reach: int = 2) -> np.ndarray:
    """Per pixel, the lowest value within ``reach`` pixels along each axis."""
    padded = np.pad(values, reach, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, (2 * reach + 1, 2 * reach + 1)).min(axis=(-2, -1))


def _scale_colors(positions: np.ndarray) -> np.ndarray:
    """RGB of CONTOUR_SCALE at each position in [0, 1]."""
    stops = np.array([stop for stop, _ in CONTOUR_SCALE])
    rgb = np.array([[int(color[i : i + 2], 16) for i in (1, 3, 5)] for _, color in CONTOUR_SCALE], float)
    return np.stack([np.interp(positions, stops, rgb[:, c]) for c in range(3)], axis=-1)


def upsample_bilinear(z: np.ndarray, factor: int) -> np.ndarray:
    """``z`` on a grid ``factor``× finer, corners kept, each new point interpolated linearly along x and y."""
    for axis in (0, 1):
        position = np.arange((z.shape[axis] - 1) * factor + 1) / factor
        below = np.minimum(position.astype(int), z.shape[axis] - 2)
        weight = np.expand_dims(position - below, 1 - axis)
        low, high = np.take(z, below, axis=axis), np.take(z, below + 1, axis=axis)
        z = low + (high - low) * weight
    return z


def _contour_layer(grid: Grid, landscape: Landscape, epsilon: float) -> tuple[dict, dict]:
    """The contours as a picture under the plot, and an invisible trace that carries its colour bar.

    A picture is part of the layout: the browser does not recompute contours
    when a run changes, and the playback's frames cannot erase it (they erase
    a contour trace). It is drawn from the loss at every pixel (``grid.fine``)
    where the grid has it: bands interpolated between grid points missed the
    floor of a narrow valley between them."""
    if grid.fine is not None:
        z = heights(grid.fine, landscape, epsilon)
    else:
        z = f32(upsample_bilinear(heights(grid.loss, landscape, epsilon), UPSAMPLE))
    low, high = float(z.min()), float(z.max())
    x0, x1, y0, y1 = (float(v) for v in (grid.xs[0], grid.xs[-1], grid.ys[0], grid.ys[-1]))
    image = dict(
        source=_contour_image(z.tobytes(), z.shape, low, high), xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0,
        sizey=y1 - y0, sizing="stretch", layer="below",
    )  # fmt: skip
    colors = _band_colors(CONTOUR_BANDS).round().astype(int)
    steps = [[(i + j) / CONTOUR_BANDS, "rgb({},{},{})".format(*colors[i])] for i in range(CONTOUR_BANDS) for j in (0, 1)]
    colorbar = dict(
        type="scatter", x=[x0], y=[y0], mode="markers", hoverinfo="skip", showlegend=False, name="landscape",
        marker=dict(size=0, opacity=0, color=[low], cmin=low, cmax=high, colorscale=steps, showscale=True,
                    colorbar=dict(title=dict(text=height_label(landscape), side="right"), thickness=12, len=0.8)),
    )  # fmt: skip
    return image, colorbar


def _click_targets(grid: Grid, z: np.ndarray, landscape: Landscape) -> dict:
    """Invisible points over the view: a contour sends no clicks, these do (and carry the hover read-out).

    Plotly finds the point under the mouse from the data, not from drawn
    shapes, so ``maxdisplayed`` spares the browser drawing them all: drawing
    them took half of each redraw of the figure."""
    every = max(1, round(len(grid.xs) / CLICK_POINTS))
    x, y = np.meshgrid(grid.xs[::every], grid.ys[::every])
    return dict(
        type="scatter", x=f32(x.ravel()), y=f32(y.ravel()), customdata=f32(z[::every, ::every].ravel()),
        mode="markers", marker=dict(size=10, opacity=0, maxdisplayed=1), name="click to start here", showlegend=False,
        hovertemplate=f"(%{{x:.3f}}, %{{y:.3f}})<br>{height_label(landscape)} = %{{customdata:.3g}}<extra></extra>",
    )  # fmt: skip


# Margins that already hold the tick labels, the one-row legend and the colour bar. Plotly
# draws a figure, then again whenever a legend, colour bar or tick label pushes a margin wider
# than the layout's: a second full redraw of every trace. Margins that fit leave nothing to push.
LANDSCAPE_MARGIN = dict(l=70, r=100, t=45, b=50)


def landscape_figure(
    grid: Grid,
    landscape: Landscape,
    runs: Sequence[Drawn],
    start: Sequence[float],
    *,
    view_key: str = "",
    height: int = 640,
    bounds=None,
) -> PlainFigure:
    """Contours, critical points, one trajectory per run, and the playback of the steps.

    The axes show ``bounds`` ((x0, x1), (y0, y1); the landscape's own by default) at equal scales,
    the plot shrunk to fit rather than the ranges stretched: a stretched range showed blank margins
    beyond the contour picture."""
    epsilon = contour_epsilon(grid, landscape)
    z = heights(grid.loss, landscape, epsilon)
    image, colorbar = _contour_layer(grid, landscape, epsilon)
    data = [colorbar, _click_targets(grid, z, landscape), *_critical_point_traces(landscape)]
    data.append(dict(
        type="scatter", x=[float(start[0])], y=[float(start[1])], mode="markers", name="start",
        marker=dict(symbol="circle", size=12, color="white", line=dict(color="#111", width=2)),
        hovertemplate="start (%{x:.3f}, %{y:.3f})<extra></extra>",
    ))  # fmt: skip
    for drawn in runs:
        data += _static_traces(drawn, landscape)
    for drawn in runs:  # over every run's path: an average often lies on its own run's path, or another's
        data += averaged_traces(drawn)
    annotations = []
    for drawn in runs:
        crosses, labels = _divergence_layer(drawn, landscape)
        data += crosses
        annotations += labels
    (x0, x1), (y0, y1) = bounds or landscape.bounds
    layout = dict(
        height=height, margin=dict(LANDSCAPE_MARGIN), uirevision=view_key,
        xaxis=dict(range=[x0, x1], title=dict(text="x", standoff=4), constrain="domain", showgrid=False, zeroline=False),
        yaxis=dict(range=[y0, y1], title=dict(text="y"), scaleanchor="x", scaleratio=1, constrain="domain",
                   showgrid=False, zeroline=False),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0.0, bgcolor="rgba(255,255,255,0.7)"),
        clickmode="event", dragmode="pan", hovermode="closest", images=[image], annotations=annotations,
    )  # fmt: skip
    if not runs:
        return PlainFigure(dict(data=data, layout=layout))
    steps = frame_steps(runs[0].run.params.shape[1] - 1)
    per_run = [_moving_frames(playback(drawn, steps)) for drawn in runs]
    moving = list(range(len(data), len(data) + 3 * len(runs)))
    for drawn, frames in zip(runs, per_run):
        data += _moving_traces(drawn, frames[0])
    frames = [dict(traces=moving, data=[trace for run in per_run for trace in run[i]]) for i in range(len(steps))]
    return PlainFigure(dict(data=data, layout=layout), playback=dict(steps=steps.tolist(), frames=frames, frame_ms=FRAME_MS))


SURFACE_SCALE = [[0.0, "#08306b"], [0.3, "#2171b5"], [0.65, "#6baed6"], [1.0, "#c6dbef"]]  # no white: a pale top vanished
SURFACE_CONTOURS = 14


def lowest_nearby(fine: np.ndarray, factor: int) -> np.ndarray:
    """``fine`` on the grid ``factor``× coarser (its every ``factor``-th point), each point the lowest value
    within ``factor``/2 fine points of it.

    A surface drawn through the coarse points alone missed the floor of a narrow valley wherever it
    passed between them, and the valley's edge came out as a sawtooth; the lowest value nearby
    keeps the floor in every cell it crosses (and lowers a smooth slope by at most half a cell)."""
    half = factor // 2
    padded = np.pad(fine, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * half + 1, 2 * half + 1))
    return windows[::factor, ::factor].min(axis=(-2, -1))


def surface_figure(grid: Grid, landscape: Landscape, runs: Sequence[Drawn], start, *, height: int = 640) -> go.Figure:
    """The landscape as a 3-D surface with each run's path lying on it (the mean path for noisy runs)."""
    epsilon = contour_epsilon(grid, landscape)
    if grid.fine is not None:
        surface = f32(lowest_nearby(heights(grid.fine, landscape, epsilon), UPSAMPLE))
    else:
        surface = heights(grid.loss, landscape, epsilon)

    def on_surface(points):  # the surface's height at points (nearest grid node)
        i = np.clip(np.searchsorted(grid.ys, points[:, 1]), 0, len(grid.ys) - 1)
        j = np.clip(np.searchsorted(grid.xs, points[:, 0]), 0, len(grid.xs) - 1)
        return surface[i, j]

    low, high = float(surface.min()), float(surface.max())
    fig = go.Figure(go.Surface(
        x=grid.xs, y=grid.ys, z=surface, colorscale=SURFACE_SCALE, cmin=low, cmax=high, showscale=False,
        lighting=dict(ambient=0.55, diffuse=0.8, specular=0.05, roughness=0.9), name="landscape",
        contours=dict(z=dict(show=True, start=low, end=high, size=(high - low) / SURFACE_CONTOURS or 1.0,
                             color="rgba(255,255,255,0.45)", width=1)),
        hovertemplate="(%{x:.2f}, %{y:.2f})<br>%{z:.3g}<extra></extra>",
    ))  # fmt: skip
    for trace in _critical_point_traces(landscape, three_d=True, grid_heights=on_surface):
        fig.add_trace(trace)
    def path_trace(path, loss, **style):  # a (mean) path at its (mean) loss; off the view: a gap
        keep = _in_view(path, landscape)
        return go.Scatter3d(x=f32(np.where(keep, path[:, 0], np.nan)), y=f32(np.where(keep, path[:, 1], np.nan)),
                            z=f32(heights(loss, landscape, epsilon)), **style)  # fmt: skip

    for drawn in runs:
        run = drawn.run
        fig.add_trace(path_trace(
            mean_over_running(run.params, run.diverged_at), mean_over_running(run.loss, run.diverged_at),
            mode="lines+markers", name=drawn.label, line=dict(color=drawn.color, width=5),
            marker=dict(size=2.5, color=drawn.color),
        ))  # fmt: skip
        if run.averaged is not None:  # the average of the iterates, dashed, at its own loss
            fig.add_trace(path_trace(
                mean_over_running(run.averaged, run.diverged_at), mean_over_running(run.averaged_loss, run.diverged_at),
                mode="lines", name=f"{drawn.label}: {AVERAGED}", line=dict(color=drawn.color, width=4, dash="dash"),
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
    y: np.ndarray  # against the steps 0, 1, 2, ...
    color: str | None = None
    low: np.ndarray | None = None  # a shaded band from low to high (e.g. over seeds)
    high: np.ndarray | None = None
    marker_at: int | None = None  # index of a point to mark (e.g. where a run diverged)
    marker_text: str = ""
    dash: str | None = None
    running: np.ndarray | None = None  # per point, how many of ``seeds`` seeds the line averages
    seeds: int = 1


MAX_DECADE_LABELS = 8  # a log axis labels at most about this many powers of ten


def decade_ticks(values) -> dict:
    """A log axis labelled at powers of ten only, every decade or every few (plotly's own choice
    for a short range puts small digit labels 2 … 9 between the decades, crowding them)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return dict(exponentformat="power")
    decades = np.ceil(np.log10(values.max())) - np.floor(np.log10(values.min()))
    return dict(dtick=max(1, int(np.ceil(decades / MAX_DECADE_LABELS))), tick0=0, exponentformat="power")


def _loss_margin(titled: bool) -> dict:
    """Room for the tick labels (10⁻¹²) and the legend, so plotly need not widen the margins and redraw."""
    return dict(l=90, r=25, t=40, b=150) if titled else dict(l=90, r=25, t=35, b=50)


def _dropouts(curve: LossCurve) -> np.ndarray:
    """The last step of each seed that stops (where ``running`` falls), on the drawn line."""
    if curve.running is None:
        return np.zeros(0, int)
    return np.flatnonzero(np.diff(curve.running) < 0)


def loss_curve_figure(
    curves: Sequence[LossCurve],
    *,
    y_title: str = "loss",
    log_y: bool = True,
    floor: float | None = LOG_FLOOR,
    height: int = 340,
    title: str | None = None,
) -> PlainFigure:
    """Loss (or any positive quantity) against steps for several runs; hover reads all of them at once.

    A line that averages seeds tells in its hover how many are still running where some have
    stopped, with a small mark where each stopped. With a title the legend goes below the plot,
    where a long one has room to wrap."""

    def shown(values):
        values = f32(values)
        return np.maximum(values, floor) if (log_y and floor is not None) else values

    data, notes = [], []
    for curve in curves:
        x = f32(np.arange(len(curve.y)))
        y = shown(curve.y)
        if curve.low is not None and curve.high is not None:
            keep = np.isfinite(curve.low) & np.isfinite(curve.high)  # a gap would split the shaded polygon
            low, high, xs = shown(curve.low)[keep], shown(curve.high)[keep], x[keep]
            data.append(dict(
                type="scatter", x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([high, low[::-1]]), fill="toself", fillcolor=curve.color,
                opacity=0.18, line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=curve.label,
            ))  # fmt: skip
        line = dict(
            type="scatter", x=x, y=y, mode="lines", name=curve.label, legendgroup=curve.label,
            line=dict(color=curve.color, width=2.2, dash=curve.dash), hovertemplate="%{y:.3g}",
        )  # fmt: skip
        stops = _dropouts(curve)
        if stops.size:
            line.update(customdata=f32(curve.running), hovertemplate=f"%{{y:.3g}} (%{{customdata:.0f}} of {curve.seeds} seeds running)")
            data.append(dict(
                type="scatter", x=x[stops], y=y[stops], mode="markers", showlegend=False, legendgroup=curve.label,
                marker=dict(symbol="x-thin", size=8, color=curve.color, line=dict(color=curve.color, width=1.5)),
                customdata=f32(curve.running[stops + 1]),
                hovertemplate=f"last step of a seed that diverged: %{{customdata:.0f}} of {curve.seeds} left<extra></extra>",
            ))  # fmt: skip
        data.append(line)
        if curve.marker_at is not None:
            i = int(curve.marker_at)
            data.append(dict(
                type="scatter", x=x[i : i + 1], y=y[i : i + 1], mode="markers",
                marker=dict(symbol="x", size=13, color=curve.color, line=dict(color="#111", width=1)),
                showlegend=False, legendgroup=curve.label, hovertemplate=f"{curve.marker_text}<extra></extra>",
            ))  # fmt: skip
            if curve.marker_text:  # on a white ground: over the other curves and bands plain text was unreadable
                notes.append(dict(
                    x=float(x[i]), y=float(np.log10(y[i])) if log_y else float(y[i]), xref="x", yref="y",
                    text=curve.marker_text, showarrow=True, arrowcolor=curve.color, arrowwidth=1.5, ax=0,
                    ay=-28 - 22 * (len(notes) % 3), xanchor="left" if i < 0.6 * len(x) else "right",
                    font=dict(color=curve.color, size=12), bgcolor="rgba(255,255,255,0.85)", borderpad=2,
                ))  # fmt: skip
    legend = dict(orientation="h", x=0.0, yanchor="bottom", y=1.0)
    if title:
        legend.update(yanchor="top", y=-0.22)
    yaxis = dict(title=dict(text=y_title), type="log" if log_y else "linear", exponentformat="power")
    if log_y:
        yaxis |= decade_ticks(np.concatenate([shown(c.y) for c in curves] or [np.zeros(0)]))
    layout = dict(
        height=height, margin=_loss_margin(bool(title)), hovermode="x unified",
        title=dict(text=title, x=0.0, xref="paper") if title else None,
        xaxis=dict(title=dict(text="step")), yaxis=yaxis, legend=legend, annotations=notes or None,
    )  # fmt: skip
    return PlainFigure(dict(data=data, layout={k: v for k, v in layout.items() if v is not None}))


def run_loss_curves(runs: Sequence[Drawn], landscape: Landscape) -> list[LossCurve]:
    """The explorer's curves: L − L* per run, over the seeds still running (with a 10–90 % band when noisy).

    A diverged seed leaves the average at the step it diverged: the engine keeps it at its last
    good point, whose often small loss would otherwise count as converged."""
    curves = []
    for drawn in runs:
        run = drawn.run
        stats = seed_statistics(run.loss, run.params, run.diverged_at, landscape.minimum_loss)
        noisy = stats.seeds > 1
        first = stats.first_divergence
        curves.append(LossCurve(
            label=drawn.label, y=stats.mean, color=drawn.color, low=stats.low if noisy else None,
            high=stats.high if noisy else None, marker_at=None if first is None else first - 1,
            marker_text=divergence_label(run.diverged_at), running=stats.running if noisy else None, seeds=stats.seeds,
        ))  # fmt: skip
        curves += averaged_loss_curves(drawn, landscape)
    return curves


# --- iterate averaging and learning-rate schedules ----------------------------------------------
AVERAGED = "the average of its iterates"


def averaged_traces(drawn: Drawn) -> list[dict]:
    """A run's average of its iterates (``RunResult.averaged``), dashed in the run's colour beside its path:
    the mean over the seeds still running on a noisy landscape. None without averaging."""
    run = drawn.run
    if run.averaged is None:
        return []
    path = mean_over_running(run.averaged, run.diverged_at) if len(run.averaged) > 1 else run.averaged[0]
    halo = dict(  # a white band under the dashes, so that they show over a path of the same colour
        type="scatter", x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines", showlegend=False, hoverinfo="skip",
        legendgroup=drawn.label, line=dict(color="white", width=5.5), meta={"role": "average halo", "run": drawn.color},
    )  # fmt: skip
    return [halo, dict(
        type="scatter", x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines", name=f"{drawn.label}: {AVERAGED}",
        legendgroup=drawn.label, line=dict(color=drawn.color, width=2.5, dash="dash"),
        meta={"role": "average", "run": drawn.color},
        hovertemplate=f"{drawn.label}: {AVERAGED}<br>step %{{pointNumber}}: (%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
    )]  # fmt: skip


def averaged_loss_curves(drawn: Drawn, landscape: Landscape) -> list[LossCurve]:
    """L − L* at the averaged iterate, dashed in the run's colour (the mean over the running seeds)."""
    run = drawn.run
    if run.averaged_loss is None:
        return []
    mean = mean_over_running(excess_loss(run.averaged_loss, landscape.minimum_loss), run.diverged_at)
    return [LossCurve(f"{drawn.label}: {AVERAGED}", mean, drawn.color, dash="dash")]


def learning_rate_figure(runs: Sequence[tuple[str, str, np.ndarray]], *, height: int = 230) -> PlainFigure:
    """α against the step for each (label, colour, α per step) of the runs under a schedule: compact,
    for under the loss curves."""
    curves = [LossCurve(label, rates, color) for label, color, rates in runs]
    figure = loss_curve_figure(curves, y_title="learning rate α", log_y=False, floor=None, height=height)
    return figure.update_layout(yaxis=dict(rangemode="tozero"), margin=dict(t=30, b=45), showlegend=True)


# --- sweeps: a run's neighbourhood of settings, scrubbed in the browser and charted -------------------
SCRUB_POINTS = 301  # points per scrubbed path and loss curve: every step of a 300-step run
SCRUB_SEEDS = 8  # seeds' markers per playback frame of a scrubbed noisy run
TOLERANCE = 1e-6  # "steps to reach": the first step whose L − L* is at most this
QUANTUM = 65534  # int16 levels a scrubbed array is sent in (−32768 stands for NaN)


class SweepView(NamedTuple):
    """A run's sweep as the page draws it, per swept value: the summary numbers, and for the
    browser the paths, playback frames, divergence marks and loss curves (``scrub``)."""

    name: str  # the swept hyperparameter
    values: tuple  # (K,)
    final: np.ndarray  # (K,) final L − L* (L where unbounded); NaN where no seed is left to average
    reached: np.ndarray  # (K,) the first step with L − L* ≤ TOLERANCE; −1 if never (or none is bounded)
    diverged: tuple[str, ...]  # (K,) "" or what diverged ("diverged at step 7", "3 of 8 seeds diverged, …")
    log_loss: bool  # the loss curves are drawn on a log axis (L − L*), else L itself
    scrub: dict  # for ``ui.chart.sweep_data``: its "name" is a digest of the rest


def quantized(values) -> dict:
    """``values`` as int16 levels between their finite extremes, base64: a quarter of float64's bytes,
    a 65534th of the span exact (``chart.js`` decodes it)."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    low, high = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 0.0)
    levels = np.round((np.where(finite, values, low) - low) / ((high - low) or 1.0) * QUANTUM) - QUANTUM // 2
    levels = np.where(finite, levels, -32768).astype("<i2")
    return {"b64": base64.b64encode(levels.tobytes()).decode(), "lo": low, "hi": high, "shape": list(values.shape)}


def scrub_steps(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps + 1, SCRUB_POINTS)).round().astype(int))


def sweep_view(name: str, values, runs: Sequence[RunResult], landscape: Landscape, color: str) -> SweepView:
    """What the page draws of each of a run's swept settings (``runs``: one ``RunResult`` per value)."""
    # What optimizers.seeds computes per run (mean over the running seeds, the final excess over the
    # seeds that neither diverged nor froze), for all values at once: per value it was 20 ms.
    params = np.stack([run.params for run in runs]).astype(np.float64)  # (values, seeds, steps + 1, 2)
    seeds, length = params.shape[1:3]
    excess = excess_loss(np.stack([run.loss for run in runs]), landscape.minimum_loss)  # (values, seeds, steps + 1)
    stop = np.array([[length if s is None else s for s in run.diverged_at] for run in runs])  # (values, seeds)
    running = np.arange(length) < stop[..., None]
    count = running.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.where(running, excess, 0.0).sum(axis=1) / count, np.nan)  # (values, steps + 1)
        if seeds == 1:
            path, final = params[:, 0], mean[:, -1]  # one exact run that converged would count as "frozen"
        else:
            path = np.where(count[..., None] > 0, np.where(running[..., None], params, 0.0).sum(axis=1) / count[..., None], np.nan)
            left = (stop >= length) & ~np.stack([frozen_seeds(run.params, run.diverged_at) for run in runs])
            final = np.where(left.any(axis=1), np.where(left, excess[..., -1], 0.0).sum(axis=1) / left.sum(axis=1), np.nan)
    steps = length - 1
    kept, frames = scrub_steps(steps), frame_steps(steps)
    bounded = np.isfinite(landscape.minimum_loss)
    below = mean <= TOLERANCE
    reached = np.where(below.any(axis=1) & (stop >= length).all(axis=1) & bounded, below.argmax(axis=1), -1)
    here, update, descent, marks = [], [], [], []
    for run in runs:
        drawn = Drawn("", color, run)
        play = playback(drawn, frames)
        here.append(play.here[:, :SCRUB_SEEDS])
        update.append(play.update)
        descent.append(play.descent)
        crosses, labels = _divergence_layer(drawn, landscape) if any(s is not None for s in run.diverged_at) else ([], [])
        marks.append({"x": crosses[0]["x"].tolist(), "y": crosses[0]["y"].tolist(), "annotation": labels[0]} if crosses else None)
    loss = np.log10(np.maximum(mean, LOG_FLOOR)) if bounded else mean
    scrub = {
        "steps": kept.tolist(), "path": quantized(path[:, kept]), "here": quantized(np.stack(here)),
        "update": quantized(np.stack(update)), "descent": quantized(np.stack(descent)),
        "loss": quantized(loss[:, kept]), "marks": marks,
    }  # fmt: skip
    scrub["name"] = hashlib.sha1(json.dumps(scrub, sort_keys=True).encode()).hexdigest()[:16]  # what the chart asks for
    diverged = tuple(divergence_label(run.diverged_at) for run in runs)
    return SweepView(name, tuple(values), np.asarray(final, np.float64), reached, diverged, bool(bounded), scrub)


def _traces_by_role(spec: dict, color: str) -> dict[str, int]:
    return {t["meta"]["role"]: i for i, t in enumerate(spec["data"]) if isinstance(t.get("meta"), dict) and t["meta"].get("run") == color}


def scrub_layer(figure: "PlainFigure", runs: Sequence[tuple[Drawn, int, str, SweepView, int, list[str], str]]) -> dict:
    """The landscape's scrub controls: per run (its Drawn, slot, the swept hyperparameter's label, its
    SweepView, the current value's index, each value as the slider writes it and that slider's widget
    key, whose moves the chart previews while the page reruns: ``ui/chart.js``), the trace indices
    each scrubbed value redraws, and one extra cross and label per run for the value shown. The
    paths and curves themselves go apart, one ``ui.chart.sweep_data`` element per run (named by
    "sweep"): an unchanged one is then not sent again.

    Adds those crosses and (hidden) labels to ``figure``."""
    spec = figure._spec
    annotations = spec["layout"].setdefault("annotations", [])
    controls = []
    for drawn, slot, title, view, index, texts, slider in runs:
        roles = _traces_by_role(spec, drawn.color)
        if "path" not in roles:
            continue
        spec["data"].append(dict(
            type="scatter", x=[None], y=[None], mode="markers", showlegend=False, legendgroup=drawn.label, hoverinfo="skip",
            marker=dict(symbol="x", size=16, color=drawn.color, line=dict(color="#111", width=1)),
            meta={"role": "scrubbed cross", "run": drawn.color},
        ))  # fmt: skip
        own = next((i for i, a in enumerate(annotations) if a.get("name") == f"diverged {drawn.color}"), None)
        annotations.append(dict(x=0, y=0, xref="x", yref="y", text="", showarrow=False, visible=False))
        controls.append({
            "slot": slot, "name": view.name, "title": title, "color": drawn.color, "values": list(view.values),
            "texts": texts, "slider": slider, "index": index, "traces": roles, "cross": len(spec["data"]) - 1, "annotation": own,
            "scrubbed_annotation": len(annotations) - 1, "sweep": view.scrub["name"], "log_loss": view.log_loss,
            "final": [None if not np.isfinite(v) else float(v) for v in view.final],
            "diverged": [bool(d) for d in view.diverged],
        })  # fmt: skip
    return {"runs": controls}


def loss_targets(spec: dict, runs: Sequence[Drawn]) -> dict:
    """How a loss-curve figure follows a scrub: per run (by colour), its line, and the traces and
    notes that belong to the value set (bands, marks, a closed form), emptied while another is shown."""
    targets = {}
    for drawn in runs:
        line = next((i for i, t in enumerate(spec["data"]) if t.get("name") == drawn.label and t.get("mode") == "lines"), None)
        if line is None:
            continue
        mine = lambda t: t.get("legendgroup") == drawn.label or str(t.get("legendgroup", "")).startswith(drawn.label + ":")  # noqa: E731
        clear = [i for i, t in enumerate(spec["data"]) if i != line and mine(t)]
        notes = [i for i, a in enumerate(spec["layout"].get("annotations") or []) if a.get("font", {}).get("color") == drawn.color]
        targets[drawn.color] = {"line": line, "clear": clear, "annotations": notes}
    return targets


def sensitivity_figure(
    runs: Sequence[tuple[Drawn, SweepView, int]], landscape: Landscape, *, x_title: str, log_x: bool, height: int = 460
) -> PlainFigure:
    """Final L − L* (above) and steps to reach L − L* ≤ TOLERANCE (below) against each run's swept
    hyperparameter (``runs``: Drawn, SweepView, the current value's index): the current value ringed,
    settings that diverged marked × on a shaded band, a point that follows the scrub controls."""
    bounded = bool(np.isfinite(landscape.minimum_loss))
    finite = np.concatenate([v.final[np.isfinite(v.final)] for _, v, _ in runs] or [np.zeros(0)])
    if bounded:
        finite = np.maximum(finite, LOG_FLOOR)
        ceiling = 10 * float(finite.max()) if finite.size else 1.0
    else:
        ceiling = float(finite.max() + 0.1 * (np.ptp(finite) or 1.0)) if finite.size else 1.0
    data, shapes, targets = [], [], {}
    for drawn, view, index in runs:
        x = np.asarray(view.values, np.float64)
        shown = x > 0 if log_x else np.ones(len(x), bool)  # a 0 (no damping) has no place on a log axis
        failed = np.array([bool(d) for d in view.diverged])
        y = np.where(failed, np.nan, np.maximum(view.final, LOG_FLOOR) if bounded else view.final)
        group = dict(legendgroup=drawn.label, line=dict(color=drawn.color, width=2), marker=dict(color=drawn.color, size=6))
        data.append(dict(
            type="scatter", x=f32(x[shown]), y=f32(y[shown]), mode="lines+markers", name=drawn.label, **group,
            hovertemplate=f"{drawn.label}<br>%{{x:.3g}}: final %{{y:.2e}}<extra></extra>",
        ))  # fmt: skip
        out = np.flatnonzero(failed & shown)
        data.append(dict(
            type="scatter", x=f32(x[out]), y=np.full(len(out), ceiling, np.float32), mode="markers", name="diverged",
            legendgroup=drawn.label, showlegend=False, customdata=[view.diverged[i] for i in out],
            marker=dict(symbol="x", size=11, color=drawn.color, line=dict(color="#111", width=1)),
            hovertemplate=f"{drawn.label}<br>%{{x:.3g}}: %{{customdata}}<extra></extra>",
        ))  # fmt: skip
        shapes += _diverged_bands(x, failed, shown, drawn.color, log_x)
        current_y = ceiling if failed[index] else float(y[index])
        ring = dict(symbol="circle-open", size=15, color=drawn.color, line=dict(width=2.5))
        data.append(dict(
            type="scatter", x=[float(x[index])], y=[current_y], mode="markers", name="current", legendgroup=drawn.label,
            showlegend=False, marker=ring, hovertemplate=f"{drawn.label}: the current value %{{x:.3g}}<extra></extra>",
        ))  # fmt: skip
        # One null point, not none: a trace without points is hidden, and Plotly.animate of traces in one
        # panel of several, none of them shown in another, erased that other panel's traces.
        point = dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip", legendgroup=drawn.label,
                     marker=dict(symbol="circle", size=11, color=drawn.color, line=dict(color="#111", width=1.5)))  # fmt: skip
        data.append(dict(point, name="scrubbed"))
        targets[drawn.color] = {"final": len(data) - 1, "ceiling": ceiling}
        if bounded:
            reached = np.where(view.reached >= 0, view.reached, np.nan).astype(np.float64)
            data.append(dict(
                type="scatter", x=f32(x[shown]), y=f32(reached[shown]), mode="lines+markers", xaxis="x2", yaxis="y2",
                showlegend=False, **group, hovertemplate=f"{drawn.label}<br>%{{x:.3g}}: %{{y:.0f}} steps<extra></extra>",
            ))  # fmt: skip
            if np.isfinite(reached[index]):
                data.append(dict(
                    type="scatter", x=[float(x[index])], y=[float(reached[index])], mode="markers", xaxis="x2", yaxis="y2",
                    legendgroup=drawn.label, showlegend=False, marker=ring, hoverinfo="skip",
                ))  # fmt: skip
            data.append(dict(point, name="scrubbed steps", xaxis="x2", yaxis="y2"))
            targets[drawn.color]["reached"] = len(data) - 1
            targets[drawn.color]["reached_values"] = [None if r < 0 else int(r) for r in view.reached]
    every = np.concatenate([np.asarray(v.values, np.float64) for _, v, _ in runs])
    every = every[every > 0] if log_x else every
    low, high = (np.log10(every.min()), np.log10(every.max())) if log_x else (every.min(), every.max())
    pad = 0.04 * ((high - low) or 1.0)
    x_axis = dict(type="log" if log_x else "linear", exponentformat="power", range=[low - pad, high + pad])
    y_title = "final L − L*" if bounded else "final L"
    layout = dict(
        height=height, margin=dict(l=90, r=25, t=40, b=50), hovermode="closest", shapes=shapes, dragmode=False,
        legend=dict(orientation="h", x=0.0, yanchor="bottom", y=1.0),
        xaxis=dict(x_axis, anchor="y", showticklabels=not bounded, title=dict(text=None if bounded else x_title)),
        yaxis=dict(title=dict(text=y_title), type="log" if bounded else "linear", exponentformat="power",
                   domain=[0.42, 1.0] if bounded else [0.0, 1.0]),
    )  # fmt: skip
    if bounded:
        layout["xaxis2"] = dict(x_axis, anchor="y2", matches="x", title=dict(text=x_title))
        layout["yaxis2"] = dict(title=dict(text=f"steps to {TOLERANCE:.0e}"), domain=[0.0, 0.32], rangemode="tozero")
    figure = PlainFigure(dict(data=data, layout=layout))
    figure.targets = targets
    return figure


def _diverged_bands(x, failed, shown, color: str, log_x: bool) -> list[dict]:
    """Shaded spans over the values that diverged, each from halfway to its stable neighbours."""
    def middle(a, b):
        return float(np.sqrt(a * b)) if log_x else float((a + b) / 2)

    bands, i, n = [], 0, len(x)
    while i < n:
        if not (failed[i] and shown[i]):
            i += 1
            continue
        j = i
        while j + 1 < n and failed[j + 1]:
            j += 1
        low = middle(x[i - 1], x[i]) if i > 0 and shown[i - 1] else float(x[i])
        high = middle(x[j], x[j + 1]) if j + 1 < n else float(x[j])
        bands.append(dict(type="rect", xref="x", yref="paper", x0=low, x1=high, y0=0, y1=1, fillcolor=color, opacity=0.1,
                          line=dict(width=0), layer="below"))  # fmt: skip
        i = j + 1
    return bands
