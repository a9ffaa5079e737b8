"""The database set-up the rules depend on, and the one unit of work.

Every change runs in :func:`transaction` (SQLAlchemy's ``session.begin()``). On SQLite a
write transaction starts with ``BEGIN IMMEDIATE``: the database's write lock is taken
before anything is read, so two stations cannot read the same quantity and both write; a
second writer waits for it (SQLite's ``busy_timeout``). A read starts with a plain
``BEGIN`` and never waits for a writer. On PostgreSQL the domain takes row locks
(``SELECT … FOR UPDATE``) on what it changes (:func:`row_locks`).

:func:`run_in_transaction` is the one place a change is retried (a race it can lose and
win on a second try) and answered from its idempotency record.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import event, exc, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from .errors import DomainError

WRITE = "lotline_write"  # the execution option that makes SQLite's BEGIN an IMMEDIATE one
_OPEN = "lotline.transaction_open"  # in Session.info: (the unit transaction() opened, writes?)
_WROTE = "lotline.wrote"  # in Session.info: the session's transaction has written something
_FOUND = "lotline.found"  # in Session.info: rows read by a natural key in this transaction
_LOCKED = "lotline.locked"  # in Session.info: rows this transaction read under a row lock
TRIES = 3
# Tests switch this off to show the concurrency tests catch a version without row locks.
LOCKING = True


def configure_engine(engine: Engine) -> None:
    """SQLite: the pragmas, and BEGIN emitted by SQLAlchemy (the pysqlite recipe in
    SQLAlchemy's SQLite documentation), IMMEDIATE for a write transaction."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # the driver emits no BEGIN of its own
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # A writer waits up to 15 s for the write lock before it is told the database is locked.
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE)
                             else "BEGIN")


@contextmanager
def transaction(session: Session, *, write: bool = True, expire_on_commit: bool = True):
    """One database transaction: committed when the block ends, rolled back if it raises.

    On SQLite whatever the session was reading is ended first (its read transaction is
    rolled back), so the write lock is the first thing a write transaction takes; on
    PostgreSQL the read goes on as the unit of work (see below). Changes made
    to the session outside any transaction are a mistake: they are refused, never
    committed along with this one.

    Inside an open write transaction (on PostgreSQL the scan engine opens one around a scan
    that commits, so that what its steps read is what its commit uses) a transaction joins
    it: it commits with it, and if it raises, the whole unit of work is rolled back there and
    then. Once that happened, a transaction inside the block is a new one of its own (a
    retry).

    ``expire_on_commit=False``: what the block read stays loaded after the commit (the
    screen drawn after a scan shows what its unit of work read after its writes, without
    reading it all again; SQLAlchemy's option of that name, for this commit only)."""
    current = session() if isinstance(session, scoped_session) else session
    outer = current.info.get(_OPEN)
    if outer is not None and outer[0].is_active:
        if write and not outer[1]:
            raise RuntimeError("A write transaction cannot join a read transaction.")
        try:
            yield current
        except BaseException:
            current.rollback()  # the unit of work ends with its first failure
            raise
        return
    if current.new or current.dirty or current.deleted or current.info.get(_WROTE):
        raise RuntimeError("The session holds changes made outside a transaction.")
    going_on = current.in_transaction() and current.get_transaction().is_active and \
        is_postgres(current)
    if current.in_transaction() and not going_on:
        current.rollback()  # a read: nothing to keep (SQLite: the write lock comes first)
    # On PostgreSQL a read so far (the signed-in user, read at the request's start) holds no
    # lock a change needs and every statement reads what is committed when it runs (READ
    # COMMITTED): the unit of work goes on in it, without a ROLLBACK and a BEGIN (two round
    # trips a scan; bench/RESULTS.md, issue 16). What a change reads under its
    # locks is read after they are taken (locked_once).
    unit = current.get_transaction() if going_on else current.begin()
    current.info[_OPEN] = (unit, write)
    try:
        if write and not going_on:
            current.connection(execution_options={WRITE: True})
        yield current
    except BaseException:
        current.rollback()  # also a transaction a failed flush left inactive
        raise
    else:
        if not unit.is_active and current.info.get(_WROTE):
            current.rollback()
            raise RuntimeError("Changes were made after this unit of work failed; they are "
                               "not committed.")
        if unit.is_active:
            expiring, current.expire_on_commit = current.expire_on_commit, expire_on_commit
            try:
                unit.commit()
            except BaseException:  # the COMMIT failed: nothing stays open or taken for saved
                current.rollback()
                raise
            finally:
                current.expire_on_commit = expiring
    finally:  # back to the unit of work that already ended around this one, if any
        if outer is None:
            current.info.pop(_OPEN, None)
        else:
            current.info[_OPEN] = outer


