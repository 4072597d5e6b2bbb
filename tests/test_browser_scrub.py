"""End to end: a run's scrub control redraws its path in the browser without a rerun, and letting go
sets its slider and the link (the real app in headless Chromium; fixtures in ``conftest.py``)."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

import pytest

from app_server import ARTIFACTS, CHART, errors_on, scroll_room, show_chart, touch_drag, wait_idle

pytest.importorskip("playwright")

# Counts the script runs the page starts from now on (the app's run state turning to "running").
COUNT_RERUNS = """() => {
  window.__reruns = 0;
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window.__reruns += 1;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
# The x coordinates of a run's drawn path (its trace is tagged with its colour, ui/plots.py _role).
PATH_X = f"""(color) => {{
  const g = document.querySelector('{CHART}');
  const i = g.data.findIndex(t => t.meta && t.meta.role === 'path' && t.meta.run === color);
  return Array.from(g._fullData[i].x, Number);
}}"""
COLORS = {1: "#1f77b4", 4: "#ff7f0e"}  # Run 1 (gradient descent) and Run 4 (L-BFGS) of the default view


def scrubber(page, run: int):
    return page.locator(f"input[aria-label^='scrub'][aria-label$='of Run {run}']")


def drag(page, control, to: float):
    """Press the mouse on the control's thumb, move it to ``to`` (0 … 1 of its width) without letting go."""
    box = control.bounding_box()
    value, top = float(control.input_value()), float(control.get_attribute("max"))
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) * value / top, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 8 + (box["width"] - 16) * to, y, steps=8)


def sidebar_value(page, label: str) -> str:
    slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider']").filter(has_text=label).first
    return slider.locator("input[type='range']").get_attribute("aria-valuetext")


def test_dragging_a_scrub_control_redraws_without_a_rerun_and_letting_go_sets_the_slider(browser):
    page = browser.open_page("/explorer", charts=3)
    labels = [scrubber(page, run).get_attribute("aria-label") for run in (1, 2, 3, 4)]
    assert labels[0] == "scrub learning rate α of Run 1" and all(label.startswith("scrub learning rate α") for label in labels)
    assert sidebar_value(page, "learning rate") == "0.1"
    before = page.evaluate(PATH_X, COLORS[1])
    page.evaluate(COUNT_RERUNS)

    control = scrubber(page, 1)
    drag(page, control, 0.92)
    page.wait_for_function(f"([c, x]) => JSON.stringify(({PATH_X})(c)) !== JSON.stringify(x)", arg=[COLORS[1], before])
    page.wait_for_timeout(500)  # a rerun, had one been asked for, would have started by now
    assert page.evaluate("window.__reruns") == 0
    assert page.get_attribute("[data-testid='stApp']", "data-test-script-state") == "notRunning"
    shown = page.locator(".app-scrub-run").filter(has=control).locator(".app-scrub-value").inner_text()
    after = page.evaluate(PATH_X, COLORS[1])
    assert float(shown) > 0.1 and abs(after[1] - after[0]) > 5 * abs(before[1] - before[0])  # a longer first step
    page.screenshot(path=str(ARTIFACTS / "explorer_scrubbing.png"))

    page.mouse.up()
    page.wait_for_function(f"v => location.search.includes('run1.learning_rate=' + v)", arg=shown, timeout=60_000)
    wait_idle(page)
    assert page.evaluate("window.__reruns") >= 1
    assert sidebar_value(page, "learning rate") == shown
    assert {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()} == {"run1.learning_rate": shown}
    assert any(name.startswith(f"Gradient descent α={shown}") for name in page.evaluate(f"Array.from(document.querySelector('{CHART}').data, t => t.name || '')"))
    assert page.locator(".app-scrub-run").filter(has=scrubber(page, 1)).locator(".app-scrub-value").inner_text() == shown
    assert not errors_on(page)
    page.close()


