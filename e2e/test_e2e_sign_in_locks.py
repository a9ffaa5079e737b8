"""A locked name does not lock out the station (issue 17, part 2): someone types wrong
passwords for pat until the name is locked; pat's tablet, which signed in as pat before,
still signs in; a supervisor on a phone opens Locked sign-ins and unlocks pat."""

from __future__ import annotations

import os

from playwright.sync_api import Browser, Page, expect

from e2e.conftest import DEMO, PHONE, TABLET, sign_in

SHOTS = os.environ.get("LOTLINE_E2E_SHOTS")  # a folder: screenshots to look at (not kept)


def _type_sign_in(page: Page, app_url: str, username: str, password: str):
    page.goto(app_url + "/login")
    for label, value in (("Username", username), ("Password", password)):
        field = page.get_by_label(label)
        field.click()
        field.press_sequentially(value)
    page.get_by_role("button", name="Sign in").click()


def test_the_tablet_signs_in_while_the_name_is_locked_and_a_supervisor_unlocks_it(
        page: Page, browser: Browser, app_url, browser_context_args):
    contexts = [browser.new_context(**{**browser_context_args, "viewport": TABLET})
                for _ in range(2)]
    tablet, stranger = (context.new_page() for context in contexts)
    try:
        sign_in(tablet, app_url, "pat")
        tablet.get_by_role("button", name="Sign out").click()
        expect(tablet.get_by_label("Username")).to_be_visible()

        for _ in range(5):
            _type_sign_in(stranger, app_url, "pat", "not-the-password")
            expect(stranger.get_by_role("alert")).to_contain_text("wrong password")
        _type_sign_in(stranger, app_url, "pat", DEMO["pat"])
        expect(stranger.get_by_role("alert")).to_contain_text("Too many failed sign-ins")

        sign_in(tablet, app_url, "pat")  # the device cookie: the tablet is not locked out
        expect(tablet.get_by_role("button", name="Sign out")).to_be_visible()

        page.set_viewport_size(PHONE)
        sign_in(page, app_url, "sam")
        page.locator("#main").get_by_role("link", name="Locked sign-ins").click()  # its tile
        row = page.locator("tr", has_text="pat")
        expect(row).to_contain_text("packer")
        expect(row.get_by_role("button", name="Unlock pat")).to_be_visible()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/locks-phone.png", full_page=True)
            page.set_viewport_size(TABLET)
            page.screenshot(path=f"{SHOTS}/locks-tablet.png", full_page=True)
        row.get_by_role("button", name="Unlock pat").click()
        expect(page.get_by_role("status")).to_contain_text("Unlocked sign-in for pat.")
        expect(page.get_by_text("No failed sign-ins")).to_be_visible()

        sign_in(stranger, app_url, "pat")  # unlocked: the right password gets in anywhere
    finally:
        for context in contexts:
            context.close()
