"""What the scan screens say about the location just scanned (issue 15, item 3), typed as a
wedge scanner types: Put shows what the location holds as soon as it is scanned; Pick refuses
at once a location that holds nothing for the order, and the picker follows its advice.

The tests share one seeded database (one per module) and work on locations, items and orders
of their own (H-…), set up through the domain. Screenshots of each state at tablet landscape,
tablet portrait and phone sizes go to test-results/hints/ (git ignores it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen

SHOTS = Path(__file__).resolve().parent.parent / "test-results" / "hints"
SIZES = {"landscape": {"width": 1024, "height": 768}, "portrait": {"width": 800, "height": 1280},
         "phone": {"width": 390, "height": 844}}


def _actor():
    from lotline.inventory import Actor

    return Actor(None, "e2e")


def _setup(in_app, tag: str) -> dict:
    """Locations H-<tag>-1 (two items), H-<tag>-2 (empty) and H-<tag>-3 (the only stock of
    the order's item), items H-<tag>-LOT (lot-tracked), H-<tag>-PLAIN and H-<tag>-PICK, and
    order SO-H<tag> for 3 × H-<tag>-PICK."""
    from lotline import inventory, items, locations, orders

    names = {"full": f"H-{tag}-1", "empty": f"H-{tag}-2", "stocked": f"H-{tag}-3",
             "lot_item": f"H-{tag}-LOT", "plain": f"H-{tag}-PLAIN", "item": f"H-{tag}-PICK",
             "lot": f"LH{tag}", "order": f"SO-H{tag}"}

    def make(session):
        for key in ("full", "empty", "stocked"):
            locations.create_location(session, names[key])
        items.create_item(session, sku=names["lot_item"], require_lot=True)
        items.create_item(session, sku=names["plain"])
        items.create_item(session, sku=names["item"])
        session.commit()
        for location, sku, lot, qty in ((names["full"], names["lot_item"], names["lot"], 12),
                                        (names["full"], names["plain"], None, 5),
                                        (names["stocked"], names["item"], None, 9)):
            inventory.put(session, location=location, sku=sku, lot=lot, qty=qty,
                          actor=_actor())
        orders.create_order(session, names["order"], "E2E Hints", [
            {"sku": names["item"], "qty": 3}])

    in_app(make)
    return names


def _qty_at(in_app, location: str, sku: str) -> int:
    from lotline import inventory

    def read(session):
        rows = inventory.query_inventory(session, location=location, sku=sku)
        return rows[0].qty if rows else 0

    return in_app(read)


def _in_view(page: Page, locator) -> None:
    """``locator`` lies inside the viewport (the packer sees it without scrolling)."""
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("size", list(SIZES))
def test_put_shows_what_the_location_holds_after_the_location_scan(page, app_url, in_app,
                                                                   size):
    names = _setup(in_app, {"landscape": "A", "portrait": "B", "phone": "C"}[size])
    page.set_viewport_size(SIZES[size])
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.expect_step("location")
    expect(put.info).to_have_count(0)

    put.scan("Location", names["full"].lower())  # scanned in lower case: the code is found
    put.expect_step("sku")
    expect(put.info).to_have_text(f"{names['full']} holds 12 of {names['lot_item']} "
                                  f"(lot {names['lot']}), 5 of {names['plain']}.")
    expect(put.field("Item")).to_be_focused()
    _in_view(page, put.field("Item"))
    _in_view(page, put.info)
    _shot(page, f"put-after-location-{size}")

    put.scan("Item", names["plain"])
    put.expect_step("qty")
    expect(put.info).to_have_text(f"{names['full']} holds 5 of {names['plain']}.")
    put.scan("Quantity", "2")
    put.expect_result(f"{names['full']} · {names['plain']}: 5 → 7")
    assert _qty_at(in_app, names["full"], names["plain"]) == 7

    put.scan("Location", names["empty"])
    put.expect_step("sku")
    expect(put.info).to_have_text(f"{names['empty']} is empty.")
    _shot(page, f"put-empty-location-{size}")


@pytest.mark.parametrize("size", list(SIZES))
def test_pick_refuses_an_empty_location_at_once_and_the_picker_follows_the_advice(
        page, app_url, in_app, size):
    names = _setup(in_app, {"landscape": "D", "portrait": "E", "phone": "F"}[size])
    page.set_viewport_size(SIZES[size])
    sign_in(page, app_url, "pat")
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", names["order"])
    pick.expect_step("location")
    go_to = f"Go to {names['stocked']}: pick 3 × {names['item']}"
    expect(page.get_by_test_id("pick-task")).to_have_text(go_to)

    pick.scan("Location", names["empty"])  # the wrong aisle: refused before any item scan
    pick.expect_error("nothing_to_pick_here", "location")
    expect(pick.error).to_have_text(
        f"✖ {names['empty']} holds nothing for order {names['order']}. {go_to}.")
    expect(pick.chips).to_have_text([f"Order {names['order']}"])  # the order is kept
    _shot(page, f"pick-refused-empty-{size}")
    _in_view(page, pick.field("Location"))

    # The picker reads where to go from the refusal and goes there.
    advised = re.search(r"Go to (\S+):", pick.error.inner_text()).group(1)
    assert advised == names["stocked"]
    pick.scan("Location", advised)
    pick.expect_step("sku")
    pick.scan("Item", names["item"])
    pick.expect_step("qty")
    expect(pick.field("Quantity")).to_have_value("3")
    pick.enter("Quantity")
    expect(pick.result.locator(".result-line").first).to_have_text(
        f"{names['stocked']} · {names['item']}: 9 → 6")
    expect(page.get_by_test_id("pick-done")).to_contain_text(f"Order {names['order']} is picked")
    assert _qty_at(in_app, names["stocked"], names["item"]) == 6


def test_pick_refuses_a_location_holding_only_other_items(page, app_url, in_app):
    """The location holds stock, but none of the order's items: refused at once too; the
    next location scanned is the one the refusal names."""
    names = _setup(in_app, "G")
    sign_in(page, app_url, "pat")
    pick = ScanScreen(page, app_url, "/pick").open()
    pick.scan("Order", names["order"])
    pick.scan("Location", names["full"])
    pick.expect_error("nothing_to_pick_here", "location")
    expect(pick.error).to_have_text(
        f"✖ {names['full']} holds nothing for order {names['order']}. "
        f"Go to {names['stocked']}: pick 3 × {names['item']}.")
    pick.scan("Location", names["stocked"])
    pick.expect_step("sku")
    expect(pick.error).to_have_count(0)
