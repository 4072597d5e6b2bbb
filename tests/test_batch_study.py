"""The Scale-up page's batch-size study section (``ui.batch_study``) under AppTest: it draws, Start runs a
tiny study to the end and a second visit draws it from the cache, extreme settings draw without running,
hostile link values fall back with a note, a stopped study is shown as stopped; and its words follow
the numbers of a hand-made result."""

import time

import numpy as np
import pytest

from streamlit.testing.v1 import AppTest

import page_checks
from scaleup.batch_size import Cell, Study, StudySpec, run_study
from ui import batch_study

PAGE = "pages/scale_up.py"
TINY = {"study.batch": ["16", "full batch"], "study.opt": ["Gradient descent", "K-FAC"], "study.grid": "1",
        "study.seeds": "1", "study.steps": "50", "study.target": "1.5"}  # fmt: skip


def section_text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_the_section_draws_with_its_controls_and_runs_nothing_until_start():
    at = page_checks.open_page(PAGE)
    assert not at.exception
    assert any(h.value == "Batch size: when curvature pays" for h in at.header)
    assert at.button(key="study_start").label == "Start the study" and not at.button(key="study_start").disabled
    assert any("30 batch-size × optimizer cells, 21 runs each" in box.value for box in at.info)
    assert at.multiselect(key="study.opt").value == list(batch_study.DEFAULT_OPTIMIZERS)
    assert not [f for f in page_checks.figures(at) if "steps to training loss" in str(f["layout"])]


def study_figure(at) -> dict:
    (figure,) = [f for f in page_checks.figures(at) if "steps to training loss" in str(f["layout"])]
    return figure


