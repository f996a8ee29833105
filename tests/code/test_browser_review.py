"""The expert's review page in a real Chromium: playing in sync, keyboard answers, resume after reload.

An expert signs in, answers three videos (mostly with the keyboard), reloads the page and signs in
again, finds the fourth video waiting, and the three answers are in the database exactly as given.
The page and every frame in it carry no word that could tell which heatmap is which.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from reviewer.settings import Settings
from tests.code.browser_support import MARKS, chromium_page, serve, sign_in, wait_idle
from tests.code.review_support import ReviewWorld, answers_of, review_world
from tests.code.stock import PASSWORD

SCREENSHOT = Path("/tmp/lusreview-review-page.png")
HINT = re.compile(r"train|test", re.IGNORECASE)
# Streamlit's own markup: data-testid / data-test-* attributes, and selectors naming them in scripts.
STREAMLIT_MARKUP = re.compile(r'\sdata-test[a-z-]*="[^"]*"|data-testid')
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
PANELS = ("v0", "u1", "h1", "u2", "h2")
SYNC_TOLERANCE_S = 0.05
CONTENT_TRIES = 5

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

# Keys pressed and the values they must store: (score A key, score B key, preference key, guess label).
ANSWERS = [
    ("6", "d", "8", "COVID-19"),
    ("1", "j", "9", "Healthy"),
    ("4", "f", "0", "Unsure"),
]
STORED = [
    dict(score_a=2, score_b=-1, preferred="a", class_guess="covid"),
    dict(score_a=-3, score_b=3, preferred="equal", class_guess="healthy"),
    dict(score_a=0, score_b=0, preferred="b", class_guess="unsure"),
]
COMMENT = "B-lines under the pleura"


@pytest.fixture
def served(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[tuple[str, ReviewWorld]]:
    world = review_world(engine, settings, n_videos=5, frames=6)
    with serve(settings, tmp_path / "streamlit.log") as url:
        yield url, world


def player(page: Any) -> Any:
    """The frame of the three-panel player, once its clips are loaded."""
    expect(page.locator("iframe").first).to_be_attached()
    for _ in range(2):
        for frame in page.frames:
            if frame.query_selector("#u1") is not None:
                frame.wait_for_function("() => document.getElementById('u1').readyState >= 2")
                return frame
        page.wait_for_timeout(1000)
    raise AssertionError("the player did not appear")


def times(frame: Any) -> list[float]:
    script = f"() => {list(PANELS)}.map((id) => document.getElementById(id).currentTime)"
    return [float(t) for t in frame.evaluate(script)]


def check_playing_in_sync(page: Any) -> None:
    frame = player(page)
    frame.wait_for_function(
        "() => ['v0', 'u1', 'h2'].every((id) => document.getElementById(id).currentTime > 0.4)"
    )
    frame.locator("#play").click()  # pause
    frame.locator("#scrub").fill("3")
    frame.wait_for_function("() => !document.getElementById('u1').seeking")
    at = times(frame)
    assert max(at) - min(at) < SYNC_TOLERANCE_S, at
    assert at[1] > 0
    frame.locator("#fwd").click()
    assert frame.locator("#pos").inner_text() == "5 / 6"
    frame.locator("#opacity").fill("40")
    assert frame.evaluate("() => document.getElementById('h1').style.opacity") == "0.4"


def selected(page: Any, key: str) -> Any:
    return page.locator(f".st-key-{key} button[data-testid=stBaseButton-primary]")


def answer(page: Any, index: int) -> None:
    key_a, key_b, key_preference, guess = ANSWERS[index]
    expect(page.get_by_role("heading", name=f"Pilot · video {index + 1} of 5")).to_be_visible()
    expect(page.locator(IDLE)).to_be_attached()
    for key, widget in ((key_a, "review_a_"), (key_b, "review_b_"), (key_preference, "review_pref_")):
        page.keyboard.press(key)
        expect(
            page.locator(f"[class*='st-key-{widget}'] button[data-testid=stBaseButton-primary]")
        ).to_have_count(1)
    page.get_by_text(guess, exact=True).click()
    expect(page.get_by_role("radio", name=guess)).to_be_checked()
    if index == 0:
        page.get_by_label("Comment (optional)").fill(COMMENT)
        page.keyboard.press("Tab")  # leaving the box saves it
        expect(page.get_by_text("Saved at")).to_be_visible()
    page.keyboard.press("n")


def frame_content(frame: Any) -> str:
    """A frame's markup, once it holds still: the player's frame reloads when the next video arrives."""
    for _ in range(CONTENT_TRIES - 1):
        try:
            return str(frame.content())
        except sync_api.Error:
            frame.wait_for_load_state()
    return str(frame.content())


def page_text(page: Any) -> str:
    wait_idle(page)
    markup = [page.content(), *(frame_content(frame) for frame in page.frames)]
    return STREAMLIT_MARKUP.sub("", "\n".join(markup))


def test_an_expert_answers_three_videos_and_resumes_at_the_fourth(
    served: tuple[str, ReviewWorld], engine: Engine
) -> None:
    url, world = served
    with chromium_page() as page:
        page.goto(url)
        sign_in(page, "expert0", PASSWORD)
        page.get_by_role("button", name="Start").click()
        check_playing_in_sync(page)
        for index in range(len(ANSWERS)):
            answer(page, index)
        expect(page.get_by_role("heading", name="Pilot · video 4 of 5")).to_be_visible()
        text = page_text(page)
        Path("/tmp/review_page.html").write_text(text)
        assert HINT.search(text) is None
        page.reload()
        sign_in(page, "expert0", PASSWORD)
        expect(page.get_by_role("heading", name="Pilot · video 4 of 5")).to_be_visible()
        expect(page.get_by_text("3 / 5 answered")).to_be_visible()
        player(page).wait_for_function("() => document.getElementById('u2').currentTime > 0.4")
        page.get_by_text("Preferred heatmap").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOT))
    stored = answers_of(engine, world.experts[0])
    assert sorted(stored) == [0, 1, 2]
    for position, expected in enumerate(STORED):
        row = stored[position]
        assert {name: row[name] for name in expected} == expected
        assert row["complete"] is True and row["seconds_spent"] > 0
    assert stored[0]["comment"] == COMMENT
    assert [stored[p]["patterns_a"] for p in range(3)] == [[], [], []]
