"""Slider-to-picture latency of the app in a real browser, against a trivial page.

In one run: start the real app and a trivial one-slider Streamlit page
(``benchmarks/baseline_app.py``) headless, drive each with headless Chromium,
and measure

* cold start: server start → first chart drawn (baseline: first paint);
* slider move → the app idle again with the chart redrawn: median and 95th
  percentile over ``--moves`` moves of a hyperparameter slider, and the ratio
  to the baseline page under Streamlit's default settings (also measured under
  the app's ``.streamlit/config.toml``, and, as Streamlit's floor for a page
  of the explorer's size, ``benchmarks/same_size_app.py``: the explorer's
  widgets and text without its charts or computation). The moves go one way, so each asks for a value not
  seen before: neither the app's caches nor Streamlit's message cache can
  answer from an earlier move;
* bytes received over the websocket per rerun;
* Python time per rerun and XLA
  compilations during the slider moves, as logged by the app when
  ``APP_BENCHMARK_LOG`` is set (see ``ui/shell.py``);
* with ``--sessions N``, the same moves from N browser sessions at once
  against the explorer;
* scrub: on the explorer, ``--scrub-moves`` moves of the mouse dragging run 1's
  scrub control (one swept value each, the button held down throughout):
  input event → the last change inside a chart, and the reruns and bytes the
  drag caused (there should be none);
* pick: on the eigenspace page, ``--pick-moves`` moves of the mouse dragging
  over the momentum rate map (one α node each, the button held down): pointer
  move → the last change inside the error charts, and the reruns and bytes;
* sweeps: the explorer's default sweeps (four runs × their values × 300
  steps) computed in this process with nothing cached and their programs
  compiled, median of ``--sweep-repeats``.

Run:  .venv/bin/python benchmarks/latency.py [--moves 20] [--sessions 10] [--scrub-moves 20] [--pick-moves 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from app_server import CHART, CHROMIUM, CHROMIUM_ARGS, ERRORS, IDLE, AppServer  # noqa: E402  the tests' harness
# Records the key press, the last change to the page's main block and the last
# change inside a chart. A rerun is over when the app is idle, the watched
# element (a chart; the text on the baseline page) has changed since the key
# press, and nothing has changed for QUIET_MS; its latency is last change − key
# press, both on the page's own clock, so the quiet wait is not counted.
QUIET_MS = 300
INSTRUMENT = """
(watched) => {
  window.__bench = {keydown: 0, lastChange: 0, lastWatched: 0};
  document.addEventListener('keydown', () => { window.__bench.keydown = performance.now(); }, true);
  new MutationObserver((records) => {
    const now = performance.now();
    window.__bench.lastChange = now;
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      if (node && node.closest(watched)) { window.__bench.lastWatched = now; break; }
    }
  }).observe(document.querySelector("[data-testid='stMain']"),
             {childList: true, subtree: true, attributes: true, characterData: true});
}
"""
RERUN_DONE = f"""() => window.__bench.lastWatched > window.__bench.keydown
    && performance.now() - window.__bench.lastChange > {QUIET_MS}
    && document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state') === 'notRunning'"""


# The scrub: each input event on a scrub control (its own time stamp), the last change inside the
# chart it belongs to (the landscape) and inside any chart after it; script runs started while
# dragging are counted.
# Counts into window[record].reruns every script run started (the app's run state turning to "running").
COUNT_RERUNS = """
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window[record].reruns += 1;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
"""
SCRUB_INSTRUMENT = """
() => {
  window.__scrub = {input: 0, lastChart: 0, lastOwn: 0, reruns: 0};
  document.addEventListener('input', (event) => {
    if (event.target.matches("input[aria-label^='scrub']")) window.__scrub.input = event.timeStamp;
  }, true);
  document.querySelectorAll('.js-plotly-plot').forEach((chart, i) => {
    new MutationObserver(() => {
      window.__scrub.lastChart = performance.now();
      if (i === 0) window.__scrub.lastOwn = window.__scrub.lastChart;
    }).observe(chart, {childList: true, subtree: true, attributes: true, characterData: true});
  });
  const record = "__scrub";
""" + COUNT_RERUNS + """
}
"""
SCRUB_DONE = f"""() => window.__scrub.input > 0 && window.__scrub.lastOwn > window.__scrub.input
    && performance.now() - window.__scrub.lastChart > {QUIET_MS}"""


