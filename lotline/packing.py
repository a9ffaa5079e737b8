"""The pack station: lot and serial recording (spec: Lot Recording; PRODUCT.md rules 6–7).

Recorded lots are not tied to inventory and need not match the picked lot: a mismatch never
blocks. It is stored on the pack line, flagged for the supervisor, and the location it was
picked from goes on the Needs cycle count list, because its lot on record is now in doubt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from . import lot_gate, pack_gate
from . import orders as orders_domain
from . import settings as settings_domain
from .commands import CLOSE
from .errors import DomainError, ValidationError
from .inventory import Actor, Result, clean_lot, clean_qty, request_count, run_once
from .items import find_item
from .models import Carton, Item, Lot, Order, OrderLine, PackLine, PickLine, utcnow

SERIAL_MAX = 64


@dataclass
class PackNeeds:
    """What a pack line of this item must carry, under the setting as it is now."""

    lot: bool
    serial: bool


def needs(session: Session, item: Item, setting_on: bool | None = None) -> PackNeeds:
    """``setting_on``: the Require Lot/Serial at Pack setting, when the caller read it."""
    on = settings_domain.get_setting(session, settings_domain.REQUIRE_LOT_SERIAL_AT_PACK) \
        if setting_on is None else setting_on
    return PackNeeds(lot=on and item.lot_recorded_at_pack(), serial=on and item.require_serial)


def order_line(session: Session, order: Order, scan) -> OrderLine:
    item = find_item(session, scan)
    line = next((ln for ln in order.lines if ln.item_id == item.id), None)
    if line is None:
        raise _not_on_order(item, order)
    set_committed_value(line, "item", item)  # the item just read: no second query for it
    return line


def _not_on_order(item, order) -> DomainError:
    return DomainError("not_on_order", f"{item.sku} is not on order {order.number}. "
                       f"Put it aside and scan an item from the order.", field="sku")


def packable(line: OrderLine) -> int:
    """What can still be packed: what was picked (inventory left the shelf then) less what
    is already packed. Packing never moves inventory, so it cannot get ahead of picking."""
    return line.qty_picked - line.qty_packed


def check_room(line, qty: int, sku: str, order_number: str) -> None:
    """``line`` (an OrderLine or a plain record) has room for ``qty`` more packed."""
    left = packable(line)
    if qty <= left:
        return
    if line.qty_packed + qty <= line.qty - line.qty_short:
        raise DomainError("not_picked", f"Only {line.qty_picked} of {line.qty} "
                          f"{sku} are picked for order {order_number}; pick the "
                          f"rest before packing it.", field="sku" if left == 0 else "qty",
                          picked=line.qty_picked)
    needed = line.qty - line.qty_short - line.qty_packed
    raise DomainError("over_pack", f"Order {order_number} needs {needed} more of "
                      f"{sku}; this would pack {qty}. Put the extra aside.",
                      field="sku" if left == 0 else "qty")


def clean_serial(value) -> str | None:
    if value is None or not str(value).strip():
        return None
    serial = str(value).strip()
    if len(serial) > SERIAL_MAX or not serial.isprintable() or " " in serial:
        raise ValidationError("A serial has 1 to 64 printable characters and no spaces.",
                              field="serial")
    return serial


def check_serial(session: Session, item: Item, serial: str) -> None:
    taken = session.scalar(select(PackLine.id).where(PackLine.item_id == item.id,
                                                     PackLine.serial == serial))
    if taken:
        raise DomainError("duplicate_serial", f"Serial {serial} of {item.sku} is already "
                          f"packed. Scan the serial of the unit in your hand.", field="serial")


@dataclass
class PackPanel:
    """What the pack screen shows beside the scan: the order with its lines and items, the
    open carton, the lots picked for each line and what each line must record. Read after
    every pack scan (after its commit)."""

    order: Order
    carton: Carton | None
    lots: dict[int, dict[str, list[int]]]
    needs: dict[int, PackNeeds]


def pack_panel(session: Session, number) -> PackPanel | None:
    """The panel of order ``number``, or None when there is no such order."""
    order = session.scalar(
        select(Order).where(Order.number == str(number or "").strip().upper())
        .options(selectinload(Order.lines).joinedload(OrderLine.item)))
    if order is None:
        return None
    picked = _picked(session, PickLine.order_line_id.in_(
        select(OrderLine.id).where(OrderLine.order_id == order.id).scalar_subquery()))
    on = settings_domain.get_setting(session, settings_domain.REQUIRE_LOT_SERIAL_AT_PACK)
    return PackPanel(order, _open_carton_of(session, order),
                     {line.id: picked.get(line.id, {}) for line in order.lines},
                     {line.id: needs(session, line.item, on) for line in order.lines})


def picked_lots(session: Session, line) -> dict[str, list[int]]:
    """Lot number -> locations it was picked from, for this order line."""
    return _picked(session, PickLine.order_line_id == line.id).get(line.id, {})


def _picked(session: Session, which) -> dict[int, dict[str, list[int]]]:
    """For each order line the pick lines ``which`` names: lot number -> locations it was
    picked from."""
    out: dict[int, dict[str, list[int]]] = {}
    for row in session.execute(
            select(PickLine.order_line_id, Lot.number, PickLine.location_id)
            .join(Lot, Lot.id == PickLine.lot_id).where(which, PickLine.qty > 0)
            .order_by(PickLine.id)):
        out.setdefault(row.order_line_id, {}).setdefault(row.number, []).append(
            row.location_id)
    return out


def _open_carton_of(session: Session, order) -> Carton | None:
    return session.scalar(select(Carton).where(Carton.order_id == order.id,
                                               Carton.status == "open")
                          .order_by(Carton.id).limit(1))


def open_carton(session: Session, order, station: str = "") -> Carton:
    """The order's open carton, opened now if there is none."""
    carton = _open_carton_of(session, order)
    if carton is None:
        last = session.scalar(select(func.max(Carton.number))
                              .where(Carton.order_id == order.id))
        carton = Carton(order_id=order.id, number=(last or 0) + 1, status="open",
                        station=station[:64])
        session.add(carton)
    return carton


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
        # its lines are read after the lock is granted.
        order = orders_domain.lock_order(session, order_number)
        orders_domain.check_workable(order)
        item = find_item(session, sku)
        line = next((ln for ln in order.lines if ln.item_id == item.id), None)
        if line is None:
            raise _not_on_order(item, order)
        need = needs(session, item)
        today = settings_domain.warehouse_today(session)
        check_room(line, qty, item.sku, order.number)
        picked = picked_lots(session, line)
        carried = clean_lot(lot)  # scanned, typed or from a GS1 label, recorded or not
        states = lot_gate.lot_states(session, item.id, [*picked, carried], lock=True)
        unfit = pack_gate.unfit_picked(item, picked, states, today)
        asks_lot = need.lot or len(picked) > 1 and bool(unfit)
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
        session.add(PackLine(
            carton=carton, order_line_id=line.id, item_id=item.id, qty=qty,
            recorded_lot=lot_number, serial=serial_number,
            picked_lots=", ".join(sorted(picked))[:200], lot_mismatch=mismatch,
            user_id=actor.user_id, station=actor.station[:64],
            override_by_id=override.user_id if let_through else None,
            override_reason=override.reason if let_through else None))
        line.qty_packed += qty
        orders_domain.refresh_status(order, packing=True)
        order.packing_station, order.packing_since = actor.at, utcnow()  # open here now
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
        session.flush()
        return Result("pack", [], order.number, messages=messages)

    return run_once(session, "pack", actor, idempotency_key, params, apply)


