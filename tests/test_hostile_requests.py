"""Hostile requests (issue 17, "Hostile input"): each is refused with a 4xx and a message,
and nothing is stored. Each refusal test here failed on the code before its fix (its
"Before:" line); the others check that what is fine still passes."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from lotline.extensions import db
from lotline.models import Location, Order
from tests.conftest import make_item


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("depth", [33, 600, 200_000])
def test_a_deeply_nested_json_body_is_refused_before_sign_in_is_checked(client, depth):
    """Before: about 500 levels (1 KB, no sign-in needed) raised RecursionError, a 500."""
    body = "[" * depth + "]" * depth
    answer = client.post("/api/v1/items", data=body, content_type="application/json")
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "validation_error"
    assert "nests deeper than 32 levels" in answer.json["error"]["message"]


def test_a_deeply_nested_body_is_refused_on_a_screen_too(as_role):
    packer = as_role("packer")
    answer = packer.client.post("/pack/replay", data="{\"a\":" * 100 + "1" + "}" * 100,
                                content_type="application/json",
                                headers={"X-CSRFToken": packer.token})
    assert answer.status_code == 422
    assert "nests deeper" in answer.get_data(as_text=True)


def test_the_bodies_the_api_takes_are_not_too_deep(api):
    make_item("SKU-1")
    answer = api("admin").post("/api/v1/orders", {
        "number": "SO-1", "customer": "C", "lines": [{"sku": "SKU-1", "qty": 1}]})
    assert answer.status_code == 201, answer.get_data(as_text=True)


def _upload(browser, path, text):
    return browser.post(path, data={"file": (io.BytesIO(text.encode()), "upload.csv")},
                        content_type="multipart/form-data")


@pytest.mark.parametrize(("path", "text", "model"), [
    ("/locations/import", "code,zone\nA-1,north\nA-2,north,storage,extra\n", Location),
    ("/orders/upload", "order,customer,sku,qty\nSO-1,C,SKU-1,1\nSO-2,C,SKU-1,1,oops\n", Order),
])
def test_a_csv_row_longer_than_its_header_is_refused_naming_its_line(as_role, path, text,
                                                                      model):
    """Before: the extra cells were dropped without a word (and earlier a 500)."""
    make_item("SKU-1")
    answer = _upload(as_role("supervisor"), path, text)
    assert answer.status_code == 422
    assert "Line 3: this line has" in answer.get_data(as_text=True)
    assert _count(model) == 0


def test_an_empty_trailing_cell_is_not_an_extra_cell(as_role):
    answer = _upload(as_role("supervisor"), "/locations/import", "code,zone\nA-1,north,\n")
    assert answer.status_code in (200, 302)
    assert _count(Location) == 1


def test_signed_in_pages_exports_and_api_answers_are_not_cached(as_role, api, client):
    """Before: no Cache-Control at all, so a shared tablet's browser could keep them."""
    with client.get("/static/css/lotline.css") as static:  # closes the file
        assert static.status_code == 200
        assert "no-store" not in static.headers.get("Cache-Control", "")
    supervisor = as_role("supervisor")
    from flask import g

    g.pop("_login_user", None)  # one app context in tests; a server gives each request one
    with supervisor.client.get("/static/css/lotline.css") as static:  # signed in: still cached
        assert "no-store" not in static.headers.get("Cache-Control", "")
    for path in ("/put", "/orders", "/ledger/export.csv"):
        answer = supervisor.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["Cache-Control"] == "no-store", path
    assert api("packer").get("/api/v1/items").headers["Cache-Control"] == "no-store"


def test_the_camera_is_allowed_to_the_app_itself_only(client):
    policy = client.get("/login").headers["Permissions-Policy"]
    assert "camera=(self)" in policy and "microphone=()" in policy


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


HIDDEN = ["\u202e", "\u2066", "\x07", "\x1b[31m"]  # a bidi override, an isolate, controls


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/items", {"sku": "NEW-1", "description": "Vitamin C{}"}, "description"),
    ("/api/v1/locations", {"code": "Z-1", "zone": "north{}"}, "zone"),
    ("/api/v1/orders", {"number": "SO-9", "customer": "Acme{}",
                        "lines": [{"sku": "SKU-1", "qty": 1}]}, "customer"),
    ("/api/v1/orders", {"number": "SO-9", "customer": "Acme", "customer_ref": "r{}",
                        "lines": [{"sku": "SKU-1", "qty": 1}]}, "customer_ref"),
    ("/api/v1/orders", {"number": "SO-9", "customer": "Acme", "ship_to": "1 Road{}",
                        "lines": [{"sku": "SKU-1", "qty": 1}]}, "ship_to"),
    ("/api/v1/purchase-orders", {"number": "PO-9", "vendor": "Acme{}",
                                 "lines": [{"sku": "SKU-1", "qty": 1}]}, "vendor"),
])
def test_free_text_with_hidden_characters_is_refused(api, path, body, field, hidden):
    """Before: stored as sent (201), so a slip or a screen could read otherwise than it is."""
    make_item("SKU-1")
    sent = {k: v.format(hidden) if isinstance(v, str) else v for k, v in body.items()}
    answer = api("admin").post(path, sent)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.json["error"]["field"] == field
    assert "invisible control character" in answer.json["error"]["message"]
    assert _count(Order) == 0 and _count(Location) == 0


