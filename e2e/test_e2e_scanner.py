"""The station by scanner alone: what a packer with a scanner in one hand does, typed as the
scanner types it (characters, then Enter), with no tap.

What the packer does, step by step (the tests below do exactly this):
  Put: scan C-03-03, scan SCISS-BAND; the quantity shows 1, selected; type 5, Enter:
    "C-03-03 · SCISS-BAND: 20 → 25" (it was "20 → 71" when the typed 5 joined the 1).
  The same typed-over quantity on Receive, Pull, Move, Cycle Count, Pick and Pack.
  Pull: scan the item a second time at Quantity: it shows 2; Enter pulls 2.
  A bad quantity (0): red panel; scan CMD:CANCEL: back at the first step, nothing saved.
  Pick then pack a whole order without touching the screen: CMD:STATION:PACK-07 names the
  device; CMD:NEXT opens the oldest order; CMD:SKIP sends the picker elsewhere; CMD:SHORT
  then a typed number records what was found; CMD:SHORT again records the line short when
  no stock is left; at Pack, CMD:NEXT opens the order, items and typed quantities fill the
  carton, CMD:CLOSE closes it, and CMD:NEXT opens the next order.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import sign_in
from .pages import ScanScreen
from .test_e2e_pick_pack import _actor, pick_rest

NO_TAPS = """() => { window.__taps = 0;
  document.addEventListener('pointerdown', () => { window.__taps += 1; }, true); }"""


def taps(page: Page) -> int:
    return page.evaluate("window.__taps")


def open_screen(page: Page, app_url: str, path: str) -> ScanScreen:
    screen = ScanScreen(page, app_url, path).open()
    page.evaluate(NO_TAPS)
    return screen


def scan_all(screen: ScanScreen, *texts: str) -> None:
    for text in texts:
        screen.scan(text)


# Each flow: the scans before its quantity, the typed quantity, the scans after it, and the
# result lines that prove the typed number (not the prefilled one joined to it) was saved.
FLOWS = {
    "receive": ("/receive", ["PO-1001", "RCV-01", "GLOVE-NIT-M"], "5", [],
                ["RCV-01 · GLOVE-NIT-M: 0 → 5"]),
    "put": ("/put", ["C-03-03", "SCISS-BAND"], "5", [], ["C-03-03 · SCISS-BAND: 20 → 25"]),
    "pull": ("/pull", ["C-03-02", "TWEEZ-STEEL"], "3", [], ["C-03-02 · TWEEZ-STEEL: 25 → 22"]),
    "move": ("/move", ["C-01-04", "TAPE-MED-25"], "7", ["E-01-01"],
             ["C-01-04 · TAPE-MED-25: 100 → 93", "E-01-01 · TAPE-MED-25: 0 → 7"]),
    "count": ("/count", ["C-02-04", "COTTON-BALL-200"], "9", [],
              ["C-02-04 · COTTON-BALL-200: 30 → 9"]),
}


@pytest.mark.parametrize("flow", list(FLOWS))
def test_a_typed_quantity_replaces_the_prefilled_one(page: Page, app_url, flow):
    path, before, typed, after, lines = FLOWS[flow]
    sign_in(page, app_url, "pat")
    screen = open_screen(page, app_url, path)
    scan_all(screen, *before)
    screen.expect_step("qty")
    quantity = page.locator("#scan-qty")
    expect(quantity).to_be_focused()
    assert quantity.input_value() != ""  # prefilled (1): the typed number must replace it
    screen.scan(typed)
    scan_all(screen, *after)
    screen.expect_result(*lines)
    expect(screen.field("Quantity")).to_have_count(0)
    assert taps(page) == 0


def test_the_count_link_prefills_and_the_typed_count_replaces_it(page: Page, app_url):
    """Needs cycle count's link opens Count with its location and item; nothing is saved
    until the counter types the number and presses Enter."""
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/needs-count")
    link = page.get_by_role("link", name=re.compile(r"^Count D-01-01"))
    page.goto(app_url + link.get_attribute("href"))
    count = ScanScreen(page, app_url, "/count")
    count.expect_step("qty")
    expect(count.result).to_have_count(0)
    count.scan("16")
    count.expect_step("lot")
    count.scan("IP-2601")
    count.expect_result("D-01-01 · ICE-PACK-01: 16 → 0", "D-01-01 · ICE-PACK-01 · IP-2601: 0 → 16")


def test_the_item_scanned_again_adds_one(page: Page, app_url):
    sign_in(page, app_url, "pat")
    pull = open_screen(page, app_url, "/pull")
    scan_all(pull, "C-03-01", "LIP-BALM-SPF")
    expect(pull.field("Quantity")).to_have_value("1")
    pull.scan("LIP-BALM-SPF")
    pull.expect_step("qty")
    expect(pull.field("Quantity")).to_have_value("2")
    pull.scan("CMD:CONFIRM")
    pull.expect_result("C-03-01 · LIP-BALM-SPF: 90 → 88")
    assert taps(page) == 0


def test_a_quantity_error_then_cancel_by_scan(page: Page, app_url, in_app):
    sign_in(page, app_url, "pat")
    pull = open_screen(page, app_url, "/pull")
    scan_all(pull, "C-02-02", "GLOVE-NIT-L")
    pull.scan("0")
    pull.expect_error("validation_error", "qty")
    expect(pull.field("Quantity")).to_be_focused()
    pull.scan("CMD:CANCEL")
    pull.expect_step("location")
    expect(pull.chips).to_have_count(0)
    expect(pull.error).to_have_count(0)
    assert taps(page) == 0

    def on_hand(session):
        from lotline.inventory import query_inventory

        return [row.qty for row in query_inventory(session, location="C-02-02")]

    assert in_app(on_hand) == [40]


def test_a_whole_order_picked_and_packed_by_scanner_alone(page: Page, app_url, in_app):
    def prepare(session):
        from lotline import inventory
        from lotline.db import transaction
        from lotline.settings import REQUIRE_LOT_SERIAL_AT_PACK, set_setting

        with transaction(session):
            set_setting(session, REQUIRE_LOT_SERIAL_AT_PACK, False, None)
        # A second place holding PARA-500-16, so the picker can be sent elsewhere.
        inventory.put(session, location="E-01-02", sku="PARA-500-16", lot="PA-1187", qty=10,
                      actor=_actor())
        pick_rest(session, "SO-5004")  # another picked order, waiting to be packed

    in_app(prepare)
    sign_in(page, app_url, "pat")
    pick = open_screen(page, app_url, "/pick")

    # The device's station, by scan, at the first step.
    pick.scan("CMD:STATION:PACK-07")
    expect(page.get_by_test_id("station")).to_have_text("Station PACK-07")
    pick.expect_step("order")

    # CMD:NEXT: the oldest order with something to pick.
    pick.scan("CMD:NEXT")
    expect(page.get_by_test_id("pick-panel")).to_contain_text("Order SO-5001")
    # SO-5001 is the first demo order; pick it all, then ask for the next (SO-5002's ice
    # packs are blocked until counted, SO-5003 is the one with PARA-500-16).
    _pick_tasks_shown(pick, page)
    expect(page.get_by_test_id("pick-done")).to_contain_text("SO-5001")
    pick.expect_step("order")
    pick.scan("SO-5003")
    task = page.get_by_test_id("pick-task")
    expect(task).to_contain_text("PARA-500-16")
    first = _task_location(task)
    pick.scan("CMD:SKIP")
    expect(task).to_contain_text("PARA-500-16")
    second = _task_location(task)
    assert second != first
    pick.scan(second)
    pick.scan("PARA-500-16")
    pick.expect_step("qty")
    expect(pick.field("Quantity")).to_have_value("4")
    pick.scan("CMD:SHORT")
    expect(page.get_by_test_id("prompt")).to_contain_text("Found fewer")
    pick.scan("3")
    expect(pick.result).to_contain_text(f"Short at {second}: found 3 of 4.")
    # The short location's record is in doubt; the only place left is the one skipped, so
    # the picker is sent back there, and finds none either.
    expect(page.get_by_test_id("pick-panel")).to_contain_text(
        f"Every other location was skipped: back to {first}.")
    expect(task).to_contain_text(f"Go to {first}: pick 1 × PARA-500-16")
    pick.scan(first)
    pick.scan("PARA-500-16")
    pick.scan("CMD:SHORT")
    pick.scan("0")
    expect(pick.result).to_contain_text(f"Short at {first}: found 0 of 1.")
    # Nothing is left anywhere: the line is recorded short, by scan.
    expect(task).to_contain_text("No stock left for PARA-500-16: 1 will be short.")
    pick.scan("CMD:SHORT")
    expect(pick.result).to_contain_text("PARA-500-16: 1 short on order SO-5003.")
    _pick_tasks_shown(pick, page)
    expect(page.get_by_test_id("pick-done")).to_contain_text("SO-5003")

    assert taps(page) == 0

    # Pack: the oldest picked order first (SO-5001), then the next.
    pack = open_screen(page, app_url, "/pack")
    pack.expect_step("order")
    pack.scan("CMD:NEXT")
    panel = page.get_by_test_id("pack-panel")
    expect(panel).to_have_attribute("data-order", "SO-5001")
    pack.scan("VIT-C-500")
    pack.scan("3")
    pack.expect_result(re.compile(r"^Packed 3 × VIT-C-500 into carton 1"))
    pack.scan("THERM-DIG-01")
    pack.scan("CMD:CONFIRM")
    pack.scan("GLOVE-NIT-M")
    pack.scan("GLOVE-NIT-M")  # the item again: 2
    expect(pack.field("Quantity")).to_have_value("2")
    pack.scan("CMD:CONFIRM")
    prompt = page.get_by_test_id("prompt")
    expect(prompt).to_have_text("Order SO-5001 is complete. Scan CMD:CLOSE to close carton 1")
    _the_largest_text(page, prompt)
    pack.scan("CMD:CLOSE")
    expect(pack.result).to_contain_text("Carton 1 closed. Order SO-5001 is packed")
    pack.expect_step("order")
    pack.scan("CMD:NEXT")
    expect(panel).to_have_attribute("data-order", "SO-5003")
    pack.scan("PARA-500-16")
    pack.scan("3")
    pack.scan("PULSE-OX-03")
    pack.scan("2")
    pack.scan("MASK-FFP2-20")
    pack.scan("CMD:CONFIRM")
    expect(prompt).to_contain_text("Order SO-5003 is complete")
    pack.scan("CMD:CLOSE")
    pack.expect_step("order")
    pack.scan("CMD:NEXT")
    expect(panel).to_have_attribute("data-order", "SO-5004")
    assert taps(page) == 0

    def state(session):
        from sqlalchemy import select

        from lotline.models import Carton, Order, PickLine

        orders = {o.number: (o.status, o.packing_station) for o in session.scalars(select(Order))}
        open_cartons = session.scalars(select(Carton).where(Carton.status == "open")).all()
        stations = set(session.scalars(select(PickLine.station).where(PickLine.qty > 0)
                                       .where(PickLine.station != "e2e")))
        return orders, len(open_cartons), stations

    orders, open_cartons, stations = in_app(state)
    assert orders["SO-5001"] == ("packed", None) and orders["SO-5003"] == ("packed", None)
    assert orders["SO-5004"] == ("picked", "PACK-07")
    assert open_cartons == 0 and stations == {"PACK-07"}


def _task_location(task) -> str:
    match = re.search(r"Go to (\S+):", task.inner_text())
    assert match, task.inner_text()
    return match.group(1)


def _pick_tasks_shown(pick: ScanScreen, page: Page) -> None:
    """Follow each task shown as a picker does: the location, the item, the quantity shown."""
    task = page.get_by_test_id("pick-task")
    while task.count():
        text = task.inner_text()
        match = re.search(r"Go to (\S+): pick (\d+) × (\S+)", text)
        assert match, text
        location, qty, sku = match.groups()
        pick.scan(location)
        pick.scan(sku)
        expect(pick.field("Quantity")).to_have_value(qty)
        pick.scan("CMD:CONFIRM")
        expect(pick.error).to_have_count(0)


def _the_largest_text(page: Page, prompt) -> None:
    size = prompt.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    largest = page.evaluate("""() => Math.max(...[...document.querySelectorAll('body *')]
        .filter(el => el.offsetParent && el.childNodes.length
                && [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(el => parseFloat(getComputedStyle(el).fontSize)))""")
    assert size >= largest, (size, largest)
