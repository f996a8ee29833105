"""Open the database a settings object points at, upgrading its schema first."""

from __future__ import annotations

from sqlalchemy import Engine

from db.session import make_engine, upgrade
from reviewer.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """Engine for the configured database, with the schema at the newest migration."""
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    upgrade(engine)
    return engine
