"""Accessibility of the main screens at tablet size: axe-core (vendored for the tests only in
e2e/vendor/axe.min.js, MPL-2.0, never served by the app) finds no critical or serious
violation on sign-in, home, Put, Pack with an order (online, and offline with the banner and
the device's own step), the Items grid, Settings and the offline shell.

axe is evaluated through the DevTools protocol (page.evaluate), which the page's CSP does not
govern, so the pages are checked under their real CSP.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.conftest import sign_in

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")


def check(page: Page, screen: str) -> None:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("critical", "serious")]
    report = [f"{v['id']} ({v['impact']}): {v['help']} — "
              + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                          for n in v["nodes"][:5]) for v in bad]
    assert not bad, f"{screen}: " + "\n".join(report)


def test_sign_in_and_offline_shell(page, app_url):
    page.goto(app_url + "/login")
    check(page, "sign in")
    page.goto(app_url + "/offline")
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    check(page, "offline shell")


def test_packer_screens(page, app_url, context):
    sign_in(page, app_url, "pat")
    check(page, "home")
    page.goto(app_url + "/put")
    expect(page.get_by_label("Location", exact=True)).to_be_focused()
    check(page, "put")
    page.goto(app_url + "/pack?order=SO-5004")
    expect(page.get_by_test_id("pack-panel")).to_be_visible()
    check(page, "pack with an order")
    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    item = page.get_by_label("Item", exact=True)
    expect(item).to_be_focused()
    page.keyboard.type("GAUZE-10X10")  # as the scanner types, into the focused field
    page.keyboard.press("Enter")
    expect(page.locator("#flow")).to_have_attribute("data-offline", "pack")
    check(page, "pack offline (banner, the device's own step)")
    context.set_offline(False)


def test_supervisor_items_grid(page, app_url):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/items")
    expect(page.locator("#item-grid")).to_be_visible()
    check(page, "items grid")


def test_admin_settings(page, app_url):
    sign_in(page, app_url, "admin")
    page.goto(app_url + "/admin/settings")
    expect(page.get_by_label("Require Lot/Serial at Pack")).to_be_visible()
    check(page, "settings")
