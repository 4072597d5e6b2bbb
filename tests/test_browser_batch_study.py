"""End to end: the Scale-up page's batch-size study in headless Chromium — Start on a tiny setting draws
the log–log figure and the table; Stop during a larger study keeps what was done.

Screenshots go to ``test-artifacts/`` (batch_study.png, batch_study_stopped.png)."""

from __future__ import annotations

import pytest

from app_server import ARTIFACTS, CHART, errors_on, wait_idle

pytest.importorskip("playwright")

TINY = "study.batch=16&study.batch=0&study.opt=gd&study.opt=adam&study.grid=1&study.seeds=1&study.steps=50&study.target=1.5"


def study_figure_names(page) -> list[str]:
    """The trace names of the figure whose y-axis title names the target (the study's)."""
    return page.evaluate(
        f"""() => {{
            const charts = Array.from(document.querySelectorAll('{CHART}'));
            const mine = charts.find(c => ((c.layout.yaxis || {{}}).title || {{}}).text?.startsWith('steps to training loss'));
            return mine ? mine.data.map(t => t.name || '') : null;
        }}"""
    )


def test_start_on_a_tiny_setting_draws_the_study(browser):
    page = browser.open_page(f"/scale_up?{TINY}", charts=0)
    assert not errors_on(page)
    start = page.locator(".st-key-study_start button")
    start.scroll_into_view_if_needed()
    start.click()
    page.wait_for_function(
        f"""() => Array.from(document.querySelectorAll('{CHART}')).some(c => c.querySelector('.main-svg')
            && ((c.layout.yaxis || {{}}).title || {{}}).text?.startsWith('steps to training loss'))""",
        timeout=180_000,
    )  # fmt: skip
    wait_idle(page, 180_000)
    assert not errors_on(page)
    names = study_figure_names(page)
    assert "Gradient descent" in names and "Adam" in names
    assert any(name.startswith("perfect scaling, slope −1") for name in names)
    table = page.locator("[data-testid='stDataFrame']").last
    table.scroll_into_view_if_needed()
    page.get_by_text("Download every run (CSV)").wait_for()
    page.locator(CHART).last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "batch_study.png"))
    page.screenshot(path=str(ARTIFACTS / "batch_study_page.png"), full_page=True)
    page.close()


def test_stop_during_a_study_keeps_what_was_done(browser):
    page = browser.open_page("/scale_up?study.steps=3000&study.target=0.001", charts=0)
    page.locator(".st-key-study_start button").first.click()
    page.get_by_text("Gradient descent: step").wait_for(timeout=180_000)  # the progress bar's text: running
    page.locator(".st-key-study_stop button").first.click()
    page.get_by_text("The study stopped early; its results so far are shown.").wait_for(timeout=120_000)
    wait_idle(page, 120_000)
    assert not errors_on(page)
    page.locator("h2:has-text('Batch size: when curvature pays')").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "batch_study_stopped.png"))
    page.close()
