"""A tablet opening Lotline over plain HTTP on the LAN, as a newcomer does after
``HOST=0.0.0.0 make run``. Chromium treats http://127.0.0.1 and http://localhost as secure
contexts (it keeps and sends Secure cookies there), so the tablet's view is reproduced with
a LAN-style host name that Chromium resolves to this machine's loopback server: for the
browser that origin is plain HTTP, exactly like http://192.168.1.20:8000."""

import os

import pytest
from playwright.sync_api import expect

LAN_HOST = "lotline.lan.test"


@pytest.fixture
def lan_page(playwright, server):
    browser = playwright.chromium.launch(
        executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        args=["--disable-gpu", f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1"])
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    yield context.new_page(), server["url"].replace("127.0.0.1", LAN_HOST)
    context.close()
    browser.close()


def test_sign_in_over_plain_http_on_the_lan_says_to_use_https_or_the_trial_variable(lan_page):
    page, url = lan_page
    page.goto(url + "/login")
    assert page.context.cookies() == []  # Chromium did not keep the Secure session cookie
    warning = page.locator('[data-error-code="https_needed"]')
    expect(warning).to_contain_text("Serve Lotline over HTTPS")
    expect(warning).to_contain_text("LOTLINE_INSECURE_COOKIES=1")
    for label, value in (("Username", "pat"), ("Password", "lotline-packer")):
        page.get_by_label(label).press_sequentially(value)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("HTTPS needed (400)")
    expect(page.get_by_role("alert")).to_contain_text("LOTLINE_INSECURE_COOKIES=1")
    expect(page.get_by_role("alert")).not_to_contain_text("Reload the page")


def test_the_same_sign_in_on_the_loopback_address_works_without_a_warning(page, app_url):
    page.goto(app_url + "/login")
    expect(page.locator('[data-error-code="https_needed"]')).to_have_count(0)
    for label, value in (("Username", "pat"), ("Password", "lotline-packer")):
        page.get_by_label(label).press_sequentially(value)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(app_url + "/")
