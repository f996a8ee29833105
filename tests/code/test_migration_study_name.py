"""Migration 0005 (study names unique regardless of case) on SQLite and, when configured, PostgreSQL.

The shared ``any_engine`` is at head: each test steps it down to 0004, writes studies in that schema
and steps up again, so the same checks run on both databases.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from db.session import alembic_config, session_scope
from tests.code.stock_study import make_run

INDEX = "uq_studies_lower_name"
INDEXES = {  # SQLAlchemy does not reflect expression indexes on SQLite: ask each catalogue directly
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'studies'",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = 'studies'",
}

INSERT = text(
    "INSERT INTO studies (name, run_id, state, seed, reread_share, washout, created_at) "
    "VALUES (:name, (SELECT min(id) FROM model_runs), 'draft', 0, 0.0, 5, '2026-11-24 12:00:00') RETURNING id"
)


def _at_0004_with(engine: Engine, *names: str) -> dict[str, int]:
    """Step down to 0004 and write draft studies of one run there; their ids by name."""
    command.downgrade(alembic_config(engine), "0004")
    with session_scope(engine) as session:
        make_run(session, 0)
    return {name: _add_study(engine, name) for name in names}


def _add_study(engine: Engine, name: str) -> int:
    """A draft study of the one run, written in SQL that every revision from 0004 on takes."""
    with session_scope(engine) as session:
        return int(session.connection().execute(INSERT, {"name": name}).scalar_one())


def _names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM studies ORDER BY id")).scalars())


def _indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(INDEXES[engine.dialect.name])).scalars())


def _revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_0005_adds_the_index_keeps_the_studies_and_refuses_a_case_variant(any_engine: Engine) -> None:
    _at_0004_with(any_engine, "Pilot", "Lung B")
    assert INDEX not in _indexes(any_engine)
    command.upgrade(alembic_config(any_engine), "0005")
    assert INDEX in _indexes(any_engine)
    assert _names(any_engine) == ["Pilot", "Lung B"]
    for clash in ("pilot", "LUNG b"):
        with pytest.raises(IntegrityError):
            _add_study(any_engine, clash)
    _add_study(any_engine, "Pilot 2")
    assert _names(any_engine) == ["Pilot", "Lung B", "Pilot 2"]


def test_0005_refuses_names_differing_only_in_case_naming_them_and_writes_nothing(any_engine: Engine) -> None:
    ids = _at_0004_with(any_engine, "Pilot", "Lung B", "PILOT", "lung b", "Other")
    with pytest.raises(ValueError, match="differ in more than letter case") as refused:
        command.upgrade(alembic_config(any_engine), "0005")
    assert str(refused.value).count("(id ") == 4
    for name in ("Pilot", "PILOT", "Lung B", "lung b"):
        assert f"{name!r} (id {ids[name]})" in str(refused.value)
    assert "Other" not in str(refused.value)
    assert _revision(any_engine) == "0004"
    assert INDEX not in _indexes(any_engine)
    assert _names(any_engine) == ["Pilot", "Lung B", "PILOT", "lung b", "Other"]
    with session_scope(any_engine) as session:  # the administrator renames, as the message says
        session.connection().execute(
            text("UPDATE studies SET name = name || ' 2' WHERE id IN (:a, :b)"),
            {"a": ids["PILOT"], "b": ids["lung b"]},
        )
    command.upgrade(alembic_config(any_engine), "0005")
    assert INDEX in _indexes(any_engine)


def test_0005_down_drops_only_that_index(any_engine: Engine) -> None:
    _at_0004_with(any_engine, "Pilot")
    before = _indexes(any_engine)
    command.upgrade(alembic_config(any_engine), "0005")
    command.downgrade(alembic_config(any_engine), "0004")
    assert _indexes(any_engine) == before
    _add_study(any_engine, "pilot")  # 0004 takes a case variant again
    assert _names(any_engine) == ["Pilot", "pilot"]
