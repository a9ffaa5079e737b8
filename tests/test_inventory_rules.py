"""The inventory rules (PRODUCT.md rules 2–5) and every refusal code, at the domain level.

Each test drives ``lotline.inventory`` against a real database (SQLite file by default,
PostgreSQL under TEST_DATABASE_URL). Every refusal is checked to change nothing
(inventory, ledger, lots, idempotency records, PO receipts), and after every test the
ledger and the inventory agree (``ledger_mismatches() == []``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lotline import inventory
from lotline import items as items_domain
from lotline import locations as locations_domain
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import (
    IdempotencyRecord,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    PurchaseOrderLine,
)
from tests.conftest import make_item, make_user

GTIN = "4006381333931"  # stored as 04006381333931


# ---------------------------------------------------------------- helpers


class World:
    """A small warehouse: two lot-tracked items, one plain item, three locations, one PO."""

    def __init__(self):
        self.packer = make_user("packer1", "packer")
        self.supervisor = make_user("super1", "supervisor")
        self.admin = make_user("admin1", "admin")
        make_item("LOT-1", require_lot=True, gtin=GTIN)
        make_item("LOT-2", require_lot=True)
        make_item("PLAIN-1")
        for code in ("A-1", "A-2", "A-3", "OFF-1"):
            locations_domain.create_location(db.session, code)
        locations_domain.set_active(db.session, self.location("OFF-1"), False)
        inventory.create_purchase_order(db.session, "PO-1", "Acme", [
            {"sku": "LOT-1", "qty": 10}, {"sku": "PLAIN-1", "qty": 5}])
        db.session.commit()
        self.actor = inventory.Actor(self.packer, "station-1")

    # -- reads (core selects: always what the database holds now)

    @staticmethod
    def location(code) -> Location:
        return db.session.scalar(select(Location).where(Location.code == code))

    @staticmethod
    def stock() -> dict:
        """{(location, sku): (lot, qty)} for every inventory row."""
        rows = db.session.execute(
            select(Location.code, Item.sku, Lot.number, Inventory.qty)
            .select_from(Inventory).join(Location).join(Item)
            .outerjoin(Lot, Lot.id == Inventory.lot_id))
        return {(loc, sku): (lot, qty) for loc, sku, lot, qty in rows}

    @staticmethod
    def ledger(key=None) -> list[tuple]:
        """(type, location, sku, lot, delta, qty_after, reference) in order of writing."""
        query = (select(LedgerEntry.type, Location.code, Item.sku, Lot.number, LedgerEntry.delta,
                        LedgerEntry.qty_after, LedgerEntry.reference)
                 .select_from(LedgerEntry).join(Location).join(Item)
                 .outerjoin(Lot, Lot.id == LedgerEntry.lot_id).order_by(LedgerEntry.id))
        if key is not None:
            query = query.where(LedgerEntry.idempotency_key == key)
        return [tuple(r) for r in db.session.execute(query)]

    def snapshot(self) -> tuple:
        """Everything an inventory transaction may change."""
        ledger = [tuple(r) for r in db.session.execute(
            select(LedgerEntry.id, LedgerEntry.type, LedgerEntry.location_id, LedgerEntry.item_id,
                   LedgerEntry.lot_id, LedgerEntry.delta, LedgerEntry.qty_after,
                   LedgerEntry.idempotency_key).order_by(LedgerEntry.id))]
        lots = sorted(tuple(r) for r in db.session.execute(
            select(Lot.item_id, Lot.number, Lot.expiry)))
        keys = sorted(db.session.scalars(select(IdempotencyRecord.key)))
        received = sorted(tuple(r) for r in db.session.execute(
            select(PurchaseOrderLine.id, PurchaseOrderLine.qty_received)))
        return self.stock(), ledger, lots, keys, received

    # -- the transactions, with defaults so a test names only what matters

    def put(self, location="A-1", sku="LOT-1", lot="L1", qty=5, **kw):
        kw.setdefault("actor", self.actor)
        return inventory.put(db.session, location=location, sku=sku, lot=lot, qty=qty, **kw)

    def pull(self, location="A-1", sku="LOT-1", lot="L1", qty=1, **kw):
        kw.setdefault("actor", self.actor)
        return inventory.pull(db.session, location=location, sku=sku, lot=lot, qty=qty, **kw)

    def move(self, from_location="A-1", to_location="A-2", sku="LOT-1", lot="L1", qty=1, **kw):
        kw.setdefault("actor", self.actor)
        return inventory.move(db.session, from_location=from_location, to_location=to_location,
                              sku=sku, lot=lot, qty=qty, **kw)

    def count(self, location="A-1", sku="LOT-1", lot="L1", qty=3, **kw):
        kw.setdefault("actor", self.actor)
        return inventory.cycle_count(db.session, location=location, sku=sku, lot=lot, qty=qty,
                                     **kw)

    def putaway(self, po_number="PO-1", location="A-3", sku="LOT-1", lot="L1", qty=2, **kw):
        kw.setdefault("actor", self.actor)
        return inventory.putaway(db.session, po_number=po_number, location=location, sku=sku,
                                 lot=lot, qty=qty, **kw)

    def call(self, op, **kw):
        return getattr(self, op)(**kw)

    def refused(self, code, op, **kw) -> DomainError:
        """``op`` is refused with ``code`` and nothing in the database changed."""
        before = self.snapshot()
        with pytest.raises(DomainError) as info:
            self.call(op, **kw)
        assert info.value.code == code, info.value.message
        assert self.snapshot() == before
        db.session.rollback()
        return info.value

    def lotless_stock(self, location="A-1", sku="PLAIN-2", qty=4):
        """Stock put before tracking was switched on: a tracked item's row with no lot."""
        if db.session.scalar(select(Item).where(Item.sku == sku)) is None:
            make_item(sku)
        self.put(location=location, sku=sku, lot=None, qty=qty)
        item = db.session.scalar(select(Item).where(Item.sku == sku))
        items_domain.update_item(db.session, item, require_lot=True)
        db.session.commit()


