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
minibatch's loss as a function of θ), ``hvp`` (v ↦ Hv), ``ggn_vp`` (v ↦ Gv),
``dense_layers`` (K-FAC: each dense layer's inputs and output gradients, from
``dense_layer_statistics``).
"""

from optimizers.adadelta import adadelta
from optimizers.adagrad import adagrad
from optimizers.adam import adam
from optimizers.adamqlr import adamqlr
from optimizers.curvature import (
    dense_layer_statistics,
    dense_matrix,
    gauss_newton_vector_product,
    ggn_vector_product,
    hessian_vector_product,
)
from optimizers.damped_ggn import damped_ggn
from optimizers.gd import gd
from optimizers.kfac import kfac
from optimizers.lbfgs import lbfgs
from optimizers.line_search import LINE_SEARCHES
from optimizers.mlbfgs import mlbfgs
from optimizers.momentum import momentum
from optimizers.nesterov import nesterov
from optimizers.newton import newton
from optimizers.parabola import parabola
from optimizers.rmsprop import rmsprop
from optimizers.saddle_free_newton import saddle_free_newton
from optimizers.yogi import yogi
from optimizers.registry import OPTIMIZERS, Optimizer, OptimizerInfo, get_optimizer
from optimizers.engine import Trajectory, run_trajectories, run_trajectory, scan_length
from optimizers.schedules import SCHEDULES, Scheduled, learning_rates, schedule_curve, scheduled, with_schedule
from optimizers.averaging import (
    AVERAGING,
    Averaged,
    averaged_iterate,
    averaged_path,
    averaging,
    find_average,
    with_averaging,
)

__all__ = [
    "AVERAGING",
    "Averaged",
    "LINE_SEARCHES",
    "OPTIMIZERS",
    "Optimizer",
    "OptimizerInfo",
    "SCHEDULES",
    "Scheduled",
    "Trajectory",
    "adadelta",
    "adagrad",
    "adam",
    "adamqlr",
    "averaged_iterate",
    "averaged_path",
    "averaging",
    "damped_ggn",
    "dense_layer_statistics",
    "dense_matrix",
    "find_average",
    "gauss_newton_vector_product",
    "gd",
    "get_optimizer",
    "ggn_vector_product",
    "hessian_vector_product",
    "kfac",
    "learning_rates",
    "lbfgs",
    "mlbfgs",
    "momentum",
    "nesterov",
    "newton",
    "parabola",
    "rmsprop",
    "run_trajectories",
    "run_trajectory",
    "saddle_free_newton",
    "scan_length",
    "schedule_curve",
    "scheduled",
    "with_averaging",
    "with_schedule",
    "yogi",
]
