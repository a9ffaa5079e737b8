"""Lot look-ups at scale: times ``lotline.lots.trace()`` on a database filled by seed-bulk.

    .venv/bin/python bench/lot_lookup.py --database-url sqlite:////tmp/bulk.db [--runs 500]
    .venv/bin/python bench/lot_lookup.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bulkbench
    .venv/bin/python bench/lot_lookup.py --database-url URL \
        --app-dir /path/before --app-dir /path/after --rounds 3     # alternating, one run

The database must be filled first (once; it is only read here, so it can be kept and used
again): ``flask db upgrade`` then ``flask seed-bulk --yes`` (a million inventory rows, five
million pack lines) with DATABASE_URL set to it.

--app-dir: the Lotline checkout whose ``lotline`` is timed (default: the one this script is
in). With several (or --rounds over 1) the script runs itself once per round and checkout,
alternating, each with that checkout's own .venv, the same lots for every checkout in a
round, and prints the bar lines of all runs at the end.

Measures, for random existing lot numbers (a new one every run, a fresh session per call
as a request would have, after a warm-up):

- ``trace(number)``            the whole lot trace / recall query, every item with that number
- ``trace(number, sku)``       the same for one item
- ``where is lot X``           lot look-up + on-hand rows (inventory → location, lot, item)
- ``who received lot X``       lot look-up + the shipments: pick lines (→ order, item,
                                location) and the pack lines that recorded the lot
                                (carton → order → item), as trace() runs them now: 3 statements
- the same, SQL only           those statements on the Core connection, the lots too as
                                plain rows: what the database costs, apart from Python
- historical: before a37c7ef   "who received" as trace() ran it before the round trips were
                                cut (the lots' items by a second SELECT, each pick's location
                                by a lazy load): a same-conditions baseline, not the product
- floor                        a pooled-connection checkout (as the app is
                                configured) and ``SELECT 1``: the fixed cost of any request

and prints median / p99 in ms, the row counts of the big tables, the machine, and the
query plans of every statement trace() sends (captured from the engine while it runs).
A plan that reads inventory, pack_line, pick_line or ledger_entry in full prints a FAIL
line and makes the exit status 1. The bar (issue 16, PRODUCT.md "Quality bars"): "where is
lot X" and "who received lot X" under 1 ms median on SQLite and under 3 ms on PostgreSQL, with
a million inventory rows and five million pack lines; a missed bar makes the exit status 1
too, unless --report-only. A query whose domain function the checkout does not have is
reported as not measured.

"where" and "who" call the domain's own pieces of trace() (lots.find_lots, lots.on_hand,
lots.shipments); the script still checks that every statement they send is one trace()
sends too, and prints a FAIL line (exit status 1) if not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_APP = Path(__file__).resolve().parents[1]


def _app_dirs(argv: list[str]) -> list[Path]:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--app-dir", action="append", type=Path)
    known, _ = pre.parse_known_args(argv)
    return [p.resolve() for p in known.app_dir] if known.app_dir else [DEFAULT_APP]


APP_DIRS = _app_dirs(sys.argv[1:])
# the checkout to time comes first on the path (before any editable install's finder)
sys.path.insert(0, str(APP_DIRS[0] if len(APP_DIRS) == 1 else DEFAULT_APP))

import sqlalchemy  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from app import create_app  # noqa: E402
from lotline import lots  # noqa: E402
from lotline.extensions import db  # noqa: E402
from lotline.models import (  # noqa: E402
    Carton,
    Inventory,
    Item,
    LedgerEntry,
    Lot,
    Order,
    OrderLine,
    PackLine,
    PickLine,
)

BIG_TABLES = ("inventory", "pack_line", "pick_line", "ledger_entry")
COUNTED = (Lot, Inventory, LedgerEntry, Order, OrderLine, Carton, PickLine, PackLine)
BAR_MS = {"sqlite": 1.0, "postgresql": 3.0}  # median, "where" and "who received"
BARRED = ("where is lot X (on hand)", "who received lot X (shipments)")


def where_is(session, number) -> int:
    """lots.trace()'s look-up and on-hand query, alone (the domain's own functions)."""
    found = lots.find_lots(session, number)
    return len(lots.on_hand(session, [lot.id for lot in found]))


def who_received(session, number) -> int:
    """lots.trace()'s look-up and shipment queries (picks, then pack lines), alone, through
    the domain's own functions: find_lots() (lots with their items joined), then
    shipments(): the picks with their order, item and location, and the pack lines that
    recorded the number. 3 statements."""
    found = lots.find_lots(session, number)
    return len(lots.shipments(session, number, [lot.id for lot in found]))


def _pack_query(number):
    """HISTORICAL: trace()'s pack-line query before a37c7ef, as ORM entities."""
    return (select(PackLine, Order, Item).join(Carton, Carton.id == PackLine.carton_id)
            .join(Order, Order.id == Carton.order_id).join(Item, Item.id == PackLine.item_id)
            .where(PackLine.recorded_lot == number).order_by(Order.number))


