"""Slider-to-picture latency of the app in a real browser, against a trivial page.

In one run: start the real app and a trivial one-slider Streamlit page
(``benchmarks/baseline_app.py``) headless, drive each with headless Chromium,
and measure

* cold start: server start → first chart drawn (baseline: first paint);
* slider move → the app idle again with the chart redrawn: median and 95th
  percentile over ``--moves`` moves, and the ratio to the baseline page;
* bytes received over the websocket per rerun;
* Python time per rerun and XLA compilations during the slider moves, as
  logged by the app when ``APP_BENCHMARK_LOG`` is set (see ``app.py``);
* with ``--sessions N``, the same moves from N browser sessions at once.

Run:  .venv/bin/python benchmarks/latency.py [--moves 20] [--sessions 10]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
# Records the key press and the last change to the page's main block: a rerun is
# over when the app is idle and nothing has changed for QUIET_MS; its latency is
# last change − key press, both on the page's own clock.
QUIET_MS = 300
INSTRUMENT = """
() => {
  window.__bench = {keydown: 0, lastChange: 0};
  document.addEventListener('keydown', () => { window.__bench.keydown = performance.now(); }, true);
  new MutationObserver(() => { window.__bench.lastChange = performance.now(); })
    .observe(document.querySelector("[data-testid='stMain']"),
             {childList: true, subtree: true, attributes: true, characterData: true});
}
"""
RERUN_DONE = f"""() => window.__bench.lastChange > window.__bench.keydown
    && performance.now() - window.__bench.lastChange > {QUIET_MS}
    && document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state') === 'notRunning'"""
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A headless Streamlit server on a free port; ``started`` is its launch time."""

    def __init__(self, script: str, log_path: str | None = None):
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if log_path:
            env["APP_BENCHMARK_LOG"] = log_path
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script,
                "--server.headless", "true", "--server.port", str(self.port),
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        atexit.register(self.stop)  # never leave a server behind, even on an error
        self.wait_healthy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not become healthy")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class Session:
    """One browser tab on a page, counting websocket bytes."""

    def __init__(self, browser, url: str, chart_selector: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.received = 0
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._count))
        self.chart_selector = chart_selector
        self.page.goto(url)

    def _count(self, payload):
        self.received += len(payload) if payload else 0

    def wait_ready(self, timeout=180_000):
        self.page.wait_for_selector(self.chart_selector, timeout=timeout)
        self.page.wait_for_selector(IDLE, timeout=timeout)
        self.page.evaluate(INSTRUMENT)

    def move_slider(self, index: int, key: str) -> tuple[float, int]:
        """Press an arrow key on the index-th slider; seconds until idle and redrawn, bytes."""
        thumb = self.page.locator("[data-testid='stSlider'] input[type='range']").nth(index)
        thumb.focus()
        bytes_before = self.received
        thumb.press(key)
        return self.wait_rerun(), self.received - bytes_before

    def wait_rerun(self, timeout=120_000) -> float:
        self.page.wait_for_function(RERUN_DONE, timeout=timeout)
        return self.page.evaluate("() => (window.__bench.lastChange - window.__bench.keydown) / 1000")


def cold_start(browser, script: str, path: str, chart_selector: str, log_path=None):
    server = Server(script, log_path)
    session = Session(browser, server.url + path, chart_selector)
    session.wait_ready()
    return server, session, time.perf_counter() - server.started


def slider_moves(session: Session, moves: int, slider_index: int):
    times, sizes = [], []
    for i in range(moves):
        seconds, size = session.move_slider(slider_index, "ArrowRight" if i % 2 == 0 else "ArrowLeft")
        times.append(seconds)
        sizes.append(size)
    return times, sizes


def read_log(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(name, times, sizes, baseline_median, baseline_p95, entries=()):
    median, p95 = statistics.median(times), percentile(times, 0.95)
    python = [e["seconds"] for e in entries]
    compiles = sum(e["compilations"] for e in entries)
    return {
        "page": name,
        "median_ms": 1000 * median,
        "p95_ms": 1000 * p95,
        "median_ratio": median / baseline_median if baseline_median else 1.0,
        "p95_ratio": p95 / baseline_p95 if baseline_p95 else 1.0,
        "kB_per_rerun": statistics.median(sizes) / 1000,
        "python_ms_per_rerun": 1000 * statistics.median(python) if python else float("nan"),
        "compilations": compiles,
    }


def print_table(rows, title):
    print(f"\n{title}")
    header = ["page", "median ms", "p95 ms", "× base (median)", "× base (p95)", "kB/rerun", "Python ms/rerun", "XLA compiles"]
    print(" | ".join(header))
    for r in rows:
        print(
            f"{r['page']} | {r['median_ms']:.0f} | {r['p95_ms']:.0f} | {r['median_ratio']:.2f} | {r['p95_ratio']:.2f} | "
            f"{r['kB_per_rerun']:.1f} | {r['python_ms_per_rerun']:.1f} | {r['compilations']}"
        )


PAGES = {  # name: (url path, slider index to move: a hyperparameter slider)
    "explorer": ("/explorer", 0),
    "eigenspace": ("/eigenspace", 0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=0, help="also run N concurrent sessions on the explorer")
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        base_server, base, base_cold = cold_start(browser, "benchmarks/baseline_app.py", "/", "[data-testid='stSlider']")
        base_times, base_sizes = slider_moves(base, args.moves, 0)
        base_median, base_p95 = statistics.median(base_times), percentile(base_times, 0.95)
        rows = [summarize("baseline (one slider)", base_times, base_sizes, base_median, base_p95)]
        colds = [("baseline first paint", base_cold, 1.0)]
        base_server.stop()

        for name in args.pages:
            path, slider = PAGES[name]
            log = tempfile.mktemp(suffix=".jsonl")
            server, session, cold = cold_start(browser, "app.py", path, ".js-plotly-plot", log)
            colds.append((f"{name} first chart", cold, cold / base_cold))
            warm_entries = len(read_log(log))
            times, sizes = slider_moves(session, args.moves, slider)
            rows.append(summarize(name, times, sizes, base_median, base_p95, read_log(log)[warm_entries:]))
            if name == "explorer" and args.sessions:
                rows.append(load_test(browser, server, path, slider, args.sessions, args.moves, base_median, base_p95))
            server.stop()

        print_table(rows, f"Slider → chart updated and idle ({args.moves} moves per page)")
        print("\nCold start")
        for name, seconds, ratio in colds:
            print(f"{name} | {seconds:.2f} s | × baseline {ratio:.2f}")
        browser.close()


def load_test(browser, server, path, slider, sessions, moves, base_median, base_p95):
    """N sessions moving sliders at once against one server."""
    tabs = [Session(browser, server.url + path, ".js-plotly-plot") for _ in range(sessions)]
    for tab in tabs:
        tab.wait_ready()
    times, sizes, errors = [], [], []
    # Playwright's sync API is single-threaded: interleave the sessions' moves without waiting in between.
    for i in range(moves):
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        for tab in tabs:
            thumb = tab.page.locator("[data-testid='stSlider'] input[type='range']").nth(slider)
            thumb.focus()
            thumb.press(key)
        for tab in tabs:
            times.append(tab.wait_rerun())
            if tab.page.locator(ERRORS).count():
                errors.append(tab)
    for tab in tabs:
        tab.page.close()
    row = summarize(f"explorer, {sessions} sessions at once", times, [0], base_median, base_p95)
    row["page"] += f" ({len(errors)} errors)"
    return row


if __name__ == "__main__":
    main()
