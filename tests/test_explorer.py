"""The Landscape Explorer: each lesson preset shows the phenomenon it promises,
every control's extremes run without an exception, bad links fall back with a
note, and a link reopens the same view (AppTest)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import page_checks
from landscapes import LANDSCAPES, get_landscape, hessian_at
from optimizers import OPTIMIZERS, averaged_iterate, averaged_path, get_optimizer, learning_rates, run_trajectories, theory
from optimizers import with_averaging, with_schedule
from optimizers.seeds import frozen_seeds, seed_statistics
from page_checks import check_page, trace_names
from optimizers import SCHEDULES
from ui import explorer, lessons, plots
from ui.runs import compute_run
from ui.controls import slider_grid
from ui.viewstate import lesson_state

LESSONS = lessons.load(explorer.PAGE, explorer.declare).lessons

PAGE = "pages/explorer.py"


def open_explorer(query: dict | None = None):
    return page_checks.open_page(PAGE, query)


def explorer_check(at, charts: int = 2) -> list[dict]:
    return check_page(at, charts, gaps=True)


def landscape_traces(at) -> set[str]:
    return trace_names(explorer_check(at, charts=2)[0])


def lesson_settings(name: str) -> explorer.Settings:
    return explorer.settings_of(lesson_state(explorer.declare, {n: l.view for n, l in LESSONS.items()}, name))


def legend_parts(name: str):
    """What each run's legend entry must say: its optimizer's title, and the lesson's own α where it sets one."""
    for run in lesson_settings(name).runs:
        alpha = LESSONS[name].view.view.get(f"run{run.slot}.learning_rate")
        yield OPTIMIZERS[run.optimizer].title, None if alpha is None else f"α={float(alpha[0]):g}"


# --- the phenomena, computed with the library alone ------------------------------
def lesson_runs(name: str) -> dict:
    """Each run of a lesson straight from ``landscapes`` and ``optimizers``, by run number: (trajectories,
    excess loss), seeds first; for a run with averaging also its averaged iterate's excess loss, under
    ("average", run number). A run's schedule and averaging wrap its optimizer
    (``optimizers.with_schedule``, ``optimizers.with_averaging``)."""
    settings = lesson_settings(name)
    landscape = get_landscape(settings.landscape, gradient_noise=settings.gradient_noise, **dict(settings.landscape_parameters))
    exact = get_landscape(settings.landscape, **dict(settings.landscape_parameters))
    seeds = settings.seed + np.arange(settings.seeds)
    x0 = np.asarray(settings.start, np.float32)
    runs = {}
    for run in settings.runs:
        method = get_optimizer(run.optimizer, **dict(run.settings))
        if run.schedule != "constant":
            method = with_schedule(method, run.schedule, **dict(run.schedule_params))
        averaging = run.average != "none"
        if averaging:
            method = with_averaging(method, run.average, **dict(run.average_params))
        traj = run_trajectories(landscape, method, x0, seeds, settings.steps, observe=averaged_iterate if averaging else None)
        if averaging:
            path = jnp.asarray(averaged_path(traj), jnp.float32)
            runs["average", run.slot] = np.asarray(jax.vmap(jax.vmap(exact.loss))(path), np.float64) - exact.minimum_loss
        runs[run.slot] = (traj, np.asarray(traj.loss, np.float64) - landscape.minimum_loss)
    return runs


def expected_loss(settings: explorer.Settings, run) -> np.ndarray:
    """Gradient descent's E[L − L*] on the noisy quadratic, in closed form."""
    values = dict(settings.landscape_parameters)
    q = get_landscape(settings.landscape, **values).quadratic
    lam = np.asarray(q.eigenvalues, np.float64)
    x0 = (np.asarray(settings.start, np.float64) - np.asarray(q.minimum, np.float64)) @ np.asarray(q.eigenvectors, np.float64)
    alpha = dict(run.settings)["learning_rate"]
    return theory.gd_expected_excess_loss(lam, x0, alpha, values["noise_scale"], values["batch_size"], settings.steps)


def first_step(condition: np.ndarray) -> int | None:
    """The first index where ``condition`` holds (None if never)."""
    found = np.flatnonzero(condition)
    return int(found[0]) if found.size else None


