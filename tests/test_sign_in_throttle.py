"""The sign-in throttle, OWASP's way (issue 17, part 2): the counts are listed and unlocked
(a supervisor, an admin's only by an admin; the screen, the CLI and the API), dead rows
are pruned, and a device that signed in as the user before keeps signing in while the name
is locked against everyone else."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lotline import throttle
from lotline import users as users_domain
from lotline.db import transaction
from lotline.errors import DomainError
from lotline.extensions import db
from lotline.models import LoginThrottle, User
from tests.conftest import PASSWORD, Browser, make_user

MAX = throttle.MAX_FAILURES


def _lock(app, name):
    """Lock ``name`` as an attacker would: wrong passwords from a browser of its own."""
    attacker = Browser(app.test_client())
    for _ in range(MAX):
        assert attacker.login(name, "wrong-pass").status_code == 401
    assert attacker.login(name, PASSWORD).status_code == 429
    db.session.rollback()


def _rows() -> dict[str, int]:
    db.session.rollback()
    return {row.username: row.failures for row in db.session.execute(
        select(LoginThrottle.username, LoginThrottle.failures))}


# ---------------------------------------------------------------- rows that expire

def _fail(name, now):
    with pytest.raises(DomainError):
        users_domain.authenticate(db.session, name, "wrong-pass", now=now,
                                  hash_method="pbkdf2:sha256:1")


def test_rows_for_unknown_names_do_not_pile_up(app):
    """Guesses at names no one has each add a row; once their window (and any lock) has
    passed, a new count deletes them."""
    start = dt.datetime(2030, 1, 1, 8, 0)
    for n in range(20):
        _fail(f"nobody-{n}", start)
    _fail("locked-one", start)
    for _ in range(MAX - 1):
        _fail("locked-one", start + dt.timedelta(minutes=12))  # locked until 08:17
    assert len(_rows()) == 21
    # 08:15:01: every window has passed, the lock has not: only its row is still alive
    later = start + throttle.FAILURE_WINDOW + dt.timedelta(seconds=1)
    _fail("someone-new", later)
    assert set(_rows()) == {"locked-one", "someone-new"}


def test_prune_deletes_only_rows_whose_window_and_lock_have_passed(app):
    start = dt.datetime(2030, 1, 1, 8, 0)
    _fail("old", start)
    for _ in range(MAX):
        _fail("locked", start + dt.timedelta(minutes=14))
    _fail("recent", start + dt.timedelta(minutes=10))
    db.session.rollback()
    now = start + dt.timedelta(minutes=16)
    with transaction(db.session):
        assert throttle.prune_throttle(db.session, now) == 1
    assert set(_rows()) == {"locked", "recent"}
    with transaction(db.session):
        assert throttle.prune_throttle(db.session, now + dt.timedelta(hours=1)) == 2
    assert _rows() == {}


def test_prune_sessions_also_deletes_dead_throttle_rows(app, runner):
    db.session.add(LoginThrottle(username="long-gone", failures=3,
                                 window_start=dt.datetime(2000, 1, 1)))
    db.session.commit()
    result = runner.invoke(args=["prune-sessions"])
    assert result.exit_code == 0, result.output
    assert "1 expired sign-in count(s)" in result.output
    assert _rows() == {}


# ---------------------------------------------------------------- listed and unlocked

def test_the_list_shows_locked_names_and_counted_failures_not_dead_rows(app):
    make_user("pat", "packer")
    _lock(app, "pat")
    Browser(app.test_client()).login("nobody", "wrong-pass")
    db.session.add(LoginThrottle(username="long-gone", failures=3,
                                 window_start=dt.datetime(2000, 1, 1)))
    db.session.commit()
    locks = throttle.sign_in_locks(db.session)
    assert [(row.name, row.failures, row.locked, row.role) for row in locks] == [
        ("pat", MAX, True, "packer"), ("nobody", 1, False, None)]


def test_supervisor_unlocks_a_packer_not_an_admin_and_an_admin_unlocks_both(app):
    supervisor = make_user("sam", "supervisor")
    admin = make_user("boss", "admin")
    make_user("pat", "packer")
    _lock(app, "pat")
    _lock(app, "boss")
    with pytest.raises(DomainError) as refused, transaction(db.session):
        throttle.unlock_sign_in(db.session, "boss", supervisor)
    assert refused.value.code == "admin_only" and refused.value.status == 403
    with transaction(db.session):
        assert throttle.unlock_sign_in(db.session, "pat", supervisor) == 1
        assert throttle.unlock_sign_in(db.session, "boss", admin) == 1
    assert _rows() == {}
    with pytest.raises(DomainError) as nothing, transaction(db.session):
        throttle.unlock_sign_in(db.session, "pat", admin)
    assert nothing.value.code == "not_locked"
    assert Browser(app.test_client()).login("pat").status_code == 302


def test_the_cli_lists_and_unlocks(app, runner):
    make_user("pat", "packer")
    _lock(app, "pat")
    listed = runner.invoke(args=["list-sign-in-locks"])
    assert listed.exit_code == 0 and "pat" in listed.output and "locked until" in listed.output
    unlocked = runner.invoke(args=["unlock-sign-in", "pat"])
    assert unlocked.exit_code == 0, unlocked.output
    assert _rows() == {}
    again = runner.invoke(args=["unlock-sign-in", "pat"])
    assert again.exit_code != 0 and "No failed sign-ins" in again.output
    assert "No failed sign-ins counted" in runner.invoke(args=["list-sign-in-locks"]).output


def test_the_screen_lists_and_unlocks_for_a_supervisor(app, as_role):
    make_user("pat", "packer")
    make_user("boss", "admin")
    _lock(app, "pat")
    _lock(app, "boss")
    sam = as_role("supervisor", "sam")
    page = sam.get("/sign-in-locks/").get_data(as_text=True)
    assert "Unlock pat" in page and "Unlock boss" not in page
    assert "an admin unlocks this" in page
    refused = sam.post("/sign-in-locks/unlock", {"username": "boss"})
    assert refused.status_code == 403
    assert "only an admin unlocks" in refused.get_data(as_text=True)
    done = sam.post("/sign-in-locks/unlock", {"username": "pat"})
    assert done.status_code == 302
    assert "Unlocked sign-in for pat" in sam.get("/sign-in-locks/").get_data(as_text=True)
    assert set(_rows()) == {"boss"}
    assert as_role("packer", "kim").get("/sign-in-locks/").status_code == 403


def test_the_api_lists_and_unlocks_for_an_admin(app, api):
    make_user("pat", "packer")
    _lock(app, "pat")
    caller = api("admin")
    listed = caller.get("/api/v1/sign-in-locks")
    assert listed.status_code == 200
    assert listed.json["locks"][0]["username"] == "pat"
    assert listed.json["locks"][0]["locked_until"].endswith("Z")
    done = caller.call("POST", "/api/v1/sign-in-locks/unlock", json={"username": "pat"})
    assert done.status_code == 200 and done.json == {"username": "pat", "cleared": 1}
    again = caller.call("POST", "/api/v1/sign-in-locks/unlock", json={"username": "pat"})
    assert again.status_code == 404 and again.json["error"]["code"] == "not_locked"


def test_a_supervisor_token_unlocks_a_packer_over_the_api_not_an_admin(app, api):
    """One role rule for the data, as on the screen. Before: the API was admin-only."""
    make_user("pat", "packer")
    make_user("boss", "admin")
    _lock(app, "pat")
    _lock(app, "boss")
    caller = api("supervisor")
    assert {row["username"] for row in caller.get("/api/v1/sign-in-locks").json["locks"]} == \
        {"pat", "boss"}
    refused = caller.call("POST", "/api/v1/sign-in-locks/unlock", json={"username": "BOSS"})
    assert refused.status_code == 403
    done = caller.call("POST", "/api/v1/sign-in-locks/unlock", json={"username": "PAT"})
    assert done.status_code == 200 and done.json["cleared"] == 1
    assert set(_rows()) == {"boss"}


def test_a_typed_name_is_never_counted_or_listed_as_a_user_s_device(app):
    """Before: typing device:<the admin's id>:<22 characters> as a name made a row listed as
    the admin's trusted device, which a supervisor could not unlock."""
    boss = make_user("boss", "admin")
    _lock(app, f"DEVICE:{boss.id}:" + "A" * 22)
    [lock] = throttle.sign_in_locks(db.session)
    assert lock.device is False and lock.role is None
    assert lock.name == f"device:{boss.id}:" + "a" * 22  # counted as typed, case folded
    assert throttle.may_unlock(User(role="supervisor"), lock.role)