@pytest.fixture
def w(app):
    world = World()
    yield world
    db.session.rollback()
    assert inventory.ledger_mismatches(db.session) == []


# ---------------------------------------------------------------- put (rules 2 and 3)


@pytest.mark.parametrize("lot", [None, "", "   "])
def test_put_of_lot_item_requires_a_lot(w, lot):
    error = w.refused("lot_required", "put", lot=lot)
    assert error.details["field"] == "lot"
    assert "LOT-1" in error.message


def test_put_of_plain_item_refuses_a_lot(w):
    error = w.refused("validation_error", "put", sku="PLAIN-1", lot="L1")
    assert error.details["field"] == "lot"
    assert "does not track lots" in error.message


def test_put_of_plain_item_without_lot(w):
    result = w.put(sku="PLAIN-1", lot=None, qty=7)
    assert result.changes[0].lot is None
    assert w.stock() == {("A-1", "PLAIN-1"): (None, 7)}


@pytest.mark.parametrize("lot", ["L 1", "x" * 65, "LÖT", "L1\t2"])
def test_put_with_malformed_lot_is_refused(w, lot):
    w.refused("validation_error", "put", lot=lot)


def test_put_writes_lot_on_inventory_and_ledger_with_actor(w):
    result = w.put(qty=5, reference="ASN-7")
    assert result.operation == "put" and not result.replayed
    change = result.changes[0]
    assert (change.location, change.sku, change.lot, change.before, change.after) == \
        ("A-1", "LOT-1", "L1", 0, 5)
    assert w.stock() == {("A-1", "LOT-1"): ("L1", 5)}
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.type, entry.delta, entry.qty_after, entry.reference) == ("put", 5, 5, "ASN-7")
    assert entry.user_id == w.packer.id and entry.station == "station-1"
    assert entry.lot.number == "L1"