def check_claim(runs: dict, claim: dict, name: str):
    kind = claim["claim"]
    settings = lesson_settings(name)
    traj, excess = runs[claim["run"]] if "run" in claim else (None, None)  # a claim may speak of the landscape
    run = next((r for r in settings.runs if r.slot == claim.get("run")), None)
    if kind == "noise_floor":
        values = dict(settings.landscape_parameters)
        lam = get_landscape(settings.landscape, **values).quadratic.eigenvalues
        floor = theory.gd_noise_floor(lam, dict(run.settings)["learning_rate"], values["noise_scale"], values["batch_size"])
        assert floor.sum() == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "matches_expected":  # the mean over many seeds lies on the closed form
        landscape = get_landscape(settings.landscape, **dict(settings.landscape_parameters))
        many = run_trajectories(landscape, get_optimizer(run.optimizer, **dict(run.settings)),
                                np.asarray(settings.start, np.float32), np.arange(claim["seeds"]), settings.steps)  # fmt: skip
        steps = [10, 30, 100, settings.steps]
        measured = np.asarray(many.loss, np.float64).mean(axis=0)[steps]
        np.testing.assert_allclose(measured, expected_loss(settings, run)[steps], rtol=claim["tolerance"])
    elif kind == "right_angles":  # each step perpendicular to the one before
        steps = np.diff(np.asarray(traj.params[0, : claim["steps"] + 2], np.float64), axis=0)
        cosines = np.sum(steps[1:] * steps[:-1], axis=1) / (np.linalg.norm(steps[1:], axis=1) * np.linalg.norm(steps[:-1], axis=1))
        assert np.abs(cosines).max() < 1e-3, cosines
    elif kind == "final_between":  # the final (mean) L − L*, as the table shows it
        assert claim["low"] <= excess[:, -1].mean() <= claim["high"]
    elif kind == "monotone":  # the loss never rises (every seed)
        assert (np.diff(excess, axis=1) <= 0).all()
    elif kind == "rises":  # the loss rises again on some step
        assert (np.diff(excess, axis=1) > 0).any()
    elif kind == "rises_only_before":  # rises happen only before ``step``; from there on the loss only falls
        rising = np.nonzero((np.diff(excess, axis=1) > 0).any(axis=0))[0] + 1
        assert rising.size and rising.max() < claim["step"]
    elif kind == "hessian_max_at_start":
        landscape = get_landscape(settings.landscape, **dict(settings.landscape_parameters))
        hessian = jax.hessian(landscape.loss)(jnp.asarray(settings.start, jnp.float32))
        assert np.linalg.eigvalsh(np.asarray(hessian, np.float64)).max() == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "survivors_lower":  # over the seeds that neither diverged nor froze, as the table averages
        ours, theirs = (
            seed_statistics(np.asarray(t.loss), np.asarray(t.params), t.diverged_at, 0.0).final_excess
            for t, _ in (runs[claim["run"]], runs[claim["than"]])
        )
        assert ours < theirs
    elif kind == "never_diverges":
        assert all(step is None for step in traj.diverged_at)
    elif kind == "freezes":  # some seed stops moving without diverging, where the noise moves every healthy one
        assert frozen_seeds(np.asarray(traj.params), traj.diverged_at).any()
    elif kind == "converges_by":
        assert excess[:, claim["step"]].max() <= claim["tolerance"]
    elif kind == "diverges":
        assert any(step is not None for step in traj.diverged_at)
    elif kind == "converges":
        assert excess[:, -1].mean() <= claim["tolerance"]
    elif kind == "ends_near":
        assert np.linalg.norm(traj.params[:, -1, :2].mean(axis=0) - claim["point"]) <= claim["tolerance"]
    elif kind == "faster":
        assert excess[:, -1].mean() < 0.1 * runs[claim["than"]][1][:, -1].mean()
    elif kind == "lower_at":
        step = claim["step"]
        assert excess[:, step].mean() < runs[claim["than"]][1][:, step].mean()
    elif kind == "overshoots":
        assert (traj.loss.max(axis=1) >= 10 * traj.loss[:, :1].max(axis=1)).any()
    elif kind == "never_above_start":
        assert (np.nan_to_num(traj.loss, nan=np.inf) <= traj.loss[:, :1] * (1 + 1e-6)).all()
    elif kind in SCHEDULE_AND_METHOD_CLAIMS:
        check_schedule_and_method_claim(runs, claim, settings, traj, excess, run)
    else:
        raise AssertionError(f"unknown claim {kind}")


SCHEDULE_AND_METHOD_CLAIMS = {
    "ends_at", "below_noise_floor", "same_path", "step_stability", "peak_learning_rate_at", "loss_jumps", "steady",
    "gradient_jumps", "gradient_steady", "reaches_at", "never_reaches", "leaves_at", "ends_in_minimum", "critical_points",
    "position_at", "diverges_at", "lowest", "diverges_with", "excess_at",
}  # fmt: skip


