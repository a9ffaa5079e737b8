"""Soak and crash safety: many stations doing every flow at once, optionally while workers die.

    .venv/bin/python bench/soak.py [--db sqlite|pg] [--duration 120] [--stations 12]
                                   [--kill] [--kill-every 3] [--seed 1] [--json out.json]

Serves Lotline with gunicorn (``--no-control-socket -w 3``) on a fresh migrated + seed-demo
database (a SQLite file in a temp dir, or a PostgreSQL database ``soak`` that it creates and
drops), with "Require Lot/Serial at Pack" on and 400 small orders. Then N stations (threads,
each signed in over HTTP as pat or kim, and holding that user's API token) run for
--duration seconds, each choosing at random:

  put, pull, move, cycle count  - through the screen (POST /put, /pull, /move, /count with
                                  every field filled, HX-Request) or the API
                                  (/api/v1/transactions/..., Idempotency-Key), half and half;
  pick                          - the pick screen (POST /pick: order, location, sku, qty);
  pack                          - the pack screen (POST /pack) or the offline replay
                                  (POST /pack/replay JSON), with the picked lot or, one time in
                                  ten, another lot (a mismatch is recorded, never blocks).

Locations, lots and quantities are drawn from a small set so refusals happen (another lot
in the location, lot mismatch, not enough stock, over-pick). Every submission has its own
idempotency key; one in twenty is sent as 3 copies at once. A request that fails with a
connection error (or a 5xx) is sent again with the same key, as a tablet would.

--kill: a thread SIGKILLs a random gunicorn worker every --kill-every seconds (on average);
gunicorn starts a new one.

After the soak, a dedicated phase: 10 threads send the SAME put with the SAME key at once,
through the API and through the screen (and the same for a pack replay); each must apply
exactly once.

Then, with the server stopped, it checks on the database:
  * one inventory row per (location, item) (so at most one lot), no negative quantity;
  * lotline.inventory.ledger_mismatches(session) == [];
  * every acknowledged key has exactly its ledger rows (put 1 put row; pull 1 pull; move 1
    move-out + 1 move-in; cycle count as many rows as changes; pick 1 pick row) and its
    idempotency record; every pack's key has its record, and pack lines = pack records;
  * no key anywhere in the ledger has a half-applied or doubled pattern;
  * no key whose final answer was a refusal changed anything;
  * the copies of a submission agree (applied once, replayed otherwise), except a copy
    refused before the applying copy ran: its answer arrived before the applying
    transaction wrote its idempotency record (same machine, same clock), so it was decided
    on the stock as it was then, which another station changed in between (refusals are
    not stored under the key: a screen re-sends the same key once the step is fixed);
  * picked/packed counters agree with pick and pack lines;
  * no 5xx, no traceback in gunicorn's error log.
Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_roundtrip import (  # noqa: E402
    Client,
    Server,
    children,
    create_pg_database,
    drop_pg_database,
    flask_cli,
    in_app,
    lotline_env,
    machine,
)

PASSWORDS = {"pat": "lotline-packer", "kim": "lotline-packer"}
LOT_ITEMS = {"VIT-C-500": ["VC24A01", "VC-SOAK-1", "VC-SOAK-2"],
             "ZINC-50": ["ZN-7781", "ZN-SOAK-1", "ZN-SOAK-2"],
             "IBU-200-24": ["IB-6612", "IB-SOAK-1", "IB-SOAK-2"]}
PLAIN_ITEMS = ["GLOVE-NIT-M", "TAPE-MED-25"]
ITEMS = list(LOT_ITEMS) + PLAIN_ITEMS
LOCATIONS = ["A-01-01", "A-01-02", "A-02-02", "B-01-03", "C-02-01", "C-01-04", "A-03-04",
             "B-03-01", "B-03-02", "C-03-04", "D-02-01", "D-02-02", "E-01-01", "E-01-02",
             "E-01-03", "E-01-04"]
N_ORDERS = 400
OPS = ["put", "pull", "move", "count", "pick", "pack"]
WEIGHTS = [25, 12, 14, 8, 21, 20]
EXPECTED = {"put": {"put": 1}, "pull": {"pull": 1}, "move": {"move-out": 1, "move-in": 1},
            "pick": {"pick": 1}}
MAX_TRIES = 30


# ---------------------------------------------------------------- set-up

def prepare(database_url: str, seed: int) -> dict:
    env = lotline_env(database_url)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed-demo")

    def setup(session):
        from sqlalchemy import select

        from lotline import orders, settings, users
        from lotline.models import User

        settings.set_setting(session, settings.REQUIRE_LOT_SERIAL_AT_PACK, True, None)
        rng = random.Random(seed)
        for n in range(1, N_ORDERS + 1):
            skus = rng.sample(ITEMS, rng.randint(1, 3))
            orders.create_order(session, f"SK-{n:04d}", "Soak Customer",
                                [{"sku": s, "qty": rng.randint(1, 4)} for s in skus])
        orders.create_order(session, "TWIN-1", "Soak Customer",
                            [{"sku": "TAPE-MED-25", "qty": 5}])  # for the same-key phase
        tokens, ids = {}, {}
        for name in PASSWORDS:
            user = session.scalar(select(User).where(User.username == name))
            tokens[name] = users.create_token(session, user, "soak")
            ids[name] = user.id
        return {"tokens": tokens, "user_ids": ids}

    return in_app(database_url, setup)


# ---------------------------------------------------------------- a station

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.conn_errors = 0
        self.five_xx: list[str] = []
        self.gets = 0
        self.picked_orders: set[str] = set()
        self.latency: list[tuple[float, str, int]] = []  # (seconds to a final answer, path, tries)

    def add(self, rec: dict) -> None:
        with self.lock:
            self.records.append(rec)


def send(client: Client, method: str, path: str, *, body: bytes | None, headers: dict,
         tally: Tally, deadline: float | None = None) -> tuple[int | None, str, int]:
    """Send until an HTTP answer that is not 5xx comes back (same body, same key)."""
    tries = 0
    started = time.monotonic()
    while tries < MAX_TRIES:
        tries += 1
        try:
            status, text = client.request(method, path, body, headers, timeout=60)
        except (OSError, ConnectionError, TimeoutError):  # http.client errors too
            with tally.lock:
                tally.conn_errors += 1
            time.sleep(min(0.05 * tries, 1.0))
            continue
        except Exception as exc:  # http.client.RemoteDisconnected, BadStatusLine, ...
            if exc.__class__.__module__ != "http.client":
                raise
            with tally.lock:
                tally.conn_errors += 1
            time.sleep(min(0.05 * tries, 1.0))
            continue
        if status >= 500:
            with tally.lock:
                tally.five_xx.append(f"{method} {path} -> {status}: {text[:300]!r}")
            time.sleep(min(0.05 * tries, 1.0))
            continue
        with tally.lock:
            tally.latency.append((time.monotonic() - started, f"{method} {path}", tries))
        return status, text, tries
    return None, "", tries


def classify(kind: str, status: int | None, text: str) -> tuple[str, str, list]:
    """(outcome, code, changes): outcome is applied | replayed | refused | incomplete | gaveup."""
    if status is None:
        return "gaveup", "", []
    if kind == "api":
        data = json.loads(text) if text.startswith("{") else {}
        if status in (200, 201) and "changes" in data:
            return ("replayed" if data.get("replayed") else "applied"), "", data["changes"]
        return "refused", data.get("error", {}).get("code", str(status)), []
    if kind == "replay":
        data = json.loads(text) if text.startswith("{") else {}
        if status == 200 and data.get("ok"):
            return ("replayed" if data.get("replayed") else "applied"), "", []
        return "refused", data.get("code", str(status)), []
    # a screen fragment
    if status == 200 and 'data-testid="result"' in text:
        return ("replayed" if "already done" in text else "applied"), "", []
    m = re.search(r'data-error-code="([^"]+)"', text)
    if status == 422 or m:
        return "refused", m.group(1) if m else str(status), []
    return "incomplete", str(status), []


class Station(threading.Thread):
    def __init__(self, n: int, url: str, user: str, token: str, deadline: float, tally: Tally,
                 seed: int):
        super().__init__(daemon=True)
        self.n, self.url, self.user, self.token = n, url, user, token
        self.deadline, self.tally = deadline, tally
        self.rng = random.Random(seed * 1000 + n)
        self.client = Client(url, station=f"SOAK-{n:02d}")

    def run(self) -> None:
        for _ in range(20):  # sign-in may race a worker kill
            try:
                self.client.sign_in(self.user, PASSWORDS[self.user])
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.2)
        else:
            raise RuntimeError(f"station {self.n} could not sign in")
        while time.monotonic() < self.deadline:
            op = self.rng.choices(OPS, WEIGHTS)[0]
            try:
                getattr(self, "do_" + op)()
            except Exception as exc:  # noqa: BLE001  (a bug in the soak itself: say so)
                self.tally.add({"op": op, "outcome": "client-error", "code": repr(exc)[:200],
                                "key": "", "channel": "", "user": self.user})

    # -------------------------------------------------- helpers
    def get_json(self, path: str) -> dict | None:
        status, text, _ = send(self.client, "GET", path, body=None,
                               headers={"Authorization": f"Bearer {self.token}"},
                               tally=self.tally)
        with self.tally.lock:
            self.tally.gets += 1
        if status != 200:
            return None
        return json.loads(text)

    def lot_for(self, sku: str) -> str | None:
        return self.rng.choice(LOT_ITEMS[sku]) if sku in LOT_ITEMS else None

    def held(self, location: str, sku: str) -> tuple[str | None, int]:
        """What the API says the location holds of the item (lot, qty)."""
        data = self.get_json(f"/api/v1/inventory?location={location}&sku={sku}")
        rows = (data or {}).get("inventory", [])
        return (rows[0]["lot"], rows[0]["qty"]) if rows else (None, 0)

    def submit(self, op: str, channel: str, path: str, fields: dict) -> None:
        """Send one submission (as 3 concurrent copies one time in twenty) and record it."""
        key = f"soak-{self.n}-{uuid.uuid4().hex[:16]}"
        copies = 3 if self.rng.random() < 0.05 else 1
        if channel == "api":
            body = json.dumps(fields).encode()
            headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key,
                       "Content-Type": "application/json", "X-Station": f"SOAK-{self.n:02d}"}
            kind = "api"
        elif channel == "replay":
            body = json.dumps({**fields, "key": key}).encode()
            headers = {"Content-Type": "application/json", "X-CSRFToken": self.client.csrf}
            kind = "replay"
        else:
            from urllib.parse import urlencode

            body = urlencode({**fields, "idem": key, "csrf_token": self.client.csrf}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "HX-Request": "true", "X-CSRFToken": self.client.csrf}
            kind = "screen"
        answers: list = [None] * copies

        def one(i):
            status, text, tries = send(self.client, "POST", path, body=body, headers=headers,
                                       tally=self.tally)
            answers[i] = (status, text, tries, time.time())

        if copies == 1:
            one(0)
        else:
            threads = [threading.Thread(target=one, args=(i,)) for i in range(copies)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        outcomes = []
        for status, text, tries, answered_at in answers:
            outcome, code, changes = classify(kind, status, text)
            outcomes.append({"outcome": outcome, "code": code, "changes": changes,
                             "status": status, "tries": tries, "at": answered_at,
                             "snippet": text[:400] if outcome in ("incomplete",) else ""})
        if op == "pick" and any(o["outcome"] in ("applied", "replayed") for o in outcomes):
            with self.tally.lock:
                self.tally.picked_orders.add(fields["order"])
        self.tally.add({"op": op, "channel": channel, "key": key, "user": self.user,
                        "fields": fields, "copies": copies, "answers": outcomes})

    # -------------------------------------------------- the flows
    def channel(self) -> str:
        return self.rng.choice(["api", "screen"])

    def do_put(self):
        sku, loc = self.rng.choice(ITEMS), self.rng.choice(LOCATIONS)
        lot = self.lot_for(sku)
        if lot and self.rng.random() < 0.5:  # often put the lot that is already there
            held_lot, qty = self.held(loc, sku)
            lot = held_lot or lot
        fields = {"location": loc, "sku": sku, "lot": lot, "qty": self.rng.randint(1, 6)}
        ch = self.channel()
        if ch == "screen":
            fields = {k: ("" if v is None else str(v)) for k, v in fields.items()}
            self.submit("put", ch, "/put", fields)
        else:
            self.submit("put", ch, "/api/v1/transactions/put", fields)

    def do_pull(self):
        sku, loc = self.rng.choice(ITEMS), self.rng.choice(LOCATIONS)
        lot = self.lot_for(sku)
        held_lot, qty = self.held(loc, sku) if self.rng.random() < 0.7 else (None, 0)
        lot = held_lot or lot
        n = self.rng.randint(1, max(1, min(qty, 4))) if qty else self.rng.randint(1, 3)
        fields = {"location": loc, "sku": sku, "lot": lot, "qty": n}
        ch = self.channel()
        if ch == "screen":
            fields = {k: ("" if v is None else str(v)) for k, v in fields.items()}
            self.submit("pull", ch, "/pull", fields)
        else:
            self.submit("pull", ch, "/api/v1/transactions/pull", fields)

    def do_move(self):
        sku = self.rng.choice(ITEMS)
        src, dst = self.rng.sample(LOCATIONS, 2)
        lot = self.lot_for(sku)
        held_lot, qty = self.held(src, sku) if self.rng.random() < 0.7 else (None, 0)
        lot = held_lot or lot
        n = self.rng.randint(1, max(1, min(qty, 4))) if qty else self.rng.randint(1, 3)
        fields = {"from_location": src, "to_location": dst, "sku": sku, "lot": lot, "qty": n}
        ch = self.channel()
        if ch == "screen":
            fields = {k: ("" if v is None else str(v)) for k, v in fields.items()}
            self.submit("move", ch, "/move", fields)
        else:
            self.submit("move", ch, "/api/v1/transactions/move", fields)

    def do_count(self):
        sku, loc = self.rng.choice(ITEMS), self.rng.choice(LOCATIONS)
        lot = self.lot_for(sku)
        qty = self.rng.choice([0, 2, 5, 10, 20])
        if qty and lot and self.rng.random() < 0.6:
            held_lot, _ = self.held(loc, sku)
            lot = held_lot or lot
        fields = {"location": loc, "sku": sku, "lot": lot if qty else None, "qty": qty}
        ch = self.channel()
        if ch == "screen":
            fields = {k: ("" if v is None else str(v)) for k, v in fields.items()}
            self.submit("count", ch, "/count", fields)
        else:
            self.submit("count", ch, "/api/v1/transactions/cycle-count", fields)

    def do_pick(self):
        number = f"SK-{self.rng.randint(1, N_ORDERS):04d}"
        order = self.get_json(f"/api/v1/orders/{number}")
        if not order:
            return
        lines = [ln for ln in order["lines"] if ln["qty"] - ln["qty_picked"] - ln["qty_short"] > 0]
        if not lines:
            return
        line = self.rng.choice(lines)
        left = line["qty"] - line["qty_picked"] - line["qty_short"]
        stock = self.get_json(f"/api/v1/inventory?sku={line['sku']}") or {}
        rows = [r for r in stock.get("inventory", []) if r["location"] in LOCATIONS
                and (r["lot"] or line["sku"] not in LOT_ITEMS)]
        loc = self.rng.choice(rows)["location"] if rows else self.rng.choice(LOCATIONS)
        avail = next((r["qty"] for r in rows if r["location"] == loc), 1)
        qty = self.rng.randint(1, max(1, min(left, avail)))
        self.submit("pick", "screen", "/pick", {"order": number, "location": loc,
                                                 "sku": line["sku"], "qty": str(qty)})

    def do_pack(self):
        with self.tally.lock:
            candidates = sorted(self.tally.picked_orders)
        if not candidates:
            return self.do_pick()
        number = self.rng.choice(candidates)
        order = self.get_json(f"/api/v1/orders/{number}")
        if not order:
            return
        lines = [ln for ln in order["lines"] if ln["qty_picked"] > ln["qty_packed"]]
        if not lines:
            with self.tally.lock:
                self.tally.picked_orders.discard(number)
            return
        line = self.rng.choice(lines)
        lots = [p["lot"] for p in line["picks"] if p["lot"]]
        lot = ""
        if line["sku"] in LOT_ITEMS:
            lot = self.rng.choice(lots) if lots and self.rng.random() < 0.9 else \
                self.rng.choice(LOT_ITEMS[line["sku"]])
        qty = self.rng.randint(1, line["qty_picked"] - line["qty_packed"])
        if self.rng.random() < 0.5:
            self.submit("pack", "replay", "/pack/replay",
                        {"order": number, "sku": line["sku"], "qty": qty, "lot": lot or None})
        else:
            self.submit("pack", "screen", "/pack",
                        {"order": number, "sku": line["sku"], "lot": lot, "qty": str(qty)})


class Killer(threading.Thread):
    def __init__(self, master: int, every: float, deadline: float, seed: int):
        super().__init__(daemon=True)
        self.master, self.every, self.deadline = master, every, deadline
        self.rng = random.Random(seed)
        self.kills = 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.wait(self.rng.uniform(0.5 * self.every, 1.5 * self.every)):
            if time.monotonic() > self.deadline:
                return
            workers = children(self.master)
            if workers:
                try:
                    os.kill(self.rng.choice(workers), signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------- same key, 10 at once

def ten_at_once(url: str, web: Client, path: str, body: bytes, headers: dict, kind: str,
                tally: Tally) -> dict:
    """Send one request from 10 threads released together; count the answers."""
    barrier = threading.Barrier(10)
    answers: list[str] = []
    lock = threading.Lock()

    def fire(client: Client):
        barrier.wait()
        status, text, _ = send(client, "POST", path, body=body, headers=headers, tally=tally)
        with lock:
            answers.append(classify(kind, status, text)[0])

    threads = []
    for _ in range(10):
        client = Client(url, station="TWIN")
        client.cookies, client.csrf = dict(web.cookies), web.csrf
        threads.append(threading.Thread(target=fire, args=(client,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(collections.Counter(answers))


def same_key_phase(url: str, tokens: dict, tally: Tally) -> list[dict]:
    """10 threads send the same submission with the same key at once; it must apply once."""
    web = Client(url, station="TWIN").sign_in("pat", PASSWORDS["pat"])
    out = []
    put = {"location": "E-01-04", "sku": "TAPE-MED-25", "qty": 7}
    key = f"twin-api-{uuid.uuid4().hex[:12]}"
    answers = ten_at_once(url, web, "/api/v1/transactions/put", json.dumps(put).encode(),
                          {"Authorization": f"Bearer {tokens['pat']}", "Idempotency-Key": key,
                           "Content-Type": "application/json"}, "api", tally)
    out.append({"op": "put", "channel": "api", "key": key, "answers": answers})
    key = f"twin-screen-{uuid.uuid4().hex[:12]}"
    answers = ten_at_once(url, web, "/put", _form(web, {**put, "lot": "", "idem": key}),
                          _htmx(web), "screen", tally)
    out.append({"op": "put", "channel": "screen", "key": key, "answers": answers})
    # a pack replay: pick 5 x TAPE-MED-25 for TWIN-1 (just put at E-01-04), then send the same
    # replay (pack 2, same key) from 10 threads at once
    status, text, _ = send(web, "POST", "/pick", body=_form(web, {
        "order": "TWIN-1", "location": "E-01-04", "sku": "TAPE-MED-25", "qty": "5",
        "idem": f"twin-pick-{uuid.uuid4().hex[:12]}"}), headers=_htmx(web), tally=tally)
    picked = classify("screen", status, text)[0]
    key = f"twin-pack-{uuid.uuid4().hex[:12]}"
    body = json.dumps({"order": "TWIN-1", "sku": "TAPE-MED-25", "qty": 2, "key": key}).encode()
    answers = ten_at_once(url, web, "/pack/replay", body,
                          {"Content-Type": "application/json", "X-CSRFToken": web.csrf},
                          "replay", tally)
    out.append({"op": "pack", "channel": "replay", "key": key, "picked_first": picked,
                "answers": answers})
    return out


def _form(client: Client, fields: dict) -> bytes:
    from urllib.parse import urlencode

    return urlencode({**fields, "csrf_token": client.csrf}).encode()


def _htmx(client: Client) -> dict:
    return {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true",
            "X-CSRFToken": client.csrf}


# ---------------------------------------------------------------- checks

def check(database_url: str, tally: Tally, twins: list[dict], user_ids: dict) -> tuple[list, dict]:
    def run(session):
        from sqlalchemy import func, select

        from lotline.inventory import ledger_mismatches
        from lotline.models import (
            IdempotencyRecord,
            Inventory,
            LedgerEntry,
            OrderLine,
            PackLine,
            PickLine,
        )

        problems: list[str] = []
        stats: dict = {}
        dup = session.execute(select(Inventory.location_id, Inventory.item_id, func.count())
                              .group_by(Inventory.location_id, Inventory.item_id)
                              .having(func.count() > 1)).all()
        if dup:
            problems.append(f"rule 2: (location, item) with more than one row: {dup[:10]}")
        neg = session.scalar(select(func.count()).select_from(Inventory)
                             .where(Inventory.qty < 0))
        neg_l = session.scalar(select(func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.qty_after < 0))
        if neg or neg_l:
            problems.append(f"negative quantities: inventory {neg}, ledger qty_after {neg_l}")
        mism = ledger_mismatches(session)
        if mism:
            problems.append(f"ledger_mismatches(): {mism[:10]}")
        stats["inventory_rows"] = session.scalar(select(func.count()).select_from(Inventory))
        stats["ledger_rows"] = session.scalar(select(func.count()).select_from(LedgerEntry))

        ledger: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for key, kind in session.execute(select(LedgerEntry.idempotency_key, LedgerEntry.type)
                                         .where(LedgerEntry.idempotency_key.is_not(None))):
            ledger[key][kind] += 1
        records: dict[str, str] = {}
        recorded_at: dict[str, float] = {}  # when the applying transaction wrote its record
        for scoped, operation, created in session.execute(select(
                IdempotencyRecord.key, IdempotencyRecord.operation,
                IdempotencyRecord.created_at)):
            records[scoped.split(":", 1)[1]] = operation
            recorded_at[scoped.split(":", 1)[1]] = created.replace(tzinfo=dt.UTC).timestamp()

        # every key in the ledger: a whole pattern, never half, never twice
        for key, kinds in ledger.items():
            d = dict(kinds)
            ok = d in ({"put": 1}, {"pull": 1}, {"pick": 1}, {"putaway": 1},
                       {"move-out": 1, "move-in": 1}, {"cycle-count": 1}, {"cycle-count": 2})
            if not ok:
                problems.append(f"key {key}: ledger rows {d} (half-applied or doubled)")
            if key not in records:
                problems.append(f"key {key}: ledger rows {d} but no idempotency record")

        op_name = {"put": "put", "pull": "pull", "move": "move", "count": "cycle-count",
                   "pick": "pick", "pack": "pack"}
        outcome_counts: collections.Counter = collections.Counter()
        refusal_codes: collections.Counter = collections.Counter()
        acked = 0
        earlier_refusals = 0
        for rec in tally.records:
            if rec.get("outcome") == "client-error":
                problems.append(f"soak client error in {rec['op']}: {rec['code']}")
                continue
            key, op = rec["key"], rec["op"]
            answers = rec["answers"]
            finals = {a["outcome"] for a in answers}
            for a in answers:
                outcome_counts[f"{op}/{rec['channel']}/{a['outcome']}"] += 1
                if a["outcome"] == "refused":
                    refusal_codes[a["code"]] += 1
            success = finals & {"applied", "replayed"}
            applied_rows = dict(ledger.get(key, {}))
            has_record = key in records
            if "incomplete" in finals:
                problems.append(f"{op} {rec['channel']} {key}: answered without a result or "
                                f"an error: {[a['snippet'][:200] for a in answers]}")
            if success:
                acked += 1
                if not has_record or records[key] != op_name[op]:
                    problems.append(f"{op} {key}: acknowledged but no '{op_name[op]}' "
                                    f"idempotency record (have {records.get(key)})")
                if op in EXPECTED and applied_rows != EXPECTED[op]:
                    problems.append(f"{op} {rec['channel']} {key}: acknowledged; ledger rows "
                                    f"{applied_rows}, expected {EXPECTED[op]}")
                if op == "count":
                    n = sum(applied_rows.values())
                    changes = [len(a["changes"]) for a in answers if a["changes"]]
                    if set(applied_rows) != {"cycle-count"} or not 1 <= n <= 2 or \
                            (changes and changes[0] != n):
                        problems.append(f"count {key}: ledger rows {applied_rows}, "
                                        f"changes {changes}")
                if op == "pack" and applied_rows:
                    problems.append(f"pack {key}: ledger rows {applied_rows}")
                refused = [a for a in answers if a["outcome"] not in ("applied", "replayed")]
                if refused and all(a["outcome"] == "refused" and key in recorded_at
                                   and a["at"] < recorded_at[key] for a in refused):
                    # Answered before the copy that applied had even written its record: the
                    # refusal was decided first, on what the stock was then (another station
                    # changed it before the applying copy ran). True when said; nothing doubled.
                    earlier_refusals += len(refused)
                elif finals - {"applied", "replayed"}:
                    problems.append(
                        f"[retry answered wrong] {op} {rec['channel']} {key} ({rec['copies']} cop"
                        f"{'ies' if rec['copies'] > 1 else 'y'}): answers disagree "
                        f"{[(a['outcome'], a['code'], a['tries']) for a in answers]}; "
                        f"ledger {applied_rows}, record {records.get(key)}")
                if sum(a["outcome"] == "applied" for a in answers) > 1:
                    problems.append(f"{op} {key}: {len(answers)} copies, more than one "
                                    f"answered 'applied' (not 'replayed')")
            elif "refused" in finals and (applied_rows or has_record):
                problems.append(
                    f"[retry answered wrong] {op} {rec['channel']} {key}: final answer a refusal "
                    f"{[(a['code'], a['tries'], a['status']) for a in answers]} but it "
                    f"was applied: ledger {applied_rows}, record {records.get(key)}; "
                    f"fields {rec['fields']}")
            elif "gaveup" in finals:
                problems.append(f"{op} {key}: no answer after {MAX_TRIES} tries "
                                f"(applied: {bool(applied_rows or has_record)})")

        pack_lines = session.scalar(select(func.count()).select_from(PackLine))
        pack_records = sum(1 for op in records.values() if op == "pack")
        if pack_lines != pack_records:
            problems.append(f"pack lines {pack_lines} != pack idempotency records "
                            f"{pack_records}")
        bad_lines = []
        for line in session.scalars(select(OrderLine)):
            picked = session.scalar(select(func.coalesce(func.sum(PickLine.qty), 0))
                                    .where(PickLine.order_line_id == line.id))
            packed = session.scalar(select(func.coalesce(func.sum(PackLine.qty), 0))
                                    .where(PackLine.order_line_id == line.id))
            if picked != line.qty_picked or packed != line.qty_packed or \
                    line.qty_packed > line.qty_picked:
                bad_lines.append((line.id, line.qty_picked, picked, line.qty_packed, packed))
        if bad_lines:
            problems.append(f"order lines whose counters disagree with pick/pack lines "
                            f"(id, qty_picked, sum picks, qty_packed, sum packs): "
                            f"{bad_lines[:10]}")
        pick_ledger = -(session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                                       .where(LedgerEntry.type == "pick")) or 0)
        pick_sum = session.scalar(select(func.coalesce(func.sum(PickLine.qty), 0)))
        if pick_ledger != pick_sum:
            problems.append(f"pick ledger total {pick_ledger} != pick lines total {pick_sum}")

        for twin in twins:
            answers_ok = set(twin["answers"]) <= {"applied", "replayed"} and \
                twin["answers"].get("applied", 0) == 1
            if twin["op"] == "pack":
                from lotline.models import Order

                order = session.scalar(select(Order).where(Order.number == "TWIN-1"))
                lines = [pl for c in order.cartons for pl in c.lines]
                rows = {"pack_lines": len(lines), "qty_packed": order.lines[0].qty_packed}
                good = answers_ok and rows == {"pack_lines": 1, "qty_packed": 2}
            else:
                rows = dict(ledger.get(twin["key"], {}))
                good = answers_ok and rows == {"put": 1}
            twin["ledger_rows"] = rows
            twin["ok"] = good
            if not good:
                problems.append(f"same key x10 ({twin['channel']}): answers "
                                f"{twin['answers']}, ledger rows {rows}")
        stats.update(acknowledged=acked, earlier_refusals=earlier_refusals,
                     outcomes=dict(sorted(outcome_counts.items())),
                     refusal_codes=dict(refusal_codes.most_common()),
                     pack_lines=pack_lines, pick_lines_qty=pick_sum)
        return problems, stats

    return in_app(database_url, run)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--duration", type=float, default=120, help="seconds (120)")
    ap.add_argument("--stations", type=int, default=12)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--kill", action="store_true", help="SIGKILL random workers meanwhile")
    ap.add_argument("--kill-every", type=float, default=3.0, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg-db", default="soak")
    ap.add_argument("--json", help="write the figures and problems here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    url = f"sqlite:///{tmp / 'soak.db'}" if args.db == "sqlite" else \
        create_pg_database(args.pg_db)
    info = machine()
    print(f"# soak {args.db} {'--kill ' if args.kill else ''}{args.duration:g}s "
          f"{args.stations} stations, gunicorn -w {args.workers}  "
          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"# {info['uptime']}")
    server = None
    try:
        setup = prepare(url, args.seed)
        server = Server("soak", "app:create_app()", lotline_env(url), tmp,
                        workers=args.workers,
                        extra=["--access-logfile", str(tmp / "soak-access.log"),
                               "--access-logformat",
                               '%(t)s %(p)s "%(r)s" %(s)s %(b)s %(L)s'])
        tally = Tally()
        start = time.monotonic()
        deadline = start + args.duration
        users = list(PASSWORDS)
        stations = [Station(n, server.url, users[n % len(users)],
                            setup["tokens"][users[n % len(users)]], deadline, tally, args.seed)
                    for n in range(1, args.stations + 1)]
        killer = Killer(server.proc.pid, args.kill_every, deadline, args.seed) \
            if args.kill else None
        for s in stations:
            s.start()
        if killer:
            killer.start()
        last = start
        while any(s.is_alive() for s in stations):
            time.sleep(1)
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                print(f"  t={last - start:5.0f}s submissions {len(tally.records)} "
                      f"conn errors {tally.conn_errors} 5xx {len(tally.five_xx)} "
                      f"kills {killer.kills if killer else 0}  load {os.getloadavg()[0]:.2f}",
                      flush=True)
        if killer:
            killer.stop_event.set()
            killer.join()
        elapsed = time.monotonic() - start
        submissions = len(tally.records)
        time.sleep(1)  # let gunicorn replace the last killed worker
        twins = same_key_phase(server.url, setup["tokens"], tally)
        server.stop()
        errors = [ln for ln in server.error_log.read_text(errors="replace").splitlines()
                  if "Traceback" in ln or "Exception" in ln]
        problems, stats = check(url, tally, twins, setup["user_ids"])
        if tally.five_xx:
            problems.append(f"{len(tally.five_xx)} responses were 5xx, e.g. {tally.five_xx[:3]}")
        if errors:
            problems.append(f"gunicorn error log: {len(errors)} traceback/exception lines, "
                            f"e.g. {errors[:3]}")
        kill_lines = sum("SIGKILL" in ln for ln in
                         server.error_log.read_text(errors="replace").splitlines())
        print(f"# {subprocess_uptime()}")
        print(f"elapsed {elapsed:.1f}s  submissions {submissions} "
              f"({submissions / elapsed:.1f}/s) acknowledged {stats['acknowledged']}  "
              f"GETs {tally.gets}  connection errors retried {tally.conn_errors}  "
              f"5xx {len(tally.five_xx)}  workers killed {killer.kills if killer else 0} "
              f"(gunicorn logged {kill_lines})")
        print(f"inventory rows {stats['inventory_rows']}  ledger rows {stats['ledger_rows']}  "
              f"pack lines {stats['pack_lines']}  units picked {stats['pick_lines_qty']}")
        print("outcomes (op/channel/answer: count):")
        for k, v in stats["outcomes"].items():
            print(f"  {k:32} {v}")
        print("refusals by code:", stats["refusal_codes"])
        print(f"copies of an applied submission refused before it applied (answered before its "
              f"record was written; true when said): {stats['earlier_refusals']}")
        lat = sorted(t for t, _, _ in tally.latency)
        if lat:
            pct = {q: lat[min(len(lat) - 1, int(q / 100 * len(lat)))] * 1000 for q in (50, 99)}
            slow = sorted(tally.latency, reverse=True)[:5]
            stats["client_latency_ms"] = {"p50": pct[50], "p99": pct[99],
                                          "max": lat[-1] * 1000, "n": len(lat)}
            print(f"client-observed time to an answer (retries included), all requests: "
                  f"p50 {pct[50]:.0f} ms, p99 {pct[99]:.0f} ms, max {lat[-1] * 1000:.0f} ms "
                  f"(n={len(lat)}); slowest: "
                  + ", ".join(f"{t:.1f}s {p} ({n} tries)" for t, p, n in slow))
        for twin in twins:
            print(f"same {twin['op']}, same key, 10 threads at once ({twin['channel']}): answers "
                  f"{twin['answers']}, ledger rows {twin['ledger_rows']} -> "
                  f"{'applied once' if twin['ok'] else 'WRONG'}")
        checks = ["one row per (location, item)", "no negative qty",
                  "ledger_mismatches() == []", "acknowledged keys: their ledger rows + record",
                  "no half-applied / doubled key", "refused keys changed nothing",
                  "pick/pack counters agree", "no 5xx / tracebacks"]
        if problems:
            wrong = sum(p.startswith("[retry answered wrong]") for p in problems)
            print(f"PROBLEMS ({len(problems)}): {wrong} retries of an applied submission "
                  f"answered with a refusal (applied once all the same); "
                  f"{len(problems) - wrong} other (invariants, 5xx, errors)")
            for p in problems[:60]:
                print("  - " + p)
            if len(problems) > 60:
                print(f"  ... and {len(problems) - 60} more")
        else:
            print("ALL CHECKS PASSED: " + "; ".join(checks))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "args": vars(args), "machine": info, "elapsed": elapsed,
                "submissions": submissions, "conn_errors": tally.conn_errors,
                "kills": killer.kills if killer else 0, "stats": stats, "twins": twins,
                "problems": problems, "five_xx": tally.five_xx[:50]}, indent=2, default=str))
        return 1 if problems else 0
    finally:
        if server:
            server.stop()
        if args.db == "pg":
            drop_pg_database(args.pg_db)
        if args.keep:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def subprocess_uptime() -> str:
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