def test_put_onto_the_same_lot_adds(w):
    w.put(qty=5)
    w.put(qty=3, location=" a-1 ", lot=" L1 ")  # scans are trimmed; codes are upper-cased
    assert w.stock() == {("A-1", "LOT-1"): ("L1", 8)}
    assert [(r[0], r[4], r[5]) for r in w.ledger()] == [("put", 5, 5), ("put", 3, 8)]


def test_put_of_a_second_lot_is_refused_naming_location_item_and_lot(w):
    w.put(lot="L1", qty=5)
    error = w.refused("location_holds_other_lot", "put", lot="L2", qty=2)
    assert "A-1" in error.message and "LOT-1" in error.message and "L1" in error.message
    assert error.details["held_lot"] == "L1"
    assert error.status == 422


def test_one_lot_per_item_not_per_location(w):
    w.put(sku="LOT-1", lot="L1")
    w.put(sku="LOT-2", lot="L2")  # another item's lot may share the location
    w.put(sku="PLAIN-1", lot=None)
    assert set(w.stock()) == {("A-1", "LOT-1"), ("A-1", "LOT-2"), ("A-1", "PLAIN-1")}


def test_the_same_lot_number_of_two_items_is_two_lots(w):
    w.put(sku="LOT-1", lot="SHARED")
    w.put(sku="LOT-2", lot="SHARED", location="A-2")
    assert len(db.session.scalars(select(Lot)).all()) == 2


@pytest.mark.parametrize("op", ["put", "pull", "move"])
def test_lotless_stock_of_a_tracked_item_needs_a_cycle_count(w, op):
    w.lotless_stock("A-1", "PLAIN-2", qty=4)
    listed = inventory.needs_cycle_count(db.session)
    assert [(i.location.code, i.item.sku, i.qty) for i in listed] == [("A-1", "PLAIN-2", 4)]
    error = w.refused("needs_cycle_count", op, sku="PLAIN-2", lot="NEW-LOT", qty=1)
    assert "A-1" in error.message and "PLAIN-2" in error.message


def test_move_to_lotless_stock_of_a_tracked_item_needs_a_cycle_count(w):
    w.lotless_stock("A-2", "PLAIN-2", qty=4)
    w.put(location="A-1", sku="PLAIN-2", lot="L9", qty=3)
    error = w.refused("needs_cycle_count", "move", sku="PLAIN-2", lot="L9", qty=1)
    assert "A-2" in error.message


def test_expiry_is_kept_on_the_lot_and_a_different_one_is_refused(w):
    w.put(lot="L1", qty=1, expiry=dt.date(2030, 1, 31))
    w.put(lot="L1", qty=1, expiry=dt.date(2030, 1, 31))
    w.put(lot="L1", qty=1)  # no expiry scanned: the lot's stays
    error = w.refused("expiry_mismatch", "put", lot="L1", qty=1, expiry=dt.date(2031, 1, 31))
    assert "2030-01-31" in error.message
    assert db.session.scalar(select(Lot.expiry)) == dt.date(2030, 1, 31)


def test_expiry_is_added_to_a_lot_that_had_none(w):
    w.put(lot="L1", qty=1)
    w.put(lot="L1", qty=1, expiry=dt.date(2030, 6, 1))
    assert db.session.scalar(select(Lot.expiry)) == dt.date(2030, 6, 1)


@pytest.mark.parametrize("scan", [GTIN, "0" + GTIN, f" {GTIN} "])
def test_a_gtin_scan_finds_the_item(w, scan):
    result = w.put(sku=scan, lot="L1", qty=2)
    assert result.changes[0].sku == "LOT-1"
    assert w.stock() == {("A-1", "LOT-1"): ("L1", 2)}


