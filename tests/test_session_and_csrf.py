"""The session cookie (Flask's signed cookie), the CSRF token (Flask-WTF) and the signed-in
user (Flask-Login, read on every request): what a station is refused, and when a change to
a user applies."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

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


# ---------------------------------------------------------------- sign-ins that end


def _open_put_page(client) -> int:
    _next_request()
    return client.get("/put").status_code


def _signed_in_as(app, username: str) -> tuple[Browser, str]:
    """A new browser signed in as ``username``, and its session cookie."""
    b = Browser(app.test_client())
    _next_request()
    assert b.login(username).status_code == 302
    return b, _cookie(b.client)


def test_the_session_cookie_names_a_sign_in_whose_key_is_stored_only_hashed(app, client):
    import hashlib

    from lotline.models import UserSession

    user = make_user("pat")
    Browser(client).login("pat")
    with client.session_transaction() as cookie_session:
        key = cookie_session["_user_id"]
    assert key != str(user.id) and len(key) >= 40  # a sign-in's key, not the user's id
    _next_request()
    stored = db.session.scalars(select(UserSession.key_hash)).all()
    assert stored == [hashlib.sha256(key.encode()).hexdigest()]


def test_a_signed_out_cookie_no_longer_signs_in_nor_changes_stock(app, client):
    """The probe's finding: a copy of the cookie kept from before POST /logout still signed
    in, and a scan went through."""
    from lotline.locations import add_location
    from lotline.models import LedgerEntry
    from tests.conftest import make_item

    make_user("pat")
    make_item("SKU-1")
    add_location(db.session, "A-01")
    pat = Browser(client)
    pat.login("pat")
    kept, token = _cookie(client), pat.token
    _next_request()
    assert pat.post("/logout").status_code == 302
    thief = _with_cookie(app, kept)
    assert _sent_to_sign_in(thief.get("/put"))
    _next_request()
    put = thief.post("/put", data={"location": "A-01", "sku": "SKU-1", "qty": "5",
                                   "idem": "kept-cookie-1", "csrf_token": token},
                     headers={"HX-Request": "true", "X-CSRFToken": token})
    assert put.status_code in (302, 401)
    _next_request()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_a_password_change_ends_every_sign_in_of_that_user_only(app):
    pat = make_user("pat")
    make_user("sam")
    tablet, _ = _signed_in_as(app, "pat")
    phone, _ = _signed_in_as(app, "pat")
    sam, _ = _signed_in_as(app, "sam")
    _next_request()
    users_domain.update_user(db.session, db.session.get(User, pat.id), password="new-password-1",
                             hash_method="pbkdf2:sha256:1")
    db.session.commit()
    for browser in (tablet, phone):
        _next_request()
        assert _sent_to_sign_in(browser.client.get("/put"))
    assert _open_put_page(sam.client) == 200
    _next_request()
    assert Browser(app.test_client()).login("pat", "new-password-1").status_code == 302


def test_a_deactivated_users_sign_ins_stay_ended_when_reactivated(app):
    pat = make_user("pat")
    tablet, kept = _signed_in_as(app, "pat")
    _next_request()
    users_domain.update_user(db.session, db.session.get(User, pat.id), active=False)
    db.session.commit()
    _next_request()
    users_domain.update_user(db.session, db.session.get(User, pat.id), active=True)
    db.session.commit()
    assert _sent_to_sign_in(_with_cookie(app, kept).get("/put"))
    assert _sent_to_sign_in(tablet.client.get("/put"))
    _, fresh = _signed_in_as(app, "pat")  # signing in again works
    assert _open_put_page(_with_cookie(app, fresh)) == 200


def _sign_out_everywhere(app, how: str, username: str):
    """An admin signs ``username`` out everywhere, through the Users screen, the CLI or the
    API; what each answered."""
    _next_request()
    if how == "screen":
        admin, _ = _signed_in_as(app, "root")
        _next_request()
        user_id = db.session.scalar(select(User.id).where(User.username == username))
        _next_request()
        answer = admin.post(f"/admin/users/{user_id}/sign-out-everywhere")
        assert answer.status_code == 302
        _next_request()
        return admin.client.get(answer.headers["Location"]).get_data(as_text=True)
    if how == "cli":
        done = app.test_cli_runner().invoke(args=["sign-out-everywhere", username])
        assert done.exit_code == 0, done.output
        return done.output
    token = users_domain.create_token(db.session, db.session.scalar(
        select(User).where(User.username == "root")), "tests")
    db.session.commit()
    _next_request()
    answer = app.test_client().post(f"/api/v1/users/{username}/sign-out-everywhere",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


@pytest.mark.parametrize("how", ["screen", "cli", "api"])
def test_an_admin_signs_a_user_out_everywhere(app, how):
    make_user("root", "admin")
    make_user("pat")
    make_user("sam")
    pats = [_signed_in_as(app, "pat")[0] for _ in range(2)]
    sam, _ = _signed_in_as(app, "sam")
    answer = _sign_out_everywhere(app, how, "pat")
    if how == "api":
        assert answer == {"username": "pat", "sessions_ended": 2}
    else:
        assert "Signed pat out everywhere (2 sign-in" in answer
    for browser in pats:
        _next_request()
        assert _sent_to_sign_in(browser.client.get("/put"))
    assert _open_put_page(sam.client) == 200  # nobody else


def test_signing_out_everywhere_an_unknown_user_is_refused(app):
    make_user("root", "admin")
    done = app.test_cli_runner().invoke(args=["sign-out-everywhere", "nobody"])
    assert done.exit_code != 0 and "No user nobody." in done.output
    token = users_domain.create_token(db.session, db.session.scalar(
        select(User).where(User.username == "root")), "tests")
    db.session.commit()
    _next_request()
    answer = app.test_client().post("/api/v1/users/nobody/sign-out-everywhere",
                                    headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "unknown_user"


def test_a_packer_cannot_sign_anyone_out_everywhere(app):
    make_user("pat")
    make_user("sam")
    sam, _ = _signed_in_as(app, "sam")
    pat, _ = _signed_in_as(app, "pat")
    user_id = db.session.scalar(select(User.id).where(User.username == "sam"))
    _next_request()
    assert pat.post(f"/admin/users/{user_id}/sign-out-everywhere").status_code == 403
    assert _open_put_page(sam.client) == 200


def test_a_sign_in_whose_user_changed_while_the_password_was_checked_is_refused(
        app, monkeypatch):
    """An admin reset the password while this sign-in was hashing: the row read again under
    its lock is not the row that was checked, so no sign-in is started."""
    from lotline.models import UserSession

    user_id = make_user("pat").id
    checked = users_domain.authenticate

    def reset_meanwhile(*args, **kwargs):
        user = checked(*args, **kwargs)
        with db.engine.begin() as elsewhere:  # another worker, committed before the sign-in
            elsewhere.execute(update(User).where(User.id == user_id)
                              .values(password_hash="the hash after an admin's reset"))
        return user

    monkeypatch.setattr(users_domain, "authenticate", reset_meanwhile)
    answer = Browser(app.test_client()).login("pat")
    assert answer.status_code == 401
    _next_request()
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_supervisors_step_up_at_a_station_starts_no_sign_in(app):
    from lotline.models import UserSession
    from tests.conftest import PASSWORD

    make_user("sup", "supervisor")
    assert users_domain.step_up(db.session, "sup", PASSWORD, "pbkdf2:sha256:1").username == "sup"
    _next_request()
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_password_reset_on_the_users_screen_ends_the_users_sign_ins(app):
    pat = make_user("pat")
    make_user("root", "admin")
    tablet, _ = _signed_in_as(app, "pat")
    root, _ = _signed_in_as(app, "root")
    _next_request()
    answer = root.post(f"/admin/users/{pat.id}", data={
        "role": "packer", "active": "y", "password": "a-new-password"})
    assert answer.status_code == 302
    _next_request()
    assert _sent_to_sign_in(tablet.client.get("/put"))
    assert _open_put_page(root.client) == 200  # the admin's own sign-in goes on


@pytest.mark.parametrize("name", ["admin\u200b", "ADMIN", "\uff41dmin", "ad\u202emin"])
def test_a_username_that_reads_as_another_cannot_be_created(app, name):
    from lotline.errors import DomainError

    make_user("admin", "admin")
    with pytest.raises(DomainError):
        users_domain.create_user(db.session, name, "long-enough-1", "admin",
                                 hash_method="pbkdf2:sha256:1")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_ended_sign_ins_are_pruned_after_their_days_and_open_ones_never(app):
    import datetime as dt

    from lotline.models import UserSession, utcnow

    make_user("pat")
    _signed_in_as(app, "pat")
    ended, _ = _signed_in_as(app, "pat")
    _next_request()
    assert ended.post("/logout").status_code == 302
    _next_request()
    done = app.test_cli_runner().invoke(args=["prune-sessions", "--days", "30"])
    assert done.exit_code == 0 and "Deleted 0 ended" in done.output  # ended just now
    db.session.execute(update(UserSession).where(UserSession.ended_at.is_not(None))
                       .values(ended_at=utcnow() - dt.timedelta(days=31)))
    db.session.commit()
    done = app.test_cli_runner().invoke(args=["prune-sessions", "--days", "30"])
    assert done.exit_code == 0 and "Deleted 1 ended" in done.output
    _next_request()
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1  # the open one
    for days in ("0", "10" + "0" * 12):
        refused = app.test_cli_runner().invoke(args=["prune-sessions", "--days", days])
        assert refused.exit_code != 0 and "1 to 36,500 days" in refused.output
