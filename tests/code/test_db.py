"""The schema guards what must never be wrong, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, select

from db.models import Answer, ModelRun, Study, StudyItem, User, Video
from db.session import make_engine, read_scope, session_scope, upgrade


def _video(**overrides: Any) -> Video:
    fields: dict[str, Any] = dict(
        checksum="a" * 64,
        display_name="v.mp4",
        file_path="videos/aa/a.mp4",
        source="upload",
        probe="convex",
        label="covid",
        fps=30.0,
        width=100,
        height=100,
        frame_count=10,
        duration_s=1.0,
        crop_x=0,
        crop_y=0,
        crop_w=100,
        crop_h=100,
    )
    fields.update(overrides)
    return Video(**fields)


def _study_item(session: Session) -> tuple[StudyItem, User]:
    expert = User(username="e1", display_name="E", password_hash="x", role="expert")
    video = _video()
    run = ModelRun(status="done")
    session.add_all([expert, video, run])
    session.flush()
    study = Study(name="s", run_id=run.id)
    session.add(study)
    session.flush()
    item = StudyItem(
        study_id=study.id, expert_id=expert.id, video_id=video.id, position=0, left_kind="train", token="t0"
    )
    session.add(item)
    session.flush()
    return item, expert


def _adding(row: SQLModel) -> Callable[[Session], None]:
    def build(session: Session) -> None:
        session.add(row)
        session.flush()

    return build


def _rejects(engine: Engine, build: Callable[[Session], None]) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        build(session)


def test_migration_creates_every_table_of_the_models(any_engine: Engine) -> None:
    tables = set(inspect(any_engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_match_the_models_exactly(any_engine: Engine) -> None:
    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


@pytest.mark.parametrize("score", [-4, 4, 100])
def test_scores_outside_minus3_to_3_are_rejected(any_engine: Engine, score: int) -> None:
    def build(session: Session) -> None:
        item, expert = _study_item(session)
        session.add(Answer(item_id=item.id, expert_id=expert.id, score_a=score, score_b=0))
        session.flush()

    _rejects(any_engine, build)


def test_second_answer_of_one_expert_for_one_item_is_rejected(any_engine: Engine) -> None:
    def build(session: Session) -> None:
        item, expert = _study_item(session)
        session.add(Answer(item_id=item.id, expert_id=expert.id, score_a=1, score_b=2))
        session.flush()
        session.add(Answer(item_id=item.id, expert_id=expert.id, score_a=3, score_b=3))
        session.flush()

    _rejects(any_engine, build)


def test_enumerated_columns_reject_unknown_values(any_engine: Engine) -> None:
    _rejects(any_engine, _adding(_video(label="flu")))
    _rejects(any_engine, _adding(User(username="x", display_name="x", password_hash="x", role="god")))


def test_foreign_keys_are_enforced(any_engine: Engine) -> None:
    _rejects(any_engine, _adding(Study(name="orphan", run_id=999)))


def test_rollback_leaves_nothing_behind(any_engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(any_engine) as session:
        session.add(_video())
        session.flush()
        raise RuntimeError("fail after the row was written")
    with session_scope(any_engine) as session:
        assert session.exec(select(Video)).all() == []


def test_upgrade_again_keeps_study_data(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        item, expert = _study_item(session)
        session.add(Answer(item_id=item.id, expert_id=expert.id, score_a=-3, score_b=3, comment="keep me"))
    upgrade(any_engine)
    with session_scope(any_engine) as session:
        answer = session.exec(select(Answer)).one()
    assert (answer.score_a, answer.score_b, answer.comment) == (-3, 3, "keep me")


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234


def test_readers_do_not_wait_for_a_writer_holding_the_lock(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", busy_timeout_ms=200)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(_video())
    with session_scope(engine) as writer:
        writer.add(_video(checksum="b" * 64))
        writer.flush()  # the writer holds the write lock from here until it commits
        with read_scope(engine) as reader:
            assert len(reader.exec(select(Video)).all()) == 1  # sees the committed row only
        with pytest.raises(OperationalError, match="locked"), session_scope(engine) as second_writer:
            second_writer.add(_video(checksum="c" * 64))
    with read_scope(engine) as reader:
        assert len(reader.exec(select(Video)).all()) == 2


def test_complete_answers_need_every_required_field(any_engine: Engine) -> None:
    def build(session: Session) -> None:
        item, expert = _study_item(session)
        session.add(Answer(item_id=item.id, expert_id=expert.id, score_a=1, score_b=2, complete=True))
        session.flush()

    _rejects(any_engine, build)
