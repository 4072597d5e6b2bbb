"""The trajectory engine: divergence handling, batching, and no recompilation on new values."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscapes import get_landscape
from optimizers import OPTIMIZERS, get_optimizer, run_trajectories, run_trajectory


@contextlib.contextmanager
def count_compilations():
    """Counts XLA backend compilations while the block runs: a program loaded from the run's compilation
    cache (conftest.py) counts too, as JAX times its load from the cache as its compilation."""
    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_gd_above_two_over_lambda_max_diverges_and_is_caught():
    ls = get_landscape("quadratic", condition_number=10.0, angle=0.2)  # λ_max = 1
    fine = run_trajectory(ls, get_optimizer("gd", learning_rate=1.99), steps=300)
    blown = run_trajectory(ls, get_optimizer("gd", learning_rate=2.2), steps=300)
    assert fine.diverged_at is None
    assert blown.diverged_at is not None and 0 < blown.diverged_at <= 300
    for field in (blown.params, blown.loss, blown.grads):
        assert np.all(np.isfinite(field))
    # frozen at the last good point from the divergence on
    assert np.all(blown.params[blown.diverged_at :] == blown.params[blown.diverged_at - 1])


def test_non_finite_steps_are_stopped_too():
    ls = get_landscape("saddle")
    traj = run_trajectory(ls, get_optimizer("newton"), x0=np.array([0.5, 1 / np.sqrt(3)]), steps=5)
    # H is singular at y = 1/√3: Newton's solve is not finite
    assert traj.diverged_at == 1 and np.all(np.isfinite(traj.params))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_runs_on_every_compatible_landscape_with_finite_output(name):
    for landscape_name in ("quadratic", "saddle", "rosenbrock", "noisy_quadratic", "pure_saddle"):
        ls = get_landscape(landscape_name)
        needs = OPTIMIZERS[name].needs
        if "dense_layers" in needs:  # K-FAC: a network's layers, which no landscape has
            with pytest.raises(ValueError, match="no layers"):
                run_trajectory(ls, get_optimizer(name), steps=5)
            continue
        if "ggn_vp" in needs and not ls.has_residuals:
            continue
        traj = run_trajectory(ls, get_optimizer(name), steps=50)
        assert traj.params.shape == (51, 2) and traj.loss.shape == (51,)
        assert np.all(np.isfinite(traj.params)) and np.all(np.isfinite(traj.loss))


def test_batched_runs_equal_single_runs():
    ls = get_landscape("noisy_quadratic", noise_scale=0.5)
    opt = get_optimizer("adam", learning_rate=0.1)
    starts = np.array([[-1.0, 2.0], [1.5, -0.5], [0.3, 0.3]])
    batch = run_trajectories(ls, opt, starts, seeds=[0, 1, 2], steps=40)
    assert batch.params.shape == (3, 41, 2)
    for i in range(3):
        single = run_trajectory(ls, opt, x0=starts[i], steps=40, seed=i)
        np.testing.assert_allclose(batch.params[i], single.params, rtol=1e-5, atol=1e-6)


def test_seeds_change_noisy_runs_and_are_reproducible():
    ls = get_landscape("rosenbrock", gradient_noise=1.0)
    opt = get_optimizer("adam")
    a, b, c = (run_trajectory(ls, opt, steps=30, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)


@pytest.mark.parametrize("landscape_name, settings", [("noisy_quadratic", {}), ("rosenbrock", dict(gradient_noise=1.0))])
def test_a_longer_run_repeats_a_shorter_ones_noise_on_its_first_steps(landscape_name, settings):
    """50 steps (scan length 64) and 300 (scan length 512), same seed: the first 50 noisy steps are identical."""
    assert jax.config.jax_threefry_partitionable
    ls = get_landscape(landscape_name, **settings)
    opt = get_optimizer("adam", learning_rate=0.01)
    short, long = (run_trajectory(ls, opt, steps=steps, seed=3) for steps in (50, 300))
    np.testing.assert_array_equal(long.params[:51], short.params)
    np.testing.assert_array_equal(long.grads[:50], short.grads[:50])
    assert not np.array_equal(short.grads[1:50], np.asarray(jax.vmap(jax.grad(ls.loss))(short.params[1:50])))  # noisy


def test_steps_cut_to_the_requested_length():
    traj = run_trajectory(get_landscape("quadratic"), get_optimizer("gd"), steps=37)
    assert traj.params.shape == (38, 2) and traj.grads.shape == (38, 2) and traj.updates.shape == (37, 2)


@pytest.mark.parametrize(
    "name, first, second",
    [
        ("momentum", dict(learning_rate=0.1, momentum=0.9), dict(learning_rate=0.02, momentum=0.5)),
        ("newton", dict(learning_rate=1.0, damping=0.0), dict(learning_rate=0.5, damping=3.0)),
        ("damped_ggn", dict(damping=1e-3), dict(damping=10.0, learning_rate=0.3)),
        ("mlbfgs", dict(memory_size=10, pair_interval=1), dict(memory_size=3, pair_interval=4, param_decay=0.9)),
        # with a line search α is the first trial step: traced like any other hyperparameter
        ("gd", dict(learning_rate=0.5, line_search=1), dict(learning_rate=2.0, line_search=1)),
        ("lbfgs", dict(learning_rate=1.0, memory_size=10, line_search=2), dict(learning_rate=0.3, memory_size=2, line_search=2)),
    ],
)
def test_new_hyperparameters_starts_seeds_and_landscape_values_do_not_recompile(name, first, second):
    run_trajectory(get_landscape("noisy_quadratic"), get_optimizer(name, **first), steps=100)  # warm up
    with count_compilations() as compilations:
        moved = [
            run_trajectory(get_landscape("noisy_quadratic"), get_optimizer(name, **second), steps=100),
            run_trajectory(get_landscape("noisy_quadratic"), get_optimizer(name, **first), x0=[0.3, -1.0], steps=100),
            run_trajectory(get_landscape("noisy_quadratic"), get_optimizer(name, **first), steps=100, seed=5),
            run_trajectory(
                get_landscape("noisy_quadratic", condition_number=1e3, angle=1.0, noise_scale=1.0, batch_size=64),
                get_optimizer(name, **first),
                steps=90,  # same power-of-two bucket as 100
            ),
        ]
    assert compilations == []
    assert not np.allclose(moved[0].params, moved[1].params)  # the new values were really used


def test_a_new_structure_does_compile():
    """The counter itself works: a new optimizer structure must compile."""
    with count_compilations() as compilations:
        run_trajectory(get_landscape("quadratic"), get_optimizer("damped_ggn", cg_iterations=7), steps=10)
    assert len(compilations) >= 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: get_optimizer("sgd9"), "choose one of: gd, momentum"),
        (lambda: get_optimizer("adam", lr=0.1), "allowed: learning_rate, b1, b2, eps"),
        (lambda: get_optimizer("momentum", momentum=1.5), r"momentum must lie in \[0, 0.999\]"),
        (lambda: get_optimizer("gd", learning_rate=float("nan")), "learning_rate"),
        (lambda: get_optimizer("lbfgs", memory_size=3.5), "whole number"),
        (lambda: get_optimizer("lbfgs", memory_size=40, memory_capacity=20), "memory_capacity"),
    ],
)
def test_invalid_optimizer_settings_raise_value_errors_that_list_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_optimizer_objects_drop_into_optax_chain():
    import optax

    import optimizers

    chained = optax.chain(optax.clip_by_global_norm(1.0), optimizers.newton(learning_rate=1.0))
    params = {"w": jnp.array([3.0, -4.0])}
    loss = lambda p: 0.5 * jnp.sum(jnp.array([1.0, 4.0]) * p["w"] ** 2)
    grads = jax.grad(loss)(params)
    hvp = optimizers.hessian_vector_product(loss, params)
    updates, _ = chained.update(grads, chained.init(params), params, hvp=hvp)
    # clipped gradient, then H⁻¹: the result is parallel to Newton's step −θ
    direction = updates["w"] / jnp.linalg.norm(updates["w"])
    np.testing.assert_allclose(direction, -params["w"] / jnp.linalg.norm(params["w"]), atol=1e-6)