def test_a_gtin_that_is_not_on_any_item_is_unknown(w):
    w.refused("unknown_item", "put", sku="96385074")


# ---------------------------------------------------------------- pull (rule 4)


def test_pull_verifies_the_lot(w):
    w.put(lot="L1", qty=5)
    error = w.refused("lot_mismatch", "pull", lot="L2", qty=1)
    assert "L1" in error.message and "L2" in error.message
    assert error.details["held_lot"] == "L1"
    w.refused("lot_required", "pull", lot=None, qty=1)


def test_pull_removes_stock_and_writes_the_ledger(w):
    w.put(qty=5)
    result = w.pull(qty=2)
    assert (result.changes[0].before, result.changes[0].after) == (5, 3)
    assert w.stock() == {("A-1", "LOT-1"): ("L1", 3)}
    assert w.ledger()[-1][:6] == ("pull", "A-1", "LOT-1", "L1", -2, 3)


@pytest.mark.parametrize("held, asked", [(5, 6), (0, 1), (1, 1_000_000)])
def test_pull_of_more_than_is_there_is_refused(w, held, asked):
    if held:
        w.put(qty=held)
    error = w.refused("insufficient_quantity", "pull", qty=asked)
    assert error.details["available"] == held


def test_pull_of_a_plain_item_needs_no_lot_and_refuses_one(w):
    w.put(sku="PLAIN-1", lot=None, qty=5)
    w.refused("validation_error", "pull", sku="PLAIN-1", lot="L1", qty=1)
    w.pull(sku="PLAIN-1", lot=None, qty=1)
    assert w.stock() == {("A-1", "PLAIN-1"): (None, 4)}


def test_emptying_a_location_deletes_the_row_so_another_lot_may_be_put(w):
    w.put(lot="L1", qty=5)
    w.pull(lot="L1", qty=5)
    assert w.stock() == {}
    assert db.session.scalar(select(Inventory)) is None
    assert w.ledger()[-1][4:6] == (-5, 0)
    w.put(lot="L2", qty=1)
    assert w.stock() == {("A-1", "LOT-1"): ("L2", 1)}
    assert inventory.query_inventory(db.session, lot="L1") == []


# ---------------------------------------------------------------- move (rules 2 and 4)


def test_move_writes_move_out_and_move_in(w):
    w.put(location="A-1", lot="L1", qty=5)
    result = w.move(qty=2)
    assert result.operation == "move" and result.reference == "A-1 → A-2"
    assert [(c.location, c.before, c.after) for c in result.changes] == \
        [("A-1", 5, 3), ("A-2", 0, 2)]
    assert w.ledger()[-2:] == [
        ("move-out", "A-1", "LOT-1", "L1", -2, 3, "A-2"),
        ("move-in", "A-2", "LOT-1", "L1", 2, 2, "A-1"),
    ]
    assert w.stock() == {("A-1", "LOT-1"): ("L1", 3), ("A-2", "LOT-1"): ("L1", 2)}


def test_move_of_everything_empties_the_source(w):
    w.put(location="A-1", lot="L1", qty=5)
    w.put(location="A-2", lot="L1", qty=1)
    w.move(qty=5)
    assert w.stock() == {("A-2", "LOT-1"): ("L1", 6)}


def test_move_verifies_the_lot_at_the_source(w):
    w.put(location="A-1", lot="L1", qty=5)
    w.refused("lot_mismatch", "move", lot="L2", qty=1)
    w.refused("lot_required", "move", lot=None, qty=1)


def test_move_follows_rule_2_at_the_destination(w):
    w.put(location="A-1", lot="L1", qty=5)
    w.put(location="A-2", lot="L2", qty=5)
    error = w.refused("location_holds_other_lot", "move", lot="L1", qty=1)
    assert "A-2" in error.message and "L2" in error.message and "LOT-1" in error.message


