"""The view state of every page (``ui.viewstate``): a link reopens exactly the state it was written
from, any text in any key falls back with a plain-text note, and lessons are files.

Reading and writing links are pure functions of dictionaries, so the properties are checked
directly, with ``hypothesis`` generating states and hostile strings; the pages themselves are
checked in ``test_explorer.py``, ``test_eigenspace.py``, ``test_scaleup.py`` and the browser test."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ui import eigenspace, explorer, lessons, scale_up, viewstate
from ui.controls import MARKDOWN_PUNCTUATION, WORD_JOINER, plain_markdown, slider_grid
from ui.viewstate import HIDE, LESSON, NO_LESSON, Choice, Multi, Number, Toggle, read, write

PAGES = {explorer.PAGE: explorer.declare, eigenspace.PAGE: eigenspace.declare, scale_up.PAGE: scale_up.declare}
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def page_lessons(page: str) -> dict:
    return lessons.load(page, PAGES[page]).views


def query(**values) -> dict[str, list[str]]:
    return {key.replace("__", "."): value if isinstance(value, list) else [value] for key, value in values.items()}


def link(page: str, given: dict) -> dict:
    """What the page writes in the address bar for the link ``given``."""
    views = page_lessons(page)
    return write(PAGES[page], read(PAGES[page], given, views).state, views)


def notes(page: str, given: dict) -> list[str]:
    return [note.plain() for note in read(PAGES[page], given, page_lessons(page)).notes]


# --- states generated from the declarations ---------------------------------------------
def field_values(field):
    if isinstance(field, Number):
        spec = field.spec
        if field.box:
            return st.integers(int(spec.low), int(spec.high)) if spec.integer else st.floats(spec.low, spec.high)
        return st.sampled_from(slider_grid(spec))
    if isinstance(field, Multi):
        most = field.max_selections or len(field.options)
        return st.lists(st.sampled_from(field.options), unique=True, max_size=min(most, 6)).map(tuple)
    if isinstance(field, Choice):
        return st.sampled_from(field.options)
    if isinstance(field, Toggle):
        return st.booleans()
    if isinstance(field, viewstate.Text):
        return st.sampled_from([field.default, "x**2 + 3*y**2", "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2"])
    raise AssertionError(type(field))


def draw_state(data, page: str) -> dict:
    views = page_lessons(page)
    view = {LESSON: data.draw(st.sampled_from([NO_LESSON, *views]), label="lesson")}
    for field in PAGES[page](view):
        view[field.key] = data.draw(field_values(field), label=field.key)
    return view


@pytest.mark.parametrize("page", PAGES)
@EXAMPLES
@given(data=st.data())
def test_any_state_survives_its_own_link(page, data):
    state = draw_state(data, page)
    views = page_lessons(page)
    written = write(PAGES[page], state, views)
    reading = read(PAGES[page], written, views)
    assert reading.notes == []
    assert reading.state == {**state, HIDE: ()}
    assert write(PAGES[page], reading.state, views) == written  # one spelling


HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["`", "**x**", "[a](https://evil.example)", "![t](https://evil.example/t.png)", "<img src=x>",
                     "javascript:alert(1)", ":red[x]", "$x^2$", "1_0", "１０", "nan", "inf", "-0", "1e999", "0x10",
                     "\n\n# heading", "\u202e", "a" * 5000]),
)  # fmt: skip


@pytest.mark.parametrize("page", PAGES)
@EXAMPLES
@given(data=st.data())
def test_any_text_in_any_key_falls_back_with_a_plain_note(page, data):
    views = page_lessons(page)
    keys = list(viewstate.fields_of(PAGES[page], viewstate.defaults(PAGES[page], views))) + [LESSON, HIDE, "preset", "x"]
    given_query = {data.draw(st.sampled_from(keys), label="key"): [data.draw(HOSTILE, label="text")] for _ in range(3)}
    reading = read(PAGES[page], given_query, views)
    assert viewstate.settled(PAGES[page], reading.state, views) == reading.state  # a whole, valid state
    for note in reading.notes:
        assert every_mark_escaped(plain_markdown(note.plain()))
        assert len(note.plain()) < 400  # the value is cut, never echoed whole
        assert "\n" not in note.plain()


def every_mark_escaped(shown: str) -> bool:
    """Each punctuation mark of ``shown`` comes as a backslash escape, so Markdown prints it as itself."""
    characters = iter(shown)
    for c in characters:
        if c == "\\":
            if next(characters, "") not in MARKDOWN_PUNCTUATION:
                return False
        elif c in MARKDOWN_PUNCTUATION:
            return False
    return True


def test_plain_markdown_escapes_every_punctuation_mark_and_keeps_the_text():
    text = "x` **Your session expired** [log in again](https://evil.example/login) ![t](https://evil.example/t.png) `"
    shown = plain_markdown(text)
    assert re.sub(r"\\(.)", r"\1", shown).replace(WORD_JOINER, "") == text and every_mark_escaped(shown)
    assert "https:" + WORD_JOINER in re.sub(r"\\(.)", r"\1", shown)  # no bare address left to turn into a link
    assert "**" not in shown.replace("\\*", "") and "](" not in shown.replace("\\]\\(", "")


# --- what failed before, one by one ------------------------------------------------------------
@pytest.mark.parametrize("lesson", ["zigzag", "adam_rosenbrock", "noise_floor"])
def test_a_lesson_with_fewer_than_four_runs_keeps_its_shape(lesson):
    assert notes("explorer", query(preset=lesson)) == []
    state = read(explorer.declare, link("explorer", query(preset=lesson)), page_lessons("explorer")).state
    assert state["run3"] == state["run4"] == "none"


def test_empty_run_slots_are_kept_in_the_link():
    given = query(run2="none", run3="none", run4="none")
    assert notes("explorer", given) == []
    assert link("explorer", given) == given


def test_names_and_titles_are_written_in_one_spelling():
    assert link("explorer", query(landscape="saddle", run1="newton")) == query(landscape="saddle", run1="newton")
    given = query(landscape="rosenbrock", run1="damped_ggn", run1__adaptive="true", run1__damping="0")
    assert link("explorer", given) == given
    assert link("explorer", query(landscape="Rosenbrock", run1="Newton")) == query(landscape="rosenbrock", run1="newton")
    assert link("explorer", query(run1__learning_rate="0.20")) == query(run1__learning_rate="0.2")
    assert link("eigenspace", query(problem="rosenbrock")) == query(problem="rosenbrock")


def test_a_key_of_another_view_is_named_and_dropped():
    given = query(problem="rosenbrock", condition_number="50")
    assert link("eigenspace", given) == query(problem="rosenbrock")
    assert any("condition_number=50 does not apply" in note for note in notes("eigenspace", given))


@pytest.mark.parametrize("text", ["1_0", "１０", "nan", "inf", "0x10", " ", "1e999"])
def test_only_plain_decimal_numbers_are_numbers(text):
    reading = read(explorer.declare, query(steps=text), page_lessons("explorer"))
    assert reading.state["steps"] == explorer.STEPS.default and len(reading.notes) == 1


def test_a_lesson_with_a_control_changed_keeps_the_change():
    given = query(lesson="adam_rosenbrock", view3d="true")
    assert link("explorer", given) == given
    assert link("explorer", query(preset="adam_rosenbrock", view3d="true")) == given


def test_markdown_in_a_value_is_cut_and_shown_as_text():
    text = "x` **Your session expired** [log in again](https://evil.example/login) ![t](https://evil.example/t.png) `"
    (note,) = read(explorer.declare, query(landscape=text), page_lessons("explorer")).notes
    assert note.text == text and "…" in note.plain() and len(note.plain()) < 400
    assert note.plain().count("evil") <= 1  # echoed once, cut, never twice in full
    long = read(explorer.declare, query(landscape="a" * 5000), page_lessons("explorer")).notes[0].plain()
    assert long.count("a" * 50) == 1 and len(long) < 400


def test_a_repeated_key_is_noted():
    reading = read(explorer.declare, query(run1=["adam", "gd"]), page_lessons("explorer"))
    assert reading.state["run1"] == "gd"
    assert any("given 2 times" in note.plain() for note in reading.notes)


def test_unknown_keys_are_noted_on_every_page():
    for page in PAGES:
        assert any("foo=bar does not apply" in note for note in notes(page, query(foo="bar", run7="adam")))


def test_a_multiselect_note_names_the_unknown_value_and_keeps_the_known():
    reading = read(eigenspace.declare, query(methods=["turbo", "gd"]), page_lessons("eigenspace"))
    assert reading.state["methods"] == ("gd",)
    (note,) = reading.notes
    assert "turbo is not among" in note.plain() and "kept Gradient descent" in note.plain()
    assert link("eigenspace", query(methods=["turbo", "gd"])) == query(methods=["gd"])
    assert link("eigenspace", query(methods="")) == query(methods="")  # none chosen, on purpose


def test_a_start_beyond_the_escape_radius_is_refused_with_a_note():
    reading = read(explorer.declare, query(x0="100", y0="100"), page_lessons("explorer"))
    assert reading.state["x0"], reading.state["y0"] == explorer.default_start("quadratic")
    assert len(reading.notes) == 2 and all("must lie in" in note.plain() for note in reading.notes)
    low, high = explorer.start_ranges("quadratic")[0]
    landscape = explorer.build_landscape("quadratic", ())
    assert high < landscape.escape_radius and low > -landscape.escape_radius


def test_a_lesson_value_stops_applying_once_its_run_changes_optimizer():
    views = page_lessons("explorer")
    state = read(explorer.declare, query(lesson="zigzag"), views).state
    assert state["run1.learning_rate"] == 1.8
    changed = viewstate.settled(explorer.declare, {**state, "run1": "adam", "run1.learning_rate": 0.05}, views)
    assert read(explorer.declare, write(explorer.declare, changed, views), views).state == changed


def test_hide_names_controls_of_the_view():
    reading = read(explorer.declare, query(hide="steps,run1,nonsense"), page_lessons("explorer"))
    assert reading.state[HIDE] == ("steps", "run1")
    assert any("nonsense" in note.plain() for note in reading.notes)
    assert viewstate.is_hidden("run1.learning_rate", reading.state[HIDE])
    assert write(explorer.declare, reading.state, page_lessons("explorer")) == query(hide="steps,run1")


# --- lessons as files ----------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_lesson_file_loads_without_a_problem(page):
    loaded = lessons.load(page, PAGES[page])
    assert loaded.problems == [] and len(loaded.lessons) >= 4
    for lesson in loaded.lessons.values():
        assert len(lesson.view.text) > 100 and lesson.view.title


def test_a_malformed_lesson_file_is_reported_with_its_name_and_line(tmp_path, monkeypatch):
    folder = tmp_path / "explorer"
    folder.mkdir()
    (folder / "broken.toml").write_text('page = "explorer"\ntitle = "x"\ntext = "unterminated\n')
    (folder / "wrong_value.toml").write_text(
        'page = "explorer"\ntitle = "A title"\ntext = "A text"\n\n[view]\nlandscape = "volcano"\n'
    )
    (folder / "good.toml").write_text('page = "explorer"\ntitle = "Good"\ntext = "Fine"\n[view]\nsteps = 50\n')
    monkeypatch.setattr(lessons, "FOLDER", tmp_path)
    loaded = lessons.load("explorer", explorer.declare)
    assert list(loaded.lessons) == ["good"]
    problems = {problem.path.name: problem for problem in loaded.problems}
    assert problems["broken.toml"].line == 3 and "not valid TOML" in problems["broken.toml"].plain()
    assert problems["wrong_value.toml"].line == 6 and "volcano" in problems["wrong_value.toml"].plain()
    assert "lessons/explorer/wrong_value.toml, line 6" in problems["wrong_value.toml"].plain()


@pytest.mark.parametrize("page", PAGES)
def test_a_saved_view_is_a_lesson_that_reopens_it(page, tmp_path, monkeypatch):
    views = page_lessons(page)
    name = next(iter(views))
    state = read(PAGES[page], query(lesson=name), views).state
    plain = {**state, LESSON: NO_LESSON}
    text = lessons.to_toml(page, "Saved", "What to look for.", write(PAGES[page], plain, {}), ("steps",))
    (tmp_path / page).mkdir()
    (tmp_path / page / "saved.toml").write_text(text)
    monkeypatch.setattr(lessons, "FOLDER", tmp_path)
    loaded = lessons.load(page, PAGES[page])
    assert loaded.problems == []
    reopened = read(PAGES[page], query(lesson="saved"), loaded.views).state
    assert {**reopened, LESSON: name, HIDE: ()} == {**state, HIDE: ()}
    assert reopened[HIDE] == ("steps",)


def test_a_text_field_refuses_what_its_check_refuses_with_a_note():
    def no_z(text):
        if "z" in text:
            raise ValueError("no z allowed at column " + str(text.index("z") + 1))

    def declare(view):
        yield viewstate.Text("formula", "formula", "x + y", max_length=20, validate=no_z)

    reading = read(declare, query(formula="x*z"), {})
    assert reading.state["formula"] == "x + y"
    assert reading.notes[0].plain() == "The link's formula=x*z was ignored: no z allowed at column 3. Using x + y."
    assert read(declare, query(formula="x" * 21), {}).notes[0].message.startswith("was ignored: it is longer than 20")
    assert write(declare, {"formula": "x*y"}, {}) == query(formula="x*y")


@given(st.integers(1, 10**6), st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_a_log_slider_offers_only_values_inside_its_range(low, decades):
    """Every value a slider offers is one it accepts: whole numbers exact (2²⁰ stays 1048576), reals in range."""
    from parameters import Parameter

    high = low * 10**decades
    for integer in (True, False):
        spec = Parameter(low, low, high, log=True, integer=integer)
        grid = slider_grid(spec)
        assert grid[0] == low and grid[-1] == high
        assert all(low <= v <= high for v in grid)
        assert all(isinstance(v, int) for v in grid) if integer else True
    assert 2**20 in slider_grid(Parameter(16, 1, 2**20, log=True, integer=True))
