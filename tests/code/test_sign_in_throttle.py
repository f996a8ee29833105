"""Sign-in throttling under parallel attempts, across app processes, and on the "My account" page.

Real bcrypt, real threads, a real SQLite file (and PostgreSQL when configured); time moves through the
``now`` argument, never by sleeping.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text
from sqlmodel import col, select

from db.models import AuditLog
from db.session import session_scope
from reviewer import sign_in
from reviewer.settings import Settings
from reviewer.sign_in import (
    LOGIN_FAILED,
    WRONG_CREDENTIALS,
    WRONG_CURRENT,
    SignIn,
    advisory_key,
    attempt_sign_in,
    change_password,
)
from reviewer.users import UserError, authenticate, create_user, reset_password
from reviewer.vocab import Role
from tests.code import page_support
from tests.code.stock import PASSWORD as STOCK_PASSWORD

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse"
WRONG = "wrong horse!"
PARALLEL = 12
LOCKED = "Too many failed attempts; try again in 15 minutes."
WAIT_FOR_WAITER_S = 120  # a synchronisation deadline, not a timing assertion

home = page_support.home
db = page_support.db


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stock users and videos, built once for the page test."""
    return page_support.stock_template(tmp_path_factory)


def _ann(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            create_user(session=session, username="ann", password=PASSWORD, role=Role.ANNOTATOR).id or 0
        )


def _attempt(engine: Engine, settings: Settings, password: str, minute: float = 0) -> SignIn:
    return attempt_sign_in(
        engine=engine,
        settings=settings,
        username="ann",
        password=password,
        now=T0 + timedelta(minutes=minute),
    )


def _actions(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        query = select(AuditLog.action).where(AuditLog.action != "user.create").order_by(col(AuditLog.id))
        return list(session.exec(query))


def test_parallel_wrong_passwords_record_exactly_the_limit_before_refusing(
    any_engine: Engine, settings: Settings
) -> None:
    engine = any_engine
    _ann(engine)
    start = threading.Barrier(PARALLEL)  # every browser session submits at the same moment

    def guess(_: int) -> SignIn:
        start.wait()
        return _attempt(engine, settings, WRONG)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(guess, range(PARALLEL)))
    assert _actions(engine) == ["login.failed"] * 5 + ["login.refused"]
    assert sorted(answer.refusal for answer in answers) == [LOCKED] * (PARALLEL - 5) + [WRONG_CREDENTIALS] * 5
    assert _attempt(engine, settings, PASSWORD, 1) == SignIn(
        None, "Too many failed attempts; try again in 14 minutes."
    )
    assert not any(answer.user for answer in answers)
    assert len(sign_in._GATES) == 0  # no name stays registered once its attempts are over


@pytest.mark.parametrize("any_engine", ["postgres"], indirect=True)
def test_an_attempt_waits_for_another_processs_attempt_on_the_same_name(
    any_engine: Engine, settings: Settings
) -> None:
    engine = any_engine
    _ann(engine)
    # the connection closes (releasing the lock) before the pool waits for the attempt, even on failure
    with ThreadPoolExecutor(1) as pool, engine.connect() as other:
        # another app process, mid-attempt: it holds the name's lock and is recording five failures
        other.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))"), {"key": advisory_key("ann")}
        )
        other.execute(
            insert(AuditLog),
            [{"at": T0, "action": LOGIN_FAILED, "entity": "user", "detail": {"username": "ann"}}] * 5,
        )
        answer = pool.submit(_attempt, engine, settings, PASSWORD)
        deadline = time.monotonic() + WAIT_FOR_WAITER_S
        while not _waits_for_advisory_lock(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waits_for_advisory_lock(engine), "the attempt did not wait for the name's advisory lock"
        other.commit()  # the five failures are recorded and the lock released
        assert answer.result() == SignIn(None, LOCKED)
    assert _actions(engine) == ["login.failed"] * 5 + ["login.refused"]


def _waits_for_advisory_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return bool(conn.execute(text(query)).scalar_one())


def test_wrong_current_passwords_count_towards_the_sign_in_lock(engine: Engine, settings: Settings) -> None:
    ann = _ann(engine)
    for minute in range(3):
        assert _attempt(engine, settings, WRONG, minute).refusal == WRONG_CREDENTIALS
    for minute in (3, 4):  # an open session left behind guesses on "My account"
        with pytest.raises(UserError, match=f"^{WRONG_CURRENT}$"):
            _change(engine, settings, ann, WRONG, minute)
    with pytest.raises(UserError, match="^Too many failed attempts; try again in 11 minutes.$"):
        _change(engine, settings, ann, PASSWORD, 4)  # the right password too, while locked
    assert (
        _attempt(engine, settings, PASSWORD, 5).refusal
        == "Too many failed attempts; try again in 10 minutes."
    )
    with session_scope(engine) as session:
        rows = list(session.exec(select(AuditLog).where(col(AuditLog.action) == "user.password_wrong")))
        assert [(row.user_id, row.entity_id, row.detail) for row in rows] == [
            (ann, ann, {"username": "ann"})
        ] * 2
        boss = int(create_user(session=session, username="boss", password=PASSWORD, role=Role.ADMIN).id or 0)
        reset_password(session=session, user_id=ann, password="handed over", actor_id=boss)
    _change(engine, settings, ann, "handed over", 6)  # the reset lifted the lock
    assert _actions(engine) == ["login.failed"] * 3 + ["user.password_wrong"] * 2 + [
        "login.refused",
        "user.password_reset",
        "user.password",
    ]


def _change(engine: Engine, settings: Settings, user_id: int, current: str, minute: float) -> None:
    now = T0 + timedelta(minutes=minute)
    change_password(
        engine=engine, settings=settings, user_id=user_id, current=current, new="a new long password", now=now
    )


def test_my_account_refuses_a_password_change_while_the_name_is_locked(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUSREVIEW_LOGIN_MAX_FAILURES", "2")
    at = page_support.open_page(
        "account.py", page_support.user_id(db, "annotator"), "annotator", Role.ANNOTATOR
    )
    for current, message in [
        ("not the password", WRONG_CURRENT),
        ("not the password", WRONG_CURRENT),
        (STOCK_PASSWORD, LOCKED),  # even the right one, while locked
    ]:
        at.text_input(key="account_current").input(current)
        at.text_input(key="account_new").input("a fresh long password")
        at.text_input(key="account_repeat").input("a fresh long password")
        at.button(key="account_submit").click().run()
        assert [error.value for error in at.error] == [message]
    assert not at.success
    with session_scope(db) as session:
        assert authenticate(session=session, username="annotator", password=STOCK_PASSWORD) is not None