@pytest.mark.parametrize("src, dst", [("A-1", "A-1"), ("A-1", " a-1 "), ("NOWHERE", "nowhere")])
def test_move_to_the_same_location_is_refused(w, src, dst):
    w.put(location="A-1", qty=5)
    error = w.refused("validation_error", "move", from_location=src, to_location=dst)
    assert error.details["field"] == "to_location"


@pytest.mark.parametrize("held, asked", [(5, 6), (0, 1)])
def test_move_of_more_than_is_there_is_refused(w, held, asked):
    if held:
        w.put(location="A-1", qty=held)
    w.refused("insufficient_quantity", "move", qty=asked)


def test_move_of_a_plain_item(w):
    w.put(location="A-1", sku="PLAIN-1", lot=None, qty=5)
    w.move(sku="PLAIN-1", lot=None, qty=5)
    assert w.stock() == {("A-2", "PLAIN-1"): (None, 5)}


# ---------------------------------------------------------------- cycle count (rules 3 and 5)


@pytest.mark.parametrize("start, counted", [(5, 8), (5, 2), (5, 5), (0, 4)])
def test_cycle_count_sets_the_quantity(w, start, counted):
    if start:
        w.put(qty=start)
    result = w.count(lot="L1", qty=counted)
    assert result.operation == "cycle-count"
    assert w.stock() == {("A-1", "LOT-1"): ("L1", counted)}
    assert w.ledger()[-1][:6] == ("cycle-count", "A-1", "LOT-1", "L1", counted - start, counted)


@pytest.mark.parametrize("lot", [None, ""])
def test_cycle_count_above_zero_requires_a_lot_for_a_lot_item(w, lot):
    w.put(qty=5)
    w.refused("lot_required", "count", lot=lot, qty=3)


def test_cycle_count_refuses_a_lot_for_a_plain_item(w):
    w.put(sku="PLAIN-1", lot=None, qty=5)
    w.refused("validation_error", "count", sku="PLAIN-1", lot="L1", qty=3)
    w.refused("validation_error", "count", sku="PLAIN-1", lot="L1", qty=0)
    w.count(sku="PLAIN-1", lot=None, qty=3)
    assert w.stock() == {("A-1", "PLAIN-1"): (None, 3)}


def test_cycle_count_adds_a_lot_to_lotless_stock(w):
    w.lotless_stock("A-1", "PLAIN-2", qty=4)
    assert len(inventory.needs_cycle_count(db.session)) == 1
    w.count(sku="PLAIN-2", lot="NEW-LOT", qty=4)
    assert inventory.needs_cycle_count(db.session) == []
    assert w.stock() == {("A-1", "PLAIN-2"): ("NEW-LOT", 4)}
    # and now the location takes puts and pulls of that lot again
    w.put(sku="PLAIN-2", lot="NEW-LOT", qty=1)
    w.pull(sku="PLAIN-2", lot="NEW-LOT", qty=5)
    assert w.stock() == {}


def test_cycle_count_replaces_a_wrong_lot_with_two_ledger_rows(w):
    w.put(lot="L1", qty=5)
    result = w.count(lot="L2", qty=3)
    assert [(c.lot, c.before, c.after) for c in result.changes] == [("L1", 5, 0), ("L2", 0, 3)]
    assert w.ledger()[-2:] == [
        ("cycle-count", "A-1", "LOT-1", "L1", -5, 0, ""),
        ("cycle-count", "A-1", "LOT-1", "L2", 3, 3, ""),
    ]
    assert w.stock() == {("A-1", "LOT-1"): ("L2", 3)}


@pytest.mark.parametrize("lot", [None, "L1", "L9"])
def test_cycle_count_of_zero_empties_the_location(w, lot):
    w.put(lot="L1", qty=5)
    w.count(lot=lot, qty=0)
    assert w.stock() == {}
    assert w.ledger()[-1][:6] == ("cycle-count", "A-1", "LOT-1", "L1", -5, 0)
    w.put(lot="L2", qty=1)  # an empty location takes any lot


