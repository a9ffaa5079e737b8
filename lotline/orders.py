"""Customer orders: created by API, CSV upload or screen; their status follows pick and pack."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from . import csv_file
from .commands import refuse_command
from .db import found_once, locked_once, row_locks
from .errors import Conflict, DomainError, NotFound, ValidationError
from .inventory import MAX_QTY, clean_qty, lock_locations, scanned_code
from .items import find_item
from .models import ORDER_STATUSES, Location, Order, OrderLine, utcnow
from .paging import page_count, page_number
from .text import check_free_text

NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,31}$")
NUMBER_INPUT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")  # as sent: kept in capitals


def clean_number(value) -> str:
    refuse_command(value, "order number", "number")
    number = str(value or "").strip().upper()
    if not NUMBER_RE.match(number):
        raise ValidationError("An order number has 1 to 32 letters, digits or . _ / -.",
                              field="number")
    return number


def create_order(session: Session, number, customer, lines: list[dict], customer_ref: str = "",
                 ship_to: str = "") -> Order:
    number = clean_number(number)
    customer = str(customer or "").strip()
    if not customer or len(customer) > 100:
        raise ValidationError("The customer's name has 1 to 100 characters.", field="customer")
    if len(str(customer_ref or "")) > 64 or len(str(ship_to or "")) > 300:
        raise ValidationError("Customer reference ≤ 64 and ship-to ≤ 300 characters.",
                              field="customer_ref")
    check_free_text(customer, field="customer", label="The customer's name")
    check_free_text(str(customer_ref or ""), field="customer_ref", label="The customer reference")
    check_free_text(str(ship_to or "").replace("\r\n", "\n"), field="ship_to",
                    label="The ship-to address", lines=True)
    if session.scalar(select(Order.id).where(Order.number == number)):
        raise Conflict(f"Order {number} already exists.", field="number")
    if not lines:
        raise ValidationError("An order needs at least one line.", field="lines")
    order = Order(number=number, customer_name=customer, customer_ref=str(customer_ref or ""),
                  ship_to=str(ship_to or ""), status="open")
    session.add(order)
    seen = set()
    for n, entry in enumerate(lines, start=1):
        try:
            item = find_item(session, entry.get("sku"))
            qty = clean_qty(entry.get("qty"))
        except DomainError as exc:  # its own code and status (unknown_item: 404, as everywhere)
            raise DomainError(exc.code, f"Line {n}: {exc.message}", status=exc.status,
                              field="lines") from exc
        if item.id in seen:
            raise ValidationError(f"Line {n}: {item.sku} is on the order twice; add the "
                                  f"quantities into one line.", field="lines")
        seen.add(item.id)
        order.lines.append(OrderLine(item_id=item.id, qty=qty, qty_picked=0, qty_short=0,
                                     qty_packed=0))
    session.flush()
    return order


def import_csv(session: Session, text: str) -> list[Order]:
    """Orders from CSV, one row per line: order,customer,sku,qty[,customer_ref,ship_to].
    All or nothing; a refusal names the file's line and what to change in it."""
    grouped: dict[str, dict] = {}
    for n, row in csv_file.rows(text, ("order", "customer", "sku", "qty"),
                                ("customer_ref", "ship_to")):
        number = csv_file.cell(n, clean_number, row["order"], (
            f"the order number “{row['order']}” is not one Lotline takes: 1 to 32 letters, "
            f"digits or . _ / -, not starting with CMD:. Change it in the order column."))
        item = csv_file.cell(n, lambda sku: find_item(session, sku), row["sku"], (
            f"no item has the SKU or GTIN “{row['sku']}”. Change the sku column to an item's "
            f"SKU, or add the item on the Items screen first."))
        qty = csv_file.cell(n, clean_qty, row["qty"], (
            f"the qty “{row['qty']}” is not a whole number from 1 to {MAX_QTY:,}. Change it "
            f"in the qty column."))
        entry = grouped.get(number)
        if entry is None:
            entry = grouped[number] = _csv_order(session, n, number, row)
        elif item.id in entry["items"]:
            raise csv_file.line_error(n, f"{item.sku} is on order {number} in an earlier row "
                                         f"too. Add the quantities into one row and delete "
                                         f"the other.")
        entry["items"].add(item.id)
        entry["lines"].append({"sku": item.sku, "qty": qty})
    if not grouped:
        raise ValidationError("The file has no order lines under its header row. Add one row "
                              "per order line: order, customer, sku, qty.", field="file")
    created = []
    for number, entry in grouped.items():
        try:
            created.append(create_order(session, number, entry["customer"], entry["lines"],
                                        entry["customer_ref"], entry["ship_to"]))
        except DomainError as exc:  # checked row by row above: a rule added to create_order
            raise csv_file.line_error(entry["first"], exc.message) from exc
    return created


