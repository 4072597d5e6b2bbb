"""Widgets whose values live in the URL, built from ``Parameter`` specs.

Every control is bound to a query parameter (``bind="query-params"``, the key
is the parameter's name), so a copied link reopens the same view. Before a
widget reads its URL value we check it ourselves:

* malformed or out of range: a note for the page to show (``show_url_notes``),
  the parameter is dropped from the URL and the widget is left unbound for
  this one run, so it starts at its default instead of a clamped value;
* valid but not spelled the way the widget writes it (``0.10``, ``newton``
  for "Newton"): the value goes in through ``st.session_state`` instead;
* valid and canonical: Streamlit seeds the widget from the URL itself.

Sliders are ``select_slider``s over a fixed grid of round numbers (a log grid
where ``Parameter.log``), so URL values are short and exact; a valid value
off the grid is added to the options rather than rounded.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping, Sequence

import streamlit as st
from streamlit.errors import StreamlitAPIException

from parameters import Parameter

BIND = "query-params"
_NOTES = "_url_notes"
_KEYS = "_url_keys"

# Two significant figures, 24 per decade (the E24 series): holds 1.6, 2.4, 0.05, 20, ...
E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
       3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)  # fmt: skip
ROUND_INTEGERS = (1, 1.5, 2, 3, 5, 7.5)  # per decade, for integer log sliders (steps, batch size)
LINEAR_POINTS = 150  # about this many positions on a linear slider


# --- notes about the URL -----------------------------------------------------
def begin_page():
    """Forget the notes and controls of the previous run; call once at the top of a page."""
    st.session_state[_NOTES] = []
    st.session_state[_KEYS] = set()


def end_controls():
    """After the last control: a link's parameters that no control of this view reads get a note."""
    for key in sorted(set(st.query_params) - st.session_state.get(_KEYS, set())):
        note(f"The link's `{key}={st.query_params[key]}` does not apply to this view and was ignored.")
        _drop_from_url(key)


def note(message: str):
    st.session_state.setdefault(_NOTES, []).append(message)


def show_url_notes(where=st):
    for message in st.session_state.get(_NOTES, []):
        where.warning(message, icon="🔗")


# --- number formats ----------------------------------------------------------
def format_number(value: float, integer: bool = False) -> str:
    """How a slider value is written in the URL and on the slider."""
    return str(int(value)) if integer else f"{float(value):.6g}"


def _nice_step(span: float, points: int) -> float:
    raw = span / points
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def slider_grid(spec: Parameter) -> list[float | int]:
    """The round values a slider for ``spec`` offers (its range, default and ends included)."""
    low, high = spec.low, spec.high
    if spec.log or (low == 0 and high >= 1000):  # a damping λ in [0, 10⁴] needs a log scale and 0
        bottom = low if low > 0 else high * 1e-8
        mantissas = ROUND_INTEGERS if spec.integer else E24
        decades = range(math.floor(math.log10(bottom)), math.ceil(math.log10(high)) + 1)
        values = [m * 10.0**d for d in decades for m in mantissas]
        if spec.integer:
            values += [2**k for k in range(int(math.log2(high)) + 1)]
        values = [float(f"{v:.6g}") for v in values if bottom <= v <= high]
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
    return sorted({cast(v) for v in values})


# --- URL checks --------------------------------------------------------------
def _url_value(key: str) -> str | None:
    return st.query_params[key] if key in st.query_params else None


def _drop_from_url(key: str):
    try:
        del st.query_params[key]
    except StreamlitAPIException:  # bound by an earlier run: unbinding it this run clears it
        pass


