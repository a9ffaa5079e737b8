"""The JSON API over locations, inventory, purchase orders and the inventory transactions.

Every refusal is checked twice: the status and stable code, and that nothing changed in the
database (inventory, ledger, lots, PO receipts, idempotency records).
"""

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from lotline import inventory
from lotline import items as items_domain
from lotline import locations as locations_domain
from lotline import users as users_domain
from lotline.extensions import db
from lotline.models import (
    IdempotencyRecord,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    PurchaseOrder,
    PurchaseOrderLine,
)
from tests.conftest import make_item, make_user

SYSTEM = inventory.Actor(None, station="test-setup")
PUT = "/api/v1/transactions/put"
PULL = "/api/v1/transactions/pull"
MOVE = "/api/v1/transactions/move"
COUNT = "/api/v1/transactions/cycle-count"
PUTAWAY = "/api/v1/purchase-orders/PO-1/putaway"


# ---------------------------------------------------------------- helpers

def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def make_location(code, zone="", type="storage", active=True):
    location = locations_domain.create_location(db.session, code, zone, type)
    if not active:
        locations_domain.set_active(db.session, location, False)
    db.session.commit()
    return location


def put_stock(location, sku, qty, lot=None, expiry=None):
    inventory.put(db.session, location=location, sku=sku, lot=lot, qty=qty, actor=SYSTEM,
                  expiry=expiry)


def stock() -> dict:
    """(location, sku) -> (lot number, qty), read fresh from the database."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Location.code, Item.sku, Lot.number, Inventory.qty)
        .select_from(Inventory).join(Location).join(Item)
        .outerjoin(Lot, Lot.id == Inventory.lot_id))
    return {(code, sku): (lot, qty) for code, sku, lot, qty in rows}


def ledger(**where) -> list[LedgerEntry]:
    db.session.expire_all()
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    for name, value in where.items():
        query = query.where(getattr(LedgerEntry, name) == value)
    return list(db.session.scalars(query))


def received(po="PO-1") -> dict:
    db.session.expire_all()
    rows = db.session.execute(
        select(Item.sku, PurchaseOrderLine.qty_received).select_from(PurchaseOrderLine)
        .join(PurchaseOrder).join(Item).where(PurchaseOrder.number == po))
    return dict(rows.all())


def result(response) -> dict:
    """The transaction result's core fields (the domain may add more, e.g. messages)."""
    return {k: response.json[k] for k in ("operation", "reference", "replayed", "changes")}


def snapshot() -> dict:
    """Everything a refused request must leave exactly as it was."""
    db.session.expire_all()
    return {
        "stock": stock(),
        "ledger": count(LedgerEntry),
        "ledger_sum": db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))),
        "lots": count(Lot),
        "locations": count(Location),
        "purchase_orders": count(PurchaseOrder),
        "po_lines": sorted(db.session.execute(
            select(PurchaseOrderLine.id, PurchaseOrderLine.qty_received)).all()),
        "idempotency": count(IdempotencyRecord),
    }


@pytest.fixture
def world(api):
    """A small warehouse with every situation the rules refuse, and a packer's token.

    LOT-1 tracks lots: A-1 holds lot L1 (10, expires 2030-01-31), A-3 holds lot L3 (2).
    PLAIN-1 does not track lots: P-1 holds 4. LEGACY-1 was stocked at B-1 without a lot
    and then switched to Require Lot. A-2 is empty; OLD-1 is deactivated.
    PO-1 orders 5 of LOT-1.
    """
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN-1")
    legacy = make_item("LEGACY-1")
    for code in ("A-1", "A-2", "A-3", "B-1", "P-1"):
        make_location(code)
    make_location("OLD-1", active=False)
    put_stock("A-1", "LOT-1", 10, "L1", dt.date(2030, 1, 31))
    put_stock("A-3", "LOT-1", 2, "L3")
    put_stock("P-1", "PLAIN-1", 4)
    put_stock("B-1", "LEGACY-1", 5)
    items_domain.update_item(db.session, legacy, require_lot=True)
    inventory.create_purchase_order(db.session, "PO-1", "Acme", [{"sku": "LOT-1", "qty": 5}])
    db.session.commit()
    packer = api("packer")
    return SimpleNamespace(api=api, packer=packer)