def test_a_scrubbed_setting_that_diverges_is_marked_where_it_left(browser):
    page = browser.open_page("/explorer", charts=3)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    labels = "() => Array.from(document.querySelector('" + CHART + "').layout.annotations || [], a => a.visible === false ? '' : a.text)"
    assert not any("diverged" in text for text in page.evaluate(labels))
    drag(page, scrubber(page, 4), 1.0)  # L-BFGS at α = 10 leaves the quadratic
    page.wait_for_function(f"() => ({labels})().some(t => t.startsWith('diverged at step'))")
    cross = page.evaluate(
        f"""(color) => {{ const g = document.querySelector('{CHART}');
        const t = g._fullData.find(t => t.meta && t.meta.role === 'scrubbed cross' && t.meta.run === color);
        return Array.from(t.x).filter(v => v !== null && !Number.isNaN(v)).length; }}""",
        COLORS[4],
    )
    assert cross == 1
    loss = page.evaluate(f"() => document.querySelectorAll('{CHART}')[1]._fullData.find(t => t.name && t.name.startsWith('L-BFGS')).y.length")
    assert 0 < loss <= 301
    drag(page, scrubber(page, 4), 0.0)  # back to a stable value: the mark goes
    page.wait_for_function(f"() => !({labels})().some(t => t.startsWith('diverged at step'))")
    page.mouse.up()
    wait_idle(page)
    assert not errors and not errors_on(page)
    page.close()


def test_scrubbing_a_noisy_run_moves_its_mean_path(browser):
    page = browser.open_page("/explorer?landscape=noisy_quadratic&run2=none&run3=none&run4=none", charts=3)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    before = page.evaluate(PATH_X, COLORS[1])
    page.evaluate(COUNT_RERUNS)
    drag(page, scrubber(page, 1), 0.1)
    page.wait_for_function(f"([c, x]) => JSON.stringify(({PATH_X})(c)) !== JSON.stringify(x)", arg=[COLORS[1], before])
    assert page.evaluate("window.__reruns") == 0
    page.mouse.up()
    wait_idle(page)
    assert not errors and not errors_on(page)
    page.close()


SENSITIVITY = ".st-key-sensitivity_plot .js-plotly-plot"
POINT_AT = """([selector, x, y]) => {
  const g = document.querySelector(selector), box = g.getBoundingClientRect(), l = g._fullLayout;
  return [box.left + l.xaxis._offset + l.xaxis.c2p(x), box.top + l.yaxis._offset + l.yaxis.c2p(y)];
}"""
RUN_LINE = """([selector, name]) => {
  const g = document.querySelector(selector);
  const t = g._fullData.find(t => t.name === name && t.mode === 'lines+markers' && t.xaxis === 'x');
  return [Array.from(t.x, Number), Array.from(t.y, Number)];
}"""


