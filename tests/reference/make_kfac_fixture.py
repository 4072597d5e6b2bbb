"""Reference values from kfac-jax for ``tests/test_kfac.py``, saved as ``kfac_reference.npz``.

kfac-jax 0.0.8 (the latest on PyPI) fails on the project's JAX (0.9.2 and 0.10.2 break its graph
matcher), and runs on jax 0.7.2, so this script runs in an environment of its own:

    python3 -m venv /tmp/kfac-env
    /tmp/kfac-env/bin/pip install jax==0.7.2 jaxlib==0.7.2 kfac-jax==0.0.8 optax==0.2.6
    /tmp/kfac-env/bin/python tests/reference/make_kfac_fixture.py

(those four pins install together, with numpy 2.4, chex 0.1.92, dm-tree 0.1.10). The test suite
reads only the ``.npz``, never kfac-jax. Computed in float64 (stored as float32, which is what the
project computes in), for two tiny tanh MLPs with fixed weights
and one fixed batch of 8, written as the app's ``scaleup.mlp`` (a list of ``{"w": (n_in, n_out),
"b": (n_out,)}``, s = h W + b):

* ``cls``: 3 → 4 → 3, softmax cross-entropy (``register_softmax_cross_entropy_loss``);
* ``reg``: 2 → 3 → 2, ½ mean ‖f − y‖² (``register_normal_predictive_distribution``, variance 1).

Vectors are flat in ``jax.tree.leaves`` order (b0, w0 row by row, b1, w1: ``ravel_pytree``'s).
For each net, ``<net>_`` followed by

* ``x``, ``y``, ``params``: the batch and the weights; ``grad``: the gradient;
* ``A<l>``, ``G<l>``: layer l's K-FAC factors (A with the bias row and column last) from one
  update of ``BlockDiagonalCurvature`` (``ema_old`` 0) in kfac-jax's estimation mode
  ``ggn_exact``; ``fisher_exact`` gives the same factors for both losses (checked here), and
  ``G<l>_empirical`` is G in mode ``fisher_empirical`` (A is the same there);
* ``precond``: ``multiply_inverse`` of the gradient at damping ``damping`` (π-corrected factored
  damping, kfac-jax's preconditioner) with those factors;
* ``dense_ggn``, ``dense_empirical``: the dense matrices of ``ExplicitExactCurvature`` in modes
  ``ggn_exact`` and ``fisher_empirical``; its ``fisher_exact`` matrix equals ``ggn_exact`` for both
  losses (checked here; the largest difference is ``dense_fisher_minus_ggn``).

And for ``cls`` two runs of ``kfac_jax.Optimizer`` on the same batch (``ggn_exact``, curvature EMA
0.95, no burn-in, no L2): ``adaptive_``, 7 steps with the learning rate, momentum and damping all
adaptive (initial damping 1, inverses every 5 steps, damping adapted every 5 steps), and
``fixed_``, 4 steps at learning rate 0.5, momentum 0.3, damping 0.1 with inverses every 2 steps;
each with ``params`` (steps, n), the parameters after each step, and ``stats`` (steps, 5), that
step's ``stat_names``: the learning rate, momentum and damping it used, ρ (nan where the damping
was not adapted) and the loss before it.
"""

from __future__ import annotations

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import kfac_jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

OUT = Path(__file__).with_name("kfac_reference.npz")
BATCH = 8
DAMPING = 0.1
MODES = ("ggn_exact", "fisher_exact", "fisher_empirical")  # kfac-jax's estimation modes used here


def mlp(params, x):
    h = x
    for layer in params[:-1]:
        h = jnp.tanh(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def make_net(sizes, seed):
    rng = np.random.default_rng(seed)
    params = [
        {"w": rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out)), "b": rng.normal(0.0, 0.3, n_out)}
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]
    x = rng.normal(0.0, 1.0, (BATCH, sizes[0]))
    return jax.tree.map(jnp.asarray, params), jnp.asarray(x), rng


def classification_loss(params, batch):
    x, y = batch
    logits = mlp(params, x)
    kfac_jax.register_softmax_cross_entropy_loss(logits, y)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def regression_loss(params, batch):
    x, y = batch
    f = mlp(params, x)
    kfac_jax.register_normal_predictive_distribution(f, y, variance=1.0)
    return 0.5 * jnp.mean(jnp.sum((f - y) ** 2, axis=-1))


def flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(tree)])


def block_layer(block, params) -> int:
    shapes = sorted(tuple(shape) for shape in block.parameters_shapes)
    return next(i for i, p in enumerate(params) if sorted([p["w"].shape, p["b"].shape]) == shapes)


def factors(loss_fn, params, batch, mode):
    rng = jax.random.key(0)
    estimator = kfac_jax.BlockDiagonalCurvature(func=loss_fn, default_estimation_mode=mode)
    state = estimator.init(rng, (params, batch), None, None)
    state = estimator.update_curvature_matrix_estimate(
        state, ema_old=0.0, ema_new=1.0, identity_weight=DAMPING, batch_size=BATCH, rng=rng,
        func_args=(params, batch),
    )  # fmt: skip
    found = {}
    for block, block_state in zip(estimator.blocks, state.blocks_states):
        assert type(block).__name__ == "DenseTwoKroneckerFactored", block
        found[block_layer(block, params)] = tuple(np.asarray(f.value) for f in block_state.factors)
    return estimator, state, [found[i] for i in range(len(params))]


