"""A small network's curvature as dense matrices: the Hessian, the generalised Gauss–Newton
matrix (= the Fisher), the empirical Fisher and K-FAC's block-diagonal approximation, side by
side, layer block by layer block (Martens' "exact against approximate" picture).

For a minibatch of B examples and the loss L(θ) = (1/B) Σₙ ℓ(f(xₙ; θ), yₙ) of a ``scaleup``
``Model`` (softmax cross-entropy on logits, or ½‖f − y‖²), with Jₙ = ∂f(xₙ)/∂θ:

    Hessian              H   = ∇²L(θ)                                      (may be indefinite)
    Gauss–Newton         G   = (1/B) Σₙ Jₙᵀ ∇²_f ℓₙ Jₙ                      (PSD: ℓ is convex in f)
    Fisher               F   = (1/B) Σₙ E_{y∼p(y|xₙ)} [∇θℓ(fₙ, y) ∇θℓ(fₙ, y)ᵀ]
                             = (1/B) Σₙ Jₙᵀ Fₙ Jₙ,  Fₙ = diag(p) − ppᵀ (softmax) or I (Gaussian)
    empirical Fisher     F̂   = (1/B) Σₙ ∇θℓ(fₙ, yₙ) ∇θℓ(fₙ, yₙ)ᵀ            (the data's own targets)
    K-FAC                K   = blockdiag(A₁ ⊗ G₁, …, A_L ⊗ G_L),  Aₗ = E[ā āᵀ], Gₗ = E[g gᵀ]

For these two likelihoods the Hessian of ℓ in the outputs is the Fisher of the outputs, so F = G
exactly (Martens, "New insights and perspectives on the natural gradient method", JMLR 2020, §9);
both are computed here, by different routes, and compared. The empirical Fisher replaces the
model's own predictive distribution by the data's labels and is in general a different matrix
(Kunstner, Balles & Hennig, "Limitations of the empirical Fisher approximation", NeurIPS 2019).
K-FAC's factors use the exact output Fisher (``dense_layer_statistics(..., fisher="exact")``): its
diagonal blocks differ from G's only by treating a layer's inputs ā and output gradients g as
independent, and its off-diagonal blocks are zero (Martens & Grosse, ICML 2015).

Every matrix is in the order of ``ravel_pytree(params)`` (per layer its bias, then its weight
row by row, for the ``scaleup`` MLP), computed in float32 by JAX, then symmetrised and returned
as float64 NumPy arrays for the eigenvalues. ``MAX_PARAMETERS`` bounds the size: n Hessian-vector
products and n² floats per matrix.
"""

from __future__ import annotations

import csv
import functools
import io
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.flatten_util import ravel_pytree

from optimizers.curvature import (
    dense_layer_statistics,
    dense_layers,
    dense_matrix,
    ggn_vector_product,
    hessian_vector_product,
    output_cotangents,
)
from optimizers.kfac import batch_factors
from scaleup.data import Dataset
from scaleup.training import Model, Run, make_optimizer

MAX_PARAMETERS = 2000
MATRICES = {  # key: title, in the page's order
    "hessian": "Hessian H",
    "ggn": "Gauss–Newton GGN (= Fisher F)",
    "empirical": "empirical Fisher F̂",
    "kfac": "K-FAC (A ⊗ G per layer)",
}
# (approximation, reference) pairs of the relative-error table
COMPARISONS = (
    ("kfac", "ggn"),
    ("empirical", "ggn"),
    ("hessian", "ggn"),
    ("ggn", "hessian"),
    ("kfac", "hessian"),
    ("empirical", "hessian"),
)
SNAPSHOT_STEPS = (0, 10, 30, 100, 300, 1000)  # where a training run's parameters are saved
SNAPSHOT_CHUNK = 10  # every snapshot step is a multiple of it
TRAINING = dict(optimizer="adam", batch_size=128)  # the training run behind the snapshots (Adam's MLP default α)


class Block(NamedTuple):
    """One layer's rows and columns [start, stop) in the flattened parameters."""

    name: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


