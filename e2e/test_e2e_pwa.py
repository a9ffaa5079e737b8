"""The pack station as an installed app (PWA), in Debian's Chromium at tablet size: the
manifest and its icons, the service worker controlling the page, the offline banner and
shell, offline refusal on a scan screen, the pack queue (offline scans land exactly once),
the camera button (with the browser's BarcodeDetector, and without it through the vendored
WebAssembly decoder), and a new release's worker replacing the old cache.

This module runs its own gunicorn (same set-up as conftest's ``server``) so that a test can
restart it as a "new release" on the same origin: the restarted server reports another
LOTLINE_ASSET_VERSION, so the browser sees a changed /sw.js, installs it, and its activate
must delete the old cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest
import segno
from playwright.sync_api import Page, expect

from blueprints import pwa
from e2e.conftest import BIN, ROOT, _free_port, _module_database, sign_in

QUEUED = "Offline — scans on this screen are queued"
REFUSED = "Offline — this screen needs the connection; what you typed is kept"
SETTING = "require_lot_serial_at_pack"


class Gunicorn:
    """The app under gunicorn on a fixed loopback port; ``restart`` keeps the origin."""

    def __init__(self, env: dict, tmp):
        self.env, self.tmp, self.port, self.proc = env, tmp, _free_port(), None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, version: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--no-control-socket", "-w", "2", "--preload", "-b",
             f"127.0.0.1:{self.port}", "--error-logfile", str(self.tmp / "error.log"),
             "app:create_app()"], cwd=ROOT, env={**self.env, "LOTLINE_ASSET_VERSION": version})
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "/sw.js", timeout=1) as response:
                    if version in response.read().decode():
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError((self.tmp / "error.log").read_text())
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            self.proc.wait(10)

    def restart(self, version: str) -> None:
        self.stop()
        self.start(version)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e-pwa")
    env = {**os.environ, "DATABASE_URL": _module_database(request.module.__name__, tmp),
           "LOTLINE_SECRET_KEY": "e2e-secret", "FLASK_APP": "app"}
    env.pop("TEST_DATABASE_URL", None)
    for args in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    gunicorn = Gunicorn(env, tmp)
    gunicorn.start("e2e-release-1")
    yield {"url": gunicorn.url, "env": env, "gunicorn": gunicorn}
    gunicorn.stop()


def wait_for_worker(page: Page) -> None:
    """The worker is installed and activated; after a reload it controls the page."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def cache_names(page: Page) -> list[str]:
    return page.evaluate("caches.keys()")


# ---------------------------------------------------------------- installable

def test_manifest_is_linked_and_installable(page, app_url):
    page.goto(app_url + "/login")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    assert page.locator('link[rel="apple-touch-icon"]').count() == 1
    response = page.request.get(app_url + href)
    assert response.ok and response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] == "Lotline" and manifest["short_name"]
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
    assert manifest["theme_color"] == "#0b5394" and manifest["background_color"]
    purposes = set()
    for icon in manifest["icons"]:
        if icon["type"] != "image/png":
            assert page.request.get(app_url + icon["src"]).ok
            continue
        width = int(icon["sizes"].split("x")[0])
        # decoded by the browser itself: the PNG is valid and has the declared size
        size = page.evaluate("""src => { const img = new Image(); img.src = src;
            return img.decode().then(() => [img.naturalWidth, img.naturalHeight]); }""", icon["src"])
        assert size == [width, width], icon["src"]
        purposes.add((icon["purpose"], width))
    assert purposes == {("any", 192), ("any", 512), ("maskable", 192), ("maskable", 512)}


# ---------------------------------------------------------------- worker, banner, shell

