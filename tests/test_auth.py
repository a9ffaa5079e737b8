"""Sign-in, roles, CSRF, cookies, CSP and login throttling."""

import datetime as dt

import pytest

from lotline.extensions import db
from lotline.models import LoginThrottle
from lotline.users import MAX_FAILURES
from tests.conftest import Browser, make_user


def test_sign_in_and_out(client):
    make_user("pat", "packer")
    b = Browser(client)
    response = b.login("pat")
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert 'pat <span class="role">(packer)</span>' in home.get_data(as_text=True)
    out = b.post("/logout")
    assert out.status_code == 302
    assert client.get("/").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused_with_a_message(client):
    make_user("pat", "packer")
    response = Browser(client).login("pat", "wrong-password")
    assert response.status_code == 401
    assert "Unknown username or wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_deactivated_user_cannot_sign_in(client):
    user = make_user("gone", "packer")
    user.active = False
    db.session.commit()
    assert Browser(client).login("gone").status_code == 401


def test_login_is_throttled_after_repeated_failures(client):
    make_user("pat", "packer")
    b = Browser(client)
    for _ in range(MAX_FAILURES):
        b.login("pat", "nope-nope")
    response = b.login("pat")  # the right password, but locked for now
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    throttle = db.session.get(LoginThrottle, "pat")
    throttle.locked_until = dt.datetime(2000, 1, 1)
    db.session.commit()
    assert b.login("pat").status_code == 302


