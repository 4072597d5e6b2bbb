"""End to end: the real app served by Streamlit, driven in headless Chromium.

Screenshots of what each test saw go to ``test-artifacts/``.
"""

from __future__ import annotations

import tomllib
from urllib.parse import parse_qs, quote, urlparse

import pytest

from app_server import ARTIFACTS, CHART, errors_on, show_every_chart, wait_charts, wait_idle
from ui import lessons

PAGE_LESSONS = {page: lessons.load(page).lessons for page in ("explorer", "eigenspace", "scale_up")}
EXPLORER_LESSONS = PAGE_LESSONS["explorer"]

pytest.importorskip("playwright")


def legend(page, chart: int = 0) -> list[str]:
    """The names of the traces of the chart-th plotly figure, as the browser holds them."""
    return page.evaluate(
        f"i => Array.from(document.querySelectorAll('{CHART}')[i].data, t => t.name || '')", chart
    )


def drawn_traces(page, chart: int = 0) -> list[dict]:
    """Every trace of the chart-th figure as plotly holds it after drawing: name, points, hover text,
    and the points its SVG shows (the path's ``d`` of each line, the markers' count)."""
    return page.evaluate(
        """i => { const g = document.querySelectorAll('.js-plotly-plot')[i];
          return g._fullData.map((t) => ({ name: t.name, group: t.legendgroup, hover: t.hovertemplate || null,
            x: t.x ? Array.from(t.x, (v) => (v === null ? null : +(+v).toPrecision(6))) : null,
            y: t.y ? Array.from(t.y, (v) => (v === null ? null : +(+v).toPrecision(6))) : null })); }""", chart
    )


def svg_lines(page, chart: int = 0) -> list[list[float]]:
    """Where the drawn scatter lines of the chart-th figure lie on screen: each one's box, and its
    length (a line drawn in place and one drawn afresh may put their vertices differently)."""
    return page.evaluate(
        """i => Array.from(document.querySelectorAll('.js-plotly-plot')[i].querySelectorAll('.scatterlayer .js-line'), (p) => {
          const b = p.getBBox(); return [b.x, b.y, b.width, b.height, p.getTotalLength()]; })""",
        chart,
    )


def legend_texts(page, chart: int = 0) -> list[str]:
    """The legend's entries as shown."""
    return page.evaluate(
        "i => Array.from(document.querySelectorAll('.js-plotly-plot')[i].querySelectorAll('.legendtext'), (t) => t.textContent)",
        chart,
    )


def trace_points(page, chart: int = 0) -> int:
    """How many points the chart-th figure drew (``_fullData`` holds the decoded arrays)."""
    return page.evaluate(
        f"i => document.querySelectorAll('{CHART}')[i]._fullData.reduce((n, t) => n + ((t.x && t.x.length) || 0), 0)",
        chart,
    )


def move_learning_rate(page):
    """One step up on Run 1's learning-rate slider; returns once the landscape shows the new runs (its
    legend names α) and the link carries the value (the query string may be written after the figure)."""
    before = ",".join(legend(page))
    slider(page, "learning rate").first.focus()
    slider(page, "learning rate").first.press("ArrowRight")
    wait_idle(page)
    page.wait_for_function(
        f"n => Array.from(document.querySelector('{CHART}').data, t => t.name || '').join() !== n", arg=before, timeout=60_000
    )
    page.wait_for_function("() => location.search.includes('run1.learning_rate=')", timeout=60_000)


def slider(page, label: str):
    """The range input of the first slider whose label contains ``label``."""
    return page.locator("[data-testid='stSlider']").filter(has_text=label).first.locator("input[type='range']")


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def screenshot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_home_links_every_lesson(browser):
    page = browser.open_page("/", charts=0)
    assert not errors_on(page)
    links = page.locator("[data-testid='stPageLink'] a")
    every = [lesson for found in PAGE_LESSONS.values() for lesson in found.values()]
    links.nth(len(every) - 1).wait_for()
    titles = links.all_inner_texts()
    for lesson in every:
        assert any(lesson.view.title in title for title in titles), lesson.view.title
    screenshot(page, "home")
    links.first.click()
    wait_idle(page)
    page.wait_for_selector(f"{CHART} .main-svg")
    assert next(iter(EXPLORER_LESSONS.values())).view.title in page.inner_text("[data-testid='stMain']")
    page.close()


