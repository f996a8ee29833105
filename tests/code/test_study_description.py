"""A study's description: set at creation, edited while draft or open, frozen once closed, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import AuditLog, Study
from db.session import session_scope
from reviewer.study_description import expert_descriptions
from reviewer.study_setup import MAX_DESCRIPTION, StudyError, close_study, open_study, set_description
from tests.code.stock_study import count, make_world, new_study


def _description(engine: Engine, study_id: int) -> str:
    with session_scope(engine) as session:
        return session.get_one(Study, study_id).description


def _edits(engine: Engine, study_id: int) -> list[dict[str, object]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(AuditLog)
            .where(AuditLog.action == "study.describe", AuditLog.entity_id == study_id)
            .order_by(col(AuditLog.id))
        )
        return [{"user": r.user_id, **r.detail} for r in rows]


def _edit(engine: Engine, study_id: int, text: str, actor_id: int | None) -> None:
    with session_scope(engine) as session:
        set_description(session=session, study_id=study_id, description=text, actor_id=actor_id)


def test_creation_stores_the_stripped_description_and_audits_it(any_engine: Engine) -> None:
    world = make_world(any_engine)
    plain = new_study(any_engine, world, name="Plain")
    described = new_study(any_engine, world, description="\n  Score B-lines first.\nThen the rest.  \n")
    assert _description(any_engine, plain) == ""
    assert _description(any_engine, described) == "Score B-lines first.\nThen the rest."
    with session_scope(any_engine) as session:
        created = session.exec(
            select(AuditLog).where(AuditLog.action == "study.create", AuditLog.entity_id == described)
        ).one()
    assert created.detail["description"] == "Score B-lines first.\nThen the rest."


def test_a_description_longer_than_the_limit_is_refused_and_nothing_is_stored(any_engine: Engine) -> None:
    world = make_world(any_engine)
    with pytest.raises(StudyError, match=f"at most {MAX_DESCRIPTION} characters; this one has 4001"):
        new_study(any_engine, world, description="x" * (MAX_DESCRIPTION + 1))
    assert count(any_engine, Study) == 0
    study_id = new_study(any_engine, world, description=" " + "x" * MAX_DESCRIPTION + " ")
    assert len(_description(any_engine, study_id)) == MAX_DESCRIPTION
    with pytest.raises(StudyError, match="at most"):
        _edit(any_engine, study_id, "y" * (MAX_DESCRIPTION + 1), world.admin)
    assert _description(any_engine, study_id) == "x" * MAX_DESCRIPTION
    assert _edits(any_engine, study_id) == []


def test_admins_edit_draft_and_open_studies_with_an_audit_row_each(any_engine: Engine) -> None:
    world = make_world(any_engine)
    study_id = new_study(any_engine, world, description="First draft")
    _edit(any_engine, study_id, "  Judge the pleura.  ", world.admin)
    with session_scope(any_engine) as session:
        open_study(session=session, study_id=study_id, actor_id=world.admin)
    _edit(any_engine, study_id, "Judge the pleura; ignore the ribs.", None)
    assert _description(any_engine, study_id) == "Judge the pleura; ignore the ribs."
    assert _edits(any_engine, study_id) == [
        {"user": world.admin, "previous": "First draft", "description": "Judge the pleura."},
        {"user": None, "previous": "Judge the pleura.", "description": "Judge the pleura; ignore the ribs."},
    ]


def test_closed_studies_and_non_admins_cannot_edit(any_engine: Engine) -> None:
    world = make_world(any_engine)
    study_id = new_study(any_engine, world, description="As answered")
    with pytest.raises(StudyError, match="Only administrators"):
        _edit(any_engine, study_id, "Sneaky", world.experts[0])
    with session_scope(any_engine) as session:
        open_study(session=session, study_id=study_id, actor_id=world.admin)
        close_study(session=session, study_id=study_id, actor_id=world.admin)
    with pytest.raises(StudyError, match="'Pilot' is closed; its description can no longer change"):
        _edit(any_engine, study_id, "Too late", world.admin)
    assert _description(any_engine, study_id) == "As answered"
    assert _edits(any_engine, study_id) == []


def test_experts_see_descriptions_of_their_open_studies_only(any_engine: Engine) -> None:
    world = make_world(any_engine, experts=3)
    mine = new_study(any_engine, world, name="Mine", expert_ids=world.experts[:2], description="Read me")
    blank = new_study(any_engine, world, name="Blank", expert_ids=world.experts[:2])
    draft = new_study(any_engine, world, name="Draft", expert_ids=world.experts[:2], description="Not yet")
    other = new_study(
        any_engine,
        world,
        name="Other",
        expert_ids=world.experts[1:],
        reference_expert_id=world.experts[1],
        description="Not yours",
    )
    with session_scope(any_engine) as session:
        for study_id in (mine, blank, other):
            open_study(session=session, study_id=study_id, actor_id=world.admin)
        assert expert_descriptions(session=session, expert_id=world.experts[0]) == {mine: "Read me"}
        assert expert_descriptions(session=session, expert_id=world.experts[1]) == {
            mine: "Read me",
            other: "Not yours",
        }
    assert _description(any_engine, draft) == "Not yet"


def test_saving_an_unchanged_description_writes_no_audit_row(any_engine: Engine) -> None:
    world = make_world(any_engine)
    study_id = new_study(any_engine, world, description="Score every video.")
    _edit(any_engine, study_id, "  Score every video. ", world.admin)
    assert _edits(any_engine, study_id) == []
    _edit(any_engine, study_id, "Score every video twice.", world.admin)
    assert len(_edits(any_engine, study_id)) == 1
