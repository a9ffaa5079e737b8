"""What a scan screen says about the location just scanned (issue 15, item 3).

Put, Pull, Move and Cycle Count say what the location holds from the moment it is scanned
(each item with its lot and quantity, or that it is empty), and once the item is known, what
it holds of that item. Pick refuses at once a location that holds nothing to pick for the
order's open lines, keeps the order, and says where to go instead; the domain's pick()
refuses the same case with the same code. On SQLite, and on PostgreSQL with
TEST_DATABASE_URL.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, select

from lotline import holdings, inventory, locations, lots, picking
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import Item
from tests.conftest import make_item, make_order, order
from tests.test_flows import Scanner
from tests.test_picking import make_warehouse, snapshot, stock

NOBODY = inventory.Actor(None, "HINT-1")


@pytest.fixture
def wh(app):
    make_warehouse("C-01")  # C-01: a location that holds many items


def info(s: Scanner) -> str | None:
    found = re.search(r'<p class="info" data-testid="step-info">([^<]*)</p>', s.html)
    return found.group(1) if found else None


# ---------------------------------------------------------------- the location's contents


def test_put_says_what_the_location_holds_as_soon_as_it_is_scanned(as_role, wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    stock("A-01", "PLAIN", 4)
    s = Scanner(as_role("packer"), "/put")
    assert info(s) is None  # nothing scanned yet: nothing to say
    s.scan("a-01")
    assert s.step == "sku"
    assert info(s) == "A-01 holds 10 of LOT-1 (lot L1), 4 of PLAIN."
    s.scan("LOT-1")
    assert s.step == "lot" and info(s) == "A-01 holds 10 of LOT-1 (lot L1)."
    s.scan("L1")
    assert s.step == "qty" and info(s) == "A-01 holds 10 of LOT-1 (lot L1)."


def test_put_says_an_empty_location_is_empty_and_then_holds_none_of_the_item(as_role, wh):
    s = Scanner(as_role("packer"), "/put")
    s.scan("B-02")
    assert s.step == "sku" and info(s) == "B-02 is empty."
    s.scan("PLAIN")
    assert s.step == "qty" and info(s) == "B-02 holds no PLAIN."


def test_put_hint_says_when_tracked_stock_has_no_lot_before_it_is_refused(as_role, wh):
    """Lot-tracked stock without a lot: the hint says so before the lot scan is refused."""
    stock("A-02", "PLAIN", 5)
    db.session.scalar(select(Item).where(Item.sku == "PLAIN")).require_lot = True
    db.session.commit()
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-02")
    assert info(s) == "A-02 holds 5 of PLAIN (no lot on record)."
    s.scan("PLAIN")
    assert s.step == "lot" and info(s) == "A-02 holds 5 of PLAIN (no lot on record)."
    s.scan("P1")
    assert s.error_code == "needs_cycle_count" and s.step == "location"


@pytest.mark.parametrize("path, first", [("/pull", "A-01"), ("/move", "A-01"),
                                         ("/count", "A-01")])
def test_pull_move_and_count_say_it_at_the_item_step_too(as_role, wh, path, first):
    stock("A-01", "LOT-1", 10, lot="L1")
    stock("A-01", "OTHER", 2)
    s = Scanner(as_role("packer"), path)
    s.scan(first)
    assert s.step == "sku"
    assert info(s) == "A-01 holds 10 of LOT-1 (lot L1), 2 of OTHER."
    s.scan("LOT-1")
    assert info(s) == "A-01 holds 10 of LOT-1 (lot L1)."  # the item known: that item


def test_a_location_with_many_items_names_the_first_and_counts_the_rest(app, wh):
    for n in range(8):
        make_item(f"X-{n}")
        stock("C-01", f"X-{n}", n + 1)
    hint = holdings.holding_hint(db.session, "c-01")
    assert hint == ("C-01 holds 1 of X-0, 2 of X-1, 3 of X-2, 4 of X-3, 5 of X-4, 6 of X-5 "
                    "and 2 more items.")


def test_the_hint_reads_the_location_in_one_statement(app, wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    stock("A-01", "PLAIN", 4)
    statements = []

    def seen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert holdings.holding_hint(db.session, "A-01").startswith("A-01 holds")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1


@pytest.mark.parametrize("path", ["/put", "/pull", "/count"])
def test_a_scan_reads_the_locations_contents_once(as_role, wh, path):
    """The hint is read once per screen, by one statement, whatever the flow."""
    stock("A-01", "LOT-1", 10, lot="L1")
    s = Scanner(as_role("packer"), path)
    reads = []

    def seen(conn, cursor, statement, *args):
        if "FROM inventory JOIN location" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        s.scan("A-01")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert info(s) == "A-01 holds 10 of LOT-1 (lot L1)."
    assert len(reads) == 1


# ---------------------------------------------------------------- Pick: refused at once


def test_pick_refuses_an_empty_location_at_once_and_says_where_to_go(as_role, wh):
    stock("A-01", "LOT-1", 10, lot="L1")
    make_order("SO-1", LOT_1=4)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1")
    assert "Go to A-01: pick 4 × LOT-1 · lot L1" in s.html
    before = snapshot()
    s.scan("B-02")
    assert s.response.status_code == 422 and s.error_code == "nothing_to_pick_here"
    assert "B-02 holds nothing for order SO-1. Go to A-01: pick 4 × LOT-1 · lot L1." \
        in s.html
    assert s.step == "location" and s.fields["order"] == "SO-1"  # the order is kept
    assert snapshot() == before
    s.scan("A-01").scan("LOT-1").scan("4")  # the picker follows the advice
    assert "A-01 · LOT-1 · L1: 10 → 6" in s.html and order("SO-1").status == "picked"


def test_pick_refuses_a_location_holding_only_other_items(as_role, wh):
    stock("A-01", "PLAIN", 3)
    stock("B-01", "OTHER", 9)  # not on the order
    make_order("SO-1", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("B-01")
    assert s.error_code == "nothing_to_pick_here" and s.step == "location"
    assert "B-01 holds nothing for order SO-1. Go to A-01: pick 2 × PLAIN." in s.html


def test_pick_refuses_a_location_holding_only_a_held_lot_and_says_why(as_role, wh):
    stock("A-01", "LOT-1", 5, lot="L1")
    stock("B-01", "LOT-1", 5, lot="L2")
    lots.hold(db.session, number="L1", sku="LOT-1", reason="Recall 7", actor=NOBODY)
    db.session.commit()
    make_order("SO-1", LOT_1=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01")
    assert s.error_code == "nothing_to_pick_here" and s.step == "location"
    assert "Nothing at A-01 can be picked for order SO-1: Lot L1 of LOT-1 is on hold " \
           "(Recall 7;" in s.html
    assert "Go to B-01: pick 2 × LOT-1 · lot L2." in s.html


def test_pick_refuses_an_expired_lot_location_and_says_none_is_left(as_role, wh):
    stock("A-01", "LOT-1", 5, lot="OLD", expiry=dt.date(2020, 1, 1))
    make_order("SO-1", LOT_1=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01")
    assert s.error_code == "nothing_to_pick_here"
    assert "Lot OLD of LOT-1 expired on 2020-01-01. No stock left for LOT-1: 2 will be " \
           "short. Scan CMD:SHORT to record it." in s.html


def test_pick_refuses_a_location_whose_record_is_in_doubt(as_role, wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=5)
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY, found_short=True)  # A-01 goes on Needs cycle count
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01")
    assert s.error_code == "nothing_to_pick_here"
    assert "Nothing at A-01 can be picked for order SO-1: its record is in doubt until it " \
           "is cycle counted. Go to B-01: pick 4 × PLAIN." in s.html


def test_pick_advice_follows_the_skips(as_role, wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("CMD:SKIP")
    assert "Go to B-01: pick 2 × PLAIN" in s.html
    s.scan("C-01")
    assert s.error_code == "nothing_to_pick_here"
    assert "C-01 holds nothing for order SO-1. Go to B-01: pick 2 × PLAIN." in s.html
    assert s.fields["skip"] == "SO-1|A-01"  # the skip is kept too


def test_a_location_holding_something_for_the_order_is_accepted(as_role, wh):
    """Held stock of one line beside stock of another: the location is accepted, and the
    held item is refused when it is scanned, by the lot gate's own code."""
    stock("A-01", "LOT-1", 5, lot="L1")
    stock("A-01", "PLAIN", 5)
    lots.hold(db.session, number="L1", sku="LOT-1", reason="QA", actor=NOBODY)
    db.session.commit()
    make_order("SO-1", LOT_1=1, PLAIN=1)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01")
    assert s.error_code is None and s.step == "sku"
    s.scan("LOT-1")
    assert s.error_code == "lot_on_hold" and s.step == "location"


