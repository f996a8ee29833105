"""The expert's side of a study: their open studies, one blinded item at a time, and saving answers.

Every rule that keeps an expert blinded and isolated lives here, not in the page: items are looked up
only among the caller's own, panels are named by opaque asset tokens (never by CAM type), nothing
about the prediction or other experts leaves this module, and answers are accepted only while the
study is open. Answers are the record of truth, so a save is one transaction that validates every
value before writing, refuses a stale revision (two tabs must not overwrite each other), and adds an
audit row with the old and the new values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import Answer, CamAsset, Study, StudyExpert, StudyItem, Video, utcnow
from reviewer.audit import record
from reviewer.review_form import (
    FIELDS,
    AnswerForm,
    FormError,
    Panel,
    ReviewError,
    ReviewItem,
    SavedAnswer,
    StaleAnswerError,
    StudyProgress,
    checked_values,
)
from reviewer.study_setup import is_blind, row_id
from reviewer.vocab import StudyState

__all__ = [
    "AnswerForm",
    "FormError",
    "ReviewError",
    "ReviewItem",
    "StaleAnswerError",
    "StudyProgress",
    "expert_studies",
    "item_states",
    "next_position",
    "review_item",
    "save_answer",
]

STALE = (
    "This answer was changed in another tab or window since you opened it. "
    "Reload the video to see the latest version, then make your change again."
)
CLOSED_RULE = {
    StudyState.DRAFT.value: "This study has not been opened yet.",
    StudyState.CLOSED.value: "This study is closed; answers can no longer be given or changed.",
}


def expert_studies(*, session: Session, expert_id: int) -> list[StudyProgress]:
    """The open studies that list this expert, by name, with their progress."""
    joined = select(StudyExpert.study_id).where(StudyExpert.user_id == expert_id)
    totals = session.exec(
        select(Study.id, Study.name, func.count(col(StudyItem.id)))
        .join(StudyItem, col(StudyItem.study_id) == Study.id)
        .where(
            col(Study.id).in_(joined), Study.state == StudyState.OPEN.value, StudyItem.expert_id == expert_id
        )
        .group_by(col(Study.id), col(Study.name))
        .order_by(col(Study.name))
    ).all()
    done = dict(
        session.exec(
            select(StudyItem.study_id, func.count(col(Answer.id)))
            .join(Answer, col(Answer.item_id) == StudyItem.id)
            .where(StudyItem.expert_id == expert_id, Answer.expert_id == expert_id, col(Answer.complete))
            .group_by(col(StudyItem.study_id))
        ).all()
    )
    return [StudyProgress(s, name, done.get(s, 0), total) for s, name, total in totals if s is not None]


def next_position(*, session: Session, study_id: int, expert_id: int) -> int | None:
    """Where the expert resumes: their first item without a complete answer; None when all are done."""
    _open_study_of(session, study_id, expert_id)
    done = select(Answer.item_id).where(Answer.expert_id == expert_id, col(Answer.complete))
    first = select(func.min(StudyItem.position)).where(
        StudyItem.study_id == study_id, StudyItem.expert_id == expert_id, col(StudyItem.id).not_in(done)
    )
    return session.exec(first).one()


def item_states(*, session: Session, study_id: int, expert_id: int) -> list[bool | None]:
    """Per position of the expert's list: True complete, False draft, None not started.

    The page shows it as a jump list, so an expert finds the item they want to revisit quickly.
    """
    _open_study_of(session, study_id, expert_id)
    rows = session.exec(
        select(StudyItem.position, Answer.complete)
        .join(
            Answer,
            (col(Answer.item_id) == StudyItem.id) & (col(Answer.expert_id) == expert_id),
            isouter=True,
        )
        .where(StudyItem.study_id == study_id, StudyItem.expert_id == expert_id)
        .order_by(col(StudyItem.position))
    ).all()
    return [complete for _, complete in rows]


def review_item(*, session: Session, study_id: int, expert_id: int, position: int) -> ReviewItem:
    """The blinded item at ``position`` (0-based) of the expert's own list, with their own answer.

    Panel A is the item's hidden ``left_kind``; only asset tokens and paths leave this function.
    """
    _open_study_of(session, study_id, expert_id)
    mine = (StudyItem.study_id == study_id, StudyItem.expert_id == expert_id)
    total = session.exec(select(func.count()).select_from(StudyItem).where(*mine)).one()
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < total:
        raise ReviewError(f"There is no video at this place; your list has {total} videos.")
    item = session.exec(select(StudyItem).where(*mine, StudyItem.position == position)).one()
    video = session.get(Video, item.video_id)
    left = session.get(CamAsset, item.left_asset_id) if item.left_asset_id is not None else None
    right = session.get(CamAsset, item.right_asset_id) if item.right_asset_id is not None else None
    if video is None or left is None or right is None or not (is_blind(left) and is_blind(right)):
        raise ReviewError("The heatmaps of this video are unavailable; please tell the study administrator.")
    answer = _answer_of(session, item, expert_id)
    return ReviewItem(
        study_id=study_id,
        position=position,
        total=total,
        item_token=item.token,
        video_id=item.video_id,
        video_path=video.file_path,
        panel_a=Panel.of(left),
        panel_b=Panel.of(right),
        answer=None if answer is None else SavedAnswer.of(answer),
    )


def save_answer(
    *,
    session: Session,
    study_id: int,
    expert_id: int,
    item_token: str,
    form: AnswerForm,
    complete: bool,
    expected_revision: int | None,
) -> Answer:
    """Store the expert's single answer to one of their items, in the caller's one transaction.

    Autosave calls this with ``complete=False``. A complete answer stays complete: later edits may
    change but not clear its required values, so a visit cannot silently remove it from the
    analysis. ``expected_revision`` is the revision the page loaded (None for a first answer); any
    other stored revision means another tab saved in between, and nothing is overwritten. Saving
    unchanged values with no new time is a no-op.
    """
    _open_study_of(session, study_id, expert_id, lock=True)
    item = _own_item(session, study_id, expert_id, item_token)
    answer = _answer_of(session, item, expert_id)
    if (None if answer is None else answer.revision) != expected_revision:
        raise StaleAnswerError(STALE)
    keep_complete = complete or (answer is not None and answer.complete)
    new = {**checked_values(form, complete=keep_complete), "complete": keep_complete}
    if (
        answer is not None
        and form.seconds_spent == 0
        and all(getattr(answer, k) == v for k, v in new.items())
    ):
        return answer  # nothing changed: no new revision, no audit row
    return _write(session, study_id, item, answer, new, seconds=float(form.seconds_spent))


def _write(
    session: Session,
    study_id: int,
    item: StudyItem,
    answer: Answer | None,
    new: dict[str, Any],
    *,
    seconds: float,
) -> Answer:
    """Apply checked values as the next revision and audit the old and the new values."""
    old = None if answer is None else _snapshot(answer)
    if answer is None:
        answer = Answer(item_id=row_id(item), expert_id=item.expert_id, revision=0, seconds_spent=0.0)
    for name, value in new.items():
        setattr(answer, name, value)
    answer.seconds_spent += seconds
    answer.revision += 1
    answer.updated_at = utcnow()
    session.add(answer)
    session.flush()
    record(
        session=session,
        action="answer.save",
        entity="answer",
        entity_id=answer.id,
        user_id=item.expert_id,
        study_id=study_id,
        item_id=item.id,
        old=old,
        new=_snapshot(answer),
    )
    return answer


def _open_study_of(session: Session, study_id: int, expert_id: int, *, lock: bool = False) -> Study:
    """The study, if the expert is listed in it and it is open; outsiders learn nothing about it."""
    listed = select(StudyExpert.id).where(StudyExpert.study_id == study_id, StudyExpert.user_id == expert_id)
    if session.exec(listed).first() is None:
        raise ReviewError("You are not part of this study.")
    # PostgreSQL: a shared lock, so closing the study waits for saves in flight and vice versa.
    study = session.get(
        Study, study_id, with_for_update={"read": True} if lock else None, populate_existing=lock
    )
    if study is None or study.state != StudyState.OPEN.value:
        raise ReviewError(CLOSED_RULE.get(study.state if study else "", "This study is not open."))
    return study


def _own_item(session: Session, study_id: int, expert_id: int, token: str) -> StudyItem:
    mine = select(StudyItem).where(
        StudyItem.token == token, StudyItem.study_id == study_id, StudyItem.expert_id == expert_id
    )
    item = session.exec(mine.with_for_update()).first()  # PostgreSQL: one save per item at a time
    if item is None:
        raise ReviewError("This video is not in your list for this study.")
    return item


def _answer_of(session: Session, item: StudyItem, expert_id: int) -> Answer | None:
    query = select(Answer).where(Answer.item_id == item.id, Answer.expert_id == expert_id)
    return session.exec(query).first()


def _snapshot(answer: Answer) -> dict[str, Any]:
    """The stored values an audit row keeps, before and after a change."""
    return {name: getattr(answer, name) for name in (*FIELDS, "complete", "seconds_spent", "revision")}
