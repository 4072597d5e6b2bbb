"""The real app in a real browser, for the end-to-end tests (fixtures in ``conftest.py``) and
``benchmarks/latency.py``.

``AppServer`` runs ``streamlit run app.py`` headless on a free port; ``Browser``
drives Debian's Chromium through Playwright (never Playwright's own browser
download) and opens pages of the app, waiting until the script has finished
and its charts are drawn.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
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
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
CHART = ".js-plotly-plot"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """The app (or another Streamlit script) served headless on a free port, until ``stop``.

    ``warm_start``: launch as ``scripts/app.sh`` does (``python -m ui.serve``: the first view's
    programs load while the server starts); ``env``: extra environment variables. ``started`` is
    the launch time, for measuring a cold start."""

    def __init__(self, script: str = "app.py", timeout: float = 120, *, warm_start: bool = False, env: dict | None = None):
        self.port = free_port()
        self.log = open(ARTIFACTS / "server.log", "w") if ARTIFACTS.exists() else subprocess.DEVNULL
        launcher = ["-m", "ui.serve"] if warm_start else ["-m", "streamlit", "run", script]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable, *launcher,
                "--server.headless", "true", "--server.port", str(self.port),
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})), stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        atexit.register(self.stop)  # never leave a server behind, even after an error
        self._wait_healthy(timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_healthy(self, timeout: float):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {self.process.returncode}")
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the streamlit server did not become healthy")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.log is not subprocess.DEVNULL and not self.log.closed:
            self.log.close()


class Browser:
    """Headless Chromium on an ``AppServer``; ``open_page`` returns a Playwright page once the app is idle."""

    def __init__(self, server: AppServer, extra_args: tuple[str, ...] = ()):
        from playwright.sync_api import sync_playwright

        self.server = server
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))

    def open_page(self, path: str = "/", *, charts: int = 1, timeout: float = 180_000, width: int = 1400, height: int = 1100,
                  touch: bool = False):  # fmt: skip
        """Load ``path`` (with its query string) and wait for the script to finish and ``charts`` charts to draw.
        ``touch``: in a tab with a touch screen (``touch_drag`` drags a finger over it)."""
        page = self.browser.new_page(viewport={"width": width, "height": height}, has_touch=touch)
        page.goto(self.server.url + path)
        wait_idle(page, timeout)
        if charts:
            wait_charts(page, charts, timeout)
        return page

    def close(self):
        self.browser.close()
        self._playwright.stop()


def touch_drag(page, points):
    """One finger pressed at ``points[0]`` (page pixels) and moved through the rest, as Chromium's
    input pipeline delivers a touch screen's events (pointer events of type "touch"); returns the
    function that lifts it."""
    cdp = page.context.new_cdp_session(page)

    def touch(kind, *point):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": point[0], "y": point[1]}] if point else []})

    touch("touchStart", *points[0])
    for point in points[1:]:
        page.wait_for_timeout(20)
        touch("touchMove", *point)

    def lift():
        touch("touchEnd")
        cdp.detach()

    return lift


def scroll_room(page, selector: str) -> tuple[float, float]:
    """How far the page could still scroll up and down (pixels) from where it is: the scrolling
    ancestor of ``selector``'s element."""
    return tuple(page.evaluate("""(selector) => {
      for (let e = document.querySelector(selector); e; e = e.parentElement) {
        const overflow = getComputedStyle(e).overflowY;
        if (e.scrollHeight > e.clientHeight && (overflow === "auto" || overflow === "scroll" || e === document.scrollingElement))
          return [e.scrollTop, e.scrollHeight - e.clientHeight - e.scrollTop];
      }
      return [0, 0];
    }""", selector))


def wait_idle(page, timeout: float = 120_000):
    """Until the app has run its script (the run state flips to running and back, or was never seen running)."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_timeout(300)  # let a rerun triggered by the last action start
    page.wait_for_selector(IDLE, timeout=timeout)


def wait_charts(page, charts: int, timeout: float = 120_000):
    """Until ``charts`` plotly figures have drawn (each draws its own ``.main-svg`` layers)."""
    page.wait_for_function(
        f"n => Array.from(document.querySelectorAll('{CHART}'), c => c.querySelector('.main-svg')).filter(Boolean).length >= n",
        arg=charts, timeout=timeout,
    )  # fmt: skip


def show_chart(page, selector: str, timeout: float = 60_000):
    """Scroll the chart ``selector`` names into view and wait until it has drawn its latest figure: a
    chart out of view draws a new figure only when it is back in view (``ui/chart.js``)."""
    chart = page.locator(selector)
    chart.scroll_into_view_if_needed()
    chart.evaluate("g => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # the view's observer runs
    page.wait_for_function("g => !g.waiting && g.drawn !== false", arg=chart.element_handle(), timeout=timeout)


def show_every_chart(page):
    """Every chart on the page brought up to date (``show_chart``), from the top down."""
    for index in range(page.locator(CHART).count()):
        show_chart(page, f"{CHART} >> nth={index}")


def errors_on(page) -> list[str]:
    return [element.inner_text() for element in page.query_selector_all(ERRORS)]
