"""The floor for the scan round trip: the least a server can do for one Put confirm.

A minimal Flask + sqlite3 app with one POST endpoint that does, by hand, the same writes
Lotline does when a Put is confirmed:

    BEGIN IMMEDIATE                      -- the database's write lock, before any read
    SELECT the (location, item) inventory row
    UPDATE it (or INSERT it when the location holds none of the item)
    INSERT a ledger row (type, location, item, lot, delta, qty after, key, time)
    COMMIT

with the same SQLite settings as Lotline (WAL, synchronous=NORMAL, busy_timeout 15 s,
foreign keys on). No ORM, no session, no CSRF, no templates: it answers with a one-line HTML
fragment. It is served by gunicorn exactly as Lotline is (see bench/scan_roundtrip.py):

    FLOOR_DB=/tmp/floor.db .venv/bin/python bench/floor_app.py --init    # create + seed
    FLOOR_DB=/tmp/floor.db .venv/bin/gunicorn --no-control-socket -w 2 \\
        -b 127.0.0.1:8100 --chdir bench floor_app:app

POST /put  location, sku, lot, qty, idem   (form-encoded; idem is stored on the ledger row)

The same floor on PostgreSQL (psycopg 3, one connection per worker), to tell what the
client/server database itself costs: with FLOOR_PG set to a libpq conninfo
(``host=127.0.0.1 user=postgres dbname=floor``) the app does

    BEGIN                                 -- psycopg's, before the first statement
    SELECT the (location, item) inventory row FOR UPDATE   -- the row lock
    UPDATE it (or INSERT it)
    INSERT a ledger row
    COMMIT

    FLOOR_PG="host=127.0.0.1 user=postgres dbname=floor" .venv/bin/python bench/floor_app.py --init
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
from html import escape

from flask import Flask, request

# The same (location, sku, lot) rows Lotline's demo seeds for its lot-tracked items.
SEED = [
    ("A-01-01", "VIT-C-500", "VC24A01", 40), ("A-01-02", "VIT-C-500", "VC24B07", 25),
    ("A-01-03", "VIT-D3-1000", "VD3-2407", 30), ("A-01-04", "OMEGA-3-90", "OM-5521", 18),
    ("A-02-01", "PROBIO-30", "PB-0915", 22), ("A-02-02", "ZINC-50", "ZN-7781", 35),
    ("A-02-03", "MAG-400", "MG-4410", 20), ("A-02-04", "BAND-STRIP-100", "BS-100-19", 60),
    ("A-03-01", "GAUZE-10X10", "GZ-3302", 45), ("A-03-02", "SAL-SPRAY-30", "SS-8840", 28),
    ("A-03-03", "HAND-GEL-500", "HG-5005", 50), ("B-01-01", "GLUC-MTR-04", "GM-1101", 12),
    ("B-01-02", "ELECTRO-SALTS", "ES-2020", 30), ("B-01-03", "IBU-200-24", "IB-6612", 80),
    ("B-01-04", "PARA-500-16", "PA-1187", 75), ("B-02-01", "ANTIH-10-30", "AH-3301", 40),
    ("B-02-02", "SUNSCR-50-200", "SC-5050", 24), ("B-02-03", "EYE-DROP-10", "ED-1010", 36),
    ("B-02-04", "FIRST-AID-KIT", "FA-4040", 10),
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS inventory (
    id INTEGER PRIMARY KEY,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    lot TEXT,
    qty INTEGER NOT NULL CHECK (qty >= 0),
    updated_at TEXT NOT NULL,
    UNIQUE (location, sku)
);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    lot TEXT,
    delta INTEGER NOT NULL,
    qty_after INTEGER NOT NULL CHECK (qty_after >= 0),
    idempotency_key TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_ledger_location_sku ON ledger (location, sku);
CREATE INDEX IF NOT EXISTS ix_ledger_key ON ledger (idempotency_key);
"""


def pg_conninfo() -> str | None:
    return os.environ.get("FLOOR_PG") or None


def pg_connect():
    import psycopg

    return psycopg.connect(pg_conninfo())


def pg_schema() -> str:
    return SCHEMA.replace("id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY")