def test_worker_controls_the_page_and_offline_serves_the_shell(page, app_url, context):
    page.goto(app_url + "/login")
    wait_for_worker(page)
    assert cache_names(page) == ["lotline-e2e-release-1"]
    cached = page.evaluate("""caches.open('lotline-e2e-release-1').then(c => c.keys())
        .then(keys => keys.map(r => new URL(r.url).pathname))""")
    modules = {f"/static/js/{name}" for name in (*pwa.SCRIPT_MODULES, *pwa.LAZY_MODULES)}
    assert {"/offline", "/static/css/lotline.css", *modules,
            "/static/manifest.webmanifest", "/static/icons/icon-512.png"} <= set(cached)

    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_have_text("⚠ " + REFUSED)
    page.reload()
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    assert page.url == app_url + "/login"  # the shell answers for the page asked for

    context.set_offline(False)  # the shell reloads itself when the connection is back
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("offline-banner")).to_have_count(0)


def test_offline_submit_on_a_scan_screen_is_refused_and_kept(page, app_url, context):
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/put")
    field = page.get_by_label("Location", exact=True)
    expect(field).to_be_focused()
    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_have_text("⚠ " + REFUSED)
    expect(field).to_be_focused()
    page.keyboard.type("A-01-01")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("offline-refusal")).to_contain_text("Offline — not sent")
    expect(field).to_have_value("A-01-01")
    expect(field).to_be_focused()
    context.set_offline(False)
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    field.press("Enter")  # sent now, as typed
    expect(page.locator("#flow")).to_have_attribute("data-step", "sku")


# ---------------------------------------------------------------- the pack queue

def pack_lines(in_app, sku: str, order: str = "SO-5004") -> list[dict]:
    from sqlalchemy import select

    from lotline.models import Item, Order, OrderLine, PackLine

    def read(session):
        rows = session.execute(
            select(PackLine.qty, PackLine.recorded_lot, PackLine.serial)
            .join(OrderLine, PackLine.order_line_id == OrderLine.id)
            .join(Order, OrderLine.order_id == Order.id)
            .join(Item, PackLine.item_id == Item.id)
            .where(Order.number == order, Item.sku == sku))
        return [dict(qty=q, lot=lot, serial=serial) for q, lot, serial in rows]

    return in_app(read)


def pick_all(session, number: str) -> None:
    """Pick the whole order where the app directs (packing follows picking)."""
    from lotline import inventory, orders, picking

    while (task := picking.next_task(session, orders.get_order(session, number))) is not None:
        picking.pick(session, order_number=number, location=task.location.code,
                     sku=task.line.item.sku, qty=task.qty, actor=inventory.Actor(None, "e2e"))
        session.expire_all()


def gtin_of(in_app, sku: str) -> str:
    from lotline.items import find_item

    return in_app(lambda session: find_item(session, sku).gtin)


def scan(page: Page, text: str) -> None:
    """As a wedge scanner sends it: into the focused scan field, then Enter."""
    field = page.locator(":focus")
    expect(field).to_have_attribute("data-scan", "")
    field.press_sequentially(text)
    page.keyboard.press("Enter")