def check_schedule_and_method_claim(runs: dict, claim: dict, settings, traj, excess, run):
    """Claims about schedules, averaging and single runs' steps. ``of = "average"`` makes a claim about a
    run's averaged iterate instead of its iterates; "first seed" claims read the run a page draws when
    the landscape is deterministic."""
    kind = claim["claim"]
    averaged = runs.get(("average", claim.get("run")))
    if claim.get("of") == "average":
        assert averaged is not None, "the claim is about the averaged iterate of a run without averaging"
    measured = averaged if claim.get("of") == "average" else excess
    landscape = get_landscape(settings.landscape, **dict(settings.landscape_parameters))
    if kind == "ends_at":  # the mean final L − L* (of the iterates, or of their average), within a relative tolerance
        assert measured[:, -1].mean() == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "below_noise_floor":  # ends below a fraction of constant-step GD's noise floor at the run's α
        values = dict(settings.landscape_parameters)
        lam = landscape.quadratic.eigenvalues
        floor = theory.gd_noise_floor(lam, dict(run.settings)["learning_rate"], values["noise_scale"], values["batch_size"]).sum()
        assert measured[:, -1].mean() <= claim["fraction"] * floor, (measured[:, -1].mean(), floor)
    elif kind == "same_path":  # the run's iterates are those of run ``as`` (averaging does not change the run)
        np.testing.assert_allclose(np.asarray(traj.params), np.asarray(runs[claim["as"]][0].params), rtol=1e-6, atol=1e-7)
    elif kind == "step_stability":  # α·λ_max of the Hessian at the start or at the landscape's (first) minimum
        where = settings.start if claim["at"] == "start" else next(
            p.location for p in landscape.critical_points() if p.kind == "minimum")  # fmt: skip
        curvature = np.linalg.eigvalsh(np.asarray(hessian_at(landscape, jnp.asarray(where, jnp.float32)), np.float64)).max()
        assert dict(run.settings)["learning_rate"] * curvature == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "peak_learning_rate_at":  # the schedule's α first reaches its peak at this step
        rates = learning_rates(run.method(), settings.steps)
        assert first_step(rates >= rates.max() * (1 - 1e-6)) == claim["step"] and rates[0] < rates.max()
    elif kind == "loss_jumps":  # steps where L − L* grows more than ``factor``-fold in one step (first seed)
        ratio = excess[0, 1:] / np.maximum(excess[0, :-1], 1e-300)
        jumps = np.flatnonzero(ratio > claim["factor"]) + 1  # the steps whose loss jumped
        assert claim["at_least"] <= len(jumps) <= claim.get("at_most", np.inf), len(jumps)
        if "first" in claim:
            assert jumps[0] == claim["first"], jumps
        if "near" in claim:  # every jump within ``within`` of the point ``near``
            where = np.asarray(traj.params[0, jumps, :2], np.float64)
            assert np.linalg.norm(where - claim["near"], axis=1).max() <= claim["within"]
    elif kind == "steady":  # L − L* never grows more than ``factor``-fold in one step (first seed)
        ratio = excess[0, 1:] / np.maximum(excess[0, :-1], 1e-300)
        assert ratio.max() <= claim["factor"], ratio.max()
    elif kind in ("gradient_jumps", "gradient_steady"):  # the largest one-step growth of ‖g‖ (first seed)
        norms = np.linalg.norm(np.asarray(traj.grads[0], np.float64), axis=-1)
        growth = (norms[1:] / np.maximum(norms[:-1], 1e-300)).max()
        assert growth >= claim["factor"] if kind == "gradient_jumps" else growth <= claim["factor"], growth
    elif kind == "reaches_at":  # the first step with L − L* ≤ tolerance (first seed), within ``slack`` steps
        step = first_step(measured[0] <= claim["tolerance"])
        assert step is not None and abs(step - claim["step"]) <= claim.get("slack", 0), step
    elif kind == "never_reaches":  # L − L* stays above the tolerance (first seed)
        assert first_step(measured[0] <= claim["tolerance"]) is None
    elif kind == "leaves_at":  # the first step with |θ[axis]| > distance (first seed), within ``slack`` steps
        step = first_step(np.abs(np.asarray(traj.params[0, :, claim["axis"]])) > claim["distance"])
        assert step is not None and abs(step - claim["step"]) <= claim.get("slack", 0), step
    elif kind == "ends_in_minimum":  # the run ends at one of the landscape's minima (first seed): this one
        point = np.asarray(claim["point"], np.float64)
        assert np.linalg.norm(np.asarray(traj.params[0, -1, :2]) - point) <= claim["tolerance"]
        assert any(p.kind == "minimum" and np.linalg.norm(np.asarray(p.location) - point) <= claim["tolerance"]
                   for p in landscape.critical_points())  # fmt: skip
    elif kind == "diverges_with":  # the same run with another learning rate (a constant one) diverges
        method = get_optimizer(run.optimizer, **{**dict(run.settings), "learning_rate": claim["learning_rate"]})
        other = run_trajectories(landscape, method, np.asarray(settings.start, np.float32), np.arange(1), settings.steps)
        assert other.diverged_at[0] is not None
    elif kind == "excess_at":  # L − L* at ``step`` (first seed), within a relative tolerance
        assert measured[0, claim["step"]] == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "lowest":  # the lowest L − L* on the way (first seed), within a relative tolerance
        assert measured[0].min() == pytest.approx(claim["value"], rel=claim["tolerance"])
    elif kind == "diverges_at":  # the first step at which a seed diverged, as the table and the × show it
        assert min(s for s in traj.diverged_at if s is not None) == claim["step"]
    elif kind == "position_at":  # where the run is at ``step`` (first seed)
        assert np.linalg.norm(np.asarray(traj.params[0, claim["step"], :2]) - claim["point"]) <= claim["tolerance"]
    elif kind == "critical_points":  # the landscape's critical points by kind, as the page marks them
        kinds = [p.kind for p in landscape.critical_points()]
        assert {k: kinds.count(k) for k in claim["counts"]} == claim["counts"], kinds


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_shows_its_phenomenon(name):
    runs = lesson_runs(name)
    for claim in LESSONS[name].claims:
        check_claim(runs, claim, name)


