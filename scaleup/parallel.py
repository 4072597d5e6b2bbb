"""Data parallelism over every local device, with ``jax.sharding``.

A one-axis ``Mesh`` over ``jax.devices()``: each minibatch is split along it
(``P("batch")``), while the parameters, the optimizer's state and the
training set stay replicated (``P()``). Nothing else changes in the training
step: XLA partitions the jitted chunk, so each device computes the loss and
its derivatives on its own part of the minibatch, and every mean over the
batch — the gradient, K-FAC's factors A = E[ā āᵀ] and G = E[g gᵀ], the
Gauss–Newton products, the loss mL-BFGS and the damping rules see — becomes
an all-reduce inside the same program. The update is then the same on every
device, so the replicated parameters stay identical.

On one device there is no mesh and the program is the single-device one. A
minibatch that does not split evenly over the devices is trained on one
device (``mesh_for`` with ``required=False``) or refused (``required=True``).

Several hosts: call ``jax.distributed.initialize()`` first on every host (it
reads the coordinator's address, the number of processes and this process's
index from the cluster's environment, or takes them as arguments); then
``jax.devices()`` lists every host's devices and the same mesh spans them all.
Each host must then hold the same training set and draw the same minibatch
order (the trainer's shuffles come from the seed, so they do), since every
replicated array is placed from each host's own copy. Only one host (with one
device, or four forced CPU devices) was available to test this module; the
several-host path has not been run.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


def mesh_for(batch: int, required: bool = False) -> Mesh | None:
    """The mesh to split minibatches of ``batch`` examples over every device, or None for one device
    (only one device, or — unless ``required`` — a batch the devices do not divide)."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    if batch % len(devices):
        if required:
            raise ValueError(
                f"a minibatch of {batch} examples does not split evenly over {len(devices)} devices; "
                f"choose a multiple of {len(devices)}"
            )
        return None
    return Mesh(devices, (BATCH_AXIS,))


def batch_split(batch: int, n_train: int, data_parallel: bool | None = None) -> tuple[Mesh | None, int, int]:
    """(mesh, devices, per-device batch) for minibatches of ``batch`` (0, or at least ``n_train``: the whole
    set); ``data_parallel`` None: split when the devices divide the batch, True: insist, False: one device."""
    batch = batch if 0 < batch < n_train else n_train
    mesh = None if data_parallel is False else mesh_for(batch, required=bool(data_parallel))
    devices = 1 if mesh is None else mesh.size
    return mesh, devices, batch // devices


def replicated(tree: Any, mesh: Mesh | None) -> Any:
    """``tree`` placed whole on every device of ``mesh`` (unchanged without one)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def split_batch(tree: Any, mesh: Mesh | None) -> Any:
    """Inside the jitted step: each array of ``tree`` split along its first (example) axis over the mesh."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, PartitionSpec(BATCH_AXIS)))


def keep_replicated(tree: Any, mesh: Mesh | None) -> Any:
    """Inside the jitted step: ``tree`` (the new parameters and state) whole on every device."""
    if mesh is None:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, PartitionSpec()))
