"""A page for ``tests/test_browser_plotly.py``: a 2-D chart with a playback and clicks (plotly.js's
cartesian bundle), and on demand a 3-D chart above it (the full bundle), in a container of its own
so that the 2-D chart stays the same element. ``?first=deep``: the 3-D chart alone, the 2-D one on
demand."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.chart import chart, clicked_point
from ui.plots import PlainFigure


def remember_click():
    st.session_state.clicked = clicked_point("flat")


deep = st.container()
shift = st.slider("shift", 0, 5, 0)
first_deep = st.query_params.get("first") == "deep"
if st.checkbox("3-D chart", value=first_deep):
    with deep:
        chart(go.Figure(go.Surface(z=np.add.outer(np.arange(8.0), np.arange(8.0)) ** 0.5)), key="deep")
steps = list(range(6))
frames = [dict(traces=[2], data=[dict(x=[step / 5], y=[step / 5])]) for step in steps]
flat = PlainFigure(dict(
    data=[
        dict(type="heatmap", z=np.arange(100.0).reshape(10, 10), x0=0, dx=0.1, y0=0, dy=0.1, showscale=False,
             opacity=0.3, name="targets"),
        dict(type="scatter", x=[0.0, 1.0], y=[shift / 10, shift / 10 + 0.5], mode="lines", name=f"shift {shift}"),
        dict(type="scatter", x=[0.0], y=[0.0], mode="markers", marker=dict(size=14), name="here"),
    ],
    layout=dict(height=320, clickmode="event", hovermode="closest", xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1])),
), playback=dict(steps=steps, frames=frames, frame_ms=40))  # fmt: skip
if st.checkbox("2-D chart", value=not first_deep):
    chart(flat, key="flat", on_click=remember_click)
st.write(f"clicked: {st.session_state.get('clicked')}")