def page_itself(query: dict) -> AppTest:
    """The page file on its own (a click on a button reaches it; through app.py's navigation it did not)."""
    at = AppTest.from_file("../pages/scale_up.py", default_timeout=page_checks.TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    return at


def test_start_runs_a_tiny_study_to_the_end_and_a_second_visit_draws_it_from_the_cache():
    at = page_itself(TINY)
    assert not at.exception
    at.button(key="study_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value
    assert list(table["optimizer"]) == ["Gradient descent", "K-FAC"] * 2
    assert list(table["batch"]) == ["16", "16", "1438 (full)", "1438 (full)"]
    assert (table["finished"] == "yes").all() and (table["seeds reached"] == "1/1").all()
    figure = study_figure(at)
    page_checks.check_page(at, charts=1)
    # the figure's points are the table's medians
    drawn = {t["name"]: list(page_checks.numbers_in(t["y"])) for t in figure["data"] if t.get("name")}
    for title in ("Gradient descent", "K-FAC"):
        assert drawn[title] == list(table[table.optimizer == title]["median steps"].astype(float))
    assert any(name.startswith("perfect scaling, slope −1") for name in drawn)
    low, high = figure["layout"]["yaxis"]["range"]  # log10: the axis spans the medians, not the whole reference line
    medians = table["median steps"].astype(float)
    assert low < np.log10(medians.min()) < np.log10(medians.max()) < high and high - low < 2
    assert any("K-FAC needed" in m.value and "fewer steps than gradient descent" in m.value for m in at.markdown)
    assert at.get("download_button")

    started = time.perf_counter()
    again = page_checks.open_page(PAGE, TINY)  # a new session: the finished study comes from the cache
    assert not again.exception
    assert any("cached" in c.value for c in again.caption)
    assert again.dataframe[-1].value.equals(table) and time.perf_counter() - started < 20


def test_extreme_settings_draw_without_running():
    query = {"study.batch": [str(b) for b in (4, 8, 16, 32, 64, 128, 256, 512, 1024)] + ["full batch"],
             "study.grid": "9", "study.seeds": "5", "study.steps": "5000", "study.target": "0.001"}  # fmt: skip
    at = page_checks.open_page(PAGE, query)
    assert not at.exception and not page_checks.notes(at)
    assert any("60 batch-size × optimizer cells, 45 runs each" in box.value and "5000 steps" in box.value
               for box in at.info)  # fmt: skip
    none = page_checks.open_page(PAGE, {"study.batch": "", "study.opt": ""})
    assert not none.exception and none.button(key="study_start").disabled
    assert any("at least one batch size and one optimizer" in box.value for box in none.info)


def test_hostile_link_values_fall_back_with_a_note():
    query = {"study.grid": "abc", "study.seeds": "1e9", "study.target": "-1", "study.steps": "nan",
             "study.batch": "<script>alert(1)</script>", "study.opt": "**bold**", "study.task": "[x](javascript:y)"}  # fmt: skip
    at = page_checks.open_page(PAGE, query)
    assert not at.exception
    notes = " ".join(page_checks.notes(at))
    for key in query:
        assert key in notes
    assert "<script>" in notes  # shown as plain text
    assert at.select_slider(key="study.grid").value == batch_study.GRID.default
    assert at.select_slider(key="study.target").value == batch_study.TARGET.default
    assert at.selectbox(key="study.task").value == "digits"
    assert not any("<script>" in m.value or "javascript:" in m.value for m in at.markdown)


def test_a_stopped_study_is_shown_as_stopped():
    query = {**TINY, "study.steps": "100", "study.target": "0.001"}
    # what those settings mean: the section's network, the batches in order (full last), seeds 0 … n−1
    spec = StudySpec(task="digits", width=32, depth=1, activation="tanh", batch_sizes=(16, 0), optimizers=("gd", "kfac"),
                     grid_points=1, seeds=(0,), target=0.001, max_steps=100, chunk_steps=50)  # fmt: skip
    stopped = run_study(spec, stop=lambda progress: True)  # after the first chunk of the first cell
    at = page_checks.open_page(PAGE, query, run=False)
    at.session_state[batch_study.RESULT] = stopped
    at.run()
    assert not at.exception
    assert any("The study stopped early" in box.value for box in at.info)
    table = at.dataframe[-1].value
    assert list(table["finished"]) == ["stopped"] and list(table["best value"]) == ["—"]  # nothing reached yet
    assert any(m.value == "- Fewer than two batch sizes are finished: nothing to compare yet." for m in at.markdown)
    assert not [f for f in page_checks.figures(at) if "steps to training loss" in str(f["layout"])]  # nothing final


# --- the words, on a hand-made result --------------------------------------------------------------
def made_study(medians: dict) -> Study:
    """A finished study with one seed and one grid value, ``medians[(batch, optimizer)]`` its steps."""
    spec = StudySpec(batch_sizes=tuple(sorted({b for b, _ in medians})), optimizers=("gd", "kfac"), seeds=(0,),
                     grid_points=1, max_steps=1000)  # fmt: skip
    cells = [Cell(b, name, "learning_rate", (0.1,), (0,), np.array([[s]], float), np.zeros((1, 1), bool),
                  np.arange(1), np.zeros((1, 1, 1)), steps_run=1000, complete=True)
             for (b, name), s in medians.items()]  # fmt: skip
    return Study(spec, 1438, 2.3, (64, 32, 10), cells)


def test_the_words_follow_the_numbers():
    study = made_study({(16, "gd"): 800, (16, "kfac"): 400, (256, "gd"): 50, (256, "kfac"): 5})
    words = batch_study.findings(study)
    assert "Gradient descent: from batch 16 to 256 (16× larger) its median steps fell 16.0× (800 → 50), close to perfect scaling." in words
    assert "K-FAC: from batch 16 to 256 (16× larger) its median steps fell 80.0× (400 → 5), close to perfect scaling." in words
    assert any("K-FAC needed 2.0× fewer steps than gradient descent at batch 16 and 10.0× fewer at batch 256: the gap "
               "is wider at the large batch" in w for w in words)  # fmt: skip
    assert "Critical batch size, the largest measured batch whose steps stay within twice the perfect-scaling line: " \
        "Gradient descent none up to 256 (line through batch 16); K-FAC none up to 256 (line through batch 16)." in words
    assert not any("saturate" in w and "no later" in w for w in words)  # neither saturated: no comparison
    saturated = batch_study.findings(made_study({(16, "gd"): 800, (16, "kfac"): 100, (256, "gd"): 400, (256, "kfac"): 60}))
    assert any("fell 2.0× (800 → 400), far from perfect scaling: the steps saturate" in w for w in saturated)
    assert any("the gap is not wider at the large batch, unlike the noisy quadratic model" in w for w in saturated)
    # gd: 400 > 2 · 50 (the line at 256); K-FAC: 60 > 2 · 6.25: both saturate after batch 16
    assert "K-FAC saturates no later than gradient descent, unlike the noisy quadratic model's preconditioned methods." in saturated
    later = batch_study.findings(made_study({(16, "gd"): 800, (64, "gd"): 700, (16, "kfac"): 100, (64, "kfac"): 30}))
    assert "K-FAC saturates at a larger batch than gradient descent, as the noisy quadratic model predicts for " \
        "preconditioned methods." in later
    missed = made_study({(16, "gd"): np.inf, (16, "kfac"): 100, (256, "gd"): 400, (256, "kfac"): 60})
    assert "Gradient descent did not reach the target at batch 16 within 1000 steps." in batch_study.findings(missed)
    steep = batch_study.findings(made_study({(16, "gd"): 800, (64, "gd"): 100, (16, "kfac"): 100, (64, "kfac"): 30}))
    assert "Gradient descent fell faster than perfect scaling from batch 16 to 64 (800 → 100, 8.0× for a 4× larger " \
        "batch), which the noisy quadratic model's curves never do (perfect scaling is their steepest)." in steep
    assert not any(w.startswith("K-FAC fell faster") for w in steep)  # 3.3× for 4×
    noisy = batch_study.findings(made_study({(16, "gd"): 800, (16, "kfac"): np.inf, (256, "gd"): 400, (256, "kfac"): 60}))
    assert any(w.startswith("At batch 16 K-FAC did not reach the target while gradient descent did (800 steps)") for w in noisy)
    assert not any(w.startswith("K-FAC did not reach") for w in noisy)  # said once


def test_the_csv_has_one_row_per_run():
    study = made_study({(16, "gd"): 800, (16, "kfac"): np.inf})
    lines = batch_study.lanes_csv(study).strip().splitlines()
    assert lines[0].startswith("batch_size,optimizer,hyperparameter,value,seed,steps_to_target")
    assert lines[1].startswith("16,gd,learning_rate,0.1,0,800,") and lines[2].startswith("16,kfac,learning_rate,0.1,0,,")
