"""The supervisor's screens on a phone (390x844) and a tablet (1024x768): every screen in the
admin's menu fits the width (nothing scrolls the page sideways: wide tables scroll inside a
focusable, named region), the header and menu take less than 120 px of a phone before the
screen's own content, the header's station link and the tables' links are 48 px touch
targets, and Locations pages and searches first. Each screen is photographed into
e2e/screenshots/ (kept out of git) for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import sign_in

SHOTS = Path(__file__).parent / "screenshots"
SIZES = {"phone": {"width": 390, "height": 844}, "tablet": {"width": 1024, "height": 768}}
# Every screen in the admin's menu that is not a scan flow, as a supervisor opens it.
SCAN_FLOWS = {"/receive", "/put", "/pull", "/move", "/count", "/pick", "/pack"}
SUPERVISOR_SCREENS = {
    "home": "/",
    "ledger": "/ledger",
    "dashboard": "/dashboard",
    "lot-lookup": "/lots?lot=VC24A01",
    "needs-count": "/needs-count",
    "items": "/items",
    "locations": "/locations",
    "purchasing": "/purchase-orders",
    "orders": "/orders",
    "order-detail": "/orders/SO-5004",
    "location-lookup": "/lookup",
    "settings": "/admin/settings",
    "users": "/admin/users",
    "api tokens": "/admin/tokens",
    "sign-in locks": "/sign-in-locks/",
}


@pytest.fixture(params=list(SIZES))
def size(request):
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, size):
    return {**browser_context_args, "viewport": SIZES[size]}


def shot(page: Page, name: str, size: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"supervisor-{name}-{size}.png"))  # the first screen
    page.screenshot(path=str(SHOTS / f"supervisor-{name}-{size}-full.png"), full_page=True)


def sideways(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: it does not scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def menu_height(page: Page) -> float:
    """Pixels from the top of the page to the start of the screen's own content."""
    return page.evaluate("document.querySelector('main').getBoundingClientRect().top"
                         " + parseFloat(getComputedStyle(document.querySelector('main')).paddingTop)")


SMALL_TARGETS = """() => [...document.querySelectorAll(
    'a, button, summary, select, input:not([type=hidden]), label.check')]
  .filter(e => e.offsetParent !== null && !e.closest('p, .hint, label.check input'))
  .filter(e => !(e.matches('input[type=checkbox]') && e.closest('label.check')))
  .map(e => [e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 30),
             e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 47.5 || r.width < 47.5).map(([what, r]) =>
    `${what} (${Math.round(r.width)}x${Math.round(r.height)})`)
"""


def test_every_supervisor_screen_fits_and_is_photographed(page, app_url, size):
    sign_in(page, app_url, "admin")
    # a change row on Settings (its table scrolled the page sideways on a phone)
    page.goto(app_url + "/admin/settings")
    zone = page.get_by_label("Warehouse time zone")
    zone.click()
    zone.press("Control+a")
    zone.press_sequentially("America/Argentina/ComodRivadavia")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_test_id("setting-changes")).to_contain_text("America/Argentina")
    menu = page.get_by_role("navigation", name="Main").get_by_role("link").evaluate_all(
        "links => links.map(a => new URL(a.href).pathname)")
    listed = {path.split("?")[0] for path in SUPERVISOR_SCREENS.values()}
    assert set(menu) - SCAN_FLOWS <= listed, "a screen in the menu is not checked here"
    for name, path in SUPERVISOR_SCREENS.items():
        response = page.goto(app_url + path)
        assert response.ok, f"{name}: {response.status}"
        expect(page.locator("main h1")).to_be_visible()
        shot(page, name, size)
        assert sideways(page) <= 0, f"{name} scrolls sideways by {sideways(page)} px at {size}"
        if size == "phone":
            assert menu_height(page) < 120, f"{name}: the menu takes {menu_height(page)} px"
        # the station link and the user stay in the header, one tap from changing
        expect(page.get_by_test_id("station")).to_be_visible()
        expect(page.get_by_test_id("who")).to_contain_text("admin")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        # every link, button and field is a 48 px target (links inside a sentence excepted;
        # a checkbox's target is its label)
        small = page.evaluate(SMALL_TARGETS)
        assert not small, f"{name} at {size}: targets under 48 px: {small}"
        # every table that can overflow is a region the keyboard reaches, with a name
        for wrap in page.locator(".table-wrap").all():
            assert wrap.get_attribute("tabindex") == "0", f"{name}: a table box has no tabindex"
            assert wrap.get_attribute("aria-label"), f"{name}: a table box has no name"


@pytest.mark.parametrize("size", ["phone"], indirect=True)  # the one-row menu is the phone's
def test_menu_reaches_every_screen_by_keyboard_on_a_phone(page, app_url, size):
    sign_in(page, app_url, "admin")
    nav = page.get_by_role("navigation", name="Main")
    box = nav.bounding_box()
    assert box["height"] < 64, f"the menu is {box['height']} px tall, not one row"
    users = nav.get_by_role("link", name="Users")
    users.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(app_url + "/admin/users")
    current = page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")
    expect(current).to_have_attribute("aria-current", "page")
    expect(current).to_be_in_viewport()  # the menu scrolled to show where you are


def test_touch_targets_on_the_lists(page, app_url, size):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/items")
    sort = page.locator("#item-grid th a").first
    sku = page.locator("#item-grid td a").first
    for what, link in (("sort header", sort), ("SKU link", sku)):
        assert link.bounding_box()["height"] >= 48, f"{what} is under 48 px at {size}"
    page.goto(app_url + "/orders")
    order = page.locator("#order-table td a").first
    assert order.bounding_box()["height"] >= 48
    # a SKU never wraps mid-code: its cell is one line
    page.goto(app_url + "/items?sort=sku&dir=desc")
    first = page.locator("#item-grid tbody tr td a").first
    assert first.bounding_box()["height"] < 60  # one line of text in a 48 px target


def test_locations_search_first_and_pages(page, app_url, size):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/locations")
    count = page.get_by_test_id("location-count")
    expect(count).to_contain_text("page 1 of")
    rows = page.locator("#location-table tbody tr")
    assert rows.count() == 25
    page.get_by_role("navigation", name="Location pages").get_by_role("link", name="Next").click()
    expect(count).to_contain_text("page 2 of")
    search = page.get_by_label("Search locations")
    search.click()
    search.press_sequentially("A-01")
    expect(count).to_contain_text("matching “A-01”")
    expect(count).to_contain_text("page 1 of 1")
    assert all(code.startswith("A-01") for code in
               rows.evaluate_all("rs => rs.map(r => r.dataset.code)"))
    shot(page, "locations-search", size)
    assert sideways(page) <= 0


@pytest.mark.parametrize("size", ["phone"], indirect=True)  # on a tablet the ledger fits
def test_a_wide_table_scrolls_from_the_keyboard_on_a_phone(page, app_url, size):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/ledger")
    region = page.get_by_role("region", name="Ledger rows")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")  # wider than the phone
    page.get_by_role("link", name="Clear").focus()
    for _ in range(6):  # Tab from the filters' last button: Export CSV, then the table's box
        page.keyboard.press("Tab")
        if region.evaluate("el => el === document.activeElement"):
            break
    expect(region).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle(), timeout=3000)
    # the first column (the time) stays in view while the box scrolls
    first = page.locator("#ledger-results tbody tr").first.locator("td").first
    expect(first).to_be_in_viewport()