def test_a_flood_of_made_up_names_does_not_hide_a_user_s_lock(app, as_role):
    """Before: 200 locked names sorting before "pat" pushed pat's lock off the list, and
    the screen had no field to name it."""
    make_user("zed", "packer")
    now = users_domain.utcnow()
    db.session.add_all(LoginThrottle(username=f"aaa-{n:03}", failures=MAX, window_start=now,
                                     locked_until=now + throttle.LOCKOUT)
                       for n in range(throttle.LISTED + 5))
    db.session.commit()
    _lock(app, "zed")
    listed = throttle.sign_in_locks(db.session)
    assert len(listed) == throttle.LISTED and listed[0].name == "zed"
    sam = as_role("supervisor", "sam")
    page = sam.get("/sign-in-locks/").get_data(as_text=True)
    assert "Only the first" in page and 'name="username"' in page
    assert sam.post("/sign-in-locks/unlock", {"username": "aaa-204"}).status_code == 302
    assert "aaa-204" not in _rows()


# ---------------------------------------------------------------- the device cookie

def _device_cookie(browser):
    cookie = browser.client.get_cookie("lotline_device")
    return cookie.value if cookie else None


def test_a_device_that_signed_in_before_keeps_signing_in_while_the_name_is_locked(app):
    make_user("pat", "packer")
    station = Browser(app.test_client())
    first = station.login("pat")
    assert first.status_code == 302
    header = next(h for h in first.headers.getlist("Set-Cookie")
                  if h.startswith("lotline_device="))
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Max-Age=7776000" in header  # 90 days
    station.post("/logout")
    _lock(app, "pat")
    assert station.login("pat").status_code == 302  # the station signs in
    assert Browser(app.test_client()).login("pat").status_code == 429  # others do not