# ---------------------------------------------------------------- locations

def test_supervisor_creates_a_location_and_anyone_lists_them(api):
    response = api("supervisor").post("/api/v1/locations",
                                      {"code": "rk-01-a", "zone": "Racks", "type": "storage"})
    assert response.status_code == 201
    assert response.json == {"code": "RK-01-A", "zone": "Racks", "type": "storage",
                             "active": True}
    db.session.expire_all()
    row = db.session.scalar(select(Location).where(Location.code == "RK-01-A"))
    assert row is not None and row.zone == "Racks" and row.active
    make_location("DOCK-1", type="receiving")
    packer = api("packer")
    every = packer.get("/api/v1/locations").json["locations"]
    assert [loc["code"] for loc in every] == ["DOCK-1", "RK-01-A"]
    found = packer.get("/api/v1/locations?q=dock").json["locations"]
    assert found == [{"code": "DOCK-1", "zone": "", "type": "receiving", "active": True}]


def test_packer_cannot_create_a_location(api):
    response = api("packer").post("/api/v1/locations", {"code": "X-1"})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert count(Location) == 0


@pytest.mark.parametrize("payload, status, code", [
    ({"code": "A-1"}, 409, "conflict"),
    ({"code": "B 1"}, 422, "validation_error"),
    ({"code": "B-1", "type": "attic"}, 422, "validation_error"),
    ({"code": "B-1", "zone": 5}, 422, "validation_error"),
    ({"code": "B-1", "aisle": "3"}, 422, "validation_error"),
    ({"zone": "Racks"}, 422, "validation_error"),
])
def test_create_location_bad_input_changes_nothing(api, payload, status, code):
    make_location("A-1")
    response = api("supervisor").post("/api/v1/locations", payload)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert count(Location) == 1


# ---------------------------------------------------------------- inventory query

def test_query_inventory_by_sku_location_and_lot(world):
    rows = world.packer.get("/api/v1/inventory?sku=LOT-1").json["inventory"]
    assert rows == [
        {"location": "A-1", "sku": "LOT-1", "lot": "L1", "expiry": "2030-01-31", "qty": 10},
        {"location": "A-3", "sku": "LOT-1", "lot": "L3", "expiry": None, "qty": 2},
    ]
    by_location = world.packer.get("/api/v1/inventory?location=p-1").json["inventory"]
    assert by_location == [{"location": "P-1", "sku": "PLAIN-1", "lot": None, "expiry": None,
                            "qty": 4}]
    by_lot = world.packer.get("/api/v1/inventory?lot=L3").json["inventory"]
    assert [(r["location"], r["lot"]) for r in by_lot] == [("A-3", "L3")]
    assert len(world.packer.get("/api/v1/inventory").json["inventory"]) == 4
    assert world.packer.get("/api/v1/inventory?sku=LOT-1&lot=NOPE").json["inventory"] == []


def test_query_inventory_unknown_sku_is_404(world):
    response = world.packer.get("/api/v1/inventory?sku=NOPE")
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_item"


# ---------------------------------------------------------------- purchase orders

def test_create_and_read_a_purchase_order(api):
    make_item("PO-A")
    make_item("PO-B", require_lot=True)
    supervisor = api("supervisor")
    response = supervisor.post("/api/v1/purchase-orders", {
        "number": "po-100", "vendor": "Acme",
        "lines": [{"sku": "PO-A", "qty": 12}, {"sku": "PO-B", "qty": 3}]})
    assert response.status_code == 201
    expected = {"number": "PO-100", "vendor": "Acme", "status": "open", "lines": [
        {"sku": "PO-A", "qty_ordered": 12, "qty_received": 0, "remaining": 12},
        {"sku": "PO-B", "qty_ordered": 3, "qty_received": 0, "remaining": 3}]}
    assert response.json == expected
    assert received("PO-100") == {"PO-A": 0, "PO-B": 0}
    assert api("packer").get("/api/v1/purchase-orders/po-100").json == expected


