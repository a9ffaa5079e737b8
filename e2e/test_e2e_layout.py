"""The scan flows laid out for the device in hand (issue 15): every flow walked by typing, as a
wedge scanner types, at 1024x768 and 1280x800 landscape, 800x1280 portrait and 390x844 phone.

After every swap (a scan answered, and at least one refusal per flow) the active scan field has
focus, and the field, the step's prompt and, on Pick, what the picker must do next lie inside the
viewport; the prompt is the largest text on screen, the field's text at least 20 px, every touch
target in the flow at least 48 px, and nothing scrolls sideways. In landscape the order panel of
Pick and Pack and the step sit side by side. "Sending…" is gone with the swap.

One browser page per size walks all seven flows. Each flow writes a screenshot after a scan and
after a refusal to e2e/screenshots/ (kept out of git) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import sign_in
from e2e.pages import ScanScreen

SHOTS = Path(__file__).parent / "screenshots"
SIZES = {  # name: (width, height, landscape side by side)
    "1024x768": (1024, 768, True),
    "1280x800": (1280, 800, True),
    "800x1280": (800, 1280, False),
    "390x844": (390, 844, False),
}
SETTING = "require_lot_serial_at_pack"


@pytest.fixture(params=list(SIZES))
def size(request):
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, request):
    if "size" not in request.fixturenames:
        return browser_context_args
    width, height, _ = SIZES[request.getfixturevalue("size")]
    return {**browser_context_args, "viewport": {"width": width, "height": height}}


# ---------------------------------------------------------------- what every swap must show

MEASURE = """() => {
  const flow = document.querySelector('#flow');
  // its box, and whether it is on top there (not under the sticky header) at its top, middle
  // and bottom (3 px in, on its vertical centre line)
  const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2, on = y => { const hit = document.elementFromPoint(x, y);
      return !!hit && (el === hit || el.contains(hit)); };
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height,
            onTop: on(r.top + 3) && on(r.top + r.height / 2) && on(r.bottom - 3)}; };
  const visible = el => { const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity) > 0 &&
           el.getClientRects().length > 0; };
  const prompt = document.querySelector('#flow [data-testid="prompt"]');
  // every visible text in the viewport, with its size (the prompt must be the largest)
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !visible(el) || el.closest('.default-submit')) continue;
    const r = el.getBoundingClientRect();
    if (r.bottom <= 0 || r.top >= innerHeight) continue;
    texts.push({text: node.textContent.trim().slice(0, 40), size: parseFloat(getComputedStyle(el).fontSize),
                prompt: !!(prompt && prompt.contains(el))});
  }
  // touch targets inside the flow
  const small = [];
  for (const el of flow.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    if (el.closest('.default-submit') || el.matches('.default-submit') || !visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.height < 48 || r.width < 48)
      small.push(`${el.tagName} ${(el.textContent || el.name || el.id).trim().slice(0, 30)}: ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  // a table wider than its box scrolls inside it, where a keyboard cannot reach
  const clipped = [...flow.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)
    .map(w => `${w.scrollWidth} px in ${w.clientWidth} px`);
  const field = document.activeElement;
  const next = document.querySelector('#flow [data-testid="pick-task"], #flow [data-testid="pick-blocked"]');
  const busy = document.querySelector('#flow .busy');
  return {
    viewport: {width: innerWidth, height: innerHeight},
    scrollWidth: document.documentElement.scrollWidth,
    step: flow.dataset.step || null,
    focused: field && field.matches('[data-scan]') ? field.id : (field ? field.tagName + '#' + field.id : null),
    field: box(field), fieldFont: field ? parseFloat(getComputedStyle(field).fontSize) : 0,
    prompt: box(prompt), next: box(next),
    error: box(document.querySelector('#flow [data-testid="flow-error"]')),
    panel: box(document.querySelector('#flow .order-panel')),
    stepBox: box(document.querySelector('#flow .step')),
    busyOpacity: busy ? parseFloat(getComputedStyle(busy).opacity) : 0,
    texts, small, clipped,
  };
}"""


def inside(box: dict, viewport: dict) -> bool:
    """Entirely inside the viewport, and not covered (by the header that stays on top)."""
    return (box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= viewport["height"]
            and box["right"] <= viewport["width"] and box["onTop"])


class Station(ScanScreen):
    """A scan screen at one size: every swap is checked for what the packer must see."""

    def __init__(self, page: Page, app_url: str, path: str, size: str):
        super().__init__(page, app_url, path)
        self.size, self.side_by_side = size, SIZES[size][2]
        self.name = path.strip("/")
        self.swaps = self.refusals = 0

    def open(self, query: str = "") -> Station:
        super().open(query)
        self.check("opened")
        return self

    def _swapped(self, action) -> None:
        super()._swapped(action)
        self.swaps += 1
        self.check(f"swap {self.swaps}")

    def check(self, when: str) -> dict:
        where = f"{self.name} at {self.size}, {when}"
        step = self.region.get_attribute("data-step")
        if step:
            expect(self.page.locator(f"#scan-{step}"), where).to_be_focused()
        m = self.page.evaluate(MEASURE)
        vp = m["viewport"]
        if step:
            assert m["focused"] == f"scan-{step}", f"{where}: focus on {m['focused']}"
            assert inside(m["field"], vp), f"{where}: the field is at {m['field']} in {vp}"
            assert inside(m["prompt"], vp), f"{where}: the prompt is at {m['prompt']} in {vp}"
            assert m["fieldFont"] >= 20, f"{where}: scan text {m['fieldFont']} px"
            prompt = max(t["size"] for t in m["texts"] if t["prompt"])
            bigger = [t for t in m["texts"] if not t["prompt"] and t["size"] >= prompt]
            assert not bigger, f"{where}: text as large as the prompt ({prompt} px): {bigger}"
            assert m["busyOpacity"] == 0, f"{where}: 'Sending…' shows after the answer"
        if m["next"]:
            assert inside(m["next"], vp), f"{where}: what to do next is at {m['next']} in {vp}"
        if m["error"]:
            assert inside(m["error"], vp), f"{where}: the error is at {m['error']} in {vp}"
        assert m["scrollWidth"] <= vp["width"], f"{where}: scrolls sideways ({m['scrollWidth']} px)"
        assert not m["small"], f"{where}: touch targets under 48 px: {m['small']}"
        assert not m["clipped"], f"{where}: the order's table scrolls sideways: {m['clipped']}"
        if self.side_by_side and m["panel"] and m["stepBox"]:
            panel, box = m["panel"], m["stepBox"]
            assert box["left"] >= panel["right"], f"{where}: the step is not beside the order panel"
            assert panel["top"] < box["bottom"], f"{where}: the order panel is below the step"
        return m

    def refused(self, code: str | None = None) -> None:
        expect(self.region).to_have_attribute("data-feedback", "error")
        if code:
            expect(self.error).to_have_attribute("data-error-code", code)
        self.refusals += 1
        if self.refusals == 1:
            self.shot("error")

    def shot(self, what: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.size}-{self.name}-{what}.png"),
                             animations="disabled")


# ---------------------------------------------------------------- the walk, one page per size

def _prepare(in_app, n: int) -> None:
    """An order to pick and a picked order to pack for this size; recording at pack on."""
    from lotline import orders, picking
    from lotline.inventory import Actor
    from lotline.settings import set_setting

    def run(session):
        set_setting(session, SETTING, True, None)
        orders.create_order(session, f"SO-LAY-P{n}", "Layout Pick Customer",
                            [{"sku": "GAUZE-10X10", "qty": 1}, {"sku": "BP-CUFF-02", "qty": 1},
                             {"sku": "VIT-C-500", "qty": 2}])
        orders.create_order(session, f"SO-LAY-K{n}", "Layout Pack Customer",
                            [{"sku": "GLOVE-NIT-M", "qty": 2}, {"sku": "THERM-DIG-01", "qty": 1}])
        session.commit()
        order = orders.get_order(session, f"SO-LAY-K{n}")
        while (task := picking.next_task(session, order)) is not None:
            picking.pick(session, order_number=order.number, location=task.location.code,
                         sku=task.line.item.sku, qty=task.qty, actor=Actor(None, "e2e"))
            session.expire_all()
            order = orders.get_order(session, f"SO-LAY-K{n}")

    in_app(run)


def test_every_flow_fits_the_device(page, app_url, in_app, size):
    n = list(SIZES).index(size) + 1
    _prepare(in_app, n)
    sign_in(page, app_url, "pat")

    receive = Station(page, app_url, "/receive", size).open()
    receive.scan("Purchase order", "PO-1001")
    receive.scan("Location", f"RCV-0{n}")
    receive.scan("Item", "VIT-C-500")
    receive.scan("Lot", f"VC-LAY-R{n}")
    receive.expect_step("qty")
    receive.shot("scan")
    receive.scan("Quantity", "999")
    receive.refused("over_receipt")
    receive.scan("Quantity", "2")
    receive.expect_result(f"RCV-0{n} · VIT-C-500 · VC-LAY-R{n}: 0 → 2")

    put = Station(page, app_url, "/put", size).open()
    put.scan("Location", "A-01-01")
    put.scan("Item", "VIT-C-500")
    put.scan("Lot", f"VC-LAY-P{n}")
    put.refused("location_holds_other_lot")
    put.scan("Location", f"D-02-0{n}")
    put.expect_step("qty")
    put.shot("scan")
    put.scan("Quantity", "3")
    put.expect_result(f"D-02-0{n} · VIT-C-500 · VC-LAY-P{n}: 0 → 3")

    pull = Station(page, app_url, "/pull", size).open()
    pull.scan("Location", "A-01-02")
    pull.scan("Item", "VIT-C-500")
    pull.scan("Lot", "VC24A01")
    pull.refused("lot_mismatch")
    pull.scan("Lot", "VC24B07")
    pull.expect_step("qty")
    pull.scan("Quantity", "1")
    pull.expect_step("location")
    pull.shot("scan")

    move = Station(page, app_url, "/move", size).open()
    move.scan("From location", "A-01-03")
    move.scan("Item", "VIT-D3-1000")
    move.scan("Lot", "VD3-2407")
    move.scan("Quantity", "1")
    move.scan("To location", "ZZ-99-99")
    move.refused("unknown_location")
    move.scan("To location", f"D-03-0{n}")
    move.expect_step("from_location")
    move.shot("scan")

    count = Station(page, app_url, "/count", size).open()
    location, sku, lot = [("A-02-01", "PROBIO-30", "PB-0915"), ("A-02-02", "ZINC-50", "ZN-7781"),
                          ("A-02-03", "MAG-400", "MG-4410"),
                          ("A-03-02", "SAL-SPRAY-30", "SS-8840")][n - 1]
    count.scan("Location", location)
    count.scan("Item", "NO-SUCH-ITEM")
    count.refused()
    count.scan("Item", sku)
    count.scan("Counted quantity", "12")
    count.expect_step("lot")
    count.shot("scan")
    count.scan("Lot", lot)
    count.expect_step("location")

    pick = Station(page, app_url, "/pick", size).open()
    pick.scan("Order", f"SO-LAY-P{n}")
    task = page.get_by_test_id("pick-task")
    for line in range(3):
        expect(task).to_contain_text("Go to ")
        location = task.inner_text().split("Go to ", 1)[1].split(":", 1)[0]
        pick.scan("Location", location)
        if line == 0:
            pick.scan("Item", "TAPE-MED-25")  # not what the task says
            pick.refused()
        pick.scan("Item", task.inner_text().split(" × ", 1)[1].split(" ", 1)[0])
        pick.expect_step("qty")
        if line == 0:
            pick.shot("scan")
        pick.enter("Quantity")
    expect(page.get_by_test_id("pick-done")).to_be_visible()
    pick.check("order picked")

    pack = Station(page, app_url, "/pack", size).open()
    pack.scan("Order", f"SO-LAY-K{n}")
    pack.scan("Item", "PARA-500-16")
    pack.refused("not_on_order")
    pack.scan("Item", "GLOVE-NIT-M")
    pack.scan("Quantity", "2")
    pack.scan("Item", "THERM-DIG-01")
    pack.expect_step("serial")
    pack.shot("scan")
    pack.scan("Serial", f"TD-LAY-{n}")
    expect(page.get_by_test_id("pack-complete")).to_be_visible()
    pack.check("order packed")
    pack.shot("packed")
    pack.scan("CMD:CLOSE")
    pack.expect_step("order")


# ---------------------------------------------------------------- "Sending…" goes with the swap

SAMPLE_BUSY = """() => {
  // Every frame, from the Enter (the page object marks the old region stale) until stopped:
  // whether the answer has been swapped in, and how visible "Sending…" is.
  window.__busy = [];
  window.__sampling = true;
  const frame = () => {
    const flow = document.querySelector('#flow');
    const busy = document.querySelector('#flow .busy');
    if (flow && (flow.dataset.stale || window.__busy.length))
      window.__busy.push({answered: !flow.dataset.stale,
                          opacity: busy ? parseFloat(getComputedStyle(busy).opacity) : 0});
    if (window.__sampling) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def test_sending_shows_in_flight_and_goes_with_the_swap(page, app_url):
    """With 400 ms between the scan and the answer, "Sending…" appears while the scan is in
    flight; from the first frame of the answer on (the next step, or a refusal) it is gone."""
    sign_in(page, app_url, "pat")
    put = ScanScreen(page, app_url, "/put").open()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 400,
                                                  "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    for label, text in (("Location", "A-01-01"), ("Item", "NO-SUCH-ITEM")):  # a step, a refusal
        page.evaluate(SAMPLE_BUSY)
        put.scan(label, text)
        put.expect_step("sku")
        page.wait_for_timeout(450)  # longer than the indicator's delay and fade together
        samples = page.evaluate("() => { window.__sampling = false; return window.__busy; }")
        in_flight = [s["opacity"] for s in samples if not s["answered"]]
        answered = [s["opacity"] for s in samples if s["answered"]]
        assert in_flight and max(in_flight) == 1, f"{text}: 'Sending…' never showed: {in_flight}"
        assert len(answered) >= 10, f"{text}: too few frames after the answer: {samples}"
        assert max(answered) == 0, f"{text}: 'Sending…' under the answer: {answered[:20]}"
    put.expect_error("unknown_item", "sku")


# ---------------------------------------------------------------- Pack offline, at every size

def test_pack_offline_fits_the_device(page, app_url, context, in_app, size):
    """Pack with the connection gone: the banner, the device's own steps drawn from the page's
    template, a refusal from the order's lines, the queue growing above the screen and a GS1
    label queued unchecked; every one checked as a swap is (focus, field and prompt in view,
    48 px targets, nothing sideways) and photographed; then the queue sent."""
    from lotline import orders, picking
    from lotline.inventory import Actor
    from lotline.items import find_item
    from lotline.settings import set_setting

    number = f"SO-LAY-O{list(SIZES).index(size) + 1}"

    def run(session):
        set_setting(session, SETTING, True, None)
        orders.create_order(session, number, "Layout Offline Customer",
                            [{"sku": "GAUZE-10X10", "qty": 2}, {"sku": "BP-CUFF-02", "qty": 1}])
        session.commit()
        while (task := picking.next_task(session, orders.get_order(session, number))):
            picking.pick(session, order_number=number, location=task.location.code,
                         sku=task.line.item.sku, qty=task.qty, actor=Actor(None, "e2e"))
            session.expire_all()
        return find_item(session, "GAUZE-10X10").gtin

    gtin = in_app(run)
    sign_in(page, app_url, "pat")
    pack = Station(page, app_url, "/pack", size).open(f"?order={number}")
    pack.name = "pack-offline"
    context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    pack.check("offline")

    def scan(text: str) -> None:
        field, _ = pack.focused_scan_field()
        page.keyboard.type(text)
        page.keyboard.press("Enter")

    scan("VIT-C-500")
    pack.refused("not_on_order")
    pack.check("offline refusal")
    scan("GAUZE-10X10")
    pack.expect_step("lot")
    pack.check("offline lot step")
    pack.shot("lot")
    scan("GZ-3302")
    expect(pack.result).to_contain_text("Queued 1 × GAUZE-10X10 · lot GZ-3302")
    pack.check("offline queued")
    scan(f"(01){gtin}(10)GZ-3302")
    expect(pack.result).to_contain_text("checked when the connection is back")
    expect(page.get_by_test_id("offline-queue").locator("li")).to_have_count(2)
    pack.check("offline label queued")
    pack.shot("queued")
    context.set_offline(False)
    expect(page.get_by_test_id("replay-results").locator(".replay-ok")).to_have_count(2)
    expect(pack.region).not_to_have_attribute("data-offline", "pack")
    pack.check("sent")
    pack.shot("sent")
