"""The widgets of a page's view state (``ui.viewstate``), and the link that follows them.

A page calls ``open_view(page, declare)`` before its first control. That
reads the link when it is new to this session (a shared link, a lesson
picked, a page opened from Home), or else takes the values the widgets hold;
either way the result is one whole, valid state, and the address bar is set
to that state's canonical link, so a copied link reopens exactly what is
shown. ``widget(view, key)`` then draws a control of that state, anywhere on
the page. Widgets are not bound to the URL by Streamlit: one
mechanism reads and writes every link.

A page may draw what its controls change (the runs, the charts) in one
fragment (``results_fragment``, named by ``open_view(..., fragment=...)``): a
move of a number control drawn with ``widget(..., alone=True)`` then reruns
that fragment alone, which opens the view again with ``fragment_view``, and the
rest of the page (its other controls, its lesson, its notes) is not sent
again. Should the move change anything drawn outside the fragment (a control's
range, another control's value, the lesson), the whole page reruns.

Sliders are ``select_slider``s over a fixed grid of round numbers (a log grid
where ``Parameter.log``), so link values are short and exact; a valid value
off the grid is added to the options rather than rounded.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any, NamedTuple

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from parameters import Parameter
from ui import lessons as lesson_files
from ui import shell, viewstate
from ui.optimizer_fields import PRIMARY
from ui.viewstate import LESSON, NO_LESSON, Choice, Field, Multi, Note, Number, Text, Toggle, format_number

__all__ = ["format_number", "slider_grid", "open_view", "widget", "show_notes", "show_lesson", "NO_LESSON"]

# Two significant figures, 24 per decade (the E24 series): holds 1.6, 2.4, 0.05, 20, ...
E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
       3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)  # fmt: skip
ROUND_INTEGERS = (1, 1.5, 2, 3, 5, 7.5)  # per decade, for integer log sliders (steps, batch size)
LINEAR_POINTS = 150  # about this many positions on a linear slider
MARKDOWN_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
WORD_JOINER = "\u2060"  # invisible, and no part of an address


# --- number grids ------------------------------------------------------------
def _nice_step(span: float, points: int) -> float:
    raw = span / points
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


@functools.lru_cache(maxsize=512)  # asked for by every slider on every rerun
def slider_grid(spec: Parameter) -> tuple[float | int, ...]:
    """The round values a slider for ``spec`` offers (its range, default and ends included)."""
    low, high = spec.low, spec.high
    if spec.log or (low == 0 and high >= 1000):  # a damping λ in [0, 10⁴] needs a log scale and 0
        bottom = low if low > 0 else high * 1e-8
        mantissas = ROUND_INTEGERS if spec.integer else E24
        decades = range(math.floor(math.log10(bottom)), math.ceil(math.log10(high)) + 1)
        values = [m * 10.0**d for d in decades for m in mantissas]
        if spec.integer:
            values += [2**k for k in range(int(math.log2(high)) + 1)]
        # Round away the float noise of m·10^d; whole numbers stay exact (2²⁰ is not 1.04858e6).
        values = [v if spec.integer else float(f"{v:.6g}") for v in values if bottom <= v <= high]
        if low == 0:
            values.append(0.0)
    elif spec.integer and high - low <= 2 * LINEAR_POINTS:
        values = list(range(int(low), int(high) + 1))
    else:
        step = _nice_step(high - low, LINEAR_POINTS)
        first = math.ceil(low / step)
        values = [float(f"{k * step:.10g}") for k in range(first, math.floor(high / step) + 1)]
    values += [low, high, spec.default]
    cast = int if spec.integer else float
    return tuple(sorted({cast(v) for v in values}))


# --- plain text ----------------------------------------------------------------------
def plain_markdown(text: str) -> str:
    """``text`` escaped so that Markdown shows it as it is: no emphasis, link, image, code, icon or formula.

    Every ASCII punctuation mark gets a backslash. GitHub-flavoured Markdown also turns bare addresses
    (``https://…``, ``www.…``, ``a@b.c``) into links after escapes are read, so an invisible word
    joiner breaks each of those patterns."""
    text = re.sub(r"(:)(//)|(www)(\.)|()(@)", lambda m: WORD_JOINER.join(g for g in m.groups() if g is not None), text,
                  flags=re.IGNORECASE)  # fmt: skip
    return "".join("\\" + c if c in MARKDOWN_PUNCTUATION else c for c in text)


# --- the view of a page ---------------------------------------------------------------
class PageView(NamedTuple):
    page: str
    declare: viewstate.Declare
    loaded: lesson_files.Loaded
    state: dict
    fields: dict[str, Field]
    notes: list[Note]
    fragment: str | None = None  # the key of the fragment that a number control's move reruns alone

    @property
    def lessons(self) -> dict[str, viewstate.LessonView]:
        return self.loaded.views

    @property
    def lesson(self) -> viewstate.LessonView | None:
        return self.lessons.get(self.state[LESSON])

    def __getitem__(self, key: str):
        return self.state[key]


LAST_PAGE = "_view.last_page"


def _keys(page: str) -> tuple[str, str, str, str]:
    return f"_view.{page}.state", f"_view.{page}.query", f"_view.{page}.reload", f"_view.{page}.widgets"


def _shown_key(page: str) -> str:
    return f"_view.{page}.shown"


def _looks(field: Field) -> tuple:
    """What a control shows of its field besides its value: its kind, label, help, options and range."""
    values = (getattr(field, attribute.name) for attribute in dataclasses.fields(field))
    return (type(field).__name__, *(value for value in values if not callable(value)))


def _shown(fields: dict[str, Field], state: dict) -> dict:
    """Each control as the page draws it: its looks and its value."""
    return {key: (_looks(field), state[key]) for key, field in fields.items()}


def in_fragment_rerun() -> bool:
    """True while a fragment reruns alone (a control of its own, or one that names it, moved)."""
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def _current_query() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def open_view(page: str, declare: viewstate.Declare, *, fragment: str | None = None) -> PageView:
    """This run's state of ``page``: from the link if it is new here, else from the widgets.

    ``fragment``: the key of the page's fragment that its number controls rerun alone (the module's docstring)."""
    state_key, query_key, reload_key, widgets_key = _keys(page)
    loaded = lesson_files.load(page, declare)
    session = st.session_state
    query = _current_query()
    pending = session.pop(reload_key, None)
    notes: list[Note] = []
    returning = not query and state_key in session  # back from another page, whose links drop the query
    if pending is not None or (query != session.get(query_key) and not returning):
        reading = viewstate.read(declare, pending if pending is not None else query, loaded.views)
        state, notes = reading.state, reading.notes
        for key in session.get(widgets_key, ()):  # a new view: no widget keeps an older value
            session.pop(key, None)
    else:  # the widgets hold this page's values only if this page ran last (pages share keys such as steps)
        stored = session.get(state_key, {})
        moved = _widget_values(session, stored) if session.get(LAST_PAGE) == page else {}
        notes = _refused(declare, stored, moved)
        for note in notes:  # the page keeps the last value accepted; the box keeps what was typed
            moved.pop(note.key, None)
        state = viewstate.settled(declare, {**stored, **moved}, loaded.views)
    fields = {LESSON: viewstate.lesson_field(loaded.views), **viewstate.fields_of(declare, state)}
    refused = {note.key for note in notes if note.origin == viewstate.TYPED}
    for key, field in fields.items():  # every run: a widget whose options changed is a new widget to Streamlit
        if key not in refused:  # a refused text stays in its box, with the note saying why
            session[key] = list(state[key]) if isinstance(field, Multi) else state[key]
    session[widgets_key] = set(session.get(widgets_key, set())) | set(fields)
    session[state_key], session[LAST_PAGE] = state, page
    if not in_fragment_rerun():  # what the page draws outside its fragment, until its next full run
        session[_shown_key(page)] = _shown(fields, state)
    view = PageView(page, declare, loaded, state, fields, notes, fragment)
    _write_link(view)
    return view


def fragment_view(view: PageView) -> PageView:
    """The view inside ``view.fragment``: ``view`` itself on a run of the whole page; on a rerun of the
    fragment alone, the view opened again from the widgets. When that differs from what the page shows
    outside the fragment in anything but the values its controls have shown since (a range that
    changed with the value, another value reset by it, a lesson left, a note), the whole page reruns."""
    if not in_fragment_rerun():
        return view
    shown = st.session_state.get(_shown_key(view.page))
    again = open_view(view.page, view.declare, fragment=view.fragment)
    if again.notes or shown != _shown(again.fields, again.state):
        st.rerun()
    return again


def results_fragment(key: str):
    """A page's results as ``st.fragment(key=key)``: the decorated ``draw(view, *places)`` gets the
    view as ``fragment_view`` opens it, and a rerun of it alone is logged as ``key``
    (``shell.benchmark_log``). The page opens its view with ``open_view(..., fragment=key)``."""

    def decorate(draw):
        @st.fragment(key=key)
        @functools.wraps(draw)
        def results(view: PageView, *places):
            with shell.benchmark_log(key):
                return draw(fragment_view(view), *places)

        return results

    return decorate


def _rerun_fragment(page: str, field: Field, fragment: str):
    """A number control of ``fragment``'s page moved: the control shows the value already, so only the
    fragment reruns (``fragment_view`` checks that nothing else the page shows changed with it)."""
    if field.resets:
        _reset(page, field)
    shown = st.session_state.get(_shown_key(page))
    if shown and field.key in shown:
        shown[field.key] = (shown[field.key][0], st.session_state[field.key])
    st.rerun(fragment)


def _refused(declare: viewstate.Declare, stored: dict, moved: dict) -> list[Note]:
    """A note for each value typed into a widget that its field refuses (a formula that does not parse)."""
    fields = viewstate.fields_of(declare, stored)
    notes = []
    for key, value in moved.items():
        if key in fields and value != stored.get(key):
            try:
                fields[key].check(value)
            except ValueError as error:
                notes.append(Note(key, str(value), f"was not taken: {error}. Still showing the last one that was.",
                                  origin=viewstate.TYPED))  # fmt: skip
    return notes


def _widget_values(session, stored: dict) -> dict:
    values = {}
    for key in stored:
        if key in session:
            value = session[key]
            values[key] = tuple(value) if isinstance(value, list) else value
    return values


def _reset(page: str, field: Field):
    """After ``field`` changed to a value it accepts: the values that depend on it start afresh.

    A refused value (a formula that does not parse) changes nothing; ``open_view`` notes why."""
    state_key, _, _, _ = _keys(page)
    stored = st.session_state.get(state_key, {})
    try:
        field.check(st.session_state.get(field.key))
    except ValueError:
        return
    for key in [k for k in stored if k != field.key and field.resets(k)]:
        stored.pop(key, None)
        st.session_state.pop(key, None)
    stored[field.key] = st.session_state[field.key]


def forget(page: str, keys):
    """Let ``keys`` take what the view implies for them again (in a callback)."""
    stored = st.session_state.get(_keys(page)[0], {})
    for key in keys:
        stored.pop(key, None)
        st.session_state.pop(key, None)


def _pick_lesson(page: str):
    name = st.session_state[LESSON]
    if name != NO_LESSON:
        st.session_state[_keys(page)[2]] = {LESSON: [name]}


def is_hidden(view: PageView, key: str) -> bool:
    return shell.is_embedded() and viewstate.is_hidden(key, view.state[viewstate.HIDE])


def widget(view: PageView, key: str, *, where=st, label: str | None = None, help: str | None = None,
           alone: bool = False) -> Any:  # fmt: skip
    """Draw the control ``key`` of ``view`` (unless an embed hides it); its value.

    ``alone``: a number control whose value nothing outside the view's fragment shows (nothing else
    on the page derives from it): a move reruns that fragment alone."""
    field = view.fields[key]
    if is_hidden(view, key):
        return view.state[key]
    on_change = functools.partial(_reset, view.page, field) if field.resets else None
    if alone and view.fragment and isinstance(field, Number):
        on_change = functools.partial(_rerun_fragment, view.page, field, view.fragment)
    if key == LESSON:
        on_change = functools.partial(_pick_lesson, view.page)
    label = label or field.label
    help = help or field.help
    if isinstance(field, Number):
        value = _number_widget(field, view.state[key], where, label, help, on_change)
    elif isinstance(field, Multi):
        value = tuple(where.multiselect(
            label, field.options, format_func=field.title, key=key, max_selections=field.max_selections, help=help,
            on_change=on_change,
        ))  # fmt: skip
    elif isinstance(field, Choice):
        value = where.selectbox(label, field.options, format_func=field.title, key=key, help=help, on_change=on_change)
    elif isinstance(field, Toggle):
        value = where.checkbox(label, key=key, help=help, on_change=on_change)
    elif isinstance(field, Text):
        value = where.text_input(label, key=key, max_chars=field.max_length, help=help, on_change=on_change)
    else:
        raise TypeError(f"no widget for {type(field).__name__}")
    return value


def setting_widgets(view: PageView, prefix: str, where, alone: bool = False):
    """An optimizer's settings (``<prefix>.<name>``): the main ones at once, the rest in an expander;
    ``alone`` as for ``widget``."""
    more = None
    for key in [k for k in view.fields if k.startswith(prefix + ".")]:
        primary = key.split(".", 1)[1] in PRIMARY
        if not primary and not is_hidden(view, key):
            more = more or where.expander("more settings")
        widget(view, key, where=where if primary else more, alone=alone)


def _number_widget(field: Number, value, where, label, help, on_change):
    spec = field.spec
    if field.box:
        cast = int if spec.integer else float
        return where.number_input(
            label, min_value=cast(spec.low), max_value=cast(spec.high), step=field.step or (1 if spec.integer else None),
            format=None if spec.integer else "%.3f", key=field.key, help=help, on_change=on_change,
        )  # fmt: skip
    grid = slider_grid(spec)
    if value not in grid:  # a valid value off the grid
        grid = sorted({*grid, value})
    scale = "log scale" if len(grid) > 2 and spec.log else None
    help = help or ", ".join(filter(None, [f"{format_number(spec.low)} to {format_number(spec.high)}", scale]))
    return where.select_slider(
        label, options=grid, format_func=functools.partial(format_number, integer=spec.integer), key=field.key,
        help=help, on_change=on_change,
    )  # fmt: skip


def _write_link(view: PageView):
    """The address bar shows the canonical link of what is shown."""
    query = viewstate.write(view.declare, view.state, view.lessons)
    if query != _current_query():
        st.query_params.from_dict(query)
    st.session_state[_keys(view.page)[1]] = _current_query()


def show_notes(view: PageView, where=st):
    """What the link asked for and did not get, and the lesson files that could not be read: plain text."""
    for note in view.notes:
        where.warning(plain_markdown(note.plain()), icon=":material/link_off:")
    for problem in view.loaded.problems:
        where.warning(plain_markdown(problem.plain()), icon=":material/error:")


def show_problems(problems: list[str], where=st):
    """Each run that could not be made, with the reason."""
    for problem in problems:
        where.warning(problem, icon=":material/block:")


def show_lesson(view: PageView, where=st):
    lesson = view.lesson
    if lesson:
        where.info(f"**{lesson.title}.** {lesson.text}", icon=":material/school:")


def save_lesson_button(view: PageView, where=st):
    """Download the current view as a lesson file, to write its text and drop into ``lessons/<page>/``."""
    lesson = view.lesson
    plain = {**view.state, LESSON: NO_LESSON}
    query = viewstate.write(view.declare, plain, {})
    query.pop(viewstate.HIDE, None)
    title = lesson.title if lesson else "A new lesson"
    text = lesson.text if lesson else "What to look for in this view, and why it happens."
    where.download_button(
        "Save this view as a lesson", data=lesson_files.to_toml(view.page, title, text, query, view.state[viewstate.HIDE]),
        file_name=f"{lesson.name if lesson else 'my_lesson'}.toml", mime="application/toml", on_click="ignore",
        icon=":material/bookmark_add:", help=f"A lesson file: write its title and text, put it in lessons/{view.page}/, "
        "and the page lists it (README: Writing a lesson).",
    )  # fmt: skip
