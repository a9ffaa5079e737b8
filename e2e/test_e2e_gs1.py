"""One GS1 scan fills item and lot — on Put, and at Pack with lot recording on. The scanner
types the GS1-128 string (with its ]C1 prefix and FNC1 as GS) and Enter."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen
from e2e.test_e2e_flows import VIT_C_GTIN

GS = "\x1d"
GTIN14 = VIT_C_GTIN.zfill(14)


def test_one_gs1_scan_fills_item_lot_expiry_and_quantity_on_put(page, app_url, in_app):
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    put.scan("Location", "E-01-02")
    put.scan("Item", f"]C101{GTIN14}10GS1-LOT{GS}17301231{GS}304")
    expect(put.region.locator("[data-testid=result]")).to_contain_text(
        "E-01-02 · VIT-C-500 · GS1-LOT: 0 → 4")

    def expiry(session):
        from sqlalchemy import select

        from lotline.models import Lot
        return session.scalar(select(Lot.expiry).where(Lot.number == "GS1-LOT"))

    assert str(in_app(expiry)) == "2030-12-31"


def test_one_gs1_scan_fills_item_and_lot_at_pack(page, app_url, in_app):
    from lotline import inventory, orders, picking, settings

    def prepare(session):
        settings.set_setting(session, "require_lot_serial_at_pack", True, None)
        orders.create_order(session, "SO-GS1", "Harbour Chemist", [{"sku": "VIT-C-500", "qty": 2}])
        session.commit()
        picking.pick(session, order_number="SO-GS1", location="A-01-02", sku="VIT-C-500",
                     qty=2, actor=inventory.Actor(None))

    in_app(prepare)
    sign_in(page, app_url, "pat")
    pack = ScanScreen(page, app_url, "/pack").open()
    pack.scan("Order", "SO-GS1")
    pack.scan("Item", f"]d201{GTIN14}10VC24B07")
    pack.expect_step("qty")  # item and lot came in one scan: straight to the quantity
    pack.scan("Quantity", "2")
    expect(pack.region.locator("[data-testid=result]")).to_contain_text(
        "Packed 2 × VIT-C-500 · lot VC24B07")
    expect(page.get_by_test_id("pack-complete")).to_be_visible()