def test_there_are_at_least_six_lessons_with_a_clear_text_and_tested_claims():
    assert len(LESSONS) >= 6
    for lesson in LESSONS.values():
        assert lesson.view.title and len(lesson.view.text) > 100 and lesson.claims


# --- the page ----------------------------------------------------------------------
def test_defaults_draw_the_landscape_the_loss_curves_and_the_table():
    at = open_explorer()
    traces = landscape_traces(at)
    defaults = [OPTIMIZERS[name].title for name in explorer.DEFAULT_RUNS]
    assert len(defaults) >= 4, "the first view compares at least four optimizers"
    for title in defaults:
        assert any(name.startswith(title) for name in traces), (title, traces)
    assert {"minimum", "start"} <= traces
    table = at.table[0].value
    assert len(table) == len(defaults) and not at.warning
    assert len(at.expander) >= len(defaults)  # an explanation per optimizer


@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_link_draws_its_runs(name):
    lesson = LESSONS[name]
    at = open_explorer({"preset": name})
    assert any(lesson.view.title in info.value for info in at.info)
    assert not at.warning
    traces = landscape_traces(at)
    for title, alpha in legend_parts(name):
        assert any(t.startswith(title) and (alpha is None or alpha in t.split()) for t in traces), (title, alpha, traces)
    settings = lesson_settings(name)
    assert at.selectbox(key="landscape").value == settings.landscape
    for run in settings.runs:
        assert at.selectbox(key=f"run{run.slot}").value == run.optimizer
        for key, value in run.settings:
            find = at.checkbox if isinstance(value, bool) else at.selectbox if key == "line_search" else at.select_slider
            assert find(key=f"run{run.slot}.{key}").value == pytest.approx(value)
    assert len(at.table[0].value) == len(settings.runs)
    if "diverges" in {claim["claim"] for claim in lesson.claims}:
        assert any(row.startswith("at step") or "of" in row for row in at.table[0].value["diverged"])


def test_picking_a_lesson_in_the_sidebar_sets_it_up():
    at = open_explorer()
    at.selectbox(key="lesson").set_value("saddle").run()
    traces = landscape_traces(at)
    assert "saddle" in traces and at.selectbox(key="landscape").value == "saddle"
    assert at.selectbox(key="run2").value == "newton"


