"""End-to-end fixtures: the real app under gunicorn on a free loopback port, driven by
Debian's Chromium through Playwright. Each test module gets a fresh, migrated, seeded database
(a SQLite file, or a PostgreSQL schema of its own when TEST_DATABASE_URL points at PostgreSQL).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 360, "height": 740}
DEMO = {"admin": "lotline-admin", "sam": "lotline-super", "pat": "lotline-packer"}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args,
            "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            "args": ["--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _module_database(name: str, tmp: Path) -> str:
    pg = os.environ.get("TEST_DATABASE_URL", "")
    if not pg.startswith("postgresql"):
        return f"sqlite:///{tmp / 'e2e.db'}"
    schema = "e2e_" + re.sub(r"\W", "_", name)[-40:].lower()
    engine = create_engine(pg)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """Migrate, seed the demo warehouse, and serve it with gunicorn; yields the base URL."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "DATABASE_URL": _module_database(request.module.__name__, tmp),
           "LOTLINE_SECRET_KEY": "e2e-secret", "FLASK_APP": "app"}
    env.pop("TEST_DATABASE_URL", None)
    for args in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--no-control-socket", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--access-logfile", str(tmp / "access.log"), "--error-logfile", str(tmp / "error.log"),
         "app:create_app()"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/login", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError((tmp / "error.log").read_text()) from None
            time.sleep(0.1)
    server_info = {"url": url, "env": env}
    yield server_info
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def base_url():
    """pytest-playwright's own base URL (unused: each module has its server, see app_url)."""
    return None


@pytest.fixture
def app_url(server):
    return server["url"]


@pytest.fixture
def flask_cli(server):
    """Run a ``flask`` command against the module's database (for setting up a scenario)."""

    def run(*args: str) -> str:
        done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=server["env"],
                              check=True, capture_output=True, text=True)
        return done.stdout

    return run


@pytest.fixture
def in_app(server):
    """Run ``fn(session)`` in an app context on the module's database; returns its result."""
    from app import create_app
    from lotline.extensions import db

    def run(fn):
        app = create_app({"SQLALCHEMY_DATABASE_URI": server["env"]["DATABASE_URL"]
                          .replace("postgresql://", "postgresql+psycopg://"),
                          "SECRET_KEY": "x"})
        with app.app_context():
            try:
                result = fn(db.session)
                db.session.commit()
                return result
            finally:
                db.session.remove()
                db.engine.dispose()

    return run


@pytest.fixture(params=["tablet", "phone"])
def viewport(request):
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, request):
    size = PHONE if "viewport" in request.fixturenames and \
        request.getfixturevalue("viewport") == "phone" else TABLET
    return {**browser_context_args, "viewport": size}


def sign_in(page, app_url, username="pat"):
    page.goto(app_url + "/login")
    # typed key by key, as a person signs in (never fill(): see SCAN-UX.md)
    for label, value in (("Username", username), ("Password", DEMO[username])):
        field = page.get_by_label(label)
        field.click()
        field.press_sequentially(value)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(app_url + "/")
