"""The scan screens as fragments: each POST is one scan (text + Enter), as htmx sends it."""

import re

import pytest
from sqlalchemy import func, select

from lotline import inventory, locations
from lotline.extensions import db
from lotline.models import Inventory, LedgerEntry
from tests.conftest import make_item


@pytest.fixture
def warehouse(app):
    for code in ("A-01", "A-02", "B-01"):
        locations.create_location(db.session, code)
    make_item("LOT-1", require_lot=True, gtin="4006381333931")
    make_item("PLAIN", require_lot=False)
    db.session.commit()
    inventory.put(db.session, location="A-01", sku="LOT-1", lot="L1", qty=10,
                  actor=inventory.Actor(None))


class Scanner:
    """Holds the flow's hidden state between scans, like the page does."""

    def __init__(self, browser, url):
        self.b, self.url = browser, url
        self.fields = {}
        self.html = browser.get(url, htmx=True).get_data(as_text=True)
        self._read()

    def _read(self):
        # the scan form's fields only: a supervisor's override form is a form of its own
        scan_form = re.sub(r'<form id="override-form".*?</form>', "", self.html, flags=re.S)
        self.fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                      scan_form))
        self.fields.pop("csrf_token", None)
        step = re.search(r'data-step="([^"]+)"', self.html)
        self.step = step.group(1) if step else None

    def scan(self, value, **extra):
        data = {**self.fields, self.step: value, **extra}
        self.response = self.b.post(self.url, data, htmx=True)
        self.html = self.response.get_data(as_text=True)
        assert "<html" not in self.html
        self._read()
        return self

    @property
    def error_code(self):
        match = re.search(r'data-error-code="([^"]+)"', self.html)
        return match.group(1) if match else None


def qty(code, sku="LOT-1"):
    return db.session.scalar(select(Inventory.qty).join(Inventory.location).join(Inventory.item)
                             .where(Inventory.location.has(code=code),
                                    Inventory.item.has(sku=sku)))


def test_put_walks_location_item_lot_quantity(as_role, warehouse):
    s = Scanner(as_role("packer"), "/put")
    assert s.step == "location" and 'data-scan' in s.html and 'inputmode="none"' in s.html
    assert s.scan("a-02").step == "sku"          # codes are case-insensitive
    assert s.scan("4006381333931").step == "lot"  # GTIN finds the item
    assert s.scan("L7").step == "qty"
    assert 'value="1"' in s.html                  # quantity defaults to 1
    s.scan("LOT-1")                               # a repeated item scan adds one
    assert s.step == "qty" and 'value="2"' in s.html
    s.scan("CMD:CONFIRM")
    assert s.response.status_code == 200 and s.step == "location"
    assert "A-02 · LOT-1 · L7: 0 → 2" in s.html and 'data-feedback="success"' in s.html
    assert qty("A-02") == 2


def test_put_second_lot_is_refused_and_asks_for_another_location(as_role, warehouse):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan("LOT-1").scan("L2")
    assert s.response.status_code == 422 and s.error_code == "location_holds_other_lot"
    assert "A-01 holds lot L1 of LOT-1. Put L2 in another location." in s.html
    assert s.step == "location" and s.fields["lot"] == "L2"  # lot kept, location asked again
    s.scan("B-01")
    assert s.step == "qty"
    s.scan("3")
    assert qty("B-01") == 3 and qty("A-01") == 10


def test_non_lot_item_skips_the_lot_step(as_role, warehouse):
    s = Scanner(as_role("packer"), "/put")
    s.scan("B-01").scan("PLAIN")
    assert s.step == "qty"
    s.scan("4")
    assert qty("B-01", "PLAIN") == 4


def test_pull_verifies_the_lot(as_role, warehouse):
    s = Scanner(as_role("packer"), "/pull")
    s.scan("A-01").scan("LOT-1").scan("WRONG")
    assert s.error_code == "lot_mismatch" and s.step == "lot"
    assert "A-01 holds lot L1 of LOT-1, not WRONG" in s.html
    s.scan("L1").scan("11")
    assert s.error_code == "insufficient_quantity" and s.step == "qty"
    s.scan("4")
    assert "A-01 · LOT-1 · L1: 10 → 6" in s.html and qty("A-01") == 6


def test_move_writes_both_sides(as_role, warehouse):
    s = Scanner(as_role("packer"), "/move")
    s.scan("A-01").scan("LOT-1").scan("L1").scan("4")
    assert s.step == "to_location"
    s.scan("A-01")
    assert s.error_code == "validation_error" and s.step == "to_location"
    assert "From and To are the same location. Scan another To location." in s.html  # as the API
    s.scan("A-02")
    assert "A-01 · LOT-1 · L1: 10 → 6" in s.html and "A-02 · LOT-1 · L1: 0 → 4" in s.html
    kinds = db.session.scalars(select(LedgerEntry.type).order_by(LedgerEntry.id)).all()
    assert kinds[-2:] == ["move-out", "move-in"]


