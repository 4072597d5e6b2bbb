"""Training an MLP with the optimizers of ``optimizers`` (the same ``Optimizer``
objects as the 2-D pages), in jitted chunks, timed and measured.

A chunk is one compiled program running K steps with ``lax.scan``. The
optimizer is an argument of that program, so its hyperparameters are traced:
a new learning rate reuses the compiled chunk; only the model's shape, the
batch size, K, and the optimizer's name and options compile anew. Each step
takes the next minibatch of the epoch (each epoch visits the training set in
a fresh random order; batch size 0, or one at least the set's size, means the
whole set) and hands the optimizer everything about that minibatch's loss it
may need: ``value``, ``value_fn`` and, when its registry entry asks for them,
``hvp`` (Hessian-vector products), ``ggn_vp`` (Gauss–Newton-vector products
Jᵀ H_ℓ J v of the network's outputs and the outer loss: softmax cross-entropy
or squared error) or ``dense_layers`` (K-FAC: each layer's inputs and output
gradients, ``optimizers.curvature.dense_layer_statistics``, in the optimizer's
``fisher`` mode; the sampled targets come from a random stream of their own,
so the minibatches are the same as every other optimizer's).

With several local devices each minibatch is split over them (``scaleup.parallel``: a one-axis
``jax.sharding.Mesh``, the parameters and optimizer state replicated), so every mean over the batch
is all-reduced inside the same chunk; on one device the program is the single-device one.

The chunk is compiled ahead of time (``jit(...).lower(...).compile()``), so
its compile time is measured on its own and never mixed into the per-step
time. Then each ``Run`` executes its chunk once from the initial state and
discards the result (the warm-up, timed apart as well): a compiled program's
first execution pays one-off costs — the process's first one most, several
times a normal chunk on the CPU — that belong to neither the optimizer nor its
step. The training seconds are the sum of the chunks after it, and the
per-step time is the median over those chunks of a chunk's seconds divided by
its steps. Memory: the compiled program's own estimate on every backend
(``memory_analysis()``: temporaries + arguments + outputs), and on a GPU also
the device's measured peak (``memory_stats()["peak_bytes_in_use"]``, a
whole-process high-water mark).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optimizers import OPTIMIZERS, Optimizer, get_optimizer
from optimizers.curvature import FISHER_MODES, dense_layer_statistics, ggn_vector_product, hessian_vector_product
from scaleup.data import Dataset, TaskInfo
from scaleup.mlp import init_mlp, layer_sizes, mlp, parameter_count
from scaleup.parallel import batch_split, keep_replicated, replicated, split_batch

# A dense Hessian costs n Hessian-vector products (n forward-and-backward passes
# over the minibatch) and an n×n solve per step, and n² floats of memory.
NEWTON_MAX_PARAMETERS = 2000
DENSE_CURVATURE = ("newton", "saddle_free_newton")

# Starting points for MLPs where the 2-D defaults do not suit a network; the page shows and overrides them.
MLP_DEFAULTS: dict[str, dict[str, Any]] = {
    "gd": {"learning_rate": 0.5},
    "momentum": {"learning_rate": 0.1, "momentum": 0.9},
    "nesterov": {"learning_rate": 0.1, "momentum": 0.9},
    "adam": {"learning_rate": 0.01},
    "rmsprop": {"learning_rate": 0.003},
    "adagrad": {"learning_rate": 0.1},
    "newton": {"learning_rate": 1.0, "damping": 1.0},
    "saddle_free_newton": {"learning_rate": 1.0, "damping": 0.1},
    "damped_ggn": {"learning_rate": 1.0, "damping": 1.0, "adaptive": True, "cg_iterations": 20},
    "lbfgs": {"learning_rate": 0.5, "memory_size": 10, "memory_capacity": 10},
    "mlbfgs": {
        "learning_rate": 0.5,
        "momentum": 0.3,
        "param_decay": 0.9,
        "grad_decay": 0.9,
        "pair_interval": 10,
        "memory_size": 10,
        "memory_capacity": 10,
    },
    "adamqlr": {},
    "kfac": {},
}
SAMPLING_STREAM = 1  # fold_in(seed key, this): the key of the targets K-FAC samples from the model


@dataclasses.dataclass(frozen=True)
class Model:
    """The static description of a network and its loss (hashable: part of the compiled chunk's key)."""

    sizes: tuple[int, ...]
    activation: str = "tanh"
    kind: str = "classification"  # or "regression"

    @property
    def parameter_count(self) -> int:
        return parameter_count(self.sizes)

    def apply(self, params, x):
        return mlp(params, x, self.activation)

    @property
    def likelihood(self) -> str:
        """The predictive distribution behind ``outer_loss``: categorical (softmax) or unit Gaussian."""
        return "categorical" if self.kind == "classification" else "gaussian"

    def outer_loss(self, outputs, y):
        """ℓ(f; y), convex in the outputs f: mean softmax cross-entropy, or ½·mean squared error."""
        if self.kind == "classification":
            return optax.softmax_cross_entropy_with_integer_labels(outputs, y).mean()
        return 0.5 * jnp.mean(jnp.sum((outputs - y) ** 2, axis=-1))

    def loss(self, params, x, y):
        return self.outer_loss(self.apply(params, x), y)


def model_for(task: TaskInfo, width: int = 16, depth: int = 2, activation: str = "tanh") -> Model:
    return Model(layer_sizes(task.n_inputs, width, depth, task.n_outputs), activation, task.kind)


def check_supported(model: Model, name: str) -> None:
    """Raise ``ValueError`` when the optimizer cannot run on this network (dense curvature too large)."""
    if name in DENSE_CURVATURE and model.parameter_count > NEWTON_MAX_PARAMETERS:
        raise ValueError(
            f"{OPTIMIZERS[name].title} forms the full {model.parameter_count}×{model.parameter_count} Hessian; "
            f"it is limited to networks of at most {NEWTON_MAX_PARAMETERS} parameters (this one has "
            f"{model.parameter_count}). Use the matrix-free damped Gauss–Newton, L-BFGS or mL-BFGS instead."
        )


def make_optimizer(name: str, **settings) -> Optimizer:
    """``get_optimizer`` with the MLP defaults of ``MLP_DEFAULTS`` under the given settings."""
    return get_optimizer(name, **{**MLP_DEFAULTS.get(name, {}), **settings})


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    key: jax.Array  # for the shuffles
    order: jax.Array  # this epoch's permutation of the training examples
    position: jax.Array  # where the next minibatch starts in ``order``
    sample_key: jax.Array  # for targets sampled from the model (K-FAC's Fisher); apart from the shuffles


def _canonical(tree):
    """Strongly typed 32-bit leaves, so every call matches the compiled chunk's signature
    (a Python float would be weakly typed, a NumPy float64 would be 64-bit)."""

    def leaf(x):
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.integer):
            return jnp.array(x, dtype=jnp.int32)
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.array(x, dtype=jnp.float32)
        return x

    return jax.tree.map(leaf, tree)


