"""Eigenspace: convergence along the Hessian's eigen-directions, with the closed forms
drawn over the measured runs, and how each method's curvature model approaches the true one."""

import streamlit as st

from ui import controls, eigenspace, shell

shell.run_through_entrypoint()
view = controls.open_view(eigenspace.PAGE, eigenspace.declare, fragment=eigenspace.RESULTS)
lesson_place = eigenspace.sidebar_controls(view)
settings = eigenspace.settings_of(view.state)  # what the page draws outside its results

if not shell.is_embedded():
    st.title("Eigenspace: convergence direction by direction")
controls.show_notes(view)
controls.show_lesson(view)
st.markdown(
    "On a quadratic ½(θ − θ*)ᵀA(θ − θ*) the error in the eigenbasis of A, x = Qᵀ(θ − θ*), splits into independent "
    "components, one per eigenvalue λᵢ (Goh, *Why Momentum Really Works*, Distill 2017). "
    + eigenspace.problem_summary(settings)
)
eigenspace.results(view, lesson_place)  # reruns alone when a method's number moves
eigenspace.explanations(settings)  # the chosen methods' own: outside the results
