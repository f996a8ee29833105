"""The screening page with AppTest: a tiny real run screens a real phantom mp4, a stored video and junk."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from db.session import session_scope
from pages.common import VIEWER_KEY
from reviewer.settings import Settings
from reviewer.training import TrainConfig, train_model
from reviewer.users import create_user
from reviewer.vocab import LusClass, Role
from seed_data.phantom import render_phantom, write_video
from tests.code.page_support import viewer_of
from tests.code.stock import PASSWORD

PAGE = Path(__file__).resolve().parents[2] / "pages" / "screening.py"
TIMEOUT_S = 300  # the first screening imports TensorFlow and builds a VGG16
CONFIG = TrainConfig(weights="hed", folds=3, input_size=32, epochs=1, augmentations=1, patience=1, seed=5)
CLASS_NAMES = {c.label for c in (LusClass.COVID, LusClass.PNEUMONIA, LusClass.HEALTHY)}


@pytest.fixture
def live_home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    return settings


def _page(engine: Engine, role: Role) -> AppTest:
    """The page for a new signed-in user of ``role``."""
    with session_scope(engine) as session:
        user = create_user(session=session, username=f"screen-{role.value}", password=PASSWORD, role=role)
        user_id = int(user.id or 0)
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(user_id)
    return at.run()


def _verdict(at: AppTest) -> str:
    return str(at.metric[0].value)


@pytest.mark.slow
def test_screening_an_upload_a_stored_video_and_a_bad_file(
    phantom_engine: Engine, live_home: Settings, tmp_path: Path
) -> None:
    train_model(engine=phantom_engine, settings=live_home, config=CONFIG)
    video = write_video(
        render_phantom(LusClass.HEALTHY, 13_579, size=128, seconds=1.0, fps=9.0), tmp_path / "a.mp4"
    )
    at = _page(phantom_engine, Role.ANNOTATOR)
    assert not at.exception
    assert "not a diagnosis" in at.warning[0].value
    assert at.button(key="screen_upload_go").disabled  # nothing to screen yet
    uploader = at.file_uploader(key="screen_upload").proto  # the browser refuses other files at once
    assert {".mp4", ".gif", ".png"} <= set(uploader.type) and ".txt" not in uploader.type
    assert uploader.max_upload_size_mb == live_home.max_upload_mb
    at.file_uploader(key="screen_upload").set_value(("scan.mp4", video.read_bytes(), "video/mp4")).run()
    at.button(key="screen_upload_go").click().run()
    assert not at.exception and not at.error
    assert _verdict(at) in CLASS_NAMES
    assert len(at.get("plotly_chart")) == 1 and len(at.get("video")) == 1
    confidences = [float(m.value) for m in at.metric[1:]]
    assert len(confidences) == 2 and all(0.0 <= c <= 1.0 for c in confidences)
    overlays = list((live_home.home / "screening").glob("*.mp4"))
    assert len(overlays) == 1 and overlays[0].stat().st_size > 0
    assert not at.get("progress")  # the bar is gone once the result is shown
    at.session_state["screen_cancelled"] = True  # Cancel clicked just as that screening ended
    at.run()
    assert [i.value for i in at.info] == ["Screening cancelled."] and not at.metric
    assert not overlays[0].exists()  # the cancelled result's heatmap video goes with it

    at.file_uploader(key="screen_upload").set_value(
        ("scan.mp4", b"plain text, not a video", "video/mp4")
    ).run()
    at.button(key="screen_upload_go").click().run()
    assert "not a video" in at.error[0].value and not at.get("progress")

    at.segmented_control(key="screen_source").set_value("A stored video").run()
    at.button(key="screen_stored_go").click().run()
    assert not at.error and _verdict(at) in CLASS_NAMES
    assert at.subheader[0].value != "scan.mp4"  # the stored video's name is shown now
    first = list((live_home.home / "screening").glob("*.mp4"))
    at.button(key="screen_stored_go").click().run()
    assert not at.error and len(at.get("video")) == 1
    second = list((live_home.home / "screening").glob("*.mp4"))
    assert len(first) == len(second) == 1 and first != second  # a new result replaces the old one's file


def test_experts_never_screen(engine: Engine, live_home: Settings) -> None:
    at = _page(engine, Role.EXPERT)
    assert "does not give access" in at.error[0].value
    assert not at.get("file_uploader")


def test_without_a_finished_run_the_page_says_what_to_do(engine: Engine, live_home: Settings) -> None:
    at = _page(engine, Role.RESEARCHER)
    assert "not a diagnosis" in at.warning[0].value
    assert "train one on the Models page" in at.info[0].value
