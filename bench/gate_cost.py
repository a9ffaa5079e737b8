"""The pack gate's cost per pack line, in process: the domain ``pack()`` with the gate and
with it switched off (the switch lives only here), alternating blocks, same run.

    .venv/bin/python bench/gate_cost.py [--db sqlite|pg] [--packs 2000] [--block 100]

A fresh database (a SQLite file in a temp dir, or PostgreSQL's ``gatecost`` database, made
and dropped), one lot-tracked item with a minimum shelf life, its lot L1 on the shelf and
picked for an order of a million units; then pack lines of 1 × L1 (the lot recorded, as the
pack screen's confirm sends it). "off" replaces the gate's two calls (the lots' state, the
refusal) and the warehouse date with constants. Prints the median and p90 per pack with and
without, and the difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from lotline import inventory, lot_gate, orders, packing, picking, settings  # noqa: E402
from lotline.extensions import db  # noqa: E402
from lotline.items import create_item  # noqa: E402
from lotline.locations import create_location  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/gatecost"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--packs", type=int, default=2000)
    ap.add_argument("--block", type=int, default=100)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    if args.db == "pg":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        "DROP DATABASE IF EXISTS gatecost", "-c", "CREATE DATABASE gatecost"],
                       check=True, capture_output=True)
    url = PG if args.db == "pg" else f"sqlite:///{tmp}/gate.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    actor = inventory.Actor(None, "bench")
    with app.app_context():
        db.create_all()
        create_location(db.session, "A-01")
        create_item(db.session, sku="GATE-1", require_lot=True, min_shelf_life_days=30)
        db.session.commit()
        inventory.put(db.session, location="A-01", sku="GATE-1", lot="L1", qty=1_000_000,
                      actor=actor, expiry=dt.date.today() + dt.timedelta(days=700))
        orders.create_order(db.session, "SO-G", "Bench", [{"sku": "GATE-1", "qty": 1_000_000}])
        db.session.commit()
        picking.pick(db.session, order_number="SO-G", location="A-01", sku="GATE-1",
                     qty=args.packs * 2 + args.block * 2 + 10, actor=actor)
        real = (lot_gate.lot_states, lot_gate.refusal, settings.today_in)
        today = dt.date.today()
        off = (lambda *a, **k: {}, lambda *a, **k: None, lambda *a, **k: today)
        times: dict[str, list[float]] = {"on": [], "off": []}
        for n in range(args.packs // args.block * 2 + 2):  # two warm-up blocks first
            mode = "on" if n % 2 == 0 else "off"
            lot_gate.lot_states, lot_gate.refusal, settings.today_in = \
                real if mode == "on" else off
            for _ in range(args.block):
                start = time.perf_counter()
                packing.pack(db.session, order_number="SO-G", sku="GATE-1", qty=1, lot="L1",
                             actor=actor)
                if n >= 2:
                    times[mode].append(time.perf_counter() - start)
        lot_gate.lot_states, lot_gate.refusal, settings.today_in = real
        db.session.remove()
        db.engine.dispose()
    if args.db == "pg":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                        "DROP DATABASE gatecost"], check=True, capture_output=True)
    med = {m: statistics.median(t) * 1000 for m, t in times.items()}
    p90 = {m: statistics.quantiles(t, n=10)[-1] * 1000 for m, t in times.items()}
    print(f"# pack gate cost, {args.db}, {len(times['on'])} packs each way, blocks of "
          f"{args.block}, alternating")
    for mode in ("on", "off"):
        print(f"  gate {mode:3}  median {med[mode]:.3f} ms   p90 {p90[mode]:.3f} ms")
    print(f"  added by the gate: {med['on'] - med['off']:.3f} ms per pack (median); "
          f"bar: at most 0.3 ms")


if __name__ == "__main__":
    main()
