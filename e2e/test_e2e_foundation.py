"""Sign in, the Items grid's bulk Require Lot, Edit Item, the settings toggle, role limits."""

from playwright.sync_api import expect

from e2e.conftest import sign_in


def test_sign_in_shows_the_user_and_the_role_nav(page, app_url, viewport):
    sign_in(page, app_url, "sam")
    expect(page.get_by_test_id("who")).to_contain_text("sam (supervisor)")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Items")).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)


def test_bulk_require_lot_changes_only_the_selected_rows(page, app_url, viewport):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/items?q=GLOVE")
    rows = page.locator("#item-grid tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Select GLOVE-NIT-M").check()
    page.get_by_role("button", name="Require Lot", exact=True).click()
    # GLOVE-NIT-M has stock without a lot: the user is told before the switch takes effect.
    expect(page.get_by_test_id("bulk-confirm")).to_contain_text("1 location(s) hold stock of the selected items without a lot")
    expect(page.locator('tr[data-sku="GLOVE-NIT-M"] td[data-col="require_lot"]')).to_have_text("No")
    page.get_by_role("button", name="Require Lot anyway").click()
    expect(page.get_by_test_id("grid-message")).to_contain_text("1 of 1 selected item(s) now require")
    expect(page.locator('tr[data-sku="GLOVE-NIT-M"] td[data-col="require_lot"]')).to_have_text("Yes")
    expect(page.locator('tr[data-sku="GLOVE-NIT-L"] td[data-col="require_lot"]')).to_have_text("No")
    # and the inverse
    page.get_by_label("Select GLOVE-NIT-M").check()
    page.get_by_role("button", name="Clear Require Lot").click()
    expect(page.locator('tr[data-sku="GLOVE-NIT-M"] td[data-col="require_lot"]')).to_have_text("No")


def test_select_all_and_search_update_in_place(page, app_url, viewport):
    sign_in(page, app_url, "sam")
    page.goto(app_url + "/items")
    search = page.get_by_label("Search items")
    search.click()
    search.press_sequentially("VIT-")
    expect(page.locator("#item-grid tbody tr")).to_have_count(2)
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_label("Select VIT-C-500")).to_be_checked()
    expect(page.get_by_label("Select VIT-D3-1000")).to_be_checked()


def test_edit_item_require_lot_and_lot_at_pack(page, app_url, viewport):
    # One database serves the module: each viewport edits its own untracked item with stock.
    sku = {"tablet": "TAPE-MED-25", "phone": "COTTON-BALL-200"}[viewport]
    sign_in(page, app_url, "sam")
    page.goto(app_url + f"/items/{sku}/edit")
    page.get_by_label("Require Lot Number").check()
    page.get_by_label("Always record a lot at pack").check()
    page.get_by_role("button", name="Save", exact=True).click()
    # The item has stock without a lot: confirm before Require Lot takes effect.
    expect(page.get_by_test_id("require-lot-confirm")).to_contain_text(f"1 location(s) hold {sku} without a lot")
    page.get_by_role("button", name="Save and require lot anyway").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text(f"Saved {sku}")
    expect(page.get_by_label("Require Lot Number")).to_be_checked()
    expect(page.get_by_label("Always record a lot at pack")).to_be_checked()
    gtin = page.get_by_label("GTIN")  # holds the item's GTIN: select it all, type over it
    gtin.click()
    gtin.press("ControlOrMeta+a")
    gtin.press_sequentially("4006381333932")
    expect(gtin).to_have_value("4006381333932")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("wrong check digit")


def test_admin_toggles_require_lot_serial_at_pack(page, app_url, viewport):
    sign_in(page, app_url, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    box = page.get_by_label("Require Lot/Serial at Pack")
    was = box.is_checked()
    box.set_checked(not was)
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_label("Require Lot/Serial at Pack")).to_be_checked(checked=not was)
    expect(page.get_by_test_id("setting-changes")).to_contain_text("admin")


def test_packer_cannot_reach_settings(page, app_url, viewport):
    sign_in(page, app_url, "pat")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")) \
        .to_have_count(0)
    response = page.goto(app_url + "/admin/settings")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("Your role may not use this screen")
