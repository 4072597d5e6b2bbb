"""The app's frame: which pages exist, embedding, and the optional per-rerun timing log.

``APP_BENCHMARK_LOG=<file>`` makes every rerun (of a page, or of a fragment
alone) append one JSON line ``{"page", "seconds", "compilations"}`` (XLA
compilations during the rerun),
which ``benchmarks/latency.py`` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent

# (file, title, icon): a page is listed once its file exists, so the app runs while pages are being written.
PAGES = (
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/explorer.py", "Landscape Explorer", ":material/landscape:"),
    ("pages/eigenspace.py", "Eigenspace", ":material/ssid_chart:"),
    ("pages/scale_up.py", "Scale-up", ":material/trending_up:"),
    ("pages/curvature.py", "Network curvature", ":material/grid_on:"),
)


def existing_pages() -> list[tuple[str, str, str]]:
    return [page for page in PAGES if (ROOT / page[0]).exists()]


def navigation_pages() -> list:
    return [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(existing_pages())]


def run_through_entrypoint():
    """Call first on every page: make sure the page runs inside ``app.py``'s navigation.

    Because a ``pages/`` folder sits beside ``app.py``, Streamlit starts in its
    legacy multipage mode, and until some session has run ``app.py`` (which
    calls ``st.navigation`` and so ends that mode for the whole server), a
    first visitor who opens ``/explorer`` directly gets the page alone: no
    page config, the folder's file names as navigation. Leave that mode and
    rerun; the rerun goes through ``app.py`` to the same page (same URL path).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def is_embedded() -> bool:
    """``?embed=true`` in the URL (Streamlit keeps it out of ``st.query_params``)."""
    return bool(st.context.is_embedded)


def use_compile_cache():
    """Keep XLA's compiled programs in ``.jax_cache/`` inside the repository (git-ignored).

    A restarted server then loads the first view's programs from disk instead of
    compiling them again (seconds per optimizer on a small CPU). Set through the
    environment, which JAX reads when it is first imported, so a page that
    needs no JAX (Home) does not import it."""
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".jax_cache"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


_compilations = [0]


@st.cache_resource
def _count_compilations():
    import jax

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            _compilations[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    return True


_logging = threading.local()  # inside a logged run: a fragment run as part of its page's is not logged apart


@contextlib.contextmanager
def benchmark_log(name: str):
    """One log line for the run of page or fragment ``name`` inside (unless it is part of a logged run)."""
    path = os.environ.get("APP_BENCHMARK_LOG")
    if not path or getattr(_logging, "active", False):
        yield
        return
    _count_compilations()
    compiled, started = _compilations[0], time.perf_counter()
    _logging.active = True
    try:
        yield
    finally:
        _logging.active = False
        entry = dict(page=name, seconds=time.perf_counter() - started, compilations=_compilations[0] - compiled)
        with open(path, "a") as log:
            log.write(json.dumps(entry) + "\n")
