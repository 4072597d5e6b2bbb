"""Data parallelism (``scaleup.parallel``): with each minibatch split over four devices, every optimizer
trains to the same losses as on one device, to float tolerance. The devices are four CPU devices that
XLA makes of the host (``--xla_force_host_platform_device_count``), in a process of its own because the
flag must be set before JAX starts; the process is tests/data_parallel_losses.py.

The runs are ten steps long: a split batch sums in another order, and over longer runs those rounding
differences grow at each method's own rate, as they would between two machines (the damped GGN's
conjugate gradients amplify them most: from 1e-7 to 2 % of the loss in 20 steps on the teacher task)."""

import atexit
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optimizers import OPTIMIZERS
from scaleup import load_task, model_for, make_optimizer, train

HERE = Path(__file__).parent
DEVICES = 4
# Every optimizer on a classification task (softmax cross-entropy, K-FAC's sampled Fisher); the ones with
# a likelihood-specific path (Gauss–Newton products, K-FAC's factors) on a regression task too.
RUNS = [f"spirals/{name}" for name in OPTIMIZERS] + [f"teacher/{name}" for name in ("gd", "damped_ggn", "kfac")]


def _start() -> subprocess.Popen:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    process = subprocess.Popen([sys.executable, str(HERE / "data_parallel_losses.py"), *RUNS], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    atexit.register(process.kill)  # when these tests are deselected, or the suite stops early
    return process


# In a single pytest process, started when pytest imports this file while it collects the suite: the
# process, mostly compiling on one core, then runs beside the tests before it instead of adding its
# minute to the suite's time. Under pytest-xdist every worker imports every file, so there it starts
# when the worker that runs these tests first asks for it.
FOUR_DEVICES = None if os.environ.get("PYTEST_XDIST_WORKER") else _start()


@pytest.fixture(scope="module")
def four_devices() -> dict:
    process = FOUR_DEVICES or _start()
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout)


def test_the_process_has_four_devices(four_devices):
    assert four_devices["devices"] == DEVICES


@pytest.mark.parametrize("run", RUNS)
def test_split_minibatches_train_like_one_device(four_devices, run):
    single, split = four_devices["runs"][run]["single"], four_devices["runs"][run]["split"]
    assert (single["devices"], split["devices"]) == (1, DEVICES)
    assert split["per_device_batch"] == 64 // DEVICES
    assert split["all_reduce"] and not single["all_reduce"]  # the split program sums over the devices
    assert np.isfinite(single["loss"]).all()
    np.testing.assert_allclose(split["loss"], single["loss"], rtol=2e-5, atol=1e-7)


def test_on_one_device_nothing_is_split():
    data = load_task("spirals", seed=0)
    run = train(model_for(data.info, width=8, depth=1), data, make_optimizer("gd"), 10, 64, 10, data_parallel=None)
    assert (run.devices, run.per_device_batch, run.mesh) == (1, 64, None)


def test_a_batch_the_devices_do_not_divide_trains_on_one_device_unless_insisted_on(four_devices):
    uneven = four_devices["uneven"]
    assert uneven["devices"] == 1
    assert uneven["refusal"] == "a minibatch of 63 examples does not split evenly over 4 devices; choose a multiple of 4"


def test_the_page_says_how_each_minibatch_is_split(four_devices):
    lines = four_devices["page"]
    assert "**Devices:** 4 × CPU" in lines["128"]
    assert "each minibatch of 128 is split into 4 × 32, one part per device" in lines["128"]
    whole = lines["n_train"]
    if whole % 4:
        assert f"a minibatch of {whole} does not split evenly over 4, so it trains on one device" in lines["0"]
    else:
        assert f"each minibatch of {whole} is split into 4 × {whole // 4}" in lines["0"]
    assert "a minibatch of 30 does not split evenly over 4, so it trains on one device" in lines["30"]
