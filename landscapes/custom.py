"""The reader's own landscape: a formula in x and y (``landscapes.formula`` checks and compiles it).

>>> from landscapes import get_landscape
>>> ls = get_landscape("custom", formula="(x**2 + y - 11)**2 + (x + y**2 - 7)**2")
>>> sorted(p.kind for p in ls.critical_points()).count("minimum")
4

* The formula text is a static field of the pytree: a jitted function taking
  the landscape compiles once per formula, and equal texts are equal (and
  hash equally) landscapes, so ``functools.lru_cache`` and Streamlit's caches
  key on them. The view's ends are the traced leaves.
* Critical points are found numerically (``find_critical_points``): Newton's
  method on ∇L = 0, in float64, from every point of a 64 × 64 grid over the
  box searched (edges included), all at once (``vmap``; one program,
  compiled once per formula), 80 steps with a pseudo-inverse for singular
  Hessians and each step capped at a tenth of the box's diagonal. Points
  inside the box whose gradient has vanished (‖∇L‖ ≤ 10⁻⁷ × max(1, the
  median ‖∇L‖ on the grid)) are kept, duplicates merged (10⁻⁴ of the
  diagonal apart), and each is classified by its Hessian's eigenvalues:
  ``minimum`` (all > 0), ``maximum`` (all < 0), ``saddle`` (both signs),
  ``degenerate`` (an eigenvalue within 10⁻⁶ × the typical curvature of 0,
  the median ‖H‖ on the grid, or of the point's largest): a valley
  floor such as w₁w₂ = 1, whose points found are kept as samples of the
  curve, 5 % of the diagonal apart, or a higher-order point such as x⁴ + y⁴
  at 0. Newton is drawn to every kind of critical point, which is what is
  wanted here; a point whose basin holds no start can still be missed.
* The view: given by the reader (all four of ``x_min``, ``x_max``,
  ``y_min``, ``y_max``, or none), which is then also the box searched.
  Otherwise the box searched is [−5, 5]², and the view is the box around the
  critical points found with a margin (the larger of 1 and 30 % of their
  spread), at least 4 wide, inside the box searched; with none found, [−3, 3]².
* ``minimum_loss``: the lowest loss at a minimum (or degenerate point)
  found; −∞ when there is none, or when the loss somewhere on the grid over
  the box searched is lower still: then the loss falls below every minimum
  towards the edge, as when it is unbounded below (x³ − 3x + y²).
* ``residuals``: when the formula is written as a sum of squares with
  non-negative weights (Σ cᵢ eᵢ², constants allowed), r = (√(2cᵢ) eᵢ) and the
  Gauss–Newton methods apply; otherwise ``has_residuals`` is false.
* ``default_start``: among the grid points inside the view's middle (10 % to
  90 % of each side) with a finite loss and a nonzero gradient, farther than
  5 % of the diagonal from every critical point found and with a loss at most
  their median, the one farthest from the lowest minimum.
* ``log_scale`` (contours of log(L − L*)): when L* is finite and the largest
  L − L* in the view is over 50 times its median.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from landscapes.base import CriticalPoint, Landscape, pytree_dataclass
from landscapes.formula import Formula, parse_formula

DEFAULT_FORMULA = "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2"
SEARCH_BOX = ((-5.0, 5.0), (-5.0, 5.0))
EMPTY_VIEW = ((-3.0, 3.0), (-3.0, 3.0))
GRID = 64  # starts on a GRID × GRID grid
NEWTON_STEPS = 80
KINDS = ("minimum", "saddle", "maximum", "degenerate")


class Analysis(NamedTuple):
    points: tuple[CriticalPoint, ...]
    eigenvalues: tuple[np.ndarray, ...]  # of the Hessian at each point, ascending
    bounds: tuple[tuple[float, float], tuple[float, float]]
    minimum_loss: float
    default_start: np.ndarray
    log_scale: bool


def _jit(fn):
    """``jax.jit``, on CPU without LLVM's optimisations: the program runs for a tenth of a second, once
    per formula, and compiles in half the time."""
    if jax.default_backend() == "cpu":
        return jax.jit(fn, compiler_options={"xla_backend_optimization_level": 0})
    return jax.jit(fn)


def _loss_of(formula: Formula):
    return lambda theta: formula(theta[0], theta[1])


def _pseudo_newton_step(g, h, max_step):
    """−H⁺g, H's eigenvalues ≈ 0 left out, capped at ``max_step``; in closed form for 2 × 2 (cheaper to
    compile than ``eigh``)."""
    a, b, c = h[0, 0], (h[0, 1] + h[1, 0]) / 2, h[1, 1]
    mean, radius = (a + c) / 2, jnp.hypot((a - c) / 2, b)
    phi = jnp.arctan2(2 * b, a - c) / 2
    v = jnp.array([[-jnp.sin(phi), jnp.cos(phi)], [jnp.cos(phi), jnp.sin(phi)]])  # rows: eigenvectors
    w = jnp.stack([mean - radius, mean + radius])
    cutoff = 1e-12 * jnp.max(jnp.abs(w))
    inverse = jnp.where(jnp.abs(w) > cutoff, 1.0 / jnp.where(w == 0, 1.0, w), 0.0)
    d = -(v.T @ (inverse * (v @ g)))
    return d * jnp.minimum(1.0, max_step / jnp.maximum(jnp.linalg.norm(d), 1e-300))


@functools.lru_cache(maxsize=64)
def _newton(formula: Formula):
    """One jitted program per formula: from every start at once, the loss, ‖∇L‖ and ‖H‖ there, then
    ``NEWTON_STEPS`` steps, then the loss, gradient and Hessian where they end."""
    loss = _loss_of(formula)

    def local(theta):
        g, tangent = jax.linearize(jax.grad(loss), theta)
        return loss(theta), g, jax.vmap(tangent)(jnp.eye(2))

    def one(theta, max_step):
        def body(i, carry):
            theta, first, _ = carry
            value, g, h = local(theta)
            first = jnp.where(i == 0, jnp.stack([value, jnp.linalg.norm(g), jnp.linalg.norm(h)]), first)
            move = jnp.where(i < NEWTON_STEPS, _pseudo_newton_step(g, h, max_step), 0.0)  # the last only looks
            return theta + move, first, (value, g, h)

        start = (theta, jnp.zeros(3, theta.dtype), (theta[0], theta, jnp.zeros((2, 2), theta.dtype)))
        end, first, (value, g, h) = jax.lax.fori_loop(0, NEWTON_STEPS + 1, body, start)
        return first[0], first[1], first[2], end, value, g, h

    return _jit(jax.vmap(one, (0, None)))


def _grid(box, n: int) -> np.ndarray:
    (x0, x1), (y0, y1) = box
    return np.stack(np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n)), -1).reshape(-1, 2)


def _kind(eigenvalues: np.ndarray, scale: float) -> str:
    tol = 1e-6 * max(float(np.max(np.abs(eigenvalues))), scale, 1e-30)
    if np.all(eigenvalues > tol):
        return "minimum"
    if np.all(eigenvalues < -tol):
        return "maximum"
    if eigenvalues[0] < -tol and eigenvalues[-1] > tol:
        return "saddle"
    return "degenerate"


class Search(NamedTuple):
    points: list[CriticalPoint]  # sorted by kind, then loss
    eigenvalues: list[np.ndarray]
    losses: list[float]
    grid: np.ndarray  # the starts: a GRID × GRID grid over the box searched, edges included
    grid_loss: np.ndarray
    grid_slope: np.ndarray  # ‖∇L‖ there


def find_critical_points(formula: Formula, box) -> Search:
    """Newton on ∇L = 0 from every point of a grid over ``box``, in float64; points kept where the
    gradient has vanished inside ``box``, duplicates merged, each classified by its Hessian."""
    (x0, x1), (y0, y1) = box
    diagonal = float(np.hypot(x1 - x0, y1 - y0))
    grid = _grid(box, GRID)
    with jax.enable_x64(True):
        outputs = _newton(formula)(jnp.asarray(grid), 0.1 * diagonal)
    grid_loss, grid_slope, grid_curvature, thetas, losses, grads, hessians = (np.asarray(a, np.float64) for a in outputs)
    finite = np.isfinite(grid_loss) & np.isfinite(grid_slope) & np.isfinite(grid_curvature)
    gradient_scale = max(1.0, float(np.median(grid_slope[finite]))) if finite.any() else 1.0
    hessian_scale = float(np.median(grid_curvature[finite])) if finite.any() else 1.0  # typical curvature
    slack = 1e-9 * diagonal
    inside = (thetas[:, 0] >= x0 - slack) & (thetas[:, 0] <= x1 + slack)
    inside &= (thetas[:, 1] >= y0 - slack) & (thetas[:, 1] <= y1 + slack)
    ok = inside & np.isfinite(losses) & np.all(np.isfinite(hessians), axis=(1, 2)) & np.all(np.isfinite(grads), 1)
    ok &= np.linalg.norm(np.where(np.isfinite(grads), grads, np.inf), axis=1) <= 1e-7 * gradient_scale
    eigen = np.linalg.eigvalsh(np.where(ok[:, None, None], hessians, 0.0))
    kept: list[int] = []
    kinds: dict[int, str] = {}
    for i in np.flatnonzero(ok)[np.argsort(np.linalg.norm(grads[ok], axis=1), kind="stable")]:
        kind = _kind(eigen[i], hessian_scale)
        merge = (0.05 if kind == "degenerate" else 1e-4) * diagonal  # a continuum is kept as samples
        if not kept or np.min(np.linalg.norm(thetas[kept] - thetas[i], axis=1)) > merge:
            kept.append(i)
            kinds[i] = kind
    kept.sort(key=lambda i: (KINDS.index(kinds[i]), losses[i], thetas[i][0], thetas[i][1]))
    return Search(
        [CriticalPoint(thetas[i].copy(), kinds[i]) for i in kept],
        [eigen[i] for i in kept],
        [float(losses[i]) for i in kept],
        grid,
        grid_loss,
        grid_slope,
    )


def _automatic_view(points, search_box):
    if not points:
        return EMPTY_VIEW
    locations = np.array([p.location for p in points])
    view = []
    for axis, (low, high) in enumerate(search_box):
        a, b = float(locations[:, axis].min()), float(locations[:, axis].max())
        margin = max(1.0, 0.3 * (b - a))
        a, b = a - margin, b + margin
        if b - a < 4.0:
            centre = (a + b) / 2
            a, b = centre - 2.0, centre + 2.0
        view.append((round(max(a, low), 6), round(min(b, high), 6)))
    return tuple(view)


def _within(points: np.ndarray, box, inset: float = 0.0) -> np.ndarray:
    """Which ``points`` lie in ``box`` shrunk by ``inset`` of its sides (grown a hair when 0)."""
    (x0, x1), (y0, y1) = box
    mx, my = (inset or -1e-9) * (x1 - x0), (inset or -1e-9) * (y1 - y0)
    return (points[:, 0] >= x0 + mx) & (points[:, 0] <= x1 - mx) & (points[:, 1] >= y0 + my) & (points[:, 1] <= y1 - my)


def _default_start(search: Search, view, minimum) -> np.ndarray:
    (x0, x1), (y0, y1) = view
    diagonal = float(np.hypot(x1 - x0, y1 - y0))
    candidates = _within(search.grid, view, inset=0.1)
    candidates &= np.isfinite(search.grid_loss) & np.isfinite(search.grid_slope) & (search.grid_slope > 0)
    for p in search.points:
        candidates &= np.linalg.norm(search.grid - p.location, axis=1) > 0.05 * diagonal
    if not candidates.any():
        return np.array([x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0)], np.float32)
    candidates &= search.grid_loss <= np.median(search.grid_loss[candidates])
    target = minimum if minimum is not None else np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    distance = np.where(candidates, np.linalg.norm(search.grid - target, axis=1), -1.0)
    return np.round(search.grid[int(np.argmax(distance))], 6).astype(np.float32)


@functools.lru_cache(maxsize=64)
def analyse(formula: Formula, view: tuple | None) -> Analysis:
    """Critical points, view, L*, start and contour scale of a formula (``view`` None: automatic)."""
    search_box = view or SEARCH_BOX
    search = find_critical_points(formula, search_box)
    bounds = view or _automatic_view(search.points, search_box)
    floors = [v for p, v in zip(search.points, search.losses) if p.kind in ("minimum", "degenerate")]
    lowest = min(floors, default=-np.inf)
    values = search.grid_loss[~np.isnan(search.grid_loss)]
    if values.size and np.min(values) < lowest - 1e-7 * (1.0 + abs(lowest)):
        lowest = -np.inf  # the loss falls below every minimum towards the edge of the box searched
    minima = [p.location for p, v in zip(search.points, search.losses) if p.kind == "minimum" and v == lowest]
    start = _default_start(search, bounds, minima[0] if minima else None)
    log_scale = False
    if np.isfinite(lowest):
        shown = search.grid_loss[_within(search.grid, bounds) & np.isfinite(search.grid_loss)] - lowest
        log_scale = bool(shown.size and np.max(shown) > 50 * max(float(np.median(shown)), 1e-30))
    return Analysis(tuple(search.points), tuple(search.eigenvalues), bounds, float(lowest), start, log_scale)


@pytree_dataclass
class Custom(Landscape):
    """L(x, y) given as a formula (see ``landscapes.formula`` for what it may contain)."""

    formula: str = dataclasses.field(default=DEFAULT_FORMULA, metadata=dict(static=True))
    x_min: float | None = None
    x_max: float | None = None
    y_min: float | None = None
    y_max: float | None = None

    name = "custom"
    title = "Your own formula"

    def __post_init__(self):
        parse_formula(self.formula)  # refuses a bad formula with a ValueError; cached
        ends = (self.x_min, self.x_max, self.y_min, self.y_max)
        if all(isinstance(v, (int, float)) or v is None for v in ends):  # concrete (not traced)
            if any(v is None for v in ends) and any(v is not None for v in ends):
                raise ValueError("give all four of x_min, x_max, y_min, y_max, or none for an automatic view")
            for axis, low, high in (("x", *ends[:2]), ("y", *ends[2:])):
                if low is not None and not low < high:
                    raise ValueError(f"{axis}_min must be below {axis}_max, got {low:g} and {high:g}")

    @property
    def parsed(self) -> Formula:
        return parse_formula(self.formula)

    @property
    def analysis(self) -> Analysis:
        view = None
        if self.x_min is not None:
            view = ((float(self.x_min), float(self.x_max)), (float(self.y_min), float(self.y_max)))
        return analyse(self.parsed, view)

    def loss(self, theta):
        x, y = theta
        return self.parsed(x, y)

    @property
    def has_residuals(self) -> bool:
        return self.parsed.has_residuals

    def residuals(self, theta, sample=None):
        x, y = theta
        return self.parsed.residuals(x, y)

    def critical_points(self):
        return list(self.analysis.points)

    @property
    def minimum_loss(self) -> float:
        return self.analysis.minimum_loss

    @property
    def log_scale(self) -> bool:
        return self.analysis.log_scale

    @property
    def default_start(self):
        return self.analysis.default_start.copy()

    @property
    def bounds(self):
        return self.analysis.bounds