def who_received_before(session, number) -> int:
    """HISTORICAL: who_received() as trace() ran it before commit a37c7ef ("fewer round trips
    in lot trace"): the lots' items by selectinload (a second SELECT) and each pick's location
    by a lazy load (one SELECT per pick line that has one). Kept only as a same-conditions
    baseline for the change; the product no longer runs this."""
    found = list(session.scalars(select(Lot).where(Lot.number == number)
                                 .options(selectinload(Lot.item)).order_by(Lot.id)))
    lot_ids = [lot.id for lot in found]
    n = 0
    for pick, _order, _item in session.execute(
            select(PickLine, Order, Item)
            .join(OrderLine, OrderLine.id == PickLine.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Item, Item.id == PickLine.item_id)
            .where(PickLine.lot_id.in_(lot_ids), PickLine.qty > 0)
            .order_by(Order.number)):
        n += 1
        _ = pick.location.code if pick.location else ""
    n += len(session.execute(_pack_query(number)).all())
    return n


def who_received_sql(session, number) -> int:
    """who_received()'s three statements on the Core connection, the lots too as plain rows:
    no ORM object at all. The difference to who_received() is ORM work in Python."""
    conn = session.connection()
    lot_ids = [row.id for row in conn.execute(
        select(Lot.id, Item.id).outerjoin(Item, Item.id == Lot.item_id)
        .where(Lot.number == number).order_by(Lot.id))]
    n = len(conn.execute(lots.PICKED, {"lot_ids": lot_ids}).all()) if lot_ids else 0
    n += len(conn.execute(lots.PACKED, {"number": number}).all())
    return n


