"""Sign-in throttling, own password changes and the administrator's account actions, on a real SQLite file.

Time moves through the ``now`` argument of :func:`attempt_sign_in`, never by sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import AuditLog, User
from db.session import session_scope
from reviewer.settings import Settings
from reviewer.sign_in import WRONG_CREDENTIALS, SignIn, attempt_sign_in, change_password
from reviewer.users import UserError, authenticate, create_user, reset_password, set_active
from reviewer.vocab import Role

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse"
WRONG = "wrong horse!"


@pytest.fixture
def ann(engine: Engine) -> int:
    """An annotator's id."""
    return _annotator(engine)


def _annotator(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            create_user(session=session, username="ann", password=PASSWORD, role=Role.ANNOTATOR).id or 0
        )


def _attempt(engine: Engine, settings: Settings, username: str, password: str, minute: float) -> SignIn:
    return attempt_sign_in(
        engine=engine,
        settings=settings,
        username=username,
        password=password,
        now=T0 + timedelta(minutes=minute),
    )


def _audit(engine: Engine, *actions: str) -> list[AuditLog]:
    with session_scope(engine) as session:
        query = select(AuditLog).where(col(AuditLog.action).in_(actions)).order_by(col(AuditLog.id))
        return list(session.exec(query))


def test_defaults_lock_after_five_failures_for_fifteen_minutes(settings: Settings) -> None:
    assert (settings.login_max_failures, settings.login_lockout_minutes) == (5, 15.0)


def test_five_failures_lock_even_the_right_password_until_the_window_passes(
    any_engine: Engine, settings: Settings
) -> None:
    engine, ann = any_engine, _annotator(any_engine)  # PostgreSQL compares times and reads JSON alike
    for minute in range(5):
        assert _attempt(engine, settings, "ann", WRONG, minute) == SignIn(None, WRONG_CREDENTIALS)
    refused = _attempt(engine, settings, " ANN", PASSWORD, 5)
    assert refused == SignIn(None, "Too many failed attempts; try again in 10 minutes.")
    assert _attempt(engine, settings, "ann", PASSWORD, 14.5).refusal.endswith("try again in 1 minute.")
    signed_in = _attempt(engine, settings, "ann", PASSWORD, 15.1)  # the first failure has aged out
    assert signed_in.user is not None and signed_in.user.id == ann and not signed_in.refusal
    rows = _audit(engine, "login.ok", "login.failed", "login.refused")
    # the second refusal of the same lock adds no row: a client hammering a locked name costs nothing
    assert [row.action for row in rows] == ["login.failed"] * 5 + ["login.refused", "login.ok"]
    assert {row.detail["username"] for row in rows} == {"ann"}
    assert [row.user_id for row in rows] == [None] * 6 + [ann]
    assert not any(secret in str(row.detail) for row in rows for secret in (PASSWORD, WRONG))


def test_unknown_usernames_are_throttled_with_the_same_answers(
    engine: Engine, settings: Settings, ann: int
) -> None:
    for minute in range(5):
        assert _attempt(engine, settings, "Nobody", WRONG, minute) == SignIn(None, WRONG_CREDENTIALS)
    assert _attempt(engine, settings, "nobody", WRONG, 5).refusal == (
        "Too many failed attempts; try again in 10 minutes."
    )
    assert _attempt(engine, settings, "ann", PASSWORD, 5).user is not None  # other names are not locked


def test_a_successful_sign_in_resets_the_count(engine: Engine, settings: Settings, ann: int) -> None:
    for minute in range(4):
        _attempt(engine, settings, "ann", WRONG, minute)
    assert _attempt(engine, settings, "ann", PASSWORD, 4).user is not None
    for minute in range(5, 9):
        assert _attempt(engine, settings, "ann", WRONG, minute).refusal == WRONG_CREDENTIALS
    assert _attempt(engine, settings, "ann", PASSWORD, 9).user is not None  # 8 failures, 4 since success


def test_own_password_change_checks_the_current_one_and_the_rules(
    engine: Engine, settings: Settings, ann: int
) -> None:
    for current, new, message in [
        (WRONG, "a new long password", "current password is wrong"),
        (PASSWORD, "short", "at least 8"),
        (PASSWORD, PASSWORD, "must differ"),
    ]:
        with pytest.raises(UserError, match=message):
            change_password(engine=engine, settings=settings, user_id=ann, current=current, new=new)
    assert _audit(engine, "user.password") == []
    change_password(
        engine=engine, settings=settings, user_id=ann, current=PASSWORD, new="a new long password"
    )
    with session_scope(engine) as session:
        assert authenticate(session=session, username="ann", password=PASSWORD) is None
        assert authenticate(session=session, username="ann", password="a new long password") is not None
    [row] = _audit(engine, "user.password")
    assert (row.user_id, row.entity, row.entity_id, row.detail) == (ann, "user", ann, {})


def test_admin_resets_a_password_and_deactivates_but_never_themself(
    engine: Engine, settings: Settings, ann: int
) -> None:
    with session_scope(engine) as session:
        boss = int(create_user(session=session, username="boss", password=PASSWORD, role=Role.ADMIN).id or 0)
    with pytest.raises(UserError, match="at least 8"), session_scope(engine) as session:
        reset_password(session=session, user_id=ann, password="short", actor_id=boss)
    with pytest.raises(UserError, match="your own account"), session_scope(engine) as session:
        set_active(session=session, user_id=boss, active=False, actor_id=boss)
    with pytest.raises(UserError, match="no account 999"), session_scope(engine) as session:
        set_active(session=session, user_id=999, active=False, actor_id=boss)
    with session_scope(engine) as session:
        reset_password(session=session, user_id=ann, password="handed over", actor_id=boss)
        set_active(session=session, user_id=ann, active=False, actor_id=boss)
    assert _attempt(engine, settings, "ann", "handed over", 0) == SignIn(None, WRONG_CREDENTIALS)
    with session_scope(engine) as session:
        set_active(session=session, user_id=ann, active=True, actor_id=boss)
        still_admin = session.get(User, boss)
        assert still_admin is not None and still_admin.active
    assert _attempt(engine, settings, "ann", "handed over", 1).user is not None
    rows = _audit(engine, "user.password_reset", "user.deactivate", "user.reactivate")
    assert [(row.action, row.user_id, row.entity_id) for row in rows] == [
        ("user.password_reset", boss, ann),
        ("user.deactivate", boss, ann),
        ("user.reactivate", boss, ann),
    ]


def test_an_administrators_reset_lifts_a_lock_at_once(engine: Engine, settings: Settings, ann: int) -> None:
    for minute in range(5):
        _attempt(engine, settings, "ann", WRONG, minute)
    assert _attempt(engine, settings, "ann", PASSWORD, 5).refusal.startswith("Too many failed attempts")
    with session_scope(engine) as session:
        boss = int(create_user(session=session, username="boss", password=PASSWORD, role=Role.ADMIN).id or 0)
        reset_password(session=session, user_id=ann, password="handed over", actor_id=boss)
    assert _attempt(engine, settings, "ann", "handed over", 6).user is not None
