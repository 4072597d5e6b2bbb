"""A page's view state, declared once: what a link says, what a lesson saves, what the widgets show.

A page declares its controls as ``Field``s in a generator, ``declare(view)``,
that yields them in page order. A field may depend on the values before it
(``view`` holds them): a run slot's optimizer decides which settings follow,
the landscape decides the start's range and the settings' starting values.
From that one declaration come

* the defaults (``Field.default``, possibly computed from ``view``),
* reading a link: ``read(declare, query, lessons)`` → the state and the notes
  for everything that was refused, repeated or unknown,
* writing a link: ``write(declare, state, lessons)`` → the canonical query
  (each value spelled one way, only what differs from what the link would
  imply anyway), so ``read(write(state)) == state``,
* lessons (saved views, ``ui.lessons``): a lesson's view is the base a link
  starts from, so ``?lesson=zigzag&run1.learning_rate=1.5`` is that lesson
  with one slider moved,
* the widgets (``ui.controls``).

Nothing here imports Streamlit: reading and writing are pure functions of
plain dictionaries, tested as properties in ``tests/test_viewstate.py``.

A query maps each key to the list of its values in the link (a key may be
repeated: ``methods=gd&methods=adam``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

from parameters import Parameter

Query = Mapping[str, Sequence[str]]
Declare = Callable[[dict], Iterator["Field"]]

LESSON, PRESET, HIDE = "lesson", "preset", "hide"
NO_LESSON = "none"
TYPED = "The value typed for"
SHOWN_CHARACTERS = 60  # a value from a link is echoed in a note at most this long

# Plain ASCII decimal numbers only: Python's float() also takes "1_0", "inf", "nan" and full-width digits.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)


# --- spelling numbers ------------------------------------------------------------
def format_number(value: float, integer: bool = False) -> str:
    """The shortest of ``%.6g`` and ``repr`` that reads back as exactly ``value``."""
    if integer:
        return str(int(value))
    short = f"{float(value):.6g}"
    return short if float(short) == float(value) else repr(float(value))


def parse_number(text: str, spec: Parameter) -> float | int:
    """A link's number: plain ASCII digits, within ``spec``'s range (the message never repeats ``text``)."""
    pattern = INTEGER if spec.integer else NUMBER
    if not pattern.fullmatch(text.strip()):
        raise ValueError("it is not a whole number" if spec.integer else "it is not a number")
    number = float(text)
    if not spec.low <= number <= spec.high:
        raise ValueError(f"it must lie in [{format_number(spec.low)}, {format_number(spec.high)}]")
    return int(text) if spec.integer else number


# --- fields ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Field:
    """One control of a view: its key in the link, its label, and its default.

    ``resets``: the keys whose values start afresh when this one changes (a run
    slot's settings when its optimizer changes); a lesson's values for them
    apply only while this field keeps the lesson's value.
    """

    key: str
    label: str
    default: Any
    help: str | None = None
    resets: Callable[[str], bool] | None = None

    def parse(self, texts: Sequence[str]) -> Any:
        """The value a link's texts for this key mean; ``ValueError`` with the reason if none."""
        return self.parse_one(texts[-1])

    def parse_one(self, text: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """``value`` (from a widget or a lesson) if it is valid here, normalised; else ``ValueError``."""
        raise NotImplementedError

    def write(self, value: Any) -> list[str]:
        raise NotImplementedError

    def describe(self, value: Any) -> str:
        """The value as the page shows it, for a note."""
        return " ".join(self.write(value))


@dataclasses.dataclass(frozen=True)
class Number(Field):
    """A slider (or, with ``box``, a number box) over ``spec``'s range."""

    spec: Parameter = Parameter(0.0, 0.0, 1.0)
    box: bool = False
    step: float | None = None

    def parse_one(self, text: str):
        return parse_number(text, self.spec)

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.key} must be a number")
        return self.spec.check(self.key, value)

    def write(self, value) -> list[str]:
        return [format_number(value, self.spec.integer)]


@dataclasses.dataclass(frozen=True)
class Toggle(Field):
    TRUE = ("true", "1", "yes", "on")
    FALSE = ("false", "0", "no", "off")

    def parse_one(self, text: str) -> bool:
        word = text.strip().lower()
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise ValueError("it must be true or false")

    def check(self, value) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{self.key} must be true or false")
        return value

    def write(self, value) -> list[str]:
        return [str(bool(value)).lower()]


@dataclasses.dataclass(frozen=True)
class Text(Field):
    """A line of text (a formula), refused by ``validate`` with a ``ValueError`` that says why."""

    max_length: int = 500
    validate: Callable[[str], object] | None = None

    def parse_one(self, text: str) -> str:
        return self.check(text)

    def check(self, value) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{self.key} must be a text")
        if len(value) > self.max_length:
            raise ValueError(f"it is longer than {self.max_length} characters")
        if self.validate:
            self.validate(value)
        return value

    def write(self, value) -> list[str]:
        return [value]


@dataclasses.dataclass(frozen=True)
class Choice(Field):
    """One of ``options``, written by its name; its title (what the page shows) is read too."""

    options: tuple = ()
    names: Mapping[Any, str] | None = None  # how an option is written; str(option) if not given
    titles: Mapping[Any, str] | None = None

    def name(self, option) -> str:
        return self.names[option] if self.names else str(option)

    def title(self, option) -> str:
        return self.titles[option] if self.titles else self.name(option)

    def find(self, text: str):
        text = text.strip()
        for option in self.options:
            if text in (self.name(option), self.title(option)):
                return option
        folded = text.casefold()
        for option in self.options:
            if folded in (self.name(option).casefold(), self.title(option).casefold()):
                return option
        raise ValueError(f"it is not one of {', '.join(self.name(o) for o in self.options)}")

    def parse_one(self, text: str):
        return self.find(text)

    def check(self, value):
        if value not in self.options:
            raise ValueError(f"{self.key} must be one of {', '.join(map(self.name, self.options))}")
        return value

    def write(self, value) -> list[str]:
        return [self.name(value)]

    def describe(self, value) -> str:
        return self.title(value)


@dataclasses.dataclass(frozen=True)
class Multi(Choice):
    """Several of ``options`` (a tuple, in the order chosen), one repeated key per choice; an empty
    ``key=`` chooses none."""

    max_selections: int | None = None

    def parse(self, texts: Sequence[str]) -> tuple:
        chosen, unknown = [], []
        for text in texts:
            if not text.strip():
                continue
            try:
                chosen.append(self.find(text))
            except ValueError:
                unknown.append(text)
        chosen = tuple(dict.fromkeys(chosen))
        if unknown:
            kept = f"; kept {', '.join(map(self.title, chosen))}" if chosen else ""
            raise PartlyValid(chosen if chosen else None, f"{', '.join(shorten(t, 30) for t in unknown)} is not among "
                              f"{', '.join(map(self.name, self.options))}{kept}")  # fmt: skip
        if self.max_selections and len(chosen) > self.max_selections:
            raise PartlyValid(chosen[: self.max_selections], f"at most {self.max_selections} can be chosen; kept the first")
        return chosen

    def check(self, value) -> tuple:
        value = tuple(value)
        if not set(value) <= set(self.options) or len(set(value)) != len(value):
            raise ValueError(f"{self.key} must be distinct options among {', '.join(map(self.name, self.options))}")
        if self.max_selections and len(value) > self.max_selections:
            raise ValueError(f"{self.key} takes at most {self.max_selections}")
        return value

    def write(self, value) -> list[str]:
        return [self.name(v) for v in value] or [""]

    def describe(self, value) -> str:
        return ", ".join(map(self.title, value)) or "none"


class PartlyValid(ValueError):
    """A link value of which a part was used (``value``; None if nothing)."""

    def __init__(self, value, reason: str):
        super().__init__(reason)
        self.value = value


# --- notes -------------------------------------------------------------------------
class Note(NamedTuple):
    """Something a link asked for that the page did not do as asked. Plain text: never markup."""

    key: str
    text: str  # the link's value, as given
    message: str  # what happened, in words that do not include the value
    origin: str = "The link's"  # or TYPED, when the reader typed it into a widget

    def plain(self) -> str:
        return f"{self.origin} {self.key}={shorten(self.text)} {shorten(self.message, 400)}"


def shorten(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    text = "".join(c if c.isprintable() else "�" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- lessons as bases ---------------------------------------------------------------
class LessonView(NamedTuple):
    """A saved view: its title and text, its values as link texts, and the keys an embed hides."""

    name: str
    title: str
    text: str
    view: Mapping[str, tuple[str, ...]]
    hide: tuple[str, ...] = ()


class Base:
    """What a link implies for a key it does not give: the lesson's value, else the field's default.

    A lesson's value for a key stops applying once a field that ``resets`` that key has left the
    lesson's value (the lesson's Adam settings do not apply after Run 1 became gradient descent)."""

    def __init__(self, lesson: LessonView | None):
        self.lesson = lesson
        self.blocked: list[Callable[[str], bool]] = []

    def implied(self, field: Field) -> Any:
        texts = self.lesson.view.get(field.key) if self.lesson else None
        if texts is not None and not any(blocks(field.key) for blocks in self.blocked):
            try:
                return field.parse(texts)
            except ValueError:
                pass  # a lesson value that this view cannot take (checked when the lesson is loaded)
        return field.default

    def settle(self, field: Field, value: Any, implied: Any):
        """After ``field`` took ``value``: if it left the lesson's value, its dependants leave the lesson too."""
        if field.resets and value != implied:
            self.blocked.append(field.resets)


# --- reading and writing --------------------------------------------------------------
class Reading(NamedTuple):
    state: dict
    notes: list[Note]


def lesson_field(lessons: Mapping[str, LessonView]) -> Choice:
    titles = {NO_LESSON: "— pick a lesson —", **{name: lesson.title for name, lesson in lessons.items()}}
    return Choice(LESSON, "Lesson", NO_LESSON, options=(NO_LESSON, *lessons), titles=titles,
                  help="Each lesson sets up one phenomenon; every control stays free to move.")  # fmt: skip


def walk(declare: Declare, lessons: Mapping[str, LessonView], value_for: Callable[[Field, Any], Any]) -> dict:
    """Go through the page's fields in order; ``value_for(field, implied)`` gives each one's value."""
    lesson_choice = lesson_field(lessons)
    lesson = value_for(lesson_choice, NO_LESSON)
    view = {LESSON: lesson}
    base = Base(lessons.get(lesson))
    for field in declare(view):
        implied = base.implied(field)
        view[field.key] = value_for(field, implied)
        base.settle(field, view[field.key], implied)
    return view


def fields_of(declare: Declare, state: Mapping) -> dict[str, Field]:
    """The fields of the view ``state`` describes, by key, in page order."""
    view = {LESSON: state.get(LESSON, NO_LESSON)}
    found = {}
    for field in declare(view):
        found[field.key] = field
        view[field.key] = state[field.key] if field.key in state else field.default
    return found


def read(declare: Declare, query: Query, lessons: Mapping[str, LessonView]) -> Reading:
    """The state a link describes, with a note for every value it could not take as given."""
    query = {key: list(texts) for key, texts in query.items()}
    notes: list[Note] = []
    spelled = {}  # the key as the link wrote it, for the notes
    if PRESET in query:  # the older spelling of a lesson link
        texts = query.pop(PRESET)
        if LESSON in query:
            notes.append(Note(PRESET, texts[-1], "was ignored: the link also names a lesson."))
        else:
            query[LESSON], spelled[LESSON] = texts, PRESET

    def value_for(field: Field, implied):
        texts = query.get(field.key)
        if texts is None:
            return implied
        key = spelled.get(field.key, field.key)
        if len(texts) > 1 and not isinstance(field, Multi):
            notes.append(Note(key, texts[-1], f"is given {len(texts)} times; the last one is used."))
        try:
            return field.parse(texts)
        except PartlyValid as partly:
            used = implied if partly.value is None else partly.value
            notes.append(Note(key, " ".join(texts), f"was not used as given: {partly}. Using {field.describe(used)}."))
            return used
        except ValueError as error:
            notes.append(Note(key, texts[-1], f"was ignored: {error}. Using {field.describe(implied)}."))
            return implied

    state = walk(declare, lessons, value_for)
    state[HIDE] = read_hide(query.get(HIDE), state, declare, lessons, notes)
    for key in query:
        if key not in state:
            notes.append(Note(key, query[key][-1], "does not apply to this view and was ignored."))
    return Reading(state, notes)


def read_hide(texts, state, declare, lessons, notes) -> tuple[str, ...]:
    """``hide=a,b``: the controls an embedded view leaves out (the lesson's own list if the link has none)."""
    lesson = lessons.get(state[LESSON])
    if texts is None:
        return lesson.hide if lesson else ()
    keys = fields_of(declare, state).keys()
    asked = [part.strip() for text in texts for part in text.split(",") if part.strip()]
    unknown = [part for part in asked if not hides_any(part, keys)]
    if unknown:
        notes.append(Note(HIDE, ",".join(asked), f"names no control of this view: {', '.join(map(shorten, unknown))}."))
    return tuple(dict.fromkeys(part for part in asked if part not in unknown))


def hides_any(entry: str, keys: Iterable[str]) -> bool:
    return any(is_hidden(key, (entry,)) for key in keys)


def is_hidden(key: str, hide: Sequence[str]) -> bool:
    """``hide`` names the key itself or a group it belongs to (``run1`` hides ``run1.learning_rate``)."""
    return any(key == entry or key.startswith(entry + ".") for entry in hide)


def settled(declare: Declare, state: Mapping, lessons: Mapping[str, LessonView]) -> dict:
    """``state`` made whole and valid for its own fields: a missing or invalid value takes what a link implies."""

    def value_for(field: Field, implied):
        if field.key in state:
            try:
                return field.check(state[field.key])
            except ValueError:
                pass
        return implied

    view = walk(declare, lessons, value_for)
    view[HIDE] = tuple(state.get(HIDE, ()))
    return view


def write(declare: Declare, state: Mapping, lessons: Mapping[str, LessonView]) -> dict[str, list[str]]:
    """The canonical link of ``state``: each value that differs from what the link implies without it."""
    query: dict[str, list[str]] = {}

    def value_for(field: Field, implied):
        value = field.check(state[field.key]) if field.key in state else implied
        if value != implied:
            query[field.key] = field.write(value)
        return value

    walk(declare, lessons, value_for)
    hide = tuple(state.get(HIDE, ()))
    lesson = lessons.get(state.get(LESSON, NO_LESSON))
    if hide != (lesson.hide if lesson else ()):
        query[HIDE] = [",".join(hide)]
    return query


def defaults(declare: Declare, lessons: Mapping[str, LessonView] = {}) -> dict:
    return read(declare, {}, lessons).state


def lesson_state(declare: Declare, lessons: Mapping[str, LessonView], name: str) -> dict:
    """Every control's value in lesson ``name``."""
    return read(declare, {LESSON: [name]}, lessons).state
