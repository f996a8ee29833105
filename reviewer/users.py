"""User accounts: creation, bcrypt-checked login, listing by role."""

from __future__ import annotations

import re

import bcrypt
from sqlmodel import Session, select

from db.models import User
from reviewer.audit import record
from reviewer.vocab import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8


class UserError(ValueError):
    """A user request that cannot be honoured; the message is safe to show."""


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
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Passwords need at least {MIN_PASSWORD} characters.")
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(Role)}.") from exc
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise UserError(f"The username {name!r} is taken.")
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")
    user = User(
        username=name,
        display_name=(display_name or name).strip()[:128],
        password_hash=hashed,
        role=role_value.value,
    )
    session.add(user)
    session.flush()
    record(
        session=session,
        action="user.create",
        entity="user",
        entity_id=user.id,
        user_id=actor_id,
        username=name,
        role=role_value.value,
    )
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (never say which part was wrong)."""
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        bcrypt.checkpw(b"timing", bcrypt.hashpw(b"dummy", bcrypt.gensalt(4)))  # same cost either way
        return None
    if not bcrypt.checkpw(password.encode("utf-8"), user.password_hash.encode("ascii")):
        return None
    return user


def list_users(*, session: Session, role: Role | None = None) -> list[User]:
    """Users ordered by name, optionally of one role."""
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role.value)
    return list(session.exec(query))


def can(user: User, role: Role) -> bool:
    """Admins may act in every role; everyone else only in their own."""
    return user.role in (Role.ADMIN.value, role.value)
