"""The scale-up library and page: MLP training with the app's optimizers, on a
tiny network on the CPU. The runs are shared: one compiled chunk per optimizer,
reused by the page test (same shapes, same chunk length)."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from streamlit.testing.v1 import AppTest

import page_checks
from optimizers import OPTIMIZERS, dense_matrix
from scaleup import (
    NEWTON_MAX_PARAMETERS,
    TASKS,
    Run,
    check_supported,
    compile_chunk,
    init_mlp,
    load_task,
    make_optimizer,
    model_for,
    train,
)
from scaleup.explanations import COST_PER_STEP
from scaleup.training import BLOW_UP, Model, init_state, minibatch, step_extras
from ui import lessons, scale_up

STEPS, CHUNK = 100, 5  # the page's chunk for 100 steps, so its test reuses these compilations
CONTENDERS = {name: {} for name in OPTIMIZERS} | {"mlbfgs block-diagonal": dict(block_diagonal=True)}


@pytest.fixture(scope="module")
def spirals():
    return load_task("spirals", seed=0)


@pytest.fixture(scope="module")
def tiny(spirals):
    model = model_for(spirals.info, width=8, depth=2)  # 2-8-8-2: 114 parameters
    assert model.parameter_count == 114
    return model


@pytest.fixture(scope="module")
def runs(spirals, tiny):
    """Every optimizer, full batch (so that plain L-BFGS is in its element), 100 steps."""
    result = {}
    for label, settings in CONTENDERS.items():
        name = label.split()[0]
        result[label] = train(tiny, spirals, make_optimizer(name, **settings), steps=STEPS, chunk_steps=CHUNK)
    return result


def test_tasks_load_without_download_and_split(spirals):
    for name, info in TASKS.items():
        data = spirals if name == "spirals" else load_task(name)
        assert data.x_train.shape[1] == info.n_inputs
        total = data.x_train.shape[0] + data.x_test.shape[0]
        assert data.x_test.shape[0] == round(0.2 * total)
        if info.kind == "classification":
            assert set(np.unique(np.asarray(data.y_train))) == set(range(info.n_outputs))
    digits = load_task("digits")
    assert digits.x_train.shape[0] + digits.x_test.shape[0] == 1797
    assert 0.0 <= float(digits.x_train.min()) and float(digits.x_train.max()) <= 1.0


def test_minibatches_visit_every_example_once_per_epoch(tiny):
    x = jnp.arange(10.0)[:, None]
    state = init_state(Model((1, 1)), make_optimizer("gd"), n_train=10, seed=3)

    def draw(state, _):
        xb, _, state = minibatch(state, x, x, 5)
        return state, xb[:, 0]

    _, batches = jax.jit(lambda s: jax.lax.scan(draw, s, None, length=4))(state)
    for epoch in np.asarray(batches).reshape(2, 10):
        assert sorted(epoch) == list(range(10))


@pytest.mark.parametrize("label", list(CONTENDERS))
def test_every_optimizer_lowers_the_spirals_training_loss(runs, label):
    run = runs[label]
    first, last = run.evaluations[0]["train_loss"], run.evaluations[-1]["train_loss"]
    assert run.diverged_at is None and run.steps_done == STEPS
    assert last < 0.8 * first, f"{label}: {first:.3f} -> {last:.3f}"


def test_a_blown_up_run_is_stopped_where_it_diverged():
    """Gradient descent with α far above 2/λ_max on a regression: the loss grows geometrically, and
    the run stops at the first step whose loss exceeds BLOW_UP × its start, finite or not."""
    teacher = load_task("teacher", seed=0)
    model = model_for(teacher.info, width=8, depth=2)
    run = Run(model, teacher, make_optimizer("gd", learning_rate=10.0), batch_size=0, chunk_steps=CHUNK)
    for _ in range(STEPS // CHUNK):
        run.advance()
    losses = run.loss_curve
    assert run.diverged_at is not None and run.steps_done < STEPS
    start = run.evaluations[0]["train_loss"]
    assert not abs(losses[run.diverged_at]) < BLOW_UP * max(start, 1.0)
    assert np.all(np.abs(losses[: run.diverged_at]) < BLOW_UP * max(start, 1.0))


def test_timings_and_memory_are_present_and_positive(runs):
    for label, run in runs.items():
        assert run.compile_seconds > 0 and run.per_step_seconds > 0 and run.seconds > 0, label
        assert len(run.chunk_seconds) == STEPS // CHUNK
        times = run.time_axis
        assert times.shape == (STEPS,) and np.all(np.diff(times) > 0) and times[-1] == pytest.approx(run.seconds)
        assert run.memory is not None and run.memory.estimate_bytes > 0, label
        state_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves((run.state.params, run.state.opt_state)))
        assert run.memory.argument_bytes >= state_bytes, label  # the chunk takes the parameters and optimizer state
        if jax.default_backend() == "gpu":
            assert run.device_peak_bytes > 0
    # a dense Hessian costs memory: Newton's chunk needs more than Adam's
    assert runs["newton"].memory.estimate_bytes > runs["adam"].memory.estimate_bytes


def test_a_new_learning_rate_reuses_the_compiled_chunk(spirals, tiny, runs):
    optimizer = make_optimizer("adam", learning_rate=0.123)
    state = init_state(tiny, optimizer, spirals.n_train)
    chunk = compile_chunk(tiny, optimizer, state, spirals.arrays, 0, CHUNK)
    assert chunk.cached and chunk.compile_seconds == runs["adam"].compile_seconds


def explicit_ggn(model: Model, params, x, y):
    """Jᵀ H_ℓ J with J from jax.jacobian and H_ℓ written out: (diag(p) − ppᵀ)/B per example, or I/B."""
    flat, unravel = ravel_pytree(params)
    outputs = model.apply(params, x)
    batch, k = outputs.shape
    jac = jax.jacobian(lambda theta: model.apply(unravel(theta), x).ravel())(flat)  # (B·k, n)
    if model.kind == "classification":
        p = jax.nn.softmax(outputs)
        blocks = [jnp.diag(p_i) - jnp.outer(p_i, p_i) for p_i in p]
    else:
        blocks = [jnp.eye(k)] * batch
    h_outer = jax.scipy.linalg.block_diag(*blocks) / batch
    return jac.T @ h_outer @ jac


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_ggn_vector_product_equals_explicit_jt_h_j(kind):
    model = Model((3, 5, 4), "tanh", kind)
    params = init_mlp(jax.random.key(1), model.sizes, "tanh")
    x = jax.random.normal(jax.random.key(2), (6, 3))
    y = jnp.array([0, 1, 2, 3, 1, 0]) if kind == "classification" else jax.random.normal(jax.random.key(3), (6, 4))
    v = jax.random.normal(jax.random.key(4), (ravel_pytree(params)[0].size,))

    @jax.jit
    def products(params, v):
        _, extras = step_extras(model, frozenset({"ggn_vp"}), params, x, y)  # exactly what the training step feeds
        gv = ravel_pytree(extras["ggn_vp"](ravel_pytree(params)[1](v)))[0]
        return dense_matrix(extras["ggn_vp"], params), gv, explicit_ggn(model, params, x, y)

    ours, gv, expected = map(np.asarray, products(params, v))
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    np.testing.assert_allclose(gv, expected @ np.asarray(v), rtol=1e-5, atol=1e-6)
    assert np.linalg.eigvalsh(expected).min() > -1e-6  # G is positive semi-definite


def test_newton_above_its_parameter_limit_refuses_clearly():
    digits = load_task("digits")
    big = model_for(digits.info, width=32, depth=1)  # 64-32-10: 2410 parameters
    assert big.parameter_count > NEWTON_MAX_PARAMETERS
    for name in ("newton", "saddle_free_newton"):
        with pytest.raises(ValueError, match=f"at most {NEWTON_MAX_PARAMETERS} parameters .*2410"):
            Run(big, digits, make_optimizer(name), 128, CHUNK)
    check_supported(big, "damped_ggn")  # matrix-free: no limit
    check_supported(model_for(digits.info, width=16, depth=1), "newton")  # 1210 parameters


def test_page_runs_a_small_configuration(runs):
    started = time.perf_counter()
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=120)
    for key, value in dict(task="Two spirals", width="8", depth="2", batch="full batch", steps="100").items():
        at.query_params[key] = value
    at.query_params["opt"] = ["Adam", "mL-BFGS (momentum L-BFGS)"]
    at.query_params["adam.learning_rate"] = "99"  # out of range: a fall-back note, not an error
    at.run()
    assert not at.exception
    assert any("adam.learning_rate=99" in note for note in page_checks.notes(at))
    assert "114 parameters" in " ".join(m.value for m in at.markdown)
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["optimizer"]) == ["Adam", "mL-BFGS (momentum L-BFGS)"]
    assert (table["ms / step"] > 0).all() and (table["memory MiB (estimate)"] > 0).all()
    assert (table["steps"] == 100).all()  # every round, one rerun each, to the end
    assert all("(reused)" in cell for cell in table["compile s"])  # the compiled chunks of the runs above
    assert len(page_checks.figures(at)) == 1
    assert time.perf_counter() - started < 30


def test_page_explains_why_newton_is_unavailable_on_a_big_net():
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=60)
    at.query_params["task"] = "Handwritten digits (8×8)"
    at.query_params["width"] = "64"
    at.query_params["opt"] = ["Newton"]
    at.run()
    assert not at.exception
    assert any("Newton is unavailable here" in w.value and "2000" in w.value for w in at.warning)
    assert at.button(key="train").disabled


def open_page(query: dict) -> AppTest:
    at = page_checks.open_page("pages/scale_up.py", query)
    assert not at.exception
    return at


LESSONS = lessons.load(scale_up.PAGE, scale_up.declare).lessons


def assert_shows_lesson(at: AppTest, name: str):
    lesson = LESSONS[name]
    assert any(lesson.view.text in box.value for box in at.info)
    view = lesson.view.view
    assert at.multiselect(key="opt").value == list(view["opt"])
    for key in ("width", "depth"):
        if key in view:
            assert at.select_slider(key=key).value == int(view[key][0])
    for key, texts in view.items():
        if "." in key:
            assert at.select_slider(key=key).value == float(texts[0])
    assert not any("unavailable" in w.value for w in at.warning)  # a lesson never picks a refused optimizer


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_lesson_link_sets_the_controls_and_shows_its_lesson(name):
    at = open_page({"preset": name})
    assert_shows_lesson(at, name)
    link = page_checks.link(at)
    assert link == {"lesson": [name]}
    assert_shows_lesson(open_page(link), name)  # the rewritten link reopens the lesson


def test_an_unknown_preset_is_a_note_not_an_error():
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=60)
    at.query_params["preset"] = "no_such_lesson"
    at.run()
    assert not at.exception
    assert any("preset=no_such_lesson" in note for note in page_checks.notes(at))


def test_newton_lesson_states_the_parameter_count_of_its_network():
    view = LESSONS["newton"].view
    # 2 inputs, two hidden layers of 8, 2 classes: (2·8 + 8) + (8·8 + 8) + (8·2 + 2) = 114
    width, depth = int(view.view["width"][0]), int(view.view["depth"][0])
    assert model_for(TASKS["spirals"], width=width, depth=depth).parameter_count == 114
    assert "114" in view.text and f"{NEWTON_MAX_PARAMETERS:,}" in view.text


def test_every_optimizer_has_its_cost_per_step_explained():
    assert set(COST_PER_STEP) == set(OPTIMIZERS)


@pytest.mark.parametrize(
    "key, value", [("width", "abc"), ("depth", "9"), ("steps", "0"), ("opt", "Foo"), ("lesson", "bogus"), ("seed", "-1")]
)
def test_a_bad_link_value_is_a_note_not_a_traceback(key, value):
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=60)
    at.query_params[key] = value
    at.run()
    assert not at.exception
    assert any(f"{key}={value}" in note for note in page_checks.notes(at))


def test_an_error_while_training_is_said_in_words_and_the_page_stays(monkeypatch):
    """E.g. out of device memory on a very wide net: the first line of the error, no traceback."""
    from ui import scale_up as page

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("RESOURCE_EXHAUSTED: out of memory allocating 12 GiB\nwhere it happened")

    monkeypatch.setattr(page, "Run", out_of_memory)
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=120)
    at.query_params["opt"] = ["Adam"]
    at.run()
    at.button(key="train").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Training stopped with an error: RuntimeError: RESOURCE_EXHAUSTED: out of "
                                           "memory allocating 12 GiB"]  # fmt: skip
    assert any("Stopped early" in box.value for box in at.info)