def test_a_copied_link_reopens_the_same_view():
    at = open_explorer({"preset": "damping"})
    at.select_slider(key="run3.damping").set_value(3.0).run()
    link = page_checks.link(at)
    assert link == {"lesson": ["damping"], "run3.damping": ["3"]}
    again = open_explorer(link)
    assert not again.warning
    first, second = explorer_check(at, charts=2), explorer_check(again, charts=2)
    assert [t.get("name") for t in first[0]["data"]] == [t.get("name") for t in second[0]["data"]]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(
            np.fromiter(page_checks.numbers_in(a["data"]), float), np.fromiter(page_checks.numbers_in(b["data"]), float)
        )


def test_moving_a_slider_changes_the_run_and_the_link():
    at = open_explorer()
    before = explorer_check(at, charts=2)[0]
    chart_ids = [chart.proto.id for chart in page_checks.chart_elements(at)]
    at.select_slider(key="run1.learning_rate").set_value(0.2).run()
    after = explorer_check(at, charts=2)[0]
    assert trace_names(after) != trace_names(before)  # the legend names α
    assert after["data"] != before["data"]
    # The same chart elements, so the browser redraws them in place instead of building new ones.
    assert [chart.proto.id for chart in page_checks.chart_elements(at)] == chart_ids


def test_a_run_slider_reruns_only_the_results_with_the_new_value():
    """A number control's move reruns the results fragment alone: the sidebar's other controls, the
    title and the lesson are not sent again; the runs, the link and the save button are."""
    at = open_explorer()
    at.select_slider(key="run1.learning_rate").set_value(0.2).run()
    assert not at.exception
    assert not at.sidebar.select_slider and not at.sidebar.selectbox  # the sidebar's controls are not sent again
    assert [button.proto.label for button in at.sidebar.get("download_button")] == ["Save this view as a lesson"]
    assert not at.title  # outside the fragment: not sent again
    assert "Gradient descent α=0.2" in trace_names(explorer_check(at, charts=2)[0])
    assert page_checks.link(at) == {"run1.learning_rate": ["0.2"]}
    at.run()  # the whole page again: the slider keeps the value
    assert at.select_slider(key="run1.learning_rate").value == 0.2 and at.title


def test_a_move_that_changes_a_control_elsewhere_reruns_the_whole_page():
    """Gradient noise above zero makes the runs stochastic, which brings the seeds slider into the
    sidebar: the fragment's rerun hands over to a run of the whole page."""
    at = open_explorer()
    assert "seeds" not in {s.key for s in at.sidebar.select_slider}
    at.select_slider(key="gradient_noise").set_value(1.0).run()
    assert not at.exception
    assert "seeds" in {s.key for s in at.sidebar.select_slider} and at.title
    explorer_check(at, charts=2)


def test_a_landscape_parameter_reruns_the_whole_page():
    """The sidebar derives things from a landscape's numbers (a formula's view: an empty range's note,
    the button that chooses it again), so they rerun the page."""
    at = open_explorer()
    at.select_slider(key="condition_number").set_value(1000.0).run()
    assert not at.exception and at.title and at.sidebar.select_slider


def test_a_start_typed_into_its_box_reruns_only_the_results():
    at = open_explorer()
    at.number_input(key="x0").set_value(1.0).run()
    assert not at.exception and not at.title
    start = next(t for t in explorer_check(at, charts=2)[0]["data"] if t.get("name") == "start")
    assert start["x"] == [1.0]


def test_bad_link_values_fall_back_to_defaults_with_a_note():
    at = open_explorer({
        "landscape": "volcano", "condition_number": "1e9", "run1": "sgd-ultra", "run2.learning_rate": "fast",
        "steps": "-3", "view3d": "maybe", "x0": "nan", "unknown": "1",
    })  # fmt: skip
    explorer_check(at, charts=2)
    notes = " ".join(page_checks.notes(at))
    for fragment in ("volcano", "sgd-ultra", "fast", "steps=-3", "maybe", "unknown"):
        assert fragment in notes, fragment
    assert at.selectbox(key="landscape").value == "quadratic"
    assert at.selectbox(key="run1").value == explorer.DEFAULT_RUNS[0]


def test_unknown_preset_is_named_in_a_note():
    at = open_explorer({"preset": "nonsense"})
    explorer_check(at, charts=2)
    assert any("nonsense" in note for note in page_checks.notes(at))


def test_gauss_newton_on_a_landscape_without_residuals_says_so():
    at = open_explorer({"landscape": "pure_saddle", "run1": "damped_ggn", "run2": "gd"})
    explorer_check(at, charts=2)
    assert any("Gauss–Newton" in w.value or "residual" in w.value for w in at.warning)


