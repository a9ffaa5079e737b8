"""The data migration that makes idempotency keys global (issue 17, revision a7e3c5f10b42):
"<user>:<key>" rows become "<key>", the earliest kept where two users' keys meet; on
SQLite, and on PostgreSQL (a schema of its own) under TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from app import create_app
from lotline import users as users_domain
from lotline.extensions import db
from tests.conftest import FAST_HASH
from tests.conftest import test_database_url as database_url

BEFORE, AFTER = "a7d3e9f1b026", "a7e3c5f10b42"
T = dt.datetime(2026, 12, 1, 10, 0)


@pytest.fixture
def migrated_app(tmp_path):
    """An app on an empty database of its own, migrated to the revision before."""
    url = database_url()
    if url and url.startswith("postgresql"):
        schema = f"idem_migration_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        config = {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {
            "connect_args": {"options": f"-csearch_path={schema}"}}}
    else:
        admin, config = None, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"}
    app = create_app({**config, "SECRET_KEY": "x", "PASSWORD_HASH_METHOD": FAST_HASH})
    with app.app_context():
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def keys() -> dict[str, tuple]:
    rows = db.session.execute(text('SELECT "key", user_id, operation FROM idempotency_record'))
    result = {key: (user_id, operation) for key, user_id, operation in rows}
    db.session.rollback()
    return result


def test_per_user_keys_become_one_key_whoever_sent_it(migrated_app):
    one = users_domain.create_user(db.session, "one", "pw-one-1234", "packer",
                                   hash_method=FAST_HASH)
    two = users_domain.create_user(db.session, "two", "pw-two-1234", "packer",
                                   hash_method=FAST_HASH)
    db.session.commit()
    a, b = one.id, two.id
    rows = [  # key as the previous release stored it, user, operation, minutes after T
        (f"{a}:alpha-0001", a, "put", 0),
        (f"{b}:alpha-0001", b, "pull", 5),     # the same key, later: deleted
        (f"{b}:beta-00001", b, "move", -60),   # the same key, earlier: kept
        (f"{a}:beta-00001", a, "put", -30),
        ("0:gamma-0001", None, "put", 1),      # no user: prefix 0
        (f"{a}:{b}:delta-001", a, "put", 2),   # becomes the key "b:delta-001" ...
        (f"{b}:delta-001", b, "pull", 3),      # ... which this row has until it moves
        (f"{a}:tablet-7:0001", a, "pack", 4),
    ]
    for key, user_id, operation, minutes in rows:
        db.session.execute(text(
            "INSERT INTO idempotency_record (\"key\", user_id, operation, result_json, "
            "created_at) VALUES (:key, :user_id, :operation, '{}', :at)"),
            {"key": key, "user_id": user_id, "operation": operation,
             "at": T + dt.timedelta(minutes=minutes)})
    db.session.commit()

    upgrade(revision=AFTER)
    assert keys() == {
        "alpha-0001": (a, "put"), "beta-00001": (b, "move"), "gamma-0001": (None, "put"),
        f"{b}:delta-001": (a, "put"), "delta-001": (b, "pull"),
        "tablet-7:0001": (a, "pack")}

    downgrade(revision=BEFORE)
    assert keys() == {
        f"{a}:alpha-0001": (a, "put"), f"{b}:beta-00001": (b, "move"),
        "0:gamma-0001": (None, "put"), f"{a}:{b}:delta-001": (a, "put"),
        f"{b}:delta-001": (b, "pull"), f"{a}:tablet-7:0001": (a, "pack")}
