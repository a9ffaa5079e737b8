"""Locations, the inventory query, purchase orders and the inventory transactions over the API.

The transactions call the same domain functions as the screens, so a lot rule cannot differ
between them. Each one commits itself (one write transaction per call) and honours an optional
``Idempotency-Key`` header: a repeat returns the first result with ``replayed: true``.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import g, jsonify, request

from lotline import inventory as domain
from lotline import locations as locations_domain
from lotline.db import transaction as unit_of_work
from lotline.errors import ValidationError
from lotline.extensions import db
from lotline.models import LOCATION_TYPES, Inventory, Location, PurchaseOrder
from lotline.text import check_free_text

from . import EXTRA_SCHEMAS, OPERATIONS, json_body, operation
from .schema import Field

MAX_QTY = domain.MAX_QTY


def qty_field(minimum: int = 1) -> Field:
    return Field(int, required=True, minimum=minimum, maximum=MAX_QTY)


def _code(description: str) -> Field:
    return Field(str, required=True, max_length=32, description=description)


SKU = Field(str, required=True, max_length=64, description="SKU or GTIN")
LOT = Field(str, nullable=True, max_length=64,
            description="The lot number; null or left out for items that do not track lots")
EXPIRY = Field(str, nullable=True, max_length=10, description="Lot expiry, YYYY-MM-DD")

LOCATION_BODY = {
    "code": _code("Location code (the label's barcode)"),
    "zone": Field(str, max_length=32),
    "type": Field(str, enum=LOCATION_TYPES),
}
PURCHASE_ORDER_BODY = {
    "number": Field(str, required=True, max_length=32),
    "vendor": Field(str, max_length=100),
    "lines": Field(list, required=True, items={"sku": SKU, "qty": qty_field()}),
}
PUT_BODY = {"location": _code("Location code"), "sku": SKU, "lot": LOT, "qty": qty_field(),
            "expiry": EXPIRY}
PULL_BODY = {"location": _code("Location code"), "sku": SKU, "lot": LOT, "qty": qty_field()}
MOVE_BODY = {"from_location": _code("Source location code"),
             "to_location": _code("Destination location code"),
             "sku": SKU, "lot": LOT, "qty": qty_field()}
COUNT_BODY = {"location": _code("Location code"), "sku": SKU, "lot": LOT,
              "qty": qty_field(minimum=0)}
PUTAWAY_BODY = {"location": _code("Location code"), "sku": SKU, "lot": LOT, "qty": qty_field(),
                "expiry": EXPIRY,
                "allow_over_receipt": Field(bool, description="Receive more than ordered "
                                                              "(supervisor or admin only)")}

IDEMPOTENCY_KEY = [{"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "pattern": r"^[\w.:-]{8,64}$"},
                    "description": "Repeat a submission safely: the first result is returned "
                                   "(replayed: true) and nothing changes again. A key names "
                                   "one submission whoever sends it: sent by another user, "
                                   "the answer is code already_submitted, a summary only."}]
INVENTORY_PARAMS = [{"name": name, "in": "query", "schema": {"type": "string"},
                     "description": description} for name, description in (
    ("sku", "SKU or GTIN"), ("location", "Location code"), ("lot", "Lot number"))]
LOCATION_PARAMS = [{"name": "q", "in": "query", "schema": {"type": "string"},
                    "description": "Part of a location code"}]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(key: str, name: str) -> dict:
    return {"type": "object", "required": [key],
            "properties": {key: {"type": "array", "items": _ref(name)}}}


_LOT_OUT = {"type": ["string", "null"]}
EXTRA_SCHEMAS.update({
    "Location": {"type": "object", "required": ["code", "zone", "type", "active"], "properties": {
        "code": {"type": "string"}, "zone": {"type": "string"},
        "type": {"type": "string", "enum": list(LOCATION_TYPES)}, "active": {"type": "boolean"}}},
    "LocationList": _list_of("locations", "Location"),
    "InventoryRow": {"type": "object", "required": ["location", "sku", "lot", "expiry", "qty"],
                     "properties": {
        "location": {"type": "string"}, "sku": {"type": "string"}, "lot": _LOT_OUT,
        "expiry": {"type": ["string", "null"], "format": "date"},
        "qty": {"type": "integer", "minimum": 1}}},
    "InventoryList": _list_of("inventory", "InventoryRow"),
    "TransactionResult": {"type": "object",
                          "required": ["operation", "reference", "replayed", "changes"],
                          "properties": {
        "operation": {"type": "string",
                      "enum": ["put", "putaway", "pull", "move", "cycle-count"]},
        "reference": {"type": "string"},
        "replayed": {"type": "boolean",
                     "description": "True when an Idempotency-Key repeat returned the first "
                                    "result and changed nothing"},
        "changes": {"type": "array", "items": {
            "type": "object", "required": ["location", "sku", "lot", "before", "after"],
            "properties": {"location": {"type": "string"}, "sku": {"type": "string"},
                           "lot": _LOT_OUT, "before": {"type": "integer"},
                           "after": {"type": "integer"}}}},
        "messages": {"type": "array", "items": {"type": "string"},
                     "description": "Notes for the operator about the change"},
        "code": {"type": "string", "enum": ["already_submitted"],
                 "description": "Present when another user already made this submission "
                                "under the same Idempotency-Key: nothing changed again, and "
                                "the answer is only a summary (changes is empty)"},
        "submitted_at": {"type": "string", "format": "date-time",
                         "description": "With code already_submitted: when it was made"}}},
    "PurchaseOrder": {"type": "object", "required": ["number", "vendor", "status", "lines"],
                      "properties": {
        "number": {"type": "string"}, "vendor": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "partial", "received"]},
        "lines": {"type": "array", "items": {
            "type": "object",
            "required": ["sku", "qty_ordered", "qty_received", "remaining"],
            "properties": {"sku": {"type": "string"}, "qty_ordered": {"type": "integer"},
                           "qty_received": {"type": "integer"},
                           "remaining": {"type": "integer"}}}}}},
})


# ---------------------------------------------------------------- JSON shapes

def location_json(location: Location) -> dict:
    return {"code": location.code, "zone": location.zone, "type": location.type,
            "active": location.active}


def inventory_json(row: Inventory) -> dict:
    lot = row.lot
    return {"location": row.location.code, "sku": row.item.sku,
            "lot": lot.number if lot else None,
            "expiry": lot.expiry.isoformat() if lot and lot.expiry else None, "qty": row.qty}


def purchase_order_json(po: PurchaseOrder) -> dict:
    return {"number": po.number, "vendor": po.vendor, "status": po.status,
            "lines": [{"sku": line.item.sku, "qty_ordered": line.qty_ordered,
                       "qty_received": line.qty_received, "remaining": line.remaining}
                      for line in po.lines]}


# ---------------------------------------------------------------- request helpers

def _actor() -> domain.Actor:
    station = request.headers.get("X-Station", "api")[:64]
    check_free_text(station, field="X-Station", label="The X-Station header")
    return domain.Actor(g.api_user, station=station)


def _key() -> str | None:
    """The Idempotency-Key header; sent empty, it is refused (not taken for no key: the
    caller meant one, and a retry would apply twice)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not key.strip():
        raise ValidationError("The Idempotency-Key header is empty: send 8 to 64 letters, "
                              "digits or . _ : -, or leave the header out.",
                              field="Idempotency-Key")
    return key


