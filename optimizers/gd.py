"""Gradient descent.

    θ ← θ − α g                        (line_search = 0, "none")
    θ ← θ − η g,  η along φ(η) = L(θ − η g):
        η = α·½ʲ, the first with φ(η) ≤ φ(0) − c₁ η gᵀg      (1, "backtracking", Armijo)
        η = argmin φ;  on a quadratic η = gᵀg / gᵀAg          (2, "exact", Cauchy's own rule)

Cauchy, "Méthode générale pour la résolution des systèmes d'équations
simultanées", Comptes Rendus 1847. On a quadratic each eigen-component of the
error shrinks by |1 − αλᵢ| per step: stable iff 0 < αλᵢ < 2, and the slowest
component sets the pace when the condition number is large.

With a line search α is no longer the step: backtracking tries α first and
halves it until the loss has fallen enough, so α is the longest step it takes;
the exact search starts at α but goes on to the minimum along −g, so α only
changes how many loss evaluations that takes. With the exact search each new
gradient is orthogonal to the last one (φ′(η) = −gₖ₊₁ᵀgₖ = 0): the path turns
by a right angle at every step, the zig-zag of steepest descent, and on a
quadratic the error (in the A-norm) still falls only by (κ − 1)/(κ + 1) per
step in the worst case (Kantorovich; Nocedal & Wright, Thm 3.3). The searches use optax's
(``optimizers.line_search``).
"""

import jax
import optax

from optimizers.line_search import line_search_code, with_line_search


def unpreconditioned() -> optax.GradientTransformationExtraArgs:
    """P g = g: the direction of steepest descent."""
    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), lambda g, state, params=None, **_: (g, state))


def gd(learning_rate: float, line_search: int = 0) -> optax.GradientTransformationExtraArgs:
    """``line_search``: 0 none (step α), 1 backtracking from α, 2 exact (α the first trial); see ``line_search``."""
    if line_search_code(line_search) != 0:
        return with_line_search(unpreconditioned(), line_search, learning_rate)

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None, **extra_args):
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformationExtraArgs(init, update)
