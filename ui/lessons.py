"""Lessons are saved views: one TOML file each in ``lessons/<page>/``.

A lesson file holds its page, title, text and view, in the same keys and
values as the page's link (``ui.viewstate``)::

    page = "explorer"
    title = "Gradient descent zig-zags; momentum fixes it"
    order = 1                      # its place in the lists (optional)
    text = \"\"\"What to look for ...\"\"\"
    hide = ["steps"]               # controls an embedded view leaves out (optional)

    [view]
    landscape = "quadratic"
    condition_number = 100
    run1 = "gd"
    "run1.learning_rate" = 1.8     # dotted keys are quoted

    [[claims]]                     # what the text says happens, checked by the tests (optional)
    ...

The file's name is the lesson's name in links (``?lesson=zigzag``). A file
that cannot be read, or whose view this page cannot take as written, is left
out and reported with its name and line; the app starts all the same.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from ui import viewstate
from ui.viewstate import LessonView, format_number

FOLDER = Path(__file__).resolve().parent.parent / "lessons"
KEYS = {"page", "title", "order", "text", "hide", "view", "claims"}


class Lesson(NamedTuple):
    view: LessonView
    order: int
    claims: tuple[dict, ...]
    path: Path


class Problem(NamedTuple):
    path: Path
    line: int | None
    message: str

    def plain(self) -> str:
        where = self.path.name if self.line is None else f"{self.path.name}, line {self.line}"
        return f"Lesson file lessons/{self.path.parent.name}/{where}: {self.message}"


class Loaded(NamedTuple):
    lessons: dict[str, Lesson]
    problems: list[Problem]

    @property
    def views(self) -> dict[str, LessonView]:
        return {name: lesson.view for name, lesson in self.lessons.items()}


def link_texts(value: Any) -> tuple[str, ...]:
    """A TOML value as the texts a link would carry."""
    if isinstance(value, list):
        return tuple(text for item in value for text in link_texts(item)) or ("",)
    if isinstance(value, bool):
        return (str(value).lower(),)
    if isinstance(value, (int, float)):
        return (format_number(value, isinstance(value, int)),)
    return (str(value),)


def line_of(source: str, key: str) -> int | None:
    pattern = re.compile(rf'^\s*(?:"{re.escape(key)}"|{re.escape(key)})\s*=', re.MULTILINE)
    match = pattern.search(source)
    return source.count("\n", 0, match.start()) + 1 if match else None


def parse_file(path: Path, page: str) -> tuple[Lesson | None, list[Problem]]:
    """The lesson in ``path``, with its shape checked (its view is checked by ``load``)."""
    source = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        reason = str(error)[: found.start()].strip() if found else str(error)
        return None, [Problem(path, int(found.group(1)) if found else None, f"not valid TOML ({reason})")]
    problems = [Problem(path, line_of(source, key), f"unknown entry {key!r}") for key in data if key not in KEYS]
    if data.get("page", page) != page:
        problems.append(Problem(path, line_of(source, "page"), f"page is {data['page']!r} but the file lies in lessons/{page}/"))
    for key in ("title", "text"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(Problem(path, line_of(source, key), f"{key} must be a non-empty text"))
    view, hide = data.get("view", {}), data.get("hide", [])
    if not isinstance(view, dict) or any(isinstance(v, dict) for v in view.values()):
        problems.append(Problem(path, line_of(source, "view"), 'view must be one table of values; quote dotted keys ("run1.learning_rate")'))
    if not isinstance(hide, list) or not all(isinstance(h, str) for h in hide):
        problems.append(Problem(path, line_of(source, "hide"), "hide must be a list of control keys"))
    order = data.get("order", 1000)
    if isinstance(order, bool) or not isinstance(order, int):
        problems.append(Problem(path, line_of(source, "order"), "order must be a whole number"))
    if problems:
        return None, problems
    texts = {key: link_texts(value) for key, value in view.items()}
    lesson_view = LessonView(path.stem, data["title"].strip(), data["text"].strip(), texts, tuple(hide))
    return Lesson(lesson_view, order, tuple(data.get("claims", ())), path), []


def _check_view(lesson: Lesson, declare: viewstate.Declare) -> list[Problem]:
    """The lesson's view read as a link on its page: every note is a problem of the file."""
    query = dict(lesson.view.view)
    if lesson.view.hide:
        query[viewstate.HIDE] = (",".join(lesson.view.hide),)
    source = lesson.path.read_text(encoding="utf-8")
    notes = viewstate.read(declare, query, {}).notes
    return [Problem(lesson.path, line_of(source, note.key), note.plain()) for note in notes]