def bind_checked(
    key: str,
    parse: Callable[[str], Any],
    canonical: Callable[[str, Any], bool],
    default_text: str,
) -> str | None:
    """Check ``key``'s URL value before its widget reads it; the ``bind`` to use this run.

    ``parse`` turns the URL text into a valid value or raises ``ValueError``;
    ``canonical(text, value)`` says whether the widget itself would read that text.
    """
    st.session_state.setdefault(_KEYS, set()).add(key)
    raw = _url_value(key)
    if raw is None:
        return BIND
    try:
        value = parse(raw)
    except ValueError as error:
        note(f"The link's `{key}={raw}` was ignored: {error}. Using the default, {default_text}.")
        _drop_from_url(key)
        return None  # unbound for this run, so the widget starts at its default
    if canonical(raw, value):
        return BIND
    st.session_state[key] = value  # a valid value in another spelling
    _drop_from_url(key)
    return None


def _check_parameter(key: str, spec: Parameter, value_check=None) -> Callable[[str], Any]:
    def parse(raw: str):
        value = spec.check(key, raw)
        if value_check:
            value_check(value)
        return value

    return parse


def _valid_state(key: str, spec: Parameter):
    """The widget's value from an earlier run, if it suits ``spec`` (a key may change its spec)."""
    if key not in st.session_state:
        return None
    try:
        return spec.check(key, st.session_state[key])
    except ValueError:
        del st.session_state[key]
        return None


# --- widgets -----------------------------------------------------------------
def parameter_slider(
    key: str,
    spec: Parameter,
    *,
    label: str | None = None,
    help: str | None = None,
    where=st,
    on_change: Callable | None = None,
) -> float | int:
    """A slider over ``slider_grid(spec)``, bound to the URL parameter ``key``."""
    grid = slider_grid(spec)
    parse = _check_parameter(key, spec)
    bind = bind_checked(
        key,
        parse,
        canonical=lambda raw, value: raw == format_number(value, spec.integer),
        default_text=format_number(spec.default, spec.integer),
    )
    current = _valid_state(key, spec)
    if current is None and bind and _url_value(key) is not None:
        current = parse(_url_value(key))
    if current is not None and current not in grid:  # a valid value off the grid
        grid = sorted({*grid, current})
    scale = "log scale" if len(grid) > 2 and spec.log else None
    return where.select_slider(
        label or spec.label or key,
        options=grid,
        value=spec.default,
        format_func=functools.partial(format_number, integer=spec.integer),
        key=key,
        bind=bind,
        on_change=on_change,
        help=help or ", ".join(filter(None, [f"{format_number(spec.low)} to {format_number(spec.high)}", scale])),
    )


def choice(
    key: str,
    options: Sequence[str],
    titles: Mapping[str, str],
    *,
    label: str,
    default: str,
    where=st,
    on_change: Callable | None = None,
    help: str | None = None,
) -> str:
    """A selectbox over ``options`` shown (and written in the URL) by their titles; names also accepted."""
    by_title = {titles[o]: o for o in options}

    def parse(raw: str) -> str:
        if raw in by_title:
            return by_title[raw]
        if raw in options:
            return raw
        raise ValueError(f"unknown {label.lower()}; choose one of {', '.join(by_title)}")

    bind = bind_checked(key, parse, lambda raw, value: raw in by_title, titles[default])
    return where.selectbox(
        label,
        options,
        index=list(options).index(default),
        format_func=titles.__getitem__,
        key=key,
        bind=bind,
        on_change=on_change,
        help=help,
    )


