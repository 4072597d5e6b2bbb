"""An optimizer's settings as view-state fields (``ui.viewstate``), the same on every page.

Numeric hyperparameters are sliders; switches (``adaptive``) are checkboxes; the line search is a
choice written by its name (``run1.line_search=exact``); other structural options (buffer sizes)
are sliders too, though changing one compiles anew."""

from __future__ import annotations

from typing import Iterator, Mapping

from optimizers import LINE_SEARCHES, OPTIMIZERS, SCHEDULES
from optimizers.schedules import SCHEDULE_TITLES
from optimizers.averaging import AVERAGING, AVERAGING_TITLES
from parameters import Parameter
from ui.viewstate import Choice, Field, Number, Toggle

# The settings drawn at once; the rest go into a "more settings" expander.
PRIMARY = {"learning_rate", "momentum", "b1", "b2", "decay", "damping", "max_learning_rate", "memory_size"}
PRIMARY |= {"param_decay", "grad_decay", "pair_interval", "adaptive", "line_search"}
LINE_SEARCH_TITLES = {0: "none (fixed step α)", 1: "backtracking (Armijo; at most α)", 2: "exact (zoom, strong Wolfe)"}
LABELS = {"adaptive": "adaptive damping (Levenberg–Marquardt)"}


SCHEDULE, AVERAGE = "schedule", "average"  # a run's wrappers, as <prefix>.schedule and <prefix>.average
CONSTANT, NO_AVERAGE = "constant", "none"
AVERAGE_OPTIONS = (NO_AVERAGE, *AVERAGING)
AVERAGE_TITLES = {NO_AVERAGE: "none (the iterate itself)", **AVERAGING_TITLES}
SCHEDULE_HELP = ("The learning rate α·s(t), with α the optimizer's own as the peak: one of optax's schedules. "
                 "Its numbers are traced, so moving one never compiles.")  # fmt: skip
AVERAGE_HELP = ("Keeps an average of the iterates beside the run (Polyak–Ruppert: the running mean from step s; "
                "or an exponential moving average); drawn dashed, the run itself unchanged.")  # fmt: skip


def setting_field(key: str, name: str, spec: Parameter) -> Field:
    """The field for setting ``name`` (described by ``spec``) under the link key ``key``."""
    label = LABELS.get(name) or spec.label or name.replace("_", " ")
    if isinstance(spec.default, bool):
        return Toggle(key, label, spec.default)
    if name == "line_search":
        names = dict(enumerate(LINE_SEARCHES))
        return Choice(key, label, spec.default, options=tuple(names), names=names, titles=LINE_SEARCH_TITLES)
    return Number(key, label, spec.default, spec=spec)


def setting_fields(prefix: str, optimizer: str, defaults: Mapping[str, object] = {}, *, options: set[str] | None = None
                   ) -> Iterator[Field]:  # fmt: skip
    """Every hyperparameter of ``optimizer``, and those of its options in ``options`` (all if None), as
    ``<prefix>.<name>``; ``defaults`` overrides the registry's starting values."""
    info = OPTIMIZERS[optimizer]
    chosen = {name: spec for name, spec in info.options.items() if options is None or name in options}
    for name, spec in {**info.hyperparameters, **chosen}.items():
        yield setting_field(f"{prefix}.{name}", name, spec._replace(default=defaults.get(name, spec.default)))


def wrapper_fields(prefix: str, view: Mapping) -> Iterator[Field]:
    """A run's learning-rate schedule and iterate averaging: ``<prefix>.schedule`` (constant by default) with
    its numbers as ``<prefix>.schedule.<name>``, and ``<prefix>.average`` (none by default) with its
    numbers as ``<prefix>.average.<name>``, each shown only for the kind chosen. ``view`` holds the values
    of the fields yielded before (read after each yield)."""
    for key, default, options, titles, numbers, help in (
        (SCHEDULE, CONSTANT, tuple(SCHEDULES), SCHEDULE_TITLES, SCHEDULES, SCHEDULE_HELP),
        (AVERAGE, NO_AVERAGE, AVERAGE_OPTIONS, AVERAGE_TITLES, AVERAGING, AVERAGE_HELP),
    ):
        field_key = f"{prefix}.{key}"
        own = field_key + "."
        label = "learning-rate schedule" if key == SCHEDULE else "iterate averaging"
        yield Choice(field_key, label, default, options=options, titles=titles, help=help,
                     resets=lambda k, own=own: k.startswith(own))  # fmt: skip
        for name, spec in numbers.get(view[field_key], {}).items():
            yield Number(f"{own}{name}", spec.label or name, spec.default, spec=spec)


def split_wrappers(values: Mapping[str, object]) -> tuple[dict, str, dict, str, dict]:
    """A run's values by name (``learning_rate``, ``schedule``, ``schedule.decay_steps``, ...) split into
    the optimizer's settings, the schedule and its numbers, and the averaging and its numbers."""
    settings, wrapped = {}, {SCHEDULE: {}, AVERAGE: {}}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if head in wrapped and rest:
            wrapped[head][rest] = value
        elif name not in wrapped:
            settings[name] = value
    return (settings, values.get(SCHEDULE, CONSTANT), wrapped[SCHEDULE], values.get(AVERAGE, NO_AVERAGE),
            wrapped[AVERAGE])  # fmt: skip
