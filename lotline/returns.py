"""Picked units of a lot that may not leave (held, expired, too short a shelf life) go back
to stock: a supervisor scans where they go; the one-lot rule applies there; the ledger gets a
'return' row; the order line is reopened for picking another lot. Without this, an order
picked from a lot held afterwards could never complete."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import lot_gate
from . import orders as orders_domain
from .db import forget_found
from .errors import DomainError
from .inventory import (
    Actor,
    Result,
    adjust,
    check_destination,
    clean_lot,
    clean_qty,
    run_once,
    scanned_code,
)
from .models import Lot, PackLine, PickLine
from .packing.rules import PICKED
from .settings import warehouse_today


def returnable(session: Session, line) -> dict[str, int]:
    """Lot number -> units picked for ``line`` from that lot and not packed as that lot (nor
    beyond what the line has unpacked), that may not leave: what a supervisor may return."""
    picks = session.execute(
        select(Lot.number, PickLine.qty).join(Lot, Lot.id == PickLine.lot_id)
        .where(PickLine.order_line_id == line.id, PickLine.qty > 0)).all()
    by_lot: dict[str, int] = {}
    for pick in picks:
        by_lot[pick.number] = by_lot.get(pick.number, 0) + pick.qty
    for packed in session.execute(
            select(PackLine.recorded_lot, func.sum(PackLine.qty).label("qty"))
            .where(PackLine.order_line_id == line.id, PackLine.recorded_lot.is_not(None))
            .group_by(PackLine.recorded_lot)):
        for picked in by_lot:
            if picked.upper() == packed.recorded_lot.upper():
                by_lot[picked] -= packed.qty
    states = lot_gate.lot_states(session, line.item_id, by_lot)
    today = warehouse_today(session)
    unpacked = line.qty_picked - line.qty_packed
    return {number: min(qty, unpacked) for number, qty in sorted(by_lot.items())
            if unpacked > 0 and qty > 0
            and lot_gate.refusal(line.item, number, states.get(number), today) is not None}


def return_picked(session: Session, *, order_number, sku, lot, location, qty, actor: Actor,
                  idempotency_key=None) -> Result:
    """Return ``qty`` picked units of ``lot`` (one that may not leave) to ``location``."""
    if not (actor.user and actor.user.has_role("supervisor")):
        raise DomainError("forbidden", "Only a supervisor returns picked units to stock.",
                          status=403)
    qty = clean_qty(qty)
    lot_number = clean_lot(lot)
    params = {"order": order_number, "sku": sku, "lot": lot_number,
              "location": scanned_code(location), "qty": qty}

    def apply():
        loc, order = orders_domain.lock_location_and_order(session, location, order_number)
        orders_domain.check_workable(order)
        line = orders_domain.line_for(session, order, sku)
        item = line.item
        left = returnable(session, line).get(lot_number, 0)
        if qty > left:
            raise DomainError("nothing_to_return", f"{left} unpacked unit(s) of {item.sku} lot "
                              f"{lot_number} on order {order.number} may be returned; "
                              f"{qty} asked.", field="qty")
        inv = check_destination(session, loc, item, lot_number)
        lot_row = session.scalar(select(Lot).where(Lot.item_id == item.id,
                                                   Lot.number == lot_number))
        change = adjust(session, kind="return", location=loc, item=item, lot=lot_row,
                        delta=qty, actor=actor, reference=order.number,
                        key=idempotency_key, inv=inv)
        _unpick(session, line, lot_row.id, qty)
        line.qty_picked -= qty
        orders_domain.refresh_status(order)
        session.flush()
        return Result("return", [change], order.number, messages=[
            f"{qty} × {item.sku} lot {lot_number} back in {loc.code}; order {order.number} "
            f"needs {line.to_pick} more picked."])

    return run_once(session, "return", actor, idempotency_key, params, apply)


def _unpick(session: Session, line, lot_id: int, qty: int) -> None:
    """Take ``qty`` off this line's picks of the lot, newest first: the lot did not go to
    the customer (the ledger keeps the pick and the return)."""
    forget_found(session, PICKED, line.order_id)  # the lots picked for the order change
    picks = session.scalars(select(PickLine).where(
        PickLine.order_line_id == line.id, PickLine.lot_id == lot_id, PickLine.qty > 0)
        .order_by(PickLine.id.desc()))
    for pick in picks:
        taken = min(qty, pick.qty)
        pick.qty -= taken
        qty -= taken
        if pick.qty == 0 and pick.qty_short == 0:
            session.delete(pick)
        if qty == 0:
            return
