"""The session cookie (Flask's signed cookie), the CSRF token (Flask-WTF) and the signed-in
user (Flask-Login, read on every request): what a station is refused, and when a change to
a user applies."""

from __future__ import annotations

import time

from sqlalchemy import update

from app import create_app
from lotline import users as users_domain
from lotline.extensions import db
from lotline.models import User
from tests.conftest import Browser, make_user

COOKIE = "lotline_session"


def _cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _next_request():
    """The ``app`` fixture keeps one app context open, so ``flask.g`` and the database
    session would outlive a request (a real server gives each request its own): drop the
    user and token ``g`` holds, and end the session's transaction."""
    from flask import g

    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    db.session.rollback()


def _with_cookie(app, value):
    """A client that sends only this session cookie."""
    _next_request()
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def _sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _later(monkeypatch, seconds):
    """itsdangerous reads the clock through time.time(): move it on."""
    import itsdangerous.timed

    now = time.time() + seconds
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now)


# ---------------------------------------------------------------- the session cookie


def test_a_tampered_session_cookie_is_refused(app, client):
    make_user("pat")
    Browser(client).login("pat")
    genuine = _cookie(client)
    assert _with_cookie(app, genuine).get("/put").status_code == 200
    payload, _, signature = genuine.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _sent_to_sign_in(_with_cookie(app, forged).get("/put"))


def test_a_session_older_than_its_lifetime_is_refused(app, client, monkeypatch):
    make_user("pat")
    Browser(client).login("pat")
    cookie = _cookie(client)
    lifetime = app.permanent_session_lifetime.total_seconds()
    _later(monkeypatch, lifetime - 60)
    assert _with_cookie(app, cookie).get("/put").status_code == 200
    _later(monkeypatch, lifetime + 5)
    assert _sent_to_sign_in(_with_cookie(app, cookie).get("/put"))


def test_a_rotated_secret_key_refuses_old_cookies_unless_kept_as_a_fallback(app, client):
    make_user("pat")
    Browser(client).login("pat")
    cookie = _cookie(client)
    assert _with_cookie(app, cookie).get("/put").status_code == 200
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    rotated = create_app({"TESTING": True, "SECRET_KEY": "another-secret",
                          "SQLALCHEMY_DATABASE_URI": url})
    assert _sent_to_sign_in(_with_cookie(rotated, cookie).get("/put"))
    fallback = create_app({"TESTING": True, "SECRET_KEY": "another-secret",
                           "SECRET_KEY_FALLBACKS": [app.config["SECRET_KEY"]],
                           "SQLALCHEMY_DATABASE_URI": url})
    assert _with_cookie(fallback, cookie).get("/put").status_code == 200
    for other in (rotated, fallback):
        with other.app_context():
            db.engine.dispose()


# ---------------------------------------------------------------- the CSRF token


def _put(browser: Browser, token: str | None):
    _next_request()
    headers = {"HX-Request": "true", **({"X-CSRFToken": token} if token else {})}
    return browser.client.post("/put", data={"location": "", "idem": "k-" + "1" * 10},
                               headers=headers)


def _refused_as_expired(response) -> bool:
    return response.status_code == 400 and \
        'data-error-code="form_expired"' in response.get_data(as_text=True)


def test_a_forged_or_missing_csrf_token_is_refused(app, client):
    make_user("pat")
    pat = Browser(client)
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200
    assert _refused_as_expired(_put(pat, pat.token[:-2] + "xx"))
    assert _refused_as_expired(_put(pat, None))


def test_a_csrf_token_is_good_only_for_its_own_session(app, client):
    make_user("pat")
    make_user("sam")
    pat = Browser(client)
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200
    sam = Browser(app.test_client())
    sam.login("sam")
    assert _refused_as_expired(_put(sam, pat.token))  # pat's token with sam's session


def test_a_csrf_token_from_before_sign_in_is_refused_after_it(app, client):
    make_user("pat")
    pat = Browser(client)
    _next_request()
    before = pat.client.get("/login")
    planted = before.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    pat.login("pat")
    assert _put(pat, pat.token).status_code == 200
    assert _refused_as_expired(_put(pat, planted))  # sign-in gave the session a new token


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
    assert _refused_as_expired(_put(pat, first))  # the old one has expired


# ---------------------------------------------------------------- the signed-in user


def test_a_role_change_or_deactivation_by_an_admin_applies_at_the_next_request(app, client):
    user = make_user("pat", "supervisor")
    b = Browser(client)
    b.login("pat")
    _next_request()
    assert b.client.get("/items").status_code == 200
    users_domain.update_user(db.session, user, role="packer")
    db.session.commit()
    _next_request()
    assert b.client.get("/items").status_code == 403
    users_domain.update_user(db.session, user, active=False)
    db.session.commit()
    _next_request()
    assert _sent_to_sign_in(b.client.get("/put"))


def test_a_change_made_elsewhere_applies_at_the_next_request(app, client):
    """Another worker (or the database directly) demotes, then deactivates the user: the
    next request here sees it, with no waiting."""
    user_id = make_user("pat", "supervisor").id
    b = Browser(client)
    b.login("pat")
    _next_request()
    assert b.client.get("/items").status_code == 200
    with db.engine.begin() as elsewhere:
        elsewhere.execute(update(User).where(User.id == user_id).values(role="packer"))
    _next_request()
    assert b.client.get("/items").status_code == 403
    with db.engine.begin() as elsewhere:
        elsewhere.execute(update(User).where(User.id == user_id).values(active=False))
    _next_request()
    assert _sent_to_sign_in(b.client.get("/put"))


def test_the_signed_in_user_is_read_on_every_request(app, client):
    from sqlalchemy import event

    make_user("pat")
    b = Browser(client)
    b.login("pat")
    sent = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM user_account" in statement:
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for expected in (1, 2, 3):
            _next_request()
            assert b.client.get("/put").status_code == 200
            assert len(sent) == expected
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
