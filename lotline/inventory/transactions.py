"""The inventory transactions: Put, Pull, Move, Cycle Count and PO Putaway.

Each is one database transaction (:func:`lotline.db.run_in_transaction`) that
  1. locks the locations it changes (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
     ``BEGIN IMMEDIATE`` already holds the database's write lock),
  2. applies the rules (:mod:`.rules`), and writes a ledger row for every change of a
     quantity (:func:`.changes.adjust`),
  3. records its idempotency key last (a repeat returns the first result, changes nothing).
The database backs the rules up: one row per (location, item), ``qty >= 0``, and a lot
that must belong to the row's item.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..db import row_locks
from ..errors import DomainError, ValidationError
from ..items import find_item
from ..models import CountRequest, utcnow
from ..stock_rules import check_other_location
from .changes import Actor, Result, adjust, lock_locations, lot_for, scanned_code, scanned_sku
from .idempotency import run_once
from .purchasing import purchase_order_line
from .rules import (
    check_destination,
    clean_lot,
    clean_qty,
    inventory_at,
    required_lot,
    verify_lot,
)


def put(session: Session, *, location, sku, lot, qty, actor: Actor, idempotency_key=None,
        expiry: dt.date | None = None, reference: str = "", kind: str = "put") -> Result:
    """Add stock to a location (rule 3); a lot-tracked item needs its lot (rule 2 applies)."""
    qty = clean_qty(qty)
    params = {"location": scanned_code(location), "sku": scanned_sku(sku), "lot": lot,
              "qty": qty, "ref": reference, "expiry": expiry}

    def apply():
        loc = lock_locations(session, [location])[scanned_code(location)]
        item = find_item(session, sku)
        lot_number = required_lot(item, lot)
        inv = check_destination(session, loc, item, lot_number)
        lot_row = lot_for(session, item, lot_number, expiry, known=inv.lot if inv else None)
        change = adjust(session, kind=kind, location=loc, item=item, lot=lot_row, delta=qty,
                        actor=actor, reference=reference, key=idempotency_key, inv=inv)
        return Result(kind, [change], reference)

    return run_once(session, kind, actor, idempotency_key, params, apply)


def pull(session: Session, *, location, sku, lot, qty, actor: Actor, idempotency_key=None,
         reference: str = "") -> Result:
    """Remove stock: the scanned lot must match the location's lot (rule 4)."""
    qty = clean_qty(qty)
    params = {"location": scanned_code(location), "sku": scanned_sku(sku), "lot": lot,
              "qty": qty}

    def apply():
        loc = lock_locations(session, [location])[scanned_code(location)]
        item = find_item(session, sku)
        lot_number = required_lot(item, lot)
        inv = verify_lot(session, loc, item, lot_number, qty)
        change = adjust(session, kind="pull", location=loc, item=item, lot=inv.lot,
                        delta=-qty, actor=actor, reference=reference, key=idempotency_key,
                        inv=inv)
        return Result("pull", [change], reference)

    return run_once(session, "pull", actor, idempotency_key, params, apply)


def move(session: Session, *, from_location, to_location, sku, lot, qty, actor: Actor,
         idempotency_key=None) -> Result:
    """Move stock: verify the lot at the source (rule 4), rule 2 at the destination."""
    qty = clean_qty(qty)
    src_code = scanned_code(from_location)
    dst_code = scanned_code(to_location)
    check_other_location(src_code, dst_code)
    params = {"from": src_code, "to": dst_code, "sku": scanned_sku(sku), "lot": lot, "qty": qty}

    def apply():
        locs = lock_locations(session, [src_code, dst_code])
        item = find_item(session, sku)
        lot_number = required_lot(item, lot)
        inv = verify_lot(session, locs[src_code], item, lot_number, qty)
        lot_row = inv.lot  # what moves is the source's lot, whatever was scanned
        dst = check_destination(session, locs[dst_code], item,
                                lot_row.number if lot_row else None)
        out = adjust(session, kind="move-out", location=locs[src_code], item=item, lot=lot_row,
                     delta=-qty, actor=actor, reference=dst_code, key=idempotency_key,
                     inv=inv)
        into = adjust(session, kind="move-in", location=locs[dst_code], item=item,
                      lot=lot_row, delta=qty, actor=actor, reference=src_code,
                      key=idempotency_key, inv=dst)
        return Result("move", [out, into], f"{src_code} → {dst_code}")

    return run_once(session, "move", actor, idempotency_key, params, apply)