def test_a_ship_to_may_have_line_breaks(api):
    make_item("SKU-1")
    answer = api("admin").post("/api/v1/orders", {
        "number": "SO-9", "customer": "Acme", "ship_to": "1 Harbour Road\r\nPortside",
        "lines": [{"sku": "SKU-1", "qty": 1}]})
    assert answer.status_code == 201, answer.get_data(as_text=True)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_hold_and_override_reasons_with_hidden_characters_are_refused(app, hidden):
    from lotline import lots, pack_gate
    from lotline.errors import ValidationError
    from lotline.inventory import Actor
    from tests.conftest import make_user

    with pytest.raises(ValidationError, match="invisible control character"):
        lots.hold(db.session, number="L1", reason=f"recall{hidden}", actor=Actor(None, "t"))
    supervisor = make_user("sup", "supervisor")
    with pytest.raises(ValidationError, match="invisible control character"):
        pack_gate.supervisor_override(supervisor, f"checked{hidden}")


def test_a_station_header_with_a_control_character_is_refused(api):
    make_item("SKU-1")
    answer = api("admin").post("/api/v1/transactions/put", {
        "location": "A-1", "sku": "SKU-1", "qty": 1}, headers={"X-Station": "DOCK\x1b[2J"})
    assert answer.status_code == 422 and answer.json["error"]["field"] == "X-Station"


def test_routing_errors_under_the_api_are_json_with_the_envelope(api, client):
    """Before: an unknown path, a wrong method and an oversized body came back as HTML, and
    the 405 without its Allow header."""
    caller = api("admin")
    unknown = caller.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"
    wrong = caller.call("DELETE", "/api/v1/items")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    big = client.post("/api/v1/items", data=b"x" * (2 * 1024 * 1024 + 1),
                      content_type="application/json",
                      headers={"Authorization": f"Bearer {caller.token}"})
    assert big.status_code == 413 and big.json["error"]["code"] == "too_large"
    anonymous = client.get("/api/v1/no-such-thing")
    assert anonymous.status_code in (401, 404) and "error" in anonymous.json
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.content_type.startswith("text/html")


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_idempotency_key_is_refused_not_taken_for_none(api, key):
    """Before: an empty header was taken for no key, so a retry applied the Put twice."""
    from lotline.locations import add_location

    make_item("SKU-1")
    add_location(db.session, "A-1")
    answer = api("admin").post("/api/v1/transactions/put",
                               {"location": "A-1", "sku": "SKU-1", "qty": 1},
                               headers={"Idempotency-Key": key})
    assert answer.status_code == 422 and answer.json["error"]["field"] == "Idempotency-Key"
    from lotline.models import LedgerEntry

    assert _count(LedgerEntry) == 0


def test_a_key_given_twice_in_a_json_object_is_refused(api, client):
    """Before: ``"qty":1,"qty":999`` put 999."""
    from lotline.locations import add_location
    from lotline.models import LedgerEntry

    make_item("SKU-1")
    add_location(db.session, "A-1")
    caller = api("admin")
    answer = client.post("/api/v1/transactions/put",
                         data='{"location": "A-1", "sku": "SKU-1", "qty": 1, "qty": 999}',
                         content_type="application/json",
                         headers={"Authorization": f"Bearer {caller.token}"})
    assert answer.status_code == 422
    assert "the key 'qty' is given twice" in answer.json["error"]["message"]
    assert _count(LedgerEntry) == 0


@pytest.mark.parametrize(("path", "name"), [
    ("/api/v1/items?page=null", "page"), ("/api/v1/items?page=0", "page"),
    ("/api/v1/items?page=", "page"), ("/api/v1/items?page=%EF%BC%92", "page"),
    ("/api/v1/orders?status=", "status"), ("/api/v1/orders?status=lost", "status"),
])
def test_a_malformed_query_parameter_is_refused_naming_it(api, path, name):
    """Before: ``?page=null`` and an empty ``status`` were taken for absent ones."""
    answer = api("admin").get(path)
    assert answer.status_code == 422 and answer.json["error"]["field"] == name


