"""Run by tests/test_data_parallel.py in a process of its own, started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the flag must be set before JAX starts):
every optimizer trains the same network twice, on one device and with each minibatch split over the
four, and the per-step losses of both go to stdout as JSON."""

import json
import sys

import jax
import numpy as np

from scaleup import load_task, make_optimizer, model_for, train

STEPS, CHUNK, BATCH = 10, 5, 64  # two chunks: the state carries over between them


def losses(task: str, name: str, data_parallel: bool) -> dict:
    data = load_task(task, seed=0)
    run = train(model_for(data.info, width=8, depth=1), data, make_optimizer(name), STEPS, BATCH, CHUNK, seed=0,
                data_parallel=data_parallel)  # fmt: skip
    program = run._run.as_text()
    return {"loss": np.asarray(run.loss_curve, np.float64).tolist(), "devices": run.devices,
            "per_device_batch": run.per_device_batch, "all_reduce": "all-reduce" in program}  # fmt: skip


def uneven_batch() -> dict:
    """A minibatch of 63 over four devices: on one device by default, refused when insisted on."""
    data = load_task("spirals", seed=0)
    model = model_for(data.info, width=8, depth=1)
    default = train(model, data, make_optimizer("gd"), CHUNK, 63, CHUNK)
    try:
        train(model, data, make_optimizer("gd"), CHUNK, 63, CHUNK, data_parallel=True)
        refusal = None
    except ValueError as error:
        refusal = str(error)
    return {"devices": default.devices, "refusal": refusal}


def page_lines() -> dict:
    """What the Scale-up page says about the devices, for a batch they divide, one they do not, and the whole set."""
    from ui.scale_up import Settings, device_line

    data = load_task("digits", seed=0)
    settings = lambda batch: Settings("", "digits", 1, 16, "tanh", batch, 100, 0, ())  # noqa: E731
    return {"n_train": data.n_train, **{str(batch): device_line(settings(batch), data) for batch in (128, 0, 30)}}


def main(runs: list[str]):
    """``runs``: task/optimizer pairs."""
    out = {"devices": jax.device_count(), "runs": {}, "uneven": uneven_batch(), "page": page_lines()}
    for run in runs:
        task, name = run.split("/")
        out["runs"][run] = {"single": losses(task, name, False), "split": losses(task, name, True)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
