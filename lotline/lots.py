"""Traceability: where a lot is now, where it went, its history, and holds (recalls).

Every question here is answered from indexed columns: lot.number, inventory.lot_id,
pick_line.lot_id, pack_line.recorded_lot and ledger_entry.lot_id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from .db import is_postgres, run_in_transaction
from .errors import DomainError, NotFound, ValidationError
from .inventory import Actor, clean_lot
from .items import find_item
from .models import (
    Carton,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    LotHold,
    Order,
    OrderLine,
    PackLine,
    PickLine,
    User,
    utcnow,
)
from .text import check_free_text


@dataclass
class OnHand:
    location: str
    sku: str
    lot: str
    expiry: dt.date | None
    qty: int


@dataclass
class Shipment:
    """One lot going to one customer, from a pick (tracked) or a pack line (recorded)."""

    source: str  # "picked" or "recorded at pack"
    order: str
    customer: str
    customer_ref: str
    status: str
    shipped_at: dt.datetime | None
    sku: str
    lot: str
    qty: int
    mismatch: bool = False
    note: str = ""


@dataclass
class Trace:
    number: str
    lots: list[Lot]
    on_hand: list[OnHand] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    history: list[LedgerEntry] = field(default_factory=list)
    holds: list[LotHold] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return any(h.released_at is None for h in self.holds)

    @property
    def on_hand_qty(self) -> int:
        return sum(r.qty for r in self.on_hand)

    def customers(self) -> list[tuple[str, str, int, list[str]]]:
        """(customer, reference, quantity, orders) for the recall letter, one per customer.
        Per order the lot recorded at pack counts when there is one, else the lot picked."""
        per_order: dict[str, dict] = {}
        for s in self.shipments:
            entry = per_order.setdefault(s.order, {"customer": (s.customer, s.customer_ref),
                                                   "picked": 0, "recorded": 0})
            entry["recorded" if s.source == "recorded at pack" else "picked"] += s.qty
        grouped: dict[tuple[str, str], list] = {}
        for order, entry in per_order.items():
            qty = entry["recorded"] or entry["picked"]
            bucket = grouped.setdefault(entry["customer"], [0, []])
            bucket[0] += qty
            bucket[1].append(order)
        return [(c, ref, qty, sorted(orders)) for (c, ref), (qty, orders) in
                sorted(grouped.items())]


# The trace's statements, built once (a recall looks many lots up; each call then only binds
# values). Each reaches its big table through an index: lot.number, inventory.lot_id,
# pick_line.lot_id, pack_line.recorded_lot, ledger_entry.lot_id.
_LOTS = select(Lot).where(Lot.number == bindparam("number")).options(joinedload(Lot.item)) \
    .order_by(Lot.id)
_LOTS_OF_ITEM = _LOTS.where(Lot.item_id == bindparam("item_id"))
LOT_IDS = bindparam("lot_ids", expanding=True)
ON_HAND = (
    select(Location.code, Item.sku, Lot.number, Lot.expiry, Inventory.qty)
    .select_from(Inventory)
    .join(Location, Location.id == Inventory.location_id)
    .join(Lot, Lot.id == Inventory.lot_id).join(Item, Item.id == Inventory.item_id)
    .where(Inventory.lot_id.in_(LOT_IDS)).order_by(Location.code))
_ORDER_COLUMNS = (Order.number, Order.customer_name, Order.customer_ref, Order.status,
                  Order.shipped_at, Item.sku)
PICKED = (
    select(*_ORDER_COLUMNS, PickLine.qty, Location.code).select_from(PickLine)
    .join(OrderLine, OrderLine.id == PickLine.order_line_id)
    .join(Order, Order.id == OrderLine.order_id)
    .join(Item, Item.id == PickLine.item_id)
    .outerjoin(Location, Location.id == PickLine.location_id)
    .where(PickLine.lot_id.in_(LOT_IDS), PickLine.qty > 0)
    .order_by(Order.number))
PACKED = (
    select(*_ORDER_COLUMNS, PackLine.qty, PackLine.lot_mismatch, PackLine.picked_lots,
           PackLine.override_reason,
           select(User.username).where(User.id == PackLine.override_by_id).scalar_subquery())
    .select_from(PackLine)
    .join(Carton, Carton.id == PackLine.carton_id)
    .join(Order, Order.id == Carton.order_id).join(Item, Item.id == PackLine.item_id)
    .where(PackLine.recorded_lot == bindparam("number")).order_by(Order.number))
_PACKED_OF_ITEM = PACKED.where(PackLine.item_id == bindparam("item_id"))
_HISTORY = select(LedgerEntry).where(LedgerEntry.lot_id.in_(LOT_IDS)) \
    .order_by(LedgerEntry.id.desc()).limit(bindparam("limit"))
_HOLDS = select(LotHold).where(LotHold.lot_id.in_(LOT_IDS)).order_by(LotHold.id.desc())


def find_lots(session: Session, number, sku=None, item_id: int | None = None) -> list[Lot]:
    number = clean_lot(number)
    if number is None:
        raise ValidationError("Scan or type a lot number.", field="lot")
    if sku and item_id is None:
        item_id = find_item(session, sku).id
    if item_id is None:
        return list(session.scalars(_LOTS, {"number": number}))
    return list(session.scalars(_LOTS_OF_ITEM, {"number": number, "item_id": item_id}))


def on_hand(session: Session, lot_ids: list[int]) -> list[OnHand]:
    """Where the lots are now: location, item, lot, expiry, quantity (by location)."""
    if not lot_ids:
        return []
    return [OnHand(*row) for row in session.execute(ON_HAND, {"lot_ids": lot_ids})]


def shipments(session: Session, number: str, lot_ids: list[int],
              item_id: int | None = None) -> list[Shipment]:
    """Where lot ``number`` went: the picks of the lots (tracking), then the pack lines that
    recorded the number (recording), each by order number."""
    out = []
    if lot_ids:
        for order, customer, ref, status, shipped, sku, qty, code in session.execute(
                PICKED, {"lot_ids": lot_ids}):
            out.append(Shipment("picked", order, customer, ref, status, shipped, sku, number,
                                qty, note=f"picked from {code}" if code else ""))
    packs = session.execute(PACKED, {"number": number}) if item_id is None else \
        session.execute(_PACKED_OF_ITEM, {"number": number, "item_id": item_id})
    for (order, customer, ref, status, shipped, sku, qty, mismatch, picked, why,
         by) in packs:
        notes = [f"picked lot {picked}" if mismatch else "",
                 f"let through by {by}: {why}" if by else ""]
        out.append(Shipment("recorded at pack", order, customer, ref, status, shipped, sku,
                            number, qty, mismatch, "; ".join(n for n in notes if n)))
    return out


def trace(session: Session, number, sku=None, history_limit: int = 200) -> Trace:
    """Where lot ``number`` is now and where it went (optionally of one item only)."""
    item_id = find_item(session, sku).id if sku else None
    lots = find_lots(session, number, item_id=item_id)
    number = clean_lot(number)
    result = Trace(number, lots)
    lot_ids = [lot.id for lot in lots]
    result.on_hand = on_hand(session, lot_ids)
    result.shipments = shipments(session, number, lot_ids, item_id)
    if lot_ids:
        result.history = list(session.scalars(_HISTORY, {"lot_ids": lot_ids,
                                                         "limit": history_limit}))
        result.holds = list(session.scalars(_HOLDS, {"lot_ids": lot_ids}))
    if not lots and not result.shipments:
        raise NotFound(f"No lot {number} is known{' for ' + sku if sku else ''}. Check the "
                       f"lot number on the label.", code="unknown_lot")
    return result


def held_lot_ids(session: Session, lot_ids: list[int]) -> dict[int, LotHold]:
    if not lot_ids:
        return {}
    rows = session.scalars(select(LotHold).where(LotHold.lot_id.in_(lot_ids),
                                                 LotHold.released_at.is_(None)))
    return {h.lot_id: h for h in rows}


def _ledger_marks(session: Session, lot: Lot, kind: str, actor: Actor, note: str) -> None:
    """A zero-quantity ledger row per location holding the lot: who held or released it, why."""
    for inv in session.scalars(select(Inventory).where(Inventory.lot_id == lot.id)):
        session.add(LedgerEntry(type=kind, item_id=lot.item_id, location_id=inv.location_id,
                                lot_id=lot.id, delta=0, qty_after=inv.qty,
                                user_id=actor.user_id, station=actor.station[:64],
                                reference=note[:64]))


def _locked(session: Session, lots: list[Lot]) -> list[Lot]:
    """On PostgreSQL, lock the lots (in id order) before their holds are read, so two
    supervisors holding (or releasing) the same lot at once are served one after the other:
    the second sees the first one's hold. SQLite's write lock already does that."""
    if lots and is_postgres(session):
        # FOR NO KEY UPDATE: it makes holds of one lot wait for each other, but not a put or
        # pick that only references the lot (their foreign-key checks take FOR KEY SHARE).
        session.execute(select(Lot.id).where(Lot.id.in_([lot.id for lot in lots]))
                        .order_by(Lot.id).with_for_update(key_share=True))
    return lots


def hold(session: Session, *, number, sku=None, reason: str, actor: Actor) -> list[LotHold]:
    """Hold every lot ``number`` (of ``sku`` if given): picks skip it until it is released.
    Retried from the start if PostgreSQL picks it as a deadlock's victim (a put changing the
    lot's expiry at one of its locations at that moment)."""
    reason = str(reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError("Say why the lot is held (1 to 200 characters).", field="reason")
    check_free_text(reason, field="reason", label="The reason")

    def work():
        lots = _locked(session, find_lots(session, number, sku))
        if not lots:
            raise NotFound(f"No lot {number} is on record.", code="unknown_lot")
        open_holds = held_lot_ids(session, [lot.id for lot in lots])
        created = []
        for lot in lots:
            if lot.id in open_holds:
                continue
            created.append(LotHold(lot_id=lot.id, reason=reason, held_by_id=actor.user_id))
            session.add(created[-1])
            lot.on_hold = True
            _ledger_marks(session, lot, "hold", actor, reason)
        if not created:
            raise DomainError("already_held", f"Lot {number} is already on hold.")
        return created

    return run_in_transaction(session, work)


def release(session: Session, *, number, sku=None, note: str = "", actor: Actor) -> int:
    note = check_free_text(str(note or "").strip()[:200], field="note", label="The note")

    def work():
        lots = _locked(session, find_lots(session, number, sku))
        open_holds = held_lot_ids(session, [lot.id for lot in lots])
        if not open_holds:
            raise DomainError("not_held", f"Lot {number} is not on hold.")
        for lot in lots:
            held = open_holds.get(lot.id)
            if held is None:
                continue
            held.released_at = utcnow()
            held.released_by_id = actor.user_id
            held.release_note = note
            lot.on_hold = False
            _ledger_marks(session, lot, "release", actor, note or "released")
        return len(open_holds)

    return run_in_transaction(session, work)


def held_lots(session: Session) -> list[LotHold]:
    return list(session.scalars(select(LotHold).where(LotHold.released_at.is_(None))
                                .order_by(LotHold.held_at.desc())))
