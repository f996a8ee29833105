"""The expert's page driven with AppTest: study list, resume, refusals, form values, autosave, stale tabs,
runs without the page, presses from an outdated page and the reading time kept when leaving a video."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from db.models import User
from db.session import session_scope
from pages.common import SESSION_ENDED, VIEWER_KEY
from pages.review_form import score_key, shortcuts
from pages.review_state import IDLE_AFTER_S
from reviewer.review import AnswerForm
from reviewer.settings import Settings
from reviewer.study_setup import close_study, set_description
from reviewer.vocab import Role
from tests.code.page_support import viewer_of
from tests.code.review_support import ReviewWorld, answers_of, review_world
from tests.code.test_review import item
from tests.code.test_review import save as save_as

PAGE = Path(__file__).resolve().parents[2] / "pages" / "expert.py"
APP = PAGE.with_name("app.py")
TIMEOUT_S = 60
FULL = AnswerForm(score_a=2, score_b=-1, preferred="a", class_guess="covid")


@pytest.fixture
def world(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ReviewWorld:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    return review_world(engine, settings, n_videos=4, frames=3)


def page(user_id: int, *, study: int | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(user_id, Role.EXPERT)
    if study is not None:
        at.query_params["study"] = str(study)
    return at.run()


def save(
    engine: Engine,
    world: ReviewWorld,
    position: int,
    form: AnswerForm,
    *,
    expected: int | None,
    complete: bool = True,
) -> None:
    """Answer as expert0 through the service, as another tab or an earlier session would have."""
    expert = world.experts[0]
    token = item(engine, world.study_id, expert, position).item_token
    save_as(engine, world.study_id, expert, token, form, complete=complete, expected=expected)


def page_or_elsewhere(page_path: str) -> None:
    """The review page, or another page when ``test_elsewhere`` is set: a run that draws no form."""
    import runpy

    import streamlit as st

    if st.session_state.get("test_elsewhere"):
        st.title("Somewhere else", anchor=False)
    else:
        runpy.run_path(page_path)


def click(at: AppTest, key: str) -> AppTest:
    return at.button(key=key).click().run()


def rewind(at: AppTest, seconds: float) -> None:
    """Move the clock of the loaded video back, as if the expert had looked at it that much longer."""
    loaded = at.session_state["review_current"]
    at.session_state["review_current"] = dataclasses.replace(loaded, clock=loaded.clock - seconds)


def subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_the_list_shows_progress_and_resume_opens_the_first_open_video(
    engine: Engine, world: ReviewWorld
) -> None:
    for position in range(2):
        save(engine, world, position, FULL, expected=None)
    at = page(world.experts[0])
    assert not at.exception
    assert [p.proto.text for p in at.get("progress")] == ["2 / 4 answered"]
    assert at.button(key=f"review_open_{world.study_id}").label == "Resume"
    at = click(at, f"review_open_{world.study_id}")
    assert not at.exception
    assert subheaders(at) == ["Pilot · video 3 of 4"]
    assert at.query_params["study"] == str(world.study_id)


def test_outsiders_and_closed_studies_are_refused_with_a_message(engine: Engine, world: ReviewWorld) -> None:
    at = page(world.outsider, study=world.study_id)
    assert [e.value for e in at.error] == ["You are not part of this study."]
    assert not at.get("iframe") and not at.radio
    with session_scope(engine) as session:
        close_study(session=session, study_id=world.study_id, actor_id=world.admin)
    at = page(world.experts[0], study=world.study_id)
    assert [e.value for e in at.error] == ["This study is closed; answers can no longer be given or changed."]
    at = click(at, "review_back_refused")
    assert "No studies are assigned to you yet" in at.info[0].value


def test_scores_offer_exactly_the_scale_and_every_choice_is_autosaved(
    engine: Engine, world: ReviewWorld
) -> None:
    expert = world.experts[1]
    at = page(expert, study=world.study_id)
    for name in ("score_a", "score_b"):
        labels = [at.button(key=score_key(name, v)).label for v in range(-3, 4)]
        assert labels == ["-3", "-2", "-1", "0", "+1", "+2", "+3"]
    assert "-3 the heatmap is only distracting · 3 the heatmap is very helpful" in at.caption[0].value
    at = click(at, score_key("score_a", -3))
    at = click(at, score_key("score_b", 3))
    at = click(at, "review_pref_equal")
    at.radio(key="review_class_guess").set_value("unsure").run()
    at.multiselect(key="review_patterns_b").set_value(["b_lines", "rib_shadow"]).run()
    at.text_area(key="review_comment").input("  spot on the rib  ").run()
    stored = answers_of(engine, expert)[0]
    assert (stored["score_a"], stored["score_b"], stored["preferred"]) == (-3, 3, "equal")
    assert (stored["class_guess"], stored["patterns_b"], stored["comment"]) == (
        "unsure",
        ["b_lines", "rib_shadow"],
        "spot on the rib",
    )
    assert (stored["complete"], stored["revision"]) == (False, 6)
    assert stored["seconds_spent"] > 0
    assert at.button(key=score_key("score_a", -3)).proto.type == "primary"


def test_finishing_needs_the_required_fields_then_moves_on(engine: Engine, world: ReviewWorld) -> None:
    expert = world.experts[1]
    at = page(expert, study=world.study_id)
    at = click(at, score_key("score_a", 1))
    at = click(at, "review_next")
    assert not at.warning
    assert [i.value for i in at.info] == [
        "Not finished yet: please give the score B, preferred heatmap, class guess. "
        "Your other answers are saved."
    ]
    assert [c.value for c in at.caption if "Saved at" in c.value][0].endswith("(draft)")
    assert subheaders(at) == ["Pilot · video 1 of 4"]
    at = click(at, score_key("score_b", 0))
    assert not at.info  # the next autosave clears it
    at = click(at, "review_pref_b")
    at.radio(key="review_class_guess").set_value("healthy").run()
    at = click(at, "review_next")
    assert subheaders(at) == ["Pilot · video 2 of 4"]
    assert answers_of(engine, expert)[0]["complete"] is True
    at = click(at, "review_prev")
    assert subheaders(at) == ["Pilot · video 1 of 4"]
    assert at.radio(key="review_class_guess").value == "healthy"
    assert at.button(key="review_pref_b").proto.type == "primary"


def test_finishing_an_untouched_video_stores_no_empty_answer(engine: Engine, world: ReviewWorld) -> None:
    expert = world.experts[1]
    at = click(page(expert, study=world.study_id), "review_next")
    assert [i.value for i in at.info] == [
        "Not finished yet: please give the score A, score B, preferred heatmap, class guess."
    ]
    assert subheaders(at) == ["Pilot · video 1 of 4"] and not answers_of(engine, expert)


def test_a_stale_revision_shows_a_message_and_overwrites_nothing(engine: Engine, world: ReviewWorld) -> None:
    expert = world.experts[0]
    save(engine, world, 0, FULL, expected=None)
    at = page(expert, study=world.study_id)
    assert subheaders(at) == ["Pilot · video 2 of 4"]
    marks = ["1 (finished)", "2 (this video)", "3 (not started)", "4 (not started)"]
    assert at.selectbox(key="review_jump_1").options == marks
    at.selectbox(key="review_jump_1").set_value(0).run()
    assert subheaders(at) == ["Pilot · video 1 of 4"]
    save(engine, world, 0, dataclasses.replace(FULL, score_b=3), expected=1)  # another tab
    at = click(at, score_key("score_a", -2))
    assert "changed in another tab" in at.error[0].value
    stored = answers_of(engine, expert)[0]
    assert (stored["score_a"], stored["score_b"], stored["revision"]) == (2, 3, 2)
    rewind(at, 42)
    at = click(at, "review_reload")
    assert not at.error
    assert at.button(key=score_key("score_b", 3)).proto.type == "primary"
    at = click(at, score_key("score_a", -2))
    stored = answers_of(engine, expert)[0]
    assert (stored["score_a"], stored["score_b"]) == (-2, 3)
    assert stored["seconds_spent"] >= 42, "the time before the reload still counts"


def test_every_form_button_has_a_shortcut_on_its_own_key() -> None:
    keys = shortcuts()
    assert len(keys) == 2 * 7 + 3 + 2
    assert len(set(keys.values())) == len(keys)
    assert not set(keys.values()) & {"r", "c"}  # Streamlit's own rerun and clear-cache keys


SENT = (
    "iframe",
    "button",
    "radio",
    "multiselect",
    "selectbox",
    "text_area",
    "caption",
    "markdown",
    "subheader",
)


def test_nothing_the_page_sends_names_a_cam_type(world: ReviewWorld) -> None:
    at = page(world.experts[0], study=world.study_id)
    # streamlit-shortcuts' script names Streamlit's "data-testid" attribute: markup, not a hint
    sent = [str(e.proto).replace("data-testid", "") for kind in SENT for e in at.get(kind)]
    assert len(at.get("iframe")) == 2 and "Heatmap A" in sent[0] and "v0" in sent[0]
    assert all(re.search("train|test", text, re.IGNORECASE) is None for text in sent)


def test_a_click_from_a_page_drawn_for_another_video_is_dropped(engine: Engine, world: ReviewWorld) -> None:
    at = page(world.experts[1], study=world.study_id)
    at.session_state["review_current"] = dataclasses.replace(at.session_state["review_current"], position=3)
    at = click(at, score_key("score_a", 2))
    assert [t.value for t in at.toast] == ["The page was still loading; please make that choice again."]
    assert answers_of(engine, world.experts[1]) == {}


def test_after_a_run_without_the_page_the_form_shows_the_stored_answer_and_keeps_it(
    engine: Engine, world: ReviewWorld
) -> None:
    expert = world.experts[1]
    at = AppTest.from_function(page_or_elsewhere, args=(str(PAGE),), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(expert, Role.EXPERT)
    at.query_params["study"] = str(world.study_id)
    at.run()
    at.radio(key="review_class_guess").set_value("covid").run()
    at.multiselect(key="review_visible").set_value(["a_lines"]).run()
    at.multiselect(key="review_patterns_a").set_value(["b_lines"]).run()
    at.text_area(key="review_comment").input("pleural line").run()
    before = answers_of(engine, expert)[0]["seconds_spent"]
    rewind(at, IDLE_AFTER_S)  # the expert stays on the other page a long time
    at.session_state["test_elsewhere"] = True
    at.run()
    assert not at.radio and [t.value for t in at.title] == ["Somewhere else"]
    at.session_state["test_elsewhere"] = False
    at.run()
    assert at.radio(key="review_class_guess").value == "covid"
    assert at.multiselect(key="review_visible").value == ["a_lines"]
    assert at.multiselect(key="review_patterns_a").value == ["b_lines"]
    assert at.text_area(key="review_comment").value == "pleural line"
    at.multiselect(key="review_patterns_a").select("rib_shadow").run()
    stored = answers_of(engine, expert)[0]
    assert (stored["class_guess"], stored["patterns_visible"], stored["comment"]) == (
        "covid",
        ["a_lines"],
        "pleural line",
    )
    assert stored["patterns_a"] == ["b_lines", "rib_shadow"]
    assert stored["seconds_spent"] - before < IDLE_AFTER_S / 2, "time on another page is not reading time"


def test_leaving_a_video_stores_its_reading_time_but_creates_no_empty_answer(
    engine: Engine, world: ReviewWorld
) -> None:
    expert = world.experts[1]
    at = page(expert, study=world.study_id)
    at = click(at, score_key("score_a", 1))
    before = answers_of(engine, expert)[0]["seconds_spent"]
    rewind(at, 42)
    at.selectbox(key="review_jump_0").set_value(2).run()
    stored = answers_of(engine, expert)[0]
    assert (stored["revision"], stored["score_a"]) == (2, 1)
    assert stored["seconds_spent"] >= before + 42
    rewind(at, 42)
    at = click(at, "review_prev")
    assert subheaders(at) == ["Pilot · video 2 of 4"]
    rewind(at, 42)
    at = click(at, "review_back")
    assert list(answers_of(engine, expert)) == [0], "videos only looked at get no answer"
    at = click(at, f"review_open_{world.study_id}")
    rewind(at, 42)
    at = click(at, "review_back")
    assert answers_of(engine, expert)[0]["seconds_spent"] >= before + 2 * 42


def test_another_page_or_signing_out_keeps_the_reading_time_and_time_away_is_not_counted(
    engine: Engine, world: ReviewWorld
) -> None:
    expert = world.experts[1]
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(expert, Role.EXPERT)
    at.query_params["study"] = str(world.study_id)
    at = click(at.run(), score_key("score_a", 1))
    before = answers_of(engine, expert)[0]["seconds_spent"]
    rewind(at, 42)
    at.switch_page("account.py").run()
    after_leaving = answers_of(engine, expert)[0]["seconds_spent"]
    assert after_leaving >= before + 42
    assert "review_current" not in at.session_state  # the clock stops while the expert is elsewhere
    at.switch_page("expert.py").run()
    assert subheaders(at) == ["Pilot · video 1 of 4"]
    assert at.button(key=score_key("score_a", 1)).proto.type == "primary"
    rewind(at, 42)
    at = click(at, "app_sign_out")
    assert VIEWER_KEY not in at.session_state
    stored = answers_of(engine, expert)[0]
    assert stored["seconds_spent"] >= after_leaving + 42
    assert (stored["score_a"], stored["complete"]) == (1, False)


@pytest.mark.parametrize(("key", "drawn_at", "moved_to"), [("review_next", 0, 1), ("review_prev", 2, 1)])
def test_a_second_press_of_next_or_previous_from_the_page_of_the_video_before_is_dropped(
    engine: Engine, world: ReviewWorld, key: str, drawn_at: int, moved_to: int
) -> None:
    expert = world.experts[0]
    for position in range(4):
        save(engine, world, position, FULL, expected=None, complete=False)
    at = page(expert, study=world.study_id)
    at.selectbox(key="review_jump_0").set_value(drawn_at).run()
    assert subheaders(at) == [f"Pilot · video {drawn_at + 1} of 4"]
    # the first press has already moved the server to the next video when the second one arrives
    token = item(engine, world.study_id, expert, moved_to).item_token
    moved = dataclasses.replace(
        at.session_state["review_current"], position=moved_to, token=token, revision=1, draft=FULL
    )
    at.session_state["review_current"], at.session_state["review_position"] = moved, moved_to
    at = click(at, key)
    assert [t.value for t in at.toast] == ["The page was still loading; please make that choice again."]
    assert subheaders(at) == [f"Pilot · video {moved_to + 1} of 4"]
    stored = answers_of(engine, expert)[moved_to]
    assert (stored["complete"], stored["revision"]) == (False, 1)


def test_the_description_is_shown_as_typed_in_the_list_and_above_the_review(
    engine: Engine, world: ReviewWorld
) -> None:
    at = page(world.experts[0])
    assert not at.text and not at.expander  # no description, nothing drawn
    typed = "Judge the **B-lines** first.\n<script>alert(1)</script> # not a heading"
    with session_scope(engine) as session:
        set_description(session=session, study_id=world.study_id, description=typed, actor_id=world.admin)
    at = page(world.experts[0])
    assert [t.value for t in at.text] == [typed]
    at = click(at, f"review_open_{world.study_id}")
    assert not at.exception
    assert [e.label for e in at.expander] == ["Instructions for this study"]
    assert [t.value for t in at.expander[0].text] == [typed]
    assert not any(typed in m.value or "B-lines" in m.value for m in at.markdown)
    assert at.expander[0].proto.expanded  # open until the first answer
    save(engine, world, 0, FULL, expected=None)
    at = page(world.experts[0], study=world.study_id)
    assert not at.expander[0].proto.expanded  # then folded, so that the scores fit on the screen


def test_a_deactivated_expert_can_no_longer_save_from_an_open_page(
    engine: Engine, world: ReviewWorld
) -> None:
    """Score clicks rerun only the form's fragment, which skips the page's guard: saving re-checks."""
    expert = world.experts[1]
    at = click(page(expert, study=world.study_id), score_key("score_a", 1))
    assert answers_of(engine, expert)[0]["revision"] == 1
    with session_scope(engine) as session:
        session.get_one(User, expert).active = False
    at = click(at, score_key("score_b", 2))
    assert answers_of(engine, expert)[0]["score_b"] is None  # nothing written after the deactivation
    assert VIEWER_KEY not in at.session_state
    assert SESSION_ENDED in [warning.value for warning in at.warning]
