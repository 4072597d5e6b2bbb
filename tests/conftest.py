import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def browser():
    """One real app server and one headless Chromium for every end-to-end test."""
    from app_server import ARTIFACTS, AppServer, Browser

    ARTIFACTS.mkdir(exist_ok=True)
    server = AppServer()
    chromium = Browser(server, extra_args=("--enable-unsafe-swiftshader",))  # WebGL for the 3-D view
    yield chromium
    chromium.close()
    server.stop()
