"""End to end: the Eigenspace page's momentum rate map is a control. Dragging on it redraws
momentum's error curves, measured and closed form, without a rerun; letting go sets momentum's
sliders and the link (the real app in headless Chromium; fixtures in ``conftest.py``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from app_server import ARTIFACTS, errors_on, scroll_room, touch_drag, wait_idle
from optimizers import theory
from test_browser_scrub import COUNT_RERUNS, sidebar_value
from ui import eigenspace, eigenspace_plots

pytest.importorskip("playwright")

MAP = ".st-key-momentum_rate_plot .js-plotly-plot"
DIRECTION = ".st-key-direction_plot_{} .js-plotly-plot"
MOMENTUM = "Heavy-ball momentum"
TRACE = """([selector, name]) => {
  const g = document.querySelector(selector);
  const i = g.data.findIndex(t => t.name === name);
  return { x: Array.from(g._fullData[i].x, Number), y: Array.from(g._fullData[i].y, Number) };
}"""


def press_on_map(page, alpha: float, beta: float):
    """The mouse pressed on the rate map at (α, β), not let go; the pointer's place on the page."""
    x, y = map_point(page, alpha, beta)
    page.mouse.move(x, y)
    page.mouse.down()
    return x, y


def map_point(page, alpha: float, beta: float):
    """Where (α, β) is on the rate map, on the page (scrolled into view)."""
    page.locator(MAP).scroll_into_view_if_needed()
    return page.evaluate(
        """([selector, a, b]) => {
          const g = document.querySelector(selector), box = g.getBoundingClientRect(), l = g._fullLayout;
          return [box.left + l.xaxis._offset + l.xaxis.c2p(a), box.top + l.yaxis._offset + l.yaxis.c2p(b)];
        }""",
        [MAP, alpha, beta],
    )  # fmt: skip


def curve(page, panel: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    drawn = page.evaluate(TRACE, [DIRECTION.format(panel), name])
    return np.asarray(drawn["x"]), np.asarray(drawn["y"])


def test_dragging_the_rate_map_redraws_the_error_curves_and_letting_go_sets_the_sliders(browser):
    page = browser.open_page("/eigenspace?methods=gd&methods=momentum", charts=6)
    assert sidebar_value(page, "momentum β") == "0.5"
    page.evaluate(COUNT_RERUNS)
    before = curve(page, 0, MOMENTUM)

    alpha, beta = 3.0, 0.87  # a node of the grid (ui.eigenspace.pick_axes); it converges, ringing
    alphas, betas = eigenspace.pick_axes(np.array([0.1, 1.0]))  # κ = 10, λ_max = 1; α = 1 on the page
    assert alpha in alphas and beta in betas
    press_on_map(page, alpha + 0.05, beta - 0.02)
    page.wait_for_function(
        f"([s, n, x]) => JSON.stringify(({TRACE})([s, n]).y) !== JSON.stringify(x)",
        arg=[DIRECTION.format(0), MOMENTUM, before[1].tolist()],
    )  # fmt: skip
    page.wait_for_timeout(500)  # a rerun, had one been asked for, would have started by now
    assert page.evaluate("window.__reruns") == 0
    readout = page.locator(".app-pick-readout").inner_text()
    assert readout.startswith("(α, β) = (3, 0.87), rate ")  # the nearest node
    page.locator(DIRECTION.format(0)).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "eigenspace_rate_map_drag.png"))

    # While dragging, the closed form drawn is the library's (the roots of R), cut and floored as the page draws it.
    quadratic = eigenspace.build_problem("quadratic", eigenspace.items({"condition_number": 10.0, "angle": 0.0}))
    lam, q, minimum = eigenspace.eigen_data(quadratic)
    x0 = (eigenspace.start_point("quadratic", quadratic) - minimum) @ q
    predicted = theory.momentum_components(lam, x0, alpha, beta, 200)
    dragged = {}
    for panel in (0, 1):
        steps, closed = curve(page, panel, f"{MOMENTUM}: closed form")
        expected = eigenspace_plots.clip_log_curve(predicted[:, panel], abs(x0[panel]))
        np.testing.assert_array_equal(steps, np.arange(steps.size))  # every step, as the page draws it
        np.testing.assert_allclose(closed, expected[: steps.size], rtol=1e-6)
        assert steps.size == expected.size
        dragged[panel] = curve(page, panel, MOMENTUM)

    page.mouse.up()
    page.wait_for_function("() => location.search.includes('momentum.momentum=0.87')", timeout=60_000)
    wait_idle(page)
    assert {k: v for k, v in parse_qs(urlparse(page.url).query).items()} == {
        "methods": ["gd", "momentum"], "momentum.learning_rate": ["3"], "momentum.momentum": ["0.87"],
    }  # fmt: skip
    assert sidebar_value(page, "momentum β") == "0.87"
    # The measured line shown while dragging (the grid's run) is the run the page computes once set.
    for panel in (0, 1):
        steps, measured = curve(page, panel, MOMENTUM)
        np.testing.assert_allclose(dragged[panel][1], measured[dragged[panel][0].astype(int)], rtol=1e-3)
    assert not page.locator(".app-pick-readout").inner_text()
    assert not errors_on(page)
    page.close()


