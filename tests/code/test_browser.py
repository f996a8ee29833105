"""Smoke test in a real browser: the served app lets a user sign in and see the video list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from reviewer.settings import Settings
from tests.code.browser_support import MARKS, chromium_page, serve, sign_in
from tests.code.stock import PASSWORD, stock_home

SCREENSHOT = Path("/tmp/lusreview-browser-smoke.png")

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def served_app(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """URL of the app serving a stocked temp home on a free localhost port."""
    with Session(engine) as session:
        stock_home(session, settings)
    with serve(settings, tmp_path / "streamlit.log") as url:
        yield url


def test_sign_in_and_see_the_video_list(served_app: str) -> None:
    with chromium_page() as page:
        page.goto(served_app)
        sign_in(page, "expert", PASSWORD)
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