def init_state(model: Model, optimizer, n_train: int, seed: int = 0) -> TrainState:
    """Initial weights (from ``seed``), the optimizer's state, and the first epoch's order."""
    init_key, batch_key, order_key = jax.random.split(jax.random.key(seed), 3)
    params = init_mlp(init_key, model.sizes, model.activation)
    order = jax.random.permutation(order_key, n_train).astype(jnp.int32)
    zero = jnp.zeros([], jnp.int32)
    sample_key = jax.random.fold_in(jax.random.key(seed), SAMPLING_STREAM)
    return TrainState(params, _canonical(optimizer.init(params)), batch_key, order, zero, sample_key)


def _needs(optimizer) -> frozenset:
    return optimizer.info.needs if isinstance(optimizer, Optimizer) else frozenset(getattr(optimizer, "needs", ()))


def minibatch(state: TrainState, x, y, batch_size: int):
    """The next minibatch of this epoch, in the epoch's random order (a new order when it runs out);
    the whole training set when ``batch_size`` is 0 or at least its size. Returns (xb, yb, state)."""
    n = x.shape[0]
    if not batch_size or batch_size >= n:
        return x, y, state
    key, shuffle_key = jax.random.split(state.key)
    new_epoch = state.position + batch_size > n
    order = jax.lax.cond(
        new_epoch, lambda: jax.random.permutation(shuffle_key, n).astype(jnp.int32), lambda: state.order
    )
    position = jnp.where(new_epoch, 0, state.position)
    index = jax.lax.dynamic_slice(order, (position,), (batch_size,))
    state = state._replace(key=key, order=order, position=position + batch_size)
    return x[index], y[index], state


