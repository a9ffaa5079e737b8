"""seed-bulk: a tiny run fills an empty database with consistent, traceable data."""

from sqlalchemy import func, select

from lotline import inventory, lots
from lotline.bulk import Plan
from lotline.extensions import db
from lotline.models import (
    Carton,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    Order,
    OrderLine,
    PackLine,
    PickLine,
)
from tests.conftest import make_item


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_bulk_fills_an_empty_database(runner):
    result = runner.invoke(args=["seed-bulk", "--inventory", "200", "--pack-lines", "500",
                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert "done in" in result.output
    plan = Plan(200, 500)
    assert count(Item) == plan.items
    assert db.session.scalar(select(func.count()).where(Item.require_lot)) == plan.lot_items
    assert count(Location) == plan.locations
    assert count(Lot) == plan.lots
    assert count(Inventory) == 200
    assert count(LedgerEntry) == 200
    assert count(PackLine) == 500
    assert count(Order) == plan.orders
    assert count(OrderLine) >= plan.orders and count(Carton) >= plan.orders
    assert count(PickLine) > 0
    # Every lot-tracked item's inventory has a lot; no other has one.
    assert db.session.scalar(select(func.count()).select_from(Inventory).join(Item).where(
        Item.require_lot == Inventory.lot_id.is_(None))) == 0
    # Order lines hold exactly what was packed.
    packed = select(PackLine.order_line_id, func.sum(PackLine.qty).label("q")).group_by(
        PackLine.order_line_id).subquery()
    assert db.session.scalar(select(func.count()).select_from(OrderLine).join(
        packed, packed.c.order_line_id == OrderLine.id).where(
        OrderLine.qty_packed != packed.c.q)) == 0
    assert inventory.ledger_mismatches(db.session) == []

    # A lot that went out in pack lines is traced to its customers.
    number, sku = db.session.execute(
        select(PackLine.recorded_lot, Item.sku).join(Item, Item.id == PackLine.item_id)
        .where(PackLine.recorded_lot.is_not(None)).order_by(PackLine.id).limit(1)).one()
    trace = lots.trace(db.session, number)
    assert trace.lots and trace.shipments
    assert any(s.source == "recorded at pack" for s in trace.shipments)
    assert trace.customers()
    for_item = lots.trace(db.session, number, sku)
    assert for_item.shipments and all(s.sku == sku for s in for_item.shipments)

    # The app can keep inserting after explicit ids (PostgreSQL sequences moved on).
    make_item("AFTER-BULK")
    assert count(Item) == plan.items + 1


def test_seed_bulk_refuses_a_database_with_items(runner):
    make_item("EXISTING")
    result = runner.invoke(args=["seed-bulk", "--inventory", "200", "--pack-lines", "500",
                                 "--yes"])
    assert result.exit_code != 0
    assert "already holds data (items: 1)" in result.output and "empty" in result.output
    assert count(Item) == 1 and count(Inventory) == 0


def test_seed_bulk_asks_before_writing(runner):
    result = runner.invoke(args=["seed-bulk", "--inventory", "200", "--pack-lines", "500"],
                           input="n\n")
    assert result.exit_code != 0 and "Write about" in result.output
    assert count(Item) == 0
