"""Capacity, open loop: N stations, each signed in with its own session, scan once every ~2 s.

    .venv/bin/python bench/stations.py [--stations 500] [--duration 60] [--warmup 10]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_bench]
        [--app-dir PATH --app-dir PATH2 ...] [--rounds 1] [--report-only] [--json out.json]

The binding bar (issue 16, PRODUCT.md "Quality bars"): 500 stations, each scanning about
once every 2 s (about 250 scans/s), latency timed from each scan's scheduled send so that
queueing counts: p99 under 50 ms and no error, on SQLite and on PostgreSQL. Exit status 1
when a run misses it (or a check after the run fails), unless --report-only.

Set-up, per app directory (not timed):
  * a fresh database: a SQLite file in a temp dir, or the PostgreSQL database named in
    --database-url, DROPPED and created again (a scratch database of your own; with several
    --app-dir, the second gets the name with "_2" appended, and so on);
  * ``flask db upgrade``, then ``flask seed-bulk`` at --bulk INVENTORY,PACK_LINES (default
    100000,500000: a tenth of the look-up bar's scale, so the tables and indexes are not
    toy-sized; ``--bulk 0`` seeds the small demo warehouse instead);
  * ``flask create-user`` / ``create-token`` for a bench admin; through the API, as that
    admin: "Require Lot/Serial at Pack" on, a lot-tracked item BENCH-LOT, a location per put
    station, one order per pack station, and the stock those orders need; the orders are
    picked through the pick screen (POST /pick, as a tablet would);
  * N packer accounts st0000.., created in-process with the app's own ``users.create_user``
    but a cheap password hash (pbkdf2, 1 round: only sign-in would pay for scrypt, and
    sign-in is not what is measured); if that function is not there, through the admin
    screen instead (slow: scrypt per account);
  * every station signs in through the login form (GET /login, POST /login) and opens its
    screen (GET /put or /pack) for its CSRF token: its own session cookie, its own token,
    its own station cookie (lotline_station=BENCH-0000..).

The app is served the way ``make run`` serves it: gunicorn ``--no-control-socket -w N``
(sync workers; N as the app directory's Makefile says for that database, or --workers) on
a free loopback port, ``app:create_app()`` from the app directory, with that directory's
own ``.venv`` (its editable install maps ``lotline`` to its own tree).

The load: every station gets a fixed schedule before the run starts: a random phase in
[0, interval), then one scan every --interval seconds (2), each moved by a random jitter of
up to +-10% of the interval. One asyncio loop sends every scan at its scheduled time, on a
new connection (gunicorn's sync workers close each one), whether or not the station's
previous scan has been answered (open loop). Latency runs from the SCHEDULED time to the
last byte of the answer, so a late send and a queue in the server both count. A scan is
the request a tablet sends on the last Enter of a step walk, so every scan commits:

  put station   POST /put   csrf_token, idem, step=qty, location, sku, lot, qty=1,
                            qty_pending=1                                  (Put's confirm)
  pack station  POST /pack  csrf_token, idem, step=qty, order, sku, lot, qty=1,
                            qty_pending=1                                  (a pack line)

(the fields the scan form holds at its quantity step: its hidden fields and the quantity),
sent with the headers htmx sends (HX-Request, X-CSRFToken, ...) and Chromium's
Accept-Encoding (the answer is decoded, br or gzip, and checked). Half the stations put, half pack
(--pack-share). An answer is an error unless it is 200 with the success feedback in a
fragment (no ``<html``).

Printed per run: stations, target and achieved rate (scans scheduled in the measured
window and answered ok, per second), p50/p95/p99/max latency (and by kind), errors, the
generator's own lag (actual send - scheduled send: p50/p99/max) and its CPU, the workers'
CPU (share of a core, and per scan), PostgreSQL's backends' CPU, the CPU everything else on
the machine used meanwhile (other work on a shared machine), and /proc/loadavg before and
after. If the generator lags (p99 lag over 5 ms, or it used more than half a core), that
is said, since its lag is counted in the latency. The generator runs under SCHED_FIFO
(--sched; the servers and the database keep their scheduling) so that on a shared machine
it wakes on time.

Several --app-dir (e.g. the tree before a change and the tree after it): each is set up
and served side by side, and every run (each station count of --stations, --rounds times)
goes to each of them in turn, so a change in the machine's load hits both alike.

Checks after the servers stop (plain SQL on the database, no app import): inventory and
ledger agree (the app's ``ledger_mismatches`` as one query); the Put ledger rows carrying
this run's keys and the pack lines of the ST- orders lie between the 2xx answers and the
2xx answers + the scans without an answer; qty_packed equals the pack lines' quantities.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import math
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from scan_roundtrip import Client, cpu_seconds, free_port  # noqa: E402

BAR_P99_MS = 50.0
SECRET = "bench-secret"
ADMIN, ADMIN_PASSWORD = "benchadmin", "bench-admin-pw"
STATION_PASSWORD = "bench-station-pw"
PICKER = "benchpick"
SKU, LOT = "BENCH-LOT", "BL-0001"
PICK_LOCATION = "BK-PICK"
CHEAP_HASH = "pbkdf2:sha256:1"
MAX_QTY = 1_000_000  # the largest quantity one request takes
ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/156.0.0.0 Safari/537.36 lotline-bench-stations")

USERS_SNIPPET = r"""
import sys
from app import create_app
from lotline import users
from lotline.extensions import db
prefix, first, count, password, method = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5]
app = create_app()
with app.app_context():
    for i in range(first, first + count):
        users.create_user(db.session, f"{prefix}{i:04d}", password, "packer", hash_method=method)
    db.session.commit()
