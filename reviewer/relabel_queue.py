"""The relabel queue of a model run: build it, hand out items with expiring claims, skip and resolve.

Claims live in the database, so two annotators never work on the same video at once, even on two
servers: an item is claimed by a compare-and-set UPDATE that only succeeds while the item is open and
unclaimed (or its claim has expired). SQLite serialises writers (``BEGIN IMMEDIATE``); on PostgreSQL
the loser's UPDATE re-checks the row after the winner commits, matches nothing, and tries the next
item. A claim that expires (the annotator walked away) makes the item available again by itself.

A skipped item keeps the skipper as its last claimant with an already expired claim: it is free for
everyone, and the skipper is offered other items first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from db.models import ModelRun, RelabelItem, Video, VideoLabel, aware, utcnow
from reviewer.annotation import change_label
from reviewer.audit import record
from reviewer.relabel_evidence import video_evidence
from reviewer.relabel_strategies import Strategy, rank
from reviewer.vocab import QueueStatus, RunStatus

DEFAULT_CLAIM = timedelta(minutes=15)
CLAIM_ATTEMPTS = 20
"""Items tried per request when other annotators keep winning the race; then the queue looks busy."""
OPEN, DONE = QueueStatus.OPEN.value, QueueStatus.DONE.value
NOTHING_TO_RANK = {
    Strategy.EPISTEMIC: "This run stores no epistemic confidence.",
    Strategy.ALEATORIC: "This run stores no aleatoric confidence.",
    Strategy.BALD: "This run does not store its fold models' predictions.",
    Strategy.LABEL_DISAGREEMENT: "None of this run's videos has a label.",
    Strategy.EXPERT_DISAGREEMENT: "No expert has guessed the class of this run's labelled videos yet.",
}


class QueueError(ValueError):
    """A queue request that cannot be honoured; the message is safe to show."""


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


def _free(moment: datetime) -> Any:
    return or_(col(RelabelItem.claimed_until).is_(None), col(RelabelItem.claimed_until) <= moment)


def next_item(
    *,
    session: Session,
    run_id: int,
    strategy: Strategy,
    user_id: int,
    claim_for: timedelta = DEFAULT_CLAIM,
    now: datetime | None = None,
) -> RelabelItem | None:
    """The caller's current item: the one they already hold, else the best free one, claimed for them.

    Taking a new item releases the caller's claims in other queues (runs or strategies), so looking
    at another queue never keeps videos away from colleagues for the rest of the claim.

    Returns None when every open item is resolved or held by someone else.
    """
    moment = now or utcnow()
    queue = select(RelabelItem).where(
        RelabelItem.run_id == run_id, RelabelItem.strategy == strategy.value, RelabelItem.status == OPEN
    )
    held = queue.where(RelabelItem.claimed_by_id == user_id, col(RelabelItem.claimed_until) > moment)
    current = session.exec(held.order_by(col(RelabelItem.rank))).first()
    if current is not None:
        return current
    _release_claims(session, user_id, moment)
    skipped_by_me = case((col(RelabelItem.claimed_by_id) == user_id, 1), else_=0)
    for _ in range(CLAIM_ATTEMPTS):
        order = (skipped_by_me, col(RelabelItem.rank), col(RelabelItem.id))
        candidate = session.exec(queue.where(_free(moment)).order_by(*order)).first()
        if candidate is None:
            return None
        claim = (
            update(RelabelItem)
            .where(col(RelabelItem.id) == candidate.id, col(RelabelItem.status) == OPEN, _free(moment))
            .values(claimed_by_id=user_id, claimed_until=moment + claim_for)
            .execution_options(synchronize_session=False)  # the winner refreshes its row below
        )
        if cast(CursorResult[Any], session.execute(claim)).rowcount == 1:
            session.refresh(candidate)
            return candidate
        session.expire(candidate)
    return None


def _release_claims(session: Session, user_id: int, moment: datetime) -> None:
    """One video per annotator: claims they hold in other queues end when they take a new item."""
    release = (
        update(RelabelItem)
        .where(col(RelabelItem.claimed_by_id) == user_id, col(RelabelItem.claimed_until) > moment)
        .values(claimed_until=moment)
        .execution_options(synchronize_session=False)
    )
    session.execute(release)


def _held(session: Session, item_id: int, user_id: int, moment: datetime) -> RelabelItem:
    """The item, locked, if it is open and nobody else holds a live claim on it."""
    item = session.exec(select(RelabelItem).where(RelabelItem.id == item_id).with_for_update()).first()
    if item is None or item.status != OPEN:
        raise QueueError("Someone has already resolved this video.")
    taken = item.claimed_until is not None and aware(item.claimed_until) > moment
    if item.claimed_by_id != user_id and taken:
        raise QueueError("Another annotator is working on this video right now.")
    return item


def skip_item(*, session: Session, item_id: int, user_id: int, now: datetime | None = None) -> None:
    """Give the item back to the queue at once; the skipper is offered other items first."""
    moment = now or utcnow()
    item = _held(session, item_id, user_id, moment)
    item.claimed_by_id, item.claimed_until = user_id, moment
    session.add(item)
    record(session=session, action="relabel.skip", entity="relabel_item", entity_id=item_id, user_id=user_id)


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
    item = _held(session, item_id, user_id, moment)
    previous = session.get_one(Video, item.video_id).label
    written = change_label(
        session=session,
        video_id=item.video_id,
        label=label,
        reason=reason,
        actor_id=user_id,
        expected_label_id=expected_label_id,
    )
    item.status, item.resolved_by_id, item.resolved_at = DONE, user_id, moment
    item.claimed_by_id, item.claimed_until, item.label_id = None, None, written.id
    session.add(item)
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
    )
    return written
