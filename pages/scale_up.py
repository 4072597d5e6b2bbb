"""Scale-up: the app's optimizers (the same objects as on the 2-D pages) training small MLPs,
compared per step and per second, with memory."""

import streamlit as st

from ui import batch_study, controls, scale_up, shell

shell.run_through_entrypoint()
view = controls.open_view(scale_up.PAGE, scale_up.declare)
if not shell.is_embedded():
    st.title("Scale-up: optimizers training neural networks")
controls.show_notes(view)
controls.show_lesson(view)
st.markdown(
    "Whether second-order methods pay off in deep learning is decided by **wall-clock time and memory**, "
    "not by the number of steps. Here the very optimizers of the 2-D pages train small multilayer "
    "perceptrons; compare the loss per step with the loss per second."
)

settings = scale_up.sidebar_controls(view)
data, model = scale_up.network(settings)
st.markdown(scale_up.device_line(settings, data))
st.markdown(scale_up.network_summary(settings, data, model))
chosen = scale_up.optimizer_controls(view, settings, model)
scale_up.training_view(scale_up.Job(settings, data, model, chosen))

st.divider()
batch_study.section(view)
