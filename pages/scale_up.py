"""Scale-up: the app's optimizers (the same objects as on the 2-D pages) training small MLPs,
compared per step and per second, with memory."""

import streamlit as st

from ui import controls, scale_up, shell

shell.run_through_entrypoint()
controls.begin_page()
scale_up.apply_preset_from_link()
if not shell.is_embedded():
    st.title("Scale-up: optimizers training neural networks")
st.markdown(
    "Whether second-order methods pay off in deep learning is decided by **wall-clock time and memory**, "
    "not by the number of steps. Here the very optimizers of the 2-D pages train small multilayer "
    "perceptrons; compare the loss per step with the loss per second."
)
st.markdown(scale_up.device_line())
notes_box, lesson_box = st.container(), st.container()  # filled once every control has read the link

settings = scale_up.sidebar_controls()
data, model = scale_up.network(settings)
st.markdown(scale_up.network_summary(settings, data, model))
chosen = scale_up.optimizer_controls(settings, model)
controls.end_controls()

controls.show_url_notes(notes_box)
if settings.lesson in scale_up.PRESETS:
    preset = scale_up.PRESETS[settings.lesson]
    lesson_box.info(f"**{preset['title']}.** {preset['lesson']}", icon=":material/school:")

scale_up.training_view(scale_up.Job(settings, data, model, chosen))