def test_pack_scans_queued_offline_land_exactly_once(page, app_url, context, in_app):
    """Offline, each scan is queued as scanned: an item scan is checked against the order's
    lines the page carries (on the order? units left?), then its lot or serial is asked; a
    GS1 label is queued unchecked. Back online the queue is sent in order; the server applies
    every rule and a refusal comes back red."""
    from lotline import inventory, orders, packing, settings
    from lotline.db import transaction

    in_app(lambda session: settings.set_setting(session, SETTING, True, None))
    in_app(lambda session: pick_all(session, "SO-5004"))
    label = f"(01){gtin_of(in_app, 'GAUZE-10X10')}(10)GZ-3302"
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/pack")
    flow = page.locator("#flow")
    expect(page.get_by_label("Order", exact=True)).to_be_focused()
    scan(page, "SO-5004")
    panel = page.get_by_test_id("pack-panel")
    expect(panel).to_have_attribute("data-order", "SO-5004")
    gauze, cuff = panel.locator('tr[data-sku="GAUZE-10X10"]'), panel.locator('tr[data-sku="BP-CUFF-02"]')

    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_have_text("⚠ " + QUEUED)
    expect(page.get_by_label("Item", exact=True)).to_be_focused()
    scan(page, "VIT-C-500")  # not a line of the order: refused on the device
    error = page.get_by_test_id("flow-error")
    expect(error).to_have_attribute("data-error-code", "not_on_order")
    expect(error).to_contain_text("VIT-C-500 is not an item on order SO-5004")
    expect(page.get_by_label("Item", exact=True)).to_be_focused()
    scan(page, "GAUZE-10X10")
    expect(flow).to_have_attribute("data-step", "lot")  # the page says it records a lot
    expect(page.get_by_test_id("step-info")).to_contain_text("checked when the connection is back")
    expect(page.get_by_label("Lot", exact=True)).to_be_focused()
    scan(page, "GZ-3302")
    queued = "Queued 1 × GAUZE-10X10 · lot GZ-3302 (waiting for the connection)"
    expect(page.get_by_test_id("result")).to_contain_text(queued)
    expect(page.get_by_test_id("offline-queue")).to_contain_text(queued)
    expect(gauze.locator('[data-col="packed"]')).to_have_text("0 / 2 (+1 queued)")
    expect(flow).to_have_attribute("data-step", "sku")
    # a serial item: Serial is asked; meanwhile another station packs that serial elsewhere
    scan(page, "BP-CUFF-02")
    expect(page.get_by_label("Serial", exact=True)).to_be_focused()
    scan(page, "SN-OFF-1")
    expect(page.get_by_test_id("offline-queue").locator("li")).to_have_count(2)
    expect(cuff.locator('[data-col="packed"]')).to_have_text("0 / 1 (+1 queued)")
    scan(page, "BP-CUFF-02")  # nothing left of it here: refused on the device, the server's words
    expect(error).to_have_attribute("data-error-code", "over_pack")
    expect(error).to_contain_text("Order SO-5004 needs 1 more of BP-CUFF-02")
    scan(page, label)  # a GS1 label: queued as scanned, read by the server later
    expect(page.get_by_test_id("result")).to_contain_text(
        f"Queued label {label} — checked when the connection is back")
    expect(page.get_by_test_id("offline-queue").locator("li")).to_have_count(3)

    def other_station_packs_the_serial(session):
        with transaction(session):
            orders.create_order(session, "SO-OFF-9", "Elsewhere",
                                [{"sku": "BP-CUFF-02", "qty": 1}])
        pick_all(session, "SO-OFF-9")
        packing.pack(session, order_number="SO-OFF-9", sku="BP-CUFF-02", serial="SN-OFF-1",
                     actor=inventory.Actor(None, "other"))

    in_app(other_station_packs_the_serial)
    payloads = page.evaluate("Lotline.queue()")
    assert [(p["sku"], p["lot"], p["serial"], p["qty"], p.get("scan")) for p in payloads] == [
        ("GAUZE-10X10", "GZ-3302", None, 1, None), ("BP-CUFF-02", None, "SN-OFF-1", 1, None),
        (None, None, None, None, label)]
    assert len({p["key"] for p in payloads}) == 3
    assert pack_lines(in_app, "GAUZE-10X10") == []

    context.set_offline(False)  # replayed in order
    results = page.get_by_test_id("replay-results")
    expect(results.locator("li")).to_have_count(3)
    expect(results.locator("li").nth(0)).to_contain_text(
        "Packed 1 × GAUZE-10X10 · lot GZ-3302 into carton 1 (1 of 2)")
    refused = results.locator(".replay-error")
    expect(refused).to_have_attribute("data-error-code", "duplicate_serial")
    expect(refused).to_contain_text("Serial SN-OFF-1 of BP-CUFF-02 is already packed")
    expect(refused).to_have_css("border-left-color", "rgb(179, 38, 30)")  # red, and marked ✖
    expect(refused).to_contain_text("✖ SO-5004 · BP-CUFF-02 · serial SN-OFF-1:")
    expect(results.locator("li").nth(2)).to_contain_text(
        "Packed 1 × GAUZE-10X10 · lot GZ-3302 into carton 1 (2 of 2)")
    expect(page.get_by_test_id("offline-queue")).to_have_count(0)
    expect(flow).not_to_have_attribute("data-offline", "pack")  # the server's flow again
    expect(gauze.locator('[data-col="packed"]')).to_have_text("2 / 2")
    assert page.evaluate("Lotline.queue()") == []
    assert pack_lines(in_app, "GAUZE-10X10") == [dict(qty=1, lot="GZ-3302", serial=None)] * 2

    # the same queued payload sent again (a replay whose answer was lost): applied once
    fields = ("order", "sku", "qty", "lot", "serial", "expiry", "key")
    again = page.evaluate("""body => fetch('/pack/replay', {method: 'POST',
        headers: {'Content-Type': 'application/json',
                  'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
        body: JSON.stringify(body)}).then(r => r.json().then(j => [r.status, j]))""",
                          {k: payloads[0][k] for k in fields})
    assert again[0] == 200 and again[1]["ok"] and again[1]["replayed"], again
    assert len(pack_lines(in_app, "GAUZE-10X10")) == 2
    # the device took the connection back: the next scan goes to the server as usual
    expect(page.get_by_label("Item", exact=True)).to_be_focused()
    scan(page, "GAUZE-10X10")
    expect(error).to_have_attribute("data-error-code", "over_pack")
    expect(flow).not_to_have_attribute("data-offline", "pack")