def test_cycle_count_of_zero_of_lotless_stock_empties_it(w):
    w.lotless_stock("A-1", "PLAIN-2", qty=4)
    w.count(sku="PLAIN-2", lot=None, qty=0)
    assert w.stock() == {} and inventory.needs_cycle_count(db.session) == []


# ---------------------------------------------------------------- PO putaway


def test_putaway_receives_against_the_po_line(w):
    result = w.putaway(qty=4)
    assert result.operation == "putaway" and result.reference == "PO-1"
    w.putaway(qty=6)
    line = db.session.scalar(select(PurchaseOrderLine).where(
        PurchaseOrderLine.item.has(Item.sku == "LOT-1")))
    db.session.refresh(line)
    assert (line.qty_received, line.remaining) == (10, 0)
    assert w.stock() == {("A-3", "LOT-1"): ("L1", 10)}
    assert w.ledger()[-1] == ("putaway", "A-3", "LOT-1", "L1", 6, 10, "PO-1")


def test_putaway_over_the_remaining_quantity_is_refused(w):
    w.putaway(qty=7)
    error = w.refused("over_receipt", "putaway", qty=4)
    assert error.details["remaining"] == 3 and "3" in error.message
    w.putaway(qty=3)  # exactly what is left is fine


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_a_supervisor_may_receive_more_than_ordered(w, who):
    actor = inventory.Actor(getattr(w, who), "desk")
    w.putaway(qty=12, allow_over_receipt=True, actor=actor)
    line = db.session.scalar(select(PurchaseOrderLine).where(
        PurchaseOrderLine.item.has(Item.sku == "LOT-1")))
    assert (line.qty_received, line.remaining) == (12, 0)
    w.refused("over_receipt", "putaway", qty=1)  # without asking again, nothing more


@pytest.mark.parametrize("user", ["packer", None])
def test_only_a_supervisor_may_ask_for_over_receipt(w, user):
    actor = inventory.Actor(w.packer if user else None, "st")
    error = w.refused("forbidden", "putaway", qty=2, allow_over_receipt=True, actor=actor)
    assert error.status == 403


def test_putaway_of_an_item_not_on_the_po(w):
    error = w.refused("not_on_purchase_order", "putaway", sku="LOT-2")
    assert "LOT-2" in error.message and "PO-1" in error.message


@pytest.mark.parametrize("po", ["PO-404", "", None])
def test_putaway_against_an_unknown_po(w, po):
    error = w.refused("unknown_purchase_order", "putaway", po_number=po)
    assert error.status == 404


def test_putaway_follows_rules_2_and_3(w):
    w.put(location="A-3", lot="L1", qty=1)
    w.refused("lot_required", "putaway", lot=None)
    w.refused("location_holds_other_lot", "putaway", lot="L2")
    w.refused("validation_error", "putaway", sku="PLAIN-1", lot="L1")
    w.putaway(sku="PLAIN-1", lot=None, qty=5, location="A-2")
    assert w.stock()[("A-2", "PLAIN-1")] == (None, 5)


# ---------------------------------------------------------------- what every transaction checks

OPS = ["put", "pull", "move", "count", "putaway"]


@pytest.fixture
def stocked(w):
    w.put(location="A-1", lot="L1", qty=10)
    return w


@pytest.mark.parametrize("op", OPS)
def test_every_transaction_succeeds_on_the_defaults(stocked, op):
    """The base case of the parametrised refusals below: only their one change refuses."""
    stocked.call(op)


@pytest.mark.parametrize("op, overrides", [
    *[(op, {"sku": "NOPE"}) for op in OPS],
    *[(op, {"sku": None}) for op in OPS],
])
def test_unknown_item(stocked, op, overrides):
    error = stocked.refused("unknown_item", op, **overrides)
    assert error.status == 404


