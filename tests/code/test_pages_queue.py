"""The relabel queue page, driven with AppTest against a real SQLite home with a finished run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from db.models import AuditLog, CamAsset, ModelRun, Prediction, RelabelItem, Video, VideoLabel
from db.session import session_scope
from pages.common import VIEWER_KEY
from reviewer.relabel_strategies import Strategy
from reviewer.settings import Settings
from reviewer.users import create_user
from reviewer.vocab import LusClass, Role
from tests.code.page_support import viewer_of
from tests.code.stock import add_video, write_mp4

PAGE = Path(__file__).resolve().parents[2] / "pages" / "queue.py"
TIMEOUT_S = 60  # first runs import SQLAlchemy, Alembic and pandas; generous so slow CI never flakes
# covid probability per covid-labelled video: "Wrong" contradicts its label most, so it comes first.
VIDEOS = {"Wrong.mp4": 0.1, "Unsure.mp4": 0.5, "Right.mp4": 0.9}


@dataclass(frozen=True)
class World:
    ann: int
    bea: int
    run_id: int
    videos: dict[str, int]


def _predictions(run_id: int, video_id: int, covid: float) -> list[Prediction]:
    probabilities = {"covid": covid, "healthy": round(1 - covid, 6)}
    top = "covid" if covid >= 0.5 else "healthy"
    frames = [
        Prediction(
            run_id=run_id, video_id=video_id, frame_index=i, probabilities=probabilities, predicted_class=top
        )
        for i in range(2)
    ]
    video = Prediction(
        run_id=run_id,
        video_id=video_id,
        probabilities=probabilities,
        predicted_class=top,
        members=[probabilities] * 3,
        confidence_epistemic=0.8,
        confidence_aleatoric=0.6,
    )
    return [*frames, video]


def add_run(engine: Engine, videos: dict[str, int], status: str = "done") -> int:
    with session_scope(engine) as session:
        run = ModelRun(status=status, classes=["covid", "healthy"], config={"folds": 3})
        session.add(run)
        session.flush()
        for name, covid in VIDEOS.items():
            session.add_all(_predictions(int(run.id or 0), videos[name], covid))
        return int(run.id or 0)


@pytest.fixture
def world(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    with session_scope(engine) as session:
        ann, bea = (
            create_user(session=session, username=n, password="pw-123456789", role="annotator")
            for n in ("ann", "bea")
        )
        videos = {
            name: int(add_video(session, name, label="covid", frames=2, home=settings.home).id or 0)
            for name in VIDEOS
        }
        users = (int(ann.id or 0), int(bea.id or 0))
    run_id = add_run(engine, videos)
    with session_scope(engine) as session:
        session.add(
            CamAsset(
                run_id=run_id,
                video_id=videos["Wrong.mp4"],
                kind="train",
                target_class="covid",
                token="t" * 32,
                raw_path="assets/x.npz",
                overlay_path="assets/tt/overlay.mp4",
            )
        )
    write_mp4(settings.home / "assets/tt/overlay.mp4")
    return World(ann=users[0], bea=users[1], run_id=run_id, videos=videos)


def page(user_id: int, username: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(user_id, Role.ANNOTATOR)
    return at.run()


def ranked(world: World, username: str = "ann") -> AppTest:
    at = page(world.ann if username == "ann" else world.bea, username)
    at.selectbox(key="queue_strategy").set_value(Strategy.LABEL_DISAGREEMENT).run()
    return at.button(key="queue_build").click().run()


def _button(at: AppTest, name: str) -> Button:
    return next(b for b in at.button if b.key and b.key.startswith(f"queue_{name}_"))


def _save(at: AppTest) -> Button:
    return _button(at, "save")


def _skip(at: AppTest) -> Button:
    return _button(at, "skip")


def shown(at: AppTest) -> str:
    return at.subheader[0].value


def test_without_a_finished_run_the_page_says_what_to_do(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    with session_scope(engine) as session:
        user = create_user(session=session, username="ann", password="pw-123456789", role="annotator")
    at = page(int(user.id or 0), "ann")
    assert not at.exception
    assert "No model run has finished yet" in at.info[0].value


def test_ranking_shows_the_most_doubted_video_with_prediction_cam_and_confidences(world: World) -> None:
    at = ranked(world)
    assert not at.exception
    assert shown(at) == "Wrong\\.mp4"
    assert at.get("progress")[0].proto.text == "0 of 3 resolved · 1 being looked at"
    assert [m.value for m in at.metric] == ["80%", "60%"]
    assert _save(at).label == "Confirm COVID-19"
    assert len(at.get("video")) == 2  # the stored video and the run's CAM overlay
    assert [e.label for e in at.expander] == ["Frames to look at first"]
    assert not at.error


def test_confirm_and_change_write_history_and_move_on(engine: Engine, world: World) -> None:
    at = ranked(world)
    _save(at).click().run()
    assert shown(at) == "Unsure\\.mp4"
    item = next(i for i in _items(engine) if i.video_id == world.videos["Unsure.mp4"])
    at.selectbox(key=f"queue_label_{item.id}").set_value(LusClass.HEALTHY).run()
    assert _save(at).label == "Change label"
    _save(at).click().run()
    assert [e.value for e in at.error] == ["Say why the label changes; the reason is kept with the history."]
    at.text_area(key=f"queue_reason_{item.id}").input("Clear A-lines, no B-lines").run()
    _save(at).click().run()
    assert shown(at) == "Right\\.mp4"
    with session_scope(engine) as session:
        history = session.exec(select(VideoLabel).order_by(col(VideoLabel.id))).all()
        label = session.get_one(Video, world.videos["Unsure.mp4"]).label
    assert [(h.action, h.label, h.reason, h.user_id) for h in history] == [
        ("approve", "covid", None, world.ann),
        ("change", "healthy", "Clear A-lines, no B-lines", world.ann),
    ]
    assert label == "healthy"
    assert sum(i.status == "done" for i in _items(engine)) == 2


def test_skip_offers_the_next_video_and_a_second_annotator_gets_another(engine: Engine, world: World) -> None:
    first = ranked(world)
    assert shown(first) == "Wrong\\.mp4"
    second = page(world.bea, "bea")
    second.selectbox(key="queue_strategy").set_value(Strategy.LABEL_DISAGREEMENT).run()
    assert shown(second) == "Unsure\\.mp4"  # ann holds the first
    _skip(first).click().run()
    assert shown(first) == "Right\\.mp4"
    with session_scope(engine) as session:
        assert (
            session.exec(select(AuditLog).where(AuditLog.action == "relabel.skip")).one().user_id == world.ann
        )


def test_retraining_moves_the_queue_to_the_new_run(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    def fake_start(**kwargs: object) -> int:  # the real job is tested in tests/model; here only the page flow
        with session_scope(engine) as session:
            run = ModelRun(status="running", progress=0.25, progress_note="Training fold 1 of 3")
            session.add(run)
            session.flush()
            started.append(int(run.id or 0))
        return started[0]

    monkeypatch.setattr("reviewer.run_jobs.start_training", fake_start)
    monkeypatch.setattr("reviewer.relabel_view.run_config", lambda run: run.config)
    at = ranked(world)
    at.button(key="queue_retrain").click().run()
    assert not at.exception
    assert at.get("progress")[-1].proto.text == "Training fold 1 of 3"
    with session_scope(engine) as session:
        session.get_one(ModelRun, started[0]).status = "done"
    with session_scope(engine) as session:
        for name, covid in VIDEOS.items():
            session.add_all(_predictions(started[0], world.videos[name], covid))
    at.run()
    assert at.selectbox(key="queue_run").value == started[0]
    assert "the queue now comes from it" in at.success[0].value
    assert {i.run_id for i in _items(engine)} == {world.run_id, started[0]}


def _items(engine: Engine) -> list[RelabelItem]:
    with session_scope(engine) as session:
        return list(session.exec(select(RelabelItem).order_by(col(RelabelItem.id))))


def test_an_item_resolved_elsewhere_is_refused_and_the_next_one_shown(engine: Engine, world: World) -> None:
    at = ranked(world)
    assert shown(at) == "Wrong\\.mp4"
    with session_scope(engine) as session:  # e.g. an administrator closed it from another tab
        item = session.exec(
            select(RelabelItem).where(RelabelItem.video_id == world.videos["Wrong.mp4"])
        ).one()
        item.status = "done"
    _save(at).click().run()
    assert [e.value for e in at.error] == ["Someone has already resolved this video."]
    assert shown(at) == "Unsure\\.mp4"
    with session_scope(engine) as session:
        assert session.exec(select(VideoLabel)).all() == []
