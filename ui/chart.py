"""Plotly figures that redraw in place: ``chart(figure, key=...)``.

``st.plotly_chart`` counts a figure's whole specification as part of the
element's identity, so every changed figure is a new element: the browser
throws the old chart away and plotly builds the new one from nothing, twice
(once before its width is known). Moving a slider then cost several times
the framework's own round trip. This element keeps the identity its ``key``
gives it and hands each new figure to ``Plotly.react``, which keeps the
chart's DOM; a figure that changes only some scatter traces' points, names and
hover texts (a run's setting moved) has just those redrawn in place, without
plotly's full redraw of every trace.

The browser side is ``chart.js`` (with ``chart.css``) beside this file, which
each tab imports once from the app's static folder (``chart_loader``).
plotly.js itself is served from the app's static folder
(``server.enableStaticServing`` in ``.streamlit/config.toml``), one per browser
tab: plotly.js's cartesian bundle while every figure is 2-D (fetched by
``scripts/setup.sh``), the full copy that ships with the pinned ``plotly``
package once a figure has a 3-D trace, or from the start without the former.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import plotly
import plotly.io as pio
import streamlit as st
from _plotly_utils.utils import to_typed_array_spec
from streamlit.components.v2 import component

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"  # served at app/static/
JS = (HERE / "chart.js").read_text(encoding="utf-8")  # the browser side: draws, redraws in place, plays back, reports clicks
CSS = (HERE / "chart.css").read_text(encoding="utf-8")  # the playback bar
SHORT_ARRAY = 16  # shorter arrays go as plain lists (axis ranges must; base64 saves nothing)
FONT = '"Source Sans", sans-serif'  # Streamlit's own
# Replaces any plotly template: light grid lines on white, as the rest of the page.
TEMPLATE = {
    "layout": {
        "font": {"family": FONT, "color": "#31333f"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "xaxis": {"gridcolor": "#e6e9ef", "zerolinecolor": "#d5dae5", "linecolor": "#d5dae5", "automargin": True},
        "yaxis": {"gridcolor": "#e6e9ef", "zerolinecolor": "#d5dae5", "linecolor": "#d5dae5", "automargin": True},
        "hoverlabel": {"font": {"family": FONT}},
    }
}


def _publish(name: str, write: Callable[[str], None]) -> str:
    """``write(path)`` makes the static folder's file ``name``, unless it is there; its path under the app's URL."""
    target = STATIC / name
    if not target.exists():
        STATIC.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=STATIC, delete=False) as copy:  # two servers may start at once
            try:
                write(copy.name)
            except BaseException:
                os.unlink(copy.name)
                raise
        os.replace(copy.name, target)
    return f"app/static/{name}"


@functools.cache
def publish_plotly_js() -> str:
    """Put the pinned plotly.js in the static folder (once); its path under the app's URL."""
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return _publish(f"plotly-{plotly.__version__}.min.js", lambda path: shutil.copyfile(bundled, path))


@functools.cache
def publish_chart_module() -> str:
    """Put ``chart.js`` in the static folder under a name with its content's hash (once): a browser keeps
    a module it has imported by its URL, so a changed file has a new name; its path under the app's URL."""
    name = f"chart-{hashlib.sha256(JS.encode()).hexdigest()[:12]}.js"
    return _publish(name, lambda path: Path(path).write_bytes(JS.encode()))


def chart_loader() -> str:
    """What each chart element carries as its script: an import of ``chart.js`` from the static folder.

    Streamlit sends an element's script with every element, on every rerun; ``chart.js`` itself
    (37 kB) would be sent again for each chart a rerun draws, and the loader is a few lines. The
    browser fetches and evaluates the module once per tab. Where the static folder cannot be written,
    every element carries ``chart.js`` itself: the same charts, with more bytes per rerun."""
    try:
        src = json.dumps(publish_chart_module())
    except OSError:
        return JS
    return f"""// ui/chart.js, from the app's static folder (ui/chart.py, chart_loader); asked for again after a failure
const url = new URL({src}, document.baseURI).href;
let loading = null;
export default async function (component) {{
  loading ??= import(url).catch((error) => {{
    loading = null;
    throw new Error(`ui/chart.js did not load from ${{url}} (is server.enableStaticServing on?): ${{error.message}}`);
  }});
  return (await loading).default(component);
}}
"""


