"""Cost of API requests in-process: median wall time and CPU per request, for a Put, an item
read and an item list (the bodies each is validated and answered with).

    .venv/bin/python bench/api_cost.py [--app-dir PATH ...] [--requests 400] [--rounds 3]

Each --app-dir (default: this tree) is measured in a process of its own, importing that
tree, on a temporary SQLite database; with two trees the rounds alternate between them, so
both see the same machine. Prints, per tree and request, the median of the round medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def measure(requests: int) -> dict[str, tuple[float, float]]:
    """In the tree on sys.path: {request: (median µs wall, mean µs CPU)}."""
    from app import create_app
    from lotline import inventory, items, locations, users
    from lotline.extensions import db

    folder = tempfile.mkdtemp(prefix="api-cost-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
                      "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"})
    with app.app_context():
        db.create_all()
        admin = users.create_user(db.session, "bench", "bench-password", "admin",
                                  hash_method="pbkdf2:sha256:1")
        items.create_item(db.session, sku="PLAIN-1", description="Plain thing")
        locations.create_location(db.session, "A-1")
        db.session.commit()
        inventory.put(db.session, location="A-1", sku="PLAIN-1", lot=None, qty=10,
                      actor=inventory.Actor(admin, "bench"))
        token = users.create_token(db.session, admin, "bench")
        db.session.commit()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    calls = {
        "POST /transactions/put": lambda: client.post(
            "/api/v1/transactions/put", headers=auth,
            json={"location": "A-1", "sku": "PLAIN-1", "qty": 1}),
        "GET /items/{sku}": lambda: client.get("/api/v1/items/PLAIN-1", headers=auth),
        "GET /items": lambda: client.get("/api/v1/items?q=PLAIN", headers=auth),
    }
    out = {}
    for name, call in calls.items():
        for _ in range(20):  # warm up
            assert call().status_code < 300, name
        walls, cpu = [], time.process_time()
        for _ in range(requests):
            start = time.perf_counter()
            response = call()
            walls.append(time.perf_counter() - start)
            assert response.status_code < 300, (name, response.get_data(as_text=True))
        cpu = time.process_time() - cpu
        out[name] = (statistics.median(walls) * 1e6, cpu / requests * 1e6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", action="append", type=Path)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.requests)))
        return 0
    trees = args.app_dir or [HERE]
    results: dict[Path, list[dict]] = {tree: [] for tree in trees}
    for _ in range(args.rounds):
        for tree in trees:
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--requests", str(args.requests)],
                env={**os.environ, "PYTHONPATH": str(tree.resolve())}, cwd=tree,
                capture_output=True, text=True, check=True)
            results[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for tree, rounds in results.items():
        print(tree)
        for name in rounds[0]:
            wall = statistics.median(r[name][0] for r in rounds)
            cpu = statistics.median(r[name][1] for r in rounds)
            print(f"  {name:26} {wall:8.0f} µs median wall  {cpu:8.0f} µs CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
