"""Nesterov's accelerated gradient, in the form optax and PyTorch store it.

    z ← β z + g
    θ ← θ − α (g + β z)

with g the gradient at the stored θ. Nesterov, "A method of solving a convex
programming problem with convergence rate O(1/k²)", Soviet Math. Doklady 1983.
Sutskever, Martens, Dahl & Hinton ("On the importance of initialization and
momentum in deep learning", ICML 2013) wrote it as momentum with a look-ahead
gradient,

    v ← β v − α ∇L(ϑ + β v),   ϑ ← ϑ + v,

and the lines above are the reparametrisation of Bengio, Boulanger-Lewandowski
& Pascanu ("Advances in optimizing recurrent networks", ICASSP 2013): they
store the look-ahead point θ = ϑ + β v instead of ϑ, and with v = −α z (α
fixed) Sutskever's two lines become the two above. So the gradient is taken
where the parameters are, and the iterates are Sutskever's look-ahead points
(the same start, since v = 0 there). Using the velocity it is about to have
damps the overshoot of heavy-ball momentum. Same convention as
``optax.sgd(α, momentum=β, nesterov=True)``.
"""

import jax
import optax

from optimizers.momentum import MomentumState


def nesterov(learning_rate: float, momentum: float) -> optax.GradientTransformationExtraArgs:
    def init(params):
        return MomentumState(velocity=optax.tree.zeros_like(params))

    def update(grads, state, params=None, **extra_args):
        z = jax.tree.map(lambda z, g: momentum * z + g, state.velocity, grads)
        step = jax.tree.map(lambda g, z: -learning_rate * (g + momentum * z), grads, z)
        return step, MomentumState(z)

    return optax.GradientTransformationExtraArgs(init, update)