def scrub_moves(session: "Session", moves: int) -> tuple[list[float], list[float], int, int]:
    """Drag run 1's scrub control one value at a time, ``moves`` times, without letting go: seconds from
    each input event to the landscape redrawn and to every chart on screen redrawn (the loss curves
    and the sensitivity chart follow the landscape); bytes received and script runs started while
    dragging."""
    page = session.page
    control = page.locator("input[aria-label^='scrub'][aria-label$='of Run 1']")
    control.scroll_into_view_if_needed()
    page.evaluate(SCRUB_INSTRUMENT)
    box, top = control.bounding_box(), float(control.get_attribute("max"))
    y, step = box["y"] + box["height"] / 2, (box["width"] - 16) / top
    x = box["x"] + 8 + step * float(control.input_value())
    direction = 1 if float(control.input_value()) < top / 2 else -1
    page.mouse.move(x, y)
    page.mouse.down()
    bytes_before, times, every = session.received, [], []
    for move in range(moves):
        if not 0 <= float(control.input_value()) + direction <= top:
            direction = -direction  # at the end of the range: back the other way
        x += direction * step
        page.evaluate("() => { window.__scrub.input = 0; }")
        page.mouse.move(x, y)
        page.wait_for_function(SCRUB_DONE, timeout=30_000)
        times.append(page.evaluate("() => (window.__scrub.lastOwn - window.__scrub.input) / 1000"))
        every.append(page.evaluate("() => (window.__scrub.lastChart - window.__scrub.input) / 1000"))
    received, reruns = session.received - bytes_before, page.evaluate("() => window.__scrub.reruns")
    page.mouse.up()  # lets go: one rerun sets the slider
    page.wait_for_selector(IDLE)
    return times, every, received, reruns


# The sidebar slider held: each change of the value Run 1's learning-rate slider shows (its input's
# aria-valuetext) and the last change inside the landscape after it; script runs counted.
SLIDE_INSTRUMENT = """
() => {
  window.__slide = {value: 0, lastOwn: 0, reruns: 0};
  const input = document.querySelector(".st-key-run1-learning_rate input[type='range']");
  let shown = input.getAttribute("aria-valuetext");
  new MutationObserver(() => {
    const now = input.getAttribute("aria-valuetext");
    if (now !== shown) { shown = now; window.__slide.value = performance.now(); }
  }).observe(input, {attributes: true, attributeFilter: ["aria-valuetext"]});
  new MutationObserver(() => { window.__slide.lastOwn = performance.now(); })
    .observe(document.querySelector("%s"), {childList: true, subtree: true, attributes: true, characterData: true});
  const record = "__slide";
""" % CHART + COUNT_RERUNS + """
}
"""
SLIDE_DONE = f"""() => window.__slide.value > 0
    && performance.now() - Math.max(window.__slide.value, window.__slide.lastOwn) > {QUIET_MS}"""


def slider_drag_moves(session: "Session", moves: int) -> tuple[list[float], int, int, int]:
    """Hold Run 1's learning-rate slider in the sidebar and move it a few pixels at a time, ``moves``
    times, without letting go: seconds from each change of the value it shows to the landscape
    redrawn (the preview from the run's sweep); the moves after which nothing was redrawn (the
    nearest swept value was the one shown), bytes received and script runs started while held."""
    page = session.page
    thumb = page.locator(".st-key-run1-learning_rate input[type='range']").locator("xpath=..")
    thumb.scroll_into_view_if_needed()
    page.evaluate(SLIDE_INSTRUMENT)
    box = thumb.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    bytes_before, times, still = session.received, [], 0
    for move in range(moves):
        x += 3 if move < moves // 2 else -3  # up, then back down
        page.evaluate("() => { window.__slide.value = 0; }")
        page.mouse.move(x, y)
        try:
            page.wait_for_function("() => window.__slide.value > 0", timeout=2_000)
        except Exception:  # a move within one of the slider's values
            continue
        page.wait_for_function(SLIDE_DONE, timeout=30_000)
        drawn = page.evaluate("() => window.__slide.lastOwn > window.__slide.value "
                              "? (window.__slide.lastOwn - window.__slide.value) / 1000 : null")  # fmt: skip
        if drawn is None:
            still += 1
        else:
            times.append(drawn)
    received, reruns = session.received - bytes_before, page.evaluate("() => window.__slide.reruns")
    page.mouse.up()  # lets go: one rerun draws the slider's value
    page.wait_for_selector(IDLE)
    return times, still, received, reruns


