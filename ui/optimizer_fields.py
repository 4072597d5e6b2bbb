"""An optimizer's settings as view-state fields (``ui.viewstate``), the same on every page.

Numeric hyperparameters are sliders; switches (``adaptive``) are checkboxes; the line search is a
choice written by its name (``run1.line_search=exact``); other structural options (buffer sizes)
are sliders too, though changing one compiles anew."""

from __future__ import annotations

from typing import Iterator, Mapping

from optimizers import LINE_SEARCHES, OPTIMIZERS
from parameters import Parameter
from ui.viewstate import Choice, Field, Number, Toggle

# The settings drawn at once; the rest go into a "more settings" expander.
PRIMARY = {"learning_rate", "momentum", "b1", "b2", "decay", "damping", "max_learning_rate", "memory_size"}
PRIMARY |= {"param_decay", "grad_decay", "pair_interval", "adaptive", "line_search"}
LINE_SEARCH_TITLES = {0: "none (fixed step α)", 1: "backtracking (Armijo; at most α)", 2: "exact (zoom, strong Wolfe)"}
LABELS = {"adaptive": "adaptive damping (Levenberg–Marquardt)"}


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
