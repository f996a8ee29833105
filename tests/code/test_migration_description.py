"""Migration 0003 on a real SQLite file that already holds a study with an item and an answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from db.session import alembic_config, make_engine, session_scope
from reviewer.settings import Settings
from tests.code.stock_study import make_world

NOW = "2026-11-23 12:00:00"


@pytest.fixture
def fresh(settings: Settings) -> Iterator[Engine]:
    """A SQLite file not yet migrated (the shared ``engine`` fixture is already at head)."""
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


def _study_at_0002(engine: Engine) -> None:
    """A study, one expert's item and its answer, written in the 0002 schema (no description)."""
    command.upgrade(alembic_config(engine), "0002")
    world = make_world(engine, n_videos=1, experts=1)  # tables 0003 does not touch
    with session_scope(engine) as session:
        session.connection().execute(
            text(
                "INSERT INTO studies (id, name, run_id, state, seed, reread_share, washout, created_at) "
                "VALUES (1, 'Before 0003', :run, 'open', 7, 0.0, 5, :now)"
            ),
            {"run": world.run_id, "now": NOW},
        )
        session.connection().execute(
            text(
                "INSERT INTO study_items (id, study_id, expert_id, video_id, position, left_kind, token) "
                "VALUES (1, 1, :expert, :video, 0, 'train', 'tok')"
            ),
            {"expert": world.experts[0], "video": world.videos[0]},
        )
        session.connection().execute(
            text(
                "INSERT INTO answers (item_id, expert_id, patterns_visible, patterns_a, patterns_b, "
                "complete, seconds_spent, revision, created_at, updated_at, comment) "
                "VALUES (1, :expert, '[]', '[]', '[]', 0, 3.0, 1, :now, :now, 'keep me')"
            ),
            {"expert": world.experts[0], "now": NOW},
        )


def _rows(engine: Engine) -> tuple[list[tuple[object, ...]], int, list[str]]:
    with engine.connect() as conn:
        studies = [tuple(r) for r in conn.execute(text("SELECT * FROM studies"))]
        items = conn.execute(text("SELECT count(*) FROM study_items")).scalar_one()
        comments = list(conn.execute(text("SELECT comment FROM answers")).scalars())
    return studies, items, comments


def test_0003_gives_existing_studies_an_empty_description(fresh: Engine) -> None:
    engine = fresh
    _study_at_0002(engine)
    command.upgrade(alembic_config(engine), "0003")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, seed, description FROM studies")).one()
    assert tuple(row) == ("Before 0003", 7, "")
    assert _rows(engine)[1:] == (1, ["keep me"])


def test_0003_down_drops_the_description_and_keeps_studies_items_and_answers(fresh: Engine) -> None:
    engine = fresh
    _study_at_0002(engine)
    before = _rows(engine)
    command.upgrade(alembic_config(engine), "0003")
    with session_scope(engine) as session:
        session.connection().execute(text("UPDATE studies SET description = 'Read slowly.'"))
    command.downgrade(alembic_config(engine), "0002")
    assert "description" not in {c["name"] for c in inspect(engine).get_columns("studies")}
    assert _rows(engine) == before
