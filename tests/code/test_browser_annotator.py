"""The drawing canvas (streamlit-drawable-canvas 0.13 on Streamlit 1.67) in a real Chromium.

AppTest cannot run a component's JavaScript, so this test drives the served app: the annotator
uploads a phantom clip, moves the suggested crop with the canvas's edit tool, stores the video and
draws a polygon region on one of its frames. Both must arrive in the database in stored pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Region, Video
from reviewer.vocab import LusClass
from seed_data.phantom import render_phantom, write_video
from tests.code import browser_support
from tests.code.browser_support import MARKS, chromium_page, sign_in
from tests.code.stock import PASSWORD

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

PHANTOM_PX = 256
SCREENSHOT = Path("/tmp/lusreview-browser-annotator.png")
served_app = browser_support.served_app  # a stocked home served on a free port


def test_crop_and_regions_are_drawn_on_the_canvas(served_app: str, engine: Engine, tmp_path: Path) -> None:
    clip = write_video(
        render_phantom(LusClass.COVID, seed=3, size=PHANTOM_PX, seconds=1.0), tmp_path / "lung.mp4"
    )
    with chromium_page() as page:
        page.goto(served_app)
        sign_in(page, "annotator", PASSWORD)
        page.locator('input[type="file"]').set_input_files(str(clip))
        caption = page.get_by_text(re.compile(r"Crop: x \d+, y \d+"))
        sync_api.expect(caption).to_contain_text("Crop: x 18, y 11, 238 × 238 px of 256 × 256")
        edit = page.get_by_role("button", name="Edit").first
        edit.click()
        sync_api.expect(edit).to_have_attribute("aria-pressed", "true")  # a drag before this draws instead
        box = page.locator("[class*=st-key-annot_file_][class*=_canvas_convex]").bounding_box()
        page.mouse.move(box["x"] + 260, box["y"] + 300)
        page.mouse.down()
        page.mouse.move(box["x"] + 240, box["y"] + 290, steps=8)  # 20 and 10 display px = 10 and 5 px
        page.mouse.up()
        sync_api.expect(caption).to_contain_text("Crop: x 8, y 6, 238 × 238 px")
        page.get_by_role("button", name="Store 1 video").click()
        sync_api.expect(page.get_by_text("lung.mp4 stored as video 4")).to_be_visible()

        page.get_by_role("tab", name="Label and regions").click()
        page.get_by_role("radio", name="Polygon").check(force=True)
        sync_api.expect(page.get_by_text(re.compile("click the first corner again"))).to_be_visible()
        canvas = page.locator("[class*=st-key-annot_regions_4_0_]").bounding_box()
        for x, y in [(40, 40), (120, 40), (120, 120), (40, 40)]:
            page.mouse.click(canvas["x"] + x, canvas["y"] + y)
        save = page.get_by_role("button", name="Save 1 shape on this frame")
        save.click()
        sync_api.expect(page.get_by_text("Stored regions on this frame")).to_be_visible()
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    with Session(engine) as session:
        video = session.exec(select(Video).where(Video.display_name == "lung.mp4")).one()
        (region,) = session.exec(select(Region)).all()
    assert (video.crop_x, video.crop_y, video.crop_w, video.crop_h) == (8, 6, 238, 238)
    assert (region.video_id, region.shape, region.pattern) == (video.id, "polygon", "a_lines")
    points = region.geometry["points"]
    assert [[round(c) for c in p] for p in points] == [[20, 20], [60, 20], [60, 60]]