def round_trip(session, number) -> int:
    """The floor: check a connection out of the app's pool and SELECT 1 (the pool pings a
    server connection only after it sat idle 1 s, which it never does here)."""
    return session.connection().exec_driver_sql("SELECT 1").scalar()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(queries: list[tuple[str, Callable[[str, str], int]]],
          samples: list[tuple[str, str]], warmup: int) -> list[dict]:
    """Time the queries interleaved (one call of each in turn, the order rotating), so a
    burst of load on this shared machine hits all of them alike. Every call gets a lot of
    its own: no query runs on pages another query has just read for the same lot."""
    session = db.session
    for number, sku in samples[:warmup]:
        for _name, call in queries:
            call(number, sku)
            session.remove()
    rest = samples[warmup:]
    times: list[list[float]] = [[] for _ in queries]
    sizes: list[list[int]] = [[] for _ in queries]
    statements = [0] * len(queries)
    current = [0]

    def count(*_args):
        statements[current[0]] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for i in range(len(rest) // len(queries)):
            for k in range(len(queries)):
                q = (i + k) % len(queries)
                current[0] = q
                number, sku = rest[i * len(queries) + q]
                t0 = time.perf_counter()
                sizes[q].append(queries[q][1](number, sku))
                times[q].append((time.perf_counter() - t0) * 1000)
                session.remove()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return [{"name": name, "n": len(t), "median": statistics.median(t),
             "p99": percentile(t, 0.99), "mean": statistics.fmean(t), "max": max(t),
             "rows": statistics.fmean(z), "statements": n / len(t)}
            for (name, _), t, z, n in zip(queries, times, sizes, statements, strict=True)]


def capture(engine, call: Callable[[], object]) -> list[tuple[str, object]]:
    """Every statement (with its parameters) the engine runs during ``call``."""
    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    unique, texts = [], set()
    for statement, parameters in seen:
        if statement not in texts:
            texts.add(statement)
            unique.append((statement, parameters))
    return unique


def explain(conn, statement: str, parameters, postgres: bool, analyze: bool) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN "
    if postgres:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    if postgres:
        return [r[0] for r in rows]
    return [r[-1] for r in rows]


def plan_problems(lines: list[str], postgres: bool) -> tuple[list[str], list[str]]:
    """(failures, warnings): full scans of the big tables fail; other full scans warn."""
    fails, warns = [], []
    for line in lines:
        if postgres:
            m = re.search(r"Seq Scan on (\w+)", line)
            if m:
                (fails if m.group(1) in BIG_TABLES else warns).append(line.strip())
        else:
            m = re.match(r"\s*SCAN (\w+)", line)
            if not m:
                continue
            if m.group(1) in BIG_TABLES and "USING INDEX" not in line:
                fails.append(line.strip())  # the table, or all of a covering index
            else:
                warns.append(line.strip())  # a small table, or a big one walked in index order
    return fails, warns


def machine(conn, postgres: bool) -> list[str]:
    if postgres:
        version = conn.scalar(text("SELECT version()"))
        settings = ", ".join(f"{k}={conn.scalar(select(func.current_setting(k)))}" for k in (
            "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
            "jit"))
        database = f"PostgreSQL: {version}\n  settings: {settings}"
    else:
        import sqlite3

        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        stats = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar()
        size = os.path.getsize(conn.engine.url.database) / 2**20
        database = (f"SQLite {sqlite3.sqlite_version} (journal {journal}, "
                    f"{'ANALYZE statistics present' if stats else 'no ANALYZE statistics'}, "
                    f"file {size:,.0f} MiB)")
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"machine: {platform.node()} {platform.system()} {platform.release()}, "
        f"nproc {len(os.sched_getaffinity(0))}, {cpu}",
        f"python: {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}",
        f"database: {database}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=500, help="timed calls per query")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain-analyze", action="store_true",
                        help="PostgreSQL: EXPLAIN (ANALYZE, BUFFERS), with server-side times")
    parser.add_argument("--app-dir", action="append", type=Path,
                        help="the checkout to time (repeat it to alternate; see above)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --app-dir: run every checkout this many times, alternating")
    parser.add_argument("--report-only", action="store_true",
                        help="exit 0 when the bar is missed (a full scan still fails)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if len(APP_DIRS) > 1 or args.rounds > 1:
        return alternate(args)
    url = args.database_url
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    failed = False
    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        print(f"Lot look-up benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        load_before = os.getloadavg()
        with engine.connect() as conn:
            for line in machine(conn, postgres):
                print(line)
            counts = {m.__tablename__: conn.scalar(select(func.count()).select_from(m))
                      for m in COUNTED}
            print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
            max_lot = conn.scalar(select(func.max(Lot.id))) or 0
            if not max_lot or not counts["pack_line"]:
                print("FAIL: the database has no lots or no pack lines; run seed-bulk first.")
                return 1
            rng = random.Random(args.seed)
            queries, missing = available_queries()
            total = args.warmup + args.runs * len(queries)
            ids = [rng.randint(1, max_lot) for _ in range(total)]
            found = dict(conn.execute(select(Lot.id, Lot.number).where(Lot.id.in_(set(ids)))).all())
            skus = dict(conn.execute(select(Lot.id, Item.sku).join(Item, Item.id == Lot.item_id)
                                     .where(Lot.id.in_(set(ids)))).all())
            samples = [(found[i], skus[i]) for i in ids if i in found]
            shared = conn.execute(select(Lot.number).group_by(Lot.number)
                                  .having(func.count() > 1).limit(1)).scalar()
        for name, call in list(queries):  # one that fails on this checkout is left out
            try:
                call(*samples[0])
            except Exception as exc:  # noqa: BLE001
                queries.remove((name, call))
                missing.append((name.strip(), f"{type(exc).__name__}: {exc}"[:160]))
            finally:
                db.session.remove()
        print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} "
              f"{load_before[2]:.2f}")
        print(f"\n{args.runs} timed calls per query after {args.warmup} warm-up calls, "
              f"random lots (seed {args.seed}), fresh session per call, queries interleaved:")
        results = timed(queries, samples, args.warmup)
        load_after = os.getloadavg()
        print(f"  {'query (ms)':<32} {'median':>8} {'p99':>8} {'mean':>8} {'max':>8}  "
              f"rows/call  SQL statements/call")
        for r in results:
            print(f"  {r['name']:<32} {r['median']:7.2f}  {r['p99']:7.2f}  {r['mean']:7.2f}  "
                  f"{r['max']:7.2f}  {r['rows']:9.1f}  {r['statements']:.1f}")
        print("  (timed: the call, not the session's closing rollback. statements/call: SQL "
              "sent through the engine; on SQLite it includes the app's BEGIN, on PostgreSQL "
              "psycopg's implicit BEGIN is an extra round trip)")
        print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} "
              f"{load_after[2]:.2f}")
        for name, why in missing:
            print(f"not measured: {name} ({why})")
        bar = BAR_MS[engine.dialect.name]
        bars = []
        for name in BARRED:
            r = next((r for r in results if r["name"] == name), None)
            ok = r is not None and r["median"] < bar
            bars.append({"name": name, "median": r["median"] if r else None, "bar": bar,
                         "met": ok})
            value = f"median {r['median']:.2f} ms" if r else "not measured"
            print(f"{'MET    ' if ok else 'NOT MET'} {name.split(' (')[0]} on "
                  f"{engine.dialect.name}: {value} < {bar:g} ms (load average "
                  f"{load_before[0]:.2f} before, {load_after[0]:.2f} after)")
        missed = not all(b["met"] for b in bars)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "app": str(APP_DIRS[0]), "head": git_head(APP_DIRS[0]),
                "database": engine.dialect.name, "results": results, "bars": bars,
                "load": [load_before[0], load_after[0]]}, indent=2))
        if not all(hasattr(lots, n) for n in ("find_lots", "on_hand", "shipments")):
            return 1 if missed and not args.report_only else 0

        number, sku = samples[0]
        statements = capture(engine, lambda: lots.trace(db.session, shared or number))
        db.session.remove()
        # "where" and "who" must send trace()'s statements, not a copy that has drifted.
        sent_by_trace = {statement for statement, _ in statements}
        for label, call in (("where is lot X", where_is), ("who received lot X", who_received)):
            mine = capture(engine, lambda call=call: call(db.session, shared or number))
            db.session.remove()
            foreign = [st for st, _ in mine if st not in sent_by_trace]
            if foreign:
                failed = True
                for st in foreign:
                    print(f"FAIL: {label} sends a statement trace() does not: "
                          f"{' '.join(st.split())[:200]}")
            else:
                print(f"check: {label} sends {len(mine)} statements, all of them trace()'s")
        statements += capture(engine, lambda: lots.trace(db.session, number, sku))
        db.session.remove()
        seen, plans = set(), []
        for statement, parameters in statements:
            if statement not in seen:
                seen.add(statement)
                plans.append((statement, parameters))
        kind = "EXPLAIN QUERY PLAN"
        if postgres:
            kind = "EXPLAIN (ANALYZE, BUFFERS)" if args.explain_analyze else "EXPLAIN"
        print(f"\nQuery plans ({kind}) of the "
              f"{len(plans)} distinct statements trace() sends (lot {shared or number}, "
              f"then {number} / {sku}):")
        with engine.connect() as conn:
            for i, (statement, parameters) in enumerate(plans, 1):
                flat = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", " ".join(statement.split()))
                print(f"\n[{i}] {flat}")
                lines = explain(conn, statement, parameters, postgres, args.explain_analyze)
                for line in lines:
                    print(f"    {line}")
                fails, warns = plan_problems(lines, postgres)
                for line in fails:
                    failed = True
                    print(f"    FAIL: full scan of a big table: {line}")
                for line in warns:
                    print(f"    WARN: full scan: {line}")
        print("\nFAIL: a query plan scans a big table in full" if failed else
              "\nOK: every plan reaches inventory, pack_line, pick_line and ledger_entry "
              "through an index")
    return 1 if failed or (missed and not args.report_only) else 0


