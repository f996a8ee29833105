"""A study's life: draft -> open -> closed, and the key that may be read only once it is closed.

Every move is checked against the one state it may start from, locks the study row (so PostgreSQL
waits for answers being saved) and leaves an audit row. The key (which side was which) stays in
the database until the study is closed, and then only administrators and researchers may read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from db.models import Study, StudyItem, User, utcnow
from reviewer.audit import record
from reviewer.stats_data import other_kind
from reviewer.study_base import StudyError, get_study, require_admin, row_id
from reviewer.users import can
from reviewer.vocab import Role, StudyState

# Each move names the one state it may start from and the rule shown when it may not.
MOVES = {
    StudyState.OPEN: (StudyState.DRAFT, "Only a draft study can be opened"),
    StudyState.CLOSED: (StudyState.OPEN, "Only an open study can be closed"),
}


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """The unblinded truth about one item, for analysis after the study is closed."""

    item_id: int
    expert_id: int
    position: int
    video_id: int
    left_kind: str
    reread_of_id: int | None

    @property
    def right_kind(self) -> str:
        """The CAM type shown on the right (panel B)."""
        return other_kind(self.left_kind)


def open_study(*, session: Session, study_id: int, actor_id: int | None) -> Study:
    """Draft -> open: from now on the listed experts can answer."""
    return _move(session, study_id, actor_id, StudyState.OPEN)


def close_study(*, session: Session, study_id: int, actor_id: int | None) -> Study:
    """Open -> closed: answers are frozen and the key becomes readable for analysis."""
    return _move(session, study_id, actor_id, StudyState.CLOSED)


def study_key(*, session: Session, study_id: int, viewer: int | None) -> list[KeyEntry]:
    """Which CAM type was on which side, for user id ``viewer``; admins and researchers only, once closed.

    ``viewer`` None is the command line, which administers the database file it holds.
    """
    if viewer is not None:
        user = session.get(User, viewer)
        if user is None or not user.active or not can(user, Role.RESEARCHER):
            raise StudyError("Only administrators and researchers may see a study's key.")
    if get_study(session, study_id).state != StudyState.CLOSED.value:
        raise StudyError("The key is shown only after the study is closed.")
    items = session.exec(
        select(StudyItem)
        .where(StudyItem.study_id == study_id)
        .order_by(col(StudyItem.expert_id), col(StudyItem.position))
    )
    return [
        KeyEntry(row_id(i), i.expert_id, i.position, i.video_id, i.left_kind, i.reread_of_id) for i in items
    ]


def _move(session: Session, study_id: int, actor_id: int | None, target: StudyState) -> Study:
    require_admin(session, actor_id)
    study = get_study(session, study_id, lock=True)  # PostgreSQL: wait for saves in flight
    source, rule = MOVES[target]
    if study.state != source.value:
        raise StudyError(f"{rule}; study {study.name!r} is {study.state}.")
    previous, study.state = study.state, target.value
    if target is StudyState.OPEN:
        study.opened_at = utcnow()
    else:
        study.closed_at = utcnow()
    session.flush()
    record(
        session=session,
        action=f"study.{target.value}",
        entity="study",
        entity_id=study.id,
        user_id=actor_id,
        from_state=previous,
        to_state=target.value,
    )
    return study
