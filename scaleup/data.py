"""The tasks of the scale-up page: two synthetic sets made on the fly and one
small real set shipped in the repository (``data/digits.npz``; origin and
licence in ``data/README.md``). Nothing is downloaded.

* ``spirals``  two interleaved noisy spirals in the plane, 2 classes;
* ``teacher``  regression on the outputs of a fixed random tanh network
  (8 inputs, 32 hidden units) plus noise: the student can fit it exactly;
* ``wave``     1-D regression, y = sin(2x) + 0.3x + noise on [−3, 3];
* ``digits``   1797 handwritten digits, 8×8 pixels scaled to [0, 1], 10 classes.

Every task is split once into a training part and a held-out part (20 %),
with the seed; the arrays live on the default device (the GPU when there is one).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from scaleup.mlp import init_mlp, mlp

DISTRIBUTION = "optimization-in-deep-learning"  # pyproject.toml's name: pip installs data/ under share/<it>/


def _data_dir() -> Path:
    """``data/`` beside the packages (a checkout, or ``pip install -e .``), else where ``pip install`` put it."""
    checkout = Path(__file__).resolve().parent.parent / "data"
    installed = Path(sys.prefix) / "share" / DISTRIBUTION / "data"
    return checkout if (checkout / "digits.npz").exists() or not installed.exists() else installed


DATA_DIR = _data_dir()
HELD_OUT_FRACTION = 0.2


class TaskInfo(NamedTuple):
    name: str
    title: str
    kind: str  # "classification" (softmax cross-entropy) or "regression" (squared error)
    n_inputs: int
    n_outputs: int  # classes, or regression targets
    description: str


TASKS: dict[str, TaskInfo] = {
    "spirals": TaskInfo("spirals", "Two spirals", "classification", 2, 2, "two interleaved noisy spirals, 1000 points"),
    "teacher": TaskInfo(
        "teacher", "Teacher network", "regression", 8, 1, "outputs of a random 8–32–1 tanh network plus noise, 2000 points"
    ),
    "wave": TaskInfo("wave", "1-D wave", "regression", 1, 1, "y = sin(2x) + 0.3x + noise on [−3, 3], 1000 points"),
    "digits": TaskInfo(
        "digits", "Handwritten digits (8×8)", "classification", 64, 10, "1797 UCI digits as shipped with scikit-learn"
    ),
}


class Dataset(NamedTuple):
    info: TaskInfo
    x_train: jax.Array
    y_train: jax.Array  # int32 labels (classification) or float32 (n, n_outputs) targets
    x_test: jax.Array
    y_test: jax.Array

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def arrays(self):
        """(x_train, y_train): what the training chunks take."""
        return self.x_train, self.y_train


def two_spirals(n: int = 1000, noise: float = 0.15, turns: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform density along the arms
    angle = 2 * np.pi * turns * t + np.pi * labels
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) * 2.0
    x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), labels.astype(np.int32)


def teacher_regression(n: int = 2000, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    teacher = init_mlp(jax.random.key(10_000 + seed), (8, 32, 1), "tanh")
    y = np.asarray(mlp(teacher, jnp.asarray(x), "tanh"))
    return x, (y + noise * rng.standard_normal(y.shape)).astype(np.float32)


def wave(n: int = 1000, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, (n, 1))
    y = np.sin(2 * x) + 0.3 * x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), y.astype(np.float32)


def digits():
    with np.load(DATA_DIR / "digits.npz") as f:
        return (f["images"].astype(np.float32) / 16.0), f["labels"].astype(np.int32)


def load_task(name: str, seed: int = 0) -> Dataset:
    """The task's data, split into training and held-out parts by the seed."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    x, y = {
        "spirals": lambda: two_spirals(seed=seed),
        "teacher": lambda: teacher_regression(seed=seed),
        "wave": lambda: wave(seed=seed),
        "digits": digits,
    }[name]()
    order = np.random.default_rng(seed + 1).permutation(len(x))
    n_test = int(round(HELD_OUT_FRACTION * len(x)))
    test, train = order[:n_test], order[n_test:]
    put = lambda a: jnp.asarray(a)  # noqa: E731  (onto the default device once)
    return Dataset(TASKS[name], put(x[train]), put(y[train]), put(x[test]), put(y[test]))
