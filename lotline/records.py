"""What an inventory transaction reads, as plain records (no ORM objects).

The transactions in :mod:`lotline.inventory` read a location, an item, the (location, item)
inventory record with its lot, and write a few rows. These reads are prepared statements
(:mod:`lotline.prepared`) returning small named tuples with the attributes the rules use,
so the same rule code also accepts the ORM objects the screens hold.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .models import Inventory, Item, Location, Lot
from .prepared import Prepared

_L, _I, _IT, _LOT = (Location.__table__.c, Inventory.__table__.c, Item.__table__.c,
                     Lot.__table__.c)


class Place(NamedTuple):
    """A location, as a transaction needs it."""

    id: int
    code: str
    active: bool


class ItemRef(NamedTuple):
    """An item, as a transaction needs it."""

    id: int
    sku: str
    require_lot: bool


class LotRef(NamedTuple):
    id: int
    item_id: int
    number: str
    expiry: dt.date | None


class Stock(NamedTuple):
    """An inventory record (location, item) with its lot."""

    id: int
    qty: int
    lot_id: int | None
    lot: LotRef | None


_PLACE = select(_L.id, _L.code, _L.active).where(_L.code == bindparam("code"))
PLACE = Prepared(_PLACE)
PLACE_FOR_UPDATE = Prepared(_PLACE.with_for_update())  # PostgreSQL: reads and locks it

ITEM_BY_SKU = Prepared(select(_IT.id, _IT.sku, _IT.require_lot).where(_IT.sku == bindparam("sku")))
ITEM_BY_GTIN = Prepared(select(_IT.id, _IT.sku, _IT.require_lot)
                        .where(_IT.gtin == bindparam("gtin")))

_STOCK = Prepared(
    select(_I.id, _I.qty, _I.lot_id, _I.item_id, _LOT.number, _LOT.expiry)
    .select_from(Inventory.__table__).outerjoin(Lot.__table__, _LOT.id == _I.lot_id)
    .where(_I.location_id == bindparam("location_id"), _I.item_id == bindparam("item_id")))

_LOT_BY_NUMBER = Prepared(select(_LOT.id, _LOT.item_id, _LOT.number, _LOT.expiry)
                          .where(_LOT.item_id == bindparam("item_id"),
                                 _LOT.number == bindparam("number")))


def place(session: Session, code: str, *, for_update: bool = False) -> Place | None:
    row = (PLACE_FOR_UPDATE if for_update else PLACE).first(session, {"code": code})
    return Place(*row) if row else None


def item_ref(session: Session, by: str, value: str) -> ItemRef | None:
    row = (ITEM_BY_SKU if by == "sku" else ITEM_BY_GTIN).first(session, {by: value})
    return ItemRef(*row) if row else None


def stock(session: Session, location_id: int, item_id: int) -> Stock | None:
    row = _STOCK.first(session, {"location_id": location_id, "item_id": item_id})
    if row is None:
        return None
    pk, qty, lot_id, item_id, number, expiry = row
    return Stock(pk, qty, lot_id, LotRef(lot_id, item_id, number, expiry) if lot_id else None)


def lot(session: Session, item_id: int, number: str) -> LotRef | None:
    row = _LOT_BY_NUMBER.first(session, {"item_id": item_id, "number": number})
    return LotRef(*row) if row else None
