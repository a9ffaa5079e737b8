"""Traceability: where a lot is, where it went (picks and pack recordings), holds, recall."""

import csv
import io

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, lots, orders, packing, picking, settings
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import LedgerEntry
from tests.conftest import make_item
from tests.test_flows import Scanner

A = inventory.Actor(None, "T")


@pytest.fixture
def shipped(app):
    """L1 of LOT-1 in A-01 (6 left) and B-01; one order picked L1 and recorded L2 at pack,
    another picked and recorded L1."""
    for code in ("A-01", "B-01"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    make_item("OTHER", require_lot=True)
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="L1", qty=10, actor=A)
    inventory.put(db.session, location="B-01", sku="OTHER", lot="L1", qty=4, actor=A)
    settings.set_setting(db.session, settings.REQUIRE_LOT_SERIAL_AT_PACK, True, None)
    orders.create_order(db.session, "SO-1", "Acme", [{"sku": "LOT-1", "qty": 2}],
                        customer_ref="AC-9")
    orders.create_order(db.session, "SO-2", "Bolt", [{"sku": "LOT-1", "qty": 2}])
    db.session.commit()
    for number in ("SO-1", "SO-2"):  # both picked before SO-1's mismatch puts A-01 in doubt
        picking.pick(db.session, order_number=number, location="A-01", sku="LOT-1", qty=2,
                     actor=A)
    for number, recorded in (("SO-1", "L2"), ("SO-2", "L1")):
        packing.pack(db.session, order_number=number, sku="LOT-1", qty=2, lot=recorded,
                     actor=A)


def test_trace_where_it_is_and_where_it_went(shipped):
    t = lots.trace(db.session, "L1")
    assert {(r.location, r.sku, r.qty) for r in t.on_hand} == {("A-01", "LOT-1", 6),
                                                               ("B-01", "OTHER", 4)}
    rows = {(s.source, s.order, s.qty, s.mismatch) for s in t.shipments}
    assert rows == {("picked", "SO-1", 2, False), ("picked", "SO-2", 2, False),
                    ("recorded at pack", "SO-2", 2, False)}
    assert [e.type for e in t.history][-2:] == ["put", "put"]
    assert t.customers() == [("Acme", "AC-9", 2, ["SO-1"]), ("Bolt", "", 2, ["SO-2"])]


def test_trace_of_a_recorded_lot_shows_the_mismatch(shipped):
    t = lots.trace(db.session, "L2")
    assert t.on_hand == [] and t.lots == []  # L2 was never tracked: recorded at pack only
    (s,) = t.shipments
    assert (s.source, s.order, s.mismatch, s.note) == ("recorded at pack", "SO-1", True,
                                                       "picked lot L1")


def test_trace_narrows_by_item_and_refuses_unknown_lots(shipped):
    t = lots.trace(db.session, "L1", "OTHER")
    assert [(r.sku, r.qty) for r in t.on_hand] == [("OTHER", 4)] and t.shipments == []
    with pytest.raises(DomainError) as exc:
        lots.trace(db.session, "NOPE")
    assert exc.value.code == "unknown_lot"


def test_hold_stops_picks_until_released(shipped):
    orders.create_order(db.session, "SO-3", "Cove", [{"sku": "LOT-1", "qty": 1}])
    db.session.commit()
    # SO-1's mismatch put A-01 on the count list; count it so only the hold is in the way.
    inventory.cycle_count(db.session, location="A-01", sku="LOT-1", lot="L1", qty=6, actor=A)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall 42", actor=A)
    ledger = db.session.scalars(select(LedgerEntry).where(LedgerEntry.type == "hold")).all()
    assert [(e.delta, e.reference, e.location.code) for e in ledger] == [(0, "Recall 42",
                                                                          "A-01")]
    task = picking.next_task(db.session, orders.get_order(db.session, "SO-3"))
    assert task.location is None
    assert len(task.held) == 1  # the gate's own words (lotline.lot_gate), with when
    assert task.held[0].startswith("Skipped A-01: Lot L1 of LOT-1 is on hold (Recall 42; held")
    with pytest.raises(DomainError) as exc:
        picking.pick(db.session, order_number="SO-3", location="A-01", sku="LOT-1", qty=1,
                     actor=A)
    # all A-01 holds for SO-3 is the held lot: nothing there to pick (the gate's words)
    assert exc.value.code == "nothing_to_pick_here"
    assert "Lot L1 of LOT-1 is on hold (Recall 42" in exc.value.message
    with pytest.raises(DomainError) as again:
        lots.hold(db.session, number="L1", sku="LOT-1", reason="twice", actor=A)
    assert again.value.code == "already_held"
    assert lots.release(db.session, number="L1", sku="LOT-1", note="cleared", actor=A) == 1
    assert picking.next_task(db.session, orders.get_order(db.session, "SO-3")).location \
        .code == "A-01"
    picking.pick(db.session, order_number="SO-3", location="A-01", sku="LOT-1", qty=1, actor=A)
    assert inventory.ledger_mismatches(db.session) == []


