"""Pooled server connections: pinged only after sitting idle, and replaced when dead."""

import pytest
from sqlalchemy import create_engine, select, text

from lotline import db as lotline_db
from lotline.extensions import db
from tests import conftest

ON_POSTGRES = (conftest.test_database_url() or "").startswith("postgresql")
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason=(
    "SQLite has no server connection to lose: its pool needs no ping (PostgreSQL only)."))


def backend_pid() -> int:
    pid = db.session.scalar(select(text("pg_backend_pid()")))
    db.session.commit()  # back to the pool
    return pid


def terminate(pid: int) -> None:
    other = create_engine(conftest.test_database_url())
    with other.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
    other.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(app, monkeypatch):
    pid = backend_pid()
    terminate(pid)
    monkeypatch.setattr(lotline_db, "IDLE_PING_SECONDS", 0.0)  # it has sat idle long enough
    assert backend_pid() != pid  # the ping found it dead; the request never saw it


def test_a_connection_used_moments_ago_is_not_pinged(app, monkeypatch):
    pid = backend_pid()
    terminate(pid)
    monkeypatch.setattr(lotline_db, "IDLE_PING_SECONDS", 3600.0)
    # No ping for a connection just checked in: the dead one is handed out and the first
    # statement fails (the pool then drops it); this is the round trip the ping saves.
    with pytest.raises(Exception, match="(?i)terminat|closed|connection"):
        db.session.scalar(select(text("1")))
    db.session.rollback()
    assert backend_pid() != pid


def test_a_prepared_statement_on_a_dead_connection_invalidates_it(app, monkeypatch):
    """The scan path's prepared statements run on the driver: a lost connection still comes
    out as SQLAlchemy's error saying so, and the pool replaces the connection."""
    from sqlalchemy.exc import DBAPIError

    from lotline import records

    pid = backend_pid()
    terminate(pid)
    monkeypatch.setattr(lotline_db, "IDLE_PING_SECONDS", 3600.0)
    with pytest.raises(DBAPIError) as caught:
        records.place(db.session, "A-01-01")
    assert caught.value.connection_invalidated
    db.session.rollback()
    assert backend_pid() != pid
    assert records.place(db.session, "NOWHERE") is None  # the new connection works