def picked_gauze_order(session, number, customer, qty):
    """Lot recording at pack on, and a picked order for ``qty`` of GAUZE-10X10."""
    from lotline import orders, settings
    from lotline.db import transaction

    with transaction(session):
        settings.set_setting(session, SETTING, True, None)
        orders.create_order(session, number, customer, [{"sku": "GAUZE-10X10", "qty": qty}])
    pick_all(session, number)


def test_a_queue_written_by_the_previous_release_is_sent(page, app_url, in_app):
    """A tablet updated with scans still queued: the previous release's queue (IndexedDB
    "lotline", store "packQueue", its entries exactly as it wrote them) is sent by this one."""
    in_app(lambda session: picked_gauze_order(session, "SO-OLD-1", "Old queue", 2))
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/lots")
    old = [{"key": "0d6c5f0e-4a8e-4c1e-9a55-000000000001", "order": "SO-OLD-1",
            "sku": "GAUZE-10X10", "qty": 1, "lot": "GZ-3302", "serial": None, "expiry": None,
            "user": "pat", "queuedAt": "2026-11-30T09:00:00.000Z"},
           {"key": "0d6c5f0e-4a8e-4c1e-9a55-000000000002", "order": "SO-OLD-1",
            "sku": "GAUZE-10X10", "qty": 1, "lot": "GZ-3302", "serial": None,
            "expiry": "2030-12-31", "user": "pat", "queuedAt": "2026-11-30T09:00:05.000Z"}]
    page.evaluate("""entries => new Promise((resolve, reject) => {
        const open = indexedDB.open("lotline", 1);
        open.onupgradeneeded = () => open.result.createObjectStore("packQueue",
            {keyPath: "seq", autoIncrement: true});
        open.onsuccess = () => {
            const tx = open.result.transaction("packQueue", "readwrite");
            entries.forEach(entry => tx.objectStore("packQueue").add(entry));
            tx.oncomplete = () => { open.result.close(); resolve(); };
            tx.onerror = () => reject(tx.error);
        };
    })""", old)
    page.reload()  # a Lotline screen opened with pat signed in sends the queue
    results = page.get_by_test_id("replay-results")
    expect(results.locator(".replay-ok")).to_have_text([
        "✔ Packed 1 × GAUZE-10X10 · lot GZ-3302 into carton 1 (1 of 2)",
        "✔ Packed 1 × GAUZE-10X10 · lot GZ-3302 into carton 1 (2 of 2)",
        "✔ Order SO-OLD-1 is completely packed. Scan CMD:CLOSE to close carton 1."])
    expect(results.locator(".replay-error")).to_have_count(0)
    assert page.evaluate("Lotline.queue()") == []
    assert pack_lines(in_app, "GAUZE-10X10", "SO-OLD-1") == [
        dict(qty=1, lot="GZ-3302", serial=None)] * 2


