"""Running the app's pages under ``streamlit.testing.v1.AppTest`` and checking what they draw."""

from __future__ import annotations

import base64
import functools
import json
import math
import re

import numpy as np

APP = "../app.py"  # relative to this folder, as AppTest resolves it
TIMEOUT = 180  # seconds per run: a first visit compiles the JAX programs


def open_page(page: str, query: dict | None = None, run: bool = True):
    """``app.py`` switched to ``page`` (e.g. ``"pages/explorer.py"``) with ``query`` in the URL."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if run:
        at.run()
    return at


def numbers_in(node):
    """Every number of a plotly figure's JSON, typed arrays (base64) decoded."""
    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            yield from np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"])).astype(float)
            return
        for value in node.values():
            yield from numbers_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from numbers_in(value)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield float(node)


def chart_elements(at) -> list:
    """The page's charts (``ui.chart``): not the sweeps' data (``chart.sweep_data``) nor the element
    that has the browser load plotly.js (``chart.preload_plotly``), which show nothing."""
    return [element for element in at.get("bidi_component") if "figure" in json.loads(element.proto.bytes)]


def figures(at) -> list[dict]:
    """The plotly figures on the page (``ui.chart``), as their JSON specs."""
    return [json.loads(element.proto.bytes)["figure"] for element in chart_elements(at)]


def check_page(at, charts: int = 1, gaps: bool = False) -> list[dict]:
    """No exception, at least ``charts`` figures, and nothing non-finite in any figure's data.

    ``gaps``: NaN is allowed, as plotly's break between line pieces (the seeds of a
    cloud, the steps after a run diverged); infinities never are."""
    assert not at.exception, [e.value for e in at.exception]
    specs = figures(at)
    assert len(specs) >= charts, f"{len(specs)} charts drawn, {charts} expected"
    for spec in specs:
        values = np.fromiter(numbers_in(spec["data"]), float)
        drawn = values[~np.isnan(values)] if gaps else values
        assert drawn.size and np.all(np.isfinite(drawn)), "a figure carries a non-finite value"
    return specs


def trace_names(spec: dict) -> set[str]:
    return {trace.get("name") for trace in spec["data"] if trace.get("name")}


def plain(text: str) -> str:
    """A note as the reader sees it: the page escapes every punctuation mark so that Markdown shows it as is."""
    return re.sub(r"\\(.)", r"\1", text)


def notes(at) -> list[str]:
    """The page's warnings, as plain text."""
    return [plain(w.value) for w in at.warning]


def link(at) -> dict[str, list[str]]:
    """The page's address-bar query as the app wrote it, each key with the list of its values."""
    return {key: value if isinstance(value, list) else [value] for key, value in at.query_params.items()}


# --- a lesson's numbers ------------------------------------------------------------------------------
TEXT_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")


def claimed_numbers(value) -> list[float]:
    """Every number in a lesson's claims (lists and tables walked; true/false are not numbers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in claimed_numbers(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in claimed_numbers(item)]
    return []


def unclaimed_numbers(lesson) -> list[float]:
    """The numbers a lesson's title and text say that none of its claims holds (so no test checks them)."""
    claimed = claimed_numbers(list(lesson.claims))
    said = [float(text.replace(",", "")) for text in TEXT_NUMBER.findall(f"{lesson.view.title} {lesson.view.text}")]
    return [n for n in said if not any(math.isclose(n, c) for c in claimed)]


# --- a Scale-up or Network curvature lesson's network, as the page builds it ---------------------------
def lesson_change(claim: dict) -> tuple:
    """A claim's ``change`` (controls moved from the lesson's view) as a hashable tuple."""
    return tuple(sorted(claim.get("change", {}).items()))


@functools.cache
def dataset(task: str, seed: int):
    from scaleup import load_task

    return load_task(task, seed)


def network(state: dict):
    """The dataset and model a view state (``task``, ``seed``, ``width``, ``depth``, ``activation``) names."""
    from scaleup import model_for

    data = dataset(state["task"], state["seed"])
    return data, model_for(data.info, width=state["width"], depth=state["depth"], activation=state["activation"])