print("created", count)
"""


# ---------------------------------------------------------------- the app under test

def git_head(path: Path) -> str:
    done = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    head = done.stdout.strip()[:72] or "?"
    return head + (" (+ uncommitted changes)" if dirty else "")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return sorted(set(out))


@dataclass
class Target:
    """One app directory, its database and (once started) its gunicorn."""

    index: int
    app_dir: Path
    database_url: str
    tmp: Path
    python: Path = field(init=False)
    head: str = field(init=False)
    label: str = field(init=False)
    proc: subprocess.Popen | None = None
    port: int = 0
    token: str = ""
    per_order: int = 0
    workers_n: int = 2

    def __post_init__(self) -> None:
        venv = self.app_dir / ".venv" / "bin"
        self.python = venv / "python" if (venv / "python").exists() else Path(sys.executable)
        self.head = git_head(self.app_dir)
        self.label = f"{self.app_dir.name}@{self.head.split(' ', 1)[0]}"

    @property
    def bin(self) -> Path:
        return self.python.parent

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def env(self) -> dict:
        env = {**os.environ, "DATABASE_URL": self.database_url, "LOTLINE_SECRET_KEY": SECRET,
               "FLASK_APP": "app"}
        env.pop("TEST_DATABASE_URL", None)
        env.pop("VIRTUAL_ENV", None)
        return env

    def flask(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(self.bin / "flask"), *args], cwd=self.app_dir, env=self.env(),
                              capture_output=True, text=True, input=stdin)
        if done.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.port = free_port()
        self.error_log = self.tmp / f"gunicorn-{self.index}.log"
        self.proc = subprocess.Popen(
            [str(self.bin / "gunicorn"), "--no-control-socket", "-w", str(self.workers_n), "-b",
             f"127.0.0.1:{self.port}", "--error-logfile", str(self.error_log),
             "app:create_app()"],
            cwd=self.app_dir, env=self.env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                status, _ = Client(self.url).request("GET", "/login")
                if status == 200 and len(children_of(self.proc.pid)) >= 2:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.error_log.read_text() if self.error_log.exists() else ""
                raise RuntimeError(f"gunicorn for {self.app_dir} did not start:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def backend_pids(self) -> list[int]:
        """PostgreSQL: the server processes of this database's connections (the workers'
        pools keep theirs), so their CPU can be told apart from the rest of the machine."""
        if not self.postgres:
            return []
        import psycopg

        name = urlsplit(self.database_url).path.lstrip("/")
        with psycopg.connect(self.database_url.replace("postgresql+psycopg://",
                                                       "postgresql://", 1)) as conn:
            return [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()", (name,))]

    def workers(self) -> list[int]:
        return children_of(self.proc.pid) if self.proc else []

    def server_errors(self) -> list[str]:
        log = getattr(self, "error_log", None)
        if not log or not log.exists():
            return []
        return [ln for ln in log.read_text(errors="replace").splitlines()
                if "Traceback" in ln or "[ERROR]" in ln or "[CRITICAL]" in ln]


def make_run_workers(app_dir: Path, database_url: str) -> int:
    """The number of gunicorn workers ``make run`` in ``app_dir`` serves with on this
    database (its Makefile's ``workers`` target), or 2, the number before it had one."""
    try:
        done = subprocess.run(["make", "-s", "--no-print-directory", "workers",
                               f"DATABASE_URL={database_url}"], cwd=app_dir,
                              capture_output=True, text=True)
    except FileNotFoundError:  # no make here
        return 2
    out = done.stdout.strip()
    return int(out) if done.returncode == 0 and out.isdigit() else 2


def pg_recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    name = parts.path.lstrip("/")
    if name in ("", "postgres", "template0", "template1", "test"):
        raise SystemExit(f"refusing to drop the database {name!r}: name a scratch database")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def nth_database(url: str, n: int) -> str:
    """The database for the n-th app directory (0-based): the URL's own for the first."""
    if n == 0:
        return url
    parts = urlsplit(url)
    return parts._replace(path=parts.path + f"_{n + 1}").geturl()


# ---------------------------------------------------------------- set-up over HTTP

def api(target: Target, method: str, path: str, body: dict) -> dict:
    client = Client(target.url)
    status, text = client.request(method, "/api/v1" + path, json.dumps(body).encode(), {
        "Content-Type": "application/json", "Authorization": f"Bearer {target.token}"})
    if status not in (200, 201):
        raise RuntimeError(f"{method} /api/v1{path} answered {status}: {text[:500]}")
    return json.loads(text) if text else {}


def kind_of(i: int, pack_share: float) -> str:
    return "pack" if math.floor((i + 1) * pack_share) > math.floor(i * pack_share) else "put"


def htmx_headers(client: Client, path: str) -> dict:
    return {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true",
            "HX-Request-Type": "partial", "HX-Current-URL": client.base + path,
            "HX-Target": "flow", "X-CSRFToken": client.csrf}


def seed(target: Target, bulk: tuple[int, int] | None) -> None:
    """A fresh, migrated database with bulk or demo data, and the bench admin's API token."""
    if target.postgres:
        pg_recreate(target.database_url)
    target.flask("db", "upgrade")
    if bulk:
        target.flask("seed-bulk", "--inventory", str(bulk[0]), "--pack-lines", str(bulk[1]),
                     "--yes")
    else:
        target.flask("seed-demo")
    target.flask("create-user", ADMIN, "--role", "admin", "--password", ADMIN_PASSWORD)
    target.token = target.flask("create-token", ADMIN, "--label", "bench").strip().splitlines()[-1]


def picked_orders(target: Target, numbers: list[str], per_order: int,
                  picker: tuple[str, str]) -> None:
    """Through the API and the pick screen: the lot-tracked item BENCH-LOT, one order of
    ``per_order`` units of it per number, the stock, and every order picked in full (the
    server must be running; ``picker`` signs in to the pick screen)."""
    api(target, "PATCH", "/settings", {"require_lot_serial_at_pack": True})
    api(target, "POST", "/items", {"sku": SKU, "description": "Bench item, lot-tracked",
                                   "require_lot": True, "lot_at_pack": "follow"})
    api(target, "POST", "/locations", {"code": PICK_LOCATION})
    # one at a time: on SQLite, today's API answers 500 "database is locked" to concurrent
    # creations (a read then a write in a deferred transaction)
    for number in numbers:
        api(target, "POST", "/orders", {"number": number, "customer": "Bench",
                                        "lines": [{"sku": SKU, "qty": per_order}]})
    left = per_order * len(numbers)
    while left > 0:
        qty = min(left, MAX_QTY)
        api(target, "POST", "/transactions/put", {"location": PICK_LOCATION, "sku": SKU,
                                                  "lot": LOT, "qty": qty})
        left -= qty
    client = Client(target.url).sign_in(*picker)
    client.request("GET", "/pick")

    def pick(number: str) -> None:
        fields = {"order": number, "location": PICK_LOCATION, "sku": SKU,
                  "qty": str(per_order), "idem": f"setup-pick-{number}-{uuid.uuid4().hex[:8]}",
                  "csrf_token": client.csrf}
        status, text = client.request("POST", "/pick", urlencode(fields).encode(),
                                      htmx_headers(client, "/pick"))
        if status != 200 or 'data-feedback="success"' not in text:
            raise RuntimeError(f"pick of {number} answered {status}: {text[:800]}")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(pick, numbers))