def test_a_trusted_device_s_own_failures_are_limited_and_lock_only_it(app):
    make_user("pat", "packer")
    stolen = Browser(app.test_client())
    assert stolen.login("pat").status_code == 302
    stolen.post("/logout")
    for _ in range(MAX):
        assert stolen.login("pat", "guess-guess").status_code == 401
    refused = stolen.login("pat")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "on this device" in refused.get_data(as_text=True)
    assert Browser(app.test_client()).login("pat").status_code == 302  # the name is not
    locks = throttle.sign_in_locks(db.session)
    assert [(row.name, row.device, row.locked) for row in locks] == [("pat", True, True)]


def test_a_forged_or_foreign_device_cookie_is_not_trusted(app):
    make_user("pat", "packer")
    make_user("sam", "packer")
    sams_tablet = Browser(app.test_client())
    assert sams_tablet.login("sam").status_code == 302
    sams_tablet.post("/logout")
    _lock(app, "pat")
    assert sams_tablet.login("pat").status_code == 429  # trusted for sam, not for pat
    forged = Browser(app.test_client())
    forged.client.set_cookie("lotline_device", _device_cookie(sams_tablet)[:-4] + "AAAA")
    _lock(app, "sam")
    assert forged.login("sam").status_code == 429
    assert sams_tablet.login("sam").status_code == 302


def test_a_password_reset_drops_the_device_s_trust(app):
    pat = make_user("pat", "packer")
    station = Browser(app.test_client())
    assert station.login("pat").status_code == 302
    station.post("/logout")
    _lock(app, "pat")
    assert station.login("pat").status_code == 302  # trusted, while the name is locked
    station.post("/logout")
    users_domain.update_user(db.session, db.session.get(User, pat.id), password=PASSWORD,
                             hash_method="pbkdf2:sha256:1000")  # the same password, anew
    db.session.commit()
    assert station.login("pat").status_code == 429  # the name is still locked: no trust


def test_a_shared_station_trusts_each_user_who_signed_in_on_it(app):
    for name in ("pat", "kim"):
        make_user(name, "packer")
    station = Browser(app.test_client())
    for name in ("pat", "kim"):
        assert station.login(name).status_code == 302
        station.post("/logout")
    _lock(app, "pat")
    _lock(app, "kim")
    for name in ("pat", "kim"):
        assert station.login(name).status_code == 302
        station.post("/logout")


def test_the_step_up_at_pack_takes_the_device_cookie(app):
    boss = make_user("boss", "supervisor")
    _lock(app, "boss")
    with pytest.raises(DomainError) as refused:
        users_domain.step_up(db.session, "boss", PASSWORD, "pbkdf2:sha256:1000")
    assert refused.value.status == 429
    device = throttle.new_trusted_device(db.session.get(User, boss.id))
    assert users_domain.step_up(db.session, "boss", PASSWORD, "pbkdf2:sha256:1000",
                                devices=[device]).username == "boss"