@event.listens_for(Session, "after_flush")
def _flushed(session, _context):
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state):
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction):
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
        session.info.pop(_FOUND, None)
        session.info.pop(_LOCKED, None)


def found_once(session: Session, kind: str, key, load):
    """The row ``load()`` finds for a natural key (an item by SKU, a location by code), read
    once per transaction: what the session's identity map does for primary keys.

    Why: the scan engine checks every accepted value on every scan and each rule names the
    item and the location again; reading them each time made a Put confirm 18 statements
    and left 500 stations past their bar (bench/RESULTS.md, issue 16). A transaction's end
    forgets them, and an object the session expired is read again. What a change reads
    under its locks is read after they are taken (SQLite: the write lock is taken before any
    read of its transaction; PostgreSQL: :func:`locked_once` forgets what was read before a
    lock, and the locking reads use populate_existing)."""
    current = session() if isinstance(session, scoped_session) else session
    found = current.info.setdefault(_FOUND, {})
    row = found.get((kind, key), _NOT_READ)
    if row is _NOT_READ or _expired(row):
        row = found[(kind, key)] = load()
    return row


_NOT_READ = object()


def _expired(row) -> bool:
    """An ORM object the session expired (the screen after a commit reads everything
    again): read it again, by its natural key, in one statement."""
    state = inspect(row, raiseerr=False)
    return state is not None and getattr(state, "expired", False)


def locked_once(session: Session, kind: str, key, lock):
    """The row ``lock()`` reads under a row lock (PostgreSQL's ``FOR UPDATE``, read afresh),
    locked and read once per transaction; :func:`found_once` finds it by the same kind and
    key from then on.

    What was read before a lock is forgotten when it is taken: under READ COMMITTED another
    station may have changed it while this transaction waited for the lock, so it is read
    again when next asked for. (A scan that commits takes its locks before its steps read
    anything: the scan engine's ``Flow.lock``.)"""
    current = session() if isinstance(session, scoped_session) else session
    locked = current.info.setdefault(_LOCKED, {})
    if (kind, key) in locked:  # expired (the screen after a commit): the lock still holds, and
        return locked[(kind, key)]  # the session reads it again by its key when it is used
    found = current.info.setdefault(_FOUND, {})
    found.clear()
    found.update(locked)
    row = locked[(kind, key)] = found[(kind, key)] = lock()
    return row


def held(session: Session, kind: str, key) -> bool:
    """Whether the row of that kind and key cannot change under this transaction until it
    ends, except by its own writes: on PostgreSQL, once :func:`locked_once` locked it; on
    SQLite, in any transaction (a write holds the database's write lock; a read sees one
    snapshot of it)."""
    current = session() if isinstance(session, scoped_session) else session
    if not current.in_transaction():
        return False
    if is_postgres(current):
        return (kind, key) in current.info.get(_LOCKED, {})
    return True


def forget_found(session: Session, kind: str, key) -> None:
    """A row read by :func:`found_once` is created or renamed: read it again when asked."""
    current = session() if isinstance(session, scoped_session) else session
    current.info.get(_FOUND, {}).pop((kind, key), None)


def retryable(error: Exception) -> bool:
    """A write transaction that failed this way is worth running again from the start: a
    unique-key race (its rules are checked again, and now see the winner's row), a
    PostgreSQL deadlock or serialization failure, or SQLite's lock wait running out."""
    if isinstance(error, exc.IntegrityError):
        return True
    message = str(getattr(error, "orig", error)).lower()
    return "deadlock" in message or "could not serialize" in message or "locked" in message


class Once(Protocol):
    """A change's idempotency record (lotline.inventory.idempotency.Once)."""

    def record(self, session: Session, result) -> None: ...

    def replay(self, session: Session): ...


def run_in_transaction(session: Session, work, *, once: Once | None = None,
                       expire_on_commit: bool = True):
    """``work()`` as one write transaction, and its result.

    Run again from the start (rules and all) when it failed in a way worth retrying
    (:func:`retryable`). With ``once``, the change is recorded under its idempotency key in
    the same transaction, last; when it fails, or is refused, because a twin with the same
    key went first, the twin's result is the answer."""
    for attempt in range(TRIES):
        try:
            with transaction(session, expire_on_commit=expire_on_commit):
                result = work()
                if once is not None:
                    once.record(session, result)
            return result
        except DomainError:
            done = once.replay(session) if once is not None else None
            if done is not None:
                return done
            raise
        except (exc.IntegrityError, exc.OperationalError) as error:
            done = once.replay(session) if once is not None else None
            if done is not None:
                return done
            if attempt == TRIES - 1 or not retryable(error):
                raise
    raise AssertionError("unreachable")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def row_locks(session: Session) -> bool:
    """Whether the domain locks the rows it changes (PostgreSQL; SQLite's write lock
    already serialises writers)."""
    return LOCKING and is_postgres(session)