def test_lotless_tracked_stock_is_accepted_and_refused_at_the_item(as_role, wh):
    """Stock of a lot-tracked item without a lot is there: the item scan says to count it."""
    stock("A-01", "PLAIN", 5)
    item = db.session.scalar(select(Item).where(Item.sku == "PLAIN"))
    item.require_lot = True
    db.session.commit()
    make_order("SO-1", PLAIN=2)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("A-01")
    assert s.step == "sku" and s.error_code is None
    s.scan("PLAIN")
    assert s.error_code == "pick_blocked"


# ---------------------------------------------------------------- the domain function


def test_check_pick_location_is_the_rule_pick_uses(app, wh):
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    make_order("SO-1", PLAIN=3)
    so = order("SO-1")
    picking.check_pick_location(db.session, so, locations.get_location(db.session, "A-01"))
    with pytest.raises(DomainError) as refused:
        picking.check_pick_location(db.session, so, locations.get_location(db.session, "C-01"),
                                    {"A-01"})
    assert refused.value.code == "nothing_to_pick_here"
    assert refused.value.details == {"field": "location", "go_to": "B-01"}
    assert refused.value.message == "C-01 holds nothing for order SO-1. Go to B-01: pick 3 × " \
                                    "PLAIN."
    before = snapshot()
    with pytest.raises(DomainError) as direct:
        picking.pick(db.session, order_number="SO-1", location="C-01", sku="PLAIN", qty=1,
                     actor=NOBODY)
    db.session.rollback()
    assert direct.value.code == "nothing_to_pick_here" and direct.value.details["go_to"] == "A-01"
    assert snapshot() == before


