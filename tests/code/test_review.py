"""The expert-facing service: blinding, isolation, resume, and answers that are never lost or overwritten."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import Answer, AuditLog, CamAsset
from db.session import session_scope
from reviewer.review import (
    AnswerForm,
    ReviewError,
    ReviewItem,
    StaleAnswerError,
    expert_studies,
    item_states,
    next_position,
    review_item,
    save_answer,
)
from reviewer.study_setup import KINDS, close_study, open_study
from tests.code.stock_study import CLASSES, World, items_of, make_world, new_study

REPO = Path(__file__).resolve().parents[2]
FULL = AnswerForm(
    score_a=2,
    score_b=-1,
    preferred="a",
    class_guess="covid",
    patterns_visible=("b_lines",),
    patterns_a=("skin", "b_lines"),
    comment=" clear B-lines ",
    seconds_spent=12.5,
)


def open_world(engine: Engine, **world: Any) -> tuple[World, int]:
    built = make_world(engine, **world)
    study_id = new_study(engine, built, expert_ids=built.experts[:2])
    with session_scope(engine) as session:
        open_study(session=session, study_id=study_id, actor_id=built.admin)
    return built, study_id


def item(engine: Engine, study_id: int, expert_id: int, position: int) -> ReviewItem:
    with session_scope(engine) as session:
        return review_item(session=session, study_id=study_id, expert_id=expert_id, position=position)


def save(
    engine: Engine,
    study_id: int,
    expert_id: int,
    token: str,
    form: AnswerForm = FULL,
    *,
    complete: bool = True,
    expected: int | None = None,
) -> Answer:
    with session_scope(engine) as session:
        return save_answer(
            session=session,
            study_id=study_id,
            expert_id=expert_id,
            item_token=token,
            form=form,
            complete=complete,
            expected_revision=expected,
        )


def resume(engine: Engine, study_id: int, expert_id: int) -> int | None:
    with session_scope(engine) as session:
        return next_position(session=session, study_id=study_id, expert_id=expert_id)


def answers(engine: Engine) -> list[Answer]:
    with session_scope(engine) as session:
        return list(session.exec(select(Answer)))


def answer_audit(engine: Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.action == "answer.save").order_by(col(AuditLog.id))
        )
        return [row.detail for row in rows]


def test_progress_and_resume_follow_complete_answers_only(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=5)
    expert = world.experts[0]
    for position in range(3):
        save(engine, study_id, expert, item(engine, study_id, expert, position).item_token)
    save(engine, study_id, expert, item(engine, study_id, expert, 3).item_token, complete=False)
    assert resume(engine, study_id, expert) == 3
    with session_scope(engine) as session:
        (progress,) = expert_studies(session=session, expert_id=expert)
    assert (progress.study_id, progress.name, progress.label) == (study_id, "Pilot", "3 / 5")
    reloaded = item(engine, study_id, expert, 1).answer
    assert reloaded is not None and reloaded.complete and reloaded.revision == 1
    assert reloaded.form == dataclasses.replace(
        FULL, patterns_a=("b_lines", "skin"), comment="clear B-lines", seconds_spent=0.0
    )
    assert resume(engine, study_id, world.experts[1]) == 0
    for position in range(3, 5):
        token = item(engine, study_id, expert, position).item_token
        save(engine, study_id, expert, token, expected=1 if position == 3 else None)
    assert resume(engine, study_id, expert) is None


def test_outsiders_are_refused_and_see_nothing(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=3, experts=3)
    outsider, member = world.experts[2], world.experts[0]
    token = item(engine, study_id, member, 0).item_token
    calls: list[Callable[[], object]] = [
        lambda: item(engine, study_id, outsider, 0),
        lambda: resume(engine, study_id, outsider),
        lambda: save(engine, study_id, outsider, token),
        lambda: item(engine, 999, member, 0),
    ]
    for call in calls:
        with pytest.raises(ReviewError, match="You are not part of this study"):
            call()
    with session_scope(engine) as session:
        assert expert_studies(session=session, expert_id=outsider) == []
    assert answers(engine) == []


def test_items_carry_no_cam_type_prediction_or_label(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=6)
    expert = world.experts[0]
    with session_scope(engine) as session:
        assets = {a.token: a.kind for a in session.exec(select(CamAsset))}
    for stored in items_of(engine, study_id, expert):
        shown = item(engine, study_id, expert, stored.position)
        assert {f.name for f in dataclasses.fields(shown)} == {
            *("study_id", "position", "total", "item_token", "video_id", "video_path"),
            *("panel_a", "panel_b", "answer"),
        }
        text = json.dumps(dataclasses.asdict(shown)).lower()
        assert not any(word in text for word in (*KINDS, *CLASSES, "kind"))
        assert assets[shown.panel_a.token] == stored.left_kind
        assert {assets[shown.panel_a.token], assets[shown.panel_b.token]} == set(KINDS)


def test_experts_never_see_or_touch_each_others_answers(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=4)
    first, second = world.experts
    mine = item(engine, study_id, first, 0)
    save(engine, study_id, first, mine.item_token)
    theirs = next(i for i in items_of(engine, study_id, second) if i.video_id == mine.video_id)
    shown = item(engine, study_id, second, theirs.position)
    assert shown.answer is None and shown.item_token != mine.item_token
    with pytest.raises(ReviewError, match="not in your list"):
        save(engine, study_id, second, mine.item_token, dataclasses.replace(FULL, score_a=-3), expected=1)
    (stored,) = answers(engine)
    assert (stored.expert_id, stored.score_a, stored.revision) == (first, 2, 1)


@pytest.mark.parametrize("expected", [None, 1, 3])
def test_a_stale_revision_is_refused_and_nothing_is_overwritten(
    any_engine: Engine, expected: int | None
) -> None:
    world, study_id = open_world(any_engine, n_videos=2)
    expert = world.experts[0]
    token = item(any_engine, study_id, expert, 0).item_token
    save(any_engine, study_id, expert, token, complete=False)
    second = save(any_engine, study_id, expert, token, dataclasses.replace(FULL, score_b=3), expected=1)
    assert second.revision == 2
    with pytest.raises(StaleAnswerError, match="changed in another tab"):
        save(any_engine, study_id, expert, token, dataclasses.replace(FULL, score_b=-3), expected=expected)
    (stored,) = answers(any_engine)
    assert (stored.score_b, stored.revision, stored.seconds_spent) == (3, 2, 25.0)


def test_answers_are_accepted_only_while_the_study_is_open(engine: Engine) -> None:
    world = make_world(engine, n_videos=2)
    study_id = new_study(engine, world)
    expert = world.experts[0]
    with pytest.raises(ReviewError, match="not been opened yet"):
        item(engine, study_id, expert, 0)
    with session_scope(engine) as session:
        open_study(session=session, study_id=study_id, actor_id=world.admin)
    token = item(engine, study_id, expert, 0).item_token
    save(engine, study_id, expert, token)
    with session_scope(engine) as session:
        close_study(session=session, study_id=study_id, actor_id=world.admin)
    for call in (
        lambda: save(engine, study_id, expert, token, expected=1),
        lambda: item(engine, study_id, expert, 0),
    ):
        with pytest.raises(ReviewError, match="closed; answers can no longer"):
            call()
    with session_scope(engine) as session:
        assert expert_studies(session=session, expert_id=expert) == []
    assert [(a.score_a, a.revision) for a in answers(engine)] == [(2, 1)]


def test_every_change_is_audited_with_old_and_new_values(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=2)
    expert = world.experts[0]
    token = item(engine, study_id, expert, 0).item_token
    draft = AnswerForm(score_a=1, seconds_spent=4)
    save(engine, study_id, expert, token, draft, complete=False)
    save(engine, study_id, expert, token, expected=1)
    save(engine, study_id, expert, token, dataclasses.replace(FULL, score_a=-2, seconds_spent=0), expected=2)
    unchanged = save(
        engine, study_id, expert, token, dataclasses.replace(FULL, score_a=-2, seconds_spent=0), expected=3
    )
    assert unchanged.revision == 3  # no change: no revision, no audit row
    audit = answer_audit(engine)
    assert [a["old"] and a["old"]["revision"] for a in audit] == [None, 1, 2]
    assert [a["new"]["revision"] for a in audit] == [1, 2, 3]
    assert [a["new"]["score_a"] for a in audit] == [1, 2, -2]
    assert [a["new"]["complete"] for a in audit] == [False, True, True]
    assert [a["new"]["seconds_spent"] for a in audit] == [4.0, 16.5, 16.5]
    assert all(a["new"] == b["old"] for a, b in zip(audit, audit[1:], strict=False))
    assert audit[-1]["new"]["patterns_a"] == ["b_lines", "skin"]  # vocabulary order


@pytest.mark.parametrize("position", [-1, 2, True, "0"])
def test_positions_outside_the_list_are_refused(engine: Engine, position: Any) -> None:
    world, study_id = open_world(engine, n_videos=2)
    with pytest.raises(ReviewError, match="your list has 2 videos"):
        item(engine, study_id, world.experts[0], position)


def test_item_states_follow_the_expert_s_own_answers(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=4)
    expert, other = world.experts
    save(engine, study_id, expert, item(engine, study_id, expert, 2).item_token)
    save(engine, study_id, expert, item(engine, study_id, expert, 0).item_token, complete=False)
    save(engine, study_id, other, item(engine, study_id, other, 1).item_token)
    with session_scope(engine) as session:
        assert item_states(session=session, study_id=study_id, expert_id=expert) == [False, None, True, None]
        with pytest.raises(ReviewError, match="not part of this study"):
            item_states(session=session, study_id=study_id, expert_id=world.researcher)
