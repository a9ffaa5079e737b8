"""Cycle counts asked for: lot-tracked stock without a lot, and the (location, item)
records put in doubt (a short pick, a lot recorded at pack that differs from the lot picked).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CountRequest, Inventory, Item, Location
from ..stock_rules import lot_unknown_stock


@dataclass
class NeedsCount:
    location: Location
    item: Item
    qty: int
    reason: str


def request_count(session: Session, location_id: int, item_id: int, reason: str) -> None:
    """Put a (location, item) on the Needs cycle count list (once while it is open)."""
    open_request = session.scalar(select(CountRequest.id).where(
        CountRequest.location_id == location_id, CountRequest.item_id == item_id,
        CountRequest.resolved_at.is_(None)))
    if open_request is None:
        session.add(CountRequest(location_id=location_id, item_id=item_id, reason=reason[:200]))
        session.flush()


def count_requested(session: Session, location_id: int, item_id: int) -> bool:
    return session.scalar(select(CountRequest.id).where(
        CountRequest.location_id == location_id, CountRequest.item_id == item_id,
        CountRequest.resolved_at.is_(None)).limit(1)) is not None


def needs_cycle_count(session: Session) -> list[NeedsCount]:
    """What must be counted: lot-tracked stock with no lot (it cannot be picked until it is
    counted), and every location whose record was put in doubt (a short pick, a lot
    recorded at pack that differs from the lot picked there)."""
    rows: dict[tuple[int, int], NeedsCount] = {}
    lotless = session.execute(
        select(Inventory, Location, Item).join(Item, Item.id == Inventory.item_id)
        .join(Location, Location.id == Inventory.location_id)
        .where(lot_unknown_stock()))
    for inv, loc, item in lotless:
        rows[(loc.id, item.id)] = NeedsCount(
            loc, item, inv.qty, "Lot tracking is on but this stock has no lot.")
    requests = session.execute(
        select(CountRequest, Location, Item, Inventory.qty)
        .join(Location, Location.id == CountRequest.location_id)
        .join(Item, Item.id == CountRequest.item_id)
        .outerjoin(Inventory, (Inventory.location_id == CountRequest.location_id)
                   & (Inventory.item_id == CountRequest.item_id))
        .where(CountRequest.resolved_at.is_(None)).order_by(CountRequest.id))
    for req, loc, item, qty in requests:
        key = (loc.id, item.id)
        if key in rows:
            rows[key].reason += " " + req.reason
        else:
            rows[key] = NeedsCount(loc, item, qty or 0, req.reason)
    return sorted(rows.values(), key=lambda r: (r.location.code, r.item.sku))
