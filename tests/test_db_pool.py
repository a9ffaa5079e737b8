"""Pooled server connections: a dead one is replaced before use (SQLAlchemy's pool_pre_ping)."""

import pytest
from sqlalchemy import create_engine, select, text

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


def test_a_connection_killed_while_idle_is_replaced_before_use(app):
    """A restarted server, a dropped idle connection: the next request gets a new
    connection, not an error."""
    pid = backend_pid()
    terminate(pid)
    assert backend_pid() != pid  # the ping found it dead; the request never saw it
