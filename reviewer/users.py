"""User accounts: creation, the bare bcrypt check, administrative password changes and deactivation.

Throttled checks (signing in, changing one's own password) live in :mod:`reviewer.sign_in`.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import bcrypt
from sqlmodel import Session, select

from db.models import User
from reviewer.audit import record
from reviewer.vocab import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
PASSWORD_RESET = "user.password_reset"  # also lifts a sign-in lock (reviewer.sign_in)
DECOY_HASH = "$2b$12$Msq426Ons1u2ylJ97V6iaejKb/o6MdjYKIIrKceLcEmY412uD74Pa"
"""bcrypt of a throw-away word at the default cost 12, checked for unknown names: they take as long as
real ones, from the first attempt on (a hash made on demand would make that one slower)."""


class UserError(ValueError):
    """A user request that cannot be honoured; the message is safe to show."""


def hash_password(password: str) -> str:
    """Check the length rule and hash: bcrypt's salt and cost make a stolen table slow to crack."""
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
        password_hash=hash_password(password),
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

    This is the bare check, neither throttled nor audited: pages use :mod:`reviewer.sign_in`.
    """
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        _matches(password, DECOY_HASH)
        return None
    return user if _matches(password, user.password_hash) else None


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
    user.password_hash = hash_password(password)
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
