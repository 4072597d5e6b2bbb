"""Landscape Explorer: optimizers side by side on a 2-D landscape."""

import streamlit as st

from ui import controls, explorer, shell

shell.run_through_entrypoint()
view = controls.open_view(explorer.PAGE, explorer.declare)
settings = explorer.sidebar_controls(view)

if not shell.is_embedded():
    st.title("Landscape Explorer")
controls.show_notes(view)
controls.show_lesson(view)

done, problems = explorer.compute(settings)
for problem in problems:
    st.warning(problem, icon=":material/block:")
if not settings.runs:
    st.info("Choose an optimizer for Run 1 in the sidebar.")
drawn = [d for _, d in done]
swept = explorer.compute_sweeps(settings, done)  # each run at nearby values of its learning rate, for scrubbing

explorer.landscape_view(settings, drawn, swept)
loss_column, table_column = st.columns([3, 2])
with loss_column:
    explorer.loss_view(settings, done, swept)
    explorer.schedule_view(settings, done)  # α against the step, for the runs under a schedule
with table_column:
    st.table(explorer.summary_table(settings, drawn), hide_index=True)  # plain HTML: drawn with the page, not after it
    st.download_button(
        "Download the trajectories (CSV)",
        data=lambda: explorer.trajectories_csv(settings, done),
        file_name="trajectories.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption("The picture: the camera icon in the plot's toolbar saves it as a PNG.")
explorer.sensitivity_view(settings, swept)
explorer.explanations(settings)
