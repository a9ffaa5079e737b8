"""Picking with the lot assumed (spec: "Picking operations … assume the Lot number").

The picker is directed to a location, scans it and the item, and confirms a quantity; no
lot is scanned: the lot is copied from the inventory record onto the pick line. Stock of a
lot-tracked item without a lot blocks the pick (cycle count it first); a location whose
record was put in doubt (short found there) is not suggested again until it is counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import lot_gate
from . import orders as orders_domain
from .commands import NEXT, SHORT
from .db import forget_found
from .errors import DomainError
from .inventory import (
    Actor,
    Change,
    Result,
    adjust,
    clean_qty,
    count_requested,
    inventory_at,
    request_count,
    run_once,
)
from .items import find_item
from .models import Inventory, Location, Lot, Order, OrderLine, PickLine
from .packing.rules import PICKED
from .settings import warehouse_today
from .stock_rules import lot_unknown, lot_unknown_refusal


@dataclass
class PickTask:
    line: OrderLine
    location: Location | None  # None: no stock anywhere for what is left
    lot: Lot | None
    available: int
    qty: int
    blocked: str | None = None
    held: list[str] = field(default_factory=list)  # why held stock was passed over

    @property
    def text(self) -> str:
        sku = self.line.item.sku
        if self.location is None:
            return f"No stock left for {sku}: {self.line.to_pick} will be short."
        lot = f" · lot {self.lot.number}" if self.lot else ""
        return f"Go to {self.location.code}: pick {self.qty} × {sku}{lot}"

    @property
    def advice(self) -> str:
        """What the picker does next, as a sentence: go there, what blocks it, or record
        the line short."""
        if self.location is None:
            return f"{self.text} Scan {SHORT} to record it."
        if self.blocked:
            return self.blocked
        return f"{self.text}."


def _candidates(session: Session, line: OrderLine, skip: set[str]) -> list[PickTask]:
    rows = session.execute(
        select(Inventory, Location, Lot)
        .join(Location, Location.id == Inventory.location_id)
        .outerjoin(Lot, Lot.id == Inventory.lot_id)
        .where(Inventory.item_id == line.item_id, Inventory.qty > 0, Location.active))
    tasks = []
    rows = list(rows)
    unfit = _unfit_lots(session, line, [lot for _, _, lot in rows if lot is not None])
    for inv, loc, lot in rows:
        if loc.code in skip or _passed_over(session, line, loc.id, lot, unfit) is not None:
            continue  # never suggested; next_task says why
        blocked = None
        if lot_unknown(line.item, inv.lot_id):
            blocked = lot_unknown_refusal("pick_blocked", loc.code, line.item.sku,
                                          "or skip to another location").message
        tasks.append(PickTask(line, loc, lot, inv.qty, min(inv.qty, line.to_pick), blocked))
    # Unblocked first; earliest expiry first (FEFO); then the fewest trips; then by code.
    far = dt.date.max
    tasks.sort(key=lambda t: (t.blocked is not None, (t.lot.expiry if t.lot else None) or far,
                              -t.qty, t.location.code))
    return tasks


def _unfit_lots(session: Session, line: OrderLine, lots) -> dict[str, DomainError]:
    """The lots among ``lots`` that may not leave (lotline.lot_gate): number -> why."""
    numbers = [lot.number for lot in lots]
    states = lot_gate.lot_states(session, line.item_id, numbers)
    today = warehouse_today(session)
    out = {}
    for number in numbers:
        refused = lot_gate.refusal(line.item, number, states.get(number), today)
        if refused is not None:
            out[number] = refused
    return out


class PassedOver(NamedTuple):
    code: str  # the refusal's code when a picker scans it anyway
    why: str  # the fact, as the screen's notes and refusals say it


def _passed_over(session: Session, line: OrderLine, location_id: int, lot: Lot | None,
                 unfit: dict[str, DomainError]) -> PassedOver | None:
    """The one rule for stock that is never picked (never suggested, noted as skipped, and
    refused when scanned anyway), or None: its lot may not leave (``unfit``, from
    :func:`_unfit_lots`), or its record is in doubt until the location is cycle counted (a
    short found there, a lot recorded at pack that differed)."""
    if lot is not None and lot.number in unfit:
        return PassedOver(unfit[lot.number].code, unfit[lot.number].why)
    if count_requested(session, location_id, line.item_id):
        return PassedOver("needs_cycle_count", "its record is in doubt until it is cycle counted")
    return None


def _skip_notes(session: Session, line: OrderLine) -> list[str]:
    """Why stock of this line's item was passed over: a lot that may not leave (held,
    expired, too short a shelf life), or a record in doubt."""
    rows = session.execute(
        select(Location.id, Location.code, Lot)
        .join(Inventory, Inventory.location_id == Location.id)
        .outerjoin(Lot, Lot.id == Inventory.lot_id)
        .where(Inventory.item_id == line.item_id, Inventory.qty > 0)
        .order_by(Location.code)).all()
    unfit = _unfit_lots(session, line, [lot for _, _, lot in rows if lot is not None])
    notes = []
    for loc_id, code, lot in rows:
        passed = _passed_over(session, line, loc_id, lot, unfit)
        if passed is not None:
            notes.append(f"Skipped {code}: {passed.why}.")
    return notes


def next_task(session: Session, order, skip: set[str] | frozenset = frozenset()) -> PickTask | None:
    """Where to go next for the first line with something left to pick; None when done."""
    for line in order.lines:
        if line.to_pick <= 0:
            continue
        found = _candidates(session, line, set(skip))
        notes = _skip_notes(session, line)
        if not found and skip:  # every place left was skipped: back to the first of them
            found = [t for t in _candidates(session, line, set()) if t.blocked is None]
            if found:
                notes.append(f"Every other location was skipped: back to "
                             f"{found[0].location.code}.")
        task = found[0] if found else PickTask(line, None, None, 0, 0)
        task.held = notes
        return task
    return None


def check_left_to_pick(session: Session, order) -> None:
    """Refuse an order with nothing left to pick, saying what to do instead."""
    if next_task(session, order) is None:
        raise DomainError("order_picked", f"Order {order.number} is picked: nothing is left "
                          f"to pick. Scan the next order, or {NEXT}.", field="order")


def check_pick_location(session: Session, order, loc: Location,
                        skip: set[str] | frozenset = frozenset()) -> None:
    """Refuse a location that holds nothing to pick for the order's open lines: no stock of
    their items there, or only stock that is never picked (:func:`_passed_over`: a lot that
    may not leave, a record in doubt). The refusal says where to go instead, as the screen's
    task does (``skip``: the locations the picker skipped). Stock of a lot-tracked item
    without a lot is something there: scanning its item says to cycle count it
    (:func:`check_pick`). An order with no open line is refused as picked
    (:func:`check_left_to_pick`). The pick screen checks the location scan with this, and pick()
    checks again under its locks."""
    lines = {ln.item_id: ln for ln in order.lines if ln.to_pick > 0}
    if not lines:  # nothing is left to pick anywhere: the order is what to change
        check_left_to_pick(session, order)
    rows = session.execute(
        select(Inventory.item_id, Lot)
        .outerjoin(Lot, Lot.id == Inventory.lot_id)
        .where(Inventory.location_id == loc.id, Inventory.item_id.in_(list(lines)),
               Inventory.qty > 0)).all()
    reasons = []
    for item_id, lot in rows:
        line = lines[item_id]
        unfit = _unfit_lots(session, line, [lot]) if lot is not None else {}
        passed = _passed_over(session, line, loc.id, lot, unfit)
        if passed is None:
            return
        reasons.append(passed.why)
    task = next_task(session, order, set(skip))
    why = (f"Nothing at {loc.code} can be picked for order {order.number}: "
           f"{'; '.join(reasons)}." if reasons else
           f"{loc.code} holds nothing for order {order.number}.")
    raise DomainError("nothing_to_pick_here", f"{why} {task.advice}", field="location",
                      go_to=task.location.code if task.location and not task.blocked else None)


def next_order_to_pick(session: Session):
    """The oldest order that still has something to pick."""

    order = session.scalar(select(Order).where(Order.status.in_(("open", "picking")))
                           .order_by(Order.id).limit(1))
    if order is None:
        raise DomainError("no_open_orders", "No orders are waiting to be picked.",
                          field="order")
    return order


def open_line(session: Session, order, sku, qty: int | None = None) -> OrderLine:
    """The order's line for ``sku`` with something (``qty``) left to pick, or the refusal."""
    item = find_item(session, sku)
    line = next((ln for ln in order.lines if ln.item_id == item.id), None)
    if line is None:
        raise DomainError("not_on_order", f"{item.sku} is not on order {order.number}.",
                          field="sku")
    if line.to_pick <= 0 or qty is not None and qty > line.to_pick:
        raise DomainError("over_pick", f"Order {order.number} needs {line.to_pick} more "
                          f"of {item.sku}" + (f"; you picked {qty}." if qty else "."),
                          field="qty" if qty else "sku")
    return line