def cycle_count(session: Session, *, location, sku, lot, qty, actor: Actor,
                idempotency_key=None) -> Result:
    """Set the counted quantity (and lot). The way lots are added to lot-less stock (rule 5)."""
    qty = clean_qty(qty, allow_zero=True)
    params = {"location": scanned_code(location), "sku": scanned_sku(sku), "lot": lot,
              "qty": qty}

    def apply():
        loc = lock_locations(session, [location])[scanned_code(location)]
        item = find_item(session, sku)
        lot_number = clean_lot(lot)
        if qty > 0:
            lot_number = required_lot(item, lot)
        elif lot_number is not None and not item.require_lot:
            raise ValidationError(f"{item.sku} does not track lots; leave the lot empty.",
                                  field="lot")
        inv = inventory_at(session, loc, item)
        before = inv.qty if inv else 0
        old_lot = inv.lot if inv else None
        new_lot = lot_for(session, item, lot_number) if qty > 0 else old_lot
        changes = []
        lot_changes = qty > 0 and before > 0 and (old_lot.id if old_lot else None) != \
            (new_lot.id if new_lot else None)
        if lot_changes:
            # The lot on the shelf is not the one on record: count the old one out, the new in.
            changes.append(adjust(session, kind="cycle-count", location=loc, item=item,
                                  lot=old_lot, delta=-before, actor=actor, reference="",
                                  key=idempotency_key))
            before = 0
        changes.append(adjust(session, kind="cycle-count", location=loc, item=item,
                              lot=new_lot, delta=qty - before, actor=actor, reference="",
                              key=idempotency_key, set_lot=True))
        session.execute(update(CountRequest).where(
            CountRequest.location_id == loc.id, CountRequest.item_id == item.id,
            CountRequest.resolved_at.is_(None)).values(resolved_at=utcnow()))
        return Result("cycle-count", changes)

    return run_once(session, "cycle-count", actor, idempotency_key, params, apply)


def putaway(session: Session, *, po_number, location, sku, lot, qty, actor: Actor,
            idempotency_key=None, allow_over_receipt: bool = False,
            expiry: dt.date | None = None) -> Result:
    """PO Putaway: receive against a purchase order line, then put (rules 2 and 3)."""
    qty = clean_qty(qty)
    params = {"po": scanned_code(po_number), "location": scanned_code(location),
              "sku": scanned_sku(sku), "lot": lot, "qty": qty, "over": allow_over_receipt,
              "expiry": expiry}
    if allow_over_receipt and not (actor.user and actor.user.has_role("supervisor")):
        raise DomainError("forbidden", "Only a supervisor may receive more than ordered.",
                          status=403)

    def apply():
        loc = lock_locations(session, [location])[scanned_code(location)]
        item = find_item(session, sku)
        line = purchase_order_line(session, po_number, item)
        if row_locks(session):
            session.refresh(line, with_for_update=True)
        if qty > line.remaining and not allow_over_receipt:
            raise DomainError(
                "over_receipt",
                f"{line.purchase_order.number} has {line.remaining} of {item.sku} left to "
                f"receive; you scanned {qty}. Receive {line.remaining} or ask a supervisor.",
                field="qty", remaining=line.remaining)
        lot_number = required_lot(item, lot)
        inv = check_destination(session, loc, item, lot_number)
        lot_row = lot_for(session, item, lot_number, expiry, known=inv.lot if inv else None)
        line.qty_received += qty
        change = adjust(session, kind="putaway", location=loc, item=item, lot=lot_row,
                        delta=qty, actor=actor, reference=line.purchase_order.number,
                        key=idempotency_key, inv=inv)
        return Result("putaway", [change], line.purchase_order.number)

    return run_once(session, "putaway", actor, idempotency_key, params, apply)
