"""Sign-ins that end, in the browser: an admin signs a packer out everywhere from the Users
screen, and the packer's tablet asks for the password at its next page.

What a supervisor does when a tablet goes missing: on a phone, Admin → Users → the packer →
"Sign out everywhere". The tablet that was signed in shows the sign-in page the next time
it loads anything; a scan screen left open is not usable any more.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from e2e.conftest import PHONE, TABLET, sign_in


def test_an_admin_signs_a_packer_out_everywhere_and_the_tablet_asks_for_the_password(
        page: Page, browser: Browser, app_url, browser_context_args):
    tablet_context = browser.new_context(**{**browser_context_args, "viewport": TABLET})
    tablet = tablet_context.new_page()
    try:
        sign_in(tablet, app_url, "pat")
        tablet.goto(app_url + "/put")
        expect(tablet.get_by_label("Location")).to_be_focused()

        page.set_viewport_size(PHONE)
        sign_in(page, app_url, "admin")
        page.goto(app_url + "/admin/users")
        page.get_by_role("link", name="Edit pat").click()
        expect(page.get_by_test_id("open-sessions")).to_contain_text(
            "pat is signed in on 1 browser.")
        page.get_by_role("button", name="Sign out everywhere").click()
        expect(page.get_by_role("status")).to_contain_text(
            "Signed pat out everywhere (1 sign-in ended).")
        expect(page.get_by_test_id("open-sessions")).to_contain_text("signed in on 0 browsers")

        tablet.goto(app_url + "/put")
        expect(tablet).to_have_url(re.compile(r"/login"))
        expect(tablet.get_by_label("Username")).to_be_visible()
        sign_in(tablet, app_url, "pat")  # the password still works: a new sign-in
        tablet.goto(app_url + "/put")
        expect(tablet.get_by_label("Location")).to_be_focused()
    finally:
        tablet_context.close()
