"""Orders over the API: create, read (picks and pack lines with lots and serials), list."""

from __future__ import annotations

from flask import jsonify, url_for

from lotline import orders as domain
from lotline.db import transaction
from lotline.extensions import db
from lotline.models import ORDER_STATUSES, Order

from . import EXTRA_SCHEMAS, json_body, operation, query_choice
from .inventory import SKU, qty_field
from .schema import Field

ORDER_BODY = {
    "number": Field(str, required=True, max_length=32),
    "customer": Field(str, required=True, max_length=100, description="Customer name"),
    "customer_ref": Field(str, max_length=64, description="The customer's own reference"),
    "ship_to": Field(str, max_length=300),
    "lines": Field(list, required=True, items={"sku": SKU, "qty": qty_field()}),
}

_PICK = {"type": "object", "properties": {
    "location": {"type": ["string", "null"]}, "lot": {"type": ["string", "null"]},
    "qty": {"type": "integer"}, "qty_short": {"type": "integer"},
    "user": {"type": ["string", "null"]}, "station": {"type": "string"},
    "at": {"type": "string"}}}
_PACK = {"type": "object", "properties": {
    "carton": {"type": "integer"}, "qty": {"type": "integer"},
    "recorded_lot": {"type": ["string", "null"]}, "serial": {"type": ["string", "null"]},
    "picked_lots": {"type": "array", "items": {"type": "string"}},
    "lot_mismatch": {"type": "boolean"}, "user": {"type": ["string", "null"]},
    "station": {"type": "string"}, "at": {"type": "string"},
    "override": {"type": ["object", "null"],
                 "description": "A supervisor let a lot the pack gate refused through",
                 "properties": {"by": {"type": ["string", "null"]},
                                "reason": {"type": "string"}}}}}
EXTRA_SCHEMAS.update({
    "Order": {"type": "object", "properties": {
        "number": {"type": "string"}, "customer": {"type": "string"},
        "customer_ref": {"type": "string"}, "ship_to": {"type": "string"},
        "status": {"type": "string", "enum": list(ORDER_STATUSES)},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string"}, "qty": {"type": "integer"},
            "qty_picked": {"type": "integer"}, "qty_short": {"type": "integer"},
            "qty_packed": {"type": "integer"},
            "picks": {"type": "array", "items": _PICK},
            "pack_lines": {"type": "array", "items": _PACK}}}},
        "cartons": {"type": "array", "items": {"type": "object", "properties": {
            "number": {"type": "integer"}, "status": {"type": "string"},
            "weight_grams": {"type": ["integer", "null"]}}}}}},
    "OrderList": {"type": "object", "properties": {
        "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}}},
})


def _when(value) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def order_json(order: Order) -> dict:
    pack_lines: dict[int, list] = {}
    for carton in order.cartons:
        for pl in carton.lines:
            pack_lines.setdefault(pl.order_line_id, []).append({
                "carton": carton.number, "qty": pl.qty, "recorded_lot": pl.recorded_lot,
                "serial": pl.serial,
                "picked_lots": [x for x in pl.picked_lots.split(", ") if x],
                "lot_mismatch": pl.lot_mismatch,
                "user": pl.user.username if pl.user else None, "station": pl.station,
                "at": _when(pl.created_at),
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
                       "station": p.station, "at": _when(p.created_at)} for p in line.picks],
            "pack_lines": pack_lines.get(line.id, []),
        } for line in order.lines],
        "cartons": [{"number": c.number, "status": c.status, "weight_grams": c.weight_grams}
                    for c in order.cartons],
    }


@operation("POST", "/orders", summary="Create an order", role="supervisor", body=ORDER_BODY,
           response="Order", status=201, errors=(404, 409))
def create_order():
    body = json_body(ORDER_BODY)
    with transaction(db.session):
        order = domain.create_order(db.session, body["number"], body["customer"],
                                    body["lines"], body.get("customer_ref", ""),
                                    body.get("ship_to", ""))
    response = jsonify(order_json(order))
    response.headers["Location"] = url_for("api.get_order", number=order.number)
    return response, 201


@operation("GET", "/orders/<number>", summary="An order with its picks and pack lines "
           "(lots and serials)", response="Order", errors=(404,))
def get_order(number):
    return jsonify(order_json(domain.get_order(db.session, number)))


# One role rule per piece of data, as on the screens: a packer reads the order at hand by its
# number (its slip needs the ship-to); the list of every order and customer is a
# supervisor's, as the Orders screen is.
@operation("GET", "/orders", summary="List orders, newest first", response="OrderList",
           role="supervisor", params=[{"name": "status", "in": "query",
                    "schema": {"type": "string", "enum": list(ORDER_STATUSES)}}])
def list_orders():
    orders = domain.list_orders(db.session, query_choice("status", ORDER_STATUSES))
    return jsonify({"orders": [order_json(o) for o in orders]})
