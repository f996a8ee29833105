"""Smoke test in a real browser: the served app lets a user sign in and see the video list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.code import browser_support
from tests.code.browser_support import MARKS, chromium_page, sign_in
from tests.code.stock import PASSWORD

SCREENSHOT = Path("/tmp/lusreview-browser-smoke.png")

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


served_app = browser_support.served_app  # a stocked home served on a free port


def test_sign_in_and_see_the_video_list(served_app: str) -> None:
    with chromium_page() as page:
        page.goto(served_app)
        sign_in(page, "researcher", PASSWORD)
        sync_api.expect(page.get_by_role("heading", name="Statistics")).to_be_visible()
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
