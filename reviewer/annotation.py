"""Video labels as an append-only history: set, approve, or change with a reason, and the review.

``Video.label`` is only ever the *current* label; every decision about it is a new
:class:`~db.models.VideoLabel` row plus an audit row, written in the caller's transaction, so the
history of a label (who said what, when and why) can never be overwritten. Every label change in the
product goes through :func:`change_label`: the annotator's form, the second annotator's review and
the relabel queue alike. The four-eyes rule (nobody reviews their own label) lives in
:func:`review_label`; reading the history is :mod:`reviewer.annotation_history`.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import Video, VideoLabel
from reviewer.audit import record
from reviewer.ingest_options import IngestError, parse_label
from reviewer.study_base import row_id
from reviewer.vocab import LabelAction, LusClass

MAX_REASON = 1000
OWN_LABEL = "You gave this label yourself; another annotator has to review it."
STALE = "This label was changed by someone else since you opened it; reload the video and decide again."


class AnnotationError(ValueError):
    """A label or annotation request that cannot be honoured; the message is safe to show."""


def change_label(
    *,
    session: Session,
    video_id: int,
    label: LusClass | str,
    reason: str | None,
    actor_id: int | None,
    action: LabelAction | str | None = None,
    expected_label_id: int | None = None,
) -> VideoLabel:
    """Append a label decision, make it the video's current label and audit it, in one transaction.

    ``approve`` confirms the current label (and needs no reason), ``change`` replaces it (and needs
    one, so a later reader knows why), ``set`` gives a first label or an annotator's own correction.
    Without ``action``, a first label is a set, keeping the current one an approval (or, when the
    actor gave it, their own set: nobody approves their own label), any other a change.
    Pass ``expected_label_id`` (the latest history row the user saw) to refuse a decision made on a
    label someone else changed meanwhile. The row is flushed, so its ``id`` can be linked to.

    Raises:
        AnnotationError: for an unknown video, class or action, a missing or overlong reason, an
            approval of a video without label, a change to the same label, or a stale view.
    """
    video = video_or_error(session=session, video_id=video_id)
    new = _class(label)
    kind = _four_eyes(session, video, _action(action, current=video.label, new=new), action, actor_id)
    _check_decision(session, video, new, kind, expected_label_id)
    note = _reason(reason, required=kind is LabelAction.CHANGE)
    return _append(
        session,
        video,
        VideoLabel(video_id=video_id, label=new.value, action=kind.value, reason=note, user_id=actor_id),
    )


def _append(session: Session, video: Video, row: VideoLabel) -> VideoLabel:
    """Add the history row, make its label the current one and audit both, linked by the row id."""
    session.add(row)
    previous, video.label = video.label, row.label
    session.add(video)
    session.flush()
    record(
        session=session,
        action=f"label.{row.action}",
        entity="video",
        entity_id=row.video_id,
        user_id=row.user_id,
        label=row.label,
        previous=previous,
        reason=row.reason,
        label_id=row.id,
    )
    return row


def review_label(
    *,
    session: Session,
    video_id: int,
    reviewer_id: int,
    expected_label_id: int,
    label: LusClass | str | None = None,
    reason: str | None = None,
) -> VideoLabel:
    """A second annotator approves the current label (``label`` None) or changes it with a reason.

    Raises:
        AnnotationError: when the reviewer made the current label themselves (four eyes), or as
            :func:`change_label` does.
    """
    latest = latest_label(session=session, video_id=video_id)
    if latest is None:
        raise AnnotationError("This video has no label to review yet.")
    if latest.user_id == reviewer_id:
        raise AnnotationError(OWN_LABEL)
    return change_label(
        session=session,
        video_id=video_id,
        label=latest.label if label is None else label,
        reason=reason,
        actor_id=reviewer_id,
        expected_label_id=expected_label_id,
    )


def latest_label(*, session: Session, video_id: int) -> VideoLabel | None:
    """The newest history row of a video, whose ``id`` pages send back as ``expected_label_id``."""
    query = select(VideoLabel).where(VideoLabel.video_id == video_id).order_by(col(VideoLabel.id).desc())
    return session.exec(query.limit(1)).first()


def _check_decision(
    session: Session, video: Video, new: LusClass, kind: LabelAction, expected_label_id: int | None
) -> None:
    """Refuse stale views, approvals of another label and changes to the same label."""
    if expected_label_id is not None:
        latest = latest_label(session=session, video_id=row_id(video))
        if latest is None or latest.id != expected_label_id:
            raise AnnotationError(STALE)
    if kind is LabelAction.APPROVE and video.label != new.value:
        raise AnnotationError("Only the current label can be approved; to replace it, give a reason.")
    if kind is LabelAction.CHANGE and video.label == new.value:
        raise AnnotationError(f"The label already is {new.label}; approve it instead of changing it.")


def _four_eyes(
    session: Session, video: Video, kind: LabelAction, asked: LabelAction | str | None, actor_id: int | None
) -> LabelAction:
    """Nobody approves their own label: keeping it (the queue's "Confirm") is their own ``set``.

    So it still waits for a second annotator; an explicit approval of it is refused.
    """
    if kind is not LabelAction.APPROVE or actor_id is None:
        return kind
    latest = latest_label(session=session, video_id=row_id(video))
    if latest is None or latest.user_id != actor_id:
        return kind
    if asked is not None:
        raise AnnotationError(OWN_LABEL)
    return LabelAction.SET


def _action(action: LabelAction | str | None, *, current: str | None, new: LusClass) -> LabelAction:
    if action is None:
        if current is None:
            return LabelAction.SET
        return LabelAction.APPROVE if current == new.value else LabelAction.CHANGE
    try:
        return LabelAction(action)
    except ValueError as exc:
        raise AnnotationError(f"Unknown label action {str(action)[:32]!r}.") from exc


def _class(label: LusClass | str) -> LusClass:
    try:
        return parse_label(label)
    except IngestError as exc:
        raise AnnotationError(str(exc)) from exc


def _reason(reason: str | None, *, required: bool) -> str | None:
    text = " ".join((reason or "").split())
    if required and not text:
        raise AnnotationError("Say why the label changes; the reason is kept with the history.")
    if len(text) > MAX_REASON:
        raise AnnotationError(f"The reason is limited to {MAX_REASON} characters.")
    return text or None


def video_or_error(*, session: Session, video_id: int) -> Video:
    """The video row, locked for the rest of the transaction where the database can (PostgreSQL).

    Raises:
        AnnotationError: for an unknown id, so every annotation service refuses it the same way.
    """
    video = session.exec(select(Video).where(Video.id == video_id).with_for_update()).first()
    if video is None:
        raise AnnotationError(f"There is no video with id {video_id}.")
    return video
