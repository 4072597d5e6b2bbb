"""The Network curvature lessons claim only what is checked here.

Each lesson file states what its text says as ``[[claims]]``; every number of the text is one of
them (a test below reads the text's numbers). Each lesson's view, as the page reads it
(``ui.viewstate.lesson_state``), is computed through the library (``scaleup.curvature_matrices``),
not the page, the way the page computes it: the training run's snapshot at the view's step, the
matrices on the first ``batch`` training examples. A claim with ``change = {...}`` is about the
lesson with those controls moved (``change = { step = 1000 }``: the slider at step 1000).

Claims (``matrix`` and ``reference`` are keys of ``MATRICES``, or ``fisher``; ``part`` is a layer
block by its number, ``"layer 2"``, or ``"off-diagonal"`` or ``"whole"``):

* ``network`` sizes; ``parameter_count`` value; ``setting`` key value;
* ``train_loss`` value tolerance (the full training loss at the view's step);
* ``relative_error`` matrix reference part value tolerance (‖M − R‖_F / ‖R‖_F, as the page's table);
* ``most_negative_percent`` matrix value tolerance (100 |λ_min| / max |λ|, for λ_min < 0);
* ``psd`` matrix (no eigenvalue below −10⁻⁶ of the largest |λ|: the page's rounding);
* ``trace_ratio`` matrix reference value tolerance (tr M / tr R);
* ``fisher_equals_ggn`` below (max |F − GGN| / max |GGN|);
* ``depends_on_targets`` matrix value (true: the matrix changes when the batch's targets are
  shuffled, false: it stays the same to float32 rounding).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import page_checks
from scaleup import curvature_matrices as cm
from ui import curvature, lessons
from ui.viewstate import lesson_state

LOADED = lessons.load(curvature.PAGE, curvature.declare)
LESSONS = LOADED.lessons
KINDS = {"network", "parameter_count", "setting", "train_loss", "relative_error", "most_negative_percent", "psd",
         "trace_ratio", "fisher_equals_ggn", "depends_on_targets"}  # fmt: skip


def state_of(name: str, change: tuple = ()) -> dict:
    return {**lesson_state(curvature.declare, LOADED.views, name), **dict(change)}


@functools.cache
def snapshots(task: str, model, seed: int) -> dict:
    return {s.step: s for s in cm.training_snapshots(model, page_checks.dataset(task, seed), seed)}


@functools.cache
def computed(change_free: tuple) -> tuple:
    """(curvature, errors, train loss, params, batch) of a view (as a sorted tuple of its items)."""
    state = dict(change_free)
    data, model = page_checks.network(state)
    snapshot = snapshots(state["task"], model, state["seed"])[state["step"]]
    x, y = cm.batch_of(data, state["batch"])
    found = cm.curvature(model, snapshot.params, x, y)
    return found, cm.relative_errors(found), snapshot.train_loss, snapshot.params, (model, x, y)


@functools.cache
def eigenvalues(view: tuple, key: str) -> np.ndarray:
    return cm.eigenvalues(computed(view)[0].matrix(key))


def view_key(state: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in state.items()))


def part_name(found: cm.Curvature, part: str) -> str:
    if part in ("off-diagonal", "whole"):
        return part
    matches = [b.name for b in found.blocks if b.name.split(" (")[0] == part]
    assert len(matches) == 1, (part, [b.name for b in found.blocks])
    return matches[0]


def matrix_of(found: cm.Curvature, key: str) -> np.ndarray:
    return found.fisher if key == "fisher" else found.matrix(key)


def close(measured: float, claim: dict):
    print(f"  {claim['claim']} {claim.get('matrix', '')} {claim.get('reference', '')} {claim.get('part', '')} "
          f"{dict(claim.get('change', {}))}: {measured:.4g} (claimed {claim['value']} ± {claim['tolerance']})")  # fmt: skip
    assert abs(measured - claim["value"]) <= claim["tolerance"], (measured, claim)


def check(claim: dict, state: dict):
    kind = claim["claim"]
    if kind in ("network", "parameter_count", "setting"):
        _, model = page_checks.network(state)
        if kind == "network":
            assert model.sizes == tuple(claim["sizes"]), model.sizes
        elif kind == "parameter_count":
            assert model.parameter_count == claim["value"], model.parameter_count
        else:
            assert state[claim["key"]] == claim["value"], state[claim["key"]]
        return
    found, errors, loss, params, (model, x, y) = computed(view_key(state))
    if kind == "train_loss":
        close(loss, claim)
    elif kind == "relative_error":
        close(errors[(claim["matrix"], claim["reference"])][part_name(found, claim["part"])], claim)
    elif kind == "most_negative_percent":
        spectrum = eigenvalues(view_key(state), claim["matrix"])
        assert spectrum.min() < 0
        close(100 * -spectrum.min() / np.abs(spectrum).max(), claim)
    elif kind == "psd":
        spectrum = eigenvalues(view_key(state), claim["matrix"])
        assert spectrum.min() >= -curvature.RELATIVE_ZERO * np.abs(spectrum).max(), spectrum.min()
    elif kind == "trace_ratio":
        close(np.trace(matrix_of(found, claim["matrix"])) / np.trace(matrix_of(found, claim["reference"])), claim)
    elif kind == "fisher_equals_ggn":
        assert found.fisher_minus_ggn < claim["below"], found.fisher_minus_ggn
    elif kind == "depends_on_targets":
        shuffled = jax.random.permutation(jax.random.key(0), y)
        assert not np.array_equal(np.asarray(shuffled), np.asarray(y))
        other = cm.curvature(model, params, x, shuffled)
        difference = cm.relative_error(matrix_of(other, claim["matrix"]), matrix_of(found, claim["matrix"]))
        print(f"  {claim['matrix']} with shuffled targets: relative change {difference:.2e}")
        assert (difference > 0.01) if claim["value"] else (difference < 1e-5), difference
    else:
        raise AssertionError(f"unknown claim {kind}")


def test_every_lesson_file_loads_and_states_known_claims():
    assert not LOADED.problems, [p.plain() for p in LOADED.problems]
    assert len(LESSONS) >= 2
    for name, lesson in LESSONS.items():
        assert lesson.claims, name
        for claim in lesson.claims:
            assert claim["claim"] in KINDS, (name, claim)
            assert set(claim.get("change", {})) <= set(state_of(name)), (name, claim)  # controls of the view
            for key in ("matrix", "reference"):
                if key in claim:
                    assert claim[key] in (*cm.MATRICES, "fisher"), (name, claim)


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_number_in_a_lesson_text_is_one_of_its_claims(name):
    unclaimed = page_checks.unclaimed_numbers(LESSONS[name])
    assert not unclaimed, f"{name}: the text says {unclaimed} but no claim holds it"


@pytest.mark.parametrize("name", list(LESSONS))
def test_lesson_shows_what_it_claims(name):
    print(f"\n{name}:")
    for claim in LESSONS[name].claims:
        check(claim, state_of(name, page_checks.lesson_change(claim)))


# --- the page, under AppTest ---------------------------------------------------------------------------
def open_page(query: dict):
    at = page_checks.open_page("pages/curvature.py", query)
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", list(LESSONS))
def test_a_lesson_link_opens_its_view_on_the_page_and_draws_it(name):
    at = open_page({"lesson": name})
    lesson = LESSONS[name]
    assert any(lesson.view.text in box.value for box in at.info)
    state = state_of(name)
    assert at.selectbox(key="task").value == state["task"] and at.select_slider(key="width").value == state["width"]
    heatmaps, spectra = page_checks.check_page(at, charts=2)
    found = computed(view_key(state))[0]
    # one heatmap and one outline per layer for each of the four matrices, on the library's block edges
    assert sum(trace["type"] == "heatmap" for trace in heatmaps["data"]) == 4
    edges = sorted({(s["x0"], s["x1"]) for s in heatmaps["layout"]["shapes"]})
    assert edges == [(b.start - 0.5, b.stop - 0.5) for b in found.blocks]
    assert len(heatmaps["layout"]["shapes"]) == 4 * len(found.blocks)
    assert len(spectra["data"]) == 8  # λ > 0 and λ < 0 per matrix
    table = at.dataframe[0].value
    assert table["K-FAC against GGN"].iloc[-1] == pytest.approx(computed(view_key(state))[1][("kfac", "ggn")]["whole"])
    assert page_checks.link(at) == {"lesson": [name]}


def test_the_slider_chooses_a_saved_step_and_a_large_network_is_refused_in_words():
    at = open_page({"lesson": "kfac_training"})
    at.select_slider(key="step").set_value(1000).run()
    assert not at.exception
    assert any("At step 1000" in m.value for m in at.markdown)
    assert page_checks.link(at) == {"lesson": ["kfac_training"], "step": ["1000"]}
    at = open_page({"task": "digits", "depth": "3", "width": "32"})
    assert any("limited to 2,000" in w.value for w in at.warning)
    assert not page_checks.chart_elements(at)  # nothing computed or drawn


def test_a_hostile_link_value_is_a_plain_note():
    at = open_page({"task": "**bold** [x](https://evil.example)", "step": "7"})
    notes = page_checks.notes(at)
    assert any("task=**bold** [x](https://evil.example) was ignored" in n.replace("\u2060", "") for n in notes), notes
    assert any("step=7 was ignored" in n for n in notes), notes
    assert at.selectbox(key="task").value == "spirals"
