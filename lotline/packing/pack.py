"""The pack: one pack line recorded (spec: Lot Recording; PRODUCT.md rules 6–7).

Recorded lots are not tied to inventory and need not match the picked lot: a mismatch never
blocks. It is stored on the pack line, flagged for the supervisor, and the location it was
picked from goes on the Needs cycle count list, because its lot on record is now in doubt.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import lot_gate, pack_gate
from .. import orders as orders_domain
from .. import settings as settings_domain
from ..commands import CLOSE
from ..errors import DomainError, ValidationError
from ..inventory import Actor, Result, clean_lot, clean_qty, request_count, run_once
from ..items import find_item
from ..models import Order, OrderLine, PackLine, utcnow
from .cartons import open_carton
from .rules import (
    check_room,
    check_serial,
    clean_serial,
    needs,
    not_on_order,
    picked_lots,
)


def pack(session: Session, *, order_number, sku, actor: Actor, qty=1, lot=None, serial=None,
         idempotency_key=None, expiry: dt.date | None = None,
         unneeded: str = "record", override: pack_gate.Override | None = None) -> Result:
    """Pack ``qty`` of an item into the order's open carton, recording lot and serial; the
    result says what was packed (the screen reads the order's panel again after it).

    ``override``: a supervisor's, for a lot the gate would refuse (stored on the line).
    ``unneeded``: what to do with a lot or serial the item does not need at pack now.
    "record" (the API, a replay) records what it is given; "drop" (the pack screen's
    confirm) drops it, as the screen's step-by-step walk never asks for it (a GS1 label
    carries a lot whether or not the item records one)."""
    if unneeded not in ("record", "drop"):
        raise ValueError(f"unneeded is 'record' or 'drop', not {unneeded!r}")
    qty = clean_qty(qty)
    params = {"order": order_number, "sku": sku, "qty": qty, "lot": lot, "serial": serial,
              "expiry": expiry, "override": override and override.user_id}

    def apply():
        # On PostgreSQL the order is locked first, so two stations packing it take turns;
        # its lines, picked lots and open carton are read after the lock is granted.
        order = orders_domain.lock_order(session, order_number)
        orders_domain.check_workable(order)
        item = find_item(session, sku)
        line = next((ln for ln in order.lines if ln.item_id == item.id), None)
        if line is None:
            raise not_on_order(item, order)
        need = needs(session, item)
        today = settings_domain.warehouse_today(session)
        check_room(line, qty, item.sku, order.number)
        picked = picked_lots(session, line)
        carried = clean_lot(lot)  # scanned, typed or from a GS1 label, recorded or not
        states = lot_gate.lot_states(session, item.id, [*picked, carried], lock=True)
        unfit = pack_gate.unfit_picked(item, picked, states, today)
        asks_lot = pack_gate.lot_asked(need.lot, picked, unfit)
        lot_number = carried if asks_lot or unneeded == "record" else None
        serial_number = clean_serial(serial if need.serial or unneeded == "record" else None)
        if asks_lot and lot_number is None:
            raise DomainError("lot_required", pack_gate.ask_lot(item, picked, unfit), field="lot")
        if need.serial and serial_number is None:
            raise DomainError("serial_required", f"Scan the serial of this {item.sku}.",
                              field="serial")
        if carried is not None:  # the lot in the packer's hand (even when not recorded)
            refused = lot_gate.refusal(item, carried, states.get(carried), today,
                                       label_expiry=expiry)
            if refused is None and unfit and len(picked) > 1:
                pack_gate.check_units_of(session, line.id, item, carried, qty, unfit)
        else:  # nothing recorded: the lot picked; the scan is refused at its last step
            refused = next(iter(unfit.values()), None)
            if refused is not None:
                refused.details["field"] = "serial" if need.serial else "qty"
        if refused is not None and override is None:
            raise refused
        if serial_number is not None:
            if qty != 1:
                raise ValidationError("A serial is recorded one unit at a time.", field="qty")
            check_serial(session, item, serial_number)
        mismatch = bool(lot_number and picked and lot_number not in picked)
        carton = open_carton(session, order, actor.station)
        let_through = refused is not None and override is not None
        session.execute(_PACK_LINE, {
            "carton_id": carton.id, "order_line_id": line.id, "item_id": item.id, "qty": qty,
            "recorded_lot": lot_number, "serial": serial_number,
            "picked_lots": ", ".join(sorted(picked))[:200], "lot_mismatch": mismatch,
            "user_id": actor.user_id, "station": actor.station[:64],
            "override_by_id": override.user_id if let_through else None,
            "override_reason": override.reason if let_through else None})
        _written(session, _PACKED, line, id=line.id, qty_packed=line.qty_packed + qty)
        _written(session, _AT_STATION, order, id=order.id,
                 status=orders_domain.next_status(order.status, order.lines, packing=True),
                 packing_station=actor.at, packing_since=utcnow())  # open here now
        messages = [_packed_text(item, qty, lot_number, serial_number, carton, line)]
        if let_through:
            why = refused.code.replace("_", " ")
            messages.append(f"⚠ Let through by {override.username}: {why} ({override.reason}).")
        if mismatch:
            for picked_lot, locations in picked.items():
                for location_id in set(locations):
                    request_count(session, location_id, item.id,
                                  f"Lot {lot_number} was recorded at pack for {order.number}; "
                                  f"lot {picked_lot} was picked here.")
            messages.append(f"⚠ Lot {lot_number} is not the lot picked "
                            f"({', '.join(sorted(picked))}). Recorded as packed and flagged "
                            f"for a supervisor.")
        if order.status == "packed":
            messages.append(f"Order {order.number} is completely packed. Scan {CLOSE} to "
                            f"close carton {carton.number}.")
        return Result("pack", [], order.number, messages=messages)

    return run_once(session, "pack", actor, idempotency_key, params, apply)


# A pack line is written with Core statements, as a stock change is (inventory.changes): the
# ORM's flush of these rows cost a pack scan about 1.8 ms of CPU (bench/RESULTS.md, issue
# 16). The order and its line, read in this transaction, are kept in step with what was
# written (``set_committed_value``).
_PACK_LINE = insert(PackLine.__table__)
_PACKED = (update(OrderLine.__table__).where(OrderLine.id == bindparam("row"))
           .values(qty_packed=bindparam("v_qty_packed")))
_AT_STATION = (update(Order.__table__).where(Order.id == bindparam("row"))
               .values(status=bindparam("v_status"), packing_station=bindparam("v_packing_station"),
                       packing_since=bindparam("v_packing_since")))


def _written(session: Session, statement, row, *, id: int, **values) -> None:
    """Write ``values`` to the ORM object ``row`` with ``statement``, and keep it in step."""
    session.connection().execute(statement,
                                 {"row": id, **{f"v_{k}": v for k, v in values.items()}})
    for name, value in values.items():
        set_committed_value(row, name, value)


def _packed_text(item, qty, lot, serial, carton, line) -> str:
    extra = "".join([f" · lot {lot}" if lot else "", f" · serial {serial}" if serial else ""])
    return (f"Packed {qty} × {item.sku}{extra} into carton {carton.number} "
            f"({line.qty_packed} of {line.qty - line.qty_short})")
