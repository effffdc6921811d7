"""Real-browser tests: the app as a real uvicorn process, driven by Chromium through Playwright.

The Chromium is $BACKPROP_LENS_CHROMIUM, else Debian's /usr/bin/chromium-headless-shell (the same Blink as the
browser, without the browser around it: the suite runs in about two thirds of the time), else /usr/bin/chromium,
else Playwright's own (``playwright install chromium``). Mark tests with ``pytest.mark.browser``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def chromium_executable() -> str | None:
    named = os.environ.get("BACKPROP_LENS_CHROMIUM")
    if named:
        return named
    return next((p for p in ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium") if Path(p).exists()), None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {**browser_type_launch_args, "args": ["--disable-gpu", "--disable-dev-shm-usage"]}
    executable = chromium_executable()
    if executable:
        args["executable_path"] = executable
    return args


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server():
    """The base URL of the app served by a real uvicorn subprocess on a free loopback port."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
    )

    def server_log() -> str:
        log.seek(0)
        return log.read()[-4000:]

    try:
        deadline = time.monotonic() + 120  # a loaded machine (CI beside other jobs) starts slowly
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with {proc.returncode}:\n{server_log()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer /healthz within 120 s:\n{server_log()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def page_errors(page):
    """Console errors, page errors and failed or 4xx/5xx requests seen by ``page``: a test asserts it stays empty.
    A request the page cancelled (net::ERR_ABORTED: a newer edit replaced it, or its frame moved to another slide)
    is not a failure."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} ({req.failure})")
            if req.failure != "net::ERR_ABORTED" else None)  # cancelled (a newer edit, a frame moved on): normal
    page.on("response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)
    return errors