def test_pick_of_an_item_not_on_the_order_says_so_first(app, wh):
    make_order("SO-1", PLAIN=3)
    stock("A-01", "PLAIN", 3)
    with pytest.raises(DomainError) as refused:
        picking.pick(db.session, order_number="SO-1", location="C-01", sku="OTHER", qty=1,
                     actor=NOBODY)
    assert refused.value.code == "not_on_order"


def test_a_picked_order_is_refused_as_picked(app, wh):
    stock("A-01", "PLAIN", 3)
    make_order("SO-1", PLAIN=1)
    picking.pick(db.session, order_number="SO-1", location="A-01", sku="PLAIN", qty=1,
                 actor=NOBODY)
    with pytest.raises(DomainError) as refused:
        picking.check_pick_location(db.session, order("SO-1"),
                                    locations.get_location(db.session, "A-01"))
    assert refused.value.code == "order_picked" and refused.value.details["field"] == "order"


def test_the_advice_says_what_blocks_the_next_task(app, wh):
    """When the only stock left has no lot on record, the advice is the task's block."""
    stock("A-01", "PLAIN", 5)
    db.session.scalar(select(Item).where(Item.sku == "PLAIN")).require_lot = True
    db.session.commit()
    make_order("SO-1", PLAIN=2)
    with pytest.raises(DomainError) as refused:
        picking.check_pick_location(db.session, order("SO-1"),
                                    locations.get_location(db.session, "B-01"))
    assert refused.value.message == ("B-01 holds nothing for order SO-1. A-01 holds PLAIN "
                                     "without a lot. Cycle count A-01 first, or skip to "
                                     "another location.")
    assert refused.value.details["go_to"] is None
