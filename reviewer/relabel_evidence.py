"""Gather what the relabel strategies score: a run's stored predictions, current labels, expert guesses.

Labels are read as they are *now*, not as the run saw them: a queue asks whether the current label
looks wrong, and a label someone already corrected should not be ranked as if it were still wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlmodel import Session, col, select

from db.models import Answer, Prediction, StudyItem, Video
from reviewer.relabel_strategies import Evidence


def ensemble_rows(*, session: Session, run_id: int, video_ids: Collection[int] = ()) -> list[Prediction]:
    """The ensemble's video-level predictions of a run (all videos, or only ``video_ids``)."""
    query = select(Prediction).where(
        Prediction.run_id == run_id, col(Prediction.fold).is_(None), col(Prediction.frame_index).is_(None)
    )
    if video_ids:
        query = query.where(col(Prediction.video_id).in_(list(video_ids)))
    return list(session.exec(query.order_by(col(Prediction.video_id))))


def expert_guesses(*, session: Session, video_ids: Collection[int]) -> dict[int, list[str]]:
    """Each expert's latest complete class guess per video, from every study.

    One guess per expert and video: a re-read is the same person looking again, not a second opinion.
    """
    query = (
        select(StudyItem.video_id, Answer.expert_id, Answer.class_guess)
        .join(Answer, col(Answer.item_id) == col(StudyItem.id))
        .where(col(StudyItem.video_id).in_(list(video_ids)), col(Answer.complete))
        .order_by(col(Answer.updated_at), col(Answer.id))
    )
    latest: dict[tuple[int, int], str] = {}
    for video_id, expert_id, guess in session.exec(query):
        if guess is not None:
            latest[(video_id, expert_id)] = guess
    guesses: dict[int, list[str]] = defaultdict(list)
    for (video_id, _), guess in sorted(latest.items()):
        guesses[video_id].append(guess)
    return dict(guesses)


def video_evidence(*, session: Session, run_id: int) -> list[Evidence]:
    """One :class:`Evidence` per video the run predicted, with its current label and expert guesses."""
    rows = ensemble_rows(session=session, run_id=run_id)
    ids = [row.video_id for row in rows]
    labels = dict(session.exec(select(Video.id, Video.label).where(col(Video.id).in_(ids))).all())
    guesses = expert_guesses(session=session, video_ids=ids)
    return [
        Evidence(
            unit_id=row.video_id,
            label=labels.get(row.video_id),
            probabilities=row.probabilities,
            members=row.members or (),
            confidence_epistemic=row.confidence_epistemic,
            confidence_aleatoric=row.confidence_aleatoric,
            guesses=guesses.get(row.video_id, ()),
        )
        for row in rows
    ]


def frame_evidence(*, session: Session, run_id: int, video_id: int, label: str | None) -> list[Evidence]:
    """One :class:`Evidence` per frame of a video (unit id = frame index), from the ensemble's frame rows."""
    query = select(Prediction).where(
        Prediction.run_id == run_id,
        Prediction.video_id == video_id,
        col(Prediction.fold).is_(None),
        col(Prediction.frame_index).is_not(None),
    )
    return [
        Evidence(
            unit_id=int(row.frame_index or 0),
            label=label,
            probabilities=row.probabilities,
            confidence_epistemic=row.confidence_epistemic,
            confidence_aleatoric=row.confidence_aleatoric,
        )
        for row in session.exec(query)
    ]
