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
from lotline.extensions import db
from tests.conftest import FAST_HASH
from tests.conftest import test_database_url as database_url

BEFORE, AFTER = "a7d3e9f1b026", "a7e3c5f10b42"
T = dt.datetime(2026, 12, 1, 10, 0)


@pytest.fixture
def migrated_app(tmp_path, request):
    """An app on an empty database of its own, migrated to the revision before (``BEFORE``,
    or the test module's ``@pytest.mark.before(revision)``)."""
    mark = request.node.get_closest_marker("before")
    before = mark.args[0] if mark else BEFORE
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
        upgrade(revision=before)
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


def _old_user(name: str) -> int:
    """A user as the schema of that release holds one (raw SQL: today's model has more)."""
    db.session.execute(text("INSERT INTO user_account (username, password_hash, role, active, "
                            "created_at) VALUES (:name, 'x', 'packer', :yes, :now)"),
                       {"name": name, "yes": True, "now": dt.datetime(2026, 12, 1)})
    user_id = db.session.execute(text("SELECT id FROM user_account WHERE username = :name"),
                                 {"name": name}).scalar_one()
    db.session.commit()
    return user_id


def test_per_user_keys_become_one_key_whoever_sent_it(migrated_app):
    a, b = _old_user("one"), _old_user("two")
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


@pytest.mark.before("a7e3c5f10b42")
def test_names_are_keyed_as_compared_and_two_that_read_alike_both_keep_signing_in(
        migrated_app):
    """user_account.username_key (b8f4a2c6d913): each name keyed as it is compared; two
    names created alike before the rule keep distinct keys (the later one's gets #id), and
    each still signs in by its exact name."""
    from lotline import users as users_domain

    ids = {name: _old_user(name) for name in ("pat", "Pat", "ＳＡＭ")}
    db.session.execute(text("UPDATE user_account SET password_hash = :h"),
                       {"h": users_domain.generate_password_hash("pw-12345678",
                                                                 method=FAST_HASH)})
    db.session.commit()
    upgrade(revision="b8f4a2c6d913")
    keys = dict(db.session.execute(text("SELECT username, username_key FROM user_account"))
                .all())
    db.session.rollback()
    assert keys == {"pat": "pat", "Pat": f"pat#{ids['Pat']}", "ＳＡＭ": "sam"}
    for typed, name in (("pat", "pat"), ("Pat", "Pat"), ("sam", "ＳＡＭ")):
        user = users_domain.authenticate(db.session, typed, "pw-12345678",
                                         hash_method=FAST_HASH)
        assert user.username == name
    db.session.rollback()  # PostgreSQL: the reads' locks would hold up the ALTER TABLE
    downgrade(revision="a7e3c5f10b42")
