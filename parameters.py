"""Numeric parameters with their allowed range: one description serves the
``ValueError`` of ``get_landscape``/``get_optimizer``, the app's sliders and
the fall-back for a bad value in a shared URL."""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple


class Parameter(NamedTuple):
    default: float
    low: float
    high: float
    log: bool = False  # slider on a log scale
    integer: bool = False
    label: str = ""

    def check(self, name: str, value) -> float | int:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise ValueError(f"{name} must lie in [{self.low:g}, {self.high:g}], got {value!r}")
        if self.integer:
            if number != int(number):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            return int(number)
        return number


def validate(kind: str, values: Mapping, specs: Mapping[str, Parameter]) -> dict:
    """Defaults filled in, every value range-checked; unknown names rejected."""
    unknown = sorted(set(values) - set(specs))
    if unknown:
        allowed = ", ".join(specs) or "none"
        raise ValueError(f"{kind} has no parameter {', '.join(unknown)}; allowed: {allowed}")
    return {name: spec.check(name, values.get(name, spec.default)) for name, spec in specs.items()}


def choose(kind: str, name: str, registry: Mapping):
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(registry)}")
    return registry[name]
