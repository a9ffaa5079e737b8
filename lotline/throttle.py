"""The sign-in throttle (OWASP's authentication cheat sheet: per-account limits and device
cookies), kept in the database (``login_throttle``) so every worker shares the counts.

Attempts are counted per name: too many failures in a window lock the name for a while.
A device that signed in as the user before (a signed device cookie, read by the view and
handed in as :class:`TrustedDevice`) is counted under a key of its own, so it keeps signing
in while the name is locked against everyone else, and a stolen device still gets no more
than :data:`MAX_FAILURES` tries a window. Supervisors list the counts and unlock a name
(an admin's only by an admin); rows whose window and lock have passed are pruned.

There is no per-address limit: thirty stations behind one NAT signing in at shift start
share an address and must not lock each other out; the per-name limit with device cookies
is the defence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import is_postgres
from .errors import DomainError, NotFound
from .models import LoginThrottle, User, utcnow
from .text import name_key

MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=5)
PRUNED_PER_ATTEMPT = 100  # dead rows a new count deletes at most (see reserve_attempt)
LISTED = 200  # rows the list shows at most (locked ones first)

_THROTTLE = LoginThrottle.__table__


@dataclass(frozen=True)
class TrustedDevice:
    """What a device cookie says (its signature already checked by the view): this device
    signed in as ``user_id`` while the password hash had this ``fingerprint``; ``nonce``
    names the device's own count."""

    user_id: int
    fingerprint: str
    nonce: str


def fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: a password change or reset (a new salt, whatever
    the password) drops every device's trust."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def new_trusted_device(user: User) -> TrustedDevice:
    """A device cookie's content for ``user``, who just signed in on it (a new nonce each
    time, as OWASP's device cookies are issued anew)."""
    return TrustedDevice(user.id, fingerprint(user.password_hash), secrets.token_urlsafe(16))


# In capitals: a typed name is counted case folded (lotline.text.name_key), so no name can
# be typed that is counted as, or listed as, a user's device.
DEVICE_PREFIX = "DEVICE:"
_DEVICE_KEY = re.compile(r"DEVICE:(\d{1,18}):[A-Za-z0-9_-]{22}")


def device_key(device: TrustedDevice) -> str:
    """The key a trusted device's attempts are counted under (at most 64 characters, like a
    name; the nonce is 128 random bits, so no one without the cookie can count against it)."""
    return f"{DEVICE_PREFIX}{device.user_id}:{device.nonce}"


def trusted_key(devices: Sequence[TrustedDevice], user_id: int | None,
                password_hash: str | None) -> str | None:
    """The device key to count an attempt for this user under, when one of ``devices``
    vouches for them with the current password; else None (the name is counted)."""
    if user_id is None or password_hash is None:
        return None
    current = fingerprint(password_hash)
    for device in devices:
        if device.user_id == user_id and hmac.compare_digest(device.fingerprint, current) \
                and re.fullmatch(_DEVICE_KEY, device_key(device)):
            return device_key(device)
    return None


