"""API tokens: an optional expiry, the last use written down, listed and revoked from the
API tokens screen, the CLI and the API (admin only); never a secret or hash shown."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from lotline import users as users_domain
from lotline.extensions import db
from lotline.models import ApiToken, utcnow
from tests.conftest import Browser, make_user


def _prefix(token: str) -> str:
    return token.split("_", 2)[1]


def _row(token: str) -> ApiToken:
    db.session.rollback()  # what the database has now, not what this session read
    return db.session.scalar(select(ApiToken).where(ApiToken.prefix == _prefix(token)))


def test_a_token_with_an_expiry_is_refused_once_it_has_passed(app, client, runner):
    make_user("erp", "supervisor")
    done = runner.invoke(args=["create-token", "erp", "--label", "erp", "--expires-in-days", "30"])
    assert done.exit_code == 0, done.output
    token = done.output.strip()
    expires = _row(token).expires_at
    assert dt.timedelta(days=29) < expires - utcnow() <= dt.timedelta(days=30)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/items", headers=headers).status_code == 200
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    refused = client.get("/api/v1/items", headers=headers)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("days", ["0", "-1", "3651", "soon"])
def test_an_expiry_out_of_range_is_refused_and_no_token_is_made(runner, days):
    make_user("erp")
    done = runner.invoke(args=["create-token", "erp", "--expires-in-days", days])
    assert done.exit_code != 0 and "ll_" not in done.output
    assert db.session.scalar(select(ApiToken)) is None


def test_a_tokens_last_use_is_written_down_at_most_once_a_minute(app, api):
    caller = api("packer")
    assert _row(caller.token).last_used_at is None
    assert caller.get("/api/v1/items").status_code == 200
    first = _row(caller.token).last_used_at
    assert first is not None and utcnow() - first < dt.timedelta(seconds=30)
    assert caller.get("/api/v1/items").status_code == 200
    assert _row(caller.token).last_used_at == first  # the same minute: not written again
    db.session.execute(update(ApiToken).values(last_used_at=first - dt.timedelta(minutes=2)))
    db.session.commit()
    assert caller.get("/api/v1/items").status_code == 200
    assert _row(caller.token).last_used_at > first - dt.timedelta(minutes=2)


def test_tokens_are_listed_without_their_secrets_on_the_screen_the_cli_and_the_api(
        app, client, api, runner):
    admin = api("admin")
    erp = api("supervisor")
    listed = admin.get("/api/v1/tokens")
    assert listed.status_code == 200
    by_prefix = {row["prefix"]: row for row in listed.json["tokens"]}
    assert set(by_prefix) == {_prefix(admin.token), _prefix(erp.token)}
    assert by_prefix[_prefix(erp.token)]["username"] == "api-supervisor"
    assert by_prefix[_prefix(erp.token)]["revoked"] is False
    make_user("root", "admin")
    root = Browser(client)
    root.login("root")
    page = root.get("/admin/tokens").get_data(as_text=True)
    cli = runner.invoke(args=["list-tokens"]).output
    for token in (admin.token, erp.token):
        secret, hashed = token.split("_", 2)[2], _row(token).token_hash
        for shown in (listed.get_data(as_text=True), page, cli):
            assert f"ll_{_prefix(token)}" in shown or _prefix(token) in shown
            assert secret not in shown and hashed not in shown


def _revoke(how: str, prefix: str, client, api, runner):
    if how == "api":
        answer = api("admin").post(f"/api/v1/tokens/{prefix}/revoke")
        assert answer.status_code == 200 and answer.json["revoked"] is True
    elif how == "cli":
        done = runner.invoke(args=["revoke-token", f"ll_{prefix}"])
        assert done.exit_code == 0 and f"Revoked ll_{prefix}." in done.output
    else:
        make_user("root", "admin")
        root = Browser(client)
        root.login("root")
        answer = root.post(f"/admin/tokens/{prefix}/revoke")
        assert answer.status_code == 302
        assert "Revoked" in root.get(answer.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("how", ["screen", "cli", "api"])
def test_a_revoked_token_is_refused_and_the_others_still_work(app, client, api, runner, how):
    erp, scanner = api("supervisor"), api("packer")
    assert erp.get("/api/v1/items").status_code == 200
    _revoke(how, _prefix(erp.token), client, api, runner)
    refused = erp.get("/api/v1/items")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert scanner.get("/api/v1/items").status_code == 200
    assert _row(erp.token).revoked is True


def test_revoking_an_unknown_token_is_refused(app, api, runner):
    answer = api("admin").post("/api/v1/tokens/ffffffff/revoke")
    assert answer.status_code == 404 and answer.json["error"]["code"] == "unknown_token"
    done = runner.invoke(args=["revoke-token", "ffffffff"])
    assert done.exit_code != 0 and "No API token ffffffff." in done.output


def test_only_an_admin_lists_or_revokes_tokens(app, client, api):
    erp = api("supervisor")
    assert erp.get("/api/v1/tokens").status_code == 403
    assert erp.post(f"/api/v1/tokens/{_prefix(erp.token)}/revoke").status_code == 403
    make_user("sup", "supervisor")
    sup = Browser(client)
    sup.login("sup")
    assert sup.get("/admin/tokens").status_code == 403
    assert sup.post(f"/admin/tokens/{_prefix(erp.token)}/revoke").status_code == 403
    assert _row(erp.token).revoked is False


def test_the_list_says_which_tokens_are_expired_revoked_or_of_an_inactive_user(app, api):
    admin, erp, old = api("admin"), api("supervisor"), api("packer")
    db.session.execute(update(ApiToken).where(ApiToken.prefix == _prefix(old.token))
                       .values(expires_at=utcnow() - dt.timedelta(days=1)))
    db.session.commit()
    gone = make_user("gone", "packer")
    gone_token = users_domain.create_token(db.session, gone, "x")
    users_domain.update_user(db.session, gone, active=False)
    db.session.commit()
    assert admin.post(f"/api/v1/tokens/{_prefix(erp.token)}/revoke").status_code == 200
    states = {row["prefix"]: row["state"] for row in admin.get("/api/v1/tokens").json["tokens"]}
    assert states == {_prefix(admin.token): "active", _prefix(erp.token): "revoked",
                      _prefix(old.token): "expired", _prefix(gone_token): "user_inactive"}
