"""``flask seed-bulk``: fill an empty database with a warehouse big enough to benchmark.

Full size (the product's quality bar for lot look-ups): 2,000 items (half lot-tracked),
20,000 locations, 200,000 lots, 1,000,000 inventory rows with one ``put`` ledger row each,
500,000 shipped orders with about 1.5 million order lines, cartons, 5,000,000 pack lines
whose recorded lots are drawn from the lots, and pick lines for one order in three.

Rows are written with raw bulk inserts, not the domain functions: SQLAlchemy Core
``insert()`` executemany batches on SQLite, ``COPY … FROM STDIN`` on PostgreSQL. Every row
still obeys the schema: the database checks every CHECK, unique key and foreign key
(including the lot-of-item composite keys) as it loads. The data is deterministic for a
given ``seed``.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, Table, func, insert, select

from .models import (
    Carton,
    Inventory,
    Item,
    LedgerEntry,
    Location,
    Lot,
    Order,
    OrderLine,
    PackLine,
    PickLine,
)

BATCH = 20_000  # rows per executemany / COPY statement
ORDER_CHUNK = 10_000  # orders generated (and committed) together with their lines
STATION = "BULK"
REFERENCE = "seed-bulk"
LOT_LINE_SHARE = 0.9  # share of order lines that are of lot-tracked items
MISMATCH_SHARE = 0.02  # pack lines whose recorded lot differs from the picked lot
SHARED_NUMBER_EVERY = 20  # every 20th lot reuses the previous lot's number (another item)


class NotEmpty(Exception):
    """The target database already holds data; seed-bulk only fills an empty one."""


@dataclass
class Plan:
    """How many rows of each kind, derived from the two sizes the command takes."""

    inventory: int
    pack_lines: int
    items: int = 0
    lot_items: int = 0
    locations: int = 0
    lots: int = 0
    orders: int = 0

    def __post_init__(self) -> None:
        if self.inventory < 1 or self.pack_lines < 1:
            raise ValueError("inventory and pack_lines must be at least 1")
        self.items = max(20, min(2_000, self.inventory // 500))
        self.lot_items = self.items // 2
        # Enough locations that every inventory row is a distinct (location, item).
        self.locations = max(self.inventory // 50, -(-self.inventory // self.items) * 2)
        self.lots = max(self.lot_items * 2, self.inventory // 5)
        self.orders = max(1, self.pack_lines // 10)

    def approx_rows(self) -> int:
        order_lines = self.orders * 3
        return (self.items + self.locations + self.lots + 2 * self.inventory + self.orders
                + order_lines + int(self.orders * 1.3) + self.pack_lines + order_lines // 3)


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def database_counts(conn: Connection) -> dict[str, int]:
    return {model.__tablename__: conn.scalar(select(func.count()).select_from(model))
            for model in (Item, Location, Lot, Inventory, LedgerEntry, Order, OrderLine,
                          Carton, PickLine, PackLine)}


def check_empty(conn: Connection) -> None:
    for model, what in ((Item, "items"), (Location, "locations"), (Order, "orders")):
        n = conn.scalar(select(func.count()).select_from(model))
        if n:
            raise NotEmpty(
                f"The database already holds data ({what}: {n:,}); seed-bulk only fills an empty "
                f"database. Create a new one, run `flask --app app db upgrade`, then seed-bulk.")


class _Writer:
    """Writes batches of row tuples into one table: Core executemany, or COPY on PostgreSQL."""

    def __init__(self, conn: Connection, echo: Callable[[str], None]):
        self.conn = conn
        self.echo = echo
        self.copy = conn.dialect.name == "postgresql"
        self.written: dict[str, int] = {}

    def write(self, table: Table, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
        n = 0
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                self._flush(table, columns, batch)
                n += len(batch)
                batch = []
        if batch:
            self._flush(table, columns, batch)
            n += len(batch)
        self.written[table.name] = self.written.get(table.name, 0) + n
        return n

    def _flush(self, table: Table, columns: tuple[str, ...], batch: list[tuple]) -> None:
        if self.copy:
            from psycopg import sql

            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
            cursor = self.conn.connection.dbapi_connection.cursor()
            try:
                with cursor.copy(statement) as copy:
                    for row in batch:
                        copy.write_row(row)
            finally:
                cursor.close()
        else:
            self.conn.execute(insert(table), [dict(zip(columns, row, strict=True))
                                              for row in batch])


class _Progress:
    def __init__(self, echo: Callable[[str], None], started: float):
        self.echo = echo
        self.started = started
        self.phase_started = time.perf_counter()

    def phase(self, name: str, rows: int) -> None:
        now = time.perf_counter()
        took = now - self.phase_started
        rate = rows / took if took > 0 else 0.0
        self.echo(f"  {name:<34} {rows:>10,} rows {took:7.1f} s {rate:>10,.0f} rows/s   "
                  f"(elapsed {now - self.started:7.1f} s)")
        self.phase_started = now

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.echo(f"  {name:<34} {'':>15} {now - self.phase_started:7.1f} s {'':>17}   "
                  f"(elapsed {now - self.started:7.1f} s)")
        self.phase_started = now


def seed_bulk(engine: Engine, inventory: int = 1_000_000, pack_lines: int = 5_000_000,
              seed: int = 1, echo: Callable[[str], None] = print) -> Summary:
    """Fill the (empty) database behind ``engine``; raises :class:`NotEmpty` otherwise."""
    plan = Plan(inventory, pack_lines)
    rng = random.Random(seed)
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        with conn.begin():
            check_empty(conn)
        if not postgres:
            # Connection-local: a bigger page cache while building the indexes.
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
            conn.commit()
        echo(f"seed-bulk: {plan.items:,} items, {plan.locations:,} locations, "
             f"{plan.lots:,} lots, {plan.inventory:,} inventory rows, {plan.orders:,} orders, "
             f"{plan.pack_lines:,} pack lines ({engine.dialect.name})")
        writer = _Writer(conn, echo)
        progress = _Progress(echo, started)
        now = dt.datetime(2025, 11, 1, 8, 0, 0)
        lots = _master_data(conn, writer, progress, plan, rng, now)
        _inventory(conn, writer, progress, plan, rng, now, lots)
        _orders(conn, writer, progress, plan, rng, now, lots, echo)
        if postgres:
            _fix_sequences(conn)
        with conn.begin():
            # Planner statistics for the fresh tables. PostgreSQL's autovacuum would gather
            # them on its own, later; SQLite has them only after ANALYZE (the lot look-up
            # plans are the same without them: bench/RESULTS.md).
            conn.exec_driver_sql("ANALYZE")
        progress.step("analyze")
        with conn.begin():
            counts = database_counts(conn)
        if not postgres:
            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default, for the pool
            conn.commit()
    summary = Summary(counts, time.perf_counter() - started)
    echo(f"seed-bulk: done in {summary.seconds:.1f} s: "
         + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    return summary


@dataclass
class _Lots:
    """Lots per lot-tracked item: ids and numbers, indexed by the item's position."""

    lot_item_ids: list[int]
    numbers: list[str]  # by lot id - 1
    by_item: dict[int, list[int]]  # item id -> lot ids

    def pick(self, rng: random.Random, item_id: int) -> int:
        ids = self.by_item[item_id]
        return ids[rng.randrange(len(ids))]


