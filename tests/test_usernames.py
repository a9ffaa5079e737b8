"""A username is compared after NFKC normalisation and case folding (issue 17, OWASP: user
IDs are case-insensitive): one name, however it is typed, to create, to sign in, to count
failed sign-ins under and to unlock. The database states it: ``username_key`` is unique."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from lotline import throttle
from lotline import users as users_domain
from lotline.db import run_in_transaction
from lotline.errors import Conflict
from lotline.extensions import db
from lotline.models import User
from lotline.users import MAX_FAILURES
from tests.conftest import FAST_HASH, Browser, make_user


@pytest.mark.parametrize("typed", ["PAT", "Pat", " pat ", "ｐａｔ"])
def test_a_user_signs_in_however_the_name_is_written(app, typed):
    """Before: only the exact name signed in ("PAT" was an unknown user)."""
    make_user("pat", "packer")
    assert Browser(app.test_client()).login(typed).status_code == 302


def test_failed_sign_ins_count_under_the_name_however_it_is_written(app):
    """Before: "Pat", "PAT" and "pat" were three counts, five guesses each."""
    make_user("pat", "packer")
    browser = Browser(app.test_client())
    for typed in ("pat", "Pat", "PAT", "pAt", "paT")[:MAX_FAILURES]:
        assert browser.login(typed, "wrong-pass").status_code == 401
    assert browser.login("pat").status_code == 429
    locks = throttle.sign_in_locks(db.session)
    assert [(lock.name, lock.failures) for lock in locks] == [("pat", MAX_FAILURES)]
    assert throttle.unlock_sign_in(db.session, "PAT") == 1  # unlocked as it is typed
    db.session.commit()
    assert browser.login("Pat").status_code == 302


def test_two_names_that_read_alike_are_created_once_even_at_the_same_moment(app,
                                                                            monkeypatch):
    """Before: the check read every name in Python, so two admins creating "Sam" and "sam"
    at once both got their user. The unique key decides: one is created, the other is told
    the name exists, and neither is a server error (SQLite and PostgreSQL). The password's
    hash, made between the check and the insert, is slowed so the two overlap."""
    real = users_domain.generate_password_hash

    def slow_hash(password, method):
        time.sleep(0.2)
        return real(password, method=method)

    monkeypatch.setattr(users_domain, "generate_password_hash", slow_hash)
    db.session.rollback()
    start = threading.Barrier(2, timeout=30)

    def create(name: str):
        with app.app_context():
            start.wait()
            try:
                run_in_transaction(db.session, lambda: users_domain.create_user(
                    db.session, name, "a-good-password", "packer", hash_method=FAST_HASH))
                return "created"
            except Conflict as exc:
                return exc.message
            finally:
                db.session.remove()

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(create, ["Sam", "sam"]))
    assert sorted(answers)[-1] == "created" and answers.count("created") == 1, answers
    refused = next(a for a in answers if a != "created")
    assert "already exists" in refused
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_the_cli_and_the_api_name_a_user_however_it_is_written(app):
    make_user("pat", "packer")
    assert users_domain.user_named(db.session, "PAT").username == "pat"
