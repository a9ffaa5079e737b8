"""Schemathesis against the API as it is served: every check, every phase (stateful too).

Migrates a fresh database, seeds the demo warehouse, makes an admin and a token, serves the
app under gunicorn on a free loopback port and runs ``st run`` with the committed
``schemathesis.toml``. Exits with schemathesis' own status (0: no failure).

    .venv/bin/python tools/api_fuzz.py                      # a long run: 300 examples each
    .venv/bin/python tools/api_fuzz.py --max-examples 20    # what the test suite runs

``DATABASE_URL`` (PostgreSQL) runs it in a schema of its own; otherwise on SQLite in a
temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN = "api-fuzz"
SPARE_PREFIX = "0f0f0f0f"  # schemathesis.toml: what the revoke operation revokes
SPARE_TOKEN = f"""
from app import create_app
from lotline.extensions import db
from lotline.models import ApiToken, User
with create_app().app_context():
    admin = db.session.query(User).filter_by(username={ADMIN!r}).one()
    db.session.add(ApiToken(user_id=admin.id, prefix={SPARE_PREFIX!r}, token_hash="0" * 64,
                            label="revoked by the run"))
    db.session.commit()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _database(tmp: Path):
    """A database of the run's own: SQLite in ``tmp``, or a PostgreSQL schema of its own
    (dropped afterwards) when ``DATABASE_URL`` names PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp / 'api-fuzz.db'}"
        return
    from sqlalchemy import create_engine, text

    url = re.sub(r"^postgresql(\+\w+)?://", "postgresql+psycopg://", url)
    schema = f"api_fuzz_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _flask(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, input=stdin,
                          check=True, capture_output=True, text=True)
    return done.stdout


def run(st_args: list[str]) -> int:
    """Serve a seeded warehouse and run ``st run`` on it; returns st's exit status."""
    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as folder, \
            _database(Path(folder)) as database:
        tmp = Path(folder)
        env = {**os.environ, "DATABASE_URL": database, "FLASK_APP": "app",
               "LOTLINE_SECRET_KEY": "api-fuzz"}
        _flask(env, "db", "upgrade")
        _flask(env, "seed-demo")
        password = "api-fuzz-password"
        _flask(env, "create-user", ADMIN, "--role", "admin",
               stdin=f"{password}\n{password}\n")
        token = _flask(env, "create-token", ADMIN, "--label", "schemathesis").strip()
        token = token.splitlines()[-1].strip()
        subprocess.run([sys.executable, "-c", SPARE_TOKEN], cwd=ROOT, env=env, check=True)
        port = _free_port()
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{port}",
             "--error-logfile", str(tmp / "error.log"), "app:create_app()"], cwd=ROOT, env=env)
        try:
            url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        print((tmp / "error.log").read_text(), file=sys.stderr)
                        return 2
                    time.sleep(0.1)
            st_env = {**env, "PYTHONPATH": str(ROOT)}
            return subprocess.run([str(BIN / "st"), "run", url, "--checks", "all", "--header",
                                   f"Authorization: Bearer {token}", *st_args],
                                  cwd=ROOT, env=st_env).returncode
        finally:
            server.terminate()
            server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--max-time", type=int, help="seconds for the whole run")
    parser.add_argument("--seed", type=int)
    args, rest = parser.parse_known_args()
    st_args = ["--max-examples", str(args.max_examples), *rest]
    if args.max_time:
        st_args += ["--max-time", str(args.max_time)]
    if args.seed is not None:
        st_args += ["--seed", str(args.seed)]
    return run(st_args)


if __name__ == "__main__":
    sys.exit(main())
