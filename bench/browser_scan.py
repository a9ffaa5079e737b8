"""Browser: time from Enter in the scan field to the swapped fragment, and first-load bytes.

    .venv/bin/python bench/browser_scan.py [--scans 200] [--url http://127.0.0.1:8000]
                                           [--db sqlite|pg] [--json out.json]

Without --url it serves Lotline itself, the way bench/scan_roundtrip.py does (gunicorn
``--no-control-socket -w 2`` on a free loopback port, a fresh migrated + seed-demo SQLite file
in a temp dir, or with --db pg a PostgreSQL database ``browserscan`` it creates and drops).
Debian's Chromium (/usr/bin/chromium, headless, --no-sandbox) through Playwright.

1. First load of /pack: a new browser context (empty HTTP cache, no service worker) signs in
   through its request API (cookies only, no page loads), then opens /pack once and waits for
   the load event, the network to go idle and the service worker to be ready. Every response
   the page loaded (the document and its subresources) is listed with its bytes as sent and
   its gzip size. Gunicorn does not compress, so the compressed size is computed here with
   Python's gzip (level 6, what a compressing proxy would typically use) from the body the
   browser received; headers are not counted. What the service worker then fetches to precache
   the shell is reported apart (it is not part of the page's load).

2. Scan round trip in the browser: a second context signs in through the login form as pat
   and opens /put. A listener in the page records performance.now() at the Enter keydown in the
   scan field; a MutationObserver records when #flow has been replaced by the swapped fragment
   ("swap") and the first animation frame after it ("next frame": when it can first be
   painted). The script fills the field, presses Enter, and waits (page.wait_for_function) for
   that record. The scans cycle a whole Put: location A-01-02 -> item VIT-C-500 -> lot VC24B07
   -> quantity (Enter confirms the prefilled 1) -> back to location; 8 warm-up scans are not
   counted. Prints the median and p90 (and p99/max) of both.

Targets from PRODUCT.md: a scan shows its result in under 50 ms on loopback; first load of a
scan screen under 60 KB compressed.
"""

from __future__ import annotations

import argparse
import gzip
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

from scan_roundtrip import (  # noqa: E402
    Server,
    create_pg_database,
    drop_pg_database,
    flask_cli,
    lotline_env,
    machine,
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync"]
PUT_CYCLE = [("location", "A-01-02", "sku"), ("sku", "VIT-C-500", "lot"),
             ("lot", "VC24B07", "qty"), ("qty", None, "location")]

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


def sign_in_request(context, base: str, user: str, password: str) -> None:
    """Sign in with the context's request API: cookies land in the context, no page loads."""
    page = context.request.get(base + "/login")
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text())
    if token is None:
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text())
    resp = context.request.post(base + "/login", form={
        "username": user, "password": password, "csrf_token": token.group(1)},
        max_redirects=0)
    if resp.status != 302:
        raise RuntimeError(f"sign-in answered {resp.status}")


