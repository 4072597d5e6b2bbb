"""The dense curvature matrices of ``scaleup.curvature_matrices`` against references built apart
from them: ``jax.hessian`` of the flattened loss (not Hessian-vector products), Jᵀ H_ℓ J from
``jax.jacobian`` and ``jax.hessian`` of the outer loss, per-example gradients by ``vmap(grad)``,
the identity of K-FAC and the Gauss–Newton for one linear layer with squared error, and kfac-jax's
own dense matrices and factors (``tests/reference/kfac_reference.npz``, see ``tests/test_kfac.py``)."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from scaleup import init_mlp, load_task, model_for
from scaleup.curvature_matrices import (
    MAX_PARAMETERS,
    SNAPSHOT_CHUNK,
    Block,
    batch_of,
    block_view,
    curvature,
    eigenvalues,
    layer_blocks,
    parameter_names,
    parts,
    read_matrix_csv,
    relative_error,
    relative_errors,
    spectra,
    spectra_csv,
    matrix_csv,
    training_snapshots,
)
from scaleup.training import Model, init_state, make_optimizer, train
from test_engine import count_compilations

REFERENCE = np.load(Path(__file__).with_name("reference") / "kfac_reference.npz")
CLASSIFIER = Model((3, 4, 3), "tanh", "classification")
REGRESSOR = Model((2, 3, 2), "tanh", "regression")


def batch(model: Model, seed: int, size: int = 6):
    kx, ky, kp = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(kx, (size, model.sizes[0]))
    if model.kind == "classification":
        y = jax.random.randint(ky, (size,), 0, model.sizes[-1])
    else:
        y = jax.random.normal(ky, (size, model.sizes[-1]))
    return init_mlp(kp, model.sizes, model.activation), x, y


@pytest.fixture(scope="module", params=[CLASSIFIER, REGRESSOR], ids=["softmax", "squared"])
def case(request):
    model = request.param
    params, x, y = batch(model, seed=1)
    return model, params, x, y, curvature(model, params, x, y)


def flat_loss(model, params, x, y):
    _, unravel = ravel_pytree(params)
    return lambda theta: model.loss(unravel(theta), x, y)


# --- each matrix against its definition ------------------------------------------------------------
def test_the_hessian_is_jax_hessian_of_the_flattened_loss(case):
    model, params, x, y, found = case
    expected = jax.jit(jax.hessian(flat_loss(model, params, x, y)))(ravel_pytree(params)[0])
    np.testing.assert_allclose(found.hessian, expected, rtol=1e-4, atol=1e-6)


def test_the_gauss_newton_is_j_transpose_loss_hessian_j_from_explicit_jacobians(case):
    model, params, x, y, found = case
    theta, unravel = ravel_pytree(params)

    @jax.jit
    def reference(theta):
        outputs = model.apply(unravel(theta), x)
        jacobian = jax.jacobian(lambda th: model.apply(unravel(th), x).ravel())(theta)  # (B·k, n)
        loss_hessian = jax.hessian(lambda f: model.outer_loss(f.reshape(outputs.shape), y))(outputs.ravel())
        return jacobian.T @ loss_hessian @ jacobian

    np.testing.assert_allclose(found.ggn, reference(theta), rtol=1e-4, atol=1e-6)


def test_the_exact_fisher_equals_the_gauss_newton_for_both_likelihoods(case):
    *_, found = case
    np.testing.assert_allclose(found.fisher, found.ggn, rtol=1e-4, atol=1e-6)
    assert found.fisher_minus_ggn < 1e-5


def test_the_empirical_fisher_is_the_mean_outer_product_of_per_example_gradients(case):
    model, params, x, y, found = case
    theta, unravel = ravel_pytree(params)
    per_example = jax.vmap(jax.grad(lambda th, xn, yn: model.loss(unravel(th), xn[None], yn[None])), in_axes=(None, 0, 0))
    grads = jax.jit(per_example)(theta, x, y)  # (B, n)
    np.testing.assert_allclose(found.empirical, grads.T @ grads / x.shape[0], rtol=1e-4, atol=1e-7)
    # the mean of those gradients is the minibatch gradient, and the empirical Fisher is another matrix than G
    np.testing.assert_allclose(grads.mean(0), jax.grad(flat_loss(model, params, x, y))(theta), rtol=1e-4, atol=1e-7)
    assert relative_error(found.empirical, found.ggn) > 0.1


def test_the_last_layers_hessian_block_is_its_gauss_newton_block(case):
    """f is linear in the output layer's parameters, so the Hessian's residual term vanishes on that block."""
    *_, found = case
    last = found.blocks[-1]
    np.testing.assert_allclose(block_view(found.hessian, found.blocks, last.name),
                               block_view(found.ggn, found.blocks, last.name), rtol=1e-4, atol=1e-6)  # fmt: skip


def test_kfac_is_the_exact_gauss_newton_for_one_linear_layer_with_squared_error():
    """s = ā W, ℓ = ½‖s − y‖²: g = s − y has E[g gᵀ] = I whatever ā, so the block is A ⊗ I = G exactly."""
    model = Model((3, 2), "tanh", "regression")  # no hidden layer: f = x W + b
    params, x, y = batch(model, seed=2, size=16)
    found = curvature(model, params, x, y)
    np.testing.assert_allclose(found.kfac, found.ggn, rtol=1e-5, atol=1e-6)
    assert relative_errors(found)[("kfac", "ggn")]["whole"] < 1e-5


# --- against kfac-jax -----------------------------------------------------------------------------------
@pytest.mark.parametrize("net, model", [("cls", CLASSIFIER), ("reg", REGRESSOR)])
def test_the_gauss_newton_empirical_fisher_and_kfac_match_kfac_jax(net, model):
    template = init_mlp(jax.random.key(0), model.sizes)
    params = ravel_pytree(template)[1](jnp.asarray(REFERENCE[f"{net}_params"]))
    x, y = jnp.asarray(REFERENCE[f"{net}_x"]), jnp.asarray(REFERENCE[f"{net}_y"])
    if model.kind == "classification":
        y = y.astype(jnp.int32)
    found = curvature(model, params, x, y)
    np.testing.assert_allclose(found.ggn, REFERENCE[f"{net}_dense_ggn"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(found.empirical, REFERENCE[f"{net}_dense_empirical"], rtol=1e-4, atol=1e-6)
    for layer, block in enumerate(found.blocks):
        a, g = REFERENCE[f"{net}_A{layer}"], REFERENCE[f"{net}_G{layer}"]
        n_in, n_out = a.shape[0] - 1, g.shape[0]
        # kfac-jax's A ⊗ G is in vec([W; b]) order (bias last); ours is in the flattened order (b, then W)
        order = np.concatenate([n_out + np.arange(n_in * n_out), np.arange(n_out)])
        ours = block_view(found.kfac, found.blocks, block.name)[np.ix_(order, order)]
        np.testing.assert_allclose(ours, np.kron(a, g), rtol=1e-4, atol=1e-6)
    assert np.all(block_view(found.kfac, found.blocks, "off-diagonal") == 0)


# --- what the page says ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spirals():
    return load_task("spirals", seed=0)


@pytest.fixture(scope="module")
def spirals_at_init(spirals):
    model = model_for(spirals.info, width=8, depth=2)  # 2-8-8-2: 114 parameters
    params = init_state(model, make_optimizer("adam"), spirals.n_train, seed=0).params
    x, y = batch_of(spirals, 128)
    return model, params, curvature(model, params, x, y)


def test_the_gauss_newton_is_psd_where_the_hessian_is_not(spirals_at_init):
    *_, found = spirals_at_init
    values = spectra(found)
    top = np.abs(values["hessian"]).max()
    for key in ("ggn", "empirical", "kfac"):
        assert values[key].min() > -1e-5 * np.abs(values[key]).max(), key
    assert values["hessian"].min() < -0.05 * top  # a clearly negative eigenvalue, far above float32 rounding
    np.testing.assert_allclose(values["hessian"].sum(), np.trace(found.hessian), rtol=1e-6, atol=1e-9)
    assert np.all(np.diff(values["hessian"]) <= 0)  # largest first
    # K-FAC's, found block by block, are those of the whole matrix
    np.testing.assert_allclose(values["kfac"], np.linalg.eigvalsh(found.kfac)[::-1], atol=1e-9 * np.abs(values["kfac"]).max())


def test_blocks_names_and_the_relative_errors_are_laid_out_as_the_parameters(spirals_at_init):
    model, params, found = spirals_at_init
    theta, unravel = ravel_pytree(params)
    assert found.blocks == (Block("layer 1 (2→8)", 0, 24), Block("layer 2 (8→8)", 24, 96), Block("layer 3 (8→2)", 96, 114))
    assert layer_blocks(params) == found.blocks and len(found.names) == theta.size == model.parameter_count
    for i in (0, 10, 30, 100, 113):  # a basis vector lands where its name says
        leaves = unravel(jnp.zeros_like(theta).at[i].set(1.0))
        layer, leaf, index = found.names[i].split(" ")[1], found.names[i].split(" ")[2][0], found.names[i][-4:]
        nonzero = np.argwhere(np.asarray(leaves[int(layer) - 1][leaf]))[0]
        assert found.names[i].endswith(f"{leaf}[{','.join(map(str, nonzero))}]"), (i, found.names[i], index)
    errors = relative_errors(found)
    assert list(errors[("kfac", "ggn")]) == parts(found.blocks) == [b.name for b in found.blocks] + ["off-diagonal", "whole"]
    block = found.blocks[1]
    g = found.ggn[block.start : block.stop, block.start : block.stop]
    k = found.kfac[block.start : block.stop, block.start : block.stop]
    assert errors[("kfac", "ggn")][block.name] == pytest.approx(np.sqrt(((k - g) ** 2).sum() / (g**2).sum()))
    assert errors[("kfac", "ggn")]["off-diagonal"] == pytest.approx(1.0)  # K-FAC keeps no entry between layers
    assert 0 < errors[("kfac", "ggn")][block.name] < 1
    assert parameter_names(params) == found.names


def test_a_network_above_the_limit_is_refused():
    model = Model((64, 32, 10), "tanh", "classification")
    assert model.parameter_count > MAX_PARAMETERS
    with pytest.raises(ValueError, match="limited to 2,000"):
        curvature(model, None, jnp.zeros((4, 64)), jnp.zeros(4, jnp.int32))  # refused before anything is computed


def test_csv_round_trips(spirals_at_init):
    *_, found = spirals_at_init
    text = matrix_csv(found.hessian, found.names)
    matrix, names = read_matrix_csv(text)
    assert names == found.names and np.array_equal(matrix, found.hessian)
    assert text.splitlines()[0].startswith("parameter,layer 1 b[0],")
    values = spectra(found)
    rows = spectra_csv(values).splitlines()
    assert rows[0] == "rank,hessian,ggn,empirical,kfac" and len(rows) == 1 + found.hessian.shape[0]
    assert float(rows[1].split(",")[1]) == values["hessian"][0]


# --- snapshots of a training run ------------------------------------------------------------------------------
def test_snapshots_are_the_training_runs_parameters_and_reuse_one_compiled_program(spirals):
    model = model_for(spirals.info, width=8, depth=2)
    snapshots = training_snapshots(model, spirals, seed=0, steps=(0, 20, 50))
    assert [s.step for s in snapshots] == [0, 20, 50]
    start = init_state(model, make_optimizer("adam"), spirals.n_train, seed=0).params
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(snapshots[0].params), jax.tree.leaves(start)))
    trained = train(model, spirals, make_optimizer("adam"), steps=50, batch_size=128, chunk_steps=SNAPSHOT_CHUNK)
    np.testing.assert_allclose(ravel_pytree(snapshots[-1].params)[0], ravel_pytree(trained.state.params)[0], rtol=1e-6)
    assert snapshots[-1].train_loss < snapshots[0].train_loss
    with pytest.raises(ValueError, match="multiples"):
        training_snapshots(model, spirals, steps=(0, 15))
    x, y = batch_of(spirals, 128)
    curvature(model, snapshots[0].params, x, y)
    with count_compilations() as compilations:  # another snapshot: new values, same program
        later = curvature(model, snapshots[-1].params, x, y)
    assert compilations == []
    assert not np.allclose(later.hessian, curvature(model, snapshots[0].params, x, y).hessian)


def test_eigenvalues_are_those_of_the_matrix():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    values = np.array([3.0, 1.0, 0.5, -0.2, -2.0])
    np.testing.assert_allclose(eigenvalues((q * values) @ q.T), values, atol=1e-12)