def check_pick(session: Session, order, loc: Location, sku, qty: int | None = None):
    """Whether ``sku`` may be picked at ``loc`` for ``order`` (and ``qty`` of it): the line
    and the inventory row, or the refusal. The pick screen checks each scan with this, and
    pick() checks again under its locks."""
    line = open_line(session, order, sku, qty)
    item = line.item
    inv = inventory_at(session, loc, item)  # under pick()'s lock there: read once, held
    if inv is None or inv.qty == 0:
        raise DomainError("insufficient_quantity", f"{loc.code} holds no {item.sku}. "
                          f"Go to the location shown, or skip it.", field="location")
    if lot_unknown(item, inv.lot_id):
        raise lot_unknown_refusal("pick_blocked", loc.code, item.sku,
                                  "or skip to another location")
    unfit = _unfit_lots(session, line, [inv.lot]) if inv.lot else {}
    passed = _passed_over(session, line, loc.id, inv.lot, unfit)
    if passed is not None:
        raise DomainError(passed.code, f"{passed.why[0].upper()}{passed.why[1:]}. Do not pick "
                          f"it at {loc.code}; skip to another location.", field="location")
    if qty is not None and qty > inv.qty:
        raise DomainError("insufficient_quantity", f"{loc.code} holds only {inv.qty} of "
                          f"{item.sku}.", field="qty", available=inv.qty)
    return line, inv