def _extreme_query(optimizers: list[str], end: str, landscape: str) -> dict:
    """Every control at its low or high end: the landscape's parameters and each run's hyperparameters."""
    pick = lambda spec: slider_grid(spec)[0 if end == "low" else -1]  # noqa: E731
    query = {"landscape": landscape, "steps": str(pick(explorer.STEPS))}
    query |= {k: f"{pick(spec):.6g}" for k, spec in LANDSCAPES[landscape].parameters.items()}
    query["gradient_noise"] = f"{pick(explorer.GRADIENT_NOISE_SPEC):.6g}"
    for slot, name in enumerate(optimizers, start=1):
        query[f"run{slot}"] = name
        for key, spec in OPTIMIZERS[name].hyperparameters.items():
            query[f"run{slot}.{key}"] = f"{pick(spec):.6g}"
    return query


OPTIMIZER_GROUPS = [list(OPTIMIZERS)[i : i + explorer.SLOTS] for i in range(0, len(OPTIMIZERS), explorer.SLOTS)]


@pytest.mark.parametrize("end", ["low", "high"])
@pytest.mark.parametrize("group", range(len(OPTIMIZER_GROUPS)))
def test_every_slider_at_its_extremes(group, end):
    landscape = {"low": "rosenbrock", "high": "noisy_quadratic"}[end]
    optimizers = OPTIMIZER_GROUPS[group]
    query = _extreme_query(optimizers, end, landscape)
    if end == "high":
        query["seeds"] = str(explorer.SEEDS.high)
    at = open_explorer(query)
    explorer_check(at, charts=2)
    notes = page_checks.notes(at)
    assert not any("was ignored" in n for n in notes), notes  # every extreme is a valid value
    assert len(at.table[0].value) + len(notes) >= len(optimizers)


def test_three_d_view_and_extreme_quadratic():
    at = open_explorer({"view3d": "true", "condition_number": "10000", "angle": "3.1416", "run4": "newton"})
    specs = explorer_check(at, charts=2)
    assert specs[0]["data"][0]["type"] == "surface"


def test_home_opens_a_lesson_link_on_its_page_and_lists_every_page_lessons():
    at = page_checks.open_page("pages/home.py")
    links = [link.label for link in at.get("page_link")]
    for page in ("explorer", "eigenspace", "scale_up"):
        for lesson in lessons.load(page).lessons.values():
            assert lesson.view.title in links
    at = page_checks.open_page("pages/home.py", {"preset": "zigzag"})
    assert any(LESSONS["zigzag"].view.title in info.value for info in at.info)  # now on the explorer
    at = page_checks.open_page("pages/home.py", {"preset": "nonsense", "foo": "bar"})
    notes = " ".join(page_checks.notes(at))
    assert "preset=nonsense" in notes and "foo=bar" in notes


# --- schedules, averaging and the reader's own landscape --------------------------------
SCHEDULED = {
    "landscape": "noisy_quadratic", "run1": "gd", "run1.learning_rate": "1", "run1.schedule": "warmup_cosine",
    "run1.schedule.warmup_steps": "20", "run2": "gd", "run2.learning_rate": "1", "run2.average": "ema",
    "run2.average.decay": "0.95", "run3": "none", "run4": "none", "steps": "200",
}  # fmt: skip


def test_a_schedule_and_averaging_draw_the_averaged_path_its_loss_and_alpha_against_step():
    at = open_explorer(SCHEDULED)
    assert not at.warning, [w.value for w in at.warning]
    landscape, loss, *rest = explorer_check(at, charts=3)
    warmup = next(t for t in trace_names(landscape) if t.startswith("Gradient descent α=1 · warm-up over 20 steps, cosine decay"))
    averaged = next(t for t in trace_names(landscape) if "EMA-averaged β=0.95" in t and t.endswith(plots.AVERAGED))
    dashed = next(t for t in landscape["data"] if t.get("name") == averaged)
    assert dashed["line"]["dash"] == "dash" and dashed["line"]["color"] == plots.PALETTE[1][1]
    assert averaged in trace_names(loss) and warmup in trace_names(loss)
    rates = next(spec for spec in rest if trace_names(spec) == {warmup})  # α against the step: run 1 only
    line = next(t for t in rates["data"] if t.get("name") == warmup)
    alpha = np.fromiter(page_checks.numbers_in(line["y"]), float)
    expected = learning_rates(with_schedule(get_optimizer("gd", learning_rate=1.0), "warmup_cosine", warmup_steps=20), 200)
    np.testing.assert_allclose(alpha, expected, rtol=1e-6, atol=1e-7)
    assert alpha[0] == 0 and alpha[20] == pytest.approx(1.0)
    assert page_checks.link(at) == {k: [v] for k, v in SCHEDULED.items() if k != "run1"}  # gd is run 1's default
    # the link reopens the same view, with the wrappers' settings in their widgets
    again = open_explorer(page_checks.link(at))
    assert again.selectbox(key="run1.schedule").value == "warmup_cosine"
    assert again.select_slider(key="run1.schedule.warmup_steps").value == 20
    assert again.selectbox(key="run2.average").value == "ema"
    assert again.select_slider(key="run2.average.decay").value == 0.95


