"""Curvature as matrix-vector products, built from the loss and passed to the
second-order optimizers through their ``update`` keyword arguments
(``hvp=...``, ``ggn_vp=...``), never through globals.

    Hessian-vector product   H v = ∂/∂ε ∇L(θ + ε v)            (forward over reverse)
    GGN-vector product       G v = Jᵀ H_ℓ J v,  L = ℓ ∘ f        (Schraudolph 2002;
                             J v by jvp of f, H_ℓ by jvp of ∇ℓ, Jᵀ by vjp of f)

``dense_matrix`` turns either product into an n×n matrix by applying it to the
n basis vectors: exact and cheap for the 2-D landscapes and small networks.

``dense_layer_statistics`` gives K-FAC (``dense_layers=...``) each dense layer's
inputs a and per-example output gradients g = ∂ℓₙ/∂s (s = ā W) from a model's
apply function, for targets sampled from the model (the Fisher), the data's
targets (the empirical Fisher), or all targets in expectation (exact).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

MatVec = Callable  # pytree -> pytree, linear


def hessian_vector_product(loss_fn: Callable, params) -> MatVec:
    grad_fn = jax.grad(loss_fn)
    return lambda v: jax.jvp(grad_fn, (params,), (v,))[1]


def ggn_vector_product(model_fn: Callable, outer_loss_fn: Callable, params) -> MatVec:
    """G v for L(θ) = ℓ(f(θ)) with ℓ convex in f's outputs."""
    outputs, pullback = jax.vjp(model_fn, params)
    outer_grad = jax.grad(outer_loss_fn)

    def product(v):
        jv = jax.jvp(model_fn, (params,), (v,))[1]
        h_jv = jax.jvp(outer_grad, (outputs,), (jv,))[1]
        return pullback(h_jv)[0]

    return product