def test_well_formed_query_parameters_still_work(api):
    caller = api("admin")
    assert caller.get("/api/v1/items?page=2").status_code == 200
    assert caller.get("/api/v1/orders?status=open").status_code == 200
    assert caller.get("/api/v1/orders").status_code == 200


def test_a_zone_with_a_hidden_character_is_refused_in_a_locations_csv(as_role):
    """Before: the import stored it (only the screen and the API checked the zone)."""
    answer = _upload(as_role("supervisor"), "/locations/import",
                     "code,zone\nA-1,north\nA-2,no\u202erth\n")
    assert answer.status_code == 422
    assert "Line 3: the zone" in answer.get_data(as_text=True)
    assert _count(Location) == 0


def test_a_release_note_with_a_hidden_character_is_refused(app):
    from lotline import lots
    from lotline.errors import ValidationError
    from lotline.inventory import Actor

    with pytest.raises(ValidationError, match="invisible control character"):
        lots.release(db.session, number="L1", note="ok\x1b[2J", actor=Actor(None, "t"))


def test_a_packer_token_reads_the_order_at_hand_but_not_the_lists_nor_the_trace(api):
    """Before: a packer's token read every order and customer, and the lot trace (both
    supervisor-only on the screens)."""
    make_item("SKU-1")
    api("admin").post("/api/v1/orders", {"number": "SO-1", "customer": "Acme",
                                         "ship_to": "1 Road", "lines": [{"sku": "SKU-1",
                                                                         "qty": 1}]})
    packer = api("packer")
    assert packer.get("/api/v1/orders/SO-1").json["ship_to"] == "1 Road"
    for path in ("/api/v1/orders", "/api/v1/lots/L1"):
        refused = packer.get(path)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert api("supervisor").get("/api/v1/orders").status_code == 200


def test_an_order_line_with_an_unknown_sku_answers_unknown_item(api):
    """Before: validation_error, where an unknown item is unknown_item everywhere else (a
    404, as in a purchase order's line: a schema-valid body naming no item)."""
    answer = api("admin").post("/api/v1/orders", {
        "number": "SO-1", "customer": "Acme", "lines": [{"sku": "NOPE-1", "qty": 1}]})
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "unknown_item"
    assert answer.json["error"]["message"].startswith("Line 1: No item with SKU or GTIN NOPE-1")
    assert _count(Order) == 0


def _api_paths(app) -> dict[str, set[str]]:
    """Every path under /api/v1 the URL map has (converters filled in), with its methods."""
    paths: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?\w+>", "X-1", rule.rule)
            paths.setdefault(path, set()).update(rule.methods)
    return paths


def test_every_answer_under_the_api_is_json_never_html(app, api, client):
    """Issue 17: each path under /api/v1 with each method it takes, OPTIONS, HEAD and one it
    does not take, as given, with a trailing slash and with a doubled slash, signed in and
    not: JSON every time, or a 204 with no body (OPTIONS). Before: the OPTIONS answer was an
    empty text/html 200 and a doubled slash an HTML 308."""
    token = {"Authorization": f"Bearer {api('admin').token}"}
    seen = set()
    for path, methods in sorted(_api_paths(app).items()):
        refused = next(m for m in ("DELETE", "PUT", "PATCH", "POST") if m not in methods)
        variants = [path, path + "/", path.replace("/api/v1/", "/api/v1//"), "/api" + path[4:]]
        for method in sorted(methods | {"OPTIONS", "HEAD", refused}):
            for url in variants:
                for headers in (token, {}):
                    answer = client.open(url, method=method, headers=headers)
                    what = f"{method} {url} {'signed in' if headers else 'anonymous'}"
                    seen.add(answer.status_code)
                    if answer.status_code == 204:
                        assert answer.get_data() == b"" and "Content-Type" not in \
                            answer.headers, what
                        assert method == "OPTIONS" and answer.headers["Allow"], what
                        continue
                    assert answer.content_type == "application/json", what
                    if method != "HEAD":
                        body = answer.get_json()
                        assert isinstance(body, dict), what
                    if 300 <= answer.status_code < 400 and method != "HEAD":
                        assert body == {"location": answer.location}, what
                    elif answer.status_code >= 400 and method != "HEAD":
                        assert set(body["error"]) >= {"code", "message"}, what
                    if answer.status_code == 405:
                        assert method not in answer.headers["Allow"].split(", "), what
    assert {204, 308, 401, 404, 405} <= seen
    assert client.get("/api").content_type == "application/json"
