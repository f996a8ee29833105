"""The studies page (administrators), driven with AppTest against a real SQLite home with CAM asset rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from db.models import Study, StudyItem
from db.session import session_scope
from pages.common import VIEWER_KEY
from reviewer.review_warm import warm_job
from reviewer.settings import Settings
from reviewer.study_setup import MAX_DESCRIPTION, close_study, open_study
from reviewer.vocab import Role
from tests.code.page_support import viewer_of
from tests.code.stock_study import World, count, items_of, make_world, new_study

PAGE = Path(__file__).resolve().parents[2] / "pages" / "studies.py"
TIMEOUT_S = 60  # first runs import SQLAlchemy, Alembic and pandas; generous so slow CI never flakes


@pytest.fixture
def world(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> World:
    """Users of every role and a finished run of 9 videos (one misclassified), found via LUSREVIEW_HOME."""
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    return make_world(engine, n_videos=9, wrong={4})


def page(user_id: int, username: str, role: Role = Role.ADMIN) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(user_id, role)
    return at.run()


def fill(at: AppTest, world: World, name: str = "Pilot") -> AppTest:
    at.text_input(key="studies_name").input(name)
    for expert in world.experts:
        at.multiselect(key="studies_experts").select(expert)
    at.run()
    at.selectbox(key="studies_reference").select(world.experts[1])
    at.number_input(key="studies_washout").set_value(2)
    return at.run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def state(engine: Engine) -> str:
    with session_scope(engine) as session:
        return session.exec(select(Study.state)).one()


def test_bad_input_shows_the_message_and_writes_nothing(engine: Engine, world: World) -> None:
    at = page(world.admin, "admin")
    assert not at.exception
    assert "No studies yet" in at.info[0].value
    at.button(key="studies_create").click().run()
    assert errors(at) == ["A study name needs 1 to 128 characters."]
    at.text_input(key="studies_name").input("Pilot")
    at.multiselect(key="studies_experts").select(world.experts[0]).run()
    at.button(key="studies_create").click().run()
    assert errors(at) == ["The reference expert must be one of the study's experts."]
    at.selectbox(key="studies_reference").select(world.experts[0])
    at.radio(key="studies_videos_mode").set_value("picked").run()
    at.button(key="studies_create").click().run()
    assert errors(at) == [
        f"Run {world.run_id} has no video to study with this selection (each needs both CAMs)."
    ]
    at.number_input(key="studies_washout").set_value(9)
    at.multiselect(key="studies_videos").select(world.videos[0]).select(world.videos[1])
    at.number_input(key="studies_reread").set_value(0.5)
    at.button(key="studies_create").click().run()
    assert errors(at) == [
        "2 videos are too few for 1 re-reads after a washout of 9; lower the re-read share or the washout."
    ]
    assert count(engine, Study) == 0 and count(engine, StudyItem) == 0


def test_hand_picked_videos_are_offered_by_name(engine: Engine, world: World) -> None:
    at = fill(page(world.admin, "admin"), world, "Picked")
    at.radio(key="studies_videos_mode").set_value("picked").run()
    picker = at.multiselect(key="studies_videos")
    classes = ["COVID-19", "Bacterial pneumonia", "Healthy"] * 3
    expected = [f"run{world.run_id}-video{i}.mp4 · {c}" for i, c in enumerate(classes)]
    expected[4] += " · misclassified"
    assert picker.options == expected
    picker.select(world.videos[2]).select(world.videos[7])
    at.number_input(key="studies_reread").set_value(0.0)
    at.button(key="studies_create").click().run()
    assert not errors(at)
    study_id = at.session_state["studies_pick"]
    assert {i.video_id for i in items_of(engine, study_id, world.experts[0])} == {
        world.videos[2],
        world.videos[7],
    }


def test_create_open_close_and_the_key_only_after_closing(engine: Engine, world: World) -> None:
    at = fill(page(world.admin, "admin"), world)
    at.button(key="studies_create").click().run()
    assert not at.exception and not errors(at)
    assert at.success[0].value == "Draft study **Pilot** created; check the balance, then open it."
    overview, progress, balance = (frame.value for frame in at.dataframe)
    assert list(overview["Study"]) == ["Pilot"] and list(overview["State"]) == ["Draft"]
    assert list(progress["Expert"]) == ["expert0", "expert1 (reference)"]
    assert list(progress["Answered"]) == ["0 / 9", "0 / 9"]  # 8 correct videos, 1 hidden re-read
    assert list(balance["Items"]) == [9, 9] and list(balance["Balanced"]) == ["✓", "✓"]
    assert list(balance["Train-CAM left"] + balance["Test-CAM left"]) == [9, 9]
    assert not at.get("download_button")

    at.button(key="studies_move").click().run()
    assert "Open **Pilot**?" in at.warning[0].value
    at.button(key="studies_move_cancel").click().run()
    assert state(engine) == "draft" and not at.warning
    before = warm_job(1)
    at.button(key="studies_move").click().run()
    at.button(key="studies_move_confirm").click().run()
    assert state(engine) == "open" and at.success[0].value == "Study **Pilot** opened."
    assert len(at.dataframe) == 3 and not at.get("download_button")
    warming = warm_job(1)
    assert warming is not None and warming is not before  # started by the open, in the background
    warming.thread.join(TIMEOUT_S)
    assert (warming.prepared, warming.error) == (0, None)  # this world's videos have no files to encode

    at.button(key="studies_move").click().run()
    assert "Close **Pilot**?" in at.warning[0].value
    assert at.warning[0].value.endswith("0 of 18 answers are in.")  # what closing would freeze
    at.button(key="studies_move_confirm").click().run()
    assert state(engine) == "closed" and at.success[0].value == "Study **Pilot** closed."
    assert warm_job(1) is warming  # closing warms nothing
    assert "studies_move" not in [b.key for b in at.button]
    key = at.dataframe[3].value
    stored = items_of(engine, 1, world.experts[0]) + items_of(engine, 1, world.experts[1])
    assert sorted(key["item_id"]) == sorted(i.id for i in stored)
    assert {(r.item_id, r.left_kind) for r in key.itertuples()} == {(i.id, i.left_kind) for i in stored}
    assert at.get("download_button")


def test_experts_are_refused(world: World) -> None:
    at = page(world.experts[0], "expert0", Role.EXPERT)
    assert [e.value for e in at.error] == ["Your role does not give access to this page."]
    assert not at.title


def test_an_admin_who_is_an_expert_sees_the_balance_only_after_closing(engine: Engine, world: World) -> None:
    study_id = new_study(engine, world, expert_ids=[world.admin, world.experts[0]])
    at = page(world.admin, "admin")
    assert not at.exception and len(at.dataframe) == 2  # overview and progress, no balance check
    assert any("You are an expert of this study" in c.value for c in at.caption)
    with session_scope(engine) as session:
        open_study(session=session, study_id=study_id, actor_id=world.admin)
        close_study(session=session, study_id=study_id, actor_id=world.admin)
    at = page(world.admin, "admin")
    assert len(at.dataframe) == 4  # overview, progress, balance and the key
    assert not any("You are an expert of this study" in c.value for c in at.caption)


def description(engine: Engine) -> str:
    with session_scope(engine) as session:
        return session.exec(select(Study.description)).one()


def test_the_description_is_written_at_creation_edited_while_open_and_frozen_once_closed(
    engine: Engine, world: World
) -> None:
    at = fill(page(world.admin, "admin"), world)
    at.text_area(key="studies_description").input("  Judge the **B-lines** first.\n<b>Not bold</b>  ")
    at.button(key="studies_create").click().run()
    assert not at.exception and not errors(at)
    assert description(engine) == "Judge the **B-lines** first.\n<b>Not bold</b>"
    assert at.text_area(key="studies_description_1").value == description(engine)

    at.button(key="studies_move").click().run()
    at.button(key="studies_move_confirm").click().run()
    assert state(engine) == "open"
    assert at.text_area(key="studies_description_1").proto.max_chars == MAX_DESCRIPTION  # browser's limit
    at.text_area(key="studies_description_1").input(" Also judge the pleura. ")
    at.button(key="studies_description_save").click().run()
    assert not errors(at) and at.success[0].value == "Description of **Pilot** saved."
    assert description(engine) == "Also judge the pleura."
    assert at.text_area(key="studies_description_1").value == "Also judge the pleura."

    at.button(key="studies_move").click().run()
    at.button(key="studies_move_confirm").click().run()
    assert state(engine) == "closed"
    assert [t.key for t in at.text_area] == ["studies_description"]  # only the creation form's
    assert "studies_description_save" not in [b.key for b in at.button]
    assert [t.value for t in at.text] == ["Also judge the pleura."]
