"""Shared fixtures: a real SQLite file (or PostgreSQL) per test, settings rooted in a temp folder."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from db.session import make_engine, session_scope, upgrade
from reviewer.settings import Settings, load_settings

POSTGRES_ENV = "LUSREVIEW_TEST_POSTGRES_URL"
REPO = Path(__file__).resolve().parents[1]
POCUS = REPO.parent / "shared" / "pocus"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose home (database and every file) is a fresh temp folder."""
    return load_settings(home=tmp_path / "home")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A migrated engine on a real SQLite file inside the temp home."""
    eng = make_engine(settings.database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for arranging and checking data; services get their own sessions where it matters."""
    with Session(engine, expire_on_commit=False) as ses:
        yield ses


def _postgres_database() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    name = f"lusreview_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    """The same test on a SQLite file and, when configured, on a real PostgreSQL database."""
    if request.param == "sqlite":
        url_iter: Iterator[str] = iter([settings.database_url])
    else:
        url_iter = _postgres_database()
    url = next(url_iter)
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    next(url_iter, None)


@pytest.fixture
def pocus_dir() -> Path:
    """The 100 real POCUS videos beside the repo; tests skip cleanly where they are absent."""
    if not (POCUS / "dataset_metadata.csv").exists():
        pytest.skip(f"real POCUS videos not found at {POCUS}")
    return POCUS


@pytest.fixture
def phantom_engine(engine: Engine, settings: Settings) -> Engine:
    """A database seeded with 4 short phantom videos per class, for end-to-end model tests."""
    from reviewer.seed import seed_demo
    from seed_data import load_manifest

    manifest = load_manifest()
    per_class: Counter[str] = Counter()
    videos = []
    for video in manifest.videos:  # 4 videos per class keep 3 folds stratified and the test fast
        if per_class[video.label] < 4:
            per_class[video.label] += 1
            videos.append(video)
    small = dataclasses.replace(
        manifest, videos=tuple(videos), render=dataclasses.replace(manifest.render, seconds=1.0)
    )
    with session_scope(engine) as session:
        seed_demo(session=session, settings=settings, manifest=small)
    return engine
