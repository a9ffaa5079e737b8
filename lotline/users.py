"""Users, sign-in (throttled by lotline.throttle), and API tokens (stored hashed)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence

from sqlalchemy import bindparam, case, delete, exc, func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from . import throttle
from .db import row_locks, run_in_transaction, transaction
from .errors import Conflict, DomainError, NotFound, ValidationError
from .models import ROLES, ApiToken, User, UserSession, utc_stamp, utcnow
from .text import name_key
from .throttle import (  # noqa: F401  (users.MAX_FAILURES … as before the move)
    FAILURE_WINDOW,
    LOCKOUT,
    MAX_FAILURES,
    TrustedDevice,
    _clear_attempts,
    _lock,
    reserve_attempt,
)

# scrypt at N=2^14, r=8, p=5: one of OWASP's equivalent minimum settings (its list starts at
# N=2^17, p=1). Werkzeug's default (N=2^15, p=1) is below that list and takes 32 MiB per
# hash; this takes 16 MiB, so a sign-in does not lift a worker past 120 MB.
PASSWORD_HASH = "scrypt:16384:8:5"


def signed_in_user(session: Session, key: str) -> User | None:
    """The user a sign-in's ``key`` (from the session cookie) belongs to, while that sign-in
    has not ended and the user is active. Flask-Login's user loader: read on every request,
    in one statement, so a sign-out, a password change or reset, a deactivation or a role
    change applies at the next request in every worker."""
    user = session.scalar(_SIGNED_IN, {"key_hash": _hash_token(str(key))})
    if user is not None:
        user.session_key = key
    return user


_SIGNED_IN = (select(User).join(UserSession, UserSession.user_id == User.id)
              .where(UserSession.key_hash == bindparam("key_hash"),
                     UserSession.ended_at.is_(None), User.active))  # every request


def start_session(session: Session, user: User) -> str:
    """A new sign-in for ``user``, whose password was just checked; its key goes in the
    session cookie (only a hash is stored).

    The user's row is read again under a lock first (PostgreSQL's ``FOR UPDATE``; SQLite's
    write transaction already holds the database): a password change or a deactivation that
    committed while the password was being checked ended the user's sign-ins without seeing
    this one, so this one is refused rather than outliving it."""
    now = session.execute(_USER_NOW.with_for_update() if row_locks(session) else _USER_NOW,
                          {"user_id": user.id}).one_or_none()
    if now is None or not now.active or now.password_hash != user.checked_hash:
        raise DomainError("bad_credentials", "Unknown username or wrong password.", status=401)
    key = secrets.token_urlsafe(32)
    session.add(UserSession(key_hash=_hash_token(key), user_id=user.id))
    session.flush()
    user.session_key = key
    return key


_USER_NOW = select(User.__table__.c.password_hash, User.__table__.c.active).where(
    User.__table__.c.id == bindparam("user_id"))

SIGNED_OUT = "signed out"
PASSWORD_CHANGED = "password changed"
DEACTIVATED = "deactivated"
SIGNED_OUT_EVERYWHERE = "signed out everywhere"


def end_session(session: Session, key: str, why: str = SIGNED_OUT) -> None:
    """End the sign-in ``key`` names (its cookie no longer signs anyone in)."""
    session.execute(update(UserSession).where(
        UserSession.key_hash == _hash_token(str(key)), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_why=why))


def end_sessions(session: Session, user: User, why: str) -> int:
    """End every sign-in of ``user``; how many were open."""
    ended = session.execute(update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_why=why))
    return ended.rowcount


def prune_sessions(session: Session, *, days: int, now: dt.datetime | None = None) -> int:
    """Delete the sign-ins that ended more than ``days`` ago (an open one is never deleted);
    how many. What they recorded (who signed in when, and why it ended) is kept that long."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
        raise ValidationError("Keep ended sign-ins for 1 to 36,500 days.", field="days")
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    table = UserSession.__table__
    return session.execute(delete(table).where(table.c.ended_at.is_not(None),
                                               table.c.ended_at < cutoff)).rowcount


def user_named(session: Session, username: str) -> User:
    """The user ``username`` names (the CLI and the API name users)."""
    username = str(username or "").strip()
    user = None
    if 0 < len(username) <= 64 and username.isprintable():  # no NUL (PostgreSQL refuses it)
        user = session.scalar(_by_name([User], username, name_key(username)))
    if user is None:
        raise NotFound(f"No user {username}.", code="unknown_user")
    return user


def sign_out_everywhere(session: Session, user: User) -> int:
    """An admin's "sign out everywhere": every browser ``user`` is signed in on asks for the
    password again (the Users screen, ``flask sign-out-everywhere`` and the API). How many
    sign-ins were ended."""
    return end_sessions(session, user, SIGNED_OUT_EVERYWHERE)


