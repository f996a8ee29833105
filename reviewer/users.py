"""User accounts: creation, throttled bcrypt-checked sign-in, own and administrative password changes.

Sign-in throttling needs no table of its own: every attempt leaves an audit row (``login.ok``,
``login.failed``, or ``login.refused`` while locked) whose detail holds the lower-cased username, and
each attempt counts that username's failures since its last success within the lockout window. SQL
filters by the indexed ``action`` and by time, Python by username over those few recent rows, so no
JSON operator is needed and the query reads the same on SQLite and PostgreSQL. Unknown usernames are
throttled, answered and timed like real ones, so the sign-in page never reveals which accounts exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from sqlmodel import Session, col, select

from db.models import AuditLog, User, aware, utcnow
from reviewer.audit import record
from reviewer.vocab import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
AUDITED_NAME = 64  # the longest valid username: longer input names no account, only bloats the log
MIN_PASSWORD = 8
LOGIN_OK, LOGIN_FAILED, LOGIN_REFUSED = "login.ok", "login.failed", "login.refused"
PASSWORD_RESET = "user.password_reset"
LOCK_ACTIONS = (LOGIN_OK, LOGIN_FAILED, LOGIN_REFUSED, PASSWORD_RESET)
"""The audit actions that decide a lock: failures add to it, a success or a reset clears it, and a
refusal says the lock is already on record (so a client hammering a locked name adds no rows)."""
DECOY_HASH = "$2b$12$Msq426Ons1u2ylJ97V6iaejKb/o6MdjYKIIrKceLcEmY412uD74Pa"
"""bcrypt of a throw-away word at the default cost 12, checked for unknown names: they take as long as
real ones, from the first attempt on (a hash made on demand would make that one slower)."""
WRONG_CREDENTIALS = "Unknown username or wrong password."


class UserError(ValueError):
    """A user request that cannot be honoured; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one sign-in attempt: the user, or a refusal that is safe to show."""

    user: User | None
    refusal: str = ""


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Passwords need at least {MIN_PASSWORD} characters.")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def _matches(password: str, hashed: str) -> bool:
    return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    actor_id: int | None = None,
) -> User:
    """Create an account; usernames are lower-case and passwords are only ever stored hashed."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise UserError("Usernames are 2-64 characters: lower-case letters, digits, '.', '_' or '-'.")
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(Role)}.") from exc
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise UserError(f"The username {name!r} is taken.")
    user = User(
        username=name,
        display_name=(display_name or name).strip()[:128],
        password_hash=_hash(password),
        role=role_value.value,
    )
    session.add(user)
    session.flush()
    _record_admin(session, "user.create", user, actor_id, role=role_value.value)
    return user


