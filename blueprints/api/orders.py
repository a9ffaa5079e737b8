"""Orders over the API: create, read (picks and pack lines with lots and serials), list."""

from typing import Literal

from pydantic import Field

from lotline import models
from lotline import orders as domain
from lotline.db import transaction
from lotline.extensions import db
from lotline.models import ORDER_STATUSES, utc_stamp

from . import address, json_body, operation, query_arg
from .bodies import Answer, Body, Lines, OrderNumber, free_text, query


class NewOrder(Body):
    number: OrderNumber
    customer: free_text(100, required=True, description="Customer name")
    customer_ref: free_text(64, description="The customer's own reference") = ""
    ship_to: free_text(300, lines=True, description="The address, a line break between "
                                                    "lines") = ""
    lines: Lines


class Override(Answer):
    """A supervisor let a lot the pack gate refused through."""

    by: str | None
    reason: str


class Pick(Answer):
    location: str | None
    lot: str | None
    qty: int
    qty_short: int
    user: str | None
    station: str
    at: str


class PackLine(Answer):
    carton: int
    qty: int
    recorded_lot: str | None
    serial: str | None
    picked_lots: list[str]
    lot_mismatch: bool
    user: str | None
    station: str
    at: str
    override: Override | None


class OrderLine(Answer):
    sku: str
    qty: int
    qty_picked: int
    qty_short: int
    qty_packed: int
    picks: list[Pick]
    pack_lines: list[PackLine]


class Carton(Answer):
    number: int
    status: str
    weight_grams: int | None


class Order(Answer):
    number: str
    customer: str
    customer_ref: str
    ship_to: str
    status: Literal[ORDER_STATUSES]  # type: ignore[valid-type]
    lines: list[OrderLine]
    cartons: list[Carton]


class OrderList(Answer):
    orders: list[Order] = Field(description="Newest first")


def order_json(order: models.Order) -> dict:
    pack_lines: dict[int, list] = {}
    for carton in order.cartons:
        for pl in carton.lines:
            pack_lines.setdefault(pl.order_line_id, []).append({
                "carton": carton.number, "qty": pl.qty, "recorded_lot": pl.recorded_lot,
                "serial": pl.serial,
                "picked_lots": [x for x in pl.picked_lots.split(", ") if x],
                "lot_mismatch": pl.lot_mismatch,
                "user": pl.user.username if pl.user else None, "station": pl.station,
                "at": utc_stamp(pl.created_at),
                "override": None if pl.override_reason is None else {
                    "by": pl.override_by.username if pl.override_by else None,
                    "reason": pl.override_reason}})
    return {
        "number": order.number, "customer": order.customer_name,
        "customer_ref": order.customer_ref, "ship_to": order.ship_to, "status": order.status,
        "lines": [{
            "sku": line.item.sku, "qty": line.qty, "qty_picked": line.qty_picked,
            "qty_short": line.qty_short, "qty_packed": line.qty_packed,
            "picks": [{"location": p.location.code if p.location else None,
                       "lot": p.lot.number if p.lot else None, "qty": p.qty,
                       "qty_short": p.qty_short, "user": p.user.username if p.user else None,
                       "station": p.station, "at": utc_stamp(p.created_at)} for p in line.picks],
            "pack_lines": pack_lines.get(line.id, []),
        } for line in order.lines],
        "cartons": [{"number": c.number, "status": c.status, "weight_grams": c.weight_grams}
                    for c in order.cartons],
    }


@operation("POST", "/orders", summary="Create an order", role="supervisor", body=NewOrder,
           response=Order, status=201, errors=(404, 409))
def create_order():
    body = json_body(NewOrder)
    with transaction(db.session):
        order = domain.create_order(db.session, body["number"], body["customer"],
                                    body["lines"], body.get("customer_ref", ""),
                                    body.get("ship_to", ""))
    return order_json(order), 201, {"Location": address("api.get_order", number=order.number)}


@operation("GET", "/orders/<path:number>", summary="An order with its picks and pack lines "
           "(lots and serials)", response=Order, errors=(404,))
def get_order(number):
    return order_json(domain.get_order(db.session, number))


# One role rule per piece of data, as on the screens: a packer reads the order at hand by its
# number (its slip needs the ship-to); the list of every order and customer is a
# supervisor's, as the Orders screen is.
@operation("GET", "/orders", summary="List orders, newest first", response=OrderList,
           role="supervisor", params=[query("status")])
def list_orders():
    return {"orders": [order_json(o) for o in domain.list_orders(db.session,
                                                                  query_arg("status"))]}