def available_queries() -> tuple[list, list]:
    """The timed queries this checkout's ``lotline.lots`` can run, and those it cannot."""
    wanted = [
        ("trace(number)", ("trace",), lambda n, s: len(lots.trace(db.session, n).shipments)),
        ("trace(number, sku)", ("trace",),
         lambda n, s: len(lots.trace(db.session, n, s).shipments)),
        ("where is lot X (on hand)", ("find_lots", "on_hand"),
         lambda n, s: where_is(db.session, n)),
        ("who received lot X (shipments)", ("find_lots", "shipments"),
         lambda n, s: who_received(db.session, n)),
        ("  same, SQL only (Core rows)", ("PICKED", "PACKED"),
         lambda n, s: who_received_sql(db.session, n)),
        ("  historical: before a37c7ef", (), lambda n, s: who_received_before(db.session, n)),
        ("floor: checkout + SELECT 1", (), lambda n, s: round_trip(db.session, n)),
    ]
    queries, missing = [], []
    for name, needs, call in wanted:
        absent = [f"lotline.lots.{x}" for x in needs if not hasattr(lots, x)]
        if absent:
            missing.append((name.strip(), "this checkout has no " + ", ".join(absent)))
        else:
            queries.append((name, call))
    return queries, missing


def git_head(path: Path) -> str:
    done = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "?"


