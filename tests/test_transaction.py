"""lotline.db.transaction: the one unit of work (SQLAlchemy's session.begin()).

Runs on the suite's database (SQLite file, or PostgreSQL with TEST_DATABASE_URL).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, insert, inspect, select, text

from lotline.db import transaction
from lotline.extensions import db
from lotline.models import Item, Location

ADD_LOCATION = text("INSERT INTO location (code, zone, type, active) "
                    "VALUES ('W-01', '', 'storage', :active)").bindparams(active=True)


def count_items() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Item))


def count_locations() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Location))


def test_orm_writes_and_core_statements_share_one_transaction(app):
    with transaction(db.session):
        db.session.add(Item(sku="W-1", description="W"))
        db.session.flush()
        db.session.execute(ADD_LOCATION)
        assert db.session.scalar(select(func.count()).select_from(Location.__table__)) == 1
        # the ORM sees the statement's row, in the same transaction
        assert db.session.scalar(select(Location.code)) == "W-01"
    assert count_items() == 1
    assert count_locations() == 1


def test_an_orm_object_added_inside_is_flushed_and_committed(app):
    with transaction(db.session):
        db.session.add(Item(sku="W-2", description="W"))  # no flush by hand
    assert count_items() == 1


def test_an_error_rolls_back_both_the_orm_writes_and_the_statements(app):
    with pytest.raises(RuntimeError, match="refused"):
        with transaction(db.session):
            db.session.add(Item(sku="W-3", description="W"))
            db.session.flush()
            db.session.execute(ADD_LOCATION)
            raise RuntimeError("refused")
    assert count_items() == 0
    assert count_locations() == 0


def test_an_error_with_only_statements_rolls_them_back(app):
    with pytest.raises(RuntimeError):
        with transaction(db.session):
            db.session.execute(ADD_LOCATION)
            raise RuntimeError("refused")
    assert count_locations() == 0


def test_the_orm_inside_uses_the_same_connection(app):
    """No second connection: on SQLite a second one would wait for the write lock this
    transaction holds, and see none of its writes."""
    pool = db.engine.pool
    db.session.commit()
    before = pool.checkedout()
    with transaction(db.session):
        db.session.execute(ADD_LOCATION)
        assert db.session.scalar(select(func.count()).select_from(Location)) == 1
        assert db.session.execute(text("SELECT count(*) FROM location")).scalar() == 1
        assert pool.checkedout() == before + 1
    assert pool.checkedout() == before


def test_a_transaction_inside_another_joins_it_and_commits_with_it(app):
    """The scan engine opens the unit of work around a scan that commits; the domain's
    transaction inside joins it: nothing is committed until the outer one ends."""
    with transaction(db.session):
        with transaction(db.session):
            db.session.execute(ADD_LOCATION)
        db.session.add(Item(sku="W-6", description="W"))
        assert db.session().in_transaction()
    assert count_locations() == 1
    assert count_items() == 1


def test_a_failure_inside_rolls_back_the_whole_unit_of_work(app):
    """The outer block goes on (the engine renders the refusal): what it wrote before the
    inner one failed is rolled back too, and a retry inside is a transaction of its own."""
    with transaction(db.session):
        db.session.add(Item(sku="W-7", description="W"))
        db.session.flush()
        with pytest.raises(RuntimeError, match="refused"):
            with transaction(db.session):
                db.session.execute(ADD_LOCATION)
                raise RuntimeError("refused")
        assert db.session.scalar(select(func.count()).select_from(Item)) == 0  # read again
        with transaction(db.session):  # the retry: its own transaction, committed
            db.session.execute(ADD_LOCATION)
    assert count_items() == 0
    assert count_locations() == 1


def test_a_write_after_the_unit_of_work_failed_is_refused_not_lost_silently(app):
    with pytest.raises(RuntimeError, match="after this unit of work failed"):
        with transaction(db.session):
            with pytest.raises(RuntimeError, match="refused"):
                with transaction(db.session):
                    raise RuntimeError("refused")
            # no transaction of its own: a mistake
            db.session.execute(insert(Location).values(code="W-02", zone="", type="storage"))
    assert count_locations() == 0


def test_a_write_cannot_join_a_read(app):
    """A write inside a read transaction would write without the write lock (SQLite)."""
    with transaction(db.session, write=False):
        with pytest.raises(RuntimeError, match="cannot join a read"):
            with transaction(db.session):
                db.session.execute(ADD_LOCATION)
    assert count_locations() == 0


def test_a_read_the_session_had_open_is_ended_on_sqlite_and_goes_on_on_postgresql(app):
    """The request read something first (the signed-in user, a step's check). On SQLite the
    write transaction starts by ending that read (the write lock comes first), and what it
    read is read again inside. On PostgreSQL the read goes on as the write transaction (no
    ROLLBACK and BEGIN): the rows a change depends on are read afresh under their locks."""
    with transaction(db.session):
        db.session.add(Item(sku="W-4", description="W"))
    item = db.session.scalar(select(Item))  # a read: the session's transaction is open
    assert db.session().in_transaction()
    read = db.session().get_transaction()
    with transaction(db.session):
        if db.engine.dialect.name == "sqlite":
            assert inspect(item).expired  # read again under the write lock
            assert db.session().get_transaction() is not read
        else:
            assert not inspect(item).expired
            assert db.session().get_transaction() is read
        item.description = "changed"
    assert db.session.scalar(select(Item.description)) == "changed"


@pytest.mark.parametrize("how", ["pending", "flushed", "statement"])
def test_changes_made_outside_a_transaction_are_refused_not_committed(app, how):
    """Opening a transaction never commits what the session happened to hold, nor drops it
    silently: a change made outside one is a mistake, and it says so."""
    if how == "statement":
        db.session.execute(insert(Location).values(code="W-02", zone="", type="storage"))
    else:
        db.session.add(Item(sku="W-5", description="W"))  # outside any transaction
        if how == "flushed":
            db.session.flush()
    with pytest.raises(RuntimeError, match="outside a transaction"):
        with transaction(db.session):
            db.session.execute(ADD_LOCATION)
    db.session.rollback()
    assert count_items() == 0
    assert count_locations() == 0
    with transaction(db.session):  # rolled back, the session may write again
        db.session.execute(ADD_LOCATION)
    assert count_locations() == 1


def begins(write: bool) -> list[str]:
    sent = []

    def seen(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with transaction(db.session, write=write):
            db.session.scalar(select(func.count()).select_from(Item))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return [s for s in sent if s.startswith("BEGIN")]


def test_on_sqlite_only_a_write_transaction_takes_the_write_lock_first(app):
    if db.engine.dialect.name != "sqlite":
        assert begins(True) == begins(False) == []  # psycopg begins by itself
        return
    assert begins(True) == ["BEGIN IMMEDIATE"]
    assert begins(False) == ["BEGIN"]


def test_a_read_does_not_wait_for_a_writer(app):
    """Another station holds the write lock (SQLite) or a row lock (PostgreSQL) on the
    location: a read transaction reads what is committed at once."""
    with transaction(db.session):
        db.session.execute(ADD_LOCATION)
    holding, done = threading.Event(), threading.Event()

    def writer():
        with app.app_context():
            with transaction(db.session):
                db.session.execute(text("UPDATE location SET zone = 'held'"))
                holding.set()
                done.wait(10)
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        db.session.rollback()
        with transaction(db.session, write=False):
            assert db.session.scalar(select(Location.zone)) == ""  # not waiting for it
    finally:
        done.set()
        thread.join(10)
    assert db.session.scalar(select(Location.zone)) == "held"


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
    item = Item(sku="W-6", description="W")
    with pytest.raises(Exception, match="disk I/O error"):
        with transaction(db.session):
            db.session.add(item)
            db.session.flush()
            db.session.execute(ADD_LOCATION)
    assert inspect(item).transient  # not taken for saved
    assert db.engine.pool.checkedout() == 0
    with transaction(db.session):  # the next write gets a clean connection
        db.session.add(Item(sku="W-7", description="W"))
    assert count_items() == 1
    assert count_locations() == 0
    assert db.session.scalars(select(Item.sku)).all() == ["W-7"]