# The pick: each pointer move over the Eigenspace page's momentum rate map with the button held (its
# own time stamp) and the last change inside the error charts that follow it; script runs counted.
PICK_INSTRUMENT = """
() => {
  window.__pick = {input: 0, lastChart: 0, reruns: 0};
  const map = document.querySelector(".st-key-momentum_rate_plot .js-plotly-plot");
  map.addEventListener('pointermove', (event) => { if (event.buttons) window.__pick.input = event.timeStamp; }, true);
  document.querySelectorAll("[class*='st-key-direction_plot'] .js-plotly-plot").forEach((chart) => {
    new MutationObserver(() => { window.__pick.lastChart = performance.now(); })
      .observe(chart, {childList: true, subtree: true, attributes: true, characterData: true});
  });
  const record = "__pick";
""" + COUNT_RERUNS + """
}
"""
PICK_DONE = f"""() => window.__pick.input > 0 && window.__pick.lastChart > window.__pick.input
    && performance.now() - window.__pick.lastChart > {QUIET_MS}"""
# The rate map's nodes along α at its β node nearest 0.8, in the page's pixels.
PICK_NODES = """() => {
  const g = document.querySelector(".st-key-momentum_rate_plot .js-plotly-plot"), l = g._fullLayout;
  const grid = [...window.appSweeps.values()].find((s) => s.name.startsWith("momentum grid"));
  const box = g.getBoundingClientRect();
  const beta = grid.betas.reduce((a, b) => (Math.abs(b - 0.8) < Math.abs(a - 0.8) ? b : a));
  return grid.alphas.map((a) => [box.left + l.xaxis._offset + l.xaxis.c2p(a), box.top + l.yaxis._offset + l.yaxis.c2p(beta)]);
}"""


def pick_moves(session: "Session", moves: int) -> tuple[list[float], int, int]:
    """Press on the eigenspace page's rate map and move one α node at a time, ``moves`` times, without
    letting go: seconds from each pointer move to the error charts redrawn; bytes received and
    script runs started while dragging."""
    page = session.page
    page.locator(".st-key-momentum_rate_plot").scroll_into_view_if_needed()
    page.evaluate(PICK_INSTRUMENT)
    nodes = page.evaluate(PICK_NODES)
    k, direction = 1, 1
    page.mouse.move(*nodes[0])
    page.mouse.down()
    page.wait_for_timeout(QUIET_MS)
    bytes_before, times = session.received, []
    for _ in range(moves):
        if not 0 <= k < len(nodes):
            direction = -direction
            k += 2 * direction
        page.evaluate("() => { window.__pick.input = 0; }")
        page.mouse.move(*nodes[k])
        page.wait_for_function(PICK_DONE, timeout=30_000)
        times.append(page.evaluate("() => (window.__pick.lastChart - window.__pick.input) / 1000"))
        k += direction
    received, reruns = session.received - bytes_before, page.evaluate("() => window.__pick.reruns")
    page.mouse.up()  # lets go: one rerun sets momentum's sliders
    page.wait_for_selector(IDLE)
    return times, received, reruns


def sweep_seconds(repeats: int) -> list[float]:
    """The explorer's default sweeps computed with nothing cached, their programs compiled (the first
    call compiles and is not counted), in this process."""
    sys.path.insert(0, str(ROOT))
    from ui import explorer, viewstate

    settings = explorer.settings_of(viewstate.defaults(explorer.declare))
    explorer.warm_sweeps(settings)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        explorer.warm_sweeps(settings)
        times.append(time.perf_counter() - started)
    return times


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Session:
    """One browser tab on a page, counting the bytes the server sends over the websocket."""

    def __init__(self, browser, url: str, ready_selector: str, watched: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1100})
        self.received = 0
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._count))
        self.ready_selector, self.watched = ready_selector, watched
        self.page.goto(url)

    def _count(self, payload):
        self.received += len(payload) if payload else 0

    def wait_ready(self, timeout=180_000):
        self.page.wait_for_selector(self.ready_selector, timeout=timeout)
        self.page.wait_for_selector(IDLE, timeout=timeout)
        self.page.evaluate(INSTRUMENT, self.watched)

    def press(self, slider_key: str, key: str):
        """Press an arrow key on the slider whose widget key is ``slider_key``."""
        thumb = self.page.locator(f".st-key-{slider_key} input[type='range']")
        thumb.focus()
        thumb.press(key)

    def move_slider(self, slider_key: str, key: str) -> tuple[float, int]:
        """Seconds from the key press until the app is idle with the watched element redrawn; bytes received."""
        bytes_before = self.received
        self.press(slider_key, key)
        return self.wait_rerun(), self.received - bytes_before

    def wait_rerun(self, timeout=120_000) -> float:
        self.page.wait_for_function(RERUN_DONE, timeout=timeout)
        return self.page.evaluate("() => (window.__bench.lastChange - window.__bench.keydown) / 1000")

    def errors(self) -> int:
        return self.page.locator(ERRORS).count()