def _fisher(optimizer) -> str:
    """The optimizer's ``fisher`` option by name (K-FAC's), "sampled" when it has none; through wrappers
    (a schedule, averaging), which hold theirs as ``.optimizer``."""
    while not isinstance(optimizer, Optimizer) and hasattr(optimizer, "optimizer"):
        optimizer = optimizer.optimizer
    options = dict(optimizer.options) if isinstance(optimizer, Optimizer) else {}
    return FISHER_MODES[int(options.get("fisher", 0))]


def step_extras(model: Model, needs: frozenset, params, x, y, key=None, fisher: str = "sampled") -> tuple[Any, dict]:
    """The gradient, and the keyword arguments a step's ``update`` gets about this minibatch's loss
    (``key``: for the targets K-FAC samples from the model, ``fisher``: its mode)."""
    loss_fn = lambda p: model.loss(p, x, y)  # noqa: E731
    value, grad = jax.value_and_grad(loss_fn)(params)
    extras = dict(value=value, value_fn=loss_fn)
    if "hvp" in needs:
        extras["hvp"] = hessian_vector_product(loss_fn, params)
    if "ggn_vp" in needs:
        extras["ggn_vp"] = ggn_vector_product(
            lambda p: model.apply(p, x), lambda outputs: model.outer_loss(outputs, y), params
        )
    if "dense_layers" in needs:
        extras["dense_layers"] = dense_layer_statistics(
            model.apply, params, x, likelihood=model.likelihood, targets=y, key=key, fisher=fisher
        )
    return grad, extras


def _chunk(optimizer, state: TrainState, data, *, model: Model, batch_size: int, steps: int, mesh=None):
    x, y = data
    needs = _needs(optimizer)
    fisher = _fisher(optimizer)

    def step(carry: TrainState, _):
        xb, yb, carry = minibatch(carry, x, y, batch_size)
        xb, yb = split_batch((xb, yb), mesh)  # with a mesh: each device takes its part of the minibatch
        sample_key = None
        if "dense_layers" in needs:
            sample_key, next_key = jax.random.split(carry.sample_key)
            carry = carry._replace(sample_key=next_key)
        grad, extras = step_extras(model, needs, carry.params, xb, yb, sample_key, fisher)
        updates, opt_state = optimizer.update(grad, carry.opt_state, carry.params, **extras)
        params = optax.apply_updates(carry.params, updates)
        return keep_replicated(carry._replace(params=params, opt_state=opt_state), mesh), extras["value"]

    return jax.lax.scan(step, state, None, length=steps)


_chunk_jit = jax.jit(_chunk, static_argnames=("model", "batch_size", "steps", "mesh"))


class Memory(NamedTuple):
    estimate_bytes: int  # the compiled chunk's temporaries + arguments + outputs
    temp_bytes: int
    argument_bytes: int
    output_bytes: int


class CompiledChunk(NamedTuple):
    run: Any  # (optimizer, state, data) -> (state, losses[steps])
    compile_seconds: float  # how long its compilation took (earlier, when ``cached``)
    memory: Memory | None
    cached: bool  # compiled by an earlier call with the same signature: nothing compiled now


_compiled: dict = {}
_compiled_lock = threading.Lock()


def _signature(tree):
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(leaf), jnp.result_type(leaf), getattr(leaf, "weak_type", False)) for leaf in leaves)


