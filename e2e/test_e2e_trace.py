"""Traceability on a supervisor's phone (360 px): look up a lot, open the recall report,
hold the lot, see a pick refuse it, release it, and see the pick take it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen


@pytest.fixture
def viewport():
    """Phone size only (overrides the tablet/phone parametrisation in conftest)."""
    return "phone"


def test_lot_lookup_recall_hold_and_release_on_a_phone(page, app_url, in_app, viewport):
    from lotline import orders

    in_app(lambda s: orders.create_order(s, "SO-TRACE", "Quay Pharmacy",
                                         [{"sku": "VIT-C-500", "qty": 2}], customer_ref="QP-1"))
    assert page.viewport_size["width"] == 360
    sign_in(page, app_url, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lot lookup").click()
    lot = page.get_by_label("Lot", exact=True)
    expect(lot).to_be_focused()  # a scan field: the scanner types where focus is
    page.keyboard.type("VC24A01")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("on-hand")).to_contain_text("A-01-01")
    expect(page.get_by_test_id("on-hand")).to_contain_text("VIT-C-500")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll

    page.get_by_role("link", name="Recall report").click()
    expect(page.get_by_role("heading", name="Lot VC24A01")).to_be_visible()
    expect(page.get_by_test_id("recall-customers")).to_contain_text("No customer received")
    page.go_back()

    reason = page.get_by_label("Why hold it")
    reason.click()
    reason.press_sequentially("Supplier recall R-7")
    page.get_by_role("button", name="Hold lot VC24A01").click()
    expect(page.get_by_test_id("lot-held")).to_be_visible()
    expect(page.get_by_test_id("lot-message")).to_contain_text("picks will skip it")

    # A picker on the same phone: the held lot's location is skipped, and refused at once if
    # scanned (it holds nothing else for the order), saying why and where to go.
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", "SO-TRACE")
    expect(page.get_by_test_id("pick-skipped")).to_contain_text(
        "Skipped A-01-01: Lot VC24A01 of VIT-C-500 is on hold (Supplier recall R-7; held by sam")
    expect(page.get_by_test_id("pick-task")).to_contain_text("A-01-02")
    pick.scan("Location", "A-01-01")
    pick.expect_error("nothing_to_pick_here", "location")
    expect(pick.error).to_contain_text("Lot VC24A01 of VIT-C-500 is on hold")
    expect(pick.error).to_contain_text("Go to A-01-02")

    page.goto(app_url + "/lots?lot=VC24A01")
    page.get_by_role("button", name="Release lot VC24A01").click()
    expect(page.get_by_test_id("lot-message")).to_contain_text("released")
    expect(page.get_by_test_id("lot-held")).to_have_count(0)

    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", "SO-TRACE")
    expect(page.get_by_test_id("pick-skipped")).to_have_count(0)
    pick.scan("Location", "A-01-01")
    pick.scan("Item", "VIT-C-500")
    pick.expect_step("qty")
    pick.scan("Quantity", "2")
    expect(pick.region.locator("[data-testid=result]")).to_contain_text("A-01-01")

    page.goto(app_url + "/lots?lot=VC24A01")
    expect(page.get_by_test_id("shipments")).to_contain_text("Quay Pharmacy")
    expect(page.get_by_test_id("history")).to_contain_text("hold")
    expect(page.get_by_test_id("history")).to_contain_text("release")