def _csv_order(session: Session, n: int, number: str, row: dict[str, str]) -> dict:
    """An order's header from its first row in the file, checked as :func:`create_order`
    checks it, each refusal saying which column of line ``n`` to change."""
    if not 1 <= len(row["customer"]) <= 100:
        raise csv_file.line_error(n, "the customer is empty or longer than 100 characters. "
                                     "Write the customer's name in the customer column.")
    for column, limit in (("customer_ref", 64), ("ship_to", 300)):
        if len(row.get(column, "")) > limit:
            raise csv_file.line_error(n, f"the {column} has more than {limit} characters. "
                                         f"Shorten it in the {column} column.")
    if session.scalar(select(Order.id).where(Order.number == number)):
        raise csv_file.line_error(n, f"order {number} already exists in Lotline. Delete its "
                                     f"rows from the file, or give it another number in the "
                                     f"order column.")
    return {"customer": row["customer"], "customer_ref": row.get("customer_ref", ""),
            "ship_to": row.get("ship_to", ""), "first": n, "lines": [], "items": set()}


# Built once: every pick and pack scan reads its order.
_BY_NUMBER = (select(Order).where(Order.number == bindparam("number"))
              .options(joinedload(Order.lines).joinedload(OrderLine.item)))  # one statement
# On PostgreSQL the order is locked by a statement of its own, and its lines read after the
# lock is granted: a read joined to the locking statement would see the lines as they were
# before the transaction it waited for (READ COMMITTED re-reads only the locked row).
_LOCK_BY_NUMBER = select(Order.id).where(Order.number == bindparam("number")).with_for_update()
# Afresh: the session may hold the order and its lines as read before the lock (a pick or
# pack sent through the API reads nothing first; a scan's unit of work takes its locks first).
_AFRESH = _BY_NUMBER.execution_options(populate_existing=True)


def get_order(session: Session, number) -> Order:
    """The order ``number`` names with its lines and their items, read once per transaction
    (each pack step asks for it). Its items are then known by SKU to :func:`find_item` in
    this transaction too: a scan of an item on the order reads nothing more."""
    number = str(number or "").strip().upper()
    return found_once(session, "order", number,
                      lambda: _items_known(session, _one_order(session, _BY_NUMBER, number)))


def _items_known(session: Session, order: Order) -> Order:
    for line in order.lines:
        found_once(session, "item", line.item.sku, lambda item=line.item: item)
    return order


def lock_order(session: Session, number) -> Order:
    """The order, locked for this transaction on PostgreSQL (SQLite's write lock covers it)
    and read under the lock, so two stations picking or packing it cannot lose each other's
    counts. On PostgreSQL the order, its lines and their items are read once the lock is
    granted, and once per transaction (:func:`lotline.db.locked_once`)."""
    if row_locks(session):
        number = str(number or "").strip().upper()
        return locked_once(session, "order", number, lambda: _locked(session, number))
    return get_order(session, number)


def lock_location_and_order(session: Session, location, number) -> tuple[Location, Order]:
    """What a stock change for an order (a pick, a return) locks, in the domain's order: the
    location, then the order, each read under its lock (SQLite: the write lock covers
    them)."""
    loc = lock_locations(session, [location])[scanned_code(location)]
    return loc, lock_order(session, number)


def _locked(session: Session, number: str) -> Order:
    session.execute(_LOCK_BY_NUMBER, {"number": number})
    return _items_known(session, _one_order(session, _AFRESH, number))