def _expiry(body: dict) -> dict:
    """Turn the body's optional ``expiry`` string into a date (the domain takes dates)."""
    value = body.pop("expiry", None)
    if value is None:
        return body
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        body["expiry"] = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("expiry must be a date written YYYY-MM-DD.",
                              field="expiry") from None
    return body


def _transaction_response(result: domain.Result):
    """201 for a change made now; 200 when an Idempotency-Key repeat replayed the first one
    (or, from another user, answered that it was already done: code already_submitted)."""
    return jsonify(result.to_dict()), 200 if result.replayed else 201


def transaction(path: str, *, summary: str, body: dict):
    """Register an inventory transaction: packer or higher, Idempotency-Key, replay documented."""

    def decorator(view):
        wrapped = operation("POST", path, summary=summary, body=body, status=201,
                            response="TransactionResult", errors=(404, 409),
                            params=IDEMPOTENCY_KEY)(view)
        openapi_path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        OPERATIONS[("post", openapi_path)]["responses"]["200"] = {
            "description": "An Idempotency-Key repeat: the first result, replayed: true; "
                           "from another user only code already_submitted, submitted_at "
                           "and the operation (nothing of the first result)",
            "content": {"application/json": {"schema": _ref("TransactionResult")}}}
        return wrapped

    return decorator


