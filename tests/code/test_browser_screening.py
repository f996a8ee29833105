"""Cancelling a screening in a real Chromium: the bar and its button go, no verdict shows, no file is left.

AppTest cannot click while a script runs, so this test drives the served app: a researcher uploads a
long phantom clip and screens it with a tiny real run, screens it again and cancels once the early
verdict shows, then screens it a third time. Only the result on show may have an overlay video.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from db.session import session_scope
from reviewer.screening import overlay_folder
from reviewer.settings import Settings
from reviewer.training import train_model
from reviewer.users import create_user
from reviewer.vocab import LusClass, Role
from seed_data.phantom import render_phantom, write_video
from tests.code.browser_support import MARKS, chromium_page, serve, sign_in, wait_idle
from tests.code.stock import PASSWORD
from tests.code.test_pages_screening import CONFIG, TIMEOUT_S

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

USERNAME = "screener"
CLIP_SECONDS = 10.0  # sampled at 3 Hz: the 30 frames screening takes at most, the longest wait
SCREENING_MS = TIMEOUT_S * 1000  # a whole screening, TensorFlow import included, on a loaded machine
SCREENSHOT = Path("/tmp/lusreview-screening-cancelled.png")


@pytest.fixture
def served(phantom_engine: Engine, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The app on a home with one finished tiny run and a researcher."""
    train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    with session_scope(phantom_engine) as session:
        create_user(session=session, username=USERNAME, password=PASSWORD, role=Role.RESEARCHER)
    with serve(settings, tmp_path / "streamlit.log") as url:
        yield url


def test_cancel_ends_a_screening_without_a_result(served: str, settings: Settings, tmp_path: Path) -> None:
    phantom = render_phantom(LusClass.HEALTHY, 24_680, size=128, seconds=CLIP_SECONDS, fps=9.0)
    clip = write_video(phantom, tmp_path / "long.mp4")
    overlays = overlay_folder(settings)
    with chromium_page() as page:
        page.goto(served)
        sign_in(page, USERNAME, PASSWORD)
        page.get_by_role("link", name="Screening").click()
        expect(page.get_by_role("heading", name="Screening")).to_be_visible()
        wait_idle(page)
        page.locator('input[type="file"]').set_input_files(str(clip))
        screen = page.get_by_role("button", name="Screen", exact=True)
        cancel = page.get_by_role("button", name="Cancel")
        bar = page.locator("[data-testid=stProgress]")
        verdict = page.locator("[data-testid=stMetric]")
        cancelled = page.get_by_text("Screening cancelled.")

        screen.click()  # a first screening to the end, so a verdict is on show when the next one starts
        expect(verdict.first).to_be_visible(timeout=SCREENING_MS)
        expect(bar).to_have_count(0, timeout=SCREENING_MS)
        wait_idle(page)
        expect(verdict).to_have_count(3)  # the final verdict in the early one's place, not beside it
        expect(page.get_by_text("Being checked")).to_have_count(0)
        assert len(list(overlays.glob("*.mp4"))) == 1

        screen.click()  # cancelled once its early verdict and heatmap show, during the stability passes
        expect(page.get_by_text("Being checked")).to_be_visible(timeout=SCREENING_MS)
        assert len(list(overlays.glob("*.mp4"))) == 1  # this one's: the first went with its result
        cancel.click()
        expect(cancelled).to_be_visible()
        expect(bar).to_have_count(0)
        expect(cancel).to_have_count(0)
        expect(verdict).to_have_count(0)  # neither verdict may stay on show
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert list(overlays.glob("*.mp4")) == []

        screen.click()  # the page still screens; had the cancelled run gone on, it would be ahead of this one
        expect(cancelled).to_have_count(0)
        expect(verdict.first).to_be_visible(timeout=SCREENING_MS)
        expect(bar).to_have_count(0)
        wait_idle(page)
    assert len(list(overlays.glob("*.mp4"))) == 1
