"""Items over the API, including the Require Lot flag."""

from flask import jsonify, request, url_for

from lotline import items as domain
from lotline.db import transaction
from lotline.extensions import db
from lotline.models import LOT_AT_PACK_MODES, Item

from . import json_body, operation, query_page
from .schema import Field

ITEM_FIELDS = {
    "sku": Field(str, max_length=64),
    "description": Field(str, max_length=200),
    "gtin": Field(str, nullable=True, max_length=14,
                  description="GTIN-8/12/13/14 with a valid check digit; stored as 14 digits"),
    "require_lot": Field(bool, description="Require Lot Number (lot tracking on inventory)"),
    "require_serial": Field(bool, description="Require a serial per unit at pack"),
    "lot_at_pack": Field(str, enum=LOT_AT_PACK_MODES,
                         description="Record a lot at pack: follow Require Lot, always, never"),
    "min_shelf_life_days": Field(int, minimum=0, maximum=3650,
                                 description="A lot expiring sooner than this is refused at pack"),
}
CREATE = {**ITEM_FIELDS, "sku": Field(str, required=True, max_length=64)}
PAGE_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string"},
     "description": "Search SKU, description or GTIN"},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]


def item_json(item: Item, **extra) -> dict:
    return {"sku": item.sku, "description": item.description, "gtin": item.gtin,
            "require_lot": item.require_lot, "require_serial": item.require_serial,
            "lot_at_pack": item.lot_at_pack, "min_shelf_life_days": item.min_shelf_life_days,
            **extra}


def _with_warning(item: Item) -> dict:
    """Turning Require Lot on over lot-less stock: say how many locations need counting."""
    pending = domain.untracked_stock_locations(db.session, [item.id]) if item.require_lot else 0
    return item_json(item, locations_needing_cycle_count=pending)


@operation("GET", "/items", summary="List and search items", response="ItemPage",
           params=PAGE_PARAMS)
def list_items():
    page = domain.search_items(db.session, q=request.args.get("q", ""),
                               page=query_page())
    return jsonify({"items": [item_json(i) for i in page.items], "page": page.page,
                    "pages": page.pages, "total": page.total})


@operation("POST", "/items", summary="Create an item", role="supervisor", body=CREATE,
           response="Item", status=201, errors=(409,))
def create_item():
    fields = json_body(CREATE)
    with transaction(db.session):
        item = domain.create_item(db.session, **fields)
    response = jsonify(_with_warning(item))
    response.headers["Location"] = url_for("api.get_item", sku=item.sku)
    return response, 201


@operation("GET", "/items/<sku>", summary="Get an item by SKU", response="Item", errors=(404,))
def get_item(sku):
    return jsonify(item_json(domain.get_item(db.session, sku)))


@operation("PATCH", "/items/<sku>", summary="Update an item by SKU (e.g. require_lot)",
           role="supervisor", body=ITEM_FIELDS, response="Item", errors=(404, 409))
def update_item(sku):
    item = domain.get_item(db.session, sku)
    fields = json_body(ITEM_FIELDS)
    with transaction(db.session):
        domain.update_item(db.session, item, **fields)
    return jsonify(_with_warning(item))