def pick(session: Session, *, order_number, location, sku, qty, actor: Actor,
         idempotency_key=None, found_short: bool = False) -> Result:
    """Pick ``qty`` at ``location``; the lot is the location's. ``found_short``: the shelf
    held fewer than its record, so the location goes on the Needs cycle count list."""
    qty = clean_qty(qty, allow_zero=found_short)
    params = {"order": order_number, "location": location, "sku": sku, "qty": qty,
              "short": found_short}

    def apply():
        loc, order = orders_domain.lock_location_and_order(session, location, order_number)
        orders_domain.check_workable(order)
        open_line(session, order, sku, qty)  # what is scanned is refused first, as on screen
        check_pick_location(session, order, loc)
        line, inv = check_pick(session, order, loc, sku, qty)
        item = line.item
        lot = inv.lot
        on_record = inv.qty
        expected = min(on_record, line.to_pick)
        changes: list[Change] = []
        messages = []
        if qty:
            changes.append(adjust(session, kind="pick", location=loc, item=item, lot=lot,
                                  delta=-qty, actor=actor, reference=order.number,
                                  key=idempotency_key))
        if found_short:
            if qty >= expected:
                raise DomainError("not_short", f"{qty} is the full {expected}; confirm it as "
                                  f"a normal pick.", field="qty")
            request_count(session, loc.id, item.id,
                          f"Short pick for {order.number}: record said {on_record}, "
                          f"picker found {qty}.")
            messages.append(f"Short at {loc.code}: found {qty} of {expected}. "
                            f"{loc.code} is on the Needs cycle count list.")
        if qty:
            forget_found(session, PICKED, order.id)  # the lots picked for it change
            session.add(PickLine(order_line_id=line.id, item_id=item.id, location_id=loc.id,
                                 lot_id=lot.id if lot else None, qty=qty, qty_short=0,
                                 user_id=actor.user_id, station=actor.station[:64]))
            line.qty_picked += qty
        orders_domain.refresh_status(order)
        if order.status == "picked":
            messages.append(f"Order {order.number} is completely picked.")
        session.flush()
        return Result("pick", changes, order.number, messages=messages)

    return run_once(session, "pick", actor, idempotency_key, params, apply)


def short_line(session: Session, *, order_number, sku, actor: Actor,
               idempotency_key=None) -> Result:
    """Record that what is left of a line cannot be picked (no stock anywhere)."""
    params = {"order": order_number, "sku": sku}

    def apply():
        order = orders_domain.lock_order(session, order_number)
        orders_domain.check_workable(order)
        line = orders_domain.line_for(session, order, sku)
        item = line.item
        left = line.to_pick
        if left <= 0:
            raise DomainError("nothing_to_short", f"{item.sku} is fully picked.")
        if any(t.blocked is None for t in _candidates(session, line, set())):  # held excluded
            raise DomainError("stock_available", f"There is still {item.sku} to pick; "
                              f"go to the suggested location.")
        session.add(PickLine(order_line_id=line.id, item_id=item.id, location_id=None,
                             lot_id=None, qty=0, qty_short=left, user_id=actor.user_id,
                             station=actor.station[:64]))
        line.qty_short += left
        orders_domain.refresh_status(order)
        messages = [f"{item.sku}: {left} short on order {order.number}."]
        if order.status == "picked":
            messages.append(f"Order {order.number} is completely picked.")
        session.flush()
        return Result("short", [], order.number, messages=messages)

    return run_once(session, "short", actor, idempotency_key, params, apply)