def _one_order(session: Session, query, number) -> Order:
    number = str(number or "").strip().upper()
    order = session.execute(query, {"number": number}).unique().scalar_one_or_none()
    if order is None:
        raise NotFound(f"No order {number}. Scan the order's barcode again.",
                       code="unknown_order")
    return order


def list_orders(session: Session, status: str | None = None, limit: int = 200) -> list[Order]:
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if status:
        if status not in ORDER_STATUSES:
            raise ValidationError(f"Status is one of {', '.join(ORDER_STATUSES)}.",
                                  field="status")
        query = query.where(Order.status == status)
    return list(session.scalars(query))


PER_PAGE = 25


@dataclass
class OrderPage:
    orders: list[Order]
    total: int
    page: int
    pages: int
    status: str | None


def page_orders(session: Session, status: str | None = None, page: int | str = 1,
                per_page: int = PER_PAGE) -> OrderPage:
    """One page of orders, newest first, of one status or all (an unknown status: all)."""
    status = status if status in ORDER_STATUSES else None
    query = select(Order)
    if status:
        query = query.where(Order.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    pages = page_count(total, per_page)
    page = min(page_number(page), pages)
    rows = session.scalars(query.order_by(Order.id.desc()).options(selectinload(Order.lines))
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return OrderPage(list(rows), total, page, pages, status)


def refresh_status(order: Order, packing: bool = False) -> None:
    """Derive open → picking → picked → packing → packed from the lines (``packing``: a
    pack line was just added). Written only when it changes."""
    status = next_status(order.status, order.lines, packing)
    if status != order.status:
        order.status = status


def next_status(status: str, lines, packing: bool = False) -> str:
    """The status an order in ``status`` with these ``lines`` (ORM or plain records) has."""
    if status in ("cancelled", "shipped"):
        return status
    if packing and status in ("open", "picking", "picked"):
        status = "packing"
    if all(line.qty_packed >= line.qty - line.qty_short for line in lines) and \
            any(line.qty_packed for line in lines) and status in ("packing", "packed"):
        return "packed"
    if any(line.qty_packed for line in lines):
        return "packing"
    if all(line.qty - line.qty_picked - line.qty_short == 0 for line in lines):
        return "picked"
    if any(line.qty_picked or line.qty_short for line in lines):
        return "picking"
    return "open"


def cancel_order(session: Session, order: Order) -> Order:
    if order.status in ("packed", "shipped"):
        raise DomainError("order_closed", f"Order {order.number} is {order.status}; it can no "
                          f"longer be cancelled.")
    order.status = "cancelled"
    session.flush()
    return order


def ship_order(session: Session, order: Order) -> Order:
    """Ship a packed order whose cartons are closed and hold no lot that may not leave
    (lotline.lot_gate: held since it was packed, or expired meanwhile)."""
    from . import lot_gate
    from .settings import warehouse_today

    if order.status != "packed":
        raise DomainError("order_not_packed", f"Order {order.number} is {order.status}; only "
                          f"a packed order ships.")
    if any(c.status == "open" for c in order.cartons):
        raise DomainError("carton_open", "Close the open carton before shipping.")
    stopped = lot_gate.intercepts(session, warehouse_today(session), [order.id], lock=True)
    if stopped:
        first = stopped[0]
        raise DomainError(first.refusal.code, f"Order {order.number} may not ship: carton "
                          f"{first.carton} holds {first.sku} lot {first.lot}. "
                          f"{first.refusal.why}. Take it out of the "
                          f"carton and tell a supervisor.",
                          lots=[f"{i.sku} {i.lot}" for i in stopped])
    order.status = "shipped"
    order.shipped_at = utcnow()
    session.flush()
    return order


def line_for(session: Session, order: Order, sku) -> OrderLine:
    """The order's line of the item ``sku`` names, or ``not_on_order``."""
    item = find_item(session, sku)
    line = next((ln for ln in order.lines if ln.item_id == item.id), None)
    if line is None:
        raise DomainError("not_on_order", f"{item.sku} is not on order {order.number}.")
    return line


def check_workable(order: Order) -> None:
    if order.status in ("cancelled", "shipped"):
        raise DomainError("order_closed", f"Order {order.number} is {order.status}.",
                          field="order")
