"""The sign-in throttle: failed sign-ins counted per name in the database (``login_throttle``),
shared by every worker; too many in a window lock the name for a while."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import is_postgres
from .models import LoginThrottle

MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=5)

_THROTTLE = LoginThrottle.__table__


def reserve_attempt(session: Session, username: str,
                    now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Count a sign-in attempt for ``username`` before its password is checked: one upsert
    that starts the window afresh when it has passed. Returns the attempts counted in the
    window (a success clears them) and, when the name is locked (or this attempt is past the
    limit, which locks it: of parallel guesses only the first :data:`MAX_FAILURES` are
    checked), until when."""
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
