"""The optimizers by name, with their hyperparameters' defaults and ranges.

``get_optimizer(name, **hyperparameters)`` returns an ``Optimizer``: a pytree
whose leaves are the numeric hyperparameters and whose static part is the name
and the structural options (buffer sizes, switches). Passed to a jitted
function, its hyperparameters are traced, so new values reuse compiled code.
It has optax's ``init``/``update``; the factories themselves
(``optimizers.adam``, ``optimizers.newton``, ...) return plain
``optax.GradientTransformationExtraArgs`` for use in ``optax.chain``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from types import ModuleType
from typing import Any, Callable, NamedTuple

import jax

from optimizers.line_search import LINE_SEARCHES
from parameters import Parameter, choose, validate


class OptimizerInfo(NamedTuple):
    name: str  # optimizers/<name>.py defines the factory <name>(...)
    title: str
    hyperparameters: dict[str, Parameter]  # traced
    options: dict[str, Parameter]  # static: changing one compiles anew
    needs: frozenset[str] = frozenset()  # update() keyword arguments beyond the gradient
    order: str = "first"  # "first" or "second": how the app groups them

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"optimizers.{self.name}")

    @property
    def factory(self) -> Callable:
        return getattr(self.module, self.name)

    @property
    def explanation(self) -> str:
        """The module's docstring: the update in equations and its source."""
        return inspect.getdoc(self.module)


def learning_rate(default: float) -> Parameter:
    return Parameter(default, 1e-5, 10.0, log=True, label="learning rate α")


MOMENTUM = Parameter(0.9, 0.0, 0.999, label="momentum β")
SWITCH = lambda default: Parameter(default, 0, 1, integer=True)  # noqa: E731
MEMORY_SIZE = Parameter(10, 1, 50, integer=True, label="history length m")
MEMORY_CAPACITY = Parameter(50, 1, 1000, integer=True)
DAMPING = lambda default: Parameter(default, 0.0, 1e4, label="damping λ")  # noqa: E731
# 0, 1, 2: LINE_SEARCHES[code] ("none", "backtracking", "exact"); with one, α is the first step tried
LINE_SEARCH = Parameter(0, 0, len(LINE_SEARCHES) - 1, integer=True, label="line search")