def test_a_schedule_shows_only_its_own_numbers_and_a_new_kind_starts_them_afresh():
    at = open_explorer(SCHEDULED)
    keys = {s.key for s in at.select_slider if s.key.startswith("run1.schedule.")}
    assert keys == {f"run1.schedule.{name}" for name in SCHEDULES["warmup_cosine"]}
    at.selectbox(key="run1.schedule").set_value("piecewise_constant").run()
    explorer_check(at, charts=3)
    keys = {s.key for s in at.select_slider if s.key.startswith("run1.schedule.")}
    assert keys == {f"run1.schedule.{name}" for name in SCHEDULES["piecewise_constant"]}
    assert "run1.schedule.warmup_steps" not in page_checks.link(at)
    at.selectbox(key="run1.schedule").set_value("constant").run()
    assert not [s for s in at.select_slider if s.key.startswith("run1.schedule.")]
    assert "run1.schedule" not in page_checks.link(at)


def test_bad_schedule_values_in_a_link_fall_back_with_a_note():
    at = open_explorer({"run1.schedule": "sawtooth", "run2.average": "median", "run3.schedule": "cosine",
                        "run3.schedule.decay_steps": "-5", "run1.schedule.decay_steps": "100"})  # fmt: skip
    explorer_check(at, charts=2)
    notes = " ".join(page_checks.notes(at))
    for fragment in ("sawtooth", "median", "decay_steps=-5", "run1.schedule.decay_steps"):
        assert fragment in notes, fragment
    assert at.selectbox(key="run1.schedule").value == "constant"


def test_an_impossible_warm_up_is_a_message_not_an_exception():
    at = open_explorer({"run1.schedule": "warmup_cosine", "run1.schedule.warmup_steps": "500",
                        "run1.schedule.decay_steps": "300"})  # fmt: skip
    explorer_check(at, charts=2)
    assert any("warmup_steps" in w.value for w in at.warning)


def test_moving_a_schedule_or_averaging_slider_never_compiles():
    from test_engine import count_compilations

    def run(decay_steps, decay):
        return compute_run(
            "noisy_quadratic", (("angle", 0.0), ("batch_size", 4), ("condition_number", 10.0), ("noise_scale", 0.3)),
            0.0, "momentum", (("learning_rate", 0.1), ("momentum", 0.9)), (-2.0, 1.5), 300, 0, 4,
            "cosine", (("alpha", 0.0), ("decay_steps", decay_steps)), "ema", (("decay", decay), ("start", 0)),
        )  # fmt: skip

    first = run(300, 0.99)
    with count_compilations() as compilations:
        second = run(120, 0.9)
    assert compilations == []
    assert not np.array_equal(first.params, second.params) and not np.array_equal(first.averaged, second.averaged)


HOSTILE_FORMULAS = ["__import__('os')", "x.__class__", "9**9**9", "x" * 10_000, "(lambda: 1)()", "ｘ + y"]


@pytest.mark.skipif("custom" not in LANDSCAPES, reason="the explorer does not list the custom landscape yet")
@pytest.mark.parametrize("formula", HOSTILE_FORMULAS, ids=["import", "dunder", "huge", "10 kB", "lambda", "look-alike"])
def test_a_hostile_formula_in_a_link_gives_a_note_and_the_default_landscape(formula):
    at = open_explorer({"landscape": "custom", "formula": formula})
    specs = explorer_check(at, charts=2)
    notes = page_checks.notes(at)
    assert any(note.startswith("The link's formula=") and "formula refused" in note or "longer than" in note
               for note in notes), notes  # fmt: skip
    assert at.text_input(key="formula").value == LANDSCAPES["custom"].text["formula"]
    assert "formula" not in page_checks.link(at)
    default = open_explorer({"landscape": "custom"})
    assert trace_names(specs[0]) == trace_names(explorer_check(default, charts=2)[0])


