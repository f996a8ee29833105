"""Throttled password checks: signing in and changing one's own password, one attempt per name at a time.

Throttling needs no table of its own: every check leaves an audit row (``login.ok``, ``login.failed``,
``user.password_wrong`` for a wrong current password on "My account", or ``login.refused`` while
locked) whose detail holds the lower-cased username, and each attempt counts that username's failures
since its last success within the lockout window. SQL filters by the indexed ``action`` and by time,
Python by username over those few recent rows, so no JSON operator is needed and the query reads the
same on SQLite and PostgreSQL. Unknown usernames are throttled, answered and timed like real ones, so
the sign-in page never reveals which accounts exist.

An attempt reads the count, runs bcrypt and records its outcome; parallel attempts for one name (many
browser sessions at once) would all read a count below the limit before any recorded a failure. So
each name's attempts run one at a time: under a process-local lock (Streamlit serves every browser
session from one process, and SQLite deployments run one) and, on PostgreSQL, under a
transaction-scoped advisory lock too, which serialises several app processes sharing the database.
The count is read and the outcome written in two short transactions around bcrypt, so a SQLite
write lock is never held while bcrypt runs (experts' answers keep autosaving meanwhile).
"""

from __future__ import annotations

import hashlib
import math
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from db.models import AuditLog, User, aware, utcnow
from db.session import read_scope, session_scope
from reviewer.audit import record
from reviewer.settings import Settings
from reviewer.users import PASSWORD_RESET, UserError, authenticate, hash_password

AUDITED_NAME = 64  # the longest valid username: longer input names no account, only bloats the log
LOGIN_OK, LOGIN_FAILED, LOGIN_REFUSED = "login.ok", "login.failed", "login.refused"
PASSWORD_WRONG = "user.password_wrong"
FAILURES = (LOGIN_FAILED, PASSWORD_WRONG)
LOCK_ACTIONS = (LOGIN_OK, *FAILURES, LOGIN_REFUSED, PASSWORD_RESET)
"""The audit actions that decide a lock: failures add to it, a success or a reset clears it, and a
refusal says the lock is already on record (so a client hammering a locked name adds no rows)."""
WRONG_CREDENTIALS = "Unknown username or wrong password."
WRONG_CURRENT = "The current password is wrong."
Seen = tuple[int, str]
"""The id and password hash of the account a password opened, as the check saw them."""


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one sign-in attempt: the user, or a refusal that is safe to show."""

    user: User | None
    refusal: str = ""


class _Gate:
    """One username's process-local lock; weakly registered, it lives only while attempts use it."""

    __slots__ = ("lock", "__weakref__")

    def __init__(self) -> None:
        self.lock = threading.Lock()


_GATES: weakref.WeakValueDictionary[str, _Gate] = weakref.WeakValueDictionary()
_GATES_GUARD = threading.Lock()