def test_pack_request_lost_on_the_network_is_queued_under_its_own_key(page, app_url, in_app):
    """The wifi drops while the browser still says it is online: the htmx request fails
    without an answer, the scan still in the field is queued under the form's own key (the
    server may have applied it), and it lands once when the connection is back."""
    in_app(lambda session: picked_gauze_order(session, "SO-NET-1", "Lost wifi", 1))
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/pack?order=SO-NET-1")
    flow = page.locator("#flow")
    item = page.get_by_label("Item", exact=True)
    expect(item).to_be_focused()
    page.keyboard.type("GAUZE-10X10")
    page.keyboard.press("Enter")
    expect(flow).to_have_attribute("data-step", "lot")  # the server's own step
    key = page.locator('#flow-form input[name="idem"]').input_value()
    page.route("**/pack", lambda route: route.abort("internetdisconnected"))
    lot = page.get_by_label("Lot", exact=True)
    expect(lot).to_be_focused()
    page.keyboard.type("GZ-3302")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("offline-banner")).to_have_text("⚠ " + QUEUED)
    expect(page.get_by_test_id("result")).to_contain_text(
        "Queued 1 × GAUZE-10X10 · lot GZ-3302 (waiting for the connection)")
    assert [p["key"] for p in page.evaluate("Lotline.queue()")] == [key]
    page.unroute("**/pack")
    page.evaluate("window.dispatchEvent(new Event('online'))")  # or the 5 s probe finds it
    expect(page.get_by_test_id("replay-results")).to_contain_text(
        "Packed 1 × GAUZE-10X10 · lot GZ-3302 into carton 1 (1 of 1)")
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    assert pack_lines(in_app, "GAUZE-10X10", "SO-NET-1") == [dict(qty=1, lot="GZ-3302", serial=None)]


# ---------------------------------------------------------------- camera