class Curvature(NamedTuple):
    """The dense matrices of one network, parameters and batch (float64, symmetric, n × n)."""

    hessian: np.ndarray
    ggn: np.ndarray
    fisher: np.ndarray  # the exact Fisher, computed from per-example gradients: equals ``ggn``
    empirical: np.ndarray
    kfac: np.ndarray
    blocks: tuple[Block, ...]
    names: tuple[str, ...]  # each parameter's name, e.g. "layer 1 w[0,3]", in the matrices' order

    def matrix(self, key: str) -> np.ndarray:
        return getattr(self, key)

    @property
    def fisher_minus_ggn(self) -> float:
        """max |F − G| / max |G|: how far the two computations of the same matrix differ (float32 rounding)."""
        return float(np.abs(self.fisher - self.ggn).max() / np.abs(self.ggn).max())


# --- where each parameter sits ------------------------------------------------------------------
def _leaf_offsets(params) -> list[int]:
    sizes = [int(np.size(leaf)) for leaf in jax.tree.leaves(params)]
    return list(np.cumsum([0, *sizes])[:-1])


def stacked_positions(params) -> list[np.ndarray]:
    """Per dense layer, the flat positions (in ``ravel_pytree`` order) of vec([W; b]) row by row:
    the order in which K-FAC's block is A ⊗ G (A's bias row and column last)."""
    leaves, offsets = jax.tree.leaves(params), _leaf_offsets(params)
    positions = []
    for layer in dense_layers(params):
        n_in, n_out = leaves[layer.weight].shape
        rows = offsets[layer.weight] + np.arange(n_in * n_out)
        if layer.bias is not None:
            rows = np.concatenate([rows, offsets[layer.bias] + np.arange(n_out)])
        positions.append(rows)
    return positions


def layer_blocks(params) -> tuple[Block, ...]:
    """Each layer's contiguous range of the flattened parameters, named by its sizes."""
    leaves = jax.tree.leaves(params)
    blocks = []
    for number, (layer, rows) in enumerate(zip(dense_layers(params), stacked_positions(params)), start=1):
        start, stop = int(rows.min()), int(rows.max()) + 1
        if stop - start != rows.size:
            raise ValueError(f"layer {layer.path}'s parameters are not contiguous in the flattened order")
        n_in, n_out = leaves[layer.weight].shape
        blocks.append(Block(f"layer {number} ({n_in}→{n_out})", start, stop))
    return tuple(blocks)


def parameter_names(params) -> tuple[str, ...]:
    """"layer l b[j]" and "layer l w[i,j]" in flat order (for the CSV and the heatmaps' hover)."""
    names = [""] * int(ravel_pytree(params)[0].size)
    leaves, offsets = jax.tree.leaves(params), _leaf_offsets(params)
    for number, layer in enumerate(dense_layers(params), start=1):
        n_in, n_out = leaves[layer.weight].shape
        for i in range(n_in):
            for j in range(n_out):
                names[offsets[layer.weight] + i * n_out + j] = f"layer {number} w[{i},{j}]"
        if layer.bias is not None:
            for j in range(n_out):
                names[offsets[layer.bias] + j] = f"layer {number} b[{j}]"
    return tuple(names)


# --- the matrices -----------------------------------------------------------------------------------
def hessian_matrix(model: Model, params, x, y) -> jax.Array:
    """∇²L by n Hessian-vector products (forward over reverse)."""
    return dense_matrix(hessian_vector_product(lambda p: model.loss(p, x, y), params), params)


def ggn_matrix(model: Model, params, x, y) -> jax.Array:
    """Jᵀ ∇²_f ℓ J by n Gauss–Newton-vector products."""
    product = ggn_vector_product(lambda p: model.apply(p, x), lambda f: model.outer_loss(f, y), params)
    return dense_matrix(product, params)


