"""Browser: Enter to swapped fragment in Chromium, typed like a scanner, with the CPU as it is
and throttled like a low-end tablet; and the first load of the pack screen in bytes received.

    .venv/bin/python bench/browser_scan.py [--scans 200] [--cpu-throttle 4]
        [--screens put,pack] [--app-dir PATH --app-dir PATH2 ...] [--rounds 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_bench]
        [--report-only] [--json out.json]

The bars (issue 16, PRODUCT.md "Quality bars"): Enter to swapped fragment under 20 ms median
in Chromium, under 50 ms with Chromium's CPU throttled 4x; first load of the pack screen
under 60 KB compressed. Exit status 1 when one is missed (or a scan lands on an unexpected
step), unless --report-only.

Serves each app directory the way ``make run`` does (gunicorn ``--no-control-socket -w 2``,
that directory's own .venv: see bench/stations.py) on a fresh migrated + seed-demo database
(a SQLite file in a temp dir, or the scratch PostgreSQL database of --database-url, DROPPED
and created anew), plus, through the API and the pick screen, an order BS-0001 of 100,000
BENCH-LOT picked in full and "Require Lot/Serial at Pack" on, so the pack walk asks for the
lot. Debian's Chromium (/usr/bin/chromium, headless) through Playwright.

1. First load of /pack: a new context (empty HTTP cache, no service worker) signs in through
   its request API (cookies only, no page loads), then opens /pack once. Every response the
   page loaded is weighed as Chromium received it (CDP Network.loadingFinished
   encodedDataLength: headers and body as sent, compressed by the app when it compresses),
   as e2e/test_e2e_first_load.py does.
2. Enter to swap: a context per screen and CPU rate signs in through the login form (typed),
   opens the screen, and, for the throttled run, sets Emulation.setCPUThrottlingRate over a
   CDP session. Each scan is typed into the scan field key by key (press_sequentially, like a
   wedge scanner) and then Enter pressed. A listener records performance.now() at the Enter
   keydown; a MutationObserver records when #flow has been replaced by the swapped fragment
   ("swap", the bar) and the first animation frame after it ("next frame": when it can first
   be painted). The typing is not in the time. Walks:
     put   A-01-02 -> VIT-C-500 -> VC24B07 -> Enter on the prefilled quantity -> location ...
     pack  BS-0001 (once) -> BENCH-LOT -> BL-0001 -> Enter on the prefilled 1 -> item ...
   --warmup scans first, not counted; every scan must land on the expected next step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stations import (  # noqa: E402
    BENCH,
    LOT,
    SKU,
    Target,
    loadavg,
    nth_database,
    picked_orders,
    seed,
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync"]
USER, PASSWORD = "pat", "lotline-packer"
ORDER = "BS-0001"
BAR_SWAP_MS = {1: 20.0, 4: 50.0}  # median Enter -> swap, by CPU throttling rate
BAR_FIRST_LOAD = 60 * 1024
# (step, what is typed (None: Enter on the prefilled value), the step expected next)
WALKS = {
    "put": ([], [("location", "A-01-02", "sku"), ("sku", "VIT-C-500", "lot"),
                 ("lot", "VC24B07", "qty"), ("qty", None, "location")]),
    "pack": ([("order", ORDER, "sku")], [("sku", SKU, "lot"), ("lot", LOT, "qty"),
                                         ("qty", None, "sku")]),
}

INSTRUMENT = """
() => {
  if (window.__bench) return;
  window.__bench = {t0: null, lat: []};
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.matches && e.target.matches('[data-scan]')) {
      window.__bench.t0 = performance.now();
    }
  }, true);
  new MutationObserver(() => {
    const b = window.__bench, flow = document.getElementById('flow');
    if (b.t0 === null || !flow || flow.hasAttribute('data-bench-old')) return;
    const t0 = b.t0, swap = performance.now();
    b.t0 = null;
    requestAnimationFrame(() => {
      b.lat.push({swap: swap - t0, frame: performance.now() - t0,
                  step: flow.dataset.step || '', feedback: flow.dataset.feedback || ''});
    });
  }).observe(document.getElementById('main'), {childList: true, subtree: true});
}
"""


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def sign_in_request(context, base: str) -> None:
    """Sign in with the context's request API: cookies land in the context, no page loads."""
    page = context.request.get(base + "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text())
    resp = context.request.post(base + "/login", max_redirects=0, form={
        "username": USER, "password": PASSWORD, "csrf_token": token.group(1)})
    if resp.status != 302:
        raise RuntimeError(f"sign-in answered {resp.status}")


def first_load(browser, base: str, path: str) -> dict:
    """Every response the page loaded, as received: (path, bytes, content-encoding)."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        sign_in_request(context, base)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        responses, received = {}, {}
        cdp.on("Network.responseReceived", lambda e: responses.__setitem__(
            e["requestId"], (e["response"]["url"], e["response"]["status"],
                             {k.lower(): v for k, v in e["response"]["headers"].items()})))
        cdp.on("Network.loadingFinished", lambda e: received.__setitem__(
            e["requestId"], e["encodedDataLength"]))
        page.goto(base + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        time.sleep(0.3)
        rows = [{"url": urlsplit(url).path, "status": status, "bytes": received.get(rid, 0),
                 "encoding": headers.get("content-encoding", "")}
                for rid, (url, status, headers) in responses.items()]
        return {"path": path, "resources": rows, "total": sum(r["bytes"] for r in rows)}
    finally:
        context.close()


def scan_latency(browser, base: str, screen: str, rate: float, scans: int,
                 warmup: int) -> dict:
    prelude, cycle = WALKS[screen]
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.goto(base + "/login")
        page.get_by_label("Username").press_sequentially(USER)
        page.get_by_label("Password").press_sequentially(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/")
        if rate != 1:
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
        page.goto(base + "/" + screen)
        page.wait_for_load_state("networkidle")
        page.evaluate(INSTRUMENT)
        steps = prelude + [cycle[n % len(cycle)] for n in range(warmup + scans)]
        wrong = []
        for n, (name, value, expect) in enumerate(steps):
            field = page.locator(f"#scan-{name}")
            field.wait_for()
            page.evaluate("document.getElementById('flow').setAttribute('data-bench-old', '1')")
            count = page.evaluate("window.__bench.lat.length")
            if value is not None:
                field.press_sequentially(value)
            field.press("Enter")
            page.wait_for_function("n => window.__bench.lat.length > n", arg=count,
                                   timeout=15_000)
            got = page.evaluate("window.__bench.lat[window.__bench.lat.length - 1]")
            if got["step"] != expect or got["feedback"] == "error":
                wrong.append((n, name, got))
        lat = page.evaluate("window.__bench.lat")[len(prelude) + warmup:]
        swap = [x["swap"] for x in lat]
        frame = [x["frame"] for x in lat]
        return {"screen": screen, "rate": rate, "scans": len(lat), "warmup": warmup,
                "unexpected_steps": wrong[:10],
                "swap": {"median": statistics.median(swap), "p90": pct(swap, 90),
                         "p99": pct(swap, 99), "max": max(swap)},
                "frame": {"median": statistics.median(frame), "p90": pct(frame, 90),
                          "p99": pct(frame, 99), "max": max(frame)},
                "by_step": {name: statistics.median(
                    [x["swap"] for i, x in enumerate(lat) if cycle[(i + warmup) % len(cycle)][0]
                     == name]) for name, _, _ in cycle}}
    finally:
        context.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app-dir", action="append", type=Path,
                    help="a Lotline checkout to serve (repeat it: the runs alternate between "
                    "them); default: the checkout this script is in. Its .venv is used")
    ap.add_argument("--database-url", help="PostgreSQL: a scratch database, DROPPED and "
                    "created anew; default: a SQLite file in a temp dir")
    ap.add_argument("--screens", default="put,pack", help="scan walks to time (put,pack)")
    ap.add_argument("--scans", type=int, default=200, help="timed scans per walk and rate")
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--cpu-throttle", type=float, default=4,
                    help="also time every walk with Chromium's CPU throttled this many times "
                    "(4, a low-end tablet; 1 for unthrottled only)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--path", default="/pack", help="the screen whose first load is weighed")
    ap.add_argument("--report-only", action="store_true",
                    help="exit 0 even when a bar is missed")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    screens = args.screens.split(",")
    rates = [1.0] + ([args.cpu_throttle] if args.cpu_throttle != 1 else [])
    tmp = Path(tempfile.mkdtemp(prefix="browserscan-"))
    app_dirs = [p.resolve() for p in (args.app_dir or [BENCH.parent])]
    targets = [Target(i, d, nth_database(args.database_url, i) if args.database_url
                      else f"sqlite:///{tmp / f'browser-{i + 1}.db'}", tmp)
               for i, d in enumerate(app_dirs)]
    for t in targets[1:]:
        if any(o.label == t.label for o in targets[:t.index]):
            t.label += f"#{t.index + 1}"
    print(f"# browser scan  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  chromium {CHROMIUM}  "
          f"nproc {os.cpu_count()}  loadavg {loadavg()}")
    loads, results, problems = [], [], []
    try:
        for t in targets:
            print(f"# app {t.label}: {t.app_dir} ({t.head}); database {t.database_url}")
            seed(t, None)
            t.start()
            picked_orders(t, [ORDER], 100_000, (USER, PASSWORD))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            print(f"# chromium {browser.version}")
            for rnd in range(1, args.rounds + 1):
                for t in targets:
                    load = first_load(browser, t.url, args.path)
                    load.update(app=t.label, round=rnd)
                    loads.append(load)
                    print(f"  {t.label} first load of {args.path}: {load['total']:,} B received "
                          f"= {load['total'] / 1024:.1f} KB ("
                          + ", ".join(f"{r['url']} {r['bytes']:,} B {r['encoding'] or '-'}"
                                      for r in load["resources"]) + ")", flush=True)
                    for screen in screens:
                        for rate in rates:
                            before = loadavg()
                            r = scan_latency(browser, t.url, screen, rate, args.scans,
                                             args.warmup)
                            r.update(app=t.label, round=rnd, load_before=before,
                                     load_after=loadavg())
                            results.append(r)
                            s, f = r["swap"], r["frame"]
                            print(f"  {t.label} {screen:4} CPU x{rate:g}: Enter -> swap median "
                                  f"{s['median']:5.1f} ms (p90 {s['p90']:.1f}, p99 "
                                  f"{s['p99']:.1f}, max {s['max']:.1f}); -> next frame median "
                                  f"{f['median']:.1f} ms; by step "
                                  + ", ".join(f"{k} {v:.1f}" for k, v in r["by_step"].items())
                                  + f"  loadavg {before} -> {r['load_after']}", flush=True)
                            if r["unexpected_steps"]:
                                problems.append(f"{t.label} {screen} x{rate:g}: unexpected "
                                                f"steps {r['unexpected_steps']}")
            browser.close()
    finally:
        for t in targets:
            t.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"## Bars (loadavg now {loadavg()})")
    missed = False
    for load in loads:
        ok = load["total"] < BAR_FIRST_LOAD
        missed |= not ok
        print(f"{'MET    ' if ok else 'NOT MET'} {load['app']} first load of {load['path']} "
              f"< 60 KB received: {load['total'] / 1024:.1f} KB (round {load['round']})")
    for r in results:
        bar = BAR_SWAP_MS.get(r["rate"])
        if bar is None:
            print(f"        {r['app']} {r['screen']} x{r['rate']:g}: swap median "
                  f"{r['swap']['median']:.1f} ms (no bar at this rate)")
            continue
        ok = r["swap"]["median"] < bar
        missed |= not ok
        print(f"{'MET    ' if ok else 'NOT MET'} {r['app']} {r['screen']} Enter -> swap, CPU "
              f"x{r['rate']:g}: median {r['swap']['median']:.1f} ms < {bar:g} ms "
              f"(round {r['round']}, loadavg {r['load_before']})")
    for p in problems:
        print("PROBLEM " + p)
    if args.json:
        Path(args.json).write_text(json.dumps({"first_load": loads, "scans": results,
                                               "problems": problems}, indent=2))
    return 1 if problems or (missed and not args.report_only) else 0


if __name__ == "__main__":
    sys.exit(main())