def advisory_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of a username: stable across processes, unlike ``hash()``."""
    digest = hashlib.sha256(f"lusreview.sign_in:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class _Attempt:
    """How one attempt reaches the database while it holds its name's locks.

    On SQLite a read and then a write transaction, so no write lock is held while bcrypt runs; on
    PostgreSQL the one transaction that holds the advisory lock (one pooled connection per attempt).
    """

    engine: Engine
    shared: Session | None = None

    def read(self) -> AbstractContextManager[Session]:
        """The transaction that reads the count and the account."""
        return nullcontext(self.shared) if self.shared is not None else read_scope(self.engine)

    def write(self) -> AbstractContextManager[Session]:
        """The transaction that records the outcome."""
        return nullcontext(self.shared) if self.shared is not None else session_scope(self.engine)


@contextmanager
def _one_at_a_time(engine: Engine, name: str) -> Iterator[_Attempt]:
    """Hold ``name``'s locks for one check -> bcrypt -> record sequence.

    Gates of names nobody is trying are collected, so random usernames cannot grow the registry.
    An exception inside rolls back PostgreSQL's shared transaction: record failures before raising.
    """
    with _GATES_GUARD:
        gate = _GATES.get(name)
        if gate is None:
            gate = _GATES[name] = _Gate()
    with gate.lock:
        if engine.dialect.name != "postgresql":
            yield _Attempt(engine)
            return
        with session_scope(engine) as session:  # the advisory lock lasts until this transaction ends
            session.execute(
                text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))"), {"key": advisory_key(name)}
            )
            yield _Attempt(engine, session)


def _retry_after(
    *, session: Session, name: str, settings: Settings, now: datetime
) -> tuple[timedelta | None, bool]:
    """How long ``name`` must still wait (None: it may try now), and whether that lock is on record."""
    lockout = timedelta(minutes=settings.login_lockout_minutes)
    rows = session.exec(
        select(AuditLog.at, AuditLog.action, AuditLog.detail)
        .where(col(AuditLog.action).in_(LOCK_ACTIONS), col(AuditLog.at) >= now - lockout)
        .order_by(col(AuditLog.at), col(AuditLog.id))
    ).all()
    failures: list[datetime] = []
    refused = False
    for at, action, detail in rows:
        if detail.get("username") != name:
            continue
        if action in FAILURES:
            failures.append(aware(at))
        elif action == LOGIN_REFUSED:
            refused = True
            continue
        else:  # a success, or an administrator's reset, lifts the lock
            failures.clear()
        refused = False
    if len(failures) < settings.login_max_failures:
        return None, refused
    return failures[len(failures) - settings.login_max_failures] + lockout - now, refused  # failures age out


def _check(
    attempt: _Attempt, settings: Settings, name: str, username: str, password: str, now: datetime
) -> tuple[str, Seen | None]:
    """Inside the name's locks: a refusal while locked (audited once per lock), else what the password opens.

    Only a read transaction is open while bcrypt runs; SQLite readers never block its writers.
    """
    seen: Seen | None = None
    with attempt.read() as session:
        wait, on_record = _retry_after(session=session, name=name, settings=settings, now=now)
        if wait is None and (user := authenticate(session=session, username=username, password=password)):
            seen = (int(user.id or 0), user.password_hash)
    if wait is None:
        return "", seen
    if not on_record:
        with attempt.write() as session:
            _log(session, LOGIN_REFUSED, name, None, now)
    minutes = max(1, math.ceil(wait / timedelta(minutes=1)))
    return f"Too many failed attempts; try again in {minutes} minute{'s' * (minutes != 1)}.", None


def _log(session: Session, action: str, name: str, user_id: int | None, at: datetime) -> None:
    entry = record(
        session=session, action=action, entity="user", entity_id=user_id, user_id=user_id, username=name
    )
    entry.at = at


def _unchanged(session: Session, seen: Seen) -> User | None:
    """The account, if still active with the password just checked (no reset or deactivation since)."""
    user = session.get(User, seen[0])
    return user if user is not None and user.active and user.password_hash == seen[1] else None


def attempt_sign_in(
    *, engine: Engine, settings: Settings, username: str, password: str, now: datetime | None = None
) -> SignIn:
    """Check one sign-in attempt, refusing without looking at the password while the name is locked.

    Locking a name, not an address, stops password guessing on one account even from many machines;
    the lock lifts by itself when the failures age out of ``settings.login_lockout_minutes``. The first
    refused attempt of a lock is audited; refusals are not counted, so a locked user is told truthfully
    when to try again. The password is never logged.
    """
    moment = now or utcnow()
    name = username.strip().lower()[:AUDITED_NAME]
    with _one_at_a_time(engine, name) as attempt:
        refusal, seen = _check(attempt, settings, name, username, password, moment)
        if refusal:
            return SignIn(None, refusal)
        with attempt.write() as session:
            user = None if seen is None else _unchanged(session, seen)
            _log(session, LOGIN_FAILED if user is None else LOGIN_OK, name, user.id if user else None, moment)
    return SignIn(user, "" if user else WRONG_CREDENTIALS)


def change_password(
    *, engine: Engine, settings: Settings, user_id: int, current: str, new: str, now: datetime | None = None
) -> User:
    """Let signed-in users replace their own password; the current one proves it is them at the screen.

    A wrong current password counts as a failed sign-in of the account, so an open session left
    behind cannot be used to guess it; while the name is locked the change is refused. Returns the
    updated account, so the caller can renew its own session's :func:`~reviewer.users.credential`.
    """
    moment = now or utcnow()
    with read_scope(engine) as session:
        account = session.get(User, user_id)
        name = account.username if account is not None and account.active else None
    if name is None:
        raise UserError(WRONG_CURRENT)
    user = None
    with _one_at_a_time(engine, name) as attempt:
        refusal, seen = _check(attempt, settings, name, name, current, moment)
        if seen is not None:
            user = _replace(attempt, seen, current, new)
        elif not refusal:
            with attempt.write() as session:
                _log(session, PASSWORD_WRONG, name, user_id, moment)
    if user is None:  # raised only now: the failure's row must commit with the attempt
        raise UserError(refusal or WRONG_CURRENT)
    return user


def _replace(attempt: _Attempt, seen: Seen, current: str, new: str) -> User:
    if new == current:
        raise UserError("The new password must differ from the current one.")
    hashed = hash_password(new)  # bcrypt again, still outside any SQLite write transaction
    with attempt.write() as session:
        user = _unchanged(session, seen)
        if user is None:
            raise UserError(WRONG_CURRENT)
        user.password_hash = hashed
        session.add(user)
        record(session=session, action="user.password", entity="user", entity_id=user.id, user_id=user.id)
    return user