def _lot_number(k: int) -> str:
    return f"L{k:07d}"


def _master_data(conn, writer, progress, plan: Plan, rng, now) -> _Lots:
    with conn.begin():
        n = writer.write(Item.__table__, (
            "id", "sku", "description", "gtin", "require_lot", "require_serial", "lot_at_pack",
            "min_shelf_life_days", "created_at", "updated_at"), (
            (i, f"BULK-{i:05d}", f"Bulk item {i}", None, i <= plan.lot_items, False, "follow",
             0, now, now) for i in range(1, plan.items + 1)))
        progress.phase("item", n)
        n = writer.write(Location.__table__, ("id", "code", "zone", "type", "active"), (
            (i, f"Z{i % 20:02d}-{i:06d}", f"Z{i % 20:02d}", "storage", True)
            for i in range(1, plan.locations + 1)))
        progress.phase("location", n)
        lot_item_ids = list(range(1, plan.lot_items + 1))
        numbers: list[str] = []
        by_item: dict[int, list[int]] = {i: [] for i in lot_item_ids}
        rows = []
        for k in range(plan.lots):
            item_id = lot_item_ids[k % plan.lot_items]
            # Consecutive lots belong to different items, so a shared number stays unique
            # per item: tracing it without a SKU finds two lots.
            shared = k % SHARED_NUMBER_EVERY == 1 and plan.lot_items > 1
            number = numbers[k - 1] if shared else _lot_number(k + 1)
            numbers.append(number)
            by_item[item_id].append(k + 1)
            expiry = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(1_000))
            rows.append((k + 1, item_id, number, expiry, now))
        n = writer.write(Lot.__table__, ("id", "item_id", "number", "expiry", "created_at"),
                         rows)
        progress.phase("lot", n)
    return _Lots(lot_item_ids, numbers, by_item)


