"""Picking with the lot assumed (PRODUCT.md rule 5): domain and the /pick scan screen.

The picker never scans a lot: the pick line and the ledger row carry the location's lot.
Lot-tracked stock without a lot blocks the pick until it is cycle counted; a location where
the picker found less than the record is not suggested again until it is counted.
"""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations, picking
from lotline import orders as orders_domain
from lotline.errors import Conflict, DomainError
from lotline.extensions import db
from lotline.models import (
    CountRequest,
    Inventory,
    Item,
    LedgerEntry,
    Order,
    PickLine,
)
from tests.conftest import make_item, make_order, order
from tests.test_flows import Scanner

NOBODY = inventory.Actor(None, "PICK-1")


# ---------------------------------------------------------------- helpers


def make_warehouse(*codes):
    """Locations A-01, A-02, B-01, B-02 (and ``codes``); items LOT-1 (lot-tracked), PLAIN and
    OTHER."""
    for code in ("A-01", "A-02", "B-01", "B-02", *codes):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True)
    make_item("PLAIN")
    make_item("OTHER")
    db.session.commit()


@pytest.fixture
def wh(app):
    make_warehouse()


def stock(location, sku, qty, lot=None, expiry=None):
    inventory.put(db.session, location=location, sku=sku, lot=lot, qty=qty, actor=NOBODY,
                  expiry=expiry)


def lotless_tracked_stock(location, sku, qty):
    """Stock that was put before lot tracking was switched on for its item (rule 5)."""
    stock(location, sku, qty)
    item = db.session.scalar(select(Item).where(Item.sku == sku))
    item.require_lot = True
    db.session.commit()


def qty_at(location, sku):
    db.session.expire_all()
    return db.session.scalar(select(Inventory.qty).where(
        Inventory.location.has(code=location), Inventory.item.has(sku=sku)))


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot():
    """Everything a pick may change: stock, ledger, pick lines, count requests, order lines."""
    db.session.expire_all()
    stock_rows = sorted((i.location_id, i.item_id, i.lot_id, i.qty)
                        for i in db.session.scalars(select(Inventory)))
    lines = sorted((ln.id, ln.qty_picked, ln.qty_short, ln.qty_packed)
                   for o in db.session.scalars(select(Order)) for ln in o.lines)
    statuses = sorted((o.number, o.status) for o in db.session.scalars(select(Order)))
    return (stock_rows, lines, statuses, count(LedgerEntry), count(PickLine),
            count(CountRequest))


def pick(number, location, sku, qty, **kw):
    return picking.pick(db.session, order_number=number, location=location, sku=sku, qty=qty,
                        actor=NOBODY, **kw)


def task(number, skip=frozenset()):
    return picking.next_task(db.session, order(number), skip)


def needs_count_keys():
    db.session.expire_all()
    return {(n.location.code, n.item.sku) for n in inventory.needs_cycle_count(db.session)}


def refused(code, fn, *args, **kw):
    before = snapshot()
    with pytest.raises(DomainError) as info:
        fn(*args, **kw)
    assert info.value.code == code
    db.session.rollback()
    assert snapshot() == before, "a refused pick changed something"
    return info.value


# ---------------------------------------------------------------- the lot is assumed


def test_pick_takes_no_lot_argument():
    assert "lot" not in inspect.signature(picking.pick).parameters


