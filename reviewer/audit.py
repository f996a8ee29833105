"""The audit log: every change a user makes is recorded in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from db.models import AuditLog


def record(
    *, session: Session, action: str, entity: str, entity_id: int | None, user_id: int | None, **detail: Any
) -> AuditLog:
    """Add an audit row to the caller's transaction, so the change and its record commit together."""
    entry = AuditLog(action=action, entity=entity, entity_id=entity_id, user_id=user_id, detail=detail)
    session.add(entry)
    return entry
