"""Home: what the app is for, and every page's lessons one click away."""

import streamlit as st

from ui import controls, lessons, shell
from ui.viewstate import LESSON, PRESET, Note

shell.run_through_entrypoint()

# The pages with lessons: (page file, lesson folder). Their views are checked on their own pages,
# so that Home needs no JAX.
LESSON_PAGES = (("pages/explorer.py", "explorer"), ("pages/eigenspace.py", "eigenspace"), ("pages/scale_up.py", "scale_up"),
                ("pages/curvature.py", "curvature"))


def _open_asked_lesson(loaded):
    """``/?preset=zigzag`` (or ``lesson=``): open that lesson on its page; anything else gets a note."""
    notes = []
    for key in list(st.query_params):
        text = st.query_params[key]
        pages = [path for path, page in LESSON_PAGES if text in loaded[page].lessons]
        if key in (LESSON, PRESET) and len(pages) == 1:
            st.switch_page(pages[0], query_params={LESSON: text})
        if key in (LESSON, PRESET):
            where = "on more than one page; open it from the lists below" if pages else "is no lesson; the lists below have them all"
            notes.append(Note(key, text, f"was not opened: it {where}." if pages else f"{where}."))
        else:
            notes.append(Note(key, text, "does not apply to this page and was ignored."))
    return notes


loaded = {page: lessons.load(page) for _, page in LESSON_PAGES}
notes = _open_asked_lesson(loaded)

st.title("Optimization in deep learning, interactively")
for note in notes:
    st.warning(controls.plain_markdown(note.plain()), icon=":material/link_off:")
st.markdown(
    "Why does gradient descent zig-zag, what does momentum fix, when does Newton's method "
    "walk into a saddle, and why do damping and momentum matter so much for second-order "
    "methods? Pick a landscape, run gradient descent, momentum, Adam, Newton, damped "
    "Gauss–Newton, L-BFGS and mL-BFGS side by side, and move the sliders. Every view is a "
    "link: copy the address to share exactly what you see, or add `embed=true` to put it in a course page."
)

st.subheader("Lessons")
titles = {path: title for path, title, _ in shell.existing_pages()}
for path, page in LESSON_PAGES:
    st.markdown(f"**{titles[path]}**")
    for problem in loaded[page].problems:
        st.warning(controls.plain_markdown(problem.plain()), icon=":material/error:")
    for name, lesson in loaded[page].lessons.items():
        st.page_link(path, label=lesson.view.title, icon=":material/school:", query_params={LESSON: name})

st.subheader("Pages")
for path, title, icon in shell.existing_pages()[1:]:
    st.page_link(path, label=title, icon=icon)