def open_sessions(session: Session, user: User) -> int:
    """How many sign-ins of ``user`` have not ended."""
    return session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)))


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    """A real hash to check a password against when the user does not exist, made the way
    real passwords are, so the time a refusal takes does not tell whether the name exists."""
    return generate_password_hash("not-a-password", method=method)


def create_user(
    session: Session, username: str, password: str, role: str, hash_method: str = PASSWORD_HASH
) -> User:
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise ValidationError("A username has 1 to 64 characters.", field="username")
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in username):
        raise ValidationError("A username has no invisible characters (controls, zero-width "
                              "spaces or direction marks). Type it again.", field="username")
    if role not in ROLES:
        raise ValidationError(f"Role must be one of {', '.join(ROLES)}.", field="role")
    if len(password or "") < 8:
        raise ValidationError("A password has at least 8 characters.", field="password")
    taken = session.scalar(select(User.username).where(User.username_key == name_key(username)))
    if taken is not None:
        raise Conflict(f"User {taken} already exists." if taken == username else
                       f"User {taken} already exists, and {username} reads the same.")
    user = User(
        username=username,
        username_key=name_key(username),  # unique: a twin created meanwhile fails its insert
        password_hash=generate_password_hash(password, method=hash_method),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, user: User, *, role: str | None = None,
                active: bool | None = None, password: str | None = None,
                hash_method: str = PASSWORD_HASH, acting_user: User | None = None) -> User:
    if role is not None:
        if role not in ROLES:
            raise ValidationError(f"Role must be one of {', '.join(ROLES)}.", field="role")
        if acting_user is not None and acting_user.id == user.id and role != "admin":
            raise DomainError("own_role", "You cannot take the admin role from yourself.")
        user.role = role
    if active is not None:
        if acting_user is not None and acting_user.id == user.id and not active:
            raise DomainError("own_account", "You cannot deactivate your own account.")
        ended = DEACTIVATED if user.active and not active else None
        user.active = active
    else:
        ended = None
    if password:
        if len(password) < 8:
            raise ValidationError("A password has at least 8 characters.", field="password")
        user.password_hash = generate_password_hash(password, method=hash_method)
        ended = ended or PASSWORD_CHANGED
    session.flush()  # the user's row first: a sign-in racing this waits for it, or is seen
    if ended:  # every sign-in ends (reactivation does not revive them)
        end_sessions(session, user, ended)
    return user


def authenticate(session: Session, username: str, password: str, now: dt.datetime | None = None,
                 hash_method: str = PASSWORD_HASH, devices: Sequence[TrustedDevice] = ()):
    """Return the user, or raise ``DomainError`` (bad credentials, or throttled: 429 with
    ``retry_after`` seconds). ``hash_method``: how passwords are hashed here (an unknown
    name costs the same). ``devices``: what this device's cookie vouches for (the view
    checked its signature).

    The attempt is counted before the password is checked (:func:`reserve_attempt`, one
    statement, committed), so parallel guesses cannot all be checked before the first is
    counted, and one over the limit is refused without hashing anything. The password is
    checked outside any write transaction (a hash takes a third of a second; SQLite's one
    write lock is not held meanwhile); a success then clears the count.

    A device that signed in as this user before, with the current password, is counted
    under its own key (:func:`lotline.throttle.trusted_key`), not the name: a lock on the
    name does not refuse it, and its own failures lock only it."""
    now = now or utcnow()
    username = (username or "").strip()
    key = name_key(username)  # Pat, PAT and ｐａｔ are one name, and one count
    counted = key[:64]  # a longer name is no user's; its count is kept under 64 chars
    if devices:
        vouched = session.execute(_by_name([User.id, User.password_hash], username,
                                           key)).one_or_none()
        counted = throttle.trusted_key(devices, *(vouched or (None, None))) or counted
    failures, locked_until = run_in_transaction(
        session, lambda: reserve_attempt(session, counted, now))
    if locked_until is not None:
        wait = max(1, int((locked_until - now).total_seconds()))
        where = " on this device" if counted.startswith(throttle.DEVICE_PREFIX) else ""
        raise DomainError(
            "throttled",
            f"Too many failed sign-ins for {username}{where}. Try again in "
            f"{-(-wait // 60)} minute(s).", status=429, retry_after=wait)
    user = session.scalar(_by_name([User], username, key))
    checked = user.password_hash if user else _dummy_hash(hash_method)
    ok = check_password_hash(checked, password or "")
    if user and ok and user.active:
        run_in_transaction(session, lambda: _clear_attempts(session, counted))
        user.checked_hash = checked  # what start_session compares with the row under lock
        return user
    if failures >= MAX_FAILURES:  # this failure was the last one allowed: lock the name
        run_in_transaction(session, lambda: _lock(session, counted, now))
    raise DomainError("bad_credentials", "Unknown username or wrong password.", status=401)