def test_a_lesson_with_a_slider_moved_reopens_from_its_copied_link(browser):
    page = browser.open_page("/explorer?preset=zigzag", charts=2)
    move_learning_rate(page)
    link = query(page)
    assert link["lesson"] == "zigzag" and "run1.learning_rate" in link and "preset" not in link, link
    show_every_chart(page)
    shown = [page.evaluate(f"i => JSON.stringify(document.querySelectorAll('{CHART}')[i].data)", i) for i in (0, 1)]
    again = browser.open_page(urlparse(page.url).path + "?" + urlparse(page.url).query, charts=2)
    assert not errors_on(again)
    assert query(again) == link
    assert [again.evaluate(f"i => JSON.stringify(document.querySelectorAll('{CHART}')[i].data)", i) for i in (0, 1)] == shown
    assert again.locator("[data-testid='stAlert']").filter(has_text="link").count() == 0, "the reopened link got a note"
    again.close()
    page.close()


def test_markup_in_a_link_is_shown_as_plain_text(browser):
    text = "x` **Your session expired** [log in again](https://evil.example/login) ![t](https://evil.example/t.png) `"
    page = browser.open_page("/explorer?landscape=" + quote(text), charts=2)
    note = page.locator("[data-testid='stAlert']").filter(has_text="landscape=").first
    shown = note.inner_text().replace("\u2060", "")  # the word joiners that keep an address from becoming a link
    assert "**Your session expired** [log in again](https://evil.exa…" in shown  # as typed, and cut
    for tag in ("a", "img", "strong", "em", "code"):
        assert note.locator(tag).count() == 0, f"the note rendered a <{tag}>"
    screenshot(page, "explorer_hostile_link")
    page.close()


def test_an_embed_hides_the_controls_it_names(browser):
    page = browser.open_page("/explorer?preset=zigzag&embed=true&hide=run2,steps,landscape", charts=2)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert "Run 1" in sidebar.inner_text() and "Run 2" not in sidebar.inner_text()
    assert sidebar.locator("[data-testid='stSelectbox']").filter(has_text="Landscape").count() == 0
    assert sidebar.locator("[data-testid='stSlider']").filter(has_text="steps").count() == 0
    assert len(legend(page)) and any(name.startswith("Heavy-ball") for name in legend(page))  # still drawn
    page.close()


def test_explorer_slider_redraws_the_chart_and_writes_the_link(browser):
    page = browser.open_page("/explorer", charts=2)
    assert not errors_on(page)
    before = legend(page)
    assert sum(name.startswith("Gradient descent") for name in before) == 1
    screenshot(page, "explorer")

    move_learning_rate(page)
    after = legend(page)
    assert after != before, "the chart did not change"
    assert not errors_on(page)
    link = query(page)
    assert "run1.learning_rate" in link, link
    screenshot(page, "explorer_after_slider")

    again = browser.open_page(urlparse(page.url).path + "?" + urlparse(page.url).query, charts=2)
    assert legend(again) == after, "the copied link did not reopen the same view"
    # The move redrew the changed traces in place (ui/chart.js, redrawInPlace); the copied link drew
    # the same figures afresh: the same traces, points, legend and lines on screen.
    for chart in range(2):
        assert drawn_traces(page, chart) == drawn_traces(again, chart)
        assert legend_texts(page, chart) == legend_texts(again, chart)
        shown, afresh = svg_lines(page, chart), svg_lines(again, chart)
        assert len(shown) == len(afresh)
        for line, fresh in zip(shown, afresh):
            assert line == pytest.approx(fresh, abs=1.0)  # within a pixel
    again.close()
    page.close()


