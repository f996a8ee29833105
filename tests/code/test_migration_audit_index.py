"""Migration 0004 on a real SQLite file that already holds sign-in audit rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlmodel import col, select

from db.models import AuditLog, utcnow
from db.session import alembic_config, make_engine, session_scope
from reviewer.settings import Settings
from reviewer.sign_in import LOCK_ACTIONS, LOGIN_FAILED

INDEX = "ix_audit_log_action_at"


@pytest.fixture
def fresh(settings: Settings) -> Iterator[Engine]:
    """A SQLite file not yet migrated (the shared ``engine`` fixture is already at head)."""
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


def _audit_at_0003(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "0003")
    with session_scope(engine) as session:
        session.connection().execute(
            text(
                "INSERT INTO audit_log (at, action, entity, detail) "
                "VALUES ('2026-11-23 12:00:00', :action, 'user', '{\"username\": \"ann\"}')"
            ),
            {"action": LOGIN_FAILED},
        )


def _indexes(engine: Engine) -> dict[str, list[str | None]]:
    return {ix["name"] or "": ix["column_names"] for ix in inspect(engine).get_indexes("audit_log")}


def test_0004_adds_the_action_time_index_and_keeps_the_rows(fresh: Engine) -> None:
    _audit_at_0003(fresh)
    assert INDEX not in _indexes(fresh)
    command.upgrade(alembic_config(fresh), "0004")
    assert _indexes(fresh)[INDEX] == ["action", "at"]
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalars().all() == [LOGIN_FAILED]


def test_0004_down_drops_only_that_index(fresh: Engine) -> None:
    _audit_at_0003(fresh)
    before = _indexes(fresh)
    command.upgrade(alembic_config(fresh), "0004")
    command.downgrade(alembic_config(fresh), "0003")
    assert _indexes(fresh) == before


def test_the_sign_in_throttling_query_searches_the_index(engine: Engine) -> None:
    query = select(AuditLog.at, AuditLog.action, AuditLog.detail).where(
        col(AuditLog.action).in_(LOCK_ACTIONS), col(AuditLog.at) >= utcnow() - timedelta(minutes=15)
    )
    with engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert f"USING INDEX {INDEX} (action=? AND at>?)" in plan