OPTIMIZERS: dict[str, OptimizerInfo] = {
    "gd": OptimizerInfo("gd", "Gradient descent", {"learning_rate": learning_rate(0.1)}, {"line_search": LINE_SEARCH}),
    "momentum": OptimizerInfo(
        "momentum", "Heavy-ball momentum", {"learning_rate": learning_rate(0.1), "momentum": MOMENTUM}, {}
    ),
    "nesterov": OptimizerInfo(
        "nesterov", "Nesterov momentum", {"learning_rate": learning_rate(0.1), "momentum": MOMENTUM}, {}
    ),
    "adam": OptimizerInfo(
        "adam",
        "Adam",
        {
            "learning_rate": learning_rate(0.05),
            "b1": Parameter(0.9, 0.0, 0.999, label="β₁"),
            "b2": Parameter(0.999, 0.0, 0.99999, label="β₂"),
            "eps": Parameter(1e-8, 1e-12, 1.0, log=True, label="ε"),
        },
        {},
    ),
    "rmsprop": OptimizerInfo(
        "rmsprop",
        "RMSProp",
        {
            "learning_rate": learning_rate(0.01),
            "decay": Parameter(0.9, 0.0, 0.9999, label="decay ρ"),
            "eps": Parameter(1e-8, 1e-12, 1.0, log=True, label="ε"),
        },
        {},
    ),
    "adagrad": OptimizerInfo(
        "adagrad",
        "AdaGrad",
        {
            "learning_rate": learning_rate(0.5),
            "initial_accumulator_value": Parameter(0.1, 0.0, 10.0, label="initial accumulator S₀"),
            "eps": Parameter(1e-7, 1e-12, 1.0, log=True, label="ε"),
        },
        {},
    ),
    "newton": OptimizerInfo(
        "newton",
        "Newton",
        {"learning_rate": learning_rate(1.0), "damping": DAMPING(0.0)},
        {},
        needs=frozenset({"hvp"}),
        order="second",
    ),
    "saddle_free_newton": OptimizerInfo(
        "saddle_free_newton",
        "Saddle-free Newton",
        {"learning_rate": learning_rate(1.0), "damping": DAMPING(1e-3)},
        {},
        needs=frozenset({"hvp"}),
        order="second",
    ),
    "damped_ggn": OptimizerInfo(
        "damped_ggn",
        "Damped Gauss–Newton",
        {"learning_rate": learning_rate(1.0), "damping": DAMPING(1e-3)},
        {"adaptive": SWITCH(False), "cg_iterations": Parameter(50, 1, 1000, integer=True)},
        needs=frozenset({"ggn_vp"}),
        order="second",
    ),
    "lbfgs": OptimizerInfo(
        "lbfgs",
        "L-BFGS",
        {"learning_rate": learning_rate(1.0), "memory_size": MEMORY_SIZE},
        {"memory_capacity": MEMORY_CAPACITY, "line_search": LINE_SEARCH},
        order="second",
    ),
    "mlbfgs": OptimizerInfo(
        "mlbfgs",
        "mL-BFGS (momentum L-BFGS)",
        {
            "learning_rate": learning_rate(0.5),
            "momentum": Parameter(0.3, 0.0, 0.999, label="momentum on the direction"),
            "param_decay": Parameter(0.99, 0.0, 0.9999, label="EMA β of parameters"),
            "grad_decay": Parameter(0.99, 0.0, 0.9999, label="EMA β of gradients"),
            "pair_interval": Parameter(20, 1, 200, integer=True, label="pair interval T"),
            "memory_size": MEMORY_SIZE,
            "damping": Parameter(0.2, 0.0, 1.0, label="pair damping"),
            "sigma_low": Parameter(0.01, 0.0, 1.0, label="σ_L"),
            "sigma_high": Parameter(1e4, 1.0, 1e8, log=True, label="σ_H"),
            "kl_clip": Parameter(1.0, 1e-4, 1e4, log=True, label="step clip κ_clip (gᵀHg)"),
        },
        {"memory_capacity": MEMORY_CAPACITY, "block_diagonal": SWITCH(False)},
        order="second",
    ),
    "adamqlr": OptimizerInfo(
        "adamqlr",
        "AdamQLR",
        {
            "b1": Parameter(0.9, 0.0, 0.999, label="β₁"),
            "b2": Parameter(0.999, 0.0, 0.99999, label="β₂"),
            "eps": Parameter(1e-8, 1e-12, 1.0, log=True, label="ε"),
            "damping": Parameter(1e-3, 1e-8, 1e4, log=True, label="initial damping λ₀"),
            "max_learning_rate": Parameter(0.1, 1e-4, 10.0, log=True, label="step clip α_max"),
        },
        {},
        needs=frozenset({"ggn_vp", "value_fn"}),
        order="second",
    ),
    "kfac": OptimizerInfo(
        "kfac",
        "K-FAC",
        {
            "learning_rate": Parameter(1.0, 1e-5, 10.0, log=True, label="learning rate α (fixed step)"),
            "momentum": Parameter(0.0, 0.0, 0.999, label="momentum μ (fixed step)"),
            "damping": Parameter(1.0, 1e-8, 1e4, log=True, label="damping λ (initial when adaptive)"),
            "curvature_ema": Parameter(0.95, 0.0, 0.999, label="curvature EMA decay"),
            "inverse_interval": Parameter(5, 1, 100, integer=True, label="inverse refresh every T_inv steps"),
            "damping_interval": Parameter(5, 1, 100, integer=True, label="damping adapted every T_λ steps"),
            "damping_decay": Parameter(0.9, 0.5, 0.999, label="damping decay ω (per step)"),
        },
        {
            "adaptive": SWITCH(True),
            "adaptive_step": Parameter(True, 0, 1, integer=True, label="α and μ from the quadratic model"),
            "fisher": Parameter(0, 0, 2, integer=True, label="Fisher: 0 sampled, 1 empirical, 2 exact"),
        },
        needs=frozenset({"dense_layers", "ggn_vp", "value", "value_fn"}),
        order="second",
    ),
    "yogi": OptimizerInfo(
        "yogi",
        "Yogi",
        {
            "learning_rate": learning_rate(0.05),
            "b1": Parameter(0.9, 0.0, 0.999, label="β₁"),
            "b2": Parameter(0.999, 0.0, 0.99999, label="β₂"),
            "eps": Parameter(1e-3, 1e-12, 1.0, log=True, label="ε"),
            "initial_accumulator_value": Parameter(1e-6, 1e-12, 1.0, log=True, label="initial moments m₀ = v₀"),
        },
        {},
    ),
    "adadelta": OptimizerInfo(
        "adadelta",
        "AdaDelta",
        {
            "learning_rate": learning_rate(1.0),
            "rho": Parameter(0.9, 0.0, 0.9999, label="decay ρ"),
            "eps": Parameter(1e-6, 1e-12, 1.0, log=True, label="ε"),
        },
        {},
    ),
    "parabola": OptimizerInfo(
        "parabola",
        "Parabola along the momentum (Duda)",
        {
            "learning_rate": learning_rate(0.1),
            "momentum": MOMENTUM,
            "decay": Parameter(0.9, 0.0, 0.9999, label="EMA β of the fit"),
            "step_fraction": Parameter(1.0, 0.0, 2.0, label="fraction η of the way to the vertex"),
            "max_step": Parameter(1.0, 1e-4, 100.0, log=True, label="step clip along v̂"),
        },
        {},
        order="second",
    ),
}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Optimizer:
    """An optimizer by name: numeric hyperparameters traced, options static."""

    name: str = dataclasses.field(metadata=dict(static=True))
    hyperparams: dict[str, Any]
    options: tuple[tuple[str, Any], ...] = dataclasses.field(default=(), metadata=dict(static=True))

    @property
    def info(self) -> OptimizerInfo:
        return OPTIMIZERS[self.name]

    @property
    def transformation(self):
        return self.info.factory(**self.hyperparams, **dict(self.options))

    def init(self, params):
        return self.transformation.init(params)

    def update(self, updates, state, params=None, **extra_args):
        return self.transformation.update(updates, state, params, **extra_args)

    def replace(self, **hyperparams) -> "Optimizer":
        return get_optimizer(self.name, **{**self.hyperparams, **dict(self.options), **hyperparams})


def get_optimizer(name: str, **settings) -> Optimizer:
    """Build an optimizer by name; unknown names and out-of-range values raise ``ValueError``."""
    info = choose("optimizer", name, OPTIMIZERS)
    allowed = {**info.hyperparameters, **info.options}
    values = validate(name, settings, allowed)
    options = tuple(
        (key, bool(values[key]) if isinstance(spec.default, bool) else values[key]) for key, spec in info.options.items()
    )
    hyperparams = {key: values[key] for key in info.hyperparameters}
    if "memory_size" in hyperparams and hyperparams["memory_size"] > dict(options)["memory_capacity"]:
        raise ValueError(f"memory_size must not exceed memory_capacity ({dict(options)['memory_capacity']})")
    return Optimizer(name, hyperparams, options)