def _by_name(columns, username: str, key: str):
    """The user a typed name names: the one whose name reads the same (``username_key``),
    an exact name first (two names created alike before the key was unique)."""
    exact = User.username == username
    return (select(*columns).where(or_(User.username_key == key, exact))
            .order_by(case((exact, 0), else_=1)).limit(1))


def sign_in(session: Session, username: str, password: str,
            hash_method: str = PASSWORD_HASH, devices: Sequence[TrustedDevice] = ()) -> User:
    """:func:`authenticate` (the attempt counted and committed before the password is
    checked), then a new sign-in (:func:`start_session`) in a transaction of its own."""
    return _checked(session, username, password, hash_method, devices, start=True)


def step_up(session: Session, username: str, password: str,
            hash_method: str = PASSWORD_HASH, devices: Sequence[TrustedDevice] = ()) -> User:
    """A user signing in again for one action at someone else's station (a supervisor's
    override): the same check and throttle as signing in (a device the user signed in on
    is trusted the same way), and no sign-in is started."""
    return _checked(session, username, password, hash_method, devices, start=False)


def _checked(session: Session, username: str, password: str, hash_method: str,
             devices: Sequence[TrustedDevice], *, start: bool) -> User:
    user = authenticate(session, username, password, hash_method=hash_method,
                        devices=devices)
    if start:
        run_in_transaction(session, lambda: start_session(session, user))
    return user


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


TOKEN_DAYS = (1, 3650)  # an expiry, when a token has one: a day to ten years
# A token's last use is written at most once a minute: an API caller polling every second
# would otherwise turn every read into a write.
LAST_USED_EVERY = dt.timedelta(minutes=1)


def create_token(session: Session, user: User, label: str = "",
                 expires_in_days: int | None = None) -> str:
    """Create an API token and return it; it is shown once, only its hash is kept. With
    ``expires_in_days`` it is refused from then on."""
    expires_at = None
    if expires_in_days is not None:
        low, high = TOKEN_DAYS
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
                or not low <= expires_in_days <= high:
            raise ValidationError(f"A token expires in {low} to {high} days.",
                                  field="expires_in_days")
        expires_at = utcnow() + dt.timedelta(days=expires_in_days)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, prefix=prefix, token_hash=_hash_token(secret),
                         label=label[:64], expires_at=expires_at))
    session.flush()
    return f"ll_{prefix}_{secret}"


def user_for_token(session: Session, token: str, now: dt.datetime | None = None) -> User | None:
    """The active user a bearer token belongs to, compared in constant time; a revoked or
    expired token is refused. Its last use is written down (at most once a minute)."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != "ll":
        return None
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    if row is None or row.revoked or not row.user.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if not hmac.compare_digest(row.token_hash, _hash_token(parts[2])):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row = _stamped(session, row.id, now)
        if row is None or row.revoked or not row.user.active:  # read again: still good?
            return None
    return row.user


def _stamped(session: Session, token_id: int, now: dt.datetime) -> ApiToken | None:
    """Write down the token's use (bookkeeping, at most once a minute, never moved back) and
    read it again. A database too busy to take the write does not fail the request."""
    table = ApiToken.__table__
    try:
        with transaction(session):
            session.execute(update(table).where(
                table.c.id == token_id,
                (table.c.last_used_at.is_(None)) | (table.c.last_used_at <= now - LAST_USED_EVERY))
                .values(last_used_at=now))
    except exc.OperationalError:  # SQLite's lock wait ran out: the stamp waits for next time
        pass
    return session.get(ApiToken, token_id)


def list_tokens(session: Session) -> list[ApiToken]:
    """Every API token, newest first, with its user (never its secret)."""
    return list(session.scalars(select(ApiToken).options(joinedload(ApiToken.user))
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, prefix: str) -> ApiToken:
    """Revoke the token ``prefix`` names (the part after ``ll_``): refused from now on."""
    prefix = str(prefix or "").strip()
    row = None
    if re.fullmatch(r"[0-9a-f]{8}", prefix):  # as create_token makes them
        row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound(f"No API token {prefix}.", code="unknown_token")
    row.revoked = True
    session.flush()
    return row


def token_state(row: ApiToken, now: dt.datetime | None = None) -> str:
    """"active", "revoked", "expired", or "user_inactive" (refused while the user is)."""
    if row.revoked:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "active" if row.user.active else "user_inactive"


def token_summary(row: ApiToken) -> dict:
    """What is shown of a token on the screen, in the CLI and the API: never its secret."""
    return {"prefix": row.prefix, "username": row.user.username, "label": row.label,
            "created_at": utc_stamp(row.created_at), "expires_at": utc_stamp(row.expires_at),
            "last_used_at": utc_stamp(row.last_used_at), "revoked": row.revoked,
            "state": token_state(row)}
