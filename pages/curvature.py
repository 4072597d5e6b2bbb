"""Network curvature: a small network's Hessian, Gauss–Newton (= Fisher), empirical Fisher and
K-FAC side by side, layer block by layer block, at initialization or after training."""

import streamlit as st

from scaleup import curvature_matrices as cm
from ui import controls, curvature, shell
from ui.chart import chart

shell.run_through_entrypoint()
view = controls.open_view(curvature.PAGE, curvature.declare)
settings = curvature.sidebar_controls(view)
if not shell.is_embedded():
    st.title("Network curvature: exact and approximate, block by block")
controls.show_notes(view)
controls.show_lesson(view)
st.markdown(
    "Second-order methods for networks replace the Hessian by something cheaper and better behaved: the "
    "Gauss–Newton matrix (which is the Fisher), the empirical Fisher, or K-FAC's Kronecker-factored blocks. "
    "Here are all of them for one small network, entry by entry, with the layers outlined "
    "(Martens' *exact against approximate* picture)."
)

data, model = curvature.network(settings)
st.markdown(curvature.network_summary(settings, data, model))
refusal = curvature.too_large(model)
if refusal:
    st.warning(refusal, icon=":material/block:")
    st.stop()

done = curvature.computed(settings.task, model, settings.seed, settings.batch, settings.step)
if done is None:
    st.warning(f"The training run diverged before step {settings.step}; choose an earlier step.", icon=":material/block:")
    st.stop()
st.markdown(f"**At step {curvature.step_title(settings.step)}** of the training run: full training loss {done.train_loss:.4g}.")
keys = tuple(key for key in cm.MATRICES if key in settings.matrices)
if not keys:
    st.info("Choose at least one matrix in the sidebar.")
    st.stop()

st.subheader("The matrices")
figure, tile = curvature.heatmap_figure(done.curvature, keys)
chart(figure, key="curvature_heatmaps")
pooling = (f" This network has more than {curvature.MAX_CELLS} parameters, so each cell shows the largest |entry| "
           f"of a {tile} × {tile} tile.") if tile > 1 else ""  # fmt: skip
st.caption(
    f"log₁₀ of each entry's magnitude, one colour scale for all, {curvature.DECADES} decades below the largest "
    f"|entry| (smaller ones, and zeros, are drawn in the lightest grey); red squares: the layers' diagonal blocks."
    + pooling
)

st.subheader("Relative error, block by block")
table = curvature.error_table(done.errors, done.curvature.blocks)
number = st.column_config.NumberColumn
st.dataframe(table, hide_index=True, width="stretch",
             column_config={c: number(c, format="%.3f") for c in table.columns[2:]})  # fmt: skip
st.caption("‖M − R‖_F / ‖R‖_F on each part, for approximation M against reference R: 0 is exact, 1 is as far as the "
           "zero matrix.")  # fmt: skip

st.subheader("Eigenvalues")
chart(curvature.spectra_figure(done.spectra, keys), key="curvature_spectra")
st.caption(
    "Each panel: the magnitudes |λ| of one matrix's eigenvalues against their rank by magnitude, both axes "
    "logarithmic. Negative eigenvalues are drawn as open red circles at |λ|; eigenvalues smaller in magnitude "
    f"than {curvature.RELATIVE_ZERO:.0e} of the matrix's largest are float32 rounding: counted in the panel's "
    "title (≈ 0), not drawn."
)

st.subheader("What to see")
for line in curvature.observations(done):
    st.markdown(line)

st.subheader("Download")
downloads = [  # (label, file, text): each CSV is written only when its button is clicked
    *[(f"{cm.MATRICES[key].split(' (')[0]} (CSV)", key,
       lambda key=key: cm.matrix_csv(done.curvature.matrix(key), done.curvature.names)) for key in keys],
    ("Eigenvalues (CSV)", "eigenvalues", lambda: cm.spectra_csv(done.spectra)),
    ("Relative errors (CSV)", "relative_errors", lambda: curvature.errors_csv(done.errors, done.curvature.blocks)),
]  # fmt: skip
columns = st.columns(3)
for i, (label, name, text) in enumerate(downloads):
    columns[i % 3].download_button(
        label, data=text, file_name=f"{name}_step{settings.step}.csv", mime="text/csv", on_click="ignore",
        icon=":material/download:", key=f"download_{name}",
    )  # fmt: skip
st.caption("Each matrix as a square table, a header and a first column of parameter names (\"layer 1 w[0,3]\"), "
           "every entry to 17 significant figures.")  # fmt: skip

with st.expander("The matrices, and how they are computed"):
    st.markdown(curvature.explanation())
