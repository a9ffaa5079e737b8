"""Scan round trip under load: Lotline (SQLite and PostgreSQL) against the floor, same run.

    .venv/bin/python bench/scan_roundtrip.py [--duration 10] [--connections 1,20]
                                              [--rounds 1] [--no-pg] [--json out.json]

Needs Debian's wrk (``apt-get install -y wrk``) and, unless --no-pg, the PostgreSQL server at
127.0.0.1:5432 (user postgres, trust); it creates a database ``roundtrip`` and drops it at the
end.

What it does:
  * the floor (bench/floor_app.py: Flask + sqlite3, the Put confirm's writes by hand) and
    Lotline on a fresh migrated + seed-demo SQLite file, and on PostgreSQL (``createdb
    roundtrip``, ``flask db upgrade``, ``seed-demo``), each served by gunicorn the way Lotline
    is served: ``--no-control-socket -w 2`` (sync workers) on a free loopback port;
  * on Lotline: "Require Lot/Serial at Pack" switched on and 40 orders RT-0001.. with a line
    of 1,000,000 × VIT-C-500, so pack lines never run out and each one needs its lot;
  * signs in as the demo packer (pat) over HTTP and takes the session cookie + CSRF token;
  * drives, from wrk (a separate process; bench/scan.lua gives every request a fresh
    idempotency key) for --duration seconds at each connection count:
      put   POST /put  location, sku, lot, qty, idem, csrf_token, HX-Request: true
            (every field filled, so every request commits a Put; the floor gets the same form)
      pack  POST /pack order, sku, lot, qty, idem, csrf_token, HX-Request: true
            (a whole pack line with its lot: the pack screen's confirm)
    after a 3 s warm-up per server; cases interleave (floor, SQLite, PostgreSQL) so a change
    in the machine's load hits them alike;
  * samples VmRSS of the gunicorn master and workers every 50 ms (and PSS every 0.5 s) during
    the 20-connection runs; reads VmHWM at the end;
  * checks afterwards that every 2xx was one commit: Put ledger rows carrying the run's keys
    = 2xx Put responses, pack lines = 2xx pack responses, ledger_mismatches() == [].

Prints per case: median, p99, throughput, the ratios to the floor, and the targets from
PRODUCT.md: single-station median within 3x the floor's; at 20 stations throughput >= 45%
of the floor's; p99 < 50 ms; a worker < 120 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = ["-h", "127.0.0.1", "-U", "postgres"]
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
SECRET = "bench-secret"
USER_AGENT = "lotline-bench"
N_ORDERS = 40
PER_ORDER = 50_000  # units of VIT-C-500 per RT order, all picked before the run


# ---------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lotline_env(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "LOTLINE_SECRET_KEY": SECRET,
           "FLASK_APP": "app"}
    env.pop("TEST_DATABASE_URL", None)
    return env


class Server:
    """A gunicorn serving ``app_spec`` on a free loopback port; logs go to ``logdir``."""

    def __init__(self, name: str, app_spec: str, env: dict, logdir: Path, workers: int = 2,
                 cwd: Path = ROOT, extra: list[str] | None = None):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logdir = logdir
        self.error_log = logdir / f"{name}-error.log"
        self.access_log = logdir / f"{name}-access.log"
        cmd = [str(BIN / "gunicorn"), "--no-control-socket", "-w", str(workers),
               "-b", f"127.0.0.1:{self.port}", "--error-logfile", str(self.error_log),
               *(extra or []), app_spec]
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.workers = workers
        self._wait()

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.url + "/login", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answered
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    log = self.error_log.read_text() if self.error_log.exists() else ""
                    raise RuntimeError(f"{self.name} did not start:\n{log}") from None
                time.sleep(0.1)
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def server_errors(self) -> list[str]:
        """Tracebacks and worker deaths in the error log."""
        if not self.error_log.exists():
            return []
        text = self.error_log.read_text(errors="replace")
        return [ln for ln in text.splitlines()
                if "Traceback" in ln or "[ERROR]" in ln or "[CRITICAL]" in ln]


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        return sorted(set(out))
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return sorted(out)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty if it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (utime + stime from /proc/<pid>/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def proc_pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples the master's and its workers' VmRSS every 50 ms and PSS every 0.5 s."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master = master
        self.stop_event = threading.Event()
        self.peak_rss: dict[int, int] = {}
        self.peak_total_rss = 0
        self.peak_total_pss = 0
        self.hwm: dict[int, int] = {}
        self.samples = 0

    def run(self) -> None:
        n = 0
        while not self.stop_event.is_set():
            pids = [self.master, *children(self.master)]
            total = 0
            for pid in pids:
                st = proc_status(pid)
                rss = st.get("VmRSS", 0)
                total += rss
                self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
                if "VmHWM" in st:
                    self.hwm[pid] = st["VmHWM"]
            self.peak_total_rss = max(self.peak_total_rss, total)
            if n % 10 == 0:
                self.peak_total_pss = max(self.peak_total_pss, sum(proc_pss(p) for p in pids))
            n += 1
            self.samples += 1
            self.stop_event.wait(0.05)

    def finish(self) -> dict:
        self.stop_event.set()
        self.join()
        workers = {p: kb for p, kb in self.peak_rss.items() if p != self.master}
        return {"master_kb": self.peak_rss.get(self.master, 0),
                "workers_kb": sorted(workers.values(), reverse=True),
                "workers_hwm_kb": sorted((v for p, v in self.hwm.items() if p != self.master),
                                         reverse=True),
                "total_rss_kb": self.peak_total_rss, "total_pss_kb": self.peak_total_pss,
                "samples": self.samples}


# ---------------------------------------------------------------- Lotline set-up

def flask_cli(env: dict, *args: str) -> str:
    done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def app_for(database_url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET})


def in_app(database_url: str, fn):
    """Run ``fn(session)`` against the database in an app context (committed)."""
    from lotline.extensions import db

    app = app_for(database_url)
    with app.app_context():
        try:
            out = fn(db.session)
            db.session.commit()
            return out
        finally:
            db.session.remove()
            db.engine.dispose()


def prepare_lotline(database_url: str, orders: int = N_ORDERS) -> None:
    """Migrate, seed the demo warehouse, switch lot recording at pack on, add RT orders."""
    env = lotline_env(database_url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed-demo")

    def setup(session):
        from lotline import inventory, picking, settings
        from lotline import orders as orders_domain

        settings.set_setting(session, settings.REQUIRE_LOT_SERIAL_AT_PACK, True, None)
        for n in range(1, orders + 1):
            orders_domain.create_order(session, f"RT-{n:04d}", "Bench Customer",
                                       [{"sku": "VIT-C-500", "qty": PER_ORDER}])
        session.commit()
        # Packing cannot get ahead of picking: stock them and pick them, through the real
        # transactions (each writes its ledger rows).
        actor = inventory.Actor(None, "bench-setup")
        left = orders * PER_ORDER
        while left > 0:
            qty = min(left, inventory.MAX_QTY)
            inventory.put(session, location="A-01-01", sku="VIT-C-500", lot="VC24A01",
                          qty=qty, actor=actor)
            left -= qty
        for n in range(1, orders + 1):
            picking.pick(session, order_number=f"RT-{n:04d}", location="A-01-01",
                         sku="VIT-C-500", qty=PER_ORDER, actor=actor)

    in_app(database_url, setup)


def create_pg_database(name: str) -> str:
    subprocess.run(["dropdb", *PG_ADMIN, "--if-exists", "--force", name], check=True,
                   capture_output=True)
    subprocess.run(["createdb", *PG_ADMIN, name], check=True, capture_output=True)
    return PG_URL.format(db=name)


def drop_pg_database(name: str) -> None:
    subprocess.run(["dropdb", *PG_ADMIN, "--if-exists", "--force", name], capture_output=True)


# ---------------------------------------------------------------- HTTP as a packer

class Client:
    """A signed-in browser-like client over http.client (cookies kept by hand)."""

    def __init__(self, base: str, station: str = "BENCH"):
        self.base = base
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.cookies: dict[str, str] = {"lotline_station": station}
        self.csrf = ""

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 30) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            hdrs = {"User-Agent": USER_AGENT, "Cookie": self.cookie_header(), **(headers or {})}
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    k, _, v = pair.partition("=")
                    self.cookies[k.strip()] = v.strip()
            return resp.status, text
        finally:
            conn.close()

    def form(self, path: str, fields: dict, htmx: bool = True, **kw) -> tuple[int, str]:
        from urllib.parse import urlencode

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if htmx:
            headers["HX-Request"] = "true"
        if self.csrf:
            headers["X-CSRFToken"] = self.csrf
        return self.request("POST", path, urlencode({**fields, "csrf_token": self.csrf}).encode(),
                            headers, **kw)

    def json(self, path: str, body: dict, **kw) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.csrf}
        return self.request("POST", path, json.dumps(body).encode(), headers, **kw)

    def sign_in(self, username: str = "pat", password: str = "lotline-packer") -> Client:
        status, page = self.request("GET", "/login")
        self.csrf = csrf_from(page)
        status, _ = self.form("/login", {"username": username, "password": password},
                              htmx=False)
        if status != 302:
            raise RuntimeError(f"sign-in as {username} answered {status}")
        status, page = self.request("GET", "/put")
        if status != 200:
            raise RuntimeError(f"GET /put after sign-in answered {status}")
        self.csrf = csrf_from(page)
        return self


def csrf_from(page: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', page) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return m.group(1)


# ---------------------------------------------------------------- wrk

def run_wrk(url: str, *, mode: str, path: str, connections: int, duration: float,
            cookie: str = "", csrf: str = "", run_id: str) -> dict:
    threads = min(connections, 2)
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_PATH": path, "BENCH_COOKIE": cookie,
           "BENCH_CSRF": csrf, "BENCH_RUN": run_id, "BENCH_ORDERS": str(N_ORDERS)}
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
           "--timeout", "10s", "-s", str(BENCH / "scan.lua"), url + path]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=BENCH)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = json.loads(line.removeprefix("WRKJSON "))
    out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
    out["ok_rps"] = out["ok"] / (out["duration_us"] / 1e6)
    return out


def machine() -> dict:
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "free": mem,
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


def ms(us: float) -> float:
    return us / 1000.0


# ---------------------------------------------------------------- checks

def lotline_counts(database_url: str, prefix: str) -> dict:
    def count(session):
        from sqlalchemy import func, select

        from lotline.inventory import ledger_mismatches
        from lotline.models import LedgerEntry, Order, OrderLine, PackLine

        puts = session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.type == "put", LedgerEntry.idempotency_key.like(prefix + "%")))
        packs = session.scalar(select(func.count()).select_from(PackLine)
                               .join(OrderLine, OrderLine.id == PackLine.order_line_id)
                               .join(Order, Order.id == OrderLine.order_id)
                               .where(Order.number.like("RT-%")))
        packed = session.scalar(select(func.coalesce(func.sum(OrderLine.qty_packed), 0))
                                .join(Order, Order.id == OrderLine.order_id)
                                .where(Order.number.like("RT-%")))
        return {"put_ledger_rows": puts, "pack_lines": packs, "qty_packed": packed,
                "ledger_mismatches": ledger_mismatches(session)}

    return in_app(database_url, count)


def floor_count(db: Path, prefix: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM ledger WHERE idempotency_key LIKE ?",
                            (prefix + "%",)).fetchone()[0]
    finally:
        conn.close()


def floor_pg_count(conninfo: str, prefix: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT count(*) FROM ledger WHERE idempotency_key LIKE %s",
                            (prefix + "%",)).fetchone()[0]


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10, help="seconds per case (10)")
    ap.add_argument("--connections", default="1,20", help="comma-separated (1,20)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat every case this many times (medians over rounds reported)")
    ap.add_argument("--warmup", type=float, default=3, help="warm-up seconds per server")
    ap.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--pg-db", default="roundtrip", help="PostgreSQL database to create/drop")
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    conns = [int(c) for c in args.connections.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="roundtrip-"))
    prefix = "rt" + uuid.uuid4().hex[:8]
    servers: dict[str, Server] = {}
    clients: dict[str, Client] = {}
    dbs: dict[str, str] = {}
    ok_sent = {}  # target -> {"put": n, "pack": n} 2xx responses, warm-ups included
    # wrk stops its clock with up to one request per connection in flight: those commit but
    # are not counted, so commits may exceed 2xx responses by at most this many.
    in_flight = {}
    results: list[dict] = []
    memory: dict[str, dict] = {}
    problems: list[str] = []
    info = machine()
    print(f"# scan round trip  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"# machine: nproc={info['nproc']} cpu={info['cpu']}")
    print(f"# {info['uptime']}")
    try:
        # the floor
        floor_db = tmp / "floor.db"
        subprocess.run([sys.executable, str(BENCH / "floor_app.py"), "--init"], check=True,
                       env={**os.environ, "FLOOR_DB": str(floor_db)}, capture_output=True)
        servers["floor"] = Server("floor", "floor_app:app",
                                  {**os.environ, "FLOOR_DB": str(floor_db)}, tmp, cwd=BENCH)
        # Lotline on SQLite and PostgreSQL (and the floor's writes on PostgreSQL, to tell
        # what the client/server database itself costs)
        dbs["sqlite"] = f"sqlite:///{tmp / 'lotline.db'}"
        if not args.no_pg:
            dbs["pg"] = create_pg_database(args.pg_db)
            create_pg_database(args.pg_db + "_floor")
            floor_pg = f"host=127.0.0.1 user=postgres dbname={args.pg_db}_floor"
            subprocess.run([sys.executable, str(BENCH / "floor_app.py"), "--init"], check=True,
                           env={**os.environ, "FLOOR_PG": floor_pg}, capture_output=True)
            servers["floorpg"] = Server("floorpg", "floor_app:app",
                                        {**os.environ, "FLOOR_PG": floor_pg}, tmp, cwd=BENCH)
        for name, url in dbs.items():
            prepare_lotline(url)
            servers[name] = Server(name, "app:create_app()", lotline_env(url), tmp)
            clients[name] = Client(servers[name].url).sign_in()
        targets = list(servers)
        cases = [(f, "put") for f in ("floor", "floorpg") if f in servers] + \
            [(t, c) for t in dbs for c in ("put", "pack")]
        for target in targets:
            ok_sent[target] = {"put": 0, "pack": 0}
            in_flight[target] = {"put": 0, "pack": 0}

        # smoke: one request of each kind commits and answers with the result fragment
        for target, case in cases:
            client = clients.get(target) or Client(servers[target].url)
            fields = ({"order": "RT-0001", "sku": "VIT-C-500", "lot": "VC24A01", "qty": "1"}
                      if case == "pack" else
                      {"location": "A-01-01", "sku": "VIT-C-500", "lot": "VC24A01", "qty": "1"})
            fields["idem"] = f"{prefix}-smoke-{case}"
            status, body = client.form("/" + case, fields)
            good = status == 200 and ("result" in body)
            if not target.startswith("floor"):
                good = good and 'data-testid="result"' in body
            if not good:
                raise RuntimeError(f"smoke {target} {case}: {status}\n{body[:2000]}")
            ok_sent[target][case] += 1

        def wrk_case(target, case, c, duration, run_id):
            client = clients.get(target)
            return run_wrk(servers[target].url, mode=case, path="/" + case, connections=c,
                           duration=duration, cookie=client.cookie_header() if client else "",
                           csrf=client.csrf if client else "", run_id=run_id)

        # warm-up (not recorded)
        for n, (target, case) in enumerate(cases):
            r = wrk_case(target, case, 2, args.warmup, f"{prefix}-w{n}")
            ok_sent[target][case] += r["ok"]
            in_flight[target][case] += 2

        for rnd in range(1, args.rounds + 1):
            for c in conns:
                samplers = {}
                for n, (target, case) in enumerate(cases):
                    sampler = None
                    if c == max(conns):
                        sampler = RssSampler(servers[target].proc.pid)
                        sampler.start()
                    load = os.getloadavg()
                    pids = servers[target].worker_pids()
                    cpu0 = cpu_seconds(pids)
                    r = wrk_case(target, case, c, args.duration, f"{prefix}-r{rnd}c{c}n{n}")
                    # server CPU per answered request (requests still queued at the end add
                    # a little CPU that is not in the count: an upper bound at 20 conns)
                    r["cpu_ms_per_req"] = (cpu_seconds(pids) - cpu0) * 1000 / max(r["requests"], 1)
                    if sampler:
                        samplers[(target, case)] = sampler.finish()
                    ok_sent[target][case] += r["ok"]
                    in_flight[target][case] += c
                    r.update(target=target, case=case, connections=c, round=rnd,
                             load1=load[0], load5=load[1])
                    results.append(r)
                    sockerr = r["err_connect"] + r["err_read"] + r["err_write"] + \
                        r["err_timeout"]
                    print(f"  round {rnd} c={c:<3} {target:6} {case:4}: "
                          f"p50 {ms(r['p50_us']):6.2f} ms p99 {ms(r['p99_us']):6.2f} ms  "
                          f"{r['rps']:7.1f} req/s  ok {r['ok']} 422 {r['s422']} "
                          f"5xx {r['s5xx']} sockerr {sockerr}  cpu {r['cpu_ms_per_req']:.2f} ms/req"
                          f"  (load {load[0]:.2f})", flush=True)
                    if r["s5xx"] or r["s4xx"] or r["s422"] or r["other"]:
                        problems.append(f"{target} {case} c={c}: non-2xx responses "
                                        f"422={r['s422']} 4xx={r['s4xx']} 5xx={r['s5xx']}")
                for (target, _case), mem in samplers.items():
                    merge_memory(memory, target, mem)
                    memory[target]["workers_hwm_kb"] = children_hwm(servers[target])

        # checks: every 2xx was one commit, and ledger = inventory. Stop the servers first:
        # wrk leaves up to one request per connection queued in gunicorn's backlog, which
        # gunicorn still accepts and commits after wrk has gone.
        for server in servers.values():
            server.stop()
        checks = {}
        def within(rows, target, case):
            return ok_sent[target][case] <= rows <= ok_sent[target][case] + \
                in_flight[target][case]

        checks["floor"] = {"ledger_rows": floor_count(floor_db, prefix),
                           "ok_put": ok_sent["floor"]["put"],
                           "in_flight_max": in_flight["floor"]["put"]}
        if not within(checks["floor"]["ledger_rows"], "floor", "put"):
            problems.append(f"floor: {checks['floor']}")
        if "floorpg" in servers:
            checks["floorpg"] = {"ledger_rows": floor_pg_count(floor_pg, prefix),
                                 "ok_put": ok_sent["floorpg"]["put"],
                                 "in_flight_max": in_flight["floorpg"]["put"]}
            if not within(checks["floorpg"]["ledger_rows"], "floorpg", "put"):
                problems.append(f"floorpg: {checks['floorpg']}")
        for name, url in dbs.items():
            got = lotline_counts(url, prefix)
            got["ok_put"], got["ok_pack"] = ok_sent[name]["put"], ok_sent[name]["pack"]
            got["in_flight_max"] = in_flight[name]
            checks[name] = got
            if not within(got["put_ledger_rows"], name, "put"):
                problems.append(f"{name}: {got['put_ledger_rows']} put ledger rows for "
                                f"{got['ok_put']} 2xx Put responses")
            if not (within(got["pack_lines"], name, "pack")
                    and got["qty_packed"] == got["pack_lines"]):
                problems.append(f"{name}: {got['pack_lines']} pack lines / qty_packed "
                                f"{got['qty_packed']} for {got['ok_pack']} 2xx pack responses")
            if got["ledger_mismatches"]:
                problems.append(f"{name}: ledger_mismatches {got['ledger_mismatches'][:5]}")
        for name, server in servers.items():
            errs = server.server_errors()
            if errs:
                problems.append(f"{name}: error log has {len(errs)} error lines, e.g. {errs[:3]}")
        info["uptime_end"] = subprocess.run(["uptime"], capture_output=True,
                                            text=True).stdout.strip()
        report(results, memory, checks, problems, conns, info)
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"machine": info, "results": results, "memory": memory,
                 "checks": {k: {kk: (str(vv) if kk == "ledger_mismatches" else vv)
                                for kk, vv in v.items()} for k, v in checks.items()},
                 "problems": problems}, indent=2))
        return 1 if problems else 0
    finally:
        for server in servers.values():
            server.stop()
        if "pg" in dbs:
            drop_pg_database(args.pg_db)
            drop_pg_database(args.pg_db + "_floor")
        if args.keep:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def merge_memory(memory: dict, target: str, mem: dict) -> None:
    """Keep the peaks over every sampled run of a server."""
    prev = memory.get(target)
    if prev is None:
        memory[target] = dict(mem)
        return
    a, b = prev["workers_kb"], mem["workers_kb"]
    prev["workers_kb"] = sorted((max(x, y) for x, y in zip(a, b, strict=False)),
                                reverse=True) + \
        (a[len(b):] if len(a) > len(b) else b[len(a):])
    for key in ("master_kb", "total_rss_kb", "total_pss_kb"):
        prev[key] = max(prev[key], mem[key])
    prev["samples"] += mem["samples"]


def children_hwm(server: Server) -> list[int]:
    return sorted((proc_status(p).get("VmHWM", 0) for p in server.worker_pids()), reverse=True)


def _label(target: str, case: str) -> str:
    return {"floor": "floor (put)",
            "floorpg": "floor-pg (put)"}.get(
        target, f"lotline-{target} {case}")


def report(results, memory, checks, problems, conns, info) -> None:
    def agg(target, case, c):
        rows = [r for r in results if (r["target"], r["case"], r["connections"]) ==
                (target, case, c)]
        if not rows:
            return None
        med = statistics.median
        return {"p50": med(r["p50_us"] for r in rows) / 1000,
                "p99": med(r["p99_us"] for r in rows) / 1000,
                "rps": med(r["rps"] for r in rows), "n": len(rows),
                "cpu": med(r["cpu_ms_per_req"] for r in rows),
                "load": med(r["load1"] for r in rows)}

    print()
    print(f"# {info['uptime_end']}")
    print("## Scan round trip (medians over rounds; latency in ms; wrk, separate process)")
    print(f"{'case':22} {'conns':>5} {'median':>8} {'p99':>8} {'req/s':>8} "
          f"{'median/floor':>13} {'req/s/floor':>12} {'cpu ms/req':>10} {'load1':>6}")
    targets = sorted({r["target"] for r in results},
                     key=lambda t: ["floor", "floorpg", "sqlite", "pg"].index(t))
    verdict = []
    for c in conns:
        fl = agg("floor", "put", c)
        for target in targets:
            for case in ("put", "pack"):
                a = agg(target, case, c)
                if a is None:
                    continue
                label = _label(target, case)
                rmed = a["p50"] / fl["p50"] if fl else float("nan")
                rrps = a["rps"] / fl["rps"] if fl else float("nan")
                print(f"{label:22} {c:>5} {a['p50']:8.2f} {a['p99']:8.2f} {a['rps']:8.1f} "
                      f"{rmed:12.2f}x {rrps * 100:11.0f}% {a['cpu']:10.2f} {a['load']:6.2f}")
                if target.startswith("floor"):
                    continue
                name = f"lotline-{target} {case}"
                if c == 1:
                    verdict.append((f"{name}: single-station median within 3x floor",
                                    rmed <= 3, f"{rmed:.2f}x"))
                if c == max(conns) and c > 1:
                    verdict.append((f"{name}: throughput at {c} stations >= 45% of floor",
                                    rrps >= 0.45, f"{rrps * 100:.0f}%"))
                verdict.append((f"{name}: p99 < 50 ms at {c} conn", a["p99"] < 50,
                                f"{a['p99']:.1f} ms"))
    def against(floor, target, title, what):
        """Lotline on ``target`` against another floor (not a target; for comparison)."""
        if floor not in targets:
            return
        print()
        print(title)
        for c in conns:
            fl = agg(floor, "put", c)
            for case in ("put", "pack"):
                a = agg(target, case, c)
                if a and fl:
                    print(f"lotline-{target} {case:4} c={c:<3} median "
                          f"{a['p50'] / fl['p50']:5.2f}x {what} ({fl['p50']:.2f} ms), req/s "
                          f"{a['rps'] / fl['rps'] * 100:4.0f}% of its {fl['rps']:.0f}")

    against("floorpg", "pg", "## Lotline on PostgreSQL against the floor's writes on "
            "PostgreSQL (what the database itself costs)", "the PostgreSQL floor's")
    rounds = sorted({r["round"] for r in results})
    if len(rounds) > 1:
        quiet = min(rounds, key=lambda n: statistics.mean(
            r["load1"] for r in results if r["round"] == n))
        print()
        print(f"## The round with the lowest load (round {quiet}) on its own")
        for c in conns:
            fl = next(r for r in results if (r["target"], r["connections"], r["round"]) ==
                      ("floor", c, quiet))
            for r in results:
                if r["connections"] != c or r["round"] != quiet:
                    continue
                label = _label(r["target"], r["case"])
                print(f"{label:22} {c:>5} {ms(r['p50_us']):8.2f} {ms(r['p99_us']):8.2f} "
                      f"{r['rps']:8.1f} {r['p50_us'] / fl['p50_us']:12.2f}x "
                      f"{r['rps'] / fl['rps'] * 100:11.0f}% {r['cpu_ms_per_req']:10.2f} "
                      f"{r['load1']:6.2f}")
    print()
    print(f"## Memory (peak during the {max(conns)}-connection runs, gunicorn -w 2)")
    for target, m in memory.items():
        workers = ", ".join(f"{kb / 1024:.1f}" for kb in m["workers_kb"])
        hwm = ", ".join(f"{kb / 1024:.1f}" for kb in m["workers_hwm_kb"])
        print(f"{target:7} workers peak VmRSS [{workers}] MB (VmHWM [{hwm}] MB); "
              f"master {m['master_kb'] / 1024:.1f} MB; whole server peak RSS sum "
              f"{m['total_rss_kb'] / 1024:.1f} MB, PSS sum {m['total_pss_kb'] / 1024:.1f} MB "
              f"({m['samples']} samples)")
        if not target.startswith("floor"):
            worst = max(m["workers_kb"] + m["workers_hwm_kb"]) / 1024
            verdict.append((f"lotline-{target}: worker < 120 MB", worst < 120, f"{worst:.1f} MB"))
    print()
    print("## Checks (2xx responses <= commits <= 2xx + requests in flight when wrk stopped)")
    for name, c in checks.items():
        print(f"{name:7} {c}")
    print()
    print("## Targets")
    for text, ok, value in verdict:
        print(f"{'MET    ' if ok else 'NOT MET'} {text}: {value}")
    print()
    if problems:
        print("## PROBLEMS")
        for p in problems:
            print("  " + p)
    else:
        print("## no problems: no non-2xx, no 5xx, counts match, ledger_mismatches() == []")


if __name__ == "__main__":
    sys.exit(main())