@pytest.mark.parametrize("reason", ["", "x" * 201])
def test_hold_needs_a_reason(shipped, reason):
    with pytest.raises(DomainError):
        lots.hold(db.session, number="L1", reason=reason, actor=A)
    assert lots.held_lots(db.session) == []


def test_pick_screen_says_why_held_stock_is_skipped(as_role, shipped):
    orders.create_order(db.session, "SO-4", "Dune", [{"sku": "LOT-1", "qty": 1}])
    db.session.commit()
    lots.hold(db.session, number="L1", reason="Recall 7", actor=A)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-4")
    assert "Skipped A-01: Lot L1 of LOT-1 is on hold (Recall 7; held" in s.html
    lots.release(db.session, number="L1", actor=A)
    s.scan("CMD:CANCEL").scan("SO-4")  # A-01 is still in doubt after SO-1's mismatch
    assert "Skipped A-01: its record is in doubt until it is cycle counted." in s.html


def test_lookup_hold_and_release_on_the_screen(as_role, shipped):
    b = as_role("supervisor")
    page = b.get("/lots?lot=L1&sku=LOT-1").get_data(as_text=True)
    assert "A-01" in page and "Acme" in page and "Hold lot L1" in page
    held = b.post("/lots/hold", {"lot": "L1", "sku": "LOT-1", "reason": "Recall 9"}, htmx=True)
    body = held.get_data(as_text=True)
    assert held.status_code == 200 and "<html" not in body and 'data-testid="lot-held"' in body
    refused = b.post("/lots/hold", {"lot": "L1", "sku": "LOT-1", "reason": ""}, htmx=True)
    assert refused.status_code == 422
    released = b.post("/lots/release", {"lot": "L1", "sku": "LOT-1"}, htmx=True)
    assert "is released" in released.get_data(as_text=True)
    assert lots.held_lots(db.session) == []
    missing = b.get("/lots?lot=NOPE", htmx=True)
    assert missing.status_code == 404 and 'data-error-code="unknown_lot"' in missing.get_data(True)


def test_recall_report_and_csv(as_role, shipped):
    b = as_role("supervisor")
    page = b.get("/lots/recall?lot=L1&lot=L2").get_data(as_text=True)
    assert "Lot L1" in page and "Lot L2" in page and "Acme" in page and "AC-9" in page
    response = b.get("/lots/recall.csv?lot=L1")
    assert response.mimetype == "text/csv" and "attachment" in response.headers[
        "Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["section"] for r in rows} == {"on hand (hold it)", "shipped to customer"}
    assert sum(int(r["qty"]) for r in rows if r["section"].startswith("on hand")) == 10
    assert b.get("/lots/recall.csv").status_code == 422


def test_lots_screens_are_for_supervisors(as_role):
    assert as_role("packer").get("/lots").status_code == 403


def test_api_trace(api, shipped):
    body = api("supervisor").get("/api/v1/lots/L1?sku=LOT-1").json
    assert body["on_hand_qty"] == 6 and body["held"] is False
    assert {(s["order"], s["source"]) for s in body["shipments"]} == {
        ("SO-1", "picked"), ("SO-2", "picked"), ("SO-2", "recorded at pack")}
    assert api("admin").get("/api/v1/lots/NOPE").status_code == 404


def test_every_ledger_row_of_a_hold_is_zero_quantity(shipped):
    lots.hold(db.session, number="L1", reason="Recall", actor=A)
    total = db.session.scalar(select(func.sum(LedgerEntry.delta))
                              .where(LedgerEntry.type.in_(["hold", "release"])))
    assert total == 0 and inventory.ledger_mismatches(db.session) == []
