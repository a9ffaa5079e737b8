"""Items and their lot flags: Require Lot (tracking), Require Serial, lot-at-pack mode."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from .commands import refuse_command
from .db import forget_found, found_once
from .errors import Conflict, NotFound, ValidationError
from .gtin import normalize_gtin
from .models import LOT_AT_PACK_MODES, Inventory, Item
from .paging import page_count, page_number
from .stock_rules import stock_without_lot
from .text import check_free_text

SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
SORTS = {"sku": Item.sku, "description": Item.description, "require_lot": Item.require_lot,
         "gtin": Item.gtin}
PER_PAGE = 25
GTIN_LENGTHS = (8, 12, 13, 14)  # a GTIN scanned at any of its lengths names its item


def clean_sku(value) -> str:
    sku = str(value or "").strip()
    refuse_command(sku, "SKU", "sku")
    if not SKU_RE.match(sku):
        raise ValidationError(
            "A SKU has 1 to 64 letters, digits or . _ / - and starts with a letter or digit.",
            field="sku",
        )
    return sku


def _apply(session: Session, item: Item, fields: dict) -> None:
    if "sku" in fields:
        sku = clean_sku(fields["sku"])
        clash = session.scalar(select(Item.id).where(Item.sku == sku, Item.id != item.id))
        if clash:
            raise Conflict(f"SKU {sku} already exists.", field="sku")
        forget_found(session, "item", item.sku)
        item.sku = sku
    if "description" in fields:
        description = str(fields["description"] or "").strip()
        if len(description) > 200:
            raise ValidationError("A description has at most 200 characters.",
                                  field="description")
        item.description = check_free_text(description, field="description",
                                           label="The description")
    if "gtin" in fields:
        gtin = normalize_gtin(fields["gtin"])
        if gtin and session.scalar(select(Item.sku).where(Item.gtin == gtin, Item.id != item.id)):
            other = session.scalar(select(Item.sku).where(Item.gtin == gtin))
            raise Conflict(f"GTIN {gtin} already belongs to {other}.", field="gtin")
        item.gtin = gtin
    for flag in ("require_lot", "require_serial"):
        if flag in fields:
            setattr(item, flag, bool(fields[flag]))
    if "lot_at_pack" in fields:
        if fields["lot_at_pack"] not in LOT_AT_PACK_MODES:
            raise ValidationError(
                f"Lot at pack is one of {', '.join(LOT_AT_PACK_MODES)}.", field="lot_at_pack"
            )
        item.lot_at_pack = fields["lot_at_pack"]
    if "min_shelf_life_days" in fields:
        days = fields["min_shelf_life_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
            raise ValidationError("Minimum shelf life is 0 to 3650 days.",
                                  field="min_shelf_life_days")
        item.min_shelf_life_days = days


def create_item(session: Session, **fields) -> Item:
    if "sku" not in fields:
        raise ValidationError("A SKU is required.", field="sku")
    item = Item(description="", require_lot=False, require_serial=False, lot_at_pack="follow",
                min_shelf_life_days=0)
    _apply(session, item, fields)
    session.add(item)
    session.flush()
    return item


def update_item(session: Session, item: Item, **fields) -> Item:
    _apply(session, item, fields)
    session.flush()
    return item


def get_item(session: Session, sku: str) -> Item:
    item = session.scalar(select(Item).where(Item.sku == str(sku).strip()))
    if item is None:
        raise NotFound(f"No item with SKU {sku}.", code="unknown_item")
    return item


# Built once: every scan looks an item up.
_BY_SKU = select(Item).where(Item.sku == bindparam("sku"))
_BY_GTIN = select(Item).where(Item.gtin == bindparam("gtin"))


def find_item(session: Session, scan: str) -> Item:
    """The item a scan names: its SKU, or its GTIN (any length, any leading zeros)."""
    return found_once(session, "item", str(scan or "").strip(), lambda: find_by(
        scan, lambda by, value: session.scalar(_BY_SKU if by == "sku" else _BY_GTIN, {by: value})))


def find_by(scan, lookup):
    """The item a scan names, its SKU or else its GTIN, read by ``lookup(by, value)``."""
    scan = str(scan or "").strip()
    item = lookup("sku", scan)
    if item is None and scan.isdigit() and len(scan) in GTIN_LENGTHS:
        item = lookup("gtin", scan.zfill(14))
    if item is None:
        raise NotFound(f"No item with SKU or GTIN {scan}. Scan the item's label again.",
                       code="unknown_item")
    return item


def scans_naming(sku: str, gtin: str | None) -> list[str]:
    """Every scan :func:`find_by` reads as this item: its SKU, and its GTIN (14 digits) at
    each length that drops only leading zeros. The pack page hands them to the device, which
    checks an offline scan against them (static/js/offline-pack.js)."""
    codes = [sku]
    for length in GTIN_LENGTHS:
        if gtin and len(gtin) == 14 and set(gtin[:14 - length]) <= {"0"}:
            codes.append(gtin[14 - length:])
    return codes


@dataclass
class ItemPage:
    items: list[Item]
    total: int
    page: int
    pages: int
    sort: str
    direction: str
    q: str


def search_items(session: Session, q: str = "", page: int | str = 1, sort: str = "sku",
                 direction: str = "asc", per_page: int = PER_PAGE) -> ItemPage:
    """One page of items matching ``q`` in SKU, description or GTIN."""
    q = (q or "").strip()
    query = select(Item)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        query = query.where(or_(Item.sku.ilike(like, escape="\\"),
                                Item.description.ilike(like, escape="\\"),
                                Item.gtin.like(like, escape="\\")))
    sort = sort if sort in SORTS else "sku"
    direction = "desc" if direction == "desc" else "asc"
    column = SORTS[sort]
    order = column.desc() if direction == "desc" else column.asc()
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = page_count(total, per_page)
    page = min(page_number(page), pages)
    items = session.scalars(
        query.order_by(order, Item.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return ItemPage(list(items), total, page, pages, sort, direction, q)


def untracked_stock_locations(session: Session, item_ids: list[int]) -> int:
    """How many (location, item) inventory rows hold stock without a lot for these items."""
    if not item_ids:
        return 0
    return session.scalar(
        select(func.count()).select_from(Inventory).where(
            Inventory.item_id.in_(item_ids), stock_without_lot()
        )
    )


def set_require_lot(session: Session, item_ids: list[int], value: bool) -> int:
    """The grid's bulk action: set Require Lot on exactly these items; returns how many changed."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ValidationError("Select at least one item first.", field="item_ids")
    found = session.scalars(select(Item.id).where(Item.id.in_(ids))).all()
    if len(found) != len(ids):
        raise NotFound("Some selected items no longer exist. Reload the grid.")
    result = session.execute(
        update(Item).where(Item.id.in_(ids), Item.require_lot.is_not(value))
        .values(require_lot=value).execution_options(synchronize_session="fetch")
    )
    session.flush()
    return result.rowcount
