"""Serve the app as users get it and drive it with a real Chromium, for the browser tests.

Playwright from PyPI drives Debian's Chromium by path, because `playwright install` cannot download a
browser here. The app runs as `streamlit run` would run it for users, in its own process, on a free
localhost port, against the test's home folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from reviewer.settings import Settings
from tests.code.stock import stock_home

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
APP = Path(__file__).resolve().parents[2] / "pages" / "app.py"
START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000
IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"]'

MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


@contextmanager
def serve(settings: Settings, log: Path) -> Iterator[str]:
    """URL of the app serving ``settings.home``; the server stops when the block ends."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    command += ["--browser.gatherUsageStats", "false"]
    env = {**os.environ, "LUSREVIEW_HOME": str(settings.home)}
    env.pop("LUSREVIEW_DB_URL", None)
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            _wait_healthy(url, server, log)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def served_app(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """URL of the app serving a stocked temp home; test modules bind it (``served_app = ...``)."""
    with Session(engine) as session:
        stock_home(session, settings)
    with serve(settings, tmp_path / "streamlit.log") as url:
        yield url


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A Playwright page in headless Chromium whose actions and assertions wait as long as each other."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)  # a loaded machine slows both alike
            yield page
        finally:
            browser.close()


def sign_in(page: Any, username: str, password: str) -> None:
    """Fill the sign-in form of a freshly opened app, submit it and wait for the first page to settle.

    A file chosen while the signed-in page is still being built can land on an uploader that is
    replaced a moment later (seen once in CI under load), so nothing is touched before the run ends.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    wait_idle(page)


def wait_idle(page: Any) -> None:
    """Wait until the app's script run has ended (Streamlit marks its root with the run state)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    sync_api.expect(page.locator(IDLE_APP)).to_have_count(1)


def wait_painted(page: Any, canvas: Any, points: list[tuple[float, float]], *, painted: bool = True) -> None:
    """Wait until a ``<canvas>`` locator's bitmap is painted (or clear) at each point, in canvas pixels.

    A drawing component renders after Streamlit shows it, and renders again after every edit; its
    objects live in the component's closure, but its bitmap is there to read in any frame or shadow root.
    """
    page.wait_for_function(
        "([canvas, points, painted]) => points.every(([x, y]) =>"
        " (canvas.getContext('2d').getImageData(x, y, 1, 1).data[3] > 0) === painted)",
        arg=[canvas.element_handle(), points, painted],
    )


def drag(page: Any, start: tuple[float, float], offset: tuple[float, float], *, steps: int = 8) -> None:
    """Press at ``start`` (page pixels), move by ``offset`` in small steps and release, as a hand does.

    Each step is its own mouse event, so a canvas library that moves an object per mousemove sees a drag
    rather than a jump; no pause is needed, every event is dispatched before the next is sent.
    """
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(start[0] + offset[0] * step / steps, start[1] + offset[1] * step / steps)
    page.mouse.up()
