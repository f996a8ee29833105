"""The relabel queue of a model run: build and rank it, count its progress, resolve its items.

Resolving an item (confirming or changing the video's label) settles every open item of its video, in
every queue; handing items out under expiring claims is :mod:`reviewer.relabel_claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from db.models import ModelRun, RelabelItem, Video, VideoLabel, utcnow
from reviewer.annotation import change_label
from reviewer.audit import record
from reviewer.relabel_claims import DONE, OPEN, QueueError, held_item
from reviewer.relabel_evidence import video_evidence
from reviewer.relabel_strategies import Strategy, rank
from reviewer.study_base import row_id
from reviewer.vocab import RunStatus

NOTHING_TO_RANK = {
    Strategy.EPISTEMIC: "This run stores no epistemic confidence.",
    Strategy.ALEATORIC: "This run stores no aleatoric confidence.",
    Strategy.BALD: "This run does not store its fold models' predictions.",
    Strategy.LABEL_DISAGREEMENT: "None of this run's videos has a label.",
    Strategy.EXPERT_DISAGREEMENT: "No expert has guessed the class of this run's labelled videos yet.",
}


@dataclass(frozen=True)
class QueueProgress:
    """How far a queue has got: ``claimed`` counts open items someone holds right now."""

    total: int
    done: int
    claimed: int

    @property
    def open(self) -> int:
        """Items nobody has resolved yet."""
        return self.total - self.done


def build_queue(
    *, session: Session, run_id: int, strategy: Strategy, user_id: int | None, seed: int = 0
) -> QueueProgress:
    """Rank the run's videos by ``strategy`` and store the order, keeping everything already resolved.

    Rebuilding (e.g. after labels changed) re-ranks open items in place, so current claims survive;
    open items the strategy can no longer score are removed; resolved items are never touched.

    Raises:
        QueueError: if the run has not finished or the strategy has nothing to rank.
    """
    run = session.get(ModelRun, run_id)
    if run is None or run.status != RunStatus.DONE.value:
        raise QueueError(f"Run {run_id} does not exist or has not finished training.")
    ranked = rank(video_evidence(session=session, run_id=run_id), strategy, seed=seed)
    if not ranked:
        raise QueueError(NOTHING_TO_RANK.get(strategy, "This run stored no video predictions."))
    mine = select(RelabelItem).where(RelabelItem.run_id == run_id, RelabelItem.strategy == strategy.value)
    existing = {item.video_id: item for item in session.exec(mine.with_for_update())}
    for entry in ranked:
        item = existing.pop(entry.unit_id, None) or RelabelItem(
            run_id=run_id, video_id=entry.unit_id, strategy=strategy.value, rank=entry.rank, score=entry.score
        )
        if item.status == OPEN:
            item.rank, item.score = entry.rank, entry.score
            session.add(item)
    stale = [item.id for item in existing.values() if item.status == OPEN]
    if stale:
        session.exec(delete(RelabelItem).where(col(RelabelItem.id).in_(stale)))
    try:
        session.flush()
    except IntegrityError as exc:  # PostgreSQL: someone else added the same items a moment ago
        raise QueueError("Someone else is ranking this queue right now; try again in a moment.") from exc
    record(
        session=session,
        action="relabel.build",
        entity="model_run",
        entity_id=run_id,
        user_id=user_id,
        strategy=strategy.value,
        ranked=len(ranked),
        removed=len(stale),
    )
    return queue_progress(session=session, run_id=run_id, strategy=strategy)


def queue_progress(
    *, session: Session, run_id: int, strategy: Strategy, now: datetime | None = None
) -> QueueProgress:
    """Counts for the progress bar of one queue."""
    moment = now or utcnow()
    query = select(
        func.count(),
        func.sum(case((col(RelabelItem.status) == DONE, 1), else_=0)),
        func.sum(case((col(RelabelItem.claimed_until) > moment, 1), else_=0)),
    ).where(RelabelItem.run_id == run_id, RelabelItem.strategy == strategy.value)
    total, done, claimed = session.exec(query).one()
    return QueueProgress(total=int(total), done=int(done or 0), claimed=int(claimed or 0))


def resolve_item(
    *,
    session: Session,
    item_id: int,
    user_id: int,
    label: str,
    reason: str | None = None,
    expected_label_id: int | None = None,
    now: datetime | None = None,
) -> VideoLabel:
    """Confirm the video's label (same ``label``) or change it (a reason is required), and close the item.

    The label history gets a new row either way, so a confirmation is as traceable as a change.
    ``expected_label_id`` (the latest label row the annotator saw) refuses a decision on a label
    someone changed meanwhile.

    Raises:
        QueueError: if someone else holds or already resolved the item.
        AnnotationError: for an invalid label, a change without a reason, or a stale label.
    """
    moment = now or utcnow()
    item = held_item(session, item_id, user_id, moment)
    previous = session.get_one(Video, item.video_id).label
    written = change_label(
        session=session,
        video_id=item.video_id,
        label=label,
        reason=reason,
        actor_id=user_id,
        expected_label_id=expected_label_id,
    )
    settled = _settle(session, item.video_id, user_id, moment, written)
    record(
        session=session,
        action="relabel.resolve",
        entity="relabel_item",
        entity_id=item_id,
        user_id=user_id,
        video_id=item.video_id,
        previous=previous,
        label=written.label,
        changed=previous != written.label,
        also_settled=[row_id(other) for other in settled if other.id != item_id],
    )
    return written


def _settle(
    session: Session, video_id: int, user_id: int, moment: datetime, decision: VideoLabel
) -> list[RelabelItem]:
    """Close every open item of the video, in every queue: one look at its label answers them all.

    Left open, the video would come back from another strategy or run, ranked on evidence about the
    label as it was, to an annotator who cannot see that it was just decided.
    """
    query = select(RelabelItem).where(RelabelItem.video_id == video_id, RelabelItem.status == OPEN)
    items = list(session.exec(query.order_by(col(RelabelItem.id)).with_for_update()))
    for item in items:
        item.status, item.resolved_by_id, item.resolved_at = DONE, user_id, moment
        item.claimed_by_id, item.claimed_until, item.label_id = None, None, decision.id
        session.add(item)
    return items