@pytest.mark.parametrize("op, overrides", [
    ("put", {"location": "NOWHERE"}), ("pull", {"location": "NOWHERE"}),
    ("count", {"location": "NOWHERE"}), ("putaway", {"location": "NOWHERE"}),
    ("move", {"from_location": "NOWHERE"}), ("move", {"to_location": "NOWHERE"}),
    ("move", {"to_location": None}), ("move", {"to_location": ""}),
])
def test_unknown_location(stocked, op, overrides):
    error = stocked.refused("unknown_location", op, **overrides)
    assert error.status == 404
    if "NOWHERE" in overrides.values():
        assert "NOWHERE" in error.message


@pytest.mark.parametrize("op, overrides", [
    ("put", {"location": "OFF-1"}), ("pull", {"location": "off-1"}),
    ("count", {"location": "OFF-1"}), ("putaway", {"location": "OFF-1"}),
    ("move", {"from_location": "OFF-1"}), ("move", {"to_location": "OFF-1"}),
])
def test_inactive_location(stocked, op, overrides):
    error = stocked.refused("location_inactive", op, **overrides)
    assert "OFF-1" in error.message


BAD_QTYS = [0, -1, 1_000_001, "abc", True, None, 2.5, "1.5"]


@pytest.mark.parametrize("op", OPS)
def test_bad_quantity(stocked, op):
    """Every bad quantity is refused with a validation error (a count may be 0)."""
    bad = [q for q in BAD_QTYS if not (op == "count" and q == 0)] + [False, ""]
    for qty in bad:
        error = stocked.refused("validation_error", op, qty=qty)
        assert error.details["field"] == "qty", qty


@pytest.mark.parametrize("qty, expected", [(" 7 ", 7), ("1000000", 1_000_000), (3, 3)])
def test_quantity_as_scanned_text(w, qty, expected):
    w.put(qty=qty)
    assert w.stock()[("A-1", "LOT-1")] == ("L1", expected)


# ---------------------------------------------------------------- idempotency ("applies once")


@pytest.mark.parametrize("op", OPS)
def test_a_repeated_submission_is_replayed_and_writes_nothing(stocked, op):
    first = stocked.call(op, idempotency_key="tablet-7:0001")
    before = stocked.snapshot()
    again = stocked.call(op, idempotency_key="tablet-7:0001")
    assert again.replayed and not first.replayed
    assert again.changes == first.changes and again.operation == first.operation
    assert stocked.snapshot() == before
    rows = stocked.ledger(key="tablet-7:0001")
    assert len(rows) == len(first.changes)


@pytest.mark.parametrize("op, overrides", [
    ("put", {"qty": 6}), ("put", {"lot": "L2", "location": "A-2"}), ("put", {"sku": GTIN}),
    ("pull", {"qty": 2}), ("move", {"to_location": "A-3"}), ("count", {"qty": 4}),
    ("putaway", {"qty": 1}),
])
def test_the_same_key_with_other_parameters_is_refused(stocked, op, overrides):
    stocked.call(op, idempotency_key="tablet-7:0002")
    error = stocked.refused("idempotency_key_reused", op, idempotency_key="tablet-7:0002",
                            **overrides)
    assert error.status == 409


def test_the_same_key_for_another_operation_is_refused(stocked):
    stocked.put(idempotency_key="tablet-7:0003", qty=1)
    stocked.refused("idempotency_key_reused", "pull", idempotency_key="tablet-7:0003", qty=1)


@pytest.mark.parametrize("key", ["short", "has space-1234", "x" * 65, "semi;colon-123",
                                 "new\nline-1234"])
def test_a_malformed_key_is_refused(stocked, key):
    error = stocked.refused("validation_error", "put", idempotency_key=key)
    assert error.details["field"] == "idempotency_key"