def cold_start(browser, target: "Target", log_path=None, env: dict | None = None):
    """Server start → the page's first chart drawn (the baseline: its slider drawn) and the app idle."""
    env = {**(env or {}), **({"APP_BENCHMARK_LOG": log_path} if log_path else {})}
    server = AppServer(target.script, warm_start=target.script == "app.py", env=env)
    session = Session(browser, server.url + target.path, target.ready, target.watched)
    session.wait_ready()
    return server, session, time.perf_counter() - server.started


def slider_moves(session: Session, target: "Target", moves: int):
    """``moves`` presses in one direction: every move asks for a value not seen before, so no cache hides work."""
    times, sizes = [], []
    for _ in range(moves):
        seconds, size = session.move_slider(target.slider, target.key)
        times.append(seconds)
        sizes.append(size)
    return times, sizes


def read_log(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(name, times, sizes, baseline, entries=()):
    """One table row; ``baseline`` is (median, p95) of the trivial page, in seconds."""
    median, p95 = statistics.median(times), percentile(times, 0.95)
    python = [e["seconds"] for e in entries]
    return {
        "page": name,
        "median_ms": 1000 * median,
        "p95_ms": 1000 * p95,
        "median_ratio": median / baseline[0],
        "p95_ratio": p95 / baseline[1],
        "kB_per_rerun": statistics.median(sizes) / 1000 if sizes else float("nan"),
        "max_kB": max(sizes) / 1000 if sizes else float("nan"),
        "python_ms_per_rerun": 1000 * statistics.median(python) if python else float("nan"),
        "compilations": sum(e["compilations"] for e in entries),
    }


def print_table(rows, title):
    print(f"\n{title}\n")
    header = ["page", "median ms", "p95 ms", "× base median", "× base p95", "kB/rerun (median, max)",
              "Python ms/rerun", "XLA compiles"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print(
            f"| {r['page']} | {r['median_ms']:.0f} | {r['p95_ms']:.0f} | {r['median_ratio']:.2f} | "
            f"{r['p95_ratio']:.2f} | {r['kB_per_rerun']:.1f}, {r['max_kB']:.1f} | {r['python_ms_per_rerun']:.1f} | "
            f"{r['compilations']} |"
        )


class Target(NamedTuple):
    """A page to drive: its script and URL, what shows it is ready, what must redraw, the slider and key to press."""

    script: str
    path: str
    ready: str
    watched: str
    slider: str  # the widget key (Streamlit's ``st-key-…`` class: dots become dashes)
    key: str  # ArrowRight or ArrowLeft


BASELINE = Target("benchmarks/baseline_app.py", "/", "[data-testid='stSlider']", "[data-testid='stMarkdown']",
                  "value", "ArrowRight")  # fmt: skip
# The trivial page twice: under Streamlit's defaults (the reference for every ratio), and under the
# app's own .streamlit/config.toml, which turns off Streamlit's full garbage collection after each
# rerun (about 50 ms even for this page, 100 ms with the app's libraries loaded).
BASELINES = {
    "baseline, Streamlit's defaults": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"},
    "baseline, the app's config": {},
}
# Streamlit's own floor for a page of the explorer's size: its widgets and text, no charts, no computation.
SAME_SIZE = BASELINE._replace(script="benchmarks/same_size_app.py")
PAGES = {  # a hyperparameter slider on each page, moved towards values that still converge
    "explorer": Target("app.py", "/explorer", f"{CHART} .main-svg", CHART, "run1-learning_rate", "ArrowRight"),
    "eigenspace": Target("app.py", "/eigenspace", f"{CHART} .main-svg", CHART, "gd-learning_rate", "ArrowLeft"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=0, help="also run N concurrent sessions on the explorer")
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    parser.add_argument("--scrub-moves", type=int, default=20, help="scrub control moves on the explorer (0: none)")
    parser.add_argument("--slide-moves", type=int, default=20, help="explorer: sidebar slider held and moved (0: none)")
    parser.add_argument("--pick-moves", type=int, default=20, help="rate map drag moves on the eigenspace page (0: none)")
    parser.add_argument("--sweep-repeats", type=int, default=20, help="timed computations of the default sweeps (0: none)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    print(f"JAX compile cache {ROOT / '.jax_cache'}: {'present' if (ROOT / '.jax_cache').exists() else 'absent'}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        rows, colds, baseline = [], [], None
        for name, env in BASELINES.items():
            base_server, base, base_cold = cold_start(browser, BASELINE, env=env)
            base_times, base_sizes = slider_moves(base, BASELINE, args.moves)
            baseline = baseline or (statistics.median(base_times), percentile(base_times, 0.95))  # the first: defaults
            rows.append(summarize(name, base_times, base_sizes, baseline))
            colds.append((f"{name}: first paint", base_cold, base_cold / colds[0][1] if colds else 1.0))
            base.page.close()
            base_server.stop()
        same_server, same, _ = cold_start(browser, SAME_SIZE)
        same_times, same_sizes = slider_moves(same, SAME_SIZE, args.moves)
        rows.append(summarize("explorer's widgets and text, no charts (app's config)", same_times, same_sizes, baseline))
        same.page.close()
        same_server.stop()

        for name in args.pages:
            target = PAGES[name]
            log = tempfile.mktemp(suffix=".jsonl")
            server, session, cold = cold_start(browser, target, log)
            colds.append((f"{name} first chart", cold, cold / colds[0][1]))
            warm_entries = len(read_log(log))
            times, sizes = slider_moves(session, target, args.moves)
            rows.append(summarize(name, times, sizes, baseline, read_log(log)[warm_entries:]))
            if name == "explorer" and args.scrub_moves:
                before = len(read_log(log))
                scrub_times, every, received, reruns = scrub_moves(session, args.scrub_moves)
                for what, times in (("landscape", scrub_times), ("every chart on screen", every)):
                    row = summarize(f"explorer, scrub control dragged → {what} redrawn", times, [received], baseline,
                                    read_log(log)[before : before + reruns])  # fmt: skip
                    row["page"] += f": {reruns} reruns while dragging"
                    rows.append(row)
            if name == "explorer" and args.slide_moves:
                before = len(read_log(log))
                slide_times, still, received, reruns = slider_drag_moves(session, args.slide_moves)
                row = summarize("explorer, sidebar slider held and moved → landscape redrawn", slide_times, [received],
                                baseline, read_log(log)[before : before + reruns])  # fmt: skip
                row["page"] += f": {reruns} reruns while held, {len(slide_times)} moves redrawn, {still} not (nearest swept value unchanged)"
                rows.append(row)
            if name == "eigenspace" and args.pick_moves:
                before = len(read_log(log))
                pick_times, received, reruns = pick_moves(session, args.pick_moves)
                row = summarize("eigenspace, rate map dragged → error charts redrawn", pick_times, [received], baseline,
                                read_log(log)[before : before + reruns])  # fmt: skip
                row["page"] += f": {reruns} reruns while dragging"
                rows.append(row)
            errors = session.errors()
            session.page.close()
            if name == "explorer" and args.sessions:
                single = rows[-1]["p95_ms"] / 1000
                rows.append(load_test(browser, server, target, args.sessions, args.moves, baseline, single, log))
            server.stop()
            if errors:
                rows[-1]["page"] += f" ({errors} errors on the page)"

        print_table(rows, f"Slider → chart updated and idle ({args.moves} moves per page; scrub: {args.scrub_moves} moves,"
                          " input event → charts redrawn, kB: all received while dragging)")  # fmt: skip
        print("\nCold start (server start → first chart drawn)\n")
        print("| page | seconds | × baseline first paint |\n|---|---|---|")
        for name, seconds, ratio in colds:
            print(f"| {name} | {seconds:.2f} | {ratio:.2f} |")
        browser.close()
    if args.sweep_repeats:
        times = sweep_seconds(args.sweep_repeats)
        print(f"\nThe explorer's default sweeps, nothing cached, programs compiled ({args.sweep_repeats} times): "
              f"median {1000 * statistics.median(times):.0f} ms, p95 {1000 * percentile(times, 0.95):.0f} ms")


def load_test(browser, server, target, sessions, moves, baseline, single_p95, log):
    """N sessions moving a slider at once against one server.

    Playwright's sync API is single-threaded: each round presses the key in every
    tab without waiting, then collects each tab's latency from its own clock.
    """
    tabs = [Session(browser, server.url + target.path, target.ready, target.watched) for _ in range(sessions)]
    for tab in tabs:
        tab.wait_ready()
    before = len(read_log(log))
    times, sizes = [], []
    for _ in range(moves):
        received = [tab.received for tab in tabs]
        for tab in tabs:
            tab.press(target.slider, target.key)
        for tab, start in zip(tabs, received):
            times.append(tab.wait_rerun())
            sizes.append(tab.received - start)
    errors = sum(tab.errors() for tab in tabs)
    for tab in tabs:
        tab.page.close()
    row = summarize(f"explorer, {sessions} sessions at once", times, sizes, baseline, read_log(log)[before:])
    row["page"] += f": {errors} errors, p95 × single-session explorer {row['p95_ms'] / 1000 / single_p95:.2f}"
    return row


if __name__ == "__main__":
    main()