def _record_admin(session: Session, action: str, user: User, actor_id: int | None, **detail: str) -> None:
    record(
        session=session,
        action=action,
        entity="user",
        entity_id=user.id,
        user_id=actor_id,
        username=user.username,
        **detail,
    )


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (never say which part was wrong).

    This is the bare check, neither throttled nor audited: the sign-in page uses :func:`attempt_sign_in`.
    """
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        _matches(password, DECOY_HASH)
        return None
    return user if _matches(password, user.password_hash) else None


def _retry_after(
    *, session: Session, name: str, max_failures: int, lockout: timedelta, now: datetime
) -> tuple[timedelta | None, bool]:
    """How long ``name`` must still wait (None: it may try now), and whether that lock is on record."""
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
        if action == LOGIN_FAILED:
            failures.append(aware(at))
        elif action == LOGIN_REFUSED:
            refused = True
            continue
        else:  # a success, or an administrator's reset, lifts the lock
            failures.clear()
        refused = False
    if len(failures) < max_failures:
        return None, refused
    return failures[len(failures) - max_failures] + lockout - now, refused  # when failures age out


def attempt_sign_in(
    *,
    session: Session,
    username: str,
    password: str,
    max_failures: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> SignIn:
    """Check one sign-in attempt, refusing without looking at the password while the name is locked.

    Locking a name, not an address, stops password guessing on one account even from many machines;
    the lock lifts by itself when the failures age out of ``lockout``. The first refused attempt of a
    lock is audited; refusals are not counted, so a locked user is told truthfully when to try again.
    The password is never logged.
    """
    moment = now or utcnow()
    name = username.strip().lower()[:AUDITED_NAME]
    wait, on_record = _retry_after(
        session=session, name=name, max_failures=max_failures, lockout=lockout, now=moment
    )
    if wait is not None:
        if not on_record:
            _log_attempt(session, LOGIN_REFUSED, name, None, moment)
        minutes = max(1, math.ceil(wait / timedelta(minutes=1)))
        return SignIn(None, f"Too many failed attempts; try again in {minutes} minute{'s' * (minutes != 1)}.")
    user = authenticate(session=session, username=username, password=password)
    _log_attempt(session, LOGIN_FAILED if user is None else LOGIN_OK, name, user, moment)
    return SignIn(user, "" if user else WRONG_CREDENTIALS)


def _log_attempt(session: Session, action: str, name: str, user: User | None, at: datetime) -> None:
    uid = user.id if user else None
    record(session=session, action=action, entity="user", entity_id=uid, user_id=uid, username=name).at = at


def change_password(*, session: Session, user_id: int, current: str, new: str) -> User:
    """Let signed-in users replace their own password; the current one proves it is them at the screen.

    Returns the updated account, so the caller can renew its own session's :func:`credential`.
    """
    user = session.get(User, user_id)
    if user is None or not user.active or not _matches(current, user.password_hash):
        raise UserError("The current password is wrong.")
    if new == current:
        raise UserError("The new password must differ from the current one.")
    user.password_hash = _hash(new)
    session.add(user)
    record(session=session, action="user.password", entity="user", entity_id=user.id, user_id=user.id)
    return user


def _account(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"There is no account {user_id}.")
    return user


def reset_password(*, session: Session, user_id: int, password: str, actor_id: int) -> User:
    """Set a new password for someone who forgot theirs; the administrator hands it over in person.

    The reset also lifts a sign-in lock on the account, so the new password works at once.
    """
    user = _account(session, user_id)
    user.password_hash = _hash(password)
    session.add(user)
    _record_admin(session, PASSWORD_RESET, user, actor_id)
    return user


def set_active(*, session: Session, user_id: int, active: bool, actor_id: int) -> User:
    """Deactivate or reactivate an account; rows stay, so past answers keep their author.

    Administrators cannot deactivate themselves, so the last active administrator always remains.
    """
    if not active and user_id == actor_id:
        raise UserError("You cannot deactivate your own account.")
    user = _account(session, user_id)
    user.active = active
    session.add(user)
    _record_admin(session, "user.reactivate" if active else "user.deactivate", user, actor_id)
    return user


def credential(user: User) -> str:
    """A fingerprint of the account's password hash, kept in a browser session at sign-in.

    Comparing it on every page run ends other open sessions when the password changes (a reset
    after a suspected compromise must lock the intruder out), without keeping the hash itself in
    session state.
    """
    return hashlib.sha256(user.password_hash.encode("ascii")).hexdigest()[:32]


def session_is_current(*, session: Session, user_id: int, fingerprint: str) -> bool:
    """Whether a browser session may still act: the account exists, is active and has the same password.

    Pages ask on every run, so a deactivation or a password change ends sessions already open.
    """
    user = session.get(User, user_id)
    return user is not None and user.active and hmac.compare_digest(credential(user), fingerprint)


def list_users(*, session: Session, role: Role | None = None) -> list[User]:
    """Users ordered by name, optionally of one role."""
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role.value)
    return list(session.exec(query))


def can(user: User, role: Role) -> bool:
    """Admins may act in every role; everyone else only in their own."""
    return user.role in (Role.ADMIN.value, role.value)