def memory_of(compiled) -> Memory | None:
    try:
        stats = compiled.memory_analysis()
    except Exception:  # a backend without the analysis
        return None
    if stats is None:
        return None
    temp, arguments, outputs = (
        int(stats.temp_size_in_bytes),
        int(stats.argument_size_in_bytes),
        int(stats.output_size_in_bytes),
    )
    return Memory(temp + arguments + outputs, temp, arguments, outputs)


def compile_chunk(
    model: Model, optimizer, state: TrainState, data, batch_size: int, steps: int, mesh=None
) -> CompiledChunk:
    """The compiled K-step chunk, compiled once per signature (thread-safe) and timed. With a ``mesh``
    (``scaleup.parallel.mesh_for``) each minibatch is split over its devices, and the program takes
    ``optimizer``, ``state`` and ``data`` replicated on them."""
    optimizer, state, data = replicated((_canonical(optimizer), state, data), mesh)
    key = (model, int(batch_size), int(steps), _signature((optimizer, state, data)), jax.default_backend(), mesh)
    with _compiled_lock:
        if key in _compiled:
            return _compiled[key]._replace(cached=True)
        start = time.perf_counter()
        lowered = _chunk_jit.lower(
            optimizer, state, data, model=model, batch_size=int(batch_size), steps=int(steps), mesh=mesh
        )
        compiled = lowered.compile()
        chunk = CompiledChunk(compiled, time.perf_counter() - start, memory_of(compiled), False)
        _compiled[key] = chunk
    return chunk


@jax.jit(static_argnames=("model",))
def _evaluate(params, x_train, y_train, x_test, y_test, *, model: Model):
    out_train, out_test = model.apply(params, x_train), model.apply(params, x_test)
    result = dict(train_loss=model.outer_loss(out_train, y_train), test_loss=model.outer_loss(out_test, y_test))
    if model.kind == "classification":
        result["train_accuracy"] = jnp.mean(jnp.argmax(out_train, -1) == y_train)
        result["test_accuracy"] = jnp.mean(jnp.argmax(out_test, -1) == y_test)
    return result


def evaluate(model: Model, params, dataset: Dataset) -> dict[str, float]:
    """Full training loss, held-out loss and, for classification, accuracies."""
    values = _evaluate(params, dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test, model=model)
    return {name: float(value) for name, value in values.items()}


def device_description() -> str:
    device = jax.devices()[0]
    if device.platform == "cpu":
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count()
        return f"CPU ({cores} cores)"
    return f"{device.platform.upper()}: {device.device_kind}"


