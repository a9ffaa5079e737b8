"""Pick and Pack at tablet size, typed as a wedge scanner types (the value, then Enter).

One whole order (SO-5001) is picked with the lot assumed from the location, then packed with
Require Lot/Serial at Pack on (a lot that differs from the picked one is recorded, flagged and
never blocks; serials are one per unit and never twice); the variants: the setting off (no
Lot step), a blocked pick (stock without a lot) ending in a recorded short, and a short pick
(found fewer) that puts the location on the Needs cycle count list.

All tests share one seeded database (one per module): each works on its own order, sets the
setting it relies on, and brings its order to the state it needs through the domain when an
earlier test has not (the pack test picks SO-5001 itself when run alone; the pick test needs
SO-5001 unpicked, so it comes first in the file).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen

TASK = re.compile(r"Go to (\S+): pick (\d+) × (\S+)(?: · lot (\S+))?")
SETTING = "require_lot_serial_at_pack"


# ---------------------------------------------------------------- helpers (database)

def _actor():
    from lotline.inventory import Actor

    return Actor(None, "e2e")


def set_pack_setting(in_app, on: bool) -> None:
    from lotline.settings import set_setting

    in_app(lambda session: set_setting(session, SETTING, on, None))


def create_order(in_app, number: str, lines: list[dict]) -> None:
    from lotline.orders import create_order as create

    in_app(lambda session: create(session, number, "E2E Test Customer", lines))


def pick_rest(session, number: str) -> None:
    """Pick whatever is left of ``number`` where the app directs (packing follows picking)."""
    from lotline import orders, picking

    while True:
        session.expire_all()
        task = picking.next_task(session, orders.get_order(session, number))
        if task is None:
            return
        assert task.location is not None and task.blocked is None, task.text
        picking.pick(session, order_number=number, location=task.location.code,
                     sku=task.line.item.sku, qty=task.qty, actor=_actor())


def ensure_picked(in_app, number: str) -> None:
    """Pick whatever is left of ``number`` (when a test runs alone)."""
    in_app(lambda session: pick_rest(session, number))


def qty_at(in_app, location: str, sku: str) -> int:
    from lotline import inventory

    def read(session):
        rows = inventory.query_inventory(session, location=location, sku=sku)
        return rows[0].qty if rows else 0

    return in_app(read)


def lot_at(in_app, location: str, sku: str) -> str | None:
    from lotline import inventory

    def read(session):
        rows = inventory.query_inventory(session, location=location, sku=sku)
        return rows[0].lot.number if rows and rows[0].lot else None

    return in_app(read)


def pick_lines(in_app, number: str) -> list[dict]:
    """Each pick of the order with its lot and the lot its location holds now."""
    from sqlalchemy import select

    from lotline.models import Inventory, Order, OrderLine, PickLine

    def read(session):
        picks = session.scalars(
            select(PickLine).join(OrderLine, OrderLine.id == PickLine.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.number == number).order_by(PickLine.id))
        out = []
        for p in picks:
            inv = session.scalar(select(Inventory).where(
                Inventory.location_id == p.location_id, Inventory.item_id == p.item_id)) \
                if p.location_id else None
            out.append({"sku": p.order_line.item.sku, "qty": p.qty, "qty_short": p.qty_short,
                        "location": p.location.code if p.location else None,
                        "lot_id": p.lot_id, "lot": p.lot.number if p.lot else None,
                        "inventory_lot_id": inv.lot_id if inv else None})
        return out

    return in_app(read)


def order_line(in_app, number: str, sku: str) -> dict:
    from lotline.orders import get_order

    def read(session):
        line = next(ln for ln in get_order(session, number).lines if ln.item.sku == sku)
        return {"qty": line.qty, "picked": line.qty_picked, "short": line.qty_short,
                "packed": line.qty_packed}

    return in_app(read)


def switch_user(page: Page, app_url: str, username: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    sign_in(page, app_url, username)


# ---------------------------------------------------------------- helpers (screens)

def pick_current_task(pick: ScanScreen, in_app) -> tuple[str, str, int, str | None]:
    """Follow the task shown: scan its location and item, confirm the prefilled quantity.
    Returns (location, sku, qty, lot shown)."""
    task = pick.page.get_by_test_id("pick-task")
    expect(task).to_have_text(TASK)
    location, qty, sku, lot = TASK.fullmatch(task.inner_text().strip()).groups()
    qty = int(qty)
    held = lot_at(in_app, location, sku)
    assert lot == held, f"the task shows lot {lot}, {location} holds {held}"
    before = qty_at(in_app, location, sku)

    pick.expect_step("location")
    pick.scan("Location", location)
    pick.expect_step("sku")
    pick.scan("Item", sku)
    pick.expect_step("qty")  # no Lot step on the pick screen, ever
    expect(pick.field("Lot")).to_have_count(0)
    expect(pick.field("Quantity")).to_have_value(str(qty))
    expect(pick.info).to_contain_text(
        f"lot {lot} (assumed from the location)" if lot else "no lot")
    pick.enter("Quantity")
    lot_part = f" · {lot}" if lot else ""
    expect(pick.result.locator(".result-line").first).to_have_text(
        f"{location} · {sku}{lot_part}: {before} → {before - qty}")
    return location, sku, qty, lot


# ---------------------------------------------------------------- Pick a whole order

def test_pick_a_whole_order_with_the_lot_assumed(page, app_url, in_app):
    sign_in(page, app_url, "pat")
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.expect_step("order")
    expect(pick.field("Order")).to_be_focused()
    pick.scan("Order", "SO-5001")
    expect(page.get_by_test_id("pick-panel")).to_contain_text("Order SO-5001")
    expect(page.get_by_test_id("pick-blocked")).to_have_count(0)

    done = {}
    for _ in range(3):
        location, sku, qty, lot = pick_current_task(pick, in_app)
        done[sku] = (location, qty, lot)
        if page.get_by_test_id("pick-done").count():
            break
    assert set(done) == {"VIT-C-500", "THERM-DIG-01", "GLOVE-NIT-M"}
    assert done["VIT-C-500"][1] == 3 and done["VIT-C-500"][2] is not None  # lot shown
    assert done["THERM-DIG-01"][2] is None and done["GLOVE-NIT-M"][2] is None
    expect(page.get_by_test_id("pick-done")).to_contain_text("Order SO-5001 is picked")
    expect(page.get_by_test_id("pick-task")).to_have_count(0)
    pick.expect_step("order")
    expect(pick.field("Order")).to_be_focused()

    picks = pick_lines(in_app, "SO-5001")
    assert len(picks) == 3
    for p in picks:
        assert p["qty_short"] == 0
        assert p["lot_id"] == p["inventory_lot_id"], p  # the lot is the location's
        assert (p["location"], p["qty"], p["lot"]) == done[p["sku"]], p


# ---------------------------------------------------------------- Pack, setting on

def test_pack_with_lot_serial_recording_on(page, app_url, in_app):
    ensure_picked(in_app, "SO-5001")  # (when the pick test did not run first)
    vit = next(p for p in pick_lines(in_app, "SO-5001") if p["sku"] == "VIT-C-500")
    picked_lot, picked_from = vit["lot"], vit["location"]
    recorded_lot = "VC99Z01"
    assert recorded_lot != picked_lot

    # A THERM-DIG-01 already packed elsewhere with serial TD-E2E-0001.
    def pack_serial_elsewhere(session):
        from lotline import orders, packing

        orders.create_order(session, "SO-E2E-TD", "E2E Test Customer",
                            [{"sku": "THERM-DIG-01", "qty": 1}])
        session.commit()
        pick_rest(session, "SO-E2E-TD")
        packing.pack(session, order_number="SO-E2E-TD", sku="THERM-DIG-01", qty=1,
                     serial="TD-E2E-0001", actor=_actor())

    in_app(pack_serial_elsewhere)

    # Admin → Settings: Require Lot/Serial at Pack on.
    set_pack_setting(in_app, False)
    sign_in(page, app_url, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_label("Require Lot/Serial at Pack").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Require Lot/Serial at Pack")).to_be_checked()
    expect(page.get_by_text("Require Lot/Serial at Pack is on;")).to_be_visible()
    switch_user(page, app_url, "pat")

    pack = ScanScreen(page, app_url, "/pack").open()
    pack.expect_step("order")
    pack.scan("Order", "SO-5001")
    panel = page.get_by_test_id("pack-panel")
    expect(panel).to_contain_text("Order SO-5001")
    pack.expect_step("sku")

    # An item that is not on the order.
    pack.scan("Item", "PARA-500-16")
    pack.expect_error("not_on_order", "sku")
    expect(pack.error).to_contain_text("PARA-500-16 is not on order SO-5001")

    # VIT-C-500: the Lot field is swapped in; a lot other than the one picked never blocks.
    pack.scan("Item", "VIT-C-500")
    pack.expect_step("lot")
    expect(pack.field("Lot")).to_be_focused()
    expect(pack.info).to_contain_text(f"Picked lot {picked_lot}")
    pack.scan("Lot", recorded_lot)
    pack.expect_step("qty")
    expect(pack.field("Quantity")).to_have_value("1")
    pack.scan("Quantity", "4")  # the order needs 3
    pack.expect_error("over_pack", "qty")
    expect(pack.error).to_contain_text("needs 3 more of VIT-C-500")
    pack.scan("Quantity", "3")
    pack.expect_result(
        f"Packed 3 × VIT-C-500 · lot {recorded_lot} into carton 1 (3 of 3)",
        re.compile(rf"^⚠ Lot {recorded_lot} is not the lot picked \({picked_lot}\)\."))
    expect(pack.result.locator(".warn-line")).to_contain_text("flagged for a supervisor")
    expect(panel.locator('tr[data-sku="VIT-C-500"] td[data-col="packed"]')).to_have_text("3 / 3")
    pack.expect_step("sku")
    expect(pack.field("Item")).to_be_focused()

    # THERM-DIG-01: one serial per unit, a serial already packed is refused.
    pack.scan("Item", "THERM-DIG-01")
    pack.expect_step("serial")
    expect(pack.field("Lot")).to_have_count(0)
    pack.scan("Serial", "TD-E2E-0001")
    pack.expect_error("duplicate_serial", "serial")
    expect(pack.error).to_contain_text("TD-E2E-0001")
    pack.scan("Serial", "TD-E2E-0002")
    pack.expect_result("Packed 1 × THERM-DIG-01 · serial TD-E2E-0002 into carton 1 (1 of 1)")
    expect(panel.locator('tr[data-sku="THERM-DIG-01"] td[data-col="packed"]')).to_have_text("1 / 1")
    expect(page.get_by_test_id("pack-complete")).to_have_count(0)

    # GLOVE-NIT-M: not lot-tracked, so no Lot step: the quantity directly.
    pack.scan("Item", "GLOVE-NIT-M")
    pack.expect_step("qty")
    expect(pack.field("Lot")).to_have_count(0)
    pack.scan("Quantity", "2")
    pack.expect_result("Packed 2 × GLOVE-NIT-M into carton 1 (2 of 2)",
                       "Order SO-5001 is completely packed. Scan CMD:CLOSE to close carton 1.")
    complete = page.get_by_test_id("pack-complete")
    expect(complete).to_contain_text("Order SO-5001 is completely packed")
    expect(panel.locator('tr[data-sku="GLOVE-NIT-M"] td[data-col="packed"]')).to_have_text("2 / 2")

    # Nothing more of it fits.
    pack.scan("Item", "GLOVE-NIT-M")
    pack.expect_error("over_pack", "sku")

    # Close the carton with its weight.
    weight = page.get_by_label("Weight (grams, optional)")
    weight.click()
    weight.press_sequentially("1250")
    weight.press("Enter")  # hands focus back to the scan field, keeping the weight
    expect(pack.field("Item")).to_be_focused()
    expect(weight).to_have_value("1250")
    pack.scan("CMD:CLOSE")
    pack.expect_result("Carton 1 closed. Order SO-5001 is packed: print its packing slip. "
                       "Scan the next order, or CMD:NEXT.")
    pack.expect_step("order")
    expect(pack.field("Order")).to_be_focused()
    expect(panel).to_contain_text("no carton open")
    expect(page.get_by_role("button", name=re.compile("Close carton"))).to_have_count(0)

    # The packing slip lists the recorded lot and the serial.
    complete.get_by_role("link", name="Print the packing slip").click()
    page.wait_for_url(re.compile(r"/pack/SO-5001/slip$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Packing slip · Order SO-5001")
    expect(page.get_by_role("heading", level=2)).to_have_text(["Carton 1 · 1250 g"])
    rows = page.locator(".slip tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="VIT-C-500").locator("td")).to_have_text(
        ["VIT-C-500", re.compile("Vitamin C"), "3", recorded_lot, ""])
    expect(rows.filter(has_text="THERM-DIG-01").locator("td")).to_have_text(
        ["THERM-DIG-01", re.compile("thermometer"), "1", "", "TD-E2E-0002"])
    expect(rows.filter(has_text="GLOVE-NIT-M").locator("td")).to_have_text(
        ["GLOVE-NIT-M", re.compile("Nitrile"), "2", "", ""])

    def pack_lines(session):
        from sqlalchemy import select

        from lotline.models import Item, PackLine

        return {sku: (lot, serial, mismatch, picked) for sku, lot, serial, mismatch, picked in
                session.execute(select(Item.sku, PackLine.recorded_lot, PackLine.serial,
                                       PackLine.lot_mismatch, PackLine.picked_lots)
                                .join(Item, Item.id == PackLine.item_id)
                                .where(PackLine.serial.is_not(None) | PackLine.recorded_lot
                                       .is_not(None)))}

    stored = in_app(pack_lines)
    assert stored["VIT-C-500"] == (recorded_lot, None, True, picked_lot)
    assert stored["THERM-DIG-01"][1] in ("TD-E2E-0001", "TD-E2E-0002")

    # The supervisor sees the location the lot was picked from on Needs cycle count.
    switch_user(page, app_url, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Needs cycle count") \
        .click()
    row = page.get_by_test_id("needs-count").locator("tbody tr") \
        .filter(has_text=picked_from).filter(has_text="VIT-C-500")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Lot {recorded_lot} was recorded at pack for SO-5001")


# ---------------------------------------------------------------- Pack, setting off

def test_pack_with_recording_off_asks_no_lot(page, app_url, in_app):
    set_pack_setting(in_app, False)
    ensure_picked(in_app, "SO-5003")
    para = next(p for p in pick_lines(in_app, "SO-5003") if p["sku"] == "PARA-500-16")
    assert para["lot"] is not None  # lot-tracked, picked with its lot

    sign_in(page, app_url, "pat")
    pack = ScanScreen(page, app_url, "/pack").open()
    pack.scan("Order", "SO-5003")
    pack.scan("Item", "PARA-500-16")
    pack.expect_step("qty")  # no Lot step
    expect(pack.field("Lot")).to_have_count(0)
    expect(pack.info).to_contain_text(f"Picked lot {para['lot']}")
    expect(page.locator('tr[data-sku="PARA-500-16"] td').nth(3)).to_have_text("lot")
    pack.scan("Quantity", "4")
    pack.expect_result("Packed 4 × PARA-500-16 into carton 1 (4 of 4)")
    expect(page.locator('tr[data-sku="PARA-500-16"] td[data-col="packed"]')).to_have_text("4 / 4")

    # A serial item asks for no serial either.
    pack.scan("Item", "PULSE-OX-03")
    pack.expect_step("qty")
    expect(pack.field("Serial")).to_have_count(0)
    assert order_line(in_app, "SO-5003", "PARA-500-16")["packed"] == 4


# ---------------------------------------------------------------- A blocked pick

def test_a_blocked_pick_is_skipped_and_recorded_short(page, app_url, in_app):
    sign_in(page, app_url, "pat")
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", "SO-5002")
    if order_line(in_app, "SO-5002", "OMEGA-3-90")["picked"] < 2:
        _, sku, _, lot = pick_current_task(pick, in_app)
        assert sku == "OMEGA-3-90" and lot is not None

    blocked = page.get_by_test_id("pick-blocked")
    expect(blocked).to_contain_text("D-01-01 holds ICE-PACK-01 without a lot")
    expect(blocked).to_contain_text("Cycle count D-01-01")
    expect(page.get_by_test_id("pick-task")).to_have_count(0)

    # Going there anyway: the item scan is refused, and the location asked for again.
    pick.expect_step("location")
    pick.scan("Location", "D-01-01")
    pick.expect_step("sku")
    pick.scan("Item", "ICE-PACK-01")
    pick.expect_error("pick_blocked", "location")
    expect(pick.error).to_contain_text("D-01-01 holds ICE-PACK-01 without a lot")
    assert qty_at(in_app, "D-01-01", "ICE-PACK-01") == 16

    pick.click("Skip location D-01-01")
    expect(pick.error).to_have_count(0)
    expect(blocked).to_contain_text("D-01-02 holds ICE-PACK-01 without a lot")
    pick.expect_step("location")
    expect(pick.field("Location")).to_be_focused()

    pick.click("Skip location D-01-02")
    expect(blocked).to_have_count(0)
    expect(page.get_by_test_id("pick-task")).to_have_text(
        "No stock left for ICE-PACK-01: 1 will be short.")
    pick.click("Record short: 1 × ICE-PACK-01")
    pick.expect_result("ICE-PACK-01: 1 short on order SO-5002.",
                       "Order SO-5002 is completely picked.")
    expect(page.get_by_test_id("pick-done")).to_contain_text("Order SO-5002 is picked")
    pick.expect_step("order")
    expect(pick.field("Order")).to_be_focused()

    assert order_line(in_app, "SO-5002", "ICE-PACK-01") == \
        {"qty": 1, "picked": 0, "short": 1, "packed": 0}
    assert qty_at(in_app, "D-01-01", "ICE-PACK-01") == 16
    assert qty_at(in_app, "D-01-02", "ICE-PACK-01") == 9


# ---------------------------------------------------------------- Found fewer

def test_found_fewer_puts_the_location_on_needs_cycle_count(page, app_url, in_app):
    create_order(in_app, "SO-E2E-SHORT", [{"sku": "ZINC-50", "qty": 5}])
    sign_in(page, app_url, "pat")
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", "SO-E2E-SHORT")
    task = page.get_by_test_id("pick-task")
    expect(task).to_have_text(TASK)
    location, qty, sku, lot = TASK.fullmatch(task.inner_text().strip()).groups()
    assert (sku, qty) == ("ZINC-50", "5")
    before = qty_at(in_app, location, sku)

    pick.scan("Location", location)
    pick.scan("Item", sku)
    pick.expect_step("qty")
    quantity = pick.field("Quantity")
    expect(quantity).to_have_value("5")
    expect(quantity).to_be_focused()
    pick.click("Short: found fewer")  # the button sends CMD:SHORT, as its barcode does
    expect(page.get_by_test_id("prompt")).to_have_text("Found fewer: type how many you found (0 if none)")
    expect(pick.field("Quantity")).to_be_focused()  # 5 prefilled, selected: 3 typed replaces it
    pick.scan("3")
    pick.expect_result(f"{location} · {sku} · {lot}: {before} → {before - 3}",
                       f"Short at {location}: found 3 of 5. {location} is on the Needs cycle count list.")
    assert qty_at(in_app, location, sku) == before - 3
    assert order_line(in_app, "SO-E2E-SHORT", sku)["picked"] == 3

    # The location in doubt is not suggested again: the rest is short.
    expect(task).to_have_text("No stock left for ZINC-50: 2 will be short.")
    expect(page.get_by_role("button", name="Record short: 2 × ZINC-50")).to_be_visible()
    pick.expect_step("location")
    expect(pick.field("Location")).to_be_focused()