def multichoice(
    key: str,
    options: Sequence,
    titles: Mapping,
    *,
    label: str,
    default: Sequence,
    where=st,
    max_selections: int | None = None,
    help: str | None = None,
) -> list:
    """A multiselect over ``options``, in the URL as one repeated ``key`` per choice, by title; names also accepted."""
    by_title = {titles[o]: o for o in options}
    listed = [text for text in st.query_params.get_all(key) if text]  # an empty ``key=`` chooses none

    def parse(_last: str) -> list:  # every repeated value, not only the last that bind_checked reads
        unknown = [text for text in listed if text not in by_title and text not in options]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not among {', '.join(map(str, by_title))}")
        if max_selections and len(listed) > max_selections:
            raise ValueError(f"choose at most {max_selections}")
        return list(dict.fromkeys(by_title.get(text, text) for text in listed))

    default_text = ", ".join(str(titles[o]) for o in default) or "none"
    bind = bind_checked(key, parse, lambda raw, value: all(text in by_title for text in listed), default_text)
    if key in st.session_state and not set(st.session_state[key]) <= set(options):
        del st.session_state[key]  # the options changed (a smaller problem): start from the default
    return where.multiselect(
        label, options, default=list(default), format_func=titles.__getitem__, key=key, bind=bind,
        max_selections=max_selections, help=help,
    )  # fmt: skip


def toggle(key: str, *, label: str, default: bool = False, where=st, help: str | None = None) -> bool:
    def parse(raw: str) -> bool:
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError("it must be true or false")

    bind = bind_checked(key, parse, lambda raw, value: raw.lower() in ("true", "false"), str(default).lower())
    return where.checkbox(label, value=default, key=key, bind=bind, help=help)


def number(
    key: str,
    spec: Parameter,
    *,
    label: str | None = None,
    where=st,
    help: str | None = None,
    step: float | None = None,
) -> float | int:
    """A number box bound to the URL; the range of ``spec`` is checked on the link, not on typing."""

    def canonical(raw: str, value) -> bool:
        return not spec.integer or raw.strip().lstrip("-").isdigit()

    bind = bind_checked(key, _check_parameter(key, spec), canonical, format_number(spec.default, spec.integer))
    if spec.integer:
        return where.number_input(
            label or spec.label or key, value=int(spec.default), min_value=int(spec.low), max_value=int(spec.high),
            step=1, key=key, bind=bind, help=help,
        )  # fmt: skip
    return where.number_input(
        label or spec.label or key, value=float(spec.default), step=step, format="%.3f", key=key, bind=bind, help=help
    )


# --- lessons -----------------------------------------------------------------
NO_LESSON = "none"


def lesson_picker(
    presets: Mapping[str, Mapping],
    preset_state: Callable[[str], Mapping[str, Any]],
    *,
    where=st,
    help: str | None = None,
) -> str:
    """The ``lesson`` selectbox (``NO_LESSON`` at first); picking one sets every control to ``preset_state(name)``."""

    def on_change():
        if st.session_state["lesson"] in presets:
            set_state(preset_state(st.session_state["lesson"]))

    titles = {NO_LESSON: "— pick a lesson —", **{name: preset["title"] for name, preset in presets.items()}}
    return choice(
        "lesson", [NO_LESSON, *presets], titles, label="Lesson", default=NO_LESSON, where=where, on_change=on_change,
        help=help,
    )  # fmt: skip


def apply_preset_from_link(
    presets: Mapping[str, Mapping],
    preset_state: Callable[[str], Mapping[str, Any]],
    preset_query: Callable[[str], Mapping[str, str | list[str]]],
):
    """``?preset=name``: every control set to ``preset_state(name)``, and the link rewritten as
    ``preset_query(name)`` (the controls that differ from their defaults); a name that is no lesson
    gets a note. Call before the first control.

    Widgets given their values through the session state leave them out of the URL on their first
    run, so the query is written here: a copied link then reopens the same view."""
    if "preset" not in st.query_params:
        return
    name = st.query_params["preset"]
    del st.query_params["preset"]
    if name not in presets:
        note(f"The link's `preset={name}` is not a lesson; choose one of: {', '.join(presets)}.")
        return
    set_state(preset_state(name))
    try:
        st.query_params.from_dict(preset_query(name))
    except StreamlitAPIException:  # a control is already bound: the widgets write the URL themselves
        pass


def set_state(values: Mapping[str, Any]):
    """Set widget values before their widgets are drawn (in a callback or at the top of a run)."""
    for key, value in values.items():
        st.session_state[key] = value