def reserve_attempt(session: Session, username: str,
                    now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Count a sign-in attempt for ``username`` (or a trusted device's key) before its
    password is checked: one upsert that starts the window afresh when it has passed.
    Returns the attempts counted in the window (a success clears them) and, when the name is
    locked (or this attempt is past the limit, which locks it: of parallel guesses only the
    first :data:`MAX_FAILURES` are checked), until when.

    An attempt that starts a count (a name not seen in the window: the only way the table
    grows, e.g. guesses at names no one has) also deletes up to :data:`PRUNED_PER_ATTEMPT`
    dead rows (:func:`prune_throttle`), so the table holds about one window's names."""
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    t = _THROTTLE.c
    locked = t.locked_until > now  # NULL (not locked): false
    fresh = t.window_start < now - FAILURE_WINDOW  # the window has passed: count afresh
    # A lock that ran out inside the window allows one checked try: a failure locks again.
    lapsed = t.locked_until <= now
    statement = insert(_THROTTLE).values(username=username, failures=1, window_start=now)
    statement = statement.on_conflict_do_update(index_elements=[t.username], set_={
        "failures": case((locked, t.failures), (fresh, 1), (lapsed, MAX_FAILURES),
                         else_=t.failures + 1),
        "window_start": case((locked, t.window_start), (fresh, now), else_=t.window_start),
        "locked_until": case((locked, t.locked_until), else_=None),
    }).returning(t.failures, t.locked_until)
    row = session.execute(statement).one()
    if row.failures == 1:
        prune_throttle(session, now, at_most=PRUNED_PER_ATTEMPT)
    if row.locked_until and row.locked_until > now:
        return row.failures, row.locked_until
    if row.failures > MAX_FAILURES:
        return row.failures, _lock(session, username, now)
    return row.failures, None


def _lock(session: Session, username: str, now: dt.datetime) -> dt.datetime:
    until = now + LOCKOUT
    session.execute(update(_THROTTLE).where(_THROTTLE.c.username == username)
                    .values(locked_until=until))
    return until


def _clear_attempts(session: Session, username: str) -> None:
    session.execute(delete(_THROTTLE).where(_THROTTLE.c.username == username))


def _dead(now: dt.datetime):
    """A row whose window and lock have both passed: the next attempt counts afresh, as if
    there were no row (an index on ``window_start`` finds them)."""
    t = _THROTTLE.c
    return and_(t.window_start < now - FAILURE_WINDOW,
                or_(t.locked_until.is_(None), t.locked_until <= now))


def prune_throttle(session: Session, now: dt.datetime | None = None, *,
                   at_most: int | None = None) -> int:
    """Delete the dead rows (:func:`_dead`), or ``at_most`` of them; how many. With
    ``at_most``, rows another transaction holds are skipped (PostgreSQL's ``SKIP LOCKED``),
    so two sign-ins pruning at once never wait for each other. ``flask prune-sessions``
    deletes them all."""
    now = now or utcnow()
    if at_most is None:
        return session.execute(delete(_THROTTLE).where(_dead(now))).rowcount
    t = _THROTTLE.c
    dead = (select(t.username).where(_dead(now)).limit(at_most)
            .with_for_update(skip_locked=True))
    return session.execute(delete(_THROTTLE).where(t.username.in_(dead))).rowcount


@dataclass(frozen=True)
class SignInLock:
    """A name (or a user's trusted device) with failed sign-ins counted in the window, or
    locked. ``role``: the role of the user the name is (None: no user has it)."""

    name: str
    device: bool
    failures: int
    locked_until: dt.datetime | None
    role: str | None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def sign_in_locks(session: Session, now: dt.datetime | None = None,
                  limit: int = LISTED) -> list[SignInLock]:
    """The names locked now or with failures counted in the window, locked ones first, a
    user's name (or device) before a name that is no one's, then by name; at most ``limit``
    (a flood of made-up names cannot push a real user's lock off the list). A trusted
    device's count is listed under its user's name."""
    now = now or utcnow()
    t = _THROTTLE.c
    locked = t.locked_until > now
    someone = or_(t.username.startswith(DEVICE_PREFIX),
                  exists().where(User.username_key == t.username))
    rows = session.execute(
        select(t.username, t.failures, case((locked, t.locked_until), else_=None).label("until"))
        .where(or_(locked, t.window_start >= now - FAILURE_WINDOW))
        .order_by(case((locked, 0), else_=1), case((someone, 0), else_=1), t.username)
        .limit(limit)).all()
    devices = {row.username: int(match.group(1)) for row in rows
               if (match := re.fullmatch(_DEVICE_KEY, row.username))}
    by_id = {row.id: (row.username, row.role) for row in session.execute(
        select(User.id, User.username, User.role).where(User.id.in_(set(devices.values()))))}
    keys = [row.username for row in rows if row.username not in devices]  # names as compared
    by_key = {row.username_key: (row.username, row.role) for row in session.execute(
        select(User.username_key, User.username, User.role).where(User.username_key.in_(keys)))}
    found = []
    for row in rows:
        if row.username in devices:
            name, role = by_id.get(devices[row.username], (row.username, None))
            found.append(SignInLock(name, True, row.failures, row.until, role))
        else:
            name, role = by_key.get(row.username, (row.username, None))
            found.append(SignInLock(name, False, row.failures, row.until, role))
    return found


def may_unlock(acting_user: User | None, role: str | None) -> bool:
    """A supervisor unlocks any name but an admin's; an admin's is unlocked by an admin
    (``acting_user`` None: the server's command line)."""
    return acting_user is None or role != "admin" or acting_user.has_role("admin")


def unlock_sign_in(session: Session, username: str, acting_user: User | None = None) -> int:
    """Clear the failures counted for ``username`` and, when it is a user's, for each of
    their trusted devices: the next sign-in is checked at once. How many counts were
    cleared."""
    username = str(username or "").strip()
    key = name_key(username)[:64]  # as the attempts were counted (lotline.users.authenticate)
    user = session.scalar(select(User).where(User.username_key == key)) if key else None
    if not may_unlock(acting_user, user.role if user else None):
        raise DomainError("admin_only", f"{username} is an admin: only an admin unlocks an "
                          f"admin's sign-in.", status=403)
    t = _THROTTLE.c
    cleared = session.execute(delete(_THROTTLE).where(t.username == key)).rowcount
    if user is not None:
        cleared += session.execute(delete(_THROTTLE).where(
            t.username.startswith(f"{DEVICE_PREFIX}{user.id}:"))).rowcount
    if not cleared:
        raise NotFound(f"No failed sign-ins are counted for {username}.", code="not_locked")
    return cleared
