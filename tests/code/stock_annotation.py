"""Arrange annotation tests: two annotators and an unlabelled video with frames, without bcrypt.

The fixtures ``people`` and ``video_id`` are shared by the annotation test modules, which bind them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.models import User
from db.session import session_scope
from reviewer.settings import Settings
from tests.code.stock import add_video


def add_annotators(engine: Engine) -> dict[str, int]:
    """Two annotators by username; their password hashes are dummies, these tests never sign in."""
    with session_scope(engine) as session:
        users = [
            User(username=n, display_name=n.title(), password_hash="x", role="annotator")
            for n in ("ann", "bob")
        ]
        session.add_all(users)
        session.flush()
        return {u.username: int(u.id or 0) for u in users}


def add_unlabelled_video(engine: Engine, settings: Settings) -> int:
    """An unlabelled video with two 64 x 64 grey frames (shades 40 and 100) on disk."""
    with session_scope(engine) as session:
        return int(add_video(session, "scan.mp4", label=None, frames=2, home=settings.home).id or 0)


def count_rows(engine: Engine, model: type) -> int:
    """Rows of one table, read in a fresh session."""
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def people(engine: Engine) -> dict[str, int]:
    """Annotators ``ann`` and ``bob`` by username."""
    return add_annotators(engine)


@pytest.fixture
def video_id(engine: Engine, settings: Settings) -> int:
    """An unlabelled two-frame video."""
    return add_unlabelled_video(engine, settings)
