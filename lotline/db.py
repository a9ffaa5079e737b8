"""Database set-up that the rules depend on: SQLite pragmas and write transactions.

Every inventory transaction runs inside :func:`write_transaction`. On SQLite it is
``BEGIN IMMEDIATE`` (the database's write lock is taken before anything is read, so
two stations cannot read the same quantity and both write; a second writer waits for it
up to SQLite's ``busy_timeout``); on PostgreSQL the domain takes row locks (``SELECT …
FOR UPDATE``) on the locations it changes.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

from .prepared import TX_CONNECTION, Prepared

IMMEDIATE = "lotline_immediate"
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
        # A writer waits up to 15 s for the write lock before it is told the database is locked.
        cur.execute("PRAGMA busy_timeout=15000")
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
    with engine.connect() as connection:
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