def test_cycle_count_of_zero_needs_no_lot_and_empties(as_role, warehouse):
    s = Scanner(as_role("packer"), "/count")
    s.scan("A-01").scan("LOT-1").scan("0")
    assert "A-01 · LOT-1 · L1: 10 → 0" in s.html and qty("A-01") is None


def test_cycle_count_adds_a_lot_to_untracked_stock(as_role, warehouse):
    inventory.put(db.session, location="A-02", sku="PLAIN", lot=None, qty=5,
                  actor=inventory.Actor(None))
    item = db.session.scalar(select(Inventory).where(Inventory.qty == 5)).item
    item.require_lot = True
    db.session.commit()
    sup = as_role("supervisor")
    listing = sup.get("/needs-count").get_data(as_text=True)
    assert "A-02" in listing and "PLAIN" in listing
    s = Scanner(sup, "/count?location=A-02&sku=PLAIN")
    assert s.step == "qty" and "A-02 holds 5 of PLAIN" in s.html
    s.scan("5")
    assert s.step == "lot"
    s.scan("NEWLOT")
    assert "A-02 · PLAIN · NEWLOT: 0 → 5" in s.html
    assert "Nothing needs counting" in sup.get("/needs-count").get_data(as_text=True)


def test_receive_against_a_purchase_order(as_role, warehouse):
    inventory.create_purchase_order(db.session, "PO-7", "Acme", [{"sku": "LOT-1", "qty": 5}])
    db.session.commit()
    s = Scanner(as_role("packer"), "/receive")
    s.scan("po-7")
    assert s.step == "location" and "PO-7 (Acme) still to receive: LOT-1 5" in s.html
    s.scan("A-02").scan("PLAIN")
    assert s.error_code == "not_on_purchase_order"
    s.scan("LOT-1").scan("R1").scan("6")
    assert s.error_code == "over_receipt" and "Receive anyway" not in s.html
    s.scan("5")
    assert "A-02 · LOT-1 · R1: 0 → 5" in s.html


def test_supervisor_may_receive_beyond_the_line(as_role, warehouse):
    inventory.create_purchase_order(db.session, "PO-8", "Acme", [{"sku": "PLAIN", "qty": 2}])
    db.session.commit()
    s = Scanner(as_role("supervisor"), "/receive")
    s.scan("PO-8").scan("B-01").scan("PLAIN").scan("3")
    assert s.error_code == "over_receipt" and "Receive anyway (supervisor)" in s.html
    s.scan("", allow_over_receipt="1")
    assert "B-01 · PLAIN: 0 → 3" in s.html


def test_supervisor_lets_an_over_receipt_through_by_scan(as_role, warehouse):
    inventory.create_purchase_order(db.session, "PO-8", "Acme", [{"sku": "PLAIN", "qty": 2}])
    db.session.commit()
    s = Scanner(as_role("supervisor"), "/receive")
    s.scan("PO-8").scan("B-01").scan("PLAIN").scan("3")
    assert s.error_code == "over_receipt" and "scan <span class=\"command\">CMD:CONFIRM</span>" \
        " to receive 3 anyway" in s.html
    assert 'value="3"' in s.html  # the number refused is what the field shows
    s.scan("CMD:CONFIRM")
    assert s.error_code is None and "B-01 · PLAIN: 0 → 3" in s.html


def test_a_packer_cannot_force_an_over_receipt(as_role, warehouse):
    inventory.create_purchase_order(db.session, "PO-8", "Acme", [{"sku": "PLAIN", "qty": 2}])
    db.session.commit()
    s = Scanner(as_role("packer"), "/receive")
    s.scan("PO-8").scan("B-01").scan("PLAIN").scan("3")
    assert s.error_code == "over_receipt" and "qty_override" not in s.html
    db.session.rollback()
    before = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    s.scan("CMD:CONFIRM", override="allow_over_receipt", qty_override="3")  # forged
    assert s.error_code == "forbidden"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == before


def test_cancel_and_redo(as_role, warehouse):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan("LOT-1")
    assert s.step == "lot"
    s.scan("", redo="location")
    assert s.step == "location" and s.fields["sku"] == "LOT-1"
    s.scan("CMD:CANCEL")
    assert s.step == "location" and "sku" not in s.fields


def test_double_submit_applies_once(as_role, warehouse):
    b = as_role("packer")
    s = Scanner(b, "/put")
    s.scan("A-01").scan("LOT-1").scan("L1")
    final = {**s.fields, "qty": "2"}
    first = b.post("/put", final, htmx=True).get_data(as_text=True)
    second = b.post("/put", final, htmx=True).get_data(as_text=True)
    assert "10 → 12" in first and "already done" in second and "10 → 12" in second
    assert qty("A-01") == 12
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_a_submission_another_user_made_is_already_done_and_shows_nothing_of_it(as_role,
                                                                               warehouse):
    """Issue 17: the same submission (its key) from another user's screen is "already
    done": applied once, and the screen shows none of the first result's changes."""
    b = as_role("packer")
    s = Scanner(b, "/put")
    s.scan("A-01").scan("LOT-1").scan("L1")
    final = {**s.fields, "qty": "2"}
    first = b.post("/put", final, htmx=True).get_data(as_text=True)
    second = as_role("packer", "packer-two").post("/put", final, htmx=True) \
        .get_data(as_text=True)
    assert "10 → 12" in first
    assert "already done" in second and "Already done" in second and "10 → 12" not in second
    assert "packer1" not in second
    assert qty("A-01") == 12
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


