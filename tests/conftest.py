"""Fixtures: a fresh real database per test (SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import text

from app import create_app
from lotline import items as items_domain
from lotline import users as users_domain
from lotline.extensions import db

FAST_HASH = "pbkdf2:sha256:1000"  # tests create many users; production uses scrypt
PASSWORD = "correct-horse"


def test_database_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@pytest.fixture(scope="session")
def pg_schema():
    """On PostgreSQL: build the schema once per run; tests then truncate between them."""
    url = test_database_url()
    if not url:
        yield None
        return
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    yield url


def empty_tables(pg_schema) -> None:
    """In an app context: every table there and empty (PostgreSQL: the run's schema
    truncated; SQLite: a new file's tables created)."""
    if pg_schema:
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.commit()
    else:
        db.create_all()


@pytest.fixture
def app(tmp_path, pg_schema):
    url = pg_schema or f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "PASSWORD_HASH_METHOD": FAST_HASH,
    })
    with app.app_context():
        empty_tables(pg_schema)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_user(username="user", role="packer", password=PASSWORD):
    user = users_domain.create_user(db.session, username, password, role, hash_method=FAST_HASH)
    db.session.commit()
    return user


def make_item(sku="SKU-1", **fields):
    item = items_domain.create_item(db.session, sku=sku, **fields)
    db.session.commit()
    return item


def _fresh_request_cache():
    """The ``app`` fixture keeps one app context open, so ``flask.g`` would outlive a request
    (a real server gives each its own). Flask-WTF caches the CSRF token there: drop it."""
    from flask import g

    g.pop("csrf_token", None)


def make_order(number, **lines):
    """An order with lines given as SKU=qty (underscores in names stand for dashes)."""
    from lotline import orders as orders_domain

    orders_domain.create_order(db.session, number, "Customer",
                               [{"sku": sku.replace("_", "-"), "qty": q}
                                for sku, q in lines.items()])
    db.session.commit()
    return number


def order(number):
    """The order as the database has it now."""
    from lotline import orders as orders_domain

    db.session.expire_all()
    return orders_domain.get_order(db.session, number)


class Browser:
    """A signed-in test client that sends the CSRF token the way the pages do."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username, password=PASSWORD):
        _fresh_request_cache()
        page = self.client.get("/login")
        token = csrf_from(page)
        _fresh_request_cache()
        response = self.client.post("/login", data={"username": username, "password": password,
                                                    "csrf_token": token})
        self.refresh_token()
        return response

    def refresh_token(self, url="/"):
        _fresh_request_cache()
        page = self.client.get(url)
        if page.status_code == 200:
            self.token = csrf_from(page)

    def get(self, url, htmx=False, **kw):
        _fresh_request_cache()
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(url, headers=headers, **kw)

    def post(self, url, data=None, htmx=False, csrf=True, **kw):
        _fresh_request_cache()
        headers = {"HX-Request": "true"} if htmx else {}
        if csrf and htmx:
            headers["X-CSRFToken"] = self.token
        data = dict(data or {})
        if csrf and not htmx:
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, headers=headers, **kw)


def csrf_from(response) -> str:
    html = response.get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or \
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def as_role(app, client):
    """Sign a fresh user of ``role`` in and return a Browser."""

    def sign_in(role="packer", username=None):
        username = username or f"{role}1"
        make_user(username, role)
        b = Browser(client)
        response = b.login(username)
        assert response.status_code == 302
        return b

    return sign_in


@pytest.fixture
def api(app, client):
    """A JSON API caller with a bearer token of the given role."""

    class Api:
        def __init__(self, role="admin"):
            user = make_user(f"api-{role}", role)
            self.token = users_domain.create_token(db.session, user, "tests")
            db.session.commit()

        def call(self, method, url, json=None, token=None, headers=None):
            h = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
            return client.open(url, method=method, json=json, headers=h)

        def get(self, url, **kw):
            return self.call("GET", url, **kw)

        def post(self, url, json=None, **kw):
            return self.call("POST", url, json=json, **kw)

        def patch(self, url, json=None, **kw):
            return self.call("PATCH", url, json=json, **kw)

    return Api
