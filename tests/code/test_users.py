from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import AuditLog, User
from db.session import session_scope
from reviewer.users import UserError, authenticate, can, create_user, list_users
from reviewer.vocab import Role


def test_password_is_stored_hashed_and_login_checks_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session=session, username="Dr.Smith", password="correct horse", role=Role.EXPERT)
    with session_scope(engine) as session:
        stored = session.exec(select(User)).one()
        assert stored.username == "dr.smith"
        assert "correct horse" not in stored.password_hash and stored.password_hash.startswith("$2")
        assert authenticate(session=session, username="DR.SMITH ", password="correct horse") == stored
        assert authenticate(session=session, username="dr.smith", password="wrong horse") is None
        assert authenticate(session=session, username="nobody", password="correct horse") is None
        assert session.exec(select(AuditLog.action)).all() == ["user.create"]


def test_inactive_users_cannot_log_in(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = create_user(session=session, username="gone", password="password1", role=Role.ANNOTATOR)
        user.active = False
    with session_scope(engine) as session:
        assert authenticate(session=session, username="gone", password="password1") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("a", "password1", "expert", "Usernames"),
        ("../etc", "password1", "expert", "Usernames"),
        ("bob", "short", "expert", "at least 8"),
        ("bob", "password1", "god", "Unknown role"),
    ],
)
def test_bad_accounts_are_refused_with_a_clear_message(
    engine: Engine, username: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(UserError, match=message), session_scope(engine) as session:
        create_user(session=session, username=username, password=password, role=role)
    with session_scope(engine) as session:
        assert list_users(session=session) == []


def test_duplicate_username_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session=session, username="ann", password="password1", role=Role.ANNOTATOR)
    with pytest.raises(UserError, match="taken"), session_scope(engine) as session:
        create_user(session=session, username="ANN", password="password2", role=Role.EXPERT)


def test_admins_may_act_in_every_role_others_only_in_their_own() -> None:
    admin = User(username="a", display_name="a", password_hash="x", role="admin")
    expert = User(username="e", display_name="e", password_hash="x", role="expert")
    assert all(can(admin, role) for role in Role)
    assert can(expert, Role.EXPERT) and not can(expert, Role.ADMIN) and not can(expert, Role.RESEARCHER)