@pytest.mark.skipif("custom" not in LANDSCAPES, reason="the explorer does not list the custom landscape yet")
def test_a_formula_goes_into_the_link_and_a_typed_bad_one_stays_in_its_box_with_a_note():
    himmelblau = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"
    at = open_explorer({"landscape": "custom"})
    at.text_input(key="formula").input(himmelblau).run()
    specs = explorer_check(at, charts=2)
    assert page_checks.link(at)["formula"] == [himmelblau]
    minima = [t for t in specs[0]["data"] if t.get("name") == "minimum"]
    assert minima and len(minima[0]["x"]) == 4
    at.text_input(key="formula").input("x + os.system(1)").run()
    explorer_check(at, charts=2)
    assert at.text_input(key="formula").value == "x + os.system(1)"  # left in its box, with the reason
    assert any("formula refused" in note and "column" in note for note in page_checks.notes(at))
    assert page_checks.link(at)["formula"] == [himmelblau]  # the page still shows the last good one
    again = open_explorer(page_checks.link(at))
    assert not again.warning and trace_names(explorer_check(again, charts=2)[0]) == trace_names(specs[0])


@pytest.mark.skipif("custom" not in LANDSCAPES, reason="the explorer does not list the custom landscape yet")
def test_the_view_of_a_formula_is_chosen_and_can_be_set():
    at = open_explorer({"landscape": "custom", "x_min": "-1", "x_max": "4"})
    landscape = explorer_check(at, charts=2)[0]
    assert landscape["layout"]["xaxis"]["range"] == [-1.0, 4.0]
    empty = open_explorer({"landscape": "custom", "x_min": "3", "x_max": "1"})
    explorer_check(empty, charts=2)  # an empty range: the automatic view, with a caption, and nothing breaks


def test_a_page_visited_in_between_does_not_change_the_view_on_return():
    at = open_explorer({"steps": "100"})
    at.query_params.clear()  # as the browser does on a page switch (AppTest keeps the query)
    at.switch_page("pages/eigenspace.py").run()  # its own steps slider, at its own 200
    assert at.select_slider(key="steps").value == 200
    at.query_params.clear()
    at.switch_page("pages/explorer.py").run()
    assert at.select_slider(key="steps").value == 100 and page_checks.link(at) == {"steps": ["100"]}


def test_the_average_of_the_iterates_is_in_the_table_the_csv_and_the_3d_view():
    """Polyak averaging (the schedule lesson's run 3): the CSV's average columns are the running mean of
    its own x and y columns from the averaging start on, the table's final L − L* of the average is the
    landscape's loss at that mean, and the 3-D view draws the averaged path beside the run's own."""
    import io

    import pandas as pd

    settings = lesson_settings("schedule_noise_floor")
    settings = settings._replace(runs=[spec for spec in settings.runs if spec.average == "polyak"], seeds=3)
    start = int(dict(settings.runs[0].average_params)["start"])
    done, problems = explorer.compute(settings)
    assert not problems and len(done) == 1

    table = pd.read_csv(io.StringIO(explorer.trajectories_csv(settings, done)))
    exact = get_landscape(settings.landscape, **dict(settings.landscape_parameters))
    for _, seed in table.groupby("seed"):
        path = seed[["x", "y"]].to_numpy(np.float64)
        mean = np.cumsum(path[start:], axis=0) / np.arange(1, len(path) - start + 1)[:, None]
        np.testing.assert_allclose(seed[["average_x", "average_y"]].to_numpy()[start:], mean, rtol=1e-4, atol=1e-5)
        loss = np.array([float(exact.loss(jnp.asarray(p, jnp.float32))) for p in mean[-1:]])
        np.testing.assert_allclose(seed["average_loss"].to_numpy()[-1:], loss, rtol=1e-3)

    summary = explorer.summary_table(settings, [d for _, d in done])
    final = table.groupby("seed")["average_loss"].last().to_numpy() - exact.minimum_loss
    assert float(summary[explorer.AVERAGE_COLUMN][0]) == pytest.approx(final.mean(), rel=0.06)  # printed to 2 digits

    grid = explorer.contour_grid(settings.landscape, settings.landscape_parameters)
    figure = plots.surface_figure(grid, exact, [d for _, d in done], settings.start)
    names = [trace.name for trace in figure.data]
    assert f"{done[0][1].label}: {plots.AVERAGED}" in names
