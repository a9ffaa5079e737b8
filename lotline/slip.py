"""The packing slip: what each carton of an order holds, one row per (item, lot)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .models import Order, PackLine
from .orders import get_order


@dataclass(frozen=True)
class SlipRow:
    sku: str
    description: str
    lot: str | None  # the lot recorded at pack (none when the item's lot is not recorded)
    qty: int
    serials: tuple[str, ...]


@dataclass(frozen=True)
class SlipCarton:
    number: int
    weight_grams: int | None
    rows: list[SlipRow]


def slip_rows(lines: Iterable[PackLine]) -> list[SlipRow]:
    """A carton's pack lines as the slip lists them: one row per (item, lot) in the order
    each first went in, its quantity the sum of the units, the serials of its units in the
    order they were packed (a serial item is packed one unit, one pack line, at a time)."""
    grouped: dict[tuple[int, str | None], dict] = {}
    for line in lines:
        row = grouped.setdefault((line.item_id, line.recorded_lot), {
            "sku": line.item.sku, "description": line.item.description,
            "lot": line.recorded_lot, "qty": 0, "serials": []})
        row["qty"] += line.qty
        if line.serial:
            row["serials"].append(line.serial)
    return [SlipRow(**{**row, "serials": tuple(row["serials"])}) for row in grouped.values()]


def packing_slip(session: Session, number) -> tuple[Order, list[SlipCarton]]:
    """The order (``unknown_order`` if there is none) and its cartons' rows."""
    order = get_order(session, number)
    return order, [SlipCarton(carton.number, carton.weight_grams, slip_rows(carton.lines))
                   for carton in order.cartons]
