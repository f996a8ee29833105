"""Hand out relabel-queue items under expiring claims, and take them back (skip).

Claims live in the database, so two annotators never work on the same video at once, even on two
servers: an item is claimed by a compare-and-set UPDATE that only succeeds while the item is open and
unclaimed (or its claim has expired) and nobody else holds its video through another queue (resolving
an item settles them all, see :mod:`reviewer.relabel_queue`). SQLite serialises writers (``BEGIN
IMMEDIATE``); on PostgreSQL the loser's UPDATE re-checks the row after the winner commits, matches
nothing, and tries the next item. Two annotators claiming two queues' items of one video in the same
instant on PostgreSQL both succeed (different rows); the first to resolve settles the other's item.
A claim that expires (the annotator walked away) makes the item available again by itself.

A skipped item keeps the skipper as its last claimant with an already expired claim: it is free for
everyone, and the skipper is offered other items first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, case, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.models import RelabelItem, aware, utcnow
from reviewer.audit import record
from reviewer.relabel_strategies import Strategy
from reviewer.vocab import QueueStatus

DEFAULT_CLAIM = timedelta(minutes=15)
CLAIM_ATTEMPTS = 20
"""Items tried per request when other annotators keep winning the race; then the queue looks busy."""
OPEN, DONE = QueueStatus.OPEN.value, QueueStatus.DONE.value


class QueueError(ValueError):
    """A queue request that cannot be honoured; the message is safe to show."""


def _free(moment: datetime) -> Any:
    return or_(col(RelabelItem.claimed_until).is_(None), col(RelabelItem.claimed_until) <= moment)


def _video_free(user_id: int, moment: datetime) -> Any:
    """Nobody else holds the item's video through another queue (strategy or run) right now."""
    other = aliased(RelabelItem)
    held_elsewhere = select(other.id).where(
        other.video_id == RelabelItem.video_id,
        other.status == OPEN,
        other.claimed_by_id != user_id,
        col(other.claimed_until) > moment,
    )
    return ~held_elsewhere.exists()


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
        free = (_free(moment), _video_free(user_id, moment))
        candidate = session.exec(queue.where(*free).order_by(*order)).first()
        if candidate is None:
            return None
        claim = (
            update(RelabelItem)
            .where(col(RelabelItem.id) == candidate.id, col(RelabelItem.status) == OPEN, *free)
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


def held_item(session: Session, item_id: int, user_id: int, moment: datetime) -> RelabelItem:
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
    item = held_item(session, item_id, user_id, moment)
    item.claimed_by_id, item.claimed_until = user_id, moment
    session.add(item)
    record(session=session, action="relabel.skip", entity="relabel_item", entity_id=item_id, user_id=user_id)