def first_load(browser, base: str, path: str, user: str, password: str) -> dict:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        sign_in_request(context, base, user, password)
        page = context.new_page()
        seen: list = []
        context.on("requestfinished", lambda req: seen.append(req))
        page.goto(base + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        sw_ready = page.evaluate("""async () => {
            if (!('serviceWorker' in navigator)) return false;
            const timeout = new Promise((r) => setTimeout(() => r(false), 5000));
            return await Promise.race([navigator.serviceWorker.ready.then(() => true), timeout]);
        }""")
        page.wait_for_load_state("networkidle")
        time.sleep(0.5)
        rows = []
        for req in seen:
            resp = req.response()
            if resp is None:
                continue
            try:
                body = resp.body()
            except Exception:  # noqa: BLE001  (a redirect or an opaque response has none)
                body = b""
            by_worker = getattr(req, "service_worker", None) is not None
            try:
                frame = req.frame
            except Exception:  # noqa: BLE001  (requests from a service worker have no frame)
                frame = None
            rows.append({
                "url": urlsplit(req.url).path + (f"?{urlsplit(req.url).query}"
                                                 if urlsplit(req.url).query else ""),
                "type": req.resource_type, "status": resp.status,
                "from": "service worker" if by_worker or frame is None else "page",
                "bytes": len(body), "gzip": len(gzip.compress(body, 6)) if body else 0,
                "content_encoding": resp.headers.get("content-encoding", ""),
            })
        page_rows = [r for r in rows if r["from"] == "page"]
        sw_rows = [r for r in rows if r["from"] != "page"]
        for r in sw_rows:  # Playwright does not hand out a service worker's response bodies
            if not r["bytes"]:
                body = context.request.get(base + r["url"]).body()
                r["bytes"], r["gzip"] = len(body), len(gzip.compress(body, 6))
                r["weighed"] = "fetched again to weigh it"
        return {"path": path, "service_worker_ready": sw_ready, "resources": page_rows,
                "total_bytes": sum(r["bytes"] for r in page_rows),
                "total_gzip": sum(r["gzip"] for r in page_rows),
                "service_worker_fetches": sw_rows,
                "sw_total_gzip": sum(r["gzip"] for r in sw_rows)}
    finally:
        context.close()


def scan_latency(browser, base: str, scans: int, warmup: int, user: str,
                 password: str) -> dict:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.goto(base + "/login")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")
        page.goto(base + "/put")
        page.wait_for_load_state("networkidle")
        page.evaluate(INSTRUMENT)
        wrong = []
        for n in range(warmup + scans):
            name, value, expect = PUT_CYCLE[n % len(PUT_CYCLE)]
            field = f"#scan-{name}"
            page.wait_for_selector(field)
            page.evaluate("document.getElementById('flow').setAttribute('data-bench-old', '1')")
            count = page.evaluate("window.__bench.lat.length")
            if value is not None:
                page.fill(field, value)
            page.press(field, "Enter")
            page.wait_for_function("n => window.__bench.lat.length > n", arg=count,
                                   timeout=10_000)
            got = page.evaluate("window.__bench.lat[window.__bench.lat.length - 1]")
            if got["step"] != expect or got["feedback"] == "error":
                wrong.append((n, name, got))
        lat = page.evaluate("window.__bench.lat")[warmup:]
        swap = [x["swap"] for x in lat]
        frame = [x["frame"] for x in lat]
        return {"scans": len(lat), "warmup": warmup, "unexpected_steps": wrong[:10],
                "swap": {"median": statistics.median(swap), "p90": pct(swap, 90),
                         "p99": pct(swap, 99), "max": max(swap)},
                "frame": {"median": statistics.median(frame), "p90": pct(frame, 90),
                          "p99": pct(frame, 99), "max": max(frame)},
                "by_step": {name: statistics.median(
                    [x["frame"] for i, x in enumerate(lat)
                     if PUT_CYCLE[(i + warmup) % len(PUT_CYCLE)][0] == name])
                    for name, _, _ in PUT_CYCLE}}
    finally:
        context.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running Lotline with the demo data (else one is started)")
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--pg-db", default="browserscan")
    ap.add_argument("--scans", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--path", default="/pack", help="the screen whose first load is weighed")
    ap.add_argument("--user", default="pat")
    ap.add_argument("--password", default="lotline-packer")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="browserscan-"))
    server = None
    pg = False
    info = machine()
    print(f"# browser scan  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  chromium {CHROMIUM}")
    print(f"# {info['uptime']}")
    try:
        base = args.url
        if not base:
            if args.db == "pg":
                url, pg = create_pg_database(args.pg_db), True
            else:
                url = f"sqlite:///{tmp / 'browser.db'}"
            env = lotline_env(url)
            flask_cli(env, "db", "upgrade")
            flask_cli(env, "seed-demo")
            server = Server("browser", "app:create_app()", env, tmp)
            base = server.url
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            print(f"# chromium {browser.version}")
            load = first_load(browser, base, args.path, args.user, args.password)
            lat = scan_latency(browser, base, args.scans, args.warmup, args.user,
                               args.password)
            browser.close()
        info["uptime_end"] = __import__("subprocess").run(
            ["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"# {info['uptime_end']}")
        print()
        print(f"## First load of {args.path} (fresh context, signed in; gzip -6 computed here, "
              f"gunicorn sends it uncompressed)")
        for r in load["resources"]:
            enc = f"  ({r['content_encoding']})" if r["content_encoding"] else ""
            print(f"  {r['status']} {r['type']:10} {r['url']:45} {r['bytes']:7} B  "
                  f"gzip {r['gzip']:6} B{enc}")
        print(f"  total: {load['total_bytes']} B as sent, {load['total_gzip']} B "
              f"= {load['total_gzip'] / 1024:.1f} KB gzip  "
              f"(target < 60 KB: {'MET' if load['total_gzip'] < 60 * 1024 else 'NOT MET'})")
        print(f"  then the service worker precached (ready: {load['service_worker_ready']}): "
              + ", ".join(f"{r['url']} {r['gzip']} B gz" for r in load["service_worker_fetches"])
              + f"  = {load['sw_total_gzip'] / 1024:.1f} KB gzip more")
        print()
        print(f"## Scan round trip in Chromium: {lat['scans']} scans (Put cycle), "
              f"{lat['warmup']} warm-up scans not counted")
        for kind, label in (("swap", "Enter -> #flow swapped"),
                            ("frame", "Enter -> next frame after swap")):
            s = lat[kind]
            print(f"  {label:32} median {s['median']:6.1f} ms  p90 {s['p90']:6.1f} ms  "
                  f"p99 {s['p99']:6.1f} ms  max {s['max']:6.1f} ms")
        print("  median by step (next frame): " + ", ".join(
            f"{k} {v:.1f} ms" for k, v in lat["by_step"].items()))
        if lat["unexpected_steps"]:
            print(f"  UNEXPECTED: {lat['unexpected_steps']}")
        ok = lat["frame"]["median"] < 50
        print(f"  target median < 50 ms (next frame): {'MET' if ok else 'NOT MET'}")
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": info, "first_load": load,
                                                   "scan": lat}, indent=2))
        return 0 if not lat["unexpected_steps"] else 1
    finally:
        if server:
            server.stop()
        if pg:
            drop_pg_database(args.pg_db)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
