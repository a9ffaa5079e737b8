"""Users, their sign-ins (sessions), their API tokens and the sign-in throttle."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import (
    ROLES,
    one_of,
    utcnow,
)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # The name as compared (lotline.text.name_key): unique, so two names that read alike
    # (Pat and pat, a full-width ｐａｔ) cannot both exist, even created at the same moment;
    # signing in looks the user up by it.
    username_key: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated user cannot sign in
        return self.active

    # The sign-in (UserSession) this request came with: not a column, set when the user signs
    # in or is read for a request (lotline.users). Flask-Login keeps get_id() in the session
    # cookie, so the cookie names a sign-in that can be ended, not the user.
    session_key = None
    # The password hash a sign-in just checked (lotline.users.authenticate): not a column.
    checked_hash = None

    def get_id(self) -> str | None:
        return self.session_key

    # Flask-Login's UserMixin compares users by get_id(): with the sign-in's key there, two
    # users read outside a sign-in would be equal. The ORM's own rule instead: one object
    # per row in a session, compared by identity.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def has_role(self, *roles: str) -> bool:
        """Roles are ordered: admin > supervisor > packer; a higher role may do what a lower may."""
        return ROLES.index(self.role) >= min(ROLES.index(r) for r in roles)


class UserSession(db.Model):
    """One sign-in, from the login form to its end. The session cookie carries its key; only
    a SHA-256 of the key is stored. It ends when the user signs out, when the password is
    changed or reset, when the user is deactivated (reactivation does not revive it), or when
    an admin signs the user out everywhere."""

    __tablename__ = "user_session"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_why: Mapped[str | None] = mapped_column(String(32))


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Bookkeeping: any request with the token may stamp it (tests/test_get_changes_nothing.py
    # leaves such columns out of its "GET changed nothing" checksum).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime,
                                                             info={"bookkeeping": True})
    revoked: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # none: until revoked

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-ins per username (or per trusted device, ``device:<user id>:<nonce>``);
    too many in a window lock it for a while (lotline.throttle). A row whose window and lock
    have passed is dead and is pruned (the index finds them)."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
