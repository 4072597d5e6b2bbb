"""The baseline for the latency benchmark: a trivial one-slider Streamlit page."""

import streamlit as st

value = st.slider("value", 0, 100, 50, key="value")
st.write(f"The slider is at {value}.")