def test_a_run_slider_move_saves_its_value_in_the_lesson_and_keeps_the_sidebar(browser):
    """The move reruns the results alone (``controls.fragment_view``): the sidebar keeps every control
    in place, and the save button, which the results draw at its end, saves the new value."""
    page = browser.open_page("/explorer", charts=2)
    sidebar = page.locator("[data-testid='stSidebar'] [data-testid='stElementContainer']")
    controls_before = sidebar.count()
    move_learning_rate(page)
    value = query(page)["run1.learning_rate"]
    assert sidebar.count() == controls_before and not errors_on(page)
    save = page.get_by_role("button", name="Save this view as a lesson")
    assert save.bounding_box()["y"] > page.get_by_role("checkbox", name="3-D surface view").bounding_box()["y"]
    with page.expect_download() as download:
        save.click()
    saved = tomllib.loads(open(download.value.path()).read())
    assert saved["view"]["run1.learning_rate"] == pytest.approx(float(value))
    page.close()


def test_clicking_the_landscape_starts_the_runs_there(browser):
    page = browser.open_page("/explorer", charts=2)
    plot_area = page.locator(f"{CHART} .nsewdrag").first.bounding_box()
    x, y = plot_area["x"] + 0.75 * plot_area["width"], plot_area["y"] + 0.25 * plot_area["height"]
    page.mouse.move(x, y)  # hover first: plotly clicks the hovered point
    page.mouse.click(x, y)
    page.wait_for_function("() => location.search.includes('x0=')", timeout=60_000)
    wait_idle(page)
    link = query(page)
    assert float(link["x0"]) == pytest.approx(1.25, abs=0.1) and float(link["y0"]) == pytest.approx(1.25, abs=0.1)
    start = page.evaluate(f"Array.from(document.querySelector('{CHART}')._fullData).find(t => t.name === 'start').x[0]")
    assert start == pytest.approx(float(link["x0"]), abs=1e-3)
    # The start's boxes in the sidebar show it too (the click reran the whole page, not the results alone).
    assert float(page.get_by_label("start x").input_value()) == pytest.approx(float(link["x0"]), abs=1e-3)
    assert not errors_on(page)
    page.close()


def test_playback_steps_through_the_runs(browser):
    page = browser.open_page("/explorer", charts=2)
    # The first run's marker: the first unnamed trace (the moving ones follow the named paths).
    marker = f"() => {{ const g = document.querySelector('{CHART}'); const i = g.data.findIndex(t => !t.name); return [g._fullData[i].x[0], g._fullData[i].y[0]]; }}"
    at_start = page.evaluate(marker)
    steps = page.locator(".app-step-slider").first
    steps.focus()
    for _ in range(10):
        steps.press("ArrowRight")
    label = page.locator(".app-step").first
    assert label.inner_text() != "step 0"
    page.wait_for_function(f"([start]) => JSON.stringify(({marker})()) !== JSON.stringify(start)", arg=[at_start])
    page.locator(".app-play").first.click()  # plays on from there to the last step, then stops
    page.wait_for_function("() => document.querySelector('.app-play').textContent.includes('play')", timeout=30_000)
    assert label.inner_text() == "step 300"  # the default run's last step
    move_learning_rate(page)  # a new figure, drawn at step 0, goes on showing the chosen step
    page.wait_for_function(f"([start]) => JSON.stringify(({marker})()) !== JSON.stringify(start)", arg=[at_start])
    assert label.inner_text() == "step 300"
    assert not errors_on(page)
    page.close()


def test_a_zoom_survives_a_slider_move(browser):
    page = browser.open_page("/explorer", charts=2)
    x_range = f"() => document.querySelector('{CHART}')._fullLayout.xaxis.range"
    full = page.evaluate(x_range)
    plot_area = page.locator(f"{CHART} .nsewdrag").first.bounding_box()
    page.mouse.move(plot_area["x"] + plot_area["width"] / 2, plot_area["y"] + plot_area["height"] / 2)
    for _ in range(5):
        page.mouse.wheel(0, -100)  # scroll zoom, as a reader would
    page.wait_for_function(f"w => ({x_range})()[1] - ({x_range})()[0] < w", arg=0.8 * (full[1] - full[0]))
    zoomed = page.evaluate(x_range)
    move_learning_rate(page)
    assert page.evaluate(x_range) == pytest.approx(zoomed)  # the new runs, drawn in the reader's view
    assert not errors_on(page)
    page.close()