def dense(loss_fn, params, batch, mode):
    rng = jax.random.key(0)
    explicit = kfac_jax.ExplicitExactCurvature(func=loss_fn, default_estimation_mode=mode)
    state = explicit.init(rng, (params, batch), None, None)
    state = explicit.update_curvature_matrix_estimate(
        state, ema_old=0.0, ema_new=1.0, identity_weight=0.0, batch_size=BATCH, rng=rng,
        func_args=(params, batch),
    )  # fmt: skip
    return np.asarray(explicit.to_dense_matrix(state))


def estimator_values(net, loss_fn, params, batch, out):
    grads = jax.grad(loss_fn)(params, batch)
    out[f"{net}_params"], out[f"{net}_grad"] = flat(params), flat(grads)
    estimator, state, ggn = factors(loss_fn, params, batch, "ggn_exact")
    _, _, fisher = factors(loss_fn, params, batch, "fisher_exact")
    _, _, empirical = factors(loss_fn, params, batch, "fisher_empirical")
    for layer, ((a, g), (a_f, g_f), (a_e, g_e)) in enumerate(zip(ggn, fisher, empirical)):
        assert np.allclose(a, a_f, rtol=1e-12) and np.allclose(g, g_f, rtol=1e-12) and np.allclose(a, a_e, rtol=1e-12)
        out[f"{net}_A{layer}"], out[f"{net}_G{layer}"], out[f"{net}_G{layer}_empirical"] = a, g, g_e
    precond = estimator.multiply_inverse(
        state, grads, identity_weight=DAMPING, exact_power=False, use_cached=False, pmap_axis_name=None
    )
    out[f"{net}_precond"] = flat(precond)
    matrices = {mode: dense(loss_fn, params, batch, mode) for mode in MODES}
    difference = np.abs(matrices["fisher_exact"] - matrices["ggn_exact"]).max()
    assert difference < 1e-12 * np.abs(matrices["ggn_exact"]).max(), difference
    out[f"{net}_dense_fisher_minus_ggn"] = np.asarray(difference)
    out[f"{net}_dense_ggn"], out[f"{net}_dense_empirical"] = matrices["ggn_exact"], matrices["fisher_empirical"]


STAT_NAMES = ("learning_rate", "momentum", "damping", "rho", "loss")


def optimizer_run(prefix, params, batch, steps, out, adaptive, fixed=None, **settings):
    optimizer = kfac_jax.Optimizer(
        value_and_grad_func=jax.value_and_grad(classification_loss),
        l2_reg=0.0,
        use_adaptive_learning_rate=adaptive,
        use_adaptive_momentum=adaptive,
        use_adaptive_damping=adaptive,
        estimation_mode="ggn_exact",
        curvature_ema=0.95,
        num_burnin_steps=0,
        multi_device=False,
        **settings,
    )
    rng = jax.random.key(1)
    params = jax.tree.map(jnp.array, params)  # a copy: kfac-jax's step donates its arguments
    state = optimizer.init(params, rng, batch)
    trajectory, stats = [], []
    for t in range(steps):
        params, state, step_stats = optimizer.step(params, state, rng, batch=batch, global_step_int=t, **(fixed or {}))
        trajectory.append(flat(params))
        stats.append([float(step_stats[name]) for name in STAT_NAMES])
    out[f"{prefix}params"], out[f"{prefix}stats"] = np.stack(trajectory), np.asarray(stats)


def main():
    out = {"damping": np.asarray(DAMPING), "kfac_jax_version": np.asarray(kfac_jax.__version__),
           "jax_version": np.asarray(jax.__version__)}  # fmt: skip

    params, x, rng = make_net((3, 4, 3), seed=0)
    y = jnp.asarray(rng.integers(0, 3, BATCH))
    out |= {"cls_x": np.asarray(x), "cls_y": np.asarray(y), "stat_names": np.asarray(STAT_NAMES)}
    estimator_values("cls", classification_loss, params, (x, y), out)
    optimizer_run("cls_adaptive_", params, (x, y), 7, out, adaptive=True, initial_damping=1.0)
    optimizer_run(
        "cls_fixed_", params, (x, y), 4, out, adaptive=False, inverse_update_period=2,
        fixed=dict(learning_rate=jnp.asarray(0.5), momentum=jnp.asarray(0.3), damping=jnp.asarray(DAMPING)),
    )  # fmt: skip

    params, x, rng = make_net((2, 3, 2), seed=1)
    y = jnp.asarray(rng.normal(0.0, 1.0, (BATCH, 2)))
    out |= {"reg_x": np.asarray(x), "reg_y": np.asarray(y)}
    estimator_values("reg", regression_loss, params, (x, y), out)

    out = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in out.items()}
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
