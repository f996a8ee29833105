"""The annotator's label form: class, probe, visible patterns and a free comment, saved as one action.

Each field that changed is written and audited with its old and new value in the caller's
transaction; the class goes through :func:`reviewer.annotation.change_label`, so a first label is a
``set`` and any later different label a ``change`` that needs a reason. Pattern tags are the
annotator's own assertions: saving replaces *their* tags and leaves the dataset's and other people's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from db.models import PatternTag
from reviewer.annotation import AnnotationError, change_label, latest_label, video_or_error
from reviewer.audit import record
from reviewer.catalog import PATTERN_ORDER
from reviewer.study_base import row_id
from reviewer.vocab import Pattern, Probe, TagSource

MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class AnnotationForm:
    """What the label form sends; ``reason`` is needed only when an existing label changes."""

    label: str | None
    probe: str
    patterns: tuple[str, ...] = ()
    comment: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AnnotationState:
    """What the form shows: the current values, the user's own tags and the latest history row id."""

    video_id: int
    display_name: str
    label: str | None
    probe: str
    patterns: tuple[str, ...]
    comment: str | None
    label_id: int | None


def annotation_state(*, session: Session, video_id: int, user_id: int) -> AnnotationState:
    """The form's starting values for one user; send ``label_id`` back when saving.

    Raises:
        AnnotationError: for an unknown video.
    """
    video = video_or_error(session=session, video_id=video_id)
    latest = latest_label(session=session, video_id=video_id)
    return AnnotationState(
        video_id=video_id,
        display_name=video.display_name,
        label=video.label,
        probe=video.probe,
        patterns=tuple(sorted(_own_tags(session, video_id, user_id), key=PATTERN_ORDER.__getitem__)),
        comment=video.comment,
        label_id=None if latest is None else row_id(latest),
    )


def save_annotation(
    *,
    session: Session,
    video_id: int,
    form: AnnotationForm,
    actor_id: int,
    expected_label_id: int | None = None,
) -> list[str]:
    """Store what changed in the form and return the names of the changed fields (empty: nothing).

    Raises:
        AnnotationError: for unknown values, an overlong comment, a label change without reason or a
            label changed by someone else since the form was opened.
    """
    probe, patterns, comment = _checked(form)
    video = video_or_error(session=session, video_id=video_id)
    changed: list[str] = []
    if form.label is not None and form.label != video.label:  # a first label is set, others change
        change_label(
            session=session,
            video_id=video_id,
            label=form.label,
            reason=form.reason,
            actor_id=actor_id,
            expected_label_id=expected_label_id,
        )
        changed.append("label")
    before = {"probe": video.probe, "comment": video.comment}
    video.probe, video.comment = probe.value, comment
    changed += [name for name, old in before.items() if getattr(video, name) != old]
    old_tags = _own_tags(session, video_id, actor_id)
    if set(patterns) != old_tags:
        _replace_tags(session, video_id, actor_id, old_tags, patterns)
        changed.append("patterns")
    if set(changed) - {"label"}:
        session.add(video)
        record(
            session=session,
            action="video.annotate",
            entity="video",
            entity_id=video_id,
            user_id=actor_id,
            before={**before, "patterns": sorted(old_tags)},
            after={"probe": video.probe, "comment": video.comment, "patterns": sorted(patterns)},
        )
    session.flush()
    return changed


def _checked(form: AnnotationForm) -> tuple[Probe, tuple[str, ...], str | None]:
    try:
        probe = Probe(form.probe)
        patterns = tuple(dict.fromkeys(Pattern(p).value for p in form.patterns))
    except ValueError as exc:
        raise AnnotationError(f"Unknown value in the form: {exc}.") from exc
    comment = (form.comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise AnnotationError(f"The comment is limited to {MAX_COMMENT} characters.")
    return probe, patterns, comment or None


def _own_tags(session: Session, video_id: int, user_id: int) -> set[str]:
    rows = session.exec(
        select(PatternTag.pattern).where(
            PatternTag.video_id == video_id,
            PatternTag.user_id == user_id,
            PatternTag.source == TagSource.ANNOTATOR.value,
        )
    )
    return set(rows)


def _replace_tags(session: Session, video_id: int, user_id: int, old: set[str], new: tuple[str, ...]) -> None:
    removed = session.exec(
        select(PatternTag).where(
            PatternTag.video_id == video_id,
            PatternTag.user_id == user_id,
            PatternTag.source == TagSource.ANNOTATOR.value,
            col(PatternTag.pattern).in_(old - set(new)),
        )
    )
    for tag in removed:
        session.delete(tag)
    for pattern in new:
        if pattern not in old:
            session.add(
                PatternTag(
                    video_id=video_id, pattern=pattern, source=TagSource.ANNOTATOR.value, user_id=user_id
                )
            )