def test_packer_cannot_create_a_purchase_order(world):
    before = snapshot()
    response = world.packer.post("/api/v1/purchase-orders", {
        "number": "PO-2", "lines": [{"sku": "LOT-1", "qty": 1}]})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert snapshot() == before


@pytest.mark.parametrize("payload, status, code", [
    ({"number": "PO-1", "lines": [{"sku": "LOT-1", "qty": 1}]}, 409, "conflict"),
    ({"number": "PO-2", "lines": [{"sku": "LOT-1", "qty": 1}, {"sku": "NOPE", "qty": 1}]},
     404, "unknown_item"),
    ({"number": "PO-2", "lines": []}, 422, "validation_error"),
    ({"number": "PO-2", "lines": [{"sku": "LOT-1", "qty": 0}]}, 422, "validation_error"),
    ({"number": "PO-2", "lines": [{"sku": "LOT-1", "qty": "5"}]}, 422, "validation_error"),
    ({"number": "PO-2", "lines": [{"sku": "LOT-1", "qty": 1, "price": 3}]},
     422, "validation_error"),
    ({"number": "PO-2", "lines": [{"sku": "LOT-1", "qty": 1}, {"sku": "LOT-1", "qty": 2}]},
     422, "validation_error"),
    ({"number": "PO 2", "lines": [{"sku": "LOT-1", "qty": 1}]}, 422, "validation_error"),
    ({"number": "PO-2"}, 422, "validation_error"),
    ({"number": "PO-2", "lines": {"sku": "LOT-1"}}, 422, "validation_error"),
])
def test_create_purchase_order_refusals_change_nothing(world, payload, status, code):
    before = snapshot()
    response = world.api("supervisor").post("/api/v1/purchase-orders", payload)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert snapshot() == before


def test_unknown_purchase_order_is_404(world):
    response = world.packer.get("/api/v1/purchase-orders/PO-NOPE")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "unknown_purchase_order"


# ---------------------------------------------------------------- putaway

