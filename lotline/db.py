"""Database set-up that the rules depend on: SQLite pragmas and write transactions.

Every inventory transaction runs inside :func:`write_transaction`. On SQLite it is
``BEGIN IMMEDIATE`` (the database's write lock is taken before anything is read, so
two stations cannot read the same quantity and both write), and Lotline's writers queue
for that lock through a kernel lock beside the file (:class:`WriterQueue`) instead of
SQLite's sleep-and-retry; on PostgreSQL the domain takes row locks (``SELECT … FOR
UPDATE``) on the locations it changes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from .prepared import TX_CONNECTION, Prepared

IMMEDIATE = "lotline_immediate"
# How long a SQLite writer waits for the write lock (SQLite's busy_timeout), and for its
# turn in Lotline's writer queue, before it is told the database is locked.
BUSY_TIMEOUT_MS = 15000
# On the driver, as every scan-path statement (lotline.prepared): a BEGIN through the
# execution layer cost more than the transaction's own writes.
_BEGIN = Prepared(text("BEGIN"))
_BEGIN_IMMEDIATE = Prepared(text("BEGIN IMMEDIATE"))
# A pooled connection to a server that sat idle this long (seconds) is pinged before use:
# under load connections never idle that long, so busy stations pay no ping.
IDLE_PING_SECONDS = 1.0


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        _ping_idle_connections(engine)
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        # Take transaction control from pysqlite so BEGIN is ours to choose.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")  # BUSY_TIMEOUT_MS (a test holds them equal)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get(IMMEDIATE)
        (_BEGIN_IMMEDIATE if immediate else _BEGIN).run(conn)


def _ping_idle_connections(engine: Engine) -> None:
    """Test a pooled server connection before use only when it has sat idle a while (a
    restarted server or a dropped idle connection then costs a reconnect, not a 500).
    ``pool_pre_ping`` would ping on every checkout: a round trip to the server added to
    every transaction, and a request opens two or three."""

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()
        except Exception as error:  # the pool drops this connection and opens another
            raise exc.DisconnectionError(str(error)) from error


@contextmanager
def outside_transaction(engine: Engine):
    """A connection of its own for a few reads that need no transaction: each statement
    sees what is committed when it runs. The request's session stays unopened by them, so
    it has no read transaction to end: on PostgreSQL that saves a BEGIN and a ROLLBACK
    round trip, and psycopg forgets its prepared statements at every ROLLBACK (so reads
    ended by one are planned again every time). SQLite's driver runs a lone SELECT outside
    a transaction already."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def retryable(error: Exception) -> bool:
    """A write transaction that failed this way is worth running again from the start: a
    unique-key race (its rules are checked again, and now see the winner's row), a
    PostgreSQL deadlock or serialization failure, or SQLite's lock wait running out."""
    if isinstance(error, exc.IntegrityError):
        return True
    message = str(getattr(error, "orig", error)).lower()
    return "deadlock" in message or "could not serialize" in message or "locked" in message