def test_charts_follow_the_column_when_the_sidebar_folds(browser):
    page = browser.open_page("/explorer", charts=2)
    drawn_width = f"() => document.querySelector('{CHART}')._fullLayout.width"
    before = page.evaluate(drawn_width)
    page.hover("[data-testid='stSidebar']")
    page.locator("[data-testid='stSidebarCollapseButton'] button").first.click()
    page.wait_for_function(f"w => ({drawn_width})() > w + 100", arg=before)
    assert not errors_on(page)
    page.close()


def test_lesson_link_embedded(browser):
    page = browser.open_page("/explorer?preset=saddle&embed=true", charts=2)
    assert not errors_on(page)
    assert EXPLORER_LESSONS["saddle"].view.title in page.inner_text("[data-testid='stMain']")
    assert page.locator("[data-testid='stSidebarNav']").count() == 0, "the embedded view shows the navigation"
    names = legend(page)
    assert "saddle" in names and any(name.startswith("Newton") for name in names)
    screenshot(page, "explorer_embedded_saddle")
    page.close()


def test_bad_link_shows_a_note_not_a_traceback(browser):
    page = browser.open_page("/explorer?landscape=volcano&run1.learning_rate=fast", charts=2)
    assert not errors_on(page)
    text = page.inner_text("[data-testid='stMain']")
    assert "volcano" in text and "fast" in text
    page.close()


def test_three_d_view_draws_a_surface(browser):
    page = browser.open_page("/explorer?view3d=true&preset=adam_rosenbrock", charts=1)
    assert not errors_on(page)
    page.wait_for_selector(f"{CHART} canvas", timeout=60_000)
    assert "surface" in page.evaluate(f"Array.from(document.querySelector('{CHART}').data, t => t.type)")
    screenshot(page, "explorer_3d")
    page.close()


def test_eigenspace_page(browser):
    page = browser.open_page("/eigenspace", charts=5)
    assert not errors_on(page)
    assert any("closed form" in name for i in range(2, 4) for name in legend(page, i)), "no theory drawn"
    screenshot(page, "eigenspace")
    page.close()


def test_scale_up_redraws_its_live_chart_in_place_while_training(browser):
    """Each round of training redraws the one chart element: once drawn, it is never blank, hidden or replaced."""
    page = browser.open_page("/scale_up?task=digits&width=512&steps=5000&opt=adam&opt=gd", charts=0)
    page.locator(".st-key-train button").click()
    wait_charts(page, 1, timeout=180_000)
    page.evaluate("window.firstChart = document.querySelector('.js-plotly-plot')")
    samples = []
    for _ in range(30):
        samples.append(page.evaluate(
            "() => { const c = document.querySelector('.js-plotly-plot');"
            " return [c === window.firstChart, !!(c && c.data && c.data.length && c.getBoundingClientRect().height > 100"
            " && c.checkVisibility())]; }"
        ))  # fmt: skip
        page.wait_for_timeout(100)
    assert all(same and drawn for same, drawn in samples), samples
    page.locator(".st-key-stop").get_by_role("button", name="Stop").click()  # still training: 5000 steps of a 512-wide net take ~20 s here
    page.get_by_text("Stopped early; the results so far are shown.").wait_for(timeout=60_000)
    wait_idle(page, 180_000)
    assert page.evaluate("document.querySelector('.js-plotly-plot') === window.firstChart")
    assert not errors_on(page)
    page.close()


def test_scale_up_trains_a_small_network(browser):
    page = browser.open_page("/scale_up?steps=100", charts=0)
    assert not errors_on(page)
    page.locator(".st-key-train button").click()
    wait_charts(page, 1, timeout=180_000)
    wait_idle(page, 180_000)
    # the training view reruns on its own between rounds, and may be seen idle between two of them
    page.locator("[data-testid='stProgress']").wait_for(state="detached", timeout=180_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)  # the timing table
    wait_idle(page, 180_000)
    assert not errors_on(page)
    assert trace_points(page) > 0
    screenshot(page, "scale_up")
    page.close()