def alternate(args) -> int:
    """Run this script once per round and checkout (each with its own .venv), alternating."""
    tmp = Path(tempfile.mkdtemp(prefix="lotlookup-"))
    runs, status = [], 0
    for rnd in range(1, args.rounds + 1):
        for app_dir in APP_DIRS:
            venv = app_dir / ".venv" / "bin" / "python"
            out = tmp / f"r{rnd}-{len(runs)}.json"
            cmd = [str(venv if venv.exists() else sys.executable), __file__, "--app-dir",
                   str(app_dir), "--database-url", args.database_url, "--runs", str(args.runs),
                   "--warmup", str(args.warmup), "--seed", str(args.seed + rnd - 1),
                   "--json", str(out)]
            if args.report_only:
                cmd.append("--report-only")
            print(f"\n===== round {rnd}: {app_dir} ({git_head(app_dir)})", flush=True)
            status |= subprocess.run(cmd).returncode
            if out.exists():
                runs.append({"round": rnd, **json.loads(out.read_text())})
    print("\n===== the bar, every run:")
    for run in runs:
        for b in run["bars"]:
            value = f"{b['median']:.2f} ms" if b["median"] is not None else "not measured"
            print(f"{'MET    ' if b['met'] else 'NOT MET'} round {run['round']} "
                  f"{Path(run['app']).name}@{run['head']} {run['database']}: "
                  f"{b['name'].split(' (')[0]} median {value} < {b['bar']:g} ms "
                  f"(load {run['load'][0]:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    for out in tmp.iterdir():
        out.unlink()
    tmp.rmdir()
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
