"""The session cookie and CSRF token memo (blueprints/signed.py) checks no less than
Flask and Flask-WTF: a remembered value still has to be the very value that was verified,
for this session, under these keys, and not expired."""

from __future__ import annotations

import time

from app import create_app
from blueprints import signed
from tests.conftest import Browser, make_user

COOKIE = "lotline_session"


def _cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _fresh_g():
    """The ``app`` fixture keeps one app context open, so ``flask.g`` would carry the last
    request's user and token over to the next request: drop them."""
    from flask import g

    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def _with_cookie(app, value):
    """A client that sends only this session cookie."""
    _fresh_g()
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def test_a_tampered_cookie_is_refused_after_the_genuine_one_was_remembered(app, client):
    make_user("pat")
    Browser(client).login("pat")
    genuine = _cookie(client)
    assert _with_cookie(app, genuine).get("/put").status_code == 200  # verified, remembered
    payload, _, signature = genuine.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    response = _with_cookie(app, forged).get("/put")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_remembered_session_still_expires(app, client, monkeypatch):
    make_user("pat")
    Browser(client).login("pat")
    cookie = _cookie(client)
    assert _with_cookie(app, cookie).get("/put").status_code == 200
    lifetime = app.permanent_session_lifetime.total_seconds()
    later = time.time() + lifetime + 5
    monkeypatch.setattr(signed.time, "time", lambda: later)
    response = _with_cookie(app, cookie).get("/put")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_changed_session_does_not_leak_into_the_remembered_one(app, client):
    make_user("pat")
    b = Browser(client)
    b.login("pat")
    cookie = _cookie(client)
    interface = app.session_interface
    with app.test_request_context(headers={"Cookie": f"{COOKIE}={cookie}"}):
        from flask import request

        first = interface.open_session(app, request)
        first["station"] = "changed"
        first["_user_id"] = "999"
        second = interface.open_session(app, request)
    assert "station" not in second and second["_user_id"] != "999"


def test_another_secret_key_verifies_anew(app, client, tmp_path):
    make_user("pat")
    b = Browser(client)
    b.login("pat")
    cookie = _cookie(client)
    assert _with_cookie(app, cookie).get("/put").status_code == 200
    other = create_app({"TESTING": True, "SECRET_KEY": "another-secret",
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    other.session_interface = app.session_interface  # the same memo, other keys
    response = _with_cookie(other, cookie).get("/put")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _put(browser: Browser, token: str):
    return browser.client.post("/put", data={"location": "", "idem": "k-" + "1" * 10},
                               headers={"HX-Request": "true", "X-CSRFToken": token})


def test_a_remembered_csrf_token_is_good_only_for_its_own_session(app, client):
    make_user("pat")
    make_user("sam")
    pat = Browser(client)
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200  # verified and remembered for pat
    assert _put(pat, pat.token).status_code == 200
    sam = Browser(app.test_client())
    sam.login("sam")
    response = _put(sam, pat.token)  # pat's token with sam's session
    assert response.status_code == 400
    assert 'data-error-code="form_expired"' in response.get_data(as_text=True)


def test_a_forged_or_missing_csrf_token_is_refused(app, client):
    make_user("pat")
    pat = Browser(client)
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200
    assert _put(pat, pat.token[:-2] + "xx").status_code == 400
    response = pat.client.post("/put", data={"location": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 400


def test_the_page_token_is_signed_once_per_session_and_changes_at_sign_in(app, client):
    make_user("pat")
    b = Browser(client)
    b.get("/login")
    before = b.client.get("/login").get_data(as_text=True)
    b.login("pat")
    first = b.token
    b.refresh_token("/put")
    assert b.token == first  # the same signed token: remembered, not signed again
    assert first not in before  # sign-in gave the session a new raw token


def test_csrf_token_with_a_time_limit_is_not_remembered(app, client):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    make_user("pat")
    pat = Browser(client)
    pat.login("pat")
    valid = dict(signed.csrf._valid)
    assert _put(pat, pat.token).status_code == 200
    assert signed.csrf._valid == valid  # checked by Flask-WTF, nothing remembered


# ---------------------------------------------------------------- the signed-in user


def test_a_role_change_or_deactivation_by_an_admin_applies_at_once(app, client):
    from lotline import users as users_domain
    from lotline.extensions import db

    user = make_user("pat", "supervisor")
    b = Browser(client)
    b.login("pat")
    _fresh_g()
    assert b.client.get("/items").status_code == 200  # read and remembered as supervisor
    users_domain.update_user(db.session, user, role="packer")
    db.session.commit()
    _fresh_g()
    assert b.client.get("/items").status_code == 403
    users_domain.update_user(db.session, user, active=False)
    db.session.commit()
    _fresh_g()
    response = b.client.get("/put")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_change_made_elsewhere_applies_within_the_ttl(app, client, monkeypatch):
    """Another worker (or the database directly) deactivates the user: this worker notices
    within SIGNED_IN_TTL seconds."""
    from lotline import users as users_domain
    from lotline.extensions import db

    now = [1000.0]
    monkeypatch.setattr(users_domain.time, "monotonic", lambda: now[0])
    user = make_user("pat")
    b = Browser(client)
    b.login("pat")
    _fresh_g()
    assert b.client.get("/put").status_code == 200
    user.active = False  # not through update_user: this worker is not told
    db.session.commit()
    now[0] += users_domain.SIGNED_IN_TTL / 2
    _fresh_g()
    assert b.client.get("/put").status_code == 200  # still remembered
    now[0] += users_domain.SIGNED_IN_TTL
    _fresh_g()
    response = b.client.get("/put")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_user_memo_belongs_to_one_database(app, client, tmp_path):
    """Two apps (two engines) never answer from each other's memo: user 1 remembered for
    this database is not user 1 of another one, which has no users."""
    from lotline import users as users_domain
    from lotline.extensions import db

    make_user("pat", "admin")
    first = users_domain.signed_in_user(db.engine, 1)
    assert first is not None and first.role == "admin"
    other = create_app({"TESTING": True, "SECRET_KEY": "x",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}"})
    with other.app_context():
        db.create_all()
        assert users_domain.signed_in_user(db.engine, 1) is None
        db.engine.dispose()
    assert users_domain.signed_in_user(db.engine, 1) == first


# ---------------------------------------------------------------- with a CSRF time limit

def _later(monkeypatch, seconds):
    """itsdangerous reads the clock through time.time(): move it on."""
    import itsdangerous.timed

    now = time.time() + seconds
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now)


def test_with_a_time_limit_each_page_gets_a_freshly_signed_token(app, client, monkeypatch):
    app.config["WTF_CSRF_TIME_LIMIT"] = 60
    make_user("pat")
    pat = Browser(client)
    pat.login("pat")
    first = pat.token
    _later(monkeypatch, 120)
    pat.refresh_token("/put")  # a page served two minutes later
    assert pat.token != first
    assert _put(pat, pat.token).status_code == 200
    assert _put(pat, first).status_code == 400  # the old one has expired


def test_a_remembered_pair_is_not_accepted_once_a_time_limit_applies(app, client, monkeypatch):
    make_user("pat")
    pat = Browser(client)
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200  # remembered: no time limit yet
    app.config["WTF_CSRF_TIME_LIMIT"] = 60
    _later(monkeypatch, 120)
    assert _put(pat, pat.token).status_code == 400  # Flask-WTF's age check, not the memo
