"""PRODUCT.md's bar: the first load of a scan screen under 60 KB compressed, measured as the
bytes Chromium actually received (headers and bodies, as sent on the wire) for /put, and
for /pack with an order on screen (what its offline queue needs included), and everything
the page loads (HTML, JS modules, CSS, icons, manifest), in a fresh context with an empty
cache, signed in beforehand through the API request context so no asset is cached yet."""

import re

import pytest
from playwright.sync_api import expect

from e2e.conftest import DEMO

BAR = 60 * 1024


def _sign_in_request(context, app_url):
    page = context.request.get(app_url + "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text()).group(1)
    answer = context.request.post(app_url + "/login", max_redirects=0, form={
        "username": "pat", "password": DEMO["pat"], "csrf_token": token})
    assert answer.status == 302


def first_load(browser, app_url, path, label="Location"):
    """Every response the page loaded: (url, bytes received, content-encoding, body size as
    sent, when the server said)."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        _sign_in_request(context, app_url)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        responses, received = {}, {}
        cdp.on("Network.responseReceived", lambda e: responses.__setitem__(
            e["requestId"], (e["response"]["url"],
                             {k.lower(): v for k, v in e["response"]["headers"].items()})))
        cdp.on("Network.loadingFinished", lambda e: received.__setitem__(
            e["requestId"], e["encodedDataLength"]))
        page.goto(app_url + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        expect(page.get_by_label(label, exact=True)).to_be_focused()
        return [(url, received.get(rid, 0), headers.get("content-encoding", ""),
                 int(headers.get("content-length", 0)))
                for rid, (url, headers) in responses.items()]
    finally:
        context.close()


@pytest.mark.parametrize("path, label", [("/put", "Location"), ("/pack?order=SO-5004", "Item")])
def test_first_load_of_a_scan_screen_is_under_60_kb_as_transferred_and_compressed(
        browser, app_url, path, label):
    rows = first_load(browser, app_url, path, label)
    total = sum(size for _, size, _, _ in rows)
    listing = "\n".join(f"{size:7} B {enc or '-':5} {url}" for url, size, enc, _ in rows)
    print(f"\nFirst load of {path}: {total} B transferred\n{listing}")
    assert any(url.endswith(path) for url, _, _, _ in rows)
    assert any(url.endswith(".css") for url, _, _, _ in rows)
    assert any(url.endswith(".js") for url, _, _, _ in rows)
    for url, _, encoding, length in rows:
        # Flask-Compress sends a body under 500 B as it is (an icon, a 7-line module)
        if (url.endswith(path) or re.search(r"(\.js|\.css)$", url)) and \
                not (encoding == "" and 0 < length < 500):
            assert encoding in ("br", "gzip"), f"{url} came uncompressed"
    assert total < BAR, listing
