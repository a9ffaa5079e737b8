"""The scan flows at tablet size, typed as a wedge scanner types (the value, then Enter):
Put, Pull, Move, Cycle Count (from Needs cycle count), Receive with the supervisor
override, cancel and chip redo, Location lookup, and a double submit.

All tests share one seeded database (one per module), so each uses its own locations
and items, or reads what it expects from the database first.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen
from lotline.demo import PRODUCTS, demo_gtin

VIT_C_GTIN = demo_gtin(next(n for n, p in enumerate(PRODUCTS, start=1) if p[0] == "VIT-C-500"))


def qty_at(in_app, location: str, sku: str) -> int:
    from lotline import inventory

    def read(session):
        rows = inventory.query_inventory(session, location=location, sku=sku)
        return rows[0].qty if rows else 0

    return in_app(read)


# ---------------------------------------------------------------- Put

def _put_lot_item(page, app_url, location: str, item_scan: str, lot: str) -> ScanScreen:
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.expect_step("location")
    put.scan("Location", location)
    put.expect_step("sku")
    expect(put.chips).to_have_text([f"Location {location}"])
    put.scan("Item", item_scan)
    put.expect_step("lot")
    put.scan("Lot", lot)
    put.expect_step("qty")
    expect(put.field("Quantity")).to_have_value("1")
    put.scan("Quantity", item_scan)  # the item scanned again adds one
    put.expect_step("qty")
    expect(put.field("Quantity")).to_have_value("2")
    field = put.field("Quantity")
    expect(field).to_be_focused()
    put._swapped(lambda: field.press("Enter"))
    put.expect_result(f"{location} · VIT-C-500 · {lot}: 0 → 2")
    put.expect_step("location")
    expect(put.field("Location")).to_be_focused()
    expect(put.field("Location")).to_have_value("")
    expect(put.chips).to_have_count(0)
    return put


def test_put_a_lot_into_an_empty_location_by_sku(page, app_url, in_app):
    _put_lot_item(page, app_url, "E-01-01", "VIT-C-500", "VC25E01")
    assert qty_at(in_app, "E-01-01", "VIT-C-500") == 2


def test_put_a_lot_into_an_empty_location_by_gtin(page, app_url, in_app):
    _put_lot_item(page, app_url, "E-01-04", VIT_C_GTIN, "VC25E04")
    assert qty_at(in_app, "E-01-04", "VIT-C-500") == 2


def test_put_a_second_lot_is_refused_and_another_location_is_one_scan(page, app_url):
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.scan("Location", "A-01-01")
    put.scan("Item", "VIT-C-500")
    put.scan("Lot", "VC25X99")
    put.expect_error("location_holds_other_lot")
    expect(put.error).to_contain_text("A-01-01")
    expect(put.error).to_contain_text("VIT-C-500")
    expect(put.error).to_contain_text("VC24A01")
    put.expect_step("location")
    expect(put.field("Location")).to_be_focused()
    expect(put.field("Location")).to_have_value("")
    expect(put.chips).to_have_text(["Item VIT-C-500", "Lot VC25X99"])
    put.scan("Location", "E-01-02")
    put.expect_step("qty")
    expect(put.error).to_have_count(0)
    expect(put.chips).to_have_text(["Location E-01-02", "Item VIT-C-500", "Lot VC25X99"])
    expect(put.field("Quantity")).to_be_focused()
    put.scan("Quantity", "3")
    put.expect_result("E-01-02 · VIT-C-500 · VC25X99: 0 → 3")


# ---------------------------------------------------------------- Pull

def test_pull_checks_the_lot_and_the_quantity(page, app_url, in_app):
    before = qty_at(in_app, "A-01-02", "VIT-C-500")
    sign_in(page, app_url, "pat")
    pull = ScanScreen(page, app_url, "/pull").open()
    pull.scan("Location", "A-01-02")
    pull.scan("Item", "VIT-C-500")
    pull.expect_step("lot")
    pull.scan("Lot", "VC24A01")  # the lot of A-01-01, not this one
    pull.expect_error("lot_mismatch")
    expect(pull.error).to_contain_text("VC24B07")
    pull.expect_step("lot")
    expect(pull.field("Lot")).to_be_focused()
    expect(pull.field("Lot")).to_have_value("")
    pull.scan("Lot", "VC24B07")
    pull.expect_step("qty")
    pull.scan("Quantity", "3")
    pull.expect_result(f"A-01-02 · VIT-C-500 · VC24B07: {before} → {before - 3}")
    expect(pull.field("Location")).to_be_focused()

    pull.scan("Location", "A-01-02")
    pull.scan("Item", "VIT-C-500")
    pull.scan("Lot", "VC24B07")
    pull.scan("Quantity", str(before))  # 3 fewer are left now
    pull.expect_error("insufficient_quantity")
    pull.expect_step("qty")
    expect(pull.field("Quantity")).to_be_focused()
    assert qty_at(in_app, "A-01-02", "VIT-C-500") == before - 3


def test_pull_of_stock_without_a_lot_needs_a_cycle_count(page, app_url):
    sign_in(page, app_url, "pat")
    pull = ScanScreen(page, app_url, "/pull").open()
    pull.scan("Location", "D-01-02")
    pull.scan("Item", "ICE-PACK-01")
    pull.expect_error("needs_cycle_count")
    expect(pull.error).to_contain_text("D-01-02")
    pull.expect_step("location")
    expect(pull.field("Location")).to_be_focused()


# ---------------------------------------------------------------- Move

def test_move_shows_both_changes(page, app_url):
    sign_in(page, app_url, "pat")
    move = ScanScreen(page, app_url, "/move").open()
    move.scan("From location", "A-01-03")
    move.scan("Item", "VIT-D3-1000")
    move.scan("Lot", "VD3-2407")
    move.expect_step("qty")
    move.scan("Quantity", "5")
    move.expect_step("to_location")
    move.scan("To location", "E-01-03")
    move.expect_result("A-01-03 · VIT-D3-1000 · VD3-2407: 30 → 25",
                       "E-01-03 · VIT-D3-1000 · VD3-2407: 0 → 5")
    move.expect_step("from_location")
    expect(move.field("From location")).to_be_focused()


def test_move_onto_another_lot_is_refused_and_asks_for_another_to_location(page, app_url,
                                                                           in_app):
    before = qty_at(in_app, "A-01-02", "VIT-C-500")
    sign_in(page, app_url, "pat")
    move = ScanScreen(page, app_url, "/move").open()
    move.scan("From location", "A-01-02")
    move.scan("Item", "VIT-C-500")
    move.scan("Lot", "VC24B07")
    move.scan("Quantity", "1")
    move.scan("To location", "A-01-01")  # holds VC24A01 of VIT-C-500
    move.expect_error("location_holds_other_lot")
    expect(move.error).to_contain_text("A-01-01")
    expect(move.error).to_contain_text("VC24A01")
    # The lot and quantity were right; the destination was wrong: ask for another one.
    move.expect_step("to_location")
    expect(move.field("To location")).to_be_focused()
    expect(move.chips).to_have_text(["From location A-01-02", "Item VIT-C-500", "Lot VC24B07",
                                     "Quantity 1"])
    assert qty_at(in_app, "A-01-02", "VIT-C-500") == before


def test_move_onto_stock_without_a_lot_asks_for_another_to_location(page, app_url, in_app):
    from lotline import inventory

    in_app(lambda session: inventory.put(session, location="D-02-01", sku="ICE-PACK-01",
                                         lot="IP-MV-01", qty=4,
                                         actor=inventory.Actor(None, "e2e")))
    sign_in(page, app_url, "pat")
    move = ScanScreen(page, app_url, "/move").open()
    move.scan("From location", "D-02-01")
    move.scan("Item", "ICE-PACK-01")
    move.scan("Lot", "IP-MV-01")
    move.scan("Quantity", "1")
    move.scan("To location", "D-01-02")  # 9 of ICE-PACK-01 without a lot
    move.expect_error("needs_cycle_count")
    expect(move.error).to_contain_text("D-01-02")
    # The source was fine; the destination was refused: ask for another To location.
    move.expect_step("to_location")
    expect(move.field("To location")).to_be_focused()
    assert qty_at(in_app, "D-02-01", "ICE-PACK-01") == 4


# ---------------------------------------------------------------- Cycle Count

def test_needs_cycle_count_leads_to_a_count_with_the_lot(page, app_url):
    sign_in(page, app_url, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Needs cycle count") \
        .click()
    table = page.get_by_test_id("needs-count")
    row = table.locator("tbody tr").filter(has_text="D-01-01")
    expect(row).to_contain_text("ICE-PACK-01")
    expect(row).to_contain_text("16")
    row.get_by_role("link", name="Count D-01-01").click()
    count = ScanScreen(page, app_url, "/count")
    count.expect_step("qty")
    expect(count.chips).to_have_text(["Location D-01-01", "Item ICE-PACK-01"])
    expect(count.field("Counted quantity")).to_be_focused()
    count.scan("Counted quantity", "15")
    count.expect_step("lot")
    count.scan("Lot", "IP-2501")
    expect(count.result).to_contain_text("D-01-01 · ICE-PACK-01 · IP-2501: 0 → 15")
    count.expect_step("location")
    expect(count.field("Location")).to_be_focused()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Needs cycle count") \
        .click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").filter(has_text="D-01-01")).to_have_count(0)
    expect(table.locator("tbody tr").filter(has_text="D-01-02")).to_contain_text("ICE-PACK-01")


# ---------------------------------------------------------------- Receive

def _receive(page, app_url, location: str, qty: str) -> ScanScreen:
    receive = ScanScreen(page, app_url, "/receive").open()
    receive.expect_step("po")
    receive.scan("Purchase order", "PO-1001")
    receive.expect_step("location")
    expect(page.get_by_test_id("step-info")).to_contain_text("GLOVE-NIT-M")
    receive.scan("Location", location)
    receive.expect_step("sku")
    receive.scan("Item", "GLOVE-NIT-M")
    receive.expect_step("qty")  # not lot-tracked: no Lot step
    expect(receive.chips).to_have_text(["Purchase order PO-1001", f"Location {location}",
                                        "Item GLOVE-NIT-M"])
    receive.scan("Quantity", qty)
    return receive


def test_receive_against_a_po_and_over_receipt_for_a_packer(page, app_url, in_app):
    sign_in(page, app_url, "pat")
    receive = _receive(page, app_url, "RCV-01", "5")
    receive.expect_result("RCV-01 · GLOVE-NIT-M: 0 → 5")
    receive.expect_step("po")
    expect(receive.field("Purchase order")).to_be_focused()

    receive.scan("Purchase order", "PO-1001")
    receive.scan("Location", "RCV-01")
    receive.scan("Item", "GLOVE-NIT-M")
    receive.scan("Quantity", "100")
    receive.expect_error("over_receipt")
    receive.expect_step("qty")
    expect(page.get_by_role("button", name="Receive anyway (supervisor)")).to_have_count(0)
    expect(receive.field("Quantity")).to_be_focused()
    assert qty_at(in_app, "RCV-01", "GLOVE-NIT-M") == 5


def test_receive_over_the_po_with_the_supervisor_override(page, app_url, in_app):
    sign_in(page, app_url, "sam")
    receive = _receive(page, app_url, "RCV-02", "100")
    receive.expect_error("over_receipt")
    receive.click("Receive anyway (supervisor)")
    receive.expect_result("RCV-02 · GLOVE-NIT-M: 0 → 100")
    assert qty_at(in_app, "RCV-02", "GLOVE-NIT-M") == 100


# ---------------------------------------------------------------- cancel and redo

def test_cmd_cancel_starts_over_from_any_step(page, app_url):
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.scan("Location", "A-01-01")
    put.scan("Item", "VIT-C-500")
    put.expect_step("lot")
    put.scan("Lot", "CMD:CANCEL")
    put.expect_step("location")
    expect(put.chips).to_have_count(0)
    expect(put.error).to_have_count(0)
    expect(put.field("Location")).to_be_focused()

    put.scan("Location", "A-01-01")
    put.scan("Item", "VIT-C-500")
    put.scan("Lot", "VC24A01")
    put.expect_step("qty")
    put.scan("Quantity", "CMD:CANCEL")
    put.expect_step("location")
    expect(put.chips).to_have_count(0)
    expect(put.result).to_have_count(0)


def test_a_chip_asks_for_that_step_again(page, app_url, in_app):
    before = qty_at(in_app, "B-03-02", "TAPE-MED-25")
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.scan("Location", "B-03-01")
    put.scan("Item", "TAPE-MED-25")
    put.expect_step("qty")
    put.chip("Location B-03-01")
    put.expect_step("location")
    expect(put.field("Location")).to_be_focused()
    expect(put.chips).to_have_text(["Item TAPE-MED-25"])
    put.scan("Location", "B-03-02")
    put.expect_step("qty")
    put.scan("Quantity", "2")
    put.expect_result(f"B-03-02 · TAPE-MED-25: {before} → {before + 2}")
    assert qty_at(in_app, "B-03-01", "TAPE-MED-25") == 0


# ---------------------------------------------------------------- Location lookup

def test_location_lookup(page, app_url, in_app):
    held = qty_at(in_app, "A-01-01", "VIT-C-500")
    sign_in(page, app_url, "pat")
    lookup = ScanScreen(page, app_url, "/lookup", region="#lookup").open()
    lookup.scan("Location", "A-01-01")
    row = page.get_by_test_id("location-contents").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text([re.compile("VIT-C-500"), "VC24A01",
                                            re.compile(r"\d{4}-\d\d-\d\d"), str(held)])
    expect(lookup.field("Location")).to_be_focused()

    lookup.scan("Location", "ZZ-99-99")
    expect(lookup.region).to_have_attribute("data-feedback", "error")
    alert = lookup.region.get_by_role("alert")
    expect(alert).to_have_attribute("data-error-code", "unknown_location")
    expect(alert).to_contain_text("ZZ-99-99")
    expect(page.get_by_test_id("location-contents")).to_have_count(0)
    expect(lookup.field("Location")).to_be_focused()


# ---------------------------------------------------------------- a double submit

def test_a_double_submit_changes_the_stock_once(page, app_url, in_app):
    from sqlalchemy import func, select

    from lotline.models import LedgerEntry

    before = qty_at(in_app, "C-03-03", "SCISS-BAND")
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.scan("C-03-03")  # scan(text): into whatever scan field has focus, as the scanner does
    put.expect_step("sku")
    put.scan("SCISS-BAND")
    put.expect_step("qty")
    quantity = put.field("Quantity")
    expect(quantity).to_be_focused()  # prefilled, and selected on focus: 4 replaces it
    page.keyboard.type("4")
    form = page.locator("#flow form")
    data = form.evaluate("f => Object.fromEntries(new FormData(f))")
    key = data["idem"]
    # Enter twice, quickly: the second request must not be sent (or must change nothing).
    put._swapped(lambda: form.evaluate("f => { f.requestSubmit(); f.requestSubmit(); }"))
    put.expect_result(f"C-03-03 · SCISS-BAND: {before} → {before + 4}")
    # The same form posted again (a retry after a lost answer): replayed, not applied.
    again = page.request.post(app_url + "/put", form=data, headers={"HX-Request": "true"})
    assert again.status == 200, again.text()
    assert "already done" in again.text()
    assert f"{before} → {before + 4}" in again.text()

    def ledger_rows(session):
        return session.scalar(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.idempotency_key == key))

    assert in_app(ledger_rows) == 1
    assert qty_at(in_app, "C-03-03", "SCISS-BAND") == before + 4
