"""What the locations hold: the inventory query, and the check that inventory and ledger
agree."""

from __future__ import annotations

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from ..items import find_item
from ..models import Inventory, Item, LedgerEntry, Location, Lot


def query_inventory(session: Session, *, sku=None, location=None, lot=None,
                    limit: int = 500) -> list[Inventory]:
    query = select(Inventory).join(Item).join(Location).order_by(Location.code, Item.sku)
    if sku:
        query = query.where(Item.id == find_item(session, sku).id)
    if location:
        query = query.where(Location.code == str(location).strip().upper())
    if lot:
        query = query.join(Lot, Lot.id == Inventory.lot_id).where(Lot.number == str(lot).strip())
    return list(session.scalars(query.limit(limit)))


def ledger_mismatches(session: Session) -> list[tuple]:
    """(location_id, item_id, inventory qty, ledger sum) wherever the two disagree."""
    inv = select(Inventory.location_id, Inventory.item_id, Inventory.qty.label("q"),
                 literal(0).label("l"))
    led = select(LedgerEntry.location_id, LedgerEntry.item_id, literal(0).label("q"),
                 LedgerEntry.delta.label("l"))
    both = union_all(inv, led).subquery()
    rows = session.execute(
        select(both.c.location_id, both.c.item_id, func.sum(both.c.q), func.sum(both.c.l))
        .group_by(both.c.location_id, both.c.item_id)
        .having(func.sum(both.c.q) != func.sum(both.c.l)))
    return [tuple(r) for r in rows]