def test_dragging_along_the_sensitivity_chart_scrubs_the_nearest_run(browser):
    """Twice: the second time with the landscape out of view, its new figure waiting to be drawn."""
    page = browser.open_page("/explorer", charts=3)
    page.locator(SENSITIVITY).scroll_into_view_if_needed()
    name = next(n for n in page.evaluate(f"Array.from(document.querySelector('{SENSITIVITY}').data, t => t.name || '')")
                if n.startswith("Gradient descent"))  # fmt: skip
    xs, ys = page.evaluate(RUN_LINE, [SENSITIVITY, name])
    start = min(range(len(xs)), key=lambda i: abs(xs[i] - 0.1))  # Run 1's current α (float32)
    before = page.evaluate(PATH_X, COLORS[1])
    others = scrubber(page, 2).input_value()
    page.evaluate(COUNT_RERUNS)

    x, y = page.evaluate(POINT_AT, [SENSITIVITY, xs[start], ys[start]])
    page.mouse.move(x, y + 2)
    page.mouse.down()
    target = start + 3
    to, _ = page.evaluate(POINT_AT, [SENSITIVITY, xs[target], ys[start]])
    page.mouse.move(to, y + 40, steps=6)  # sideways (and off the line): the run held is the one pressed on
    page.wait_for_function(f"([c, x]) => JSON.stringify(({PATH_X})(c)) !== JSON.stringify(x)", arg=[COLORS[1], before])
    page.wait_for_timeout(500)
    assert page.evaluate("window.__reruns") == 0
    control = scrubber(page, 1)
    shown = page.locator(".app-scrub-run").filter(has=control).locator(".app-scrub-value").inner_text()
    assert float(shown) == pytest.approx(xs[target], rel=1e-3)
    assert scrubber(page, 2).input_value() == others  # the other runs stay
    page.screenshot(path=str(ARTIFACTS / "explorer_sensitivity_drag.png"))

    page.mouse.up()
    page.wait_for_function(f"v => location.search.includes('run1.learning_rate=' + v)", arg=shown, timeout=60_000)
    wait_idle(page)
    assert sidebar_value(page, "learning rate") == shown

    # The landscape, out of view, has its new figure waiting; its scrub controls are the new figure's
    # all the same, so a second drag starts from the value just set.
    page.evaluate(f"() => document.querySelector('{SENSITIVITY}').scrollIntoView({{block: 'start'}})")
    page.wait_for_function(f"() => document.querySelector('{CHART}').onScreen === false")
    assert page.evaluate(f"() => Boolean(document.querySelector('{CHART}').waiting)")
    name = next(n for n in page.evaluate(f"Array.from(document.querySelector('{SENSITIVITY}').data, t => t.name || '')")
                if n.startswith("Gradient descent"))  # fmt: skip
    xs, ys = page.evaluate(RUN_LINE, [SENSITIVITY, name])
    start = min(range(len(xs)), key=lambda i: abs(xs[i] - float(shown)))
    assert control.input_value() == str(start)
    page.evaluate(COUNT_RERUNS)
    x, y = page.evaluate(POINT_AT, [SENSITIVITY, xs[start], ys[start]])
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()  # let go where it was pressed, on the current value: nothing to set
    page.wait_for_timeout(500)
    assert page.evaluate("window.__reruns") == 0
    page.mouse.down()
    to, _ = page.evaluate(POINT_AT, [SENSITIVITY, xs[start - 2], ys[start]])
    page.mouse.move(to, y, steps=4)
    page.mouse.up()
    again = f"{xs[start - 2]:.6g}"
    page.wait_for_function(f"v => location.search.includes('run1.learning_rate=' + v)", arg=again, timeout=60_000)
    wait_idle(page)
    assert sidebar_value(page, "learning rate") == again
    assert not errors_on(page)
    page.close()


def test_a_finger_dragging_along_the_sensitivity_chart_scrubs_as_the_mouse_does(browser):
    """On a touch screen: the finger moving sideways over the plot area moves Run 1's scrub control,
    the page does not scroll under it, and letting go sets the slider (chart.js, onDrag)."""
    page = browser.open_page("/explorer", charts=3, touch=True)
    page.locator(SENSITIVITY).scroll_into_view_if_needed()
    name = next(n for n in page.evaluate(f"Array.from(document.querySelector('{SENSITIVITY}').data, t => t.name || '')")
                if n.startswith("Gradient descent"))  # fmt: skip
    xs, ys = page.evaluate(RUN_LINE, [SENSITIVITY, name])
    start = min(range(len(xs)), key=lambda i: abs(xs[i] - 0.1))
    target = start - 4
    before = page.evaluate(PATH_X, COLORS[1])
    page.evaluate(COUNT_RERUNS)
    top = f"() => document.querySelector('{SENSITIVITY}').getBoundingClientRect().top"  # moves if the page scrolls
    placed = page.evaluate(top)
    (x, y), (to, _) = page.evaluate(POINT_AT, [SENSITIVITY, xs[start], ys[start]]), page.evaluate(POINT_AT, [SENSITIVITY, xs[target], ys[start]])
    assert scroll_room(page, SENSITIVITY)[0] > 200  # a finger moving down would scroll the page up, were it let
    lift = touch_drag(page, [(x + (to - x) * k / 5, y + 12 * k) for k in range(6)])  # sideways and down
    page.wait_for_function(f"([c, x]) => JSON.stringify(({PATH_X})(c)) !== JSON.stringify(x)", arg=[COLORS[1], before])
    shown = page.locator(".app-scrub-run").filter(has=scrubber(page, 1)).locator(".app-scrub-value").inner_text()
    assert float(shown) == pytest.approx(xs[target], rel=1e-3)
    assert page.evaluate(top) == placed
    assert page.evaluate("window.__reruns") == 0
    lift()
    page.wait_for_function(f"v => location.search.includes('run1.learning_rate=' + v)", arg=shown, timeout=60_000)
    wait_idle(page)
    assert sidebar_value(page, "learning rate") == shown
    assert not errors_on(page)
    page.close()


