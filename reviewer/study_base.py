"""What every study module shares: the refusal type, the CAM kinds, the admin check and study lookups.

Kept apart from :mod:`reviewer.study_setup` so that planning, video choice, state changes and the
admin overview can each live in a small module without importing one another in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import func
from sqlmodel import Session, select

from db.models import Study, User
from reviewer.vocab import CamKind, Role

KINDS = (CamKind.TRAIN.value, CamKind.TEST.value)
MAX_SEED = 2**31 - 1  # studies.seed is a 32-bit INTEGER on PostgreSQL; statistics seeds share the bound


class HasId(Protocol):
    """Any table row with an integer primary key."""

    id: int | None


class StudyError(ValueError):
    """A study request that cannot be honoured; the message is safe to show."""


def row_id(row: HasId) -> int:
    """The primary key of a flushed row, typed as present."""
    if row.id is None:
        raise RuntimeError("row has no id yet; flush the session first")
    return row.id


def id_list(ids: Iterable[int]) -> str:
    """Ids as a refusal message lists them: ``3, 5, 8``."""
    return ", ".join(str(i) for i in ids)


def require_admin(session: Session, actor_id: int | None) -> None:
    """Refuse unless ``actor_id`` is an active administrator; None is the command line.

    Whoever holds the database file on the command line administers it anyway, so the CLI passes
    None rather than pretending to be a user.
    """
    if actor_id is None:
        return
    actor = session.get(User, actor_id)
    if actor is None or not actor.active or actor.role != Role.ADMIN.value:
        raise StudyError("Only administrators may set up, open or close studies.")


def get_study(session: Session, study_id: int, *, lock: bool = False) -> Study:
    """The study row, or a refusal naming the missing id; ``lock`` re-reads it FOR UPDATE."""
    study = session.get(Study, study_id, with_for_update=True if lock else None, populate_existing=lock)
    if study is None:
        raise StudyError(f"Study {study_id} does not exist.")
    return study


def find_study(*, session: Session, ref: str) -> Study:
    """A study as people name it on the command line: its id, else its name (case-insensitive).

    Decimal digits are tried as an id first, so a study named "2025" is still found by name when no
    study has that id; ``str.isdecimal`` keeps out digits such as "²" that ``int`` cannot read.
    """
    text = ref.strip()
    study = session.get(Study, int(text)) if text.isdecimal() else None
    if study is None:
        study = session.exec(select(Study).where(func.lower(Study.name) == text.lower())).first()
    if study is None:
        raise StudyError(f"There is no study named or numbered {text!r}.")
    return study