def test_pick_assumes_the_locations_lot_and_writes_a_pick_ledger_row(wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    make_order("SO-1", LOT_1=3)
    result = pick("SO-1", "A-01", "LOT-1", 3)

    assert [c.line() for c in result.changes] == ["A-01 · LOT-1 · L1: 10 → 7"]
    line = db.session.scalar(select(PickLine))
    assert line.lot is not None and line.lot.number == "L1"
    assert line.location.code == "A-01" and line.qty == 3 and line.qty_short == 0
    assert line.station == "PICK-1"
    row = db.session.scalar(select(LedgerEntry).where(LedgerEntry.type == "pick"))
    assert (row.reference, row.delta, row.qty_after) == ("SO-1", -3, 7)
    assert row.lot.number == "L1" and row.location.code == "A-01"
    assert qty_at("A-01", "LOT-1") == 7
    assert order("SO-1").lines[0].qty_picked == 3
    assert inventory.ledger_mismatches(db.session) == []


def test_picking_the_last_unit_empties_the_location_and_keeps_the_lot_on_the_pick(wh):
    stock("A-01", "LOT-1", 2, lot="L1")
    make_order("SO-1", LOT_1=2)
    pick("SO-1", "A-01", "LOT-1", 2)
    assert qty_at("A-01", "LOT-1") is None
    assert db.session.scalar(select(PickLine)).lot.number == "L1"
    assert inventory.ledger_mismatches(db.session) == []


def test_non_lot_item_is_picked_without_a_lot(wh):
    stock("B-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    pick("SO-1", "B-01", "PLAIN", 2)
    assert db.session.scalar(select(PickLine)).lot_id is None
    assert qty_at("B-01", "PLAIN") == 3


# ---------------------------------------------------------------- directed: FEFO, fewest trips


def test_next_task_directs_to_the_earliest_expiry_first(wh):
    today = dt.date.today()  # both still good: an expired lot is never suggested
    stock("A-01", "LOT-1", 50, lot="LATE", expiry=today + dt.timedelta(days=400))
    stock("B-02", "LOT-1", 2, lot="EARLY", expiry=today + dt.timedelta(days=60))
    stock("A-02", "LOT-1", 50, lot="NOEXP")  # no expiry: after every dated lot
    make_order("SO-1", LOT_1=5)

    first = task("SO-1")
    assert (first.location.code, first.lot.number, first.qty) == ("B-02", "EARLY", 2)
    assert first.blocked is None
    assert first.text == "Go to B-02: pick 2 × LOT-1 · lot EARLY"
    pick("SO-1", "B-02", "LOT-1", 2)
    second = task("SO-1")
    assert (second.location.code, second.lot.number, second.qty) == ("A-01", "LATE", 3)


def test_next_task_prefers_the_fewest_trips_then_the_location_code(wh):
    stock("A-01", "PLAIN", 3)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5)
    first = task("SO-1")
    assert (first.location.code, first.qty) == ("B-01", 5)  # one trip instead of two

    stock("A-02", "PLAIN", 8)  # also fills the line in one trip: the code breaks the tie
    assert task("SO-1").location.code == "A-02"


def test_next_task_honours_skip_and_is_none_when_everything_is_picked(wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=4)
    assert task("SO-1").location.code == "A-01"
    assert task("SO-1", {"A-01"}).location.code == "B-01"
    # Every place skipped: back to the first of them. "No stock left … will be short" here
    # asked for a short that short_line refuses while stock exists (found typing the whole
    # order by scanner: CMD:SHORT then answered "There is still PLAIN to pick").
    back = task("SO-1", {"A-01", "B-01"})
    assert back.location.code == "A-01"
    assert "Every other location was skipped: back to A-01." in back.held
    pick("SO-1", "A-01", "PLAIN", 4)
    assert task("SO-1") is None


def test_skipping_every_blocked_place_leaves_the_line_to_record_short(wh):
    """Only unblocked stock is worth going back to; blocked stock is what short_line does
    not count as available, so the task and the short agree."""
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    assert task("SO-1").blocked is not None
    none_left = task("SO-1", {"A-01"})
    assert none_left.location is None and "No stock left for PLAIN" in none_left.text
    picking.short_line(db.session, order_number="SO-1", sku="PLAIN", actor=NOBODY)
    assert order("SO-1").lines[0].qty_short == 2


# ---------------------------------------------------------------- blocked: tracked stock, no lot


def test_lot_tracked_stock_without_a_lot_blocks_the_pick(wh):
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)

    error = refused("pick_blocked", pick, "SO-1", "A-01", "PLAIN", 2)
    assert "Cycle count A-01" in error.message
    assert ("A-01", "PLAIN") in needs_count_keys()
    blocked = task("SO-1")
    assert blocked.location.code == "A-01" and "without a lot" in blocked.blocked


def test_unblocked_stock_is_directed_before_blocked_stock(wh):
    lotless_tracked_stock("A-01", "PLAIN", 50)
    stock("B-01", "PLAIN", 1, lot="P1")
    make_order("SO-1", PLAIN=2)
    first = task("SO-1")
    assert first.location.code == "B-01" and first.blocked is None


