"""The lot rules an inventory change obeys (spec: Lot Tracking; PRODUCT.md rules 2–5),
and the checks of what was scanned. The screens' step checks call these too, so a scan is
refused for the same reason, in the same words, at its step and at the commit."""

from __future__ import annotations

import re

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from .. import locations as locations_domain
from ..commands import refuse_command
from ..db import found_once, held
from ..errors import DomainError, ValidationError
from ..models import Inventory, Item, Location
from ..stock_rules import lot_unknown, lot_unknown_refusal

MAX_QTY = 1_000_000
LOT_RE = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces: what labels carry
# A lot number as a request may carry it, in one pattern without look-ahead (the API's JSON
# Schema states it; JSON Schema engines differ on look-around): LOT_RE, less the scanner
# commands' reserved prefix CMD: in any case (lotline.commands.refuse_command).
LOT_INPUT_RE = re.compile(
    r"^(?:[\x21-\x42\x44-\x62\x64-\x7e][\x21-\x7e]{0,63}"  # not C
    r"|[Cc](?:[\x21-\x4c\x4e-\x6c\x6e-\x7e][\x21-\x7e]{0,62})?"  # C, not M
    r"|[Cc][Mm](?:[\x21-\x43\x45-\x63\x65-\x7e][\x21-\x7e]{0,61})?"  # CM, not D
    r"|[Cc][Mm][Dd](?:[\x21-\x39\x3b-\x7e][\x21-\x7e]{0,60})?)$")  # CMD, not :


def clean_qty(value, *, allow_zero: bool = False) -> int:
    try:
        qty = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError("Quantity must be a whole number.", field="qty") from None
    if isinstance(value, bool):
        raise ValidationError("Quantity must be a whole number.", field="qty")
    low = 0 if allow_zero else 1
    if not low <= qty <= MAX_QTY:
        raise ValidationError(f"Quantity must be from {low} to {MAX_QTY:,}.", field="qty")
    return qty


def clean_lot(value) -> str | None:
    if value is None or not str(value).strip():
        return None
    lot = str(value).strip()
    refuse_command(lot, "lot number", "lot")
    if not LOT_RE.match(lot):
        raise ValidationError("A lot number has 1 to 64 printable characters and no spaces.",
                              field="lot")
    return lot


def required_lot(item: Item, value) -> str | None:
    """The lot for a transaction on ``item``: required when it tracks lots, refused otherwise."""
    lot = clean_lot(value)
    if item.require_lot and lot is None:
        raise DomainError("lot_required", f"{item.sku} requires a lot number. Scan the lot.",
                          field="lot")
    if not item.require_lot and lot is not None:
        raise ValidationError(f"{item.sku} does not track lots; leave the lot empty.",
                              field="lot")
    return lot


def active_location(session: Session, code) -> Location:
    return check_active(locations_domain.get_location(session, code))


def check_active(location: Location) -> Location:
    """A deactivated location takes no change."""
    if not location.active:
        raise DomainError("location_inactive",
                          f"{location.code} is deactivated. Use another location.",
                          field="location")
    return location


_STOCK = (select(Inventory).options(joinedload(Inventory.lot))
          .where(Inventory.location_id == bindparam("location_id"),
                 Inventory.item_id == bindparam("item_id"))
          # afresh: read again (when the location is not held, each read is a new one), a
          # read replaces what the session had
          .execution_options(populate_existing=True))


STOCK = "stock"  # found_once's kind for a (location id, item id) record


def inventory_at(session: Session, location: Location, item: Item) -> Inventory | None:
    """The (location, item) record with its lot, in one statement (every scan reads it).
    Read once per transaction while the location is held (:func:`lotline.db.held`): on
    PostgreSQL a scan's step and its change then use the same read; a change's rules and
    its write always do (:func:`.changes.adjust` forgets it when it adds or deletes the
    record)."""
    params = {"location_id": location.id, "item_id": item.id}
    if held(session, "location", location.code):
        return found_once(session, STOCK, (location.id, item.id),
                          lambda: session.scalar(_STOCK, params))
    return session.scalar(_STOCK, params)


def check_destination(session: Session, location: Location, item: Item,
                      lot: str | None) -> Inventory | None:
    """Rule 2: a location holds at most one lot of an item. Returns the record it read."""
    inv = inventory_at(session, location, item)
    if inv is None or inv.qty == 0:
        return inv
    held = inv.lot.number if inv.lot else None
    if held == lot:
        return inv
    if lot_unknown(item, inv.lot_id):
        raise lot_unknown_refusal("needs_cycle_count", location.code, item.sku,
                                  "or put the lot in another location", qty=inv.qty)
    if held is None:
        raise DomainError(
            "location_holds_other_lot",
            f"{location.code} holds {item.sku} without a lot; lot {lot} cannot join it. "
            f"Put it in another location.", field="location", held_lot=None)
    if lot is None:  # tracking was switched off while a lot was still on record here
        raise DomainError(
            "location_holds_other_lot",
            f"{location.code} holds lot {held} of {item.sku}. Cycle count {location.code} to "
            f"clear its lot, or put {item.sku} in another location.",
            field="location", held_lot=held)
    raise DomainError(
        "location_holds_other_lot",
        f"{location.code} holds lot {held} of {item.sku}. Put {lot} in another location.",
        field="location", held_lot=held)


def check_source(session: Session, location: Location, item: Item) -> Inventory:
    """What Pull and Move take from: the location holds some of the item, and for a
    lot-tracked item with a lot on record (else the lot cannot be verified: count it first)."""
    inv = inventory_at(session, location, item)
    if inv is None or inv.qty == 0:
        raise DomainError("insufficient_quantity",
                          f"{location.code} holds no {item.sku}. Check the location.",
                          field="location", available=0)
    if lot_unknown(item, inv.lot_id):
        raise lot_unknown_refusal("needs_cycle_count", location.code, item.sku,
                                  "or take it from another location")
    return inv


def verify_lot(session: Session, location: Location, item: Item, lot: str | None,
               qty: int | None = None) -> Inventory:
    """Rule 4: Pull and Move verify the scanned lot against the location's lot."""
    inv = check_source(session, location, item)
    if item.require_lot:
        held = inv.lot.number
        if held != lot:
            raise DomainError(
                "lot_mismatch",
                f"{location.code} holds lot {held} of {item.sku}, not {lot}. "
                f"Scan the lot on the product you are holding again.",
                field="lot", held_lot=held)
    if qty is not None and qty > inv.qty:
        raise DomainError(
            "insufficient_quantity",
            f"{location.code} holds only {inv.qty} of {item.sku}; you asked for {qty}.",
            field="qty", available=inv.qty)
    return inv
