"""Line searches: the step length along a method's direction chosen by evaluating the loss.

    d          the method's direction (−g for gradient descent, −H g for L-BFGS)
    φ(η)       = L(θ + η d), so φ′(0) = gᵀd < 0 along a descent direction
    θ ← θ + η d, with η given by the code ``line_search`` (``LINE_SEARCHES``):

    0 "none"          η = α, the learning rate
    1 "backtracking"  η = α·½ʲ for the first j = 0, 1, … that satisfies the
                      Armijo (sufficient decrease) condition
                          φ(η) ≤ φ(0) + c₁ η φ′(0),   c₁ = 10⁻⁴
                      α is the first step tried, at every step afresh, and the
                      largest taken: ``optax.scale_by_backtracking_linesearch``
    2 "exact"         η = argmin φ: the zoom search for the strong Wolfe conditions
                          φ(η) ≤ φ(0) + c₁ η φ′(0),   |φ′(η)| ≤ c₂ |φ′(0)|
                      with c₂ = 10⁻⁶ instead of the usual 0.9, so that φ′(η) ≈ 0;
                      on a quadratic η = −gᵀd / dᵀAd to float precision.
                      α is only the first step tried: the search goes beyond it
                      when φ still falls there, so it changes the number of loss
                      evaluations, not the step. ``optax.scale_by_zoom_linesearch``,
                      the search ``optax.lbfgs`` uses (with c₂ = 0.9 there)

Armijo, "Minimization of functions having Lipschitz continuous first partial
derivatives", Pacific J. Math. 1966; Nocedal & Wright, "Numerical
Optimization", 2nd ed. 2006, Alg. 3.1 (backtracking) and Alg. 3.5–3.6 (zoom).
An exact search is what the classical theory assumes: steepest descent then
turns by a right angle at every step (gₖ₊₁ᵀgₖ = 0, the zig-zag), and on a
quadratic BFGS / L-BFGS with m ≥ n becomes conjugate gradient and keeps every
secant equation (see ``lbfgs``). Each step costs several evaluations of the
minibatch's loss (``value_fn``), and of its gradient for the exact search.

The searches evaluate the same minibatch's loss as the gradient (``value_fn``),
so on a noisy landscape they find the minimum along d of that sample's loss.
If backtracking finds no step within its budget it takes the last one tried,
and if the loss there is not finite, a zero step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from optimizers.curvature import require

LINE_SEARCHES = ("none", "backtracking", "exact")  # the codes 0, 1, 2 of the option ``line_search``

ARMIJO_SLOPE = 1e-4  # c₁
WOLFE_CURVATURE = 1e-6  # c₂: |φ′(η)| ≤ c₂|φ′(0)|, "exact" to float32 precision on the app's landscapes
BACKTRACKING_FACTOR = 0.5
MAX_BACKTRACKING_STEPS = 40  # ½⁴⁰ ≈ 10⁻¹²
MAX_ZOOM_STEPS = 40


class LineSearchState(NamedTuple):
    direction: optax.OptState  # the state of the transformation that gives d
    search: optax.OptState  # optax's line-search state (its last step η in ``learning_rate``)


def line_search_code(line_search) -> int:
    """The integer code of a line search given by code or by name."""
    if isinstance(line_search, str):
        if line_search not in LINE_SEARCHES:
            raise ValueError(f"line_search must be one of: {', '.join(LINE_SEARCHES)}")
        return LINE_SEARCHES.index(line_search)
    code = int(line_search)
    if not 0 <= code < len(LINE_SEARCHES):
        raise ValueError(f"line_search must be one of 0, 1, 2 ({', '.join(LINE_SEARCHES)})")
    return code


def optax_line_search(code: int, initial_step) -> optax.GradientTransformationExtraArgs:
    """optax's search for code 1 or 2, set up so that every step starts from ``initial_step``."""
    if code == 1:
        # increase_factor 1 with max_learning_rate α: the first trial is min(η_prev, α), and the
        # previous η is reset to α before each search (``with_line_search``), so each search starts at α
        return optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=MAX_BACKTRACKING_STEPS,
            slope_rtol=ARMIJO_SLOPE,
            decrease_factor=BACKTRACKING_FACTOR,
            increase_factor=1.0,
            max_learning_rate=initial_step,
        )
    if code == 2:
        # "keep": the first trial is the state's previous η, reset to α before each search
        return optax.scale_by_zoom_linesearch(
            max_linesearch_steps=MAX_ZOOM_STEPS,
            slope_rtol=ARMIJO_SLOPE,
            curv_rtol=WOLFE_CURVATURE,
            stepsize_precision=1e-10,
            initial_guess_strategy="keep",
        )
    raise ValueError(f"no optax line search for code {code}")


def with_line_search(
    preconditioner: optax.GradientTransformationExtraArgs, line_search, initial_step
) -> optax.GradientTransformationExtraArgs:
    """θ ← θ + η d with d = −P g, P g from ``preconditioner`` (g itself for gradient descent),
    η from the line search. The state's first field is the preconditioner's state.

    optax's searches accept no keyword arguments beyond what ``value_fn`` takes, so they get only
    ``value``, ``grad`` (the ``grad=`` keyword if given: the true gradient, also when an earlier
    transformation in a chain changed the updates; otherwise the updates passed in) and ``value_fn``."""
    search = optax_line_search(line_search_code(line_search), initial_step)

    def init(params):
        return LineSearchState(preconditioner.init(params), search.init(params))

    def update(grads, state, params=None, **extra_args):
        pg, preconditioner_state = preconditioner.update(grads, state.direction, params, **extra_args)
        d = optax.tree.scale(-1.0, pg)
        gradient = extra_args.get("grad")
        started = state.search._replace(learning_rate=jnp.asarray(initial_step, state.search.learning_rate.dtype))
        step, search_state = search.update(
            d,
            started,
            params,
            value=require(extra_args, "value", "a line search"),
            grad=grads if gradient is None else gradient,
            value_fn=require(extra_args, "value_fn", "a line search"),
        )
        return step, LineSearchState(preconditioner_state, search_state)

    return optax.GradientTransformationExtraArgs(init, update)