def test_letting_go_of_the_rate_map_at_the_current_setting_changes_nothing(browser):
    """A press and let go on the node of momentum's own (α, β) is not a rerun; the curves are the page's own again."""
    page = browser.open_page("/eigenspace?methods=momentum&momentum.learning_rate=1.3&momentum.momentum=0.6", charts=5)
    before = curve(page, 1, MOMENTUM)
    page.evaluate(COUNT_RERUNS)
    press_on_map(page, 2.0, 0.2)
    page.wait_for_function(
        f"([s, n, x]) => JSON.stringify(({TRACE})([s, n]).y) !== JSON.stringify(x)",
        arg=[DIRECTION.format(1), MOMENTUM, before[1].tolist()],
    )  # fmt: skip
    x, y = map_point(page, 1.3, 0.6)
    page.mouse.move(x, y, steps=4)
    page.mouse.up()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__reruns") == 0
    np.testing.assert_array_equal(curve(page, 1, MOMENTUM)[1], before[1])
    assert page.locator(".app-pick-ring").is_hidden() and not page.locator(".app-pick-readout").inner_text()
    assert "momentum.momentum=0.6" in page.url
    assert not errors_on(page)
    page.close()


def test_a_finger_drags_the_rate_map_as_the_mouse_does(browser):
    """On a touch screen (pointer events of type "touch"): the plot area is the control, and the page
    does not scroll away under the finger (chart.js, onDrag); letting go sets the sliders."""
    page = browser.open_page("/eigenspace?methods=momentum", charts=5, touch=True)
    before = curve(page, 0, MOMENTUM)
    page.evaluate(COUNT_RERUNS)
    start, end = map_point(page, 1.0, 0.2), map_point(page, 3.0 + 0.05, 0.87 - 0.02)
    top = f"() => document.querySelector('{MAP}').getBoundingClientRect().top"  # moves if the page scrolls
    placed = page.evaluate(top)
    assert scroll_room(page, MAP)[1] > 200  # a finger moving up would scroll the page down, were it let
    path = [(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t) for t in np.linspace(0, 1, 6)]
    lift = touch_drag(page, path)
    page.wait_for_function(
        f"([s, n, x]) => JSON.stringify(({TRACE})([s, n]).y) !== JSON.stringify(x)",
        arg=[DIRECTION.format(0), MOMENTUM, before[1].tolist()],
    )  # fmt: skip
    assert page.locator(".app-pick-readout").inner_text().startswith("(α, β) = (3, 0.87), rate ")
    assert page.evaluate(top) == placed
    assert page.evaluate("window.__reruns") == 0
    lift()
    page.wait_for_function("() => location.search.includes('momentum.momentum=0.87')", timeout=60_000)
    wait_idle(page)
    assert "momentum.learning_rate=3" in page.url and sidebar_value(page, "momentum β") == "0.87"
    assert not errors_on(page)
    page.close()
