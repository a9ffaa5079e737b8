"""Items over the API, including the Require Lot flag."""

from typing import Literal

from pydantic import Field

from lotline import items as domain
from lotline import models
from lotline.db import transaction
from lotline.extensions import db
from lotline.models import LOT_AT_PACK_MODES

from . import address, json_body, operation, query_arg, query_page
from .bodies import Answer, Body, Gtin, Sku, free_text, query, whole_number

LotAtPack = Literal[LOT_AT_PACK_MODES]  # type: ignore[valid-type]
Description = free_text(200)
ShelfLife = whole_number(0, 3650, "A lot expiring sooner than this many days is refused at "
                                  "pack")


class ItemChanges(Body):
    """The fields of an item a request sets; those left out stay as they are."""

    sku: Sku = None
    description: Description = None
    gtin: Gtin | None = None
    require_lot: bool = Field(None, description="Require Lot Number (lot tracking on inventory)")
    require_serial: bool = Field(None, description="Require a serial per unit at pack")
    lot_at_pack: LotAtPack = Field(None, description="Record a lot at pack: follow Require "
                                                     "Lot, always, never")
    min_shelf_life_days: ShelfLife = None


class NewItem(ItemChanges):
    sku: Sku


class Item(Answer):
    sku: str
    description: str
    gtin: str | None
    require_lot: bool
    require_serial: bool
    lot_at_pack: LotAtPack
    min_shelf_life_days: int


class ItemChanged(Item):
    locations_needing_cycle_count: int = Field(
        description="Locations holding stock without a lot, now that Require Lot is on: "
                    "each needs a cycle count")


class ItemPage(Answer):
    items: list[Item]
    page: int
    pages: int
    total: int


PAGE_PARAMS = [query("q", "Search SKU, description or GTIN"), query("page")]


def item_json(item: models.Item, **extra) -> dict:
    return {"sku": item.sku, "description": item.description, "gtin": item.gtin,
            "require_lot": item.require_lot, "require_serial": item.require_serial,
            "lot_at_pack": item.lot_at_pack, "min_shelf_life_days": item.min_shelf_life_days,
            **extra}


def _with_warning(item: models.Item) -> dict:
    """Turning Require Lot on over lot-less stock: say how many locations need counting."""
    pending = domain.untracked_stock_locations(db.session, [item.id]) if item.require_lot else 0
    return item_json(item, locations_needing_cycle_count=pending)


@operation("GET", "/items", summary="List and search items", response=ItemPage,
           params=PAGE_PARAMS)
def list_items():
    page = domain.search_items(db.session, q=query_arg("q") or "",
                               page=query_page())
    return {"items": [item_json(i) for i in page.items], "page": page.page,
            "pages": page.pages, "total": page.total}


@operation("POST", "/items", summary="Create an item", role="supervisor", body=NewItem,
           response=ItemChanged, status=201, errors=(409,))
def create_item():
    fields = json_body(NewItem)
    with transaction(db.session):
        item = domain.create_item(db.session, **fields)
    return _with_warning(item), 201, {"Location": address("api.get_item", sku=item.sku)}


@operation("GET", "/items/<path:sku>", summary="Get an item by SKU", response=Item,
           errors=(404,))
def get_item(sku):
    return item_json(domain.get_item(db.session, sku))


@operation("PATCH", "/items/<path:sku>", summary="Update an item by SKU (e.g. require_lot)",
           role="supervisor", body=ItemChanges, response=ItemChanged, errors=(404, 409))
def update_item(sku):
    item = domain.get_item(db.session, sku)
    fields = json_body(ItemChanges)
    with transaction(db.session):
        domain.update_item(db.session, item, **fields)
    return _with_warning(item)
