"""End to end: the Network curvature page served by Streamlit, in headless Chromium.

Screenshots of what each test saw go to ``test-artifacts/``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app_server import ARTIFACTS, CHART, errors_on, wait_charts, wait_idle
from ui import lessons

LESSONS = lessons.load("curvature").lessons

pytest.importorskip("playwright")


def screenshot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_page_draws_heatmaps_outlines_and_spectra(browser):
    page = browser.open_page("/curvature", charts=2, height=1600)
    assert not errors_on(page)
    types = page.evaluate(f"Array.from(document.querySelector('{CHART}').data, t => t.type)")
    assert types.count("heatmap") == 4
    outlines = page.evaluate(f"document.querySelector('{CHART}').layout.shapes.length")
    assert outlines == 4 * 3  # three layers outlined on each of the four matrices
    assert page.locator(f"{CHART}").nth(0).locator(".hm, image").count() >= 1, "no heatmap drawn"
    page.wait_for_selector("[data-testid='stDataFrame']")  # on a busy machine the table can be drawn after the charts
    assert page.locator("[data-testid='stDataFrame']").count() == 1
    text = page.inner_text("[data-testid='stMain']")
    assert "positive semi-definite" in text and "Relative error, block by block" in text
    assert page.get_by_role("button", name="Hessian H (CSV)").count() == 1
    screenshot(page, "curvature")
    page.close()


def test_a_lesson_link_opens_from_home(browser):
    name, lesson = next(iter(LESSONS.items()))
    page = browser.open_page("/", charts=0)
    page.locator("[data-testid='stPageLink'] a").filter(has_text=lesson.view.title).first.click()
    wait_idle(page, 180_000)
    wait_charts(page, 2, timeout=180_000)
    assert not errors_on(page)
    main = page.inner_text("[data-testid='stMain']")
    assert lesson.view.title in main and "64 → 16 → 10" in main
    assert f"lesson={name}" in page.url
    screenshot(page, "curvature_lesson")
    page.close()


def test_a_hostile_link_value_falls_back_with_a_plain_note(browser):
    text = "x` **Your session expired** [log in again](https://evil.example/login) `"
    page = browser.open_page("/curvature?task=" + quote(text), charts=2)
    assert not errors_on(page)
    note = page.locator("[data-testid='stAlert']").filter(has_text="task=").first
    shown = note.inner_text().replace("\u2060", "")
    assert "**Your session expired** [log in again](https://evil.exa…" in shown and "Using Two spirals" in shown
    for tag in ("a", "img", "strong", "em", "code"):
        assert note.locator(tag).count() == 0, f"the note rendered a <{tag}>"
    assert "2 → 12 → 12 → 2" in page.inner_text("[data-testid='stMain']")  # the default task, drawn
    screenshot(page, "curvature_hostile_link")
    page.close()