def _files(page: str) -> list[Path]:
    folder = FOLDER / page
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


_cache: dict[tuple, Loaded] = {}
_reading = threading.Lock()  # the server's warm-up (ui.serve) and a first visitor may ask at once: one reads
# A page asks at every rerun; listing the folder and reading each file's time takes several
# milliseconds, so it is looked at again once a second: a lesson dropped in or edited shows then.
RECHECK_SECONDS = 1.0
_looked: dict[Path, tuple[float, list[Path], tuple]] = {}


def _stamp(page: str) -> tuple[list[Path], tuple]:
    """The page's lesson files and their names and modification times, as last looked at."""
    folder, now = FOLDER / page, time.monotonic()
    looked = _looked.get(folder)
    if looked is None or now - looked[0] >= RECHECK_SECONDS:
        files = _files(page)
        looked = _looked[folder] = (now, files, tuple((path.name, path.stat().st_mtime_ns) for path in files))
    return looked[1], looked[2]


def load(page: str, declare: viewstate.Declare | None = None) -> Loaded:
    """The page's lessons in order, and the problems of the files left out (re-read when a file
    changes, within ``RECHECK_SECONDS``).

    With the page's ``declare``, each lesson's view is checked too."""
    files, times = _stamp(page)
    stamp = (page, declare, times)
    if stamp not in _cache:
        with _reading:
            if stamp not in _cache:
                _cache[stamp] = _read(files, page, declare)
    return _cache[stamp]


def _read(files: list[Path], page: str, declare: viewstate.Declare | None) -> Loaded:
    lessons, problems = [], []
    for path in files:
        lesson, found = parse_file(path, page)
        found = found or (_check_view(lesson, declare) if declare else [])
        problems += found
        if not found:
            lessons.append(lesson)
    lessons.sort(key=lambda lesson: (lesson.order, lesson.view.name))
    return Loaded({lesson.view.name: lesson for lesson in lessons}, problems)


def to_toml(page: str, title: str, text: str, query: dict[str, list[str]], hide: tuple[str, ...] = ()) -> str:
    """A lesson file for a view given as its canonical link: what "Save this view as a lesson" downloads."""

    def value(texts: list[str]) -> str:
        items = [_toml_scalar(text) for text in texts if text != ""]
        return items[0] if len(texts) == 1 and items else "[" + ", ".join(items) + "]"

    lines = [f"page = {_quoted(page)}", f"title = {_quoted(title)}", f"text = {_quoted(text)}"]
    if hide:
        lines.append("hide = [" + ", ".join(map(_quoted, hide)) + "]")
    lines += ["", "[view]"]
    lines += [f"{_quoted(key) if '.' in key else key} = {value(texts)}" for key, texts in query.items()]
    return "\n".join(lines) + "\n"


def _toml_scalar(text: str) -> str:
    """A link text as TOML: numbers and booleans bare, everything else a quoted string."""
    if text in ("true", "false") or viewstate.NUMBER.fullmatch(text) and not text.startswith("+"):
        try:
            tomllib.loads(f"x = {text}")
            return text
        except tomllib.TOMLDecodeError:
            pass
    return _quoted(text)


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
