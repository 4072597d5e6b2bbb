"""End to end: the Eigenspace page's batch-size section (the noisy quadratic model) in headless Chromium.

Screenshots go to ``test-artifacts/`` (``nqm_section*.png``, ``nqm_options*.png``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from app_server import ARTIFACTS, CHART, errors_on, wait_idle

pytest.importorskip("playwright")

def figure_names(page) -> list[list[str]]:
    """Each plotly figure's trace names, as the browser holds them."""
    return page.evaluate(f"() => Array.from(document.querySelectorAll('{CHART}'), c => Array.from(c.data || [], t => t.name || ''))")


def steps_figure_index(page) -> int:
    names = figure_names(page)
    return next(i for i, traces in enumerate(names) if any(n.startswith("B* = ") for n in traces))


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def section_screenshot(page, name: str):
    """The steps figure at the top of the window, then the table and the loss curves."""
    figure = page.locator(CHART).nth(steps_figure_index(page))
    figure.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.locator(CHART).nth(steps_figure_index(page) + 1).evaluate("element => element.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}_loss.png"))


def test_nqm_section_draws_and_follows_its_controls(browser):
    page = browser.open_page("/eigenspace?methods=gd", charts=6)
    assert not errors_on(page)
    index = steps_figure_index(page)
    names = figure_names(page)[index]
    for title in ("SGD", "Heavy-ball momentum", "Adam-like, P = H^(−½)", "K-FAC-like, P = H^(−1)"):
        assert title in names
    assert sum(n.startswith("B* = ") for n in names) == 4  # a critical batch size marked on every curve
    text = page.inner_text("[data-testid='stMain']")
    assert "critical batch size" in text and "Traceback" not in text
    section_screenshot(page, "nqm_section")

    # the EMA and decay options arrive through the link and add dashed variants
    page.goto(browser.server.url + "/eigenspace?methods=gd&nqm.average=0.99&nqm.decay=10&nqm.methods=sgd&nqm.methods=momentum")
    wait_idle(page, 180_000)
    page.wait_for_function(
        f"() => Array.from(document.querySelectorAll('{CHART}'), c => Array.from(c.data || [], t => t.name || '').join('|'))"
        ".some(s => s.includes('EMA ρ = 0.99, step decay d = 10'))", timeout=120_000,
    )  # fmt: skip
    assert not errors_on(page)
    assert query(page)["nqm.average"] == "0.99" and query(page)["nqm.decay"] == "10"
    section_screenshot(page, "nqm_options")
    page.close()


def test_a_hostile_nqm_link_falls_back_with_a_plain_note(browser):
    page = browser.open_page("/eigenspace?methods=gd&nqm.kappa=<b>big</b>&nqm.dim=1e9&nqm.methods=rmsprop", charts=6)
    assert not errors_on(page)
    main = page.inner_text("[data-testid='stMain']")
    assert "nqm.kappa" in main or "condition number κ" in main
    assert page.locator("[data-testid='stMain'] b").filter(has_text="big").count() == 0  # never markup
    assert "nqm.kappa" not in query(page) and "nqm.dim" not in query(page)
    page.screenshot(path=str(ARTIFACTS / "nqm_hostile_link.png"))
    page.close()


def test_the_batch_size_lesson_opens_with_its_section(browser):
    page = browser.open_page("/eigenspace?lesson=averaging_batch", charts=6)
    assert not errors_on(page)
    assert "Averaging and decay at small and large batches" in page.inner_text("[data-testid='stMain']")
    page.screenshot(path=str(ARTIFACTS / "nqm_lesson_text.png"))
    names = figure_names(page)[steps_figure_index(page)]
    assert "SGD" in names and "SGD, EMA ρ = 0.99, step decay d = 10" in names
    section_screenshot(page, "nqm_lesson")
    page.close()
