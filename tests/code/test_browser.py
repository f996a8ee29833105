"""Smoke test in a real browser: the served app lets a user sign in and see the video list.

Playwright from PyPI drives Debian's Chromium by path, because `playwright install` cannot download a
browser here. The app runs as `streamlit run` would run it for users, in its own process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from reviewer.settings import Settings
from tests.code.stock import PASSWORD, stock_home

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
]
APP = Path(__file__).resolve().parents[2] / "pages" / "app.py"
SCREENSHOT = Path("/tmp/lusreview-browser-smoke.png")
START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


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


@pytest.fixture
def served_app(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """URL of the app serving a stocked temp home on a free localhost port."""
    with Session(engine) as session:
        stock_home(session, settings)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true"]
    command += [
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
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


def test_sign_in_and_see_the_video_list(served_app: str) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions wait as long as actions
            page.goto(served_app)
            page.get_by_role("textbox", name="Username").fill("expert")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            sync_api.expect(page.get_by_role("heading", name="Your studies")).to_be_visible()
            page.get_by_role("link", name="Data browser").click()
            sync_api.expect(page.get_by_role("heading", name="Data browser")).to_be_visible()
            # The grid draws on a canvas; its accessible twin says how many rows it shows (header + 3).
            sync_api.expect(page.locator("[data-testid=stDataFrame] table[role=grid]")).to_have_attribute(
                "aria-rowcount", "4"
            )
            sync_api.expect(page.get_by_role("heading", name="Cov-Atlas-B-lines.mp4")).to_be_visible()
            sync_api.expect(page.locator("video")).to_have_count(1)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