def device_peak_bytes() -> int | None:
    """The device's measured peak memory so far (GPU; None on the CPU, which does not report it)."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:
        return None
    return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


BLOW_UP = 1e4  # a loss this many times the starting one has diverged, even while still finite


@dataclasses.dataclass
class Run:
    """One optimizer training one network, chunk by chunk, with its timings.

    ``losses``: the minibatch loss each step saw (before its update);
    ``evaluations``: full-data figures at step 0 and after every chunk;
    ``chunk_seconds``: wall-clock of each chunk, compile and warm-up excluded;
    ``compile_seconds``, ``compile_cached``: the chunk's compile time (from an earlier run when cached);
    ``warmup_seconds``: the chunk's first execution, from the initial state, its result discarded (the
    training is the same as without it), kept out of the training seconds;
    ``memory``: the compiled chunk's estimate; ``device_peak_bytes``: the GPU's measured peak (None on the CPU);
    ``diverged_at``: the first step whose loss was not finite or had blown up to ``BLOW_UP`` times
    the starting loss (the run stops there), or None;
    ``devices``, ``per_device_batch``: data parallelism (``scaleup.parallel``). ``data_parallel``: None
    splits each minibatch over every local device when there are several and they divide it (one
    device otherwise); True insists (``ValueError`` for a batch they do not divide); False uses one.
    Raises ``ValueError`` for Newton on a network above ``NEWTON_MAX_PARAMETERS``.
    """

    model: Model
    dataset: Dataset
    optimizer: Any
    batch_size: int
    chunk_steps: int
    seed: int = 0
    label: str = ""
    data_parallel: bool | None = None

    def __post_init__(self):
        if isinstance(self.optimizer, Optimizer):
            check_supported(self.model, self.optimizer.name)
            self.label = self.label or self.optimizer.info.title
        n = self.dataset.n_train
        self.mesh, self.devices, self.per_device_batch = batch_split(self.batch_size, n, self.data_parallel)
        self.state = replicated(init_state(self.model, self.optimizer, n, self.seed), self.mesh)
        self._data = replicated(self.dataset.arrays, self.mesh)
        chunk = compile_chunk(
            self.model, self.optimizer, self.state, self._data, self.batch_size, self.chunk_steps, self.mesh
        )
        self._run, self.compile_seconds, self.memory, self.compile_cached = chunk
        self.warmup_seconds = self._warm_up()
        self.losses: list[np.ndarray] = []
        self.chunk_seconds: list[float] = []
        self.evaluations: list[dict] = [dict(step=0, seconds=0.0, **evaluate(self.model, self.state.params, self.dataset))]
        self.diverged_at: int | None = None
        self.device_peak_bytes: int | None = None

    def _warm_up(self) -> float:
        """Execute the compiled chunk once from the initial state, discard its result; its wall-clock."""
        start = time.perf_counter()
        jax.block_until_ready(self._run(self._optimizer(), self.state, self._data))
        return time.perf_counter() - start

    def _optimizer(self):
        """The optimizer as the compiled chunk takes it (its leaves typed, and replicated with a mesh)."""
        return replicated(_canonical(self.optimizer), self.mesh)

    @property
    def steps_done(self) -> int:
        return len(self.losses) * self.chunk_steps

    @property
    def seconds(self) -> float:
        """Total training wall-clock: the sum of the chunks (compile and warm-up excluded)."""
        return float(sum(self.chunk_seconds))

    @property
    def per_step_seconds(self) -> float:
        """Median over chunks of a chunk's wall-clock divided by its steps."""
        return float(np.median(self.chunk_seconds)) / self.chunk_steps if self.chunk_seconds else float("nan")

    @property
    def loss_curve(self) -> np.ndarray:
        return np.concatenate(self.losses) if self.losses else np.zeros(0, np.float32)

    @property
    def time_axis(self) -> np.ndarray:
        """Seconds of training (compile and warm-up excluded) at the end of each step, spread evenly within a chunk."""
        ends = np.cumsum(self.chunk_seconds)
        starts = ends - np.asarray(self.chunk_seconds)
        fraction = np.arange(1, self.chunk_steps + 1) / self.chunk_steps
        return (starts[:, None] + np.outer(self.chunk_seconds, fraction)).ravel() if self.chunk_seconds else np.zeros(0)

    def advance(self) -> np.ndarray:
        """Run one chunk (nothing once diverged); returns its per-step losses."""
        if self.diverged_at is not None:
            return np.zeros(0, np.float32)
        start = time.perf_counter()
        state, losses = self._run(self._optimizer(), self.state, self._data)
        jax.block_until_ready((state, losses))
        self.chunk_seconds.append(time.perf_counter() - start)
        losses = np.asarray(losses)
        first_step = self.steps_done
        self.losses.append(losses)
        self.state = state
        self.device_peak_bytes = device_peak_bytes()
        limit = BLOW_UP * max(self.evaluations[0]["train_loss"], 1.0)
        bad = np.flatnonzero(~(np.abs(losses) < limit))  # also catches NaN and ±inf
        if bad.size:
            self.diverged_at = first_step + int(bad[0])
        else:
            figures = evaluate(self.model, state.params, self.dataset)
            self.evaluations.append(dict(step=self.steps_done, seconds=self.seconds, **figures))
        return losses


def train(
    model: Model, dataset: Dataset, optimizer, steps: int, batch_size: int = 0, chunk_steps: int = 50, seed: int = 0,
    data_parallel: bool | None = None,
) -> Run:
    """Train for ``steps`` (rounded up to whole chunks) and return the ``Run``; ``data_parallel`` as in ``Run``."""
    run = Run(model, dataset, optimizer, batch_size, chunk_steps, seed, data_parallel=data_parallel)
    for _ in range(-(-steps // chunk_steps)):
        run.advance()
    return run
