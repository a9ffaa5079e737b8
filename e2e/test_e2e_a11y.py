"""Accessibility of every main screen at tablet (1024x768) and phone (390x844) size: axe-core
(vendored for the tests only in e2e/vendor/axe.min.js, MPL-2.0, never served by the app) finds
no critical or serious violation on sign-in, the offline shell, every screen in the menu of
each role (packer, supervisor, admin), every scan flow after each scan of a short run and after
a refused scan, and Pack offline (the banner and the device's own step).

axe is evaluated through the DevTools protocol (page.evaluate), which the page's CSP does not
govern, so the pages are checked under their real CSP.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
SIZES = {"tablet": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844}}
# Each scan flow: its path, its region, a short run of good scans, and a scan it refuses.
FLOWS = {
    "receive": ("/receive", "#flow", ["PO-1001", "RCV-01", "GLOVE-NIT-M"], "PO-9999"),
    "put": ("/put", "#flow", ["A-01-01", "VIT-C-500"], "ZZ-99-99"),
    "pull": ("/pull", "#flow", ["A-01-02", "VIT-C-500"], "ZZ-99-99"),
    "move": ("/move", "#flow", ["A-01-03", "VIT-D3-1000"], "ZZ-99-99"),
    "cycle count": ("/count", "#flow", ["D-01-01", "ICE-PACK-01"], "ZZ-99-99"),
    "pick": ("/pick", "#flow", ["SO-5001"], "SO-9999"),
    "pack": ("/pack", "#flow", ["SO-5004"], "SO-9999"),
    "location lookup": ("/lookup", "#lookup", ["A-01-01"], "ZZ-99-99"),
}


@pytest.fixture(params=list(SIZES))
def size(request):
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, size):
    return {**browser_context_args, "viewport": SIZES[size]}


def check(page: Page, screen: str) -> None:
    # the state after the answer: no request in flight (its indicator fading in is not a screen)
    expect(page.locator(".htmx-request")).to_have_count(0)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("critical", "serious")]
    report = [f"{v['id']} ({v['impact']}): {v['help']} — "
              + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                          for n in v["nodes"][:5]) for v in bad]
    assert not bad, f"{screen} at {page.viewport_size['width']} px: " + "\n".join(report)


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


@pytest.mark.parametrize("username", ["pat", "sam", "admin"])
def test_every_screen_in_the_menu(page, app_url, username):
    sign_in(page, app_url, username)
    check(page, f"home ({username})")
    menu = page.get_by_role("navigation", name="Main").get_by_role("link")
    entries = menu.evaluate_all("links => links.map(a => [a.textContent.trim(), a.href])")
    assert len(entries) >= 8
    for label, href in entries:
        response = page.goto(href)
        assert response.ok, f"{label}: {response.status}"
        expect(page.locator("main h1")).to_be_visible()
        check(page, f"{label} ({username})")


def test_screens_with_their_tables_filled(page, app_url):
    """The screens whose tables appear only with data: a lot's trace (its history table was a
    scroll box the keyboard could not reach), an order, Settings with a change row."""
    sign_in(page, app_url, "admin")
    page.goto(app_url + "/lots?lot=VC24A01")
    expect(page.get_by_test_id("history")).to_be_visible()
    check(page, "lot lookup with a lot")
    page.goto(app_url + "/orders/SO-5001")
    check(page, "order detail")
    page.goto(app_url + "/locations?q=A-0&page=2")
    check(page, "locations, searched, page 2")
    page.goto(app_url + "/admin/settings")
    zone = page.get_by_label("Warehouse time zone")
    zone.click()
    zone.press("Control+a")
    zone.press_sequentially("Europe/Amsterdam")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_test_id("setting-changes")).to_contain_text("Europe/Amsterdam")
    check(page, "settings with a change")


@pytest.mark.parametrize("flow", list(FLOWS))
def test_scan_flow_after_each_scan_and_after_an_error(page, app_url, flow):
    path, region, scans, refused = FLOWS[flow]
    sign_in(page, app_url, "pat")
    screen = ScanScreen(page, app_url, path, region=region).open()
    check(page, f"{flow}, opened")
    for text in scans:
        screen.scan(text)
        check(page, f"{flow}, after scanning {text}")
        if region == "#flow":  # "Sending…" is gone with the swap, not fading out under the prompt
            shown = page.locator("#flow .htmx-indicator").evaluate_all(
                "els => els.map(el => getComputedStyle(el).opacity)")
            assert shown and set(shown) == {"0"}, shown
    screen.open()
    screen.scan(refused)
    expect(screen.region.locator("[data-error-code]").first).to_be_visible()
    check(page, f"{flow}, after the refused scan {refused}")