def committed(session: Session, work, tries: int = 3):
    """``work()`` as one write transaction, committed; run again from the start (rules and
    all) when it failed in a way worth retrying (:func:`retryable`)."""
    for attempt in range(tries):
        try:
            with write_transaction(session):
                return work()
        except (exc.IntegrityError, exc.OperationalError) as error:
            if attempt == tries - 1 or not retryable(error):
                raise
    raise AssertionError("unreachable")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class WriterQueue:
    """The writers of one SQLite file take turns through a kernel lock.

    ``BEGIN IMMEDIATE`` makes a second writer wait for the first, but SQLite's own wait is a
    sleep and retry: 1 ms, then 2, 5, 10 ms... whatever the holder needs (a scan holds the
    lock for about 0.2 ms). Two gunicorn workers writing nonstop then sleep more than they
    work. Here each write transaction first takes an exclusive ``flock`` on a file beside the
    database (``<database>-writers``); a writer that finds it taken tries again every
    0.1 ms (every 1 ms after the first 20 ms), so it starts soon after the holder lets go,
    and gives up after ``timeout`` seconds (SQLite's busy timeout) with SQLite's own
    "database is locked", which the transactions retry as before. A thread lock does the
    same between threads of one process (a flock is shared by every thread using the same
    file). The kernel drops the lock of a killed process; a forked child opens its own file.

    It only orders Lotline's own writers; SQLite's lock still guards the data, and
    ``busy_timeout`` still covers any other writer (a migration, the sqlite3 shell). The
    file holds nothing and is opened read-only (a flock needs no more), created readable by
    all like the database's other files, so a server running as another user than the one
    who created it can still queue. Where it cannot be opened at all, writers wait as
    SQLite makes them (slower under load, as safe), and the log says so once.
    """

    def __init__(self, path: str, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = path
        self.timeout = timeout
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        _all_queues.add(self)

    def _file(self) -> int | None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                self._fd = None
                logging.getLogger(__name__).warning(
                    "Writers of %s wait as SQLite makes them: %s", self.path, error)
        return self._fd

    def close(self) -> None:
        """Close the file (it is opened again when next needed)."""
        fd, self._fd, self._pid = self._fd, None, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread lock may have been held by a thread that
        does not exist here, and its open file would share the parent's flock."""
        self._threads = threading.Lock()
        self.close()

    @contextmanager
    def turn(self):
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise _locked()
        try:
            fd = self._file()
            if fd is not None:
                _flock_by(fd, deadline)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _flock_by(fd: int, deadline: float) -> None:
    started = time.monotonic()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        now = time.monotonic()
        if now >= deadline:
            raise _locked()
        time.sleep(0.0001 if now - started < 0.02 else 0.001)


def _locked() -> exc.OperationalError:
    import sqlite3

    return exc.OperationalError("BEGIN IMMEDIATE", None,
                                sqlite3.OperationalError("database is locked"))


_all_queues: weakref.WeakSet[WriterQueue] = weakref.WeakSet()
_queues: weakref.WeakKeyDictionary[Engine, WriterQueue | None] = weakref.WeakKeyDictionary()
_turn = threading.local()


def _reset_after_fork() -> None:
    for queue in list(_all_queues):
        queue._after_fork()
    _turn.held = False


os.register_at_fork(after_in_child=_reset_after_fork)


def writer_queue(engine: Engine) -> WriterQueue | None:
    """The queue of writers of ``engine``'s SQLite file; None for a server database or an
    in-memory one. Its file is closed when the engine is disposed."""
    try:
        return _queues[engine]
    except KeyError:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        queue = None
        if database and database != ":memory:" and not database.startswith("file:"):
            queue = WriterQueue(os.path.abspath(database) + "-writers")
            event.listen(engine, "engine_disposed", lambda _engine: queue.close())
        _queues[engine] = queue
        return queue


@contextmanager
def _writers_turn(session: Session):
    """This thread's turn to write (nested write transactions take it once)."""
    queue = writer_queue(session.get_bind().engine)
    if queue is None or getattr(_turn, "held", False):
        yield
        return
    with queue.turn():
        _turn.held = True
        try:
            yield
        finally:
            _turn.held = False


@contextmanager
def write_transaction(session: Session):
    """One database transaction for one inventory change: commit on success, roll back on error.

    Whatever the session had open (a read of the signed-in user, say) is ended first, so
    on SQLite the write lock is the first thing the new transaction takes.

    The transaction is a Core connection's, not the ORM session's: the scan path's
    statements (lotline.prepared) run on it directly, and opening and committing the ORM's
    own transaction cost more than the writes (~35 µs of ~50 on SQLite). The session still
    works inside: while the transaction is open the session's ``get_bind`` hands out this
    connection (:class:`lotline.extensions.Session`), so an ORM read or flush joins the
    same transaction, and is flushed and ended before the connection commits.
    """
    current = session() if isinstance(session, scoped_session) else session
    info = current.info
    if info.get(TX_CONNECTION) is not None:
        raise RuntimeError("A write transaction is already open on this session.")
    if current.in_transaction() or current.new or current.dirty or current.deleted:
        current.commit()
    engine = current.get_bind()
    with _writers_turn(current), engine.connect() as connection:
        connection.execution_options(**{IMMEDIATE: True})
        transaction = connection.begin()
        info[TX_CONNECTION] = connection
        try:
            yield session
            used = current.in_transaction() or current.new or current.dirty or current.deleted
            if used:
                current.flush()
            transaction.commit()
            if used:  # joined: this only ends the session's part, after the data is committed
                current.commit()
        except BaseException:
            try:
                current.rollback()  # joined: this rolls the connection's transaction back too
                if transaction.is_active:
                    transaction.rollback()
            finally:
                if connection.get_transaction() is not None:
                    # a COMMIT that failed leaves the driver's transaction open: never pool it
                    connection.invalidate()
            raise
        finally:
            info.pop(TX_CONNECTION, None)