def test_open_redirect_is_not_followed(client):
    make_user("pat", "packer")
    page = client.get("/login")
    from tests.conftest import csrf_from

    response = client.post("/login?next=//evil.example/x", data={
        "username": "pat", "password": "correct-horse", "csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/"


def test_post_without_csrf_token_is_refused_and_changes_nothing(as_role):
    b = as_role("admin")
    response = b.post("/admin/settings", {"require_lot_serial_at_pack": "y"}, csrf=False)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert "checked" not in b.get("/admin/settings").get_data(as_text=True)


def test_htmx_post_without_csrf_header_gets_an_error_fragment(as_role):
    b = as_role("supervisor")
    response = b.post("/items/bulk", {"action": "require_lot"}, htmx=True, csrf=False)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'data-error-code="form_expired"' in body


@pytest.mark.parametrize("url", ["/items", "/items/new", "/admin/settings", "/admin/users"])
def test_packer_gets_403_on_supervisor_and_admin_screens(as_role, url):
    b = as_role("packer")
    response = b.get(url)
    assert response.status_code == 403
    assert "Your role may not use this screen" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/admin/settings", "/admin/users"])
def test_supervisor_cannot_reach_admin_screens(as_role, url):
    assert as_role("supervisor").get(url).status_code == 403


def test_wrong_role_on_htmx_request_gets_a_fragment(as_role):
    response = as_role("packer").get("/items", htmx=True)
    assert response.status_code == 403
    assert "<html" not in response.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/items")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_nav_shows_only_what_the_role_may_use(as_role):
    packer = as_role("packer").get("/").get_data(as_text=True)
    assert "/admin/settings" not in packer and "/items" not in packer
    admin = as_role("admin", "boss").get("/").get_data(as_text=True)
    assert "/admin/settings" in admin and "/items" in admin


def test_session_cookie_flags(client):
    make_user("pat", "packer")
    response = Browser(client).login("pat")
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("lotline_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_csp_forbids_inline_script_on_every_page(client):
    for url in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        csp = client.get(url).headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_passwords_are_stored_hashed(app):
    user = make_user("pat", "packer")
    assert "correct-horse" not in user.password_hash
    assert user.password_hash.startswith("pbkdf2:")


# A tablet on the LAN opening Lotline at http://192.168.x.y:8000: the browser neither keeps
# nor sends the Secure session cookie back over plain HTTP, so sign-in can never work there.
LAN = "http://192.168.1.20:8000"
HTTPS_FIX = "Serve Lotline over HTTPS (for example behind a TLS proxy)"
TRIAL_FIX = "LOTLINE_INSECURE_COOKIES=1"


def test_sign_in_page_over_plain_http_on_the_lan_says_what_is_wrong_and_what_to_do(client):
    body = client.get("/login", base_url=LAN).get_data(as_text=True)
    assert 'data-error-code="https_needed"' in body
    assert "Sign-in cannot work over plain HTTP" in body
    assert HTTPS_FIX in body and TRIAL_FIX in body
    assert "reloading does not help" in body


def test_a_form_refused_over_plain_http_says_https_not_reload(client):
    make_user("pat", "packer")
    response = client.post("/login", data={"username": "pat", "password": "x"}, base_url=LAN)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "HTTPS needed (400)" in body and HTTPS_FIX in body and TRIAL_FIX in body
    assert "Reload the page" not in body


def test_a_fragment_refused_over_plain_http_says_the_same(client):
    response = client.post("/put", data={"location": "A-01"}, base_url=LAN,
                           headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "<html" not in body
    assert 'data-error-code="https_needed"' in body and TRIAL_FIX in body


@pytest.mark.parametrize("base_url", ["https://192.168.1.20:8000", "http://127.0.0.1:8000",
                                      "http://127.0.0.2:8000", "http://localhost:8000",
                                      "http://[::1]:8000"])
def test_no_https_message_over_https_or_where_the_browser_keeps_secure_cookies(client,
                                                                               base_url):
    """HTTPS (directly or behind a TLS proxy that gunicorn trusts) keeps the cookie; so does a
    browser on a loopback address or localhost (checked in Chromium: it sends the Secure
    cookie back to http://127.0.0.1 and http://localhost)."""
    body = client.get("/login", base_url=base_url).get_data(as_text=True)
    assert "https_needed" not in body and TRIAL_FIX not in body
    stale = client.post("/logout", base_url=base_url).get_data(as_text=True)
    assert "Form expired" in stale and "Reload the page" in stale and TRIAL_FIX not in stale


def test_no_https_message_once_the_trial_variable_is_set(monkeypatch, tmp_path):
    from app import create_app

    monkeypatch.setenv("LOTLINE_INSECURE_COOKIES", "1")
    trial = create_app({"TESTING": True, "SECRET_KEY": "t",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'trial.db'}"})
    assert not trial.config["SESSION_COOKIE_SECURE"]
    client = trial.test_client()
    body = client.get("/login", base_url=LAN).get_data(as_text=True)
    assert "https_needed" not in body and TRIAL_FIX not in body
    stale = client.post("/logout", base_url=LAN).get_data(as_text=True)
    assert "Form expired" in stale and TRIAL_FIX not in stale


def test_parallel_wrong_passwords_are_counted_before_any_is_checked(app, monkeypatch):
    """The probe's race: 60 parallel wrong passwords for one name were all checked (limit
    5), and the first failure's insert raced into 500s. Each attempt is now counted, in one
    statement, before its password is checked: only the first MAX_FAILURES are checked, the
    rest get 429 with Retry-After, and none a 500 (SQLite and PostgreSQL)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from lotline import users as users_domain
    from tests.conftest import csrf_from

    make_user("pat", "packer")
    db.session.rollback()  # the main thread holds no read while the stations sign in
    checked, real = [], users_domain.check_password_hash
    guard = threading.Lock()

    def slow_check(pwhash, password):  # a hash takes a while, as scrypt does
        with guard:
            checked.append(password)
        time.sleep(0.05)
        return real(pwhash, password)

    monkeypatch.setattr(users_domain, "check_password_hash", slow_check)
    stations = 12
    start = threading.Barrier(stations, timeout=30)

    def attempt(_):
        client = app.test_client()
        token = csrf_from(client.get("/login"))
        start.wait()
        return client.post("/login", data={"username": "pat", "password": "wrong-pass",
                                           "csrf_token": token})

    with ThreadPoolExecutor(stations) as pool:
        answers = list(pool.map(attempt, range(stations)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * MAX_FAILURES + [429] * (stations - MAX_FAILURES)
    assert len(checked) == MAX_FAILURES
    assert all(int(answer.headers["Retry-After"]) > 0
               for answer in answers if answer.status_code == 429)



def test_a_lock_that_ran_out_allows_one_try_before_it_locks_again(app):
    """Within the window, a lapsed lock gives one checked try, not five more."""
    make_user("pat", "packer")
    b = Browser(app.test_client())
    for _ in range(MAX_FAILURES):
        assert b.login("pat", "nope-nope").status_code == 401
    assert b.login("pat").status_code == 429
    db.session.rollback()
    db.session.execute(LoginThrottle.__table__.update().values(
        locked_until=dt.datetime(2000, 1, 1)))
    db.session.commit()
    assert b.login("pat", "still-wrong").status_code == 401  # the one try, refused
    assert b.login("pat").status_code == 429  # locked again at once


def test_a_name_longer_than_any_user_s_is_refused_not_a_server_error(app):
    """The sign-in form caps the name; the supervisor's step-up at pack does not, and the
    count of a 300-character name did not fit its column on PostgreSQL."""
    from lotline import users as users_domain
    from lotline.errors import DomainError

    make_user("pat", "packer")
    with pytest.raises(DomainError) as refused:
        users_domain.step_up(db.session, "p" * 300, "whatever-pass", "pbkdf2:sha256:1")
    assert refused.value.code == "bad_credentials"