@pytest.mark.parametrize("value, code", [("-3", "validation_error"), ("0", "validation_error"),
                                         ("99999999", "validation_error"),
                                         ("abc", "validation_error")])
def test_bad_quantities_change_nothing(as_role, warehouse, value, code):
    s = Scanner(as_role("packer"), "/put")
    s.scan("A-01").scan("LOT-1").scan("L1").scan(value)
    assert s.error_code == code and s.step == "qty" and qty("A-01") == 10


def test_missing_csrf_on_a_scan_changes_nothing(as_role, warehouse):
    b = as_role("packer")
    response = b.post("/put", {"location": "A-01", "sku": "LOT-1", "lot": "L1", "qty": "1"},
                      htmx=True, csrf=False)
    assert response.status_code == 400 and qty("A-01") == 10


def test_scanner_prefix_and_suffix_are_stripped(app, as_role, warehouse):
    app.config.update(SCAN_PREFIX="]Q", SCAN_SUFFIX="#")
    s = Scanner(as_role("packer"), "/put")
    assert s.scan("  ]QA-02#  ").step == "sku"


def test_location_lookup(as_role, warehouse):
    b = as_role("packer")
    body = b.post("/lookup", {"location": "a-01"}, htmx=True).get_data(as_text=True)
    assert "LOT-1" in body and "L1" in body and ">10<" in body
    bad = b.post("/lookup", {"location": "NOPE"}, htmx=True)
    assert bad.status_code == 422 and 'data-error-code="unknown_location"' in bad.get_data(True)


def test_station_is_written_on_ledger_rows(as_role, warehouse):
    b = as_role("packer")
    assert b.post("/station", {"name": "PACK-07"}).status_code == 302
    Scanner(b, "/put").scan("A-02").scan("PLAIN").scan("1")
    row = db.session.scalar(select(LedgerEntry).order_by(LedgerEntry.id.desc()))
    assert row.station == "PACK-07" and row.user.username == "packer1"


def test_needs_count_is_for_supervisors(as_role):
    assert as_role("packer").get("/needs-count").status_code == 403


def test_require_lot_switch_warns_about_untracked_stock(as_role, warehouse):
    inventory.put(db.session, location="B-01", sku="PLAIN", lot=None, qty=5,
                  actor=inventory.Actor(None))
    b = as_role("supervisor")
    plain = db.session.scalar(select(Inventory).where(Inventory.qty == 5)).item_id
    warn = b.post("/items/bulk", {"action": "require_lot", "item_id": plain}, htmx=True)
    assert "1 location(s) hold stock of the selected items without a lot" in warn.get_data(True)
    db.session.expire_all()
    assert db.session.get(Inventory.item.property.mapper.class_, plain).require_lot is False
    b.post("/items/bulk", {"action": "require_lot", "item_id": plain, "confirmed": "1"},
           htmx=True)
    db.session.expire_all()
    assert db.session.get(Inventory.item.property.mapper.class_, plain).require_lot is True


def test_edit_item_warns_before_require_lot_takes_effect(as_role, warehouse):
    inventory.put(db.session, location="B-01", sku="PLAIN", lot=None, qty=5,
                  actor=inventory.Actor(None))
    b = as_role("supervisor")
    data = {"sku": "PLAIN", "description": "", "gtin": "", "lot_at_pack": "follow",
            "require_lot": "y"}
    page = b.post("/items/PLAIN/edit", data).get_data(as_text=True)
    assert "1 location(s) hold PLAIN without a lot" in page
    assert b.post("/items/PLAIN/edit", {**data, "confirmed": "1"}).status_code == 302


@pytest.mark.parametrize("path, steps", [
    ("/pull", [("location", "A-01"), ("sku", "LOT-1"), ("lot", "L1"), ("qty", "10")]),
    ("/move", [("from_location", "A-01"), ("sku", "LOT-1"), ("lot", "L1"), ("qty", "10"),
               ("to_location", "B-01")]),
])
def test_a_resent_scan_that_already_applied_says_already_done(as_role, warehouse, path, steps):
    """Re-sent after it emptied the location, the same submission must not be re-checked
    (it would now be refused): it is answered with its first result."""
    b = as_role("packer")
    s = Scanner(b, path)
    for _, value in steps[:-1]:
        s.scan(value)
    final = {**s.fields, steps[-1][0]: steps[-1][1]}
    rows = lambda: db.session.scalar(select(func.count()).select_from(LedgerEntry))  # noqa: E731
    first = b.post(path, final, htmx=True)
    after_first = rows()
    again = b.post(path, final, htmx=True)
    assert first.status_code == again.status_code == 200
    assert "already done" in again.get_data(as_text=True) and qty("A-01") is None
    assert rows() == after_first
