import os
import shutil
import sys
import tempfile
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One XLA compilation cache for the whole run, empty when it starts: a program that one worker, or an
# app server a browser test started, has compiled is loaded by the others instead of compiled again
# (they share most of the engine's programs). Set before anything imports JAX, which reads it then; a
# new directory per run, so that every run compiles as a fresh checkout does (the app's own .jax_cache/
# is not used). A program loaded from it still counts as compiled (test_engine, count_compilations).
# The run's name is made by the pytest process that starts it, which imports this file before it
# starts its xdist workers: they inherit it, and the run removes the directory when it ends.
RUN = os.environ.setdefault("APP_TESTS_RUN", uuid.uuid4().hex)
JAX_CACHE = os.path.join(tempfile.gettempdir(), f"optimization-app-tests-{RUN}", "jax_cache")
os.environ["JAX_COMPILATION_CACHE_DIR"] = JAX_CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def pytest_sessionfinish(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the run itself, not one of its workers
        shutil.rmtree(os.path.dirname(JAX_CACHE), ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    """One real app server and one headless Chromium for every end-to-end test."""
    from app_server import ARTIFACTS, AppServer, Browser

    ARTIFACTS.mkdir(exist_ok=True)
    server = AppServer()
    chromium = Browser(server, extra_args=("--enable-unsafe-swiftshader",))  # WebGL for the 3-D view
    yield chromium
    chromium.close()
    server.stop()


MAP_LIMIT = "/proc/sys/vm/max_map_count"


def _memory_maps() -> int:
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


@pytest.fixture(scope="module", autouse=True)
def release_compiled_programs():
    """Every XLA CPU executable holds memory maps of its own, and the kernel caps a process's maps
    (vm.max_map_count, 65,530 by default): past the cap the next compile crashes inside XLA. The whole
    suite in one process passes it; split over two workers (scripts/test.sh) each stays well below.
    As a safety net, after a test module that leaves the maps over 80 % of the cap, JAX's compiled
    programs are released (the next module compiles what it needs anew)."""
    yield
    if not os.path.exists(MAP_LIMIT):
        return
    with open(MAP_LIMIT) as limit:
        cap = int(limit.read())
    if _memory_maps() > cap * 0.8:
        import gc

        import jax

        jax.clear_caches()
        gc.collect()