def half_squared_norm(residuals: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum(residuals**2)


def gauss_newton_vector_product(residual_fn: Callable, params) -> MatVec:
    """JᵀJ v for L = ½‖r(θ)‖² (H_ℓ = I)."""
    return ggn_vector_product(residual_fn, half_squared_norm, params)


def dense_matrix(matvec: MatVec, like) -> jax.Array:
    """The n×n matrix of a linear map on pytrees shaped like ``like``."""
    flat, unravel = ravel_pytree(like)
    basis = jnp.eye(flat.size, dtype=flat.dtype)
    return jax.vmap(lambda e: ravel_pytree(matvec(unravel(e)))[0], out_axes=1)(basis)


def tree_dot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def require(extra_args: dict, name: str, method: str):
    if extra_args.get(name) is None:
        raise ValueError(f"{method} needs the keyword argument {name}= in update()")
    return extra_args[name]


# --- dense layers: what K-FAC needs beyond the gradient ------------------------------
#
# For a dense layer s = ā W (ā = (a, 1) with a bias), K-FAC needs each example's layer input a
# and the gradient g = ∂ℓₙ/∂s of that example's loss, for targets drawn from the model's own
# predictive distribution (the Fisher), or the data's targets (the empirical Fisher), or in
# expectation over all targets (the exact Fisher, which costs one backward pass per output).
# ``dense_layer_statistics`` finds the layers in the apply function's program (the matrix
# products a @ W with W a weight of ``dense_layers(params)``), taps them, and returns a and g.

WEIGHT_NAMES = ("w", "kernel")  # a dense layer's weight, shape (n_in, n_out), in a mapping...
BIAS_NAMES = ("b", "bias")  # ...with, optionally, its bias, shape (n_out,)
FISHER_MODES = ("sampled", "empirical", "exact")
LIKELIHOODS = ("categorical", "gaussian")


class DenseLayer(NamedTuple):
    """Where a dense layer's parameters are among ``jax.tree.leaves(params)``."""

    weight: int  # index of W, shape (n_in, n_out)
    bias: int | None  # index of b, shape (n_out,), or None
    path: str  # the layer's path in the pytree (W's without its last key), for messages


def _key_name(entry) -> str:
    return str(getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", entry))))


def dense_layers(params) -> tuple[DenseLayer, ...]:
    """The dense layers of a parameter pytree, in leaf order: every mapping holding a 2-D ``w``
    (or ``kernel``) and, optionally, a 1-D ``b`` (or ``bias``) of its output size."""
    with_paths = jax.tree_util.tree_flatten_with_path(params)[0]
    index = {tuple(path): i for i, (path, _) in enumerate(with_paths)}
    layers = []
    for i, (path, leaf) in enumerate(with_paths):
        if not path or _key_name(path[-1]) not in WEIGHT_NAMES or jnp.ndim(leaf) != 2:
            continue
        bias = None
        for name in BIAS_NAMES:
            for other, j in index.items():
                if other[:-1] == tuple(path[:-1]) and _key_name(other[-1]) == name:
                    if jnp.shape(with_paths[j][1]) == (jnp.shape(leaf)[1],):
                        bias = j
        layers.append(DenseLayer(i, bias, jax.tree_util.keystr(tuple(path[:-1])) or "(the parameters)"))
    return tuple(layers)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DenseLayerStatistics:
    """Per dense layer (in ``dense_layers`` order): its inputs a, shape (batch, n_in), and the
    per-example output gradients g = ∂ℓₙ/∂sₙ, shape (samples, batch, n_out), scaled so that
    G = Σₛ gₛᵀ gₛ / batch whatever the mode."""

    inputs: tuple
    output_grads: tuple
    fisher: str = dataclasses.field(default="sampled", metadata=dict(static=True))


def _tapped(apply_fn: Callable, params, x, layers: tuple[DenseLayer, ...]):
    """``apply_fn``'s program with an additive tap on each layer's product a @ W: a function of the
    taps returning (outputs, layer inputs). Checks that each W is used once, in such a product, and
    that its bias, if any, is added to that product (so that s = ā W with ā = (a, 1))."""
    leaves, treedef = jax.tree.flatten(params)
    with jax.disable_jit():  # a jitted layer function inside the model is traced inline
        closed = jax.make_jaxpr(lambda leaves, x: apply_fn(treedef.unflatten(leaves), x))(leaves, x)
    jaxpr = closed.jaxpr
    weights = {jaxpr.invars[layer.weight]: n for n, layer in enumerate(layers)}
    biases = {jaxpr.invars[layer.bias]: n for n, layer in enumerate(layers) if layer.bias is not None}
    uses = {var: 0 for var in [*weights, *biases]}
    broadcast_bias, products, bias_added = {}, {}, set()  # var ↦ layer
    taps, inputs, eqns = [None] * len(layers), [None] * len(layers), []
    for eqn in jaxpr.eqns:
        operands = [v for v in eqn.invars if isinstance(v, jex_core.Var)]  # literals are not hashable
        for var in operands:
            if var in uses:
                uses[var] += 1
        name = eqn.primitive.name
        if name in ("broadcast_in_dim", "reshape", "convert_element_type") and operands and operands[0] in biases:
            broadcast_bias[eqn.outvars[0]] = biases[operands[0]]
        if name == "add" and len(operands) == 2:
            for this, other in (operands, operands[::-1]):
                n = products.get(this)
                if n is not None and biases.get(other, broadcast_bias.get(other)) == n:
                    bias_added.add(n)
        product = name == "dot_general" and len(operands) == len(eqn.invars) == 2
        n = weights.get(eqn.invars[1]) if product else None
        if n is None or eqn.invars[0].aval.ndim != 2 or eqn.params["dimension_numbers"] != (((1,), (0,)), ((), ())):
            eqns.append(eqn)
            continue
        product = eqn.outvars[0]
        untapped, tap = jex_core.Var(product.aval), jex_core.Var(product.aval)
        eqns.append(eqn.replace(outvars=[untapped]))
        eqns.append(jex_core.new_jaxpr_eqn([untapped, tap], [product], jex_core.primitives.add_p, {}, frozenset()))
        taps[n], inputs[n], products[product] = tap, eqn.invars[0], n
    for var, n in weights.items():
        if taps[n] is None or uses[var] != 1:
            raise ValueError(
                f"K-FAC's dense blocks need each weight used once, in a product a @ W of a (batch, n_in) input: "
                f"the weight of layer {layers[n].path} is used {uses[var]} times in the apply function, and "
                f"{'never' if taps[n] is None else 'not only'} that way"
            )
    for var, n in biases.items():
        if uses[var] != 1 or n not in bias_added:
            raise ValueError(
                f"K-FAC's dense blocks need each bias added, once, to its layer's product a @ W (s = a W + b): "
                f"the bias of layer {layers[n].path} is used {uses[var]} times, and "
                f"{'not' if n not in bias_added else 'not only'} that way"
            )
    tapped = jaxpr.replace(invars=[*jaxpr.invars, *taps], outvars=[*jaxpr.outvars, *inputs], eqns=eqns)
    run = jex_core.jaxpr_as_fun(jex_core.ClosedJaxpr(tapped, closed.consts))

    def forward(tap_values):
        outputs = run(*leaves, x, *tap_values)
        return outputs[0], tuple(outputs[1:])

    return forward, [jnp.zeros(t.aval.shape, t.aval.dtype) for t in taps]


def output_cotangents(outputs, likelihood: str, fisher: str, targets=None, key=None, samples: int = 1):
    """∂ℓₙ/∂fₙ per example, stacked over samples (S, batch, k), such that Σₛ cₛcₛᵀ estimates (or, for
    ``exact``, equals) the Fisher of the outputs: diag(p) − ppᵀ for softmax cross-entropy, I for squared error."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose one of: {', '.join(LIKELIHOODS)}")
    if fisher not in FISHER_MODES:
        raise ValueError(f"unknown Fisher mode {fisher!r}; choose one of: {', '.join(FISHER_MODES)}")
    batch, k = outputs.shape
    if fisher == "sampled" and key is None:
        raise ValueError("the sampled Fisher draws targets from the model: pass key=")
    if fisher == "empirical" and targets is None:
        raise ValueError("the empirical Fisher uses the data's targets: pass targets=")
    if likelihood == "categorical":
        p = jax.nn.softmax(outputs)
        if fisher == "exact":  # columns √p_k (e_k − p) of (diag(p) − ppᵀ)^½
            return jnp.sqrt(p).T[:, :, None] * (jnp.eye(k)[:, None, :] - p[None])
        if fisher == "sampled":
            labels = jax.random.categorical(key, outputs, shape=(samples, batch))
            return (p[None] - jax.nn.one_hot(labels, k)) / jnp.sqrt(samples)
        return (p - jax.nn.one_hot(targets, k))[None]
    if fisher == "exact":
        return jnp.broadcast_to(jnp.eye(k)[:, None, :], (k, batch, k))
    if fisher == "sampled":  # y = f + ε, ε ~ N(0, I): ∂ℓ/∂f = f − y = −ε
        return -jax.random.normal(key, (samples, batch, k), outputs.dtype) / jnp.sqrt(samples)
    return (outputs - targets)[None]


def dense_layer_statistics(
    apply_fn: Callable,
    params,
    x,
    *,
    likelihood: str = "categorical",
    targets=None,
    key=None,
    fisher: str = "sampled",
    samples: int = 1,
) -> DenseLayerStatistics:
    """Each dense layer's inputs a and output gradients g, for K-FAC's ``update(..., dense_layers=...)``.

    ``apply_fn(params, x)`` gives the outputs f (batch, k); the loss is the batch mean of ℓ(fₙ, yₙ),
    softmax cross-entropy on logits (``likelihood="categorical"``) or ½‖fₙ − yₙ‖² (``"gaussian"``,
    unit variance). ``fisher``: ``"sampled"`` draws ``samples`` targets per example from the model's
    predictive distribution (needs ``key``; the true Fisher, by Monte Carlo), ``"empirical"`` uses
    ``targets`` (the empirical Fisher), ``"exact"`` takes the expectation over targets exactly (one
    backward pass per output). Examples must not interact (no batch statistics in the model).
    """
    layers = dense_layers(params)
    if not layers:
        raise ValueError("no dense layers in these parameters: K-FAC needs mappings with a 2-D 'w' (and a 'b')")
    forward, zero_taps = _tapped(apply_fn, params, x, layers)
    outputs, pullback, inputs = jax.vjp(forward, zero_taps, has_aux=True)
    cotangents = output_cotangents(jax.lax.stop_gradient(outputs), likelihood, fisher, targets, key, samples)
    grads = jax.vmap(lambda c: pullback(c)[0])(cotangents)  # per layer (S, batch, n_out)
    return DenseLayerStatistics(tuple(inputs), tuple(grads), fisher)