def db_path() -> str:
    return os.environ.get("FLOOR_DB", "floor.db")


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(), isolation_level=None)  # BEGIN is ours, as in Lotline
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=15000")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def init_db() -> None:
    if pg_conninfo():
        return pg_init_db()
    conn = connect()
    conn.executescript(SCHEMA)
    now = dt.datetime.now(dt.UTC).isoformat()
    conn.execute("BEGIN IMMEDIATE")
    for location, sku, lot, qty in SEED:
        conn.execute("INSERT OR IGNORE INTO inventory (location, sku, lot, qty, updated_at) "
                     "VALUES (?, ?, ?, ?, ?)", (location, sku, lot, qty, now))
        conn.execute("INSERT INTO ledger (type, location, sku, lot, delta, qty_after, "
                     "idempotency_key, created_at) VALUES ('put', ?, ?, ?, ?, ?, NULL, ?)",
                     (location, sku, lot, qty, qty, now))
    conn.execute("COMMIT")
    conn.close()


def pg_init_db() -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    with pg_connect() as conn:
        for statement in pg_schema().split(";"):
            if statement.strip():
                conn.execute(statement)
        for location, sku, lot, qty in SEED:
            conn.execute("INSERT INTO inventory (location, sku, lot, qty, updated_at) "
                         "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         (location, sku, lot, qty, now))
            conn.execute("INSERT INTO ledger (type, location, sku, lot, delta, qty_after, "
                         "idempotency_key, created_at) VALUES ('put', %s, %s, %s, %s, %s, "
                         "NULL, %s)", (location, sku, lot, qty, qty, now))


app = Flask(__name__)


def conn() -> sqlite3.Connection:
    # One connection per worker process, opened lazily (gunicorn forks before requests).
    if not hasattr(app, "_floor_conn"):
        app._floor_conn = connect()
    return app._floor_conn


@app.post("/put")
def put():
    f = request.form
    location, sku, lot = f.get("location", ""), f.get("sku", ""), f.get("lot") or None
    try:
        qty = int(f.get("qty", ""))
    except ValueError:
        return "<p class='error'>Quantity must be a whole number.</p>", 422
    key = f.get("idem") or None
    now = dt.datetime.now(dt.UTC).isoformat()
    if pg_conninfo():  # psycopg sends BEGIN itself; the row is locked FOR UPDATE
        if not hasattr(app, "_floor_pg"):
            app._floor_pg = pg_connect()
        before, after = _put(app._floor_pg, PG_SQL, location, sku, lot, qty, key, now)
    else:
        c = conn()
        c.execute("BEGIN IMMEDIATE")  # the write lock, before the read
        before, after = _put(c, SQLITE_SQL, location, sku, lot, qty, key, now)
    return (f"<div class='result'>{escape(location)} · {escape(sku)} · {escape(lot or '')}: "
            f"{before} → {after}</div>")


SQLITE_SQL = {
    "read": "SELECT id, qty FROM inventory WHERE location = ? AND sku = ?",
    "update": "UPDATE inventory SET qty = ?, updated_at = ? WHERE id = ?",
    "insert": "INSERT INTO inventory (location, sku, lot, qty, updated_at) "
              "VALUES (?, ?, ?, ?, ?)",
    "ledger": "INSERT INTO ledger (type, location, sku, lot, delta, qty_after, "
              "idempotency_key, created_at) VALUES ('put', ?, ?, ?, ?, ?, ?, ?)",
}
PG_SQL = {name: sql.replace("?", "%s") for name, sql in SQLITE_SQL.items()}
PG_SQL["read"] = "SELECT id, qty FROM inventory WHERE location = %s AND sku = %s FOR UPDATE"


def _put(c, sql, location, sku, lot, qty, key, now) -> tuple[int, int]:
    """The writes by hand, in the transaction open on ``c`` (sqlite3 or psycopg)."""
    try:
        row = c.execute(sql["read"], (location, sku)).fetchone()
        before = row[1] if row else 0
        after = before + qty
        if row:
            c.execute(sql["update"], (after, now, row[0]))
        else:
            c.execute(sql["insert"], (location, sku, lot, after, now))
        c.execute(sql["ledger"], (location, sku, lot, qty, after, key, now))
        c.commit()
    except BaseException:
        c.rollback()
        raise
    return before, after


if __name__ == "__main__":
    if "--init" in sys.argv:
        init_db()
        print(f"initialised {pg_conninfo() or db_path()}")
    else:
        print(__doc__)
