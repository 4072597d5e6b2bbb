"""Training small MLPs with the app's optimizers: models (``mlp``), tasks
(``data``) and jitted, timed training in chunks (``training``).

>>> from scaleup import load_task, model_for, make_optimizer, train
>>> ds = load_task("spirals")
>>> run = train(model_for(ds.info, width=16, depth=2), ds, make_optimizer("adam"), steps=200, batch_size=128)
>>> run.evaluations[-1]["test_accuracy"] > 0.6
True
"""

from scaleup.data import TASKS, Dataset, TaskInfo, load_task
from scaleup.mlp import ACTIVATIONS, init_mlp, layer_sizes, mlp, parameter_count
from scaleup.training import (
    MLP_DEFAULTS,
    NEWTON_MAX_PARAMETERS,
    Model,
    Run,
    check_supported,
    compile_chunk,
    device_description,
    evaluate,
    make_optimizer,
    model_for,
    train,
)

__all__ = [
    "ACTIVATIONS",
    "MLP_DEFAULTS",
    "NEWTON_MAX_PARAMETERS",
    "TASKS",
    "Dataset",
    "Model",
    "Run",
    "TaskInfo",
    "check_supported",
    "compile_chunk",
    "device_description",
    "evaluate",
    "init_mlp",
    "layer_sizes",
    "load_task",
    "make_optimizer",
    "mlp",
    "model_for",
    "parameter_count",
    "train",
]
