"""Home: what the app is for, and the lessons one click away."""

import streamlit as st

from ui import shell
from ui.presets import PRESETS

shell.run_through_entrypoint()

st.title("Optimization in deep learning, interactively")
st.markdown(
    "Why does gradient descent zig-zag, what does momentum fix, when does Newton's method "
    "walk into a saddle, and why do damping and momentum matter so much for second-order "
    "methods? Pick a landscape, run gradient descent, momentum, Adam, Newton, damped "
    "Gauss–Newton, L-BFGS and mL-BFGS side by side, and move the sliders. Every view is a "
    "link: copy the address to share exactly what you see, or add `embed=true` to put it in a course page."
)

st.subheader("Lessons")
st.caption("Each opens the Landscape Explorer set up to show one phenomenon.")
for name, preset in PRESETS.items():
    st.page_link("pages/explorer.py", label=preset["title"], icon=":material/school:", query_params={"preset": name})

st.subheader("Pages")
for path, title, icon in shell.existing_pages()[1:]:
    st.page_link(path, label=title, icon=icon)