# ---------------------------------------------------------------- locations

@operation("GET", "/locations", summary="List locations (q: part of the code)",
           response="LocationList", params=LOCATION_PARAMS)
def list_locations():
    found = locations_domain.list_locations(db.session, q=request.args.get("q", ""))
    return jsonify({"locations": [location_json(loc) for loc in found]})


@operation("POST", "/locations", summary="Create a location", role="supervisor",
           body=LOCATION_BODY, response="Location", status=201, errors=(409,))
def create_location():
    location = locations_domain.add_location(db.session, **json_body(LOCATION_BODY))
    return jsonify(location_json(location)), 201


# ---------------------------------------------------------------- inventory query

@operation("GET", "/inventory", summary="Query inventory by SKU, location and/or lot",
           response="InventoryList", params=INVENTORY_PARAMS, errors=(404,))
def query_inventory():
    rows = domain.query_inventory(db.session, sku=request.args.get("sku"),
                                  location=request.args.get("location"),
                                  lot=request.args.get("lot"))
    return jsonify({"inventory": [inventory_json(row) for row in rows]})


# ---------------------------------------------------------------- purchase orders

@operation("POST", "/purchase-orders", summary="Create a purchase order", role="supervisor",
           body=PURCHASE_ORDER_BODY, response="PurchaseOrder", status=201, errors=(404, 409))
def create_purchase_order():
    body = json_body(PURCHASE_ORDER_BODY)
    with unit_of_work(db.session):
        po = domain.create_purchase_order(db.session, **{"vendor": "", **body})
    return jsonify(purchase_order_json(po)), 201


@operation("GET", "/purchase-orders/<number>", summary="Get a purchase order by number",
           response="PurchaseOrder", errors=(404,))
def get_purchase_order(number):
    return jsonify(purchase_order_json(domain.get_purchase_order(db.session, number)))


@transaction("/purchase-orders/<number>/putaway", body=PUTAWAY_BODY,
             summary="PO Putaway: receive against a PO line and put the stock away")
def putaway(number):
    body = _expiry(json_body(PUTAWAY_BODY))
    return _transaction_response(domain.putaway(
        db.session, po_number=number, **{"lot": None, **body}, actor=_actor(),
        idempotency_key=_key()))


# ---------------------------------------------------------------- transactions

@transaction("/transactions/put", body=PUT_BODY, summary="Put stock into a location")
def put():
    body = _expiry(json_body(PUT_BODY))
    return _transaction_response(domain.put(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/pull", body=PULL_BODY,
             summary="Pull stock from a location (the lot must match)")
def pull():
    body = json_body(PULL_BODY)
    return _transaction_response(domain.pull(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/move", body=MOVE_BODY,
             summary="Move stock between locations (the lot must match at the source)")
def move():
    body = json_body(MOVE_BODY)
    return _transaction_response(domain.move(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/cycle-count", body=COUNT_BODY,
             summary="Cycle count: set the counted quantity and lot at a location")
def cycle_count():
    body = json_body(COUNT_BODY)
    return _transaction_response(domain.cycle_count(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))
