"""Fetch plotly.js's cartesian bundle into static/, once (``scripts/setup.sh`` runs this).

``ui/chart.py`` serves it to every figure whose traces are all cartesian (every 2-D chart): 1.5 MB
of script instead of the full bundle's 4.8 MB, so a page's first chart draws sooner; a figure with
a 3-D trace loads the full bundle. It must be the plotly.js of the pinned ``plotly`` package:
``ui/chart.py`` looks for it under that version's name only. The tarball comes through ``npm pack``
when npm is on PATH, else straight from the registry, and is checked against the registry's
integrity pinned here either way. Without a network this says so in one line and exits with 1;
the app then loads the full bundle for every chart. A failed try is remembered for a day
(``FAILED``), so that an offline machine does not wait for the timeouts at every start.

Run:  .venv/bin/python scripts/fetch_plotly_cartesian.py [--retry]   (--retry: try again now)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

PACKAGE = "plotly.js-cartesian-dist-min"
VERSION = "4.1.1"  # the plotly.js inside the pinned plotly package (tests/test_chart.py checks)
INTEGRITY = "sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg=="
URL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
MEMBER = "package/plotly-cartesian.min.js"  # the bundle inside the tarball
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "static" / f"plotly-cartesian-{VERSION}.min.js"  # served at app/static/
TIMEOUT = 60  # seconds for one way of fetching it
FAILED = TARGET.parent / ".plotly-cartesian-failed"  # holds why the last try failed (gitignored)
RETRY_AFTER = 24 * 3600  # seconds before a failed fetch is tried again


def integrity(data: bytes) -> str:
    """The npm registry's integrity string of ``data`` (Subresource Integrity, sha512)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def with_npm() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", folder, "--loglevel=error",
             "--fetch-retries=0", f"--fetch-timeout={TIMEOUT * 500}"],
            check=True, capture_output=True, timeout=TIMEOUT, cwd=folder,
        )  # fmt: skip
        return (Path(folder) / f"{PACKAGE}-{VERSION}.tgz").read_bytes()


def with_urllib() -> bytes:
    with urllib.request.urlopen(URL, timeout=TIMEOUT) as response:
        return response.read()


def why(error: Exception) -> str:
    """One line on why a way of fetching failed (npm's own first line of error output, if it wrote one)."""
    said = getattr(error, "stderr", None)
    lines = (said.decode(errors="replace") if isinstance(said, bytes) else str(said or error)).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def fetch() -> bytes:
    """The verified tarball: through npm if it is on PATH, else (or if that fails) from the registry's URL."""
    failures = []
    for name, way in (("npm pack", with_npm), ("the registry", with_urllib)):
        if way is with_npm and not shutil.which("npm"):
            continue
        try:
            tarball = way()
        except (OSError, subprocess.SubprocessError) as error:
            failures.append(f"{name}: {why(error)}")
            continue
        if integrity(tarball) != INTEGRITY:
            failures.append(f"{name}: the tarball's integrity {integrity(tarball)[:19]}… is not the pinned one")
            continue
        return tarball
    raise RuntimeError("; ".join(failures))


def install(tarball: bytes, target: Path = TARGET):
    """Write the bundle out of ``tarball`` to ``target`` atomically (two setups may run at once)."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        script = archive.extractfile(MEMBER).read()
    if f"v{VERSION}".encode() not in script[:200]:
        raise RuntimeError(f"{MEMBER} does not say plotly.js v{VERSION} at its top")
    target.parent.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".plotly-", delete=False) as copy:
        try:
            copy.write(script)
        except BaseException:
            os.unlink(copy.name)
            raise
    os.chmod(copy.name, 0o644)
    os.replace(copy.name, target)


def failed_lately(now: float) -> bool:
    """Whether a try failed less than RETRY_AFTER seconds before ``now`` (then it is not tried again)."""
    try:
        return now - FAILED.stat().st_mtime < RETRY_AFTER
    except FileNotFoundError:
        return False


def main(arguments: list[str]) -> int:
    if TARGET.exists():
        return 0
    if "--retry" not in arguments and failed_lately(time.time()):
        print(f"plotly.js's cartesian bundle not fetched: the last try failed less than a day ago "
              f"({FAILED.read_text().strip()}); every chart loads the full plotly.js. "
              f"Try again with: .venv/bin/python scripts/fetch_plotly_cartesian.py --retry")  # fmt: skip
        return 1
    try:
        install(fetch())
    except Exception as error:  # setup goes on without it
        reason = " ".join(str(error).split())[:300]
        print(f"plotly.js's cartesian bundle not fetched ({reason}); every chart will load the full plotly.js.")
        FAILED.parent.mkdir(exist_ok=True)
        FAILED.write_text(reason + "\n")
        return 1
    FAILED.unlink(missing_ok=True)
    print(f"Fetched plotly.js's cartesian bundle {VERSION} into {TARGET.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
