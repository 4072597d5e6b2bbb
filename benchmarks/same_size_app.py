"""A reference for the latency benchmark: the Landscape Explorer's widgets and text, without its charts.

The same kinds and numbers of elements as the explorer's default view (13 select
sliders, 7 select boxes, 2 number inputs, a checkbox, buttons, markdown, 5
expanders, a table) and no computation: what Streamlit itself takes to rerun a
page of that size, which no chart or run can make faster.
"""

import streamlit as st

OPTIONS = [round(0.001 * 1.1**k, 5) for k in range(100)]  # room for a benchmark's moves one way

bar = st.sidebar
bar.selectbox("Lesson", ["— pick a lesson —", "a lesson"], key="lesson")
bar.subheader("Landscape")
bar.selectbox("Landscape", ["Ill-conditioned quadratic", "Saddle"], key="landscape")
bar.caption("½(θ−θ*)ᵀA(θ−θ*) with eigenvalues 1/κ and 1: a long, narrow valley when κ is large.")
for name in ("condition number κ", "rotation angle (radians)", "gradient noise σ"):
    bar.select_slider(name, OPTIONS, value=OPTIONS[10], key=name)
bar.subheader("Optimizers")
for run in range(1, 5):
    box = bar.container(border=True)
    box.markdown(f":blue[●] Run {run}")
    box.selectbox("optimizer", ["Gradient descent", "Momentum", "Adam", "L-BFGS"], key=f"optimizer{run}")
    key = "value" if run == 1 else f"rate{run}"  # the benchmark moves this one
    box.select_slider("learning rate α", OPTIONS, value=OPTIONS[10], key=key)
    if run in (2, 3):
        box.select_slider("momentum β", OPTIONS, value=OPTIONS[5], key=f"beta{run}")
bar.container(border=True).selectbox("optimizer", ["none", "Gradient descent"], key="optimizer5")  # the empty slot
for k in range(1, 5):  # the explorer's other sliders (steps, the optimizers' second settings...)
    bar.select_slider(f"setting {k}", OPTIONS, value=OPTIONS[3], key=f"setting{k}")
bar.number_input("start x", value=-2.0, key="x0")
bar.number_input("start y", value=1.5, key="y0")
bar.checkbox("3-D view", key="view3d")
bar.button("Reset the start", key="reset")

value = st.session_state["value"]
st.title("Landscape Explorer")
st.markdown(f"Run 1's learning rate is {value}.")
st.caption("▶ plays the steps; the slider scrubs. Click the landscape to start there.")
left, right = st.columns([3, 2])
left.markdown("(the loss chart)")
right.table({"run": [f"Run {k}" for k in range(1, 5)], "final L − L*": ["4.8e-04", "1.1e-14", "2.9e-14", "0.0e+00"]})
right.download_button("Download the trajectories (CSV)", data="x,y\n", file_name="runs.csv")
for k in range(5):
    with st.expander(f"How method {k + 1} works"):
        st.markdown("θ ← θ − α∇L(θ): **the update** in equations, " * 8)
