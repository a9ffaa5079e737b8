"""Locations, the inventory query, purchase orders and the inventory transactions over the API.

The transactions call the same domain functions as the screens, so a lot rule cannot differ
between them. Each one commits itself (one write transaction per call) and honours an optional
``Idempotency-Key`` header: a repeat returns the first result with ``replayed: true``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from flask import g, request
from pydantic import Field

from lotline import inventory as domain
from lotline import locations as locations_domain
from lotline import models
from lotline.db import transaction as unit_of_work
from lotline.errors import ValidationError
from lotline.extensions import db
from lotline.inventory.idempotency import KEY_RE
from lotline.models import LOCATION_TYPES
from lotline.text import check_free_text

from . import OPERATIONS, json_body, operation, query_arg, ref
from .bodies import (
    Answer,
    Body,
    Expiry,
    Lines,
    LocationCode,
    LotNumber,
    OrderNumber,
    Qty,
    Sku,
    free_text,
    query,
    whole_number,
)

LocationType = Literal[LOCATION_TYPES]  # type: ignore[valid-type]
Lot = LotNumber | None  # null or left out for items that do not track lots


class NewLocation(Body):
    code: LocationCode
    zone: free_text(32) = ""
    type: LocationType = "storage"


class NewPurchaseOrder(Body):
    number: OrderNumber
    vendor: free_text(100) = ""
    lines: Lines


class Put(Body):
    location: LocationCode
    sku: Sku
    lot: Lot = None
    qty: Qty
    expiry: Expiry | None = None


class Pull(Body):
    location: LocationCode
    sku: Sku
    lot: Lot = None
    qty: Qty


class Move(Body):
    from_location: LocationCode = Field(description="Source location code")
    to_location: LocationCode = Field(description="Destination location code")
    sku: Sku
    lot: Lot = None
    qty: Qty


class CycleCount(Body):
    location: LocationCode
    sku: Sku
    lot: Lot = None
    qty: whole_number(0, domain.MAX_QTY, "The quantity counted (0: none)")


class Putaway(Put):
    allow_over_receipt: bool = Field(None, description="Receive more than ordered (supervisor "
                                                       "or admin only)")


IDEMPOTENCY_KEY = [{"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "pattern": KEY_RE.pattern},
                    "description": "Repeat a submission safely: the first result is returned "
                                   "(replayed: true) and nothing changes again. A key names "
                                   "one submission whoever sends it: sent by another user, "
                                   "the answer is code already_submitted, a summary only."}]
INVENTORY_PARAMS = [query("sku", "SKU or GTIN"), query("location", "Location code"),
                    query("lot", "Lot number")]
LOCATION_PARAMS = [query("q", "Part of a location code or zone")]


class Location(Answer):
    code: str
    zone: str
    type: LocationType
    active: bool


class LocationList(Answer):
    locations: list[Location]


class InventoryRow(Answer):
    location: str
    sku: str
    lot: str | None
    expiry: str | None = Field(json_schema_extra={"format": "date"})
    qty: int = Field(ge=0)  # as the database's CHECK (qty >= 0)


class InventoryList(Answer):
    inventory: list[InventoryRow]


class Change(Answer):
    location: str
    sku: str
    lot: str | None
    before: int
    after: int


class TransactionResult(Answer):
    operation: Literal["put", "putaway", "pull", "move", "cycle-count"]
    reference: str
    replayed: bool = Field(description="True when an Idempotency-Key repeat returned the "
                                       "first result and changed nothing")
    changes: list[Change]
    messages: list[str] = Field([], description="Notes for the operator about the change")
    code: Literal["already_submitted"] = Field(
        None, description="Present when another user already made this submission under the "
                          "same Idempotency-Key: nothing changed again, and the answer is only "
                          "a summary (changes is empty)")
    submitted_at: dt.datetime = Field(None, description="With code already_submitted: when it "
                                                        "was made")


class PurchaseOrderLine(Answer):
    sku: str
    qty_ordered: int
    qty_received: int
    remaining: int


class PurchaseOrder(Answer):
    number: str
    vendor: str
    status: Literal["open", "partial", "received"]
    lines: list[PurchaseOrderLine]


# ---------------------------------------------------------------- JSON shapes

def location_json(location: models.Location) -> dict:
    return {"code": location.code, "zone": location.zone, "type": location.type,
            "active": location.active}


def inventory_json(row: models.Inventory) -> dict:
    lot = row.lot
    return {"location": row.location.code, "sku": row.item.sku,
            "lot": lot.number if lot else None,
            "expiry": lot.expiry.isoformat() if lot and lot.expiry else None, "qty": row.qty}


def purchase_order_json(po: models.PurchaseOrder) -> dict:
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


def _transaction_response(result: domain.Result):
    """201 for a change made now; 200 when an Idempotency-Key repeat replayed the first one
    (or, from another user, answered that it was already done: code already_submitted)."""
    return result.to_dict(), 200 if result.replayed else 201


def transaction(path: str, *, summary: str, body: type[Body]):
    """Register an inventory transaction: packer or higher, Idempotency-Key, replay documented."""

    def decorator(view):
        wrapped = operation("POST", path, summary=summary, body=body, status=201,
                            response=TransactionResult, errors=(404, 409),
                            params=IDEMPOTENCY_KEY)(view)
        openapi_path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        OPERATIONS[("post", openapi_path)]["responses"]["200"] = {
            "description": "An Idempotency-Key repeat: the first result, replayed: true; "
                           "from another user only code already_submitted, submitted_at "
                           "and the operation (nothing of the first result)",
            "content": {"application/json": {"schema": ref(TransactionResult)}}}
        return wrapped

    return decorator


# ---------------------------------------------------------------- locations

@operation("GET", "/locations", summary="List locations (q: part of the code)",
           response=LocationList, params=LOCATION_PARAMS)
def list_locations():
    found = locations_domain.list_locations(db.session, q=query_arg("q") or "")
    return {"locations": [location_json(loc) for loc in found]}


@operation("POST", "/locations", summary="Create a location", role="supervisor",
           body=NewLocation, response=Location, status=201, errors=(409,))
def create_location():
    location = locations_domain.add_location(db.session, **json_body(NewLocation))
    return location_json(location), 201


# ---------------------------------------------------------------- inventory query

@operation("GET", "/inventory", summary="Query inventory by SKU, location and/or lot",
           response=InventoryList, params=INVENTORY_PARAMS, errors=(404,))
def query_inventory():
    rows = domain.query_inventory(db.session, sku=query_arg("sku"),
                                  location=query_arg("location"), lot=query_arg("lot"))
    return {"inventory": [inventory_json(row) for row in rows]}


# ---------------------------------------------------------------- purchase orders

@operation("POST", "/purchase-orders", summary="Create a purchase order", role="supervisor",
           body=NewPurchaseOrder, response=PurchaseOrder, status=201, errors=(404, 409))
def create_purchase_order():
    body = json_body(NewPurchaseOrder)
    with unit_of_work(db.session):
        po = domain.create_purchase_order(db.session, **{"vendor": "", **body})
    return purchase_order_json(po), 201


@operation("GET", "/purchase-orders/<path:number>", summary="Get a purchase order by number",
           response=PurchaseOrder, errors=(404,))
def get_purchase_order(number):
    return purchase_order_json(domain.get_purchase_order(db.session, number))


@transaction("/purchase-orders/<path:number>/putaway", body=Putaway,
             summary="PO Putaway: receive against a PO line and put the stock away")
def putaway(number):
    body = json_body(Putaway)
    return _transaction_response(domain.putaway(
        db.session, po_number=number, **{"lot": None, **body}, actor=_actor(),
        idempotency_key=_key()))


# ---------------------------------------------------------------- transactions

@transaction("/transactions/put", body=Put, summary="Put stock into a location")
def put():
    body = json_body(Put)
    return _transaction_response(domain.put(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/pull", body=Pull,
             summary="Pull stock from a location (the lot must match)")
def pull():
    body = json_body(Pull)
    return _transaction_response(domain.pull(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/move", body=Move,
             summary="Move stock between locations (the lot must match at the source)")
def move():
    body = json_body(Move)
    return _transaction_response(domain.move(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))


@transaction("/transactions/cycle-count", body=CycleCount,
             summary="Cycle count: set the counted quantity and lot at a location")
def cycle_count():
    body = json_body(CycleCount)
    return _transaction_response(domain.cycle_count(
        db.session, **{"lot": None, **body}, actor=_actor(), idempotency_key=_key()))