def test_a_key_is_one_submission_whoever_sends_it(stocked):
    """Issue 17: another user's copy is "already done", a summary only, applied once."""
    first = stocked.put(idempotency_key="shared-key-1", qty=1)
    before = stocked.snapshot()
    other = inventory.Actor(stocked.supervisor, "st-2")
    result = stocked.put(idempotency_key="shared-key-1", qty=1, actor=other)
    assert result.replayed and result.code == "already_submitted"
    assert result.operation == first.operation and result.submitted_at is not None
    assert result.changes == [] and result.reference == ""
    assert stocked.snapshot() == before
    assert stocked.stock()[("A-1", "LOT-1")] == ("L1", 11)
    # Another request under it from the other user: "already done" too, never a 409 (a 409
    # for another request and a 200 for the same one would tell what the first one was).
    guess = stocked.put(idempotency_key="shared-key-1", qty=2, actor=other)
    assert guess.code == "already_submitted" and guess.changes == []
    assert stocked.snapshot() == before
    stocked.refused("idempotency_key_reused", "put", idempotency_key="shared-key-1", qty=2)


def test_a_refused_submission_does_not_use_up_its_key(w):
    w.refused("insufficient_quantity", "pull", qty=2, idempotency_key="retry-key-1")
    w.put(qty=5)
    result = w.pull(qty=2, idempotency_key="retry-key-1")
    assert not result.replayed
    assert w.stock()[("A-1", "LOT-1")] == ("L1", 3)


# ---------------------------------------------------------------- edge cases


def test_put_of_an_untracked_item_onto_its_old_lot(w):
    """Tracking switched off while a location still holds a lot of the item."""
    w.put(lot="L1", qty=5)
    item = db.session.scalar(select(Item).where(Item.sku == "LOT-1"))
    items_domain.update_item(db.session, item, require_lot=False)
    db.session.commit()
    w.pull(lot=None, qty=1)  # pull needs no lot now
    error = w.refused("location_holds_other_lot", "put", lot=None, qty=1)
    assert "None" not in error.message, error.message
    assert "A-1" in error.message and "LOT-1" in error.message and "L1" in error.message
    assert error.details["held_lot"] == "L1"
    # a cycle count clears the old lot; then puts without a lot add up again
    result = w.count(lot=None, qty=4)
    assert [(c.lot, c.before, c.after) for c in result.changes] == [("L1", 4, 0), (None, 0, 4)]
    w.put(lot=None, qty=1)
    assert w.stock() == {("A-1", "LOT-1"): (None, 5)}


def test_move_does_not_mix_an_old_lot_into_lotless_stock(w):
    """An untracked item's stock that still carries a lot keeps it apart from lot-less stock."""
    w.put(location="A-1", lot="L1", qty=5)
    item = db.session.scalar(select(Item).where(Item.sku == "LOT-1"))
    items_domain.update_item(db.session, item, require_lot=False)
    db.session.commit()
    w.put(location="A-2", lot=None, qty=2)
    error = w.refused("location_holds_other_lot", "move", lot=None, qty=1)
    assert "A-2" in error.message
    w.refused("location_holds_other_lot", "move", from_location="A-2", to_location="A-1",
              lot=None, qty=1)
    w.move(to_location="A-3", lot=None, qty=2)  # an empty destination takes it, lot and all
    assert w.stock()[("A-3", "LOT-1")] == ("L1", 2)


@pytest.mark.parametrize("op, overrides", [
    ("put", {"location": None}), ("pull", {"location": None}), ("count", {"location": None}),
    ("putaway", {"location": None}), ("move", {"from_location": None}),
    ("put", {"location": "  "}),
])
def test_a_missing_location_is_not_read_as_a_location_called_none(stocked, op, overrides):
    locations_domain.create_location(db.session, "NONE")
    db.session.commit()
    stocked.put(location="NONE", lot="L1", qty=10)
    error = stocked.refused("unknown_location", op, **overrides)
    assert "NONE" not in error.message
