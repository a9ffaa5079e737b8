"""The scan path's prepared statements (lotline.prepared) keep what SQLAlchemy's execution
layer gave: typed values both ways, engine events, its exceptions, the session's
transaction. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError

from lotline.extensions import db
from lotline.models import Item, Lot
from lotline.prepared import Prepared

LOT = Lot.__table__
NEW_LOT = Prepared(insert(LOT).values(item_id=bindparam("item_id"), number=bindparam("number"),
                                      expiry=bindparam("expiry"), created_at=bindparam("at"))
                   .returning(LOT.c.id))
LOT_BY_ID = Prepared(select(LOT.c.number, LOT.c.expiry, LOT.c.created_at)
                     .where(LOT.c.id == bindparam("pk")))
COUNT_LOTS = Prepared(select(LOT.c.id).where(LOT.c.item_id == bindparam("item_id"),
                                             LOT.c.number != "never"))  # a literal bind too


@pytest.fixture
def item_id(app):
    item = Item(sku="P-1", description="", require_lot=True)
    db.session.add(item)
    db.session.commit()
    return item.id


def new_lot(item_id, number, expiry=None, at=None):
    return NEW_LOT.first(db.session, {"item_id": item_id, "number": number, "expiry": expiry,
                                      "at": at or dt.datetime(2026, 11, 25, 8, 30, 1, 250)})[0]


def test_dates_and_times_round_trip_as_python_values(item_id):
    at = dt.datetime(2026, 11, 25, 8, 30, 1, 250)
    pk = new_lot(item_id, "L1", dt.date(2027, 3, 31), at)
    assert LOT_BY_ID.first(db.session, {"pk": pk}) == ("L1", dt.date(2027, 3, 31), at)
    db.session.commit()
    orm = db.session.get(Lot, pk)  # what the ORM reads back is the same
    assert (orm.number, orm.expiry, orm.created_at) == ("L1", dt.date(2027, 3, 31), at)


def test_a_statement_with_a_literal_comparison_gets_its_value(item_id):
    new_lot(item_id, "L1")
    new_lot(item_id, "never")
    assert len(COUNT_LOTS.execute(db.session, {"item_id": item_id})) == 1


def test_runs_in_the_sessions_transaction(item_id):
    new_lot(item_id, "L1")
    assert db.session.scalar(select(Lot.number).where(Lot.item_id == item_id)) == "L1"
    db.session.rollback()
    assert db.session.scalar(select(Lot.id).where(Lot.item_id == item_id)) is None


def test_engine_events_see_every_statement(item_id):
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        new_lot(item_id, "L1")
        COUNT_LOTS.execute(db.session, {"item_id": item_id})
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert [s.split()[0] for s in seen] == ["INSERT", "SELECT"]
    assert "lot" in seen[0] and "RETURNING" in seen[0]


def test_a_driver_error_is_sqlalchemys_and_the_session_recovers(item_id):
    new_lot(item_id, "L1")
    db.session.commit()
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        new_lot(item_id, "L1")
    db.session.rollback()
    assert new_lot(item_id, "L2")
    db.session.commit()
    assert sorted(db.session.scalars(select(Lot.number))) == ["L1", "L2"]


def test_a_missing_parameter_is_refused_before_the_database(item_id):
    with pytest.raises(KeyError, match="expiry"):
        NEW_LOT.execute(db.session, {"item_id": item_id, "number": "X", "at": None})
