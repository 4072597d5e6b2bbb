"""Eigenspace: convergence along the Hessian's eigen-directions, with the closed forms
drawn over the measured runs, and how each method's curvature model approaches the true one."""

import streamlit as st

from ui import controls, eigenspace, nqm, shell

shell.run_through_entrypoint()
view = controls.open_view(eigenspace.PAGE, eigenspace.declare)
settings = eigenspace.sidebar_controls(view)

if not shell.is_embedded():
    st.title("Eigenspace: convergence direction by direction")
controls.show_notes(view)
controls.show_lesson(view)
st.markdown(
    "On a quadratic ½(θ − θ*)ᵀA(θ − θ*) the error in the eigenbasis of A, x = Qᵀ(θ − θ*), splits into independent "
    "components, one per eigenvalue λᵢ (Goh, *Why Momentum Really Works*, Distill 2017). "
    + eigenspace.problem_summary(settings)
)

done, problems = eigenspace.compute(settings)
for problem in problems:
    st.warning(problem, icon=":material/block:")
if not settings.methods:
    st.info("Choose at least one method in the sidebar.")

picker = eigenspace.rate_picker(settings)  # momentum's runs over the rate map's (α, β) grid
if len(settings.directions) == 2 and settings.problem != "spectrum":
    st.subheader("The runs, and the same runs in the eigenbasis")
    eigenspace.trajectory_views(settings, done)
st.subheader("Error along each eigen-direction")
eigenspace.direction_views(settings, done, picker)
st.subheader("Rates: gradient descent and momentum")
eigenspace.rate_views(settings, picker)
st.subheader("Curvature models: eigenvalues of P·H")
spectra = eigenspace.curvature_views(settings, done)
st.subheader("Batch size: the noisy quadratic model")
nqm.section(view)

left, right = st.columns(2)
left.download_button(
    "Download the eigen-components (CSV)", data=lambda: eigenspace.components_csv(settings, done),
    file_name="eigen_components.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
)  # fmt: skip
right.download_button(
    "Download the P·H spectra (CSV)", data=lambda: eigenspace.spectra_csv(spectra),
    file_name="preconditioned_spectra.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
    disabled=not spectra,
)  # fmt: skip
eigenspace.explanations(settings)
