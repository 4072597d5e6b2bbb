"""What the schedule and averaging wrappers share: an optimizer inside, their own numbers as pytree
leaves beside its hyperparameters, and a static kind.

A wrapper behaves as the ``Optimizer`` it holds (``name``, ``info``, ``needs``, ``init``, ``update``),
so ``run_trajectory``, ``run_trajectories`` and the Scale-up trainer take it unchanged, and wrappers
nest (a scheduled, averaged Adam). A subclass says which numbers each kind has (``KINDS``), how a
kind is named (``TITLES``), and how it wraps a transformation (``wrap``)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import optax

from parameters import Parameter, choose, validate


@dataclasses.dataclass(frozen=True)
class Wrapper:
    optimizer: Any
    params: dict[str, Any]
    kind: str = dataclasses.field(metadata=dict(static=True))

    KINDS: ClassVar[Mapping[str, Mapping[str, Parameter]]] = {}
    TITLES: ClassVar[Mapping[str, str]] = {}
    WHAT: ClassVar[str] = "wrapper"  # how a refused kind is named in the error

    @classmethod
    def check(cls, kind: str, **params) -> dict:
        """The kind's numbers with defaults filled in and ranges checked; ``ValueError`` otherwise."""
        return validate(f"{cls.WHAT} {kind}", params, choose(cls.WHAT, kind, cls.KINDS))

    @classmethod
    def around(cls, optimizer, kind: str, **params):
        """``optimizer`` wrapped as ``kind`` with ``params``."""
        return cls(optimizer, cls.check(kind, **params), kind)

    def wrap(self, inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.optimizer.name

    @property
    def info(self):
        return self.optimizer.info

    @property
    def needs(self) -> frozenset:
        return self.info.needs

    @property
    def title(self) -> str:
        return f"{getattr(self.optimizer, 'title', self.info.title)}, {self.TITLES[self.kind]}"

    @property
    def transformation(self):
        return self.wrap(self.optimizer.transformation)

    def init(self, params):
        return self.transformation.init(params)

    def update(self, updates, state, params=None, **extra_args):
        return self.transformation.update(updates, state, params, **extra_args)

    def replace(self, **settings):
        """New values for this wrapper's numbers or the wrapped optimizer's hyperparameters (same kind)."""
        own = {key: value for key, value in settings.items() if key in self.KINDS[self.kind]}
        rest = {key: value for key, value in settings.items() if key not in own}
        inner = self.optimizer.replace(**rest) if rest else self.optimizer
        return self.around(inner, self.kind, **{**self.params, **own})
