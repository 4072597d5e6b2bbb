"""Plotly figures that redraw in place: ``chart(figure, key=...)``.

``st.plotly_chart`` counts a figure's whole specification as part of the
element's identity, so every changed figure is a new element: the browser
throws the old chart away and plotly builds the new one from nothing, twice
(once before its width is known). Moving a slider then cost several times
the framework's own round trip. This element keeps the identity its ``key``
gives it and hands each new figure to ``Plotly.react``, which keeps the
chart's DOM and redraws only what changed.

plotly.js itself is the copy that ships with the pinned ``plotly`` package,
served from the app's static folder (``server.enableStaticServing`` in
``.streamlit/config.toml``) and loaded once per browser tab.
"""

from __future__ import annotations

import functools
import json
import os
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

STATIC = Path(__file__).resolve().parent.parent / "static"
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


@functools.cache
def publish_plotly_js() -> str:
    """Put the pinned plotly.js in the static folder (once); its path under the app's URL."""
    name = f"plotly-{plotly.__version__}.min.js"
    target = STATIC / name
    if not target.exists():
        STATIC.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=STATIC, delete=False) as copy:  # two servers may start at once
            shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", copy.name)
        os.replace(copy.name, target)
    return f"app/static/{name}"


# Each call gets the figure as UTF-8 JSON bytes. The first draw makes the div;
# later ones reuse it. A click sends the clicked point back as the "click" trigger,
# and the chart follows its column's width.
# A figure with a playback gets a ▶ button and a step slider under it, which show
# the frames with Plotly.animate (markers and arrows only, no full redraw); the
# step shown is kept when a new figure arrives.
JS = """
let plotlyLoaded;
function loadPlotly(src) {
  plotlyLoaded ??= window.Plotly ? Promise.resolve(window.Plotly) : new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL(src, document.baseURI).href;
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => { plotlyLoaded = undefined; reject(new Error("plotly.js did not load from " + src)); };
    document.head.appendChild(script);
  });
  return plotlyLoaded;
}

function child(parent, className, tag = "div") {
  let element = parent.querySelector(":scope > ." + className);
  if (!element) {
    element = document.createElement(tag);
    element.className = className;
    parent.appendChild(element);
  }
  return element;
}

class Player {
  constructor(bar, plot) {
    this.plot = plot;
    this.button = child(bar, "app-play", "button");
    this.button.type = "button";
    this.slider = child(bar, "app-step-slider", "input");
    Object.assign(this.slider, { type: "range", min: 0, step: 1, value: 0 });
    this.slider.setAttribute("aria-label", "step");
    this.label = child(bar, "app-step", "span");
    this.index = 0;
    this.button.onclick = () => (this.timer ? this.pause() : this.play());
    this.slider.oninput = () => { this.pause(); this.show(Number(this.slider.value)); };
  }
  load(playback) {
    this.pause();
    this.playback = playback;
    this.slider.max = playback.frames.length - 1;
    this.index = Math.min(this.index, playback.frames.length - 1);
  }
  show(index, animate = true) {
    this.index = index;
    this.slider.value = index;
    this.label.textContent = "step " + this.playback.steps[index];
    if (!animate) return;
    return Plotly.animate(this.plot, [this.playback.frames[index]], {
      mode: "immediate", frame: { duration: 0, redraw: false }, transition: { duration: 0 },
    });
  }
  play() {
    const last = this.playback.frames.length - 1;
    if (this.index >= last) this.show(0);
    this.button.textContent = "❚❚ pause";
    this.timer = setInterval(() => (this.index < last ? this.show(this.index + 1) : this.pause()), this.playback.frame_ms);
  }
  pause() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.button.textContent = "▶ play";
  }
}

export default function ({ data, parentElement, setTriggerValue }) {
  const message = JSON.parse(new TextDecoder().decode(data));
  const plot = child(parentElement, "app-chart");
  const bar = child(parentElement, "app-playback");
  bar.hidden = !message.playback;
  plot.sendClick = message.clicks ? setTriggerValue : null;
  loadPlotly(message.plotly).then((Plotly) => {
    const { data, layout } = message.figure;
    if (message.playback) {
      plot.player ??= new Player(bar, plot);
      plot.player.load(message.playback);
    }
    return Plotly.react(plot, { data, layout, config: message.config });
  }).then(() => {
    if (message.playback) plot.player.show(plot.player.index);
    if (!plot.listening) {
      plot.listening = true;
      plot.on("plotly_click", (event) => {
        const point = event.points[0];
        if (plot.sendClick && point) plot.sendClick("click", { x: point.x, y: point.y });
      });
      // The page's column can change width without the window resizing (the sidebar folding).
      let width = plot.clientWidth;
      new ResizeObserver(() => {
        if (plot.clientWidth !== width) Plotly.Plots.resize(plot);
        width = plot.clientWidth;
      }).observe(plot);
    }
  }).catch((error) => {
    plot.textContent = "This chart could not be drawn: " + error.message;
  });
}
"""

# The playback bar, in the look of Streamlit's own buttons and sliders.
CSS = """
.app-playback { display: flex; align-items: center; gap: 0.75rem; padding: 0 1rem 0.5rem 70px; }
.app-playback[hidden] { display: none; }
.app-play {
  font: inherit; font-size: 0.875rem; color: inherit; background: #fff; cursor: pointer;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; padding: 0.25rem 0.75rem; min-width: 6.5rem;
}
.app-play:hover { border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }
.app-step-slider { flex: 1; accent-color: var(--st-primary-color, #ff4b4b); }
.app-step { font-size: 0.875rem; min-width: 5.5rem; font-variant-numeric: tabular-nums; }
"""


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


_component = component("app_chart", js=JS, css=CSS, isolate_styles=False)


def chart(figure, *, key: str, config: dict | None = None, on_click: Callable[[], None] | None = None):
    """Draw ``figure`` (a plotly figure) full width under ``key``; a later call with the same key redraws it in place.

    ``on_click``: called when a point is clicked; ``clicked_point(key)`` then holds its (x, y)."""
    spec = figure.to_dict()
    spec["layout"] = {**spec.get("layout", {}), "template": TEMPLATE}
    message = {
        "figure": spec, "config": {"displaylogo": False, "responsive": True, **(config or {})},
        "playback": getattr(figure, "playback", None), "clicks": on_click is not None, "plotly": publish_plotly_js(),
    }  # fmt: skip
    callbacks = {"on_click_change": on_click} if on_click else {}
    return _component(key=key, data=encode(message), **callbacks)


def clicked_point(key: str) -> tuple[float, float] | None:
    """The point of the latest click on the chart drawn under ``key``, inside its ``on_click``."""
    point = st.session_state[key].get("click")
    return (float(point["x"]), float(point["y"])) if point else None
