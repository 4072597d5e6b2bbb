"""Optimization in deep learning, interactively: ``streamlit run app.py``."""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # on a GPU server, share the card

import streamlit as st  # noqa: E402

from ui import chart, shell  # noqa: E402

shell.use_compile_cache()
embedded = shell.is_embedded()
st.set_page_config(
    page_title="Optimization in deep learning",
    page_icon=":material/landscape:",
    layout="wide",
    initial_sidebar_state="collapsed" if embedded else "auto",
)
page = st.navigation(shell.navigation_pages(), position="hidden" if embedded else "sidebar")
chart.preload_plotly()  # fetched and compiled by the browser while the page computes
with shell.benchmark_log(page.url_path):
    page.run()