def test_cycle_count_with_a_lot_unblocks_the_location(wh):
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    inventory.cycle_count(db.session, location="A-01", sku="PLAIN", lot="P7", qty=5,
                          actor=NOBODY)
    assert ("A-01", "PLAIN") not in needs_count_keys()
    assert task("SO-1").blocked is None
    pick("SO-1", "A-01", "PLAIN", 2)
    assert db.session.scalar(select(PickLine)).lot.number == "P7"


def test_pick_screen_shows_the_block_and_refuses_the_item(as_role, wh):
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("so-1")
    assert s.step == "location" and 'data-testid="pick-blocked"' in s.html
    before = snapshot()
    s.scan("A-01").scan("PLAIN")
    assert s.response.status_code == 422 and s.error_code == "pick_blocked"
    assert s.step == "location"  # asked for another location
    assert "Cycle count A-01 first" in s.html
    assert snapshot() == before


# ---------------------------------------------------------------- the screen


def test_pick_screen_walks_order_location_item_quantity_without_a_lot_step(as_role, wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    make_order("SO-1", LOT_1=4)
    s = Scanner(as_role("packer"), "/pick")
    assert s.step == "order"
    s.scan("SO-1")
    assert s.step == "location"
    assert "Go to A-01: pick 4 × LOT-1 · lot L1" in s.html
    s.scan("A-01").scan("LOT-1")
    assert s.step == "qty"  # no lot step: the lot is assumed
    assert "A-01 holds 10 of LOT-1, lot L1 (assumed from the location)." in s.html
    assert 'value="4"' in s.html  # prefilled with what to pick here
    s.scan("4")
    assert s.response.status_code == 200 and s.error_code is None
    assert "A-01 · LOT-1 · L1: 10 → 6" in s.html
    assert 'data-testid="pick-done"' in s.html
    assert qty_at("A-01", "LOT-1") == 6
    assert order("SO-1").status == "picked"


def test_pick_screen_skip_location_directs_elsewhere(as_role, wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    stock("B-01", "LOT-1", 10, lot="L2")
    make_order("SO-1", LOT_1=4)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1")
    assert "Go to A-01: pick 4 × LOT-1 · lot L1" in s.html
    assert 'name="cmd" value="CMD:SKIP"' in s.html  # the button; the scan does the same
    s.scan("CMD:SKIP")
    assert s.error_code is None and s.step == "location"
    assert "Go to B-01: pick 4 × LOT-1 · lot L2" in s.html
    assert s.fields.get("skip") == "SO-1|A-01"  # skips belong to their order
    s.scan("B-01").scan("LOT-1").scan("4")
    assert "B-01 · LOT-1 · L2: 10 → 6" in s.html
    assert qty_at("A-01", "LOT-1") == 10 and qty_at("B-01", "LOT-1") == 6


def test_after_an_order_is_picked_the_next_order_can_be_scanned(as_role, wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=1)
    make_order("SO-2", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01").scan("PLAIN").scan("1")
    assert order("SO-1").status == "picked"
    assert "Order SO-1 is picked. Scan the next order." in s.html
    # The screen says "Scan the next order": scanning it must start that order.
    s.scan("SO-2")
    assert s.error_code is None, f"scanning the next order was refused: {s.error_code}"
    assert s.fields.get("order") == "SO-2" and s.step == "location"
    assert "Go to A-01: pick 2 × PLAIN" in s.html


@pytest.mark.parametrize("finish_first", [True, False], ids=["after-done", "mid-order"])
def test_a_skip_does_not_carry_over_to_another_order(as_role, wh, finish_first):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    stock("A-01", "OTHER", 5)
    make_order("SO-1", PLAIN=1)
    make_order("SO-2", OTHER=1)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("CMD:SKIP")
    assert "Go to B-01" in s.html
    if finish_first:
        s.scan("B-01").scan("PLAIN").scan("1")
        assert order("SO-1").status == "picked"
    if s.step != "order":
        s.scan("", redo="order")  # the "Order SO-1" chip: scan another order
    assert s.step == "order"
    s.scan("SO-2")
    assert s.step == "location" and s.fields.get("order") == "SO-2"
    # A-01 holds OTHER; it was skipped for SO-1, not for SO-2.
    assert "No stock left for OTHER" not in s.html
    assert "Go to A-01: pick 1 × OTHER" in s.html


def test_pick_screen_skip_past_a_blocked_location(as_role, wh):
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    stock("B-01", "PLAIN", 5, lot="P1")
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1")
    # Unblocked stock comes first; skipping it leaves only the blocked location.
    assert "Go to B-01" in s.html
    s.scan("CMD:SKIP")
    assert 'data-testid="pick-blocked"' in s.html


def test_pick_screen_found_short_puts_the_location_on_the_count_list(as_role, wh):
    stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=5)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01").scan("PLAIN")
    assert s.step == "qty" and "Short: found fewer" in s.html
    s.scan("CMD:SHORT")
    assert s.error_code is None and s.step == "qty" and qty_at("A-01", "PLAIN") == 5
    assert "Found fewer: type how many you found" in s.html
    s.scan("3")
    assert s.error_code is None
    assert "Short at A-01: found 3 of 5. A-01 is on the Needs cycle count list." in s.html
    assert qty_at("A-01", "PLAIN") == 2
    assert ("A-01", "PLAIN") in needs_count_keys()


def test_pick_screen_record_short_when_no_stock(as_role, wh):
    make_order("SO-1", PLAIN=3)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1")
    assert "No stock left for PLAIN: 3 will be short." in s.html
    assert 'name="cmd" value="CMD:SHORT"' in s.html
    s.scan("CMD:SHORT")
    line = order("SO-1").lines[0]
    assert (line.qty_short, line.qty_picked) == (3, 0)
    assert order("SO-1").status == "picked"
    # The short of the order's last line is recorded and must be reported as done, not as
    # a red "nothing left to pick" refusal of the order the packer never re-scanned.
    assert s.error_code is None, f"error {s.error_code} shown after a successful short"
    assert s.response.status_code == 200
    assert "PLAIN: 3 short on order SO-1." in s.html


def test_pick_screen_record_short_with_other_lines_left(as_role, wh):
    stock("A-01", "OTHER", 5)
    make_order("SO-1", PLAIN=3, OTHER=1)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1")
    assert "No stock left for PLAIN: 3 will be short." in s.html
    s.scan("CMD:SHORT")
    assert s.error_code is None and s.response.status_code == 200
    assert "PLAIN: 3 short on order SO-1." in s.html
    assert "Go to A-01: pick 1 × OTHER" in s.html
    assert order("SO-1").lines[0].qty_short == 3
    assert order("SO-1").status == "picking"


def test_pick_screen_refuses_over_pick_and_changes_nothing(as_role, wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01").scan("PLAIN")
    before = snapshot()
    s.scan("3")
    assert s.response.status_code == 422 and s.error_code == "over_pick"
    assert snapshot() == before


def test_pick_screen_double_submit_applies_once(as_role, wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5)
    b = as_role("packer")
    s = Scanner(b, "/pick")
    s.scan("SO-1").scan("A-01").scan("PLAIN")
    final = {**s.fields, "qty": "2"}
    first = b.post("/pick", final, htmx=True).get_data(as_text=True)
    second = b.post("/pick", final, htmx=True).get_data(as_text=True)
    assert "10 → 8" in first and "already done" in second
    assert qty_at("A-01", "PLAIN") == 8
    assert count(LedgerEntry, LedgerEntry.type == "pick") == 1
    assert order("SO-1").lines[0].qty_picked == 2


def test_next_open_order_by_scan(as_role, wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=1)
    s = Scanner(as_role("packer"), "/pick")
    assert 'name="cmd" value="CMD:NEXT"' in s.html  # the button; the scan does the same
    s.scan("CMD:NEXT")
    assert s.step == "location" and s.fields.get("order") == "SO-1"


def test_pick_screen_is_for_signed_in_users(client, wh):
    assert client.get("/pick").status_code in (302, 401)


# ---------------------------------------------------------------- found short


def test_found_short_records_a_count_request_and_excludes_the_location(wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5)
    assert task("SO-1").location.code == "A-01"

    result = pick("SO-1", "A-01", "PLAIN", 2, found_short=True)
    assert any("Needs cycle count" in m for m in result.messages)
    request = db.session.scalar(select(CountRequest))
    assert request.location.code == "A-01" and request.item.sku == "PLAIN"
    assert request.resolved_at is None
    assert "record said 10, picker found 2" in request.reason
    assert qty_at("A-01", "PLAIN") == 8
    assert order("SO-1").lines[0].qty_picked == 2
    assert ("A-01", "PLAIN") in needs_count_keys()

    after = task("SO-1")
    assert (after.location.code, after.qty) == ("B-01", 3)  # A-01 is in doubt

    inventory.cycle_count(db.session, location="A-01", sku="PLAIN", lot=None, qty=8,
                          actor=NOBODY)
    db.session.expire_all()
    assert db.session.scalar(select(CountRequest)).resolved_at is not None
    assert ("A-01", "PLAIN") not in needs_count_keys()
    assert task("SO-1").location.code == "A-01"  # suggested again once counted


def test_stock_in_doubt_is_refused_when_scanned_though_the_location_holds_more(wh):
    """A record in doubt is never picked, even scanned directly at a location that holds
    something else the order needs (the location passes; the item scan is refused). The
    rule is the one that keeps it out of the tasks."""
    stock("A-01", "PLAIN", 10)
    stock("A-01", "OTHER", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5, OTHER=1)
    pick("SO-1", "A-01", "PLAIN", 2, found_short=True)
    db.session.commit()
    error = refused("needs_cycle_count", pick, "SO-1", "A-01", "PLAIN", 1)
    assert "in doubt until it is cycle counted" in error.message
    assert "skip to another location" in error.message
    assert order("SO-1").lines[0].qty_picked == 2
    pick("SO-1", "A-01", "OTHER", 1)  # the location itself is not refused
    assert qty_at("A-01", "OTHER") == 9


def test_found_short_of_nothing_writes_no_ledger_row(wh):
    stock("A-01", "PLAIN", 4)
    make_order("SO-1", PLAIN=4)
    pick("SO-1", "A-01", "PLAIN", 0, found_short=True)
    assert count(LedgerEntry, LedgerEntry.type == "pick") == 0
    assert count(PickLine) == 0
    assert count(CountRequest) == 1 and qty_at("A-01", "PLAIN") == 4
    assert task("SO-1").location is None  # nothing else to suggest


def test_found_short_of_the_full_quantity_is_refused(wh):
    stock("A-01", "PLAIN", 4)
    make_order("SO-1", PLAIN=3)
    refused("not_short", pick, "SO-1", "A-01", "PLAIN", 3, found_short=True)


def test_a_zero_quantity_without_found_short_is_refused(wh):
    stock("A-01", "PLAIN", 4)
    make_order("SO-1", PLAIN=3)
    refused("validation_error", pick, "SO-1", "A-01", "PLAIN", 0)


# ---------------------------------------------------------------- short line


def test_short_line_records_what_is_left_when_no_stock_remains(wh):
    stock("A-01", "PLAIN", 3)
    make_order("SO-1", PLAIN=5)
    pick("SO-1", "A-01", "PLAIN", 3)
    assert order("SO-1").status == "picking"
    result = picking.short_line(db.session, order_number="SO-1", sku="PLAIN", actor=NOBODY)
    assert result.messages == ["PLAIN: 2 short on order SO-1.", "Order SO-1 is completely picked."]
    line = order("SO-1").lines[0]
    assert (line.qty_picked, line.qty_short, line.to_pick) == (3, 2, 0)
    short = db.session.scalar(select(PickLine).where(PickLine.qty_short > 0))
    assert short.location_id is None and short.qty == 0 and short.qty_short == 2
    assert order("SO-1").status == "picked"
    refused("nothing_to_short", picking.short_line, db.session, order_number="SO-1",
            sku="PLAIN", actor=NOBODY)


def test_short_line_is_refused_while_unblocked_stock_exists(wh):
    stock("B-01", "PLAIN", 1)
    make_order("SO-1", PLAIN=5)
    refused("stock_available", picking.short_line, db.session, order_number="SO-1",
            sku="PLAIN", actor=NOBODY)


def test_short_line_is_allowed_when_only_blocked_stock_is_left(wh):
    lotless_tracked_stock("A-01", "PLAIN", 5)
    make_order("SO-1", PLAIN=2)
    picking.short_line(db.session, order_number="SO-1", sku="PLAIN", actor=NOBODY)
    assert order("SO-1").lines[0].qty_short == 2


def test_short_line_of_an_item_not_on_the_order_is_refused(wh):
    make_order("SO-1", PLAIN=2)
    refused("not_on_order", picking.short_line, db.session, order_number="SO-1",
            sku="OTHER", actor=NOBODY)


# ---------------------------------------------------------------- refusals change nothing


def test_over_pick_is_refused(wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=3)
    error = refused("over_pick", pick, "SO-1", "A-01", "PLAIN", 4)
    assert "needs 3 more of PLAIN" in error.message
    pick("SO-1", "A-01", "PLAIN", 2)
    refused("over_pick", pick, "SO-1", "A-01", "PLAIN", 2)


def test_item_not_on_the_order_is_refused(wh):
    stock("A-01", "OTHER", 10)
    make_order("SO-1", PLAIN=3)
    refused("not_on_order", pick, "SO-1", "A-01", "OTHER", 1)


def test_location_without_the_item_is_refused(wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "OTHER", 10)
    make_order("SO-1", PLAIN=3, OTHER=1)
    error = refused("insufficient_quantity", pick, "SO-1", "B-01", "PLAIN", 1)
    assert "B-01 holds no PLAIN" in error.message  # it holds OTHER for the order


def test_location_with_nothing_for_the_order_is_refused_saying_where_to_go(wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "OTHER", 10)
    make_order("SO-1", PLAIN=3)
    error = refused("nothing_to_pick_here", pick, "SO-1", "B-01", "PLAIN", 1)
    assert error.message == "B-01 holds nothing for order SO-1. Go to A-01: pick 3 × PLAIN."
    assert error.details["field"] == "location" and error.details["go_to"] == "A-01"


def test_more_than_the_location_holds_is_refused(wh):
    stock("A-01", "PLAIN", 2)
    make_order("SO-1", PLAIN=5)
    error = refused("insufficient_quantity", pick, "SO-1", "A-01", "PLAIN", 3)
    assert error.details.get("available") == 2


def test_cancelled_order_cannot_be_picked(wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=3)
    orders_domain.cancel_order(db.session, order("SO-1"))
    db.session.commit()
    refused("order_closed", pick, "SO-1", "A-01", "PLAIN", 1)
    refused("order_closed", picking.short_line, db.session, order_number="SO-1", sku="PLAIN",
            actor=NOBODY)


def test_unknown_order_is_refused(wh):
    stock("A-01", "PLAIN", 10)
    refused("unknown_order", pick, "NOPE", "A-01", "PLAIN", 1)


# ---------------------------------------------------------------- status and idempotency


def test_order_status_goes_open_picking_picked(wh):
    stock("A-01", "PLAIN", 10)
    stock("A-02", "OTHER", 10)
    make_order("SO-1", PLAIN=3, OTHER=1)
    assert order("SO-1").status == "open"
    pick("SO-1", "A-01", "PLAIN", 1)
    assert order("SO-1").status == "picking"
    pick("SO-1", "A-01", "PLAIN", 2)
    assert order("SO-1").status == "picking"
    pick("SO-1", "A-02", "OTHER", 1)
    assert order("SO-1").status == "picked"
    assert task("SO-1") is None


def test_same_idempotency_key_twice_picks_once(wh):
    stock("A-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5)
    first = pick("SO-1", "A-01", "PLAIN", 2, idempotency_key="pick-key-0001")
    second = pick("SO-1", "A-01", "PLAIN", 2, idempotency_key="pick-key-0001")
    assert not first.replayed and second.replayed
    assert [c.line() for c in second.changes] == [c.line() for c in first.changes]
    assert count(LedgerEntry, LedgerEntry.type == "pick") == 1
    assert count(PickLine) == 1
    assert qty_at("A-01", "PLAIN") == 8 and order("SO-1").lines[0].qty_picked == 2
    with pytest.raises(Conflict) as info:
        pick("SO-1", "A-01", "PLAIN", 3, idempotency_key="pick-key-0001")
    assert info.value.code == "idempotency_key_reused"
    assert qty_at("A-01", "PLAIN") == 8
