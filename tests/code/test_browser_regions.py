"""Moving a stored polygon region on the Labelling canvas in a real Chromium, down to the database.

AppTest cannot run the canvas's JavaScript, so this test drives the served app: an annotator's stored
polygon opens on the canvas, is dragged with the canvas's edit tool and saved. Every step waits on what
the browser shows or sends, never on time: the polygon painted on the canvas bitmap, the moved drawing
sent to Streamlit over its websocket, the canvas reloaded under its next key after the save.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import AuditLog, Region
from db.session import session_scope
from reviewer.annotation_canvas import Scale, regions_drawing
from reviewer.region_store import save_regions
from reviewer.regions import Shape
from reviewer.settings import Settings
from reviewer.users import create_user
from reviewer.vocab import Pattern, Role
from tests.code.browser_support import MARKS, chromium_page, drag, serve, sign_in, wait_painted
from tests.code.stock import PASSWORD, SIDE, add_video

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

USERNAME = "drawer"
VIDEO_NAME = "Regions-scan.mp4"
PATTERN = Pattern.B_LINES
POLYGON = [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]]  # frame pixels of a 64-pixel frame
CENTRE, OLD_ONLY = (20.0, 20.0), (12.0, 12.0)  # inside the polygon; inside it only before the shift
SHIFT = (5.0, 3.0)  # the drag, in frame pixels
TOLERANCE_PX = 0.5  # frame pixels: the drag is in whole display pixels, stored geometry in hundredths
# The drawing the canvas sends back: its first polygon's position, in display pixels.
POSITION = re.compile(rb'"type":"Polygon".*?"left":(-?[\d.]+),"top":(-?[\d.]+)')
SCREENSHOT = Path("/tmp/lusreview-browser-regions.png")


@pytest.fixture
def seeded(engine: Engine, settings: Settings, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    """The app's URL, a two-frame video, and the id of the one polygon its annotator stored on frame 0."""
    with session_scope(engine) as session:
        user = create_user(session=session, username=USERNAME, password=PASSWORD, role=Role.ANNOTATOR)
        video = add_video(session, VIDEO_NAME, label=None, frames=2, home=settings.home)
        (region,) = save_regions(
            session=session,
            settings=settings,
            video_id=int(video.id or 0),
            frame_index=0,
            pattern=PATTERN,
            shapes=[(Shape.POLYGON, {"points": POLYGON})],
            actor_id=user.id,
        )
        ids = int(video.id or 0), int(region.id or 0)
    with serve(settings, tmp_path / "streamlit.log") as url:
        yield url, *ids


def sends_polygon_at(key: str, left: float, top: float) -> Callable[[str | bytes], bool]:
    """Whether a websocket frame to Streamlit carries canvas ``key`` with its polygon at ``left, top``."""

    def carries(payload: str | bytes) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        at = data.find(key.encode())
        found = POSITION.search(data, at) if at >= 0 else None
        return found is not None and abs(float(found[1]) - left) < 1 and abs(float(found[2]) - top) < 1

    return carries


def test_a_dragged_polygon_is_stored_moved(seeded: tuple[str, int, int], engine: Engine) -> None:
    url, video_id, region_id = seeded
    with chromium_page() as page:
        with page.expect_websocket() as opened:
            page.goto(url)
        socket = opened.value
        sign_in(page, USERNAME, PASSWORD)
        page.get_by_role("tab", name="Label and regions").click()
        page.get_by_role("textbox", name="Find a video by name").fill("Regions-scan")
        page.keyboard.press("Enter")
        key = f"annot_regions_{video_id}_0_0"
        component = page.locator(f"[class*=st-key-{key}]")
        bitmap = component.locator("canvas.dc-canvas.lower-canvas")  # Fabric's upper canvas takes the mouse
        expect(bitmap).to_be_visible()
        bitmap.scroll_into_view_if_needed()
        scale = Scale.fit(SIDE, SIDE, int(bitmap.get_attribute("width") or 0))
        at = {name: (x * scale.x, y * scale.y) for name, (x, y) in [("centre", CENTRE), ("old", OLD_ONLY)]}
        offset = (SHIFT[0] * scale.x, SHIFT[1] * scale.y)
        moved = (at["centre"][0] + offset[0], at["centre"][1] + offset[1])
        wait_painted(page, bitmap, [at["centre"], at["old"]])  # the stored polygon is on the canvas
        edit = component.get_by_role("button", name="Edit")
        edit.click()
        expect(edit).to_have_attribute("aria-pressed", "true")

        (start,) = regions_drawing([(PATTERN, Shape.POLYGON, {"points": POLYGON})], scale)["objects"]
        sent = sends_polygon_at(key, start["left"] + offset[0], start["top"] + offset[1])
        box = bitmap.bounding_box()
        with socket.expect_event("framesent", predicate=sent):  # the moved drawing reaches Streamlit
            drag(page, (box["x"] + at["centre"][0], box["y"] + at["centre"][1]), offset)
        wait_painted(page, bitmap, [moved])
        wait_painted(page, bitmap, [at["old"]], painted=False)
        page.get_by_role("button", name="Save 1 shape on this frame").click()

        reloaded = page.locator(f"[class*=st-key-annot_regions_{video_id}_0_1]")  # the save's new key
        wait_painted(page, reloaded.locator("canvas.dc-canvas.lower-canvas"), [moved])
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    with Session(engine) as session:
        (region,) = session.exec(select(Region).where(Region.video_id == video_id)).all()
        deleted = session.exec(
            select(AuditLog).where(AuditLog.action == "region.delete").order_by(col(AuditLog.id))
        ).all()
    assert (region.pattern, region.shape) == (PATTERN.value, Shape.POLYGON.value)
    expected = [c for x, y in POLYGON for c in (x + SHIFT[0], y + SHIFT[1])]
    stored = [c for point in region.geometry["points"] for c in point]
    assert stored == pytest.approx(expected, abs=TOLERANCE_PX)
    assert region.id != region_id  # a moved region is removed and what is on the canvas added
    assert [(a.detail["region_id"], a.detail["geometry"]) for a in deleted] == [
        (region_id, {"points": POLYGON})
    ]
