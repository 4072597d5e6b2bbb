"""The Scale-up lessons claim only what is checked here.

Each lesson file states what its text says as ``[[claims]]``; every number or comparison of the text
is one of them (a test below reads the text's numbers). Each lesson's view, as the page reads it
(``ui.viewstate.lesson_state``), is trained through the library (``scaleup``), not the page, the way
the page trains it: its chunk length, one ``Run`` per chosen optimizer, the runs advanced in turns.
A claim with ``change = {...}`` is about the lesson with those controls moved.

Loss, accuracy, memory and divergence claims are deterministic given the seed. Timing claims are
ratios within one training with wide margins; the machine running the suite is shared and noisy, so
each holds if one of up to ``ATTEMPTS`` trainings shows it (a retraining reuses the compiled chunks).
Run with ``-s`` to see the measured numbers.

Claims (``method`` and ``than`` are optimizer names of the view; markers are the page's evaluations of
the full training loss after each chunk):

* ``network`` sizes; ``parameter_count`` value; ``setting`` key value (a control of the view);
  ``dense_limit`` value (the parameter limit of the dense-Hessian methods); ``refused`` / ``allowed``
  method (on this network);
* ``lower_at_step`` method than step; ``lower_from_step`` / ``lower_until_step`` method than step (at
  every marker from that step on / up to it); ``loss_below_at_step`` method step value;
  ``loss_ratio_at_step`` method than step [low] [high]; ``first_below`` method target step (the first
  marker below target); ``stays_above`` method value (every marker); ``falls_at_every_marker`` /
  ``rises_at_some_marker`` method;
* ``held_out_accuracy`` method, near and within, or above (at the end);
* ``diverges_before_step`` method step; ``does_not_diverge`` method;
* ``memory_larger`` method than factor (the compiled chunk's estimate);
* timing: ``costs_more_per_step`` method than factor [at_most] and ``cost_ratio`` method than low high
  (median ms / step); ``first_below_in_seconds`` method than target (method's marker below target comes
  at fewer training seconds); ``done_before_step`` method than step (method's whole training takes
  less than ``than``'s first ``step`` steps).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import page_checks
from scaleup import NEWTON_MAX_PARAMETERS, Run, check_supported, make_optimizer
from ui import lessons, scale_up
from ui.viewstate import lesson_state

LOADED = lessons.load(scale_up.PAGE, scale_up.declare)
LESSONS = LOADED.lessons
ATTEMPTS = 3

STATIC = {"network", "parameter_count", "setting", "dense_limit", "refused", "allowed"}
TRAINED = {
    "lower_at_step", "lower_from_step", "lower_until_step", "loss_below_at_step", "loss_ratio_at_step",
    "first_below", "stays_above", "falls_at_every_marker", "rises_at_some_marker", "held_out_accuracy",
    "diverges_before_step", "does_not_diverge", "memory_larger",
}  # fmt: skip
TIMING = {"costs_more_per_step", "cost_ratio", "first_below_in_seconds", "done_before_step"}


# --- the lesson's view, trained as the page trains it ----------------------------------------------
def state_of(name: str, change: tuple = ()) -> dict:
    return {**lesson_state(scale_up.declare, LOADED.views, name), **dict(change)}


def optimizer(state: dict, name: str):
    """The optimizer as the page makes it: every setting of the view (``ui.scale_up.optimizer_controls``)."""
    return make_optimizer(name, **{key: state[scale_up.setting_key(name, key)] for key in scale_up.setting_names(name)})


def train(state: dict) -> dict[str, Run]:
    data, model = page_checks.network(state)
    chunk = scale_up.chunk_steps(state["steps"])
    runs = {name: Run(model, data, optimizer(state, name), state["batch"], chunk, state["seed"]) for name in state["opt"]}
    for _ in range(-(-state["steps"] // chunk)):
        for run in runs.values():
            run.advance()
    return runs


@functools.cache
def trained(name: str, change: tuple = ()) -> dict[str, Run]:
    return train(state_of(name, change))


# --- reading a training -----------------------------------------------------------------------------
def marker(run: Run, step: int) -> dict:
    found = [e for e in run.evaluations if e["step"] == step]
    assert found, f"{run.label} has no marker at step {step} (markers at {[e['step'] for e in run.evaluations]})"
    return found[0]


def loss_at(run: Run, step: int) -> float:
    return marker(run, step)["train_loss"]


def first_below(run: Run, target: float) -> dict | None:
    return next((e for e in run.evaluations if e["train_loss"] < target), None)


def markers_where(runs, claim, keep) -> list[int]:
    steps = [e["step"] for e in runs[claim["method"]].evaluations if keep(e["step"])]
    assert steps, claim
    return steps


def per_step_ratio(runs, claim) -> float:
    return runs[claim["method"]].per_step_seconds / runs[claim["than"]].per_step_seconds


def check_static(claim: dict, state: dict):
    kind = claim["claim"]
    _, model = page_checks.network(state)
    if kind == "network":
        assert model.sizes == tuple(claim["sizes"]), model.sizes
    elif kind == "parameter_count":
        assert model.parameter_count == claim["value"], model.parameter_count
    elif kind == "setting":
        assert state[claim["key"]] == claim["value"], state[claim["key"]]
    elif kind == "dense_limit":
        assert NEWTON_MAX_PARAMETERS == claim["value"]
    elif kind == "refused":
        with pytest.raises(ValueError):
            check_supported(model, claim["method"])
    elif kind == "allowed":
        check_supported(model, claim["method"])


def check_trained(claim: dict, runs: dict[str, Run]):
    kind, run = claim["claim"], runs[claim["method"]]
    other = runs.get(claim.get("than"))
    losses = [e["train_loss"] for e in run.evaluations]
    if kind == "lower_at_step":
        assert loss_at(run, claim["step"]) < loss_at(other, claim["step"])
    elif kind in ("lower_from_step", "lower_until_step"):
        keep = (lambda s: s >= claim["step"]) if kind == "lower_from_step" else (lambda s: 0 < s <= claim["step"])
        steps = markers_where(runs, claim, keep)
        assert run.diverged_at is None and other.diverged_at is None
        worse = [(s, loss_at(run, s), loss_at(other, s)) for s in steps if not loss_at(run, s) < loss_at(other, s)]
        assert not worse, worse
    elif kind == "loss_below_at_step":
        assert loss_at(run, claim["step"]) < claim["value"], loss_at(run, claim["step"])
    elif kind == "loss_ratio_at_step":
        ratio = loss_at(run, claim["step"]) / loss_at(other, claim["step"])
        print(f"  {claim['method']} / {claim['than']} loss at step {claim['step']}: {ratio:.3f}")
        assert claim.get("low", 0.0) <= ratio <= claim.get("high", math.inf), ratio
    elif kind == "first_below":
        found = first_below(run, claim["target"])
        assert found is not None and found["step"] == claim["step"], found
    elif kind == "stays_above":
        assert min(losses) > claim["value"], min(losses)
    elif kind == "falls_at_every_marker":
        assert np.all(np.diff(losses) < 0), losses
    elif kind == "rises_at_some_marker":
        assert np.any(np.diff(losses) > 0), losses
    elif kind == "held_out_accuracy":
        accuracy = run.evaluations[-1]["test_accuracy"]
        print(f"  {claim['method']} held-out accuracy: {accuracy:.4f}")
        if "near" in claim:
            assert abs(accuracy - claim["near"]) <= claim["within"], accuracy
        if "above" in claim:
            assert accuracy > claim["above"], accuracy
    elif kind == "diverges_before_step":
        assert run.diverged_at is not None and run.diverged_at < claim["step"], run.diverged_at
    elif kind == "does_not_diverge":
        assert run.diverged_at is None, run.diverged_at
    elif kind == "memory_larger":
        ratio = run.memory.estimate_bytes / other.memory.estimate_bytes
        print(f"  memory {claim['method']} / {claim['than']}: {ratio:.1f}")
        assert ratio > claim["factor"], ratio


def timing_holds(claim: dict, runs: dict[str, Run]) -> tuple[bool, str]:
    """Whether the timing claim holds in this training, and what was measured."""
    kind, run, other = claim["claim"], runs[claim["method"]], runs[claim["than"]]
    if kind in ("costs_more_per_step", "cost_ratio"):
        ratio = per_step_ratio(runs, claim)
        low, high = (claim["factor"], claim.get("at_most", math.inf)) if kind == "costs_more_per_step" else (
            claim["low"], claim["high"])  # fmt: skip
        return low <= ratio <= high, f"median ms / step {claim['method']} / {claim['than']} = {ratio:.2f}"
    if kind == "first_below_in_seconds":
        mine, theirs = first_below(run, claim["target"]), first_below(other, claim["target"])
        assert mine is not None, claim
        theirs_s = theirs["seconds"] if theirs else math.inf
        return mine["seconds"] < theirs_s, f"below {claim['target']}: {mine['seconds']:.3f} s against {theirs_s:.3f} s"
    if kind == "done_before_step":
        assert run.diverged_at is None
        mine, theirs = run.evaluations[-1]["seconds"], marker(other, claim["step"])["seconds"]
        return mine < theirs, f"{claim['method']} done at {mine:.3f} s, {claim['than']} at step {claim['step']} at {theirs:.3f} s"
    raise AssertionError(f"unknown timing claim {kind}")


# --- the tests ----------------------------------------------------------------------------------------
def test_every_lesson_file_loads_and_states_known_claims():
    assert not LOADED.problems, [p.plain() for p in LOADED.problems]
    assert LESSONS
    for name, lesson in LESSONS.items():
        assert lesson.claims, name
        for claim in lesson.claims:
            assert claim["claim"] in STATIC | TRAINED | TIMING, (name, claim)
            state = state_of(name, page_checks.lesson_change(claim))
            for key in ("method", "than"):
                if key in claim and claim["claim"] not in ("refused", "allowed"):
                    assert claim[key] in state["opt"], (name, claim)


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_number_in_a_lesson_text_is_one_of_its_claims(name):
    unclaimed = page_checks.unclaimed_numbers(LESSONS[name])
    assert not unclaimed, f"{name}: the text says {unclaimed} but no claim holds it"


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_shows_what_it_claims(name):
    print(f"\n{name}:")
    claims = LESSONS[name].claims
    for claim in claims:
        if claim["claim"] in STATIC:
            check_static(claim, state_of(name, page_checks.lesson_change(claim)))
    for claim in claims:
        if claim["claim"] in TRAINED:
            check_trained(claim, trained(name, page_checks.lesson_change(claim)))
    failed = []
    for change in sorted({page_checks.lesson_change(claim) for claim in claims if claim["claim"] in TIMING}):
        pending = [claim for claim in claims if claim["claim"] in TIMING and page_checks.lesson_change(claim) == change]
        for attempt in range(ATTEMPTS):
            runs = trained(name, change) if attempt == 0 else train(state_of(name, change))
            results = [(claim, *timing_holds(claim, runs)) for claim in pending]
            for claim, holds, measured in results:
                print(f"  try {attempt + 1}: {measured}{'' if holds else ' (does not hold)'}")
            pending = [claim for claim, holds, _ in results if not holds]
            if not pending:
                break
        failed += pending
    assert not failed, failed
