"""The annotator's label form: class, probe, visible patterns and a free comment, saved as one action.

Each field that changed is written and audited with its old and new value in the caller's
transaction; the class goes through :func:`reviewer.annotation.change_label`, so a first label is a
``set`` and any later different label a ``change`` that needs a reason. Pattern tags are the
annotator's own assertions: saving replaces *their* tags and leaves the dataset's and other people's.
Every save is checked against the values the form was opened with, so two annotators working on the
same video never overwrite each other without seeing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from db.models import PatternTag, Video
from reviewer.annotation import AnnotationError, change_label, latest_label, video_or_error
from reviewer.audit import record
from reviewer.catalog import PATTERN_ORDER
from reviewer.study_base import row_id
from reviewer.vocab import Pattern, Probe, TagSource

MAX_COMMENT = 2000
NO_UNLABEL = (
    "A class, once given, cannot be taken away (the label history keeps every decision): choose the class "
    "this video should have and say why."
)
STALE_FORM = (
    "Someone saved this video's annotation after you opened the form, so nothing was saved. "
    "Reload the form to see what is stored now, then make your changes again."
)


class StaleAnnotationError(AnnotationError):
    """The form was opened on values that have changed since; the page offers to reload it."""


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
    *, session: Session, loaded: AnnotationState, form: AnnotationForm, actor_id: int
) -> list[str]:
    """Store what changed in the form and return the names of the changed fields (empty: nothing).

    ``loaded`` is the :func:`annotation_state` the form was opened with. Every save is compared
    with it first: if anyone saved this video's class, probe or comment (or this user's tags, from
    another tab) meanwhile, the whole save is refused rather than silently reverting their edit.

    Raises:
        StaleAnnotationError: when the stored values are no longer the ones the form was opened with.
        AnnotationError: for unknown values, an overlong comment, a label change without reason or
            a label taken away (a class, once given, can only be changed).
    """
    probe, patterns, comment = _checked(form)
    video = video_or_error(session=session, video_id=loaded.video_id)
    if annotation_state(session=session, video_id=loaded.video_id, user_id=actor_id) != loaded:
        raise StaleAnnotationError(STALE_FORM)
    if form.label is None and video.label is not None:
        raise AnnotationError(NO_UNLABEL)
    changed: list[str] = []
    if form.label is not None and form.label != video.label:  # a first label is set, others change
        change_label(
            session=session, video_id=loaded.video_id, label=form.label, reason=form.reason, actor_id=actor_id
        )
        changed.append("label")
    changed += _save_details(session, video, actor_id, (probe.value, patterns, comment))
    session.flush()
    return changed


def _save_details(
    session: Session, video: Video, actor_id: int, values: tuple[str, tuple[str, ...], str | None]
) -> list[str]:
    """Write probe, comment and the actor's own tags where they differ, with one audit row for all."""
    probe, patterns, comment = values
    video_id = row_id(video)
    before = {"probe": video.probe, "comment": video.comment}
    video.probe, video.comment = probe, comment
    changed = [name for name, old in before.items() if getattr(video, name) != old]
    old_tags = _own_tags(session, video_id, actor_id)
    if set(patterns) != old_tags:
        _replace_tags(session, video_id, actor_id, old_tags, patterns)
        changed.append("patterns")
    if changed:
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
