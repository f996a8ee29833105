"""A study's description: the administrator's instructions to its experts, editable until it closes.

Experts may need a clarification while they are answering, so an open study's description can still
change; a closed study's cannot, because its answers were given under the text it had then. Every
edit leaves an audit row with the old and the new text. The text is shown as typed, never as HTML.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import Study, StudyExpert
from reviewer.audit import record
from reviewer.study_base import StudyError, get_study, require_admin
from reviewer.vocab import StudyState

MAX_DESCRIPTION = 4000  # a page of instructions; enforced here because SQLite ignores TEXT lengths
EDITABLE = (StudyState.DRAFT.value, StudyState.OPEN.value)


def clean_description(text: str) -> str:
    """The description as stored: stripped, and refused when longer than :data:`MAX_DESCRIPTION`."""
    clean = text.strip()
    if len(clean) > MAX_DESCRIPTION:
        raise StudyError(
            f"A study description may have at most {MAX_DESCRIPTION} characters; this one has {len(clean)}."
        )
    return clean


def set_description(*, session: Session, study_id: int, description: str, actor_id: int | None) -> Study:
    """Replace the description of a draft or open study, with an audit row of the old and new text.

    The study row is locked, so the edit cannot race a closing that happens at the same time. Saving
    the text unchanged writes nothing.
    """
    require_admin(session, actor_id)
    clean = clean_description(description)
    study = get_study(session, study_id, lock=True)
    if study.state not in EDITABLE:
        raise StudyError(f"Study {study.name!r} is {study.state}; its description can no longer change.")
    if study.description == clean:  # a save without a change leaves no audit row to wade through
        return study
    previous, study.description = study.description, clean
    session.flush()
    record(
        session=session,
        action="study.describe",
        entity="study",
        entity_id=study.id,
        user_id=actor_id,
        previous=previous,
        description=clean,
    )
    return study


def expert_descriptions(*, session: Session, expert_id: int) -> dict[int, str]:
    """Non-empty descriptions of the open studies that list this expert, by study id."""
    rows = session.exec(
        select(Study.id, Study.description).where(
            col(Study.id).in_(select(StudyExpert.study_id).where(StudyExpert.user_id == expert_id)),
            Study.state == StudyState.OPEN.value,
            Study.description != "",
        )
    ).all()
    return {study_id: text for study_id, text in rows if study_id is not None}
