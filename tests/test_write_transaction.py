"""lotline.db.write_transaction: a Core connection's transaction that the ORM session joins.

Runs on the suite's database (SQLite file, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text

from lotline.db import write_transaction
from lotline.extensions import db
from lotline.models import Item, Location
from lotline.prepared import TX_CONNECTION, Prepared

_LOCATIONS = Prepared(select(func.count()).select_from(Location.__table__))
_ADD_LOCATION = Prepared(text("INSERT INTO location (code, zone, type, active) "
                              "VALUES ('W-01', '', 'storage', :active)").bindparams(active=True))


def count_items() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Item))


def count_locations() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Location))


def test_orm_writes_and_prepared_statements_share_one_transaction(app):
    with write_transaction(db.session):
        db.session.add(Item(sku="W-1", description="W"))
        db.session.flush()  # the ORM's insert, on the transaction's connection
        assert db.session.get_bind() is db.session.info[TX_CONNECTION]
        _ADD_LOCATION.execute(db.session)
        assert _LOCATIONS.first(db.session) == (1,)
        # the ORM sees the statement's row, in the same transaction
        assert db.session.scalar(select(Location.code)) == "W-01"
    assert count_items() == 1
    assert count_locations() == 1


def test_an_orm_object_added_inside_is_flushed_and_committed(app):
    with write_transaction(db.session):
        db.session.add(Item(sku="W-2", description="W"))  # no flush by hand
    assert count_items() == 1


def test_an_error_rolls_back_both_the_orm_writes_and_the_statements(app):
    with pytest.raises(RuntimeError, match="refused"):
        with write_transaction(db.session):
            db.session.add(Item(sku="W-3", description="W"))
            db.session.flush()
            _ADD_LOCATION.execute(db.session)
            raise RuntimeError("refused")
    assert count_items() == 0
    assert count_locations() == 0
    assert TX_CONNECTION not in db.session.info


def test_an_error_with_only_statements_rolls_them_back(app):
    with pytest.raises(RuntimeError):
        with write_transaction(db.session):
            _ADD_LOCATION.execute(db.session)
            raise RuntimeError("refused")
    assert count_locations() == 0


def test_the_orm_inside_uses_the_same_connection(app):
    """No second connection: on SQLite a second one would wait for the write lock this
    transaction holds, and see none of its writes."""
    pool = db.engine.pool
    db.session.commit()
    before = pool.checkedout()
    with write_transaction(db.session):
        _ADD_LOCATION.execute(db.session)
        assert db.session.scalar(select(func.count()).select_from(Location)) == 1
        assert db.session.execute(text("SELECT count(*) FROM location")).scalar() == 1
        assert pool.checkedout() == before + 1
    assert pool.checkedout() == before


def test_a_write_transaction_inside_another_is_refused(app):
    with pytest.raises(RuntimeError, match="already open"):
        with write_transaction(db.session):
            with write_transaction(db.session):
                pass
    # the outer one was rolled back and closed; a new one works
    with write_transaction(db.session):
        _ADD_LOCATION.execute(db.session)
    assert count_locations() == 1


def test_what_the_session_had_open_is_committed_first(app):
    db.session.add(Item(sku="W-4", description="W"))  # pending, outside any write transaction
    with write_transaction(db.session):
        _ADD_LOCATION.execute(db.session)
    assert count_items() == 1
    assert count_locations() == 1


def test_a_failed_commit_leaves_nothing_behind(app, monkeypatch):
    """The COMMIT itself fails (a disk error, a lost server): nothing is saved, the session
    does not think otherwise, and the connection goes back to no one still in its
    transaction (on SQLite it would keep the write lock; on PostgreSQL the next request on
    it would commit the failed write)."""
    dialect = db.engine.dialect
    real = dialect.do_commit
    failures = [dialect.loaded_dbapi.OperationalError("disk I/O error")]

    def flaky(dbapi_connection):
        if failures:
            raise failures.pop()
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_commit", flaky)
    item = Item(sku="W-5", description="W")
    with pytest.raises(Exception, match="disk I/O error"):
        with write_transaction(db.session):
            db.session.add(item)
            db.session.flush()
            _ADD_LOCATION.execute(db.session)
    assert inspect(item).transient  # not taken for saved
    assert db.engine.pool.checkedout() == 0
    with write_transaction(db.session):  # the next write gets a clean connection
        db.session.add(Item(sku="W-6", description="W"))
    assert count_items() == 1
    assert count_locations() == 0
    assert db.session.scalars(select(Item.sku)).all() == ["W-6"]
