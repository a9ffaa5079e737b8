"""Purchase orders: what is ordered from a vendor and received against it (PO Putaway)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..errors import Conflict, DomainError, NotFound, ValidationError
from ..items import find_item
from ..models import Item, PurchaseOrder, PurchaseOrderLine
from ..paging import page_count, page_number
from ..text import check_free_text
from .rules import clean_qty


def get_purchase_order(session: Session, number) -> PurchaseOrder:
    number = str(number or "").strip().upper()
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
    if po is None:
        raise NotFound(f"No purchase order {number}. Scan the PO barcode again.",
                       code="unknown_purchase_order")
    return po


def purchase_order_line(session: Session, po_number, item: Item) -> PurchaseOrderLine:
    po = get_purchase_order(session, po_number)
    line = next((ln for ln in po.lines if ln.item_id == item.id), None)
    if line is None:
        raise DomainError("not_on_purchase_order",
                          f"{item.sku} is not on {po.number}. Check the item or the PO.",
                          field="sku")
    return line


def create_purchase_order(session: Session, number, vendor: str,
                          lines: list[dict]) -> PurchaseOrder:
    number = str(number or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9._/-]{0,31}", number):
        raise ValidationError("A PO number has 1 to 32 letters, digits or . _ / -.",
                              field="number")
    if session.scalar(select(PurchaseOrder.id).where(PurchaseOrder.number == number)):
        raise Conflict(f"Purchase order {number} already exists.", field="number")
    if not lines:
        raise ValidationError("A purchase order needs at least one line.", field="lines")
    vendor = check_free_text(str(vendor or "").strip()[:100], field="vendor", label="The vendor")
    po = PurchaseOrder(number=number, vendor=vendor)
    session.add(po)
    seen = set()
    for n, entry in enumerate(lines, start=1):
        try:
            item = find_item(session, entry.get("sku"))
        except DomainError as exc:
            raise NotFound(f"Line {n}: No item with SKU or GTIN {entry.get('sku')}.",
                           code="unknown_item", field="lines") from exc
        if item.id in seen:
            raise ValidationError(f"Line {n}: {item.sku} is on the order twice; add the "
                                  f"quantities into one line.", field="lines")
        seen.add(item.id)
        try:
            qty = clean_qty(entry.get("qty"))
        except ValidationError as exc:
            raise ValidationError(f"Line {n}: {exc.message}", field="lines") from exc
        po.lines.append(PurchaseOrderLine(item_id=item.id, qty_ordered=qty, qty_received=0))
    session.flush()
    return po


@dataclass
class PurchaseOrderPage:
    orders: list[PurchaseOrder]
    total: int
    page: int
    pages: int


def page_purchase_orders(session: Session, page: int | str = 1,
                         per_page: int = 25) -> PurchaseOrderPage:
    """One page of purchase orders, newest first, with their lines and items loaded."""
    total = session.scalar(select(func.count()).select_from(PurchaseOrder))
    pages = page_count(total, per_page)
    page = min(page_number(page), pages)
    orders = session.scalars(
        select(PurchaseOrder).order_by(PurchaseOrder.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(PurchaseOrder.lines).selectinload(PurchaseOrderLine.item)))
    return PurchaseOrderPage(list(orders), total, page, pages)
