"""Orders over the API: create, read back with picks and pack lines (lots, serials)."""

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, packing, picking, settings
from lotline.extensions import db
from lotline.models import Order
from tests.conftest import make_item


@pytest.fixture
def stocked(app):
    locations.create_location(db.session, "A-01")
    make_item("LOT-1", require_lot=True)
    make_item("SER-1", require_serial=True)
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="L1", qty=5,
                  actor=inventory.Actor(None))
    inventory.put(db.session, location="A-01", sku="SER-1", lot=None, qty=5,
                  actor=inventory.Actor(None))


def count_orders():
    return db.session.scalar(select(func.count()).select_from(Order))


def test_create_then_read_with_picks_and_pack_lines(api, stocked):
    a = api("supervisor")
    created = a.post("/api/v1/orders", {"number": "so-1", "customer": "Acme",
                                        "customer_ref": "PO-77",
                                        "lines": [{"sku": "LOT-1", "qty": 2},
                                                  {"sku": "SER-1", "qty": 1}]})
    assert created.status_code == 201, created.json
    assert created.json["number"] == "SO-1" and created.json["status"] == "open"
    assert created.headers["Location"].endswith("/api/v1/orders/SO-1")
    actor = inventory.Actor(None, "ST")
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="LOT-1", qty=2,
                 actor=actor)
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="SER-1", qty=1,
                 actor=actor)
    settings.set_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK, True, None)
    db.session.commit()
    packing.pack(db.session, order_number="SO-1", sku="LOT-1", qty=2, lot="L9", actor=actor)
    packing.pack(db.session, order_number="SO-1", sku="SER-1", serial="SN-1", actor=actor)
    body = a.get("/api/v1/orders/SO-1").json
    assert body["status"] == "packed" and body["customer_ref"] == "PO-77"
    lot_line, serial_line = body["lines"]
    assert lot_line["picks"][0]["lot"] == "L1" and lot_line["picks"][0]["location"] == "A-01"
    pack = lot_line["pack_lines"][0]
    assert pack["recorded_lot"] == "L9" and pack["picked_lots"] == ["L1"]
    assert pack["lot_mismatch"] is True and pack["carton"] == 1 and pack["override"] is None
    assert serial_line["pack_lines"][0]["serial"] == "SN-1"
    listed = a.get("/api/v1/orders?status=packed").json["orders"]
    assert [o["number"] for o in listed] == ["SO-1"]


@pytest.mark.parametrize("payload, status, code", [
    ({"number": "SO-2", "customer": "X", "lines": [{"sku": "NOPE", "qty": 1}]}, 404,
     "unknown_item"),  # as an unknown item is everywhere else (issue 17)
    ({"number": "SO-2", "customer": "X", "lines": []}, 422, "validation_error"),
    ({"number": "SO-2", "customer": "X", "lines": [{"sku": "LOT-1", "qty": 0}]}, 422,
     "validation_error"),
    ({"number": "SO-2", "customer": "X", "lines": [{"sku": "LOT-1", "qty": 1, "lot": "L"}]},
     422, "validation_error"),
    ({"number": "SO-2", "lines": [{"sku": "LOT-1", "qty": 1}]}, 422, "validation_error"),
    ({"number": "SO-1", "customer": "X", "lines": [{"sku": "LOT-1", "qty": 1}]}, 409,
     "conflict"),
    ({"number": "SO-2", "customer": "X", "lines": [{"sku": "LOT-1", "qty": 1}],
      "priority": "high"}, 422, "validation_error"),
])
def test_bad_orders_are_refused_and_change_nothing(api, stocked, payload, status, code):
    a = api("supervisor")
    a.post("/api/v1/orders", {"number": "SO-1", "customer": "A",
                              "lines": [{"sku": "LOT-1", "qty": 1}]})
    before = count_orders()
    response = a.post("/api/v1/orders", payload)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert count_orders() == before


def test_packer_token_cannot_create_orders_and_unknown_order_is_404(api, stocked):
    p = api("packer")
    refused = p.post("/api/v1/orders", {"number": "SO-9", "customer": "X",
                                        "lines": [{"sku": "LOT-1", "qty": 1}]})
    assert refused.status_code == 403 and count_orders() == 0
    missing = p.get("/api/v1/orders/NOPE")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "unknown_order"
    bad = api("supervisor").get("/api/v1/orders?status=lost")  # the list is a supervisor's
    assert bad.status_code == 422