def fisher_matrix(model: Model, params, x, y=None, fisher: str = "exact") -> jax.Array:
    """(1/B) Σₙ Σₛ (Jₙᵀ cₙₛ)(Jₙᵀ cₙₛ)ᵀ from per-example pullbacks of the output cotangents cₙₛ:
    ``fisher="exact"``: the columns of Fₙ^½ (the Fisher), ``"empirical"``: ∂ℓ/∂fₙ at the data's yₙ."""
    flat, unravel = ravel_pytree(params)
    outputs = model.apply(params, x)
    cotangents = output_cotangents(outputs, model.likelihood, fisher, targets=y)  # (S, B, k)

    def example_gradients(xn, cn):  # (S, n): Jₙᵀ cₙₛ for each s
        _, pullback = jax.vjp(lambda th: model.apply(unravel(th), xn[None])[0], flat)
        return jax.vmap(lambda c: pullback(c)[0])(cn)

    grads = jax.vmap(example_gradients, in_axes=(0, 1))(x, cotangents)  # (B, S, n)
    grads = grads.reshape(-1, flat.size)
    return grads.T @ grads / x.shape[0]


def kfac_matrix(model: Model, params, x) -> jax.Array:
    """K-FAC's block-diagonal matrix, A ⊗ G per layer, from the exact output Fisher, placed in the
    flattened parameters' order."""
    n = int(ravel_pytree(params)[0].size)
    stats = dense_layer_statistics(model.apply, params, x, likelihood=model.likelihood, fisher="exact")
    layers = dense_layers(params)
    matrix = jnp.zeros((n, n), jnp.float32)
    for layer, rows, a, g in zip(layers, stacked_positions(params), stats.inputs, stats.output_grads):
        factor_a, factor_g = batch_factors(a, g, layer.bias is not None)
        matrix = matrix.at[np.ix_(rows, rows)].set(jnp.kron(factor_a, factor_g))
    return matrix


@functools.partial(jax.jit, static_argnames=("model",))
def _matrices(params, x, y, *, model: Model):
    return dict(
        hessian=hessian_matrix(model, params, x, y),
        ggn=ggn_matrix(model, params, x, y),
        fisher=fisher_matrix(model, params, x),
        empirical=fisher_matrix(model, params, x, y, "empirical"),
        kfac=kfac_matrix(model, params, x),
    )


def symmetric(matrix) -> np.ndarray:
    m = np.asarray(matrix, np.float64)
    return 0.5 * (m + m.T)


def curvature(model: Model, params, x, y) -> Curvature:
    """Every matrix of the module docstring for ``model`` at ``params`` on the batch (x, y). One
    compiled program per network and batch size: new parameters (another snapshot) reuse it."""
    n = model.parameter_count
    if n > MAX_PARAMETERS:
        raise ValueError(
            f"this network has {n:,} parameters; the dense curvature matrices are limited to "
            f"{MAX_PARAMETERS:,} (n² entries each, n Hessian-vector products). Make it narrower or shallower."
        )
    found = {key: symmetric(value) for key, value in _matrices(params, x, y, model=model).items()}
    return Curvature(**found, blocks=layer_blocks(params), names=parameter_names(params))


def batch_of(dataset: Dataset, size: int):
    """The first ``size`` training examples (the training set is already in a random order)."""
    return dataset.x_train[:size], dataset.y_train[:size]


# --- comparing them ---------------------------------------------------------------------------------
def relative_error(approximation: np.ndarray, reference: np.ndarray) -> float:
    """‖M − R‖_F / ‖R‖_F (inf where R is zero and M is not, 0 where both are)."""
    difference, size = np.linalg.norm(approximation - reference), np.linalg.norm(reference)
    if size == 0:
        return 0.0 if difference == 0 else float("inf")
    return float(difference / size)


def block_view(matrix: np.ndarray, blocks: tuple[Block, ...], part: str) -> np.ndarray:
    """The entries of one part of a matrix: a diagonal block's name, ``"off-diagonal"`` (every entry
    outside the diagonal blocks) or ``"whole"``."""
    if part == "whole":
        return matrix
    inside = np.zeros(matrix.shape, bool)
    for block in blocks:
        inside[block.start : block.stop, block.start : block.stop] = True
    if part == "off-diagonal":
        return matrix[~inside]
    block = next(b for b in blocks if b.name == part)
    return matrix[block.start : block.stop, block.start : block.stop]


def parts(blocks: tuple[Block, ...]) -> list[str]:
    return [block.name for block in blocks] + (["off-diagonal"] if len(blocks) > 1 else []) + ["whole"]