def test_a_chart_out_of_view_draws_its_new_figure_once_back_in_view(browser):
    """A slider move redraws the charts on screen; the sensitivity chart, below the fold, draws its
    new figure when scrolled to (``ui/chart.js``, drawChart), and then shows the moved run."""
    page = browser.open_page("/explorer", charts=3)
    data = f"() => JSON.stringify(document.querySelector('{SENSITIVITY}').data.map(t => t.name))"
    before = page.evaluate(data)
    assert "Gradient descent α=0.1" in before
    slider = page.locator(".st-key-run1-learning_rate input[type='range']")
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('{SENSITIVITY}').waiting", timeout=60_000)
    wait_idle(page)
    assert page.evaluate(data) == before  # not drawn while out of view
    show_chart(page, SENSITIVITY)
    after = page.evaluate(data)
    assert after != before and "Gradient descent α=0.11" in after
    assert not errors_on(page)
    page.close()


def test_dragging_a_runs_sidebar_slider_previews_its_path_before_the_rerun(browser):
    """While Run 1's own learning-rate slider is dragged (Streamlit reruns only once it is let go), the
    landscape already shows the precomputed run for the value the slider shows, or the nearest swept
    one, which Run 1's scrub control names; the rerun then draws the same."""
    page = browser.open_page("/explorer", charts=3)
    before = page.evaluate(PATH_X, COLORS[1])
    texts = page.evaluate(f"() => document.querySelector('{CHART}').scrubber.rows.get(1).run.texts")
    page.evaluate(COUNT_RERUNS)
    thumb = page.locator(".st-key-run1-learning_rate input[type='range']").locator("xpath=..")
    box = thumb.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    row = page.locator(".app-scrub-run").filter(has=scrubber(page, 1)).locator(".app-scrub-value")
    seen = set()
    for dx in range(2, 40, 2):  # up the slider, past values between the swept ones and onto swept ones
        page.mouse.move(x + dx, y)
        shown = sidebar_value(page, "learning rate")  # the preview follows in the same task (a MutationObserver)
        named = row.inner_text()
        nearest = min(texts, key=lambda t: abs(math.log(float(t) / float(shown))))
        assert named == nearest, (shown, named)
        seen.add(shown in texts)
        if seen == {True, False} and shown in texts:
            break
    assert seen == {True, False}  # both kinds were met
    page.wait_for_function(f"([c, x]) => JSON.stringify(({PATH_X})(c)) !== JSON.stringify(x)", arg=[COLORS[1], before])
    assert page.evaluate("window.__reruns") == 0  # still held: the path is the precomputed one
    previewed = page.evaluate(PATH_X, COLORS[1])
    page.mouse.up()
    page.wait_for_function(f"v => location.search.includes('run1.learning_rate=' + v)", arg=shown, timeout=60_000)
    wait_idle(page)
    drawn = page.evaluate(PATH_X, COLORS[1])
    assert drawn == pytest.approx(previewed, rel=1e-3, abs=1e-3)  # the rerun's exact run, the preview's 16 bits
    assert not errors_on(page)
    page.close()
