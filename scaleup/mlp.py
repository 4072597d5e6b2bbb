"""A multilayer perceptron in plain JAX.

The parameters are a pytree, a list with one ``{"w": (n_in, n_out), "b": (n_out,)}``
per layer, so every optimizer of ``optimizers`` (which work on any pytree) trains
it unchanged; the block-diagonal mL-BFGS keeps one history per array of it.

    h₀ = x,   hₗ = σ(hₗ₋₁ Wₗ + bₗ)  (hidden layers),   f(x) = h_L−1 W_L + b_L  (linear output)
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
}
# Variance-preserving initial scale of each activation (LeCun for tanh/softplus, He for the ReLU family).
GAINS = {"tanh": 1.0, "relu": 2.0, "gelu": 2.0, "softplus": 1.0}


def layer_sizes(n_inputs: int, width: int, depth: int, n_outputs: int) -> tuple[int, ...]:
    """(n_inputs, width, …, width, n_outputs) with ``depth`` hidden layers."""
    if depth < 0 or width < 1:
        raise ValueError(f"depth must be ≥ 0 and width ≥ 1, got depth={depth}, width={width}")
    return (n_inputs, *([width] * depth), n_outputs)


def parameter_count(sizes: tuple[int, ...]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def init_mlp(key: jax.Array, sizes: tuple[int, ...], activation: str = "tanh") -> list[dict]:
    """Gaussian weights with variance gain/n_in, zero biases."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:]):
        scale = math.sqrt(GAINS[activation] / n_in)
        params.append({"w": scale * jax.random.normal(k, (n_in, n_out), jnp.float32), "b": jnp.zeros(n_out, jnp.float32)})
    return params


def mlp(params: list[dict], x: jax.Array, activation: str = "tanh") -> jax.Array:
    """The network's outputs (logits or predictions), shape (batch, n_outputs)."""
    sigma = ACTIVATIONS[activation]
    h = x
    for layer in params[:-1]:
        h = sigma(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]