def _inventory(conn, writer, progress, plan: Plan, rng, now, lots: _Lots) -> None:
    """One row per (location, item), a lot for lot items, and the ``put`` that made it."""
    rows: list[tuple] = []
    for k in range(plan.inventory):
        location_id = k % plan.locations + 1
        # Distinct j for one location give distinct items (j < items is guaranteed).
        item_id = (location_id * 37 + k // plan.locations) % plan.items + 1
        lot_id = lots.pick(rng, item_id) if item_id <= plan.lot_items else None
        rows.append((k + 1, location_id, item_id, lot_id, rng.randint(1, 200), now))
    with conn.begin():
        n = writer.write(Inventory.__table__, (
            "id", "location_id", "item_id", "lot_id", "qty", "updated_at"), rows)
    progress.phase("inventory", n)
    with conn.begin():
        n = writer.write(LedgerEntry.__table__, (
            "id", "type", "item_id", "location_id", "lot_id", "delta", "qty_after", "user_id",
            "station", "reference", "idempotency_key", "created_at"), (
            (inv_id, "put", item_id, location_id, lot_id, qty, qty, None, STATION, REFERENCE,
             None, now) for inv_id, location_id, item_id, lot_id, qty, _ in rows))
    progress.phase("ledger_entry (one put per row)", n)


def _orders(conn, writer, progress, plan: Plan, rng, now, lots: _Lots, echo) -> None:
    """Shipped orders in chunks: order, cartons, order lines, pick lines, pack lines."""
    base, extra = divmod(plan.pack_lines, plan.orders)
    plain_items = list(range(plan.lot_items + 1, plan.items + 1))
    ids = {"line": 0, "carton": 0, "pick": 0, "pack": 0}
    totals = {"customer_order": 0, "order_line": 0, "carton": 0, "pick_line": 0,
              "pack_line": 0}
    report_every = max(plan.orders // 10, ORDER_CHUNK)
    next_report, reported = report_every, 0
    for first in range(0, plan.orders, ORDER_CHUNK):
        chunk = _order_chunk(range(first, min(first + ORDER_CHUNK, plan.orders)), base, extra,
                             plan, rng, now, lots, plain_items, ids)
        with conn.begin():
            for table, columns, rows in chunk:
                totals[table.name] += writer.write(table, columns, rows)
        done = min(first + ORDER_CHUNK, plan.orders)
        if done >= next_report or done == plan.orders:
            rows = sum(totals.values())
            progress.phase(f"orders {done:,}/{plan.orders:,} (all rows)", rows - reported)
            next_report, reported = next_report + report_every, rows
    echo("  orders: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))


def _order_chunk(orders: range, base: int, extra: int, plan: Plan, rng, now, lots: _Lots,
                 plain_items: list[int], ids: dict[str, int]) -> Iterator[tuple]:
    order_rows, carton_rows, line_rows, pick_rows, pack_rows = [], [], [], [], []
    for o in orders:
        order_id = o + 1
        when = now - dt.timedelta(minutes=plan.orders - o)
        order_rows.append((order_id, f"SO{order_id:08d}", f"Customer {o % 5_000:04d}",
                           f"PO-{o % 977:03d}-{order_id}", f"{order_id} Bulk Street", "shipped",
                           when, when + dt.timedelta(hours=2)))
        packs = base + (1 if o < extra else 0)
        n_lines = min(rng.randint(1, 5), packs)
        n_cartons = 2 if packs > 6 and rng.random() < 0.3 else 1
        carton_ids = []
        for c in range(n_cartons):
            ids["carton"] += 1
            carton_ids.append(ids["carton"])
            carton_rows.append((ids["carton"], order_id, c + 1, "closed", rng.randint(200, 9_000),
                                STATION, when, when + dt.timedelta(hours=1)))
        items: set[int] = set()
        while len(items) < n_lines:
            if not plain_items or rng.random() < LOT_LINE_SHARE:
                items.add(lots.lot_item_ids[rng.randrange(len(lots.lot_item_ids))])
            else:
                items.add(plain_items[rng.randrange(len(plain_items))])
        # Spread this order's pack lines over its lines, each line getting at least one.
        per_line = [1] * n_lines
        for _ in range(packs - n_lines):
            per_line[rng.randrange(n_lines)] += 1
        for item_id, n_packs in zip(sorted(items), per_line, strict=True):
            ids["line"] += 1
            line_id = ids["line"]
            lot_item = item_id <= plan.lot_items
            picked_lot = lots.pick(rng, item_id) if lot_item else None
            qty = 0
            for p in range(n_packs):
                unit = rng.randint(1, 3)
                qty += unit
                recorded, mismatch = None, False
                picked_number = ""
                if lot_item:
                    picked_number = lots.numbers[picked_lot - 1]
                    recorded_lot = picked_lot
                    if rng.random() < MISMATCH_SHARE:
                        recorded_lot = lots.pick(rng, item_id)
                    recorded = lots.numbers[recorded_lot - 1]
                    mismatch = recorded != picked_number
                ids["pack"] += 1
                pack_rows.append((ids["pack"], carton_ids[p % n_cartons], line_id, item_id, unit,
                                  recorded, None, picked_number, mismatch, None, STATION, when))
            line_rows.append((line_id, order_id, item_id, qty, qty, 0, qty))
            if o % 3 == 0:
                ids["pick"] += 1
                pick_rows.append((ids["pick"], line_id, item_id,
                                  rng.randrange(plan.locations) + 1, picked_lot, qty, 0, None,
                                  STATION, when))
    yield (Order.__table__, ("id", "number", "customer_name", "customer_ref", "ship_to",
                             "status", "created_at", "shipped_at"), order_rows)
    yield (Carton.__table__, ("id", "order_id", "number", "status", "weight_grams", "station",
                              "opened_at", "closed_at"), carton_rows)
    yield (OrderLine.__table__, ("id", "order_id", "item_id", "qty", "qty_picked", "qty_short",
                                 "qty_packed"), line_rows)
    yield (PickLine.__table__, ("id", "order_line_id", "item_id", "location_id", "lot_id", "qty",
                                "qty_short", "user_id", "station", "created_at"), pick_rows)
    yield (PackLine.__table__, ("id", "carton_id", "order_line_id", "item_id", "qty",
                                "recorded_lot", "serial", "picked_lots", "lot_mismatch",
                                "user_id", "station", "created_at"), pack_rows)


def _fix_sequences(conn: Connection) -> None:
    """Explicit ids were written; move each id sequence past them so the app can insert."""
    with conn.begin():
        for model in (Item, Location, Lot, Inventory, LedgerEntry, Order, OrderLine, Carton,
                      PickLine, PackLine):
            table = model.__table__
            next_id = select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()
            conn.execute(select(func.setval(
                func.pg_get_serial_sequence(table.name, "id"), next_id, False)))