def asks_lot(session: Session, order_number, sku) -> bool:
    """Whether packing ``sku`` on the order asks for its lot although the item records none
    at pack now: its line was picked from several lots and one of them may not leave."""
    order = orders_domain.get_order(session, order_number)
    line = order_line(session, order, sku)
    picked = picked_lots(session, line)
    if len(picked) < 2:
        return False
    states = lot_gate.lot_states(session, line.item_id, picked)
    today = settings_domain.warehouse_today(session)
    return bool(pack_gate.unfit_picked(line.item, picked, states, today))


def _packed_text(item, qty, lot, serial, carton, line) -> str:
    extra = "".join([f" · lot {lot}" if lot else "", f" · serial {serial}" if serial else ""])
    return (f"Packed {qty} × {item.sku}{extra} into carton {carton.number} "
            f"({line.qty_packed} of {line.qty - line.qty_short})")


def close_carton(session: Session, *, order_number, weight_grams=None) -> Carton:
    order = orders_domain.get_order(session, order_number)
    carton = next((c for c in order.cartons if c.status == "open"), None)
    if carton is None:
        raise DomainError("no_open_carton", f"Order {order.number} has no open carton.")
    if not carton.lines:
        raise DomainError("carton_empty", f"Carton {carton.number} is empty; pack something "
                          f"into it first.")
    if weight_grams not in (None, ""):
        try:
            weight = int(str(weight_grams).strip())
        except ValueError:
            raise ValidationError("Weight is a whole number of grams.", field="weight") from None
        if not 0 < weight <= 1_000_000:
            raise ValidationError("Weight is 1 to 1,000,000 grams.", field="weight")
        carton.weight_grams = weight
    carton.status = "closed"
    carton.closed_at = utcnow()
    session.flush()
    return carton
