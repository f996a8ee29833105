"""Reading the label history: decisions per video, its audit trail, and labels waiting for review.

Split from :mod:`reviewer.annotation`, which writes the history; nothing here changes a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import AuditLog, User, Video, VideoLabel
from reviewer.study_base import row_id
from reviewer.vocab import LabelAction

REVIEW_LIMIT = 50


@dataclass(frozen=True, slots=True)
class LabelEvent:
    """One row of a video's label history, with the name of who made it."""

    id: int
    label: str
    action: LabelAction
    reason: str | None
    user: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit row about a video, as the history view shows it."""

    action: str
    user: str | None
    at: datetime
    detail: dict[str, object]


@dataclass(frozen=True, slots=True)
class PendingReview:
    """A video whose current label nobody else has approved yet."""

    video_id: int
    display_name: str
    label: str
    label_id: int
    labelled_by: str | None
    at: datetime


def label_history(*, session: Session, video_id: int) -> list[LabelEvent]:
    """Every label decision on a video, oldest first, with who made it."""
    rows = session.exec(
        select(VideoLabel, User.display_name)
        .join(User, col(VideoLabel.user_id) == col(User.id), isouter=True)
        .where(VideoLabel.video_id == video_id)
        .order_by(col(VideoLabel.id))
    ).all()
    return [
        LabelEvent(row_id(row), row.label, LabelAction(row.action), row.reason, name, row.created_at)
        for row, name in rows
    ]


def video_audit(*, session: Session, video_id: int) -> list[AuditEvent]:
    """Everything the audit log holds about a video (ingest, labels, tags, regions), oldest first."""
    rows = session.exec(
        select(AuditLog, User.display_name)
        .join(User, col(AuditLog.user_id) == col(User.id), isouter=True)
        .where(AuditLog.entity == "video", AuditLog.entity_id == video_id)
        .order_by(col(AuditLog.id))
    ).all()
    return [AuditEvent(entry.action, name, entry.at, dict(entry.detail)) for entry, name in rows]


def pending_reviews(*, session: Session, reviewer_id: int, limit: int = REVIEW_LIMIT) -> list[PendingReview]:
    """Labelled videos whose latest decision is not an approval and was made by someone else.

    Oldest first, so labels do not wait for ever; the reviewer's own labels never show up.
    """
    newest = select(VideoLabel.video_id, func.max(VideoLabel.id).label("last_id")).group_by(
        col(VideoLabel.video_id)
    )
    latest = newest.subquery()
    rows = session.exec(
        select(VideoLabel, Video.display_name, User.display_name)
        .join(latest, col(VideoLabel.id) == latest.c.last_id)
        .join(Video, col(Video.id) == col(VideoLabel.video_id))
        .join(User, col(VideoLabel.user_id) == col(User.id), isouter=True)
        .where(VideoLabel.action != LabelAction.APPROVE.value)
        .where(col(VideoLabel.user_id).is_(None) | (col(VideoLabel.user_id) != reviewer_id))
        .order_by(col(VideoLabel.id))
        .limit(limit)
    ).all()
    return [
        PendingReview(row.video_id, video_name, row.label, row_id(row), who, row.created_at)
        for row, video_name, who in rows
    ]