def setup(target: Target, args, n_stations: int, per_order: int) -> None:
    t0 = time.monotonic()
    seed(target, args.bulk)
    print(f"  [{target.label}] database seeded ({time.monotonic() - t0:.0f} s)", flush=True)

    users = [PICKER] + [f"st{i:04d}" for i in range(n_stations)]
    in_process = subprocess.run(
        [str(target.python), "-c", USERS_SNIPPET, "st", "0", str(n_stations), STATION_PASSWORD,
         CHEAP_HASH], cwd=target.app_dir, env=target.env(), capture_output=True, text=True)
    target.start()
    if in_process.returncode == 0:
        how = "in-process, pbkdf2 1 round"
        target.flask("create-user", PICKER, "--role", "packer", "--password", STATION_PASSWORD)
    else:
        how = "through the admin screen (users.create_user not usable: " + \
            in_process.stderr.strip().splitlines()[-1][:120] + ")"
        admin = Client(target.url).sign_in(ADMIN, ADMIN_PASSWORD)

        def create(name: str) -> None:
            fields = {"username": name, "password": STATION_PASSWORD, "role": "packer",
                      "csrf_token": admin.csrf}
            status, text = admin.request("POST", "/admin/users", urlencode(fields).encode(),
                                         {"Content-Type": "application/x-www-form-urlencoded"})
            if status != 302:
                raise RuntimeError(f"creating {name} answered {status}: {text[:300]}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(create, users))
    print(f"  [{target.label}] {len(users)} accounts ({how}) "
          f"({time.monotonic() - t0:.0f} s)", flush=True)

    put_stations = [i for i in range(n_stations) if kind_of(i, args.pack_share) == "put"]
    for i in put_stations:  # one at a time, as above
        api(target, "POST", "/locations", {"code": f"BK-{i:04d}"})
    pack_stations = [i for i in range(n_stations) if kind_of(i, args.pack_share) == "pack"]
    picked_orders(target, [f"ST-{i:04d}" for i in pack_stations], per_order,
                  (PICKER, STATION_PASSWORD))
    target.per_order = per_order
    print(f"  [{target.label}] {len(put_stations)} put locations, {len(pack_stations)} orders of "
          f"{per_order} picked ({time.monotonic() - t0:.0f} s)", flush=True)


@dataclass
class Station:
    n: int
    kind: str
    client: Client
    path: str
    fields: dict


def sign_in_stations(target: Target, n_stations: int, pack_share: float) -> list[Station]:
    t0 = time.monotonic()

    def one(i: int) -> Station:
        kind = kind_of(i, pack_share)
        client = Client(target.url, station=f"BENCH-{i:04d}")
        client.sign_in(f"st{i:04d}", STATION_PASSWORD)  # GET /login, POST /login, GET /put
        path = "/" + kind
        if kind == "pack":
            status, page = client.request("GET", path)
            if status != 200:
                raise RuntimeError(f"GET /pack as st{i:04d} answered {status}")
            fields = {"step": "qty", "order": f"ST-{i:04d}", "sku": SKU, "lot": LOT,
                      "qty": "1", "qty_pending": "1"}
        else:
            fields = {"step": "qty", "location": f"BK-{i:04d}", "sku": SKU, "lot": LOT,
                      "qty": "1", "qty_pending": "1"}
        return Station(i, kind, client, path, fields)

    with ThreadPoolExecutor(8) as pool:
        stations = list(pool.map(one, range(n_stations)))
    sessions = {s.client.cookies.get("lotline_session") for s in stations}
    tokens = {s.client.csrf for s in stations}
    print(f"  [{target.label}] {n_stations} stations signed in: {len(sessions)} distinct "
          f"session cookies, {len(tokens)} distinct CSRF tokens "
          f"({time.monotonic() - t0:.1f} s)", flush=True)
    return stations


# ---------------------------------------------------------------- the open-loop generator

@dataclass
class Sample:
    kind: str
    counted: bool
    scheduled: float
    lag: float = math.nan  # actual send (the connect starts) - scheduled, s
    latency: float = math.nan  # answer's last byte - scheduled, s
    service: float = math.nan  # answer's last byte - actual send, s
    status: int = 0
    error: str = ""


def decode(headers: dict, body: bytes) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = bytearray(), body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = bytes(out)
    encoding = headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    if encoding == "zstd":
        raise ValueError("zstd answer: cannot decode it here")
    return body


def parse_answer(raw: bytes) -> tuple[int, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict = {}
    cookies = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            cookies.append(value)
        headers[name] = value
    headers["_cookies"] = cookies
    return status, headers, body


class Generator:
    def __init__(self, target: Target, stations: list[Station], args, prefix: str,
                 rng: random.Random):
        self.target = target
        self.stations = stations
        self.args = args
        self.prefix = prefix
        self.rng = rng
        self.samples: list[Sample] = []
        self.seq = 0
        self.db_pids = target.backend_pids()  # the workers' pooled connections (PostgreSQL)

    def schedule(self, start: float) -> list[tuple[float, Station, bool]]:
        """Every scan's send time, fixed before the run: a random phase per station, then
        one per interval, each moved by up to +-jitter of the interval."""
        interval, jitter = self.args.interval, self.args.jitter
        warm_end = start + self.args.warmup
        end = warm_end + self.args.duration
        events = []
        for st in self.stations:
            t = start + self.rng.uniform(0, interval)
            while True:
                at = t + self.rng.uniform(-jitter, jitter) * interval
                if at >= end:
                    break
                events.append((max(at, start), st, at >= warm_end))
                t += interval
        events.sort(key=lambda e: e[0])
        return events

    def request(self, st: Station, host: str) -> bytes:
        self.seq += 1
        idem = f"{self.prefix}-{st.n}-{self.seq}"
        body = urlencode({**st.fields, "idem": idem, "csrf_token": st.client.csrf}).encode()
        headers = [
            f"POST {st.path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}",
            "Accept: */*", f"Accept-Encoding: {self.args.accept_encoding}",
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8",
            "HX-Request: true", "HX-Request-Type: partial",
            f"HX-Current-URL: {self.target.url}{st.path}", "HX-Target: flow",
            f"X-CSRFToken: {st.client.csrf}", f"Origin: {self.target.url}",
            f"Referer: {self.target.url}{st.path}",
            f"Cookie: {st.client.cookie_header()}", f"Content-Length: {len(body)}", "", ""]
        return "\r\n".join(headers).encode("latin-1") + body

    async def scan(self, st: Station, sample: Sample, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        sample.lag = sent - sample.scheduled  # how late the generator itself is
        writer = None
        try:
            async with asyncio.timeout(self.args.timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(self.request(st, f"{host}:{port}"))
                raw = await reader.read()  # gunicorn's sync worker closes after the answer
            done = loop.time()
            sample.latency, sample.service = done - sample.scheduled, done - sent
            status, headers, body = parse_answer(raw)
            sample.status = status
            for cookie in headers["_cookies"]:  # keep what the server sets, as a browser does
                k, _, v = cookie.split(";", 1)[0].partition("=")
                st.client.cookies[k.strip()] = v.strip()
            if status != 200:
                sample.error = f"HTTP {status}"
            else:
                text = decode(headers, body).decode("utf-8", "replace")
                if "<html" in text or 'data-feedback="success"' not in text:
                    code = re.search(r'data-error-code="([^"]+)"', text)
                    sample.error = "wrong body" + (f" ({code.group(1)})" if code else "")
        except TimeoutError:
            sample.error = f"no answer in {self.args.timeout:g} s"
        except (OSError, ValueError, IndexError) as exc:
            sample.error = f"{type(exc).__name__}: {exc}"[:120]
        finally:
            if writer is not None:
                writer.close()

    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        host, port = "127.0.0.1", self.target.port
        start = loop.time() + 0.5
        events = self.schedule(start)
        warm_end = start + self.args.warmup
        end = warm_end + self.args.duration
        tasks = set()
        measure: dict = {}
        for at, st, counted in events:
            if counted and not measure:
                measure = self.snapshot()
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sample = Sample(st.kind, counted, at)
            self.samples.append(sample)
            task = asyncio.create_task(self.scan(st, sample, host, port))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        delay = end - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        after = self.snapshot()
        if tasks:
            await asyncio.wait(set(tasks), timeout=self.args.timeout + 5)
        return {"before": measure, "after": after, "events": len(events)}

    def snapshot(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = cpu_busy()
        return {"wall": time.monotonic(), "self_cpu": usage.ru_utime + usage.ru_stime,
                "workers_cpu": cpu_seconds(self.target.workers()),
                "db_cpu": cpu_seconds(self.db_pids), "busy": busy, "total": total,
                "load": loadavg()}


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarise(target: Target, gen: Generator, out: dict, n_stations: int, args,
              load_before: str) -> dict:
    counted = [s for s in gen.samples if s.counted]
    answered = [s for s in counted if not math.isnan(s.latency)]
    errors = [s for s in counted if s.error]
    lat = [s.latency * 1000 for s in answered]
    lag = [s.lag * 1000 for s in counted]
    b, a = out["before"], out["after"]
    wall = a["wall"] - b["wall"]
    ok_in_window = sum(1 for s in counted if not s.error)
    by_kind = {}
    for kind in ("put", "pack"):
        k_lat = [s.latency * 1000 for s in answered if s.kind == kind]
        by_kind[kind] = {"n": len(k_lat), "p50": pct(k_lat, .5), "p99": pct(k_lat, .99),
                         "errors": sum(1 for s in errors if s.kind == kind)}
    error_kinds: dict[str, int] = {}
    for s in errors:
        error_kinds[s.error] = error_kinds.get(s.error, 0) + 1
    return {
        "app": target.label, "head": target.head, "database": "postgresql" if target.postgres
        else "sqlite", "stations": n_stations, "interval_s": args.interval,
        "target_rate": n_stations / args.interval, "scans": len(counted),
        "achieved_rate": ok_in_window / args.duration,
        "p50": pct(lat, .5), "p95": pct(lat, .95), "p99": pct(lat, .99),
        "max": max(lat) if lat else math.nan,
        "service_p50": pct([s.service * 1000 for s in answered], .5),
        "errors": len(errors), "error_kinds": error_kinds, "by_kind": by_kind,
        "lag_p50": pct(lag, .5), "lag_p99": pct(lag, .99), "lag_max": max(lag) if lag else 0,
        "generator_cpu": (a["self_cpu"] - b["self_cpu"]) / wall,
        "workers_cpu_ms_per_scan": (a["workers_cpu"] - b["workers_cpu"]) * 1000
        / max(len(answered), 1),
        "workers_cpu_share": (a["workers_cpu"] - b["workers_cpu"]) / wall,
        "machine_busy": (a["busy"] - b["busy"]) / max(a["total"] - b["total"], 1),
        "db_cpu_share": (a["db_cpu"] - b["db_cpu"]) / wall,
        "others_cpu_share": (a["busy"] - b["busy"]) / max(a["total"] - b["total"], 1)
        * (os.cpu_count() or 1) - ((a["workers_cpu"] - b["workers_cpu"])
                                   + (a["db_cpu"] - b["db_cpu"])
                                   + (a["self_cpu"] - b["self_cpu"])) / wall,
        "load_before": load_before, "load_after": loadavg(),
        "ok_total": {k: sum(1 for s in gen.samples if s.kind == k and s.status == 200
                            and not s.error) for k in ("put", "pack")},
        "unanswered_total": {k: sum(1 for s in gen.samples if s.kind == k
                                    and math.isnan(s.latency)) for k in ("put", "pack")},
        "non_success_total": {k: sum(1 for s in gen.samples if s.kind == k and s.error)
                              for k in ("put", "pack")},
    }


def print_run(r: dict) -> None:
    print(f"  {r['app']} {r['database']:10} stations {r['stations']:4}  target "
          f"{r['target_rate']:6.1f}/s achieved {r['achieved_rate']:6.1f}/s  latency ms p50 "
          f"{r['p50']:6.2f} p95 {r['p95']:6.2f} p99 {r['p99']:6.2f} max {r['max']:7.2f}  "
          f"errors {r['errors']}", flush=True)
    print(f"      put p50/p99 {r['by_kind']['put']['p50']:.2f}/{r['by_kind']['put']['p99']:.2f}"
          f"  pack p50/p99 {r['by_kind']['pack']['p50']:.2f}/{r['by_kind']['pack']['p99']:.2f}"
          f"  service p50 {r['service_p50']:.2f}  generator lag ms p50 {r['lag_p50']:.2f} "
          f"p99 {r['lag_p99']:.2f} max {r['lag_max']:.2f}, generator CPU "
          f"{r['generator_cpu'] * 100:.0f}% of a core", flush=True)
    db = f"PostgreSQL's backends {r['db_cpu_share'] * 100:.0f}%, " \
        if r["database"] == "postgresql" else ""
    print(f"      CPU in cores' %: workers {r['workers_cpu_share'] * 100:.0f}% "
          f"({r['workers_cpu_ms_per_scan']:.2f} ms per answered scan), {db}everything else "
          f"on the machine {r['others_cpu_share'] * 100:.0f}%; machine busy "
          f"{r['machine_busy'] * 100:.0f}% of {os.cpu_count()} cores; loadavg "
          f"{r['load_before']} -> {r['load_after']}", flush=True)
    if r["error_kinds"]:
        print(f"      errors: {r['error_kinds']}")


# ---------------------------------------------------------------- checks (plain SQL)

CHECKS = {
    "ledger_mismatches": """
        SELECT count(*) FROM (
          SELECT location_id, item_id, sum(q) AS q, sum(l) AS l FROM (
            SELECT location_id, item_id, qty AS q, 0 AS l FROM inventory
            UNION ALL SELECT location_id, item_id, 0 AS q, delta AS l FROM ledger_entry) AS b
          GROUP BY location_id, item_id HAVING sum(q) != sum(l)) AS m""",
    "negative": "SELECT count(*) FROM inventory WHERE qty < 0",
    "put_rows": "SELECT count(*) FROM ledger_entry WHERE type = 'put' AND idempotency_key LIKE {p}",
    "pack_lines": """SELECT count(*), coalesce(sum(pl.qty), 0) FROM pack_line pl
        JOIN order_line ol ON ol.id = pl.order_line_id
        JOIN customer_order o ON o.id = ol.order_id WHERE o.number LIKE {p}""",
    "qty_packed": """SELECT coalesce(sum(ol.qty_packed), 0) FROM order_line ol
        JOIN customer_order o ON o.id = ol.order_id WHERE o.number LIKE {p}""",
}


def check(target: Target, prefix: str, ok: dict, unanswered: dict) -> list[str]:
    """Inventory and ledger agree; every 2xx was one commit (within the unanswered)."""
    if target.postgres:
        import psycopg

        conn = psycopg.connect(target.database_url.replace("postgresql+psycopg://",
                                                           "postgresql://", 1))
        param = "%s"
    else:
        import sqlite3

        conn = sqlite3.connect(target.database_url.removeprefix("sqlite:///"))
        param = "?"
    problems = []
    try:
        def one(name: str, *params):
            sql = CHECKS[name].format(p=param)
            return (conn.execute(sql, params) if params else conn.execute(sql)).fetchone()

        mismatches = one("ledger_mismatches")[0]
        negative = one("negative")[0]
        puts = one("put_rows", prefix + "%")[0]
        lines, lines_qty = one("pack_lines", "ST-%")
        packed = one("qty_packed", "ST-%")[0]
    finally:
        conn.close()
    print(f"  [{target.label}] checks: ledger/inventory mismatches {mismatches}, negative "
          f"quantities {negative}; put ledger rows {puts} for {ok['put']} ok answers "
          f"(+{unanswered['put']} unanswered); pack lines {lines} (qty {lines_qty}, "
          f"qty_packed {packed}) for {ok['pack']} ok answers (+{unanswered['pack']} unanswered)")
    if mismatches:
        problems.append(f"{target.label}: {mismatches} (location, item) where ledger and "
                        f"inventory disagree")
    if negative:
        problems.append(f"{target.label}: {negative} negative inventory rows")
    if not ok["put"] <= puts <= ok["put"] + unanswered["put"]:
        problems.append(f"{target.label}: {puts} put ledger rows for {ok['put']} ok answers")
    if not ok["pack"] <= lines <= ok["pack"] + unanswered["pack"]:
        problems.append(f"{target.label}: {lines} pack lines for {ok['pack']} ok answers")
    if packed != lines_qty:
        problems.append(f"{target.label}: qty_packed {packed} != pack lines' qty {lines_qty}")
    errors = target.server_errors()
    if errors:
        problems.append(f"{target.label}: gunicorn's log has {len(errors)} error lines, e.g. "
                        f"{errors[:2]}")
    return problems


# ---------------------------------------------------------------- main

def drain(target: Target, limit: float = 180) -> float:
    """Wait until the workers use under 5% of a core over a second: an overloaded run leaves
    requests queued (in gunicorn's backlog, from scans whose client gave up), which would
    otherwise be served during the next run. Returns the seconds waited."""
    t0 = time.monotonic()
    last = cpu_seconds(target.workers())
    while time.monotonic() - t0 < limit:
        time.sleep(1)
        now = cpu_seconds(target.workers())
        if now - last < 0.05:
            break
        last = now
    return time.monotonic() - t0 - 1


def prioritise(how: str) -> str:
    """Let the generator wake on time on a shared machine (called once the servers run:
    only this process gets it). On this 2-core VM under other load, a plain asyncio loop
    woke up to 50-200 ms late (p99), at nice -5 and -10 too; SCHED_FIFO kept it at 2 ms."""
    if how == "fifo":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            return "SCHED_FIFO, priority 1 (the servers and the database as started)"
        except (OSError, AttributeError) as exc:
            how, why = "nice", f" (SCHED_FIFO refused: {exc})"
    else:
        why = ""
    if how == "nice":
        try:
            os.setpriority(os.PRIO_PROCESS, 0, -5)
            return "nice -5" + why
        except OSError as exc:
            return f"unchanged ({exc}){why}"
    return "unchanged"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", default="500",
                    help="comma-separated station counts, run in this order (500)")
    ap.add_argument("--duration", type=float, default=60, help="measured seconds per run (60)")
    ap.add_argument("--warmup", type=float, default=10,
                    help="seconds of the same load first, not counted (10)")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between a station's "
                    "scans (2)")
    ap.add_argument("--jitter", type=float, default=0.1,
                    help="each send moves by up to +- this share of the interval (0.1)")
    ap.add_argument("--pack-share", type=float, default=0.5,
                    help="share of the stations that pack; the others put (0.5)")
    ap.add_argument("--database-url", help="PostgreSQL: a scratch database, DROPPED and "
                    "created anew (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/h_bench); "
                    "default: a SQLite file in a temp dir")
    ap.add_argument("--app-dir", action="append", type=Path,
                    help="a Lotline checkout to serve (repeat it: the runs alternate between "
                    "them); default: the checkout this script is in. Its .venv is used")
    ap.add_argument("--bulk", default="100000,500000",
                    help="seed-bulk INVENTORY,PACK_LINES first; 0 for seed-demo instead")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every run this many times")
    ap.add_argument("--accept-encoding", default=ACCEPT_ENCODING,
                    help=f"sent with every scan ({ACCEPT_ENCODING!r}, as Chromium; 'identity' "
                    "for uncompressed answers)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds before a scan fails")
    ap.add_argument("--workers", default=None,
                    help="gunicorn's sync workers per app, or a comma-separated number per "
                         "--app-dir (default: what each app directory's make run serves with "
                         "for that database, `make -s workers`; 2 if it cannot say)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sched", choices=["fifo", "nice", "none"], default="fifo",
                    help="the generator's scheduling during the runs: SCHED_FIFO priority 1 "
                    "(default; needs root, else nice), nice -5, or as started")
    ap.add_argument("--report-only", action="store_true",
                    help="exit 0 even when the bar is missed")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    args = ap.parse_args()
    args.bulk = None if args.bulk in ("0", "") else tuple(int(x) for x in args.bulk.split(","))
    counts = [int(x) for x in args.stations.split(",")]
    app_dirs = [p.resolve() for p in (args.app_dir or [BENCH.parent])]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    workers = [int(n) for n in args.workers.split(",")] if args.workers else []
    if len(workers) == 1:
        workers *= len(app_dirs)
    if workers and len(workers) != len(app_dirs):
        ap.error("--workers: one number, or one per --app-dir")
    tmp = Path(tempfile.mkdtemp(prefix="stations-"))
    targets = []
    for i, app_dir in enumerate(app_dirs):
        url = (nth_database(args.database_url, i) if args.database_url
               else f"sqlite:///{tmp / f'lotline-{i + 1}.db'}")
        targets.append(Target(i, app_dir, url, tmp,
                              workers_n=workers[i] if workers else make_run_workers(app_dir,
                                                                                    url)))
        if [t.label for t in targets].count(targets[-1].label) > 1:
            targets[-1].label += f"#{i + 1}"
    # every station's order must outlast every run it takes part in
    scans_each = math.ceil((args.warmup + args.duration) / (args.interval * (1 - args.jitter))) + 2
    per_order = scans_each * len(counts) * args.rounds + 10
    print(f"# stations (open loop)  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  "
          f"nproc {os.cpu_count()}  loadavg {loadavg()}")
    for t in targets:
        print(f"# app {t.label}: {t.app_dir} ({t.head}); python {t.python}; "
              f"database {t.database_url}; gunicorn workers {t.workers_n}")
    print(f"# {args.duration:g} s measured after {args.warmup:g} s warm-up per run; one scan "
          f"per station every {args.interval:g} s +-{args.jitter * 100:g}%; "
          f"{args.pack_share * 100:g}% pack stations; data: "
          + (f"seed-bulk {args.bulk[0]:,} inventory rows, {args.bulk[1]:,} pack lines"
             if args.bulk else "seed-demo"))
    rng = random.Random(args.seed)
    results, problems = [], []
    prefix = "stn" + uuid.uuid4().hex[:8]
    generators: dict[int, list[Generator]] = {t.index: [] for t in targets}
    try:
        stations: dict[int, list[Station]] = {}
        for t in targets:
            setup(t, args, max(counts), per_order)
            stations[t.index] = sign_in_stations(t, max(counts), args.pack_share)
        print(f"# generator scheduling: {prioritise(args.sched)}")
        for rnd in range(1, args.rounds + 1):
            for n in counts:
                for t in targets:
                    waited = drain(t)
                    if waited > 2:
                        print(f"  [{t.label}] waited {waited:.0f} s for its workers to go idle "
                              f"(the previous run's queue)", flush=True)
                    load_before = loadavg()
                    run_no = sum(1 for r in results if r["target"] == t.index) + 1
                    # every run's keys are its own: a key sent again is answered as a replay
                    gen = Generator(t, stations[t.index][:n], args,
                                    f"{prefix}{t.index}-r{run_no}", rng)
                    out = asyncio.run(gen.run())
                    generators[t.index].append(gen)
                    r = summarise(t, gen, out, n, args, load_before)
                    r["round"], r["target"] = rnd, t.index
                    results.append(r)
                    print_run(r)
                    if r["lag_p99"] > 5 or r["generator_cpu"] > 0.5:
                        print(f"      WARNING: the generator itself lags (p99 lag "
                              f"{r['lag_p99']:.1f} ms, {r['generator_cpu'] * 100:.0f}% of a "
                              f"core): its lag is in the latency above")
        for t in targets:
            t.stop()
            ok = {k: sum(r["ok_total"][k] for r in results if r["target"] == t.index)
                  for k in ("put", "pack")}
            unanswered = {k: sum(r["unanswered_total"][k] + r["non_success_total"][k]
                                 for r in results if r["target"] == t.index)
                          for k in ("put", "pack")}
            problems += check(t, f"{prefix}{t.index}-r", ok, unanswered)
    finally:
        for t in targets:
            t.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"# kept {tmp}")

    print()
    print(f"## Bar: p99 < {BAR_P99_MS:g} ms and no error, latency from each scan's scheduled "
          f"send (loadavg now {loadavg()})")
    missed = False
    for r in results:
        ok = r["p99"] < BAR_P99_MS and r["errors"] == 0
        missed |= not ok
        print(f"{'MET    ' if ok else 'NOT MET'} {r['app']} {r['database']} {r['stations']} "
              f"stations (round {r['round']}): p99 {r['p99']:.1f} ms, {r['errors']} errors, "
              f"{r['achieved_rate']:.1f} of {r['target_rate']:.0f} scans/s; generator lag p99 "
              f"{r['lag_p99']:.1f} ms; loadavg {r['load_before']}")
    if problems:
        print("## PROBLEMS")
        for p in problems:
            print("  " + p)
    else:
        print("## checks: inventory and ledger agree, every ok answer was one commit, "
              "no error in gunicorn's log")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "problems": problems},
                                              indent=2, default=str))
    if problems or (missed and not args.report_only):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
