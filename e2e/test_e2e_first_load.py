"""PRODUCT.md's bar: the first load of a scan screen under 60 KB compressed, measured as the
bytes Chromium actually received (headers and bodies, as sent on the wire) for /put and
everything the page loads (HTML, JS, CSS, icons, manifest), in a fresh context with an empty
cache, signed in beforehand through the API request context so no asset is cached yet."""

import re

from playwright.sync_api import expect

from e2e.conftest import DEMO

BAR = 60 * 1024


def _sign_in_request(context, app_url):
    page = context.request.get(app_url + "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text()).group(1)
    answer = context.request.post(app_url + "/login", max_redirects=0, form={
        "username": "pat", "password": DEMO["pat"], "csrf_token": token})
    assert answer.status == 302


def first_load(browser, app_url, path):
    """Every response the page loaded: (url, bytes received, content-encoding)."""
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
        expect(page.get_by_label("Location")).to_be_focused()
        return [(url, received.get(rid, 0), headers.get("content-encoding", ""))
                for rid, (url, headers) in responses.items()]
    finally:
        context.close()


def test_first_load_of_put_is_under_60_kb_as_transferred_and_compressed(browser, app_url):
    rows = first_load(browser, app_url, "/put")
    total = sum(size for _, size, _ in rows)
    listing = "\n".join(f"{size:7} B {enc or '-':5} {url}" for url, size, enc in rows)
    print(f"\nFirst load of /put: {total} B transferred\n{listing}")
    assert any(url.endswith("/put") for url, _, _ in rows)
    assert any(url.endswith(".css") for url, _, _ in rows)
    assert any(url.endswith(".js") for url, _, _ in rows)
    for url, _, encoding in rows:
        if re.search(r"(/put|\.js|\.css)$", url):  # an icon under 500 B is sent as it is
            assert encoding in ("br", "gzip"), f"{url} came uncompressed"
    assert total < BAR, listing
