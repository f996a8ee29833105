"""Shared arrangement of the annotator and admin page tests: a stocked home per test, in AppTest.

The fixtures ``stocked``, ``home``, ``db`` and ``phantom_mp4`` are bound by the test modules that
use them (``stocked = page_support.stocked``), so the slow stocking runs once per module.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from db.models import User
from db.session import make_engine
from pages.common import VIEWER_KEY, Viewer
from reviewer.context import open_engine
from reviewer.settings import Settings, load_settings
from reviewer.users import create_user
from reviewer.vocab import LusClass, Role
from seed_data.phantom import render_phantom, write_video
from tests.code.stock import PASSWORD, stock_home

PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT_S = 90  # decoding and inpainting a phantom upload on a loaded 2-core machine
PHANTOM_PX = 160


def stock_template(factory: pytest.TempPathFactory, *annotators: str) -> Path:
    """A stocked home (stock users and videos, plus ``annotators``) for modules to copy per test.

    Built once per module because bcrypt hashes and H.264 encoding are deliberately slow.
    """
    template = load_settings(home=factory.mktemp("template") / "home")
    engine = open_engine(template)
    with Session(engine) as session:
        stock_home(session, template)
        for username in annotators:
            create_user(session=session, username=username, password=PASSWORD, role=Role.ANNOTATOR)
        session.commit()
    engine.dispose()  # checkpoints the WAL, so the database file alone holds every row
    return template.home


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the stock users and videos plus a second annotator."""
    return stock_template(tmp_path_factory, "second")


@pytest.fixture(scope="module")
def phantom_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real H.264 phantom clip from the seed generator (1 s, 160 x 160)."""
    phantom = render_phantom(LusClass.COVID, seed=7, size=PHANTOM_PX, seconds=1.0)
    return write_video(phantom, tmp_path_factory.mktemp("phantom") / "phantom.mp4").read_bytes()


@pytest.fixture
def home(stocked: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of the stocked home that the pages find through LUSREVIEW_HOME."""
    shutil.copytree(stocked, settings.home)
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    return settings


@pytest.fixture
def db(home: Settings) -> Iterator[Engine]:
    """An engine on the copied home's database, for arranging and checking rows."""
    engine = make_engine(home.database_url)
    yield engine
    engine.dispose()


def viewer_of(user_id: int, role: Role | None = None) -> Viewer:
    """What a real sign-in of this stored user puts in the session (its credential included).

    The database is the one the pages find (``LUSREVIEW_HOME``). ``role`` overrides the stored role,
    for tests of the second lock (a page reached by a role navigation would not offer it).
    """
    engine = make_engine(load_settings().database_url)
    try:
        with Session(engine) as session:
            viewer = Viewer.of(session.get_one(User, user_id))
    finally:
        engine.dispose()
    return viewer if role is None else dataclasses.replace(viewer, role=role)


def open_page(script: str, user_id: int, username: str, role: Role) -> AppTest:
    """A page run once for a signed-in user (no sign-in form: the viewer is put in the session)."""
    at = AppTest.from_file(str(PAGES / script), default_timeout=TIMEOUT_S)
    viewer = viewer_of(user_id, role)
    assert viewer.username == username, "open_page: user id and name disagree"
    at.session_state[VIEWER_KEY] = viewer
    return at.run()


def user_id(engine: Engine, username: str) -> int:
    """The id of a stocked user."""
    with Session(engine) as session:
        return int(session.exec(select(User.id).where(User.username == username)).one() or 0)