def relative_errors(found: Curvature) -> dict[tuple[str, str], dict[str, float]]:
    """{(approximation, reference): {part: ‖M − R‖_F / ‖R‖_F on that part}} for ``COMPARISONS``."""
    return {
        (m, r): {
            part: relative_error(block_view(found.matrix(m), found.blocks, part), block_view(found.matrix(r), found.blocks, part))
            for part in parts(found.blocks)
        }
        for m, r in COMPARISONS
    }


def eigenvalues(matrix: np.ndarray) -> np.ndarray:
    """All eigenvalues of a symmetric matrix, largest first (float64; LAPACK's relatively robust
    representations through SciPy, about twice as fast here as ``np.linalg.eigvalsh`` at n = 2000)."""
    return scipy.linalg.eigh(matrix, eigvals_only=True, driver="evr")[::-1]


def spectra(found: Curvature) -> dict[str, np.ndarray]:
    """Each matrix's eigenvalues; K-FAC's block by block (its blocks between layers are zero)."""
    values = {key: eigenvalues(found.matrix(key)) for key in MATRICES if key != "kfac"}
    blocks = [eigenvalues(block_view(found.kfac, found.blocks, block.name)) for block in found.blocks]
    values["kfac"] = np.sort(np.concatenate(blocks))[::-1]
    return {key: values[key] for key in MATRICES}


def numerical_zero(values: np.ndarray, relative: float = 1e-6) -> float:
    """Eigenvalues of magnitude below this are float32 rounding, not curvature: a millionth of the largest."""
    return relative * float(np.abs(values).max()) if values.size else 0.0


# --- snapshots of a training run ----------------------------------------------------------------------
class Snapshot(NamedTuple):
    step: int
    params: object
    train_loss: float  # the full training loss at that step


def training_snapshots(model: Model, dataset: Dataset, seed: int = 0, steps: tuple[int, ...] = SNAPSHOT_STEPS) -> list[Snapshot]:
    """The parameters at each of ``steps`` of one training run (``TRAINING``: Adam at its MLP default,
    minibatches of 128; ``scaleup.Run`` in chunks of ``SNAPSHOT_CHUNK``), from the seed's initial weights."""
    if any(step % SNAPSHOT_CHUNK for step in steps):
        raise ValueError(f"snapshot steps must be multiples of {SNAPSHOT_CHUNK}")
    run = Run(model, dataset, make_optimizer(TRAINING["optimizer"]), TRAINING["batch_size"], SNAPSHOT_CHUNK, seed)
    snapshots = []
    for step in sorted(steps):
        while run.steps_done < step and run.diverged_at is None:
            run.advance()
        if run.diverged_at is not None:
            break
        snapshots.append(Snapshot(step, run.state.params, run.evaluations[-1]["train_loss"]))
    return snapshots


# --- CSV ------------------------------------------------------------------------------------------------
def matrix_csv(matrix: np.ndarray, names: tuple[str, ...]) -> str:
    """A square matrix as CSV: a header of parameter names, then one row per parameter, its name first;
    every entry with 17 significant figures, so that reading it back gives the same float64."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["parameter", *names])
    for name, row in zip(names, np.asarray(matrix, np.float64)):
        writer.writerow([name, *(f"{value:.17g}" for value in row)])
    return out.getvalue()


def read_matrix_csv(text: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """The matrix and names of ``matrix_csv``'s text."""
    rows = list(csv.reader(io.StringIO(text)))
    names = tuple(rows[0][1:])
    if [row[0] for row in rows[1:]] != list(names):
        raise ValueError("the row names do not match the header")
    return np.array([[float(v) for v in row[1:]] for row in rows[1:]], np.float64), names


def spectra_csv(values: dict[str, np.ndarray]) -> str:
    """One column per matrix, its eigenvalues largest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(values)
    writer.writerow(["rank", *keys])
    for i in range(max(len(v) for v in values.values())):
        writer.writerow([i + 1, *(f"{values[k][i]:.17g}" if i < len(values[k]) else "" for k in keys)])
    return out.getvalue()