# The trace types of plotly.js's cartesian bundle (plotly.js-cartesian-dist-min: its README), which
# scripts/fetch_plotly_cartesian.py puts in the static folder: 1.5 MB of script against the full
# bundle's 4.8 MB, and every type the app's 2-D charts draw.
CARTESIAN_TRACES = frozenset({
    "bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "pie",
    "scatter", "scatterternary", "violin",
})  # fmt: skip


@functools.cache
def plotly_js_version() -> str:
    """The version of the pinned plotly package's plotly.js, as its first line names it ("4.1.1")."""
    with open(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", "rb") as bundle:
        return re.search(rb"plotly\.js v(\S+)", bundle.read(200)).group(1).decode()


def plotly_bundle(figure: dict, playback: dict | None = None) -> str:
    """The plotly.js that ``figure`` (a figure's dict, with its frames; ``playback``: the frames of its
    playback) needs: "cartesian" when all its traces are of the cartesian bundle's types, else "full"
    (a 3-D trace: scatter3d, surface). A trace without a type is a scatter; a frame's keeps its own."""
    frames = [*figure.get("frames", ()), *(playback or {}).get("frames", ())]
    types = {trace.get("type", "scatter") for trace in figure.get("data", ())}
    types.update(trace["type"] for frame in frames for trace in frame.get("data", ()) if "type" in trace)
    return "cartesian" if types <= CARTESIAN_TRACES else "full"


def plotly_js(bundle: str) -> dict:
    """The plotly.js for a figure that needs ``bundle``: which one, and its path under the app's URL.
    The full bundle when the cartesian one is not in the static folder (``scripts/setup.sh`` fetches
    it when it can): looked for at every call, a stat, so a server started before it was fetched
    serves it from then on."""
    name = f"plotly-cartesian-{plotly_js_version()}.min.js"
    if bundle == "cartesian" and (STATIC / name).exists():
        return {"bundle": "cartesian", "src": f"app/static/{name}"}
    return {"bundle": "full", "src": publish_plotly_js()}


def _array_as_json(value):
    """NumPy values for ``json.dumps``: arrays as plotly.js typed arrays (base64), as plotly.py sends them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        spec = to_typed_array_spec(value) if value.size >= SHORT_ARRAY else value
        return spec if isinstance(spec, dict) else spec.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: dict) -> bytes:
    """``message`` as compact JSON. Only the NumPy arrays are visited, unlike plotly's encoder,
    which walks every list and dict of the figure; a NaN outside an array (which JSON cannot
    carry) falls back to plotly's encoder, which writes it as null."""
    try:
        return json.dumps(message, default=_array_as_json, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:
        return pio.json.to_json_plotly(message).encode()


_component = component("app_chart", js=chart_loader(), css=CSS, isolate_styles=False)


def chart(
    figure,
    *,
    key: str,
    config: dict | None = None,
    on_click: Callable[[], None] | None = None,
    scrub: dict | None = None,
    targets: dict | None = None,
    on_scrub: Callable[[], None] | None = None,
    drag_scrubs: bool = False,
    pick: dict | None = None,
    on_pick: Callable[[], None] | None = None,
    follows: dict | None = None,
):
    """Draw ``figure`` (a plotly figure) full width under ``key``; a later call with the same key redraws it in place.

    ``on_click``: called when a point is clicked; ``clicked_point(key)`` then holds its (x, y).

    ``scrub``: scrub controls under the figure, one range input per run (``plots.scrub_layer``):
    dragging one shows that run's precomputed path for each value at once, in the browser, and in
    every other chart on the page that has ``targets`` for the run (``plots.loss_targets``, the
    sensitivity figure's); nothing is sent to Python until the input is let go, when ``on_scrub``
    is called and ``scrubbed(key)`` holds (slot, hyperparameter, value). ``drag_scrubs``: pressing
    on this chart (the sensitivity chart) and dragging sideways moves the scrub control of the run
    whose line is nearest, to the swept value nearest the pointer.

    ``pick``: the chart is a control over a precomputed grid of runs (``{"grid": its ``sweep_data``
    name, "current": the setting shown}``, the Eigenspace page's momentum rate map): pressing and dragging rings the nearest node
    and redraws every chart with ``follows`` for that grid (``{"grid", "direction":
    its column in the grid's curves, "measured" and "closed": the trace indices to redraw}``), in
    the browser; letting go calls ``on_pick`` (unless at the current setting: then the followers draw
    their own lines again), and ``picked_point(key)`` then holds the node."""
    spec = figure.to_dict()
    spec["layout"] = {**spec.get("layout", {}), "template": TEMPLATE}
    message = {
        "name": key, "figure": spec, "config": {"displaylogo": False, "responsive": True, **(config or {})},
        "playback": getattr(figure, "playback", None), "clicks": on_click is not None,
        "plotly": plotly_js(plotly_bundle(spec, getattr(figure, "playback", None))),
        "scrub": scrub, "targets": targets, "scrub_reports": on_scrub is not None, "drag_scrubs": drag_scrubs,
        "pick": pick, "pick_reports": on_pick is not None, "follows": follows,
    }  # fmt: skip
    callbacks = {"on_click_change": on_click} if on_click else {}
    if on_scrub:
        callbacks["on_scrub_change"] = on_scrub
    if on_pick:
        callbacks["on_pick_change"] = on_pick
    return _component(key=key, data=encode(message), **callbacks)


def preload_plotly():
    """Start loading plotly.js's cartesian bundle in the browser (an element that shows nothing).

    Called before a page computes anything, it has the browser fetch and compile plotly.js
    while the server computes the page's first figures, instead of after the first of them arrives."""
    _component(key="plotly_preload", data=encode({"preload": plotly_js("cartesian")}))


def picked_point(key: str) -> tuple[float, float] | None:
    """The (α, β) node a ``pick`` chart under ``key`` was let go at, inside its ``on_pick``."""
    point = st.session_state[key].get("pick")
    return (float(point["alpha"]), float(point["beta"])) if point else None


def clicked_point(key: str) -> tuple[float, float] | None:
    """The point of the latest click on the chart drawn under ``key``, inside its ``on_click``."""
    point = st.session_state[key].get("click")
    return (float(point["x"]), float(point["y"])) if point else None


SWEEP_JS = """
// The browser side of ui/chart.py's sweep_data: keeps the data for the scrub controls, shows nothing.
export default function ({ data, parentElement }) {
  const message = JSON.parse(new TextDecoder().decode(data));
  const sweeps = (window.appSweeps ??= new Map());
  if (!sweeps.has(message.name)) sweeps.set(message.name, message);
  while (sweeps.size > 64) sweeps.delete(sweeps.keys().next().value);
  const box = parentElement.closest("[data-testid='stElementContainer']");
  (box || parentElement).style.display = "none";
}
"""
_sweep_component = component("app_sweep_data", js=SWEEP_JS, isolate_styles=False)


def sweep_data(sweep: dict, *, key: str):
    """One run's precomputed sweep for the scrub controls of a chart (``plots.SweepView.scrub``; the chart
    names it by ``sweep["name"]``), as an element of its own that shows nothing: Streamlit sends an
    element it has sent unchanged before as a reference, so a rerun that leaves a run's sweep as it
    was costs its bytes only once."""
    return _sweep_component(key=key, data=encode(sweep))


def scrubbed(key: str) -> tuple[int, str, float] | None:
    """The run slot, hyperparameter and value a scrub control of the chart under ``key`` was let go at, inside its ``on_scrub``."""
    moved = st.session_state[key].get("scrub")
    return (int(moved["slot"]), str(moved["name"]), moved["value"]) if moved else None
