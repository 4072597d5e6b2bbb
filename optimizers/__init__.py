"""Optimizers on pytrees, in optax's ``init``/``update`` protocol, and the
engine that runs them on landscapes.

>>> from landscapes import get_landscape
>>> from optimizers import get_optimizer, run_trajectory
>>> traj = run_trajectory(get_landscape("quadratic"), get_optimizer("gd", learning_rate=1.0), steps=100)
>>> traj.params.shape
(101, 2)

Each optimizer lives in its own module, whose docstring states its update and
its source. ``update`` takes, beyond optax's ``(updates, state, params)``, the
keyword arguments a method needs: ``value`` (loss), ``value_fn`` (the same
minibatch's loss as a function of θ), ``hvp`` (v ↦ Hv), ``ggn_vp`` (v ↦ Gv).
"""

from optimizers.adagrad import adagrad
from optimizers.adam import adam
from optimizers.adamqlr import adamqlr
from optimizers.curvature import (
    dense_matrix,
    gauss_newton_vector_product,
    ggn_vector_product,
    hessian_vector_product,
)
from optimizers.damped_ggn import damped_ggn
from optimizers.gd import gd
from optimizers.lbfgs import lbfgs
from optimizers.line_search import LINE_SEARCHES
from optimizers.mlbfgs import mlbfgs
from optimizers.momentum import momentum
from optimizers.nesterov import nesterov
from optimizers.newton import newton
from optimizers.rmsprop import rmsprop
from optimizers.saddle_free_newton import saddle_free_newton
from optimizers.registry import OPTIMIZERS, Optimizer, OptimizerInfo, get_optimizer
from optimizers.engine import Trajectory, run_trajectories, run_trajectory, scan_length

__all__ = [
    "LINE_SEARCHES",
    "OPTIMIZERS",
    "Optimizer",
    "OptimizerInfo",
    "Trajectory",
    "adagrad",
    "adam",
    "adamqlr",
    "damped_ggn",
    "dense_matrix",
    "gauss_newton_vector_product",
    "gd",
    "get_optimizer",
    "ggn_vector_product",
    "hessian_vector_product",
    "lbfgs",
    "mlbfgs",
    "momentum",
    "nesterov",
    "newton",
    "rmsprop",
    "run_trajectories",
    "run_trajectory",
    "saddle_free_newton",
    "scan_length",
]
