"""What a pack line must carry and may not exceed: the lot and serial the item records at
pack (Require Lot/Serial at Pack), the units picked and not yet packed, a serial packed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import lot_gate, pack_gate
from .. import orders as orders_domain
from .. import settings as settings_domain
from ..db import found_once
from ..errors import DomainError, ValidationError
from ..items import find_item
from ..models import Item, Lot, Order, OrderLine, PackLine, PickLine

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
        raise not_on_order(item, order)
    set_committed_value(line, "item", item)  # the item just read: no second query for it
    return line


def not_on_order(item, order) -> DomainError:
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


_PICKED = (select(PickLine.order_line_id, Lot.number, PickLine.location_id)
           .join(Lot, Lot.id == PickLine.lot_id).where(PickLine.qty > 0).order_by(PickLine.id))
PICKED = "picked"  # found_once's kind for an order's picked lots
# Built once: every pack scan reads it.
_PICKED_FOR_ORDER = _PICKED.where(PickLine.order_line_id.in_(
    select(OrderLine.id).where(OrderLine.order_id == bindparam("order_id")).scalar_subquery()))


def picked_lots(session: Session, line) -> dict[str, list[int]]:
    """Lot number -> locations it was picked from, for this order line."""
    return picked_by_line(session, line.order_id).get(line.id, {})


def picked_by_line(session: Session, order_id: int) -> dict[int, dict[str, list[int]]]:
    """For each line of the order: lot number -> locations it was picked from (read once per
    transaction: the pack and the panel drawn after it both ask; a pick forgets it)."""
    return found_once(session, PICKED, order_id, lambda: _by_line(
        session.connection().execute(_PICKED_FOR_ORDER, {"order_id": order_id})))


def _by_line(rows) -> dict[int, dict[str, list[int]]]:
    out: dict[int, dict[str, list[int]]] = {}
    for row in rows:
        out.setdefault(row.order_line_id, {}).setdefault(row.number, []).append(
            row.location_id)
    return out


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