FAKE_CAMERA = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['code_128', 'data_matrix', 'qr_code']; }
  async detect() { return window.__code ? [{rawValue: window.__code, format: 'code_128'}] : []; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement('canvas'); canvas.width = 64; canvas.height = 48;
  canvas.getContext('2d').fillRect(0, 0, 64, 48);
  return canvas.captureStream(5);
};
"""


DECODER = "/static/vendor/barcode-detector-3.2.2/"
NO_DETECTOR = "This browser cannot read barcodes with the camera; use the scanner or type"

# No BarcodeDetector (as in Debian's Chromium, Firefox), and a "camera" that films a printed
# QR code: a canvas with the code's modules drawn from the matrix the test generates.
CAMERA_ON_A_QR_CODE = """
delete window.BarcodeDetector;
navigator.mediaDevices.getUserMedia = async () => {
  const rows = %s, scale = 8, quiet = 4;
  const canvas = document.createElement('canvas');
  canvas.width = 320; canvas.height = 240;
  const ctx = canvas.getContext('2d');
  const draw = () => {
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#000';
    rows.forEach((row, y) => row.forEach((dark, x) => {
      if (dark) ctx.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
    }));
  };
  draw();
  setInterval(draw, 100);  // keep frames coming
  return canvas.captureStream(10);
};
"""


def qr_rows(text: str) -> list[list[int]]:
    return [[int(bool(dark)) for dark in row] for row in segno.make_qr(text).matrix]


def test_camera_without_any_decoder_says_so(page, app_url, context):
    """No BarcodeDetector and the vendored decoder cannot be loaded (here: its module is
    refused): the overlay says so and closing it gives the scan field back."""
    page.add_init_script("delete window.BarcodeDetector;")
    context.route("**" + DECODER + "**", lambda route: route.abort())
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/put")
    page.get_by_role("button", name="Camera").click()
    dialog = page.get_by_role("dialog", name="Camera")
    expect(dialog).to_contain_text(NO_DETECTOR)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_label("Location", exact=True)).to_be_focused()


def test_camera_without_barcode_detector_decodes_with_the_vendored_wasm(page, app_url, context):
    """Without BarcodeDetector the camera still reads a code: the vendored polyfill (ES module)
    and zxing_reader.wasm are loaded from /static only when the camera opens, compile under
    the real CSP, decode the camera's frames, and the value fills Location and is submitted.
    Nothing is fetched from anywhere but the app (the polyfill's default is jsDelivr)."""
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))  # pages and worker
    page.add_init_script(CAMERA_ON_A_QR_CODE % json.dumps(qr_rows("A-01-01")))
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/put")
    expect(page.get_by_label("Location", exact=True)).to_be_focused()
    assert not [url for url in requests if DECODER in url]  # lazy: not on a scan screen's load
    assert page.evaluate("'BarcodeDetector' in window") is False
    with page.expect_response(lambda r: r.url.endswith(DECODER + "zxing_reader.wasm")) as wasm:
        page.get_by_role("button", name="Camera").click()
    assert wasm.value.ok and wasm.value.headers["content-type"] == "application/wasm"
    dialog = page.get_by_role("dialog", name="Camera")
    expect(dialog).to_have_count(0, timeout=10_000)  # decoded and closed
    flow = page.locator("#flow")
    expect(flow).to_have_attribute("data-step", "sku")  # the server accepted the location
    expect(page.get_by_role("list", name="Scanned so far")).to_contain_text("Location A-01-01")
    assert page.evaluate("'BarcodeDetector' in window") is False  # the "pure" build patches nothing
    fetched = {url.removeprefix(app_url) for url in requests if DECODER in url}
    assert {DECODER + name for name in ("ponyfill.js", "zxing-exported.js",
                                        "zxing_reader.wasm")} <= fetched
    external = [url for url in requests
                if not url.startswith(app_url + "/") and not url.startswith(("data:", "blob:"))]
    assert not external, external


def test_camera_decode_fills_the_field_and_submits(page, app_url):
    page.add_init_script(FAKE_CAMERA)
    sign_in(page, app_url, "pat")
    page.goto(app_url + "/put")
    page.get_by_role("button", name="Camera").click()
    dialog = page.get_by_role("dialog", name="Camera")
    expect(dialog).to_contain_text("Hold the barcode in front of the camera.")
    page.evaluate("window.__code = 'A-01-01'")
    expect(dialog).to_have_count(0)
    expect(page.locator("#flow")).to_have_attribute("data-step", "sku")
    expect(page.get_by_role("list", name="Scanned so far")).to_contain_text("Location A-01-01")


# ---------------------------------------------------------------- a new release

def test_new_release_worker_replaces_the_old_cache(page, app_url, server):
    page.goto(app_url + "/login")
    wait_for_worker(page)
    assert cache_names(page) == ["lotline-e2e-release-1"]
    server["gunicorn"].restart("e2e-release-2")  # same origin, a changed /sw.js
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    banner = page.get_by_test_id("update-banner")
    expect(banner).to_contain_text("A new version is ready — Reload")
    assert cache_names(page) == ["lotline-e2e-release-2"]  # activate deleted release 1's
    banner.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("update-banner")).to_have_count(0)
    version = page.evaluate("""new Promise(resolve => {
        navigator.serviceWorker.addEventListener('message', e => resolve(e.data.cache));
        navigator.serviceWorker.controller.postMessage('version'); })""")
    assert version == "lotline-e2e-release-2"
    assert json.loads(json.dumps(cache_names(page))) == ["lotline-e2e-release-2"]
