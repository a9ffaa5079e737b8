"""The pack gate, as a packer meets it with a scanner: a held lot is refused at pack online,
a supervisor lets it through at the station, and a held lot packed offline is refused red
when the queue is replayed. Typed as a scanner types; the step-up form is typed too."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import sign_in
from .pages import ScanScreen
from .test_e2e_pwa import pick_all

SETTING = "require_lot_serial_at_pack"


def prepare(in_app, number: str, sku: str, lot_to_hold: str) -> None:
    from lotline import inventory, lots, orders, settings

    def work(session):
        settings.set_setting(session, SETTING, True, None)
        orders.create_order(session, number, "Gate Clinic", [{"sku": sku, "qty": 2}])
        session.commit()
        pick_all(session, number)
        lots.hold(session, number=lot_to_hold, sku=sku, reason="Recall R-12",
                  actor=inventory.Actor(None, "e2e"))

    in_app(work)


def type_into(page: Page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.click()
    field.press_sequentially(text)


def test_a_held_lot_is_refused_at_pack_and_a_supervisor_lets_it_through(page: Page, app_url,
                                                                        in_app):
    prepare(in_app, "SO-GATE-1", "GAUZE-10X10", "GZ-3302")
    sign_in(page, app_url, "pat")
    pack = ScanScreen(page, app_url, "/pack").open()
    pack.scan("SO-GATE-1")
    pack.scan("GAUZE-10X10")
    pack.expect_step("lot")
    pack.scan("GZ-3302")
    pack.scan("1")
    pack.expect_error("lot_on_hold", "lot")
    expect(pack.error).to_contain_text("Lot GZ-3302 of GAUZE-10X10 is on hold (Recall R-12")
    override = page.locator("#override-form")
    expect(override).to_contain_text("Supervisor only")
    type_into(page, "Supervisor username", "sam")
    type_into(page, "Supervisor password", "wrong-password")
    type_into(page, "Why it may leave", "QA cleared this carton")
    pack._swapped(lambda: override.get_by_role("button", name="Let it through (supervisor)")
                  .click())
    expect(pack.error).to_have_attribute("data-error-code", "bad_credentials")
    # the form stays with the name and reason typed; only the password is typed again
    expect(page.get_by_label("Supervisor username")).to_have_value("sam")
    expect(page.get_by_label("Why it may leave")).to_have_value("QA cleared this carton")
    expect(page.get_by_label("Supervisor password")).to_have_value("")
    type_into(page, "Supervisor password", "lotline-super")
    pack._swapped(lambda: page.locator("#override-form")
                  .get_by_role("button", name="Let it through (supervisor)").click())
    expect(pack.result).to_contain_text(
        "Let through by sam: lot on hold (QA cleared this carton).")
    pack.expect_step("sku")


def test_a_held_lot_packed_offline_is_refused_red_on_replay(page: Page, app_url, context,
                                                            in_app):
    prepare(in_app, "SO-GATE-2", "VIT-D3-1000", "VD3-2407")
    sign_in(page, app_url, "pat")
    pack = ScanScreen(page, app_url, "/pack").open()
    pack.scan("SO-GATE-2")
    expect(page.get_by_test_id("pack-panel")).to_have_attribute("data-order", "SO-GATE-2")
    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    for text in ("VIT-D3-1000", "VD3-2407"):
        field = page.locator(":focus")
        expect(field).to_have_attribute("data-scan", "")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    expect(page.get_by_test_id("offline-queue")).to_contain_text(
        "Queued 1 × VIT-D3-1000 · lot VD3-2407")
    context.set_offline(False)
    results = page.get_by_test_id("replay-results")
    expect(results.locator(".replay-error")).to_have_attribute("data-error-code", "lot_on_hold")
    expect(results.locator(".replay-error")).to_contain_text("is on hold (Recall R-12")
