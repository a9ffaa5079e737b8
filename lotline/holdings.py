"""What a location holds, as the scan screens say it once the location is scanned (Put, Pull,
Move, Cycle Count): every item with its lot and quantity, or that it is empty."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from .locations import clean_code
from .models import Inventory, Item, Location, Lot


class Holding(NamedTuple):
    """One item a location holds: its SKU, its lot (None: no lot on record) and quantity."""

    sku: str
    lot: str | None
    qty: int
    require_lot: bool


HINT_ITEMS = 6  # a hint names at most this many items, then says how many more


def holdings(session: Session, code: str, sku: str | None = None) -> list[Holding]:
    """What location ``code`` holds now (of ``sku`` only, when given), by SKU: one
    statement."""
    query = (select(Item.sku, Lot.number, Inventory.qty, Item.require_lot)
             .select_from(Inventory).join(Location, Location.id == Inventory.location_id)
             .join(Item, Item.id == Inventory.item_id)
             .outerjoin(Lot, Lot.id == Inventory.lot_id)
             .where(Location.code == clean_code(code), Inventory.qty > 0)
             .order_by(Item.sku))
    if sku is not None:
        query = query.where(Item.sku == sku)
    return [Holding(row.sku, row.number, row.qty, row.require_lot)
            for row in session.execute(query)]


def holding_hint(session: Session, code: str, sku: str | None = None) -> str:
    """What a scan screen says a scanned location holds, in a sentence: every item with its
    lot and quantity ("A-01 holds 10 of LOT-1 (lot L1), 4 of PLAIN."), or only ``sku`` once
    the item is known ("A-01 holds no LOT-1."), or that it is empty."""
    code = clean_code(code)
    rows = holdings(session, code, sku)
    if not rows:
        return f"{code} holds no {sku}." if sku is not None else f"{code} is empty."

    def one(h: Holding) -> str:
        lot = f" (lot {h.lot})" if h.lot else " (no lot on record)" if h.require_lot else ""
        return f"{h.qty} of {h.sku}{lot}"

    named = ", ".join(one(h) for h in rows[:HINT_ITEMS])
    more = len(rows) - HINT_ITEMS
    rest = f" and {more} more item{'s' if more > 1 else ''}" if more > 0 else ""
    return f"{code} holds {named}{rest}."
