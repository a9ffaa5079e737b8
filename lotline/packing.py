"""The pack station: lot and serial recording (spec: Lot Recording; PRODUCT.md rules 6–7).

Recorded lots are not tied to inventory and need not match the picked lot: a mismatch never
blocks. It is stored on the pack line, flagged for the supervisor, and the location it was
picked from goes on the Needs cycle count list, because its lot on record is now in doubt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import lot_gate, pack_gate
from . import orders as orders_domain
from . import settings as settings_domain
from .commands import CLOSE
from .db import outside_transaction
from .errors import DomainError, NotFound, ValidationError
from .inventory import Actor, Result, clean_lot, clean_qty, request_count, run_once
from .items import find_by, find_item
from .models import Carton, Item, Lot, Order, OrderLine, PackLine, PickLine, utcnow
from .prepared import Prepared

SERIAL_MAX = 64


@dataclass
class PackNeeds:
    """What a pack line of this item must carry, under the setting as it is now."""

    lot: bool
    serial: bool


class PackItem(NamedTuple):
    """An item as packing needs it (a plain record)."""

    id: int
    sku: str
    require_lot: bool
    require_serial: bool
    lot_at_pack: str
    min_shelf_life_days: int | None

    lot_recorded_at_pack = Item.lot_recorded_at_pack  # the same rule as the item's own


_i = Item.__table__.c
_RECORDING = settings_domain.REQUIRE_LOT_SERIAL_AT_PACK
_ZONE = settings_domain.WAREHOUSE_TIME_ZONE
_PACK_ITEM = select(_i.id, _i.sku, _i.require_lot, _i.require_serial, _i.lot_at_pack,
                    _i.min_shelf_life_days, settings_domain.stored(_ZONE),
                    settings_domain.stored(_RECORDING))
_PACK_ITEM_BY = {"sku": Prepared(_PACK_ITEM.where(_i.sku == bindparam("sku"))),
                 "gtin": Prepared(_PACK_ITEM.where(_i.gtin == bindparam("gtin")))}


def pack_item(session: Session, scan) -> PackItem:
    """The item a scan names (SKU or GTIN, as :func:`lotline.items.find_item`)."""
    return pack_item_and_setting(session, scan)[0]


def pack_item_and_setting(session: Session, scan) -> tuple[PackItem, bool]:
    """The item a scan names, and the Require Lot/Serial at Pack setting, in one statement."""
    item, on, _ = pack_item_and_settings(session, scan)
    return item, on


def pack_item_and_settings(session: Session, scan) -> tuple[PackItem, bool, dt.date]:
    """The item a scan names, the Require Lot/Serial at Pack setting and the warehouse's
    date (its time-zone setting), in one statement."""
    found = {}

    def lookup(by, value):
        row = _PACK_ITEM_BY[by].first(session, {by: value})
        if row:
            found["on"] = settings_domain.decode(_RECORDING, row[-1])
            found["today"] = settings_domain.today_in(settings_domain.decode(_ZONE, row[-2]))
        return PackItem(*row[:-2]) if row else None

    return find_by(scan, lookup), found["on"], found["today"]


def needs(session: Session, item: Item | PackItem, setting_on: bool | None = None) -> PackNeeds:
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
class PanelItem:
    sku: str
    gtin: str | None
    require_lot: bool
    require_serial: bool
    lot_at_pack: str

    lot_recorded_at_pack = Item.lot_recorded_at_pack  # the same rule as the item's own


@dataclass
class PanelLine:
    id: int
    qty: int
    qty_picked: int
    qty_short: int
    qty_packed: int
    item: PanelItem


@dataclass
class PanelCarton:
    id: int
    number: int


@dataclass
class PackPanel:
    """What the pack screen shows beside the scan: the order's lines with what is picked
    and packed, the lots picked for each, what each line must record, the open carton.
    Plain rows read in two statements (in the pack's own transaction after a pack): it
    is drawn again after every pack scan."""

    number: str
    customer_name: str
    customer_ref: str
    status: str
    lines: list[PanelLine]
    carton: PanelCarton | None
    lots: dict[int, dict[str, list[int]]]
    needs: dict[int, PackNeeds]


_o, _ol = Order.__table__.c, OrderLine.__table__.c
_PANEL_LINES = (
    select(_o.id, _o.number, _o.customer_name, _o.customer_ref, _o.status, _ol.id,
           _ol.qty, _ol.qty_picked, _ol.qty_short, _ol.qty_packed, _i.sku, _i.gtin,
           _i.require_lot, _i.require_serial, _i.lot_at_pack)
    .select_from(Order.__table__.join(OrderLine.__table__, _ol.order_id == _o.id)
                 .join(Item.__table__, _i.id == _ol.item_id))
    .where(_o.number == bindparam("number")).order_by(_ol.id))
_c = Carton.__table__.c
_OPEN_CARTON = Prepared(select(_c.id, _c.number).where(
    _c.order_id == bindparam("order_id"), _c.status == "open").order_by(_c.id).limit(1))
# The panel's lines with, on each, the open carton (id, number), the setting and the line's
# item id. A pack reads it in its transaction (locking the order on PostgreSQL): it is the
# order and lines the rules need, and with the pack's own changes the panel drawn after it.
_PANEL_ROWS = _PANEL_LINES.add_columns(
    *(select(column).where(_c.order_id == _o.id, _c.status == "open").order_by(_c.id)
      .limit(1).scalar_subquery() for column in (_c.id, _c.number)),
    settings_domain.stored(_RECORDING), _ol.item_id)
_PANEL = Prepared(_PANEL_ROWS)
_LOCK_ORDER = Prepared(select(_o.id).where(_o.number == bindparam("number")).with_for_update())


def pack_panel(session: Session, number) -> PackPanel | None:
    """The panel of order ``number``, or None when there is no such order. What is
    committed (read outside the session's transaction: it is drawn after every pack scan)."""
    with outside_transaction(session.get_bind().engine) as connection:
        rows = _PANEL.run(connection, {"number": str(number or "").strip().upper()})
        if not rows:
            return None
        picked = _picked(_PICKED_BY_ORDER.run(connection, {"order_id": rows[0][0]}))
    return _panel_of(rows, picked)


def _panel_of(rows, picked: dict, status: str | None = None,
              packed: tuple[int, int] | None = None,
              carton: PanelCarton | None = None) -> PackPanel:
    """The panel from ``_PANEL``'s rows and the order's picks; after a pack in the same
    transaction, with what it changed: the order's ``status``, ``packed`` (line id, units
    added) and the ``carton`` it packed into."""
    first = rows[0]
    lines = [PanelLine(r[5], r[6], r[7], r[8], r[9], PanelItem(*r[10:15])) for r in rows]
    if packed is not None:
        line = next(ln for ln in lines if ln.id == packed[0])
        line.qty_packed += packed[1]
    carton = carton or _open_carton_in(first)
    on = settings_domain.decode(_RECORDING, first[17])
    return PackPanel(
        number=first[1], customer_name=first[2], customer_ref=first[3],
        status=status or first[4], lines=lines, carton=carton,
        lots={line.id: picked.get(line.id, {}) for line in lines},
        needs={line.id: needs(None, line.item, on) for line in lines})


def _open_carton_in(row) -> PanelCarton | None:
    """The open carton a ``_PANEL`` row carries, if the order has one."""
    return PanelCarton(row[15], row[16]) if row[15] is not None else None


def picked_lots(session: Session, line) -> dict[str, list[int]]:
    """Lot number -> locations it was picked from, for this order line."""
    return _picked(_PICKED_BY_LINE.execute(session, {"line_id": line.id})).get(line.id, {})


_pl, _lot = PickLine.__table__.c, Lot.__table__.c
_PICKED = (select(_pl.order_line_id, _lot.number, _pl.location_id)
           .select_from(PickLine.__table__.join(Lot.__table__, _lot.id == _pl.lot_id))
           .where(_pl.qty > 0).order_by(_pl.id))
_PICKED_BY_LINE = Prepared(_PICKED.where(_pl.order_line_id == bindparam("line_id")))
_PICKED_BY_ORDER = Prepared(_PICKED.where(_pl.order_line_id.in_(
    select(_ol.id).where(_ol.order_id == bindparam("order_id")).scalar_subquery())))


def _picked(rows) -> dict[int, dict[str, list[int]]]:
    """For each order line: lot number -> locations it was picked from."""
    out: dict[int, dict[str, list[int]]] = {}
    for line_id, number, location_id in rows:
        out.setdefault(line_id, {}).setdefault(number, []).append(location_id)
    return out


_LAST_CARTON = Prepared(select(func.max(_c.number)).where(_c.order_id == bindparam("order_id")))
_NEW_CARTON = Prepared(insert(Carton.__table__).values(
    order_id=bindparam("order_id"), number=bindparam("number"), status="open",
    station=bindparam("station"), opened_at=bindparam("at")).returning(_c.id))


def open_carton(session: Session, order, station: str = "") -> PanelCarton:
    """The order's open carton (its id and number), opened now if there is none."""
    row = _OPEN_CARTON.first(session, {"order_id": order.id})
    if row is not None:
        return PanelCarton(*row)
    number = (_LAST_CARTON.first(session, {"order_id": order.id})[0] or 0) + 1
    (pk,) = _NEW_CARTON.first(session, {"order_id": order.id, "number": number,
                                        "station": station[:64], "at": utcnow()})
    return PanelCarton(pk, number)


def pack(session: Session, *, order_number, sku, actor: Actor, qty=1, lot=None, serial=None,
         idempotency_key=None, expiry: dt.date | None = None,
         unneeded: str = "record", override: pack_gate.Override | None = None) -> Result:
    """Pack ``qty`` of an item into the order's open carton, recording lot and serial.

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
        rows = _order_rows(session, order_number)
        first = rows[0]
        order = orders_domain.OrderRef(first[0], first[1], first[4])
        lines = [orders_domain.LineRef(r[5], r[18], *r[6:10]) for r in rows]
        orders_domain.check_workable(order)
        item, recording, today = pack_item_and_settings(session, sku)
        at = next((n for n, ln in enumerate(lines) if ln.item_id == item.id), None)
        if at is None:
            raise _not_on_order(item, order)
        line = lines[at]
        need = needs(session, item, recording)
        check_room(line, qty, item.sku, order.number)
        picked_by_line = _picked(_PICKED_BY_ORDER.execute(session, {"order_id": order.id}))
        picked = picked_by_line.get(line.id, {})
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
        carton = _open_carton_in(first) or open_carton(session, order, actor.station)
        _PACK_LINE_ROW.execute(session, {
            "carton_id": carton.id, "order_line_id": line.id, "item_id": item.id, "qty": qty,
            "recorded_lot": lot_number, "serial": serial_number,
            "picked_lots": ", ".join(sorted(picked))[:200], "lot_mismatch": mismatch,
            "user_id": actor.user_id, "station": actor.station[:64], "created_at": utcnow(),
            "override_by_id": override.user_id if refused and override else None,
            "override_reason": override.reason if refused and override else None})
        _ADD_PACKED.execute(session, {"pk": line.id, "added": qty})
        lines[at] = line = line._replace(qty_packed=line.qty_packed + qty)
        status = orders_domain.next_status(order.status, lines, packing=True)
        orders_domain.packed_at_station(session, order, status, actor)
        messages = [_packed_text(item, qty, lot_number, serial_number, carton, line)]
        if refused is not None:
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
        if status == "packed":
            messages.append(f"Order {order.number} is completely packed. Scan {CLOSE} to "
                            f"close carton {carton.number}.")
        session.flush()
        panel = _panel_of(rows, picked_by_line, status=status, packed=(line.id, qty),
                          carton=carton)
        return Result("pack", [], order.number, messages=messages, panel=panel)

    return run_once(session, "pack", actor, idempotency_key, params, apply)


def asks_lot(session: Session, order_number, sku) -> bool:
    """Whether packing ``sku`` on the order asks for its lot although the item records none
    at pack now: its line was picked from several lots and one of them may not leave."""
    order = orders_domain.get_order(session, order_number)
    line = order_line(session, order, sku)
    picked = picked_lots(session, line)
    if len(picked) < 2:  # (the rule's answer without reading the lots' states)
        return False
    states = lot_gate.lot_states(session, line.item_id, picked)
    today = settings_domain.warehouse_today(session)
    return pack_gate.lot_asked(False, picked, pack_gate.unfit_picked(line.item, picked, states,
                                                                     today))


def _order_rows(session: Session, number) -> list[tuple]:
    """The order's panel rows in this transaction, or NotFound. On PostgreSQL the order row
    is locked first, in a statement of its own, so two stations packing one order take
    turns, and the rows are read after the lock is granted: under READ COMMITTED a statement
    that waited for the lock returns the other rows as of its own start, before the other
    pack committed (it packed 3 of 2 picked)."""
    from . import inventory
    from .db import is_postgres

    number = str(number or "").strip().upper()
    if inventory.LOCKING and is_postgres(session):
        _LOCK_ORDER.execute(session, {"number": number})
    rows = _PANEL.execute(session, {"number": number})
    if not rows:
        raise NotFound(f"No order {number}. Scan the order's barcode again.",
                       code="unknown_order")
    return rows


_PACK_LINE_ROW = Prepared(insert(PackLine.__table__).values(
    {name: bindparam(name) for name in ("carton_id", "order_line_id", "item_id", "qty",
                                         "recorded_lot", "serial", "picked_lots",
                                         "lot_mismatch", "user_id", "station", "created_at",
                                         "override_by_id", "override_reason")}))
_ADD_PACKED = Prepared(update(OrderLine.__table__).where(_ol.id == bindparam("pk"))
                       .values(qty_packed=_ol.qty_packed + bindparam("added")))


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
