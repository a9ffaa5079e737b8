"""Rules about stock that several paths decide: one named predicate per rule, with the SQL
that queries need defined beside it, so Put, Pull, Move, Pick, the pick tasks, the
dashboard, the Needs cycle count list and the item screens all decide them the same way.

Rule: lot-tracked stock without a lot on record (tracking was switched on while it was on
the shelf) cannot be assumed to be any lot. Nothing may be picked, pulled or moved from it,
and no lot may join it, until the location is cycle counted.

Rule: a move goes somewhere else (From and To differ).
"""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

from .errors import DomainError, ValidationError
from .models import Inventory, Item


def lot_unknown(item, lot_id: int | None) -> bool:
    """Stock of ``item`` whose lot is ``lot_id`` cannot be assumed to be any lot: the item
    tracks lots and the stock has none on record."""
    return bool(item.require_lot) and lot_id is None


def stock_without_lot() -> ColumnElement[bool]:
    """Inventory rows holding stock with no lot on record (of any item: the item screens
    count them before lot tracking is switched on)."""
    return and_(Inventory.lot_id.is_(None), Inventory.qty > 0)


def lot_unknown_stock() -> ColumnElement[bool]:
    """:func:`lot_unknown` in SQL, over ``Inventory`` joined to its ``Item``."""
    return and_(Item.require_lot, stock_without_lot())


def lot_unknown_refusal(code: str, location_code: str, sku: str, then: str,
                        qty: int | None = None) -> DomainError:
    """The refusal of a scan that would rely on the lot of such stock: the fact, then what
    to do (cycle count the location, and ``then``)."""
    held = f"{qty} of {sku}" if qty is not None else sku
    return DomainError(code, f"{location_code} holds {held} without a lot. Cycle count "
                             f"{location_code} first, {then}.", field="location")


def check_other_location(from_code: str, to_code: str) -> None:
    """A move's To location is not its From location."""
    if from_code == to_code:
        raise ValidationError("From and To are the same location. Scan another To location.",
                              field="to_location")
