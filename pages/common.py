"""Glue shared by every page: settings, the cached engine, the signed-in user, guards and display names.

Pages stay thin: they read the session user and call ``reviewer`` services inside :func:`unit_of_work`.
Only the engine (a connection pool) is cached for the server's lifetime; sessions are opened per user
action so that one failing action rolls back alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from db.models import User
from db.session import read_scope, session_scope
from reviewer.context import open_engine
from reviewer.settings import Settings, load_settings
from reviewer.users import credential, session_is_current
from reviewer.video_io import FORMATS
from reviewer.vocab import LusClass, Pattern, Probe, Role, TagSource, VideoSource

if TYPE_CHECKING:  # annotations only: pages never talk SQL themselves
    from db.session import Engine, Session, read_scope

APP_TITLE = "LUS review"
APP_ICON = ":material/pulmonology:"
VIEWER_KEY = "auth_viewer"
SESSION_ENDED = "Your account was deactivated or its password changed; please sign in again."
THUMBNAIL_PX = 112  # half the 224-pixel model input: large enough to see B-lines, small enough to scan
FORM_PX = 440  # short forms read better narrow than stretched across a wide screen
UPLOAD_TYPES = sorted({*FORMATS, "jpeg", "mpg", "m4v"})  # what uploaders offer; content decides later

ROLE_NAMES = {
    Role.ADMIN: "Administrator",
    Role.EXPERT: "Medical expert",
    Role.ANNOTATOR: "Annotator",
    Role.RESEARCHER: "Researcher",
}
PROBE_NAMES = {Probe.CONVEX: "Convex", Probe.LINEAR: "Linear"}
SOURCE_NAMES = {
    VideoSource.UPLOAD: "Upload",
    VideoSource.POCUS: "POCUS dataset",
    VideoSource.PHANTOM: "Phantom",
}
TAG_SOURCE_NAMES = {
    TagSource.DATASET: "dataset",
    TagSource.ANNOTATOR: "annotator",
    TagSource.PHANTOM: "phantom",
}
UNLABELLED = "Unlabelled"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user as pages need it; the password hash never enters the session state."""

    id: int
    username: str
    display_name: str
    role: Role
    credential: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        """Snapshot an authenticated user row."""
        if user.id is None:
            raise ValueError("only stored users can sign in")
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            credential=credential(user),
        )


def settings() -> Settings:
    """Settings from the environment (``LUSREVIEW_HOME``, ``LUSREVIEW_DB_URL``), as the CLI passes them."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine(database_url: str, _settings: Settings) -> Engine:
    """One migrated engine per database for the whole server, keyed by URL so tests stay isolated."""
    return open_engine(_settings)


def engine() -> Engine:
    """The server's cached engine, for services that open one transaction per item themselves."""
    current = settings()
    return _engine(current.database_url, current)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per user action: committed when the block ends, rolled back if it raises."""
    current = settings()
    with session_scope(_engine(current.database_url, current)) as session:
        yield session


def sign_in(user: User) -> None:
    """Remember an authenticated user for this browser session."""
    st.session_state[VIEWER_KEY] = Viewer.of(user)


def sign_out() -> None:
    """Forget the user and every widget value, so the next person at this screen starts clean."""
    st.session_state.clear()


def viewer() -> Viewer | None:
    """The signed-in user of this browser session, if any."""
    current = st.session_state.get(VIEWER_KEY)
    return current if isinstance(current, Viewer) else None


def still_signed_in(current: Viewer) -> bool:
    """Re-read the account: a deactivation or password change since sign-in ends this session.

    Called by :func:`require_role` on every page run and by fragments before they write, since a
    fragment's rerun skips the page's guard. A read-only transaction: it never waits for writers.
    """
    with read_scope(engine()) as session:
        current_ok = session_is_current(session=session, user_id=current.id, fingerprint=current.credential)
    if not current_ok:
        sign_out()
        st.warning(SESSION_ENDED, icon=":material/lock:")
    return current_ok


def fragment_guard(current: Viewer | None) -> None:
    """Fragments rerun without their page's guard: re-check the account, and redraw the whole app
    (which then asks to sign in) if the session has ended since."""
    if current is None or not still_signed_in(current):
        st.rerun(scope="app")


def require_role(*roles: Role) -> Viewer:
    """Stop the page unless someone is signed in with one of ``roles`` (any role if none given).

    Navigation already hides pages a role may not open; this guard is the second lock, so a page is
    safe even if it is reached some other way. Administrators pass every guard. The account is
    re-read on every run (:func:`still_signed_in`).
    """
    current = viewer()
    if current is None:
        st.warning("Please sign in first.", icon=":material/lock:")
        st.stop()
    if not still_signed_in(current):
        st.stop()
    if roles and current.role is not Role.ADMIN and current.role not in roles:
        st.error("Your role does not give access to this page.", icon=":material/block:")
        st.stop()
    return current


def class_name(value: str | None) -> str:
    """Clinical name of a stored class value; unlabelled videos say so."""
    return LusClass(value).label if value else UNLABELLED


def pattern_name(value: str) -> str:
    """Clinical name of a stored pattern value."""
    return Pattern(value).label


def plain(text: str) -> str:
    """Escape Markdown so names and comments from uploads or CSV files are shown, never interpreted."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
