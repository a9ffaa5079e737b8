"""Cost of one scan confirm, in-process: statements, CPU and wall time per Put and per pack.

    .venv/bin/python bench/confirm_cost.py [--app-dir PATH] [--confirms 300] [--rounds 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/confirm_cost] [--show]

Builds the app of --app-dir (default: this tree) on a fresh database: a temporary SQLite
file, or the PostgreSQL database named in --database-url, DROPPED and created again (a
scratch database of your own). Through the API, as an admin: "Require Lot/Serial at Pack"
on, a lot-tracked item, two locations, one order and its stock; the order is picked through
the pick screen. Then, signed in through the login form, it posts --confirms Put confirms
and as many pack confirms (fresh idempotency keys, the fields a tablet sends on its last
Enter, htmx headers, brotli accepted), --rounds times, and prints the round with the least
CPU: statements per confirm (PostgreSQL's BEGIN and COMMIT are not cursor statements; the
count leaves them out), this process's CPU and wall time per confirm, and on PostgreSQL
the CPU its server processes used meanwhile (from /proc; a quiet machine). --show lists
the statements of one more confirm of each kind.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

PASSWORD = "bench-password-1"


def server_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes on this machine."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"postgres:" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def fresh_database(url: str | None) -> str:
    if not url:
        return f"sqlite:///{tempfile.mkdtemp(prefix='confirm-cost-')}/lotline.db"
    import sqlalchemy as sa

    base, name = url.rsplit("/", 1)
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--confirms", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--database-url")
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(args.app_dir))
    os.chdir(args.app_dir)
    os.environ["LOTLINE_INSECURE_COOKIES"] = "1"
    url = fresh_database(args.database_url)
    os.environ["DATABASE_URL"] = url

    from sqlalchemy import event

    from app import create_app
    from lotline.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "confirm-cost"})
    cli = app.test_cli_runner()
    for command in (["db", "upgrade"],
                    ["create-user", "bench", "--role", "admin", "--password", PASSWORD]):
        done = cli.invoke(args=command)
        assert done.exit_code == 0, done.output
    token = cli.invoke(args=["create-token", "bench", "--label", "cost"]).output.split()[-1]
    client = app.test_client()

    def api(method: str, path: str, body: dict) -> None:
        answer = client.open("/api/v1" + path, method=method, json=body,
                             headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code in (200, 201), (path, answer.get_data(as_text=True)[:300])

    units = args.confirms * args.rounds + 20
    api("PATCH", "/settings", {"require_lot_serial_at_pack": True})
    api("POST", "/items", {"sku": "COST-1", "description": "Bench item", "require_lot": True})
    for code in ("CK-PICK", "CK-PUT"):
        api("POST", "/locations", {"code": code})
    api("POST", "/orders", {"number": "CK-1", "customer": "Bench",
                            "lines": [{"sku": "COST-1", "qty": units}]})
    left = units
    while left:
        qty = min(left, 9999)
        api("POST", "/transactions/put", {"location": "CK-PICK", "sku": "COST-1", "lot": "L1",
                                          "qty": qty})
        left -= qty

    login = client.get("/login").get_data(as_text=True)
    token_field = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    client.post("/login", data={"username": "bench", "password": PASSWORD,
                                "csrf_token": token_field.group(1)})
    page = client.get("/pick").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    headers = {"HX-Request": "true", "HX-Target": "flow", "X-CSRFToken": csrf}
    picked = client.post("/pick", data={"order": "CK-1", "location": "CK-PICK", "sku": "COST-1",
                                        "qty": str(units), "idem": "cost-pick-1",
                                        "csrf_token": csrf}, headers=headers)
    assert 'data-feedback="success"' in picked.get_data(as_text=True)

    sent: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cur, statement, *rest: sent.append(statement))

    def confirm(kind: str) -> None:
        fields = {"step": "qty", "sku": "COST-1", "lot": "L1", "qty": "1", "qty_pending": "1",
                  "idem": uuid.uuid4().hex, "csrf_token": csrf,
                  **({"location": "CK-PUT"} if kind == "put" else {"order": "CK-1"})}
        answer = client.post("/" + kind, data=fields,
                             headers={**headers, "Accept-Encoding": "br, gzip"})
        assert answer.status_code == 200, answer.status_code

    print(f"# confirm cost: {args.app_dir} on {url.split('://')[0]}, {args.confirms} confirms, "
          f"best of {args.rounds} rounds")
    for kind in ("put", "pack"):
        for _ in range(5):
            confirm(kind)
        best = None
        for _ in range(args.rounds):
            sent.clear()
            server, cpu, wall = server_cpu(), time.process_time(), time.perf_counter()
            for _ in range(args.confirms):
                confirm(kind)
            n = args.confirms
            row = ((time.process_time() - cpu) / n * 1000, (time.perf_counter() - wall) / n * 1000,
                   (server_cpu() - server) / n * 1000 if args.database_url else 0.0,
                   len(sent) / n)
            best = row if best is None or row[0] < best[0] else best
        server = f", server CPU {best[2]:.2f} ms" if args.database_url else ""
        print(f"{kind}: {best[3]:.1f} statements, CPU {best[0]:.2f} ms, wall {best[1]:.2f} ms"
              f"{server}")
        if args.show:
            sent.clear()
            confirm(kind)
            for statement in sent:
                print("   ", " ".join(statement.split())[:160])
    return 0


if __name__ == "__main__":
    sys.exit(main())
