"""End to end: a tab loads plotly.js's cartesian bundle for its 2-D charts, and the full bundle only
once a 3-D chart is drawn; the charts drawn before keep redrawing, playing back and reporting clicks
(ui/chart.js, loadPlotly). The real app and ``chart_bundles_app.py`` in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from app_server import ARTIFACTS, CHART, ROOT, AppServer, errors_on, show_every_chart, wait_charts, wait_idle
from ui import chart

pytest.importorskip("playwright")

CARTESIAN = f"plotly-cartesian-{chart.plotly_js_version()}.min.js"
LOADED = "() => performance.getEntriesByType('resource').map(e => e.name.split('/').pop()).filter(n => n.startsWith('plotly'))"
MODULES = "() => performance.getEntriesByType('resource').map(e => e.name.split('/').pop()).filter(n => n.startsWith('chart-'))"
# The charts drawn so far, tagged, so that the same elements can be looked at later.
TAG = f"() => document.querySelectorAll('{CHART}').forEach((c, i) => {{ c.dataset.before = i; }})"
DRAWN = f"""(selector) => Array.from(document.querySelectorAll(selector),
  c => Boolean(c._fullLayout && c.querySelector('.main-svg')))"""
FLAT = f"() => Array.from(document.querySelectorAll('{CHART}'), c => JSON.stringify(c.data)).slice(1)"  # all but the surface
NO_SURFACE = "() => !('surface' in Plotly.PlotSchema.get().traces)"


@pytest.fixture(scope="module")
def cartesian_bundle():
    """The cartesian bundle in static/ (scripts/setup.sh fetches it; fetched here if it was not)."""
    if not (chart.STATIC / CARTESIAN).exists():
        fetched = subprocess.run([sys.executable, "scripts/fetch_plotly_cartesian.py"], cwd=ROOT, capture_output=True, text=True)
        if not (chart.STATIC / CARTESIAN).exists():
            pytest.skip(f"plotly.js's cartesian bundle is not in static/ and could not be fetched: {fetched.stdout.strip()}")


@pytest.fixture(scope="module")
def small_app(tmp_path_factory, cartesian_bundle):
    """``chart_bundles_app.py`` served from a folder of its own: Streamlit serves the static folder
    beside the main script, so the folder gets one with both bundles and ``chart.js`` (linked, or copied)."""
    folder = tmp_path_factory.mktemp("chart_bundles")
    (folder / "static").mkdir()
    for name in (CARTESIAN, chart.publish_plotly_js().rsplit("/", 1)[1], chart.publish_chart_module().rsplit("/", 1)[1]):
        try:
            os.link(chart.STATIC / name, folder / "static" / name)
        except OSError:
            shutil.copyfile(chart.STATIC / name, folder / "static" / name)
    shutil.copyfile(ROOT / "tests" / "chart_bundles_app.py", folder / "chart_bundles_app.py")
    server = AppServer(str(folder / "chart_bundles_app.py"))
    yield server
    server.stop()


def screenshot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_the_explorer_loads_the_cartesian_bundle_and_the_full_one_for_its_3d_view(browser, cartesian_bundle):
    page = browser.open_page("/explorer", charts=3)
    assert page.evaluate(LOADED) == [CARTESIAN]
    assert page.evaluate(NO_SURFACE)
    screenshot(page, "explorer_cartesian_bundle")
    page.evaluate(TAG)
    page.evaluate(f"() => document.querySelector('{CHART}').removeAttribute('data-before')")  # the landscape: replaced

    page.locator(".st-key-view3d label").first.click()
    wait_idle(page)
    page.wait_for_selector(f"{CHART} canvas", timeout=60_000)
    assert page.evaluate(LOADED) == [CARTESIAN, f"plotly-{chart.plotly.__version__}.min.js"]
    assert page.evaluate(f"() => document.querySelector('{CHART}').data[0].type") == "surface"
    assert page.evaluate(f"() => Boolean(document.querySelector('{CHART}')._fullLayout.scene)")
    # The sensitivity chart stays the same element, drawn again by the full bundle (the loss chart is a new one).
    drawn = page.evaluate(DRAWN, f"{CHART}[data-before]")
    assert len(drawn) >= 1 and all(drawn), drawn
    before = page.evaluate(FLAT)
    assert len(before) >= 2

    slider = page.locator(".st-key-run1-learning_rate input[type='range']")
    slider.focus()
    slider.press("ArrowRight")
    wait_idle(page)
    show_every_chart(page)  # a chart out of view draws its new figure once in view
    page.wait_for_function(f"b => ({FLAT})().every((c, i) => c !== b[i])", arg=before, timeout=60_000)  # each redrawn
    assert page.evaluate(DRAWN, f"{CHART}[data-before]") == drawn and all(page.evaluate(DRAWN, CHART))
    assert not errors_on(page)
    assert "could not be drawn" not in page.inner_text("[data-testid='stMain']")
    screenshot(page, "explorer_3d_after_the_cartesian_bundle")
    assert page.evaluate(LOADED) == [CARTESIAN, f"plotly-{chart.plotly.__version__}.min.js"]  # nothing loaded again
    assert page.evaluate(MODULES) == [chart.publish_chart_module().rsplit("/", 1)[1]]  # chart.js: once per tab
    page.close()


def open_small(browser, server, query: str = ""):
    page = browser.browser.new_page(viewport={"width": 1000, "height": 1000})
    page.goto(server.url + "/" + query)
    wait_idle(page)
    wait_charts(page, 1)
    return page


def flat(page, expression: str):
    return page.evaluate(f"() => {{ const c = document.querySelector('.st-key-flat {CHART}'); return {expression}; }}")


def step_to(page, step: int):
    page.evaluate(f"""() => {{
      const slider = document.querySelector('.st-key-flat .app-step-slider');
      slider.value = {step};
      slider.dispatchEvent(new Event('input'));
    }}""")  # as dragging it does: Plotly.animate moves the marker
    page.wait_for_function(f"() => document.querySelector('.st-key-flat {CHART}').data[2].x[0] === {step / 5}")


def test_a_chart_the_cartesian_bundle_drew_plays_back_redraws_and_clicks_with_the_full_one(browser, cartesian_bundle, small_app):
    page = open_small(browser, small_app)
    assert page.evaluate(LOADED) == [CARTESIAN]
    step_to(page, 2)
    flat(page, "c.dataset.before = 'flat'")

    page.locator("[data-testid='stCheckbox'] label").filter(has_text="3-D chart").click()
    wait_idle(page)
    page.wait_for_selector(f".st-key-deep {CHART} canvas", timeout=60_000)
    assert page.evaluate(LOADED) == [CARTESIAN, f"plotly-{chart.plotly.__version__}.min.js"]
    assert flat(page, "c.dataset.before") == "flat", "the 2-D chart is a new element"
    assert flat(page, "Boolean(c._fullLayout && c.querySelector('.main-svg'))")
    # Drawn again by the full bundle: its events are the full bundle's, as the 3-D chart's are.
    assert flat(page, f"Object.getPrototypeOf(c._ev) === Object.getPrototypeOf(document.querySelector('.st-key-deep {CHART}')._ev)")
    assert flat(page, "document.querySelector('.st-key-flat .app-step').textContent") == "step 2"  # its step kept

    step_to(page, 4)  # playback: Plotly.animate of the full bundle on the chart drawn again with it
    page.locator(".st-key-flat .app-play").click()
    page.wait_for_function(f"() => document.querySelector('.st-key-flat {CHART}').data[2].x[0] === 1")

    box = page.locator(f".st-key-flat {CHART} .nsewdrag").first.bounding_box()
    x, y = box["x"] + 0.32 * box["width"], box["y"] + 0.1 * box["height"]  # the cell at (0.3, 0.9), away from the lines
    page.mouse.move(x, y)  # hover first: plotly clicks the hovered point
    page.mouse.click(x, y)
    page.get_by_text("clicked: (0.3").wait_for(timeout=60_000)  # the heatmap's cell under the pointer, in Python

    slider = page.locator("[data-testid='stSlider'] input[type='range']").first
    slider.focus()
    slider.press("ArrowRight")
    wait_idle(page)
    page.wait_for_function(f"() => document.querySelector('.st-key-flat {CHART}').data[1].name === 'shift 1'")
    assert not errors_on(page)
    screenshot(page, "chart_bundles_switched")
    page.close()


def test_a_tab_that_loads_the_full_bundle_first_never_loads_the_cartesian_one(browser, cartesian_bundle, small_app):
    page = open_small(browser, small_app, "?first=deep")
    page.wait_for_selector(f".st-key-deep {CHART} canvas", timeout=60_000)
    page.locator("[data-testid='stCheckbox'] label").filter(has_text="2-D chart").click()
    wait_idle(page)
    wait_charts(page, 2)
    step_to(page, 3)
    assert page.evaluate(LOADED) == [f"plotly-{chart.plotly.__version__}.min.js"]
    assert not errors_on(page)
    page.close()
