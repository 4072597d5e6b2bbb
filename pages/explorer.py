"""Landscape Explorer: optimizers side by side on a 2-D landscape."""

import streamlit as st

from ui import controls, explorer, shell

shell.run_through_entrypoint()
view = controls.open_view(explorer.PAGE, explorer.declare, fragment=explorer.RESULTS)
lesson_place = explorer.sidebar_controls(view)

if not shell.is_embedded():
    st.title("Landscape Explorer")
controls.show_notes(view)
controls.show_lesson(view)
explorer.results(view, lesson_place)  # reruns alone when a number control moves
explorer.explanations(explorer.settings_of(view.state))  # the chosen methods' own: outside the results