def test_putaway_receives_against_the_line_and_puts_the_stock(world):
    first = world.packer.post(PUTAWAY, {"location": "A-2", "sku": "LOT-1", "lot": "L7",
                                        "qty": 2, "expiry": "2031-03-15"},
                              headers={"X-Station": "dock-3"})
    assert first.status_code == 201
    assert result(first) == {"operation": "putaway", "reference": "PO-1", "replayed": False,
                             "changes": [{"location": "A-2", "sku": "LOT-1", "lot": "L7",
                                          "before": 0, "after": 2}]}
    assert received() == {"LOT-1": 2}
    assert stock()[("A-2", "LOT-1")] == ("L7", 2)
    assert db.session.scalar(select(Lot.expiry).where(Lot.number == "L7")) == dt.date(2031, 3, 15)
    [row] = ledger(type="putaway")
    assert (row.delta, row.qty_after, row.reference, row.station) == (2, 2, "PO-1", "dock-3")
    po = world.packer.get("/api/v1/purchase-orders/PO-1").json
    assert po["status"] == "partial" and po["lines"][0]["remaining"] == 3

    rest = world.packer.post(PUTAWAY, {"location": "A-1", "sku": "LOT-1", "lot": "L1", "qty": 3})
    assert rest.status_code == 201
    assert received() == {"LOT-1": 5} and stock()[("A-1", "LOT-1")] == ("L1", 13)
    assert world.packer.get("/api/v1/purchase-orders/PO-1").json["status"] == "received"


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisor_or_admin_may_receive_more_than_ordered(world, role):
    response = world.api(role).post(PUTAWAY, {"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                              "qty": 8, "allow_over_receipt": True})
    assert response.status_code == 201
    assert received() == {"LOT-1": 8} and stock()[("A-1", "LOT-1")] == ("L1", 18)
    po = world.packer.get("/api/v1/purchase-orders/PO-1").json
    assert po["status"] == "received" and po["lines"][0]["remaining"] == 0


@pytest.mark.parametrize("qty", [1, 8])
def test_packer_may_not_allow_over_receipt(world, qty):
    before = snapshot()
    response = world.packer.post(PUTAWAY, {"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                           "qty": qty, "allow_over_receipt": True})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert snapshot() == before


# ---------------------------------------------------------------- transactions that succeed

def test_put_adds_stock_and_writes_the_ledger(world):
    response = world.packer.post(PUT, {"location": "a-2", "sku": "PLAIN-1", "lot": None,
                                       "qty": 3}, headers={"X-Station": "S" * 80})
    assert response.status_code == 201
    assert result(response) == {"operation": "put", "reference": "", "replayed": False,
                                "changes": [{"location": "A-2", "sku": "PLAIN-1",
                                             "lot": None, "before": 0, "after": 3}]}
    assert stock()[("A-2", "PLAIN-1")] == (None, 3)
    [row] = ledger(type="put", location_id=db.session.scalar(
        select(Location.id).where(Location.code == "A-2")))
    assert (row.delta, row.qty_after, row.lot_id, row.station) == (3, 3, None, "S" * 64)
    assert row.user.username == "api-packer"


def test_put_a_lot_with_its_expiry(world):
    response = world.packer.post(PUT, {"location": "A-2", "sku": "LOT-1", "lot": "L9",
                                       "qty": 6, "expiry": "2030-06-30"})
    assert response.status_code == 201
    assert stock()[("A-2", "LOT-1")] == ("L9", 6)
    rows = world.packer.get("/api/v1/inventory?lot=L9").json["inventory"]
    assert rows == [{"location": "A-2", "sku": "LOT-1", "lot": "L9", "expiry": "2030-06-30",
                     "qty": 6}]
    # Topping up the same lot in the same location is allowed (rule 2 holds).
    more = world.packer.post(PUT, {"location": "A-1", "sku": "LOT-1", "lot": "L1", "qty": 1})
    assert more.status_code == 201 and stock()[("A-1", "LOT-1")] == ("L1", 11)
    assert ledger(type="put")[-1].station == "api"  # no X-Station header: "api"


def test_pull_removes_stock_and_an_empty_location_holds_nothing(world):
    response = world.packer.post(PULL, {"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                        "qty": 4})
    assert response.status_code == 201
    assert response.json["changes"] == [{"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                         "before": 10, "after": 6}]
    assert stock()[("A-1", "LOT-1")] == ("L1", 6)
    [row] = ledger(type="pull")
    assert (row.delta, row.qty_after, row.lot.number) == (-4, 6, "L1")
    world.packer.post(PULL, {"location": "A-1", "sku": "LOT-1", "lot": "L1", "qty": 6})
    assert ("A-1", "LOT-1") not in stock()
    assert inventory.ledger_mismatches(db.session) == []


def test_move_takes_the_lot_with_it(world):
    response = world.packer.post(MOVE, {"from_location": "A-1", "to_location": "a-2",
                                        "sku": "LOT-1", "lot": "L1", "qty": 4})
    assert response.status_code == 201
    assert response.json["reference"] == "A-1 → A-2"
    assert response.json["changes"] == [
        {"location": "A-1", "sku": "LOT-1", "lot": "L1", "before": 10, "after": 6},
        {"location": "A-2", "sku": "LOT-1", "lot": "L1", "before": 0, "after": 4}]
    assert stock()[("A-1", "LOT-1")] == ("L1", 6) and stock()[("A-2", "LOT-1")] == ("L1", 4)
    assert [(r.type, r.delta) for r in ledger() if r.type.startswith("move")] == \
        [("move-out", -4), ("move-in", 4)]
    assert inventory.ledger_mismatches(db.session) == []


def test_cycle_count_gives_lot_less_stock_its_lot(world):
    assert len(inventory.needs_cycle_count(db.session)) == 1
    response = world.packer.post(COUNT, {"location": "B-1", "sku": "LEGACY-1", "lot": "LG-1",
                                         "qty": 5})
    assert response.status_code == 201
    assert response.json["changes"] == [
        {"location": "B-1", "sku": "LEGACY-1", "lot": None, "before": 5, "after": 0},
        {"location": "B-1", "sku": "LEGACY-1", "lot": "LG-1", "before": 0, "after": 5}]
    assert stock()[("B-1", "LEGACY-1")] == ("LG-1", 5)
    assert [r.delta for r in ledger(type="cycle-count")] == [-5, 5]
    assert inventory.needs_cycle_count(db.session) == []
    # Now the lot-tracked rules apply to it: the lot can be pulled.
    pulled = world.packer.post(PULL, {"location": "B-1", "sku": "LEGACY-1", "lot": "LG-1",
                                      "qty": 1})
    assert pulled.status_code == 201 and stock()[("B-1", "LEGACY-1")] == ("LG-1", 4)


def test_cycle_count_to_zero_empties_the_location(world):
    response = world.packer.post(COUNT, {"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                         "qty": 0})
    assert response.status_code == 201
    assert response.json["changes"] == [{"location": "A-1", "sku": "LOT-1", "lot": "L1",
                                         "before": 10, "after": 0}]
    assert ("A-1", "LOT-1") not in stock()
    [row] = ledger(type="cycle-count")
    assert (row.delta, row.qty_after) == (-10, 0)


# ---------------------------------------------------------------- refusals change nothing

L1 = {"sku": "LOT-1", "lot": "L1"}
REFUSALS = [
    # lot rules
    ("lot_required", PUT, {"location": "A-2", "sku": "LOT-1", "qty": 1}, 422),
    ("lot_required", PULL, {"location": "A-1", "sku": "LOT-1", "lot": None, "qty": 1}, 422),
    ("lot_required", PUTAWAY, {"location": "A-2", "sku": "LOT-1", "qty": 1}, 422),
    ("lot_mismatch", PULL, {"location": "A-1", "sku": "LOT-1", "lot": "L2", "qty": 1}, 422),
    ("lot_mismatch", MOVE, {"from_location": "A-1", "to_location": "A-2", "sku": "LOT-1",
                            "lot": "L2", "qty": 1}, 422),
    ("location_holds_other_lot", PUT, {"location": "A-1", "sku": "LOT-1", "lot": "L2",
                                       "qty": 1}, 422),
    ("location_holds_other_lot", MOVE, {"from_location": "A-1", "to_location": "A-3", **L1,
                                        "qty": 1}, 422),
    ("location_holds_other_lot", PUTAWAY, {"location": "A-1", "sku": "LOT-1", "lot": "L2",
                                           "qty": 1}, 422),
    ("needs_cycle_count", PUT, {"location": "B-1", "sku": "LEGACY-1", "lot": "X1",
                                "qty": 1}, 422),
    ("needs_cycle_count", PULL, {"location": "B-1", "sku": "LEGACY-1", "lot": "X1",
                                 "qty": 1}, 422),
    ("expiry_mismatch", PUT, {"location": "A-1", **L1, "qty": 1, "expiry": "2031-01-31"}, 422),
    # quantities
    ("insufficient_quantity", PULL, {"location": "A-1", **L1, "qty": 11}, 422),
    ("insufficient_quantity", PULL, {"location": "A-2", **L1, "qty": 1}, 422),
    ("insufficient_quantity", MOVE, {"from_location": "A-1", "to_location": "A-2", **L1,
                                     "qty": 11}, 422),
    ("over_receipt", PUTAWAY, {"location": "A-1", **L1, "qty": 6}, 422),
    # what a scan names
    ("unknown_item", PUT, {"location": "A-2", "sku": "NOPE", "qty": 1}, 404),
    ("unknown_item", COUNT, {"location": "A-2", "sku": "NOPE", "qty": 1}, 404),
    ("unknown_location", PUT, {"location": "NOPE", "sku": "PLAIN-1", "qty": 1}, 404),
    ("unknown_location", MOVE, {"from_location": "A-1", "to_location": "NOPE", **L1,
                                "qty": 1}, 404),
    ("unknown_location", COUNT, {"location": "NOPE", **L1, "qty": 1}, 404),
    ("location_inactive", PUT, {"location": "OLD-1", "sku": "PLAIN-1", "qty": 1}, 422),
    ("location_inactive", MOVE, {"from_location": "A-1", "to_location": "OLD-1", **L1,
                                 "qty": 1}, 422),
    ("not_on_purchase_order", PUTAWAY, {"location": "A-2", "sku": "PLAIN-1", "qty": 1}, 422),
    ("unknown_purchase_order", "/api/v1/purchase-orders/PO-NOPE/putaway",
     {"location": "A-1", **L1, "qty": 1}, 404),
    # validation: by the domain
    ("validation_error", PUT, {"location": "P-1", "sku": "PLAIN-1", "lot": "X1", "qty": 1}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "LOT-1", "lot": "L 1", "qty": 1}, 422),
    ("validation_error", MOVE, {"from_location": "A-1", "to_location": "a-1", **L1,
                                "qty": 1}, 422),
    # validation: by the request schema (unknown fields, wrong types, ranges)
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 1, "colour": 1}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": "3"}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 2.5}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": True}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 0}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 1_000_001}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "LOT-1", "lot": 5, "qty": 1}, 422),
    ("validation_error", PUT, {"location": "A-2", "qty": 1}, 422),
    ("validation_error", PUT, {"location": None, "sku": "PLAIN-1", "qty": 1}, 422),
    ("validation_error", PUT, ["A-2", "PLAIN-1", 1], 422),
    ("validation_error", PULL, {"location": "A-1", **L1, "qty": -1}, 422),
    ("validation_error", MOVE, {"from": "A-1", "to_location": "A-2", **L1, "qty": 1}, 422),
    ("validation_error", COUNT, {"location": "A-1", **L1, "qty": -1}, 422),
    ("validation_error", COUNT, {"location": "A-1", **L1}, 422),
    ("validation_error", PUTAWAY, {"location": "A-1", **L1, "qty": 1,
                                   "allow_over_receipt": "yes"}, 422),
    ("validation_error", PUTAWAY, {"location": "A-2", "sku": "LOT-1", "lot": "L8", "qty": 1,
                                   "expiry": "2030-02-30"}, 422),
    ("validation_error", PUTAWAY, {"location": "A-2", "sku": "LOT-1", "lot": "L8", "qty": 1,
                                   "expiry": "31/01/2030"}, 422),
    ("validation_error", PUT, {"location": "A-2", "sku": "LOT-1", "lot": "L8", "qty": 1,
                               "expiry": 20300131}, 422),
]


@pytest.mark.parametrize("code, url, payload, status", REFUSALS,
                         ids=[f"{c}-{u.rsplit('/', 1)[1]}-{n}"
                              for n, (c, u, _, _) in enumerate(REFUSALS)])
def test_refused_transactions_change_nothing(world, code, url, payload, status):
    before = snapshot()
    response = world.packer.post(url, payload, headers={"Idempotency-Key": f"refused-{code}"})
    assert response.status_code == status
    assert response.json["error"]["code"] == code and response.json["error"]["message"]
    assert snapshot() == before


def test_refusals_name_the_lot_the_location_holds(world):
    response = world.packer.post(PULL, {"location": "A-1", "sku": "LOT-1", "lot": "L2",
                                        "qty": 1})
    assert response.json["error"]["held_lot"] == "L1" and response.json["error"]["field"] == "lot"
    short = world.packer.post(PULL, {"location": "A-1", **L1, "qty": 11})
    assert short.json["error"]["available"] == 10
    over = world.packer.post(PUTAWAY, {"location": "A-1", **L1, "qty": 6})
    assert over.json["error"]["remaining"] == 5


@pytest.mark.parametrize("key", ["short", "has spaces in it", "k" * 65, "semi;colon-key"])
def test_a_malformed_idempotency_key_is_refused(world, key):
    before = snapshot()
    response = world.packer.post(PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 1},
                                 headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["field"] == "idempotency_key"
    assert snapshot() == before


def test_a_refused_request_does_not_use_up_its_idempotency_key(world):
    key = {"Idempotency-Key": "retry-after-fix-1"}
    refused = world.packer.post(PULL, {"location": "A-1", **L1, "qty": 11}, headers=key)
    assert refused.status_code == 422
    done = world.packer.post(PULL, {"location": "A-1", **L1, "qty": 10}, headers=key)
    assert done.status_code == 201 and done.json["replayed"] is False
    assert ("A-1", "LOT-1") not in stock()


# ---------------------------------------------------------------- idempotency

REPLAYS = [
    (PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 2}, 1),
    (PULL, {"location": "A-1", **L1, "qty": 2}, 1),
    (MOVE, {"from_location": "A-1", "to_location": "A-2", **L1, "qty": 2}, 2),
    (COUNT, {"location": "A-1", **L1, "qty": 7}, 1),
    (PUTAWAY, {"location": "A-1", **L1, "qty": 2}, 1),
]


@pytest.mark.parametrize("url, payload, rows", REPLAYS,
                         ids=[u.rsplit("/", 1)[1] for u, _, _ in REPLAYS])
def test_a_repeated_idempotency_key_replays_the_first_result(world, url, payload, rows):
    key = {"Idempotency-Key": "scan-0001-abc"}
    before = snapshot()
    first = world.packer.post(url, payload, headers=key)
    assert first.status_code == 201 and first.json["replayed"] is False
    after_first = snapshot()
    assert after_first["ledger"] == before["ledger"] + rows
    assert after_first["stock"] != before["stock"]

    again = world.packer.post(url, payload, headers=key)
    assert again.status_code == 200 and again.json["replayed"] is True
    assert {**again.json, "replayed": False} == first.json
    assert snapshot() == after_first
    assert len(ledger(idempotency_key="scan-0001-abc")) == rows


def test_the_same_key_with_a_different_body_is_refused(world):
    key = {"Idempotency-Key": "scan-0002-abc"}
    assert world.packer.post(PULL, {"location": "A-1", **L1, "qty": 2}, headers=key) \
        .status_code == 201
    before = snapshot()
    for url, payload in [(PULL, {"location": "A-1", **L1, "qty": 3}),
                         (PUT, {"location": "A-1", **L1, "qty": 2})]:
        response = world.packer.post(url, payload, headers=key)
        assert response.status_code == 409
        assert response.json["error"]["code"] == "idempotency_key_reused"
        assert snapshot() == before
    assert stock()[("A-1", "LOT-1")] == ("L1", 8)


def packer_token(username: str) -> str:
    user = make_user(username, "packer")
    token = users_domain.create_token(db.session, user, "tests")
    db.session.commit()
    return token


@pytest.mark.parametrize("url, payload, rows", REPLAYS,
                         ids=[u.rsplit("/", 1)[1] for u, _, _ in REPLAYS])
def test_a_key_is_one_submission_whoever_sends_it(world, url, payload, rows):
    """Issue 17: the same key from another packer is answered "already done" with a summary;
    nothing is applied again and nothing of the first result is shown."""
    key = {"Idempotency-Key": "shared-key-01"}
    first = world.packer.post(url, payload, headers=key)
    assert first.status_code == 201 and first.json["replayed"] is False
    after_first = snapshot()

    other = world.packer.post(url, payload, headers=key, token=packer_token("packer-two"))
    assert other.status_code == 200
    assert other.json == {"operation": first.json["operation"], "reference": "",
                          "replayed": True, "changes": [], "code": "already_submitted",
                          "submitted_at": other.json["submitted_at"],
                          "messages": [other.json["messages"][0]]}
    assert dt.datetime.fromisoformat(other.json["submitted_at"].removesuffix("Z"))
    message = other.json["messages"][0]
    assert message.startswith("Already done") and "api-packer" not in message
    body = other.get_data(as_text=True)
    assert '"before"' not in body and '"after"' not in body  # no quantities, no places
    assert not any(change["location"] in body for change in first.json["changes"])
    assert snapshot() == after_first
    assert len(ledger(idempotency_key="shared-key-01")) == rows

    # Another user guessing another request under the key learns nothing: the same answer.
    guess = world.packer.post(PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 9},
                              headers=key, token=packer_token("packer-three"))
    assert guess.status_code == 200 and guess.json["code"] == "already_submitted"
    assert guess.json["changes"] == [] and guess.json["operation"] == first.json["operation"]
    # The first sender still gets the first result; their other request is refused.
    again = world.packer.post(url, payload, headers=key)
    assert again.status_code == 200 and {**again.json, "replayed": False} == first.json
    reused = world.packer.post(PUT, {"location": "A-2", "sku": "PLAIN-1", "qty": 9},
                               headers=key)
    assert reused.status_code == 409 and reused.json["error"]["code"] == "idempotency_key_reused"
    assert snapshot() == after_first


# ---------------------------------------------------------------- require_lot over the API

def test_turning_require_lot_on_reports_locations_needing_a_cycle_count(api):
    make_item("LATE-1")
    make_item("OTHER-1")
    for code in ("X-1", "X-2", "X-3"):
        make_location(code)
    put_stock("X-1", "LATE-1", 3)
    put_stock("X-2", "LATE-1", 7)
    put_stock("X-3", "OTHER-1", 1)  # lot-less stock of another item does not count
    supervisor = api("supervisor")
    off = supervisor.patch("/api/v1/items/LATE-1", {"description": "Late tracker"})
    assert off.json["locations_needing_cycle_count"] == 0

    on = supervisor.patch("/api/v1/items/LATE-1", {"require_lot": True})
    assert on.status_code == 200 and on.json["require_lot"] is True
    assert on.json["locations_needing_cycle_count"] == 2
    assert len(inventory.needs_cycle_count(db.session)) == 2

    counted = supervisor.post(COUNT, {"location": "X-1", "sku": "LATE-1", "lot": "LT-1",
                                      "qty": 3})
    assert counted.status_code == 201
    again = supervisor.patch("/api/v1/items/LATE-1", {"require_lot": True})
    assert again.json["locations_needing_cycle_count"] == 1


# ---------------------------------------------------------------- auth and the document

@pytest.mark.parametrize("method, url", [
    ("GET", "/api/v1/inventory"), ("GET", "/api/v1/locations"),
    ("POST", PUT), ("POST", PUTAWAY), ("GET", "/api/v1/purchase-orders/PO-1"),
])
def test_inventory_endpoints_need_a_token(world, client, method, url):
    before = snapshot()
    response = client.open(url, method=method, json={"location": "A-2", "sku": "PLAIN-1",
                                                     "qty": 1})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert snapshot() == before


def _body_schema(doc: dict, op: dict) -> dict:
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_openapi_documents_the_inventory_api(client):
    doc = client.get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    for name in ("Location", "InventoryRow", "TransactionResult", "PurchaseOrder"):
        assert schemas[name]["type"] == "object", name
    paths = doc["paths"]
    for path in ("/transactions/put", "/transactions/pull", "/transactions/move",
                 "/transactions/cycle-count", "/purchase-orders/{number}/putaway"):
        op = paths["/api/v1" + path]["post"]
        ok = op["responses"]["201"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/TransactionResult"}
        assert {"200", "404", "409", "422"} <= set(op["responses"])
        assert "Idempotency-Key" in [p["name"] for p in op["parameters"]]
        body = _body_schema(doc, op)
        assert body["additionalProperties"] is False
        assert body["properties"]["qty"]["maximum"] == 1_000_000
        lot = body["properties"]["lot"]["anyOf"]
        assert lot[1] == {"type": "null"} and lot[0]["pattern"].startswith("^")
    count = _body_schema(doc, paths["/api/v1/transactions/cycle-count"]["post"])
    assert count["properties"]["qty"]["minimum"] == 0
    put = _body_schema(doc, paths["/api/v1/transactions/put"]["post"])
    assert put["properties"]["qty"]["minimum"] == 1
    assert put["properties"]["expiry"]["anyOf"][0] == {"type": "string", "format": "date",
                                                       "description": "Lot expiry, YYYY-MM-DD"}
    po = paths["/api/v1/purchase-orders"]["post"]
    assert po["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/PurchaseOrder"}
    assert "Requires a supervisor" in po["description"]
    assert "Requires a supervisor" in paths["/api/v1/locations"]["post"]["description"]
